"""What a run gives back: an anonymised image, and the report of one file (plain values).

The regions file, the records and the summary are built from these; the pipelines fill them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .regions import Regions

if TYPE_CHECKING:  # types only: importing the video module would bring PyAV into every photo run
    from .media.video import VideoInfo, VideoWriteResult


@dataclass
class Result:
    """An anonymised image and the faces found in it (boxes as detected, before growing)."""

    image: np.ndarray
    regions: Regions


@dataclass
class FileReport:
    """What happened to one input file; the regions file and the summary are built from these."""

    src: Path
    dst: Path
    kind: str  # "image" or "video"
    width: int
    height: int
    regions: Regions
    seconds: float
    frames: int = 1
    tracks: int = 0
    notices: list[str] = field(default_factory=list)
    audio: bool = False  # a video output that carries the source's audio (voices can identify people)
    faces: int = 0  # what a person would count: confident faces, a video's track fragments joined
    candidates: int = 0  # the weaker detections, painted all the same (see unseen.count)
    texts: int = 0  # text regions (plates, badges, signs: ``Options.text``); never counted as faces

    @classmethod
    def of_video(
        cls,
        src: Path,
        dst: Path,
        info: VideoInfo,
        regions: Regions,
        start: float,
        written: VideoWriteResult,
        **counts: int,
    ) -> FileReport:
        """The report of a video written as ``written`` says, begun at ``start`` (perf_counter);
        ``counts``: ``tracks``, ``faces``, ``candidates``, ``texts``."""
        seconds = time.perf_counter() - start
        report = cls(src, dst, "video", info.width, info.height, regions, seconds, written.frames, **counts)
        report.notices, report.audio = list(written.notices), written.audio
        return report
