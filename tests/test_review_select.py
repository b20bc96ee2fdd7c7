"""One region per face, picking many, and a filter (Chromium): the boxes of one face show as one
region and take one action; shift-click and a marquee pick several regions for one edit; weak or
small painted regions are drawn as one faint layer, counted, never hidden nor left unpainted."""

from __future__ import annotations

import re

import numpy as np
import test_review_page as review_page
from PIL import Image
from review_media import CLEAR, HIDDEN, review_photo
from scenes import covered_fraction
from test_review_page import _best, _export, _open, _saved, _serve, sync_api
from test_review_zoom import _screen

from unseen.api import Options
from unseen.regions import Regions
from unseen.regions_file import load_document
from unseen.review.detection import detect_photo

browser, page = review_page.browser, review_page.page  # the same Chromium fixtures


def _photo_with_a_second_box(tmp_path):
    """The review photo as detected, plus a second, smaller box over the clear face's eyes."""
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    clear = _best(entry.regions.boxes, faces[CLEAR])
    x1, y1, x2, y2 = entry.regions.boxes[clear].tolist()
    eyes = Regions.from_boxes([[x1 + 5, y1 + 8, x2 - 5, (y1 + y2) / 2]], [0.6], source="fine")
    entry.regions = Regions.concat([entry.regions, eyes])
    entry.actions = np.concatenate([entry.actions, ["obscure"]])
    return src, original, faces, entry, clear


def test_one_face_found_twice_is_one_region_kept_at_once(page, tmp_path):
    src, original, faces, entry, clear = _photo_with_a_second_box(tmp_path)
    eyes = len(entry.actions) - 1
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        group = page.locator("#overlay rect.region.group")
        sync_api.expect(group).to_have_count(1)
        sync_api.expect(group).to_have_attribute("data-members", f"{clear},{eyes}")
        sync_api.expect(page.locator("#overlay text.count")).to_have_text("×2")
        sync_api.expect(page.locator(f'#overlay rect[data-index="{eyes}"]')).to_have_count(0)  # not apart
        group.click()
        page.keyboard.press("k")
        _saved(page)
        assert load_document(path).files[0].actions[[clear, eyes]].tolist() == ["keep", "keep"]
        _export(page)
    finally:
        server.stop()
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])


def test_shift_click_and_marquee_pick_many_for_one_edit_and_weak_ones_are_drawn_faint(page, tmp_path):
    src, _, faces, entry, clear = _photo_with_a_second_box(tmp_path)
    suggested = np.flatnonzero(entry.actions == "suggested").tolist()
    assert len(suggested) == 2
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click(f'#overlay rect[data-index="{suggested[0]}"]')
        second = page.locator(f'#overlay rect[data-index="{suggested[1]}"]')
        height = second.bounding_box()["height"]  # (the two overlap: click where only it is)
        second.click(modifiers=["Shift"], position={"x": 4, "y": height - 4})
        sync_api.expect(page.locator("#overlay rect.region.suggested.selected")).to_have_count(2)
        page.keyboard.press("x")  # both rejected, in one step
        _saved(page)
        assert (load_document(path).files[0].actions == "suggested").sum() == 0
        page.keyboard.press("z")  # and back, in one step
        _saved(page)
        assert (load_document(path).files[0].actions == "suggested").sum() == 2

        # A marquee around both suggestions (not the clear face) picks them; A accepts both.
        boxes = entry.regions.boxes[suggested]
        corner_a = _screen(page, boxes[:, :2].min(0) - 2)
        corner_b = _screen(page, boxes[:, 2:].max(0) + 2)
        page.keyboard.down("Shift")
        page.mouse.move(*corner_a)
        page.mouse.down()
        page.mouse.move(*corner_b, steps=4)
        page.mouse.up()
        page.keyboard.up("Shift")
        sync_api.expect(page.locator("#status")).to_have_text(
            "2 regions picked: K keep, O obscure, A accept, X reject"
        )
        page.keyboard.press("a")
        _saved(page)
        actions = load_document(path).files[0].actions
        assert actions[suggested].tolist() == ["obscure", "obscure"] and actions[clear] == "obscure"

        # Accepted, the weak boxes are the person's: outlined as one region however weak, not faint.
        regions = page.locator("#overlay rect.region")
        page.keyboard.press("Escape")
        sync_api.expect(regions).to_have_count(2)
        sync_api.expect(page.locator("#shown-label")).to_have_text("2 shown for 4 boxes")
        sync_api.expect(page.locator("#overlay path.faint")).to_have_count(0)
    finally:
        server.stop()


def test_a_kept_face_under_a_neighbours_region_is_shown_and_can_be_uncovered(page, tmp_path):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    clear = _best(entry.regions.boxes, faces[CLEAR])
    x1, y1, x2, y2 = entry.regions.boxes[clear].tolist()
    shift = 0.7 * (x2 - x1)  # another face's box over the right third of the kept one
    neighbour = Regions.from_boxes([[x1 + shift, y1, x2 + shift, y2]], [0.9], source="full")
    entry.regions = Regions.concat([entry.regions, neighbour])
    entry.actions = np.concatenate([entry.actions, ["obscure"]])
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        face = page.locator(f'#overlay rect[data-index="{clear}"]')
        face.click(position={"x": 4, "y": 4})
        page.keyboard.press("k")
        _saved(page)
        sync_api.expect(face).to_have_class(re.compile(r"\bkeep\b.*\bcovered\b"))
        uncover = page.locator("#uncover")
        sync_api.expect(uncover).to_have_text("Uncover: remove the 1 region over this kept face")
        uncover.click()
        _saved(page)
        sync_api.expect(uncover).to_be_hidden()
        sync_api.expect(face).not_to_have_class(re.compile("covered"))
        assert len(load_document(path).files[0].regions) == len(entry.regions) - 1
        _export(page)
    finally:
        server.stop()
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])


def test_weak_painted_regions_are_drawn_faint_by_default_counted_and_still_painted(page, tmp_path):
    """A crowd photo's many weak boxes (hands, drums, flags) are painted but not outlined: one faint
    layer with a count; suggestions, however weak, stay outlined (they are not painted); V outlines
    every region; the export paints the faint ones."""
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    suggested = np.flatnonzero(entry.actions == "suggested").tolist()
    assert len(suggested) == 2 and entry.regions.scores[suggested].max() < 0.3
    x1, y1, x2, y2 = faces[HIDDEN].tolist()
    weak = Regions.from_boxes([[x1 - 4, y1 - 4, x2 + 4, y2 + 4]], [0.12], source="fine")
    entry.regions = Regions.concat([entry.regions, weak])
    entry.actions = np.concatenate([entry.actions, ["obscure"]])
    faint = len(entry.actions) - 1
    server, _ = _serve([entry], tmp_path)
    try:
        _open(page, server)
        regions = page.locator("#overlay rect.region")
        sync_api.expect(regions).to_have_count(3)  # the clear face and the two suggestions
        sync_api.expect(page.locator(f'#overlay rect[data-index="{faint}"]')).to_have_count(0)
        sync_api.expect(page.locator("#overlay path.faint")).to_have_attribute("data-count", "1")
        sync_api.expect(page.locator("#shown-label")).to_have_text(
            "3 shown · 1 weak or small, painted, drawn faint"
        )
        page.keyboard.press("v")  # every region outlined: the weak one can be picked
        sync_api.expect(regions).to_have_count(4)
        sync_api.expect(page.locator("#overlay path.faint")).to_have_count(0)
        page.click(f'#overlay rect[data-index="{faint}"]', position={"x": 3, "y": 3})
        page.keyboard.press("v")  # the filter again; the region picked stays outlined until let go
        sync_api.expect(page.locator(f'#overlay rect[data-index="{faint}"]')).to_have_count(1)
        page.keyboard.press("Escape")
        sync_api.expect(regions).to_have_count(3)
        _export(page)
    finally:
        server.stop()
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert covered_fraction(original, out, faces[HIDDEN], tol=24, color=review_page.WHITE) >= 0.9
