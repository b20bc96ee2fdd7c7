"""Dev clips for bench/video.py: the camera motions and files that broke the video path (issue 18).

Each clip is an affine view (zoom + pan, no turn) of WIDER dev photos, so every annotated face
moves exactly with the camera and the ground truth is exact in every frame. Kinds:

  edges        four pans at high zoom across a crowd, one per direction: faces enter and leave
               through each edge, and some are partly outside the frame from frame 0;
  fast-pan     back-and-forth sweeps of about a frame width a second with handheld shake;
  zoom-in      a zoom from the whole photo (1x) to 3x on its faces;
  scene-cut    two photos, cut in the middle;
  static-small 20 s of one crowd photo at its native size, no motion: faces of 12-20 px, several
               keyframes;
  rotated-180  a gentle zoom whose rotation flag is wrong: the picture is stored upright but tagged
               with a 180 degree display rotation, so a player (and unseen) shows it upside down;
               the ground truth is in that displayed frame. ``shown/STEM.mp4`` holds the same frames
               as displayed, untagged, the reference for measuring what an output painted.

Files are STEM.mp4 (H.264, crf 18) and STEM.json in the format of ../shared/tools/make_videos.py
({source, kind, fps, size, frames: [[x1, y1, x2, y2, face_id], ...]}, boxes not clipped to the
frame), stems v20 and up (the scorers want v<number>). Areas outside a photo are plain grey, never
mirrored (a mirrored face would be a face without ground truth). Built from the shared data into the
benchmark's scratch folder only: never commit them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, TOOLS  # noqa: E402
from handheld import shake_offsets  # noqa: E402

RECIPE = "dev-2"  # change when a recipe below changes, so cached clips are rebuilt
FPS = 30
GREY = (128, 128, 128)
SHOWN = "shown"  # sub-folder of the displayed references of rotated clips
CUT_ID = 1000  # face ids of a scene cut's second photo start here

EDGES_A = "12--Group/12_Group_Large_Group_12_Group_Large_Group_12_315.jpg"  # 105 faces, median 19 px
EDGES_B = "0--Parade/0_Parade_Parade_0_873.jpg"  # 141 faces, median 22 px
FAST = "8--Election_Campain/8_Election_Campain_Election_Campaign_8_148.jpg"  # 75 faces
ZOOM = "2--Demonstration/2_Demonstration_Political_Rally_2_264.jpg"  # 57 faces, median 16 px
CUT = ("3--Riot/3_Riot_Riot_3_26.jpg", "9--Press_Conference/9_Press_Conference_Press_Conference_9_40.jpg")
STATIC = "35--Basketball/35_Basketball_playingbasketball_35_876.jpg"  # 56 of 100 faces 12-20 px
ROTATED = "3--Riot/3_Riot_Riot_3_415.jpg"  # 17 faces, median 27 px


_gt_cache: dict[Path, dict] = {}


@dataclass
class Photo:
    name: str
    pixels: np.ndarray  # RGB
    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2 of the valid annotated faces
    ids: np.ndarray  # (n,) face ids

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    def face_centre(self) -> np.ndarray:
        return np.median((self.boxes[:, :2] + self.boxes[:, 2:]) / 2, axis=0)


def load_photo(data: Path, name: str, first_id: int = 0) -> Photo:
    sys.path.insert(0, str(TOOLS))
    from face_coverage import load_gt  # the shared WIDER reader

    gt = _gt_cache.setdefault(data, load_gt(str(data / "wider_face_dev_bbx_gt.txt")))[name]
    valid = np.flatnonzero(gt[:, 4] == 0)
    b = gt[valid, :4].astype(float)
    boxes = np.column_stack([b[:, :2], b[:, :2] + b[:, 2:]])
    pixels = cv2.imread(str(data / "images" / name))[:, :, ::-1]
    return Photo(name, np.ascontiguousarray(pixels), boxes, valid + first_id)


def view(z: float, cx: float, cy: float, size: tuple[int, int]) -> np.ndarray:
    """The 2x3 matrix that shows photo point (cx, cy) at the frame's centre at zoom z."""
    w, h = size
    return np.array([[z, 0.0, w / 2 - z * cx], [0.0, z, h / 2 - z * cy]])


def inside(z: float, c: float, length: float, frame: float, margin: float = 0.0) -> float:
    """Centre coordinate c clipped so the view (frame / z wide, plus margin) stays in the photo."""
    half = (frame / 2 + margin) / z
    return float(np.clip(c, half, length - half)) if length * z > frame + 2 * margin else length / 2


def ease(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n - 1, 1))


@dataclass
class Shot:
    photo: Photo
    views: list[np.ndarray]


class ClipWriter:
    """Encodes shots to STEM.mp4 and writes their ground truth (turned 180 degrees for a
    ``rotation`` of 180, with the displayed reference in ``shown/``)."""

    def __init__(self, out: Path, stem: str, size: tuple[int, int], rotation: int = 0) -> None:
        self.out, self.stem, self.size, self.rotation = out, stem, size, rotation
        self.containers = [self._open(out / f"{stem}.mp4", rotation)]
        if rotation:
            (out / SHOWN).mkdir(exist_ok=True)
            self.containers.append(self._open(out / SHOWN / f"{stem}.mp4", 0))
        self.frames: list[list] = []

    def _open(self, path: Path, rotation: int) -> av.container.OutputContainer:
        container = av.open(str(path), "w")
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *self.size, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        if rotation:
            stream.set_display_rotation(rotation)
        return container

    def _encode(self, container: av.container.OutputContainer, frame: np.ndarray | None) -> None:
        stream = container.streams.video[0]
        vf = (
            None if frame is None else av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        )
        for packet in stream.encode(vf):
            container.mux(packet)

    def add(self, shot: Shot) -> None:
        w, h = self.size
        last, frame = None, None
        for m in shot.views:
            if last is None or not np.array_equal(m, last):
                frame = cv2.warpAffine(
                    shot.photo.pixels,
                    m,
                    self.size,
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=GREY,
                )
                last = m
            b = shot.photo.boxes
            x1, x2 = b[:, 0] * m[0, 0] + m[0, 2], b[:, 2] * m[0, 0] + m[0, 2]
            y1, y2 = b[:, 1] * m[1, 1] + m[1, 2], b[:, 3] * m[1, 1] + m[1, 2]
            self._encode(self.containers[0], frame)
            if self.rotation == 180:  # the displayed frame is the stored one turned half a turn
                self._encode(self.containers[1], frame[::-1, ::-1])
                x1, y1, x2, y2 = w - x2, h - y2, w - x1, h - y1
            keep = (x2 > 0) & (y2 > 0) & (x1 < w) & (y1 < h)
            self.frames.append(
                [
                    [round(float(v), 1) for v in box] + [int(i)]
                    for box, i, k in zip(np.column_stack([x1, y1, x2, y2]), shot.photo.ids, keep, strict=True)
                    if k
                ]
            )

    def close(self, kind: str, sources: list[str]) -> None:
        for container in self.containers:
            self._encode(container, None)
            container.close()
        meta = dict(
            source=" + ".join(sources),
            kind=kind,
            recipe=RECIPE,
            rotation=self.rotation,
            fps=FPS,
            size=list(self.size),
            frames=self.frames,
        )
        (self.out / f"{self.stem}.json").write_text(json.dumps(meta))


# ---------------------------------------------------------------- the camera paths


def edge_pan(photo: Photo, size: tuple[int, int], direction: str, seconds: float = 4.0) -> Shot:
    """A constant-speed pan at high zoom (the photo 2.5 frames long along the pan) from one side of
    the photo to the other; ``direction`` is where the camera moves (faces enter from that side)."""
    (w, h), (w0, h0), n = size, photo.size, int(seconds * FPS)
    horizontal = direction in ("right", "left")
    z = max(2.5 * w / w0, 1.15 * h / h0) if horizontal else max(2.5 * h / h0, 1.15 * w / w0)
    t = np.arange(n) / (n - 1)
    if direction in ("left", "up"):
        t = t[::-1]
    fc = photo.face_centre()
    if horizontal:
        lo, hi = inside(z, 0, w0, w), inside(z, w0, w0, w)
        cy = inside(z, fc[1], h0, h)
        return Shot(photo, [view(z, lo + (hi - lo) * s, cy, size) for s in t])
    lo, hi = inside(z, 0, h0, h), inside(z, h0, h0, h)
    cx = inside(z, fc[0], w0, w)
    return Shot(photo, [view(z, cx, lo + (hi - lo) * s, size) for s in t])


def fast_pan(photo: Photo, size: tuple[int, int], seconds: float = 6.0, sweep_s: float = 2.3) -> Shot:
    """Sideways sweeps there and back (1.5 frame widths in ``sweep_s``: about a frame width per
    1.5 s on average, one per second at the fastest) with a hand's shake."""
    (w, h), (w0, h0), n = size, photo.size, int(seconds * FPS)
    z = max(2.5 * w / w0, 1.15 * h / h0)
    amplitude = 0.01 * w
    shake = shake_offsets(n, FPS, amplitude, np.random.default_rng(5))
    lo, hi = inside(z, 0, w0, w, 2 * amplitude), inside(z, w0, w0, w, 2 * amplitude)
    cy = inside(z, photo.face_centre()[1], h0, h, 2 * amplitude)
    phase = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / (sweep_s * FPS))
    views = []
    for f in range(n):
        m = view(z, lo + (hi - lo) * phase[f], cy, size)
        m[:, 2] += shake[f]
        views.append(m)
    return Shot(photo, views)


def zoom_in(photo: Photo, size: tuple[int, int], seconds: float = 6.0, factor: float = 3.0) -> Shot:
    """From the whole photo covering the frame to ``factor`` times closer, towards its faces."""
    (w, h), (w0, h0), n = size, photo.size, int(seconds * FPS)
    base = max(w / w0, h / h0)
    target = photo.face_centre()
    views = []
    for s in ease(n):
        z = base * factor**s
        c = np.array([w0 / 2, h0 / 2]) * (1 - s) + target * s
        views.append(view(z, inside(z, c[0], w0, w), inside(z, c[1], h0, h), size))
    return Shot(photo, views)


def gentle_zoom(photo: Photo, size: tuple[int, int], seconds: float, z0: float, z1: float) -> Shot:
    """A slow zoom (``z0`` to ``z1`` times the covering scale) on the photo's faces."""
    (w, h), (w0, h0), n = size, photo.size, int(seconds * FPS)
    base, fc = max(w / w0, h / h0), photo.face_centre()
    views = []
    for s in ease(n):
        z = base * z0 * (z1 / z0) ** s
        views.append(view(z, inside(z, fc[0], w0, w), inside(z, fc[1], h0, h), size))
    return Shot(photo, views)


def static(photo: Photo, size: tuple[int, int], seconds: float = 20.0) -> Shot:
    """The photo at its native size, centred (grey bars or cropped), for ``seconds``."""
    (w, h), (w0, h0) = size, photo.size
    m = np.array([[1.0, 0.0, (w - w0) / 2], [0.0, 1.0, (h - h0) / 2]])
    return Shot(photo, [m] * int(seconds * FPS))


@dataclass(frozen=True)
class Recipe:
    stem: str
    kind: str
    shots: Callable[[Path, tuple[int, int]], list[Shot]]
    rotation: int = 0


def _recipes() -> list[Recipe]:
    def edges(name: str, direction: str):
        return lambda d, s: [edge_pan(load_photo(d, name), s, direction)]

    return [
        Recipe("v20", "edges", edges(EDGES_A, "right")),
        Recipe("v21", "edges", edges(EDGES_A, "left")),
        Recipe("v22", "edges", edges(EDGES_B, "down")),
        Recipe("v23", "edges", edges(EDGES_B, "up")),
        Recipe("v30", "fast-pan", lambda d, s: [fast_pan(load_photo(d, FAST), s)]),
        Recipe("v40", "zoom-in", lambda d, s: [zoom_in(load_photo(d, ZOOM), s)]),
        Recipe(
            "v50",
            "scene-cut",
            lambda d, s: [
                gentle_zoom(load_photo(d, CUT[0]), s, 3.0, 1.1, 1.3),
                gentle_zoom(load_photo(d, CUT[1], CUT_ID), s, 3.0, 1.3, 1.1),
            ],
        ),
        Recipe("v60", "static-small", lambda d, s: [static(load_photo(d, STATIC), s)]),
        Recipe(
            "v70", "rotated-180", lambda d, s: [gentle_zoom(load_photo(d, ROTATED), s, 5.0, 1.0, 1.3)], 180
        ),
    ]


RECIPES = _recipes()
KINDS = list(dict.fromkeys(r.kind for r in RECIPES))


def _ready(out: Path, r: Recipe, size: tuple[int, int]) -> bool:
    gt, mp4 = out / f"{r.stem}.json", out / f"{r.stem}.mp4"
    if not (gt.exists() and mp4.exists()) or (r.rotation and not (out / SHOWN / f"{r.stem}.mp4").exists()):
        return False
    meta = json.loads(gt.read_text())
    return (meta.get("recipe"), meta.get("kind"), meta.get("size")) == (RECIPE, r.kind, list(size))


def ensure_dev_clips(data: Path, out: Path, size: tuple[int, int]) -> dict[str, list[str]]:
    """Build the dev clips at ``size`` (W, H) into ``out`` where missing or stale; their stems by kind."""
    out.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[str]] = {}
    for r in RECIPES:
        by_kind.setdefault(r.kind, []).append(r.stem)
        if _ready(out, r, size):
            continue
        print(f"clips: building dev clip {r.stem} ({r.kind}) at {size[0]}x{size[1]} ...", flush=True)
        shots = r.shots(data, size)
        writer = ClipWriter(out, r.stem, size, r.rotation)
        for shot in shots:
            writer.add(shot)
        writer.close(r.kind, [s.photo.name for s in shots])
    return by_kind


def reference(clips: Path, stem: str) -> Path:
    """The clip as a player shows it: the displayed copy of a rotated clip, else the clip itself."""
    shown = clips / SHOWN / f"{stem}.mp4"
    return shown if shown.exists() else clips / f"{stem}.mp4"


if __name__ == "__main__":  # build them alone: python bench/dev_clips.py OUT [W H]
    args = sys.argv[1:]
    dims = (int(args[1]), int(args[2])) if len(args) > 2 else (1280, 720)
    print(ensure_dev_clips(DEFAULT_DATA, Path(args[0]), dims))
