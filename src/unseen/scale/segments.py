"""One long video across several workers: cut at keyframes, painted in parallel, joined losslessly.

The video is cut at source keyframes into one segment per worker. Each worker decodes its segment
with a margin of ``Tracker.margin`` frames on both sides, detects on the same frames a single
process would (``detect_keyframes`` chooses them, and which of them the detector looks at, from the
frames since the last ``detect_every * still``-th alone, and the video's last frame), follows the
camera and tracks over the whole span and paints only the frames it owns. So a face crossing a cut
is tracked on both sides of it, from sightings before and after, as in one pass. Each worker
encodes its frames with their own timestamps (``write_video``, audio dropped); the driver then copies
the encoded packets of all segments, in order, into the output, with every audio track of the source
moved once, in step, by the same code as a single-process run's encoder (``AudioTracks``). Frame
count, every timestamp and the duration are those of a single-process run.

Anything this cannot carry over exactly (no timestamps, frames the demuxer discards, a container it
does not join) is left to the single-process path.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import av
import numpy as np
from av.stream import Disposition
from av.video.reformatter import VideoReformatter

from .. import api
from ..batch import Job
from ..camera_motion import CameraPath
from ..errors import AnalysisError, InputError, OutputError, shown
from ..media.atomic import atomic_output
from ..media.local_av import open_input, open_output
from ..media.orientation import Orientation
from ..media.video import (
    AudioTracks,
    Frame,
    VideoInfo,
    VideoWriteResult,
    check_packets,
    probe,
    upright_grey,
    write_video,
)
from ..pipelined import ahead
from ..process import Progress, Settings, anonymise_job
from ..regions import Regions, kinds
from ..text_track import TextKeyframes
from ..track import Tracker
from ..video_pipeline import detect_keyframes, protect_frames
from .common import die_with_parent
from .workdir import scratch_folder

JOINED = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
"""Output containers whose segments are joined here; others take the single-process path."""

MIN_SEGMENT = 300
"""Fewest frames a segment owns: below that the margins cost more than the split gains."""


@dataclass(frozen=True)
class Segment:
    """Frames ``start``..``stop`` (exclusive) are this segment's; ``first``..``end`` are decoded."""

    start: int
    stop: int
    first: int  # a keyframe at or before start - margin: decoding starts there
    end: int  # stop + margin, at most the frame count
    seek_pts: int  # pts of frame ``first``
    pts: tuple[int, ...]  # pts of frames first..end-1, in presentation order
    total: int  # frames in the whole video


@dataclass
class Painted:
    """What one worker made of its segment."""

    path: Path
    frames: int
    tracks: int  # face tracks first seen on frames this segment owns
    regions: Regions | None
    notices: list[str] = field(default_factory=list)
    texts: int = 0  # ... and text tracks (--text)


def plan(src: Path, parts: int, margin: int) -> list[Segment] | None:
    """Cut ``src`` into up to ``parts`` segments at keyframes, or None if it should not be split.

    A file that cannot be read here is not split either: the one-process path reports it.
    """
    try:
        layout = _layout(src)
    except (av.FFmpegError, OSError, InputError):
        return None
    if layout is None:
        return None
    pts, keys = layout
    total = len(pts)
    parts = min(parts, total // MIN_SEGMENT)
    if parts < 2:
        return None
    cuts = [0]
    for k in range(1, parts):
        cut = min(keys, key=lambda i: abs(i - total * k // parts))  # nearest keyframe
        if cut - cuts[-1] >= MIN_SEGMENT // 2:
            cuts.append(cut)
    cuts.append(total)
    if len(cuts) < 3:
        return None
    segments = []
    for start, stop in zip(cuts, cuts[1:], strict=False):
        first = max((k for k in keys if k <= max(start - margin, 0)), default=0)
        end = min(stop + margin, total)
        segments.append(Segment(start, stop, first, end, pts[first], tuple(pts[first:end]), total))
    return segments


def _layout(src: Path) -> tuple[list[int], list[int]] | None:
    """Every frame's pts in presentation order and the indices of keyframes, from the packets alone."""
    with open_input(src) as container:
        streams = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
        if not streams:
            return None
        packets = []
        for packet in container.demux(streams[0]):
            if not packet.size:
                continue
            if packet.pts is None or packet.is_discard or packet.is_corrupt:
                return None
            packets.append((packet.pts, packet.is_keyframe))
    pts = sorted(p for p, _ in packets)
    if len(set(pts)) != len(pts) or not packets:
        return None
    where = {p: i for i, p in enumerate(pts)}
    keys = sorted(where[p] for p, key in packets if key)
    return (pts, keys) if keys and keys[0] == 0 else None


def _frames(src: Path, info: VideoInfo, segment: Segment) -> Iterator[Frame]:
    """Frames ``segment.first``..``segment.end`` of ``src``, upright RGB, decoded from a keyframe."""
    where = {p: segment.first + i for i, p in enumerate(segment.pts)}
    shown_as = Orientation(info.rotation, info.mirror)
    to_rgb = VideoReformatter()
    expected = segment.first
    try:
        with open_input(src) as container:
            stream = next(s for s in container.streams.video if not s.disposition & Disposition.attached_pic)
            stream.thread_type = "AUTO"
            container.seek(segment.seek_pts, stream=stream, backward=True, any_frame=False)
            for decoded in container.decode(stream):
                index = where.get(decoded.pts)
                if index is None and decoded.pts is not None and decoded.pts < segment.seek_pts:
                    continue  # before the keyframe (an open GOP's leading frames)
                if index is None or index != expected or decoded.is_corrupt:
                    raise InputError(f"{shown(src)}: frame {expected} did not decode where it should")
                pixels = shown_as.apply(to_rgb.reformat(decoded, format="rgb24").to_ndarray())
                grey = partial(upright_grey, src, index, decoded, shown_as)  # as read_frames gives it
                yield Frame(index, decoded.pts, pixels, grey=grey)
                expected += 1
                if expected == segment.end:
                    return
    except av.FFmpegError as exc:
        raise InputError(f"{shown(src)}: cannot decode frame {expected}: {exc}") from exc
    raise InputError(f"{shown(src)}: ended at frame {expected}, before frame {segment.end}")


def paint(src: Path, out: Path, segment: Segment, settings: Settings) -> Painted:
    """Detect, track and paint one segment (in a worker), encoding the frames it owns into ``out``."""
    info = probe(src)
    options = settings.options
    keyframe = api.keyframe_detector(options.sensitivity)
    text = TextKeyframes(options)  # on the frames one process looks for text on

    def analysed(pixels: np.ndarray, full: bool) -> Regions:
        try:
            return text.with_text(keyframe(pixels, full), pixels, full)
        except AnalysisError as exc:
            raise AnalysisError(f"{shown(src)}: {exc}") from exc

    camera = CameraPath()
    with ahead(_frames(src, info, segment)) as decoded:  # decoding beside detection, as in one process
        frames = text.follow(decoded)
        keyframes = detect_keyframes(
            frames, analysed, options.track, camera, last=segment.total - 1, looks=text.looks
        )
    tracker = api.video_tracker(options, info, camera)
    recorded: list[Regions] = []
    with (
        ahead(_frames(src, info, segment)) as decoded,
        ahead(
            protect_frames(
                decoded, keyframes, tracker, plan=options.plan, paint=options.obscure, record=recorded
            )
        ) as painted,
    ):
        owned = (f for f in painted if segment.start <= f.index < segment.stop)
        written = write_video(src, out, info, owned, codec=settings.codec, crf=settings.crf, audio="drop")
    if written.frames != segment.stop - segment.start:
        raise InputError(f"{shown(src)}: segment at frame {segment.start} came out short")
    mine = recorded[segment.start - segment.first : segment.stop - segment.first]
    first_seen: dict[tuple[str, int], int] = {}
    for offset, regions in enumerate(recorded):
        for kind, track in zip(kinds(regions).tolist(), regions.track.tolist(), strict=True):
            first_seen.setdefault((kind, int(track)), segment.first + offset)
    owned_tracks = [kind for (kind, _), frame in first_seen.items() if segment.start <= frame < segment.stop]
    regions = Regions.concat(mine) if settings.keep_regions and mine else None
    tracks, texts = owned_tracks.count("face"), owned_tracks.count("text")
    return Painted(out, written.frames, tracks, regions, list(written.notices), texts)


def split_video(
    job: Job, dst: Path, settings: Settings, progress: Progress | None, *, workers: int, env: dict[str, str]
) -> api.FileReport:
    """Anonymise one video across ``workers`` local processes; the single-process path if it cannot split."""
    start = time.perf_counter()
    src = job.src
    segments = plan(src, workers, Tracker(settings.options.track, frame_size=(1, 1)).margin)
    if segments is None or not _joinable(dst):
        return anonymise_job(job, dst, settings, progress)
    info = probe(src)
    with scratch_folder(dst) as work:
        outs = [work / f"{i:04d}{dst.suffix}" for i in range(len(segments))]
        try:
            painted = _paint_all(src, outs, segments, settings, env)
        except BrokenProcessPool:  # a worker died (killed, out of memory): do the file in one piece
            return anonymise_job(job, dst, settings, progress)
        if progress:
            progress(info.frames or 0, info.frames)
        notices = list(dict.fromkeys(n for p in painted for n in p.notices))
        keep_audio = settings.audio == "keep"
        audio = _join(src, dst, [p.path for p in painted], keep_audio, settings.overwrite, notices)
    kept = [p.regions for p in painted if p.regions is not None]
    regions = Regions.concat(kept) if kept else Regions()
    written = VideoWriteResult(frames=sum(p.frames for p in painted), audio=audio, notices=notices)
    # Tracks first seen in each segment's own frames; fragments are not joined across cuts, so this
    # can count a face more than once (a single-process run joins them).
    tracks, texts = sum(p.tracks for p in painted), sum(p.texts for p in painted)
    return api.FileReport.of_video(
        src, dst, info, regions, start, written, tracks=tracks, faces=tracks, texts=texts
    )


def _paint_all(
    src: Path, outs: list[Path], segments: list[Segment], settings: Settings, env: dict[str, str]
) -> list[Painted]:
    """Every segment painted by a worker process of its own, in order."""
    pool = ProcessPoolExecutor(len(segments), get_context("spawn"), _take_share, (env,))
    try:
        futures = [pool.submit(paint, src, o, s, settings) for o, s in zip(outs, segments, strict=True)]
        return [f.result() for f in futures]
    except KeyboardInterrupt:  # stop every segment now, the way Ctrl-C stops one process
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _take_share(env: dict[str, str]) -> None:
    """A segment worker's start: its share of the cores, before the model or an encoder is made.

    Ctrl-C reaches the whole process group; the driver decides, and stops workers with SIGTERM,
    which drops the segment in progress like Ctrl-C (its temporary file is removed).
    """
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)
    die_with_parent()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _joinable(dst: Path) -> bool:
    """Whether the output's container is one this module joins."""
    return dst.suffix.lower() in JOINED


def _join(
    src: Path, dst: Path, parts: list[Path], keep_audio: bool, overwrite: bool, notices: list[str]
) -> bool:
    """Copy the packets of ``parts`` (in order) and every audio track of ``src`` into ``dst``, the audio
    in step with the video as the encoder of a single-process run writes it (notices go to ``notices``)."""
    muxer = JOINED[dst.suffix.lower()]
    options = {"fflags": "+bitexact"} | ({"movflags": "+faststart"} if muxer in ("mp4", "mov") else {})
    joined = 0  # packets copied, which the file must hold before it is published
    with atomic_output(dst, overwrite, lambda tmp: check_packets(tmp, joined)) as tmp:
        try:
            with open_output(tmp, muxer, options) as out:
                inputs = [open_input(p) for p in parts]
                source = open_input(src)
                try:
                    video = out.add_stream_from_template(inputs[0].streams.video[0])
                    video.time_base = inputs[0].streams.video[0].time_base  # PyAV 17 does not copy it
                    video.metadata.clear()
                    has_audio = keep_audio and bool(source.streams.audio)
                    audio = AudioTracks(src, source, out, notices) if has_audio else None
                    for part in inputs:
                        for packet in part.demux(part.streams.video[0]):
                            if not packet.size:
                                continue
                            if audio and packet.dts is not None:
                                audio.mux_until(packet.dts * packet.time_base)
                            packet.stream = video
                            out.mux(packet)
                            joined += 1
                    if audio:
                        audio.mux_until(None)
                finally:
                    for container in [*inputs, source]:
                        container.close()
        except av.FFmpegError as exc:
            raise OutputError(f"{shown(dst)}: cannot join the painted segments: {exc}") from exc
    return audio is not None
