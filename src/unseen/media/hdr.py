"""HDR10 static metadata (mastering display, content light level): read from a decoded frame and
handed to x265, so that an HDR output tells the display how bright its source was mastered.

FFmpeg hands these over as C structs of rationals (libavutil/mastering_display_metadata.h); their
leading fields are a stable part of its API. x265 takes chromaticities in units of 1/50000 and
luminances in units of 1/10000 cd/m2.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

import av
from av.sidedata.sidedata import Type


@dataclass(frozen=True)
class HdrMetadata:
    master_display: str | None = None  # x265's master-display value
    max_cll: str | None = None  # x265's max-cll value: "MaxCLL,MaxFALL"

    def x265_params(self) -> list[str]:
        params = [f"master-display={self.master_display}"] if self.master_display else []
        return params + ([f"max-cll={self.max_cll}"] if self.max_cll else [])


def hdr_metadata(frame: av.VideoFrame) -> HdrMetadata | None:
    """The frame's HDR10 static metadata, or None if it carries none."""
    mastering = frame.side_data.get(Type.MASTERING_DISPLAY_METADATA)
    light = frame.side_data.get(Type.CONTENT_LIGHT_LEVEL)
    master_display = _master_display(bytes(mastering)) if mastering is not None else None
    max_cll = "{},{}".format(*struct.unpack_from("=2I", bytes(light))) if light is not None else None
    if master_display is None and max_cll is None:
        return None
    return HdrMetadata(master_display, max_cll)


def _master_display(raw: bytes) -> str | None:
    """x265's G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min) from AVMasteringDisplayMetadata, if complete."""
    ints = struct.unpack_from("=22i", raw)
    has_primaries, has_luminance = ints[20], ints[21]
    pairs = zip(ints[0:20:2], ints[1:20:2], strict=True)
    values = [Fraction(num, den) if den else None for num, den in pairs]
    if not (has_primaries and has_luminance) or None in values:
        return None
    chroma = [round(v * 50000) for v in values[:8]]  # r, g, b, white point: (x, y) each
    light = [round(v * 10000) for v in values[8:]]  # min, max
    (rx, ry, gx, gy, bx, by, wx, wy), (low, high) = chroma, light
    return f"G({gx},{gy})B({bx},{by})R({rx},{ry})WP({wx},{wy})L({high},{low})"
