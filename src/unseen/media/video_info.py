"""What is known about a video before it is read frame by frame: what the writer needs to reproduce it."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .hdr import HdrMetadata


@dataclass(frozen=True)
class VideoInfo:
    """What the writer needs to reproduce the video, and what progress reporting needs."""

    width: int  # of the upright frames (after rotation)
    height: int
    rotation: int  # clockwise degrees a player turns the stored picture: 0, 90, 180 or 270
    frames: int | None  # frame count, if the container states one
    fps: float  # average rate; for progress and ETA only, timing comes from each frame's pts
    duration: float | None  # seconds
    time_base: Fraction  # of the video stream; Frame.pts is counted in it
    has_audio: bool
    pix_fmt: str
    codec: str
    bit_depth: int  # bits per sample of the decoded picture, e.g. 8 or 10
    mirror: bool = False  # after turning, a player mirrors the picture left to right (selfie cameras)
    sar: Fraction = Fraction(1)  # sample (pixel) aspect ratio of the upright frames; not 1: anamorphic
    colorspace: int = 2  # FFmpeg's colour description (AVColorSpace ...); 2 is "unspecified"
    color_range: int = 0
    color_primaries: int = 2
    color_trc: int = 2
    hdr: HdrMetadata | None = None  # HDR10 mastering display and content light level
