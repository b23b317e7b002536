"""The end-to-end pipeline on real pictures, speech and video with fake weights: a picture and a
wav become an mp4 of 25 frames per second of audio with that audio; bad inputs give errors that
name the input and say what to do.

The face renderer costs seconds per frame on a CPU, so the tests that run it render a handful of
frames; the full-length contract (8 s of speech -> 200 frames) is checked with a stand-in face
renderer passed to ``generate`` (benchmarks/e2e_full_clip.py does one full run with the real one).
"""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import soundfile
import torch
from safetensors.torch import save_file
from spandrel.architectures.GFPGAN import GFPGAN
from torch import nn

from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.errors import InputError, VideoError
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import iter_frames, probe_video
from sadtalker_core.models import load_models
from sadtalker_core.motion import MotionOptions, make_motion
from sadtalker_core.motion.audio import AudioError, audio_features, load_audio_features, load_wav
from sadtalker_core.pipeline import (
    RenderOptions,
    clip_frames,
    extract_face,
    extract_frames,
    generate,
    render_face_batches,
    render_face_frames,
    video_motion,
)
from sadtalker_core.post import OFFICIAL_UPSCALE, FaceEnhancer, load_face_restorer
from sadtalker_core.post.enhance import FaceArchitecture, load_face_enhancer
from sadtalker_core.render.batch_size import CPU_BATCH_SIZE
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.face import FaceTooSmallError, extract_source, landmarks_in_crop, read_image
from sadtalker_core.source.landmarks import NoFaceError, pick_face

SPEECH = "RD_Radio31_000.wav"  # 8 s of English
FRAME_SAMPLES = 640  # 16 kHz samples per 25 fps frame


@pytest.fixture(scope="module")
def models(weights_dir):
    return load_models(weights_dir, 256, "cpu", detector="dlib")  # the fake RetinaFace finds no real face


@pytest.fixture(scope="module")
def detector(models) -> DlibDetector:
    assert isinstance(models.detector, DlibDetector)
    return models.detector


def _motion(models, source, audio, options, **references):
    """The motion stage's entry on the loaded models, as ``generate`` and the command line call it."""
    return make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff, options, fps=audio.fps,
                       **references)


@pytest.fixture(scope="module")
def speech(media_dir) -> np.ndarray:
    return load_wav(media_dir / SPEECH)


@pytest.fixture(scope="module")
def people(models, detector, media_dir):
    path = media_dir / "people_0.png"
    return extract_source(read_image(path), models.recon, "crop", 256, detector, name=str(path))


def _frames(speech: np.ndarray, count: int):
    """The first ``count`` video frames' worth of the speech, as audio features."""
    return audio_features(speech[:count * FRAME_SAMPLES])


def _aspect_size(crop_size: tuple[int, int], render: int = 256) -> tuple[int, int]:
    """(width, height) of a rendered face frame: the render width, the crop's aspect."""
    return render, int(render * crop_size[1] / crop_size[0])


class FlatFaces:
    """Stand-in face renderer: grey frames in batches of ``options.batch_size``, recording how far
    it ran ahead of the writer (whose ``on_frame`` it is given)."""

    def __init__(self, size: tuple[int, int] = (256, 256)):
        self.size = size
        self.motions: list = []  # the motion of each clip it rendered
        self.produced = 0
        self.written = 0
        self.ahead: list[int] = []

    def __call__(self, models, source, motion, options):
        self.motions.append(motion)
        step = options.batch_size or 1  # 0 (auto) is 1 on the CPU
        for start in range(0, motion.num_frames, step):
            count = min(step, motion.num_frames - start)
            self.produced += count
            self.ahead.append(self.produced - self.written)
            yield np.full((count, self.size[1], self.size[0], 3), 128, dtype=np.uint8)

    def on_frame(self, done: int, total: int) -> None:
        self.written = done


# --- the picture ------------------------------------------------------------------------------


def test_a_picture_without_a_face_is_an_error_naming_it_and_suggesting_resize(models, detector, tmp_path):
    path = tmp_path / "wall.png"
    cv2.imwrite(str(path), np.full((300, 400, 3), 128, dtype=np.uint8))
    with pytest.raises(NoFaceError, match=r"no face found in .*wall\.png.*'resize' preprocess mode"):
        extract_source(read_image(path), models.recon, "crop", 256, detector, name=str(path))


def test_of_several_faces_the_one_asked_for_in_the_order_asked_for_is_animated(models, detector, media_dir):
    big = read_image(media_dir / "people_0.png")  # face about 180 px, left
    small = cv2.resize(skimage.data.astronaut(), (384, 384))  # face about 130 px, right
    canvas = np.full((520, 900, 3), 200, dtype=np.uint8)
    canvas[20:20 + big.shape[0], :big.shape[1]] = big
    canvas[100:100 + small.shape[0], 500:500 + small.shape[1]] = small

    largest = extract_source(canvas, models.recon, "crop", 256, detector, face_order="largest")
    second = extract_source(canvas, models.recon, "crop", 256, detector, face_index=1, face_order="largest")
    assert largest.crop.info.crop.x2 <= big.shape[1] and largest.crop.face_index == 0
    assert second.crop.info.crop.x1 >= 500 - 50 and second.crop.face_index == 1
    via_models = extract_face(models, canvas, face_index=1, face_order="largest")  # the CLI's path
    assert via_models.crop.info.crop == second.crop.info.crop
    best = pick_face(detector.find_faces(canvas))  # the default: the most confident face, as official
    default = extract_source(canvas, models.recon, "crop", 256, detector)
    chosen = largest if best.box[2] <= big.shape[1] else second
    assert default.crop.info.crop == chosen.crop.info.crop
    with pytest.raises(NoFaceError, match="face index 2 asked for, but 2 faces found in pair.png"):
        extract_source(canvas, models.recon, "crop", 256, detector, face_index=2, name="pair.png")


@pytest.mark.parametrize("kind", ["gray", "rgba", "16-bit"])
def test_gray_rgba_and_16_bit_pictures_are_read_as_rgb_and_animated(models, detector, media_dir, tmp_path, kind):
    rgb = read_image(media_dir / "people_0.png")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    stored = {
        "gray": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
        "rgba": np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)]),
        "16-bit": bgr.astype(np.uint16) * 257,
    }[kind]
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), stored)

    image = read_image(path)
    assert image.shape == rgb.shape and image.dtype == np.uint8
    if kind == "gray":
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    else:
        assert np.array_equal(image, rgb)
    source = extract_source(image, models.recon, "crop", 256, detector, name=str(path))
    assert source.crop.image.shape == (256, 256, 3) and torch.isfinite(source.source_coeff).all()


def test_a_file_that_is_not_a_picture_is_an_error_naming_it(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match=r"cannot read the picture .*notes\.png"):
        read_image(path)


def test_a_face_too_small_to_animate_is_an_error_saying_what_to_do(models, detector, media_dir):
    tiny = cv2.resize(read_image(media_dir / "people_0.png"), None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    assert detector.detect(tiny), "dlib still finds this 37 px face"
    with pytest.raises(FaceTooSmallError, match=r"the face in tiny\.png is too small.*at least 64 px.*larger picture"):
        extract_source(tiny, models.recon, "crop", 256, detector, name="tiny.png")
    with pytest.raises(FaceTooSmallError, match=r"tiny\.png is too small to animate: 50x40 px"):
        extract_source(np.zeros((40, 50, 3), np.uint8), models.recon, "resize", 256, detector, name="tiny.png")


# --- the audio --------------------------------------------------------------------------------


def test_empty_audio_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav: the audio is empty"):
        load_audio_features(path)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_common_sample_rates_mono_or_stereo_give_25_frames_per_second(tmp_path, rate, channels):
    seconds = 1.2
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    path = tmp_path / f"tone_{rate}_{channels}.wav"
    soundfile.write(path, np.stack([tone] * channels, axis=1), rate)
    audio = load_audio_features(path)
    assert audio.num_frames == 30 and len(audio.wav) == 30 * FRAME_SAMPLES


# --- the model files --------------------------------------------------------------------------


def _model_folder(tmp_path: Path, weights_dir: Path, bundle: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "SadTalker_V0.0.2_256.safetensors").symlink_to(bundle)
    (folder / "mapping_00229-model.pth.tar").symlink_to(weights_dir / "mapping_00229-model.pth.tar")
    return folder


def test_a_truncated_model_file_is_an_error_naming_it(weights_dir, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    with open(weights_dir / "SadTalker_V0.0.2_256.safetensors", "rb") as whole:
        truncated.write_bytes(whole.read(1 << 20))
    folder = _model_folder(tmp_path, weights_dir, truncated)
    with pytest.raises(CheckpointError, match=r"SadTalker_V0\.0\.2_256\.safetensors"):
        load_models(folder)


def test_a_wrong_model_file_is_an_error_naming_it(weights_dir, tmp_path):
    wrong = tmp_path / "wrong.safetensors"
    save_file({"weight": torch.zeros(3)}, wrong)
    folder = _model_folder(tmp_path, weights_dir, wrong)
    with pytest.raises(CheckpointError, match=r"SadTalker_V0\.0\.2_256\.safetensors"):
        load_models(folder)


# --- writing the video ------------------------------------------------------------------------


def test_an_unwritable_output_fails_before_any_work(models, people, speech, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    renderer = FlatFaces()
    with pytest.raises(VideoError, match=r"cannot write the video .*a_file/out\.mp4"):
        generate(models, people, _frames(speech, 2), blocker / "out.mp4", renderer=renderer)
    assert renderer.produced == 0


def test_eight_seconds_of_speech_stream_into_200_frames_with_8_seconds_of_audio(models, people, speech, tmp_path):
    audio = audio_features(speech)
    renderer = FlatFaces()
    clip = generate(models, people, audio, tmp_path / "clip.mp4", motion_options=MotionOptions(seed=0),
                    render_options=RenderOptions(batch_size=4), on_frame=renderer.on_frame, renderer=renderer)

    assert clip.num_frames == 200 == round(25 * len(speech) / 16000)
    info = probe_video(clip.path)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (200, 25, 256, 256, True)
    assert read_audio(clip.path).duration == pytest.approx(8.0, abs=0.03)
    assert max(renderer.ahead) <= 4  # one batch in flight: memory does not grow with the clip


@pytest.mark.parametrize("fps, frames", [(24, 15), (30, 19), (60, 38)])
def test_another_frame_rate_keeps_the_clips_length_and_its_audio(models, people, speech, tmp_path, fps, frames):
    audio = _frames(speech, 16)  # 0.64 s
    motion = _motion(models, people, audio, MotionOptions(seed=0))
    renderer = FlatFaces()
    clip = generate(models, people, audio, tmp_path / "clip.mp4", motion, render_options=RenderOptions(fps=fps),
                    renderer=renderer)

    assert clip.num_frames == frames == round(0.64 * fps)
    (rendered,) = renderer.motions
    assert (rendered.num_frames, rendered.fps) == (frames, fps)
    torch.testing.assert_close(rendered.expression[0], motion.expression[0])  # time 0 is the first motion frame
    info = probe_video(clip.path)
    assert (info.frame_count, info.fps, info.has_audio) == (frames, fps, True)
    assert read_audio(clip.path).duration == pytest.approx(0.64, abs=1 / fps + 0.03)


def test_the_official_25_fps_renders_the_motion_itself(models, people, speech, tmp_path):
    audio = _frames(speech, 16)
    motion = _motion(models, people, audio, MotionOptions(seed=0))
    renderer = FlatFaces()
    clip = generate(models, people, audio, tmp_path / "clip.mp4", motion, render_options=RenderOptions(fps=25),
                    renderer=renderer)
    (rendered,) = renderer.motions
    assert rendered is motion and clip.num_frames == 16
    assert RenderOptions().fps == 25


@pytest.mark.parametrize("fps", [0, 241, 29.97])
def test_a_frame_rate_that_is_not_a_whole_number_from_1_to_240_is_refused(fps):
    with pytest.raises(InputError, match=r"fps must be a whole number of frames per second from 1 to 240"):
        RenderOptions(fps=fps)


def test_silent_audio_gives_a_video_of_a_blinking_face(models, people, tmp_path):
    silence = audio_features(np.zeros(2 * 16000, np.float32))
    motion = _motion(models, people, silence, MotionOptions(seed=3))
    assert motion.num_frames == 50 and motion.blink.max() == 1.0  # at least one whole blink
    clip = generate(models, people, silence, tmp_path / "silent.mp4", motion, renderer=FlatFaces())
    info = probe_video(clip.path)
    assert info.frame_count == 50 and info.has_audio
    assert np.abs(read_audio(clip.path).samples).max() < 1e-3


# --- the real face renderer, a few frames -----------------------------------------------------


def test_people_0_and_speech_become_an_mp4_of_25_frames_per_second_with_the_audio(models, people, speech, tmp_path):
    audio = _frames(speech, 2)  # 0.08 s
    clip = generate(models, people, audio, tmp_path / "people.mp4", motion_options=MotionOptions(seed=0),
                    render_options=RenderOptions(batch_size=2))

    width, height = _aspect_size(people.crop.original_size)
    even = (width + width % 2, height + height % 2)  # odd sides padded for the encoder
    assert clip.num_frames == 2 and clip.size == even
    info = probe_video(clip.path)
    assert (info.frame_count, info.fps, info.width, info.height) == (2, 25, *even)
    assert read_audio(clip.path).duration == pytest.approx(0.08, abs=0.03)
    frames = np.stack(list(iter_frames(clip.path)))
    assert frames.shape[0] == 2 and frames.std() > 5  # pictures, not a blank


@pytest.fixture(scope="module")
def full_body(detector, media_dir):
    """full_body_1.png and the landmarks of its face (detected once for every mode)."""
    image = read_image(media_dir / "full_body_1.png")
    return image, pick_face(detector.detect(image)).landmarks


@pytest.mark.parametrize("mode", ["crop", "extcrop", "resize", "full", "extfull"])
def test_every_preprocess_mode_cuts_a_render_input_of_full_body_1(models, full_body, mode):
    image, landmarks = full_body
    source = extract_source(image, models.recon, mode, 256, landmarks=landmarks, crop_landmarks="mapped")
    assert source.crop.image.shape == (256, 256, 3) and source.source_coeff.shape == (1, 73)
    assert source.crop.mode.value == mode and (source.crop.full_image is not None) == mode.endswith("full")
    # the aspect the frames get back: the whole picture's, or the face quad's (also in the ext modes)
    assert source.crop.original_size == ((800, 1200) if mode == "resize" else source.crop.info.size)


# one mode of each mapping network (the face one, the still one with paste-back), rendered for real
@pytest.mark.parametrize("mode", ["crop", "extfull"])
def test_face_and_pasted_back_modes_render_full_body_1(models, full_body, speech, tmp_path, mode):
    image, landmarks = full_body
    source = extract_source(image, models.recon, mode, 256, landmarks=landmarks, crop_landmarks="mapped")
    clip = generate(models, source, _frames(speech, 1), tmp_path / f"{mode}.mp4",
                    motion_options=MotionOptions(seed=0), render_options=RenderOptions(batch_size=1))

    expected = (800, 1200) if mode in ("full", "extfull") else _aspect_size(source.crop.original_size)
    even = tuple(side + side % 2 for side in expected)  # yuv420p needs even sides: odd ones are padded
    assert clip.size == even
    info = probe_video(clip.path)
    assert (info.frame_count, info.width, info.height) == (1, *even)
    if mode in ("full", "extfull"):  # the body around the face is the picture's
        frame = next(iter_frames(clip.path))
        assert np.abs(frame[1000:].astype(int) - image[1000:]).mean() < 4


def test_a_reference_video_gives_the_head_pose_and_the_blinks(models, people, detector, speech, media_dir, tmp_path):
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    reference = video_motion(models, itertools.islice(iter_frames(video), 3), "crop", name=str(video))
    assert reference.num_frames == 3

    audio = _frames(speech, 2)
    plain = _motion(models, people, audio, MotionOptions(seed=0))
    driven = _motion(models, people, audio, MotionOptions(seed=0), reference=reference, reference_pose=reference)
    assert driven.blink is None  # the eyes follow the video, not the random schedule
    assert not torch.allclose(driven.expression, plain.expression)
    torch.testing.assert_close(driven.pose - plain.pose, reference.pose[:2] - reference.pose[:1])

    clip = generate(models, people, audio, tmp_path / "driven.mp4", driven, render_options=RenderOptions(batch_size=2))
    assert probe_video(clip.path).frame_count == 2


def test_reference_video_frames_get_their_landmarks_as_a_source_picture_does(models, detector, media_dir):
    """The official second detection on every frame's crop by default; ``mapped`` for the first frame."""
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    frames = list(itertools.islice(iter_frames(video), 2))
    face, motion = extract_frames(models, frames, "crop", name=str(video))
    assert motion.num_frames == 2
    assert np.array_equal(face.landmarks, pick_face(detector.detect(face.crop.image)).landmarks)
    mapped, _ = extract_frames(models, frames[:1], "crop", crop_landmarks="mapped")
    first = pick_face(detector.detect(frames[0])).landmarks
    np.testing.assert_allclose(mapped.landmarks, landmarks_in_crop(first, mapped.crop), atol=1e-4)


@pytest.fixture(scope="module")
def gfpgan_file(tmp_path_factory) -> Path:
    """GFPGAN v1.4's architecture with random weights, saved as the official file is."""
    torch.manual_seed(0)
    model = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                   num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True)
    path = tmp_path_factory.mktemp("enhancer") / "GFPGANv1.4.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    return path


def test_a_face_enhancer_restores_the_rendered_faces(models, people, speech, gfpgan_file, tmp_path, native_precision):
    enhancer = load_face_enhancer(gfpgan_file, precision=native_precision)
    audio = _frames(speech, 1)
    motion = _motion(models, people, audio, MotionOptions(seed=0))
    plain = next(iter(render_face_frames(models, people, motion, RenderOptions(batch_size=1))))[0]
    clip = generate(models, people, audio, tmp_path / "enhanced.mp4", motion, enhancer=enhancer,
                    render_options=RenderOptions(batch_size=1))

    enhanced = next(iter_frames(clip.path))[:plain.shape[0], :plain.shape[1]]
    assert clip.num_frames == 1
    assert np.abs(enhanced.astype(int) - plain).mean() > 10  # random restorer weights: far from the render


def test_batch_size_zero_renders_the_steps_the_device_fits(models, people, speech):
    """On the CPU, auto is the CPU rule: one frame per step; the batches stay tensors on the render's device."""
    motion = _motion(models, people, _frames(speech, 2), MotionOptions(seed=0))
    batches = list(render_face_batches(models, people, motion, RenderOptions(batch_size=0)))
    assert [len(batch) for batch in batches] == [CPU_BATCH_SIZE] * 2
    width, height = _aspect_size(people.crop.original_size)
    for batch in batches:
        assert isinstance(batch, torch.Tensor) and batch.device == models.device and batch.dtype == torch.uint8
        assert batch.shape[1:] == (height, width, 3)


def _picture_faces(face: np.ndarray, as_tensors: bool):
    """Stand-in face renderer: ``face`` once per motion frame, as numpy batches or as tensor
    batches (as :func:`render_face_batches` hands them on)."""
    def render(models, source, motion, options):
        for _ in range(motion.num_frames):
            yield torch.from_numpy(face[None].copy()) if as_tensors else face[None]
    return render


@pytest.mark.parametrize(("mode", "paste"), [("crop", "feather"), ("extfull", "feather"), ("full", "seamless")])
def test_tensor_batches_are_composed_as_tensors_and_come_out_as_the_numpy_frames(models, full_body, speech,
                                                                                  media_dir, mode, paste):
    """The picture path takes the render's tensors through padding and paste-back and brings the
    finished frames to numpy once: the same pictures as from numpy batches."""
    image, landmarks = full_body
    source = extract_source(image, models.recon, mode, 256, landmarks=landmarks, crop_landmarks="mapped")
    motion = _motion(models, source, _frames(speech, 2), MotionOptions(seed=0))
    face = cv2.resize(read_image(media_dir / "people_0.png"), _aspect_size(source.crop.original_size))
    options = RenderOptions(paste=paste)
    from_arrays = list(clip_frames(models, source, motion, options, renderer=_picture_faces(face, False)))
    from_tensors = list(clip_frames(models, source, motion, options, renderer=_picture_faces(face, True)))
    assert len(from_tensors) == 2
    assert all(isinstance(frame, np.ndarray) and frame.dtype == np.uint8 for frame in from_tensors)
    assert all(side % 2 == 0 for side in from_tensors[0].shape[:2])
    np.testing.assert_array_equal(np.stack(from_tensors), np.stack(from_arrays))


def test_the_official_enhancement_restores_the_pasted_back_frames_at_twice_their_size(models, full_body, speech,
                                                                                    fake_checkpoints, tmp_path):
    image, landmarks = full_body
    source = extract_source(image, models.recon, "full", 256, landmarks=landmarks, crop_landmarks="mapped")
    for name in ("detection_Resnet50_Final.pth", "parsing_parsenet.pth"):
        fake_checkpoints.path(name)
    # a cheap stand-in restorer (a fixed colour shift) in place of GFPGAN's 512 px network
    shift = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        shift.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        shift.bias.fill_(-0.5)
    enhancer = FaceEnhancer(Path("stand_in.pth"), FaceArchitecture("StandIn", 512, lambda m, x, fidelity: m(x)), shift)
    restorer = load_face_restorer(enhancer, [fake_checkpoints.folder])
    assert restorer.parser is not None and restorer.upscale == OFFICIAL_UPSCALE == 2

    audio = _frames(speech, 1)
    motion = _motion(models, source, audio, MotionOptions(seed=0))
    renderer = FlatFaces(_aspect_size(source.crop.original_size))
    plain_clip = generate(models, source, audio, tmp_path / "plain.mp4", motion, renderer=renderer,
                          render_options=RenderOptions(batch_size=1))
    plain = next(iter_frames(plain_clip.path))
    clip = generate(models, source, audio, tmp_path / "official.mp4", motion, enhancer=restorer, renderer=renderer,
                    render_options=RenderOptions(batch_size=1))

    assert clip.size == (1600, 2400) and plain.shape == (1200, 800, 3)  # full_body_1 is 800 x 1200
    enhanced = next(iter_frames(clip.path))
    upscaled = cv2.resize(plain, (1600, 2400), interpolation=cv2.INTER_LANCZOS4)
    # the pasted-back picture, upscaled, with the (darkened) restored faces blended in somewhere
    assert np.abs(enhanced.astype(int) - upscaled).mean() < 40
    assert (upscaled.astype(int) - enhanced > 60).any()
