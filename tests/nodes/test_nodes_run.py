"""Each node run as ComfyUI runs it (its ``execute`` with its inputs), on the fake-weight models and
real pictures, speech and video from tests/data/media.  Renders are kept to two frames."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from comfyui_sadtalker.nodes import comfy as comfy_helpers
from comfyui_sadtalker.nodes import post as post_nodes
from comfyui_sadtalker.nodes.face import Extract3DMM
from comfyui_sadtalker.nodes.models import LoadFaceEnhancer, LoadSadTalkerModels
from comfyui_sadtalker.nodes.motion import (
    ExpNetNode,
    FreeView,
    LoadMotion,
    PoseFromReference,
    PoseVAENode,
    SaveMotion,
    StillPose,
)
from comfyui_sadtalker.nodes.post import FaceEnhance, PasteBack
from comfyui_sadtalker.nodes.render import DubVideo, Render
from comfyui_sadtalker.sadtalker_core.errors import CheckpointError, EnhancerError, SettingError
from comfyui_sadtalker.sadtalker_core.io.frame_size import face_frame_size
from comfyui_sadtalker.sadtalker_core.io.video_reader import iter_frames, probe_video
from comfyui_sadtalker.sadtalker_core.motion.sequences import ExpressionSequence, PoseSequence, combine_motion
from comfyui_sadtalker.sadtalker_core.pipeline import RenderOptions, clip_frames
from comfyui_sadtalker.sadtalker_core.post.paste import PasteMethod
from comfyui_sadtalker.sadtalker_core.render import EXACT, FAST
from comfyui_sadtalker.sadtalker_core.source.dlib_detector import DlibDetector
from comfyui_sadtalker.sadtalker_core.source.face import to_rgb_uint8
from comfyui_sadtalker.sadtalker_core.source.landmarks import pick_face
from PIL import Image
from talking_video import FACE_AT, SIZE, LoadedVideo, talking_video_file


def run(node_class, **inputs) -> tuple:
    """The node's outputs, as ComfyUI hands them on."""
    return node_class.execute(**inputs).args


@pytest.fixture(scope="module")
def portrait_face(bundle, portrait):
    return run(Extract3DMM, models=bundle, image=portrait, preprocess="crop", face_index=0)


@pytest.fixture(scope="module")
def reference(bundle, video_frames):
    return run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0)[1]


# --- loading ------------------------------------------------------------------------------------


def test_models_load_once_from_the_model_folder(bundle):
    assert bundle.size == 256 and bundle.device.type == "cpu"
    assert isinstance(bundle.detector, DlibDetector)  # no RetinaFace / FAN files in models/sadtalker
    assert run(LoadSadTalkerModels, size="256", device="cpu", precision="exact", face_detector="auto")[0] is bundle


def test_precision_picks_the_renderer_speed(bundle, native_precision):
    assert bundle.generator_settings == EXACT  # auto on the CPU: the official float32 frames
    chosen = run(LoadSadTalkerModels, size="256", device="cpu", precision=native_precision, face_detector="dlib")[0]
    assert chosen.generator_settings == (FAST if native_precision == "fast" else EXACT)


def test_missing_models_and_detector_files_are_named(bundle):
    with pytest.raises(CheckpointError, match="face detector 'retinaface' needs detection_Resnet50_Final.pth and "
                                              "alignment_WFLW_4HG.pth in .*models/facedetection or .*models/sadtalker"):
        run(LoadSadTalkerModels, size="256", device="cpu", precision="auto", face_detector="retinaface")
    with pytest.raises(ValueError, match=r"missing SadTalker_V0.0.2_512.safetensors. To get them \(0.7 GB\), add the "
                                         r"node 'Download SadTalker models'"):
        run(LoadSadTalkerModels, size="512", device="cpu", precision="auto", face_detector="dlib")  # mappings there


# --- Extract 3DMM -------------------------------------------------------------------------------


def test_a_portrait_gives_the_face_its_coefficients_and_the_crop(portrait_face):
    face, coefficients, crop = portrait_face
    assert face.crop.mode.value == "crop" and face.source_coeff.shape == (1, 73)
    assert coefficients.num_frames == 1
    torch.testing.assert_close(coefficients.expression, face.source_coeff[:, :64])
    assert crop.shape == (1, 256, 256, 3) and crop.dtype == torch.float32 and 0 <= crop.min() <= crop.max() <= 1


def test_face_index_counts_in_the_face_order_asked_for(bundle, portrait):
    """people_0 (the larger face, left) beside a copy of itself at half size (right)."""
    big = portrait[0]
    small = torch.nn.functional.interpolate(big.permute(2, 0, 1)[None], scale_factor=0.6)[0].permute(1, 2, 0)
    canvas = torch.full((1, big.shape[0], big.shape[1] + small.shape[1] + 40, 3), 0.8)
    canvas[0, :big.shape[0], :big.shape[1]] = big
    canvas[0, :small.shape[0], big.shape[1] + 40:] = small
    largest, _, _ = run(Extract3DMM, models=bundle, image=canvas, preprocess="crop", face_index=0,
                        face_order="largest")
    second, _, _ = run(Extract3DMM, models=bundle, image=canvas, preprocess="crop", face_index=1,
                       face_order="largest")
    assert largest.crop.info.crop.x2 <= big.shape[1] + 20 and largest.crop.face_index == 0
    assert second.crop.info.crop.x1 >= big.shape[1] and second.crop.face_index == 1


def test_crop_landmarks_are_detected_again_on_the_crop_or_mapped_from_the_picture(bundle, portrait, portrait_face):
    detected = portrait_face[0]
    mapped = run(Extract3DMM, models=bundle, image=portrait, preprocess="crop", face_index=0,
                 crop_landmarks="mapped")[0]
    on_crop = pick_face(bundle.detector.detect(detected.crop.image)).landmarks
    assert np.array_equal(detected.landmarks, on_crop)  # the official second detection (dlib: whole pixels)
    assert np.array_equal(mapped.crop.image, detected.crop.image)
    assert 0 < np.abs(mapped.landmarks - on_crop).mean() < 2.0  # the picture's landmarks, moved into the crop


def test_video_frames_give_a_coefficient_sequence_with_progress(bundle, video_frames, progress):
    face, coefficients, _ = run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0)
    assert coefficients.num_frames == 4 and coefficients.pose.shape == (4, 6)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_frames_are_taken_one_to_one_by_default_whatever_their_rate(bundle, video_frames):
    """As the official code reads a reference video: each frame is one 25 fps motion frame."""
    _, one_to_one, _ = run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0, fps=50.0)
    assert one_to_one.num_frames == 4


def test_resampled_frames_at_another_rate_are_put_on_25_fps(bundle, video_frames):
    """Four frames at 50 fps last 0.08 s: two frames at 25 fps (the 1st and the 3rd)."""
    _, all_four, _ = run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0)
    _, halved, _ = run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0, fps=50.0,
                       reference_frames="resample")
    assert halved.num_frames == 2
    torch.testing.assert_close(halved.expression[1], all_four.expression[2])


@pytest.mark.parametrize("as_bytes", [False, True], ids=["file", "bytes"])
def test_a_video_input_is_decoded_only_as_far_as_the_speech_needs(bundle, media_dir, short_speech, reference, progress,
                                                                  as_bytes):
    """Load Video's VIDEO (a file name, or bytes in memory) instead of its decoded frames: with a 2-frame
    clip, 2 frames of the 200-frame video are decoded and extracted, the same as from the IMAGE batch."""
    path = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    video = LoadedVideo(io.BytesIO(path.read_bytes()) if as_bytes else str(path))
    _, used, _ = run(Extract3DMM, models=bundle, video=video, preprocess="crop", face_index=0, audio=short_speech)
    assert used.num_frames == 2 and progress == [(1, 2), (2, 2)]
    torch.testing.assert_close(used.expression, reference.expression[:2], atol=1e-4, rtol=0)


def test_image_and_video_together_or_neither_are_refused(bundle, video_frames, media_dir):
    video = LoadedVideo(str(media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"))
    for inputs in ({"image": video_frames, "video": video}, {}):
        with pytest.raises(SettingError, match="either image .* or video"):
            run(Extract3DMM, models=bundle, preprocess="crop", face_index=0, **inputs)


def test_with_the_speech_connected_only_the_frames_the_clip_uses_are_extracted(bundle, video_frames, short_speech,
                                                                                 reference, progress):
    """A 2-frame clip uses 2 of the reference video's 4 frames: the other two are never extracted."""
    _, used, _ = run(Extract3DMM, models=bundle, image=video_frames, preprocess="crop", face_index=0,
                     audio=short_speech)
    assert used.num_frames == 2 and progress == [(1, 2), (2, 2)]
    torch.testing.assert_close(used.pose, reference.pose[:2])
    torch.testing.assert_close(used.expression, reference.expression[:2])
    _, halved, _ = run(Extract3DMM, models=bundle, image=video_frames.repeat(2, 1, 1, 1), preprocess="crop",
                       face_index=0, fps=50.0, audio=short_speech,
                       reference_frames="resample")  # 8 frames at 50 fps: the 1st and the 3rd
    torch.testing.assert_close(halved.pose, reference.pose[[0, 2]])


def test_a_picture_without_a_face_is_refused(bundle):
    with pytest.raises(ValueError, match="no face found"):
        run(Extract3DMM, models=bundle, image=torch.full((1, 128, 128, 3), 0.5), preprocess="crop", face_index=0)


# --- ExpNet and PoseVAE -------------------------------------------------------------------------


def test_expnet_makes_one_expression_per_video_frame(bundle, portrait_face, speech):
    face = portrait_face[0]
    inputs = dict(models=bundle, face=face, audio=speech, blink="auto", seed=3)
    (expression,) = run(ExpNetNode, expression_scale=1.0, **inputs)
    assert expression.num_frames == 5 and expression.blink.shape == (5,)
    (doubled,) = run(ExpNetNode, expression_scale=2.0, **inputs)
    torch.testing.assert_close(doubled.expression, expression.expression * 2)


def test_expnet_follows_a_blink_reference_and_refuses_it_when_blinks_are_off(bundle, portrait_face, speech, reference):
    inputs = dict(models=bundle, face=portrait_face[0], audio=speech, expression_scale=1.0, seed=0)
    (plain,) = run(ExpNetNode, blink="off", **inputs)
    (driven,) = run(ExpNetNode, blink="auto", blink_reference=reference, **inputs)
    assert plain.blink is None and driven.blink is None
    assert not torch.allclose(plain.expression, driven.expression)
    with pytest.raises(ValueError, match="blink_reference is connected"):
        run(ExpNetNode, blink="off", blink_reference=reference, **inputs)


def test_posevae_is_seeded_and_scaled(bundle, portrait_face, speech):
    inputs = dict(models=bundle, face=portrait_face[0], audio=speech, pose_style=12)
    (pose,) = run(PoseVAENode, head_motion_scale=1.0, seed=5, **inputs)
    assert pose.num_frames == 5
    assert torch.equal(run(PoseVAENode, head_motion_scale=1.0, seed=5, **inputs)[0].pose, pose.pose)
    (still,) = run(PoseVAENode, head_motion_scale=0.0, seed=5, **inputs)
    torch.testing.assert_close(still.pose, pose.pose[:1].expand(5, 6))


@pytest.fixture(scope="module")
def wide_style_bundle(tmp_path_factory, weights_dir):
    """Models whose PoseVAE file has a style table of 60 rows (as training/ exports with num_styles 60),
    loaded by the loader node from a ComfyUI folder holding the separate official files."""
    root = tmp_path_factory.mktemp("wide_styles")
    folder = root / "models" / "sadtalker"
    folder.mkdir(parents=True)
    for name in ("epoch_20.pth", "auido2exp_00300-model.pth", "facevid2vid_00189-model.pth.tar",
                 "mapping_00229-model.pth.tar", "mapping_00109-model.pth.tar"):
        (folder / name).symlink_to(weights_dir / name)
    official = torch.load(weights_dir / "auido2pose_00140-model.pth", map_location="cpu", weights_only=True)
    generator = torch.Generator().manual_seed(0)
    for key in ("netG.encoder.classbias", "netG.decoder.classbias"):
        table = official["model"][key]
        official["model"][key] = torch.cat([table, torch.randn(14, table.shape[1], generator=generator)])
    torch.save(official, folder / "auido2pose_00140-model.pth")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SADTALKER_COMFY_ROOT", str(root))
        return run(LoadSadTalkerModels, size="256", device="cpu", precision="exact", face_detector="dlib")[0]


def test_pose_styles_beyond_the_official_46_work_when_the_loaded_posevae_has_them(bundle, wide_style_bundle,
                                                                                     portrait_face, speech):
    schema_max = PoseVAENode.GET_NODE_INFO_V1()["input"]["required"]["pose_style"][1]["max"]
    assert schema_max > 45
    inputs = {"face": portrait_face[0], "audio": speech, "head_motion_scale": 1.0, "seed": 0}
    (pose,) = run(PoseVAENode, models=wide_style_bundle, pose_style=59, **inputs)
    assert pose.num_frames == 5
    with pytest.raises(SettingError, match=r"pose_style 60: the loaded PoseVAE has 60 styles, 0..59; choose one of them"):
        run(PoseVAENode, models=wide_style_bundle, pose_style=60, **inputs)
    with pytest.raises(SettingError, match=r"pose_style 46: the loaded PoseVAE has 46 styles, 0..45"):
        run(PoseVAENode, models=bundle, pose_style=46, **inputs)


def test_audio_batches_are_refused_with_the_input_named(bundle, portrait_face, speech):
    two_clips = {"waveform": speech["waveform"].repeat(2, 1, 1), "sample_rate": speech["sample_rate"]}
    with pytest.raises(ValueError, match="audio: expected one clip"):
        run(PoseVAENode, models=bundle, face=portrait_face[0], audio=two_clips, pose_style=0,
            head_motion_scale=1.0, seed=0)


# --- pose sources -------------------------------------------------------------------------------


def test_still_pose_holds_the_source_pose(portrait_face):
    (pose,) = run(StillPose, face=portrait_face[0])
    torch.testing.assert_close(pose.pose, portrait_face[0].source_coeff[:, 64:70])


def test_pose_from_reference_follows_the_video_from_the_face_pose_or_a_given_pose(portrait_face, reference):
    face = portrait_face[0]
    (held,) = run(PoseFromReference, face=face, coefficients=reference)
    expected = face.source_coeff[:, 64:70] + reference.pose - reference.pose[:1]
    torch.testing.assert_close(held.pose, expected)
    generated = PoseSequence(torch.zeros(6, 6))
    (added,) = run(PoseFromReference, face=face, coefficients=reference, pose=generated)
    torch.testing.assert_close(added.pose, reference.pose[[0, 1, 2, 3, 0, 1]] - reference.pose[:1])


def test_free_view_reads_comma_separated_degrees(portrait_face):
    (still,) = run(StillPose, face=portrait_face[0])
    (turned,) = run(FreeView, pose=still, yaw="0, 30,-30", pitch="", roll=" 5 ")
    view = turned.free_view
    assert view.yaw == (0.0, 30.0, -30.0) and view.pitch is None and view.roll == (5.0,)
    with pytest.raises(ValueError, match="pitch: '1o' is not a list of degrees"):
        run(FreeView, pose=still, yaw="", pitch="1o", roll="")


# --- motion files -------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["safetensors", "npz", "mat"])
def test_motion_saved_to_output_loads_back_from_input(bundle, portrait_face, speech, comfy_root, file_format):
    face = portrait_face[0]
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=speech, expression_scale=1.0, blink="auto", seed=1)
    (pose,) = run(StillPose, face=face)
    result = SaveMotion.execute(expression=expression, pose=pose, filename_prefix="sadtalker/motion",
                                format=file_format)
    assert result.args == ()
    saved = comfy_root / "output" / result.ui["text"][0]
    assert saved.suffix == f".{file_format}" and saved.parent.name == "sadtalker"
    shutil.copy(saved, comfy_root / "input" / saved.name)

    assert saved.name in LoadMotion.GET_NODE_INFO_V1()["input"]["required"]["motion_file"][1]["options"]
    assert LoadMotion.validate_inputs(motion_file=saved.name) is True
    loaded_expression, loaded_pose, coefficients = run(LoadMotion, motion_file=saved.name)
    torch.testing.assert_close(loaded_expression.expression, expression.expression)
    torch.testing.assert_close(loaded_pose.pose, pose.pose.expand(5, 6))
    assert coefficients.num_frames == 5


# --- rendering and after --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_full_body(full_body) -> torch.Tensor:
    """full_body_1.png cut to 799 x 1199: odd sides, as many photos have."""
    return full_body[:, :1199, :799]


@pytest.fixture(scope="module")
def full_body_render(bundle, odd_full_body, short_speech):
    face, _, _ = run(Extract3DMM, models=bundle, image=odd_full_body, preprocess="full", face_index=0)
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=short_speech, expression_scale=1.0, blink="auto",
                        seed=0)
    (pose,) = run(PoseVAENode, models=bundle, face=face, audio=short_speech, pose_style=0, head_motion_scale=1.0,
                  seed=0)
    return face, run(Render, models=bundle, face=face, expression=expression, pose=pose, batch_size=2, fps=25,
                     audio=short_speech)


def test_render_gives_frames_at_the_crop_aspect_padded_to_even_sides_the_audio_and_25_fps(full_body_render,
                                                                                           short_speech):
    face, (frames, audio, fps) = full_body_render
    width, height = face_frame_size(256, face.crop.original_size)
    assert frames.shape == (2, height + height % 2, width, 3) and frames.dtype == torch.float32
    if height % 2:  # the last row repeated once
        assert torch.equal(frames[:, height], frames[:, height - 1])
    assert 0 <= frames.min() and frames.max() <= 1
    assert audio is short_speech and fps == 25.0


def test_paste_back_puts_the_frames_into_the_whole_picture(full_body_render, odd_full_body, progress):
    face, (frames, _, _) = full_body_render
    (pasted,) = run(PasteBack, frames=frames, face=face, original=odd_full_body, method="feather")
    assert pasted.shape == (2, 1200, 800, 3)  # 799 x 1199 padded for the video encoders
    torch.testing.assert_close(pasted[:, :, 799], pasted[:, :, 798])
    box = face.crop.info.paste_box(face.crop.mode.extended)
    outside = pasted[:, : box.y1 - 1, :799]  # above the face box: the picture itself, up to uint8 rounding
    torch.testing.assert_close(outside, odd_full_body[:, : box.y1 - 1].expand_as(outside), atol=1 / 255, rtol=0)
    assert progress[-1] == (2, 2)


def test_paste_back_refuses_a_crop_mode_face_or_another_picture(full_body_render, portrait_face, portrait,
                                                                odd_full_body):
    face, (frames, _, _) = full_body_render
    with pytest.raises(ValueError, match="set Extract 3DMM's preprocess to full or extfull"):
        run(PasteBack, frames=frames, face=portrait_face[0], original=portrait, method="feather")
    with pytest.raises(ValueError, match="connect the picture given to Extract 3DMM"):
        run(PasteBack, frames=frames, face=face, original=odd_full_body[:, :100], method="seamless")


def test_free_view_keyframes_reach_the_renderer(bundle, portrait_face, short_speech):
    face = portrait_face[0]
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=short_speech, expression_scale=1.0, blink="off",
                        seed=0)
    (still,) = run(StillPose, face=face)
    (turned,) = run(FreeView, pose=still, yaw="40", pitch="", roll="")
    one_frame = ExpressionSequence(expression.expression[:1])
    plain = run(Render, models=bundle, face=face, expression=one_frame, pose=still, batch_size=1, fps=25)[0]
    looking_aside = run(Render, models=bundle, face=face, expression=one_frame, pose=turned, batch_size=1, fps=25)[0]
    assert plain.shape == looking_aside.shape == (1, 256, 256, 3)
    assert (plain - looking_aside).abs().mean() > 1e-3


def test_render_retimes_the_motion_to_its_fps_input(bundle, portrait_face, short_speech):
    """One 25 fps motion frame (40 ms) is two frames at 50 fps, and the fps output says 50."""
    face = portrait_face[0]
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=short_speech, expression_scale=1.0, blink="off",
                        seed=0)
    (still,) = run(StillPose, face=face)
    one_frame = ExpressionSequence(expression.expression[:1])
    frames, _, fps = run(Render, models=bundle, face=face, expression=one_frame, pose=still, batch_size=2, fps=50)
    assert frames.shape == (2, 256, 256, 3) and fps == 50.0
    torch.testing.assert_close(frames[0], frames[1], atol=1 / 255, rtol=0)  # the one motion frame, held
    with pytest.raises(ValueError, match="fps must be a whole number of frames per second"):
        run(Render, models=bundle, face=face, expression=one_frame, pose=still, batch_size=1, fps=0)


def test_face_enhance_restores_frames_batch_by_batch(gfpgan_name, progress, native_precision):
    assert gfpgan_name in LoadFaceEnhancer.GET_NODE_INFO_V1()["input"]["required"]["model_name"][1]["options"]
    assert LoadFaceEnhancer.validate_inputs(model_name=gfpgan_name) is True
    (enhancer,) = run(LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision=native_precision)
    frames = torch.rand(3, 64, 48, 3)
    (restored,) = run(FaceEnhance, frames=frames, enhancer=enhancer, mode="crop", upscale=2, strength=1.0, codeformer_fidelity=0.5,
                      batch_size=2)
    assert restored.shape == frames.shape and restored.dtype == torch.float32 and restored.device.type == "cpu"
    assert (restored - frames).abs().mean() > 0.01
    assert progress == [(2, 3), (3, 3)]
    (unchanged,) = run(FaceEnhance, frames=frames, enhancer=enhancer, mode="crop", upscale=2, strength=0.0, codeformer_fidelity=0.5,
                       batch_size=4)
    assert torch.equal(unchanged, frames)
    (odd,) = run(FaceEnhance, frames=frames[:, :63, :47], enhancer=enhancer, mode="crop", upscale=2, strength=0.0, codeformer_fidelity=0.5,
                 batch_size=4)
    assert odd.shape == (3, 64, 48, 3) and torch.equal(odd[:, :63, :47], frames[:, :63, :47])


def test_face_enhance_official_mode_finds_the_faces_and_upscales_the_frames(gfpgan_name, fake_checkpoints,
                                                                          native_precision, monkeypatch):
    load = post_nodes.load_restorer_networks
    (enhancer,) = run(LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision=native_precision)
    frames = torch.rand(2, 40, 30, 3)
    with pytest.raises(EnhancerError, match="finds faces with detection_Resnet50_Final.pth, not in .*facedetection.*"
                                            "use enhance mode 'crop'"):
        run(FaceEnhance, frames=frames, enhancer=enhancer, mode="official", upscale=2, strength=1.0,
            codeformer_fidelity=0.5, batch_size=1)
    fake_checkpoints.path("detection_Resnet50_Final.pth")
    fake_checkpoints.path("parsing_parsenet.pth")
    monkeypatch.setattr(comfy_helpers, "model_folders", lambda kind: [fake_checkpoints.folder])
    loads = []
    monkeypatch.setattr(post_nodes, "load_restorer_networks", lambda *files: loads.append(files) or load(*files))
    post_nodes._restorer_networks.cache_clear()
    for _ in range(2):  # RetinaFace and the parser are loaded by the first run only
        (restored,) = run(FaceEnhance, frames=frames, enhancer=enhancer, mode="official", upscale=2, strength=1.0,
                          codeformer_fidelity=0.5, batch_size=1)
    assert loads == [(fake_checkpoints.path("detection_Resnet50_Final.pth"),
                      fake_checkpoints.path("parsing_parsenet.pth"), torch.device("cpu"))]
    assert restored.shape == (2, 80, 60, 3) and restored.dtype == torch.float32
    upscaled = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2), scale_factor=2).permute(0, 2, 3, 1)
    assert (restored - upscaled).abs().mean() < 0.2  # the frames themselves, twice as large


def test_cancel_stops_the_render_after_the_batch_in_progress(bundle, portrait_face, short_speech, monkeypatch,
                                                             progress):
    from comfyui_sadtalker.nodes import comfy

    class Interrupted(Exception):
        pass

    def cancel() -> None:
        raise Interrupted

    monkeypatch.setattr(comfy, "check_interrupted", cancel)
    face = portrait_face[0]
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=short_speech, expression_scale=1.0, blink="off",
                        seed=0)
    (still,) = run(StillPose, face=face)
    assert expression.num_frames == 2
    with pytest.raises(Interrupted):
        run(Render, models=bundle, face=face, expression=expression, pose=still, batch_size=1, fps=25)
    assert progress == [(1, 2)]  # the second frame was never rendered


# --- Dub video ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory) -> Path:
    """Three frames of a talking face on a textured background, as an mp4 (Load Video's file)."""
    return talking_video_file(tmp_path_factory.mktemp("dub") / "talking.mp4", 3)


def dub_defaults() -> dict:
    return {"length": "pingpong", "preprocess": "full", "paste": "feather", "expression_scale": 1.0, "batch_size": 0,
            "face_index": 0, "face_order": "score", "crop_landmarks": "detect"}


def test_dub_video_gives_the_videos_frames_with_a_rendered_face_as_long_as_the_speech(bundle, talking_video,
                                                                                      short_speech, progress):
    """Load Video's VIDEO (here its bytes) + 0.09 s of speech: 2 frames at the video's 384 x 320 and
    25 fps, the speech cut to 0.08 s at its own rate; a band left of the face (never in a paste box)
    is the decoded video's own, the face region is rendered."""
    video = LoadedVideo(io.BytesIO(talking_video.read_bytes()))
    frames, audio, fps = run(DubVideo, models=bundle, video=video, audio=short_speech, **dub_defaults())
    assert frames.shape == (2, SIZE[1], SIZE[0], 3) and fps == 25.0 and progress == [(1, 2), (2, 2)]
    rate = short_speech["sample_rate"]
    assert audio["sample_rate"] == rate and audio["waveform"].shape[-1] == round(0.08 * rate)
    decoded = np.stack(list(iter_frames(talking_video))[:2])
    out = (frames.numpy() * 255).round().astype(np.uint8)
    band = slice(0, FACE_AT[0] // 2)
    assert np.array_equal(out[:, :, band], decoded[:, :, band])
    x, y = FACE_AT
    face = (slice(y + 96, y + 192), slice(x + 64, x + 192))
    assert np.abs(out[:, face[0], face[1]].astype(int) - decoded[:, face[0], face[1]]).mean() > 1


def test_dub_video_refuses_a_face_only_preprocess(bundle, talking_video, short_speech):
    with pytest.raises(SettingError, match="pastes the face back into every frame: use preprocess 'full' or 'extfull'"):
        run(DubVideo, models=bundle, video=LoadedVideo(str(talking_video)), audio=short_speech,
            **{**dub_defaults(), "preprocess": "crop"})


# --- frames for a video: every size encodes, and the node chain is the CLI's path -----------------


def save_video(frames: torch.Tensor, path: Path) -> tuple[int, int, int]:
    """Frames encoded as ComfyUI's Save Video encodes them (H.264, yuv420p, at the frames' own size,
    ``(x * 255).clamp(0, 255).byte()``); (frame count, width, height) read back from the file."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("h264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in (frames * 255).clamp(0, 255).byte().numpy():
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    info = probe_video(path)
    return info.frame_count, info.width, info.height


def one_frame_motion(bundle, face, audio) -> tuple[ExpressionSequence, PoseSequence]:
    (expression,) = run(ExpNetNode, models=bundle, face=face, audio=audio, expression_scale=1.0, blink="off", seed=0)
    (pose,) = run(StillPose, face=face)
    return ExpressionSequence(expression.expression[:1]), pose


def test_an_odd_sided_frame_is_what_h264_refuses(tmp_path):
    """What the padding is for: the encoder ComfyUI's Save Video uses fails on a 256 x 255 frame."""
    with pytest.raises(av.error.FFmpegError, match="libx264"):  # libx264 logs "height not divisible by 2"
        save_video(torch.rand(1, 255, 256, 3), tmp_path / "odd.mp4")


def test_an_odd_sized_crop_renders_to_frames_h264_encodes(bundle, media_dir, short_speech, tmp_path):
    """people_0 enlarged to 592 x 592 crops to a face rendered 256 x 255: Render pads it to 256 x 256."""
    with Image.open(media_dir / "people_0.png") as original:
        enlarged = np.asarray(original.convert("RGB").resize((592, 592), Image.LANCZOS), np.float32) / 255
    face, _, _ = run(Extract3DMM, models=bundle, image=torch.from_numpy(enlarged)[None], preprocess="crop",
                     face_index=0)
    width, height = face_frame_size(256, face.crop.original_size)
    assert height % 2 == 1  # the case this test is about
    expression, pose = one_frame_motion(bundle, face, short_speech)
    (frames, _, _) = run(Render, models=bundle, face=face, expression=expression, pose=pose, batch_size=1, fps=25)
    assert save_video(frames, tmp_path / "crop.mp4") == (1, width, height + 1)


def test_a_full_picture_of_odd_sides_pastes_back_to_frames_h264_encodes(full_body_render, odd_full_body, tmp_path):
    face, (frames, _, _) = full_body_render
    (pasted,) = run(PasteBack, frames=frames, face=face, original=odd_full_body, method="seamless")
    assert save_video(pasted, tmp_path / "full.mp4") == (2, 800, 1200)


def test_the_node_chain_gives_the_frames_of_the_cli(bundle, full_body_render, odd_full_body, short_speech,
                                                    gfpgan_name):
    """Render -> Face enhance (mode crop) -> Paste back and the CLI's generate (pipeline.clip_frames) render,
    enhance and paste the same way: the same frames, up to 8-bit rounding (GFPGAN draws noise: seeded)."""
    face = full_body_render[0]
    expression, pose = one_frame_motion(bundle, face, short_speech)
    (enhancer,) = run(LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision="exact")

    torch.manual_seed(0)
    cli = np.stack(list(clip_frames(bundle, face, combine_motion(expression, pose),
                                    RenderOptions(batch_size=1, paste=PasteMethod.FEATHER), enhancer)))
    (rendered, _, _) = run(Render, models=bundle, face=face, expression=expression, pose=pose, batch_size=1, fps=25)
    torch.manual_seed(0)
    (enhanced,) = run(FaceEnhance, frames=rendered, enhancer=enhancer, mode="crop", upscale=2, strength=1.0, codeformer_fidelity=0.5,
                      batch_size=1)
    (pasted,) = run(PasteBack, frames=enhanced, face=face, original=odd_full_body, method="feather")
    nodes = np.stack([to_rgb_uint8(frame) for frame in pasted.numpy()])

    assert cli.shape == nodes.shape == (1, 1200, 800, 3)
    assert np.abs(cli.astype(int) - nodes).max() <= 1
    (plain,) = run(PasteBack, frames=rendered, face=face, original=odd_full_body, method="feather")
    assert np.abs(nodes.astype(int) - to_rgb_uint8(plain[0].numpy())).mean() > 1  # the enhancer did work
