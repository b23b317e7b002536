"""Rendering with a source per frame: each frame's 27-frame windows of its own coefficients (source)
and of the same with the new expression (driving), keypoints equal when the new expression is the
frame's own, and each frame of a batch animated from its own source."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sadtalker_core.config import FACERENDER_STILL
from sadtalker_core.networks.generator import GeneratorOutput, SourceEncoding
from sadtalker_core.networks.mapping import HeadPose
from sadtalker_core.render.frames import FaceRenderModels, load_face_render_models
from sadtalker_core.render.video_source import render_video_batch, video_source_keypoints, video_windows


def _own(frames: int, width: int = 73) -> torch.Tensor:
    """Coefficients whose every value tells its frame and column: frame t, column c -> t + c / 100."""
    return torch.arange(frames, dtype=torch.float32).view(-1, 1) + torch.arange(width).view(1, -1) / 100


def test_each_frame_reads_the_27_frame_windows_of_its_own_coefficients_and_of_the_new_expression():
    own, expression = _own(20), -torch.rand(20, 64)
    windows = video_windows(own, expression, coeff_nc=73)
    source, driving = windows.windows(torch.tensor([0, 10, 19]))
    assert source.shape == driving.shape == (3, 73, 27)
    for row, t in enumerate([0, 10, 19]):
        frames = torch.arange(t - 13, t + 14).clamp(0, 19)
        torch.testing.assert_close(source[row], own[frames].T, rtol=0, atol=0)
        torch.testing.assert_close(driving[row, :64], expression[frames].T, rtol=0, atol=0)
        torch.testing.assert_close(driving[row, 64:], own[frames, 64:].T, rtol=0, atol=0)  # pose, crop values


def test_the_70_d_mapping_reads_no_crop_values_and_wrong_shapes_are_refused():
    windows = video_windows(_own(3), torch.zeros(3, 64))
    assert windows.source.shape == (3, 70)
    with pytest.raises(ValueError, match=r"expression must be \(3, 64\), one row per frame, got \(2, 64\)"):
        video_windows(_own(3), torch.zeros(2, 64))
    with pytest.raises(ValueError, match=r"own coefficients must be \(T, >= 73\), got \(3, 70\)"):
        video_windows(_own(3, 70), torch.zeros(3, 64), coeff_nc=73)


@pytest.fixture(scope="module")
def still_models(weights_dir) -> FaceRenderModels:
    """Fake-weight keypoint detector and generator, and the 73-d mapping the paste-back modes use."""
    return load_face_render_models(weights_dir / "SadTalker_V0.0.2_256.safetensors",
                                   weights_dir / "mapping_00109-model.pth.tar", FACERENDER_STILL)


def test_with_the_frames_own_expression_source_and_driving_keypoints_are_equal(still_models):
    torch.manual_seed(0)
    images = torch.rand(3, 3, 128, 128)
    own = torch.randn(3, 73)
    own_windows = video_windows(own, own[:, :64], coeff_nc=73)
    kp = video_source_keypoints(still_models, images, *own_windows.windows(torch.arange(3)))
    torch.testing.assert_close(kp.kp_driving, kp.kp_source, rtol=0, atol=1e-5)
    assert (kp.kp_source[0] - kp.kp_source[1]).abs().max() > 1e-4  # each frame its own source keypoints
    assert kp.encoding.feature_3d.shape[0] == 3  # and its own appearance features

    spoken = video_windows(own, torch.randn(3, 64), coeff_nc=73)
    moved = video_source_keypoints(still_models, images, *spoken.windows(torch.arange(3)))
    torch.testing.assert_close(moved.kp_source, kp.kp_source, rtol=0, atol=1e-6)  # the source side is the video's
    assert (moved.kp_driving - kp.kp_driving).abs().max() > 1e-4  # the new expression moves the driving side


class MeanDetector(nn.Module):
    """Canonical keypoints: every coordinate the image's mean (so each source gives its own)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.mean(dim=(1, 2, 3)).view(-1, 1, 1).expand(-1, 15, 3).clone()


class ExpressionMapping(nn.Module):
    """Neutral pose; the keypoint offsets are the window's centre expression value."""

    def forward(self, windows: torch.Tensor) -> HeadPose:
        bs = windows.shape[0]
        exp = windows[:, 0, 13].view(-1, 1).expand(bs, 45)
        zeros = torch.zeros(bs, 66)
        zeros[:, 33] = 10.0  # softmax peaked on bin 33: 0 degrees
        return HeadPose(zeros, zeros, zeros, torch.zeros(bs, 3), exp)


class SourcePlusMotion(nn.Module):
    """The source image brightened by the mean driving - source keypoint difference."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def encode_source(self, image: torch.Tensor) -> SourceEncoding:
        return SourceEncoding(image, image)

    def animate(self, source: SourceEncoding, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> GeneratorOutput:
        shift = (kp_driving - kp_source).mean(dim=(1, 2)).view(-1, 1, 1, 1)
        return GeneratorOutput(prediction=source.feature_3d + shift, mask=torch.zeros(0), occlusion_map=None)


def test_each_frame_of_a_batch_is_animated_from_its_own_source_to_its_own_driving_window():
    models = FaceRenderModels(MeanDetector(), SourcePlusMotion(), ExpressionMapping())
    images = torch.stack([torch.full((3, 4, 4), v) for v in (0.1, 0.5, 0.9)])
    own = torch.zeros(3, 70)
    expression = torch.tensor([0.0, 0.2, -0.1]).view(-1, 1).expand(3, 64)
    frames = render_video_batch(models, images, *video_windows(own, expression).windows(torch.arange(3)))
    # frame t: its own image, moved by its own expression (the windows' centre)
    torch.testing.assert_close(frames, images + expression[:, :1].view(-1, 1, 1, 1), rtol=0, atol=1e-6)
