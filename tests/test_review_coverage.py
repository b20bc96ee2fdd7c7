"""The coverage meter: frames where an obscured track has no region and nothing painted covers it."""

from __future__ import annotations

import numpy as np

from unseen.regions import Regions
from unseen.regions_file import FileEntry
from unseen.review.coverage import coverage, holes

FRAMES = 40


def _entry(frames: list[int], tracks: list[int], actions: list[str], boxes=None, **kw) -> FileEntry:
    boxes = np.tile([10.0, 10.0, 30.0, 40.0], (len(frames), 1)) if boxes is None else np.asarray(boxes)
    return FileEntry(
        "a.mp4", "b.mp4", "video", 64, 64, FRAMES, Regions(boxes, 1.0, "full", frames, tracks), actions, **kw
    )


def test_a_gap_in_an_obscured_track_counts_until_something_covers_it():
    frames = [*range(0, 10), *range(15, 20)]  # track 0 loses the face on frames 10 to 14
    entry = _entry(frames, [0] * 15, ["obscure"] * 15)
    assert coverage(entry) == {"covered": 1 - 5 / FRAMES, "gap_frames": 5, "gaps": [[10, 14]]}
    # A region of another track on two of those frames, over the place the face should be.
    drawn = _entry([*frames, 11, 12], [0] * 15 + [1, 1], ["obscure"] * 17)
    assert coverage(drawn)["gaps"] == [[10, 10], [13, 14]]
    elsewhere = _entry(
        [*frames, 11], [0] * 15 + [1], ["obscure"] * 16, [[10, 10, 30, 40]] * 15 + [[40, 40, 60, 60]]
    )
    assert coverage(elsewhere)["gap_frames"] == 5  # a region beside the face covers nothing
    suggested = _entry([*frames, 11], [0] * 15 + [-1], ["obscure"] * 15 + ["suggested"])
    assert coverage(suggested)["gap_frames"] == 5  # a suggestion is not painted
    zoned = _entry(frames, [0] * 15, ["obscure"] * 15, zones=[[0, 0, 32, 32]])
    assert coverage(zoned)["gap_frames"] == 0
    kept = _entry(frames, [0] * 15, ["keep"] * 15)
    assert coverage(kept)["gap_frames"] == 0  # a face kept visible misses nothing


def test_the_place_of_the_face_moves_across_the_gap():
    boxes = [[0.0, 0.0, 10.0, 10.0], [30.0, 0.0, 40.0, 10.0]]  # frame 0 and frame 3: 10 px a frame
    painted = [[10.0, 0.0, 20.0, 10.0], [10.0, 0.0, 20.0, 10.0]]  # on frames 1 and 2, where it was on 1
    entry = _entry([0, 3, 1, 2], [0, 0, 1, 1], ["obscure"] * 4, [*boxes, *painted])
    assert coverage(entry)["gaps"] == [[2, 2]]
    assert holes(entry, 2) == [[20.0, 0.0, 30.0, 10.0]]  # where the face is on the frame uncovered
    assert holes(entry, 1) == []  # covered there
    assert holes(entry, 0) == holes(entry, 3) == []  # the track has its regions there


def test_a_file_painted_keep_only_has_no_gap():
    frames = [*range(0, 10), *range(15, 20)]
    entry = _entry(frames, [0] * 15, ["obscure"] * 15, keep_only=True)  # everything but kept is painted
    assert coverage(entry) == {"covered": 1.0, "gap_frames": 0, "gaps": []}
