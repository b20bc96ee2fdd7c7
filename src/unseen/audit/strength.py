"""Obscuring strength: is every region the run planned really covered, and covered well enough?

Each planned region is compared between the original and the output:

* inside the face box, the textured pixels (flat areas reveal nothing) that the output left as they
  were: a face left (partly) unpainted, by a changed output or one rendered from another file;
* inside the planned margin around it (grown as the run's ``margin`` and ``head_top`` say), the
  same: a margin narrower than planned leaves hair, ears and head shape;
* how it was painted: a flat fill is strongest; pixelation must be no finer than the safe cell
  count for the region's size; blur is always reported, as the weakest protection (blurred faces
  can be matched and partly restored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..obscure import PIXELATE_MIN_CELL, ObscureOptions, blur_sigma, obscure
from ..plan import PlanOptions, plan_regions
from ..regions import Regions

SAFE_CELLS = 8
"""Pixelation cells across a region's larger side, at most (unseen's own ``pixel_cells`` default)."""

_UNCHANGED = 10  # smoothed difference (0..255) below which a pixel counts as left as it was
_TEXTURE = 4.0  # local standard deviation above which an original pixel carries detail
_FACE_EXPOSED = 0.2  # share of a face's textured pixels left unchanged that is a finding
_MARGIN_EXPOSED = 0.5  # ... of the planned margin's textured pixels


@dataclass(frozen=True)
class Verdict:
    """How one region was found painted. ``problem`` is None when it is covered as planned."""

    method: str  # "fill", "pixelate", "blur", "replaced" or "unchanged"
    problem: str | None
    exposed: float  # share of the face's textured pixels left as they were
    cells: int | None = None  # pixelation cells across the larger side, when pixelated


def safe_cells(side: float) -> int:
    """The most pixelation cells a region of this larger side may have across it."""
    return max(1, min(SAFE_CELLS, int(side // PIXELATE_MIN_CELL)))


def planned_shape(
    box: np.ndarray, shape: str, crop: tuple[int, int, int, int], size: tuple[int, int]
) -> np.ndarray:
    """Boolean mask over ``crop`` (x1, y1, x2, y2) of the pixels the run paints for ``box``.

    Painted with unseen's own painter on a blank canvas, so the audit's idea of the shape is exactly
    the run's (ellipse edges, sides on the image border painted square).
    """
    x1, y1, x2, y2 = crop
    canvas = np.zeros((size[0], size[1], 3), np.uint8)
    region = Regions.from_boxes(box.reshape(1, 4))
    painted = obscure(canvas, region, ObscureOptions(method="fill", color=(255, 255, 255), shape=shape))
    return painted[y1:y2, x1:x2, 0] > 0


def _crop(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    return (
        max(int(math.floor(box[0])), 0),
        max(int(math.floor(box[1])), 0),
        min(int(math.ceil(box[2])), w),
        min(int(math.ceil(box[3])), h),
    )


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _texture(grey: np.ndarray) -> np.ndarray:
    mean = cv2.blur(grey, (5, 5))
    var = cv2.blur(grey * grey, (5, 5)) - mean * mean
    return np.sqrt(np.maximum(var, 0)) > _TEXTURE


def _unchanged(original: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Pixels whose neighbourhood the output kept: the same brightness and the same fine structure.

    Structure is SSIM's contrast-structure term over 7 x 7 neighbourhoods: a cell of a
    pixelation or a blur keeps the mean colour of what it covers but not its detail, re-encoding
    noise keeps both.
    """
    a, b = _grey(original), _grey(output)
    mean_a, mean_b = cv2.blur(a, (7, 7)), cv2.blur(b, (7, 7))
    var_a = cv2.blur(a * a, (7, 7)) - mean_a * mean_a
    var_b = cv2.blur(b * b, (7, 7)) - mean_b * mean_b
    cov = cv2.blur(a * b, (7, 7)) - mean_a * mean_b
    structure = (2 * cov + 9.0) / (np.maximum(var_a, 0) + np.maximum(var_b, 0) + 9.0)
    return (structure > 0.75) & (np.abs(mean_a - mean_b) <= _UNCHANGED)


def _exposed(unchanged: np.ndarray, textured: np.ndarray, where: np.ndarray) -> float | None:
    """Share of textured pixels in ``where`` left unchanged; None when there is no detail to leave."""
    detail = textured & where
    if detail.sum() < max(4, 0.03 * where.sum()):
        return None
    return float((unchanged & detail).sum() / detail.sum())


def _cells(grey: np.ndarray, side: float) -> int | None:
    """Pixelation cells across ``side`` when ``grey`` is made of flat cells with sharp edges, else None.

    Along each axis, the mean absolute step between neighbouring columns (rows) is near zero inside
    cells and jumps at cell edges; the spacing of the edges is the cell size.
    """
    sizes = []
    for axis in (1, 0):
        steps = np.abs(np.diff(grey, axis=axis)).mean(axis=1 - axis)
        if len(steps) < 4:
            return None
        edge = steps > max(2.0, 4 * float(np.median(steps)))
        inside = steps[~edge]
        if not edge.any() or (len(inside) and inside.mean() > min(3.0, 0.25 * steps[edge].mean())):
            return None
        starts = np.flatnonzero(edge & ~np.concatenate([[False], edge[:-1]]))  # neighbouring steps: one edge
        if len(starts) > 1:
            sizes.append(float(np.median(np.diff(starts))))
        else:  # one edge: the cells are at least as large as the longer side of it
            sizes.append(float(max(starts[0] + 1, len(steps) - starts[0])))
    return max(1, round(side / min(sizes)))


def _blur_like(original: np.ndarray, output: np.ndarray, crop: tuple[int, int, int, int]) -> float | None:
    """The blur sigma that best turns the original into the output inside ``crop`` (grey images of the
    whole picture, blurred with the picture around the crop as the painter does), when some blur
    explains the output far better than the original itself does."""
    x1, y1, x2, y2 = crop
    o, p = original[y1:y2, x1:x2], output[y1:y2, x1:x2]
    best, best_err = None, float(np.abs(o - p).mean())
    for sigma in (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48):
        pad = int(3 * sigma)
        px1, py1 = max(x1 - pad, 0), max(y1 - pad, 0)
        context = original[py1 : min(y2 + pad, original.shape[0]), px1 : min(x2 + pad, original.shape[1])]
        blurred = cv2.GaussianBlur(context, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        err = float(np.abs(blurred[y1 - py1 : y2 - py1, x1 - px1 : x2 - px1] - p).mean())
        if err < best_err:
            best, best_err = sigma, err
    return best if best is not None and best_err < 0.35 * max(float(o.std()), 1.0) else None


def judge_region(
    original: np.ndarray, output: np.ndarray, face: np.ndarray, planned: np.ndarray, shape: str
) -> Verdict:
    """How the planned region (face box ``face``, grown to ``planned``) was painted in ``output``.

    The way it was painted is recognised first (a flat fill, cells, a blur of the original), then
    what it left: a face whose detail is still there was not obscured, whatever else happened.
    """
    x1, y1, x2, y2 = _crop(planned, output.shape)
    if x2 <= x1 or y2 <= y1:
        return Verdict("fill", None, 0.0)
    o, p = original[y1:y2, x1:x2], output[y1:y2, x1:x2]
    painted = planned_shape(planned, shape, (x1, y1, x2, y2), output.shape[:2])
    fx1, fy1, fx2, fy2 = _crop(face, output.shape)
    in_face = np.zeros(painted.shape, bool)
    in_face[max(fy1 - y1, 0) : fy2 - y1, max(fx1 - x1, 0) : fx2 - x1] = True
    unchanged = _unchanged(o, p)
    textured = _texture(_grey(o))
    exposed = _exposed(unchanged, textured, in_face) or 0.0
    margin = _exposed(unchanged, textured, painted & ~in_face) or 0.0
    short = (
        f"margin short: {margin:.0%} of the planned margin left as in the original"
        if margin > _MARGIN_EXPOSED
        else None
    )
    method, problem, cells = _method(original, output, planned, in_face, painted, (x1, y1))
    if method in ("fill", "pixelate"):
        return Verdict(method, problem or short, exposed, cells)
    if method == "blur":
        return Verdict(method, problem, exposed)
    if exposed > 0.8:
        return Verdict(
            "unchanged", f"not obscured: {exposed:.0%} of the face left as in the original", exposed
        )
    if exposed > _FACE_EXPOSED:
        return Verdict(
            "unchanged", f"partly obscured: {exposed:.0%} of the face left as in the original", exposed
        )
    return Verdict("replaced", short, exposed)


def _method(
    original: np.ndarray,
    output: np.ndarray,
    planned: np.ndarray,
    in_face: np.ndarray,
    painted: np.ndarray,
    origin: tuple[int, int],
) -> tuple[str, str | None, int | None]:
    """How the face was painted, judged away from the shape's edge: fill, pixelate, blur or other."""
    core = in_face & cv2.erode(painted.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    rows, cols = np.nonzero(core)
    if not len(rows):
        return "fill", None, None
    x0, y0 = origin
    cy1, cy2, cx1, cx2 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    grey_out = _grey(output)
    gp = grey_out[y0 + cy1 : y0 + cy2, x0 + cx1 : x0 + cx2]
    if float(gp[core[cy1:cy2, cx1:cx2]].std()) < 6:
        return "fill", None, None
    side = float(max(planned[2] - planned[0], planned[3] - planned[1]))
    cells = _cells(gp, side)
    if cells is not None:
        limit = safe_cells(side)
        fine = f"pixelation too fine: {cells} cells across, at most {limit} for this size"
        return "pixelate", fine if cells > limit else None, cells
    sigma = _blur_like(_grey(original), grey_out, (x0 + cx1, y0 + cy1, x0 + cx2, y0 + cy2))
    if sigma is not None:
        floor = blur_sigma(planned[2] - planned[0], planned[3] - planned[1])
        strength = "light blur" if sigma < floor / 2 else "blur"
        return "blur", f"{strength} (sigma about {sigma:g} px): blur is weak protection", None
    return "other", None, None


def judge_frame(
    original: np.ndarray, output: np.ndarray, regions: Regions, plan: PlanOptions, shape: str
) -> list[tuple[int, np.ndarray, Verdict]]:
    """Every region of one picture: ``(index in regions, planned box, verdict)`` in region order."""
    verdicts = []
    for i in range(len(regions)):
        planned = plan_regions(regions[i : i + 1], original.shape[:2], plan)
        if len(planned):  # a region wholly outside the picture has nothing to paint
            box = planned.boxes[0]
            verdicts.append((i, box, judge_region(original, output, regions.boxes[i], box, shape)))
    return verdicts
