"""What review starts from: a normal run's detections (to obscure) plus suggestions, without painting.

Photos are detected as :func:`unseen.api.anonymise_file` detects them. Videos go through the same
keyframe detection and tracker as :func:`unseen.api.anonymise_video_file`, in one decoding pass:
the tracker needs only the keyframes' detections to give the regions of every frame, so no frame is
decoded a second time and nothing is written. Suggestions are looked for on the same pictures
(keyframes, for video).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from ..api import Options, detect, keyframe_detector, video_tracker, with_text
from ..camera_motion import CameraPath
from ..errors import AnalysisError, shown
from ..media.image import read_photo
from ..media.video import Frame, probe, read_frames
from ..regions import Regions, with_kind
from ..regions_file import FileEntry, fingerprint
from ..text_track import KindTrackers, TextKeyframes
from ..track import WEAK, Tracker
from ..video_pipeline import Keyframe, detect_keyframes
from .suggest import suggestions


def _entry(
    src: Path, dst: Path, kind: str, size: tuple[int, int], frames: int, parts: list[Regions]
) -> FileEntry:
    """An entry with ``parts[0]`` to obscure and ``parts[1]`` suggested; fingerprinted by the caller."""
    found, weak = parts
    actions = ["obscure"] * len(found) + ["suggested"] * len(weak)
    width, height = size
    return FileEntry(
        str(src.resolve()), str(dst.resolve()), kind, width, height, frames, Regions.concat(parts), actions
    )


def detect_photo(src: Path, dst: Path, options: Options) -> FileEntry:
    """Detections and suggestions of one photo; AnalysisError (naming the file) fails it."""
    digest = fingerprint(src)  # before decoding: the regions then describe at most these bytes
    pixels = read_photo(src).pixels
    try:
        faces = detect(pixels, options.sensitivity)
        weak = suggestions(pixels, faces, options.sensitivity)
        found = with_text(faces, pixels, options)
        weak = with_kind(weak, "face") if options.text else weak
    except AnalysisError as exc:
        raise AnalysisError(f"{shown(src)}: {exc}") from exc
    height, width = pixels.shape[:2]
    entry = _entry(src, dst, "image", (width, height), 1, [found, weak])
    entry.size, entry.sha256 = digest
    return entry


def detect_video(
    src: Path, dst: Path, options: Options, progress: Callable[[int, int | None], None] | None = None
) -> FileEntry:
    """Per-frame regions of one video, as the tracker would paint them, and keyframe suggestions."""
    digest = fingerprint(src)
    info = probe(src)
    count = 0
    weak: list[Regions] = []

    def counted(frames: Iterator[Frame]) -> Iterator[Frame]:
        nonlocal count
        for frame in frames:
            count = frame.index + 1
            yield frame
            if progress:
                progress(count, info.frames)

    keyframe = keyframe_detector(options.sensitivity)
    text = TextKeyframes(options)  # text on the keyframes where the command line looks for it

    def analysed(image: np.ndarray, full: bool) -> Regions:
        try:
            faces = keyframe(np.ascontiguousarray(image), full)
            # weak detections only continue faces followed: the rest may still be suggested
            seen = suggestions(image, faces[faces.source != WEAK], options.sensitivity, video=True)
            found = text.with_text(faces, image, full)
            seen = with_kind(seen, "face") if options.text else seen
        except AnalysisError as exc:
            raise AnalysisError(f"{shown(src)}: {exc}") from exc
        seen.frame[:] = count - 1  # detect_keyframes analyses the frame it was just handed
        weak.append(seen)
        return found

    camera = CameraPath()
    keyframes = detect_keyframes(
        text.follow(counted(read_frames(src))), analysed, options.track, camera, looks=text.looks
    )
    tracker = video_tracker(options, info, camera)
    tracked = _joined(regions_per_frame(keyframes, tracker, count))
    entry = _entry(src, dst, "video", (info.width, info.height), count, [tracked, Regions.concat(weak)])
    entry.size, entry.sha256 = digest
    entry.cuts = [frame for frame in range(1, count) if camera.shot(frame) == frame]  # swept in review
    return entry


def _joined(parts: Iterable[Regions], every: int = 1024) -> Regions:
    """Concatenate many small region sets a block at a time: an hour of frames is 100 000 of them,
    far more memory as separate objects than as one set of arrays."""
    blocks: list[Regions] = []
    block: list[Regions] = []
    for part in parts:
        block.append(part)
        if len(block) == every:
            blocks.append(Regions.concat(block))
            block = []
    return Regions.concat([*blocks, Regions.concat(block)])


def regions_per_frame(
    keyframes: list[Keyframe], tracker: Tracker | KindTrackers, frames: int
) -> Iterator[Regions]:
    """The tracker's regions for frames ``0 .. frames - 1``, fed the keyframes ``lag`` frames ahead,
    exactly as :func:`unseen.video_pipeline.protect_frames` feeds it while painting."""
    pending = iter(keyframes)
    upcoming = next(pending, None)
    for index in range(frames):
        while upcoming is not None and upcoming[0] <= index + tracker.lag:
            tracker.update(*upcoming)
            upcoming = next(pending, None)
        yield tracker.regions_at(index)
        tracker.forget_before(index + 1)
