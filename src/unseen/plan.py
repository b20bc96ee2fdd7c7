"""Turn face detections into the regions to paint.

A CenterFace box covers roughly brow-to-chin and ear-to-ear. Hair, ears, forehead and head shape
also help recognise a person, so the painted region is the detection grown to the whole head:
``margin`` on every side plus ``head_top`` more upwards, never smaller than ``min_size`` pixels,
clipped to the image.

With the defaults the ellipse inscribed in the planned box still contains the whole detection box
(its corners sit at about 0.96 of the ellipse radius), so ``shape="ellipse"`` never uncovers a
detected face. See :func:`unseen.obscure.obscure`.

Text regions (``kind`` text) are boxes around whole text lines already grown by the detector's own
unclip margin; they grow by ``text_margin`` of their shorter side (the line's height, upright or
turned) on every side (a plate's frame, a badge's edge), never upwards and never by their length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .regions import Regions, kinds


@dataclass(frozen=True)
class PlanOptions:
    """How far to grow each detection box.

    ``margin``: every side grows by this fraction of the box size (width for x, height for y).
    ``head_top``: the top grows by this further fraction of the box height (forehead, hair).
    ``min_size``: a planned box is never narrower or shorter than this many pixels (before clipping).
    ``text_margin``: a text region's every side grows by this fraction of its shorter side.
    """

    margin: float = 0.25
    head_top: float = 0.15
    min_size: float = 4.0
    text_margin: float = 0.5

    def __post_init__(self) -> None:
        for name in ("margin", "head_top", "min_size", "text_margin"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"PlanOptions.{name} must be a finite number >= 0, got {value!r}")


def plan_regions(regions: Regions, shape: tuple[int, ...], options: PlanOptions = PlanOptions()) -> Regions:
    """Grow detection boxes to cover the whole head and clip them to the image.

    ``shape`` is the image's ``(height, width)``; a longer shape such as ``pixels.shape`` works too.
    Returns new :class:`Regions` with the same scores, source, frame and track; boxes that lie
    entirely outside the image (even after growing) are dropped. Boxes with swapped corners are
    normalised. Non-finite boxes raise ``ValueError``: nothing can be painted for them, and dropping
    them silently could leave a face unprotected.
    """
    height, width = float(shape[0]), float(shape[1])
    if len(regions) == 0:
        return regions[np.zeros(0, np.intp)]
    b = regions.boxes.astype(np.float64)
    if not np.isfinite(b).all():
        raise ValueError("plan_regions: region boxes must be finite")
    x1 = np.minimum(b[:, 0], b[:, 2])
    x2 = np.maximum(b[:, 0], b[:, 2])
    y1 = np.minimum(b[:, 1], b[:, 3])
    y2 = np.maximum(b[:, 1], b[:, 3])
    w = x2 - x1
    h = y2 - y1

    text = kinds(regions) == "text"
    line = options.text_margin * np.minimum(w, h)  # a turned line's height is its box's width
    grow_w = np.where(text, line, options.margin * w)
    grow_h = np.where(text, line, options.margin * h)
    x1 = x1 - grow_w
    x2 = x2 + grow_w
    y1 = y1 - grow_h - np.where(text, 0.0, options.head_top * h)
    y2 = y2 + grow_h

    # Enforce the minimum size symmetrically about the centre.
    grow_x = np.maximum(options.min_size - (x2 - x1), 0.0) / 2
    grow_y = np.maximum(options.min_size - (y2 - y1), 0.0) / 2
    x1, x2 = x1 - grow_x, x2 + grow_x
    y1, y2 = y1 - grow_y, y2 + grow_y

    x1 = np.clip(x1, 0.0, width)
    x2 = np.clip(x2, 0.0, width)
    y1 = np.clip(y1, 0.0, height)
    y2 = np.clip(y2, 0.0, height)
    keep = (x2 > x1) & (y2 > y1)

    out = regions[keep]
    out.boxes = np.stack([x1[keep], y1[keep], x2[keep], y2[keep]], axis=1).astype(np.float32)
    return out
