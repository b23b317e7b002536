"""Preview motion as ComfyUI runs it: the chart of what the motion nodes made, as an IMAGE and shown on
the node (a PNG in ComfyUI's temp folder), for each pose source a user compares."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from comfyui_sadtalker.nodes.face import Extract3DMM
from comfyui_sadtalker.nodes.motion import ExpNetNode, FreeView, PoseVAENode, StillPose
from comfyui_sadtalker.nodes.preview import PreviewMotion
from comfyui_sadtalker.sadtalker_core.errors import InputError
from PIL import Image

SIZE = {"label": "", "width": 960, "height": 540}


@pytest.fixture(scope="module")
def face(bundle, portrait):
    return Extract3DMM.execute(models=bundle, image=portrait, preprocess="crop", face_index=0)[0]


@pytest.fixture(scope="module")
def expression(bundle, face, speech):
    return ExpNetNode.execute(models=bundle, face=face, audio=speech, expression_scale=1.0, blink="auto", seed=0)[0]


def chart(**inputs) -> tuple[torch.Tensor, dict]:
    result = PreviewMotion.execute(**(SIZE | inputs))
    return result.args[0], result.ui


def test_the_chart_is_an_image_and_is_shown_on_the_node(comfy_root, face, expression):
    (pose,) = StillPose.execute(face=face).args
    image, ui = chart(pose=pose, expression=expression, face=face, label="still head")
    assert image.shape == (1, 540, 960, 3) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    (shown,) = ui["images"]
    assert shown["type"] == "temp" and shown["subfolder"] == ""
    with Image.open(comfy_root / "temp" / shown["filename"]) as png:
        assert png.size == (960, 540)
        np.testing.assert_array_equal(np.asarray(png.convert("RGB")), (image[0].numpy() * 255).round().astype(np.uint8))


def test_pose_sources_give_different_charts(bundle, face, speech, expression):
    styles = [PoseVAENode.execute(models=bundle, face=face, audio=speech, pose_style=style, head_motion_scale=2.0,
                                  seed=0).args[0] for style in (0, 30)]
    (still,) = StillPose.execute(face=face).args
    (turned,) = FreeView.execute(pose=still, yaw="-20, 30", pitch="", roll="").args
    charts = [chart(pose=pose, expression=expression)[0][0].numpy() for pose in (*styles, still, turned)]
    for a in range(len(charts)):
        for b in range(a + 1, len(charts)):
            assert (np.abs(charts[a] - charts[b]).max(axis=-1) > 0.15).sum() > 100, (a, b)


def test_a_reference_videos_coefficients_are_drawn_alone(bundle, video_frames):
    coefficients = Extract3DMM.execute(models=bundle, image=video_frames, preprocess="crop", face_index=0).args[1]
    image, _ = chart(coefficients=coefficients, width=640, height=360)
    assert image.shape == (1, 360, 640, 3)


def test_nothing_or_too_much_connected_is_refused(face, expression):
    (pose,) = StillPose.execute(face=face).args
    with pytest.raises(InputError, match="nothing to draw; connect at least one"):
        chart()
    with pytest.raises(InputError, match="either coefficients or pose / expression"):
        chart(pose=pose, coefficients=object())
