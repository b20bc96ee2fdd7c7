"""The importable API: everything the CLI does, as plain functions over arrays and paths.

decode -> detect -> plan regions -> obscure -> encode (metadata-free). Library code raises
``UnseenError`` subclasses with one-line messages naming the file; it never prints or exits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path

import numpy as np

from .camera_motion import CameraPath
from .count import photo_counts
from .detect.cascade import PHOTO_CASCADE, VIDEO_CASCADE, WEAK_FLOOR, Cascade
from .detect.keyframe import KeyframeDetector
from .detect.model import shared_model
from .errors import AnalysisError, InputError, UnseenError, shown
from .heap import trim_heap
from .media.image import read_photo, write_photo
from .media.video import (
    Frame,
    VideoInfo,
    VideoWriteResult,
    check_video_output,
    probe,
    read_frames,
    write_video,
)
from .obscure import ObscureOptions, obscure
from .pipelined import ahead
from .plan import PlanOptions, plan_regions
from .regions import Regions, kinds, with_kind
from .text_track import KindTrackers
from .track import Tracker, TrackOptions
from .video_pipeline import MOTION_WIDTH, detect_keyframes, face_counter, paint_frames, protect_frames


@dataclass(frozen=True)
class Options:
    """Everything that shapes one run. Defaults are the safe ones: solid fill over the whole head."""

    obscure: ObscureOptions = field(default_factory=ObscureOptions)
    plan: PlanOptions = field(default_factory=PlanOptions)
    track: TrackOptions = field(default_factory=TrackOptions)
    sensitivity: float = 1.0  # >1 finds more faces (and more false positives)
    text: bool = False  # also find text (plates, badges, signs) and obscure it: the ``text`` extra


@dataclass
class Result:
    """An anonymised image and the faces found in it (boxes as detected, before growing)."""

    image: np.ndarray
    regions: Regions


@dataclass
class FileReport:
    """What happened to one input file; the regions file and the summary are built from these."""

    src: Path
    dst: Path
    kind: str  # "image" or "video"
    width: int
    height: int
    regions: Regions
    seconds: float
    frames: int = 1
    tracks: int = 0
    notices: list[str] = field(default_factory=list)
    audio: bool = False  # a video output that carries the source's audio (voices can identify people)
    faces: int = 0  # what a person would count: confident faces, a video's track fragments joined
    candidates: int = 0  # the weaker detections, painted all the same (see unseen.count)
    texts: int = 0  # text regions (plates, badges, signs: ``Options.text``); never counted as faces

    @classmethod
    def of_video(
        cls,
        src: Path,
        dst: Path,
        info: VideoInfo,
        regions: Regions,
        start: float,
        written: VideoWriteResult,
        **counts: int,
    ) -> FileReport:
        """The report of a video written as ``written`` says, begun at ``start`` (perf_counter);
        ``counts``: ``tracks``, ``faces``, ``candidates``, ``texts``."""
        seconds = time.perf_counter() - start
        report = cls(src, dst, "video", info.width, info.height, regions, seconds, written.frames, **counts)
        report.notices, report.audio = list(written.notices), written.audio
        return report


@cache
def detector(sensitivity: float = 1.0, video: bool = False) -> Cascade:
    """The face detector for a given sensitivity, built once per process (see ``VIDEO_CASCADE``)."""
    return Cascade(shared_model(), (VIDEO_CASCADE if video else PHOTO_CASCADE).scaled(sensitivity))


def keyframe_detector(sensitivity: float = 1.0) -> KeyframeDetector:
    """A video's keyframe detector (see :mod:`unseen.detect.keyframe`): both cascades also give their
    weak detections, for the tracker to continue faces with. One per video: it keeps the turn."""
    return KeyframeDetector(*(_weak_cascade(sensitivity, video) for video in (False, True)))


@cache
def _weak_cascade(sensitivity: float, video: bool) -> Cascade:
    base = VIDEO_CASCADE if video else PHOTO_CASCADE
    return Cascade(shared_model(), replace(base, weak=WEAK_FLOOR).scaled(sensitivity))


def detect(image: np.ndarray, sensitivity: float = 1.0, video: bool = False) -> Regions:
    """Find faces in an H x W x 3 uint8 RGB image (no obscuring)."""
    try:
        return detector(sensitivity, video)(np.ascontiguousarray(image))
    except Exception as exc:  # fail closed: an image we cannot analyse is never written as if clean
        raise AnalysisError(f"face detection failed: {exc}") from exc


def detect_text(image: np.ndarray) -> Regions:
    """Find text lines (number plates, badges, signs) in an H x W x 3 uint8 RGB image, as regions of
    kind ``text``; never reads the text. Needs the ``text`` extra (:class:`MissingExtra` without it)."""
    from .detect.text import shared_text_detector  # the optional extra: looked for only when wanted

    try:
        return shared_text_detector()(np.ascontiguousarray(image))
    except UnseenError:
        raise
    except Exception as exc:  # fail closed, as for faces
        raise AnalysisError(f"text detection failed: {exc}") from exc


def check_text() -> None:
    """Raise :class:`MissingExtra` (one line naming the extra) unless text detection can run."""
    from .detect.text import model_path

    model_path()


def with_text(faces: Regions, image: np.ndarray, options: Options) -> Regions:
    """``faces`` found in ``image``, and its text when ``options.text`` asks (each with its kind)."""
    if not options.text:
        return faces
    return Regions.concat([with_kind(faces, "face"), detect_text(image)])


def video_tracker(options: Options, info: VideoInfo, camera: CameraPath) -> Tracker | KindTrackers:
    """The tracker of one video: faces, and text apart from them when ``options.text`` asks."""
    faces = Tracker(options.track, frame_size=(info.height, info.width), camera=camera)
    if not options.text:
        return faces
    return KindTrackers(faces, Tracker(options.track, frame_size=(info.height, info.width), camera=camera))


def anonymise(image: np.ndarray, options: Options | None = None, regions: Regions | None = None) -> Result:
    """Return a copy of ``image`` (H x W x 3 uint8 RGB) with every face irreversibly obscured.

    Pass ``regions`` to obscure known regions (e.g. corrected in review) instead of detecting.
    With ``options.text`` every text line (plate, badge, sign) is obscured too.
    """
    options = options or Options()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be an H x W x 3 uint8 RGB array")
    found = with_text(detect(image, options.sensitivity), image, options) if regions is None else regions
    planned = plan_regions(found, image.shape[:2], options.plan)
    return Result(obscure(image, planned, options.obscure), found)


def anonymise_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    options: Options | None = None,
    overwrite: bool = False,
    regions: Regions | None = None,
) -> FileReport:
    """Anonymise one photo file into ``dst`` (same format, no metadata, atomic write).

    What the reader left out (further frames, a damaged colour profile) is in the report's ``notices``.
    ``regions`` (e.g. corrected in review) are painted instead of detecting: every one of them.
    """
    start = time.perf_counter()
    src, dst = Path(src), Path(dst)
    photo = read_photo(src)
    pictures = [photo.pixels, *(pixels for pixels, _ in photo.more)]  # frames of an animation, pages
    results = []
    for i, pixels in enumerate(pictures):
        given = None if regions is None else regions[regions.frame == i]
        try:
            result = anonymise(pixels, options, given)
        except AnalysisError as exc:
            raise AnalysisError(f"{shown(src)}: {exc}" + (f" (frame {i})" if i else "")) from exc
        result.regions.frame[:] = i
        results.append(result)
    write_photo(photo, results[0].image, dst, overwrite=overwrite, more=[r.image for r in results[1:]])
    h, w = photo.pixels.shape[:2]
    counts = [photo_counts(r.regions[kinds(r.regions) == "face"], PHOTO_CASCADE.threshold) for r in results]
    return FileReport(
        src,
        dst,
        "image",
        w,
        h,
        Regions.concat([r.regions for r in results]),
        time.perf_counter() - start,
        frames=len(results),
        notices=list(photo.notices),
        faces=max(f for f, _ in counts),  # the same people, frame after frame
        candidates=max(c for _, c in counts),
        texts=max(int((kinds(r.regions) == "text").sum()) for r in results),
    )


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

    def analysed(image: np.ndarray, full: bool) -> Regions:
        try:
            return with_text(keyframe(np.ascontiguousarray(image), full), image, options)
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
        keyframes = detect_keyframes(counted(noted(decoded), 0), analysed, options.track, camera)
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


def render(
    regions_file: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    overlay: np.ndarray | None = None,
    audio: str = "keep",
    codec: str | None = None,
    crf: int = 18,
    unverified: bool = False,
) -> list[FileReport]:
    """Write every output a regions file describes from its regions, without detecting again.

    Regions to ``keep`` and unaccepted suggestions stay visible; each input must be the very file
    the regions were made for (entries without a SHA-256, as in ``/1`` files, only with
    ``unverified``). ``overlay`` is the picture of a file made with ``method: image``.
    The first file that fails raises (``unseen render`` goes on with the others instead).
    """
    from .render import render as render_regions  # render builds on this module

    return render_regions(
        regions_file,
        overwrite=overwrite,
        overlay=overlay,
        audio=audio,
        codec=codec,
        crf=crf,
        unverified=unverified,
    )
