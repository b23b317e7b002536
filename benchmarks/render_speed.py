"""Face-render speed and memory per speed setting, each in a fresh process.

    python benchmarks/render_speed.py --checkpoints DIR [--frames 6] [--batch 2] [--settings exact fast]
        [--official SADTALKER_CHECKOUT] [--json OUT.json] [--markdown OUT.md]

What one run measures (its own subprocess, so peak RSS is its own): loading the face-render
networks (KPDetector, generator, MappingNet) with the setting, then ``render_frames`` on
people_0.png with the make_animation golden's coefficients (cycled to ``--frames``): the time to
the first frame (source preparation included), the steady seconds per frame (wall and process
CPU, i.e. user + sys of both threads), one frame's CPU time per generator stage, peak RSS (load
and render), and the load average while it ran.  The exact run saves its frames and the driving
keypoints; later settings are compared with them (PSNR, max keypoint difference).

``exact@avx2`` runs exact mode with oneDNN and ATen limited to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2``): the kernels a CPU without AVX-512 gets (its ``cpu_capability`` is
recorded), on this CPU's cores.

``--official`` times the official ``make_animation`` of a SadTalker checkout on the same machine,
weights and inputs (``official_render.py``), the baseline the speed-ups are quoted against.

``--clip-seconds 10 60 300`` checks that memory is flat in the clip length: per length (and
setting) a process prepares the whole clip's coefficient windows and streams its frames, of
which the first ``--frames`` are rendered (all later frames go through the same per-batch code);
reported are its peak RSS and the RSS after every batch.  With ``--official``, the official
render's peak for each length is measured too (a lower bound, see ``official_render.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process import cpu_seconds, peak_rss_mib, status_mib
from report import add_output_options, report

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "tests" / "data" / "media"
GOLDEN = REPO / "tests" / "data" / "goldens" / "make_animation.safetensors"


def stage_modules(generator) -> dict:
    """The generator's per-frame stages, by the names the results table uses."""
    motion, decoder = generator.dense_motion_network, generator.decoder
    stages = {
        "dense motion: hourglass": motion.hourglass,
        "dense motion: mask 7x7x7": motion.mask,
        "dense motion: occlusion": motion.occlusion,
        "third + fourth": [generator.third, generator.fourth],
        "decoder: fc + G_middle_0..5": [decoder.fc] + [getattr(decoder, f"G_middle_{i}") for i in range(6)],
        "decoder: up_0 (x2)": decoder.up_0,
        "decoder: up_1 (x4)": decoder.up_1,
        "decoder: conv_img": decoder.conv_img,
    }
    return {name: m if isinstance(m, list) else [m] for name, m in stages.items()}


SETTINGS = ("exact", "fast", "exact+compile", "fast+compile", "exact@avx2")
#: ``@avx2``: the child runs with oneDNN and ATen limited to AVX2 (no AVX-512, no bfloat16 instructions):
#: what a CPU without AVX-512 runs, on this CPU's cores
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def measure(args: argparse.Namespace) -> dict:
    """The setting ``args.child``, in this process.  ``+compile`` settings are timed without the per-stage hooks
    (they would split the compiled graph); their first batch includes the compilation."""
    import torch

    sys.path.insert(0, str(REPO))
    from safetensors.torch import load_file

    from sadtalker_core.render.frames import load_face_render_models, render_frames
    from sadtalker_core.render.generator_settings import GeneratorSettings
    from sadtalker_core.render.inputs import coefficient_windows, read_source_image

    checkpoints, setting, frames, batch, reference = args.checkpoints, args.child, args.frames, args.batch, args.reference
    golden = load_file(str(GOLDEN))
    sequence = golden["coeff_seq"][torch.arange(max(frames, args.clip_frames)) % golden["coeff_seq"].shape[0]]
    windows = coefficient_windows(golden["source_coeff"], sequence)
    source = read_source_image(MEDIA / "people_0.png", args.size)

    precision, _, compiled = setting.partition("@")[0].partition("+")
    speed = GeneratorSettings(precision, compile=compiled == "compile")
    t0, c0 = time.perf_counter(), cpu_seconds()
    models = load_face_render_models(checkpoints / f"SadTalker_V0.0.2_{args.size}.safetensors",
                                     checkpoints / "mapping_00229-model.pth.tar", device=args.device, settings=speed)
    load = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0,
            "peak_rss_mib": peak_rss_mib()}

    keypoints, stage_cpu, timing = [], {}, {"on": False}
    if not speed.compile:
        models.generator.dense_motion_network.register_forward_pre_hook(lambda m, a: keypoints.append(a[1].clone()))
    for name, modules in stage_modules(models.generator).items() if not speed.compile else ():
        def start(m, a, name=name):
            timing[name] = cpu_seconds()

        def stop(m, a, o, name=name):
            if timing["on"]:
                stage_cpu[name] = stage_cpu.get(name, 0.0) + cpu_seconds() - timing[name]

        for module in modules:
            if module is not None:
                module.register_forward_pre_hook(start)
                module.register_forward_hook(stop)

    profile: dict[str, float] = {}
    if args.profile:
        models.generator.animate = profiled(models.generator.animate, timing, profile)
    rendered, marks, rss_after = [], [], []
    t0, c0 = time.perf_counter(), cpu_seconds()
    for index, batch_frames in enumerate(render_frames(models, source, windows, batch)):
        timing["on"] = index == 1  # stage breakdown (and profile) of the batch after the second: steady state
        rendered.append(batch_frames.cpu())  # (waits for the device)
        marks.append((time.perf_counter() - t0, cpu_seconds() - c0, batch_frames.shape[0], os.getloadavg()[0]))
        rss_after.append(status_mib("VmRSS"))
        if sum(m[2] for m in marks) >= frames:
            break
    frames_out = torch.cat(rendered)[:frames]
    steady_frames = sum(m[2] for m in marks[1:])
    steady_wall = marks[-1][0] - marks[0][0]
    steady_cpu = marks[-1][1] - marks[0][1]
    second = marks[1][2] if len(marks) > 1 else 1
    result = {
        "precision": setting,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "frames": frames_out.shape[0],
        "batch": batch,
        "load": load,
        "first_frame_s": marks[0][0],
        "first_frame_cpu_s": marks[0][1],
        "s_per_frame": steady_wall / steady_frames,
        "cpu_s_per_frame": steady_cpu / steady_frames,
        "stage_cpu_s_per_frame": {k: v / second for k, v in stage_cpu.items()},
        "load_average": [m[3] for m in marks],
        "peak_rss_mib": peak_rss_mib(),
        **({"cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20, "gpu": torch.cuda.get_device_name()}
           if torch.device(args.device).type == "cuda" else {}),
        "clip_frames": windows.frame_num,
        "rss_after_each_batch_mib": rss_after,
    }
    if args.profile:
        result["profile"] = profile
    kp = torch.cat(keypoints)[:frames].cpu() if keypoints else None
    if setting == "exact":
        torch.save({"frames": frames_out, "keypoints": kp}, reference)
    elif reference.is_file():
        exact = torch.load(reference)
        mse = torch.mean((frames_out.double() - exact["frames"].double()) ** 2)
        result["psnr_vs_exact_db"] = float(10 * torch.log10(1 / mse))
        result["max_abs_vs_exact"] = float((frames_out - exact["frames"]).abs().max())
        if kp is not None:
            result["keypoint_max_diff_vs_exact"] = float((kp - exact["keypoints"]).abs().max())
    return result


def run_child(args: list[str], setting: str = "") -> dict:
    env = {**os.environ, **AVX2_ONLY} if setting.endswith("@avx2") else None
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: list[dict], machine: str) -> str:
    official = next((r for r in results if r["precision"] == "official"), None)
    lines = [f"Machine: {machine}", "",
             "| setting | s/frame (wall; median (range) of the rounds) | frames/s | CPU-s/frame | speed-up vs official (wall) | first frame (s) | peak RSS (MiB) | "
             "PSNR vs exact (dB) | keypoint max diff | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{official['s_per_frame'] / r['s_per_frame']:.2f}x" if official else "-"
        psnr = f"{r['psnr_vs_exact_db']:.1f}" if "psnr_vs_exact_db" in r else ("(reference)" if r["precision"] == "exact" else "-")
        kp = f"{r['keypoint_max_diff_vs_exact']:.1e}" if "keypoint_max_diff_vs_exact" in r else "-"
        loadavg = f"{min(r['load_average']):.1f}-{max(r['load_average']):.1f}"
        spread = r.get("s_per_frame_runs", [])
        gpu_memory = f" (GPU {r['cuda_peak_mib']:.0f})" if "cuda_peak_mib" in r else ""
        wall = f"{r['s_per_frame']:.2f}" + (f" ({min(spread):.2f}-{max(spread):.2f})" if len(spread) > 1 else "")
        lines.append(f"| {r['precision']} | {wall} | {1 / r['s_per_frame']:.3f} | {r['cpu_s_per_frame']:.2f} | {ratio} | "
                     f"{r['first_frame_s']:.1f} | {r['peak_rss_mib']:.0f}{gpu_memory} | {psnr} | {kp} | {loadavg} |")
    stages = [r for r in results if r.get("stage_cpu_s_per_frame")]
    if stages:
        names = list(stages[0]["stage_cpu_s_per_frame"])
        lines += ["", "CPU-s per frame by generator stage (one steady batch, the third):", "",
                  "| stage | " + " | ".join(r["precision"] for r in stages) + " |",
                  "|---|" + "---|" * len(stages)]
        for name in names:
            lines.append(f"| {name} | " + " | ".join(f"{r['stage_cpu_s_per_frame'].get(name, 0):.2f}" for r in stages) + " |")
        lines.append("| total (steady) | " + " | ".join(f"{r['cpu_s_per_frame']:.2f}" for r in stages) + " |")
    profiled_runs = [r for r in results if r.get("profile")]
    if profiled_runs:
        lines += ["", "Share of the generator's CPU time by operator (torch.profiler, self time; one steady call):", ""]
        for r in profiled_runs:
            shares = sorted(r["profile"].items(), key=lambda kv: kv[1], reverse=True)
            conv = sum(v for k, v in shares if "conv" in k)
            lines.append(f"- {r['precision']}: convolutions {conv:.0%}; " + ", ".join(f"{k} {v:.1%}" for k, v in shares[:10]))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--profile", action="store_true",
                        help="also break one steady batch down by operator (torch.profiler; its overhead is in the timings)")
    parser.add_argument("--size", type=int, choices=[256, 512], default=256,
                        help="render size (SadTalker_V0.0.2_<size>.safetensors; the official baseline is timed at 256)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the official baseline always runs on the CPU)")
    parser.add_argument("--settings", nargs="*", default=["exact", "fast"], choices=SETTINGS)
    parser.add_argument("--official", type=Path, help="an official SadTalker checkout to time as the baseline")
    parser.add_argument("--rounds", type=int, default=1, help="measure every setting this many times (median reported)")
    parser.add_argument("--clip-seconds", type=float, nargs="+", help="check memory flatness at these clip lengths")
    add_output_options(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--clip-frames", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.official and args.size != 256:
        parser.error("the official baseline (--official) is timed at 256 only")
    if args.child:
        print(json.dumps(measure(args)))
        return
    if args.clip_seconds:
        flatness(args)
        return
    runs: dict[str, list[dict]] = {}
    settings = sorted(set(args.settings) | ({"exact"} if set(args.settings) - {"exact"} else set()), key=SETTINGS.index)
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "exact.pt"
        for _ in range(args.rounds):  # interleaved, so that slow spells of the machine hit every setting
            if args.official:
                runs.setdefault("official", []).append(run_child(official_arguments(args)))
            for setting in settings:
                runs.setdefault(setting, []).append(run_child(child_arguments(args, setting, reference), setting))
                print(json.dumps(runs[setting][-1]), flush=True)
    results = [median_run(group) for group in runs.values()]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {_cpu_model()}, torch {_torch_version()}"
    table = markdown(results, machine)
    report(args, {"machine": machine, "results": results}, table)


def flatness(args: argparse.Namespace) -> None:
    """Peak RSS per clip length and setting (render of the first ``args.frames`` frames)."""
    rows = ["| setting | clip | frames in the clip | peak RSS (MiB) | RSS after each batch (MiB) |", "|---|---|---|---|---|"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.clip_seconds if args.official else []:
            r = run_child(official_arguments(args) + ["--clip-seconds", str(seconds)])
            results.append(r)
            rows.append(f"| official (lower bound: retention, see official_render.py) | {seconds:g} s | {round(seconds * 25)} | "
                        f"{r['clip_peak_rss_mib_lower_bound']:.0f} | - |")
            print(rows[-1], flush=True)
        for precision in args.settings:
            for seconds in args.clip_seconds:
                r = run_child(child_arguments(args, precision, Path(tmp) / "none.pt") + ["--clip-frames", str(round(seconds * 25))])
                results.append({**r, "clip_seconds": seconds})
                trace = ", ".join(f"{v:.0f}" for v in r["rss_after_each_batch_mib"])
                rows.append(f"| {precision} | {seconds:g} s | {r['clip_frames']} | {r['peak_rss_mib']:.0f} | {trace} |")
                print(rows[-1], flush=True)
    table = "\n".join(rows) + "\n"
    report(args, results, table)


def profiled(animate, timing: dict, profile: dict):
    """``animate`` that records a torch.profiler op breakdown (self CPU time per op, the op's share
    and the convolutions' share) of its calls while ``timing['on']``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    def call(*args):
        if not timing["on"]:
            return animate(*args)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            out = animate(*args)
        ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in ops)
        for e in ops:
            profile[e.key] = profile.get(e.key, 0.0) + e.self_cpu_time_total / total
        return out

    return call


def child_arguments(args: argparse.Namespace, setting: str, reference: Path) -> list[str]:
    return [__file__, "--checkpoints", str(args.checkpoints), "--child", setting, "--frames", str(args.frames),
            "--batch", str(args.batch), "--size", str(args.size), "--device", args.device, "--reference", str(reference)] + (["--profile"] if args.profile else [])


def median_run(runs: list[dict]) -> dict:
    """The run with the median steady speed, with every run's seconds per frame attached."""
    ordered = sorted(runs, key=lambda r: r["s_per_frame"])
    return {**ordered[(len(ordered) - 1) // 2], "s_per_frame_runs": [r["s_per_frame"] for r in runs]}


def official_arguments(args: argparse.Namespace) -> list[str]:
    return [str(Path(__file__).with_name("official_render.py")), "--checkout", str(args.official),
            "--checkpoints", str(args.checkpoints), "--golden", str(GOLDEN)]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
