"""The multi-scale cascade: one network, four views of the image, each trusted for the face sizes it
sees well.

CenterFace finds faces of roughly 12 to 300 input pixels. A single pass at native scale therefore
misses close-ups that fill the frame and faces under ~16 px, and it misses some turned or
half-hidden faces that it finds in the mirror image. So:

* ``full``   - native scale (or shrunk to ``max_pixels`` for very large photos), all sizes, run in
  overlapping strips so that memory stays flat whatever the image size;
* ``full`` (mirrored) - the same at half size, flipped left to right, kept for faces of 24 px and up:
  a second look at turned faces for a quarter of the cost;
* ``coarse`` - the image shrunk to ``coarse_side`` on its long side; kept only for large faces;
* ``fine``   - 2x upscaled windows around the full pass's small, weak candidates, kept only for
  small faces. Windows that touch are merged, so a crowd is looked at once; the rest of the image is
  never upscaled, which keeps the cascade far cheaper than a full 2x pass.

Thresholds are per size band: small faces are accepted at lower confidence because a false
positive there costs a few pixels, while a missed face costs a person.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..regions import Regions, nms
from .model import ALIGN, CenterFace, decode


@dataclass(frozen=True)
class CascadeOptions:
    """Tuning of the cascade. Face heights are in pixels of the original image."""

    small: float = 32.0  # faces under this height are "small"
    tiny: float = 16.0  # and under this, "tiny"
    threshold: float = 0.2  # confidence for faces of normal size
    small_threshold: float = 0.1  # ... for small faces
    tiny_threshold: float = 0.05  # ... for tiny faces (fine pass only)
    candidate_threshold: float = 0.03  # a full-pass blip this strong is worth a fine look
    coarse_side: int = 384  # long side of the coarse view
    coarse_min: float = 96.0  # the coarse pass keeps faces at least this tall
    max_pixels: int = 4_000_000  # the full pass shrinks larger images to this many pixels
    full_pixels: int = 600_000  # the full pass runs in strips of at most this many pixels (memory)
    full_overlap: int = 160  # faces up to this size are whole in some strip
    mirror: bool = True  # also look at the mirrored image (profiles, odd poses) ...
    mirror_scale: float = 0.5  # ... at this fraction of the full view's size
    mirror_min: float = 24.0  # ... and keep the faces at least this tall
    fine: bool = True  # run the upscaled pass on small-face candidates
    fine_scale: float = 2.0
    fine_context: float = 16.0  # the fine pass looks this far around each candidate's centre
    nms_iou: float = 0.4

    def scaled(self, sensitivity: float) -> CascadeOptions:
        """Thresholds divided by ``sensitivity``: above 1 finds more (and more false) faces."""
        return replace(
            self,
            threshold=self.threshold / sensitivity,
            small_threshold=self.small_threshold / sensitivity,
            tiny_threshold=self.tiny_threshold / sensitivity,
            candidate_threshold=self.candidate_threshold / sensitivity,
        )


PHOTO_CASCADE = CascadeOptions()
# Video skips the mirrored and the upscaled passes: neighbouring frames already give the detector many
# looks at each face, and the time is better spent on detecting often enough to follow them. Its
# coarse view is finer than a photo's: a hard face that only one scale finds is then found frame
# after frame (measured: larger faces exposed in some frames with the photo's coarser view).
VIDEO_CASCADE = CascadeOptions(mirror=False, fine=False, coarse_side=640, coarse_min=64.0, full_overlap=96)


Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in view pixels


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _band(regions: Regions, lo: float, hi: float, threshold: float) -> np.ndarray:
    h = regions.heights
    return (h >= lo) & (h < hi) & (regions.scores >= threshold)


def _strips(height: int, width: int, max_pixels: int, overlap: int) -> list[Rect]:
    """The fewest strips across the long side, each under ``max_pixels``, overlapping by ``overlap``.

    Strips (not a square grid) keep the extra pixels of the overlaps small: a 1080p frame becomes two
    halves, 8 % more pixels than one pass, at about half the peak memory.
    """
    long_side, short_side = max(height, width), min(height, width)
    n = max(1, int(np.ceil(height * width / max_pixels)))
    while n > 1 and (long_side + (n - 1) * overlap) / n * short_side > max_pixels:
        n += 1
    span = int(np.ceil((long_side + (n - 1) * overlap) / n))
    starts = np.linspace(0, long_side - span, n).round().astype(int) if n > 1 else [0]
    if width >= height:
        return [(int(s), 0, int(s) + span, height) for s in starts]
    return [(0, int(s), width, int(s) + span) for s in starts]


class Cascade:
    """Detect faces of every size in one RGB image with a shared CenterFace model."""

    def __init__(self, model: CenterFace, options: CascadeOptions | None = None) -> None:
        self.model = model
        self.options = options or CascadeOptions()

    def __call__(self, rgb: np.ndarray) -> Regions:
        o = self.options
        h, w = rgb.shape[:2]
        base = min(1.0, (o.max_pixels / (h * w)) ** 0.5)
        view = _resize(rgb, base)
        vh, vw = view.shape[:2]
        rects = _strips(vh, vw, o.full_pixels, o.full_overlap)
        floor = min(o.candidate_threshold, o.small_threshold)
        raw = self._run(view, rects, 1.0, floor, "full", base)
        if o.mirror:
            flipped = _resize(np.ascontiguousarray(view[:, ::-1]), o.mirror_scale)
            fh, fw = flipped.shape[:2]
            mrects = _strips(fh, fw, o.full_pixels, o.full_overlap)
            mirrored = self._run(flipped, mrects, 1.0, floor, "full", base * o.mirror_scale)
            mirrored.boxes[:, [0, 2]] = vw / base - mirrored.boxes[:, [2, 0]]
            raw = Regions.concat([raw, mirrored[mirrored.heights >= o.mirror_min]])
        parts = [raw[_band(raw, o.small, np.inf, o.threshold) | _band(raw, 0, o.small, o.small_threshold)]]

        coarse = o.coarse_side / max(h, w)
        if coarse < 0.75 * base:
            small_view = _resize(rgb, coarse)
            sh, sw = small_view.shape[:2]
            big = self._run(small_view, [(0, 0, sw, sh)], 1.0, o.threshold, "coarse", coarse)
            parts.append(big[big.heights >= o.coarse_min])

        candidates = raw[_band(raw, 0, o.small, o.candidate_threshold)]
        if o.fine and len(candidates):
            fine = self._run(
                view,
                self._fine_windows(candidates, base, vh, vw),
                o.fine_scale,
                o.tiny_threshold,
                "fine",
                base,
            )
            parts.append(
                fine[
                    _band(fine, 0, o.tiny, o.tiny_threshold) | _band(fine, o.tiny, o.small, o.small_threshold)
                ]
            )

        return nms(Regions.concat(parts), o.nms_iou)

    def _fine_windows(self, candidates: Regions, base: float, vh: int, vw: int) -> list[Rect]:
        """Windows around the candidates, merged where they touch and split where they grow large."""
        o = self.options
        g = 8  # windows snap to this grid of view pixels
        half = o.fine_context * base
        centres = (candidates.boxes[:, :2] + candidates.boxes[:, 2:]) / 2 * base
        grid = np.zeros((-(-vh // g), -(-vw // g)), np.uint8)
        for cx, cy in centres:
            grid[
                max(int((cy - half) // g), 0) : int(np.ceil((cy + half) / g)),
                max(int((cx - half) // g), 0) : int(np.ceil((cx + half) / g)),
            ] = 1
        _, _, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
        limit = int(o.full_pixels / o.fine_scale**2)  # upscaled, a window is no larger than a strip
        windows = []
        for x, y, w, h, _ in stats[1:]:
            x0, y0 = x * g, y * g
            x1, y1 = min((x + w) * g, vw), min((y + h) * g, vh)
            for sx0, sy0, sx1, sy1 in _strips(y1 - y0, x1 - x0, limit, int(2 * half)):
                windows.append((x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1))
        return windows

    def _run(
        self, view: np.ndarray, rects: list[Rect], scale: float, threshold: float, source: str, base: float
    ) -> Regions:
        """Run the model on ``rects`` of ``view`` scaled by ``scale``; boxes back in original pixels."""
        found = []
        for x0, y0, x1, y1 in rects:
            crop = _resize(view[y0:y1, x0:x1], scale)
            ch, cw = crop.shape[:2]
            canvas = np.zeros((1, -(-ch // ALIGN) * ALIGN, -(-cw // ALIGN) * ALIGN, 3), np.uint8)
            canvas[0, :ch, :cw] = crop
            r = decode(self.model.run(canvas)[0], threshold, source, (ch, cw))
            shift = np.array([x0, y0, x0, y0], np.float32)
            found.append(Regions(r.boxes / (scale * base) + shift / base, r.scores, r.source))
        return Regions.concat(found)
