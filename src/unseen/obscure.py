"""Paint planned face regions onto pixels, irreversibly.

Pixels are ``H x W x 3`` uint8 in RGB order (as Pillow and PyAV ``rgb24`` deliver them); colours and
overlays are RGB(A) to match. Every method works on the crop of one region (or of one group of
overlapping regions) at a time, so the cost grows with the painted area, not with the image size.

Methods, strongest first:

* ``fill``: a solid colour. Nothing of the face survives.
* ``image``: a picture pasted over the region. Its transparency is flattened onto ``color`` once,
  when the options are made, so the patch is always opaque: a logo on a transparent background
  shows the fill colour around it, and a translucent picture tints the fill colour, never the face.
* ``pixelate``: a coarse grid of at most ``pixel_cells`` cells across the region, each cell painted
  with its mean colour plus random noise, so the cell means cannot be read back exactly. Overlapping
  regions share one grid, sized to the largest of them, over the union of their shapes.
* ``blur``: a Gaussian blur with a sigma of at least a fifth of the region size (of the largest of
  a group of overlapping regions, blurred together from the original pixels). This is the
  *weakest* protection: blurred faces can sometimes be matched against candidate photos or partly
  restored, so the CLI warns when it is chosen.

Shapes: ``box`` paints the whole rectangle; ``ellipse`` the ellipse inscribed in it (the planned box
is grown enough that the detected face lies inside that ellipse, see :mod:`unseen.plan`). A side of
the box that touches the image border is painted square out to the border, because the head may
continue outside the frame and the clipped box no longer says where its ellipse would have been.
Edges are hard: a pixel is painted in full as soon as any part of it lies in the shape.

A region whose ``source`` is ``kept`` (:data:`KEPT`) is not painted but shown as it was: the regions
listed before the first kept one are painted, then every kept one gets its original pixels back (in
its shape), then the regions after it are painted over. That is how a file reviewed "keep only" is
painted: the whole picture first, the people a person keeps, then every region and zone to obscure
(so a face that overlaps a kept one stays covered).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import ImageColor

from .regions import Regions, kinds

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels, clipped to the image
IBox = tuple[int, int, int, int]  # the bounds of every pixel a Box touches, even partly

METHODS = ("fill", "pixelate", "blur", "image")
KEPT = "kept"  # the source of a region shown as it was, over what is painted before it (see above)
SHAPES = ("ellipse", "box")

#: Pixelate cells are never smaller than this many pixels: on a small face, one-pixel cells are the face.
PIXELATE_MIN_CELL = 3
#: Half-width of the uniform noise added to each pixelate cell, per channel.
PIXELATE_NOISE = 12
#: Blur sigma is at least this fraction of the region's larger side (times ``blur_strength``) ...
BLUR_RELATIVE_SIGMA = 0.2
#: ... and never below this many pixels.
BLUR_MIN_SIGMA = 3.0
#: Overlaps between regions are found for this many regions at a time (bounded memory).
_GROUP_CHUNK = 512
#: Above this sigma the blur runs on a downscaled crop (same result, far fewer operations).
_BLUR_DIRECT_SIGMA = 8.0


@dataclass(frozen=True)
class ObscureOptions:
    """How to paint each region.

    ``method``: one of :data:`METHODS`. ``shape``: one of :data:`SHAPES`. ``color``: RGB for ``fill``,
    and the solid ground that ``image`` is flattened onto.
    ``pixel_cells``: ``pixelate`` uses at most this many (square) cells across the region's larger
    side; fewer is coarser and safer. ``blur_strength``: multiplies the blur's sigma floor, which is
    ``0.2 * max(width, height)`` of the region (and at least 3 px). ``overlay``: for ``image``, an
    ``H x W x 4`` uint8 RGBA picture (``H x W x 3`` is taken as opaque); it is stored flattened onto
    ``color``, as an opaque ``H x W x 3`` picture. ``seed``: seeds the pixelate
    noise for reproducible output; ``None`` draws fresh randomness from the OS.
    """

    method: str = "fill"
    shape: str = "ellipse"
    color: tuple[int, int, int] = (0, 0, 0)
    pixel_cells: int = 8
    blur_strength: float = 1.0
    overlay: np.ndarray | None = field(default=None, compare=False, repr=False)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown obscure method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; choose one of {', '.join(SHAPES)}")
        color = tuple(int(c) for c in self.color)
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(f"color must be three integers 0..255, got {self.color!r}")
        object.__setattr__(self, "color", color)
        if int(self.pixel_cells) < 1:
            raise ValueError(f"pixel_cells must be >= 1, got {self.pixel_cells!r}")
        object.__setattr__(self, "pixel_cells", int(self.pixel_cells))
        if not (math.isfinite(self.blur_strength) and self.blur_strength > 0):
            raise ValueError(f"blur_strength must be > 0, got {self.blur_strength!r}")
        if self.overlay is not None:
            overlay = np.asarray(self.overlay)
            if overlay.dtype != np.uint8 or overlay.ndim != 3 or overlay.shape[2] not in (3, 4):
                raise ValueError("overlay must be an H x W x 4 (RGBA) or H x W x 3 uint8 array")
            if overlay.shape[0] < 1 or overlay.shape[1] < 1:
                raise ValueError("overlay must not be empty")
            object.__setattr__(self, "overlay", _flatten(overlay, color))
        elif self.method == "image":
            raise ValueError("method 'image' needs an overlay picture")


def parse_color(text: str) -> tuple[int, int, int]:
    """Parse a colour name Pillow knows (``red``, ``navy``...), ``#RGB``, ``#RRGGBB`` or ``R,G,B``.

    A colour with alpha is refused: the fill must be opaque, or the face would show through it.
    """
    s = text.strip().lower()
    if s in ImageColor.colormap or re.fullmatch(r"#[0-9a-f]{3}|#[0-9a-f]{6}", s):
        return ImageColor.getrgb(s)[:3]
    if re.fullmatch(r"#[0-9a-f]{4}|#[0-9a-f]{8}|\d{1,3}(\s*,\s*\d{1,3}){3}", s):
        raise ValueError(f"invalid colour {text!r}: no alpha, the fill is always opaque")
    m = re.fullmatch(r"(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})", s)
    if m:
        rgb = tuple(int(v) for v in m.groups())
        if all(v <= 255 for v in rgb):
            return rgb  # type: ignore[return-value]
    raise ValueError(
        f"invalid colour {text!r}: use a colour name (red, navy...), #RGB, #RRGGBB or R,G,B (0..255)"
    )


def blur_sigma(width: float, height: float, strength: float = 1.0) -> float:
    """The Gaussian sigma used to blur a region of this size: the floor the blur method guarantees."""
    return max(BLUR_MIN_SIGMA, BLUR_RELATIVE_SIGMA * max(width, height) * strength)


def obscure(
    pixels: np.ndarray, regions: Regions, options: ObscureOptions = ObscureOptions(), *, inplace: bool = False
) -> np.ndarray:
    """Return a copy of ``pixels`` (H x W x 3 uint8 RGB) with every region painted over.

    ``regions`` should already be planned (:func:`unseen.plan.plan_regions`); boxes are clipped to
    the image here as well, and boxes with no pixel in the image are skipped. ``fill`` and ``image``
    paint region by region (a later one over an earlier one: both are opaque). ``pixelate`` and
    ``blur`` obscure each group of overlapping regions once, over the union of their shapes, from
    the original pixels and at the coarsest strength any member needs: painting them one by one
    would re-cut an already pixelated face into finer cells, or blur the blur of a neighbour.
    The input array is never modified, unless ``inplace``: then it is painted and returned (for
    video frames that nothing else holds: one 6 MB copy less per 1080p frame). Non-finite boxes
    raise ``ValueError`` (fail closed). A ``method`` data column (chosen per region in review)
    paints those regions with that method instead; ``None`` there means ``options.method``. Text
    regions (``kind`` text) are painted as boxes whatever ``options.shape`` says.
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"obscure expects an H x W x 3 uint8 image, got {pixels.dtype} {pixels.shape}")
    out = pixels if inplace else pixels.copy()
    if len(regions) == 0:
        return out
    kept = regions.source == KEPT
    if kept.any():
        return _around_kept(out, regions, kept, options)
    text = kinds(regions) == "text"
    if text.any() and options.shape != "box":  # a text line fills its box to the corners
        obscure(out, regions[~text], options, inplace=True)
        return obscure(out, regions[text], replace(options, shape="box"), inplace=True)
    if "method" in regions.data:
        chosen = np.array([m or options.method for m in regions.data["method"].tolist()], object)
        if (chosen != options.method).any():  # each method's regions in turn (an unknown one raises)
            for method in dict.fromkeys(chosen.tolist()):
                obscure(out, regions[chosen == method], replace(options, method=method), inplace=True)
            return out
    boxes = regions.boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError("obscure: region boxes must be finite")
    height, width = out.shape[:2]
    visible = _visible(boxes, width, height)

    if options.method in ("fill", "image"):
        for box, ibox in visible:
            ix1, iy1, ix2, iy2 = ibox
            crop = out[iy1:iy2, ix1:ix2]
            if options.method == "fill":
                patch = _solid(crop.shape, options.color)
            else:
                patch = _fit(options.overlay, crop.shape)
            _paste(crop, patch, _shape_mask(options.shape, box, ibox, (height, width)))
        return out

    rng = np.random.default_rng(options.seed) if options.method == "pixelate" else None
    # Every patch is computed before any is pasted, so each reads only original pixels. The groups'
    # shapes are disjoint (they lie in boxes that do not overlap), so the pasting order is free.
    patches = []
    for group in _overlap_groups([ibox for _, ibox in visible]):
        members = [visible[k] for k in group]
        ibox, mask = _union_mask(options.shape, members, (height, width))
        ix1, iy1, ix2, iy2 = ibox
        if options.method == "pixelate":
            cells = options.pixel_cells
            size = max(
                PIXELATE_MIN_CELL, *(math.ceil(max(b[2] - b[0], b[3] - b[1]) / cells) for _, b in members)
            )
            patch = _pixelate(out[iy1:iy2, ix1:ix2], size, rng)
        else:
            sigma = max(blur_sigma(b[2] - b[0], b[3] - b[1], options.blur_strength) for b, _ in members)
            patch = _blur(out, ibox, sigma)
        patches.append((ibox, patch, mask))
    for (ix1, iy1, ix2, iy2), patch, mask in patches:
        _paste(out[iy1:iy2, ix1:ix2], patch, mask)
    return out


def _around_kept(out: np.ndarray, regions: Regions, kept: np.ndarray, options: ObscureOptions) -> np.ndarray:
    """Paint the regions before the first kept one, give the kept ones their original pixels back,
    then paint the other regions after it over them."""
    height, width = out.shape[:2]
    boxes = regions.boxes[kept].astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError("obscure: region boxes must be finite")
    shown = [
        (
            (x1, y1, x2, y2),
            out[y1:y2, x1:x2].copy(),
            _shape_mask(options.shape, box, (x1, y1, x2, y2), (height, width)),
        )
        for box, (x1, y1, x2, y2) in _visible(boxes, width, height)
    ]
    rows = np.arange(len(regions))
    first = int(np.argmax(kept))
    obscure(out, regions[rows[:first]], options, inplace=True)
    for (ix1, iy1, ix2, iy2), original, mask in shown:
        _paste(out[iy1:iy2, ix1:ix2], original, mask)
    return obscure(out, regions[(rows > first) & ~kept], options, inplace=True)


def _visible(boxes: np.ndarray, width: int, height: int) -> list[tuple[Box, IBox]]:
    """Each box with a pixel in the image, clipped to it, with the bounds of every pixel it touches."""
    visible = []
    for x1, y1, x2, y2 in boxes.tolist():
        x1, x2 = max(min(x1, x2), 0.0), min(max(x1, x2), float(width))
        y1, y2 = max(min(y1, y2), 0.0), min(max(y1, y2), float(height))
        if x2 > x1 and y2 > y1:
            ibox = (math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2))
            visible.append(((x1, y1, x2, y2), ibox))
    return visible


def _overlap_groups(iboxes: list[IBox]) -> list[list[int]]:
    """Indices of the boxes in connected sets of pixel-overlapping boxes, ordered by first member."""
    parent = list(range(len(iboxes)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    b = np.array(iboxes, np.int64).reshape(-1, 4)
    for start in range(0, len(b), _GROUP_CHUNK):  # in chunks: a crowd of 10,000 faces needs no 10^8 matrix
        rows = b[start : start + _GROUP_CHUNK]
        touch = (rows[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < rows[:, None, 2])
        touch &= (rows[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < rows[:, None, 3])
        pairs_i, pairs_j = np.nonzero(touch)
        later = pairs_j > pairs_i + start
        for a, c in zip((pairs_i[later] + start).tolist(), pairs_j[later].tolist(), strict=True):
            parent[root(a)] = root(c)
    groups: dict[int, list[int]] = {}
    for k in range(len(b)):
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def _union_mask(
    shape: str, members: list[tuple[Box, IBox]], image_hw: tuple[int, int]
) -> tuple[IBox, np.ndarray | None]:
    """The bounds of a group's pixels and the mask of its shapes' union over them (``None``: all)."""
    if len(members) == 1:
        box, ibox = members[0]
        return ibox, _shape_mask(shape, box, ibox, image_hw)
    gx1, gy1 = min(b[0] for _, b in members), min(b[1] for _, b in members)
    gx2, gy2 = max(b[2] for _, b in members), max(b[3] for _, b in members)
    union = np.zeros((gy2 - gy1, gx2 - gx1), bool)
    for box, ibox in members:
        ix1, iy1, ix2, iy2 = ibox
        mask = _shape_mask(shape, box, ibox, image_hw)
        window = union[iy1 - gy1 : iy2 - gy1, ix1 - gx1 : ix2 - gx1]
        if mask is None:
            window[...] = True
        else:
            window |= mask
    return (gx1, gy1, gx2, gy2), union


def _shape_mask(
    shape: str,
    box: Box,
    ibox: IBox,
    image_hw: tuple[int, int],
) -> np.ndarray | None:
    """Boolean mask over the crop ``ibox`` of the pixels to paint; ``None`` means all of them."""
    if shape == "box":
        return None
    x1, y1, x2, y2 = box
    ix1, iy1, ix2, iy2 = ibox
    height, width = image_hw
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = (x2 - x1) / 2, (y2 - y1) / 2
    # Distance from the centre to the nearest point of each pixel square [i, i+1), per axis, in
    # units of the semi-axis: a pixel is painted if any part of it falls inside the ellipse.
    xs = np.arange(ix1, ix2) + 0.5
    ys = np.arange(iy1, iy2) + 0.5
    dx = np.maximum(np.abs(xs - cx) - 0.5, 0.0) / a
    dy = np.maximum(np.abs(ys - cy) - 0.5, 0.0) / b
    # A side on the image border may be a clipped head: paint that half square out to the border.
    if x1 <= 0:
        dx[xs < cx] = 0.0
    if x2 >= width:
        dx[xs > cx] = 0.0
    if y1 <= 0:
        dy[ys < cy] = 0.0
    if y2 >= height:
        dy[ys > cy] = 0.0
    dx2 = (dx * dx).astype(np.float32)
    dy2 = (dy * dy).astype(np.float32)
    return (dy2[:, None] + dx2[None, :]) <= np.float32(1.0)


def _solid(shape: tuple[int, ...], color: tuple[int, int, int]) -> np.ndarray:
    """A read-only block of one colour, made by repeating its three bytes: about 20 times faster
    than numpy's broadcasting fill (which took a third of the video painting pass)."""
    height, width = shape[:2]
    return np.frombuffer(bytes(color) * (height * width), np.uint8).reshape(height, width, 3)


def _paste(crop: np.ndarray, painted: np.ndarray, mask: np.ndarray | None) -> None:
    """Copy ``painted`` into the ``crop`` view where ``mask`` is set (everywhere if ``None``)."""
    if mask is None:
        crop[...] = painted
        return
    # cv2.copyTo writes straight into the strided view, far faster than numpy boolean indexing.
    result = cv2.copyTo(np.ascontiguousarray(painted), mask.view(np.uint8), crop)
    if result is not crop:
        crop[...] = result


def _pixelate(crop: np.ndarray, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """Square cells of ``size`` pixels anchored at the crop's top-left: cell mean plus uniform noise."""
    ch, cw = crop.shape[:2]
    rows = np.arange(0, ch, size)
    cols = np.arange(0, cw, size)
    sums = np.add.reduceat(np.add.reduceat(crop, rows, axis=0, dtype=np.uint32), cols, axis=1)
    counts = np.minimum(size, ch - rows)[:, None] * np.minimum(size, cw - cols)[None, :]
    means = sums / counts[:, :, None]
    assert rng is not None
    noise = rng.integers(-PIXELATE_NOISE, PIXELATE_NOISE + 1, size=means.shape)
    cell_colors = np.clip(np.rint(means + noise), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(cell_colors, size, axis=0), size, axis=1)[:ch, :cw]


def _blur(image: np.ndarray, ibox: IBox, sigma: float) -> np.ndarray:
    """Gaussian blur of ``image`` seen through the crop ``ibox``, computed on a padded crop only."""
    height, width = image.shape[:2]
    ix1, iy1, ix2, iy2 = ibox
    pad = int(math.ceil(3 * sigma))
    px1, py1 = max(ix1 - pad, 0), max(iy1 - pad, 0)
    px2, py2 = min(ix2 + pad, width), min(iy2 + pad, height)
    padded = image[py1:py2, px1:px2]
    ph, pw = padded.shape[:2]
    if sigma <= _BLUR_DIRECT_SIGMA:
        blurred = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    else:
        # Shrink, blur, enlarge: the area-average and the interpolation only add smoothing, so the
        # effective sigma is at least ``sigma``, at a fraction of the cost of a huge kernel.
        factor = sigma / (_BLUR_DIRECT_SIGMA / 2)
        small_size = (max(1, round(pw / factor)), max(1, round(ph / factor)))
        small = cv2.resize(padded, small_size, interpolation=cv2.INTER_AREA)
        sx, sy = sigma * small_size[0] / pw, sigma * small_size[1] / ph
        small = cv2.GaussianBlur(small, (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT)
        blurred = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_LINEAR)
    return blurred[iy1 - py1 : iy2 - py1, ix1 - px1 : ix2 - px1]


def _flatten(overlay: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """The RGB(A) ``overlay`` composited over solid ``color``: opaque, so no face shows through it."""
    if overlay.shape[2] == 3:
        return np.ascontiguousarray(overlay)
    alpha = overlay[:, :, 3:].astype(np.float32) / 255.0
    flat = overlay[:, :, :3] * alpha + np.asarray(color, np.float32) * (1.0 - alpha)
    return np.clip(np.rint(flat), 0, 255).astype(np.uint8)


def _fit(overlay: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """The opaque ``overlay`` resized to a crop of this shape."""
    assert overlay is not None
    ch, cw = shape[:2]
    shrinking = cw < overlay.shape[1] or ch < overlay.shape[0]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(overlay, (cw, ch), interpolation=interp).reshape(ch, cw, 3)
