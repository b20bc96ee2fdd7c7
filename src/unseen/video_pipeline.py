"""The video stage, in two passes over the file, so that no decoded frame is ever held back.

1. :func:`detect_keyframes` decodes the video, follows the camera from frame to frame (see
   :mod:`unseen.camera_motion`) and runs the detector on the keyframes: every ``detect_every``-th
   frame at least, sooner where the camera has moved the picture far or cut to a new shot, and the
   last frame; where nothing in the picture moved, most keyframes reuse the detector's last look.
   It keeps only the detections and the camera's path (a few numbers per frame and per face), so a
   decode error also surfaces here, before anything is encoded.
2. :func:`protect_frames` decodes the video again and paints each frame as it comes. The tracker is
   fed the detections ``lag`` frames ahead of the frame being painted, so it knows the sightings
   after each frame (faces that appear a moment later, or that the detector missed on a keyframe)
   without a buffer of frames. ``lag`` covers every way a later keyframe can change a frame's
   regions, so what is painted is final when the frame is written. Memory does not depend on the
   length of the video or on the lag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np

from .camera_motion import CameraPath, MotionEstimator
from .count import FaceCounter
from .media.video import Frame
from .obscure import ObscureOptions, obscure
from .plan import PlanOptions, plan_regions
from .regions import Regions, kinds
from .track import Track, Tracker, TrackOptions

Keyframe = tuple[int, Regions]  # frame index, detections on it
Picture = tuple[tuple[int, ...], np.ndarray]  # a frame's full size, and its grey shrunk for comparing
MOTION_WIDTH = 320  # frames are compared at this width to follow the camera
# "Nothing changed" in a picture shrunk to a quarter of its width (sensor and encoder noise average
# out there) is no block of 2 x 2 of its pixels (8 x 8 of the picture's, under a small face) changed
# by more than 2 grey levels on average. A 12 px face that moves one pixel changes its block by about
# 9; one that comes out of the dark into a dim room is seen from 4 grey levels brighter than the room.
# Noise of up to about 2 grey levels a pixel passes (the skipped blocks of an encoded still shot have
# none); noisier footage is looked at as before.
STILL_SCALE = 4
STILL_BLOCK = 2
STILL_LEVELS = 2.0


def detect_keyframes(
    frames: Iterable[Frame],
    detect: Callable[[np.ndarray, bool], Regions],
    options: TrackOptions,
    camera: CameraPath,
    *,
    last: int | None = None,
    looks: Callable[[int], bool] | None = None,
) -> list[Keyframe]:
    """Pass 1: the camera's path into ``camera`` (every frame), and ``detect(pixels, full)`` on the
    keyframes, in frame order (``full``: the photo cascade's turn, see ``unseen.detect.keyframe``).

    Keyframes are every ``detect_every``-th frame, a shot's first frame, a frame by which the camera
    has moved the picture ``moved`` of its width since the keyframe before, and the frame ``last`` (by
    default the last one there is). ``full`` is the first keyframe and each cut.

    A keyframe that is only due by the count, in a picture where nothing has changed since the
    detector's last look in this run of ``still`` keyframes, takes that look's faces: a tripod shot
    costs a quarter of the detection, and a face that moves, a person who comes in or a camera that
    turns brings the detector back at once. Frames that ``looks`` names are looked at whatever the
    picture (text's turns, see ``unseen.text_track``); a keyframe not looked at takes no text.

    Each choice depends on the frames since the last ``detect_every * still``-th only, so a worker
    painting part of a video (``unseen.scale.segments``) picks the keyframes and the looks one
    process picks.

    Any exception from decoding or ``detect`` propagates: the caller then writes nothing.
    """
    found: list[Keyframe] = []
    final: Frame | None = None
    estimator: MotionEstimator | None = None
    key = -1  # the last keyframe
    faces = None  # its detections: the camera's motion is measured around them
    looked: tuple[int, Picture, Regions] | None = None  # the video cascade's last look
    run = options.detect_every * options.still
    reused = False  # whether the last keyframe reused the faces of the one before
    for frame in frames:
        if estimator is None:
            estimator = MotionEstimator(frame.pixels.shape[:2])
        motion, cut = estimator.step(frame.grey(MOTION_WIDTH), faces)
        camera.add(frame.index, motion, cut)
        width = estimator.frame_size[1]
        i = frame.index
        urgent = cut or i == last or (key >= 0 and _moved(camera, key, i, width) > options.moved)
        if urgent or i % options.detect_every == 0:
            full = cut or key < 0
            # the full size too: a stream that changes size mid-way shrinks to the same grey size
            small = (frame.pixels.shape[:2], frame.grey(max(width // STILL_SCALE, 1)))
            forced = urgent or full or (looks is not None and looks(i))
            reused = (
                not forced and looked is not None and looked[0] >= i - i % run and _still(looked[1], small)
            )
            if reused and looked is not None:
                regions = looked[2][kinds(looked[2]) == "face"]  # a copy: nothing downstream shares it
            else:
                regions = detect(frame.pixels, full)
                looked = None if full else (i, small, regions)
            found.append((i, regions))
            key, faces = i, regions.boxes
        final = frame
    if last is None and final is not None and (key != final.index or reused):
        if key == final.index:  # the last frame is looked at, as by a worker told which one it is
            found.pop()
        found.append((final.index, detect(final.pixels, False)))
    return found


def _still(before: Picture, now: Picture) -> bool:
    """Whether two pictures (full size, and grey shrunk by STILL_SCALE) are the same but for noise."""
    if before[0] != now[0] or before[1].shape != now[1].shape:
        return False
    h, w = now[1].shape
    diff = cv2.absdiff(before[1], now[1]).astype(np.float32)
    blocks = cv2.resize(
        diff, (max(w // STILL_BLOCK, 1), max(h // STILL_BLOCK, 1)), interpolation=cv2.INTER_AREA
    )
    return bool(blocks.max() <= STILL_LEVELS)


def _moved(camera: CameraPath, since: int, now: int, width: int) -> float:
    """How far the picture's corners moved between two frames of one shot, as a share of its width."""
    if camera.shot(since) != camera.shot(now):
        return 1.0
    corners = np.array([[0, 0, width, width]], np.float64)
    there = camera.to_frame(now, camera.to_scene(since, corners))
    return float(np.abs(there - corners).max()) / width


def face_counter(options: TrackOptions) -> FaceCounter:
    """Counts a video's finished tracks as a person would (see :mod:`unseen.count`)."""
    o = options
    return FaceCounter(o.confident, o.join_gap, o.match_distance, o.fast_motion, 2 * o.detect_every)


def protect_frames(
    frames: Iterable[Frame],
    keyframes: Iterable[Keyframe],
    tracker: Tracker,
    *,
    plan: PlanOptions | None = None,
    paint: ObscureOptions | None = None,
    record: list[Regions] | None = None,
    counter: FaceCounter | None = None,
) -> Iterator[Frame]:
    """Pass 2: yield ``frames`` in order with every tracked face obscured.

    Regions of each frame are appended to ``record`` when given (for the regions file), and the
    tracks are handed to ``counter`` as they finish.
    """
    plan, paint = plan or PlanOptions(), paint or ObscureOptions()
    pending = iter(keyframes)
    upcoming = next(pending, None)
    for frame in frames:
        while upcoming is not None and upcoming[0] <= frame.index + tracker.lag:
            tracker.update(*upcoming)
            upcoming = next(pending, None)
        regions = tracker.regions_at(frame.index)
        if record is not None:
            record.append(regions)
        planned = plan_regions(regions, frame.pixels.shape[:2], plan)
        yield Frame(frame.index, frame.pts, obscure(frame.pixels, planned, paint, inplace=True))
        finished = tracker.forget_before(frame.index + 1)
        if counter is not None:
            _count(counter, finished, tracker, frame.index + 1)
    if counter is not None:
        _count(counter, tracker.finish(), tracker, 0)


def _count(counter: FaceCounter, finished: list[Track], tracker: Tracker, now: int) -> None:
    """Hand ``finished`` to ``counter``, which then forgets what no track still kept can continue."""
    for track in finished:
        counter.add(track)
    counter.forget_before(min([t.start for t in tracker.tracks], default=now))


def paint_frames(
    frames: Iterable[Frame],
    regions: Regions,
    *,
    plan: PlanOptions | None = None,
    paint: ObscureOptions | None = None,
) -> Iterator[Frame]:
    """Yield ``frames`` in order with the given regions painted, each on the frame its ``frame`` names.

    The tracker's counterpart for known regions (a regions file corrected in review): nothing is
    detected, every region listed is painted as is (after planning), and a frame without regions is
    passed through unchanged.
    """
    plan, paint = plan or PlanOptions(), paint or ObscureOptions()
    order = np.argsort(regions.frame, kind="stable")
    sorted_frames = regions.frame[order]
    for frame in frames:
        lo, hi = np.searchsorted(sorted_frames, [frame.index, frame.index + 1])
        if lo == hi:
            yield frame
            continue
        planned = plan_regions(regions[order[lo:hi]], frame.pixels.shape[:2], plan)
        yield Frame(frame.index, frame.pts, obscure(frame.pixels, planned, paint, inplace=True))
