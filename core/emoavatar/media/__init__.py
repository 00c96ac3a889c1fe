"""Audio, image and video I/O (PyAV, OpenCV). Errors are :class:`~emoavatar.errors.MediaError`."""

from .audio import decode_audio, probe_duration, resample, write_wav
from .image import read_image, write_image
from .video import VideoWriter, read_video, video_info

__all__ = ["decode_audio", "probe_duration", "resample", "write_wav", "read_image", "write_image",
           "VideoWriter", "read_video", "video_info"]
