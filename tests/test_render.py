"""Rendering outputs from a corrected regions file, without detecting again (``unseen render``)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from clips import make_clip
from PIL import Image
from scenes import compose_crowd, covered_fraction

from unseen import api
from unseen.errors import InputError
from unseen.regions import Regions
from unseen.regions_file import (
    FileEntry,
    RegionsDocument,
    fingerprint,
    load_document,
    read_regions_file,
    save_document,
    write_regions_file,
)
from unseen.render import options_from_record, painted

BLACK = (0, 0, 0)
MISSED = (230.0, 20.0, 270.0, 70.0)  # a "face" the detector did not report: a person draws it
SUGGESTED = (250.0, 180.0, 290.0, 230.0)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A PNG with two real faces (lossless, so a kept face must come out bit for bit)."""
    scene = compose_crowd([60, 60], (256, 320), seed=1, background_kind="coffee", vary=False)
    path = tmp_path_factory.mktemp("photo") / "two.png"
    Image.fromarray(scene.image).save(path)
    return path, scene.image, scene.boxes


def _detected(photo: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> Path:
    src, _, boxes = photo
    report = api.anonymise_file(src, tmp_path / "two.unseen.png", overwrite=True)
    assert len(report.regions) == len(boxes) == 2
    regions_path = tmp_path / "regions.json"
    write_regions_file(regions_path, [report], api.Options())
    return regions_path


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_render_paints_only_what_the_review_left_to_obscure(photo, tmp_path):
    src, original, boxes = photo
    regions_path = _detected(photo, tmp_path)
    doc = load_document(regions_path)
    entry = doc.files[0]
    assert entry.sha256 == fingerprint(src)[1] and entry.actions.tolist() == ["obscure", "obscure"]
    # Keep the face on the left visible, draw one over a missed face, leave one suggestion unaccepted.
    kept = int(np.argmin(entry.regions.boxes[:, 0]))
    actions = entry.actions.copy()
    actions[kept] = "keep"
    drawn = Regions.from_boxes([MISSED, SUGGESTED], [1.0, 0.04], source="manual")
    entry.regions = Regions.concat([entry.regions, drawn])
    entry.actions = np.concatenate([actions, ["obscure", "suggested"]])
    save_document(regions_path, doc)
    dst = Path(entry.output)
    dst.unlink()

    reports = api.render(regions_path)

    assert [r.dst for r in reports] == [dst]
    out = _read(dst)
    order = np.argsort(boxes[:, 0])
    kept_box, covered_box = boxes[order[0]], boxes[order[1]]
    x1, y1, x2, y2 = (int(v) for v in kept_box)
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])  # kept face: unchanged
    assert covered_fraction(original, out, covered_box, color=BLACK) >= 0.95
    assert covered_fraction(original, out, MISSED, color=BLACK) >= 0.95
    sx1, sy1, sx2, sy2 = (int(v) for v in SUGGESTED)
    assert np.array_equal(out[sy1:sy2, sx1:sx2], original[sy1:sy2, sx1:sx2])  # not accepted: not painted
    # Render honours the recorded options (here a white fill), not the defaults.
    raw = json.loads(regions_path.read_text())
    raw["options"]["color"] = [255, 255, 255]
    regions_path.write_text(json.dumps(raw))
    api.render(regions_path, overwrite=True)
    assert covered_fraction(original, _read(dst), MISSED, color=(255, 255, 255)) >= 0.95


def test_render_refuses_a_regions_file_made_for_another_file(photo, tmp_path):
    regions_path = _detected(photo, tmp_path)
    entry = load_document(regions_path).files[0]
    dst = Path(entry.output)
    dst.unlink()
    src = tmp_path / "two.png"
    src.write_bytes(photo[0].read_bytes())
    raw = json.loads(regions_path.read_text())
    raw["files"][0]["input"] = str(src)
    regions_path.write_text(json.dumps(raw))
    api.render(regions_path)  # the same bytes elsewhere: fine
    dst.unlink()
    with Image.open(src) as im:  # same size, one pixel different: another file
        pixels = np.asarray(im).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(src)
    with pytest.raises(InputError, match="two.png.*not the file the regions file describes"):
        api.render(regions_path)
    assert not dst.exists()


def test_version_1_files_are_read_and_rendered_as_all_obscured(photo, tmp_path):
    src, original, boxes = photo
    records = Regions.from_boxes(boxes, source="full").to_records()
    v1 = {
        "schema": "unseen.regions/1",
        "tool": "unseen 0.1.0",
        "files": [
            {
                "input": str(src),
                "output": str(tmp_path / "out.png"),
                "kind": "image",
                "width": 320,
                "height": 256,
                "frames": 1,
                "regions": records,
            }
        ],
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    assert read_regions_file(path)[str(src)].to_records() == records
    entry = load_document(path).files[0]
    assert (entry.reviewed, entry.sha256, entry.actions.tolist()) == (False, None, ["obscure", "obscure"])
    with pytest.raises(InputError, match="cannot be verified"):  # no fingerprint: only when asked
        api.render(path)
    api.render(path, unverified=True)
    out = _read(tmp_path / "out.png")
    for box in boxes:
        assert covered_fraction(original, out, box, color=BLACK) >= 0.95
    # Without a fingerprint, a picture of another size is still refused.
    v1["files"][0]["width"] = 321
    v1["files"][0]["output"] = str(tmp_path / "other.png")
    path.write_text(json.dumps(v1))
    with pytest.raises(InputError, match="320 x 256.*321 x 256"):
        api.render(path, unverified=True)
    assert not (tmp_path / "other.png").exists()


def test_malformed_edits_are_refused(tmp_path):
    good = {"box": [1, 2, 3, 4], "score": 1, "source": "manual", "frame": 0, "track": -1, "action": "keep"}
    for bad in [
        {**good, "action": "hide"},
        {**good, "box": [1, 2, 3]},
        {**good, "box": [1, 2, 3, 1e39]},  # finite in JSON, not as the float32 it is stored as
        {**good, "frame": 1},
    ]:
        doc = {
            "schema": "unseen.regions/2",
            "files": [
                {"input": "a.png", "output": "b.png", "kind": "image", "width": 9, "height": 9}
                | {"frames": 1, "regions": [good, bad]}
            ],
        }
        path = tmp_path / "r.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(InputError, match="r.json: file entry 0 is malformed"):
            load_document(path)


def test_image_method_needs_its_picture():
    with pytest.raises(InputError, match="--image"):
        options_from_record({"method": "image"})
    overlay = np.zeros((4, 4, 4), np.uint8)
    assert options_from_record({"method": "image"}, overlay).obscure.method == "image"


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_video_renders_tracks_with_their_edits(tmp_path):
    src = make_clip(tmp_path / "clip.mp4", frames=20, size=(160, 120), audio=False)
    size, sha = fingerprint(src)
    painted = Regions.from_boxes([[40, 30, 80, 70]] * 10, source="full", track=0)
    painted.frame = np.arange(5, 15, dtype=np.int32)
    kept = Regions.from_boxes([[100, 60, 140, 100]] * 20, source="full", track=1)
    kept.frame = np.arange(20, dtype=np.int32)
    regions = Regions.concat([painted, kept])
    entry = FileEntry(
        str(src), str(tmp_path / "out.mp4"), "video", 160, 120, 20, regions, ["obscure"] * 10 + ["keep"] * 20
    )
    entry.size, entry.sha256 = size, sha
    path = tmp_path / "regions.json"
    save_document(path, RegionsDocument([entry], {"margin": 0.0, "head_top": 0.0, "shape": "box"}))

    api.render(path)

    source, out = _frames(src), _frames(tmp_path / "out.mp4")
    assert len(out) == 20
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        black = covered_fraction(a, b, (42, 32, 78, 68), tol=30, color=BLACK)
        assert black >= (0.95 if 5 <= i < 15 else 0.0), f"frame {i}"
        if not 5 <= i < 15:
            assert black < 0.2, f"frame {i} painted outside its track"
        visible = np.abs(a[62:98, 102:138].astype(int) - b[62:98, 102:138]).mean()
        assert visible < 12, f"kept track painted on frame {i}"
    # A region on a frame the video does not have: the regions are not this video's.
    bad = tmp_path / "bad.mp4"
    with pytest.raises(InputError, match="clip.mp4: has 20 frames, but the regions name frame 25"):
        api.anonymise_video_file(src, bad, regions=Regions.from_boxes([[1, 1, 9, 9]], frame=25))
    assert not bad.exists()


def test_video_renders_a_track_with_its_own_method_and_a_static_zone(tmp_path):
    src = make_clip(tmp_path / "clip.mp4", frames=12, size=(160, 120), audio=False)
    size, sha = fingerprint(src)
    track = Regions.from_boxes([[20, 20, 70, 70]] * 12, source="full", track=0)
    track.frame = np.arange(12, dtype=np.int32)
    track.data["method"] = np.array(["pixelate"] * 12, object)
    entry = FileEntry(
        str(src),
        str(tmp_path / "out.mp4"),
        "video",
        160,
        120,
        12,
        track,
        size=size,
        sha256=sha,
        zones=[[100, 60, 150, 110]],
    )
    path = tmp_path / "regions.json"
    save_document(path, RegionsDocument([entry], {"margin": 0.0, "head_top": 0.0, "shape": "box"}))
    assert load_document(path).files[0].regions.data["method"].tolist() == ["pixelate"] * 12

    api.render(path)

    source, out = _frames(src), _frames(tmp_path / "out.mp4")
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        assert covered_fraction(a, b, (102, 62, 148, 108), tol=30, color=BLACK) >= 0.95, f"frame {i}"  # zone
        assert covered_fraction(a, b, (22, 22, 68, 68), tol=30, color=BLACK) < 0.2, f"frame {i}"  # not filled
        assert covered_fraction(a, b, (22, 22, 68, 68), tol=4) >= 0.5, f"frame {i}"  # but pixelated


def test_keep_only_covers_everything_but_the_kept_face(photo, tmp_path):
    """Two faces, only one of them in the file (kept): the other face, never found, and the whole
    background are painted; a region a person drew over part of the kept face stays painted."""
    src, original, boxes = photo
    size, sha = fingerprint(src)
    kept, missed = boxes[0], boxes[1]
    corner = [kept[0], kept[1], (kept[0] + kept[2]) / 2, (kept[1] + kept[3]) / 2]
    regions = Regions.concat([Regions.from_boxes([kept], source="full"), Regions.from_boxes([corner])])
    entry = FileEntry(
        str(src), str(tmp_path / "out.png"), "image", 320, 256, 1, regions, ["keep", "obscure"], size, sha
    )
    entry.keep_only = True
    path = tmp_path / "regions.json"
    save_document(path, RegionsDocument([entry], {"shape": "box", "margin": 0.0, "head_top": 0.0}))
    assert load_document(path).files[0].keep_only

    api.render(path)

    out = _read(tmp_path / "out.png")
    x1, y1, x2, y2 = int(np.ceil(corner[2])), int(np.ceil(kept[1])), int(kept[2]), int(kept[3])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])  # the kept face but its corner
    assert covered_fraction(original, out, corner, color=BLACK) == 1.0
    assert covered_fraction(original, out, missed, color=BLACK) == 1.0  # the face nobody found
    assert covered_fraction(original, out, (0, 0, 320, 256), color=BLACK) > 0.9  # and the rest


def test_a_rendered_photo_counts_the_faces_obscured_not_the_zones_or_the_whole_picture(photo, tmp_path):
    src, _, boxes = photo
    size, sha = fingerprint(src)
    regions = Regions.from_boxes(boxes, source="full")
    entry = FileEntry(
        str(src), str(tmp_path / "out.png"), "image", 320, 256, 1, regions, ["obscure", "obscure"], size, sha
    )
    entry.zones = np.array([[280.0, 200.0, 310.0, 250.0]])
    path = tmp_path / "regions.json"
    for keep_only in (False, True):
        entry.keep_only = keep_only
        save_document(path, RegionsDocument([entry], {}))
        (report,) = api.render(path, overwrite=True)
        assert (report.faces, report.candidates) == (2, 0), f"keep only: {keep_only}"


def test_keep_only_video_pixelates_all_but_the_kept_track(tmp_path):
    src = make_clip(tmp_path / "clip.mp4", frames=12, size=(160, 120), audio=False)
    size, sha = fingerprint(src)
    track = Regions.from_boxes([[20, 20, 70, 70]] * 12, source="full", track=0)
    track.frame = np.arange(12, dtype=np.int32)
    entry = FileEntry(
        str(src), str(tmp_path / "out.mp4"), "video", 160, 120, 12, track, ["keep"] * 12, size, sha
    )
    entry.keep_only = True
    path = tmp_path / "regions.json"
    options = {"method": "pixelate", "margin": 0.0, "head_top": 0.0, "shape": "box"}
    save_document(path, RegionsDocument([entry], options))

    (report,) = api.render(path)
    assert report.faces == 0  # the one track is kept visible

    source, out = _frames(src), _frames(tmp_path / "out.mp4")
    assert len(out) == 12
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        assert np.abs(a[22:68, 22:68].astype(int) - b[22:68, 22:68]).mean() < 8, f"kept, frame {i}"
        assert covered_fraction(a, b, (80, 0, 160, 120), tol=4) > 0.5, f"not pixelated, frame {i}"
        assert covered_fraction(a, b, (80, 0, 160, 120), color=BLACK, tol=30) < 0.2  # the file's method
        cells = b[:, 80:160].astype(int).reshape(120, 80 // 20, 20, 3)  # 8 cells across 160 px: 20 px each
        assert np.abs(cells - cells[:, :, :1]).mean() < 12, f"frame {i}: not in 20 px cells"


def test_a_kept_face_stays_visible_under_its_own_boxes_but_not_under_a_neighbour(photo, tmp_path):
    """A box over the kept face's eyes (the same face, found twice) does not cover it; a neighbour's
    face overlapping it stays covered, and so does a box over the eyes on a frame where it is not kept."""
    src, original, boxes = photo
    size, sha = fingerprint(src)
    kept = boxes[1]  # 32..77 x 51..111
    eyes = [40.0, 65.0, 70.0, 80.0]
    neighbour = [62.0, 40.0, 112.0, 100.0]  # a quarter of it over the kept face: another face
    regions = Regions.from_boxes([kept, eyes, neighbour], source="full")
    entry = FileEntry(
        str(src),
        str(tmp_path / "out.png"),
        "image",
        320,
        256,
        1,
        regions,
        ["keep", "obscure", "obscure"],
        size,
        sha,
    )
    path = tmp_path / "regions.json"
    save_document(path, RegionsDocument([entry], {"shape": "box", "margin": 0.0, "head_top": 0.0}))

    api.render(path)

    out = _read(tmp_path / "out.png")
    x1, y1, y2 = int(np.ceil(kept[0])), int(np.ceil(kept[1])), int(kept[3])
    assert np.array_equal(out[y1:y2, x1:62], original[y1:y2, x1:62])  # the kept face but the neighbour's part
    assert covered_fraction(original, out, neighbour, color=BLACK) == 1.0
    assert covered_fraction(original, out, boxes[0], color=BLACK) == 0.0  # nothing else painted


def test_only_the_boxes_of_a_face_kept_on_that_frame_give_way_to_it():
    """Per frame: the eyes box on frame 2, where the face is not kept, is painted as any region, and
    so is a box a person drew over the kept face."""
    found = {"source": "full"}
    regions = Regions.from_records(
        [
            {"box": [10, 10, 50, 60], "frame": 1, "track": 0, **found},
            {"box": [20, 20, 40, 30], "frame": 1, **found},
            {"box": [20, 20, 40, 30], "frame": 2, **found},
            {"box": [10, 10, 50, 60], "frame": 2, "track": 0, **found},
            {"box": [15, 40, 45, 60], "frame": 1, "source": "manual"},
        ]
    )
    actions = ["keep", "obscure", "obscure", "obscure", "obscure"]
    entry = FileEntry("in.mp4", "out.mp4", "video", 100, 80, 3, regions, actions)
    paint = painted(entry, options_from_record({}))
    assert paint.source.tolist() == ["full", "kept", "full", "full", "manual"]
    assert paint.frame.tolist() == [1, 1, 2, 2, 1]
    assert painted(entry, options_from_record({}), frame=2).source.tolist() == ["full", "full"]
