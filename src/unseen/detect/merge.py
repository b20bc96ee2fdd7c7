"""Merging the views' detections in memory that grows with the number of boxes, not its square.

A 48 MP crowd photo gives tens of thousands of candidate boxes over its views; a full pairwise
overlap matrix of them would need gigabytes. Two boxes can only overlap by ``iou`` when each is
at most ``1 / iou`` times as wide as the other (the intersection is no wider than the narrower
box, the union no smaller than the wider one's area), so each box is compared only with boxes
whose left edge lies within that reach of its own: a window over the boxes sorted by left edge.
"""

from __future__ import annotations

import numpy as np

from ..regions import Regions, iou_matrix


class _Sweep:
    """Boxes sorted by left edge, to find those that may overlap a given box."""

    def __init__(self, boxes: np.ndarray, iou: float) -> None:
        self.boxes = boxes
        self.order = np.argsort(boxes[:, 0], kind="stable")
        self.left = boxes[self.order, 0]
        self.reach = 1.0 / max(iou, 1e-6)

    def near(self, box: np.ndarray) -> np.ndarray:
        """Indices of the boxes whose left edge is within reach of ``box``'s."""
        width = box[2] - box[0]
        lo = np.searchsorted(self.left, box[0] - width * self.reach, side="left")
        hi = np.searchsorted(self.left, box[2], side="left")
        return self.order[lo:hi]


def nms(regions: Regions, iou: float) -> Regions:
    """Greedy non-maximum suppression, the same as :func:`unseen.regions.nms`: the best-scoring box of
    each overlapping group survives, grown to the union of the boxes it suppresses."""
    if len(regions) < 2:
        return regions
    order = np.argsort(-regions.scores, kind="stable")
    boxes = regions.boxes[order]
    sweep = _Sweep(boxes, iou)
    alive = np.ones(len(boxes), bool)
    merged = boxes.copy()
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        near = sweep.near(boxes[i])
        near = near[(near > i) & alive[near]]
        if not len(near):
            continue
        group = near[iou_matrix(boxes[i : i + 1], boxes[near])[0] > iou]
        if len(group):
            alive[group] = False
            merged[i, :2] = np.minimum(boxes[i, :2], boxes[group, :2].min(0))
            merged[i, 2:] = np.maximum(boxes[i, 2:], boxes[group, 2:].max(0))
    kept = regions[order[alive]]
    kept.boxes = merged[alive]
    return kept


def overlapping(boxes: np.ndarray, others: np.ndarray, iou: float) -> np.ndarray:
    """For each of ``boxes``, whether it overlaps any of ``others`` by more than ``iou``."""
    out = np.zeros(len(boxes), bool)
    if not len(boxes) or not len(others):
        return out
    sweep = _Sweep(others, iou)
    for i, box in enumerate(boxes):
        near = sweep.near(box)
        out[i] = len(near) > 0 and bool((iou_matrix(box[None], others[near])[0] > iou).any())
    return out
