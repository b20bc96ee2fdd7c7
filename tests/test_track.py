"""The tracker and the frame pipeline on synthetic detections: no model, no files, fast.

Faces move along known straight lines; keyframe detections are exactly the true boxes, so every frame
in between has a known true box that the tracker's region must contain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from scenes import Placement, background, render

from unseen.camera_motion import CameraPath
from unseen.count import photo_counts
from unseen.errors import AnalysisError
from unseen.media.video import Frame
from unseen.obscure import obscure
from unseen.plan import plan_regions
from unseen.regions import Regions, kinds
from unseen.track import SPAN, Tracker, TrackOptions
from unseen.video_pipeline import detect_keyframes, face_counter, protect_frames

OPTIONS = TrackOptions(detect_every=4, extend=8, max_gap=12, still=1)  # the detector sees every keyframe


def linear(start: tuple[float, ...], velocity: tuple[float, ...]):
    """A face box (x1, y1, x2, y2) moving at constant ``velocity`` per frame from ``start`` at frame 0."""
    s, v = np.array(start, np.float32), np.array(velocity, np.float32)
    return lambda frame: s + v * frame


def seen(*boxes: np.ndarray, frame: int = 0) -> Regions:
    return Regions(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9), "full", frame)


def contains(outer: np.ndarray, inner: np.ndarray, eps: float = 1e-3) -> bool:
    return bool(outer[0] <= inner[0] + eps and outer[1] <= inner[1] + eps) and bool(
        outer[2] >= inner[2] - eps and outer[3] >= inner[3] - eps
    )


def feed(tracker: Tracker, truth, keyframes, upto: int) -> None:
    """Update on every keyframe up to ``upto``: the true box where listed in ``keyframes``, else nothing."""
    for f in range(0, upto + 1, tracker.options.detect_every):
        tracker.update(f, seen(truth(f), frame=f) if f in keyframes else Regions())


def test_interpolation_covers_every_frame_between_keyframes() -> None:
    truth = linear((10, 20, 40, 60), (5, 2, 5.5, 2.5))  # moving and growing
    tracker = Tracker(OPTIONS)
    feed(tracker, truth, {0, 4, 8}, 8)
    ids = set()
    for f in range(9):
        regions = tracker.regions_at(f)
        assert len(regions) == 1, f
        assert contains(regions.boxes[0], truth(f)), (f, regions.boxes[0], truth(f))
        assert regions.source[0] == ("full" if f % 4 == 0 else "interpolated"), f
        assert regions.frame[0] == f
        ids.add(int(regions.track[0]))
    assert len(ids) == 1 and ids.pop() >= 0 and tracker.count == 1


def test_a_keyframe_the_detector_missed_is_filled_in() -> None:
    truth = linear((100, 50, 130, 90), (-3, 1, -3, 1))
    tracker = Tracker(OPTIONS)
    feed(tracker, truth, {0, 4, 12}, 24)  # frame 8 saw nothing
    for f in range(5, 12):
        regions = tracker.regions_at(f)
        assert len(regions) == 1, f
        assert regions.source[0] == "interpolated", f
        assert contains(regions.boxes[0], truth(f)), (f, regions.boxes[0], truth(f))
    assert tracker.count == 1


def test_a_gap_longer_than_max_gap_is_not_joined() -> None:
    truth = linear((100, 50, 130, 90), (0, 0, 0, 0))
    tracker = Tracker(OPTIONS)
    feed(tracker, truth, {0, 40}, 40)  # unseen for 40 frames: a new track, nothing in the middle
    assert tracker.count == 2
    assert len(tracker.regions_at(20)) == 0
    assert len(tracker.regions_at(8)) == 1 and len(tracker.regions_at(9)) == 0
    assert len(tracker.regions_at(32)) == 1 and len(tracker.regions_at(31)) == 0


def test_extension_before_first_and_after_last_sighting() -> None:
    truth = linear((60, 40, 90, 80), (2, -1, 2, -1))
    tracker = Tracker(OPTIONS)
    feed(tracker, truth, {20, 24, 28}, 60)
    extend = OPTIONS.extend
    for f in [*range(20 - extend, 20), *range(29, 29 + extend)]:
        regions = tracker.regions_at(f)
        assert len(regions) == 1, f
        assert regions.source[0] == "extended", f
        # the region grows with the face's motion, so where the face really is stays inside
        assert contains(regions.boxes[0], truth(f)), (f, regions.boxes[0], truth(f))
    for f in (0, 20 - extend - 1, 28 + extend + 1, 60):
        assert len(tracker.regions_at(f)) == 0, f
    assert [tracker.regions_at(f).source[0] for f in (20, 24, 28)] == ["full"] * 3


def test_two_faces_crossing_keep_their_tracks() -> None:
    a = linear((0, 40, 30, 70), (5, 0, 5, 0))  # left to right
    b = linear((200, 50, 230, 80), (-5, 0, -5, 0))  # right to left, crossing at frame 20
    tracker = Tracker(OPTIONS)
    for f in range(0, 41, 4):
        tracker.update(f, seen(a(f), b(f), frame=f))
    first = tracker.regions_at(0)
    id_a = int(first.track[np.argmin(first.boxes[:, 0])])
    id_b = int(first.track[np.argmax(first.boxes[:, 0])])
    assert id_a != id_b
    for f in range(41):
        regions = tracker.regions_at(f)
        for truth, tid in ((a, id_a), (b, id_b)):
            mine = regions.boxes[regions.track == tid]
            assert len(mine) == 1 and contains(mine[0], truth(f)), (f, tid, mine, truth(f))
    assert tracker.count == 2


def test_memory_stays_bounded_over_a_long_video() -> None:
    """10,000 keyframes of a wandering face, with a second face coming and going, driven as the
    pipeline drives the tracker: only a window of tracks and sightings is ever kept."""
    every = OPTIONS.detect_every
    tracker = Tracker(OPTIONS)
    released = 0
    most_tracks = most_sightings = 0
    for k in range(10_000):
        f = k * every
        x = 200 + 150 * math.sin(f / 300)
        faces = [(x, 100, x + 40, 150)]
        if (f // 200) % 2:  # a second face, on screen half the time
            faces.append((400, 300, 430, 340))
        tracker.update(f, seen(*faces, frame=f))
        while released <= f - tracker.lag:
            assert len(tracker.regions_at(released)) >= 1, released
            tracker.forget_before(released + 1)
            released += 1
        most_tracks = max(most_tracks, len(tracker.tracks))
        most_sightings = max(most_sightings, *(len(t.frames) for t in tracker.tracks))
        for t in tracker.tracks:
            assert len(t.frames) == len(t.boxes) == len(t.scores) == len(t.sources)
    assert tracker.count > 50  # the second face really came and went many times
    assert most_tracks <= 3
    # the window: lag frames of look-ahead plus `extend` behind, plus a sighting either side
    assert most_sightings <= (tracker.lag + OPTIONS.extend + SPAN) // every + 3


def test_no_tracks_no_regions() -> None:
    tracker = Tracker(OPTIONS)
    regions = tracker.regions_at(5)
    assert isinstance(regions, Regions) and len(regions) == 0 and regions.boxes.shape == (0, 4)
    tracker.update(0, Regions())
    assert len(tracker.regions_at(0)) == 0 and tracker.tracks == []


# --- protect_frames with a fake detector ----------------------------------------------------------

BOX = (8.0, 8.0, 24.0, 24.0)
GREY = 200


def synthetic(n: int, log: dict[str, int] | None = None) -> Iterator[Frame]:
    """``n`` grey 32 x 32 frames with uneven pts; the frame index is written into the corner pixel.

    With ``log``, records how many frames were pulled and, at each pull, how many the consumer had
    not yet received (the pipeline's buffer, counting the frame just pulled)."""
    for i in range(n):
        pixels = np.full((32, 32, 3), GREY, np.uint8)
        pixels[-1, -1, :2] = divmod(i, 256)
        if log is not None:
            log["pulled"] += 1
            log["held"] = max(log["held"], log["pulled"] - log["received"])
        yield Frame(i, 1000 + 3 * i + (i % 3), pixels)


def index_of(pixels: np.ndarray) -> int:
    return int(pixels[-1, -1, 0]) * 256 + int(pixels[-1, -1, 1])


class FakeDetector:
    """Finds one face at BOX in every frame it is shown; records which frames it saw."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on_call = fail_on_call

    def __call__(self, pixels: np.ndarray, full: bool = False) -> Regions:
        self.calls.append(index_of(pixels))
        if len(self.calls) == self.fail_on_call:
            raise AnalysisError("detector broke")
        return Regions.from_boxes([BOX], [0.9], source="full")


def two_passes(n: int, detect: FakeDetector, record: list[Regions] | None = None, log=None) -> list[Frame]:
    camera = CameraPath()
    keyframes = detect_keyframes(synthetic(n), detect, OPTIONS, camera)
    return list(protect_frames(synthetic(n, log), keyframes, Tracker(OPTIONS, camera=camera), record=record))


@pytest.mark.parametrize("n", [1, 2, 8, 9, 13, 50])
def test_protect_frames_keeps_every_frame_in_order_and_detects_on_keyframes_only(n: int) -> None:
    detect, record = FakeDetector(), []
    out = two_passes(n, detect, record)
    assert [f.index for f in out] == list(range(n))
    assert [f.pts for f in out] == [f.pts for f in synthetic(n)]
    keyframes = list(range(0, n, OPTIONS.detect_every))
    if keyframes[-1] != n - 1:  # the last frame is always analysed too
        keyframes.append(n - 1)
    assert detect.calls == keyframes
    assert len(detect.calls) == math.ceil(n / OPTIONS.detect_every) + ((n - 1) % OPTIONS.detect_every > 0)
    assert [int(r.frame[0]) for r in record] == list(range(n))
    for frame in out:  # the face is painted (black fill) in every frame; the rest is untouched
        assert (frame.pixels[14:18, 14:18] == 0).all(), frame.index
        assert (frame.pixels[0, 0] == GREY).all() and index_of(frame.pixels) == frame.index


def test_protect_frames_holds_no_frame_back() -> None:
    log = {"pulled": 0, "received": 0, "held": 0}
    keyframes = detect_keyframes(synthetic(300), FakeDetector(), OPTIONS, CameraPath())
    for frame in protect_frames(synthetic(300, log), keyframes, Tracker(OPTIONS)):
        log["received"] += 1
        assert frame.index == log["received"] - 1
    assert log["received"] == 300
    # the look-ahead is over detections only: each frame goes out before the next is decoded
    assert log["held"] == 1


def test_detect_keyframes_lets_a_detector_failure_through() -> None:
    detect = FakeDetector(fail_on_call=8)
    with pytest.raises(AnalysisError, match="detector broke"):
        detect_keyframes(synthetic(60), detect, OPTIONS, CameraPath())
    assert detect.calls == [0, 4, 8, 12, 16, 20, 24, 28]


# --- keyframes where nothing moves ----------------------------------------------------------------


def tripod(n: int, noise: float, moved_from: int | None = None) -> tuple[list[Frame], dict[int, int]]:
    """``n`` 320 x 240 frames of one picture with a 40 px face, each with fresh sensor noise (sigma
    ``noise`` grey levels); from frame ``moved_from`` on, the face stands 2 px to the right. And each
    frame's index by the id of its pixels, for a detector to say which frames it was shown."""
    base = background((240, 320), 2, "coffee")
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        shift = 2 if moved_from is not None and i >= moved_from else 0
        picture = render(base, [Placement(40, 160 + shift, 120)]).image
        pixels = np.clip(picture + rng.normal(0, noise, picture.shape), 0, 255).astype(np.uint8)
        frames.append(Frame(i, i, pixels))
    return frames, {id(f.pixels): f.index for f in frames}


@pytest.mark.parametrize(
    "noise, moved_from, looks",
    [
        (2.0, None, [0, 8, 32, 63]),  # the first look (photo cascade), then one in four keyframes
        (2.0, 20, [0, 8, 24, 32, 63]),  # the face moved: looked at on the next keyframe
        (8.0, None, [*range(0, 64, 8), 63]),  # too noisy to tell: every keyframe looked at
    ],
)
def test_a_still_picture_is_looked_at_once_in_four_keyframes(
    noise: float, moved_from: int | None, looks: list[int]
) -> None:
    frames, index = tripod(64, noise, moved_from)
    calls: list[int] = []

    def detect(pixels: np.ndarray, full: bool) -> Regions:
        calls.append(index[id(pixels)])
        return Regions.from_boxes([(140 + len(calls), 100, 180, 140)], [0.9], "full")

    keyframes = detect_keyframes(frames, detect, TrackOptions(), CameraPath())
    assert calls == looks
    assert [f for f, _ in keyframes] == [*range(0, 64, 8), 63]  # the tracker's keyframes as before
    last_look = {}
    for f, found in keyframes:  # a keyframe not looked at has the faces of the look before it
        if f in looks:
            last_look = found
        else:
            assert found is not last_look and np.array_equal(found.boxes, last_look.boxes), f


def looked_at(pictures: list[np.ndarray]) -> list[int]:
    """The frames of a clip of ``pictures`` that the detector is shown (default options)."""
    frames = [Frame(i, i, p.copy()) for i, p in enumerate(pictures)]  # one array each, told apart by id
    index = {id(f.pixels): f.index for f in frames}
    calls: list[int] = []

    def detect(pixels: np.ndarray, full: bool) -> Regions:
        calls.append(index[id(pixels)])
        return Regions()

    detect_keyframes(frames, detect, TrackOptions(), CameraPath())
    return calls


def test_a_face_coming_out_of_the_dark_of_a_dim_room_is_looked_for_at_once() -> None:
    """A 12 px face only 5 grey levels brighter than a dark room appears on frame 20 (after the look
    on frame 8): keyframe 24 is looked at, not given the empty look before."""
    room = np.full((720, 1280, 3), 20, np.uint8)
    face = room.copy()
    face[600:612, 300:312] = 25
    assert looked_at([room] * 20 + [face] * 44) == [0, 8, 24, 32, 63]


def test_a_stream_that_changes_size_is_looked_at_in_its_new_size() -> None:
    """The same scene at 320 x 240 until frame 33, then at 480 x 360 (a video call's stream): both
    shrink to the same grey size for comparing, but the boxes of a look at the old size do not fit
    the new one, so keyframe 40 is looked at."""
    small = tripod(1, 0.0)[0][0].pixels
    large = cv2.resize(small, (480, 360), interpolation=cv2.INTER_AREA)
    assert looked_at([small] * 33 + [large] * 31) == [0, 8, 32, 40, 63]


def test_track_options_refuse_a_keyframe_rhythm_of_zero() -> None:
    for bad in ({"detect_every": 0}, {"still": 0}):
        with pytest.raises(ValueError, match="at least 1"):
            TrackOptions(**bad)


def test_text_s_looks_are_kept_on_a_still_picture_and_its_text_is_not_reused() -> None:
    """Text is looked for on every 16th frame (``unseen.text_track``): those frames are looked at
    whatever the picture, and a keyframe not looked at takes the faces of the look before, not its text."""
    frames, index = tripod(64, 2.0)
    calls: list[int] = []

    def detect(pixels: np.ndarray, full: bool) -> Regions:
        calls.append(index[id(pixels)])
        found = Regions.from_boxes([(140, 100, 180, 140), (20, 200, 80, 220)], [0.9, 0.8], "full")
        found.data["kind"] = np.array(["face", "text"], object)
        return found

    keyframes = detect_keyframes(frames, detect, TrackOptions(), CameraPath(), looks=lambda i: i % 16 == 0)
    assert calls == [0, 8, 16, 32, 48, 63]
    for f, found in keyframes:
        assert kinds(found).tolist() == (["face", "text"] if f in calls else ["face"]), f


def test_face_leaving_the_picture_is_followed_out_of_it() -> None:
    """The detector loses a face cut by the edge: one last seen there is covered until it has left."""
    options = TrackOptions(detect_every=4, extend=8, max_gap=12, edge_extend=40, coast=0)
    truth = linear((300, 380, 340, 428), (0, 3, 0, 3))  # moving down; the frame is 480 tall
    tracker = Tracker(options, frame_size=(480, 640))
    feed(tracker, truth, {0, 4, 8, 12, 16}, 60)  # last seen at frame 16 (bottom at 476)
    for f in range(17, 40):  # still at least partly inside the picture (top < 480)
        (box,) = tracker.regions_at(f).boxes
        visible = np.minimum(truth(f), [640, 480, 640, 480])
        assert contains(box, visible), (f, box, truth(f))
    assert len(tracker.regions_at(16 + 41)) == 0  # no longer than edge_extend

    inside = Tracker(options, frame_size=(480, 640))  # the same face lost in mid-picture
    feed(inside, linear((300, 80, 340, 128), (0, 3, 0, 3)), {0, 4, 8, 12, 16}, 60)
    assert len(inside.regions_at(16 + 8)) == 1 and len(inside.regions_at(16 + 9)) == 0


def panning(dx: Callable[[int], float], frames: int, dy: Callable[[int], float] = lambda f: 0) -> CameraPath:
    """A camera path over ``frames`` frames on which the picture moves ``dx(f)`` px right (and
    ``dy(f)`` px down) at frame f."""
    camera = CameraPath()
    for f in range(frames):
        camera.add(f, np.array([[1, 0, dx(f)], [0, 1, dy(f)], [0, 0, 1]], np.float64), f == 0)
    return camera


def painted_share(regions: Regions, box: np.ndarray, frame_size: tuple[int, int] = (480, 640)) -> float:
    """The share of ``box``'s part inside the picture that default painting blacks out."""
    canvas = np.full((*frame_size, 3), 255, np.uint8)
    obscure(canvas, plan_regions(regions, frame_size), inplace=True)
    x0, y0 = (max(int(v), 0) for v in box[:2])
    x1, y1 = min(int(np.ceil(box[2])), frame_size[1]), min(int(np.ceil(box[3])), frame_size[0])
    return float((canvas[y0:y1, x0:x1].max(axis=2) == 0).mean())


def test_a_face_leaving_is_covered_until_the_last_of_it_has_left() -> None:
    """The detector's box of a small, faint face is often narrower than the face and off to one side
    (on the zoom-in clip, a 26 px face's weak boxes were 18 px wide, 8 px towards the edge the zoom
    took it out by). Followed out along that box, the patch left the picture while the last 5 px of
    the face were still in it. A patch at the edge grows by the edge's margin until that has left."""
    camera = panning(lambda f: 5, 40)  # the camera pans: the still face moves 5 px a frame to the right
    options = TrackOptions(detect_every=4, extend=8, max_gap=12, edge_extend=40, coast=0)
    truth = linear((500, 200, 526, 228), (5, 0, 5, 0))  # 26 x 28, leaving through the right edge
    tracker = Tracker(options, frame_size=(480, 640), camera=camera)
    for f in range(0, 21, 4):  # seen up to frame 20 (x 600-626), its box 18 px wide, 8 px right
        tracker.update(f, seen(truth(f) + np.array([10, 4, 2, 4], np.float32), frame=f))
    for f in range(21, 28):  # frame 27: the last 5 px of the face in the picture
        assert painted_share(tracker.regions_at(f), truth(f)) >= 0.7, f
    assert len(tracker.regions_at(34)) == 0  # its patch, too, has left


def test_a_face_a_pan_takes_out_of_the_picture_keeps_a_patch_of_its_size() -> None:
    """The camera tilts up: a still 130 x 175 face moves 9 px a frame down and out through the
    bottom edge, its last boxes cut there. The cut side moved with the edge, so the motion measured
    on it was the camera's, 9 px a frame, and the patch grew by half of that every frame: 460 px
    wide for the 130 px face, over its neighbours (dense crowds came out wholly black). The cut
    side moves with the side facing it; the patch covers what is left of the face until it has left
    and stays about its size."""
    height, width = 720, 1280
    camera = panning(lambda f: 0, 100, dy=lambda f: 9 if f > 0 else 0)
    truth = linear((600, 300, 730, 475), (0, 9, 0, 9))  # bottom edge reached at frame 27, gone at 47
    tracker = Tracker(TrackOptions(), frame_size=(height, width), camera=camera)
    for f in range(0, 41, 8):  # the detector sees it while 30 % or more of it is in the picture
        box = np.minimum(truth(f), [width, height, width, height])
        if (box[3] - box[1]) >= 0.3 * 175:
            tracker.update(f, seen(box, frame=f))
    for f in range(25, 47):
        visible = np.minimum(truth(f), [width, height, width, height])
        (box,) = tracker.regions_at(f).boxes
        assert contains(box, visible), (f, box, visible)
        assert box[2] - box[0] <= 1.5 * 130, (f, box)


def test_a_face_that_left_is_looked_for_where_it_was_last_seen() -> None:
    """A still face the camera pans away from (out through the left edge) and back to. Its last box,
    cut by the edge, had moved on one side only, so the motion measured there was half the cut over
    a keyframe: carried on along it, the face was looked for 44 px (1.2 face sizes) off where it had
    left, and came back as a new track. It is looked for where it was last seen in the scene."""
    # pans: the face moves 12 px a frame left up to frame 30, back from 61 to 90
    camera = panning(lambda f: -12 if 0 < f <= 30 else 12 if 60 < f <= 90 else 0, 100)
    x0 = lambda f: 194 - 12 * min(f, 30) + 12 * min(max(f - 60, 0), 30)  # noqa: E731  (36 x 36 face)
    tracker = Tracker(TrackOptions(), frame_size=(480, 640), camera=camera)
    for f in [*range(0, 19, 6), *range(72, 91, 6)]:  # frames 18 and 72: 14 of its 36 px in the picture
        tracker.update(f, seen(np.array([max(x0(f), 0), 100, x0(f) + 36, 136], np.float32), frame=f))
    assert tracker.count == 1


# --- regions are final when the frame is written ------------------------------------------------

FRAME = (480, 640)  # height, width


def wandering_faces(seed: int, frames: int = 240, every: int = 8) -> list[tuple[int, Regions]]:
    """Keyframe detections of faces entering from every edge, crossing fast or slowly, leaving,
    with the detector blinking: a face is seen only when most of it is inside the picture, and
    then misses some keyframes at random (sometimes several in a row)."""
    rng = np.random.default_rng(seed)
    height, width = FRAME
    faces = []
    for _ in range(6):
        size = rng.uniform(16, 90)
        edge = int(rng.integers(4))  # where it comes in: left, top, right, bottom
        speed = rng.uniform(1, 24)
        along = rng.uniform(0.1, 0.9)
        start = rng.integers(-60, frames // 2)
        inward = [(1, 0), (0, 1), (-1, 0), (0, -1)][edge]
        cx = [-size / 2, along * width, width + size / 2, along * width][edge]
        cy = [along * height, -size / 2, along * height, height + size / 2][edge]
        drift = rng.uniform(-0.3, 0.3) * speed
        v = (inward[0] * speed + inward[1] * drift, inward[1] * speed + inward[0] * drift)
        faces.append((size, start, cx, cy, v, rng.uniform(0.5, 1.0)))
    found = []
    for f in [*range(0, frames, every), frames - 1]:
        boxes = []
        for size, start, cx, cy, (vx, vy), seen_share in faces:
            t = f - start
            x, y = cx + vx * t, cy + vy * t
            box = np.array([x - size / 2, y - size / 2, x + size / 2, y + size / 2])
            inside = np.clip(box, 0, [width, height, width, height])
            visible = (inside[2] - inside[0]) * (inside[3] - inside[1]) / size**2
            if t < 0 or visible < seen_share or rng.random() < 0.3:  # the detector blinks
                continue
            boxes.append(inside + rng.normal(0, 1, 4))
        found.append((f, seen(*boxes, frame=f) if boxes else Regions()))
    return found


def same_regions(a: Regions, b: Regions) -> bool:
    ia, ib = np.argsort(a.track, kind="stable"), np.argsort(b.track, kind="stable")
    return (
        len(a) == len(b)
        and (a.track[ia] == b.track[ib]).all()
        and (a.source[ia] == b.source[ib]).all()
        and np.allclose(a.boxes[ia], b.boxes[ib], atol=1e-3)
        and np.allclose(a.scores[ia], b.scores[ib])
    )


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize(
    "options", [TrackOptions(), OPTIONS, TrackOptions(detect_every=4, extend=3, edge_extend=12, max_gap=30)]
)
def test_regions_are_final_once_lag_frames_of_detections_are_known(seed: int, options: TrackOptions) -> None:
    """Driven as protect_frames drives it (detections up to ``lag`` frames ahead, older ones
    forgotten), the tracker gives every frame exactly the regions it gives with the whole video
    known: no later keyframe can change what an already written frame should have had painted."""
    keyframes = wandering_faces(seed, every=options.detect_every)
    everything = Tracker(options, frame_size=FRAME)
    for keyframe in keyframes:
        everything.update(*keyframe)
    streaming = Tracker(options, frame_size=FRAME)
    pending = iter(keyframes)
    upcoming = next(pending, None)
    for f in range(keyframes[-1][0] + 1):
        while upcoming is not None and upcoming[0] <= f + streaming.lag:
            streaming.update(*upcoming)
            upcoming = next(pending, None)
        now, later = streaming.regions_at(f), everything.regions_at(f)
        assert same_regions(now, later), (f, now, later)
        streaming.forget_before(f + 1)


def drive(
    tracker: Tracker, keyframes: list[tuple[int, Regions]], frames: int, counter=None
) -> Iterator[Regions]:
    """The regions of every frame, with the tracker driven as protect_frames drives it (finished
    tracks handed to ``counter``, when given)."""
    pending = iter(keyframes)
    upcoming = next(pending, None)
    for f in range(frames):
        while upcoming is not None and upcoming[0] <= f + tracker.lag:
            tracker.update(*upcoming)
            upcoming = next(pending, None)
        yield tracker.regions_at(f)
        for track in tracker.forget_before(f + 1):
            if counter is not None:
                counter.add(track)
        if counter is not None:
            counter.forget_before(min([t.start for t in tracker.tracks], default=f + 1))


def test_a_panned_face_keeps_a_patch_the_size_of_the_face() -> None:
    """A phone held upright pans at 12 px/frame: a 100 px face comes in at the right edge, crosses
    and leaves at the left (about a face size per keyframe: the tracker links its sightings). The
    detector sees it only while most of it is inside. Its patch covers it in every frame it shows,
    stays within a few face sizes of it, and stops soon after the face has gone (it used to grow
    540 px on every side). A patch partly outside is kept whole (painting grows it by its size)."""
    height, width = 1280, 720
    truth = linear((740, 600, 840, 700), (-12, 0, -12, 0))
    keyframes = []
    for f in range(0, 121, 8):
        box = np.clip(truth(f), 0, [width, height, width, height])
        visible = (box[2] - box[0]) / 100
        keyframes.append((f, seen(box, frame=f) if visible >= 0.6 else Regions()))
    regions = list(drive(Tracker(frame_size=(height, width)), keyframes, 121))
    gone = next(f for f in range(121) if truth(f)[2] <= 0)
    for f, r in enumerate(regions):
        visible = np.clip(truth(f), 0, [width, height, width, height])
        assert ((r.boxes[:, 2] > 0) & (r.boxes[:, 0] < width)).all(), (f, r.boxes)  # none wholly outside
        if visible[2] > visible[0]:
            (box,) = r.boxes
            assert contains(box, visible), (f, box, visible)
            assert box[2] - box[0] <= 4 * 100 and box[3] - box[1] <= 4 * 100, (f, box)
        elif f >= gone + 12:
            assert len(r) == 0, (f, r.boxes)


# --- counting ---------------------------------------------------------------------------------------


def test_a_photo_counts_each_face_once_and_weak_ones_as_candidates() -> None:
    """Boxes covering most of a stronger one are that face seen again, whatever their own score; a
    weak box elsewhere is a candidate; a box barely touching a face is another face."""
    boxes = [
        (100, 100, 140, 150),  # a face
        (105, 105, 145, 155),  # the same face again, weaker
        (110, 110, 130, 130),  # ... and a small box inside it
        (300, 50, 312, 62),  # a weak blip
        (138, 100, 178, 150),  # a face touching the first by 2 px
        (600, 400, 640, 440),  # a weak box nested in ...
        (590, 390, 650, 450),  # ... a confident face
    ]
    scores = [0.9, 0.5, 0.15, 0.08, 0.6, 0.12, 0.3]
    regions = Regions(np.array(boxes, np.float32), scores, "full")
    assert photo_counts(regions, 0.2) == (3, 1)
    assert photo_counts(regions, 0.7) == (1, 3)  # the same boxes kept, fewer of them confident
    assert photo_counts(Regions(), 0.2) == (0, 0)


def counted(keyframes: list[tuple[int, Regions]], frames: int, options: TrackOptions = OPTIONS):
    """(tracks, (faces, candidates)), counted as the pipeline counts them."""
    tracker = Tracker(options, frame_size=FRAME)
    counter = face_counter(options)
    for _ in drive(tracker, keyframes, frames, counter):
        pass
    for track in tracker.finish():
        counter.add(track)
    return tracker.count, (counter.faces, counter.candidates)


def test_fragments_of_one_face_count_once_and_blips_are_candidates() -> None:
    """One face crossing, lost for 40 frames (longer than max_gap: two tracks) and found again
    further along its way; a second face standing still; a weak one-off blip; a confident one-off."""
    walker = linear((40, 100, 80, 150), (3, 0, 3, 0))
    still = (400, 300, 440, 350)
    keyframes = []
    for f in range(0, 121, 4):
        boxes, scores = [still], [0.9]
        if not 20 < f < 60:
            boxes.append(walker(f))
            scores.append(0.9)
        if f == 48:
            boxes += [(300, 50, 312, 62), (500, 50, 540, 100)]
            scores += [0.08, 0.7]
        keyframes.append((f, Regions(np.array(boxes, np.float32), scores, "full", f)))
    tracks, (faces, candidates) = counted(keyframes, 121)
    assert tracks == 5  # walker twice, the still face, two blips
    assert (faces, candidates) == (3, 1)


def test_faces_that_do_not_continue_each_other_are_counted_apart() -> None:
    """A face leaves at the left; later another appears at the right moving the other way."""
    a = linear((100, 100, 140, 150), (-4, 0, -4, 0))
    b = linear((560, 300, 600, 350), (4, 0, 4, 0))
    keyframes = [(f, seen(a(f), frame=f) if f <= 20 else seen(b(f), frame=f)) for f in range(0, 41, 4)]
    assert counted(keyframes, 41)[1] == (2, 0)


def test_counting_keeps_a_bounded_window() -> None:
    """A thousand people passing one by one: each is counted, and only recent ends are kept."""
    keyframes, every = [], OPTIONS.detect_every
    for k in range(3000):
        person = k // 3  # each seen on three keyframes, far from the last one
        x = 50 + (person * 97) % 500
        keyframes.append((k * every, seen((x, 200 + (person % 2) * 150, x + 40, 250 + (person % 2) * 150))))
    tracker = Tracker(OPTIONS, frame_size=FRAME)
    counter = face_counter(OPTIONS)
    most = 0
    for _ in drive(tracker, keyframes, 3000 * every, counter):
        most = max(most, len(counter._ends))
    for track in tracker.finish():
        counter.add(track)
    assert (counter.faces, counter.candidates) == (1000, 0)
    assert most <= OPTIONS.join_gap // (3 * every) + 2


@pytest.mark.parametrize("apart, tracks", [(200, 2), (100, 14)])
def test_faces_a_face_size_per_keyframe_or_faster_count_once(apart: int, tracks: int) -> None:
    """Two 40 px faces crossing at 12 px/frame (over two face sizes per keyframe: never near their
    prediction). Far apart, each second sighting has one candidate and is linked; closer, that is
    ambiguous, every sighting starts a new track, and counting still finds two people."""
    a = linear((0, 100, 40, 140), (12, 0, 12, 0))
    b = linear((0, 100 + apart, 40, 140 + apart), (12, 0, 12, 0))
    keyframes = [(f, seen(a(f), b(f), frame=f)) for f in range(0, 49, 8)]
    assert counted(keyframes, 49, TrackOptions()) == (tracks, (2, 0))


def test_a_fast_face_is_linked_and_covered_between_its_sightings() -> None:
    """A lone 40 px face at 10 px/frame, two face sizes per keyframe: its second sighting is linked
    to its first, so it is interpolated (and covered) between keyframes, not guessed around each."""
    truth = linear((0, 100, 40, 140), (10, 0, 10, 0))
    tracker = Tracker(TrackOptions(), frame_size=FRAME)
    regions = list(drive(tracker, [(f, seen(truth(f), frame=f)) for f in range(0, 57, 8)], 57))
    assert tracker.count == 1
    for f in range(8, 49):
        (box,) = regions[f].boxes
        assert contains(box, truth(f)) and regions[f].source[0] in ("full", "interpolated"), (f, box)


def test_a_face_half_out_of_the_picture_keeps_its_whole_box_for_painting() -> None:
    """Regions are not clipped to the picture: painting grows a box by a share of its own size, and a
    face leaving through the bottom edge, clipped to the sliver still inside, got a sliver's margin
    (the 241 px face of a man looking down, 48 % of its visible part painted)."""
    truth = linear((300, 380, 400, 500), (0, 4, 0, 4))  # 120 px tall, moving down; the frame is 480 tall
    tracker = Tracker(TrackOptions(detect_every=4, extend=8, max_gap=12, edge_extend=40), frame_size=FRAME)
    feed(tracker, truth, {0, 4, 8}, 40)
    (box,) = tracker.regions_at(20).boxes  # the face's top at 460: 20 px of it inside
    assert box[3] > FRAME[0] and box[3] - box[1] >= 100, box
    planned = plan_regions(tracker.regions_at(20), FRAME)
    assert planned.boxes[0, 1] <= truth(20)[1] - 0.25 * 120, planned.boxes  # a whole face's margin


def test_sightings_a_frame_apart_do_not_make_a_speed_of_their_jitter() -> None:
    """Keyframes chosen for the camera's motion can be one frame apart; a still face's box, a little
    larger on one of them (a detector's jitter: 20 px), measured a speed of 20 px/frame, and the patch
    extended from it grew to several times the face (600 px for a 72 px face in a real clip)."""
    still = (300.0, 200.0, 372.0, 290.0)
    keyframes = [(0, still), (8, still), (15, (290.0, 190.0, 382.0, 300.0)), (16, still)]
    tracker = Tracker(TrackOptions(), frame_size=FRAME)
    for f, box in keyframes:
        tracker.update(f, seen(box, frame=f))
    for f in range(17, 27):
        (box,) = tracker.regions_at(f).boxes
        assert box[2] - box[0] <= 1.5 * 72 and box[3] - box[1] <= 1.5 * 90, (f, box)


def test_blips_on_a_face_s_head_are_that_face_not_tracks_of_their_own() -> None:
    """The upscaled pass finds weak boxes on hair, an ear or a collar beside a confident face: each
    started a track of its own (a face's 2-4 tracks in the dev clips). A weak box lying in the head is
    now part of that face's box; one elsewhere, or a confident one, stays a face of its own."""
    face, hair, ear = (300, 200, 340, 250), (305, 182, 330, 200), (341, 215, 352, 235)
    other, neighbour = (100, 100, 112, 114), (345, 200, 385, 250)
    keyframe = Regions(
        np.array([face, hair, ear, other, neighbour], np.float32), [0.9, 0.12, 0.1, 0.15, 0.8], "full"
    )
    tracker = Tracker(TrackOptions(), frame_size=FRAME)
    tracker.update(0, keyframe)
    assert tracker.count == 3  # the face (with its hair and ear), the small one apart, the neighbour
    regions = tracker.regions_at(0)
    (head,) = regions.boxes[regions.scores == np.float32(0.9)]
    assert contains(head, np.array(face)) and contains(head, np.array(hair)) and contains(head, np.array(ear))


FACE, NEIGHBOUR = np.array((100, 100, 160, 180), np.float32), np.array((150, 100, 200, 160), np.float32)


def neighbour_merged_on(frame: int) -> Tracker:
    """A still face seen on every keyframe up to 40 (none after, up to 48), with a neighbour's 0.15
    box in its head on ``frame`` only."""
    tracker = Tracker(OPTIONS, frame_size=FRAME)
    for f in range(0, 49, 4):
        boxes = [FACE, NEIGHBOUR] if f == frame else [FACE] if f <= 40 else []
        tracker.update(
            f, Regions(np.array(boxes, np.float32).reshape(-1, 4), [0.9, 0.15][: len(boxes)], "full", f)
        )
    return tracker


def test_a_box_merged_into_a_face_on_its_last_sighting_is_no_motion() -> None:
    """A neighbour's box under ``confident`` in a face's head is merged into it on the keyframes
    where the detector finds it. Its motion was measured on that union, so a still face whose last
    sighting had the neighbour merged in seemed to widen 5 px a frame: its patch after that sighting
    grew to twice the union's width (a crowd's frames 95 % black). Motion is the face's own box's."""
    tracker = neighbour_merged_on(40)
    (last,) = tracker.regions_at(40).boxes
    assert contains(last, FACE) and contains(last, NEIGHBOUR)  # painted at the sighting
    for f in range(41, 49):
        (box,) = tracker.regions_at(f).boxes
        assert contains(box, FACE), (f, box)
        assert box[2] - box[0] <= 1.25 * (last[2] - last[0]), (f, box, last)


def test_a_neighbour_merged_into_a_face_on_one_keyframe_stays_covered_across_its_gaps() -> None:
    """A neighbour that the detector sees weakly, on one keyframe, inside a face's head is painted
    with that face. It is most likely still there on the keyframes before and after, which missed
    it: the union's interpolation drew its side in across the gaps and uncovered it."""
    tracker = neighbour_merged_on(20)
    for f in range(17, 24):
        (box,) = tracker.regions_at(f).boxes
        assert contains(box, FACE) and contains(box, NEIGHBOUR), (f, box)


def test_a_face_followed_a_while_and_lost_is_covered_as_long_and_found_again() -> None:
    """A face the detector stops seeing in mid-picture (a zoom blurs it, it turns) is still there:
    one followed for 40 frames is covered for 40 more, and found again there it keeps its track."""
    truth = linear((300, 200, 340, 248), (0.2, 0, 0.2, 0))  # nearly still
    tracker = Tracker(OPTIONS, frame_size=(480, 640))
    feed(tracker, truth, {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 76}, 100)
    for f in range(41, 76):
        (box,) = tracker.regions_at(f).boxes
        assert contains(box, truth(f)), (f, box, truth(f))
    assert tracker.count == 1
    assert {int(t) for f in range(100) for t in tracker.regions_at(f).track} == {0}

    brief = Tracker(OPTIONS, frame_size=(480, 640))  # seen twice: a blip, not followed further
    feed(brief, truth, {0, 4}, 40)
    assert len(brief.regions_at(4 + 8)) == 1 and len(brief.regions_at(4 + 9)) == 0


def test_a_face_the_photo_cascade_found_faintly_is_continued_by_weak_detections() -> None:
    """A small face the first keyframe's photo cascade scores 0.16 and the video cascade only weakly
    (0.09) stays one covered track; it was lost after the first keyframe before."""
    box = np.array([521, 138, 535, 154], np.float32)
    tracker = Tracker(OPTIONS, frame_size=(480, 640))
    tracker.update(0, Regions(box[None], [0.16], "fine", 0))
    for f in range(4, 101, 4):
        tracker.update(f, Regions(box[None] + [-1, -1, 1, 1], [0.09], "weak", f))
    for f in range(0, 97):
        (covered,) = tracker.regions_at(f).boxes
        assert contains(covered, box), (f, covered)
    assert tracker.count == 1


def test_a_faint_blip_seen_once_is_not_linked_to_a_face_far_away() -> None:
    """A 0.21 box on a crowd's background at frame 0 and a sure face entering 300 px away at frame 16
    are two things: linked as one fast face, the frames between were painted with a 540 px patch."""
    tracker = Tracker(TrackOptions(), frame_size=(1280, 720))
    keyframes = [
        (0, Regions(np.array([[516, 61, 645, 210]], np.float32), [0.214], "full", 0)),
        (8, Regions()),
        (16, Regions(np.array([[646, 379, 720, 475]], np.float32), [0.867], "full", 16)),
    ]
    regions = list(drive(tracker, keyframes, 17))
    assert tracker.count == 2
    assert not any("interpolated" in r.source for r in regions)  # nothing painted between the two


@pytest.mark.parametrize("seed", range(6))
def test_a_tracker_given_its_margin_before_a_part_paints_the_part_as_one_pass_does(seed: int) -> None:
    """A worker painting frames 300-400 of a video sees it from ``margin`` frames before: a face
    followed since frame 0 and lost at 280 coasts over the part as in one pass over the whole."""
    options = TrackOptions()
    still = np.array([300, 200, 340, 248], np.float32)
    keyframes = []
    for f, found in wandering_faces(seed, frames=480, every=options.detect_every):
        if f <= 280:
            found = Regions.concat([found, seen(still, frame=f)])
        keyframes.append((f, found))
    whole = Tracker(options, frame_size=FRAME)
    for keyframe in keyframes:
        whole.update(*keyframe)
    part = Tracker(options, frame_size=FRAME)
    for keyframe in keyframes:
        if keyframe[0] >= 300 - part.margin:
            part.update(*keyframe)
    assert any(len(whole.regions_at(f)) for f in range(330, 370))
    for f in range(300, 400):  # track ids are the worker's own (the driver renumbers them)
        a, b = part.regions_at(f), whole.regions_at(f)
        a.track[:], b.track[:] = 0, 0
        assert same_regions(a, b), f


def assert_final(tracker: Tracker, whole: Tracker, keyframes: list[tuple[int, Regions]]) -> None:
    """``tracker``, driven as protect_frames drives it, gives every frame what ``whole`` gives it
    with every keyframe known."""
    for keyframe in keyframes:
        whole.update(*keyframe)
    for f, now in enumerate(drive(tracker, keyframes, keyframes[-1][0] + 1)):
        assert same_regions(now, whole.regions_at(f)), (f, now, whole.regions_at(f))


def test_a_face_found_again_after_a_coast_is_covered_just_before_as_a_new_face_was() -> None:
    """A face walking at 1 px/frame, lost for 36 frames and found again where it has walked to, is
    linked to its coasting track; the frames just before it was found are covered there as a face
    first seen there was before coasts (the held box had stayed behind: frames 68-75 uncovered), and
    every frame keeps the regions it was written with (a second coast after it included)."""
    truth = linear((300, 200, 340, 248), (1, 0, 1, 0))

    def detected(on: set[int]) -> list[tuple[int, Regions]]:
        return [(f, seen(truth(f), frame=f) if f in on else Regions()) for f in range(0, 161, 4)]

    tracker = Tracker(OPTIONS, frame_size=(480, 640))
    for keyframe in detected({*range(0, 41, 4), 76, 80, 84, 88, 124}):
        tracker.update(*keyframe)
    assert tracker.count == 1
    for f in [*range(0, 49), *range(68, 97), *range(116, 133)]:
        assert any(contains(box, truth(f)) for box in tracker.regions_at(f).boxes), f
    for on in [
        {*range(0, 41, 4), 76, 80, 84, 88, 124},
        {*range(0, 41, 4), 76, 140},  # seen once between two coasts
        {*range(0, 81, 4), 152},  # a coast longer than the look-ahead: its motion kept
    ]:
        assert_final(
            Tracker(OPTIONS, frame_size=(480, 640)), Tracker(OPTIONS, frame_size=(480, 640)), detected(on)
        )


def test_a_faint_blip_continued_by_weak_detections_is_counted_as_a_candidate() -> None:
    """Texture scored 0.12 on one keyframe and weakly (0.05) on every one after: weak detections now
    continue a track first seen at 0.1, but a blip so continued is still no face (it was counted as
    one, where before it was a candidate); a face beside it counts once."""
    blip = np.array([[300, 50, 312, 62]], np.float32)
    face = np.array([[100, 100, 140, 150]], np.float32)
    keyframes = [(0, Regions(np.concatenate([blip, face]), [0.12, 0.9], "full", 0))]
    for f in range(4, 101, 4):
        weak = Regions(blip + [0.5, 0, 0.5, 0], [0.05], "weak", f)
        keyframes.append((f, Regions.concat([Regions(face, [0.9], "full", f), weak])))
    assert counted(keyframes, 101) == (2, (1, 1))
