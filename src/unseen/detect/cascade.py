"""The multi-scale cascade: one network, three views of the image, each trusted for the face sizes it
sees well.

CenterFace finds faces of roughly 12 to 300 input pixels. A single pass at native scale therefore
misses close-ups that fill the frame and faces under ~16 px. So:

* ``coarse`` - the image shrunk to ``coarse_side`` on its long side; kept only for large faces;
* ``full``   - native scale (or shrunk to ``max_pixels`` for very large photos); all sizes;
* ``fine``   - 2x upscaled *tiles*, run only where the full pass saw small, weak candidates, and
  kept only for small faces. Tiles with no candidate are never upscaled, which is what keeps the
  cascade cheaper than a full 2x pass.

Thresholds are per size band: small faces are accepted at lower confidence because a false
positive there costs a few pixels, while a missed face costs a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..regions import Regions, nms
from .model import ALIGN, CenterFace, decode


@dataclass(frozen=True)
class CascadeOptions:
    """Tuning of the cascade. Sizes are face heights in pixels of the original image."""

    small: float = 32.0  # faces under this height are "small"
    tiny: float = 16.0  # and under this, "tiny"
    threshold: float = 0.2  # confidence for faces of normal size
    small_threshold: float = 0.1  # ... for small faces
    tiny_threshold: float = 0.05  # ... for tiny faces (fine pass only)
    candidate_threshold: float = 0.03  # a full-pass blip this strong makes its tile worth a fine pass
    coarse_side: int = 640  # long side of the coarse view
    coarse_min: float = 64.0  # coarse pass keeps faces at least this tall
    max_pixels: int = 4_000_000  # the full pass shrinks larger images to this many pixels
    fine_scale: float = 2.0
    tile: int = 192  # fine-pass tile side, in full-pass pixels
    nms_iou: float = 0.4

    def scaled(self, sensitivity: float) -> CascadeOptions:
        """Thresholds multiplied by ``1 / sensitivity``: >1 finds more (and more false) faces."""
        k = 1.0 / sensitivity
        return CascadeOptions(
            **{
                **self.__dict__,
                "threshold": self.threshold * k,
                "small_threshold": self.small_threshold * k,
                "tiny_threshold": self.tiny_threshold * k,
                "candidate_threshold": self.candidate_threshold * k,
            }
        )


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _rescale(regions: Regions, scale: float, dx: float = 0.0, dy: float = 0.0) -> Regions:
    boxes = regions.boxes / scale + np.array([dx, dy, dx, dy], np.float32)
    return Regions(boxes, regions.scores, regions.source, regions.frame, regions.track)


def _band(regions: Regions, lo: float, hi: float, threshold: float) -> np.ndarray:
    h = regions.heights
    return (h >= lo) & (h < hi) & (regions.scores >= threshold)


class Cascade:
    """Detect faces of every size in one RGB image with a shared CenterFace model."""

    def __init__(self, model: CenterFace, options: CascadeOptions | None = None) -> None:
        self.model = model
        self.options = options or CascadeOptions()

    def __call__(self, rgb: np.ndarray) -> Regions:
        o = self.options
        h, w = rgb.shape[:2]
        parts: list[Regions] = []

        base = min(1.0, (o.max_pixels / (h * w)) ** 0.5)
        full_view = _resize(rgb, base)
        raw = _rescale(
            self.model.detect(full_view, min(o.candidate_threshold, o.small_threshold), "full"), base
        )
        keep = _band(raw, o.small, np.inf, o.threshold) | _band(raw, 0, o.small, o.small_threshold)
        parts.append(raw[keep])

        coarse = o.coarse_side / max(h, w)
        if coarse < 0.75 * base:
            big = _rescale(self.model.detect(_resize(rgb, coarse), o.threshold, "coarse"), coarse)
            parts.append(big[big.heights >= o.coarse_min])

        candidates = raw[_band(raw, 0, o.small, o.candidate_threshold)]
        if len(candidates):
            parts.append(self._fine(full_view, _rescale(candidates, 1 / base), base))

        return nms(Regions.concat(parts), o.nms_iou)

    def _fine(self, view: np.ndarray, candidates: Regions, base: float) -> Regions:
        """Upscale the tiles of ``view`` that hold candidates; keep only small faces found there."""
        o = self.options
        vh, vw = view.shape[:2]
        t = o.tile
        centres = (candidates.boxes[:, :2] + candidates.boxes[:, 2:]) / 2
        cells = {(int(cy // t), int(cx // t)) for cx, cy in centres}
        pad = int(o.small * base)  # context so faces on a tile edge are whole in some tile
        side = int(np.ceil((t + 2 * pad) * o.fine_scale / ALIGN) * ALIGN)
        crops, origins = [], []
        for r, c in sorted(cells):
            x0, y0 = max(c * t - pad, 0), max(r * t - pad, 0)
            crop = view[y0 : min((r + 1) * t + pad, vh), x0 : min((c + 1) * t + pad, vw)]
            up = _resize(crop, o.fine_scale)
            canvas = np.zeros((side, side, 3), np.uint8)
            canvas[: up.shape[0], : up.shape[1]] = up
            crops.append(canvas)
            origins.append((x0, y0, up.shape[0], up.shape[1]))
        found = []
        for start in range(0, len(crops), 8):
            maps = self.model.run(np.stack(crops[start : start + 8]))
            for m, (x0, y0, uh, uw) in zip(maps, origins[start : start + 8], strict=True):
                r = decode(m, o.tiny_threshold, "fine", (uh, uw))
                found.append(_rescale(r, o.fine_scale * base, x0 / base, y0 / base))
        fine = Regions.concat(found)
        keep = _band(fine, 0, o.tiny, o.tiny_threshold) | _band(fine, o.tiny, o.small, o.small_threshold)
        return fine[keep]
