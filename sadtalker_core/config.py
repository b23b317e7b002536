"""Network and audio settings, equal to the official SadTalker yaml / hparams values.

The official code reads these from ``src/config/*.yaml`` and ``src/utils/hparams.py``; here they
are frozen dataclasses so that every network is built from typed, documented values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

#: frames per second of SadTalker's coefficients and videos: one frame per 40 ms of speech
VIDEO_FPS = 25
#: the highest frame rate a video may be rendered at (the motion is retimed to it)
MAX_FPS = 240


@dataclass(frozen=True)
class AudioConfig:
    """Wav2Lip-style mel spectrogram settings (``hparams.py``)."""

    sample_rate: int = 16000
    num_mels: int = 80
    n_fft: int = 800
    hop_size: int = 200
    win_size: int = 800
    preemphasis: float = 0.97
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    fmin: float = 55.0
    fmax: float = 7600.0
    max_abs_value: float = 4.0
    fps: int = VIDEO_FPS
    mel_step_size: int = 16  # mel columns per video frame window


@dataclass(frozen=True)
class KPDetectorConfig:
    """``kp_detector_params`` + ``common_params`` of facerender.yaml."""

    num_kp: int = 15
    image_channel: int = 3
    feature_channel: int = 32
    estimate_jacobian: bool = False
    temperature: float = 0.1
    block_expansion: int = 32
    max_features: int = 1024
    scale_factor: float = 0.25
    num_blocks: int = 5
    reshape_channel: int = 16384
    reshape_depth: int = 16


@dataclass(frozen=True)
class HEEstimatorConfig:
    """``he_estimator_params`` + ``common_params`` of facerender.yaml."""

    num_kp: int = 15
    image_channel: int = 3
    feature_channel: int = 32
    estimate_jacobian: bool = False
    block_expansion: int = 64
    max_features: int = 2048
    num_bins: int = 66


@dataclass(frozen=True)
class DenseMotionConfig:
    """``generator_params.dense_motion_params`` of facerender.yaml."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class GeneratorConfig:
    """``generator_params`` + ``common_params`` of facerender.yaml."""

    num_kp: int = 15
    image_channel: int = 3
    feature_channel: int = 32
    estimate_jacobian: bool = False
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6
    estimate_occlusion_map: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)


@dataclass(frozen=True)
class MappingConfig:
    """``mapping_params``: ``coeff_nc`` is 70 in facerender.yaml, 73 in facerender_still.yaml."""

    coeff_nc: int = 70
    descriptor_nc: int = 1024
    layer: int = 3
    num_kp: int = 15
    num_bins: int = 66


@dataclass(frozen=True)
class FaceRenderConfig:
    """The whole facerender(.still).yaml model section."""

    kp_detector: KPDetectorConfig = field(default_factory=KPDetectorConfig)
    he_estimator: HEEstimatorConfig = field(default_factory=HEEstimatorConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)


#: facerender.yaml (crop / resize / extcrop preprocess, ``mapping_00229``).
FACERENDER = FaceRenderConfig()
#: facerender_still.yaml (full / extfull preprocess, ``mapping_00109``).
FACERENDER_STILL = FaceRenderConfig(mapping=MappingConfig(coeff_nc=73))


@dataclass(frozen=True)
class ExpNetConfig:
    """auido2exp.yaml values that shape the network and its test-time path."""

    exp_dim: int = 64
    coeff_len: int = 73
    chunk_frames: int = 10  # Audio2Exp.test processes 10 frames at a time


@dataclass(frozen=True)
class PoseVAEConfig:
    """auido2pose.yaml ``MODEL.CVAE`` / ``DATASET`` values."""

    num_classes: int = 46
    audio_emb_in_size: int = 512
    audio_emb_out_size: int = 6
    seq_len: int = 32
    latent_size: int = 64
    encoder_layer_sizes: tuple[int, ...] = (192, 128)
    decoder_layer_sizes: tuple[int, ...] = (128, 192)


@dataclass(frozen=True)
class ReconNetConfig:
    """Deep3DFaceRecon ResNet-50 regressor (``ReconNetWrapper('resnet50', use_last_fc=False)``)."""

    fc_dim: int = 2048
    id_dims: int = 80
    exp_dims: int = 64
    tex_dims: int = 80
    angle_dims: int = 3
    gamma_dims: int = 27
    trans_dims: int = 3
    input_size: int = 224


class ReferenceFrames(str, Enum):
    """How a reference video's frames become 25 fps motion frames.

    ``one-to-one`` (the official behaviour): every decoded frame is one motion frame, whatever
    the video's rate, so a 30 fps video plays 1.2x faster.  ``resample``: the frames are taken on
    a 25 fps timeline (nearest frame), so the video's motion keeps its real timing.
    """

    ONE_TO_ONE = "one-to-one"
    RESAMPLE = "resample"
