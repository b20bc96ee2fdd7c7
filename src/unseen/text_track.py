"""Faces and text tracked side by side in a video (``--text``), each kind by its own tracker.

A plate is never the same thing as a face next to it, so the kinds are never matched to each other:
keyframe detections are split by ``kind``, each kind goes to its own :class:`~unseen.track.Tracker`
(the same camera path, look-ahead and edge rules), and each frame's regions are the two trackers'
regions together, with their kind. Text tracks get ids from
:data:`TEXT_TRACKS` on, so no text track shares an id with a face track in the regions file.
Counting (faces, candidates) reads the face tracker's finished tracks only.

Text is looked for on every :data:`TEXT_EVERY`-th regular keyframe only (every 16th frame by
default) and on each shot's first: a plate or a sign changes less from frame to frame than a face,
and the text network costs as much as the face cascade. :class:`TextKeyframes` says which keyframes
those are, by frame index, so a worker painting part of a video picks the ones one process picks.
The text tracker (:func:`text_track_options`) is told that its detections come that far apart: it
carries a line as far before its first and after its last sighting as the next look is away (a
plate that comes into view in mid-picture, or that one look misses), and joins sightings over a gap
shorter by as much, so that its look-ahead (``lag``) stays the faces' (a worker's margin is sized
from that). A plate taken through the picture's edge is followed as a face is (``edge_extend``).
Text seen on fewer than :data:`TEXT_EVERY` keyframes' worth of frames may be missed, as a face
seen between two keyframes is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from .detectors import with_text
from .media.video import Frame
from .options import Options
from .regions import Regions, kinds, with_kind
from .track import Track, Tracker, TrackOptions

TEXT_TRACKS = 1 << 30  # the first text track's id (face track ids count up from 0)
TEXT_EVERY = 2  # text is looked for on every this many regular keyframes


def text_track_options(options: TrackOptions) -> TrackOptions:
    """The text tracker's options, from the faces': sightings :data:`TEXT_EVERY` times further
    apart, each carried that far before and after it, gaps joined over as much less."""
    every = TEXT_EVERY * options.detect_every
    return replace(
        options,
        detect_every=every,
        extend=max(options.extend, every),
        max_gap=max(options.max_gap - (every - options.detect_every), 0),
    )


class TextKeyframes:
    """Which keyframes text is looked for on: a shot's first (``full``) and every frame whose index
    is a multiple of ``TEXT_EVERY * detect_every``. Pass the frames through :meth:`follow` on their
    way to :func:`~unseen.video_pipeline.detect_keyframes`, which analyses the frame it was just
    handed; then :meth:`with_text` knows which frame that is."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.every = text_track_options(options.track).detect_every
        self.index = -1

    def follow(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        for frame in frames:
            self.index = frame.index
            yield frame

    def looks(self, index: int) -> bool:
        """Whether text is looked for on frame ``index`` when it is a regular keyframe."""
        return bool(self.options.text) and index % self.every == 0

    def with_text(self, faces: Regions, image: np.ndarray, full: bool) -> Regions:
        """``faces`` of the keyframe ``image``, with its text when text is looked for there."""
        if self.options.text and not full and not self.looks(self.index):
            return with_kind(faces, "face")
        return with_text(faces, image, self.options)


class KindTrackers:
    """The :class:`~unseen.track.Tracker` interface that :func:`unseen.video_pipeline.protect_frames`
    uses, over a face tracker and a text tracker."""

    def __init__(self, faces: Tracker, text: Tracker) -> None:
        self.faces, self.text = faces, text

    @property
    def lag(self) -> int:
        return max(self.faces.lag, self.text.lag)

    @property
    def tracks(self) -> list[Track]:
        """The live face tracks (what counting asks for)."""
        return self.faces.tracks

    @property
    def count(self) -> int:
        """Face tracks ever started."""
        return self.faces.count

    def update(self, frame: int, detections: Regions) -> None:
        text = kinds(detections) == "text"
        self.faces.update(frame, detections[~text])
        self.text.update(frame, detections[text])

    def regions_at(self, frame: int) -> Regions:
        faces = with_kind(self.faces.regions_at(frame), "face")
        text = with_kind(self.text.regions_at(frame), "text")
        text.track += TEXT_TRACKS
        return Regions.concat([faces, text])

    def forget_before(self, frame: int) -> list[Track]:
        """Forget in both; the face tracks finished (for counting)."""
        self.text.forget_before(frame)
        return self.faces.forget_before(frame)

    def finish(self) -> list[Track]:
        self.text.finish()
        return self.faces.finish()
