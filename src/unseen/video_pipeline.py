"""The video stage: detect on keyframes, track, and paint every frame once its regions are final.

Frames stream through a bounded buffer: a frame leaves (painted) only when the tracker has seen
``lag`` frames beyond it, so faces that appear a moment later, or that the detector missed on one
keyframe, are still covered. The buffer never holds more than ``lag + detect_every`` frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .media.video import Frame
from .obscure import ObscureOptions, obscure
from .plan import PlanOptions, plan_regions
from .regions import Regions
from .track import Tracker, TrackOptions


def protect_frames(
    frames: Iterable[Frame],
    detect: Callable[[np.ndarray], Regions],
    *,
    track: TrackOptions | None = None,
    plan: PlanOptions | None = None,
    paint: ObscureOptions | None = None,
    record: list[Regions] | None = None,
    tracker: Tracker | None = None,
) -> Iterator[Frame]:
    """Yield ``frames`` in order with every face obscured. ``detect`` runs on keyframes only.

    Regions of each frame are appended to ``record`` when given (for the regions file). Any
    exception from ``detect`` propagates, so the caller's writer discards the output: no frame is
    ever written without analysis.
    """
    tracker = tracker or Tracker(track)
    plan, paint = plan or PlanOptions(), paint or ObscureOptions()
    every = tracker.options.detect_every
    buffer: deque[Frame] = deque()
    newest = -1

    def release(upto: float) -> Iterator[Frame]:
        while buffer and buffer[0].index <= upto:
            frame = buffer.popleft()
            regions = tracker.regions_at(frame.index)
            if record is not None:
                record.append(regions)
            planned = plan_regions(regions, frame.pixels.shape[:2], plan)
            yield Frame(frame.index, frame.pts, obscure(frame.pixels, planned, paint))
            tracker.forget_before(frame.index + 1)

    for frame in frames:
        buffer.append(frame)
        if frame.index % every == 0:
            tracker.update(frame.index, detect(frame.pixels))
            newest = frame.index
            yield from release(newest - tracker.lag)
    if buffer and buffer[-1].index != newest:  # the last frame is always seen by the detector
        tracker.update(buffer[-1].index, detect(buffer[-1].pixels))
    yield from release(float("inf"))
