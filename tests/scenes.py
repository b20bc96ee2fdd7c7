"""Real-pixel test scenes with known ground truth: real face photos pasted onto natural backgrounds.

The faces are the human faces that ship inside scikit-image (no download): the astronaut (Eileen
Collins, colour, frontal) and the cameraman (greyscale, three-quarter view). Each has a hand-checked
*face box* (brow/hairline to chin, cheek to cheek, the convention CenterFace boxes follow) and a
*context* crop around it (hair, neck, a bit of background) that is what gets pasted, so a pasted face
looks like a head rather than a floating mask.

A scene is described by :class:`Placement` s (which face, how tall, where its face box centre goes)
and drawn by :func:`render` onto a background; the result is a :class:`Scene` with the exact face
boxes. :func:`compose_crowd` places many faces of given heights at random, non-overlapping positions;
:func:`close_up` fills the frame with one face; :func:`border_faces` puts faces half outside each edge.
Video tests can call :func:`render` once per frame with moving placements over one background.

Coverage is measured with :func:`covered_fraction` (share of a box's pixels painted) and
:func:`painted_fraction` (share of the whole image changed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import cv2
import numpy as np
from skimage import data

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceSource:
    """A real photo with one human face: the face box and the head-and-shoulders crop around it."""

    name: str
    image: np.ndarray  # H x W x 3 uint8 RGB
    box: Box  # x1, y1, x2, y2 of the face in ``image``
    context: tuple[int, int, int, int]  # x1, y1, x2, y2 of the crop pasted into scenes

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


# Face boxes checked by eye on saved crops and against unseen's own detection (which gives
# (181.5, 58.2, 269.9, 177.8) for the astronaut and (202.3, 118.9, 257.6, 196.9) for the cameraman).
ASTRONAUT_FACE: Box = (182.0, 60.0, 270.0, 178.0)
CAMERAMAN_FACE: Box = (202.0, 119.0, 258.0, 197.0)


@cache
def face_sources() -> dict[str, FaceSource]:
    """The human faces available to scenes, by name."""
    astronaut = data.astronaut()
    camera = np.repeat(data.camera()[:, :, None], 3, axis=2)
    out = {
        "astronaut": FaceSource("astronaut", astronaut, ASTRONAUT_FACE, (138, 7, 314, 214)),
        "cameraman": FaceSource("cameraman", camera, CAMERAMAN_FACE, (160, 70, 290, 230)),
    }
    for source in out.values():
        source.image.setflags(write=False)
    return out


@dataclass(frozen=True)
class Placement:
    """One face in a scene: ``height`` is the face box height in pixels, ``(cx, cy)`` its centre.

    The centre may lie near or beyond the canvas edge: the face is then cut off by the frame.
    ``gain`` scales brightness; ``flip`` mirrors the face left-right; ``turn`` turns it by that many
    quarter turns counter-clockwise (a person lying down, or upside down); ``height`` stays the
    face's own height.
    """

    height: float
    cx: float
    cy: float
    face: str = "astronaut"
    flip: bool = False
    gain: float = 1.0
    turn: int = 0


@dataclass
class Scene:
    """An RGB image and the boxes (x1, y1, x2, y2, clipped to the image) of the faces in it."""

    image: np.ndarray
    boxes: np.ndarray  # (N, 4) float32
    placements: list[Placement] = field(default_factory=list)

    @property
    def heights(self) -> np.ndarray:
        return np.array([p.height for p in self.placements], np.float32)


# ---------------------------------------------------------------------------------------- backgrounds

_PHOTOS = ("coffee", "rocket", "gravel", "brick", "grass", "text")


def background(canvas: tuple[int, int], seed: int = 0, kind: str = "coffee", blur: float = 2.0) -> np.ndarray:
    """A face-free H x W x 3 background: a random crop of a skimage photo, or ``"gradient"``.

    ``kind`` is one of ``coffee``, ``rocket``, ``gravel``, ``brick``, ``grass``, ``text`` or
    ``gradient`` (two random colours blended smoothly, plus mild noise). ``blur`` is a Gaussian sigma
    that softens the photo, as an out-of-focus background would be.
    """
    h, w = canvas
    rng = np.random.default_rng(seed)
    if kind == "gradient":
        c0, c1 = rng.uniform(40, 215, (2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (xs * np.cos(angle) + ys * np.sin(angle)).astype(np.float32)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        img = c0 + t[:, :, None] * (c1 - c0)
        noise = cv2.GaussianBlur(rng.normal(0, 6, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
        return np.clip(img + noise, 0, 255).astype(np.uint8)
    if kind not in _PHOTOS:
        raise ValueError(f"unknown background {kind!r}")
    photo = getattr(data, kind)()
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    ph, pw = photo.shape[:2]
    scale = max(h / ph, w / pw) * rng.uniform(1.0, 1.3)
    size = (max(math.ceil(pw * scale), w), max(math.ceil(ph * scale), h))
    big = cv2.resize(photo, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y0 = int(rng.integers(0, big.shape[0] - h + 1))
    x0 = int(rng.integers(0, big.shape[1] - w + 1))
    out = np.ascontiguousarray(big[y0 : y0 + h, x0 : x0 + w])
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out


def tiled_background(canvas: tuple[int, int], seed: int = 0, blur: float = 1.0) -> np.ndarray:
    """A face-free background of skimage photos tiled at their native pixel size, randomly mirrored.

    Unlike :func:`background` nothing is enlarged, so a 12 or 48 MP canvas has the same local detail
    as a 1 MP one (as a phone photo has): a face of a given size then sits in the same surroundings
    whatever the canvas size.
    """
    h, w = canvas
    rng = np.random.default_rng(seed)
    out = np.empty((h, w, 3), np.uint8)
    photos = []
    for kind in _PHOTOS[:5]:  # not "text": its letters are too regular
        photo = getattr(data, kind)()
        photos.append(np.repeat(photo[:, :, None], 3, axis=2) if photo.ndim == 2 else photo)
    y = 0
    while y < h:
        x, row = 0, 256
        while x < w:
            photo = photos[int(rng.integers(len(photos)))]
            tile = photo[:256, :256]
            if rng.integers(2):
                tile = tile[:, ::-1]
            th, tw = min(row, h - y), min(tile.shape[1], w - x)
            out[y : y + th, x : x + tw] = tile[:th, :tw]
            x += tw
        y += row
    return cv2.GaussianBlur(out, (0, 0), blur) if blur > 0 else out


# ---------------------------------------------------------------------------------------- rendering


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    shrinking = size[0] < img.shape[1] or size[1] < img.shape[0]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _head(p: Placement) -> tuple[np.ndarray, np.ndarray, Box]:
    """The scaled context crop, its feathered alpha, and the face box inside it (crop pixels)."""
    src = face_sources()[p.face]
    cx1, cy1, cx2, cy2 = src.context
    crop = src.image[cy1:cy2, cx1:cx2]
    scale = p.height / src.height
    size = (max(round((cx2 - cx1) * scale), 1), max(round((cy2 - cy1) * scale), 1))
    sx, sy = size[0] / (cx2 - cx1), size[1] / (cy2 - cy1)
    head = _resize(crop, size)
    fx1, fy1, fx2, fy2 = src.box
    box = ((fx1 - cx1) * sx, (fy1 - cy1) * sy, (fx2 - cx1) * sx, (fy2 - cy1) * sy)
    if p.flip:
        head = head[:, ::-1]
        box = (size[0] - box[2], box[1], size[0] - box[0], box[3])
    if p.gain != 1.0:
        head = np.clip(head.astype(np.float32) * p.gain, 0, 255).astype(np.uint8)
    # Alpha ramps from 0 at the crop edge to 1 well before the face box: no hard rectangle seam,
    # and every face pixel is the real photo's.
    hh, hw = head.shape[:2]
    ramp = max(1.0, 0.6 * min(box[0], box[1], hw - box[2], hh - box[3]))
    ys = np.minimum(np.arange(hh) + 0.5, hh - np.arange(hh) - 0.5)
    xs = np.minimum(np.arange(hw) + 0.5, hw - np.arange(hw) - 0.5)
    alpha = np.clip(np.minimum(ys[:, None], xs[None, :]) / ramp, 0, 1).astype(np.float32)
    for _ in range(p.turn % 4):  # (x, y) of an H x W picture lands at (y, W - x)
        box = (box[1], head.shape[1] - box[2], box[3], head.shape[1] - box[0])
        head, alpha = np.rot90(head), np.rot90(alpha)
    return head, alpha, box


def head_extent(p: Placement) -> Box:
    """Canvas rectangle (x1, y1, x2, y2) the pasted head crop of ``p`` occupies (unclipped)."""
    head, _, box = _head(p)
    ox = round(p.cx - (box[0] + box[2]) / 2)
    oy = round(p.cy - (box[1] + box[3]) / 2)
    return (ox, oy, ox + head.shape[1], oy + head.shape[0])


def render(base: np.ndarray, placements: Sequence[Placement]) -> Scene:
    """Paste ``placements`` (in order) onto a copy of ``base``; faces wholly outside are dropped.

    Returned boxes are the face boxes clipped to the canvas, one per placement still in view.
    """
    image = base.copy()  # blended head by head: a large scene is never held as floats
    h, w = base.shape[:2]
    boxes, kept = [], []
    for p in placements:
        head, alpha, box = _head(p)
        hh, hw = head.shape[:2]
        # Integer offset so the face box centre lands as close as possible to (cx, cy).
        ox = round(p.cx - (box[0] + box[2]) / 2)
        oy = round(p.cy - (box[1] + box[3]) / 2)
        x1, y1, x2, y2 = max(ox, 0), max(oy, 0), min(ox + hw, w), min(oy + hh, h)
        if x2 <= x1 or y2 <= y1:
            continue
        a = alpha[y1 - oy : y2 - oy, x1 - ox : x2 - ox, None]
        patch = head[y1 - oy : y2 - oy, x1 - ox : x2 - ox]
        blend = image[y1:y2, x1:x2] * (1 - a) + patch * a
        image[y1:y2, x1:x2] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
        fb = np.clip(np.array([box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy]), 0, [w, h, w, h])
        if fb[2] > fb[0] and fb[3] > fb[1]:
            boxes.append(fb)
            kept.append(p)
    return Scene(image, np.array(boxes, np.float32).reshape(-1, 4), kept)


# ---------------------------------------------------------------------------------------- scenes


def compose_crowd(
    sizes: Sequence[float],
    canvas: tuple[int, int] = (768, 1024),
    seed: int = 0,
    background_kind: str = "coffee",
    faces: Sequence[str] = ("astronaut",),
    gap: int = 4,
    vary: bool = True,
) -> Scene:
    """Faces of the given face-box HEIGHTS at random, non-overlapping positions on a ``canvas``.

    Whole heads (context crops) never overlap each other or the canvas edge. With ``vary`` each face
    is randomly mirrored and brightened/darkened (gain 0.75..1.2); ``faces`` names the sources to draw
    from. Boxes come back in the order of ``sizes``. Raises ``ValueError`` if the heads do not fit.
    """
    h, w = canvas
    rng = np.random.default_rng(seed)
    base = background(canvas, seed, background_kind)
    placed: dict[int, tuple[Box, Placement]] = {}
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):  # biggest first: easiest to fit
        p = Placement(
            float(sizes[i]),
            0.0,
            0.0,
            face=faces[int(rng.integers(len(faces)))],
            flip=bool(vary and rng.integers(2)),
            gain=float(rng.uniform(0.75, 1.2)) if vary else 1.0,
        )
        ex1, ey1, ex2, ey2 = head_extent(p)  # placed at (0, 0): offsets from the face centre
        lo_x, hi_x = gap - ex1, w - gap - ex2
        lo_y, hi_y = gap - ey1, h - gap - ey2
        if hi_x < lo_x or hi_y < lo_y:
            raise ValueError(f"a face of height {sizes[i]} does not fit a {w}x{h} canvas")
        for _ in range(5000):
            cx, cy = float(rng.integers(lo_x, hi_x + 1)), float(rng.integers(lo_y, hi_y + 1))
            ext = (ex1 + cx - gap, ey1 + cy - gap, ex2 + cx + gap, ey2 + cy + gap)
            if all(
                ext[2] <= o[0] or o[2] <= ext[0] or ext[3] <= o[1] or o[3] <= ext[1]
                for o, _ in placed.values()
            ):
                placed[i] = (ext, replace(p, cx=cx, cy=cy))
                break
        else:
            raise ValueError(f"could not place {len(sizes)} faces on a {w}x{h} canvas (seed {seed})")
    return render(base, [placed[i][1] for i in range(len(sizes))])


def spread_faces(
    sizes: Sequence[float],
    canvas: tuple[int, int],
    seed: int = 0,
    faces: Sequence[str] = ("astronaut", "cameraman"),
) -> Scene:
    """Faces of the given heights spread over the whole of a large ``canvas``, one per cell of a grid,
    on a :func:`tiled_background`.

    Unlike :func:`compose_crowd` this needs no search for free space, so a 12 or 48 MP scene is made
    in a moment; each face sits at a random spot of its own cell, so faces land on every part of the
    picture (corners, edges, the seams of any tiling) without overlapping.
    """
    h, w = canvas
    rng = np.random.default_rng(seed)
    rows = max(1, round(math.sqrt(len(sizes) * h / w)))
    cols = -(-len(sizes) // rows)
    ch, cw = h / rows, w / cols
    placements = []
    for i, size in enumerate(rng.permutation(np.asarray(sizes, float))):
        p = Placement(
            float(size),
            0.0,
            0.0,
            face=faces[int(rng.integers(len(faces)))],
            flip=bool(rng.integers(2)),
            gain=float(rng.uniform(0.8, 1.15)),
        )
        ex1, ey1, ex2, ey2 = head_extent(p)  # offsets of the head from the face centre
        r, c = divmod(i, cols)
        lo_x, hi_x = c * cw - ex1, (c + 1) * cw - ex2
        lo_y, hi_y = r * ch - ey1, (r + 1) * ch - ey2
        if hi_x < lo_x or hi_y < lo_y:
            raise ValueError(f"a face of height {size} does not fit a {cw:.0f} x {ch:.0f} cell")
        placements.append(replace(p, cx=float(rng.uniform(lo_x, hi_x)), cy=float(rng.uniform(lo_y, hi_y))))
    return render(tiled_background(canvas, seed), placements)


def turned(scene: Scene, turn: int) -> Scene:
    """The scene turned by ``turn`` quarter turns counter-clockwise (``np.rot90``), boxes turned too."""
    w = scene.image.shape[1]
    boxes = scene.boxes
    for _ in range(turn % 4):  # (x, y) of an H x W picture lands at (y, W - x)
        x1, y1, x2, y2 = boxes.T
        boxes = np.stack([y1, w - x2, y2, w - x1], axis=1)
        w = scene.image.shape[0] if w == scene.image.shape[1] else scene.image.shape[1]
    image = np.ascontiguousarray(np.rot90(scene.image, turn))
    return Scene(image, boxes.astype(np.float32), scene.placements)


def tilted(scene: Scene, degrees: float) -> Scene:
    """The scene rotated by a small angle about its centre (the corners filled by reflection); each
    face keeps its box size, centred where its centre went."""
    h, w = scene.image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    image = cv2.warpAffine(scene.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    b = scene.boxes
    centres = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, np.ones(len(b))], axis=1) @ m.T
    half = (b[:, 2:] - b[:, :2]) / 2
    boxes = np.clip(np.concatenate([centres - half, centres + half], axis=1), 0, [w, h, w, h])
    return Scene(image, boxes.astype(np.float32), scene.placements)


def close_up(
    canvas: tuple[int, int] = (480, 640), fill: float = 0.85, face: str = "astronaut", flip: bool = False
) -> Scene:
    """One face whose box is ``fill`` of the frame height, centred: the whole frame is the photo."""
    h, w = canvas
    src = face_sources()[face]
    scale = fill * h / src.height
    img = src.image[:, ::-1] if flip else src.image
    x1, y1, x2, y2 = src.box
    if flip:
        x1, x2 = img.shape[1] - x2, img.shape[1] - x1
    big = _resize(np.ascontiguousarray(img), (round(img.shape[1] * scale), round(img.shape[0] * scale)))
    sx, sy = big.shape[1] / img.shape[1], big.shape[0] / img.shape[0]
    fx1, fy1, fx2, fy2 = x1 * sx, y1 * sy, x2 * sx, y2 * sy
    ox = round((fx1 + fx2) / 2 - w / 2)
    oy = round((fy1 + fy2) / 2 - h / 2)
    pad = max(0, -ox, -oy, ox + w - big.shape[1], oy + h - big.shape[0])
    if pad:
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    image = np.ascontiguousarray(big[oy + pad : oy + pad + h, ox + pad : ox + pad + w])
    box = np.clip(np.array([fx1 - ox, fy1 - oy, fx2 - ox, fy2 - oy]), 0, [w, h, w, h])
    p = Placement(fill * h, w / 2, h / 2, face, flip)
    return Scene(image, box.astype(np.float32).reshape(1, 4), [p])


def border_faces(
    height: float = 96,
    canvas: tuple[int, int] = (480, 640),
    seed: int = 0,
    outside: float = 0.5,
    background_kind: str = "gradient",
) -> Scene:
    """Four faces, one on each edge (left, right, top, bottom), with ``outside`` of each face cut off."""
    h, w = canvas
    d = (0.5 - outside) * height  # face centre distance inside the edge
    rng = np.random.default_rng(seed)
    spots = [(d, h * 0.3), (w - d, h * 0.7), (w * 0.3, d), (w * 0.7, h - d)]
    placements = [
        Placement(height, cx, cy, flip=bool(rng.integers(2)), gain=float(rng.uniform(0.8, 1.15)))
        for cx, cy in spots
    ]
    return render(background(canvas, seed, background_kind), placements)


# ---------------------------------------------------------------------------------------- measures


def _pixels(box: Sequence[float], shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The pixel rows/columns a float box touches, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    ix1, iy1 = max(int(math.floor(x1)), 0), max(int(math.floor(y1)), 0)
    ix2, iy2 = min(int(math.ceil(x2)), shape[1]), min(int(math.ceil(y2)), shape[0])
    return slice(iy1, max(iy2, iy1)), slice(ix1, max(ix2, ix1))


def covered_fraction(
    original: np.ndarray,
    output: np.ndarray,
    box: Sequence[float],
    tol: int = 0,
    color: Sequence[int] | None = None,
) -> float:
    """Share of the pixels of ``box`` that were painted.

    With ``color`` (e.g. ``(0, 0, 0)`` for a black fill) a pixel counts when every channel of
    ``output`` is within ``tol`` of that colour; without, when any channel differs from ``original``
    by more than ``tol``. An empty box counts as fully covered (there is nothing to see).
    """
    rows, cols = _pixels(box, output.shape)
    out = output[rows, cols].astype(np.int16)
    if out.size == 0:
        return 1.0
    if color is not None:
        hit = (np.abs(out - np.asarray(color, np.int16)) <= tol).all(axis=-1)
    else:
        hit = (np.abs(out - original[rows, cols].astype(np.int16)) > tol).any(axis=-1)
    return float(hit.mean())


def painted_fraction(original: np.ndarray, output: np.ndarray, tol: int = 0) -> float:
    """Share of all image pixels whose value changed by more than ``tol`` in any channel."""
    diff = np.abs(output.astype(np.int16) - original.astype(np.int16)) > tol
    return float(diff.any(axis=-1).mean())
