"""Review with text regions (--text): drawn in their own colour, kept or obscured, marked with T."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scenes import background
from test_review_page import (  # noqa: F401 (browser and page are fixtures)
    WHITE,
    _drag,
    _export,
    _open,
    _region_has,
    _saved,
    _serve,
    browser,
    page,
    sync_api,
)
from texts import Plate, plate_covered, render_plates

from unseen import api
from unseen.regions import kinds
from unseen.regions_file import FileEntry, fingerprint, load_document

PLATES = [Plate("AB 123", 16, 110, 70, style="yellow"), Plate("CD 456", 16, 330, 180, angle=10)]


def test_review_shows_keeps_and_marks_text(page, tmp_path):  # noqa: F811 (the fixture)
    image, quads = render_plates(background((256, 448), 2, "coffee"), PLATES)
    src, dst = tmp_path / "street.png", tmp_path / "out" / "street.png"
    Image.fromarray(image).save(src)
    found = api.anonymise(image, api.Options(text=True)).regions
    assert (kinds(found) == "text").all() and len(found) >= 2
    size, sha = fingerprint(src)
    entry = FileEntry(str(src), str(dst), "image", 448, 256, 1, found, size=size, sha256=sha)
    keep = int(np.argmin(np.abs(found.boxes[:, 0] - quads[0][:, 0].min())))  # the left plate's region
    server, path = _serve([entry], tmp_path)
    try:
        _open(page, server)
        text = page.locator("#overlay rect.region.text")
        sync_api.expect(text).to_have_count(len(found))
        colour = text.first.evaluate("e => getComputedStyle(e).stroke")
        assert colour == "rgb(29, 161, 242)"  # not a face's red
        page.click(f'#overlay rect[data-index="{keep}"]')
        page.keyboard.press("k")
        _region_has(page, keep, "keep")
        _saved(page)
        # a region drawn by hand is a face until T marks it as text
        _drag(page, (20, 190, 120, 230), (448, 256))
        drawn = page.locator("#overlay rect.region.manual")
        sync_api.expect(drawn).to_have_count(1)
        page.keyboard.press("t")
        sync_api.expect(page.locator("#overlay rect.region.manual.text")).to_have_count(1)
        _saved(page)
        saved = load_document(path).files[0]
        manual = saved.regions[saved.regions.source == "manual"]
        assert kinds(manual).tolist() == ["text"]
        _export(page)
    finally:
        server.stop()
    out = np.asarray(Image.open(dst).convert("RGB"))
    assert plate_covered(image, out, quads[0]) == 0.0  # kept: untouched
    assert plate_covered(image, out, quads[1], color=WHITE) >= 0.97
    assert (out[190:230, 20:120] == WHITE).all()  # the drawn text region, painted as a box
