"""The importable API: everything the CLI does, as plain functions over arrays and paths.

decode -> detect -> plan regions -> obscure -> encode (metadata-free). Library code raises
``UnseenError`` subclasses with one-line messages naming the file; it never prints or exits.

A facade: photos are :mod:`unseen.photo_pipeline`, videos :mod:`unseen.video_file` (over the
stages of :mod:`unseen.video_pipeline`), the detectors :mod:`unseen.detectors`, outputs from a
regions file :mod:`unseen.render`; the values they share are :mod:`unseen.options` and
:mod:`unseen.report`.
"""

from __future__ import annotations

from .detectors import check_text, detect, detect_text, detector, keyframe_detector, with_text
from .options import Options
from .photo_pipeline import anonymise, anonymise_file
from .render import render
from .report import FileReport, Result
from .video_file import anonymise_video_file, video_tracker

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
