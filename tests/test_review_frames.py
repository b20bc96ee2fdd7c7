"""Frames decoded on demand for the review page: any frame, in any order, the same as a full decode."""

from __future__ import annotations

import time

import numpy as np
from clips import make_clip

from unseen.media.video import read_frames
from unseen.review.frames import FrameSource


def test_any_frame_in_any_order_matches_the_full_decode(tmp_path):
    path = make_clip(tmp_path / "clip.mp4", frames=90, size=(96, 64), audio=False)
    every = [f.pixels.copy() for f in read_frames(path)]
    source = FrameSource(path, len(every))
    for index in [0, 77, 5, 6, 7, 89, 40, 41, 88, 1]:  # jumps back, steps on, jumps ahead
        assert np.array_equal(source.frame(index), every[index]), index
    source.close()


def test_rotated_video_frames_come_upright(tmp_path):
    path = make_clip(tmp_path / "turned.mp4", frames=12, size=(96, 64), audio=False, rotation=90)
    every = [f.pixels.copy() for f in read_frames(path)]
    source = FrameSource(path, len(every))
    assert source.frame(7).shape == (96, 64, 3)
    assert np.array_equal(source.frame(7), every[7])


def test_seeking_far_into_a_video_is_quick(tmp_path):
    path = make_clip(tmp_path / "long.mp4", frames=400, size=(320, 240), audio=False)
    source = FrameSource(path, 400)
    for index in [399, 3, 250, 120, 398]:
        start = time.perf_counter()
        source.frame(index)
        assert time.perf_counter() - start < 1.0, index
