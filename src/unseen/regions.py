"""The one value that flows through the pipeline: face regions as numpy arrays.

Every stage (detect, track, plan, obscure, the regions file) speaks ``Regions``, so a stage can be
swapped or tested on its own. Boxes are ``x1, y1, x2, y2`` in pixels of the *oriented* image (after
EXIF rotation), floats, exclusive on the right/bottom edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SCHEMA = "unseen.regions/2"  # of the regions file (see unseen.regions_file)

#: The keys of a region record that the core columns use; extra columns may not take them.
RECORD_KEYS = ("box", "score", "source", "frame", "track")


def _per_region(values: Any, n: int, dtype: Any, name: str, default: Any) -> np.ndarray:
    """One value per region: an array of exactly ``n`` values, or a scalar (``None``: the default)
    repeated ``n`` times."""
    array = np.asarray(default if values is None else values, dtype=dtype)
    if array.ndim == 0:
        return np.full(n, array, dtype)
    if array.shape != (n,):
        raise ValueError(f"Regions: {name} must be a scalar or {n} values, got shape {array.shape}")
    return array


def _column(name: Any, values: Any, n: int) -> np.ndarray:
    """An extra per-region column: ``n`` values (of any shape each), or a scalar repeated. Text is
    kept as Python strings (object dtype), so a longer value assigned later is never cut short."""
    if not isinstance(name, str) or name in RECORD_KEYS:
        raise ValueError(f"Regions: data column name {name!r} must be a string other than {RECORD_KEYS}")
    array = np.asarray(values)
    if array.dtype.kind == "U":
        array = array.astype(object)
    if array.ndim == 0:
        return np.full(n, array.item(), array.dtype)
    if len(array) != n:
        raise ValueError(f"Regions: data column {name!r} has {len(array)} values for {n} regions")
    return array


def _from_json_values(values: list[Any]) -> np.ndarray:
    """A column from the values of one key across records: numbers stay numbers, anything else (text,
    lists, a mix, or ``None`` where a record lacks the key) is kept as the objects themselves."""
    kinds = {type(v) for v in values}
    for types, dtype in (
        ({bool}, bool),
        ({int}, np.int64),
        ({float}, np.float64),
        ({int, float}, np.float64),
    ):
        if kinds == types:
            try:
                return np.array(values, dtype)
            except OverflowError:
                break
    column = np.empty(len(values), object)
    for i, value in enumerate(values):  # one by one: numpy would unpack equal-length lists into a 2-D array
        column[i] = value
    return column


@dataclass(init=False, eq=False)
class Regions:
    """Face regions of one image, or of many frames of one video.

    ``source`` names what produced each region: a detector pass (``full``, ``coarse``, ``fine``...)
    or, in video, ``interpolated`` / ``extended`` for regions the tracker added (Python strings of
    any length). ``frame`` is the frame index (0 for photos); ``track`` the track id (-1 until
    tracking links it). ``data`` holds extra per-region columns by name (an ``action`` such as
    ``obscure`` / ``keep`` / ``suggested``, a reviewer's note...), the way supervision's
    ``Detections.data`` does: each has one value per region and travels with the regions through
    indexing, :meth:`concat`, :func:`nms` and the regions file.

    Every column must have one value per region; only a scalar is repeated for all of them, so a
    list of the wrong length is an error rather than a silent misalignment.
    """

    boxes: np.ndarray
    scores: np.ndarray
    source: np.ndarray
    frame: np.ndarray
    track: np.ndarray
    data: dict[str, np.ndarray]

    def __init__(
        self,
        boxes: Any = None,
        scores: Any = None,
        source: Any = None,
        frame: Any = None,
        track: Any = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        boxes = np.asarray(np.zeros((0, 4)) if boxes is None else boxes, dtype=np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"Regions: boxes must be N x 4 (x1, y1, x2, y2), got shape {boxes.shape}")
        n = len(boxes)
        self.boxes = boxes
        self.scores = _per_region(scores, n, np.float32, "scores", 1.0)
        self.source = _per_region(source, n, object, "source", "")
        self.frame = _per_region(frame, n, np.int32, "frame", 0)
        self.track = _per_region(track, n, np.int32, "track", -1)
        self.data = {name: _column(name, values, n) for name, values in (data or {}).items()}

    @classmethod
    def from_boxes(
        cls, boxes: Any, scores: Any = None, source: str = "manual", frame: int = 0, track: int = -1
    ) -> Regions:
        """Build regions from an (N, 4) array of boxes with one source, frame and track."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return cls(boxes, scores, source, frame, track)

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: Any) -> Regions:
        """Select regions with an integer (one region), a boolean mask, an index array or a slice."""
        if isinstance(index, bool):
            raise TypeError("Regions: index with an integer, a boolean mask, an index array or a slice")
        if isinstance(index, int | np.integer):
            index = np.array([index])  # keeps the region axis; out of range raises IndexError
        return Regions(
            self.boxes[index],
            self.scores[index],
            self.source[index],
            self.frame[index],
            self.track[index],
            {name: column[index] for name, column in self.data.items()},
        )

    @staticmethod
    def concat(parts: list[Regions]) -> Regions:
        """Join several region sets into one (e.g. the passes of the detection cascade). Their data
        columns must match: a column missing from some regions would have nothing to say for them."""
        filled = [p for p in parts if len(p)]
        if not filled:
            return parts[0][:0] if parts else Regions()
        names = list(filled[0].data)
        if any(sorted(p.data) != sorted(names) for p in filled):
            found = sorted({tuple(sorted(p.data)) for p in filled})
            raise ValueError(f"Regions.concat: the parts have different data columns: {found}")
        return Regions(
            np.concatenate([p.boxes for p in filled]),
            np.concatenate([p.scores for p in filled]),
            np.concatenate([p.source for p in filled]),
            np.concatenate([p.frame for p in filled]),
            np.concatenate([p.track for p in filled]),
            {name: np.concatenate([p.data[name] for p in filled]) for name in names},
        )

    def by_frame(self) -> dict[int, Regions]:
        """The regions of each frame that has any, by frame index in ascending order (a video is
        painted frame by frame); within a frame the regions keep their order."""
        if len(self) == 0:
            return {}
        order = np.argsort(self.frame, kind="stable")
        frames, starts = np.unique(self.frame[order], return_index=True)
        ends = [*starts[1:].tolist(), len(order)]
        return {
            int(f): self[order[a:b]] for f, a, b in zip(frames.tolist(), starts.tolist(), ends, strict=True)
        }

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready list of regions (the ``regions`` array of the regions file). Each data column
        adds its key; a ``None`` value leaves the key out, as a record that never had it."""
        columns = {name: column.tolist() for name, column in self.data.items()}
        records = []
        for i, (b, s, src, f, t) in enumerate(
            zip(self.boxes, self.scores, self.source, self.frame, self.track, strict=True)
        ):
            record = {
                "box": [round(float(v), 1) for v in b],
                "score": round(float(s), 4),
                "source": str(src),
                "frame": int(f),
                "track": int(t),
            }
            record.update((name, values[i]) for name, values in columns.items() if values[i] is not None)
            records.append(record)
        return records

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> Regions:
        """Inverse of :meth:`to_records`; missing score/source/frame/track default to 1/manual/0/-1,
        and every other key becomes a data column (``None`` for the records that lack it)."""
        if not records:
            return cls()
        names = list(dict.fromkeys(k for r in records for k in r if k not in RECORD_KEYS))
        return cls(
            np.array([r["box"] for r in records], np.float32),
            np.array([r.get("score", 1.0) for r in records], np.float32),
            np.array([str(r.get("source", "manual")) for r in records], object),
            np.array([r.get("frame", 0) for r in records], np.int32),
            np.array([r.get("track", -1) for r in records], np.int32),
            {name: _from_json_values([r.get(name) for r in records]) for name in names},
        )


KINDS = ("face", "text")
"""What a region shows, its ``kind`` data column: a face, or text (a number plate, a badge, a sign).
Regions without the column, as every file written before text was looked for, are faces."""


def kinds(regions: Regions) -> np.ndarray:
    """Each region's kind (``face`` where the ``kind`` column is missing or says nothing)."""
    column = regions.data.get("kind")
    if column is None:
        return np.full(len(regions), "face", object)
    return np.array(["face" if k is None else str(k) for k in column.tolist()], object)


def with_kind(regions: Regions, kind: str) -> Regions:
    """``regions`` (the same object) with every region's ``kind`` set to ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown region kind {kind!r}")
    regions.data["kind"] = np.full(len(regions), kind, object)
    return regions


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
