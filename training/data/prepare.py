"""``python -m training.data.prepare VIDEOS OUT --recon CHECKPOINT``: talking-head videos -> training shards.

For every video (mp4 / mov / mkv / avi / webm with an audio track) under ``VIDEOS``:

1. frames are read at 25 fps and 68 landmarks detected on each (dlib by default, or the official
   RetinaFace + FAN);
2. one square crop box is fixed for the whole clip, face-vid2vid style: the union of the face's
   landmark boxes over the clip, centred a little above it and enlarged by ``crop_scale`` (so the
   forehead and some background are in), cut with zero padding where it leaves the frame and
   resized to ``size`` (256);
3. every cropped frame is aligned and regressed by the 3DMM recon net (the one SadTalker uses at
   inference), giving the 73-d SadTalker vector and the full 257 coefficients;
4. the 16 kHz audio becomes one mel window per frame, exactly as at inference;
5. the clip is written as one shard (``shards``: the crops as JPEG of quality 95 by default,
   ``--frame-codec png`` for lossless ones) and listed in ``manifest.json``.

Videos without audio, without a face on at least ``min_face_fraction`` of the frames, or
shorter than ``min_frames`` are skipped with the reason recorded.  Finished clips (shard or skip
record present) are not redone, so an interrupted run resumes where it stopped.  ``--workers N``
prepares N clips at a time in separate processes.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sadtalker_core.config import VIDEO_FPS
from sadtalker_core.errors import InputError, SettingError, VideoError
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import iter_frames, probe_video
from sadtalker_core.motion.audio import AudioError, audio_features
from sadtalker_core.networks.recon_net import ReconNet, load_recon_net
from sadtalker_core.source.align import align_face
from sadtalker_core.source.coeffs import Coeffs3DMM, source_coeffs
from sadtalker_core.source.extract import recon_input
from sadtalker_core.source.landmarks import LandmarkDetector

from ..command import run_command
from .shards import (
    CLIPS_DIR,
    SKIPPED_DIR,
    ClipData,
    ClipRecord,
    ClipShard,
    FrameCodec,
    Manifest,
    SkipRecord,
    read_metadata,
    write_shard,
)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


@dataclass(frozen=True)
class PrepareConfig:
    """How clips are cut and which networks analyse them."""

    recon: str  # file holding the recon net: SadTalker_V0.0.2_*.safetensors or epoch_20.pth
    size: int = 256
    fps: int = VIDEO_FPS
    min_frames: int = 33  # a PoseVAE window (32 frames + its reference frame)
    min_face_fraction: float = 0.5
    crop_scale: float = 1.6  # crop side / largest side of the clip's landmark box
    detector: str = "dlib"  # or "official" (needs detector_files)
    detector_files: tuple[str, ...] = ()  # detection_Resnet50_Final.pth, alignment_WFLW_4HG.pth
    recon_batch: int = 16
    threads: int = 1  # torch threads per worker process
    device: str = "cpu"
    frames: FrameCodec = FrameCodec()  # how shards store the crops (JPEG quality 95 by default)


class SkipClip(Exception):
    """A video cannot be used; ``reason`` goes into the manifest."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class CropBox:
    """A square box of ``side`` pixels with its top-left corner at (``x``, ``y``) in the frame
    (it may reach past the frame: that part is zero padding)."""

    x: int
    y: int
    side: int

    def cut(self, frame: np.ndarray, size: int) -> np.ndarray:
        """The box's pixels (zero outside the frame), resized to ``size`` x ``size``."""
        height, width = frame.shape[:2]
        out = np.zeros((self.side, self.side, 3), dtype=np.uint8)
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + self.side, width), min(self.y + self.side, height)
        if x1 > x0 and y1 > y0:
            out[y0 - self.y:y1 - self.y, x0 - self.x:x1 - self.x] = frame[y0:y1, x0:x1]
        interpolation = cv2.INTER_AREA if self.side > size else cv2.INTER_LINEAR
        return cv2.resize(out, (size, size), interpolation=interpolation)

    def to_crop(self, landmarks: np.ndarray, size: int) -> np.ndarray:
        """Frame-pixel landmarks -> pixels of the resized crop."""
        return ((landmarks - np.array([self.x, self.y], np.float32)) * (size / self.side)).astype(np.float32)


def clip_crop_box(landmarks: np.ndarray, scale: float) -> CropBox:
    """The face-vid2vid style box of a clip from its (T, 68, 2) landmarks: centred on the union of
    the landmark boxes, raised by a tenth of its height (landmarks stop at the brows), side
    ``scale`` times the union's largest side."""
    low, high = landmarks.reshape(-1, 2).min(axis=0), landmarks.reshape(-1, 2).max(axis=0)
    width, height = high - low
    side = int(round(scale * max(width, height)))
    cx, cy = (low + high) / 2 - np.array([0.0, 0.1 * height])
    return CropBox(int(round(cx - side / 2)), int(round(cy - side / 2)), max(side, 1))


def fill_missing(landmarks: list[np.ndarray | None]) -> np.ndarray:
    """(T, 68, 2): frames without a face take the nearest earlier frame's landmarks (the first
    found one for leading frames)."""
    first = next(lm for lm in landmarks if lm is not None)
    filled, previous = [], first
    for lm in landmarks:
        previous = lm if lm is not None else previous
        filled.append(previous)
    return np.stack(filled).astype(np.float32)


def regress_coefficients(recon: ReconNet, crops: np.ndarray, landmarks: np.ndarray,
                         batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The recon net on every aligned crop: ((T, 73) SadTalker vectors, (T, 257) coefficients)."""
    device = next(recon.parameters()).device
    vectors, full = [], []
    for start in range(0, len(crops), batch):
        aligned = [align_face(crop, lm) for crop, lm in zip(crops[start:start + batch], landmarks[start:start + batch])]
        images = torch.cat([recon_input(a.image, recon.config.input_size) for a in aligned]).to(device)
        with torch.inference_mode():
            coeffs = recon(images).float().cpu()
        params = np.stack([a.trans_params.as_array() for a in aligned])
        vectors.append(source_coeffs(Coeffs3DMM.split(coeffs, recon.config), params))
        full.append(coeffs)
    return torch.cat(vectors).numpy(), torch.cat(full).numpy()


def detect_landmarks(frames: Iterator[np.ndarray], detector: LandmarkDetector, limit: int) -> list[np.ndarray | None]:
    """Landmarks of the largest face of each of the first ``limit`` frames (None without a face)."""
    found: list[np.ndarray | None] = []
    for frame in frames:
        if len(found) == limit:
            break
        faces = detector.detect(frame)
        found.append(faces[0].landmarks if faces else None)
    return found


@dataclass
class Tools:
    """The networks one worker process uses for every clip it prepares."""

    detector: LandmarkDetector
    recon: ReconNet


def load_tools(config: PrepareConfig) -> Tools:
    torch.set_num_threads(config.threads)
    if config.detector == "official":
        from sadtalker_core.source.official_detector import OfficialDetector

        if len(config.detector_files) != 2:
            raise SettingError("the official detector needs detector_files: detection_Resnet50_Final.pth "
                               "and alignment_WFLW_4HG.pth")
        detector: LandmarkDetector = OfficialDetector.from_files(*config.detector_files, device=config.device)
    elif config.detector == "dlib":
        from sadtalker_core.source.dlib_detector import DlibDetector

        detector = DlibDetector()
    else:
        raise SettingError(f"detector must be 'dlib' or 'official', got {config.detector!r}")
    return Tools(detector, load_recon_net(config.recon, config.device))


def prepare_clip(video: Path, config: PrepareConfig, tools: Tools) -> ClipData:
    """One video -> its shard contents, or :class:`SkipClip`."""
    try:
        info = probe_video(video)
    except VideoError as exc:
        raise SkipClip("unreadable", str(exc)) from exc
    if not info.has_audio:
        raise SkipClip("no audio", "the video has no audio track")
    if info.duration * config.fps < config.min_frames:
        raise SkipClip("too short", f"{info.duration:.2f} s is under {config.min_frames} frames at {config.fps} fps")
    try:
        audio = audio_features(read_audio(video, 16000, mono=True).samples[0], source=str(video))
    except (AudioError, VideoError) as exc:
        raise SkipClip("no audio", str(exc)) from exc
    found = detect_landmarks(iter_frames(video, config.fps), tools.detector, audio.num_frames)
    if len(found) < config.min_frames:
        raise SkipClip("too short", f"{len(found)} frames with audio, need {config.min_frames}")
    with_face = sum(lm is not None for lm in found)
    if with_face < config.min_face_fraction * len(found):
        raise SkipClip("no face", f"a face was found on {with_face} of {len(found)} frames")
    landmarks = fill_missing(found)
    box = clip_crop_box(landmarks, config.crop_scale)
    frames = iter_frames(video, config.fps)
    crops = np.stack([box.cut(next(frames), config.size) for _ in range(len(found))])
    crop_landmarks = np.stack([box.to_crop(lm, config.size) for lm in landmarks])
    coeffs, full = regress_coefficients(tools.recon, crops, crop_landmarks, config.recon_batch)
    return ClipData(crops, coeffs, full, crop_landmarks, audio.frame_mels[:len(found)])


def clip_id_for(video: Path, root: Path) -> str:
    """A file-name-safe id unique within ``root``: the relative path without suffix, '/' -> '__'."""
    return "__".join(video.relative_to(root).with_suffix("").parts)


def speaker_for(video: Path, root: Path) -> str:
    """The speaker a clip belongs to: its top folder under ``root`` (VoxCeleb's ``id10001/...``
    layout), or the file's stem when it lies directly in ``root``."""
    parts = video.relative_to(root).parts
    return parts[0] if len(parts) > 1 else video.stem


def find_videos(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


_TOOLS: Tools | None = None


def _init_worker(config: PrepareConfig) -> None:
    global _TOOLS
    _TOOLS = load_tools(config)


def _work(video: Path, root: Path, out: Path, config: PrepareConfig) -> ClipRecord | SkipRecord:
    """Prepare one clip in a worker and record the result on disk (shard or skip file)."""
    clip_id = clip_id_for(video, root)
    source = str(video.relative_to(root))
    try:
        data = prepare_clip(video, config, _TOOLS)
    except SkipClip as skip:
        record = SkipRecord(source, skip.reason, skip.detail)
        path = out / SKIPPED_DIR / f"{clip_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(record)), encoding="utf-8")
        return record
    speaker = speaker_for(video, root)
    shard = Path(CLIPS_DIR) / f"{clip_id}.safetensors"
    write_shard(out / shard, data, {"clip_id": clip_id, "source": source, "speaker": speaker}, config.frames)
    return ClipRecord(clip_id, source, speaker, int(data.frames.shape[0]), shard.as_posix())


def _finished(video: Path, root: Path, out: Path) -> ClipRecord | SkipRecord | None:
    """The recorded result of an earlier run for ``video``, if there is one."""
    clip_id = clip_id_for(video, root)
    shard = Path(CLIPS_DIR) / f"{clip_id}.safetensors"
    if (out / shard).is_file():
        meta = read_metadata(out / shard)
        return ClipRecord(clip_id, meta["source"], meta["speaker"], ClipShard(out / shard).num_frames, shard.as_posix())
    skipped = out / SKIPPED_DIR / f"{clip_id}.json"
    if skipped.is_file():
        return SkipRecord(**json.loads(skipped.read_text(encoding="utf-8")))
    return None


def prepare(videos: str | os.PathLike, out: str | os.PathLike, config: PrepareConfig, workers: int = 1,
            progress: bool = True) -> Manifest:
    """Prepare every video under ``videos`` into ``out`` (resuming) and write the manifest."""
    root, out = Path(videos), Path(out)
    if not root.is_dir():
        raise InputError(f"video folder {root} does not exist")
    if not Path(config.recon).is_file():  # found here, not in the worker processes that load it
        raise InputError(f"recon net {config.recon} not found; give SadTalker_V0.0.2_256.safetensors or epoch_20.pth")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[Path, ClipRecord | SkipRecord] = {}
    todo = []
    for video in find_videos(root):
        done = _finished(video, root, out)
        if done is None:
            todo.append(video)
        else:
            results[video] = done
    bar = tqdm(total=len(todo), desc="prepare", unit="clip", disable=not progress)
    if workers <= 1 and todo:
        _init_worker(config)
        for video in todo:
            results[video] = _work(video, root, out, config)
            bar.update()
    elif todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(config,)) as pool:
            futures = {pool.submit(_work, video, root, out, config): video for video in todo}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    ordered = [results[v] for v in sorted(results)]
    manifest = Manifest(config.size, config.fps, tuple(r for r in ordered if isinstance(r, ClipRecord)),
                        tuple(r for r in ordered if isinstance(r, SkipRecord)))
    manifest.save(out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", help="folder of talking-head videos (searched recursively)")
    parser.add_argument("out", help="output folder (manifest.json, clips/, skipped/)")
    parser.add_argument("--recon", required=True, help="SadTalker_V0.0.2_256.safetensors or epoch_20.pth")
    parser.add_argument("--workers", type=int, default=1, help="clips prepared in parallel")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--min-frames", type=int, default=33)
    parser.add_argument("--crop-scale", type=float, default=1.6)
    parser.add_argument("--detector", choices=("dlib", "official"), default="dlib")
    parser.add_argument("--detector-files", nargs=2, default=(), metavar=("RETINAFACE", "FAN"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frame-codec", choices=("jpeg", "png", "raw"), default="jpeg",
                        help="how shards store the face crops: jpeg (default), png (lossless, 3x larger), raw")
    parser.add_argument("--jpeg-quality", type=int, default=FrameCodec.quality, help="1..100 (default 95)")
    args = parser.parse_args(argv)

    def run() -> int:
        config = PrepareConfig(recon=args.recon, size=args.size, min_frames=args.min_frames,
                               crop_scale=args.crop_scale, detector=args.detector,
                               detector_files=tuple(args.detector_files), device=args.device,
                               frames=FrameCodec(args.frame_codec, args.jpeg_quality))
        manifest = prepare(args.videos, args.out, config, args.workers)
        print(f"{len(manifest.clips)} clips prepared, {len(manifest.skipped)} skipped -> "
              f"{Path(args.out) / 'manifest.json'}")
        for skip in manifest.skipped:
            print(f"  skipped {skip.source}: {skip.reason} ({skip.detail})")
        return 0

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main())
