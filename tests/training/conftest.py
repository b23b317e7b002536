"""Fixtures of the training tests: a tiny talking-head dataset built from the test media (tests/data/media), fake
weights for what users supply (VGG-19, BFM, Wav2Lip), tiny renderer configs, and the overfit runs
of every trainer (made once per session and read by several tests).

The dataset: two 34-frame clips of two "speakers" (a portrait with synthetic head motion and
real speech), plus three videos prepare must skip (no audio, no face, too short).  Everything
runs on one CPU thread, the renderer at 32x32 with a few channels.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from sadtalker_core.config import DenseMotionConfig, FaceRenderConfig, GeneratorConfig, KPDetectorConfig
from sadtalker_core.io.audio import AudioTrack
from sadtalker_core.io.video_writer import VideoWriter
from sadtalker_core.motion.audio import load_wav
from training.config import RunConfig
from training.data.prepare import PrepareConfig, prepare
from training.data.shards import TARGETS_DIR, PreparedData
from training.data.teacher import write_targets
from training.export import FACEVID2VID_FILE, write_official
from training.losses.discriminator import DiscriminatorConfig
from training.losses.objectives import PerceptualWeights
from training.losses.vgg import VGG19Features
from training.run.checkpointing import checkpoint_path, load_checkpoint
from training.run.logs import read_curve
from training.run.runner import train
from training.trainers.expnet import ExpNetTask, ExpNetTrainConfig
from training.trainers.facevid2vid import FaceVid2VidLossWeights, FaceVid2VidTask, FaceVid2VidTrainConfig
from training.trainers.mapping import MappingLossWeights, MappingTask, MappingTrainConfig
from training.trainers.posevae import PoseVAETask, PoseVAETrainConfig

CLIP_FRAMES = 34
VIDEO_SIZE = 160
IMAGE_SIZE = 32
#: overfit runs: steps, and the checkpoint every RESUME_EVERY steps that the resume tests restart from
OVERFIT_STEPS = {"posevae": 30, "expnet": 30, "mapping": 24, "facevid2vid": 12}
RESUME_EVERY = 4

TINY_RENDER = FaceRenderConfig(
    kp_detector=KPDetectorConfig(block_expansion=8, max_features=32, num_blocks=2, reshape_channel=256, reshape_depth=8),
    generator=GeneratorConfig(block_expansion=8, max_features=64, reshape_channel=8, reshape_depth=8, feature_channel=8,
                              num_resblocks=1,
                              dense_motion=DenseMotionConfig(block_expansion=8, max_features=32, num_blocks=2,
                                                             reshape_depth=8)),
)
TINY_DISCRIMINATOR = DiscriminatorConfig(block_expansion=8, max_features=32, num_blocks=3)
TINY_PERCEPTUAL = PerceptualWeights(scales=(1.0, 0.5))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


def synthetic_clip(image: Path, wav: Path, path: Path, frames: int, audio: bool = True, size: int = VIDEO_SIZE) -> Path:
    """A ``frames``-long 25 fps video of ``image`` swaying (rotation, zoom, shift) with the first
    seconds of ``wav`` as its sound track."""
    picture = np.array(Image.open(image).convert("RGB"))
    height, width = picture.shape[:2]
    track = AudioTrack(load_wav(wav)[:round(frames / 25 * 16000)], 16000) if audio else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=25, audio=track, preset="ultrafast") as writer:
        for t in range(frames):
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 3 * np.sin(t / 6), 1 + 0.04 * np.sin(t / 9))
            matrix[0, 2] += 6 * np.sin(t / 5)
            moved = cv2.warpAffine(picture, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
            writer.write(cv2.resize(moved, (size, size), interpolation=cv2.INTER_AREA))
    return path


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory, media_dir) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    synthetic_clip(media_dir / "people_0.png", media_dir / "RD_Radio31_000.wav", folder / "spk_a" / "clip.mp4", CLIP_FRAMES)
    synthetic_clip(media_dir / "art_0.png", media_dir / "chinese_poem1.wav", folder / "spk_b" / "clip.mp4", CLIP_FRAMES)
    synthetic_clip(media_dir / "people_0.png", media_dir / "RD_Radio31_000.wav", folder / "bad" / "no_audio.mp4",
                   CLIP_FRAMES, audio=False)
    synthetic_clip(media_dir / "people_0.png", media_dir / "RD_Radio31_000.wav", folder / "bad" / "too_short.mp4", 8)
    blank = folder / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(blank)
    synthetic_clip(blank, media_dir / "chinese_poem1.wav", folder / "bad" / "no_face.mp4", CLIP_FRAMES, size=64)
    return folder


@pytest.fixture(scope="session")
def recon_checkpoint(fake_checkpoints) -> Path:
    return fake_checkpoints.path("epoch_20.pth")


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, video_folder, recon_checkpoint) -> Path:
    """The prepared dataset (two worker processes), with precomputed lip-only targets: the
    clips' own recon expressions."""
    out = tmp_path_factory.mktemp("prepared")
    with one_thread():
        prepare(video_folder, out, PrepareConfig(recon=str(recon_checkpoint)), workers=2, progress=False)
    data = PreparedData(out)
    for clip, shard in zip(data.manifest.clips, data.shards):
        write_targets(out / TARGETS_DIR, clip.clip_id, shard.array("coeffs")[:, :64])
    return out


@pytest.fixture(scope="session")
def fake_vgg19(tmp_path_factory) -> Path:
    """A randomly initialised VGG-19 in torchvision's key layout (features.<i>.*)."""
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.manual_seed(19)
    torch.save(VGG19Features().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def fake_bfm(tmp_path_factory) -> Path:
    """A BFM_model_front.mat of 300 random vertices with face-like scale (decimetres)."""
    path = tmp_path_factory.mktemp("bfm") / "BFM_model_front.mat"
    rng = np.random.default_rng(3)
    vertices = 300
    savemat(path, {"meanshape": rng.normal(0, 0.6, (1, 3 * vertices)).astype(np.float32),
                   "idBase": rng.normal(0, 0.01, (3 * vertices, 80)).astype(np.float32),
                   "exBase": rng.normal(0, 0.01, (3 * vertices, 64)).astype(np.float32),
                   "keypoints": (np.arange(68) * 4 + 1).astype(np.float64)[None]})
    return path


def run_config(data: Path, out: Path, steps: int, batch_size: int = 2, **overrides) -> RunConfig:
    return RunConfig(data=str(data), out=str(out), steps=steps, batch_size=batch_size, log_every=1,
                     checkpoint_every=RESUME_EVERY, sample_every=steps, keep_checkpoints=0, num_workers=0,
                     tensorboard=False, progress=False, **overrides)


@pytest.fixture(scope="session")
def tiny_facevid2vid_file(tmp_path_factory) -> Path:
    """Randomly initialised tiny face-vid2vid networks in the official facevid2vid file layout
    (the frozen renderer of the MappingNet runs)."""
    from sadtalker_core.networks.generator import OcclusionAwareSPADEGenerator
    from sadtalker_core.networks.he_estimator import HEEstimator
    from sadtalker_core.networks.keypoint_detector import KPDetector

    torch.manual_seed(7)
    nets = {"kp_detector": KPDetector(TINY_RENDER.kp_detector), "generator": OcclusionAwareSPADEGenerator(TINY_RENDER.generator),
            "he_estimator": HEEstimator(TINY_RENDER.he_estimator)}
    return write_official(tmp_path_factory.mktemp("tiny_fv2v") / FACEVID2VID_FILE,
                          {name: net.state_dict() for name, net in nets.items()}, epoch=0)


@pytest.fixture(scope="session")
def configs(prepared, fake_vgg19, fake_bfm, tiny_facevid2vid_file, fake_checkpoints):
    """``configs.<network>(out, steps, **run_overrides)``: the test config of each trainer
    (PoseVAE's frozen audio encoder from the fake official PoseVAE file)."""
    pose_file = str(fake_checkpoints.path("auido2pose_00140-model.pth"))

    def posevae(out: Path, steps: int, data: Path = prepared, **run) -> PoseVAETrainConfig:
        return PoseVAETrainConfig(run=run_config(data, out, steps, **run), lr=1e-3, lr_discriminator=1e-4,
                                  audio_encoder=pose_file)

    def expnet(out: Path, steps: int, **run) -> ExpNetTrainConfig:
        return ExpNetTrainConfig(run=run_config(prepared, out, steps, **run), lr=1e-3, bfm=str(fake_bfm))

    def mapping(out: Path, steps: int, **run) -> MappingTrainConfig:
        return MappingTrainConfig(run=run_config(prepared, out, steps, **run), render=TINY_RENDER, image_size=IMAGE_SIZE,
                                  loss=MappingLossWeights(perceptual=TINY_PERCEPTUAL), lr=1e-4,
                                  facevid2vid=str(tiny_facevid2vid_file), vgg19=str(fake_vgg19))

    def facevid2vid(out: Path, steps: int, **run) -> FaceVid2VidTrainConfig:
        return FaceVid2VidTrainConfig(run=run_config(prepared, out, steps, **run), render=TINY_RENDER,
                                      discriminator=TINY_DISCRIMINATOR, image_size=IMAGE_SIZE, lr=1e-3,
                                      loss=FaceVid2VidLossWeights(feature_matching=(10.0, 10.0, 10.0),
                                                                  perceptual=TINY_PERCEPTUAL),
                                      vgg19=str(fake_vgg19))

    return SimpleNamespace(posevae=posevae, expnet=expnet, mapping=mapping, facevid2vid=facevid2vid)


TASKS = {"posevae": PoseVAETask, "expnet": ExpNetTask, "mapping": MappingTask, "facevid2vid": FaceVid2VidTask}


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished training run: its config, folder and loss curve."""

    name: str
    config: object
    out: Path

    @property
    def steps(self) -> int:
        return self.config.run.steps

    @property
    def curve(self) -> list[dict[str, float]]:
        return read_curve(self.out / "logs" / "train.csv")

    def losses(self) -> dict[int, dict[str, float]]:
        """step -> logged loss terms (the CSV without its timing column)."""
        return {int(row["step"]): {k: v for k, v in row.items() if k not in ("step", "seconds")} for row in self.curve}

    def summary(self, key: str = "total", rows: int = 3) -> tuple[float, float]:
        """Mean of ``key`` over the first and over the last ``rows`` logged steps."""
        values = [row[key] for row in self.curve]
        return float(np.mean(values[:rows])), float(np.mean(values[-rows:]))

    def parameters(self, step: int) -> dict[str, torch.Tensor]:
        """Every saved tensor of the checkpoint at ``step``, keyed ``network.name``."""
        modules = load_checkpoint(checkpoint_path(self.out / "checkpoints", step))["modules"]
        return {f"{net}.{key}": value for net, state in modules.items() for key, value in state.items()}

    def difference(self, other: Run, step: int) -> tuple[float, str]:
        """The largest |difference| between the two runs' floating tensors at ``step``, and where."""
        mine, theirs = self.parameters(step), other.parameters(step)
        assert mine.keys() == theirs.keys()
        return max(((mine[k] - theirs[k]).abs().max().item(), k) for k in mine if mine[k].is_floating_point())


def run_training(name: str, config) -> Run:
    with one_thread():
        train(TASKS[name], config)
    return Run(name, config, Path(config.run.out))


@pytest.fixture(scope="session")
def trained(configs, tmp_path_factory):
    """``trained(name)``: the overfit :class:`Run` of a network (``OVERFIT_STEPS``), trained on
    first request and shared by every test that reads it."""
    runs: dict[str, Run] = {}

    def get(name: str) -> Run:
        if name not in runs:
            runs[name] = run_training(name, getattr(configs, name)(tmp_path_factory.mktemp(f"run_{name}"), OVERFIT_STEPS[name]))
        return runs[name]

    return get


@dataclasses.dataclass(frozen=True)
class ResumeCheck:
    """A run restarted from a checkpoint next to the original: the losses both logged after the
    restart and the largest parameter difference at the end."""

    original: dict[int, dict[str, float]]  # step -> loss terms
    resumed: dict[int, dict[str, float]]
    max_param_diff: float


@pytest.fixture
def resume(tmp_path):
    """``resume(run, start, stop)``: restart ``run`` from its checkpoint at ``start`` in a fresh
    folder, train to ``stop`` and compare with the original run (:class:`ResumeCheck`)."""
    def check(run: Run, start: int, stop: int) -> ResumeCheck:
        (tmp_path / "checkpoints").mkdir(parents=True)
        shutil.copy(checkpoint_path(run.out / "checkpoints", start), tmp_path / "checkpoints")
        config = dataclasses.replace(run.config, run=dataclasses.replace(run.config.run, out=str(tmp_path), steps=stop))
        again = run_training(run.name, config)
        return ResumeCheck({s: v for s, v in run.losses().items() if start < s <= stop}, again.losses(),
                           run.difference(again, stop)[0])

    return check


@pytest.fixture(scope="session")
def runs():
    """``runs.train(name, config)`` trains in this process; ``runs.of(name, config)`` reads a run
    that was trained elsewhere (e.g. under torchrun)."""
    return SimpleNamespace(train=run_training, of=lambda name, config: Run(name, config, Path(config.run.out)))
