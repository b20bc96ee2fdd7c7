"""Watching a video in review (Chromium): playing it at its own rate with its regions drawn, frames
skipped rather than played slow, never an unprotected frame while previewing the output."""

from __future__ import annotations

import re
import time

import numpy as np
import test_review_page as review_page
from review_media import VIDEO_CLEAR, VIDEO_FRAMES, VIDEO_HIDDEN, VIDEO_WEAK, review_video
from scenes import covered_fraction
from test_review_page import WHITE, _export, _frames, _open, _saved, _serve, _tracked_clip, sync_api

from unseen.api import Options
from unseen.regions import Regions, iou_matrix
from unseen.regions_file import FileEntry, fingerprint, load_document
from unseen.review.detection import detect_video

browser, page = review_page.browser, review_page.page  # the same Chromium fixtures
FPS = 25  # the review clip's rate (tests/clips.py)

# Each picture shown (its address changes with it): when, its frame, the frame whose regions are
# drawn, and the left edge of the region drawn (read once the page has drawn them).
SAMPLER = """() => {
  window.played = [];
  window.pressed = performance.now();
  const img = document.getElementById("picture");
  const sample = () => {
    const frame = Number(new URLSearchParams(img.dataset.url.split("?")[1]).get("frame"));
    const rect = document.querySelector("#overlay rect.region");
    window.played.push([performance.now(), frame, state.frame, rect && Number(rect.getAttribute("x"))]);
  };
  sample();
  new MutationObserver(sample).observe(img, { attributes: true, attributeFilter: ["data-url"] });
}"""


# The pixels of a picture at its own size (RGBA, row by row).
PIXELS = """img => {
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
}"""


def _played(page) -> dict[int, tuple[float, int, float | None]]:
    """Each frame shown while playing: (when first seen after the key, the frame drawn, region x)."""
    pressed = page.evaluate("window.pressed")
    first: dict[int, tuple[float, int, float | None]] = {}
    for at, shown, drawn, x in page.evaluate("window.played"):
        first.setdefault(shown, (at - pressed, drawn, x))
    return first


def _wait_played(page) -> None:
    sync_api.expect(page.locator("#play")).to_have_text("Pause")
    sync_api.expect(page.locator("#play")).to_have_text("Play", timeout=20_000)


def test_space_plays_the_clip_at_its_rate_with_its_regions(page, tmp_path):
    src, faces, entry = _tracked_clip(tmp_path)
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.evaluate(SAMPLER)
        page.keyboard.press(" ")  # tapped, not held to drag the picture
        _wait_played(page)
        last = f"frame {VIDEO_FRAMES} / {VIDEO_FRAMES}"
        sync_api.expect(page.locator("#frame-label")).to_have_text(last)
        played = _played(page)
        shown = sorted(played)
        assert shown[0] == 0 and shown[-1] == VIDEO_FRAMES - 1 and len(shown) > 2
        for frame, (at, drawn, x) in played.items():
            assert drawn == frame  # the regions drawn are the picture's own frame's
            assert abs(x - entry.regions.boxes[frame][0]) < 0.06, f"frame {frame}: its region is drawn"
            assert at >= frame * 1000 / FPS - 1, f"frame {frame} shown before its time"
        skipped = VIDEO_FRAMES - len(shown)
        label = page.locator("#play-label")
        if skipped:
            sync_api.expect(label).to_have_text(re.compile(f"{skipped} of {VIDEO_FRAMES - 1} frames skipped"))
        else:
            sync_api.expect(label).to_have_text(f"played at {FPS} fps")

        page.keyboard.press(" ")  # at the end: from the start again
        sync_api.expect(page.locator("#play")).to_have_text("Pause")
        sync_api.expect(page.locator("#frame-label")).not_to_have_text(last)
        page.keyboard.press("ArrowRight")  # a step pauses
        sync_api.expect(page.locator("#play")).to_have_text("Play")
        stopped = page.locator("#frame-label").text_content()
        time.sleep(0.3)
        assert page.locator("#frame-label").text_content() == stopped != last
    finally:
        server.stop()


def test_playing_the_preview_shows_only_output_and_skips_frames_to_keep_time(page, tmp_path):
    src, faces, entry = _tracked_clip(tmp_path)
    server, _ = _serve([entry], tmp_path)
    asked: list[str] = []

    def slow(route) -> None:  # a server that takes 150 ms a frame: six times the clip's 40 ms
        asked.append(route.request.url)
        time.sleep(0.15)
        route.continue_()

    try:
        _open(page, server)
        page.keyboard.press("p")
        sync_api.expect(page.locator("#overlay")).to_have_class(re.compile("hidden"))
        page.route(re.compile(r"/api/files/0/picture"), slow)
        page.evaluate(SAMPLER)
        page.click("#play")
        sync_api.expect(page.locator("#play-label")).to_have_text(re.compile("skipped to keep time"))
        _wait_played(page)
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame {VIDEO_FRAMES} / {VIDEO_FRAMES}")
        sync_api.expect(page.locator("#overlay")).to_have_class(re.compile("hidden"))  # still the preview
        played = _played(page)
        assert VIDEO_FRAMES - 1 in played and len(played) < VIDEO_FRAMES / 2
        for frame, (at, _, _) in played.items():
            assert at >= frame * 1000 / FPS - 1, f"frame {frame} shown before its time"
        skipped = VIDEO_FRAMES - len(played)
        sync_api.expect(page.locator("#play-label")).to_have_text(
            f"played at {FPS} fps; {skipped} of {VIDEO_FRAMES - 1} frames skipped to keep time"
        )
        assert asked and all("output=1" in url for url in asked)  # never the original
        assert page.evaluate('document.getElementById("picture").src').startswith("blob:")  # played
        shown = page.locator("#picture").evaluate(PIXELS)
    finally:
        server.stop()
    picture = np.asarray(shown, np.uint8).reshape(192, 256, 4)[..., :3]
    original = _frames(src)[-1]
    face = faces[VIDEO_FRAMES - 1][VIDEO_CLEAR]
    assert covered_fraction(original, picture, face, tol=24, color=WHITE) >= 0.9  # the face painted


def test_track_cards_fetch_their_thumbnails_two_at_a_time_and_keep_them(page, tmp_path):
    """A freshly opened video with many tracks: its cards' thumbnails took every connection the
    browser opens to the server, and the picture a key asked for waited seconds behind them; and
    every card was fetched again each time the selected track changed."""
    src = tmp_path / "clip.mp4"
    review_video(src)
    boxes = [
        (8 + 20 * (k % 12), 8 + 40 * (k // 12), 28 + 20 * (k % 12), 48 + 40 * (k // 12)) for k in range(24)
    ]
    regions = Regions.concat(
        [
            Regions([box] * 4, 0.9, "full", np.arange(4 * k % 20, 4 * k % 20 + 4), k)
            for k, box in enumerate(boxes)
        ]
    )
    size, sha = fingerprint(src)
    out = str(tmp_path / "out" / "clip.mp4")
    entry = FileEntry(str(src), out, "video", 256, 192, VIDEO_FRAMES, regions, size=size, sha256=sha)
    server, _ = _serve([entry], tmp_path)
    asked, pending, most = [], set(), [0]

    def sent(request) -> None:
        if "/crop?" in request.url:
            asked.append(request.url)
            pending.add(request)
            most[0] = max(most[0], len(pending))

    def done(request) -> None:
        pending.discard(request)

    page.on("request", sent)
    page.on("requestfinished", done)
    page.on("requestfailed", done)
    try:
        _open(page, server)
        loaded = (
            "() => [...document.querySelectorAll('.card img')].every((i) => i.complete && i.naturalWidth > 0)"
        )
        page.wait_for_function(loaded)
        assert len(asked) == 24 and most[0] <= 2, (len(asked), most[0])
        page.locator('.card[data-track="7"] img').click()  # a track selected: the cards are rebuilt
        sync_api.expect(page.locator('.card[data-track="7"]')).to_have_class(re.compile("selected"))
        page.wait_for_function(loaded)
        assert len(asked) == 24  # shown from what was fetched
        # the timeline's cursor (frame 8, track 7's first) lets a click through to the lane under it
        assert page.evaluate("state.frame") == 8
        page.locator('#timeline rect.lane[data-track="12"]').click(position={"x": 0.1, "y": 4}, timeout=5000)
        assert page.evaluate("[state.track, state.frame]") == [12, 8]
    finally:
        server.stop()


def test_track_cards_in_time_order_show_each_face_sharp_where_it_is_largest(page, tmp_path):
    src = tmp_path / "clip.mp4"
    faces = review_video(src)
    clear = np.asarray([faces[i][VIDEO_CLEAR] for i in range(6, VIDEO_FRAMES)], np.float32)
    clear[17 - 6] += [-15, -15, 15, 15]  # the clear face's largest box: frame 17, 80 px tall
    hidden = np.asarray([faces[i][VIDEO_HIDDEN] for i in range(9, VIDEO_FRAMES)], np.float32)
    regions = Regions.concat(
        [
            Regions(clear, 0.9, "full", np.arange(6, VIDEO_FRAMES), 5),  # found first, larger id
            Regions(hidden, 0.9, "full", np.arange(9, VIDEO_FRAMES), 2),
        ]
    )
    size, sha = fingerprint(src)
    out = str(tmp_path / "out" / "clip.mp4")
    entry = FileEntry(str(src), out, "video", 256, 192, VIDEO_FRAMES, regions, size=size, sha256=sha)
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        cards = page.locator(".card")
        sync_api.expect(cards).to_have_count(2)
        assert [cards.nth(i).get_attribute("data-track") for i in range(2)] == ["5", "2"]  # by first frame
        thumb = page.locator('.card[data-track="5"] img.thumb')
        page.wait_for_function(  # thumbnails come a few at a time (see app.js, thumbnail)
            "() => { const img = document.querySelector('.card[data-track=\"5\"] img');"
            " return img.complete && img.naturalWidth > 0; }"
        )
        assert thumb.evaluate("img => getComputedStyle(img).filter") == "none"  # not blurred
        shown = np.asarray(thumb.evaluate(PIXELS), np.uint8)
    finally:
        server.stop()
    x1, y1, x2, y2 = (int(round(float(v))) for v in clear[17 - 6])
    pad = max(x2 - x1, y2 - y1) // 4
    x1, y1, x2, y2 = max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, 256), min(y2 + pad, 192)
    height, width = y2 - y1, x2 - x1
    picture = shown.reshape(height, width, 4)[..., :3].astype(int)  # every pixel of the crop: native
    frames = _frames(src)
    assert np.abs(picture - frames[17][y1:y2, x1:x2]).mean() < 6  # the face on its largest frame
    assert np.abs(picture - frames[14][y1:y2, x1:x2]).mean() > 12  # not on the track's middle one


def test_an_accepted_suggestion_covers_its_face_before_and_after_its_keyframe(page, tmp_path):
    """The weak face stands still through the clip, suggested on a few keyframes: accepted on one in
    mid-clip, with its other suggestions left out, it is painted in every frame of the export."""
    src = tmp_path / "clip.mp4"
    faces = review_video(src)
    entry = detect_video(src, tmp_path / "out" / "clip.mp4", Options())
    weak = (entry.actions == "suggested") & (
        iou_matrix(entry.regions.boxes, faces[0][VIDEO_WEAK : VIDEO_WEAK + 1])[:, 0] > 0.4
    )
    later = [f for f in entry.regions.frame[weak].tolist() if 0 < f < VIDEO_FRAMES - 1]
    assert later, entry.regions.frame[weak].tolist()
    key = later[0]
    alone = ~weak | (entry.regions.frame == key)
    entry.regions, entry.actions = entry.regions[alone], entry.actions[alone]
    chosen = int(np.flatnonzero(weak[alone] & (entry.regions.frame == key))[0])
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        for _ in range(int((entry.actions == "suggested").sum())):
            page.keyboard.press("n")
            if page.locator(f'#overlay rect.selected[data-index="{chosen}"]').count():
                break
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame {key + 1} / {VIDEO_FRAMES}")
        page.keyboard.press("a")
        status = page.locator("#status")
        # said once every frame is saved
        sync_api.expect(status).to_have_text(re.compile(r"^accepted over \d+ frames"), timeout=20_000)
        label = f"frame {key + 1} / {VIDEO_FRAMES}"
        sync_api.expect(page.locator("#frame-label")).to_have_text(label)  # back there
        saved = load_document(path).files[0]
        accepted = saved.regions.track == saved.regions.track.max()
        assert sorted(saved.regions.frame[accepted].tolist()) == list(range(VIDEO_FRAMES))
        _export(page)
    finally:
        server.stop()
    for i, (a, b) in enumerate(zip(_frames(src), _frames(tmp_path / "out" / "clip.mp4"), strict=True)):
        assert covered_fraction(a, b, faces[i][VIDEO_WEAK], tol=24, color=WHITE) >= 0.9, f"frame {i}"


def test_two_tracks_of_one_face_show_as_one_region_and_are_kept_at_once(page, tmp_path):
    """The clear face was tracked twice (its whole box and a box over its eyes): on every frame the
    page shows it as one region, and keeping that keeps both tracks; the file keeps both."""
    src = tmp_path / "clip.mp4"
    faces = review_video(src)
    frames = np.arange(VIDEO_FRAMES)
    whole = np.asarray([faces[i][VIDEO_CLEAR] for i in frames], np.float32)
    eyes = whole + [5, 8, -5, 0]
    eyes[:, 3] = (whole[:, 1] + whole[:, 3]) / 2
    hidden = np.asarray([faces[i][VIDEO_HIDDEN] for i in frames], np.float32)
    regions = Regions.concat(
        [Regions(b, 0.9, "full", frames, t) for t, b in enumerate([whole, eyes, hidden])]
    )
    size, sha = fingerprint(src)
    out = tmp_path / "out" / "clip.mp4"
    entry = FileEntry(str(src), str(out), "video", 256, 192, VIDEO_FRAMES, regions, size=size, sha256=sha)
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        group = page.locator("#overlay rect.region.group")
        for frame in (0, 10):
            sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame {frame + 1} / {VIDEO_FRAMES}")
            sync_api.expect(page.locator("#overlay rect.region")).to_have_count(2)
            sync_api.expect(group).to_have_attribute("data-members", f"{frame},{VIDEO_FRAMES + frame}")
            sync_api.expect(page.locator("#shown-label")).to_have_text("2 shown for 3 boxes")
            page.keyboard.press("Shift+ArrowRight")
        group.click()
        page.keyboard.press("k")
        sync_api.expect(group).to_have_class(re.compile("keep"))
        _saved(page)
        saved = load_document(path).files[0]
        assert len(saved.regions) == 3 * VIDEO_FRAMES  # both tracks still apart in the file
        for track, action in enumerate(["keep", "keep", "obscure"]):
            assert set(saved.actions[saved.regions.track == track].tolist()) == {action}
        _export(page)
    finally:
        server.stop()
    for i, (a, b) in enumerate(zip(_frames(src), _frames(out), strict=True)):
        x1, y1, x2, y2 = (int(v) for v in faces[i][VIDEO_CLEAR])
        assert np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2]).mean() < 8, f"kept face, frame {i}"
        assert covered_fraction(a, b, faces[i][VIDEO_HIDDEN], tol=24, color=WHITE) >= 0.9, f"frame {i}"


def _on(box, face) -> float:
    return float(iou_matrix(np.asarray([box], np.float32), np.asarray([face], np.float32))[0, 0])


def _rect(page, selector: str) -> list[float]:
    rect = page.locator(selector)
    x, y, w, h = (float(rect.get_attribute(k)) for k in ("x", "y", "width", "height"))
    return [x, y, x + w, y + h]


def test_the_coverage_meter_marks_where_on_the_frame_a_face_is_uncovered(page, tmp_path):
    """The track loses the clear face on frames 10 to 13: on each of them the page marks the face's
    place (moved along between the track's boxes) and says so under the frame bar; drawn over, the
    mark goes."""
    src, faces, entry = _tracked_clip(tmp_path)
    gap = np.isin(entry.regions.frame, range(10, 14))
    entry.regions, entry.actions = entry.regions[~gap], entry.actions[~gap]
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        coverage = page.locator("#coverage")
        sync_api.expect(coverage).to_have_text("83.3 % covered · 4 frames with a gap")
        sync_api.expect(page.locator("#overlay rect.hole")).to_have_count(0)  # frame 1 has none
        page.keyboard.press("g")
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 11 / {VIDEO_FRAMES}")
        sync_api.expect(coverage).to_have_text(
            "83.3 % covered · 4 frames with a gap · here 1 face uncovered (marked)"
        )
        sync_api.expect(page.locator("#overlay rect.hole")).to_have_count(1)
        assert _on(_rect(page, "#overlay rect.hole"), faces[10][VIDEO_CLEAR]) > 0.8
        page.keyboard.press("ArrowRight")  # the mark moves with the face
        sync_api.expect(page.locator("#frame-label")).to_have_text(f"frame 12 / {VIDEO_FRAMES}")
        sync_api.expect(page.locator("#overlay rect.hole")).to_have_count(1)
        assert _on(_rect(page, "#overlay rect.hole"), faces[11][VIDEO_CLEAR]) > 0.8
        review_page._drag(page, review_page._grown(faces[11][VIDEO_CLEAR]), (256, 192))
        _saved(page)
        sync_api.expect(coverage).to_have_text("87.5 % covered · 3 frames with a gap")
        sync_api.expect(page.locator("#overlay rect.hole")).to_have_count(0)
    finally:
        server.stop()


def test_follow_stops_where_the_face_leaves_the_picture(page, tmp_path):
    """A face nobody found walks out through the right edge; drawn once and followed, the page stops
    following a few frames after it has gone (not at the video's end) and says why."""
    from scenes import Placement
    from test_video import scene_clip

    clip = scene_clip(tmp_path / "out.mp4", {"w": lambda i: Placement(44, 200 + 8 * i, 120)}, 40, (320, 240))
    gone = next(i for i, faces in enumerate(clip.boxes) if "w" not in faces)
    size, sha = fingerprint(clip.path)
    empty = Regions(np.zeros((0, 4)), 1.0, "full", np.zeros(0, int), -1)
    dst = str(tmp_path / "published" / "out.mp4")
    entry = FileEntry(str(clip.path), dst, "video", 320, 240, 40, empty, size=size, sha256=sha)
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click("#scrubber")
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        sync_api.expect(page.locator("#frame-label")).to_have_text("frame 3 / 40")
        review_page._drag(page, review_page._grown(clip.boxes[2]["w"], 4), (320, 240))
        _saved(page)
        page.keyboard.press("f")
        status = page.locator("#status")
        sync_api.expect(status).to_have_text(
            re.compile(r"^followed \d+ frames \(the face was lost or left the picture\)$"), timeout=30_000
        )
        drawn = load_document(path).files[0].regions.frame.tolist()
        assert gone - 1 <= max(drawn) <= gone + 4, (gone, drawn)  # stopped at the edge, not at frame 39
        shown = int(page.locator("#frame-label").inner_text().split()[1]) - 1
        assert shown == max(drawn)  # the page shows where it stopped
    finally:
        server.stop()
