"""What the video path looks for on a keyframe: the video cascade mostly, the photo cascade now and then.

The video cascade is lighter than a photo's (no upscaled pass, turned views only for large faces),
since a face in a video is seen again on the next keyframe. But a face the light views never see
well is then *never* seen: a small face on a tripod shot that the native view scores just under
its threshold stays uncovered for minutes, though the photo cascade finds it at once in its
upscaled pass. So a shot's first keyframe gets the photo cascade, whose faces then start tracks
that the video cascade's weak detections continue. (Running it on later keyframes too, every 48
frames, found the same faces again but also the upscaled pass's blips on hair and collars, each a
new track: counts and review's cards grew with them.)

A shot whose faces are all turned (a phone held sideways, a rotation flag wrong by 180 degrees) is
found out on that first keyframe too: by the photo cascade's own vote, or, for faces too small for
its half-size turned views, by the video cascade run on the whole picture turned each way. The
video cascade's keyframes of that shot then look at the picture turned that way *as well as*
upright, so a wrong guess costs time, never an upright face.
"""

from __future__ import annotations

import numpy as np

from ..regions import Regions
from .cascade import Cascade
from .merge import nms
from .tiles import unturn

SURE = 0.5  # a face this confident is one for the turn probe


class KeyframeDetector:
    """One video's keyframe detection: call it with each keyframe's RGB pixels, in order, and whether
    that keyframe gets the photo cascade (``full``: the first of a shot)."""

    def __init__(self, photo: Cascade, video: Cascade) -> None:
        self.photo, self.video = photo, video
        self.turn = 0  # quarter turns (counter-clockwise) the shot's faces were found in

    def __call__(self, rgb: np.ndarray, full: bool) -> Regions:
        if full:
            regions, self.turn = self.photo.detect(rgb)
            if self.turn:
                return regions
            turned = self._probe(rgb, regions)
            return self._joined(regions, turned) if turned is not None else regions
        regions = self.video(rgb)
        return self._joined(regions, self._turned(rgb, self.turn)) if self.turn else regions

    def _turned(self, rgb: np.ndarray, turn: int) -> Regions:
        """The video cascade's faces in the picture turned ``turn`` quarter turns, in its own pixels."""
        h, w = rgb.shape[:2]
        regions = self.video(np.ascontiguousarray(np.rot90(rgb, turn)))
        regions.boxes = unturn(regions.boxes, turn, h, w)
        return regions

    def _probe(self, rgb: np.ndarray, upright: Regions) -> Regions | None:
        """The faces of the turn in which the picture holds clearly more sure faces than upright (at
        least two faces' worth, and twice the upright ones), setting ``turn``; else None."""
        sure = float(upright.scores[upright.scores >= SURE].sum())
        best, found = 0.0, None
        for turn in (1, 2, 3):
            regions = self._turned(rgb, turn)
            score = float(regions.scores[regions.scores >= SURE].sum())
            if score >= max(2 * SURE, 2 * sure) and score > best:
                best, found, self.turn = score, regions, turn
        return found

    def _joined(self, regions: Regions, turned: Regions) -> Regions:
        return nms(Regions.concat([regions, turned]), self.video.options.nms_iou)
