"""Dubbing a talking video with new speech, on the reference video's first frames (dlib detector,
fake weights): the mechanics, shown exactly, since fake weights cannot show lips moving.

* identity: with the speech's expression replaced by each frame's own, source and driving keypoints
  are equal and the output is the per-frame reconstruction of the video through the renderer;
* pixels outside each frame's paste box are the input frame's, exactly;
* the output's frame count and audio, for speech shorter and longer than the video, and the video
  frame each output frame shows (ping-pong, loop, cut), at 25 fps and at a video's own rate;
* a blank frame is passed through unchanged with a warning naming its time.

The real renderer costs seconds per frame on a CPU: the identity test renders 2 frames at 128 px,
the composition test 2 frames at 256 px; the order and count tests use a stand-in renderer that
returns its source crops (everything else is the real path).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from talking_video import talking_frames

from sadtalker_core.dub import DubOptions, StreamedFrames, dub_expression, dub_frames, first_frames, render_dub
from sadtalker_core.errors import SettingError
from sadtalker_core.models import load_models
from sadtalker_core.motion import make_expression
from sadtalker_core.motion.audio import audio_features, load_wav
from sadtalker_core.motion.files import motion_from_coeffs
from sadtalker_core.post.paste import paste_frames, restore_aspect
from sadtalker_core.render.frames import frames_to_uint8
from sadtalker_core.render.inputs import source_image_tensor
from sadtalker_core.render.keypoints import keypoint_transformation
from sadtalker_core.render.video_source import source_images, video_source_keypoints, video_windows
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.tracking import track_face
from sadtalker_core.source.video_faces import extract_video_faces

FRAME_SAMPLES = 640  # 16 kHz samples per 25 fps frame


@pytest.fixture(scope="module")
def models(weights_dir):
    return load_models(weights_dir, 256, "cpu", detector="dlib")  # the fake RetinaFace finds no real face


@pytest.fixture(scope="module")
def detector(models) -> DlibDetector:
    return models.detector


@pytest.fixture(scope="module")
def speech(media_dir) -> np.ndarray:
    return load_wav(media_dir / "RD_Radio31_000.wav")


def _speech(speech: np.ndarray, frames: int):
    return audio_features(speech[:frames * FRAME_SAMPLES])


class SourceCrops:
    """Stand-in renderer: each frame is its own source crop; records the crops it was given."""

    def __init__(self):
        self.batches: list[torch.Tensor] = []

    def __call__(self, models, images, source_windows, driving_windows):
        self.batches.append(images)
        return images

    @property
    def crops(self) -> list[torch.Tensor]:
        return [crop for batch in self.batches for crop in batch]


def _outside(box, shape) -> np.ndarray:
    """(H, W) mask of the pixels outside ``box`` (clipped to the frame)."""
    mask = np.ones(shape[:2], bool)
    mask[max(box.y1, 0):box.y2, max(box.x1, 0):box.x2] = False
    return mask


# --- the identity of the composition -----------------------------------------------------------


def test_with_the_frames_own_expression_the_dub_is_the_per_frame_reconstruction_of_the_video(models, detector):
    frames = talking_frames(2)
    faces = extract_video_faces(frames, track_face(frames, detector), models.recon, detector, "full", 128)
    own = faces.coeffs[:, :64]
    render = models.render_models(faces.mode)

    crops = [faces.crop(t, frames[t]) for t in range(2)]
    windows = video_windows(faces.coeffs, own, render.mapping.coeff_nc)
    kp = video_source_keypoints(render, source_images([c.image for c in crops], 128), *windows.windows(torch.arange(2)))
    torch.testing.assert_close(kp.kp_driving, kp.kp_source, rtol=0, atol=1e-5)

    dubbed = list(render_dub(models, frames, faces, [0, 1], own, DubOptions(batch_size=2)))
    for t, crop in enumerate(crops):
        # the reconstruction, one frame at a time: the crop through the renderer with its own keypoints
        image = source_image_tensor(crop.image, 128)
        window = faces.coeffs[torch.arange(t - 13, t + 14).clamp(0, 1)].T[None]
        with torch.inference_mode():
            kp_own = keypoint_transformation(render.kp_detector(image), render.mapping(window))
            prediction = render.generator(image, kp_own, kp_own).prediction
        face = restore_aspect(frames_to_uint8(prediction)[0].numpy(), crop.original_size)
        expected = next(paste_frames([face], crop, "feather"))
        assert dubbed[t].shape == frames[t].shape
        assert np.abs(dubbed[t].astype(int) - expected).max() <= 1  # float noise of the batch: one 8-bit level
        assert np.abs(dubbed[t].astype(int) - frames[t]).mean() > 1  # the face region is rendered


# --- the real composition ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dubbed(models, detector, speech):
    """4 video frames dubbed with 2 frames (0.08 s) of speech, rendered for real."""
    frames = talking_frames(4)
    dub = dub_frames(models, frames, _speech(speech, 2), DubOptions(batch_size=2), detector=detector)
    return frames, dub, list(dub.frames)


def test_speech_shorter_than_the_video_ends_the_dub_with_the_speech(dubbed):
    frames, dub, output = dubbed
    assert dub.num_frames == len(output) == 2 and dub.indices == (0, 1) and dub.fps == 25
    assert len(dub.wav) == 2 * FRAME_SAMPLES and dub.duration == pytest.approx(0.08)
    assert all(frame.shape == frames[0].shape and frame.dtype == np.uint8 for frame in output)


def test_pixels_outside_each_frames_paste_box_are_the_input_frames_exactly(dubbed):
    frames, dub, output = dubbed
    for t, frame in enumerate(output):
        info = dub.faces.crops[t]
        outside = _outside(info.paste_box(extended=False), frame.shape)
        assert outside.sum() > 0.3 * outside.size  # the test video leaves much of the frame outside the box
        assert np.array_equal(frame[outside], frames[t][outside])
        assert np.abs(frame[~outside].astype(int) - frames[t][~outside]).mean() > 1  # inside: rendered


def test_the_speech_drives_the_expression_with_the_video_as_its_own_blink_reference(models, dubbed, speech):
    _, dub, _ = dubbed
    expression = dub_expression(models, dub.faces, _speech(speech, 2), [0, 1])
    audio = _speech(speech, 2)
    official = make_expression(models.motion.expnet, audio.mel_batch(), dub.faces.first.source_coeff,
                               reference=motion_from_coeffs(dub.faces.coeffs[:2]))
    torch.testing.assert_close(expression, official.expression, rtol=0, atol=0)  # the official --ref_eyeblink path
    assert (expression - dub.faces.coeffs[:2, :64]).abs().max() > 1e-3  # not the video's own expression


# --- length, order and frame rate (stand-in renderer) ------------------------------------------


@pytest.fixture(scope="module")
def three_frames() -> list[np.ndarray]:
    return talking_frames(3)


@pytest.mark.parametrize(("length", "indices"), [
    ("pingpong", (0, 1, 2, 1, 0, 1, 2)),
    ("loop", (0, 1, 2, 0, 1, 2, 0)),
    ("cut", (0, 1, 2)),
])
def test_speech_longer_than_the_video_plays_it_by_the_length_policy(models, detector, speech, three_frames,
                                                                    length, indices):
    renderer = SourceCrops()
    dub = dub_frames(models, three_frames, _speech(speech, 7), DubOptions(length=length), detector=detector,
                     renderer=renderer)
    output = list(dub.frames)
    assert dub.indices == indices and dub.num_frames == len(output) == len(indices)
    assert len(dub.wav) == len(indices) * FRAME_SAMPLES  # the audio lasts as long as the frames
    for t, v in enumerate(indices):  # output frame t is rendered from video frame v's crop, pasted into frame v
        expected = source_image_tensor(dub.faces.crop(v, three_frames[v]).image, 256)[0]
        torch.testing.assert_close(renderer.crops[t], expected, rtol=0, atol=0)
        outside = _outside(dub.faces.crops[v].paste_box(extended=False), output[t].shape)
        assert np.array_equal(output[t][outside], three_frames[v][outside])


def test_a_video_at_30_fps_is_dubbed_at_30_fps_for_the_speechs_duration(models, detector, speech, three_frames):
    audio = _speech(speech, 16)  # 0.64 s
    dub = dub_frames(models, three_frames, audio, fps=30, detector=detector, renderer=SourceCrops())
    assert dub.num_frames == 19 == round(0.64 * 30) and dub.fps == 30
    assert len(dub.wav) == round(19 / 30 * 16000)
    assert len(list(dub.frames)) == 19
    at_25 = dub_expression(models, dub.faces, audio, [dub.indices[round(j * 30 / 25)] for j in range(16)], 25)
    at_30 = dub_expression(models, dub.faces, audio, dub.indices, 30)
    assert at_30.shape == (19, 64)
    torch.testing.assert_close(at_30[::6], at_25[::5], rtol=0, atol=1e-5)  # 0, 0.2, 0.4, 0.6 s: the same instants


def test_frames_are_rendered_only_as_they_are_taken(models, detector, speech, three_frames):
    renderer = SourceCrops()
    dub = dub_frames(models, three_frames, _speech(speech, 7), DubOptions(batch_size=2), detector=detector,
                     renderer=renderer)
    assert renderer.batches == []
    next(dub.frames)
    assert [len(batch) for batch in renderer.batches] == [2]  # one batch in flight: memory flat in the length


def test_a_blank_frame_is_passed_through_unchanged_with_a_warning_naming_its_time(models, detector, speech):
    frames = talking_frames(3, blank=1)
    renderer = SourceCrops()
    with pytest.warns(UserWarning, match=r"no face at 0\.04 s \(frame 1\) of talk\.mp4: passed through unchanged"):
        dub = dub_frames(models, frames, _speech(speech, 5), detector=detector, renderer=renderer, name="talk.mp4")
    output = list(dub.frames)
    assert dub.indices == (0, 1, 2, 1, 0) and dub.faces.passed == (1,)
    for t in (1, 3):  # shown twice, passed through both times
        assert np.array_equal(output[t], frames[1])
    assert len(renderer.crops) == 3  # only the frames with a face were rendered
    assert not np.array_equal(output[0], frames[0])


# --- inputs ------------------------------------------------------------------------------------


def test_a_dub_pastes_back_so_face_only_modes_are_refused():
    with pytest.raises(SettingError, match="use preprocess 'full' or 'extfull', not 'crop'"):
        DubOptions(mode="crop")


def test_streamed_frames_decode_again_only_when_played_backward_past_the_cache():
    opened = []

    def open_frames():
        opened.append(1)
        return (np.full((2, 2, 3), i, np.uint8) for i in range(10))

    frames = StreamedFrames(open_frames, cache=4)
    order = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert [int(frames[i][0, 0, 0]) for i in order] == order
    # forward: one decode; backward: 8..6 cached, then a restart for each further 4 frames back
    assert frames.restarts == 3
    assert [int(f[0, 0, 0]) for f in frames] == list(range(10))  # iterating decodes from the start
    with pytest.raises(IndexError, match="frame 10 asked for, but the video has 10 frames"):
        frames[10]


def test_the_first_frames_of_speech_keep_their_windows(speech):
    audio = _speech(speech, 10)
    cut = first_frames(audio, 4)
    assert cut.num_frames == 4 and len(cut.wav) == 4 * FRAME_SAMPLES
    np.testing.assert_array_equal(cut.frame_mels, audio.frame_mels[:4])
