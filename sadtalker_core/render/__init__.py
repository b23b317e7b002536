"""Render stage: the source face's picture + a motion -> face frames (MappingNet, keypoint
transformation, face-vid2vid's generator), streamed batch by batch, as the official
``AnimateFromCoeff.generate`` / ``make_animation``.

Entries: :func:`coefficient_windows` and :func:`source_image_tensor` (the renderer's inputs, as
``get_facerender_data``), :func:`render_frames` (the frames) with :func:`auto_batch_size` (the frames per step that fit), :func:`frames_to_uint8`, and
:func:`load_face_render_models` with :class:`GeneratorSettings` (how the generator computes);
with a source per frame (dubbing): :func:`video_windows`, :func:`source_images` and
:func:`render_video_batch`.  The pipeline's ``render_face_frames`` and the dub run them with the
loaded models.
"""
from .batch_size import auto_batch_size
from .frames import FaceRenderModels, frames_to_uint8, load_face_render_models, load_render_generator, render_frames
from .generator_settings import EXACT, FAST, GeneratorSettings
from .inputs import CoeffWindows, coefficient_windows, read_source_image, source_image_tensor
from .video_source import VideoWindows, render_video_batch, source_images, video_windows

__all__ = [
    "coefficient_windows", "source_image_tensor", "auto_batch_size", "read_source_image", "render_frames", "frames_to_uint8",
    "load_face_render_models", "load_render_generator", "video_windows", "source_images", "render_video_batch",
    "CoeffWindows", "VideoWindows", "FaceRenderModels", "GeneratorSettings", "EXACT", "FAST",
]
