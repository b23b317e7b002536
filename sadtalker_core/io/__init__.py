"""Files in and out, apart from the stages: media, atomic writes, downloads.

* :mod:`.video_reader`: ``probe_video``, ``iter_frames`` (a video on a fixed 25 fps timeline),
  ``resample_indices`` -- reference videos for the source stage, clips for training;
* :mod:`.audio`: ``AudioTrack``, ``read_audio`` -- a media file's audio stream;
* :mod:`.video_writer`: ``VideoWriter``, ``check_writable`` -- the output video, H.264 + AAC;
* :mod:`.atomic`: ``AtomicFile``, ``write_atomically`` -- every file written whole or not at all;
* :mod:`.download`: the resumable, checksum-verified downloader of the official files.

Nothing is imported here, so that the light modules (atomic writes, downloads) do not pull in PyAV.
"""
