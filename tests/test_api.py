"""The public API end to end: files in and out, input checks, given regions, obscure methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image
from scenes import Scene, compose_crowd, covered_fraction, painted_fraction

import unseen.photo_pipeline
from unseen.api import Options, anonymise, anonymise_file
from unseen.obscure import ObscureOptions, obscure
from unseen.plan import plan_regions
from unseen.regions import Regions

BLACK = (0, 0, 0)
SIZES = [32, 48, 64, 96]


@pytest.fixture(scope="module")
def scene() -> Scene:
    """An upright 640 x 480 photo with four faces."""
    s = compose_crowd(SIZES, (480, 640), seed=3, background_kind="rocket", faces=("astronaut", "cameraman"))
    s.image.setflags(write=False)  # any attempt to paint the input in place fails loudly
    return s


def test_exif_rotated_jpeg_comes_out_upright_and_covered(scene: Scene, tmp_path: Path) -> None:
    # Orientation 6: a viewer turns the stored pixels 90 degrees clockwise to show them, so store
    # the upright scene turned 90 degrees counter-clockwise.
    stored = np.ascontiguousarray(np.rot90(scene.image, k=1))
    src, dst = tmp_path / "portrait.jpg", tmp_path / "out.jpg"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})
    Image.fromarray(stored).save(src, quality=95, exif=exif)
    with Image.open(src) as im:
        assert im.size == (480, 640) and im.getexif().get(0x0112) == 6

    report = anonymise_file(src, dst)

    with Image.open(dst) as im:
        assert im.format == "JPEG"
        assert 0x0112 not in im.getexif()  # no orientation tag left to turn it again
        out = np.asarray(im.convert("RGB"))
    h, w = scene.image.shape[:2]
    assert out.shape == scene.image.shape
    assert (report.width, report.height, report.kind) == (w, h, "image")
    assert len(report.regions) >= len(SIZES)
    # Every face, known in the upright frame, is black (JPEG blurs the fill's edges a little).
    for size, box in zip(SIZES, scene.boxes, strict=True):
        share = covered_fraction(scene.image, out, box, tol=40, color=BLACK)
        assert share >= 0.7, f"face of height {size} at {box} covered {share:.2f}"
    # And the picture is the upright one, not turned the wrong way (that would keep the size):
    # away from the faces the output matches it up to JPEG noise.
    diff = np.abs(out.astype(np.int16) - scene.image.astype(np.int16)).max(axis=-1)
    assert np.median(diff) <= 4


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(np.zeros((64, 64), np.uint8), id="2-D"),
        pytest.param(np.zeros((64, 64, 3), np.float32), id="float32"),
        pytest.param(np.zeros((64, 64, 3), np.uint16), id="uint16"),
        pytest.param(np.zeros((64, 64, 4), np.uint8), id="RGBA"),
        pytest.param(np.zeros((64, 64, 1), np.uint8), id="one-channel"),
    ],
)
def test_anonymise_refuses_non_rgb8_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        anonymise(bad)


def test_given_regions_are_painted_without_detecting(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_detection(*args, **kwargs):
        raise AssertionError("detect() must not run when regions are given")

    monkeypatch.setattr(unseen.photo_pipeline, "detect", no_detection)
    given = Regions.from_boxes(scene.boxes[[1, 3]])  # two of the four faces
    result = anonymise(scene.image, regions=given)

    assert result.regions is given
    expected = obscure(scene.image, plan_regions(given, scene.image.shape))
    np.testing.assert_array_equal(result.image, expected)
    changed = np.any(result.image != scene.image, axis=-1)
    # Only inside the grown (planned) boxes ...
    inside = np.zeros_like(changed)
    for x1, y1, x2, y2 in plan_regions(given, scene.image.shape).boxes:
        inside[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
    assert not (changed & ~inside).any()
    # ... which cover the given faces, while the faces not given stay untouched.
    for i, box in enumerate(scene.boxes):
        share = covered_fraction(scene.image, result.image, box, color=BLACK)
        assert share == (1.0 if i in (1, 3) else 0.0)


def test_input_array_is_not_modified(scene: Scene) -> None:
    writable = scene.image.copy()
    before = writable.copy()
    result = anonymise(writable)
    np.testing.assert_array_equal(writable, before)
    assert result.image is not writable and not np.shares_memory(result.image, writable)
    anonymise(scene.image)  # read-only input works: nothing writes to it


@pytest.mark.parametrize(
    ("method", "tol", "min_share"),
    [("fill", 0, 0.95), ("pixelate", 2, 0.9), ("blur", 2, 0.9)],
)
def test_each_method_changes_every_face(scene: Scene, method: str, tol: int, min_share: float) -> None:
    options = Options(obscure=ObscureOptions(method=method, seed=0))
    result = anonymise(scene.image, options)
    for size, box in zip(SIZES, scene.boxes, strict=True):
        share = covered_fraction(scene.image, result.image, box, tol=tol)
        assert share >= min_share, f"{method}: face of height {size} changed {share:.2f}"
    assert painted_fraction(scene.image, result.image) < 0.25  # the faces, not the whole picture
