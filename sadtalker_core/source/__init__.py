"""Source stage: a picture (or a video's frames) -> the face to animate, :class:`SourceFace` (its
render crop and 73-d 3DMM coefficients), as the official ``CropAndExtract.generate``.

Entries: :func:`extract_source` (one picture), :func:`extract_sequence` (a video's frames, the crop
fixed by the first), :func:`track_face` + :func:`extract_video_faces` (every frame of a video as
its own source face, for dubbing), :func:`read_image` / :func:`to_rgb_uint8` (pictures as the stage
takes them) and :func:`load_detector` (the face detector, the one factory).  The pipeline's
``extract_face`` / ``extract_frames`` and the dub run them with the loaded models.
"""
from .crop import FaceCrop, PreprocessMode
from .detectors import DetectorChoice, find_detector_files, load_detector
from .face import CropLandmarks, SourceFace, extract_sequence, extract_source, read_image, to_rgb_uint8
from .landmarks import FaceOrder, LandmarkDetector
from .tracking import FaceTrack, track_face
from .video_faces import VideoFaces, extract_video_faces

__all__ = [
    "extract_source", "extract_sequence", "track_face", "extract_video_faces", "read_image", "to_rgb_uint8",
    "load_detector", "find_detector_files",
    "SourceFace", "FaceCrop", "FaceTrack", "VideoFaces", "PreprocessMode", "CropLandmarks", "FaceOrder",
    "LandmarkDetector", "DetectorChoice",
]
