"""Edits of the review page as small operations on one file entry, so that an edit's size does not
grow with the video's length (keeping a track of an hour-long video is one line, not every region).

The page applies the same operations to its own copy and keeps their inverses for undo and redo;
the server applies them here, checked as strictly as a regions file is read, all or nothing, and
each number as it will be stored: boxes and scores as finite float32 (a new box within a picture's
width and height of the picture), track ids as int32.

* ``{"op": "action", "track": T, "action": "keep" | "obscure", "frames": [first, last]}`` sets the
  action of track ``T``'s regions (not its suggestions); ``frames`` (optional) limits the frames.
* ``{"op": "remove", "regions": [record, ...]}`` removes one region equal to each record (box,
  score, source, frame, track and action); a record that matches none is refused: the page and
  the file disagree, and the page must reload.
* ``{"op": "method", "track": T, "method": "fill" | "pixelate" | "blur" | null, "frames": ...}``
  sets how track ``T``'s regions are painted (``null``: as the run's options say).
* ``{"op": "replace", "regions": [[old, new], ...]}`` changes the region equal to each ``old`` into
  ``new`` in place (keeping one face, moving a box, accepting a suggestion).
* ``{"op": "add", "regions": [record, ...]}`` adds regions.
* ``{"op": "interpolate", "track": T}`` fills a drawn track (every region drawn or interpolated)
  between its drawn keys, replacing its earlier interpolated regions, as the page does.
* ``{"op": "split", "track": T, "frame": F, "into": N}`` cuts track ``T`` at frame ``F``: its regions
  from ``F`` on become track ``N``, an id no region has yet; both parts must keep a region.
* ``{"op": "merge", "track": A, "from": B, "frames": [first, last]}`` makes track ``B``'s regions
  (on ``frames`` only, if given) track ``A``'s: one face the tracker lost and found again. Each region
  keeps its frame, action and method; where both tracks have a region on one frame, both stay (their
  union is painted: dropping either could uncover part of the face, and neither box is wrong).
* ``{"op": "reviewed", "value": bool}`` marks the file reviewed or not.
* ``{"op": "keep_only", "value": bool}``: obscure the whole picture but the regions kept, or not.
* ``{"op": "add_zone", "box": [x1, y1, x2, y2]}`` adds a static zone (obscured on every frame);
  ``{"op": "remove_zone", "box": ...}`` removes the zone with that box.
* ``{"op": "swept", "cell": C, "frame": F, "seen": "0110..."}`` adds the cells a sweep has shown on
  frame ``F`` to the entry's ``swept`` record (a grid of another ``cell`` replaces it); it is not an
  edit of the file's regions (see :func:`unseen.regions_file.parse_swept`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..regions import Regions
from ..regions_file import REGION_METHODS, FileEntry, parse_records, parse_swept, parse_zones

OPS = (
    "action",
    "method",
    "replace",
    "remove",
    "add",
    "interpolate",
    "split",
    "merge",
    "reviewed",
    "keep_only",
    "add_zone",
    "remove_zone",
    "swept",
)
MOST_OPS = 4096  # operations in one request: an edit is a handful
TRACKS = (-(2**31), 2**31 - 1)  # track ids are stored as int32


def apply_edits(entry: FileEntry, ops: Any) -> FileEntry:
    """``entry`` with ``ops`` applied, as a new entry (``entry`` is left as it was if any op is
    refused); ValueError names what is wrong."""
    if not isinstance(ops, list) or not 1 <= len(ops) <= MOST_OPS:
        raise ValueError(f"'ops' must be a list of 1 to {MOST_OPS} operations")
    regions, actions, reviewed, zones = entry.regions, entry.actions.copy(), entry.reviewed, entry.zones
    keep_only, swept, changed = entry.keep_only, entry.swept, False
    for op in ops:
        kind = op.get("op") if isinstance(op, dict) else None
        if kind not in OPS:
            raise ValueError(f"unknown operation {kind!r} (expected one of {', '.join(OPS)})")
        if kind == "reviewed":
            if not isinstance(op.get("value"), bool):
                raise ValueError("'reviewed' needs a true or false 'value'")
            reviewed = op["value"]
        elif kind == "keep_only":
            if not isinstance(op.get("value"), bool):
                raise ValueError("'keep_only' needs a true or false 'value'")
            changed = changed or keep_only != op["value"]
            keep_only = op["value"]
        elif kind == "action":
            actions, moved = _set_action(regions, actions, op, entry.frames)
            changed = changed or moved
        elif kind == "method":
            regions, moved = _set_method(regions, actions, op, entry.frames)
            changed = changed or moved
        elif kind == "remove":
            regions, actions = _remove(regions, actions, op.get("regions"), entry)
            changed = True
        elif kind == "replace":
            regions, actions = _replace(regions, actions, op.get("regions"), entry)
            changed = True
        elif kind == "add":
            regions, actions = _add(regions, actions, op.get("regions"), entry)
            changed = True
        elif kind == "split":
            regions = _split(regions, op, entry.frames)
            changed = True
        elif kind == "merge":
            regions = _merge(regions, op, entry.frames)
            changed = True
        elif kind == "interpolate":
            regions, actions, filled = _interpolate(regions, actions, _track(op))
            changed = changed or filled
        elif kind == "swept":
            swept = _swept(swept, op, entry)
        else:
            zones, changed = _zone(zones, op, kind == "add_zone", entry), True
    return replace(
        entry,
        regions=regions,
        actions=actions,
        reviewed=reviewed,
        edited=entry.edited or changed,
        zones=zones,
        keep_only=keep_only,
        swept=swept,
    )


def _swept(swept: dict[str, Any] | None, op: dict[str, Any], entry: FileEntry) -> dict[str, Any]:
    """``swept`` with the cells of ``op`` seen too (a sweep's record of another grid is replaced)."""
    frame, bits = op.get("frame"), op.get("seen")
    if type(frame) is not int or not 0 <= frame < entry.frames:
        raise ValueError(f"'swept' needs the 'frame' swept, 0 to {entry.frames - 1}")
    new = parse_swept(
        {"cell": op.get("cell"), "seen": {str(frame): bits}}, entry.width, entry.height, entry.frames
    )
    if swept is None or swept["cell"] != new["cell"]:
        return new
    before = swept["seen"].get(str(frame), "0" * len(bits))
    merged = "".join("1" if "1" in pair else "0" for pair in zip(before, bits, strict=True))
    return {"cell": new["cell"], "seen": {**swept["seen"], str(frame): merged}}


def checked_boxes(boxes: Any, width: int, height: int) -> np.ndarray:
    """``boxes`` (N x 4 numbers) as float32, each finite and within a picture's width and height of
    a ``width`` x ``height`` picture; ValueError otherwise (a box that far out covers nothing, and a
    huge one makes painting fail)."""
    limit = np.float32([width, height] * 2)
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 becomes inf, refused below
        try:
            values = np.asarray(boxes, np.float32).reshape(-1, 4)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"a box must be four numbers ({exc})") from None
        inside = (values >= -limit) & (values <= 2 * limit)
    if not inside.all():  # NaN and infinities included
        raise ValueError(
            f"a box's numbers must be finite and within -{width} to {2 * width} (x), "
            f"-{height} to {2 * height} (y)"
        )
    return values


def _zone(zones: np.ndarray, op: dict[str, Any], add: bool, entry: FileEntry) -> np.ndarray:
    try:
        box = parse_zones([{"box": op.get("box")}])
    except (TypeError, OverflowError) as exc:
        raise ValueError(f"malformed zone: {exc}") from exc
    if add:
        return np.vstack([zones, checked_boxes(box, entry.width, entry.height)])
    rounded = [[round(float(v), 1) for v in z] for z in zones]
    wanted = [round(float(v), 1) for v in box[0]]
    if wanted not in rounded:
        raise ValueError("no such zone: reload the page")
    return np.delete(zones, rounded.index(wanted), axis=0)


def _track(op: dict[str, Any], key: str = "track", least: int = TRACKS[0]) -> int:
    track = op.get(key)
    if type(track) is not int or not least <= track <= TRACKS[1]:
        raise ValueError(f"{key!r} must be a whole number from {least} to {TRACKS[1]}")
    return track


def _track_mask(regions: Regions, actions: np.ndarray, op: dict[str, Any], frames: int) -> np.ndarray:
    """Track ``op['track']``'s regions (not its suggestions), on ``op['frames']`` only if given."""
    return (regions.track == _track(op)) & (actions != "suggested") & _on_frames(regions, op, frames)


def _on_frames(regions: Regions, op: dict[str, Any], frames: int) -> np.ndarray:
    """The regions on ``op['frames']`` (every region if not given)."""
    if "frames" not in op:
        return np.ones(len(regions), bool)
    span = op["frames"]
    if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
        raise ValueError("'frames' must be [first, last], two frame numbers")
    if not 0 <= span[0] <= span[1] < frames:
        raise ValueError(f"'frames' must lie within the file's {frames} frames")
    return (regions.frame >= span[0]) & (regions.frame <= span[1])


def _split(regions: Regions, op: dict[str, Any], frames: int) -> Regions:
    track, frame, into = _track(op), op.get("frame"), _track(op, "into", 0)
    if type(frame) is not int or not 0 <= frame < frames:
        raise ValueError(f"'frame' must be a frame of the file (0 to {frames - 1})")
    if (regions.track == into).any():
        raise ValueError("'into' must be a new track id (a whole number >= 0 that no region has)")
    mine = regions.track == track
    later = mine & (regions.frame >= frame)
    if track < 0 or not later.any() or not (mine & ~later).any():
        raise ValueError(f"track {track} has no regions on both sides of frame {frame}: reload the page")
    return _retracked(regions, later, into)


def _merge(regions: Regions, op: dict[str, Any], frames: int) -> Regions:
    track, other = _track(op), _track(op, "from", 0)
    if track < 0 or other == track:
        raise ValueError("'track' and 'from' must be two different track ids (whole numbers >= 0)")
    moved = (regions.track == other) & _on_frames(regions, op, frames)
    if not moved.any():
        raise ValueError(f"track {other} has no regions there: reload the page")
    return _retracked(regions, moved, track)


def _retracked(regions: Regions, rows: np.ndarray, track: int) -> Regions:
    regions = regions[np.arange(len(regions))]  # a copy: the entry stays as it was until all ops pass
    regions.track[rows] = track
    return regions


def _set_action(regions: Regions, actions: np.ndarray, op: dict[str, Any], frames: int) -> tuple:
    action = op.get("action")
    if action not in ("keep", "obscure"):
        raise ValueError("'action' must be 'keep' or 'obscure' (a suggestion is accepted by adding it)")
    mask = _track_mask(regions, actions, op, frames)
    moved = bool((actions[mask] != action).any())
    actions[mask] = action
    return actions, moved


def _set_method(regions: Regions, actions: np.ndarray, op: dict[str, Any], frames: int) -> tuple:
    method = op.get("method")
    if method not in (None, *REGION_METHODS):
        raise ValueError(f"'method' must be one of {', '.join(REGION_METHODS)} or null (the run's)")
    mask = _track_mask(regions, actions, op, frames)
    regions, _ = _align(regions[np.arange(len(regions))], Regions(data={"method": []}))
    moved = any(m != method for m in regions.data["method"][mask].tolist())
    regions.data["method"][mask] = method
    return regions, moved


def _align(regions: Regions, new: Regions) -> tuple[Regions, Regions]:
    """Both with the same data columns: the entry's, and ``method`` or ``kind`` once any region has
    one (``None`` where a region has no value). Any other key the entry does not have is refused."""
    unknown = set(new.data) - set(regions.data) - {"method", "kind"}
    if unknown:
        raise ValueError(f"unknown region key {sorted(unknown)[0]!r}")
    names = list(dict.fromkeys([*regions.data, *new.data]))

    def filled(r: Regions) -> Regions:
        data = {n: r.data[n] if n in r.data else np.full(len(r), None, object) for n in names}
        return Regions(r.boxes, r.scores, r.source, r.frame, r.track, data)

    return filled(regions), filled(new)


def _parsed(records: Any, entry: FileEntry, new: bool = False) -> tuple[Regions, list[str]]:
    """The regions of ``records`` as stored (a ``new`` one's box within the picture's bounds)."""
    if not isinstance(records, list) or not records:
        raise ValueError("'regions' must be a non-empty list of regions")
    for record in records:
        if isinstance(record, dict) and "track" in record:
            _track(record)
    try:
        with np.errstate(over="ignore"):  # a number too large for float32 becomes inf, refused below
            regions, actions = parse_records(records, entry.frames)
    except (KeyError, TypeError, OverflowError) as exc:
        raise ValueError(f"malformed regions: {exc}") from exc
    if not np.isfinite(regions.scores).all():
        raise ValueError("a region's score must be a finite number")
    if new:
        checked_boxes(regions.boxes, entry.width, entry.height)
    return regions, actions


def _rows(regions: Regions, actions: np.ndarray, records: Any, entry: FileEntry) -> np.ndarray:
    """The row of one region equal to each record (distinct rows); ValueError if one has none."""
    wanted, wanted_actions = _parsed(records, entry)
    free = np.ones(len(regions), bool)
    rows = []
    for want, action in zip(wanted.to_records(), wanted_actions, strict=True):
        near = np.flatnonzero(free & (regions.frame == want["frame"]) & (regions.track == want["track"]))
        found = [
            row
            for row, have in zip(near, regions[near].to_records(), strict=True)
            if all(have[k] == want[k] for k in ("box", "score", "source")) and actions[row] == action
        ]
        if not found:
            raise ValueError(f"no such region on frame {want['frame']}: reload the page")
        free[found[0]] = False
        rows.append(found[0])
    return np.asarray(rows, np.int64)


def _remove(regions: Regions, actions: np.ndarray, records: Any, entry: FileEntry) -> tuple:
    keep = np.ones(len(regions), bool)
    keep[_rows(regions, actions, records, entry)] = False
    return regions[keep], actions[keep]


def _replace(regions: Regions, actions: np.ndarray, pairs: Any, entry: FileEntry) -> tuple:
    """Each ``[old, new]`` pair: the region equal to ``old`` becomes ``new``, where it is (the order
    of the regions, which the page's selection follows, stays)."""
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise ValueError("'regions' must be a list of [old, new] pairs")
    rows = _rows(regions, actions, [old for old, _ in pairs], entry)
    new, new_actions = _parsed([new for _, new in pairs], entry, new=True)
    # A copy first: the entry stays as it was until every operation has passed.
    regions, new = _align(regions[np.arange(len(regions))], new)
    for column, values in (("boxes", new.boxes), ("scores", new.scores), ("source", new.source)):
        getattr(regions, column)[rows] = values
    regions.frame[rows], regions.track[rows] = new.frame, new.track
    for name, values in new.data.items():
        regions.data[name][rows] = values
    actions[rows] = new_actions
    return regions, actions


def _add(regions: Regions, actions: np.ndarray, records: Any, entry: FileEntry) -> tuple:
    new, added = _parsed(records, entry, new=True)
    regions, new = _align(regions, new)
    return Regions.concat([regions, new]), np.concatenate([actions, np.asarray(added, "U9")])


def _interpolate(regions: Regions, actions: np.ndarray, track: int) -> tuple:
    """The page's rule: between consecutive drawn keys, boxes move linearly, rounded to 0.1 (half
    up, as JavaScript's Math.round), with the first key's action and method."""
    mine = np.flatnonzero(regions.track == track)
    sources = set(regions.source[mine].tolist())
    if not len(mine) or not sources <= {"manual", "interpolated"}:
        return regions, actions, False
    drop = (regions.track == track) & (regions.source != "manual")
    keys = sorted(
        zip(regions[mine].to_records(), actions[mine].tolist(), strict=True), key=lambda k: k[0]["frame"]
    )
    keys = [k for k in keys if k[0]["source"] == "manual"]
    records, filled = [], []
    for (a, action), (b, _) in zip(keys, keys[1:], strict=False):
        for f in range(a["frame"] + 1, b["frame"]):
            t = (f - a["frame"]) / (b["frame"] - a["frame"])
            box = [
                math.floor((v + t * (w - v)) * 10 + 0.5) / 10 for v, w in zip(a["box"], b["box"], strict=True)
            ]
            records.append(
                {"box": box, "score": 1.0, "source": "interpolated", "frame": f, "track": track}
                | ({"method": a["method"]} if "method" in a else {})
            )
            filled.append(action)
    kept = regions[~drop]
    if not records:
        return kept, actions[~drop], bool(drop.any())
    kept, new = _align(kept, Regions.from_records(records))
    return Regions.concat([kept, new]), np.concatenate([actions[~drop], np.asarray(filled, "U9")]), True
