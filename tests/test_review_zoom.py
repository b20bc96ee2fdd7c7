"""Zoom and pan on the review page (Chromium): drawing at any zoom lands on the right picture pixels,
and lines and handles keep their size on the screen, so a small region never hides under its handles."""

from __future__ import annotations

import numpy as np
import test_review_page as review_page
from PIL import Image
from review_media import HIDDEN, review_photo
from scenes import covered_fraction
from test_review_page import WHITE, _export, _grown, _open, _saved, _serve, sync_api

from unseen.api import Options
from unseen.regions import Regions
from unseen.regions_file import load_document
from unseen.review.detection import detect_photo

SIZE = (448, 256)
browser, page = review_page.browser, review_page.page  # the same Chromium fixtures


def _screen(page, point) -> tuple[float, float]:
    """Where picture pixel ``point`` is on the screen now."""
    box = page.locator("#overlay").bounding_box()
    scale = box["width"] / SIZE[0]
    return box["x"] + float(point[0]) * scale, box["y"] + float(point[1]) * scale


def test_zoom_in_draw_pan_and_fit_then_export(page, tmp_path):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    server, path = _serve([detect_photo(src, tmp_path / "out" / "people.png", Options())], tmp_path)
    try:
        _open(page, server)
        fitted = page.locator("#overlay").bounding_box()["width"]
        hidden = faces[HIDDEN]
        centre = ((hidden[0] + hidden[2]) / 2, (hidden[1] + hidden[3]) / 2)
        page.mouse.move(*_screen(page, centre))
        for _ in range(2):
            page.mouse.wheel(0, -200)
        sync_api.expect(page.locator("#zoom-label")).not_to_have_text("fit")
        assert page.locator("#overlay").bounding_box()["width"] > 2 * fitted
        stage = page.locator("#stage").bounding_box()
        target = _grown(hidden, 4)
        (x1, y1), (x2, y2) = _screen(page, target[:2]), _screen(page, target[2:])
        assert (
            stage["x"] < x1 < x2 < stage["x"] + stage["width"]
            and stage["y"] < y1 < y2 < stage["y"] + stage["height"]
        )
        page.mouse.move(x1, y1)
        page.mouse.down()
        page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=3)
        page.mouse.move(x2, y2, steps=3)
        page.mouse.up()
        _saved(page)
        handle = page.locator("#overlay .handle").first.bounding_box()
        assert 6 <= handle["width"] <= 10  # screen pixels, whatever the zoom

        # Space + drag moves the picture; the region moves with it.
        before = page.locator("#overlay rect.region.manual").bounding_box()
        page.mouse.move(stage["x"] + 200, stage["y"] + 200)
        page.keyboard.down(" ")
        page.mouse.down()
        page.mouse.move(stage["x"] + 260, stage["y"] + 230, steps=3)
        page.mouse.up()
        page.keyboard.up(" ")
        after = page.locator("#overlay rect.region.manual").bounding_box()
        assert (round(after["x"] - before["x"]), round(after["y"] - before["y"])) == (60, 30)
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(1)  # no region drawn

        # So does a drag with the middle button.
        page.mouse.move(stage["x"] + 260, stage["y"] + 230)
        page.mouse.down(button="middle")
        page.mouse.move(stage["x"] + 230, stage["y"] + 220, steps=3)
        page.mouse.up(button="middle")
        moved = page.locator("#overlay rect.region.manual").bounding_box()
        assert (round(moved["x"] - after["x"]), round(moved["y"] - after["y"])) == (-30, -10)

        page.keyboard.press("0")
        sync_api.expect(page.locator("#zoom-label")).to_have_text("fit")
        assert page.locator("#overlay").bounding_box()["width"] == fitted
        _export(page)
    finally:
        server.stop()
    drawn = load_document(path).files[0]
    (box,) = drawn.regions.boxes[drawn.regions.source == "manual"]
    assert np.abs(box - np.asarray(target)).max() <= 0.5  # the picture pixels drawn over, at any zoom
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert covered_fraction(original, out, hidden, color=WHITE) >= 0.95


def test_a_small_selected_region_is_not_hidden_by_its_handles(page, tmp_path):
    src = tmp_path / "people.png"
    review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    small = [300.0, 200.0, 308.0, 208.0]  # 8 x 8 picture pixels
    entry.regions = Regions.concat([entry.regions, Regions.from_boxes([small])])
    entry.actions = np.concatenate([entry.actions, ["obscure"]])
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        region = page.locator(f'#overlay rect[data-index="{len(entry.actions) - 1}"]')
        region.click()
        sync_api.expect(region).to_have_class("region obscure selected manual")
        x, y = _screen(page, (304, 204))
        hit = page.evaluate(f"document.elementFromPoint({x}, {y}).dataset.index")
        assert hit == str(len(entry.actions) - 1)  # its middle is the region, not a handle
        for corner in page.locator("#overlay .handle").all():
            b = corner.bounding_box()
            assert b["width"] <= 10
    finally:
        server.stop()


def test_two_fingers_pinch_to_zoom_where_they_are(browser, tmp_path):
    src = tmp_path / "people.png"
    review_photo(src)
    server, _ = _serve([detect_photo(src, tmp_path / "out" / "people.png", Options())], tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, has_touch=True)
    try:
        page = context.new_page()
        _open(page, server)
        fitted = page.locator("#overlay").bounding_box()["width"]
        x, y = _screen(page, (224, 128))  # the middle of the picture
        cdp = context.new_cdp_session(page)

        def touch(kind, spread):
            points = [{"x": x - spread, "y": y, "id": 0}, {"x": x + spread, "y": y, "id": 1}]
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": kind, "touchPoints": [] if kind == "touchEnd" else points},
            )

        touch("touchStart", 20)
        for spread in (30, 45, 60):
            touch("touchMove", spread)
        touch("touchEnd", 60)
        sync_api.expect(page.locator("#zoom-label")).not_to_have_text("fit")
        width = page.locator("#overlay").bounding_box()["width"]
        assert abs(width / fitted - 3) < 0.05
        assert np.allclose(_screen(page, (224, 128)), (x, y), atol=2)  # zoomed about the fingers
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(0)  # nothing drawn
    finally:
        context.close()
        server.stop()
