"""A video file, start to finish: probe, check the output, detect and track, paint, encode.

The stages over frames (keyframe detection, tracking, painting) are :mod:`unseen.video_pipeline`;
this module holds what concerns the file: its two decoding passes, the output written atomically,
the progress, the notices and the :class:`FileReport`. The photo counterpart is
:mod:`unseen.photo_pipeline`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from .camera_motion import CameraPath
from .detect.model import shared_model
from .detectors import keyframe_detector
from .errors import AnalysisError, InputError, shown
from .heap import trim_heap
from .media.video import Frame, VideoInfo, check_video_output, probe, read_frames, write_video
from .options import Options
from .pipelined import ahead
from .regions import Regions, kinds
from .report import FileReport
from .text_track import KindTrackers, TextKeyframes, text_track_options
from .track import Tracker
from .video_pipeline import MOTION_WIDTH, detect_keyframes, face_counter, paint_frames, protect_frames


def video_tracker(options: Options, info: VideoInfo, camera: CameraPath) -> Tracker | KindTrackers:
    """The tracker of one video: faces, and text apart from them when ``options.text`` asks (its
    sightings further apart, see :mod:`unseen.text_track`)."""
    size = (info.height, info.width)
    faces = Tracker(options.track, frame_size=size, camera=camera)
    if not options.text:
        return faces
    return KindTrackers(faces, Tracker(text_track_options(options.track), frame_size=size, camera=camera))


def anonymise_video_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    options: Options | None = None,
    *,
    overwrite: bool = False,
    audio: str = "keep",
    codec: str | None = None,
    crf: int = 18,
    progress: Callable[[int, int | None], None] | None = None,
    record: bool = True,
    accept_concealed: bool = False,
    regions: Regions | None = None,
) -> FileReport:
    """Anonymise one video into ``dst``: every face in every frame, same timing, no metadata.

    Fails closed: if any frame cannot be decoded or analysed, no output is left at ``dst``; an output
    that cannot be written (folder, encoder) fails before the video is analysed. ``codec`` None: the
    encoder whose output plays where the source played. ``accept_concealed`` analyses and paints
    frames in which the decoder concealed damage like any other, and writes a frame it cannot decode
    at all black (a notice counts each kind), instead of refusing the video. ``record=False`` keeps
    no per-frame regions (for very long videos when no regions file is wanted). ``regions`` (one
    entry per face per frame, e.g. corrected in review) are painted instead of detecting and
    tracking: every one of them, on the frame it names, in one pass.
    """
    options = options or Options()
    start = time.perf_counter()
    src, dst = Path(src), Path(dst)
    info = probe(src)
    check_video_output(dst, info, codec=codec, crf=crf, overwrite=overwrite)
    read = partial(read_frames, src, accept_concealed=accept_concealed)
    concealed: list[int] = []  # frames the decoder concealed damage in, noted in the first pass
    lost: list[int] = []  # ... and frames it could not decode at all (written black)
    if regions is not None:
        return _paint_video_file(
            src, dst, info, regions, options, start, overwrite, audio, codec, crf, progress, read
        )
    recorded: list[Regions] | None = [] if record else None
    camera = CameraPath()
    tracker = video_tracker(options, info, camera)
    counter = face_counter(options.track)
    total = 2 * info.frames if info.frames else None  # two passes over the frames
    keyframe = keyframe_detector(options.sensitivity)
    text = TextKeyframes(options)

    def analysed(image: np.ndarray, full: bool) -> Regions:
        try:
            return text.with_text(keyframe(np.ascontiguousarray(image), full), image, full)
        except AnalysisError as exc:
            raise AnalysisError(f"{shown(src)}: {exc}") from exc
        except Exception as exc:  # fail closed: a frame we cannot analyse is never written as if clean
            raise AnalysisError(f"{shown(src)}: face detection failed: {exc}") from exc

    def counted(frames: Iterator[Frame], offset: int, limit: float = float("inf")) -> Iterator[Frame]:
        for frame in frames:
            if frame.index >= limit:  # the file grew between the passes: never write unanalysed frames
                raise AnalysisError(
                    f"{shown(src)}: frame {frame.index} was not there when the video was analysed"
                )
            yield frame
            if progress:
                progress(offset + frame.index + 1, total)

    def noted(frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if frame.concealed:
                (lost if frame.lost else concealed).append(frame.index)
            yield frame

    every = options.track.detect_every

    def prepared(frame: Frame) -> None:
        frame.grey(MOTION_WIDTH)
        if frame.index % every == 0:
            frame.pixels  # noqa: B018 (converted in the decoding thread)

    # Decoding runs beside detection (each frame shrunk to grey to follow the camera, keyframes
    # turned to RGB, in the decoding thread), and then decoding, painting and encoding run side by
    # side (see unseen.pipelined).
    with ahead(read(), prepare=prepared) as decoded:
        keyframes = detect_keyframes(
            text.follow(counted(noted(decoded), 0)), analysed, options.track, camera, looks=text.looks
        )
    analysed_frames = keyframes[-1][0] + 1 if keyframes else 0
    shared_model().release_memory()  # detection is done: its memory is the encoder's now
    with (
        ahead(read(), prepare=lambda f: f.pixels) as decoded,
        ahead(
            protect_frames(
                decoded,
                keyframes,
                tracker,
                plan=options.plan,
                paint=options.obscure,
                record=recorded,
                counter=counter,
            )
        ) as protected,
    ):
        painted = counted(protected, analysed_frames, limit=analysed_frames)
        written = write_video(src, dst, info, painted, codec=codec, crf=crf, audio=audio, overwrite=overwrite)
    trim_heap()  # the encoder's buffers are gone: do not carry them into the next file
    if concealed:
        written.notices.append(
            f"{len(concealed)} damaged frame(s) analysed and written as the decoder concealed the damage; "
            "concealment can hide faces from the detector: check the output"
        )
    if lost:
        written.notices.append(
            f"{len(lost)} frame(s) could not be decoded (first: frame {lost[0]}); written fully obscured "
            "(black), keeping the frame count and timing"
        )
    regions = Regions.concat(recorded) if recorded else Regions()
    faces, candidates = counter.faces, counter.candidates
    texts = tracker.text.count if isinstance(tracker, KindTrackers) else 0
    return FileReport.of_video(
        src,
        dst,
        info,
        regions,
        start,
        written,
        tracks=tracker.count,
        faces=faces,
        candidates=candidates,
        texts=texts,
    )


def _paint_video_file(
    src: Path,
    dst: Path,
    info: VideoInfo,
    regions: Regions,
    options: Options,
    start: float,
    overwrite: bool,
    audio: str,
    codec: str | None,
    crf: int,
    progress: Callable[[int, int | None], None] | None,
    read: Callable[[], Iterator[Frame]],
) -> FileReport:
    """One pass: decode, paint the given regions, encode. Regions for frames the video does not have
    mean they were made for another video: the output is then not written."""
    last = int(regions.frame.max()) if len(regions) else -1

    def counted(frames: Iterator[Frame]) -> Iterator[Frame]:
        count = 0
        for frame in frames:
            count = frame.index + 1
            yield frame
            if progress:
                progress(count, info.frames)
        if last >= count:
            raise InputError(f"{shown(src)}: has {count} frames, but the regions name frame {last}")

    with (
        ahead(read(), prepare=lambda f: f.pixels) as decoded,
        ahead(paint_frames(decoded, regions, plan=options.plan, paint=options.obscure)) as painted,
    ):
        frames = counted(painted)
        written = write_video(src, dst, info, frames, codec=codec, crf=crf, audio=audio, overwrite=overwrite)
    trim_heap()
    face = kinds(regions) == "face"
    tracks = len(set(regions.track[face & (regions.track >= 0)].tolist()))
    texts = len(set(regions.track[~face & (regions.track >= 0)].tolist()))
    # Painted from given regions: each track is a face (or a text) someone kept obscured.
    return FileReport.of_video(
        src, dst, info, regions, start, written, tracks=tracks, faces=tracks, texts=texts
    )
