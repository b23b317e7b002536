"""``sadtalker`` / ``python -m sadtalker_core``: generate and demo write a video with the audio,
options keep the official names, download is forwarded; arguments are checked
before anything heavy is imported, and a bad input prints one ``error:`` line (no traceback, no
stray line from a C library) and exits with status 2, writing nothing.  SIGTERM / SIGHUP stop
like Ctrl-C, leaving no temporary video behind.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
import soundfile
import torch

from sadtalker_core import pipeline, precision
from sadtalker_core.cli import arguments, batch, generate, main, parser
from sadtalker_core.cli.generate import edited_motion, motion_options, render_options
from sadtalker_core.cli.parser import DEMO_AUDIO, DEMO_IMAGE, build_parser
from sadtalker_core.errors import EnhancerError
from sadtalker_core.io.audio import read_audio
from sadtalker_core.io.video_reader import probe_video
from sadtalker_core.motion import BlinkMode, FreeView, Motion, MotionOptions, load_motion
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.face import read_image

REPO = Path(__file__).resolve().parents[3]


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
    assert ours.reference_frames == "one-to-one"  # a reference video is read frame for frame, as officially
    assert motion_options(ours) == MotionOptions(pose_style=7, blink=BlinkMode.RANDOM)
    render = render_options(ours)
    assert (render.batch_size, render.still, render.fps) == (4, True, 25)
    generated = Motion(torch.rand(3, 64), torch.rand(3, 6), blink=torch.rand(3))
    edited = edited_motion(generated, ours)  # what is rendered; --save-motion keeps the generated motion
    torch.testing.assert_close(edited.expression, generated.expression * 1.5)
    assert torch.equal(edited.pose, generated.pose) and torch.equal(edited.blink, generated.blink)
    assert edited.free_view == FreeView(yaw=(-20.0, 20.0), roll=(5.0,))


def test_fps_sets_the_frame_rate_of_the_render():
    args = build_parser().parse_args(["generate", "--image", "a.png", "--audio", "a.wav", "--out", "o.mp4",
                                      "--checkpoints", "m", "--fps", "30"])
    assert render_options(args).fps == 30
    demo = build_parser().parse_args(["demo", "--checkpoints", "m", "--fps", "60"])
    assert render_options(demo).fps == 60


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listing = capsys.readouterr().out
    assert all(command in listing for command in ("generate", "generate-batch", "demo", "download"))
    assert "conformance" not in listing  # a tool of the repository (python -m conformance), not of the library


def test_download_is_forwarded(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["download", "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: python -m sadtalker_core download")


def test_the_choices_spelled_in_the_command_line_are_the_librarys():
    """The parser names them without importing the stages (so that --help answers at once)."""
    from sadtalker_core.motion.files import SUFFIXES
    from sadtalker_core.pipeline import RenderOptions
    from sadtalker_core.post import EnhanceMode
    from sadtalker_core.post.paste import PasteMethod
    from sadtalker_core.precision import Precision
    from sadtalker_core.source.crop import PreprocessMode
    from sadtalker_core.source.face import CropLandmarks
    from sadtalker_core.source.landmarks import FaceOrder

    assert parser.PREPROCESS_MODES == tuple(mode.value for mode in PreprocessMode)
    assert parser.BLINK_MODES == tuple(mode.value for mode in BlinkMode)
    assert set(parser.PASTE_METHODS) == {method.value for method in PasteMethod}
    assert parser.PASTE_METHODS[0] == RenderOptions().paste.value
    assert parser.ENHANCE_MODES == tuple(mode.value for mode in EnhanceMode)
    assert parser.PRECISIONS == tuple(setting.value for setting in Precision)
    assert parser.CROP_LANDMARKS == tuple(choice.value for choice in CropLandmarks)
    assert parser.FACE_ORDERS == tuple(order.value for order in FaceOrder)
    assert parser.MOTION_SUFFIXES == SUFFIXES
    defaults = MotionOptions()
    assert parser.MOTION_DEFAULTS == {name: getattr(defaults, name) for name in parser.MOTION_DEFAULTS}
    assert {name for name in vars(defaults)} == set(parser.MOTION_DEFAULTS)


def test_help_and_argument_errors_import_nothing_heavy(tmp_path):
    """--help and a bad argument are answered before torch, OpenCV, librosa or PyAV are imported."""
    script = f"""
import contextlib, io, sys
from sadtalker_core.cli import main
for argv in (["--help"], ["generate", "--help"], ["generate-batch", "--help"],
             ["generate", "--image", "a.png", "--audio", "a.wav", "--out", "{tmp_path}/o.mp4", "--checkpoints", "m",
              "--pose-style", "-1"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print(sorted(name for name in ("torch", "cv2", "librosa", "av", "numpy", "tqdm") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def _argument_error(capsys, argv: list) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([str(arg) for arg in argv])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ")
    return err


@pytest.mark.parametrize("extra, message", [
    (["--pose_style", "-1"], "argument --pose-style/--pose_style: expected a whole number of at least 0, got '-1'"),
    (["--batch-size", "-1"], "argument --batch-size/--batch_size: expected a whole number of at least 0, got '-1'"),
    (["--out", "clip"], "argument --out: expected a video file name ending in .mp4, .mov or .mkv, got 'clip'"),
    (["--out", "clip.gif"], "argument --out: expected a video file name ending in .mp4, .mov or .mkv"),
    (["--size", "384"], "argument --size: invalid choice: 384"),
    (["--seed", "-3"], "argument --seed: expected a whole number from 0 to 4294967295, got '-3'"),
    (["--face-index", "-1"], "argument --face-index: expected a whole number of at least 0"),
    (["--face-order", "leftmost"], "argument --face-order: invalid choice: 'leftmost'"),
    (["--fps", "0"], "argument --fps: expected a whole number from 1 to 240, got '0'"),
    (["--fps", "29.97"], "argument --fps: expected a whole number from 1 to 240, got '29.97'"),
    (["--enhancer-strength", "1.5"], "argument --enhancer-strength: expected a number from 0 to 1, got '1.5'"),
    (["--max-seconds", "0"], "argument --max-seconds: expected a number above 0, got '0'"),
    (["--head-motion-scale", "-1"], "argument --head-motion-scale: expected a number of at least 0, got '-1'"),
    (["--expression-scale", "nan"], "argument --expression-scale/--expression_scale: expected a finite number"),
    (["--input-yaw", "0", "inf"], "argument --input-yaw/--input_yaw: expected a finite number, got 'inf'"),
    (["--device", "gpu"], "argument --device: expected auto, cpu, cuda, cuda:N, xpu, xpu:N or mps, got 'gpu'"),
    (["--precision", "half"], "argument --precision: invalid choice: 'half'"),
    (["--preprocess", "crop", "--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_a_bad_argument_is_one_line_and_nothing_is_written(capsys, tmp_path, extra, message):
    out = tmp_path / "results" / "out.mp4"
    argv = ["generate", "--image", "face.png", "--audio", "speech.wav", "--out", out, "--checkpoints", "models", *extra]
    err = _argument_error(capsys, argv)
    assert err.startswith(f"error: {message}") and re.search(r" \(see python -m sadtalker_core( generate)? --help\)\n$", err)
    assert list(tmp_path.iterdir()) == []


def test_missing_required_arguments_are_one_line(capsys):
    err = _argument_error(capsys, ["generate", "--image", "face.png"])
    assert err.startswith("error: the following arguments are required: --audio/--driven_audio, --out")


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


def test_a_pose_style_the_loaded_posevae_lacks_is_one_line(inputs, checkpoints):
    """Checked against the PoseVAE loaded (46 styles in the official file), as the node checks it."""
    code, _, err = run(*_generate(inputs, checkpoints, "--pose-style", "46", "--max-seconds", "0.04"))
    _assert_one_error_line(code, err, r"pose_style 46: the loaded PoseVAE has 46 styles, 0\.\.45; choose one of them")
    assert not (inputs["folder"] / "out.mp4").exists()


@pytest.mark.parametrize("flag, what", [("--image", "picture"), ("--audio", "audio"), ("--ref-pose", "video"),
                                        ("--ref-eyeblink", "video"), ("--load-motion", "motion file")])
def test_a_missing_input_file_is_named_before_anything_loads(inputs, flag, what):
    missing = inputs["folder"] / "nobody.npz"
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", flag, missing))
    _assert_one_error_line(code, err, rf"^error: the {what} .*nobody\.npz \({flag}\) does not exist; check the path$")


def test_a_folder_given_as_the_picture(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", image=inputs["folder"]))
    _assert_one_error_line(code, err, r"the picture .* \(--image\) is a folder, not a file")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_picture_is_one_line_without_the_decoders_own(inputs, capfd, damage):
    """libpng and OpenCV print their complaints straight to stderr; they become the error's detail."""
    png = (inputs["face"]).read_bytes()
    picture = inputs["folder"] / f"{damage}.png"
    picture.write_bytes(png[:len(png) // 2] if damage == "truncated" else png[:8] + bytes(range(256)) * 4)
    code = main([str(arg) for arg in _generate(inputs, inputs["folder"] / "no_models_here", image=picture)])
    _, err = capfd.readouterr()
    said = "Read Error" if damage == "truncated" else "IHDR chunk shall be first"
    _assert_one_error_line(code, err, rf"cannot read the picture .*{damage}\.png.*; the decoder said: .*{said}")


def test_one_frame_of_speech_and_a_picture_without_a_face_is_one_line(inputs, checkpoints, capfd):
    """Audio shorter than the STFT window no longer brings librosa's n_fft warning along."""
    short = inputs["folder"] / "one_frame.wav"
    soundfile.write(short, np.random.default_rng(0).uniform(-0.3, 0.3, 640).astype(np.float32), 16000)
    code = main([str(arg) for arg in _generate(inputs, checkpoints, image=inputs["wall"], audio=short)])
    _, err = capfd.readouterr()
    _assert_one_error_line(code, err, r"no face found in .*wall\.png")


def test_a_picture_saved_as_a_model_file_is_one_line_asking_for_a_new_download(inputs, weights_dir, tmp_path, capfd):
    (tmp_path / "SadTalker_V0.0.2_256.safetensors").symlink_to(weights_dir / "SadTalker_V0.0.2_256.safetensors")
    (tmp_path / "mapping_00229-model.pth.tar").write_bytes(inputs["face"].read_bytes())
    code = main([str(arg) for arg in _generate(inputs, tmp_path)])
    _, err = capfd.readouterr()
    _assert_one_error_line(code, err, r"mapping_00229-model\.pth\.tar: not a PyTorch checkpoint or damaged \(it is a "
                                      r"PNG picture\); download it again$")
    assert "weights_only" not in err


def test_an_unwritable_output_is_reported_before_the_models_are_even_looked_for(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", out=inputs["blocker"] / "out.mp4"))
    _assert_one_error_line(code, err, r"cannot write the video .*a_file/out\.mp4")


def test_a_folder_that_exists_but_holds_no_file_fails_at_once(inputs):
    """/proc exists but refuses new files with ENOENT, as some FUSE and network mounts do."""
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", out=Path("/proc/x.mp4")))
    _assert_one_error_line(code, err, r"cannot write the video /proc/x\.mp4: the folder /proc cannot be created or written")


def test_a_missing_model_folder_says_how_to_download(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here"))
    _assert_one_error_line(code, err, r"no_models_here does not exist.*python -m sadtalker_core download")


def test_a_truncated_model_file(inputs, weights_dir, tmp_path):
    (tmp_path / "mapping_00229-model.pth.tar").symlink_to(weights_dir / "mapping_00229-model.pth.tar")
    with open(weights_dir / "SadTalker_V0.0.2_256.safetensors", "rb") as whole:
        (tmp_path / "SadTalker_V0.0.2_256.safetensors").write_bytes(whole.read(1 << 20))
    code, _, err = run(*_generate(inputs, tmp_path))
    _assert_one_error_line(code, err, r"SadTalker_V0\.0\.2_256\.safetensors")


def test_a_named_enhancer_missing_from_both_folders_names_them_and_the_download(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, "--enhancer", "gfpgan"))
    _assert_one_error_line(code, err, rf"--enhancer gfpgan: GFPGANv1\.4\.pth not found in {checkpoints} nor in "
                                      rf"{checkpoints.parent / 'facerestore_models'}; download it there "
                                      r"\(python -m sadtalker_core download .* --only GFPGANv1\.4\.pth\) or give")


def test_a_named_enhancer_is_found_in_the_model_folder_or_in_comfyuis_facerestore_models_beside_it(tmp_path):
    models = tmp_path / "ComfyUI" / "models"
    sadtalker, restore = models / "sadtalker", models / "facerestore_models"
    for folder in (sadtalker, restore):
        folder.mkdir(parents=True)
    (restore / "GFPGANv1.4.pth").write_bytes(b"weights")
    assert parser.enhancer_file("gfpgan", sadtalker) == restore / "GFPGANv1.4.pth"
    assert parser.enhancer_file("GFPGANv1.4.pth", sadtalker) == restore / "GFPGANv1.4.pth"
    (sadtalker / "GFPGANv1.4.pth").write_bytes(b"weights")
    assert parser.enhancer_file("GFPGAN", sadtalker) == sadtalker / "GFPGANv1.4.pth"  # the model folder first
    elsewhere = tmp_path / "mine" / "RestoreFormer.pth"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"weights")
    assert parser.enhancer_file(str(elsewhere), sadtalker) == elsewhere  # a path is taken as it is
    with pytest.raises(EnhancerError, match=r"the face enhancer file .*nothing\.pth \(--enhancer\) does not exist"):
        parser.enhancer_file(str(tmp_path / "mine" / "nothing.pth"), sadtalker)


def test_a_saved_motion_cannot_be_combined_with_a_reference_video_or_motion_options(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, "--load-motion", "m.safetensors", "--ref-pose", "p.mp4"))
    _assert_one_error_line(code, err, r"--load-motion uses the saved motion as it is; drop --ref-pose$")
    code, _, err = run(*_generate(inputs, checkpoints, "--load-motion", "m.npz", "--seed", "3", "--blink", "off"))
    _assert_one_error_line(code, err, r"--load-motion uses the saved motion as it is; drop --blink, --seed$")


def test_a_background_enhancer_needs_the_official_face_enhancement(inputs, checkpoints):
    code, _, err = run(*_generate(inputs, checkpoints, "--background-enhancer", "RealESRGAN_x2plus.pth"))
    _assert_one_error_line(code, err, r"--background-enhancer upscales the frames .* give --enhancer too .*drop it$")


def test_a_motion_file_of_an_unknown_kind_is_refused_before_anything_loads(inputs):
    code, _, err = run(*_generate(inputs, inputs["folder"] / "no_models_here", "--save-motion", "m.json"))
    _assert_one_error_line(code, err, r"--save-motion m\.json: a motion file ends in \.safetensors, \.npz, \.mat$")


def test_fast_precision_on_a_device_without_it_is_one_error_line(inputs, checkpoints, monkeypatch):
    monkeypatch.setattr(precision, "reduced_dtype", lambda device: None)  # a CPU without bfloat16 arithmetic
    code, _, err = run(*_generate(inputs, checkpoints, "--precision", "fast"))
    _assert_one_error_line(code, err, r"precision 'fast' needs bfloat16 or float16 arithmetic, .*use 'exact' or 'auto'")


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(False, True, "mps"), (False, False, "cpu")])
def test_device_auto_is_the_default_device_and_gpus_are_named_as_torch_names_them(monkeypatch, cuda, mps, expected):
    """Stand-in availability: no Intel GPU; an Apple GPU or none. A named mps / xpu device is taken as named."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    device, chosen = generate.device_and_precision(SimpleNamespace(device="auto", precision="auto"))
    assert device == torch.device(expected)
    assert chosen.value == ("fast" if expected == "mps" else "exact")  # auto: fast on any GPU
    for name in ("mps", "xpu", "xpu:1"):
        assert generate._device(parser._device_name(name)) == torch.device(name)


# --- landmarks and reference videos -----------------------------------------------------------


def test_crop_landmarks_reach_the_picture_and_the_reference_video(monkeypatch, inputs, checkpoints, media_dir):
    """``--crop-landmarks`` (default: the official ``detect``) is handed to the source picture's and
    the reference video's extraction."""
    class Stop(Exception):
        pass

    seen = []

    def reference(*args, **kwargs):
        seen.append(kwargs["crop_landmarks"])
        raise Stop

    monkeypatch.setattr(pipeline, "extract_face", lambda *args, **kwargs: seen.append(kwargs["crop_landmarks"]))
    monkeypatch.setattr(pipeline, "video_motion", reference)
    engine = generate.Engine(SimpleNamespace(), None)
    clip_inputs = generate.ClipInputs(None, SimpleNamespace(num_frames=2))
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"
    for extra, expected in (((), "detect"), (("--crop-landmarks", "mapped"), "mapped")):
        seen.clear()
        args = build_parser().parse_args([str(a) for a in _generate(inputs, checkpoints, "--ref-pose", video, *extra)])
        with pytest.raises(Stop):
            generate.render_clip(engine, args, clip_inputs, generate.Progress(quiet=True))
        assert seen == [expected, expected]
    with pytest.raises(SystemExit):
        build_parser().parse_args([str(a) for a in _generate(inputs, checkpoints, "--crop-landmarks", "guess")])


def test_face_order_and_face_index_reach_the_picture(monkeypatch, inputs, checkpoints):
    """``--face-order`` (default: the official ``score``) and ``--face-index`` choose the face."""
    class Stop(Exception):
        pass

    seen = []

    def extract(models, image, mode, face_index, **kwargs):
        seen.append((face_index, kwargs["face_order"]))
        raise Stop

    monkeypatch.setattr(pipeline, "extract_face", extract)
    engine = generate.Engine(SimpleNamespace(), None)
    clip_inputs = generate.ClipInputs(None, SimpleNamespace(num_frames=2))
    for extra, expected in (((), (None, "score")), (("--face-order", "largest", "--face-index", "1"), (1, "largest"))):
        seen.clear()
        args = build_parser().parse_args([str(a) for a in _generate(inputs, checkpoints, *extra)])
        with pytest.raises(Stop):
            generate.render_clip(engine, args, clip_inputs, generate.Progress(quiet=True))
        assert seen == [expected]


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


@pytest.mark.parametrize("reference_frames", ["one-to-one", "resample"])
def test_a_reference_video_is_decoded_only_as_far_as_the_clip_needs(monkeypatch, media_dir, reference_frames):
    opened = []
    real_open = av.open

    def counting_open(*args, **kwargs):
        opened.append(_CountingContainer(real_open(*args, **kwargs)))
        return opened[-1]

    monkeypatch.setattr(av, "open", counting_open)
    consumed = []
    monkeypatch.setattr(pipeline, "video_motion", lambda models, frames, *args, **kwargs: consumed.extend(frames))
    video = media_dir / "WDA_AlexandriaOcasioCortez_000.mp4"  # 8 s: 200 frames
    generate._reference_motion(None, video, "crop", 16, generate.Progress(quiet=True), "detect", reference_frames)
    assert len(consumed) == 16 and consumed[0].shape == (512, 512, 3)
    assert sum(container.decoded for container in opened) <= 17  # and the 17th, whose time ends the 16th


# --- stopping: SIGTERM / SIGHUP -----------------------------------------------------------------


def _command_line(*argv: str | Path) -> list[str]:
    return [sys.executable, "-m", "sadtalker_core", *map(str, argv)]


def _environment() -> dict[str, str]:
    """The tests' environment for a command-line subprocess: this checkout importable, one thread."""
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_the_render_stops_it_leaving_no_temporary_video(checkpoints, media_dir, tmp_path, signum):
    out = tmp_path / "out.mp4"
    (tmp_path / f".out.{2**22 + 1}.0badf00d.partial.mp4").write_bytes(b"left by a run killed outright")
    process = subprocess.Popen(_command_line("generate", "--image", media_dir / "people_0.png", "--audio",
                                             media_dir / "RD_Radio31_000.wav", "--out", out, "--checkpoints",
                                             checkpoints, "--max-seconds", "4", "--quiet"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    try:
        deadline, seen = time.monotonic() + 300, None
        while process.poll() is None and time.monotonic() < deadline:
            partial = sorted(tmp_path.glob(f".out.{process.pid}.*.partial.mp4"))
            if partial and partial == seen:  # the video's temporary file, there for a second: rendering
                break
            seen = partial or None
            time.sleep(1)
        assert seen is not None and process.poll() is None, "the render never started"
        assert not (tmp_path / f".out.{2**22 + 1}.0badf00d.partial.mp4").exists()  # the stale one went first
        process.send_signal(signum)
        _, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 128 + signum
    assert err == f"stopped by {signal.Signals(signum).name}; the unfinished video was not written\n"
    assert list(tmp_path.iterdir()) == []


# --- generate-batch -----------------------------------------------------------------------------


def _batch_args(*options: str) -> object:
    return build_parser().parse_args(["generate-batch", "clips.csv", "--checkpoints", "models", *options])


def _manifest(tmp_path: Path, text: str, name: str = "clips.csv"):
    from sadtalker_core.cli.manifest import read_manifest

    (tmp_path / name).write_text(text)
    return read_manifest(tmp_path / name)


def test_a_rows_columns_override_the_batch_options_and_are_checked_like_the_command_line(tmp_path):
    args = _batch_args("--still", "--pose-style", "5", "--max-seconds", "2", "--size", "512")
    manifest = _manifest(tmp_path, "image,audio,output,pose_style,still,input-yaw,ref_pose,blink\n"
                                   "a.png,a.wav,out/a.mp4,7,false,\"0, 30 -30\",videos/p.mp4,off\n"
                                   "b.png,b.wav,out/b.mp4,,,,,\n")
    first, second = (batch.row_arguments(args, manifest, row) for row in manifest.rows)
    assert (first.image, first.audio, first.out) == (tmp_path / "a.png", tmp_path / "a.wav", tmp_path / "out/a.mp4")
    assert (first.pose_style, first.still, first.input_yaw, first.blink) == (7, False, [0.0, 30.0, -30.0], "off")
    assert first.ref_pose == tmp_path / "videos/p.mp4"  # relative to the manifest, like the media columns
    assert (second.pose_style, second.still, second.input_yaw, second.blink) == (5, True, None, "random")
    for row_args in (first, second):
        assert (row_args.max_seconds, row_args.size, row_args.checkpoints) == (2.0, 512, Path("models"))
    assert vars(args)["pose_style"] == 5  # the batch's own options are left as they were


def test_json_rows_take_lists_numbers_and_booleans(tmp_path):
    line = {"image": "a.png", "audio": "a.wav", "output": "a.mp4", "input_pitch": [-5, 10], "seed": 3, "still": True,
            "expression_scale": 1.5}
    manifest = _manifest(tmp_path, json.dumps(line) + "\n", "clips.jsonl")
    row_args = batch.row_arguments(_batch_args(), manifest, manifest.rows[0])
    assert (row_args.input_pitch, row_args.seed, row_args.still, row_args.expression_scale) == ([-5.0, 10.0], 3, True,
                                                                                               1.5)


@pytest.mark.parametrize("column, value, message", [
    ("pose_style", "-1", "argument --pose-style/--pose_style: expected a whole number of at least 0, got '-1'"),
    ("still", "maybe", "column still: expected true or false, got 'maybe'"),
    ("preprocess", "zoom", "argument --preprocess: invalid choice: 'zoom'"),
])
def test_a_bad_value_in_a_row_is_that_rows_error(tmp_path, column, value, message):
    manifest = _manifest(tmp_path, f"image,audio,output,{column}\na.png,a.wav,a.mp4,{value}\n")
    with pytest.raises(arguments.ArgumentsError) as info:
        batch.row_arguments(_batch_args(), manifest, manifest.rows[0])
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("column, message", [
    ("size", r"the column 'size' cannot change from row to row .*give generate-batch --size instead"),
    ("pose_stlye", (r"unknown column 'pose_stlye'; a row has image or video, audio, output, and a picture row "
                    r"\(image\) any of: .*pose_style.*; a dub row \(video\) any of: .*length")),
])
def test_a_column_no_row_can_use_stops_the_batch_before_any_row(tmp_path, column, message):
    (tmp_path / "clips.csv").write_text(f"image,audio,output,{column}\na.png,a.wav,a.mp4,1\n")
    code, _, err = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", tmp_path, "--quiet")
    _assert_one_error_line(code, err, message)
    assert list(tmp_path.iterdir()) == [tmp_path / "clips.csv"]


def test_a_bad_shard_is_an_argument_error(capsys):
    err = _argument_error(capsys, ["generate-batch", "clips.csv", "--checkpoints", "m", "--shard", "2/2"])
    assert err.startswith("error: argument --shard: shard 2/2: need N >= 1 and K from 0 to N - 1")


def test_two_processes_split_a_manifest_a_bad_row_stops_nothing_and_a_rerun_skips_finished_rows(
        checkpoints, media_dir, inputs, tmp_path):
    """Shard 0/2 by --shard, shard 1/2 by torchrun's RANK / WORLD_SIZE, both at once, no coordination;
    every row 1-2 frames long (max_seconds)."""
    media = media_dir
    (tmp_path / "clips.csv").write_text(
        "image,audio,output,max_seconds,pose_style,still\n"
        f"{media}/people_0.png,{media}/RD_Radio31_000_first640ms.wav,out/a.mp4,0.08,,\n"  # line 2: shard 0
        f"{media}/art_0.png,{media}/chinese_poem1.wav,out/b.mp4,0.04,3,true\n"  # line 3: shard 1
        f"{inputs['wall']},{media}/RD_Radio31_000.wav,out/c.mp4,0.04,,\n"  # line 4: shard 0, no face
        f"{media}/people_0.png,{media}/missing.wav,out/d.mp4,0.04,,\n"  # line 5: shard 1, no audio
        f"{media}/full_body_1.png,{media}/RD_Radio31_000.wav,out/e.mp4,0.04,,\n")  # line 6: shard 0, after line 4
    command = _command_line("generate-batch", tmp_path / "clips.csv", "--checkpoints", checkpoints, "--seed", "0",
                            "--quiet")
    shards = [subprocess.Popen(command + ["--shard", "0/2"], env=_environment(), **_PIPES),
              subprocess.Popen(command, env={**_environment(), "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"},
                               **_PIPES)]
    (code_0, out_0, err_0), (code_1, out_1, err_1) = [(p.wait(timeout=900), *p.communicate()) for p in shards]
    out = tmp_path / "out"
    assert (code_0, code_1) == (2, 2)
    assert re.fullmatch(rf"{out / 'a.mp4'}: 2 frames, \d+x\d+\n{out / 'e.mp4'}: 1 frames, \d+x\d+\n", out_0), out_0
    assert re.fullmatch(rf"{out / 'b.mp4'}: 1 frames, \d+x\d+\n", out_1), out_1
    assert err_0.splitlines()[-2] == f"{tmp_path / 'clips.csv'} (shard 0/2): 3 rows, 2 rendered, 0 already complete, 1 failed"
    assert err_0.splitlines()[-1].startswith(f"  line 4 ({out / 'c.mp4'}): no face found in {inputs['wall']}")
    assert err_1.splitlines()[-2:] == [
        f"{tmp_path / 'clips.csv'} (shard 1/2): 2 rows, 1 rendered, 0 already complete, 1 failed",
        f"  line 5 ({out / 'd.mp4'}): the audio {media}/missing.wav (--audio) does not exist; check the path",
    ]
    assert sorted(path.name for path in out.iterdir()) == ["a.mp4", "b.mp4", "e.mp4"]  # nothing half-written
    assert [probe_video(out / name).frame_count for name in ("a.mp4", "b.mp4", "e.mp4")] == [2, 1, 1]
    finished = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}

    code, stdout, stderr = run("generate-batch", tmp_path / "clips.csv", "--checkpoints", checkpoints, "--quiet")
    assert code == 2
    assert stdout == "".join(f"{out / name}: already complete, skipped\n" for name in ("a.mp4", "b.mp4", "e.mp4"))
    assert stderr.splitlines()[-3] == f"{tmp_path / 'clips.csv'}: 5 rows, 0 rendered, 3 already complete, 2 failed"
    assert [line.split(":")[0] for line in stderr.splitlines()[-2:]] == ["  line 4 (" + str(out / "c.mp4") + ")",
                                                                         "  line 5 (" + str(out / "d.mp4") + ")"]
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == finished


_PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
