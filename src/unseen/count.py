"""What a person would count: faces, and the weaker candidates that are painted all the same.

Detection is tuned to miss nothing, so it accepts weak, small blips (a false positive costs a patch,
a miss costs a person) and, in video, finds one face as several track fragments when the detector
loses it for a while. Neither is a person. A *face* is a detection at or above the cascade's normal
confidence (whatever its size: small faces are painted from a lower score, but those weak ones are
mostly texture), or in video a track seen on two keyframes (not only weakly) or once confidently,
with fragments that continue each other (one ends, the next starts where it was heading) counted
once. Everything else painted is a *candidate*. Boxes that mostly overlap a counted one are views
of the same face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .regions import Regions

SAME_FACE = 0.5  # two boxes sharing this much of the smaller one's area are one face
SIZE_RATIO = 3.0  # ... when neither is this many times larger than the other (a face, not a crowd)


def _overlaps(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection of ``box`` with each of ``others``, over the smaller box's area."""
    w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    smaller = np.minimum((box[2] - box[0]) * (box[3] - box[1]), areas)
    return np.where((w > 0) & (h > 0), w * h / np.maximum(smaller, 1e-6), 0.0)


def same_face(boxes: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Which of ``boxes`` are another view of one of ``faces`` (the fine pass's box over the eyes,
    a second detector's box): sharing :data:`SAME_FACE` of the smaller box's area with it, at a
    size (larger side) within :data:`SIZE_RATIO` of it. A neighbour's face beside it is not."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    views = np.zeros(len(boxes), bool)
    for face in np.asarray(faces, np.float64).reshape(-1, 4):
        ratio = sizes / _size(face)
        views |= (_overlaps(face, boxes) >= SAME_FACE) & (ratio > 1 / SIZE_RATIO) & (ratio < SIZE_RATIO)
    return views


def photo_counts(regions: Regions, confident: float) -> tuple[int, int]:
    """(faces, candidates) among one photo's detections; ``confident`` is the score of a face."""
    counted = np.empty((len(regions), 4), np.float64)  # one row per box counted so far
    faces = candidates = 0
    for i in np.argsort(-regions.scores, kind="stable"):
        box = regions.boxes[i].astype(np.float64)
        if (_overlaps(box, counted[: faces + candidates]) >= SAME_FACE).any():
            continue
        counted[faces + candidates] = box
        if regions.scores[i] >= confident:
            faces += 1
        else:
            candidates += 1
    return faces, candidates


def _centre(box: np.ndarray) -> np.ndarray:
    return (box[:2] + box[2:]) / 2


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1], 1e-6))


class Fragment(Protocol):
    """What counting reads of a finished track (``unseen.track.Track`` is one): the tracker hands
    tracks over, the counter never reaches into the tracker."""

    start: int  # its first sighting's frame, and box
    start_box: np.ndarray
    strong: int  # sightings ever by detections that may start a face (the weak ones only continue it)
    best: float  # highest score ever
    frames: list[int]  # the sightings still kept
    boxes: list[np.ndarray]

    @property
    def last(self) -> int: ...

    def velocity(self, at: int) -> np.ndarray: ...


@dataclass(eq=False)  # identity: the boxes are arrays
class _End:
    """Where a counted fragment was last seen, and how it was moving then."""

    frame: int
    box: np.ndarray
    motion: np.ndarray | None  # per-frame motion of the box edges; None if seen once


class FaceCounter:
    """Counts finished tracks, handed over in the order of their last sighting.

    A fragment continues an earlier one when it starts at most ``join_gap`` frames after that one
    ended, near the line from where that one was last seen to where its motion was taking it
    (within ``match_distance`` face sizes), at a similar size. A face too fast for the tracker to
    link (more than about its size per keyframe) leaves a fragment per sighting, with no motion
    measured: the next may then start within ``quick`` frames, up to ``fast_motion`` face sizes per
    frame further on. Only the ends of recent fragments are kept, so memory stays bounded.
    """

    def __init__(
        self, confident: float, join_gap: int, match_distance: float, fast_motion: float, quick: int
    ) -> None:
        self.confident, self.join_gap, self.match_distance = confident, join_gap, match_distance
        self.fast_motion, self.quick = fast_motion, quick
        self.faces = 0
        self.candidates = 0
        self._ends: list[_End] = []

    def copy(self) -> FaceCounter:
        other = FaceCounter(self.confident, self.join_gap, self.match_distance, self.fast_motion, self.quick)
        other.faces, other.candidates, other._ends = self.faces, self.candidates, list(self._ends)
        return other

    def add(self, track: Fragment) -> None:
        if track.strong < 2 and track.best < self.confident:  # a faint blip, continued weakly or not
            self.candidates += 1
            return
        best, nearest = None, 1.0
        for end in self._ends:
            distance = self._distance(end, track.start, track.start_box)
            if distance is not None and distance <= nearest:
                best, nearest = end, distance
        if best is None:
            self.faces += 1
        else:
            self._ends.remove(best)  # the same face, seen again
        motion = track.velocity(len(track.frames) - 1) if len(track.frames) > 1 else None
        self._ends.append(_End(track.last, track.boxes[-1], motion))

    def _distance(self, end: _End, start: int, box: np.ndarray) -> float | None:
        """How far a fragment starting at ``box`` is from where ``end`` was going, as a share of
        how far it may be (None: too far apart in time or size)."""
        gap = start - end.frame
        ratio = _size(box) / _size(end.box)
        if not (0 < gap <= self.join_gap and 1 / 3 < ratio < 3):
            return None
        size = max(_size(box), _size(end.box))
        p = _centre(box) - _centre(end.box)
        if end.motion is None:
            if gap > self.quick:
                return None
            return float(np.linalg.norm(p)) / (size * (self.match_distance + self.fast_motion * gap))
        step = _centre(end.motion) * gap
        along = float(np.clip(p @ step / max(float(step @ step), 1e-6), 0, 1))
        return float(np.linalg.norm(p - along * step)) / (size * self.match_distance)

    def forget_before(self, start: int) -> None:
        """Drop the ends no fragment starting at ``start`` or later can continue."""
        self._ends = [e for e in self._ends if e.frame + self.join_gap >= start]
