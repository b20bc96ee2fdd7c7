"""The review page counts a photo's faces as the command line does: one face for all its boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scenes import compose_crowd

from unseen import api
from unseen.regions import Regions
from unseen.regions_file import FileEntry, RegionsDocument, fingerprint, save_document
from unseen.review.session import ReviewSession


def test_the_page_counts_the_faces_the_command_line_counts(tmp_path: Path):
    scene = compose_crowd([60, 60], (256, 320), seed=1, background_kind="coffee", vary=False)
    src = tmp_path / "two.png"
    Image.fromarray(scene.image).save(src)
    run = api.anonymise_file(src, tmp_path / "run.png")
    assert (run.faces, run.candidates) == (2, 0)
    left = scene.boxes[1]
    eyes = [left[0] + 8, left[1] + 12, left[2] - 8, left[1] + 30]  # the same face, found again
    weak = Regions.from_boxes([[250.0, 180.0, 290.0, 230.0]], [0.1], source="full")  # a weak candidate
    regions = Regions.concat([run.regions, Regions.from_boxes([eyes], [0.9], source="fine"), weak])
    size, sha = fingerprint(src)
    actions = ["obscure", "keep", "obscure", "obscure"]
    entry = FileEntry(str(src), str(tmp_path / "out.png"), "image", 320, 256, 1, regions, actions, size, sha)
    entry.regions.scores[: len(run.regions)] = np.maximum(entry.regions.scores[: len(run.regions)], 0.9)
    path = tmp_path / "review.unseen.json"
    save_document(path, RegionsDocument([entry], {}))

    (summary,) = ReviewSession.open(path).files()

    assert (summary["faces"], summary["candidates"], summary["kept"]) == (2, 1, 1)
