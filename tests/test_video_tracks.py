"""Tracks end to end with the real detector: faces entering from the edge, fragments of one face,
a panning camera; and the counts a person would make, for photos and videos.

The clips are drawn with ``test_video.scene_clip`` (real face photos over one background), so every
face's true box is known in every frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenes import Placement, covered_fraction
from test_video import BLACK_TOL, MIN_COVERED, Clip, decoded, scene_clip

from unseen.api import anonymise_video_file

SIZE = (320, 240)
FRAMES = 80
# The entering face is hidden on these frames (as behind a passing pole): the detector first sees
# it at frame 40, already in the picture but at its edge, and next at frame 64.
HIDDEN = {0, 8, 16, 24, 32, 48, 56}


def enter(i: int) -> Placement | None:
    """Slides in from the right edge at 1.5 px/frame: a sliver from frame 15, whole from 40."""
    return None if i in HIDDEN else Placement(50, 300 - 1.5 * (i - 40), 70, "astronaut", flip=True)


def walk(i: int) -> Placement | None:
    """Walks right at 3 px/frame, gone behind something from frame 12 to 37: two track fragments."""
    return None if 12 <= i < 38 else Placement(50, 40 + 3 * i, 170, "cameraman")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("enter")
    return scene_clip(folder / "enter.mp4", {"enter": enter, "walk": walk}, FRAMES, SIZE, audio=False)


@pytest.fixture(scope="module")
def output(clip: Clip, tmp_path_factory: pytest.TempPathFactory):
    dst = tmp_path_factory.mktemp("enter-out") / "enter.mp4"
    return anonymise_video_file(clip.path, dst), decoded(dst)


def test_a_face_entering_from_the_edge_is_covered_from_its_first_visible_sliver(clip: Clip, output) -> None:
    report, frames = output
    visible = [i for i, faces in enumerate(clip.boxes) if "enter" in faces]
    assert visible[0] == 15 and 40 in visible  # the source really shows it from frame 15 on
    r = report.regions
    top = (r.boxes[:, 1] + r.boxes[:, 3]) / 2 < SIZE[1] / 2  # its half of the picture
    detected = r.frame[top & np.isin(r.source, ["full", "coarse", "fine"])]
    assert detected.min() == 40 and 64 in detected and 48 not in detected and 56 not in detected
    misses = []
    for i in visible:
        box = clip.boxes[i]["enter"]
        share = covered_fraction(frames[i], frames[i], box, tol=BLACK_TOL, color=(0, 0, 0))
        if share < MIN_COVERED:
            misses.append((i, round(float(box[2] - box[0]), 1), round(share, 2)))
    assert misses == [], misses
