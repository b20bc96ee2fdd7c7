"""The sweep (Chromium): the output tile by tile at a magnification where a 10 px face is 24 screen
px, one key per tile, the share swept recorded, and a file marked reviewed only once swept (or said
plainly to be marked without a sweep)."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import test_review_page as review_page
from clips import make_clip, picture
from PIL import Image
from review_media import HIDDEN, review_photo, review_video
from scenes import background, covered_fraction
from test_review_page import WHITE, _export, _grown, _open, _saved, _serve, sync_api
from test_review_zoom import _screen

from unseen.api import Options
from unseen.media.video import probe
from unseen.regions import Regions
from unseen.regions_file import FileEntry, fingerprint, load_document
from unseen.review.detection import detect_photo, detect_video
from unseen.review.server import ReviewServer
from unseen.review.session import ReviewSession

browser, page = review_page.browser, review_page.page  # the same Chromium fixtures


def _label(page):
    return page.locator("#sweep-label")


def test_a_sweep_shows_the_output_tile_by_tile_draws_and_marks_the_file_reviewed(page, tmp_path):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)  # 448 x 256: two tiles at 2.4x in a 1400 x 900 window
    server, path = _serve([detect_photo(src, tmp_path / "out" / "people.png", Options())], tmp_path)
    try:
        _open(page, server)
        page.keyboard.press("w")
        sync_api.expect(_label(page)).to_contain_text("tile 1 / 2 · swept 0 %")
        sync_api.expect(page.locator("#zoom-label")).to_have_text("240 %")
        assert "output=1" in page.locator("#picture").get_attribute("data-url")  # the output as published
        page.keyboard.press(" ")
        sync_api.expect(_label(page)).to_contain_text(re.compile(r"tile 2 / 2 · swept [1-9]\d %"))
        # The face nobody found shows in this tile: draw over it there, on the output.
        target = _grown(faces[HIDDEN], 4)
        (x1, y1), (x2, y2) = _screen(page, target[:2]), _screen(page, target[2:])
        page.mouse.move(x1, y1)
        page.mouse.down()
        page.mouse.move(x2, y2, steps=4)
        page.mouse.up()
        _saved(page)
        page.keyboard.press(" ")
        sync_api.expect(page.locator("#status")).to_have_text(
            "saved · swept every part of the picture: marked reviewed"
        )
        sync_api.expect(_label(page)).to_have_text("swept 100 %")
        sync_api.expect(page.locator(".file.current .state")).to_have_text("reviewed")
        assert load_document(path).files[0].reviewed
        page.reload()
        page.wait_for_selector("body.ready")
        sync_api.expect(_label(page)).to_have_text("swept 100 %")  # kept by the browser
        _export(page)
    finally:
        server.stop()
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert covered_fraction(original, out, faces[HIDDEN], color=WHITE) >= 0.95


def test_a_partial_sweep_is_said_and_marking_reviewed_says_it_was_not_swept(page, tmp_path):
    src = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 1000, 3), np.uint8)).save(src)
    size, sha = fingerprint(src)
    entry = FileEntry(str(src), str(tmp_path / "out.png"), "image", 1000, 600, 1, Regions(), [], size, sha)
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.keyboard.press("W")  # Caps Lock or not
        sync_api.expect(_label(page)).to_contain_text("tile 1 / 9 ·")
        for tile in (2, 3, 4):
            page.keyboard.press(" ")
            sync_api.expect(_label(page)).to_contain_text(f"tile {tile} / 9 ·")
        page.keyboard.press("Shift+ ")
        sync_api.expect(_label(page)).to_contain_text("tile 3 / 9 ·")
        page.keyboard.press("Escape")
        share = int(re.search(r"swept (\d+) %", _label(page).inner_text()).group(1))
        assert 25 <= share <= 50  # three tiles of nine, overlapping
        sync_api.expect(page.locator("#zoom-label")).to_have_text("fit")
        page.keyboard.press("r")
        sync_api.expect(page.locator("#status")).to_contain_text(
            f"marked reviewed without a full sweep ({share} % swept"
        )
        sync_api.expect(page.locator(".file.current .state")).to_have_text("reviewed, not swept")
        page.keyboard.press("w")  # the sweep goes on where nothing was seen yet
        sync_api.expect(_label(page)).to_contain_text("tile 4 / 9 ·")
    finally:
        server.stop()


def test_a_video_is_swept_on_a_sample_of_its_frames_shown_on_the_timeline(page, tmp_path):
    src = tmp_path / "clip.mp4"
    review_video(src)  # 24 frames: its first and last are swept
    server, path = _serve([detect_video(src, tmp_path / "out" / "clip.mp4", Options())], tmp_path)
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    try:
        _open(page, server)
        sync_api.expect(_label(page)).to_have_text("swept 0 % of 2 frames")
        page.keyboard.press("w")
        sync_api.expect(_label(page)).to_contain_text("frame 1 · tile 1 / 4 ·")
        assert "output=1" in page.locator("#picture").get_attribute("data-url")
        # the next frame swept is fetched while the first one's tiles are looked at
        page.wait_for_function("() => ahead.has(pictureUrl(23, true))")
        assert any("picture?frame=23&output=1" in url for url in asked)
        page.keyboard.press(" ")
        page.keyboard.press(" ")
        sync_api.expect(_label(page)).to_contain_text("frame 24 · tile 3 / 4 · swept 50 %")
        sync_api.expect(page.locator("#frame-label")).to_have_text("frame 24 / 24")
        sync_api.expect(page.locator("#timeline .sample.swept")).to_have_count(1)  # frame 1 done
        page.keyboard.press(" ")
        page.keyboard.press(" ")
        sync_api.expect(page.locator("#status")).to_contain_text("marked reviewed")
        sync_api.expect(page.locator("#timeline .sample.swept")).to_have_count(2)
        assert load_document(path).files[0].reviewed
    finally:
        server.stop()


def test_a_video_is_swept_one_frame_a_second_at_its_rate_and_at_each_cut(page, tmp_path):
    """At about 10 fps with a cut at frame 17, the sweep shows one frame a second (0, 10, 20, 31),
    the cut's first frame and the last, and the timeline marks those. A file swept under the old
    sample (every 25th frame) still loads: frame 0 swept then counts, frame 25 no longer does."""
    src = tmp_path / "cut.mp4"
    other = background((120, 160), 3, "grass")
    pts = [100 * i for i in range(35)]  # in ms: 10 frames a second (the stream says about 10.17)
    make_clip(
        src, frames=35, time_base=Fraction(1, 1000), pts=pts, audio=False,
        pictures=lambda i: picture(i, 160, 120) if i < 17 else other,
    )  # fmt: skip
    fps = probe(src).fps
    entry = detect_video(src, tmp_path / "out.mp4", Options())
    assert entry.cuts == [17]
    seconds = [math.floor(k * fps + 0.5) for k in range(math.ceil(35 / fps))]
    sample = sorted({*seconds, 17, 34})
    assert sample == [0, 10, 17, 20, 31, 34]
    cells = 40 * 30  # 160 x 120 in cells of 4 px
    entry.swept = {"cell": 4, "seen": {"0": "1" * cells, "25": "1" * cells}}  # swept every 25th before
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        sync_api.expect(_label(page)).to_have_text("swept 16 % of 6 frames")
        samples = page.locator("#timeline .sample")
        sync_api.expect(samples).to_have_count(6)
        assert [int(f) for f in samples.evaluate_all("s => s.map((r) => r.dataset.frame)")] == sample
        sync_api.expect(page.locator("#timeline .sample.swept")).to_have_count(1)
        page.keyboard.press("w")
        shown = [page.evaluate("state.frame")]
        while page.evaluate("sweep.on"):
            page.keyboard.press(" ")
            if page.evaluate("sweep.on"):
                shown.append(page.evaluate("state.frame"))
        assert shown == sorted(shown) and sorted(set(shown)) == [10, 17, 20, 31, 34]
        sync_api.expect(page.locator("#status")).to_contain_text("marked reviewed")
        sync_api.expect(page.locator("#timeline .sample.swept")).to_have_count(6)
        sync_api.expect(_label(page)).to_have_text("swept 100 % of 6 frames")
        assert page.evaluate("saving.then(() => unsaved)") == 0
    finally:
        server.stop()
    stored = load_document(path).files[0]
    assert stored.reviewed and stored.cuts == [17]
    assert sorted(map(int, stored.swept["seen"])) == [0, 10, 17, 20, 25, 31, 34]  # 25 kept, unused


def test_a_restarted_review_shows_the_share_swept_before(page, tmp_path):
    """The sweep's progress is kept in the regions file (not in the browser, whose storage belongs
    to the server's random port): a review restarted on the file shows the same share swept."""
    src = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 1000, 3), np.uint8)).save(src)
    size, sha = fingerprint(src)
    entry = FileEntry(str(src), str(tmp_path / "out.png"), "image", 1000, 600, 1, Regions(), [], size, sha)
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.keyboard.press("w")
        for tile in (2, 3):
            page.keyboard.press(" ")
            sync_api.expect(_label(page)).to_contain_text(f"tile {tile} / 9 ·")
        page.keyboard.press("Escape")
        swept = _label(page).inner_text()
        assert re.fullmatch(r"swept [1-9]\d? %", swept), swept
        assert page.evaluate("saving.then(() => unsaved)") == 0  # each tile seen is saved, quietly
    finally:
        server.stop()
    entry = load_document(path).files[0]
    assert not entry.edited and not entry.reviewed  # a sweep is not an edit of the regions
    server = ReviewServer(ReviewSession.open(path))
    server.start()
    try:
        _open(page, server)
        sync_api.expect(_label(page)).to_have_text(swept)
        page.keyboard.press("w")  # and goes on where nothing was seen yet
        sync_api.expect(_label(page)).to_contain_text("tile 3 / 9 ·")
    finally:
        server.stop()


def test_a_sweep_begun_while_the_next_file_loads_sweeps_that_file(page, tmp_path):
    """W pressed just after ] (the next file still loading) laid the sweep out for the file before
    and carried it onto the new one: the new file's tiles are its own."""
    entries = []
    for name, (h, w) in (("small.png", (300, 400)), ("wide.png", (600, 1000))):
        src = tmp_path / name
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(src)
        size, sha = fingerprint(src)
        entries.append(
            FileEntry(str(src), str(tmp_path / f"out-{name}"), "image", w, h, 1, Regions(), [], size, sha)
        )
    server, _ = _serve(entries, tmp_path)
    try:
        held = []
        # the next file (fetched ahead once the first is shown): held back until W is pressed
        page.route("**/api/files/1*", lambda route: route.continue_() if held is None else held.append(route))
        _open(page, server)
        while not held:
            page.wait_for_timeout(20)
        page.keyboard.press("]")
        page.keyboard.press("w")  # while it loads
        sync_api.expect(page.locator("#file-title")).to_have_text("small.png")  # still loading
        waiting, held = held, None
        for route in waiting:
            route.continue_()
        sync_api.expect(page.locator("#file-title")).to_have_text("wide.png")
        sync_api.expect(_label(page)).to_contain_text("tile 1 / 9 ·")  # the wide file's own tiles
        right = page.evaluate("Math.max(...sweep.tiles.map((t) => t[3]))")
        assert right == 1000
    finally:
        server.stop()
