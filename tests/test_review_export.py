"""Export from the review page (Chromium) writes the very bytes ``unseen render`` writes from the
same regions file: a face kept under a second box over its eyes, a box drawn at a fractional zoom
and an accepted suggestion included."""

from __future__ import annotations

import numpy as np
import test_review_page as review_page
from PIL import Image
from review_media import CLEAR, HIDDEN, review_photo
from scenes import covered_fraction
from test_review_page import WHITE, _best, _export, _open, _saved, _serve, sync_api
from test_review_zoom import _screen

from unseen.api import Options
from unseen.cli import main
from unseen.regions import Regions
from unseen.regions_file import load_document
from unseen.review.detection import detect_photo

browser, page = review_page.browser, review_page.page  # the same Chromium fixtures


def test_export_from_the_page_equals_render_of_its_regions_file(page, tmp_path):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    entry = detect_photo(src, tmp_path / "out" / "people.png", Options())
    clear = _best(entry.regions.boxes, faces[CLEAR])
    x1, y1, x2, y2 = entry.regions.boxes[clear].tolist()
    eyes = Regions.from_boxes([[x1 + 4.37, y1 + 8.21, x2 - 4.13, (y1 + y2) / 2]], [0.5], source="fine")
    entry.regions = Regions.concat([entry.regions, eyes])
    entry.actions = np.concatenate([entry.actions, ["obscure"]])
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        page.click("#overlay rect.region.group", position={"x": 3, "y": 3})  # the clear face, both boxes
        page.keyboard.press("k")
        _saved(page)
        page.keyboard.press("n")  # a suggestion, accepted
        page.keyboard.press("a")
        _saved(page)
        page.keyboard.press("+")  # a box drawn zoomed in, at a scale that makes fractions
        target = review_page._grown(faces[HIDDEN], 3.3)
        (ax, ay), (bx, by) = _screen(page, target[:2]), _screen(page, target[2:])
        page.mouse.move(ax, ay)
        page.mouse.down()
        page.mouse.move(bx, by, steps=4)
        page.mouse.up()
        _saved(page)
        sync_api.expect(page.locator("#overlay rect.region.manual")).to_have_count(2)  # and the accepted
        _export(page)
    finally:
        server.stop()
    saved = load_document(path).files[0]
    assert (saved.actions == "keep").sum() == 2 and (saved.regions.source == "manual").sum() == 2
    exported = (tmp_path / "out" / "people.png").read_bytes()
    assert main(["render", str(path), "--overwrite"]) == 0
    assert (tmp_path / "out" / "people.png").read_bytes() == exported  # byte for byte
    with Image.open(tmp_path / "out" / "people.png") as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])  # kept under its eyes' box
    assert covered_fraction(original, out, faces[HIDDEN], tol=24, color=WHITE) >= 0.9
