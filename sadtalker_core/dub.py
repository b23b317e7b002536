"""Dub a talking video with new speech: the same video, every frame of it, with the mouth following the speech.

    video frames --track_face--> FaceTrack --extract_video_faces--> VideoFaces (each frame's crop + own 3DMM)
    speech + video length --frame_indices (LengthPolicy)--> the video frame each output frame shows
    VideoFaces + speech --dub_expression--> ExpNet's expression of every output frame
    --render_dub--> output frames: the shown frame's crop animated from its own coefficients to the
                    new expression (render.video_source), pasted back into that frame with its box

The motion stage is the picture path's (:func:`~sadtalker_core.pipeline.make_expression`) with the
first face frame as the source and the video itself as the official ``--ref_eyeblink`` reference:
ExpNet's β0 of each output frame is the shown frame's own expression (its blinks included), the
blink ratio zero.  The head pose, translation and crop values are the video's own, so the renderer
moves only the expression; everything outside the pasted box is the input frame's, exactly.

Frames are read three times (detection, 3DMM, render) and never held: the first two passes
iterate them, the render indexes them in output order (a list or array of frames in memory, or
:class:`StreamedFrames` decoding a file again when ping-pong plays it backward).  What is kept per
video frame is its landmarks, crop geometry and 73 coefficients, about a kilobyte.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import numpy as np
import torch

from .errors import InputError, SettingError
from .io.video_reader import iter_frames
from .models import SadTalkerModels
from .motion import AudioFeatures, Motion, make_expression, motion_from_coeffs, split_motion
from .motion.audio import DEFAULT_AUDIO
from .motion.frame_rate import check_fps, frame_count, retime
from .motion.length import LengthPolicy, frame_indices, length_policy
from .motion.sequences import COEFF_DIM, EXP_DIM
from .pipeline import enhance_batches, on_cpu
from .post.enhance import FaceEnhancer
from .post.paste import Frames, PasteMethod, paste_frames, restore_aspect
from .render import auto_batch_size
from .render.frames import frames_to_uint8
from .render.video_source import VideoBatchRenderer, render_video_batch, source_images, video_windows
from .source.crop import FaceCrop, PreprocessMode
from .source.face import CropLandmarks, to_rgb_uint8
from .source.landmarks import FaceOrder, LandmarkDetector
from .source.tracking import SMOOTHING_RADIUS, track_face
from .source.video_faces import VideoFaces, extract_video_faces


@dataclass(frozen=True)
class DubOptions:
    """How a video is dubbed.

    ``length``: what happens when the speech is longer than the video (:mod:`~sadtalker_core.motion.length`);
    ``mode``: ``full`` (the face quad, as pictures) or ``extfull`` (the wider crop) pasted back;
    ``smoothing_radius``: frames on each side in the crop's moving average (:mod:`~sadtalker_core.source.tracking`);
    ``face_index``: the face to follow, chosen on the first frame with a face, counted in ``face_order``
    (the most confident first, as official, or the largest); ``batch_size``: frames decoded and rendered
    at a time (0: as many as fit the device's memory, :func:`~sadtalker_core.render.auto_batch_size`).
    """

    length: LengthPolicy = LengthPolicy.PINGPONG
    mode: PreprocessMode = PreprocessMode.FULL
    paste: PasteMethod = PasteMethod.FEATHER
    expression_scale: float = 1.0
    batch_size: int = 0
    smoothing_radius: int = SMOOTHING_RADIUS
    crop_landmarks: CropLandmarks = CropLandmarks.DETECT
    face_index: int | None = None
    face_order: FaceOrder = FaceOrder.SCORE
    enhancer_strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", length_policy(self.length))
        object.__setattr__(self, "mode", PreprocessMode(self.mode))
        object.__setattr__(self, "paste", PasteMethod(self.paste))
        object.__setattr__(self, "crop_landmarks", CropLandmarks(self.crop_landmarks))
        object.__setattr__(self, "face_order", FaceOrder(self.face_order))
        if not self.mode.pastes_back:
            raise SettingError(f"a dub pastes the face back into every frame: use preprocess 'full' or 'extfull', "
                               f"not '{self.mode.value}'")
        if self.batch_size < 0:
            raise SettingError(f"batch_size must be >= 1 (or 0: as many as fit the device's memory), "
                               f"got {self.batch_size}")
        if self.smoothing_radius < 0:
            raise SettingError(f"smoothing_radius must be >= 0 frames, got {self.smoothing_radius}")


class VideoFrames(Protocol):
    """A video's RGB frames (uint8, or float in 0..1), iterable from the start as often as needed
    and indexable: a list or array of frames, or :class:`StreamedFrames`."""

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


class StreamedFrames:
    """A video decoded afresh whenever needed, as :class:`VideoFrames`, without holding it.

    ``open_frames`` starts a new decode (e.g. ``lambda: iter_frames(path)``).  Iterating decodes
    once from the start; indexing decodes forward to the frame asked for and keeps the last
    ``cache`` frames, so frames asked for in order (or a little back) cost one decode, and a frame
    further back starts the decode over: ping-pong's backward run restarts once per ``cache``
    frames, i.e. ~N² / (2 · cache) frame decodes for N frames played backward.
    """

    def __init__(self, open_frames: Callable[[], Iterable[np.ndarray]], cache: int = 25):
        if cache < 1:
            raise ValueError(f"cache must hold at least one frame, got {cache}")
        self._open = open_frames
        self._cache: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self._capacity = cache
        self._decoder: Iterator[np.ndarray] | None = None
        self._next = 0  # index of the frame the decoder gives next
        self.restarts = 0  # decodes started by indexing (tests, benchmarks)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._open())

    def __getitem__(self, index: int) -> np.ndarray:
        if index < 0:
            raise IndexError(f"frame index must be >= 0, got {index}")
        if index in self._cache:
            return self._cache[index]
        if self._decoder is None or index < self._next:
            self._decoder, self._next = iter(self._open()), 0
            self._cache.clear()
            self.restarts += 1
        for frame in self._decoder:
            self._cache[self._next] = frame
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
            self._next += 1
            if self._next > index:
                return frame
        raise IndexError(f"frame {index} asked for, but the video has {self._next} frames")


def streamed_video(source: str | os.PathLike | BinaryIO, cache: int = 25) -> StreamedFrames:
    """The video at ``source`` (a file name, or a file object such as ComfyUI's VIDEO gives) as
    :class:`StreamedFrames`; a file object's bytes are read once, and each decode has its own view
    of them."""
    if hasattr(source, "read"):
        source.seek(0)
        data = source.read()
        return StreamedFrames(lambda: iter_frames(io.BytesIO(data)), cache)
    return StreamedFrames(lambda: iter_frames(source), cache)


def video_rate(fps: float, name: object) -> int:
    """The whole frame rate a dub of a video at ``fps`` is written at (29.97 -> 30: its frames are
    taken one to one, as the motion's are); ``name`` names the video in the error."""
    if fps <= 0:
        raise InputError(f"{name}: the video states no frame rate; re-encode it with a constant frame rate")
    return max(1, round(fps))


def speech_frames(audio: AudioFeatures, fps: int) -> int:
    """Output frames the speech lasts at ``fps``: ``round(duration × fps)``."""
    return frame_count(audio.num_frames / audio.fps, fps)


def first_frames(audio: AudioFeatures, count: int) -> AudioFeatures:
    """The first ``count`` (motion-rate) frames of ``audio``: samples, spectrogram and windows cut
    alike, so each frame keeps the window it has in the whole speech."""
    if not 1 <= count <= audio.num_frames:
        raise ValueError(f"count must be 1..{audio.num_frames}, got {count}")
    if count == audio.num_frames:
        return audio
    samples = round(count * audio.sample_rate / audio.fps)
    return dataclasses.replace(audio, wav=audio.wav[:samples], mel=audio.mel[:1 + samples // DEFAULT_AUDIO.hop_size],
                               frame_mels=audio.frame_mels[:count])


def analyse_video(models: SadTalkerModels, frames: VideoFrames, max_frames: int, options: DubOptions = DubOptions(),
                  detector: LandmarkDetector | None = None, fps: int = 25, name: str = "the video") -> VideoFaces:
    """The source face of each of the first ``max_frames`` frames (no output frame shows a later
    one): :func:`track_face`, then :func:`extract_video_faces` at the models' render size."""
    detector = detector or models.detector
    track = track_face(itertools.islice(frames, max_frames), detector, options.face_index, fps, name,
                       options.face_order)
    return extract_video_faces(frames, track, models.recon, detector, options.mode, models.size,
                               options.smoothing_radius, options.crop_landmarks, name)


def dub_expression(models: SadTalkerModels, faces: VideoFaces, audio: AudioFeatures, indices: Sequence[int],
                   fps: int = 25, expression_scale: float = 1.0) -> torch.Tensor:
    """ExpNet's expression (len(indices), 64) of every output frame at ``fps``, ``indices[t]`` the
    video frame output frame t shows.

    ExpNet runs at the speech's rate (25 fps) on the speech that the output lasts; its β0 at each
    of those frames is the own expression of the video frame shown at that time (the official
    ``--ref_eyeblink`` with the video as its own reference), its source the first face frame.  The
    expression is then retimed to ``fps`` (:func:`~sadtalker_core.motion.frame_rate.retime`) and
    scaled by ``expression_scale`` (:meth:`~sadtalker_core.motion.sequences.ExpressionSequence.scaled`).
    """
    frames = len(indices)
    duration = frames / fps
    motion_frames = min(frame_count(duration, audio.fps), audio.num_frames)
    shown = [indices[min(round(j * fps / audio.fps), frames - 1)] for j in range(motion_frames)]
    own = faces.coeffs[shown]
    speech = first_frames(audio, motion_frames)
    expression = make_expression(models.motion.expnet, speech.mel_batch(models.device), faces.first.source_coeff,
                                 reference=motion_from_coeffs(own), fps=speech.fps).expression.cpu()
    motion = Motion(expression, own[:, EXP_DIM:COEFF_DIM].to(expression), audio.fps)
    return split_motion(retime(motion, fps, duration))[0].scaled(expression_scale).expression


def _paste(face: Frames, crop: FaceCrop, method: PasteMethod) -> Frames:
    """``face`` (the render at the crop's aspect, on the render's device) pasted into the frame the
    crop was cut from (:func:`~sadtalker_core.post.paste.paste_frames`: feather on that device)."""
    return next(paste_frames([face], crop, method))


def render_dub(models: SadTalkerModels, frames: VideoFrames, faces: VideoFaces, indices: Sequence[int],
               expression: torch.Tensor, options: DubOptions = DubOptions(), enhancer: FaceEnhancer | None = None,
               renderer: VideoBatchRenderer = render_video_batch) -> Iterator[np.ndarray]:
    """Output frames, RGB uint8 at the video's size, one by one: output frame t is video frame
    ``indices[t]`` with its face rendered to ``expression[t]`` (:mod:`~sadtalker_core.render.video_source`),
    restored to the crop's aspect, enhanced when an ``enhancer`` is given (as for pictures, one
    face at a time: their sizes differ) and pasted back with the frame's own box, all on the
    render's device (the frame goes there, the finished frame comes back, once); a frame with no
    face comes out as it went in."""
    render = models.render_models(faces.mode)
    step = options.batch_size or auto_batch_size(models.size, models.generator_settings.precision, models.device)
    windows = video_windows(faces.coeffs[list(indices)], expression, render.mapping.coeff_nc)
    for start in range(0, len(indices), step):
        chunk = range(start, min(start + step, len(indices)))
        images = [to_rgb_uint8(frames[indices[t]], f"frame {indices[t]} of the video") for t in chunk]
        crops = [faces.crop(indices[t], image) for t, image in zip(chunk, images)]
        with_face = [i for i, crop in enumerate(crops) if crop is not None]
        rendered: dict[int, np.ndarray] = {}
        if with_face:
            index = torch.tensor([chunk[i] for i in with_face])
            batch = renderer(render, source_images([crops[i].image for i in with_face], faces.size),
                             *windows.windows(index))
            for i, face in zip(with_face, frames_to_uint8(batch)):
                face = restore_aspect(face, crops[i].original_size)
                if enhancer is not None:
                    face = next(enhance_batches([face[None]], enhancer, options.enhancer_strength))[0]
                rendered[i] = face
        for i, (image, crop) in enumerate(zip(images, crops)):
            yield image if crop is None else on_cpu(_paste(rendered[i], crop, options.paste))


@dataclass(frozen=True)
class DubbedVideo:
    """What :func:`dub_frames` made: ``frames`` (rendered as they are taken), ``num_frames`` of them
    at ``fps``; ``indices`` the video frame each shows; ``faces`` the video's analysis (its
    ``held`` and ``passed`` frames); ``wav`` the speech cut to the output's duration (float32
    mono at ``sample_rate``)."""

    frames: Iterator[np.ndarray]
    num_frames: int
    fps: int
    indices: tuple[int, ...]
    faces: VideoFaces
    wav: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def dub_frames(models: SadTalkerModels, frames: VideoFrames, audio: AudioFeatures, options: DubOptions = DubOptions(),
               fps: int = 25, detector: LandmarkDetector | None = None, enhancer: FaceEnhancer | None = None,
               name: str = "the video", renderer: VideoBatchRenderer = render_video_batch) -> DubbedVideo:
    """Dub ``frames`` (the video at ``fps``) with the speech ``audio``: the analysis and the motion
    are computed here, the frames when the result's ``frames`` are taken (see the module docstring).

    ``detector``: the landmark backend (the models' default when None); ``enhancer``: face
    restoration of the rendered faces; ``renderer``: renders a batch of per-frame sources (default
    :func:`~sadtalker_core.render.video_source.render_video_batch`).  Errors name ``name``.
    """
    fps = check_fps(fps)
    wanted = speech_frames(audio, fps)
    faces = analyse_video(models, frames, wanted, options, detector, fps, name)
    indices = frame_indices(faces.num_frames, wanted, options.length)
    expression = dub_expression(models, faces, audio, indices, fps, options.expression_scale)
    samples = round(len(indices) * audio.sample_rate / fps)
    return DubbedVideo(render_dub(models, frames, faces, indices, expression, options, enhancer, renderer),
                       len(indices), fps, tuple(indices), faces, audio.wav[:samples], audio.sample_rate)
