"""The Regions value: strict column lengths, long source names, extra data columns, per-frame views."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unseen.errors import InputError
from unseen.plan import plan_regions
from unseen.regions import SCHEMA, Regions, nms
from unseen.regions_file import (
    FileEntry,
    RegionsDocument,
    dumps_regions,
    load_document,
    read_regions_file,
    save_document,
)

BOXES = np.array([[10, 10, 50, 60], [100, 20, 140, 70], [30, 200, 90, 280]], np.float32)


def three(**data: object) -> Regions:
    return Regions(BOXES, [0.9, 0.8, 0.7], ["full", "fine", "coarse"], [4, 2, 4], [0, 1, 2], data)


# ---------------------------------------------------------------------------------- core columns


def test_source_names_are_never_cut_short() -> None:
    long = "suggested-turned-mirrored"
    assert Regions.from_boxes(BOXES, source=long).source.tolist() == [long] * 3
    regions = Regions(BOXES, 1.0, ["interpolated", long, "x"])
    assert regions.source[1] == long
    regions.source[2] = long + "-and-then-some"  # a longer name assigned later is kept whole
    assert regions.source[2] == long + "-and-then-some"
    joined = Regions.concat([regions, Regions.from_boxes(BOXES[:1], source="short")])
    assert joined.source.tolist() == ["interpolated", long, long + "-and-then-some", "short"]
    back = Regions.from_records(regions.to_records())
    assert back.source.tolist() == regions.source.tolist()


@pytest.mark.parametrize("column", ["scores", "source", "frame", "track"])
@pytest.mark.parametrize("values", [[1, 2], [1], [1, 2, 3, 4]], ids=["short", "one", "long"])
def test_a_column_of_the_wrong_length_is_refused(column: str, values: list[int]) -> None:
    with pytest.raises(ValueError, match=column):
        Regions(BOXES, **{column: values})


def test_scalars_are_repeated_for_every_region() -> None:
    regions = Regions(BOXES, 0.5, "full", 7, 3)
    assert regions.scores.tolist() == [0.5] * 3
    assert regions.source.tolist() == ["full"] * 3
    assert regions.frame.tolist() == [7] * 3 and regions.track.tolist() == [3] * 3
    default = Regions(BOXES, None, None, None, None)  # None: the default for every region
    assert default.scores.tolist() == [1.0] * 3 and default.source.tolist() == [""] * 3
    assert default.frame.tolist() == [0] * 3 and default.track.tolist() == [-1] * 3
    empty = Regions()
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.frame.shape == (0,)
    with pytest.raises(ValueError, match="boxes"):
        Regions(np.zeros((3, 5), np.float32))


def test_an_integer_index_gives_one_region() -> None:
    regions = three()
    for index in (1, -2, np.int64(1)):
        one = regions[index]
        assert isinstance(one, Regions) and len(one) == 1
        np.testing.assert_array_equal(one.boxes, BOXES[1:2])
        assert one.source.tolist() == ["fine"] and one.frame.tolist() == [2] and one.track.tolist() == [1]
    with pytest.raises(IndexError):
        regions[3]
    assert len(regions[1:]) == 2 and len(regions[regions.frame == 4]) == 2 and len(regions[[2, 0]]) == 2


# ---------------------------------------------------------------------------------- data columns


def test_data_columns_are_validated() -> None:
    regions = three(action=["obscure", "keep", "suggested"], score_hint=0.5)
    assert regions.data["action"].tolist() == ["obscure", "keep", "suggested"]
    assert regions.data["score_hint"].tolist() == [0.5] * 3  # a scalar is repeated
    regions.data["action"][1] = "suggested-by-the-second-detector"  # text is never cut short
    assert regions.data["action"][1] == "suggested-by-the-second-detector"
    with pytest.raises(ValueError, match="action"):
        three(action=["obscure", "keep"])
    with pytest.raises(ValueError, match="box"):
        three(box=[1, 2, 3])  # a record key of the core columns
    assert three().data == {}


def test_data_travels_through_indexing_concat_plan_and_nms() -> None:
    regions = three(action=["obscure", "keep", "suggested"], note=np.array([1.5, 2.5, 3.5]))
    assert regions[2].data["action"].tolist() == ["suggested"]
    assert regions[[2, 0]].data["note"].tolist() == [3.5, 1.5]
    assert regions[regions.frame == 4].data["action"].tolist() == ["obscure", "suggested"]
    assert regions[:0].data["action"].shape == (0,)
    joined = Regions.concat([regions, regions[1:2]])
    assert joined.data["action"].tolist() == ["obscure", "keep", "suggested", "keep"]
    assert joined.data["note"].dtype == np.float64
    with pytest.raises(ValueError, match="data columns"):
        Regions.concat([regions, Regions.from_boxes(BOXES[:1])])
    assert Regions.concat([regions[:0]]).data.keys() == {"action", "note"}
    planned = plan_regions(regions, (300, 300))
    assert planned.data["action"].tolist() == ["obscure", "keep", "suggested"]
    # nms: the best-scoring box of an overlapping group survives with its own data.
    overlapping = Regions(
        [[10, 10, 50, 50], [12, 12, 52, 52], [200, 200, 240, 240]],
        [0.4, 0.9, 0.5],
        data={"action": ["keep", "obscure", "suggested"]},
    )
    kept = nms(overlapping, 0.3)
    assert kept.data["action"].tolist() == ["obscure", "suggested"]
    np.testing.assert_allclose(kept.boxes[0], [10, 10, 52, 52])


def test_records_round_trip_unknown_keys(tmp_path) -> None:
    records = [
        {"box": [1.0, 2.0, 11.0, 12.0], "score": 0.5, "source": "full", "frame": 0, "track": 3},
        {"box": [5.0, 5.0, 9.0, 9.0], "score": 0.25, "source": "suggested-turned", "frame": 2, "track": -1},
    ]
    records[0].update(action="keep", note="reviewed by hand", polygon=[[1, 2], [3, 4]], votes=2)
    records[1].update(action="suggested", flagged=True, votes=5)
    regions = Regions.from_records(records)
    assert regions.data["votes"].tolist() == [2, 5] and regions.data["votes"].dtype == np.int64
    assert regions.data["note"].tolist() == ["reviewed by hand", None]  # absent from the second record
    assert regions.to_records() == records
    # Through a real regions file on disk.
    # Through a real regions file on disk: unknown keys survive; the action is the entry's own column.
    entry = {"input": "in.jpg", "output": "out.jpg", "kind": "video", "width": 20, "height": 20, "frames": 3}
    doc = {"schema": SCHEMA, "files": [{**entry, "regions": regions.to_records()}]}
    path = tmp_path / "regions.json"
    path.write_text(json.dumps(doc))
    without_action = [{k: v for k, v in r.items() if k != "action"} for r in records]
    assert read_regions_file(path)["in.jpg"].to_records() == without_action
    plain = Regions.from_boxes(BOXES, source="full")
    assert set(plain.to_records()[0]) == {"box", "score", "source", "frame", "track"}


def test_by_frame() -> None:
    regions = three(action=["a", "b", "c"])
    frames = regions.by_frame()
    assert list(frames) == [2, 4]
    assert frames[4].data["action"].tolist() == ["a", "c"]  # in their original order
    assert frames[2].source.tolist() == ["fine"]
    np.testing.assert_array_equal(frames[4].boxes, BOXES[[0, 2]])
    assert Regions().by_frame() == {}


def test_the_file_is_written_line_by_line_as_json_writes_each_record(tmp_path):
    """Review rewrites the file after every edit, so the regions are written column by column; the text is
    the same as the general writer's, to the last digit."""
    n = 50
    regions = Regions(np.full((n, 4), 7.25), 0.9, "full", np.arange(n), 0)
    entry = FileEntry(
        "in.mp4", "out.mp4", "video", 320, 240, n, regions, ["keep"] * n, size=10, sha256="0" * 64
    )
    entry.regions.boxes[:3] = [
        [0.05, 0.25, 0.15, 1e-3],
        [1e5 + 0.05, 2.35, 7.45, 9.95],
        [-0.0, 1 / 3, 2 / 3, 9.9999],
    ]
    entry.regions.scores[:2] = [0.00005, 0.123456]
    entry.regions.source[4] = 'odd "quoted" \u00e9'
    assert entry.region_lines() == [json.dumps(r, ensure_ascii=False) for r in entry.records()]
    entry.regions.data["method"] = np.array([None, "blur", None, "pixelate", *[None] * (n - 4)], object)
    assert entry.region_lines() == [json.dumps(r, ensure_ascii=False) for r in entry.records()]
    entry.regions.data["kind"] = np.array(["text", None, "face", *["text"] * (n - 3)], object)  # --text
    assert entry.region_lines() == [json.dumps(r, ensure_ascii=False) for r in entry.records()]
    doc = RegionsDocument(
        [entry, FileEntry("a.png", "b.png", "image", 9, 9, 1, Regions())], {"method": "fill"}
    )
    save_document(tmp_path / "r.json", doc)
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == dumps_regions(doc.to_json())


def test_static_zones_are_written_and_read_back_and_files_without_them_still_load(tmp_path):
    plain = FileEntry("a.png", "b.png", "image", 9, 9, 1, Regions())
    zoned = FileEntry("c.mp4", "d.mp4", "video", 64, 48, 5, Regions(), zones=[[1, 2, 30.25, 40]])
    save_document(tmp_path / "r.json", RegionsDocument([plain, zoned]))
    raw = json.loads((tmp_path / "r.json").read_text())
    assert "zones" not in raw["files"][0]  # the layout of files without zones is unchanged
    assert raw["files"][1]["zones"] == [{"box": [1.0, 2.0, 30.2, 40.0]}]
    back = load_document(tmp_path / "r.json").files
    assert back[0].zones.shape == (0, 4) and back[1].zone_records() == raw["files"][1]["zones"]
    raw["files"][1]["zones"] = [{"box": [5, 5, 1, 1]}]
    (tmp_path / "r.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match="file entry 1 is malformed"):
        load_document(tmp_path / "r.json")


def test_keep_only_is_written_only_when_set_and_checked(tmp_path):
    plain = FileEntry("a.png", "b.png", "image", 9, 9, 1, Regions())
    only = FileEntry("c.png", "d.png", "image", 9, 9, 1, Regions(), keep_only=True)
    save_document(tmp_path / "r.json", RegionsDocument([plain, only]))
    raw = json.loads((tmp_path / "r.json").read_text())
    assert "keep_only" not in raw["files"][0] and raw["files"][1]["keep_only"] is True
    assert [f.keep_only for f in load_document(tmp_path / "r.json").files] == [False, True]
    raw["files"][1]["keep_only"] = "yes"
    (tmp_path / "r.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match="file entry 1 is malformed: 'keep_only' must be true or false"):
        load_document(tmp_path / "r.json")
