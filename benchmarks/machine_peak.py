"""What this machine's CPU (or GPU) can compute: the floor any face renderer here is bound by.

    python benchmarks/machine_peak.py [--device cpu] [--checkpoints DIR] [--json OUT.json] [--markdown OUT.md]

Times a large matrix product and the face-vid2vid generator's heaviest convolution shapes (batch
1, the layouts and dtypes the renderer uses: float32 and bfloat16, channels-last) with the
torch threads the renderer gets; best of ``--repeats`` calls after two warm-up calls.  FLOPs are
2 per multiply-add.  Dividing a generator's per-frame convolution FLOPs by these rates gives the
seconds-per-frame floor quoted in RESULTS.md: for the official generator 1139 GFLOP per frame
with the source encoding cached (the official render's profile, RESULTS.md), for ours what
``torch.utils.flop_counter`` counts in one frame's ``animate`` on the checkpoints in
``--checkpoints`` (fewer: the nearest-upsampling convolutions run as phase convolutions).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from report import add_output_options, report

OFFICIAL_GFLOP_PER_FRAME = 1139.1  # convolutions per driving frame, source encoding cached
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Kernel:
    name: str
    kind: str  # "matmul" | "conv2d" | "conv3d"
    in_channels: int
    out_channels: int
    kernel: int
    size: tuple[int, ...]  # spatial size of the input (and output)


KERNELS = (
    Kernel("matmul 4096^3", "matmul", 4096, 4096, 0, (4096,)),
    Kernel("conv2d 512->512 3x3 @64x64 (decoder G_middle)", "conv2d", 512, 512, 3, (64, 64)),
    Kernel("conv2d 128->128 3x3 @128x128 (up_0 SPADE)", "conv2d", 128, 128, 3, (128, 128)),
    Kernel("conv2d 256->128 3x3 @256x256 (up_1 SPADE mlp_shared)", "conv2d", 256, 128, 3, (256, 256)),
    Kernel("conv3d 80->64 3^3 @16x64x64 (hourglass first block)", "conv3d", 80, 64, 3, (16, 64, 64)),
    Kernel("conv3d 112->16 7^3 @16x64x64 (dense-motion mask)", "conv3d", 112, 16, 7, (16, 64, 64)),
)


def gflop(kernel: Kernel) -> float:
    if kernel.kind == "matmul":
        return 2 * kernel.in_channels ** 3 / 1e9
    outputs = kernel.out_channels
    for size in kernel.size:
        outputs *= size
    return 2 * outputs * kernel.in_channels * kernel.kernel ** len(kernel.size) / 1e9


def runner(kernel: Kernel, dtype: torch.dtype, device: torch.device):
    """A zero-argument callable computing ``kernel`` once."""
    if kernel.kind == "matmul":
        a = torch.randn(kernel.in_channels, kernel.in_channels, device=device, dtype=dtype)
        b = torch.randn(kernel.in_channels, kernel.in_channels, device=device, dtype=dtype)
        return lambda: a @ b
    dims = len(kernel.size)
    layout = torch.channels_last if dims == 2 else torch.channels_last_3d
    x = torch.randn(1, kernel.in_channels, *kernel.size, device=device, dtype=dtype).contiguous(memory_format=layout)
    w = torch.randn(kernel.out_channels, kernel.in_channels, *(kernel.kernel,) * dims, device=device, dtype=dtype)
    w = w.contiguous(memory_format=layout)
    conv = F.conv2d if dims == 2 else F.conv3d
    return lambda: conv(x, w, padding=kernel.kernel // 2)


def best_seconds(fn, device: torch.device, repeats: int) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode():
        for _ in range(2):
            fn()
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
    return min(times)


def generator_gflop_per_frame(checkpoints: Path) -> float:
    """Convolution / matmul GFLOP of one driving frame through our generator (source cached)."""
    from torch.utils.flop_counter import FlopCounterMode

    sys.path.insert(0, str(REPO))
    from safetensors.torch import load_file

    from sadtalker_core.render.frames import load_face_render_models, prepare_source
    from sadtalker_core.render.inputs import coefficient_windows, read_source_image
    from sadtalker_core.render.keypoints import keypoint_transformation

    golden = load_file(str(REPO / "tests" / "data" / "goldens" / "make_animation.safetensors"))
    windows = coefficient_windows(golden["source_coeff"], golden["coeff_seq"][:1])
    models = load_face_render_models(checkpoints / "SadTalker_V0.0.2_256.safetensors", checkpoints / "mapping_00229-model.pth.tar")
    source = prepare_source(models, read_source_image(REPO / "tests" / "data" / "media" / "people_0.png"), windows.source())
    with torch.inference_mode():
        kp_driving = keypoint_transformation(source.kp_canonical, models.mapping(windows.targets(torch.tensor([0]))))
        with FlopCounterMode(display=False) as counter:
            models.generator.animate(source.encoding, kp_driving, source.kp_source)
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoints", type=Path, help="count our generator's FLOPs on these (fake) weights")
    add_output_options(parser)
    args = parser.parse_args()
    device = torch.device(args.device)
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    rows = []
    for kernel in KERNELS:
        rates = {name: gflop(kernel) / best_seconds(runner(kernel, dtype, device), device, args.repeats)
                 for name, dtype in dtypes.items()}
        rows.append({**asdict(kernel), "gflop": gflop(kernel), "gflop_per_s": rates})
        print(f"{kernel.name}: " + ", ".join(f"{n} {r:.0f} GFLOP/s" for n, r in rates.items()), flush=True)
    conv_rates = {name: [r["gflop_per_s"][name] for r in rows if r["kind"] != "matmul"] for name in dtypes}
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}", "",
             "| kernel | GFLOP | float32 GFLOP/s | bfloat16 GFLOP/s |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['gflop']:.1f} | {r['gflop_per_s']['float32']:.0f} | {r['gflop_per_s']['bfloat16']:.0f} |"
              for r in rows]
    generators = {"official generator": OFFICIAL_GFLOP_PER_FRAME}
    if args.checkpoints:
        generators["ours (exact mode)"] = generator_gflop_per_frame(args.checkpoints)
    lines += ["", "Seconds-per-frame floor of the generator (convolution GFLOP per frame, source encoding cached) at the "
              "best and worst of these convolution rates:", "",
              "| generator | GFLOP per frame | " + " | ".join(f"{name} floor (s/frame)" for name in dtypes) + " |",
              "|---|---|" + "---|" * len(dtypes)]
    for generator, flop in generators.items():
        lines.append(f"| {generator} | {flop:.0f} | " + " | ".join(
            f"{flop / max(conv_rates[name]):.2f}-{flop / min(conv_rates[name]):.2f}" for name in dtypes) + " |")
    rows.append({"generator_gflop_per_frame": generators})
    table = "\n".join(lines) + "\n"
    report(args, rows, table)


if __name__ == "__main__":
    main()
