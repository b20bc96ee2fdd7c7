"""The importable API: everything the CLI does, as plain functions over arrays and paths.

decode -> detect -> plan regions -> obscure -> encode (metadata-free). Library code raises
``UnseenError`` subclasses with one-line messages naming the file; it never prints or exits.

A facade: photos are :mod:`unseen.photo_pipeline`, videos :mod:`unseen.video_file` (over the
stages of :mod:`unseen.video_pipeline`), the detectors :mod:`unseen.detectors`, outputs from a
regions file :mod:`unseen.render`; the values they share are :mod:`unseen.options` and
:mod:`unseen.report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .detectors import check_text, detect, detect_text, detector, keyframe_detector, with_text
from .options import Options
from .photo_pipeline import anonymise, anonymise_file
from .render import render
from .report import FileReport, Result

if TYPE_CHECKING:
    from .video_file import anonymise_video_file, video_tracker

_VIDEO = frozenset({"anonymise_video_file", "video_tracker"})

__all__ = [
    "FileReport",
    "Options",
    "Result",
    "anonymise",
    "anonymise_file",
    "anonymise_video_file",
    "check_text",
    "detect",
    "detect_text",
    "detector",
    "keyframe_detector",
    "render",
    "video_tracker",
    "with_text",
]


def __getattr__(name: str) -> Any:
    """The video entry points, imported on first use: they bring PyAV and the tracker, which a run
    over photos never needs (about 50 ms of a one-photo run's start-up)."""
    if name in _VIDEO:
        from . import video_file

        return getattr(video_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
