"""Tracks per face, split by whose track it is: the face's own, a neighbour's, or no face's.

``video_tracks.py`` counts, for each ground-truth face, every track whose region covers 30 % of the
face's box in some frame. In a crowd that is often a neighbour's patch, grown while it is carried
between or beyond its sightings, and on a zoom the patch of something the annotation left out: a
face followed by one track can count 3. This splits that count, so a change to the tracker can be
judged on the fragments it makes of one face apart from the overlaps it makes between faces:

* own: a track with a detected box on the face (IoU at least 0.3, in that frame);
* neighbour: the own track of another face;
* ownerless: a track detected on no annotated face (an unannotated face, a false detection, a box
  well off its face).

    python bench/track_split.py GTDIR REGIONS.json [...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

COVERS = 0.3  # a region covers a face holding this share of its box (as video_tracks.py)
OWN_IOU = 0.3  # a detection is on a face overlapping it this much
CARRIED = ("interpolated", "extended")  # sources of boxes the tracker carried, not detected


def _inter(box: list[float], face: list[float]) -> float:
    w = min(face[2], box[2]) - max(face[0], box[0])
    h = min(face[3], box[3]) - max(face[1], box[1])
    return max(w, 0.0) * max(h, 0.0)


def _area(box: list[float]) -> float:
    return max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)


def split_file(gt: list[list[list[float]]], regions: list[dict]) -> list[tuple[int, int, int]]:
    """(own, neighbour, ownerless) tracks of each face of one clip that some track covers."""
    by_frame: dict[int, list[dict]] = defaultdict(list)
    for r in regions:
        if r.get("action", "obscure") != "suggested":
            by_frame[r["frame"]].append(r)
    own: dict[int, set] = defaultdict(set)
    covering: dict[int, set] = defaultdict(set)
    for i, faces in enumerate(gt):
        for face in faces:
            area = _area(face)
            for r in by_frame.get(i, ()):
                shared = _inter(r["box"], face)
                if shared >= COVERS * area:
                    covering[face[4]].add(r["track"])
                if r["source"] not in CARRIED and shared >= OWN_IOU * (area + _area(r["box"]) - shared):
                    own[face[4]].add(r["track"])
    owned = set().union(*own.values()) if own else set()
    out = []
    for fid, tracks in covering.items():
        mine = tracks & own[fid]
        out.append((len(mine), len((tracks - mine) & owned), len(tracks - mine - owned)))
    return out


def split(gt_dir: Path, paths: list[Path]) -> dict[str, float] | None:
    """Mean own, neighbour and ownerless tracks per covered face over the clips of ``paths``."""
    rows = []
    for path in paths:
        for f in json.loads(Path(path).read_text())["files"]:
            gt = Path(gt_dir) / (Path(f["input"]).stem + ".json")
            if gt.exists():
                rows += split_file(json.loads(gt.read_text())["frames"], f["regions"])
    if not rows:
        return None
    own, neighbour, ownerless = np.array(rows, np.float64).mean(axis=0)
    return {"faces": len(rows), "own": own, "neighbour": neighbour, "ownerless": ownerless}


if __name__ == "__main__":
    print(json.dumps(split(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])))
