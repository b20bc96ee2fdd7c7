"""Safe edits on the review page (Chromium): keys that ignore Caps Lock, Tab left to the browser,
undo and redo that survive reloading and changing file, an Export that says what is not reviewed
and where the files go, and edits that wait for a server that stopped answering."""

from __future__ import annotations

import re
import shutil

import numpy as np
import test_review_page as review_page
from PIL import Image
from review_media import CLEAR, HIDDEN, review_photo
from scenes import covered_fraction
from test_review_page import _best, _open, _region_has, _saved, _serve, sync_api
from test_review_zoom import _screen

from unseen.api import Options
from unseen.regions_file import load_document
from unseen.review.detection import detect_photo

browser, page = review_page.browser, review_page.page  # the same Chromium fixtures


def _two_photos(tmp_path):
    src = tmp_path / "people.png"
    _, faces = review_photo(src)
    shutil.copy(src, tmp_path / "again.png")
    entries = [
        detect_photo(tmp_path / n, tmp_path / "out" / n, Options()) for n in ("people.png", "again.png")
    ]
    return entries, _best(entries[0].regions.boxes, faces[CLEAR])


def _kept(path, file: int = 0) -> int:
    return int((load_document(path).files[file].actions == "keep").sum())


def test_caps_lock_tab_and_undo_across_reload_and_files(page, tmp_path):
    entries, clear = _two_photos(tmp_path)
    server, path = _serve(entries, tmp_path)
    try:
        _open(page, server)
        page.click(f'#overlay rect[data-index="{clear}"]')
        page.keyboard.press("K")  # Caps Lock on: still keep
        _region_has(page, clear, "keep")
        _saved(page)
        page.keyboard.press("Z")  # Caps Lock on: still undo, not redo
        _region_has(page, clear, "obscure")
        _saved(page)
        assert _kept(path) == 0
        page.keyboard.press("Shift+Z")  # redo
        _region_has(page, clear, "keep")
        _saved(page)
        # Tab moves the focus, as in any page (here to the legend after the picture); the selection stays.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") != "BODY"
        sync_api.expect(page.locator("#overlay rect.selected")).to_have_attribute("data-index", str(clear))

        page.reload()
        page.wait_for_selector("body.ready")
        page.keyboard.press("z")  # the history survived the reload
        _region_has(page, clear, "obscure")
        _saved(page)
        assert _kept(path) == 0
        page.keyboard.press("]")  # another file, and back
        sync_api.expect(page.locator(".file.current .name")).to_have_text("again.png")
        sync_api.expect(page.locator("#undo")).to_be_disabled()
        page.keyboard.press("[")
        sync_api.expect(page.locator(".file.current .name")).to_have_text("people.png")
        page.keyboard.press("y")
        _region_has(page, clear, "keep")
        _saved(page)
        assert _kept(path) == 1
    finally:
        server.stop()


def test_export_lists_what_is_not_reviewed_then_says_where_it_wrote(page, tmp_path):
    entries, _ = _two_photos(tmp_path)
    server, path = _serve(entries, tmp_path)
    try:
        _open(page, server)
        page.keyboard.press("r")  # people.png reviewed; again.png not
        _saved(page)
        page.click("#export")
        dialog = page.locator("#export-dialog")
        sync_api.expect(dialog).to_be_visible()
        sync_api.expect(dialog).to_contain_text(f"Writes 2 files into {tmp_path / 'out'}")
        sync_api.expect(dialog.locator(".warning").first).to_contain_text("Not marked reviewed (1):again.png")
        suggestions = int(entries[0].actions.tolist().count("suggested"))
        sync_api.expect(dialog).to_contain_text(f"people.png: {suggestions}")
        page.click("#export-cancel")  # nothing written
        sync_api.expect(dialog).to_be_hidden()
        assert not (tmp_path / "out").exists()
        page.click("#export")
        sync_api.expect(page.locator("#export-confirm")).to_have_text("Export anyway")
        page.click("#export-confirm")
        sync_api.expect(page.locator("#status")).to_have_text(f"exported 2 files to {tmp_path / 'out'}")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["again.png", "people.png"]
    finally:
        server.stop()


def test_an_edit_waits_for_a_server_that_does_not_answer(browser, tmp_path):
    entries, clear = _two_photos(tmp_path)
    server, path = _serve(entries[:1], tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    down = [True]

    def unreachable(route):
        if route.request.method == "PATCH" and down[0]:
            route.abort("connectionrefused")
        else:
            route.continue_()

    try:
        page = context.new_page()
        _open(page, server)
        page.route(re.compile(r".*/api/files/0$"), unreachable)
        page.click(f'#overlay rect[data-index="{clear}"]')
        page.keyboard.press("k")
        banner = page.locator("#offline")
        sync_api.expect(banner).to_be_visible()
        sync_api.expect(banner).to_contain_text("not answering")
        sync_api.expect(banner).to_contain_text("1 edit not saved yet")
        sync_api.expect(banner).to_contain_text("unseen review --regions review.unseen.json")
        assert "reload" not in page.locator("#status").inner_text()
        assert _kept(path) == 0
        down[0] = False
        page.click("#retry")
        _saved(page)
        sync_api.expect(banner).to_be_hidden()
        assert _kept(path) == 1
        assert np.sum(load_document(path).files[0].actions == "keep") == 1
    finally:
        context.close()
        server.stop()


def test_a_box_drawn_on_the_output_is_painted_and_export_asks_before_the_server_has_saved(page, tmp_path):
    """The server is slow to store an edit (held back here): the page paints the box drawn on the
    output in a sweep at once, Export asks at once (the file shown counted as the page has it), and
    writes only once the edit is saved, so the output has it."""
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    server, path = _serve([detect_photo(src, tmp_path / "out" / "people.png", Options())], tmp_path)
    held = []
    try:
        _open(page, server)
        page.keyboard.press("w")  # a sweep: the output, zoomed; the face nobody found is in tile 2
        page.keyboard.press(" ")
        sync_api.expect(page.locator("#sweep-label")).to_contain_text("tile 2 / 2")

        def hold(route) -> None:  # the edits, until let go
            if held is not None and route.request.method == "PATCH":
                held.append(route)
            else:
                route.continue_()

        page.route(re.compile(r".*/api/files/0$"), hold)
        target = review_page._grown(faces[HIDDEN])
        (x1, y1), (x2, y2) = _screen(page, target[:2]), _screen(page, target[2:])
        page.mouse.move(x1, y1)
        page.mouse.down()
        page.mouse.move(x2, y2, steps=4)
        page.mouse.up()
        sync_api.expect(page.locator("#overlay rect.pending")).to_have_count(1)  # painted, not yet saved
        page.keyboard.press("r")
        page.click("#export")
        dialog = page.locator("#export-dialog")
        sync_api.expect(dialog).to_be_visible()
        sync_api.expect(dialog).not_to_contain_text("Not marked reviewed")  # as the page has it
        assert len(load_document(path).files[0].regions) == 3 and held  # the server has nothing yet
        page.click("#export-confirm")
        status = page.locator("#status")
        sync_api.expect(status).to_have_text("exporting once the last edits are saved…")
        assert not (tmp_path / "out").exists()
        waiting, held = held, None
        for route in waiting:
            route.continue_()
        sync_api.expect(status).to_have_text(f"exported 1 file to {tmp_path / 'out'}")
        sync_api.expect(page.locator("#overlay rect.pending")).to_have_count(0)  # the server's picture
    finally:
        server.stop()
    assert load_document(path).files[0].reviewed
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert covered_fraction(original, out, faces[HIDDEN], tol=24, color=review_page.WHITE) >= 0.9
