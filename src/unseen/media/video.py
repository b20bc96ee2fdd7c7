"""Video decoding and encoding: upright RGB frames in, the same frames (processed) out, faithfully.

This stage knows nothing of faces. It keeps what makes a video play the same way (size, frame count,
every frame's timestamp, the audio bit for bit) and drops what identifies the camera or the place
(container and stream tags, chapters, subtitles, data streams, rotation metadata). Both directions
stream frame by frame, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer, OutputContainer
from av.stream import Disposition
from av.video.reformatter import ColorRange, VideoReformatter
from av.video.stream import VideoStream

from .. import machine
from ..errors import InputError, OutputError, shown
from .atomic import atomic_output

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})

# Output extension -> FFmpeg muxer. The output keeps the input's container whenever the caller keeps
# the extension; the muxer is chosen by name so that the ".part" temporary name does not matter.
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
_MOV_FAMILY = frozenset({"mp4", "mov"})

# A decode whose timestamps stop short of this share of the length the container declares is taken
# for a truncated file. The slack absorbs rounding in container bookkeeping; a cut-off file falls far
# below it.
_COMPLETE_SHARE = 0.9


@dataclass(frozen=True)
class VideoInfo:
    """What the writer needs to reproduce the video, and what progress reporting needs."""

    width: int  # of the upright frames (after rotation)
    height: int
    rotation: int  # clockwise degrees a player turns the stored picture: 0, 90, 180 or 270
    frames: int | None  # frame count, if the container states one
    fps: float  # average rate; for progress and ETA only, timing comes from each frame's pts
    duration: float | None  # seconds
    time_base: Fraction  # of the video stream; Frame.pts is counted in it
    has_audio: bool
    pix_fmt: str
    codec: str
    bit_depth: int  # bits per sample of the decoded picture, e.g. 8 or 10


class Frame:
    """One decoded picture; ``pts`` travels with it so variable frame rates survive the round trip.

    ``index`` counts from 0 in decode order, ``pts`` is in VideoInfo.time_base units and ``pixels``
    is H x W x 3 uint8 RGB, upright. A frame from :func:`read_frames` converts its pixels on first
    use: the detection pass looks at one frame in eight, and converting the others to RGB would cost
    about 4 ms each at 1080p.
    """

    __slots__ = ("_load", "_pixels", "index", "pts")

    def __init__(
        self,
        index: int,
        pts: int | None,
        pixels: np.ndarray | None = None,
        *,
        load: Callable[[], np.ndarray] | None = None,
    ) -> None:
        if (pixels is None) == (load is None):
            raise ValueError("a Frame needs either pixels or a way to load them")
        self.index, self.pts, self._pixels, self._load = index, pts, pixels, load

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            assert self._load is not None
            self._pixels, self._load = self._load(), None
        return self._pixels


@dataclass(frozen=True)
class VideoWriteResult:
    """What was written, and what could not be kept as it was (for the report to the user)."""

    frames: int
    audio: bool = False  # the output carries the source's audio track
    notices: list[str] = field(default_factory=list)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the main video stream; raise InputError if the file cannot be read as a video.

    The first frame is decoded, because the rotation, the real picture size and the bit depth are
    only certain from a decoded frame, and because a file whose first frame does not decode is
    better refused before any work is done.
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            _check_index(path, stream)
            first = next(container.decode(stream), None)
            if first is None:
                raise InputError(f"{shown(path)}: no decodable video frame")
            rotation = round(-first.rotation) % 360
            if rotation % 90:
                raise InputError(f"{shown(path)}: unsupported rotation of {rotation} degrees")
            width, height = first.width, first.height
            if rotation in (90, 270):
                width, height = height, width
            return VideoInfo(
                width=width,
                height=height,
                rotation=rotation,
                frames=_declared_frames(stream),
                fps=_average_fps(stream),
                duration=_declared_duration(container, stream),
                time_base=stream.time_base or Fraction(1, 90000),
                has_audio=bool(container.streams.audio),
                pix_fmt=first.format.name,
                codec=stream.codec_context.codec.canonical_name,
                bit_depth=max(c.bits for c in first.format.components),
            )
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot read video: {exc}") from exc


def read_frames(path: str | os.PathLike[str]) -> Iterator[Frame]:
    """Yield the video's frames upright, one at a time, in decode order.

    Any decoding problem raises InputError naming the frame: a broken frame is never skipped, since
    whatever comes after it must not go out half-processed (fail closed). A file that ends well
    before the length its container declares is reported as truncated.
    """
    path = Path(path)
    info = probe(path)
    turns = -(info.rotation // 90)  # np.rot90 turns counter-clockwise for positive k
    index = 0
    first_pts = last_pts = None
    to_rgb = VideoReformatter()  # one converter for all frames: it keeps its set-up between them
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = machine.thread_budget()
            for decoded in container.decode(stream):
                if decoded.is_corrupt:
                    raise InputError(f"{shown(path)}: frame {index} is corrupt")
                if decoded.pts is not None:
                    first_pts = decoded.pts if first_pts is None else first_pts
                    last_pts = decoded.pts
                load = partial(_upright_rgb, path, index, decoded, turns, to_rgb)
                yield Frame(index, decoded.pts, load=load)
                index += 1
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot decode frame {index}: {exc}") from exc
    _check_complete(path, info, index, first_pts, last_pts)


def _upright_rgb(
    path: Path, index: int, decoded: av.VideoFrame, turns: int, to_rgb: VideoReformatter
) -> np.ndarray:
    """The decoded picture as upright RGB (a view of a fresh FFmpeg frame when no turn is needed)."""
    try:
        pixels = to_rgb.reformat(decoded, format="rgb24").to_ndarray()
    except av.FFmpegError as exc:
        raise InputError(f"{shown(path)}: cannot convert frame {index} to RGB: {exc}") from exc
    return np.ascontiguousarray(np.rot90(pixels, k=turns)) if turns else pixels


def write_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: VideoInfo,
    frames: Iterable[Frame],
    *,
    codec: str = "libx264",
    crf: int = 18,
    preset: str = "veryfast",
    audio: str = "keep",
    overwrite: bool = False,
) -> VideoWriteResult:
    """Encode ``frames`` (upright, as read from ``src``) to ``dst``, copying ``src``'s first audio track.

    Each frame keeps its pts, so frame count, timing and duration match the source. ``audio`` is
    "keep" (copied bit for bit, or transcoded with a notice if the container cannot hold it) or
    "drop". Nothing identifying is written: no tags, chapters, subtitles or rotation metadata.
    The container follows ``dst``'s extension; if ``codec`` cannot go in it (H.264 in .webm), the
    container's own codec is used instead (VP9 for webm) and a notice says so. ``crf`` goes to the
    encoder as is; ``preset`` only to x264/x265. The output appears at ``dst`` only if everything
    succeeded, including the ``frames`` iterator; otherwise its exception propagates and no file is
    left behind.
    """
    if audio not in ("keep", "drop"):
        raise ValueError(f"audio must be 'keep' or 'drop', not {audio!r}")
    src, dst = Path(src), Path(dst)
    muxer = _MUXERS.get(dst.suffix.lower())
    if muxer is None:
        raise OutputError(
            f"{shown(dst)}: unsupported video extension (use one of {', '.join(sorted(_MUXERS))})"
        )
    notices: list[str] = []
    with atomic_output(dst, overwrite) as tmp:
        try:
            source = av.open(str(src))
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"{shown(src)}: cannot read video: {exc}") from exc
        try:
            out = av.open(str(tmp), "w", format=muxer, container_options=_container_options(muxer))
        except (av.FFmpegError, OSError) as exc:
            source.close()
            raise OutputError(f"{shown(dst)}: cannot write video: {exc}") from exc
        try:
            writer = _Writer(src, dst, source, out, info, notices, codec, crf, preset, audio)
            written, has_audio = writer.run(frames), writer.audio is not None
        except BaseException:
            # Close without letting a second error from the half-written file hide the first one;
            # atomic_output then removes the temporary file.
            _close_quietly(out)
            raise
        finally:
            source.close()
        try:
            out.close()
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{shown(dst)}: cannot finish video: {exc}") from exc
    return VideoWriteResult(frames=written, audio=has_audio, notices=notices)


class _Writer:
    """One encode: the video stream, the audio track alongside it, and the muxing of both."""

    def __init__(
        self,
        src: Path,
        dst: Path,
        source: InputContainer,
        out: OutputContainer,
        info: VideoInfo,
        notices: list[str],
        codec: str,
        crf: int,
        preset: str,
        audio: str,
    ) -> None:
        self.src, self.dst, self.out, self.info, self.notices = src, dst, out, info, notices
        try:
            source_video = _video_stream(source, src)
            self.video = self._add_video(source_video, codec, crf, preset)
            self.audio = (
                _AudioTrack(src, source, out, notices) if audio == "keep" and source.streams.audio else None
            )
        except av.FFmpegError as exc:
            raise OutputError(f"{shown(dst)}: cannot set up the encoder: {exc}") from exc
        # One nominal frame interval, for frames that arrive without a usable timestamp.
        self.step = max(1, round(1 / (info.fps * self.time_base)))

    def _add_video(self, source_video: VideoStream, codec: str, crf: int, preset: str) -> VideoStream:
        info = self.info
        if codec not in self.out.supported_codecs:
            fallback = "libvpx-vp9" if self.out.format.name == "webm" else "libx264"
            self.notices.append(f"{codec} cannot go in {self.dst.suffix} files; encoded with {fallback}")
            codec = fallback
        rate = Fraction(info.fps).limit_denominator(100_000)
        stream = self.out.add_stream(codec, rate=rate)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = _pixel_format(codec, info, self.notices)
        # Encode in the source's own time base, so every pts is carried over unchanged. AVI alone
        # counts time in frames from 0 at a fixed rate (a finer time base or a late start becomes
        # empty padding chunks), so there timestamps are counted from the first frame and rounded to
        # the average rate. (FFmpeg reads H.264 in AVI one frame late; rebasing also stops that
        # offset from growing by a frame each time an AVI goes through.)
        self.avi = self.out.format.name == "avi"
        self.time_base = 1 / rate if self.avi else info.time_base
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.thread_type = "AUTO"
        # Tag the output with the source's colour description and convert with the same matrix the
        # decoder used (read_frames converts per the frame's tags), so colours do not shift.
        src_ctx = source_video.codec_context
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_range = src_ctx.colorspace, src_ctx.color_range
        ctx.color_primaries, ctx.color_trc = src_ctx.color_primaries, src_ctx.color_trc
        options = {"crf": str(crf), "flags": "+bitexact"}
        if codec in ("libx264", "libx265"):
            options["preset"] = preset
        if codec == "libx264":
            # One frame thread per core and short look-aheads: frames held inside x264 are most of
            # the encoder's memory (measured at 1080p: ~60 MB less for rc-lookahead=5, ~40 MB less
            # for sync-lookahead=1 than for its default of bframes + 1, at the same speed).
            options["x264-params"] = f"threads={machine.thread_budget()}:rc-lookahead=5:sync-lookahead=1"
        elif codec == "libvpx-vp9":  # constant quality, and fast enough to keep up with the face stage
            options.update({"b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"})
        if self.avi:  # AVI stores no presentation times, so frames must not be reordered (no B-frames)
            options["bf"] = "0"
        stream.options = options
        return stream

    def run(self, frames: Iterable[Frame]) -> int:
        info, stream = self.info, self.video
        ctx = stream.codec_context
        colorspace, color_range = ctx.colorspace, ctx.color_range or ColorRange.MPEG
        shape = (info.height, info.width, 3)
        to_yuv = VideoReformatter()  # one converter for all frames: it keeps its set-up between them
        count = 0
        last_pts: int | None = None
        origin: int | None = None  # first pts, for AVI
        repaired = False
        try:
            for frame in frames:
                if frame.pixels.shape != shape or frame.pixels.dtype != np.uint8:
                    got = f"{frame.pixels.dtype} {frame.pixels.shape}"
                    raise ValueError(f"frame {frame.index}: got {got} pixels, expected uint8 {shape}")
                pts = frame.pts
                if pts is not None and self.avi:
                    origin = pts if origin is None else origin
                    pts = round((pts - origin) * info.time_base / self.time_base)
                if pts is None or (last_pts is not None and pts <= last_pts):
                    pts = 0 if last_pts is None else last_pts + self.step
                    repaired = True
                picture = to_yuv.reformat(
                    _wrap(frame.pixels),
                    format=stream.pix_fmt,
                    dst_colorspace=colorspace,
                    dst_color_range=color_range,
                )
                picture.pts, picture.time_base = pts, self.time_base
                self._mux_video(stream.encode(picture))
                last_pts = pts
                count += 1
            if count == 0:
                raise InputError(f"{shown(self.src)}: no video frames to write")
            self._mux_video(stream.encode(None))
            if self.audio:
                self.audio.mux_until(None)
        except av.FFmpegError as exc:
            raise OutputError(f"{shown(self.dst)}: cannot encode frame {count}: {exc}") from exc
        if repaired:
            self.notices.append("some frames had missing or out-of-order timestamps; they were renumbered")
        return count

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.audio and packet.dts is not None:
                self.audio.mux_until(packet.dts * self.time_base)
            self.out.mux(packet)


class _AudioTrack:
    """The source's first audio track, moved into the output a packet at a time, in step with the video.

    Packets are read from a second handle on the source as the video encode reaches their time, so
    only a few are ever held. They are copied untouched when the output container accepts the codec,
    otherwise transcoded (AAC, or Opus for webm) with a notice.
    """

    def __init__(self, src: Path, source: InputContainer, out: OutputContainer, notices: list[str]) -> None:
        self.src, self.out = src, out
        in_stream = source.streams.audio[0]
        codec = in_stream.codec_context.codec.canonical_name
        self.transcode = codec not in out.supported_codecs
        if self.transcode:
            target = "libopus" if out.format.name == "webm" else "aac"
            rate = 48000 if target == "libopus" else in_stream.rate
            self.stream = out.add_stream(target, rate=rate, layout=in_stream.layout.name)
            self.stream.options = {"flags": "+bitexact"}
            notices.append(f"audio ({codec}) cannot go in {out.format.name} files; transcoded to {target}")
        else:
            self.stream = out.add_stream_from_template(in_stream)
        # Only the language survives: handler names, encoder and other tags can identify the source.
        language = in_stream.metadata.get("language")
        self.stream.metadata.clear()
        if language:
            self.stream.metadata["language"] = language
        self.in_stream = in_stream
        self.packets = source.demux(in_stream)
        self.pending: av.Packet | None = None

    def mux_until(self, until: Fraction | None) -> None:
        """Write every audio packet that starts at or before ``until`` seconds (all of them if None)."""
        while True:
            packet = self.pending or self._next_packet()
            if packet is None:
                if self.transcode:
                    self.out.mux(self.stream.encode(None))
                return
            timestamp = packet.dts if packet.dts is not None else packet.pts
            if until is not None and timestamp is not None and timestamp * packet.time_base > until:
                self.pending = packet
                return
            self.pending = None
            if self.transcode:
                for frame in self._decode(packet):
                    self.out.mux(self.stream.encode(frame))
            else:
                packet.stream = self.stream
                self.out.mux(packet)

    def _next_packet(self) -> av.Packet | None:
        try:
            for packet in self.packets:
                if packet.size or self.transcode:  # the empty packet at the end flushes a decoder
                    return packet
        except av.FFmpegError as exc:
            raise InputError(f"{shown(self.src)}: cannot read the audio track: {exc}") from exc
        return None

    def _decode(self, packet: av.Packet) -> list[av.AudioFrame]:
        try:
            return self.in_stream.decode(packet)
        except av.FFmpegError as exc:
            raise InputError(f"{shown(self.src)}: cannot decode the audio track: {exc}") from exc


def _wrap(pixels: np.ndarray) -> av.VideoFrame:
    """An RGB frame over ``pixels`` without copying them (a 6 MB copy per 1080p frame saved)."""
    if pixels.strides[1:] == (3, 1):
        return av.VideoFrame.from_numpy_buffer(pixels, format="rgb24")
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")  # strided pixels: copied into a new frame


def _video_stream(container: InputContainer, path: Path) -> VideoStream:
    """The first real video stream (cover pictures stored as one-frame video streams do not count)."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    raise InputError(f"{shown(path)}: no video stream")


def _check_index(path: Path, stream: VideoStream) -> None:
    """Refuse a file whose sample index (mp4/mov keep a complete one) points past its end: it was cut off."""
    entries = stream.index_entries
    if len(entries) and max(e.pos + e.size for e in entries) > path.stat().st_size:
        raise InputError(f"{shown(path)}: file is truncated (its index points past the end)")


def _check_complete(path: Path, info: VideoInfo, decoded: int, first: int | None, last: int | None) -> None:
    """Refuse a decode that ended far short of the length the container declares (a truncated file).

    The length is the longer of the declared duration and the declared frame count at the average
    rate: a cut-off AVI rescans what is left and reports a shorter duration, but its header still
    counts every frame. Time, not frame count, is compared, because an AVI counts the empty chunks
    that stand for dropped frames of variable-rate video as frames.
    """
    declared = max(info.duration or 0.0, (info.frames or 0) / info.fps)
    if first is None or last is None:
        if decoded < _COMPLETE_SHARE * (info.frames or 0):
            raise InputError(f"{shown(path)}: truncated: {decoded} of {info.frames} frames decoded")
        return
    covered = float((last - first) * info.time_base) + 1 / info.fps
    if covered < _COMPLETE_SHARE * declared:
        raise InputError(f"{shown(path)}: truncated: {covered:.2f} of {declared:.2f} s decoded")


def _declared_frames(stream: VideoStream) -> int | None:
    """The container's frame count, less the frames an edit list tells the demuxer to discard."""
    if not stream.frames:
        return None
    return stream.frames - sum(1 for e in stream.index_entries if e.is_discard)


def _declared_duration(container: InputContainer, stream: VideoStream) -> float | None:
    """The video stream's duration: its own, else Matroska's DURATION tag, else the container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            pass
    return container.duration / av.time_base if container.duration else None


def _average_fps(stream: VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 30.0  # a guess is enough: the rate only feeds progress and ETA


def _pixel_format(codec: str, info: VideoInfo, notices: list[str]) -> str:
    """4:2:0 as the source most likely was, 10-bit for 10-bit sources where the encoder can.

    4:2:0 needs even dimensions and there is no padding (the output keeps the exact size), so odd
    sizes are encoded 4:4:4, which some players do not support; a notice says so.
    """
    available = {f.name for f in av.codec.Codec(codec, "w").video_formats or ()}
    odd = info.width % 2 or info.height % 2
    chroma = "444" if odd else "420"
    if odd:
        size = f"{info.width}x{info.height}"
        notices.append(f"odd picture size {size}: encoded as 4:4:4, which some players cannot play")
    if info.bit_depth > 8:
        if f"yuv{chroma}p10le" in available:
            return f"yuv{chroma}p10le"
        notices.append(f"{codec} cannot encode {info.bit_depth}-bit video here; written as 8-bit")
    if f"yuv{chroma}p" not in available:
        raise OutputError(f"{codec} cannot encode a {info.width}x{info.height} picture")
    return f"yuv{chroma}p"


def _container_options(muxer: str) -> dict[str, str]:
    # bitexact: no "encoder=Lavf..." tag, and deterministic ids in Matroska.
    options = {"fflags": "+bitexact"}
    if muxer in _MOV_FAMILY:
        options["movflags"] = "+faststart"  # index first: the file plays while still downloading
    return options


def _close_quietly(container: OutputContainer) -> None:
    with contextlib.suppress(av.FFmpegError, OSError):
        container.close()
