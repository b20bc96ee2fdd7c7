"""The review page's edits as operations on a file entry: small, checked, all or nothing."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from unseen.errors import InputError
from unseen.regions import Regions
from unseen.regions_file import FileEntry, RegionsDocument, load_document, save_document
from unseen.review.edits import apply_edits

FRAMES = 100


def _video(**kw) -> FileEntry:
    """A detected track on every frame, and a suggestion on frame 50."""
    boxes = [[10.0 + f, 20.0, 50.0 + f, 70.0] for f in range(FRAMES)] + [[200.0, 10.0, 230.0, 44.0]]
    frames = [*range(FRAMES), 50]
    regions = Regions(np.asarray(boxes), 0.9, "full", frames, [0] * FRAMES + [-1])
    return FileEntry(
        "in.mp4", "out.mp4", "video", 320, 240, FRAMES, regions, ["obscure"] * FRAMES + ["suggested"], **kw
    )


def test_a_track_action_on_some_frames_leaves_the_rest_and_the_suggestions():
    entry = _video()
    changed = apply_edits(entry, [{"op": "action", "track": 0, "action": "keep", "frames": [10, 19]}])
    assert changed.edited and not entry.edited
    assert np.flatnonzero(changed.actions == "keep").tolist() == list(range(10, 20))
    assert changed.actions[-1] == "suggested" and (entry.actions[:FRAMES] == "obscure").all()
    again = apply_edits(changed, [{"op": "action", "track": 0, "action": "keep", "frames": [10, 19]}])
    assert again.actions.tolist() == changed.actions.tolist()


def test_drawn_keys_are_interpolated_as_the_page_does_and_a_refused_op_changes_nothing():
    entry = _video()
    keys = [
        {
            "box": [0.0, 0.0, 10.0, 10.0],
            "score": 1.0,
            "source": "manual",
            "frame": 10,
            "track": 5,
            "action": "obscure",
        },
        {
            "box": [3.0, 1.0, 13.0, 12.0],
            "score": 1.0,
            "source": "manual",
            "frame": 13,
            "track": 5,
            "action": "obscure",
        },
    ]
    drawn = apply_edits(entry, [{"op": "add", "regions": keys}, {"op": "interpolate", "track": 5}])
    filled = [r for r in drawn.records() if r["source"] == "interpolated"]
    # The page's rule: Math.round((a + t * (b - a)) * 10) / 10 on each side of the box.
    assert [(r["frame"], r["box"]) for r in filled] == [
        (11, [1.0, 0.3, 11.0, 10.7]),
        (12, [2.0, 0.7, 12.0, 11.3]),
    ]
    moved = {**keys[1], "frame": 12}
    redrawn = apply_edits(
        drawn, [{"op": "replace", "regions": [[keys[1], moved]]}, {"op": "interpolate", "track": 5}]
    )
    assert sorted(r["frame"] for r in redrawn.records() if r["track"] == 5) == [10, 11, 12]
    with pytest.raises(ValueError, match="no such region"):
        apply_edits(drawn, [{"op": "interpolate", "track": 5}, {"op": "remove", "regions": [moved]}])
    with pytest.raises(ValueError, match="within"):
        apply_edits(entry, [{"op": "action", "track": 0, "action": "keep", "frames": [0, FRAMES]}])
    assert len(drawn.regions) == FRAMES + 1 + 4  # the refused edits left it as it was


def test_zones_are_added_removed_and_checked():
    entry = _video()
    zoned = apply_edits(entry, [{"op": "add_zone", "box": [10, 20, 110.04, 90]}])
    assert (
        zoned.zone_records() == [{"box": [10.0, 20.0, 110.0, 90.0]}] and zoned.edited and not len(entry.zones)
    )
    for bad in [[10, 20, 5, 90], [1, 2, 3], "all", [0, 0, float("nan"), 4]]:
        with pytest.raises(ValueError):
            apply_edits(zoned, [{"op": "add_zone", "box": bad}])
    with pytest.raises(ValueError, match="no such zone"):
        apply_edits(zoned, [{"op": "remove_zone", "box": [10, 20, 111, 90]}])
    assert not len(apply_edits(zoned, [{"op": "remove_zone", "box": [10.0, 20.0, 110.0, 90.0]}]).zones)


def test_a_method_is_chosen_per_track_or_region_and_drawn_keys_pass_it_on():
    entry = _video()
    blurred = apply_edits(entry, [{"op": "method", "track": 0, "method": "blur", "frames": [0, 49]}])
    methods = blurred.regions.data["method"].tolist()
    assert (
        methods[:50] == ["blur"] * 50 and methods[50:] == [None] * 51 and "method" not in entry.regions.data
    )
    back = apply_edits(blurred, [{"op": "method", "track": 0, "method": None}])
    assert set(back.regions.data["method"].tolist()) == {None}
    first = blurred.records()[0]
    assert first["method"] == "blur"
    plain = apply_edits(blurred, [{"op": "replace", "regions": [[first, {**first, "method": "pixelate"}]]}])
    assert plain.records()[0]["method"] == "pixelate" and plain.records()[1]["method"] == "blur"
    keys = [
        {"box": [0, 0, 10, 10], "source": "manual", "frame": 3, "track": 7, "method": "pixelate"},
        {"box": [0, 0, 10, 10], "source": "manual", "frame": 6, "track": 7},
    ]
    drawn = apply_edits(entry, [{"op": "add", "regions": keys}, {"op": "interpolate", "track": 7}])
    assert [r.get("method") for r in drawn.records() if r["source"] == "interpolated"] == ["pixelate"] * 2
    for bad in [
        {"op": "method", "track": 0, "method": "melt"},
        {"op": "add", "regions": [{**keys[0], "method": "x"}]},
    ]:
        with pytest.raises(ValueError, match="method"):
            apply_edits(entry, [bad])


def test_a_track_is_split_at_a_frame_and_merged_back():
    entry = _video()
    split = apply_edits(entry, [{"op": "split", "track": 0, "frame": 40, "into": 1}])
    assert split.edited and (entry.regions.track[:FRAMES] == 0).all()  # the entry is left as it was
    assert split.regions.track.tolist() == [0] * 40 + [1] * 60 + [-1]
    assert split.actions.tolist() == entry.actions.tolist()  # a split changes no action
    kept = apply_edits(split, [{"op": "action", "track": 1, "action": "keep"}])
    assert np.flatnonzero(kept.actions == "keep").tolist() == list(range(40, FRAMES))
    merged = apply_edits(kept, [{"op": "merge", "track": 0, "from": 1}])
    assert (
        merged.regions.track.tolist() == [0] * FRAMES + [-1]
        and merged.actions.tolist() == kept.actions.tolist()
    )
    again = apply_edits(merged, [{"op": "action", "track": 0, "action": "obscure"}])
    assert (again.actions[:FRAMES] == "obscure").all()  # one track: one action for both parts
    part = apply_edits(split, [{"op": "merge", "track": 7, "from": 1, "frames": [50, 59]}])
    assert np.flatnonzero(part.regions.track == 7).tolist() == list(range(50, 60))
    for bad, why in [
        ({"op": "split", "track": 0, "frame": 0, "into": 5}, "both sides"),  # nothing before frame 0
        ({"op": "split", "track": 0, "frame": 40, "into": 0}, "new track"),
        ({"op": "split", "track": 3, "frame": 40, "into": 4}, "both sides"),
        ({"op": "split", "track": 0, "frame": FRAMES, "into": 4}, "frame"),
        ({"op": "merge", "track": 0, "from": 0}, "different"),
        ({"op": "merge", "track": 0, "from": 9}, "no regions"),
        ({"op": "merge", "track": 0, "from": 1, "frames": [0, 39]}, "no regions"),
    ]:
        with pytest.raises(ValueError, match=why):
            apply_edits(split, [bad])


def test_merged_tracks_keep_both_regions_where_they_share_a_frame():
    entry = _video()
    extra = {"box": [100.0, 100.0, 140.0, 150.0], "score": 0.8, "source": "full", "frame": 60, "track": 4}
    both = apply_edits(entry, [{"op": "add", "regions": [extra]}, {"op": "merge", "track": 0, "from": 4}])
    on_60 = both.regions[(both.regions.frame == 60) & (both.regions.track == 0)]
    assert len(on_60) == 2 and [100.0, 100.0, 140.0, 150.0] in on_60.boxes.tolist()


def test_keep_only_is_set_and_checked():
    entry = _video()
    only = apply_edits(entry, [{"op": "keep_only", "value": True}])
    assert only.keep_only and only.edited and not entry.keep_only
    assert not apply_edits(only, [{"op": "keep_only", "value": False}]).keep_only
    with pytest.raises(ValueError, match="keep_only"):
        apply_edits(entry, [{"op": "keep_only", "value": 1}])


CELLS = 64 * 48  # 320 x 240 in cells of 5 px, as the page makes them


def test_a_sweeps_progress_is_merged_kept_in_the_file_and_not_an_edit(tmp_path):
    entry = _video()
    first = "1" * 64 + "0" * (CELLS - 64)
    swept = apply_edits(entry, [{"op": "swept", "cell": 5, "frame": 25, "seen": first}])
    assert swept.swept == {"cell": 5, "seen": {"25": first}}
    assert not swept.edited and not swept.reviewed and entry.swept is None
    second = "0" * 64 + "1" * 64 + "0" * (CELLS - 128)
    both = apply_edits(
        swept,
        [
            {"op": "swept", "cell": 5, "frame": 25, "seen": second},
            {"op": "swept", "cell": 5, "frame": 99, "seen": "1" * CELLS},
        ],
    )
    assert both.swept == {"cell": 5, "seen": {"25": "1" * 128 + "0" * (CELLS - 128), "99": "1" * CELLS}}
    coarser = apply_edits(both, [{"op": "swept", "cell": 10, "frame": 0, "seen": "1" * (32 * 24)}])
    assert coarser.swept == {"cell": 10, "seen": {"0": "1" * (32 * 24)}}  # another grid starts over

    path = tmp_path / "r.json"
    save_document(path, RegionsDocument([both, entry]))
    loaded = load_document(path).files
    assert loaded[0].swept == both.swept
    assert loaded[1].swept is None and "swept" not in json.loads(path.read_text())["files"][1]


def test_a_video_s_cuts_are_kept_and_any_of_its_frames_may_be_swept(tmp_path):
    """A sweep's frames follow the frame rate and the shots' first frames: frame 17 (a cut, neither
    a multiple of 25 nor the last) is stored, and so are the cuts; a file without cuts has none."""
    entry = _video(cuts=[17, 60])
    swept = apply_edits(entry, [{"op": "swept", "cell": 5, "frame": 17, "seen": "1" * CELLS}])
    assert swept.swept == {"cell": 5, "seen": {"17": "1" * CELLS}} and swept.cuts == [17, 60]
    path = tmp_path / "r.json"
    save_document(path, RegionsDocument([swept, _video()]))
    assert json.loads(path.read_text())["files"][0]["cuts"] == [17, 60]
    assert "cuts" not in json.loads(path.read_text())["files"][1]
    loaded = load_document(path).files
    assert (loaded[0].cuts, loaded[0].swept) == ([17, 60], swept.swept) and loaded[1].cuts == []
    for cuts in ([0], [17, 17], [60, 17], [100], [17.0], 17):
        doc = json.loads(path.read_text())
        doc["files"][0]["cuts"] = cuts
        path.write_text(json.dumps(doc))
        with pytest.raises(InputError, match="file entry 0 is malformed: 'cuts'"):
            load_document(path)


@pytest.mark.parametrize(
    ("op", "reason"),
    [
        ({"cell": 4, "frame": 0, "seen": "1" * (80 * 60)}, "cell must be a whole number from 5 to"),
        ({"cell": True, "frame": 0, "seen": "1"}, "cell must be a whole number"),
        ({"cell": 5, "frame": 0, "seen": "1" * (CELLS - 1)}, "one 0 or 1 for each of its 3072 cells"),
        ({"cell": 5, "frame": 0, "seen": "2" * CELLS}, "one 0 or 1 for each of its 3072 cells"),
        ({"cell": 5, "frame": 0, "seen": None}, "one 0 or 1 for each"),
        ({"cell": 5, "frame": 100, "seen": "1" * CELLS}, "needs the 'frame' swept, 0 to 99"),
        ({"cell": 5, "frame": 25.0, "seen": "1" * CELLS}, "needs the 'frame' swept"),
        ({"cell": 10**30, "frame": 0, "seen": "1"}, "cell must be a whole number from 5 to 2147483647"),
    ],
)
def test_a_sweeps_progress_is_checked_as_strictly_as_the_file_is_read(tmp_path, op, reason):
    entry = _video()
    with pytest.raises(ValueError, match=re.escape(reason)):
        apply_edits(entry, [{"op": "swept", **op}])
    if type(op["frame"]) is int:  # the same record in a file is refused on reading, in one line
        record = {"cell": op["cell"], "seen": {str(op["frame"]): op["seen"]}}
        path = tmp_path / "r.json"
        save_document(path, RegionsDocument([entry]))
        doc = json.loads(path.read_text())
        doc["files"][0]["swept"] = record
        path.write_text(json.dumps(doc))
        with pytest.raises(InputError, match="file entry 0 is malformed: 'swept'"):
            load_document(path)
