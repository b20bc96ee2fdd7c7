"""Faces and text tracked side by side in a video (``--text``), each kind by its own tracker.

A plate is never the same thing as a face next to it, so the kinds are never matched to each other:
keyframe detections are split by ``kind``, each kind goes to its own :class:`~unseen.track.Tracker`
(same options, same camera path, so the same look-ahead, gaps and edge rules), and each frame's
regions are the two trackers' regions together, with their kind. Text tracks get ids from
:data:`TEXT_TRACKS` on, so no text track shares an id with a face track in the regions file.
Counting (faces, candidates) reads the face tracker's finished tracks only.
"""

from __future__ import annotations

from .regions import Regions, kinds, with_kind
from .track import Track, Tracker

TEXT_TRACKS = 1 << 30  # the first text track's id (face track ids count up from 0)


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
