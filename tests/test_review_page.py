"""The review page end to end, in a real browser (Debian's Chromium driven by Playwright).

A person keeps one face, draws one over a face the detector missed, accepts a suggestion, reloads
the page (the edits are still there), exports, and the output pixels say it all happened.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from review_media import (
    CLEAR,
    FOLLOW_FRAMES,
    HIDDEN,
    VIDEO_CLEAR,
    VIDEO_FRAMES,
    VIDEO_HIDDEN,
    VIDEO_WEAK,
    WEAK,
    follow_video,
    review_photo,
    review_video,
)
from scenes import covered_fraction

from unseen.api import Options
from unseen.obscure import ObscureOptions
from unseen.regions import Regions, iou_matrix
from unseen.regions_file import (
    FileEntry,
    RegionsDocument,
    fingerprint,
    load_document,
    options_record,
    save_document,
)
from unseen.review.detection import detect_photo, detect_video
from unseen.review.server import ReviewServer
from unseen.review.session import ReviewSession

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (pip)")
WHITE = (255, 255, 255)  # the fill: the hidden faces are dark, so a black fill would prove little
OPTIONS = Options(obscure=ObscureOptions(color=WHITE))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield page
    context.close()
    assert errors == []  # no script error, no failed request


def _serve(entries, tmp_path: Path) -> tuple[ReviewServer, Path]:
    path = tmp_path / "review.unseen.json"
    save_document(path, RegionsDocument(entries, options_record(OPTIONS)))
    server = ReviewServer(ReviewSession.open(path))
    server.start()
    return server, path


def _open(page, server: ReviewServer) -> None:
    page.goto(server.url)
    page.wait_for_selector("body.ready")
    assert "token" not in page.url  # the token became a cookie and left the address bar


def _export(page) -> None:
    page.click("#export")
    page.click("#export-confirm")  # after the list of what is not reviewed yet
    sync_api.expect(page.locator("#status")).to_have_text(re.compile(r"^exported 1 file to /"))


def _saved(page) -> None:
    sync_api.expect(page.locator("#status")).to_have_text(re.compile(r"^saved\b"))


def _drag(page, box, size: tuple[int, int]) -> None:
    """Draw ``box`` (image pixels) on the overlay with the mouse."""
    frame = page.locator("#overlay").bounding_box()
    scale = frame["width"] / size[0]
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    page.mouse.move(frame["x"] + x1, frame["y"] + y1)
    page.mouse.down()
    page.mouse.move(frame["x"] + (x1 + x2) / 2, frame["y"] + (y1 + y2) / 2, steps=3)
    page.mouse.move(frame["x"] + x2, frame["y"] + y2, steps=3)
    page.mouse.up()


def _region_has(page, index: int, action: str) -> None:
    sync_api.expect(page.locator(f'#overlay rect[data-index="{index}"]')).to_have_class(re.compile(action))


def _best(boxes: np.ndarray, target) -> int:
    return int(np.argmax(iou_matrix(boxes, np.asarray([target], np.float32))[:, 0]))


def _grown(box, by: float = 6.0) -> list[float]:
    return [box[0] - by, box[1] - by, box[2] + by, box[3] + by]


def test_photo_review_keep_draw_accept_reload_export(page, tmp_path):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    boxes, actions = entry.regions.boxes, entry.actions
    clear = _best(boxes, faces[CLEAR])
    weak = _best(boxes, faces[WEAK])
    assert actions[clear] == "obscure" and actions[weak] == "suggested"
    assert iou_matrix(boxes, faces[HIDDEN : HIDDEN + 1]).max() < 0.1  # missed by the detector
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(page.locator(".file.current .counts")).to_contain_text("1 face")
        # Keep the clear face visible.
        page.click(f'#overlay rect[data-index="{clear}"]')
        page.keyboard.press("k")
        _region_has(page, clear, "keep")
        _saved(page)
        # Step through the suggestions with N to the weak face, accept it.
        for _ in range(int((actions == "suggested").sum())):
            if page.locator(f'#overlay rect.selected[data-index="{weak}"]').count():
                break
            page.keyboard.press("n")
        page.keyboard.press("a")
        _region_has(page, weak, "obscure")
        # A small region under a larger one can still be clicked (it is drawn on top of it).
        page.keyboard.press("Escape")
        page.click(f'#overlay rect[data-index="{weak}"]', timeout=3000)
        sync_api.expect(page.locator("#overlay rect.selected")).to_have_attribute("data-index", str(weak))
        # Draw over the face the detector missed; undo and redo it once. (The accepted suggestion
        # is the person's region too: outlined, however weak.)
        _drag(page, _grown(faces[HIDDEN]), (448, 256))
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(2)
        page.keyboard.press("z")
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(1)
        page.keyboard.press("y")
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(2)
        page.keyboard.press("r")
        _saved(page)
        sync_api.expect(page.locator(".file.current .state")).to_have_text(
            "reviewed, not swept"
        )  # marked with R, no sweep

        page.reload()
        page.wait_for_selector("body.ready")
        _region_has(page, clear, "keep")
        _region_has(page, weak, "obscure")
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(2)
        sync_api.expect(page.locator(".file.current .state")).to_have_text("reviewed, not swept")
        saved = load_document(path).files[0]
        assert saved.reviewed and saved.edited
        assert (saved.actions == "keep").sum() == 1 and (saved.regions.source == "manual").sum() == 2

        page.click("#preview")  # the output as it will be published, painted by the server
        sync_api.expect(page.locator("#overlay")).to_have_class(re.compile("hidden"))
        _export(page)
    finally:
        server.stop()

    out = _exported_photo(tmp_path, original, faces[CLEAR])
    assert covered_fraction(original, out, faces[WEAK], color=WHITE) >= 0.9  # accepted suggestion
    assert covered_fraction(original, out, faces[HIDDEN], color=WHITE) >= 0.9  # drawn


def _exported_photo(tmp_path: Path, original: np.ndarray, kept) -> np.ndarray:
    """The exported photo, checked to show the ``kept`` face bit for bit."""
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in kept)
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])  # kept: bit for bit
    return out


def _key(records: list[dict]) -> list[str]:
    return sorted(
        json.dumps({**r, "score": float(r["score"]), "box": [float(v) for v in r["box"]]}) for r in records
    )


def _tracked_clip(tmp_path: Path) -> tuple[Path, list[np.ndarray], FileEntry]:
    """The review clip with the clear face as one track on every frame, as a run writes it."""
    src = tmp_path / "clip.mp4"
    faces = review_video(src)
    boxes = np.asarray([faces[i][VIDEO_CLEAR] for i in range(VIDEO_FRAMES)])
    regions = Regions(boxes, 0.9, "full", np.arange(VIDEO_FRAMES), 0)
    size, sha = fingerprint(src)
    dst = str(tmp_path / "out" / "clip.mp4")
    return (
        src,
        faces,
        FileEntry(str(src), dst, "video", 256, 192, VIDEO_FRAMES, regions, size=size, sha256=sha),
    )


def test_an_edit_sends_operations_not_the_whole_video(page, tmp_path):
    """Keeping a track of every frame sends one small operation, and so do its undo and redo; the
    file has each of them at once, and the page reloads with the last."""
    src, _, entry = _tracked_clip(tmp_path)
    server, path = _serve([entry], tmp_path)
    sent = []
    page.on(
        "request", lambda r: sent.append(r) if r.url.endswith("/api/files/0") and r.method != "GET" else None
    )
    try:
        _open(page, server)
        page.click('.card[data-track="0"] .track-keep')
        _saved(page)
        assert (load_document(path).files[0].actions == "keep").all()
        page.keyboard.press("z")
        _saved(page)
        assert (load_document(path).files[0].actions == "obscure").all()
        page.keyboard.press("y")
        _saved(page)
        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(page.locator('.card[data-track="0"]')).to_have_class(re.compile("keep"))
    finally:
        server.stop()
    assert [r.method for r in sent] == ["PATCH"] * 3
    assert [json.loads(r.post_data) for r in sent] == [
        {"ops": [{"op": "action", "track": 0, "action": "keep"}], "version": 0},
        {
            "ops": [{"op": "action", "track": 0, "action": "obscure", "frames": [0, VIDEO_FRAMES - 1]}],
            "version": 1,
        },
        {"ops": [{"op": "action", "track": 0, "action": "keep"}], "version": 2},
    ]
    assert (load_document(path).files[0].actions == "keep").all()


def test_a_static_zone_is_obscured_on_every_frame(page, tmp_path):
    """A zone drawn once (S, then a box) over the path of the face nobody found covers it on every
    frame of the export; undo, redo and reload keep it."""
    src, faces, entry = _tracked_clip(tmp_path)
    zone = [150, 24, 232, 132]  # the hidden face moves down from y 60 to 84 at x 190
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.keyboard.press("s")
        sync_api.expect(page.locator("#zone")).to_have_attribute("aria-pressed", "true")
        _drag(page, zone, (256, 192))
        sync_api.expect(page.locator("#overlay rect.zone")).to_have_count(1)
        _saved(page)
        page.keyboard.press("z")
        sync_api.expect(page.locator("#overlay rect.zone")).to_have_count(0)
        _saved(page)
        assert load_document(path).files[0].zones.shape == (0, 4)
        page.keyboard.press("y")
        _saved(page)
        page.keyboard.press("Shift+ArrowRight")  # shown on every frame
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 11 / {VIDEO_FRAMES}")
        sync_api.expect(page.locator("#overlay rect.zone")).to_have_count(1)
        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(page.locator("#overlay rect.zone")).to_have_count(1)
        sync_api.expect(page.locator(".file.current .counts")).to_contain_text("1 zone")
        saved = load_document(path).files[0]
        assert np.abs(saved.zones - np.asarray([zone])).max() < 1.5 and saved.edited
        _export(page)
    finally:
        server.stop()
    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    assert len(out) == VIDEO_FRAMES
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        assert covered_fraction(a, b, faces[i][VIDEO_HIDDEN], tol=24, color=WHITE) >= 0.95, f"frame {i}"
        assert covered_fraction(a, b, _grown(zone, -2), tol=24, color=WHITE) >= 0.95, f"frame {i}"
        assert covered_fraction(a, b, faces[i][VIDEO_CLEAR], tol=24, color=WHITE) >= 0.9, f"frame {i}"
        assert covered_fraction(a, b, [0, 150, 60, 192], tol=24, color=WHITE) < 0.1  # the rest is left


def test_the_coverage_meter_leads_to_a_gap_and_fills_once_it_is_drawn(page, tmp_path):
    """The track loses the face on frames 10 to 13: the page says so, G goes there, two drawn keys
    cover it (filled between) and the export paints the face on every frame."""
    src, faces, entry = _tracked_clip(tmp_path)
    gap = np.isin(entry.regions.frame, range(10, 14))
    entry.regions, entry.actions = entry.regions[~gap], entry.actions[~gap]
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(page.locator("#coverage")).to_have_text("83.3 % covered · 4 frames with a gap")
        page.keyboard.press("g")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 11 / {VIDEO_FRAMES}")
        _drag(page, _grown(faces[10][VIDEO_CLEAR]), (256, 192))
        _saved(page)
        sync_api.expect(page.locator("#coverage")).to_have_text("87.5 % covered · 3 frames with a gap")
        page.keyboard.press("g")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 12 / {VIDEO_FRAMES}")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        _drag(page, _grown(faces[13][VIDEO_CLEAR]), (256, 192))  # the same drawn track: 11 and 12 filled
        _saved(page)
        sync_api.expect(page.locator("#coverage")).to_have_text("100.0 % covered")
        sync_api.expect(page.locator("#next-gap")).to_be_disabled()
        _export(page)
    finally:
        server.stop()
    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        assert covered_fraction(a, b, faces[i][VIDEO_CLEAR], tol=24, color=WHITE) >= 0.9, f"frame {i}"


def test_a_method_is_chosen_per_face_and_exported_so(page, tmp_path):
    """Blur one face (3), pixelate another (2), leave the third to the run's white fill; the choice
    survives a reload and the exported photo shows each."""
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    size, sha = fingerprint(src)
    regions = Regions(faces, 0.9, "full")
    entry = FileEntry(
        str(src), str(tmp_path / "out" / "people.png"), "image", 448, 256, 1, regions, size=size, sha256=sha
    )
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        for face, key in ((CLEAR, "3"), (WEAK, "2")):
            page.click(f'#overlay rect[data-index="{face}"]')
            page.keyboard.press(key)
            _saved(page)
        _region_has(page, CLEAR, "m-blur")
        page.keyboard.press("z")  # undo, redo: the pixelation comes back
        sync_api.expect(page.locator(f'#overlay rect[data-index="{WEAK}"]')).not_to_have_class(
            re.compile("m-pixelate")
        )
        page.keyboard.press("y")
        _saved(page)
        page.reload()
        page.wait_for_selector("body.ready")
        page.click(f'#overlay rect[data-index="{WEAK}"]')
        sync_api.expect(page.locator("#method")).to_have_value("pixelate")
        assert [r.get("method") for r in load_document(path).files[0].records()] == ["blur", "pixelate", None]
        _export(page)
    finally:
        server.stop()
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert covered_fraction(original, out, faces[HIDDEN], color=WHITE) >= 0.9  # the run's fill
    crops = {}
    for face in (CLEAR, WEAK):
        x1, y1, x2, y2 = (int(v) for v in faces[face])
        crops[face] = out[y1:y2, x1:x2], original[y1:y2, x1:x2]
        assert covered_fraction(original, out, faces[face], color=WHITE) < 0.05  # not filled
        assert covered_fraction(original, out, faces[face]) >= 0.8  # but painted over
    pixelated, _ = crops[WEAK]
    assert len({tuple(c) for c in pixelated.reshape(-1, 3)}) <= 8 * 8 + 16  # flat cells
    blurred, before = crops[CLEAR]
    gray = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY).astype(np.float32) for c in (blurred, before)]
    assert cv2.Laplacian(gray[0], cv2.CV_32F).var() < 0.5 * cv2.Laplacian(gray[1], cv2.CV_32F).var()


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_video_review_keep_track_draw_on_two_frames_export(page, tmp_path):
    src = tmp_path / "clip.mp4"
    faces = review_video(src)
    entry = detect_video(src, tmp_path / "out" / "clip.mp4", Options())
    tracked = sorted(set(entry.regions.track.tolist()))
    suggested = entry.actions == "suggested"
    assert tracked[1:] == [0] and (~suggested).sum() == VIDEO_FRAMES  # the clear face, on every frame
    weak = suggested & (iou_matrix(entry.regions.boxes, faces[0][VIDEO_WEAK : VIDEO_WEAK + 1])[:, 0] > 0.4)
    assert entry.regions.frame[weak].tolist() == [0, 8, 16, 23]  # the weak face, on every keyframe
    weak_on_16 = int(np.flatnonzero(weak & (entry.regions.frame == 16))[0])
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 1 / {VIDEO_FRAMES}")
        sync_api.expect(page.locator(".card")).to_have_count(1)
        page.click('.card[data-track="0"] .track-keep')  # keep the tracked face in every frame
        sync_api.expect(page.locator(".card")).to_have_class(re.compile("keep"))
        _saved(page)
        page.click("#scrubber")  # the keys still work with the scrubber focused
        page.keyboard.press("Home")  # (its own key: back to the first frame)
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 4 / {VIDEO_FRAMES}")
        _drag(page, _grown(faces[3][VIDEO_HIDDEN]), (256, 192))  # frame 3
        _saved(page)
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 16 / {VIDEO_FRAMES}")
        _drag(page, _grown(faces[15][VIDEO_HIDDEN]), (256, 192))  # frame 15, same (selected) track
        _saved(page)
        sync_api.expect(page.locator(".card")).to_have_count(2)
        for _ in range(int(suggested.sum())):  # the weak face's suggestion on the next keyframe (16) ...
            page.keyboard.press("n")
            if page.locator(f'#overlay rect.selected[data-index="{weak_on_16}"]').count():
                break
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 17 / {VIDEO_FRAMES}")
        page.keyboard.press("a")  # ... accepted with its neighbours on keyframes 0, 8 and 23
        accepted = f"accepted over {VIDEO_FRAMES} frames (followed 0)"  # nothing before 0 or after 23
        sync_api.expect(page.locator("#status")).to_have_text(accepted)
        sync_api.expect(page.locator(".card")).to_have_count(3)
        # The server filled the drawn tracks from the operations exactly as the page did.
        assert _key(page.evaluate("state.regions")) == _key(load_document(path).files[0].records())

        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 17 / {VIDEO_FRAMES}")
        sync_api.expect(page.locator(".card")).to_have_count(3)
        sync_api.expect(page.locator('.card[data-track="0"]')).to_have_class(re.compile("keep"))
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(1)  # the accepted key
        drawn = load_document(path).files[0]
        frames = drawn.regions.frame
        assert sorted(frames[drawn.regions.track == 1].tolist()) == list(range(3, 16))
        assert sorted(frames[drawn.regions.track == 2].tolist()) == list(range(VIDEO_FRAMES))
        _export(page)
    finally:
        server.stop()

    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    assert len(out) == VIDEO_FRAMES
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        x1, y1, x2, y2 = (int(v) for v in faces[i][VIDEO_CLEAR])
        assert np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2]).mean() < 8, f"kept face, frame {i}"
        hidden = covered_fraction(a, b, faces[i][VIDEO_HIDDEN], tol=24, color=WHITE)
        if 3 <= i <= 15:
            assert hidden >= 0.9, f"drawn face not covered on frame {i}"
        else:
            assert hidden < 0.5, f"frame {i} painted outside the drawn frames"
        weak = covered_fraction(a, b, faces[i][VIDEO_WEAK], tol=24, color=WHITE)
        assert weak >= 0.9, f"accepted suggestion not covered on frame {i}"


def _drawn_frames(path: Path) -> list[int]:
    regions = load_document(path).files[0].regions
    return sorted(regions.frame[regions.source == "manual"].tolist())


def test_video_draw_once_follow_forward_stop_and_export(page, tmp_path):
    src = tmp_path / "crossing.mp4"
    faces = follow_video(src)  # a face the detector misses crosses the picture, 5 px a frame
    entry = detect_video(src, tmp_path / "out" / "crossing.mp4", Options())
    hidden = np.stack([f[0] for f in faces])
    painted = entry.regions[entry.actions != "suggested"]
    for i in range(FOLLOW_FRAMES):  # missed on every frame
        assert iou_matrix(painted.boxes[painted.frame == i], hidden[i : i + 1]).max(initial=0) < 0.1
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(page.locator("#follow-forward")).to_be_disabled()  # nothing drawn is selected
        page.click("#scrubber")
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 3 / {FOLLOW_FRAMES}")
        _drag(page, _grown(faces[2][0]), (256, 192))  # drawn once, on frame 2
        _saved(page)
        sync_api.expect(page.locator("#follow-forward")).to_be_enabled()
        # Following stops when the person says so: what it finds after that is not added.
        page.keyboard.press("f")
        page.keyboard.press("Escape")
        sync_api.expect(page.locator("#status")).to_have_text(re.compile(r"followed \d+ frames? \(stopped\)"))
        sync_api.expect(page.locator("#follow-stop")).to_be_hidden()
        stopped = _drawn_frames(path)
        assert stopped in ([2], list(range(2, 11)))  # nothing, or the first 8 frames (one chunk)
        if stopped != [2]:
            page.keyboard.press("z")  # the run is one step: undone, only the drawn box is left
            _saved(page)
            assert _drawn_frames(path) == [2]
        page.click("#scrubber")
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")  # back on frame 2: its drawn box is selected again
        sync_api.expect(page.locator("#overlay rect.region.manual.selected")).to_have_count(1)
        page.click("#follow-forward")  # to the end of the video, 8 frames a request
        sync_api.expect(page.locator("#follow-stop")).to_be_visible()
        sync_api.expect(page.locator("#status")).to_have_text("followed 13 frames", timeout=30_000)
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame {FOLLOW_FRAMES} / {FOLLOW_FRAMES}")
        assert _drawn_frames(path) == list(range(2, FOLLOW_FRAMES))
        saved = load_document(path).files[0].regions
        assert len(set(saved.track[saved.source == "manual"].tolist())) == 1  # one track, drawn once
        page.keyboard.press("z")  # the whole run is one step: undone, only the drawn box is left
        _saved(page)
        assert _drawn_frames(path) == [2]
        page.keyboard.press("y")
        _saved(page)
        assert _drawn_frames(path) == list(range(2, FOLLOW_FRAMES))
        page.click("#scrubber")
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Shift+F")  # and backward from the drawn frame, to the first one
        sync_api.expect(page.locator("#status")).to_have_text("followed 2 frames")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 1 / {FOLLOW_FRAMES}")
        assert _drawn_frames(path) == list(range(FOLLOW_FRAMES))
        _export(page)
    finally:
        server.stop()

    source, out = _frames(src), _frames(tmp_path / "out" / "crossing.mp4")
    for i in range(FOLLOW_FRAMES):
        assert covered_fraction(source[i], out[i], hidden[i], tol=24, color=WHITE) >= 0.9, f"frame {i}"


def _unchanged(a: np.ndarray, b: np.ndarray, box) -> bool:
    x1, y1, x2, y2 = (int(v) for v in box)
    return float(np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2]).mean()) < 8


def test_a_track_split_at_a_frame_keeps_one_part_visible(page, tmp_path):
    """Select the track, go to frame 12, split (C): the part from frame 12 on is a new track; keep
    it. The export shows the face from frame 12 on and covers it before; undo and reload agree."""
    src, faces, entry = _tracked_clip(tmp_path)
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click('.card[data-track="0"] img')  # selects the track, on its first frame
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 13 / {VIDEO_FRAMES}")
        page.keyboard.press("c")
        sync_api.expect(page.locator(".card")).to_have_count(2)
        sync_api.expect(page.locator('.card[data-track="1"] span')).to_have_text("track 1 · frames 12–23")
        sync_api.expect(page.locator('#timeline rect.lane[data-track="1"]')).to_have_count(1)
        _saved(page)
        page.click('.card[data-track="1"] .track-keep')
        sync_api.expect(page.locator('.card[data-track="1"]')).to_have_class(re.compile("keep"))
        _saved(page)
        assert load_document(path).files[0].actions.tolist() == ["obscure"] * 12 + ["keep"] * 12
        page.keyboard.press("z")
        page.keyboard.press("z")  # the split undone: one track again, on every frame
        sync_api.expect(page.locator(".card")).to_have_count(1)
        _saved(page)
        assert load_document(path).files[0].regions.track.tolist() == [0] * VIDEO_FRAMES
        page.keyboard.press("y")
        page.keyboard.press("y")
        _saved(page)
        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(page.locator('.card[data-track="1"]')).to_have_class(re.compile("keep"))
        sync_api.expect(page.locator('.card[data-track="0"]')).to_have_class(re.compile("obscure"))
        saved = load_document(path).files[0]
        assert saved.regions.track.tolist() == [0] * 12 + [1] * 12
        assert saved.actions.tolist() == ["obscure"] * 12 + ["keep"] * 12
        _export(page)
    finally:
        server.stop()
    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        face = faces[i][VIDEO_CLEAR]
        if i < 12:
            assert covered_fraction(a, b, face, tol=24, color=WHITE) >= 0.9, f"frame {i}"
        else:
            assert _unchanged(a, b, face), f"kept part, frame {i}"


def test_two_tracks_of_one_face_merged_take_one_action(page, tmp_path):
    """The tracker lost the face at frame 12 and found it again as track 1 (both have frames 10 and
    11). Merge them (select track 0, M, pick track 1), keep the merged track: every frame shows the
    face. The merge is undone exactly (the shared frames too) and saved."""
    src, faces, entry = _tracked_clip(tmp_path)
    tracks = np.where(entry.regions.frame < 12, 0, 1).astype(np.int32)
    shared = entry.regions[np.isin(entry.regions.frame, [10, 11])]
    shared.boxes[:] += 2  # track 1's own boxes, a little off
    entry.regions = Regions.concat(
        [Regions(entry.regions.boxes, 0.9, "full", entry.regions.frame, tracks), shared]
    )
    entry.regions.track[-2:] = 1
    entry.actions = np.full(len(entry.regions), "obscure", "U9")
    before = _key(entry.records())
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(page.locator(".card")).to_have_count(2)
        page.click('.card[data-track="0"] img')
        page.keyboard.press("m")
        sync_api.expect(page.locator("#merge")).to_have_attribute("aria-pressed", "true")
        page.click('.card[data-track="1"] img')
        sync_api.expect(page.locator(".card")).to_have_count(1)
        sync_api.expect(page.locator('.card[data-track="0"] span')).to_have_text("track 0 · frames 0–23")
        _saved(page)
        assert set(load_document(path).files[0].regions.track.tolist()) == {0}
        page.keyboard.press("z")
        sync_api.expect(page.locator(".card")).to_have_count(2)
        _saved(page)
        assert _key(load_document(path).files[0].records()) == before == _key(page.evaluate("state.regions"))
        page.keyboard.press("y")
        sync_api.expect(page.locator(".card")).to_have_count(1)
        page.click('.card[data-track="0"] .track-keep')  # one action for both parts
        _saved(page)
        saved = load_document(path).files[0]
        assert (saved.actions == "keep").all() and len(saved.regions) == VIDEO_FRAMES + 2
        _export(page)
    finally:
        server.stop()
    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    for i, (a, b) in enumerate(zip(source, out, strict=True)):
        assert _unchanged(a, b, faces[i][VIDEO_CLEAR]), f"kept merged track, frame {i}"


def test_keep_only_obscures_everything_but_the_kept_face(page, tmp_path):
    """Keep one face, then E: the preview and the export cover the whole picture (the face nobody
    found, the suggestion nobody accepted, the background) and show the kept face as it was."""
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    size, sha = fingerprint(src)
    regions = Regions(faces[:HIDDEN], 0.9, "full")  # the hidden face was never found
    entry = FileEntry(
        str(src),
        str(tmp_path / "out" / "people.png"),
        "image",
        448,
        256,
        1,
        regions,
        ["obscure", "suggested"],
        size=size,
        sha256=sha,
    )
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click(f'#overlay rect[data-index="{CLEAR}"]')
        page.keyboard.press("k")
        page.keyboard.press("e")
        sync_api.expect(page.locator("#keep-only")).to_have_attribute("aria-pressed", "true")
        _saved(page)
        assert load_document(path).files[0].keep_only
        page.keyboard.press("z")
        sync_api.expect(page.locator("#keep-only")).to_have_attribute("aria-pressed", "false")
        _saved(page)
        assert not load_document(path).files[0].keep_only
        page.keyboard.press("y")
        _saved(page)
        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(page.locator("#keep-only")).to_have_attribute("aria-pressed", "true")
        sync_api.expect(page.locator(".file.current .counts")).to_contain_text("keep only")
        reply = page.request.get(server.url.split("?")[0] + "api/files/0/picture?output=1")
        preview = np.asarray(Image.open(io.BytesIO(reply.body())).convert("RGB"))
        assert covered_fraction(original, preview, faces[HIDDEN], tol=24, color=WHITE) >= 0.95
        _export(page)
    finally:
        server.stop()
    out = _exported_photo(tmp_path, original, faces[CLEAR])
    for face in (WEAK, HIDDEN):
        assert covered_fraction(original, out, faces[face], color=WHITE) == 1.0
    assert covered_fraction(original, out, (0, 0, 448, 256), color=WHITE) > 0.9  # and the background


def test_a_drawn_track_split_keeps_both_parts_when_a_key_is_moved(page, tmp_path):
    """A track drawn on frames 3 and 15 (filled between) split at frame 9: the regions beside the
    cut become drawn keys, so moving the key on frame 3 fills frames 4 to 8 again instead of
    dropping them, and the export still covers the face on frames 3 to 15."""
    src, faces, entry = _tracked_clip(tmp_path)
    frames = np.arange(3, 16)
    boxes = [_grown(faces[i][VIDEO_HIDDEN]) for i in frames]
    sources = ["manual", *["interpolated"] * 11, "manual"]
    entry.regions = Regions.concat([entry.regions, Regions(boxes, 1.0, sources, frames, 2)])
    entry.actions = np.full(len(entry.regions), "obscure", "U9")
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click('.card[data-track="2"] img')  # frame 3
        for _ in range(6):
            page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 10 / {VIDEO_FRAMES}")
        page.keyboard.press("c")
        sync_api.expect(page.locator('.card[data-track="3"] span')).to_have_text("track 3 · frames 9–15")
        _saved(page)
        page.click('.card[data-track="2"] img')  # back to frame 3: move its key 4 px right
        index = page.evaluate("state.regions.findIndex((r) => r.track === 2 && r.frame === 3)")
        box = page.locator(f'#overlay rect[data-index="{index}"]').bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 8, y, steps=3)
        page.mouse.up()
        _saved(page)
        assert _key(page.evaluate("state.regions")) == _key(load_document(path).files[0].records())
        _export(page)
    finally:
        server.stop()
    saved = load_document(path).files[0].regions
    for track, span, keys in ((2, range(3, 9), [3, 8]), (3, range(9, 16), [9, 15])):
        mine = saved[saved.track == track]
        assert sorted(mine.frame.tolist()) == list(span), f"track {track}"
        assert sorted(mine.frame[mine.source == "manual"].tolist()) == keys, f"track {track}"
    source, out = _frames(src), _frames(tmp_path / "out" / "clip.mp4")
    for i in frames:
        assert covered_fraction(source[i], out[i], faces[i][VIDEO_HIDDEN], tol=24, color=WHITE) >= 0.9, i


def test_an_edit_on_a_file_changed_elsewhere_reloads_it(browser, tmp_path):
    """Another tab changed the file since this page loaded it: this page's edit is refused (409),
    the page loads the file again and says so; a change made again is saved."""
    _, _, entry = _tracked_clip(tmp_path)
    server, path = _serve([entry], tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # a 409 is expected here
    page = context.new_page()
    try:
        _open(page, server)
        card = page.locator('.card[data-track="0"]')
        server.session.edit(0, {"ops": [{"op": "reviewed", "value": True}], "version": 0})  # the other tab
        page.click('.card[data-track="0"] .track-keep')
        status = page.locator("#status")
        sync_api.expect(status).to_have_text(re.compile("changed elsewhere.*make your change again"))
        sync_api.expect(page.locator("#reviewed")).to_have_attribute(
            "aria-pressed", "true"
        )  # the other tab's
        sync_api.expect(card).not_to_have_class(re.compile("keep"))  # this page's stale edit, undone
        entry = load_document(path).files[0]
        assert entry.reviewed and (entry.actions == "obscure").all()
        page.click('.card[data-track="0"] .track-keep')
        _saved(page)
        assert (load_document(path).files[0].actions == "keep").all()
    finally:
        context.close()
        server.stop()
