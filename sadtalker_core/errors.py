"""The problems a user can fix, as one family of exceptions.

Every error raised because of what the user gave (a picture without a face, empty audio, a damaged
model file, an output folder that cannot be written, options that do not go together) is a
:class:`SadTalkerError` whose message says what was wrong and what to do.  Front ends (the command
line, the ComfyUI nodes) show those as one line; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class SadTalkerError(Exception):
    """A problem with the user's inputs, files or settings; the message says what to do."""


class InputError(SadTalkerError, ValueError):
    """An input (picture, audio, video, motion file) or a setting cannot be used as given."""


class SettingError(InputError):
    """Options that cannot go together, or a setting the device or this version does not support."""


class NoFaceError(InputError):
    """No face was found where one was needed, or the requested face does not exist."""


class FaceTooSmallError(InputError):
    """The face (or, in ``resize`` mode, the whole picture) is too small to animate."""


class AudioError(InputError):
    """The audio is unreadable, empty, silent or otherwise unusable."""


class MotionFileError(InputError):
    """A motion file is missing, of an unknown kind or does not hold a motion."""


class MissingPackageError(SadTalkerError, ImportError):
    """An optional package (or its data files) that the chosen feature needs is not installed."""


class VideoError(SadTalkerError, RuntimeError):
    """A video cannot be read, or cannot be written where asked."""


class CheckpointError(SadTalkerError, ValueError):
    """A model file is missing, damaged, or not the file this network needs."""


class EnhancerError(CheckpointError):
    """A face-enhancer file is missing, unreadable, or not a face restoration model."""


class DownloadError(SadTalkerError, RuntimeError):
    """A model file could not be downloaded or did not match its checksum."""


class DeviceMemoryError(SadTalkerError, RuntimeError):
    """The device has too little free memory for what was asked (how much it needs is named)."""
