"""A moving camera over still people: faces leave and enter through every edge, the picture zooms,
cuts to another shot, a bar hides a face; covered in every frame, one track per face.

The clips film one large rendered scene (real face photos over a textured background, so the camera's
motion can be seen) through a moving window, so every face's true box is known in every frame: the
scene box through the window's transform, clipped to the picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import make_clip
from scenes import Placement, background, covered_fraction, render
from test_video import BLACK_TOL, MIN_COVERED, decoded

from unseen import video_file
from unseen.api import anonymise_video_file
from unseen.camera_motion import CameraPath, MotionEstimator
from unseen.regions import Regions
from unseen.track import Tracker, TrackOptions

View = Callable[[int], tuple[float, float, float]]  # frame -> scene centre x, y and zoom


def film(
    path: Path,
    faces: dict[str, Placement],
    view: View,
    frames: int,
    size: tuple[int, int] = (320, 240),
    scene: tuple[int, int] = (1200, 900),
    *,
    cover: Callable[[int], tuple[int, int, int, int] | None] | None = None,
    cut: int | None = None,
    seed: int = 4,
) -> list[dict[str, np.ndarray]]:
    """Write the clip to ``path``; per frame, the visible part of each face (name -> box), including
    slivers. ``cover(i)``: a grey bar (x1, y1, x2, y2 in the picture) in front of everything on frame
    ``i``; ``cut``: from that frame on, a different scene (no faces) is filmed."""
    width, height = size
    names = list(faces)
    painted = render(background(scene[::-1], seed, "brick", blur=0.5), [faces[n] for n in names])
    boxes = dict(zip(names, painted.boxes, strict=True))
    other = background(scene[::-1], seed + 1, "grass", blur=0.5)
    pictures, truth = [], []
    for i in range(frames):
        cx, cy, zoom = view(i)
        m = np.array([[zoom, 0, width / 2 - zoom * cx], [0, zoom, height / 2 - zoom * cy]])
        source = other if cut is not None and i >= cut else painted.image
        picture = cv2.warpAffine(source, m, (width, height), flags=cv2.INTER_AREA)
        seen = {}
        if cut is None or i < cut:
            for name, (x1, y1, x2, y2) in boxes.items():
                box = np.array([x1, y1, x2, y2]) * zoom + m[:, 2].tolist() * 2
                visible = np.clip(box, 0, [width, height, width, height])
                if visible[2] - visible[0] >= 1 and visible[3] - visible[1] >= 1:
                    seen[name] = visible
        bar = cover(i) if cover else None
        if bar is not None:
            x1, y1, x2, y2 = bar
            picture[y1:y2, x1:x2] = 128
            seen = {
                n: b for n, b in seen.items() if not (b[0] >= x1 and b[2] <= x2 and b[1] >= y1 and b[3] <= y2)
            }
        pictures.append(picture)
        truth.append(seen)
    make_clip(path, frames=frames, size=size, pictures=pictures.__getitem__, audio=False)
    return truth


def exposed(truth: list[dict[str, np.ndarray]], output: list[np.ndarray], least: float = 4) -> list:
    """(frame, face, visible width, visible height, share covered) of every visible part at least
    ``least`` px on each side left less than MIN_COVERED painted."""
    misses = []
    for i, (pixels, faces) in enumerate(zip(output, truth, strict=True)):
        for name, box in faces.items():
            w, h = box[2] - box[0], box[3] - box[1]
            if min(w, h) < least:
                continue
            share = covered_fraction(pixels, pixels, box, tol=BLACK_TOL, color=(0, 0, 0))
            if share < MIN_COVERED:
                misses.append((i, name, round(float(w)), round(float(h)), round(share, 2)))
    return misses


def tracks_per_face(report, truth: list[dict[str, np.ndarray]]) -> dict[str, int]:
    """How many different face tracks (seen at a face's confidence, 0.2, at least once) cover at
    least half of each face's visible box in some frame (a blip on the hair beside it, extended,
    may cover a corner of the face: that is not the face followed by another track)."""
    r: Regions = report.regions
    faces = {int(t) for t in r.track[r.scores >= 0.2]}
    r = r[np.isin(r.track, list(faces))]
    ids: dict[str, set[int]] = {}
    for i, faces in enumerate(truth):
        here = r[r.frame == i]
        for name, (x1, y1, x2, y2) in faces.items():
            area = max((x2 - x1) * (y2 - y1), 1)
            for b, t in zip(here.boxes, here.track, strict=True):
                iw = min(x2, b[2]) - max(x1, b[0])
                ih = min(y2, b[3]) - max(y1, b[1])
                if iw > 0 and ih > 0 and iw * ih >= 0.5 * area:
                    ids.setdefault(name, set()).add(int(t))
    return {name: len(v) for name, v in ids.items()}


# --- the camera's motion, measured --------------------------------------------------------------------


def test_the_camera_s_pan_zoom_and_cut_are_measured() -> None:
    scene = background((900, 1200), 4, "brick", blur=0.5)
    other = background((900, 1200), 5, "grass", blur=0.5)
    estimator, path = MotionEstimator((240, 320)), CameraPath()
    views = [(500 + 7 * i, 400 - 3 * i, 1.0 + 0.01 * i) for i in range(12)]
    for i, (cx, cy, z) in enumerate(views):
        m = np.array([[z, 0, 160 - z * cx], [0, z, 120 - z * cy]])
        picture = cv2.warpAffine(other if i >= 10 else scene, m, (320, 240), flags=cv2.INTER_AREA)
        motion, cut = estimator.step(cv2.resize(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), (160, 120)))
        path.add(i, motion, cut)
        assert cut == (i == 10), i
    # a scene point seen at frame 2 is where the true transform puts it at frame 9
    point = np.array([520.0, 390.0, 540.0, 410.0])  # a box in the scene image

    def at(i: int) -> np.ndarray:
        cx, cy, z = views[i]
        return point * z + np.array([160 - z * cx, 120 - z * cy] * 2)

    moved = path.to_frame(9, path.to_scene(2, at(2)))
    assert np.abs(moved - at(9)).max() < 1.0, (moved, at(9))
    assert path.shot(9) == 0 and path.shot(10) == path.shot(11) == 10


def test_a_blank_picture_is_a_still_camera() -> None:
    estimator = MotionEstimator((240, 320))
    for _ in range(3):
        motion, cut = estimator.step(np.full((120, 160), 90, np.uint8))
        assert np.array_equal(motion, np.eye(3)) and not cut


def test_the_tracker_follows_a_still_face_through_a_pan_with_the_camera() -> None:
    """A still 40 px face; the camera pans left at 10 px/frame, so the face crosses the picture and
    leaves at the right. The detector sees it on keyframes 0, 16 and 32 only (it blinks). One track;
    covered in every frame, also after its last sighting until it has left the picture."""
    path = CameraPath()
    for i in range(80):
        path.add(i, np.array([[1, 0, 10.0], [0, 1, 0], [0, 0, 1]]), False)
    truth = lambda f: np.array([40 + 10 * f, 100, 80 + 10 * f, 140], np.float32)  # noqa: E731
    tracker = Tracker(TrackOptions(), frame_size=(240, 640), camera=path)
    for f in range(0, 80, 8):
        seen = f in (0, 16, 32, 48) and truth(f)[2] <= 640
        tracker.update(f, Regions.from_boxes([truth(f)], [0.9], "full") if seen else Regions())
    assert tracker.count == 1
    for f in range(0, 60):  # gone at frame 60
        visible = np.clip(truth(f), 0, [640, 240, 640, 240])
        (box,) = tracker.regions_at(f).boxes
        assert box[0] <= visible[0] + 1e-3 and box[2] >= visible[2] - 1e-3, (f, box, visible)
        assert box[2] - box[0] <= 3 * 40, (f, box)  # the patch stays the face's size


# --- end to end, real faces ------------------------------------------------------------------------


def pan(dx: float, dy: float, x0: float = 600, y0: float = 450) -> View:
    return lambda i: (x0 + dx * i, y0 + dy * i, 1.0)


PEOPLE = {
    "a": Placement(44, 600, 450, "astronaut"),
    "b": Placement(36, 700, 420, "cameraman", flip=True),
}


@pytest.mark.parametrize(
    "direction, view",
    [
        ("left", pan(7, 0, 480)),  # the camera pans right: faces leave through the left edge
        ("right", pan(-7, 0, 720)),
        ("top", pan(0, 6, y0=360)),
        ("bottom", pan(0, -6, y0=540)),
    ],
)
def test_faces_leaving_and_entering_through_each_edge_are_covered(
    direction: str, view: View, tmp_path
) -> None:
    truth = film(tmp_path / "in.mp4", PEOPLE, view, 48)
    entered = {n for n in PEOPLE if n in truth[-1]} | {n for n in PEOPLE if n in truth[0]}
    assert entered == set(PEOPLE)  # the clip really moves faces through the edge
    anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []


def test_a_large_face_cut_by_the_edge_from_the_first_frame_is_covered(tmp_path) -> None:
    """A 130 px face half below the bottom edge at frame 0 while the camera zooms in on the middle."""
    faces = {"big": Placement(130, 600, 560, "astronaut")}
    view = lambda i: (600, 450, 1.0 + 0.012 * i)  # noqa: E731
    truth = film(tmp_path / "in.mp4", faces, view, 40)
    assert truth[0]["big"][3] == 240 and truth[0]["big"][1] < 240 - 40  # cut by the bottom edge
    anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []


def test_a_face_hidden_on_the_first_keyframe_and_behind_a_bar_is_covered_with_one_track(tmp_path) -> None:
    """A bar hides the face on frames 0-3 and 20-29 while the camera pans slowly: first found on a
    later keyframe, covered from its first visible frame, and one track across the bar."""
    bar = lambda i: (0, 0, 320, 240) if i < 4 else ((60, 40, 260, 200) if 20 <= i < 30 else None)  # noqa: E731
    truth = film(tmp_path / "in.mp4", {"a": Placement(48, 600, 450)}, pan(2, 1), 48, cover=bar)
    report = anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []
    assert tracks_per_face(report, truth) == {"a": 1}


def test_a_face_the_camera_pans_away_from_and_back_to_keeps_its_track(tmp_path) -> None:
    """The camera pans until the face has left through the left edge, rests, and pans back: the face
    found again where it stood in the scene is the same track (one card to review, one face counted),
    and it is covered in every frame, as before."""
    view = lambda i: (600 + 8 * min(i, 36) - 8 * max(i - 56, 0), 450, 1.0)  # noqa: E731
    truth = film(tmp_path / "in.mp4", {"a": Placement(44, 600, 450, "astronaut")}, view, 96)
    assert "a" in truth[0] and "a" not in truth[48] and "a" in truth[-1]  # it leaves and comes back
    report = anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []
    assert tracks_per_face(report, truth) == {"a": 1}


def test_on_a_tripod_a_face_that_steps_out_from_behind_a_bar_is_covered(tmp_path, monkeypatch) -> None:
    """A still camera: the picture does not change, so most keyframes reuse the detector's last look,
    until a face steps out from behind a bar on frame 21 (between keyframes): it is looked for and
    covered from that frame on, and the face in plain view all along keeps one track."""
    bar = lambda i: (120, 50, 200, 130) if i < 21 else None  # noqa: E731
    people = {"a": Placement(44, 600, 420, "astronaut"), "b": Placement(40, 480, 470, "cameraman")}
    truth = film(tmp_path / "in.mp4", people, lambda i: (600, 450, 1.0), 72, cover=bar)
    assert "a" not in truth[20] and "a" in truth[21] and all("b" in faces for faces in truth)
    looks = []
    detector = video_file.keyframe_detector

    def counted(sensitivity: float):
        detect = detector(sensitivity)
        return lambda pixels, full: looks.append(full) or detect(pixels, full)

    monkeypatch.setattr(video_file, "keyframe_detector", counted)
    report = anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert len(looks) == 6  # frames 0, 8, 24 (the face came out), 32, 64 and the last, of 10 keyframes
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []
    assert tracks_per_face(report, truth) == {"a": 1, "b": 1}


def test_a_cut_to_another_shot_starts_afresh(tmp_path) -> None:
    """After a cut to a picture without faces nothing of the old shot is painted on the new one."""
    truth = film(tmp_path / "in.mp4", PEOPLE, pan(3, 0), 40, cut=20)
    report = anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []
    assert (report.regions.frame < 20).all(), sorted(set(report.regions.frame.tolist()))


def test_a_video_whose_faces_are_all_upside_down_is_searched_turned(tmp_path) -> None:
    """A rotation flag wrong by 180 degrees: every face plays upside down. The shot's first keyframe
    votes on the turn as a photo does, and every keyframe after it looks at the picture turned, so
    the small upside-down faces (the video cascade's own turned views keep only large faces) are
    covered in every frame."""
    people = {
        name: Placement(34, 90 + 110 * k, 80 + 90 * (k % 2), face, turn=2)
        for k, (name, face) in enumerate([("a", "astronaut"), ("b", "cameraman"), ("c", "astronaut")])
    }
    truth = film(
        tmp_path / "in.mp4", people, lambda i: (230 + i, 150, 1.0), 40, size=(480, 320), scene=(700, 400)
    )
    assert all(len(faces) == 3 for faces in truth)
    anonymise_video_file(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert exposed(truth, decoded(tmp_path / "out.mp4")) == []
