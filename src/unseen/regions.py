"""The one value that flows through the pipeline: face regions as numpy arrays.

Every stage (detect, track, plan, obscure, the regions file) speaks ``Regions``, so a stage can be
swapped or tested on its own. Boxes are ``x1, y1, x2, y2`` in pixels of the *oriented* image (after
EXIF rotation), floats, exclusive on the right/bottom edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA = "unseen.regions/2"  # of the regions file (see unseen.regions_file)


def _f32(a: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).reshape(shape)


def _per_region(values: Any, n: int, dtype: Any, default: Any) -> np.ndarray:
    """One value per region: an array of length n, a scalar repeated, or (if empty) the default."""
    values = np.asarray(values, dtype=dtype).reshape(-1)
    if values.size == 0:
        return np.full(n, default, dtype)
    return np.broadcast_to(values, (n,)).copy() if values.size == 1 else values


@dataclass
class Regions:
    """Face regions of one image, or of many frames of one video.

    ``source`` names what produced each region: a detector pass (``full``, ``coarse``, ``fine``...)
    or, in video, ``interpolated`` / ``extended`` for regions the tracker added. ``frame`` is the
    frame index (0 for photos); ``track`` the track id (-1 until tracking links it).
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, "U16"))
    frame: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __post_init__(self) -> None:
        n = len(self.boxes)
        self.boxes = _f32(self.boxes, (n, 4))
        self.scores = _f32(self.scores, (n,))
        self.source = _per_region(self.source, n, "U16", "")
        self.frame = _per_region(self.frame, n, np.int32, 0)
        self.track = _per_region(self.track, n, np.int32, -1)
        if not (len(self.scores) == len(self.source) == n):
            raise ValueError("Regions arrays must have the same length")

    @classmethod
    def from_boxes(
        cls, boxes: Any, scores: Any = None, source: str = "manual", frame: int = 0, track: int = -1
    ) -> Regions:
        """Build regions from an (N, 4) array of boxes with one source, frame and track."""
        boxes = _f32(boxes, (-1, 4))
        n = len(boxes)
        scores = np.ones(n, np.float32) if scores is None else scores
        return cls(
            boxes, scores, np.full(n, source, "U16"), np.full(n, frame, np.int32), np.full(n, track, np.int32)
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: Any) -> Regions:
        """Select regions with a boolean mask, an index array or a slice."""
        return Regions(
            self.boxes[index], self.scores[index], self.source[index], self.frame[index], self.track[index]
        )

    @staticmethod
    def concat(parts: list[Regions]) -> Regions:
        """Join several region sets into one (e.g. the passes of the detection cascade)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Regions()
        return Regions(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.source for p in parts]),
            np.concatenate([p.frame for p in parts]),
            np.concatenate([p.track for p in parts]),
        )

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready list of regions (the ``regions`` array of the regions file)."""
        return [
            {
                "box": [round(float(v), 1) for v in b],
                "score": round(float(s), 4),
                "source": str(src),
                "frame": int(f),
                "track": int(t),
            }
            for b, s, src, f, t in zip(
                self.boxes, self.scores, self.source, self.frame, self.track, strict=True
            )
        ]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> Regions:
        """Inverse of :meth:`to_records`; missing frame/track default to 0/-1."""
        if not records:
            return cls()
        return cls(
            np.array([r["box"] for r in records], np.float32),
            np.array([r.get("score", 1.0) for r in records], np.float32),
            np.array([r.get("source", "manual") for r in records], "U16"),
            np.array([r.get("frame", 0) for r in records], np.int32),
            np.array([r.get("track", -1) for r in records], np.int32),
        )


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection-over-union of two (N, 4) and (M, 4) box arrays."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def nms(regions: Regions, iou: float = 0.3) -> Regions:
    """Greedy non-maximum suppression that keeps coverage: the best-scoring box of each overlapping
    group survives, grown to the union of the boxes it suppresses (they are views of one face, and a
    false positive costs a patch while a too-small patch costs a face)."""
    if len(regions) < 2:
        return regions
    order = np.argsort(-regions.scores, kind="stable")
    boxes = regions.boxes[order]
    overlaps = iou_matrix(boxes, boxes) > iou
    alive = np.ones(len(order), bool)
    merged = boxes.copy()
    for i in range(len(order)):
        if alive[i]:
            group = np.flatnonzero(overlaps[i, i + 1 :] & alive[i + 1 :]) + i + 1
            alive[group] = False
            if len(group):
                merged[i, :2] = np.minimum(boxes[i, :2], boxes[group, :2].min(0))
                merged[i, 2:] = np.maximum(boxes[i, 2:], boxes[group, 2:].max(0))
    kept = regions[order[alive]]
    kept.boxes = merged[alive]
    return kept
