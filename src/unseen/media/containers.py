"""Which video containers unseen reads and writes, by file suffix: a table without PyAV, so that
finding and sorting inputs (:mod:`unseen.batch`) does not import the video stack for photos."""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError, shown

# Output extension -> FFmpeg muxer. The output keeps the input's container whenever the caller keeps
# the extension; the muxer is chosen by name so that the ".part" temporary name does not matter.
MUXERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".3gp": "3gp",
    ".3g2": "3g2",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".mts": "mpegts",  # camcorders (AVCHD)
    ".m2ts": "mpegts",
    ".ts": "mpegts",
}
MOV_FAMILY = frozenset({"mp4", "mov"})

VIDEO_EXTENSIONS: frozenset[str] = frozenset(MUXERS)
"""Lower-case file suffixes that are read and written as videos."""


def muxer_for(dst: Path) -> str:
    """The muxer for ``dst``'s extension; OutputError for an extension unseen does not write."""
    muxer = MUXERS.get(dst.suffix.lower())
    if muxer is None:
        raise OutputError(
            f"{shown(dst)}: unsupported video extension (use one of {', '.join(sorted(MUXERS))})"
        )
    return muxer
