"""What this machine's CPU (or GPU) can compute: the floor any face renderer here is bound by.

    python benchmarks/machine_peak.py [--device cpu] [--json OUT.json] [--markdown OUT.md]

Times a large matrix product and the face-vid2vid generator's heaviest convolution shapes (batch
1, the layouts and dtypes the renderer uses: float32 and bfloat16, channels-last) with the
torch threads the renderer gets; best of ``--repeats`` calls after two warm-up calls.  FLOPs are
2 per multiply-add.  Dividing the generator's per-frame convolution FLOPs (1139 GFLOP with the
source encoding cached, shared/reference/PROFILE.md section 2) by these rates gives the
seconds-per-frame floor quoted in RESULTS.md.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from report import add_output_options, report

GENERATOR_GFLOP_PER_FRAME = 1139.1  # convolutions per driving frame, source encoding cached


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
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
    lines += ["", f"Generator floor ({GENERATOR_GFLOP_PER_FRAME:.0f} GFLOP of convolutions per frame) at the best and "
              "worst of these convolution rates:", ""]
    for name, rates in conv_rates.items():
        lines.append(f"- {name}: {GENERATOR_GFLOP_PER_FRAME / max(rates):.2f}-{GENERATOR_GFLOP_PER_FRAME / min(rates):.2f} s/frame")
    table = "\n".join(lines) + "\n"
    report(args, rows, table)


if __name__ == "__main__":
    main()
