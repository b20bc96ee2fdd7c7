"""Any frame of a video, decoded on demand: the page scrubs through hour-long videos in review.

The timestamps of all frames come from the packets (demuxing reads no pictures, so it is quick and
small even for a long video). A frame is then found by seeking to the keyframe before it and
decoding forward; stepping to the next frames continues the same decoder instead of seeking again.
Frames are numbered as :func:`unseen.media.video.read_frames` numbers them (presentation order).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..errors import InputError, shown
from ..media.local_av import open_input
from ..media.video import probe

AHEAD = 48  # a frame at most this far after the last one decoded is reached by decoding on


class FrameSource:
    """Decode frames of one video by index; safe to call from several threads (one at a time)."""

    def __init__(self, path: str | Path, frames: int) -> None:
        self.path = Path(path)
        info = probe(self.path)
        self.turns = -(info.rotation // 90)
        self.fps = info.fps  # the page plays the video at this rate
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = None
        self._decoded: Iterator[av.VideoFrame] | None = None
        self._next = 0  # index of the frame the open decoder yields next
        self._pts = self._timestamps()
        if len(self._pts) != frames:  # odd timing (edit lists...): fall back to decoding from the start
            self._pts = []
        self._index = {pts: i for i, pts in enumerate(self._pts)}

    def _timestamps(self) -> list[int]:
        try:
            with open_input(self.path) as container:
                stream = container.streams.video[0]
                return sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"{shown(self.path)}: cannot read video: {exc}") from exc

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as upright H x W x 3 uint8 RGB; InputError if it cannot be decoded."""
        with self._lock:
            try:
                return self._frame(index)
            except (av.FFmpegError, OSError, StopIteration) as exc:
                self.close()
                raise InputError(f"{shown(self.path)}: cannot decode frame {index}") from exc

    def _frame(self, index: int) -> np.ndarray:
        if self._decoded is None or not self._next <= index <= self._next + AHEAD:
            self._seek(index)
        assert self._decoded is not None
        while True:
            decoded = next(self._decoded)
            at = self._index.get(decoded.pts, -1) if self._pts else self._next
            self._next = at + 1
            if at >= index:
                break
        pixels = decoded.to_ndarray(format="rgb24")
        return np.ascontiguousarray(np.rot90(pixels, k=self.turns)) if self.turns else pixels

    def _seek(self, index: int) -> None:
        self.close()
        self._container = open_input(self.path)
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        if self._pts:
            self._container.seek(self._pts[index], stream=stream, backward=True)
            self._next = -1  # unknown until the first frame's timestamp is read
        else:
            self._next = 0
        self._decoded = self._container.decode(stream)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._decoded = None, None
