"""Post stage: rendered face frames -> the video's frames.

Entries: :func:`load_face_enhancer` / :class:`FaceEnhancer` (face restoration of the face crops,
the path the command line and the nodes take), :class:`FaceRestorer` (restoration of whole frames
as the official ``--enhancer`` does it; :func:`load_face_restorer`, :class:`EnhanceMode`) with
:func:`load_background_upsampler`,
:func:`restore_aspect` (a render back to the crop's aspect) and :func:`paste_frames` (paste-back
into the whole picture).  The pipeline's ``enhance_frames`` / ``paste_back`` / ``clip_frames``
run them.
"""
from .enhance import FaceEnhancer, load_face_enhancer
from .face_restore import (
    OFFICIAL_UPSCALE,
    EnhanceMode,
    FaceRestorer,
    RestorerNetworks,
    load_face_restorer,
    load_restorer_networks,
    restorer_files,
)
from .paste import PasteMethod, paste_frames, restore_aspect
from .upsample import BackgroundUpsampler, load_background_upsampler

__all__ = [
    "load_face_enhancer", "load_face_restorer", "load_restorer_networks", "restorer_files", "load_background_upsampler",
    "restore_aspect", "paste_frames", "FaceEnhancer", "RestorerNetworks", "FaceRestorer", "EnhanceMode", "OFFICIAL_UPSCALE", "BackgroundUpsampler", "PasteMethod",
]
