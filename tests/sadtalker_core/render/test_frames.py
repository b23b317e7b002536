"""The render loop: consecutive batches padded with the last frame, frames yielded in order and
lazily, source-only work done once, free-view angles per frame, uint8 like skimage."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import img_as_ubyte
from tf32_probe import tf32_seen_by
from torch import nn

from conformance import load_golden
from sadtalker_core.config import FACERENDER
from sadtalker_core.motion.free_view import PoseOverride
from sadtalker_core.networks.generator import GeneratorOutput, SourceEncoding
from sadtalker_core.networks.mapping import HeadPose
from sadtalker_core.render.frames import (
    FaceRenderModels,
    frame_batches,
    frames_to_uint8,
    load_face_render_models,
    render_frames,
)
from sadtalker_core.render.inputs import coefficient_windows, read_source_image
from sadtalker_core.render.keypoints import keypoint_transformation


class CountingDetector(nn.Module):
    """Canonical keypoints: keypoint 1 at x = 0.5, the rest at the origin."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        kp = torch.zeros(image.shape[0], 15, 3)
        kp[:, 1, 0] = 0.5
        return kp


class CentreFrameMapping(nn.Module):
    """Neutral head pose whose vertical translation is the window's centre value (the frame id
    when every coefficient of frame f equals f)."""

    def __init__(self):
        super().__init__()
        self.batches: list[torch.Tensor] = []

    def forward(self, windows: torch.Tensor) -> HeadPose:
        self.batches.append(windows)
        bs = windows.shape[0]
        t = torch.zeros(bs, 3)
        t[:, 1] = windows[:, 0, 13]
        return HeadPose(torch.zeros(bs, 66), torch.zeros(bs, 66), torch.zeros(bs, 66), t, torch.zeros(bs, 45))


class RecordingGenerator(nn.Module):
    """Renders each frame as a constant image of its driving keypoint 0's y (= the frame id)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.encodings = 0
        self.kp_driving: list[torch.Tensor] = []

    def encode_source(self, image: torch.Tensor) -> SourceEncoding:
        self.encodings += 1
        return SourceEncoding(image, image)

    def animate(self, source: SourceEncoding, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> GeneratorOutput:
        self.kp_driving.append(kp_driving)
        image = kp_driving[:, 0, 1].view(-1, 1, 1, 1).expand(-1, 3, 2, 2)
        return GeneratorOutput(prediction=image, mask=torch.zeros(0), occlusion_map=None)


def _stub_models() -> FaceRenderModels:
    return FaceRenderModels(CountingDetector(), RecordingGenerator(), CentreFrameMapping())


def _frame_id_windows(frames: int):
    sequence = torch.arange(frames, dtype=torch.float32).view(-1, 1).expand(frames, 70)
    return coefficient_windows(torch.zeros(1, 73), sequence)


def test_batches_are_consecutive_and_the_last_is_padded_with_the_last_frame():
    batches = list(frame_batches(5, 2))
    assert [b.index.tolist() for b in batches] == [[0, 1], [2, 3], [4, 4]]
    assert [b.count for b in batches] == [2, 2, 1]
    assert [b.index.tolist() for b in frame_batches(2, 4)] == [[0, 1, 1, 1]]


def test_frames_come_in_order_trimmed_to_the_clip_with_source_work_done_once():
    models = _stub_models()
    chunks = list(render_frames(models, torch.zeros(1, 3, 2, 2), _frame_id_windows(5), batch_size=2))
    assert [c.shape[0] for c in chunks] == [2, 2, 1]
    frame_ids = torch.cat(chunks)[:, 0, 0, 0]
    torch.testing.assert_close(frame_ids, torch.arange(5, dtype=torch.float32))
    assert models.kp_detector.calls == 1 and models.generator.encodings == 1
    # mapping: the source window once, then one padded batch of driving windows per step
    assert [w.shape[0] for w in models.mapping.batches] == [1, 2, 2, 2]
    assert torch.equal(models.mapping.batches[-1][0], models.mapping.batches[-1][1])


def test_rendering_is_lazy_so_memory_does_not_grow_with_the_clip():
    models = _stub_models()
    stream = render_frames(models, torch.zeros(1, 3, 2, 2), _frame_id_windows(100_000), batch_size=2)
    first = next(stream)
    assert first.shape[0] == 2 and len(models.generator.kp_driving) == 1


def test_free_view_angles_are_applied_to_their_own_frames():
    models = _stub_models()
    yaw = torch.tensor([0.0, 10.0, 20.0, 30.0])
    list(render_frames(models, torch.zeros(1, 3, 2, 2), _frame_id_windows(4), batch_size=2,
                       free_view=PoseOverride(yaw=yaw)))
    second_batch = models.mapping(models.mapping.batches[2])
    kp_canonical = models.kp_detector(torch.zeros(1, 3, 2, 2))
    expected = keypoint_transformation(kp_canonical, second_batch, PoseOverride(yaw=yaw[2:]))
    assert torch.equal(models.generator.kp_driving[1], expected)


def test_uint8_conversion_equals_skimage_img_as_ubyte():
    halfway = (np.arange(255) + 0.5) / 255  # exactly between two levels: rounding rule matters
    random = np.random.default_rng(0).uniform(0, 1, 253)
    values = np.concatenate([halfway, np.linspace(0, 1, 256), random, [0.0, 1.0, 0.001, 0.999]])
    frames = torch.from_numpy(values.astype(np.float32).reshape(1, 3, 4, 64))
    expected = img_as_ubyte([frames[0].permute(1, 2, 0).numpy()])
    assert np.array_equal(frames_to_uint8(frames).numpy(), expected)


def test_uint8_conversion_rejects_values_outside_skimage_range():
    with pytest.raises(ValueError, match="within"):
        frames_to_uint8(torch.full((1, 3, 2, 2), 1.5))


@pytest.fixture(scope="module")
def real_render_inputs(weights_dir, media_dir, goldens_dir):
    """Fake-weight models, people_0 at 128x128 (to keep CPU time down), first 2 golden frames."""
    models = load_face_render_models(weights_dir / "SadTalker_V0.0.2_256.safetensors",
                                     weights_dir / "mapping_00229-model.pth.tar", FACERENDER)
    golden = load_golden(goldens_dir / "make_animation.safetensors")
    windows = coefficient_windows(golden["source_coeff"], golden["coeff_seq"][:2])
    return models, read_source_image(media_dir / "people_0.png", size=128), windows


def test_streaming_one_frame_at_a_time_yields_the_frames_of_one_batch(real_render_inputs):
    models, source_image, windows = real_render_inputs
    streamed = list(render_frames(models, source_image, windows, batch_size=1))
    together = list(render_frames(models, source_image, windows, batch_size=2))
    assert [c.shape for c in streamed] == [(1, 3, 128, 128)] * 2 and len(together) == 1
    # batch composition changes float rounding only (the reference's own frames differ by up to
    # 1.5e-5 between batches, shared reference README)
    torch.testing.assert_close(torch.cat(streamed), together[0], rtol=0, atol=2e-5)
    assert (together[0][1] - together[0][0]).abs().max() > 1e-4  # the two frames differ


def test_the_face_renderer_computes_float32_in_float32_even_where_the_caller_allows_tf32(real_render_inputs):
    """cuDNN's default TF32 moved the frames by 2 levels of 8 bits on a GPU (benchmarks/RESULTS.md)."""
    models, source_image, windows = real_render_inputs
    networks = (models.kp_detector, models.mapping, models.generator.dense_motion_network, models.generator.decoder)
    with tf32_seen_by(*networks) as seen:
        next(render_frames(models, source_image, windows, batch_size=1))
    assert len(seen) == 5 and not any(seen)  # kp detector, mapping (source, frame), dense motion, decoder
