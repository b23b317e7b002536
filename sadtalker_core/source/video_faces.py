"""Every frame of a video as a source face: its own crop and its own 3DMM coefficients.

The second pass over a video after :func:`~sadtalker_core.source.tracking.track_face`.  Frame t is
cut with the crop geometry of its smoothed landmarks (:meth:`FaceTrack.smoothed`) and its 3DMM
coefficients are regressed from that crop as a picture's are (:func:`~sadtalker_core.source.face.extract_source`):
the 5-point alignment uses the landmarks found on the render crop (``crop_landmarks='detect'``,
the official second detection) or the frame's detected landmarks mapped into it (``mapped``).

Where the detector found no face on the frame (a held frame), the held crop is searched once more
(the face's neighbourhood, at the render crop's scale): a face found there is rendered as any
other.  A frame with no face there either (a cut-away, a blank frame) has no crop: it is passed
through unchanged, and a warning names its time; its coefficients, which the neighbours' 27-frame
MappingNet windows and ExpNet's reference read, are held from the previous face frame.  Where the
crop detection misses a face the detector did find on the frame, the frame's own landmarks mapped
into the crop stand in (the picture path lets the mean face position stand in there, the
official fallback; a video frame has better).
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError, NoFaceError
from ..networks.recon_net import ReconNet
from .align import align_face
from .crop import CropInfo, FaceCrop, PreprocessMode, crop_face, prepare_frame
from .extract import extract_3dmm
from .face import CropLandmarks, SourceFace, check_face_size, landmarks_in_crop, landmarks_on_crop, to_rgb_uint8
from .landmarks import LandmarkDetector
from .tracking import SMOOTHING_RADIUS, FaceTrack, hold_missing


@dataclass(frozen=True, eq=False)
class VideoFaces:
    """The source face of every frame of a video (see the module docstring).

    ``crops``: each frame's crop geometry, None for a frame passed through; ``coeffs`` (N, 73)
    float32 on the CPU, each frame's own (held over the frames passed through); ``first``: the
    first frame with a face, as a picture's source face.  ``held``: frames the detector found no
    face in (crop held from the neighbours); ``passed``: those of them with no face near the held
    crop either.
    """

    crops: tuple[CropInfo | None, ...]
    coeffs: torch.Tensor
    first: SourceFace
    mode: PreprocessMode
    size: int
    fps: float
    held: tuple[int, ...]
    passed: tuple[int, ...]

    @property
    def num_frames(self) -> int:
        return len(self.crops)

    def time(self, frame: int) -> float:
        """Seconds from the start of the video to ``frame``."""
        return frame / self.fps

    def crop(self, frame: int, image: np.ndarray) -> FaceCrop | None:
        """Frame ``frame``'s render crop cut from its RGB uint8 ``image`` (which the paste-back
        modes keep as the picture to paste into); None for a frame passed through."""
        info = self.crops[frame]
        if info is None:
            return None
        full_image = image if self.mode.pastes_back else None
        return FaceCrop(prepare_frame(image, self.mode, info, self.size), self.mode, info, info.size, full_image)


def _crop_landmarks(crop: FaceCrop, detector: LandmarkDetector, detected: np.ndarray | None, how: CropLandmarks,
                    name: str) -> np.ndarray | None:
    """The landmarks that align ``crop`` for the regressor (see the module docstring); None when
    neither the frame (``detected``) nor the crop shows a face."""
    if detected is not None and how is CropLandmarks.MAPPED:
        return landmarks_in_crop(detected, crop)
    found = landmarks_on_crop(crop, detector, None, name)
    if found is None and detected is not None:
        return landmarks_in_crop(detected, crop)
    return found


def _runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive frame numbers grouped as (first, last) runs."""
    groups = itertools.groupby(enumerate(frames), key=lambda pair: pair[1] - pair[0])
    runs = []
    for _, group in groups:
        members = [frame for _, frame in group]
        runs.append((members[0], members[-1]))
    return runs


def _warn_passed(passed: tuple[int, ...], fps: float, name: str) -> None:
    for first, last in _runs(passed):
        when = (f"{first / fps:.2f} s (frame {first})" if first == last
                else f"{first / fps:.2f}-{last / fps:.2f} s (frames {first}-{last})")
        warnings.warn(f"no face at {when} of {name}: passed through unchanged", stacklevel=3)


def extract_video_faces(frames: Iterable[np.ndarray], track: FaceTrack, recon: ReconNet, detector: LandmarkDetector,
                        mode: PreprocessMode | str = PreprocessMode.FULL, size: int = 256,
                        radius: int = SMOOTHING_RADIUS, crop_landmarks: CropLandmarks | str = CropLandmarks.DETECT,
                        name: str = "the video") -> VideoFaces:
    """The source face of each of ``track``'s frames, read again from ``frames`` (the same frames,
    RGB uint8 or float 0..1; further frames are not read).  ``radius``: the track's smoothing
    (:meth:`FaceTrack.smoothed`).  A face too small to animate raises
    :class:`~sadtalker_core.errors.FaceTooSmallError` naming the frame and its time."""
    mode = PreprocessMode(mode)
    if not mode.crops_face:
        raise InputError(f"preprocess '{mode.value}' cuts no face; a video's face is followed with crop, extcrop, "
                         "full or extfull")
    how = CropLandmarks(crop_landmarks)
    smoothed = track.smoothed(radius)
    crops: list[CropInfo | None] = []
    coeffs: list[torch.Tensor | None] = []
    first: SourceFace | None = None
    for index, frame in enumerate(itertools.islice(frames, track.num_frames)):
        frame_name = f"frame {index} ({track.time(index):.2f} s) of {name}"
        crop = crop_face(to_rgb_uint8(frame, frame_name), mode, smoothed[index], size)
        check_face_size(crop, frame_name)
        detected = track.landmarks[index] if track.found[index] else None
        landmarks = _crop_landmarks(crop, detector, detected, how, frame_name)
        if landmarks is None:
            crops.append(None)
            coeffs.append(None)
            continue
        face = SourceFace(crop, landmarks, extract_3dmm(recon, align_face(crop.image, landmarks)))
        first = face if first is None else first
        crops.append(crop.info)
        coeffs.append(face.source_coeff)
    if len(crops) != track.num_frames:
        raise InputError(f"{name} gave {len(crops)} frames when read again, {track.num_frames} the first time; "
                         "the frames must be the same on every pass")
    if first is None:
        raise NoFaceError(f"no face found in any of the {track.num_frames} frames of {name}; give a video that "
                          "shows a clearly visible, roughly frontal face")
    passed = tuple(index for index, info in enumerate(crops) if info is None)
    _warn_passed(passed, track.fps, name)
    return VideoFaces(tuple(crops), torch.cat(hold_missing(coeffs)), first, mode, size, track.fps, track.held, passed)
