"""Generated text scenes with known ground truth: number plates and name badges on real photos.

A :class:`Plate` is a plate or badge of random letters and digits at a given character (cap) height,
turned, seen in perspective and blurred; :func:`render_plates` draws plates onto a background (the
photos that ship with scikit-image, see :func:`tests.scenes.background`) and keeps each one's four
corners, and :func:`plate_covered` measures the share of a plate's own pixels an output painted.

Fonts: a TrueType file when given (the benchmark uses DejaVu and Liberation where installed),
otherwise the font Pillow carries, so tests need nothing from the system.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

STYLES = {  # (plate colour, text colour, frame): a plate has a dark frame, a badge none
    "plate": ((245, 245, 240), (15, 15, 20), True),
    "yellow": ((250, 205, 20), (10, 10, 10), True),
    "badge": ((230, 235, 245), (20, 40, 110), False),
}


@dataclass(frozen=True)
class Plate:
    """One plate or badge: ``text`` drawn with capitals ``char_height`` pixels tall, centred at
    ``(cx, cy)``, turned ``angle`` degrees counter-clockwise, its right side ``tilt`` shorter (seen
    from the left), blurred with a Gaussian of ``blur`` pixels."""

    text: str
    char_height: float
    cx: float
    cy: float
    angle: float = 0.0
    tilt: float = 0.0
    blur: float = 0.0
    style: str = "plate"
    font: str | None = None


def random_text(rng: random.Random, n: int | None = None) -> str:
    """Letters and digits as plates carry them (no meaning, nothing to read)."""
    n = n or rng.randint(5, 8)
    text = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(n))
    return text[: n // 2] + " " + text[n // 2 :]


def _font(path: str | None, char_height: float) -> ImageFont.FreeTypeFont:
    """The font at the size whose capitals are ``char_height`` pixels tall."""

    def load(size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)

    _, top, _, bottom = load(100).getbbox("H")
    return load(max(4, round(char_height * 100 / (bottom - top))))


def _tile(plate: Plate) -> np.ndarray:
    """The plate face-on, as H x W x 4 RGBA."""
    back, ink, frame = STYLES[plate.style]
    font = _font(plate.font, plate.char_height)
    x0, y0, x1, y1 = font.getbbox(plate.text)
    pad = max(2, round(plate.char_height * 0.5))
    tile = Image.new("RGBA", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), (*back, 255))
    draw = ImageDraw.Draw(tile)
    if frame:
        draw.rectangle([0, 0, tile.width - 1, tile.height - 1], outline=ink, width=max(1, pad // 4))
    draw.text((pad - x0, pad - y0), plate.text, font=font, fill=ink)
    return np.array(tile)


def corners(plate: Plate, width: float, height: float) -> np.ndarray:
    """Where the tile's corners (top-left, top-right, bottom-right, bottom-left) land in the scene."""
    right = 1.0 - plate.tilt
    pts = np.array(
        [[-width / 2, -height / 2], [width / 2, -height / 2 * right], [width / 2, height / 2 * right]]
        + [[-width / 2, height / 2]],
        np.float64,
    )
    a = np.radians(plate.angle)
    turn = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # counter-clockwise on screen
    return (pts @ turn.T + [plate.cx, plate.cy]).astype(np.float32)


def render_plates(
    base: np.ndarray, plates: list[Plate], noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``base`` (H x W x 3 uint8) with the plates drawn on it, then Gaussian ``noise`` (grey levels)
    over all; and each plate's four corners in the scene."""
    out = base.copy()
    h, w = out.shape[:2]
    quads = []
    for plate in plates:
        tile = _tile(plate)
        th, tw = tile.shape[:2]
        quad = corners(plate, tw, th)
        x0, y0 = np.floor(quad.min(0)).astype(int) - 2
        x1, y1 = np.ceil(quad.max(0)).astype(int) + 2
        src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]])
        matrix = cv2.getPerspectiveTransform(src, (quad - [x0, y0]).astype(np.float32))
        patch = cv2.warpPerspective(tile, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA)
        if plate.blur:
            patch = cv2.GaussianBlur(patch, (0, 0), plate.blur)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx1 <= cx0 or cy1 <= cy0:
            quads.append(quad)
            continue
        part = patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(np.float32)
        alpha = part[..., 3:] / 255
        window = out[cy0:cy1, cx0:cx1]
        window[...] = (part[..., :3] * alpha + window * (1 - alpha)).round().astype(np.uint8)
        quads.append(quad)
    if noise:
        grain = np.random.default_rng(seed).normal(0, noise, out.shape)
        out = np.clip(out + grain, 0, 255).astype(np.uint8)
    return out, quads


def plate_covered(
    original: np.ndarray, output: np.ndarray, quad: np.ndarray, tol: int = 0, color: tuple | None = None
) -> float:
    """Share of a plate's own pixels (inside its quad, within the picture) that the output changed by
    more than ``tol``, or with ``color`` (a fill colour no plate has), that are within ``tol`` of it."""
    h, w = output.shape[:2]
    x0, y0 = np.maximum(np.floor(quad.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(quad.max(0)).astype(int), [w, h])
    if x1 <= x0 or y1 <= y0:
        return 1.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(quad - [x0, y0]).astype(np.int32)], 1)
    out = output[y0:y1, x0:x1].astype(np.int16)
    if color is not None:
        changed = (np.abs(out - np.asarray(color, np.int16)) <= tol).all(-1)
    else:
        changed = (np.abs(out - original[y0:y1, x0:x1]) > tol).any(-1)
    return float(changed[mask > 0].mean()) if mask.any() else 1.0
