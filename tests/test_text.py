"""The opt-in text pass (--text): plates and badges found and obscured, regions of kind text."""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from clips import make_clip
from PIL import Image
from scenes import background
from texts import Plate, plate_covered, render_plates

from unseen import api
from unseen.audit.cli import main as audit_main
from unseen.cli import main
from unseen.detect import text as text_detect
from unseen.detect.tiles import tiles
from unseen.media.video import read_frames
from unseen.obscure import ObscureOptions
from unseen.plan import PlanOptions, plan_regions
from unseen.regions import Regions, kinds, with_kind
from unseen.regions_file import load_document, read_regions_file
from unseen.review.detection import detect_photo, detect_video
from unseen.scale.segments import plan
from unseen.text_track import text_track_options
from unseen.track import Tracker

PLATES = [
    Plate("AB 1234", 10, 200, 150),
    Plate("KX 5829", 14, 620, 170, angle=25, tilt=0.2),
    Plate("MN 40", 20, 1000, 180, angle=-90, style="yellow", blur=0.8),
    Plate("P 7C 9", 12, 260, 560, angle=-35, blur=0.7, style="badge"),
    Plate("RT 881", 30, 700, 600, tilt=0.3, style="yellow"),
    Plate("ZZ 26", 60, 1150, 620, angle=10),
]


@cache
def plate_scene() -> tuple[np.ndarray, tuple]:
    """A 1400 x 800 photo with plates and badges of 10-60 px characters, turned, tilted, blurred."""
    image, quads = render_plates(background((800, 1400), seed=3, kind="coffee"), PLATES, noise=3.0)
    image.setflags(write=False)
    return image, tuple(quads)


def test_plates_and_badges_are_covered_with_text_and_not_without():
    image, quads = plate_scene()
    with_text = api.anonymise(image, api.Options(text=True))
    without = api.anonymise(image, api.Options())
    covered = [plate_covered(image, with_text.image, q) for q in quads]
    assert min(covered) >= 0.97, covered
    assert max(plate_covered(image, without.image, q) for q in quads) < 0.2
    found = kinds(with_text.regions)
    assert (found == "text").sum() >= len(PLATES)
    assert "kind" not in without.regions.data  # a run without --text writes what it always did


def test_lines_along_the_seam_between_two_tiles_are_covered():
    """Lines as thick as the native view keeps, upright along the seam, inside the tiles' overlap."""
    options = text_detect.TextOptions()
    (_, _, right_end, _), (left_start, _, _, _) = tiles(
        1000, 1600, options.tile_pixels, options.tile_overlap, 32
    )
    seam = (left_start + right_end) / 2
    plates = [
        Plate("AB 1234", height, seam + shift, 130 + 190 * i, angle=90, style="yellow")
        for i, (height, shift) in enumerate([(10, 0), (16, -20), (24, 20), (32, 0), (14, 30)])
    ]
    image, quads = render_plates(background((1000, 1600), seed=4, kind="brick"), plates, noise=3.0)
    out = api.anonymise(image, api.Options(text=True)).image
    assert min(plate_covered(image, out, q) for q in quads) >= 0.97


def test_text_regions_grow_around_the_line_and_faces_upwards_for_hair():
    boxes = [[100, 100, 300, 120], [100, 100, 140, 150], [400, 100, 420, 300]]
    regions = Regions.from_boxes(boxes)
    regions.data["kind"] = np.array(["text", "face", "text"], object)
    planned = plan_regions(regions, (1000, 1000), PlanOptions(margin=0.25, head_top=0.15, text_margin=0.3))
    line, face, turned = planned.boxes.tolist()
    assert line == pytest.approx([94, 94, 306, 126])  # 0.3 of its height on every side, not its length
    assert face == pytest.approx([90, 80, 150, 162.5])  # a face grows by its size and upwards for hair
    assert turned == pytest.approx([394, 94, 426, 306])  # a turned line: 0.3 of its width


def test_text_is_painted_as_a_box_whatever_the_shape(tmp_path: Path):
    image = np.full((100, 200, 3), 200, np.uint8)
    regions = with_kind(Regions.from_boxes([[20, 20, 180, 40]]), "text")
    options = api.Options(plan=PlanOptions(text_margin=0.0))
    out = api.anonymise(image, options, regions).image
    assert (out[20:40, 20:180] == 0).all()  # the corners too: an ellipse would leave them
    assert (out[:20] == 200).all() and (out[40:] == 200).all()


def test_cli_text_counts_apart_and_regions_file_keeps_kind(tmp_path: Path, capsys):
    image, quads = plate_scene()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(image).save(src / "street.png")
    regions = tmp_path / "regions.json"
    assert main([str(src), "-o", str(tmp_path / "out"), "--text", "--json", "--regions", str(regions)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["texts"] >= len(PLATES) and report["files"][0]["texts"] == report["texts"]
    assert report["faces"] == 0  # plates are not faces
    doc = json.loads(regions.read_text())
    assert doc["options"]["text"] is True
    records = doc["files"][0]["regions"]
    assert {r["kind"] for r in records} <= {"face", "text"}
    assert sum(r["kind"] == "text" for r in records) == report["texts"]
    back = read_regions_file(regions)[str(src / "street.png")]
    assert (kinds(back) == np.array([r["kind"] for r in records], object)).all()
    output = np.array(Image.open(tmp_path / "out" / "street.png"))
    assert min(plate_covered(image, output, q) for q in quads) >= 0.97

    # rendering the file paints the text again, from the file's regions alone
    (tmp_path / "out" / "street.png").unlink()
    assert main(["render", str(regions)]) == 0
    rendered = np.array(Image.open(tmp_path / "out" / "street.png"))
    assert min(plate_covered(image, rendered, q) for q in quads) >= 0.97


def test_old_regions_files_load_as_faces(tmp_path: Path):
    regions = tmp_path / "old.json"
    entry = {"input": "a.png", "output": "b.png", "kind": "image", "width": 10, "height": 10, "frames": 1}
    entry["regions"] = [{"box": [1, 1, 5, 5], "score": 0.9, "source": "full", "frame": 0, "track": -1}]
    regions.write_text(json.dumps({"schema": "unseen.regions/2", "files": [entry]}))
    loaded = load_document(regions).files[0].regions
    assert kinds(loaded).tolist() == ["face"]


def test_unknown_region_kind_is_refused(tmp_path: Path):
    regions = tmp_path / "odd.json"
    entry = {"input": "a.png", "output": "b.png", "kind": "image", "width": 10, "height": 10, "frames": 1}
    entry["regions"] = [{"box": [1, 1, 5, 5], "kind": "plate"}]
    regions.write_text(json.dumps({"schema": "unseen.regions/2", "files": [entry]}))
    with pytest.raises(Exception, match="unknown region kind 'plate'"):
        load_document(regions)


def test_text_without_the_extra_is_a_one_line_error(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr(text_detect.importlib.util, "find_spec", lambda name: None)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    assert main([str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--text"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'unseen[text]'" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_plate_crossing_a_video_is_covered_in_every_frame(tmp_path: Path):
    """In through the left edge, out through the right, text looked for on every 16th frame only."""
    base = background((272, 480), seed=5, kind="rocket")
    moving = [Plate("KL 3096", 16, -70 + 10 * i, 150 + i / 2, angle=8, style="yellow") for i in range(64)]
    frames = [render_plates(base, [plate])[0] for plate in moving]
    quads = [render_plates(base, [plate])[1][0] for plate in moving]
    src = make_clip(
        tmp_path / "street.mp4", frames=64, size=(480, 272), pictures=frames.__getitem__, audio=False
    )
    magenta = (255, 0, 255)
    options = api.Options(obscure=ObscureOptions(color=magenta), text=True)
    report = api.anonymise_video_file(src, tmp_path / "out.mp4", options)
    assert report.texts >= 1 and report.faces == 0
    text = report.regions[kinds(report.regions) == "text"]
    looked = set(text.frame[text.source == "text"].tolist())  # the frames the network saw it on
    assert looked == {16, 32, 48}  # on every 16th frame (at 0 it was not in the picture yet)
    visible = [i for i, q in enumerate(quads) if q[:, 0].max() > 0 and q[:, 0].min() < 480]
    assert set(text.frame.tolist()) >= set(visible) and (text.track >= 1 << 30).all()
    out = [f.pixels for f in read_frames(tmp_path / "out.mp4")]
    assert len(out) == 64
    covered = [plate_covered(frames[i], out[i], quads[i], tol=60, color=magenta) for i in range(64)]
    assert min(covered) >= 0.95, covered


def test_a_plate_coming_into_view_between_looks_is_covered_from_its_first_frame(tmp_path: Path):
    """A parked car's plate uncovered at frame 19 (a van drives off): first looked at on frame 32."""
    base = background((240, 320), seed=7, kind="brick")
    plate = Plate("ZT 4418", 14, 160, 120, style="plate")
    shown, (quad,) = render_plates(base, [plate])
    src = make_clip(
        tmp_path / "parked.mp4", frames=48, size=(320, 240), pictures=lambda i: shown if i >= 19 else base
    )
    options = api.Options(obscure=ObscureOptions(color=(255, 0, 255)), text=True)
    report = api.anonymise_video_file(src, tmp_path / "out.mp4", options)
    text = report.regions[kinds(report.regions) == "text"]
    assert set(text.frame[text.source == "text"].tolist()) == {32}
    out = [f.pixels for f in read_frames(tmp_path / "out.mp4")]
    covered = [plate_covered(shown, out[i], quad, tol=60, color=(255, 0, 255)) for i in range(19, 48)]
    assert min(covered) >= 0.95, covered


def test_review_of_a_video_starts_from_the_text_regions_the_command_line_paints(tmp_path: Path):
    """Review looks for text on the keyframes the command line looks on, so it shows what a run paints."""
    base = background((240, 320), seed=7, kind="brick")
    shown, _ = render_plates(base, [Plate("ZT 4418", 14, 160, 120, style="plate")])
    src = make_clip(tmp_path / "parked.mp4", frames=40, size=(320, 240), pictures=lambda i: shown)
    options = api.Options(text=True)
    run = api.anonymise_video_file(src, tmp_path / "out.mp4", options).regions
    entry = detect_video(src, tmp_path / "review.mp4", options)
    painted = entry.regions[entry.actions == "obscure"]
    text, reviewed = run[kinds(run) == "text"], painted[kinds(painted) == "text"]
    assert set(text.frame[text.source == "text"].tolist()) == {0, 16, 32}
    assert reviewed.to_records() == text.to_records()


def test_text_tracks_look_as_far_ahead_as_faces():
    """A worker's margin is sized from the face tracker's look-ahead: the text tracker's is no longer."""
    faces = Tracker(frame_size=(720, 1280))
    text = Tracker(text_track_options(faces.options), frame_size=(720, 1280))
    assert text.options.detect_every == 2 * faces.options.detect_every
    assert text.options.extend >= text.options.detect_every  # carried until the next look
    assert text.lag == faces.lag


class _Recording:
    """The real text network, noting the size of each picture it is given."""

    def __init__(self, model: text_detect.TextModel) -> None:
        self.model, self.sizes, self.threads = model, [], set()

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        self.sizes.append(rgb.shape[:2])
        self.threads.add(threading.get_ident())
        return self.model.probabilities(rgb)


def test_large_text_in_a_720p_frame_is_found_in_a_quarter_size_view():
    """A 720p frame costs its native tile and a 320 x 180 view (not a 640 x 360 one: 16 % of the
    network's pixels), and signs too large for the native view are still covered there."""
    signs = [Plate("EXIT 4", 120, 640, 200, style="yellow"), Plate("KX 58", 90, 1100, 420, angle=80)]
    image, quads = render_plates(background((720, 1280), seed=3, kind="coffee"), signs, noise=3.0)
    network = _Recording(text_detect.shared_text_detector().model)
    text_detect.TextDetector(network)(image)
    assert sorted(network.sizes) == [(192, 320), (736, 1280)]
    out = api.anonymise(image, api.Options(text=True)).image
    assert min(plate_covered(image, out, q) for q in quads) >= 0.9


def test_tiles_run_side_by_side_on_one_thread_each_and_find_what_one_at_a_time_finds():
    image, _ = plate_scene()  # two native tiles and two reduced views
    model = text_detect.shared_text_detector().model
    assert model._session.get_session_options().intra_op_num_threads == 1
    alone, beside = _Recording(model), _Recording(model)
    one = text_detect.TextDetector(alone, workers=1)(image)
    two = text_detect.TextDetector(beside, workers=2)(image)
    assert len(alone.threads) == 1 and len(beside.threads) == 2
    assert sorted(beside.sizes) == sorted(alone.sizes) and len(alone.sizes) == 4
    assert len(one) >= len(PLATES) and np.array_equal(one.boxes, two.boxes)
    assert np.array_equal(one.scores, two.scores)


def test_a_view_keeps_only_the_lines_it_is_trusted_for():
    prob = np.zeros((200, 300), np.float32)
    prob[20:30, 20:200] = 0.9  # a line 10 px thick
    prob[80:160, 40:140] = 0.9  # a blob 80 px thick: left to the smaller views
    options = text_detect.TextOptions()
    thin, _ = text_detect.boxes_from_map(prob, options, max_line=32)
    both, scores = text_detect.boxes_from_map(prob, options)
    assert len(thin) == 1 and len(both) == 2 and (scores > 0.8).all()
    x1, y1, x2, y2 = thin[0]
    assert x1 < 20 and y1 < 20 and x2 > 200 and y2 > 30  # unclipped around the whole line


def test_audit_flags_text_left_readable(tmp_path: Path, capsys):
    image, quads = plate_scene()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(image).save(src / "street.png")
    regions = tmp_path / "regions.json"
    assert main([str(src), "-o", str(tmp_path / "out"), "--text", "--quiet", "--regions", str(regions)]) == 0
    audit_main([str(regions), "--no-reid", "--json"])
    clean = json.loads(capsys.readouterr().out)["files"][0]
    assert "text" in clean["checks"]
    assert [f for f in clean["findings"] if f["check"] == "text"] == []  # every plate painted
    # the largest plate shown again, as a run without --text would have left it
    output = tmp_path / "out" / "street.png"
    pixels = np.array(Image.open(output))
    x0, y0 = np.floor(quads[5].min(0)).astype(int) - 4
    x1, y1 = np.ceil(quads[5].max(0)).astype(int) + 4
    pixels[y0:y1, x0:x1] = image[y0:y1, x0:x1]
    Image.fromarray(pixels).save(output)
    assert audit_main([str(regions), "--no-reid", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    text = [f for f in found if f["check"] == "text"]
    assert len(text) >= 1 and all(x0 - 8 <= f["box"][0] and f["box"][2] <= x1 + 8 for f in text)


def test_a_video_split_across_workers_covers_text_in_every_frame(tmp_path: Path, capsys):
    base = background((240, 320), seed=6, kind="brick")

    def plate(i: int) -> Plate:
        return Plate("GH 7741", 14, 160 + 90 * np.sin(i / 40), 120, style="yellow")

    pictures = [render_plates(base, [plate(i)]) for i in range(900)]
    src = make_clip(tmp_path / "long.mp4", frames=900, size=(320, 240), pictures=lambda i: pictures[i][0])
    assert plan(src, 3, Tracker(frame_size=(1, 1)).margin) is not None  # it is split
    args = [str(src), "-o", str(tmp_path / "out"), "--text", "--workers", "3", "--color", "#ff00ff", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["texts"] >= 1
    out = [f.pixels for f in read_frames(tmp_path / "out" / "long.mp4")]
    assert len(out) == 900
    covered = [
        plate_covered(p, o, q[0], tol=60, color=(255, 0, 255))
        for (p, q), o in zip(pictures, out, strict=True)
    ]
    assert min(covered) >= 0.95, int(np.argmin(covered))


def test_review_finds_text_on_its_own_when_asked(tmp_path: Path):
    image, quads = plate_scene()
    Image.fromarray(image).save(tmp_path / "street.png")
    entry = detect_photo(tmp_path / "street.png", tmp_path / "out.png", api.Options(text=True))
    text = entry.regions[kinds(entry.regions) == "text"]
    assert len(text) >= len(PLATES) and (entry.actions[kinds(entry.regions) == "text"] == "obscure").all()
    plain = detect_photo(tmp_path / "street.png", tmp_path / "out.png", api.Options())
    assert "kind" not in plain.regions.data


def test_an_output_made_without_text_is_not_skipped_as_done_by_a_text_run(tmp_path: Path, capsys):
    image, quads = plate_scene()
    Image.fromarray(image).save(tmp_path / "street.png")
    out = tmp_path / "out"
    assert main([str(tmp_path / "street.png"), "-o", str(out), "--quiet"]) == 0
    assert main([str(tmp_path / "street.png"), "-o", str(out), "--quiet", "--text"]) == 1
    assert "made without --text; use --overwrite" in capsys.readouterr().err
    assert main([str(tmp_path / "street.png"), "-o", str(out), "--quiet", "--text", "--overwrite"]) == 0
    painted = np.array(Image.open(out / "street.png"))
    assert min(plate_covered(image, painted, q) for q in quads) >= 0.97
    assert main([str(tmp_path / "street.png"), "-o", str(out), "--text", "--json"]) == 0  # now it is done
    assert json.loads(capsys.readouterr().out)["skipped"] == 1
