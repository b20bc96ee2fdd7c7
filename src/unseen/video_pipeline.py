"""The video stage, in two passes over the file, so that no decoded frame is ever held back.

1. :func:`detect_keyframes` decodes the video and runs the detector on every ``detect_every``-th
   frame and on the last one. It keeps only the detections (a few numbers per face), so a decode
   error also surfaces here, before anything is encoded.
2. :func:`protect_frames` decodes the video again and paints each frame as it comes. The tracker is
   fed the detections ``lag`` frames ahead of the frame being painted, so it knows the sightings
   after each frame (faces that appear a moment later, or that the detector missed on a keyframe)
   without a buffer of frames. ``lag`` covers every way a later keyframe can change a frame's
   regions, so what is painted is final when the frame is written. Memory does not depend on the
   length of the video or on the lag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .media.video import Frame
from .obscure import ObscureOptions, obscure
from .plan import PlanOptions, plan_regions
from .regions import Regions
from .track import Tracker

Keyframe = tuple[int, Regions]  # frame index, detections on it


def detect_keyframes(
    frames: Iterable[Frame], detect: Callable[[np.ndarray], Regions], every: int
) -> list[Keyframe]:
    """Pass 1: detections on every ``every``-th frame and on the last frame, in frame order.

    Any exception from decoding or ``detect`` propagates: the caller then writes nothing.
    """
    found: list[Keyframe] = []
    last: Frame | None = None
    for frame in frames:
        if frame.index % every == 0:
            found.append((frame.index, detect(frame.pixels)))
        last = frame
    if last is not None and last.index % every:
        found.append((last.index, detect(last.pixels)))
    return found


def protect_frames(
    frames: Iterable[Frame],
    keyframes: Iterable[Keyframe],
    tracker: Tracker,
    *,
    plan: PlanOptions | None = None,
    paint: ObscureOptions | None = None,
    record: list[Regions] | None = None,
) -> Iterator[Frame]:
    """Pass 2: yield ``frames`` in order with every tracked face obscured.

    Regions of each frame are appended to ``record`` when given (for the regions file).
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
        tracker.forget_before(frame.index + 1)


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
