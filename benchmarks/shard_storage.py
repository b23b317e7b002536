"""Prepared training shards per frame codec: size per hour of video, frame quality, data-loader
throughput and the training step, raw pixels (before) against JPEG / PNG frames (after), side by
side in one run.

    python benchmarks/shard_storage.py [--video WDA.mp4] [--rounds 3] [--steps 12]

The face crops are those ``training.data.prepare`` cuts from a real talking-head video (default: the
test WDA clip): dlib landmarks, the clip's fixed face-vid2vid box, 256x256.  The other arrays
of a shard have their real shapes and are stored alike in every codec (the mel windows of the
clip's real audio; zeros for coefficients and the recon net is not run: their size does not
depend on their values).  Per codec:

* shard bytes per hour of video (25 fps), and PSNR of the decoded crops against the raw ones;
* decode cost in one process (ms per frame, random frames);
* loader throughput: ``FramePairs`` samples (two random frames each, read, decoded, made 256x256
  float tensors) through a ``DataLoader`` with 2 worker processes, batch 8: frames per second;
* a training step, raw against the default JPEG: the face-vid2vid trainer
  (``training.run.runner.train``, 2 loader workers, batch 4) with the tests' tiny networks at 32x32
  (the workers decode the 256x256 crops and resize them), the fastest step there is, so that the
  loader's share of it is as large as it gets: seconds per step from the run's own log (median
  over the steps after the first two).

Rounds interleave the codecs; medians are reported.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from inputs import MEDIA  # first: puts the repository on sys.path
from report import add_output_options, report
from torch.utils.data import DataLoader

from sadtalker_core.config import DenseMotionConfig, FaceRenderConfig, GeneratorConfig, KPDetectorConfig
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import iter_frames
from sadtalker_core.motion.audio import audio_features
from sadtalker_core.source.dlib_detector import DlibDetector
from training.config import RunConfig
from training.data.datasets import FramePairs, StepBatchSampler
from training.data.prepare import clip_crop_box, detect_landmarks, fill_missing
from training.data.shards import ClipData, ClipRecord, FrameCodec, Manifest, PreparedData, write_shard
from training.losses.discriminator import DiscriminatorConfig
from training.losses.objectives import PerceptualWeights
from training.losses.vgg import VGG19Features
from training.run.logs import read_curve
from training.run.runner import train
from training.trainers.facevid2vid import FaceVid2VidLossWeights, FaceVid2VidTask, FaceVid2VidTrainConfig

FPS, SIZE = 25, 256
STEP_SIZE = 32  # the networks' input in the training-step measurement
CODECS = {"raw (before)": FrameCodec("raw"), "png": FrameCodec("png"), "jpeg q95 (default)": FrameCodec("jpeg", 95),
          "jpeg q90": FrameCodec("jpeg", 90)}
STEP_CODECS = ("raw (before)", "jpeg q95 (default)")  # compared on a training step
SMALL_RENDER = FaceRenderConfig(
    kp_detector=KPDetectorConfig(block_expansion=8, max_features=32, num_blocks=2, reshape_channel=256, reshape_depth=8),
    generator=GeneratorConfig(block_expansion=8, max_features=64, reshape_channel=8, reshape_depth=8, feature_channel=8,
                              num_resblocks=1, dense_motion=DenseMotionConfig(block_expansion=8, max_features=32,
                                                                              num_blocks=2, reshape_depth=8)),
)
SMALL_DISCRIMINATOR = DiscriminatorConfig(block_expansion=8, max_features=32, num_blocks=3)
SMALL_LOSS = FaceVid2VidLossWeights(feature_matching=(10.0, 10.0, 10.0), perceptual=PerceptualWeights(scales=(1.0, 0.5)))


def clip_of(video: Path) -> ClipData:
    """The prepared contents of ``video``: real face crops and mel windows, zero coefficients."""
    mels = audio_features(read_audio(video, 16000, mono=True).samples[0]).frame_mels
    landmarks = fill_missing(detect_landmarks(iter_frames(video, FPS), DlibDetector(), len(mels)))
    box = clip_crop_box(landmarks, 1.6)
    crops = np.stack([box.cut(frame, SIZE) for frame, _ in zip(iter_frames(video, FPS), landmarks)])
    count = len(crops)
    return ClipData(crops, np.zeros((count, 73), np.float32), np.zeros((count, 257), np.float32),
                    np.stack([box.to_crop(lm, SIZE) for lm in landmarks]), mels[:count])


def prepared_folder(folder: Path, clip: ClipData, codec: FrameCodec) -> Path:
    """A prepared data folder holding ``clip`` as its only shard, frames stored with ``codec``."""
    shard = Path("clips") / "wda.safetensors"
    write_shard(folder / shard, clip, {"clip_id": "wda", "source": "wda.mp4", "speaker": "wda"}, codec)
    Manifest(SIZE, FPS, (ClipRecord("wda", "wda.mp4", "wda", len(clip.frames), shard.as_posix()),)).save(folder)
    return folder


def psnr(decoded: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((decoded.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def decode_ms(data: PreparedData, frames: int = 100) -> float:
    shard = data.shards[0]
    index = np.random.default_rng(0).integers(0, shard.num_frames, frames)
    start = time.perf_counter()
    for i in index:
        shard.frames([i])
    return (time.perf_counter() - start) / frames * 1000


def loader_frames_per_second(data: PreparedData, batches: int, batch: int = 8) -> float:
    """Frames/s through a 2-worker DataLoader of FramePairs (the first batch, worker start-up, not timed)."""
    loader = DataLoader(FramePairs(data, 0, SIZE), batch_sampler=StepBatchSampler(batch, 0, 1, 0, batches + 1),
                        num_workers=2)
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count * batch * 2 / (time.perf_counter() - start)


def step_seconds(data: Path, out: Path, vgg19: Path, steps: int) -> float:
    """Median seconds per step of the face-vid2vid trainer after its first two steps."""
    run = RunConfig(data=str(data), out=str(out), steps=steps, batch_size=4, log_every=1, checkpoint_every=steps,
                    sample_every=0, keep_checkpoints=1, num_workers=2, tensorboard=False, progress=False)
    train(FaceVid2VidTask, FaceVid2VidTrainConfig(run=run, render=SMALL_RENDER, discriminator=SMALL_DISCRIMINATOR,
                                                  loss=SMALL_LOSS, image_size=STEP_SIZE, vgg19=str(vgg19)))
    seconds = [row["seconds"] for row in read_curve(out / "logs" / "train.csv")]
    return statistics.median(np.diff(seconds[1:]))


def table(video: Path, frames: int, figures: dict[str, dict[str, float]]) -> str:
    raw = figures["raw (before)"]
    lines = [f"Video: {video.name}, {frames} frames ({frames / FPS:.1f} s) at {FPS} fps, crops {SIZE}x{SIZE}.", "",
             "| frames stored as | shard MB per clip | GB per hour of video | smaller than raw | PSNR vs raw (dB) | decode ms/frame "
             f"(1 process) | loader frames/s (2 workers) | training step s ({STEP_SIZE}px, 2 workers) | step vs raw |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, f in figures.items():
        step = f"{f['step_s']:.3f} | {f['step_s'] / raw['step_s']:.2f}" if "step_s" in f else "- | -"
        lines.append(f"| {name} | {f['bytes'] / 1e6:.1f} | {f['gb_per_hour']:.2f} | {raw['bytes'] / f['bytes']:.1f}x "
                     f"| {f['psnr']:.1f} | {f['decode_ms']:.2f} | {f['loader_fps']:.0f} | {step} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=MEDIA / "WDA_AlexandriaOcasioCortez_000.mp4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=25, help="loader batches of 8 samples timed per round")
    parser.add_argument("--steps", type=int, default=12, help="training steps per codec and round")
    add_output_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    clip = clip_of(args.video)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vgg19 = root / "vgg19.pth"
        torch.save(VGG19Features().state_dict(), vgg19)
        folders = {name: prepared_folder(root / f"data{i}", clip, codec) for i, (name, codec) in enumerate(CODECS.items())}
        figures: dict[str, dict[str, float]] = {}
        for name, folder in folders.items():
            data = PreparedData(folder)
            size = (folder / data.manifest.clips[0].shard).stat().st_size
            figures[name] = {"bytes": size, "gb_per_hour": size / (len(clip.frames) / FPS) * 3600 / 1e9,
                             "psnr": psnr(data.shards[0].frames(range(len(clip.frames))), clip.frames)}
        samples: dict[str, dict[str, list[float]]] = {name: {"decode_ms": [], "loader_fps": [], "step_s": []}
                                                      for name in CODECS}
        for round_ in range(args.rounds):
            for i, (name, folder) in enumerate(folders.items()):
                data = PreparedData(folder)
                samples[name]["decode_ms"].append(decode_ms(data))
                samples[name]["loader_fps"].append(loader_frames_per_second(data, args.batches))
                if name in STEP_CODECS:
                    samples[name]["step_s"].append(step_seconds(folder, root / f"run{round_}_{i}", vgg19, args.steps))
        for name in CODECS:
            figures[name].update({key: statistics.median(values) for key, values in samples[name].items() if values})
    report(args, figures, table(args.video, len(clip.frames), figures))


if __name__ == "__main__":
    main()
