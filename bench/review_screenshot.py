#!/usr/bin/env python3
"""The README's screenshot of the review page (docs/review.png), made again from generated media.

    python bench/review_screenshot.py                  # writes docs/review.png
    python bench/review_screenshot.py --out bench/out/review.png

A video with real faces (the tests' review clip) opened on the review page in Chromium: the clear
face's track split at frame 12 and its second part kept, a region drawn over the face the detector
missed on two frames (filled between), a static zone, and the photo of the tests beside it in the
file list. Nothing is detected: the regions are written as a review would leave them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test media: real faces, a weak one and a hidden one

from playwright.sync_api import sync_playwright  # noqa: E402
from review_media import (  # noqa: E402
    VIDEO_CLEAR,
    VIDEO_FRAMES,
    VIDEO_HIDDEN,
    VIDEO_WEAK,
    review_photo,
    review_video,
)

from unseen.regions import Regions  # noqa: E402
from unseen.regions_file import FileEntry, RegionsDocument, fingerprint, save_document  # noqa: E402
from unseen.review.server import ReviewServer  # noqa: E402
from unseen.review.session import ReviewSession  # noqa: E402

SHOWN_FRAME = 14


def _entries(folder: Path) -> list[FileEntry]:
    clip, photo = folder / "clip.mp4", folder / "people.png"
    faces = review_video(clip)
    _, photo_faces = review_photo(photo)
    frames = np.arange(VIDEO_FRAMES)
    clear = Regions([f[VIDEO_CLEAR] for f in faces], 0.9, "full", frames, np.where(frames < 12, 0, 1))
    grown = [[b[0] - 6, b[1] - 6, b[2] + 6, b[3] + 6] for b in (faces[i][VIDEO_HIDDEN] for i in frames)]
    drawn = Regions(grown[3:16], 1.0, ["manual", *["interpolated"] * 11, "manual"], frames[3:16], 2)
    weak = Regions([faces[i][VIDEO_WEAK] for i in (0, 8, 16)], 0.12, "full", [0, 8, 16], -1)
    regions = Regions.concat([clear, drawn, weak])
    actions = ["obscure"] * 12 + ["keep"] * 12 + ["obscure"] * 13 + ["suggested"] * 3
    size, sha = fingerprint(clip)
    video = FileEntry(
        str(clip), str(folder / "out" / "clip.mp4"), "video", 256, 192, VIDEO_FRAMES, regions, actions,
        size, sha, edited=True, zones=[[4.0, 120.0, 60.0, 186.0]],
    )  # fmt: skip
    size, sha = fingerprint(photo)
    still = FileEntry(
        str(photo), str(folder / "out" / "people.png"), "image", 448, 256, 1,
        Regions(photo_faces[:2], [0.9, 0.2], "full"), ["obscure", "suggested"], size, sha,
    )  # fmt: skip
    return [video, still]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "review.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "review.unseen.json"
        save_document(path, RegionsDocument(_entries(Path(tmp)), None))
        server = ReviewServer(ReviewSession.open(path))
        server.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.goto(server.url)
                page.wait_for_selector("body.ready")
                page.click('.card[data-track="1"] img')  # the kept part of the split track
                for _ in range(SHOWN_FRAME - 12):
                    page.keyboard.press("ArrowRight")
                page.evaluate("document.getElementById('picture').decode()")  # the frame shown
                page.wait_for_load_state("networkidle")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
