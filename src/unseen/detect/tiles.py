"""Where the network looks: overlapping tiles that cover an image, and turning a tile's boxes back.

The network runs on tiles, not on the whole picture, so that its memory stays flat whatever the
photo's size (a 100 MP photo is as cheap per tile as a 1 MP one). Neighbouring tiles overlap, so a
face no taller or wider than the overlap is whole in at least one of them.
"""

from __future__ import annotations

import math

import numpy as np

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in view pixels


def _span(length: int, n: int, overlap: int) -> int:
    """The side of each of ``n`` tiles over ``length`` pixels that overlap by ``overlap``."""
    return length if n == 1 else math.ceil((length + (n - 1) * overlap) / n)


def _aligned(side: int, length: int, align: int) -> int:
    return min(-(-side // align) * align, length)


def tiles(height: int, width: int, max_pixels: int, overlap: int, align: int = 1) -> list[Rect]:
    """The grid of tiles, each at most ``max_pixels``, overlapping by ``overlap``, with fewest pixels.

    Every grid from one tile per row up to tiles about ``2 * overlap`` wide is weighed, so a wide
    frame becomes strips and a large photo a grid, whichever makes the network see fewer pixels.
    The network pads its input to multiples of ``align``, so tile sides are rounded up to those
    where the image allows: the padding then holds picture instead of zeros (and the overlap grows).
    Raises ``ValueError`` when no tile of ``max_pixels`` can be twice the overlap.
    """
    if height <= 0 or width <= 0:
        return []
    if height * width <= max_pixels:
        return [(0, 0, width, height)]
    if max_pixels < (2 * overlap) ** 2:
        raise ValueError(f"tiles of {max_pixels} pixels cannot overlap by {overlap}")
    best: tuple[int, int, int] | None = None
    for nx in range(1, max(1, math.ceil(width / overlap)) + 1):
        tw = _span(width, nx, overlap)
        if nx > 1 and tw < 2 * overlap:
            break
        for ny in range(1, max(1, math.ceil(height / overlap)) + 1):
            th = _span(height, ny, overlap)
            if ny > 1 and th < 2 * overlap:
                break
            if tw * th <= max_pixels:
                cost = nx * ny * (-(-tw // align) * align) * (-(-th // align) * align)
                if best is None or cost < best[0]:
                    best = (cost, nx, ny)
                break  # more rows only repeat more pixels
    if best is None:  # only when both sides are short of two overlaps: one row or column of tiles
        raise ValueError(f"no grid of {max_pixels}-pixel tiles covers {width} x {height}")
    _, nx, ny = best
    tw = _aligned(_span(width, nx, overlap), width, align)
    th = _aligned(_span(height, ny, overlap), height, align)
    xs = np.linspace(0, width - tw, nx).round().astype(int) if nx > 1 else np.zeros(1, int)
    ys = np.linspace(0, height - th, ny).round().astype(int) if ny > 1 else np.zeros(1, int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def unturn(boxes: np.ndarray, turn: int, height: int, width: int) -> np.ndarray:
    """Boxes found in ``np.rot90(crop, turn)`` mapped back onto ``crop`` (``height`` x ``width``).

    ``np.rot90`` turns counter-clockwise: a point (x, y) of an H x W picture lands at (y, W - x) of the
    W x H turned one. So each quarter turn is undone by (x, y) = (h - y', x'), h the turned height.
    """
    out = np.asarray(boxes, np.float32).reshape(-1, 4)
    turn %= 4
    h, w = (width, height) if turn % 2 else (height, width)  # the turned crop's size
    for _ in range(turn):
        x0, y0, x1, y1 = out.T
        out = np.stack([h - y1, x0, h - y0, x1], axis=1)
        h, w = w, h
    return out
