"""What the video path looks for on a keyframe: the video cascade mostly, the photo cascade now and then.

The video cascade is lighter than a photo's (no mirrored or upscaled pass, turned views only for
large faces), since a face in a video is seen again on the next keyframe. But a face the light
views never see well is then *never* seen: a small face on a tripod shot that the native view scores
just under its threshold stays uncovered for minutes, though the photo cascade finds it at once in
its upscaled pass. So a shot's first keyframe gets the photo cascade, whose faces then start tracks
that the video cascade's weak detections continue. (Running it on later keyframes too, every 48
frames, found the same faces again but also the upscaled pass's blips on hair and collars, each a
new track: counts and review's cards grew with them.)

The photo cascade also tells whether the picture's faces are turned (a phone held sideways, a wrong
rotation flag): it votes on the turn as for a photo, and the video cascade's keyframes of that shot
look at the picture turned that way, so its small faces are found as well as upright ones.
"""

from __future__ import annotations

import numpy as np

from ..regions import Regions
from .cascade import Cascade
from .tiles import unturn


class KeyframeDetector:
    """One video's keyframe detection: call it with each keyframe's RGB pixels, in order, and whether
    that keyframe gets the photo cascade (``full``)."""

    def __init__(self, photo: Cascade, video: Cascade) -> None:
        self.photo, self.video = photo, video
        self.turn = 0  # quarter turns (counter-clockwise) the photo cascade last found the faces in

    def __call__(self, rgb: np.ndarray, full: bool) -> Regions:
        if full:
            regions, self.turn = self.photo.detect(rgb)
            return regions
        if not self.turn:
            return self.video(rgb)
        h, w = rgb.shape[:2]
        regions = self.video(np.ascontiguousarray(np.rot90(rgb, self.turn)))
        regions.boxes = unturn(regions.boxes, self.turn, h, w)
        return regions
