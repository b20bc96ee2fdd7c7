"""How a player turns and mirrors the stored picture, read from the whole display matrix.

PyAV's ``frame.rotation`` gives only the angle of the display matrix. A mirrored picture (the
selfie camera's) has a matrix whose angle reads as a turn by 180 degrees, so turning by that angle
alone writes it upside down. The matrix is read here as one of the eight axis-aligned
orientations: a clockwise turn, then an optional left-right mirror (a top-bottom mirror is a turn
by 180 degrees and a left-right mirror).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import av
import numpy as np
from av.sidedata.sidedata import Type


@dataclass(frozen=True)
class Orientation:
    """Turn the stored picture clockwise by ``turn`` degrees, then mirror it left to right if ``mirror``."""

    turn: int = 0
    mirror: bool = False

    @property
    def swaps_axes(self) -> bool:
        return self.turn in (90, 270)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """The picture as a player shows it (``pixels`` itself when there is nothing to do)."""
        if not self.turn and not self.mirror:
            return pixels
        if self.turn:
            pixels = np.rot90(pixels, k=-self.turn // 90)  # np.rot90 turns counter-clockwise for k > 0
        if self.mirror:
            pixels = pixels[:, ::-1]
        return np.ascontiguousarray(pixels)


# Signs of the matrix's a, b, c, d (x' = a x + c y, y' = b x + d y) for each orientation, as FFmpeg's
# av_display_rotation_set and av_display_matrix_flip write them (and phones, in the same layout).
_BY_SIGNS = {
    (1, 0, 0, 1): Orientation(0),
    (0, 1, -1, 0): Orientation(90),
    (-1, 0, 0, -1): Orientation(180),
    (0, -1, 1, 0): Orientation(270),
    (-1, 0, 0, 1): Orientation(0, mirror=True),
    (0, 1, 1, 0): Orientation(90, mirror=True),
    (1, 0, 0, -1): Orientation(180, mirror=True),
    (0, -1, -1, 0): Orientation(270, mirror=True),
}


def orientation(frame: av.VideoFrame) -> Orientation | None:
    """The display orientation of a decoded frame; None if its matrix is not a multiple of 90 degrees."""
    matrix = frame.side_data.get(Type.DISPLAYMATRIX)
    if matrix is None:
        return Orientation()
    a, b, _, c, d = struct.unpack_from("=5i", bytes(matrix))  # 16.16 fixed point, row by row
    return _BY_SIGNS.get((_sign(a), _sign(b), _sign(c), _sign(d)))


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)
