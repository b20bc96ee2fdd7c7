"""A second look at weak candidates: is a box the detector barely saw still face-like when seen anew?

The cascade scores a candidate in the views it happened to fall in (a tile, a scale). A real face
that the network scores low there often scores higher once it is looked at on its own, at another
size, or mirrored; a pattern that only happened to look like a face mostly does not. So each box is
cut out with some context, scaled so that the face is :data:`SIZES` pixels tall, upright and
mirrored, and the network's face-centre heat near the box's centre is taken in each; the candidate's
re-check score is the mean of those looks. Review ranks its suggestions by it.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..regions import Regions
from .model import ALIGN, STRIDE, CenterFace

SIZES = (24, 48, 96)  # face heights (pixels) of the looks: where the network is at its most sure
CONTEXT = 2.0  # each look spans this many face heights around the box's centre, each way


def recheck(model: CenterFace, image: np.ndarray, candidates: Regions) -> np.ndarray:
    """The mean face-centre heat of each candidate's looks (0 to 1), in the order of ``candidates``."""
    return np.array([np.mean(_looks(model, image, box)) for box in candidates.boxes], np.float32).reshape(-1)


def _looks(model: CenterFace, image: np.ndarray, box: np.ndarray) -> list[float]:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, face = (x0 + x1) / 2, (y0 + y1) / 2, max(y1 - y0, 4.0)
    left, top = int(max(cx - CONTEXT * face, 0)), int(max(cy - CONTEXT * face, 0))
    right, bottom = int(min(cx + CONTEXT * face, width)), int(min(cy + CONTEXT * face, height))
    crop = image[top:bottom, left:right]
    if crop.size == 0:
        return [0.0]
    heats = []
    for size in SIZES:
        scale = size / face
        w, h = max(round((right - left) * scale), 8), max(round((bottom - top) * scale), 8)
        shrink = scale < 1
        seen = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        canvas = np.zeros((2, -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN, 3), np.uint8)
        canvas[0, :h, :w], canvas[1, :h, :w] = seen, seen[:, ::-1]
        # the face's centre in heatmap cells, and how far from it a face of this size may peak
        gx, gy, reach = (cx - left) * scale / STRIDE, (cy - top) * scale / STRIDE, max(size / 16, 1.5)
        for maps, x in zip(model.run(canvas), (gx, w / STRIDE - gx), strict=True):
            rows = slice(max(int(gy - reach), 0), int(gy + reach) + 1)
            cols = slice(max(int(x - reach), 0), int(x + reach) + 1)
            near = maps.heat[rows, cols]
            heats.append(float(near.max()) if near.size else 0.0)
    return heats
