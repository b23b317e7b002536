"""The whole SadTalker path as a few functions over the stages' entries, with the loaded models
(used by the CLI, the nodes, the conformance goldens and tests).

    picture --extract_face--> SourceFace --motion.make_motion(audio)--> Motion
                                          (= make_expression + make_pose, combine_motion)
            --render_face_batches--> face crops (uint8, streamed) --clip_frames--> output frames
              (padded to even sides, pasted back, enhanced)  --generate--> mp4 with the audio

Every step streams: frames are rendered a batch at a time and handed on at once (enhancer,
paste-back, video writer), so memory does not grow with the length of the audio.  The rendered
frames stay on the render's device through the aspect resize, the crop enhancer, the paste-back
and the padding to even sides (:mod:`sadtalker_core.post.paste`, in torch); they come to the CPU
once, as the finished uint8 pictures (the seamless clone, OpenCV's, takes them there first).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import VIDEO_FPS
from .errors import InputError
from .io.frame_size import face_frame_size, pad_to_even, without_padding
from .models import SadTalkerModels
from .motion import AudioFeatures, Motion, MotionOptions, make_motion, motion_from_coeffs, retime
from .motion.frame_rate import check_fps
from .post import FaceEnhancer, FaceRestorer, PasteMethod, paste_frames, restore_aspect
from .post.paste import Frames
from .render import auto_batch_size, coefficient_windows, frames_to_uint8, render_frames, source_image_tensor
from .source import CropLandmarks, FaceCrop, FaceOrder, PreprocessMode, SourceFace, extract_sequence, extract_source


@dataclass(frozen=True)
class RenderOptions:
    """How a motion is rendered and composed (what is rendered, expression scale and free-view
    keyframes included, is the motion's: :mod:`sadtalker_core.motion.sequences`)."""

    still: bool = False  # keep the source's head pose (the official --still)
    #: frames per render step: MappingNet and the keypoints run on them together, and they are handed
    #: on together; the generator takes them in calls of GeneratorSettings.frames_per_call (the whole
    #: step on a GPU, one frame at a time on the CPU, where larger calls gain no speed); 0: the largest
    #: step that fits the device's free memory (:func:`~sadtalker_core.render.batch_size.auto_batch_size`)
    batch_size: int = 0
    paste: PasteMethod = PasteMethod.FEATHER
    enhancer_strength: float = 1.0
    #: frame rate of the video: the motion (25 fps, one frame per 40 ms of speech) is retimed to it
    #: before the render (:func:`timed_motion`); 25 renders the motion's own frames
    fps: int = VIDEO_FPS

    def __post_init__(self) -> None:
        object.__setattr__(self, "paste", PasteMethod(self.paste))
        object.__setattr__(self, "fps", check_fps(self.fps))
        if self.batch_size < 0:
            raise InputError(f"batch_size must be >= 1 (or 0: as many as fit the device's memory), "
                             f"got {self.batch_size}")


def extract_face(models: SadTalkerModels, image: np.ndarray, mode: PreprocessMode | str = "crop",
                 face_index: int | None = None, name: str = "the image",
                 crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT,
                 face_order: FaceOrder | str = FaceOrder.SCORE) -> SourceFace:
    """The face to animate in a picture (RGB, uint8 or float in 0..1), found by the models'
    detector, cropped for their render size (:func:`~sadtalker_core.source.face.extract_source`);
    of several faces, ``face_index`` counts in ``face_order``.  Errors name ``name``."""
    return extract_source(image, models.recon, mode, models.size, models.detector, face_index=face_index, name=name,
                          crop_landmarks=crop_landmarks, face_order=face_order)


def extract_frames(models: SadTalkerModels, frames: Iterable[np.ndarray], mode: PreprocessMode | str = "crop",
                   face_index: int | None = None, on_frame: Callable[[int], None] | None = None,
                   name: str = "the video",
                   crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT,
                   face_order: FaceOrder | str = FaceOrder.SCORE) -> tuple[SourceFace, Motion]:
    """The face of the first frame and the 3DMM motion of every frame (expression + pose) of a
    picture sequence: one picture, or a video at 25 fps (:func:`~sadtalker_core.io.video_reader.iter_frames`),
    e.g. a reference video for blinks or head pose.  Frames are RGB (uint8, or float in 0..1).
    ``crop_landmarks``: see :func:`~sadtalker_core.source.face.extract_sequence`; ``face_index`` counts in
    ``face_order``.  Errors name ``name``."""
    first: SourceFace | None = None
    coeffs = []
    for index, face in enumerate(extract_sequence(frames, models.recon, models.detector, mode, models.size, face_index,
                                                  name=name, crop_landmarks=crop_landmarks,
                                                  face_order=face_order)):
        first = face if first is None else first
        coeffs.append(face.source_coeff)
        if on_frame is not None:
            on_frame(index + 1)
    if first is None:
        raise InputError(f"{name} has no frames")
    return first, motion_from_coeffs(torch.cat(coeffs))


def video_motion(models: SadTalkerModels, frames: Iterable[np.ndarray], mode: PreprocessMode | str = "crop",
                 on_frame: Callable[[int], None] | None = None, name: str = "the reference video",
                 crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT) -> Motion:
    """The 3DMM motion of a video (expression + pose per frame), e.g. a reference video for
    blinks or head pose (:func:`extract_frames`).  Errors name ``name``."""
    return extract_frames(models, frames, mode, on_frame=on_frame, name=name, crop_landmarks=crop_landmarks)[1]


def timed_motion(motion: Motion, options: RenderOptions = RenderOptions()) -> Motion:
    """``motion`` at the video's frame rate ``options.fps``, lasting as long as before
    (:func:`~sadtalker_core.motion.frame_rate.retime`: ``round(duration × fps)`` frames; blinks and
    free-view keyframes keep their times); at the motion's own rate it is ``motion`` itself."""
    return retime(motion, options.fps)


def render_face_batches(models: SadTalkerModels, source: SourceFace, motion: Motion,
                        options: RenderOptions = RenderOptions()) -> Iterator[torch.Tensor]:
    """Rendered face frames, RGB uint8 on the render's device, resized to the crop's aspect
    (official video frames), ``options.batch_size`` at a time (0: as many as fit the device's
    memory): one (n, h, w, 3) tensor per batch; the motion's free-view keyframes replace the head
    angles."""
    render = models.render_models(source.crop.mode)
    windows = coefficient_windows(source.source_coeff, motion.coeff_70(), render.mapping.coeff_nc, options.still)
    image = source_image_tensor(source.crop.image, source.size)
    view = motion.free_view.per_frame(motion.num_frames)
    batch_size = options.batch_size or auto_batch_size(models.size, models.generator_settings.precision,
                                                       models.device)
    for batch in render_frames(render, image, windows, batch_size, view):
        yield restore_aspect(frames_to_uint8(batch), source.crop.original_size)


def render_face_frames(models: SadTalkerModels, source: SourceFace, motion: Motion,
                       options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """:func:`render_face_batches` as (n, h, w, 3) uint8 numpy arrays (the Render node's frames)."""
    return (batch.cpu().numpy() for batch in render_face_batches(models, source, motion, options))


def enhance_frames(frames: torch.Tensor, enhancer: FaceEnhancer, strength: float = 1.0,
                   fidelity: float = 0.5) -> torch.Tensor:
    """Face restoration of a batch of video frames: (n, H, W, 3) float RGB in 0..1 -> the same
    layout, float32 on the CPU (the network runs on its own device).

    The ``crop`` enhancement (:class:`~sadtalker_core.post.EnhanceMode`), of the CLI
    (:func:`clip_frames`) and of the Face enhance node: on the face frames as they go to the video,
    i.e. after the resize to the crop's aspect and the padding to even sides, as 8-bit pictures,
    before paste-back.  Why there and not on the float render
    before the resize: the restorer resizes every frame to its own 512 x 512 input and back anyway,
    so the earlier place saves nothing but one near-identity resize (the crop's aspect is close to
    square) and one 8-bit rounding, both far below what the restorer changes; in exchange the
    enhancer is a stage on ordinary pictures, as in the official code (GFPGANer runs on the 8-bit
    video frames after the aspect resize), so the node graph can place it where it likes and both
    paths give the same frames.
    """
    return _enhance_on_device(frames, enhancer, strength, fidelity).float().cpu()


def _enhance_on_device(frames: torch.Tensor, enhancer: FaceEnhancer, strength: float,
                       fidelity: float) -> torch.Tensor:
    """:func:`enhance_frames` left on the enhancer's device, in its dtype."""
    device = next(enhancer.model.parameters()).device
    crops = frames.to(device).permute(0, 3, 1, 2).contiguous()
    return enhancer.enhance(crops, strength, fidelity).permute(0, 2, 3, 1)


def paste_back(frames: Iterable[Frames], crop: FaceCrop,
               method: PasteMethod | str = PasteMethod.FEATHER) -> Iterator[Frames]:
    """Face frames (at the crop's aspect, or padded from it to even sides) pasted back into
    ``crop.full_image``, one by one, padded to even sides for the video encoders: uint8 numpy
    arrays, or tensors on any device, which the feather blend gives back on that device (the
    seamless clone gives numpy arrays)."""
    def exact_size(frame: Frames) -> Frames:
        return without_padding(frame, face_frame_size(frame.shape[1], crop.original_size))

    return (pad_to_even(frame) for frame in paste_frames(map(exact_size, frames), crop, method))


def on_cpu(frames: Frames) -> np.ndarray:
    """uint8 frames as a numpy array: a tensor's one trip to the CPU."""
    return frames.cpu().numpy() if isinstance(frames, torch.Tensor) else frames


def compose_frames(batches: Iterable[Frames], source: SourceFace,
                   options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """Output frames one by one, as numpy arrays: the face frames themselves, or (``full`` /
    ``extfull``) pasted back into the original picture (:func:`paste_back`) on the batches'
    device, each finished picture then brought to the CPU."""
    if source.crop.mode.pastes_back:
        frames = (frame for batch in batches for frame in batch)
        return map(on_cpu, paste_back(frames, source.crop, options.paste))
    return (frame for batch in batches for frame in on_cpu(batch))


#: what makes the face frames of a clip: :func:`render_face_batches`'s signature; its output may
#: also be numpy arrays (:func:`render_face_frames`)
FaceFrameRenderer = Callable[[SadTalkerModels, SourceFace, Motion, RenderOptions], Iterable[Frames]]


def enhance_batches(batches: Iterable[Frames], enhancer: FaceEnhancer, strength: float = 1.0) -> Iterator[Frames]:
    """:func:`enhance_frames` of (n, H, W, 3) uint8 frame batches, as uint8 again (rounded as the
    nodes round an IMAGE to 8 bits): numpy arrays for numpy arrays, tensors on the enhancer's
    device for tensors."""
    for batch in batches:
        restored = _enhance_on_device(torch.as_tensor(batch).float().div_(255.0), enhancer, strength, 0.5)
        uint8 = (restored.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        yield on_cpu(uint8) if isinstance(batch, np.ndarray) else uint8


#: a face enhancement of :func:`clip_frames`: a :class:`FaceRestorer` (``official``: the finished
#: frames, upscaled) or a :class:`FaceEnhancer` (``crop``: the face crops before paste-back)
Enhancement = FaceEnhancer | FaceRestorer


def clip_frames(models: SadTalkerModels, source: SourceFace, motion: Motion,
                options: RenderOptions = RenderOptions(), enhancer: Enhancement | None = None,
                renderer: FaceFrameRenderer = render_face_batches) -> Iterator[np.ndarray]:
    """The video frames of a clip, RGB uint8, one by one, as :func:`generate` writes them and as the
    node chain Render -> Paste back -> Face enhance makes them: face frames padded to even sides,
    composed (:func:`compose_frames`), then restored by a :class:`FaceRestorer` (the official
    order, frames ``enhancer.upscale`` times larger).  A :class:`FaceEnhancer` instead restores the
    face frames before they are composed (:func:`enhance_batches`, the ``crop`` mode)."""
    batches = (pad_to_even(batch) for batch in renderer(models, source, motion, options))
    if isinstance(enhancer, FaceEnhancer):
        batches = enhance_batches(batches, enhancer, options.enhancer_strength)
    frames = compose_frames(batches, source, options)
    if isinstance(enhancer, FaceRestorer):
        return enhancer.restore_frames(frames)
    return frames


@dataclass(frozen=True)
class Clip:
    """What :func:`generate` produced."""

    path: Path
    num_frames: int
    size: tuple[int, int]  # (width, height) of the video frames


def generate(models: SadTalkerModels, source: SourceFace, audio: AudioFeatures, out_path: str | os.PathLike,
             motion: Motion | None = None, motion_options: MotionOptions = MotionOptions(),
             render_options: RenderOptions = RenderOptions(), enhancer: Enhancement | None = None,
             on_frame: Callable[[int, int], None] | None = None,
             renderer: FaceFrameRenderer = render_face_batches) -> Clip:
    """Render ``source`` talking with ``audio`` to an mp4 at ``out_path`` (H.264 + AAC, at
    ``render_options.fps``, 25 by default).

    ``motion`` defaults to :func:`~sadtalker_core.motion.make_motion` of the audio with
    ``motion_options``; it is retimed to the video's frame rate (:func:`timed_motion`), the video
    has one frame per retimed motion frame, and the audio is cut or padded with silence to that length.  ``on_frame(done, total)``
    is called after each frame (progress bars).  ``renderer`` makes the face frames (default
    :func:`render_face_batches`; any function of the same signature, e.g. one reading frames
    rendered elsewhere); the frames written are :func:`clip_frames`.  An unwritable ``out_path``
    fails before any work; the file appears only when complete.
    """
    from .io.audio import AudioTrack
    from .io.video_writer import VideoWriter, check_writable

    out_path = Path(out_path)
    check_writable(out_path)
    motion = motion or make_motion(models.motion, audio.mel_batch(models.device), source.source_coeff,
                                   motion_options, fps=audio.fps)
    motion = timed_motion(motion, render_options)
    total = motion.num_frames
    track = AudioTrack(audio.wav, audio.sample_rate)
    size = (0, 0)
    with VideoWriter(out_path, fps=motion.fps, audio=track) as writer:
        frames = clip_frames(models, source, motion, render_options, enhancer, renderer)
        for done, frame in enumerate(frames, start=1):
            writer.write(frame)
            size = (frame.shape[1], frame.shape[0])
            if on_frame is not None:
                on_frame(done, total)
    return Clip(out_path, total, size)
