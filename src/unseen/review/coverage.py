"""How much of a video its tracks cover: the frames inside a track's span where it has no region,
and where on such a frame the face is.

A track that loses a face for a few frames (a turn, a hand, motion blur) leaves those frames
unpainted unless someone draws there; the page shows the share of frames without such a gap and
jumps from one gap to the next (G), so a person checks exactly those frames. A gap stops counting
once something painted covers the place the face should be (a region drawn there, a zone).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..regions_file import FileEntry

MOST_GAPS = 200  # gap runs sent to the page (the meter counts them all)


def gap_frames(entry: FileEntry) -> np.ndarray:
    """One flag per frame: an obscured track spans the frame but has no region there, and nothing
    painted there (another region, a zone) covers the place the face should be (the box moved
    linearly between the track's regions on either side of the gap). A file painted "keep only" has
    none: all but the kept faces is covered."""
    gaps = np.zeros(entry.frames, bool)
    for frame, _ in _holes(entry):
        gaps[frame] = True
    return gaps


def holes(entry: FileEntry, frame: int) -> list[list[float]]:
    """Where on ``frame`` a face a track knows is left uncovered (each gap's box there, as
    :func:`gap_frames` places it), x1 y1 x2 y2 rounded to 0.1 px: the page marks them."""
    return [[round(float(v), 1) for v in box] for _, box in _holes(entry, frame)]


def _holes(entry: FileEntry, only: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Each frame (``only`` that one, if given) and place where an obscured track's face is missed."""
    regions, actions = entry.regions, entry.actions
    if entry.keep_only:
        return
    faces = np.flatnonzero((actions != "suggested") & (regions.track >= 0))
    order = faces[np.lexsort((regions.frame[faces], regions.track[faces]))]
    track, frame = regions.track[order], regions.frame[order]
    jumps = np.flatnonzero((track[1:] == track[:-1]) & (frame[1:] - frame[:-1] > 1))
    if only is not None:
        jumps = jumps[(frame[jumps] < only) & (only < frame[jumps + 1])]
    painted = np.flatnonzero(actions == "obscure")
    painted = painted[np.argsort(regions.frame[painted], kind="stable")]
    on = regions.frame[painted]
    for j in jumps:
        a, b = order[j], order[j + 1]
        if actions[a] != "obscure" and actions[b] != "obscure":
            continue  # a face someone keeps visible: nothing to miss
        missing = np.arange(frame[j] + 1, frame[j + 1]) if only is None else np.asarray([only])
        t = ((missing - frame[j]) / (frame[j + 1] - frame[j]))[:, None]
        boxes = regions.boxes[a] + t * (regions.boxes[b] - regions.boxes[a])
        for f, box in zip(missing, boxes, strict=True):
            centre = (box[:2] + box[2:]) / 2
            around = regions.boxes[painted[np.searchsorted(on, f) : np.searchsorted(on, f, "right")]]
            if not (_inside(centre, around) or _inside(centre, entry.zones)):
                yield int(f), box


def _inside(point: np.ndarray, boxes: np.ndarray) -> bool:
    return bool(((boxes[:, :2] <= point) & (point < boxes[:, 2:])).all(axis=1).any())


def coverage(entry: FileEntry) -> dict[str, Any]:
    """``covered`` (share of frames without a gap), ``gap_frames``, and the first runs of gap frames
    as ``[first, last]`` (for the page's next-gap key)."""
    gaps = gap_frames(entry)
    flips = np.flatnonzero(np.diff(np.concatenate([[0], gaps.astype(np.int8), [0]])))
    runs = flips.reshape(-1, 2)[:MOST_GAPS] - [0, 1]
    count = int(gaps.sum())
    return {"covered": 1 - count / entry.frames, "gap_frames": count, "gaps": runs.tolist()}
