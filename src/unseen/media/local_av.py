"""Open media with FFmpeg as local files only, never as URLs.

FFmpeg reads a name as a URL when it starts like one: a file called ``tcp:127.0.0.1:9.mp4`` or an
output folder called ``http:host`` would make it connect to that address, and ``concat:a|b``
opens other files. So names reach FFmpeg as ``file:`` plus the absolute path (FFmpeg's file
protocol takes the rest verbatim), inputs may open nothing but local files (``protocol_whitelist``,
which demuxers also pass on when they open further files, as playlists do), and only the demuxers
of the containers unseen reads may parse them (``format_whitelist``): no playlist or stream
description can pull in other files. An input must be a non-empty regular file: a FIFO or a device
named ``x.mp4`` would block the open or never end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer

from ..errors import InputError, shown

# The demuxers of the containers in containers.VIDEO_EXTENSIONS (FFmpeg matches "mov" against its
# "mov,mp4,m4a,3gp,3g2,mj2" demuxer, "matroska" against "matroska,webm"; mpegts reads .mts/.m2ts/.ts).
_DEMUXERS = "mov,matroska,avi,mpegts"
_INPUT_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": _DEMUXERS}


def check_regular_file(path: Path) -> None:
    """Raise InputError unless ``path`` is a regular file with something in it (checked before opening)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{shown(path)}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{shown(path)}: not a regular file")
    if info.st_size == 0:
        raise InputError(f"{shown(path)}: empty file")


def open_input(path: Path) -> InputContainer:
    """Open a local video file for reading; raise InputError with a one-line reason if it cannot be."""
    check_regular_file(path)
    try:
        return av.open(_file_url(path), container_options=_INPUT_OPTIONS)
    except av.error.ArgumentError as exc:  # "Format not on whitelist": some other kind of file
        raise InputError(
            f"{shown(path)}: not a video in a format unseen reads (MP4/MOV/3GP, Matroska/WebM, AVI, MPEG-TS)"
        ) from exc
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot read video: {reason(exc)}") from exc


def open_output(path: Path, muxer: str, options: dict[str, str]) -> OutputContainer:
    """Open ``path`` for writing with ``muxer``, as a local file (errors propagate to the caller)."""
    # The mp4 muxer reopens its output by name to move the index to the front (faststart).
    options = {**options, "protocol_whitelist": "file"}
    return av.open(_file_url(path), "w", format=muxer, container_options=options)


def reason(exc: BaseException) -> str:
    """What went wrong, without FFmpeg's error number and the file name that PyAV's text repeats."""
    return getattr(exc, "strerror", None) or str(exc)


def _file_url(path: Path) -> str:
    return "file:" + os.path.abspath(path)
