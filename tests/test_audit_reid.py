"""The re-identification check on real faces: a face matches itself, not its filled or pixelated copy."""

from __future__ import annotations

import numpy as np
from scenes import ASTRONAUT_FACE, CAMERAMAN_FACE
from skimage import data

from unseen.api import anonymise
from unseen.audit import reid


def test_the_models_load_from_the_installed_package():
    assert reid.unavailable() is None  # the test extra installs unseen[audit]


def test_a_face_matches_itself_and_not_its_solid_filled_output():
    for image, face in (
        (data.astronaut(), ASTRONAUT_FACE),
        (np.repeat(data.camera()[:, :, None], 3, axis=2), CAMERAMAN_FACE),
    ):
        box = np.array(face, np.float32)
        assert reid.still_matches(image, image, box) < 0.05
        filled = anonymise(image).image
        assert reid.still_matches(image, filled, box) > reid.MATCH_DISTANCE


def test_tiny_faces_are_not_embedded():
    image = data.astronaut()
    assert reid.still_matches(image, image, np.array([10, 10, 20, 20], np.float32)) is None
