"""``python -m sadtalker_core``: generate and demo write a video with the audio, options keep the
official names, download / conformance are forwarded, and a bad input prints one ``error:`` line
(no traceback) and exits with status 2 -- before any model is loaded where it can be.
"""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
import soundfile
from paths import CORE_CHECKPOINTS

from sadtalker_core import cli, precision
from sadtalker_core.cli import DEMO_AUDIO, DEMO_IMAGE, build_parser, main, motion_options, render_options
from sadtalker_core.motion.files import load_motion
from sadtalker_core.pipeline import BlinkMode, MotionOptions
from sadtalker_core.post.video import probe_video, read_audio
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.face import read_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoints(weights_dir, tmp_path_factory) -> Path:
    """The core model files without the RetinaFace / FAN files (fake detector weights find no
    face), so that dlib finds the faces."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for name in CORE_CHECKPOINTS:
        (folder / name).symlink_to(weights_dir / name)
    return folder


def run(*argv: str | Path) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def rendered(checkpoints, media_dir, tmp_path_factory):
    """Two short real renders: people_0 saying the first 2 frames of speech (its motion saved),
    then the demo portrait in ``full`` mode driven by that saved motion."""
    folder = tmp_path_factory.mktemp("cli")
    people = run("generate", "--image", media_dir / "people_0.png", "--audio", media_dir / "RD_Radio31_000.wav",
                 "--out", folder / "people.mp4", "--checkpoints", checkpoints, "--max-seconds", "0.08",
                 "--seed", "0", "--save-motion", folder / "motion.safetensors", "--quiet")
    demo = run("demo", "--checkpoints", checkpoints, "--out", folder / "demo.mp4", "--preprocess", "full",
               "--paste", "seamless", "--load-motion", folder / "motion.safetensors", "--quiet")
    return folder, people, demo


def test_generate_writes_the_video_with_its_audio_and_says_where(rendered):
    folder, (code, out, err), _ = rendered
    assert (code, err) == (0, "")
    assert out == f"{folder / 'people.mp4'}: 2 frames, 256x256\n"
    info = probe_video(folder / "people.mp4")
    assert (info.frame_count, info.fps, info.has_audio) == (2, 25, True)
    assert read_audio(folder / "people.mp4").duration == pytest.approx(0.08, abs=0.03)
    assert load_motion(folder / "motion.safetensors").num_frames == 2


def test_demo_renders_the_bundled_portrait_here_pasted_back_with_a_saved_motion(rendered):
    folder, _, (code, out, err) = rendered
    assert (code, err) == (0, "")
    info = probe_video(folder / "demo.mp4")
    assert (info.frame_count, info.width, info.height) == (2, 256, 256)  # the whole portrait


def test_bundled_demo_assets_are_small_a_one_face_portrait_and_16_khz_mono_speech():
    assert DEMO_IMAGE.stat().st_size < 200_000 and DEMO_AUDIO.stat().st_size < 200_000
    assert len(DlibDetector().detect(read_image(DEMO_IMAGE))) == 1
    info = soundfile.info(DEMO_AUDIO)
    assert (info.samplerate, info.channels) == (16000, 1) and 2.0 <= info.duration <= 3.0


def test_official_option_spellings_set_the_same_options():
    official = build_parser().parse_args([
        "generate", "--source_image", "a.png", "--driven_audio", "a.wav", "--out", "o.mp4", "--checkpoint_dir", "m",
        "--pose_style", "7", "--expression_scale", "1.5", "--batch_size", "4", "--input_yaw", "-20", "20",
        "--input_roll", "5", "--still", "--ref_pose", "p.mp4", "--ref_eyeblink", "e.mp4"])
    ours = build_parser().parse_args([
        "generate", "--image", "a.png", "--audio", "a.wav", "--out", "o.mp4", "--checkpoints", "m",
        "--pose-style", "7", "--expression-scale", "1.5", "--batch-size", "4", "--input-yaw", "-20", "20",
        "--input-roll", "5", "--still", "--ref-pose", "p.mp4", "--ref-eyeblink", "e.mp4"])
    assert vars(official) == vars(ours)
    assert motion_options(ours) == MotionOptions(pose_style=7, blink=BlinkMode.RANDOM)
    render = render_options(ours)
    assert (render.expression_scale, render.batch_size, render.still) == (1.5, 4, True)
    assert (render.yaw, render.pitch, render.roll) == ((-20.0, 20.0), None, (5.0,))


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listing = capsys.readouterr().out
    assert all(command in listing for command in ("generate", "demo", "download", "conformance"))


@pytest.mark.parametrize("command, prog", [("download", "python -m sadtalker_core download"),
                                           ("conformance", "python -m conformance")])
def test_download_and_conformance_are_forwarded(capsys, command, prog):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith(f"usage: {prog}")


# --- bad inputs: one line, status 2 -----------------------------------------------------------


@pytest.fixture(scope="module")
def inputs(media_dir, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    cv2.imwrite(str(folder / "wall.png"), np.full((300, 400, 3), 128, np.uint8))
    soundfile.write(folder / "empty.wav", np.zeros(0, np.float32), 16000)
    (folder / "a_file").write_text("")
    return {"face": media_dir / "people_0.png", "speech": media_dir / "RD_Radio31_000.wav", "folder": folder,
            "wall": folder / "wall.png", "empty": folder / "empty.wav", "blocker": folder / "a_file"}


def _generate(inputs, checkpoints, *extra, image=None, audio=None, out=None) -> list:
    return ["generate", "--image", image or inputs["face"], "--audio", audio or inputs["speech"],
            "--out", out or inputs["folder"] / "out.mp4", "--checkpoints", checkpoints, "--quiet", *extra]


def _assert_one_error_line(code: int, err: str, pattern: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert re.search(pattern, err), err


def test_a_picture_without_a_face(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, image=inputs["wall"]))
    _assert_one_error_line(code, err, r"no face found in .*wall\.png.*'resize' preprocess mode")


def test_empty_audio(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, audio=inputs["empty"]))
    _assert_one_error_line(code, err, r"empty\.wav: the audio is empty")


def test_a_missing_picture(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, image=inputs["folder"] / "nobody.png"))
    _assert_one_error_line(code, err, r"cannot read the picture .*nobody\.png")


def test_an_unwritable_output_is_reported_before_the_models_are_even_looked_for(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", out=inputs["blocker"] / "out.mp4"))
    _assert_one_error_line(code, err, r"cannot write the video .*a_file/out\.mp4")


def test_a_missing_model_folder_says_how_to_download(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here"))
    _assert_one_error_line(code, err, r"no_models_here does not exist.*python -m sadtalker_core download")


def test_a_truncated_model_file(inputs, weights_dir, tmp_path):
    (tmp_path / "mapping_00229-model.pth.tar").symlink_to(weights_dir / "mapping_00229-model.pth.tar")
    with open(weights_dir / "SadTalker_V0.0.2_256.safetensors", "rb") as whole:
        (tmp_path / "SadTalker_V0.0.2_256.safetensors").write_bytes(whole.read(1 << 20))
    code, _, err = run(*_generate(inputs, tmp_path))
    _assert_one_error_line(code, err, r"SadTalker_V0\.0\.2_256\.safetensors")


def test_a_named_enhancer_missing_from_the_model_folder(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, "--enhancer", "gfpgan"))
    _assert_one_error_line(code, err, r"GFPGANv1\.4\.pth not found")


def test_a_saved_motion_cannot_be_combined_with_a_reference_video(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, "--load-motion", "m.safetensors", "--ref-pose", "p.mp4"))
    _assert_one_error_line(code, err, r"--load-motion uses the saved motion as it is; drop --ref-pose")


def test_fast_precision_on_a_device_without_it_is_one_error_line(inputs, checkpoints, monkeypatch):
    monkeypatch.setattr(precision, "reduced_dtype", lambda device: None)  # a CPU without bfloat16 arithmetic
    code, _, err = run(*_generate(inputs, checkpoints, "--precision", "fast"))
    _assert_one_error_line(code, err, r"precision 'fast' needs bfloat16 or float16 arithmetic, .*use 'exact' or 'auto'")


# --- landmarks and reference videos -----------------------------------------------------------


def test_crop_landmarks_reach_the_picture_and_the_reference_video(monkeypatch, inputs, checkpoints, media_dir):
    """``--crop-landmarks`` (default: the official ``detect``) is handed to the source picture's and
    the reference video's extraction."""
    class Stop(Exception):
        pass

    seen = []
    models = SimpleNamespace(recon=None, detector=lambda: None)
    monkeypatch.setattr(cli, "load_models", lambda *args, **kwargs: models)
    monkeypatch.setattr(cli, "extract_source", lambda *args, **kwargs: seen.append(kwargs["crop_landmarks"]))

    def reference(*args, **kwargs):
        seen.append(kwargs["crop_landmarks"])
        raise Stop

    monkeypatch.setattr(cli, "video_motion", reference)
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    for extra, expected in (((), "detect"), (("--crop-landmarks", "mapped"), "mapped")):
        seen.clear()
        args = build_parser().parse_args([str(a) for a in _generate(inputs, checkpoints, "--ref-pose", video, *extra)])
        with pytest.raises(Stop):
            cli.run_generate(args)
        assert seen == [expected, expected]
    with pytest.raises(SystemExit):
        build_parser().parse_args([str(a) for a in _generate(inputs, checkpoints, "--crop-landmarks", "guess")])


class _CountingContainer:
    """A PyAV input container that counts the frames its decoder hands out."""

    def __init__(self, container):
        self._container = container
        self.decoded = 0

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._container.close()

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            self.decoded += 1
            yield frame


def test_a_reference_video_is_decoded_only_as_far_as_the_clip_needs(monkeypatch, media_dir):
    opened = []
    real_open = av.open

    def counting_open(*args, **kwargs):
        opened.append(_CountingContainer(real_open(*args, **kwargs)))
        return opened[-1]

    monkeypatch.setattr(av, "open", counting_open)
    consumed = []
    monkeypatch.setattr(cli, "video_motion", lambda models, frames, *args, **kwargs: consumed.extend(frames))
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"  # 8 s: 200 frames
    cli._reference_motion(None, None, video, "crop", 16, cli.Progress(quiet=True), "detect")
    assert len(consumed) == 16 and consumed[0].shape == (512, 512, 3)
    assert sum(container.decoded for container in opened) <= 17  # and the 17th, whose time ends the 16th
