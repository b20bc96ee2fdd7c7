"""Video decoding and encoding: upright RGB frames in, the same frames (processed) out, faithfully.

This stage knows nothing of faces. It keeps what makes a video play the same way (size, shape,
frame count, every frame's timestamp, every audio track bit for bit) and drops what identifies the
camera or the place (container and stream tags, chapters, subtitles, data streams, attachments,
rotation metadata), saying what it dropped. Both directions stream frame by frame, so memory does
not grow with the length of the video.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import cv2
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.stream import Disposition
from av.video.reformatter import ColorRange, VideoReformatter
from av.video.stream import VideoStream

from .. import machine
from ..errors import InputError, OutputError, shown
from .atomic import atomic_output
from .containers import MOV_FAMILY, muxer_for
from .encoder import add_video_stream, check_encoder_setup, encode_time_base
from .hdr import hdr_metadata
from .local_av import open_input, open_output, reason
from .orientation import Orientation, orientation
from .video_info import VideoInfo

# What to do about a frame in which the decoder concealed damage (one line, after "frame N").
CONCEALED_ADVICE = (
    "is damaged (the decoder concealed it); re-encode the video first, e.g. "
    "ffmpeg -i in.mp4 -c:v libx264 -crf 18 fixed.mp4, or accept concealed frames (--accept-concealed)"
)
# ... and about one the decoder could not decode at all (after "frame N cannot be decoded (why)").
LOST_ADVICE = (
    "re-encode the video first, e.g. ffmpeg -i in.mp4 -c:v libx264 -crf 18 fixed.mp4, or accept "
    "damaged frames (--accept-concealed: a frame that cannot be decoded is written fully obscured)"
)

# A decode whose timestamps stop short of this share of the length the container declares is taken
# for a truncated file. The slack absorbs rounding in container bookkeeping; a cut-off file falls far
# below it.
_COMPLETE_SHARE = 0.9


class Frame:
    """One decoded picture; ``pts`` travels with it so variable frame rates survive the round trip.

    ``index`` counts from 0 in decode order, ``pts`` is in VideoInfo.time_base units and ``pixels``
    is H x W x 3 uint8 RGB, upright. A frame from :func:`read_frames` converts its pixels on first
    use: the detection pass looks at one frame in eight, and converting the others to RGB would cost
    about 4 ms each at 1080p. ``concealed``: the decoder hid damage in this frame (see read_frames);
    ``lost``: it could not decode it at all, and the pixels stand in for it, fully obscured.
    """

    __slots__ = ("_grey", "_load", "_pixels", "_small", "concealed", "index", "lost", "pts")

    def __init__(
        self,
        index: int,
        pts: int | None,
        pixels: np.ndarray | None = None,
        *,
        load: Callable[[], np.ndarray] | None = None,
        grey: Callable[[int], np.ndarray] | None = None,
        concealed: bool = False,
        lost: bool = False,
    ) -> None:
        if (pixels is None) == (load is None):
            raise ValueError("a Frame needs either pixels or a way to load them")
        self.index, self.pts, self._pixels, self._load = index, pts, pixels, load
        self._grey, self._small = grey, None
        self.concealed, self.lost = concealed or lost, lost

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            assert self._load is not None
            self._pixels, self._load = self._load(), None
        return self._pixels

    def grey(self, width: int) -> np.ndarray:
        """The picture in grey, shrunk to at most ``width`` pixels wide (for comparing frames cheaply:
        from the decoder's own planes where it can, without converting the frame to RGB). Kept for
        a second call with the same ``width``."""
        if self._small is not None and self._small[0] == width:
            return self._small[1]
        if self._grey is not None:  # the same grey whether or not the RGB pixels were made
            grey = self._grey(width)
        else:
            grey = cv2.cvtColor(self.pixels, cv2.COLOR_RGB2GRAY)
            h, w = grey.shape
            if w > width:
                size = (width, max(round(h * width / w), 1))
                grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        self._small = (width, grey)
        return grey


@dataclass(frozen=True)
class VideoWriteResult:
    """What was written, and what could not be kept as it was (for the report to the user)."""

    frames: int
    audio: bool = False  # the output carries the source's audio (every track of it)
    notices: list[str] = field(default_factory=list)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the main video stream; raise InputError if the file cannot be read as a video.

    The first frame is decoded, because the orientation, the real picture size, the bit depth and
    HDR metadata are only certain from a decoded frame, and because a file whose first frame does not
    decode is better refused before any work is done.
    """
    path = Path(path)
    try:
        with open_input(path) as container:
            stream = _video_stream(container, path)
            _check_index(path, stream)
            first = next(container.decode(stream), None)
            if first is None:
                raise InputError(f"{shown(path)}: no decodable video frame")
            shown_as = orientation(first)
            if shown_as is None:
                rotation = round(-first.rotation) % 360
                raise InputError(f"{shown(path)}: unsupported rotation of {rotation} degrees")
            width, height = first.width, first.height
            sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or Fraction(1)
            if shown_as.swaps_axes:
                width, height, sar = height, width, 1 / sar
            ctx = stream.codec_context
            return VideoInfo(
                width=width,
                height=height,
                rotation=shown_as.turn,
                frames=_declared_frames(stream),
                fps=_average_fps(stream),
                duration=_declared_duration(container, stream),
                time_base=stream.time_base or Fraction(1, 90000),
                has_audio=bool(container.streams.audio),
                pix_fmt=first.format.name,
                codec=stream.codec_context.codec.canonical_name,
                bit_depth=max(c.bits for c in first.format.components),
                mirror=shown_as.mirror,
                sar=sar,
                colorspace=ctx.colorspace,
                color_range=ctx.color_range,
                color_primaries=ctx.color_primaries,
                color_trc=ctx.color_trc,
                hdr=hdr_metadata(first),
            )
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot read video: {reason(exc)}") from exc


def read_frames(path: str | os.PathLike[str], *, accept_concealed: bool = False) -> Iterator[Frame]:
    """Yield the video's frames as a player shows them (turned, mirrored), one at a time, in decode order.

    Any decoding problem raises InputError naming the frame: a broken frame is never skipped, since
    whatever comes after it must not go out half-processed (fail closed). A frame in which FFmpeg
    concealed damage (painted over it from neighbouring pictures) is refused too, unless
    ``accept_concealed``: it is then yielded with ``concealed`` set, to be analysed and painted like any
    other. So is a frame the decoder could not decode at all (a corrupt packet): accepted, it is
    yielded in its place, with its timestamp, as a black picture with ``lost`` set, so nothing of it
    can show and the frame count and timing stay the source's. A file that ends well before the
    length its container declares is reported as truncated.
    """
    path = Path(path)
    info = probe(path)
    shown_as = Orientation(info.rotation, info.mirror)
    index = 0
    first_pts = last_pts = None
    to_rgb = VideoReformatter()  # one converter for all frames: it keeps its set-up between them
    converting = threading.Lock()  # ... used by one thread at a time (frames convert where they are used)
    try:
        with open_input(path) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = machine.thread_budget()
            for decoded in _pictures(container, stream):
                if isinstance(decoded, _Lost):
                    if not accept_concealed:
                        what = f"frame {index}" if decoded.missing else "a frame"
                        raise InputError(
                            f"{shown(path)}: {what} cannot be decoded ({decoded.why}); {LOST_ADVICE}"
                        )
                    if not decoded.missing:
                        continue
                    black = np.zeros((info.height, info.width, 3), np.uint8)
                    frame = Frame(index, decoded.pts, black, lost=True)
                else:
                    if decoded.is_corrupt and not accept_concealed:
                        raise InputError(f"{shown(path)}: frame {index} {CONCEALED_ADVICE}")
                    load = partial(_upright_rgb, path, index, decoded, shown_as, to_rgb, converting)
                    grey = partial(upright_grey, path, index, decoded, shown_as)
                    frame = Frame(index, decoded.pts, load=load, grey=grey, concealed=decoded.is_corrupt)
                if frame.pts is not None:
                    first_pts = frame.pts if first_pts is None else first_pts
                    last_pts = frame.pts
                yield frame
                index += 1
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot decode frame {index}: {reason(exc)}") from exc
    _check_complete(path, info, index, first_pts, last_pts)


@dataclass(frozen=True)
class _Lost:
    """A frame the decoder could not decode: its timestamp, and why. ``missing`` False: the decoder
    failed on a packet, yet every frame came out."""

    pts: int | None
    why: str
    missing: bool = True


def _pictures(container: InputContainer, stream: VideoStream) -> Iterator[av.VideoFrame | _Lost]:
    """Every frame of ``stream`` in presentation order, with a :class:`_Lost` in the place of each
    that failed to decode (av.InvalidDataError: a corrupt packet).

    The decoder reports a failure on the packet it fails on, or with threads a packet or more later,
    and the frame never comes out; so each failure is placed at the first timestamp that was sent
    and that the frames coming out pass by. Timestamps passed by with no failure left to account for
    are frames the container tells the decoder to drop (an edit list), not lost ones.
    """
    sent: list[int] = []  # timestamps of the packets sent whose frames have not come out (a heap)
    failures: list[str] = []  # failures not placed yet

    def passed(pts: int | None) -> Iterator[_Lost]:
        while sent and (pts is None or sent[0] < pts):
            missing = heapq.heappop(sent)
            if failures:
                yield _Lost(missing, failures.pop(0))
        if sent and sent[0] == pts:
            heapq.heappop(sent)

    for packet in container.demux(stream):
        if packet.size and packet.pts is not None:
            heapq.heappush(sent, packet.pts)
        try:
            frames = packet.decode()
        except av.InvalidDataError as exc:
            failures.append(reason(exc))
            if packet.pts is None:  # nothing to place it by: where it failed
                yield _Lost(None, failures.pop())
            continue
        for frame in frames:
            if frame.pts is not None:
                yield from passed(frame.pts)
            yield frame
    yield from passed(None)
    for why in failures:  # failures whose frames came out all the same: refused unless accepted
        yield _Lost(None, why, missing=False)


def _upright_rgb(
    path: Path,
    index: int,
    decoded: av.VideoFrame,
    shown_as: Orientation,
    to_rgb: VideoReformatter,
    converting: threading.Lock,
) -> np.ndarray:
    """The decoded picture as upright RGB (a view of a fresh FFmpeg frame when it is stored upright)."""
    try:
        with converting:
            pixels = to_rgb.reformat(decoded, format="rgb24").to_ndarray()
    except av.FFmpegError as exc:
        raise InputError(f"{shown(path)}: cannot convert frame {index} to RGB: {reason(exc)}") from exc
    return shown_as.apply(pixels)


LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
"""8-bit pixel formats whose first plane is the picture's brightness, one byte a pixel."""


def upright_grey(
    path: Path, index: int, decoded: av.VideoFrame, shown_as: Orientation, width: int
) -> np.ndarray:
    """The decoded picture in grey, upright, at most ``width`` wide: the brightness plane itself,
    shrunk, where the format has one (a tenth of the cost of FFmpeg converting the frame), else
    FFmpeg's grey."""
    w = decoded.height if shown_as.swaps_axes else decoded.width
    scale = min(1.0, width / w)
    sw, sh = max(round(decoded.width * scale), 1), max(round(decoded.height * scale), 1)
    try:
        if decoded.format.name in LUMA_FIRST:
            plane = decoded.planes[0]
            luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            grey = cv2.resize(luma, (sw, sh), interpolation=cv2.INTER_AREA)
        else:
            grey = decoded.reformat(width=sw, height=sh, format="gray").to_ndarray()
    except av.FFmpegError as exc:
        raise InputError(f"{shown(path)}: cannot convert frame {index}: {reason(exc)}") from exc
    return shown_as.apply(grey)


def check_video_output(
    dst: str | os.PathLike[str],
    info: VideoInfo,
    *,
    codec: str | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    overwrite: bool = False,
) -> None:
    """Raise OutputError now if :func:`write_video` could not write ``info``'s video to ``dst``.

    For callers that do lengthy work before writing: the extension, an existing output, the folder
    (created if missing, and written to) and the whole encoder set-up are checked; nothing is left behind.
    """
    dst = Path(dst)
    muxer_for(dst)
    if dst.exists() and not overwrite:
        raise OutputError(f"{shown(dst)}: output exists (use --overwrite to replace it)")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=dst.parent).close()
    except FileExistsError as exc:  # the folder's name is taken by a file
        raise OutputError(f"{shown(dst)}: cannot write output: {os.strerror(errno.ENOTDIR)}") from exc
    except OSError as exc:
        raise OutputError(f"{shown(dst)}: cannot write output: {exc.strerror or exc}") from exc
    check_encoder_setup(dst, info, codec, crf, preset)


def write_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: VideoInfo,
    frames: Iterable[Frame],
    *,
    codec: str | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    audio: str = "keep",
    overwrite: bool = False,
) -> VideoWriteResult:
    """Encode ``frames`` (upright, as read from ``src``) to ``dst``, copying every audio track of ``src``.

    Each frame keeps its pts, so frame count, timing and duration match the source, and the sample
    aspect ratio is kept. ``audio`` is "keep" (each track copied bit for bit, or transcoded with a
    notice if the container cannot hold it; only its language tag is kept) or "drop". Nothing
    identifying is written: no tags, chapters, subtitles, data streams or rotation metadata; a notice
    lists what was left out. ``codec`` None picks the encoder whose output plays where the source
    played (see unseen.media.encoder). The container follows ``dst``'s extension; if ``codec``
    cannot go in it (H.264 in .webm), the container's own codec is used instead (VP9 for webm) and a
    notice says so. ``crf`` goes to the encoder as is; ``preset`` only to x264/x265. The output
    appears at ``dst`` only if everything succeeded, including the ``frames`` iterator, and the file
    holds every frame written (see :func:`check_packets`); otherwise its exception propagates and no
    file is left behind.
    """
    if audio not in ("keep", "drop"):
        raise ValueError(f"audio must be 'keep' or 'drop', not {audio!r}")
    src, dst = Path(src), Path(dst)
    muxer = muxer_for(dst)
    notices: list[str] = []
    written = 0  # frames encoded, which the file must hold before it is published
    with atomic_output(dst, overwrite, lambda tmp: check_packets(tmp, written)) as tmp:
        source = open_input(src)
        try:
            out = open_output(tmp, muxer, _container_options(muxer))
        except (av.FFmpegError, OSError) as exc:
            source.close()
            raise OutputError(f"{shown(dst)}: cannot write video: {reason(exc)}") from exc
        try:
            writer = _Writer(src, dst, source, out, info, notices, codec, crf, preset, audio)
            _note_left_out(source, writer.source_video, audio, notices)
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
            raise OutputError(f"{shown(dst)}: cannot finish video: {reason(exc)}") from exc
    return VideoWriteResult(frames=written, audio=has_audio, notices=notices)


def check_packets(path: Path, frames: int) -> None:
    """ValueError unless ``path`` opens as a video whose first video stream holds ``frames`` frames.

    Every encoder and container unseen writes stores one packet per frame, so counting the packets
    (reading the file once, decoding nothing) tells a file cut short from a whole one.
    """
    try:
        with open_input(path) as container:
            video = container.streams.video[0]
            packets = sum(1 for packet in container.demux(video) if packet.size)
    except (InputError, av.FFmpegError, IndexError, OSError) as exc:
        raise ValueError(f"it does not open as a video: {reason(exc)}") from exc
    if packets != frames:
        raise ValueError(f"it holds {packets} of the {frames} frames written")


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
        codec: str | None,
        crf: int,
        preset: str,
        audio: str,
    ) -> None:
        self.src, self.dst, self.out, self.info, self.notices = src, dst, out, info, notices
        self.source_video = _video_stream(source, src)
        # (FFmpeg reads H.264 in AVI one frame late; rebasing its timestamps to the first frame also
        # stops that offset from growing by a frame each time an AVI goes through.)
        self.avi = out.format.name == "avi"
        self.time_base = encode_time_base(info, out.format.name)
        try:
            self.video = add_video_stream(out, info, codec, crf, preset, notices)
            keep_audio = audio == "keep" and source.streams.audio
            self.audio = AudioTracks(src, source, out, notices) if keep_audio else None
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"{shown(dst)}: cannot set up the encoder: {reason(exc)}") from exc
        # One nominal frame interval, for frames that arrive without a usable timestamp.
        self.step = max(1, round(1 / (info.fps * self.time_base)))

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
            raise OutputError(f"{shown(self.dst)}: cannot encode frame {count}: {reason(exc)}") from exc
        if repaired:
            self.notices.append("some frames had missing or out-of-order timestamps; they were renumbered")
        return count

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.audio and packet.dts is not None:
                self.audio.mux_until(packet.dts * self.time_base)
            self.out.mux(packet)


class AudioTracks:
    """Every audio track of the source, moved into the output a packet at a time, in step with the video
    (the encoder's, or the packets of painted segments being joined: see unseen.scale.segments).

    Packets are read from a second handle on the source as the video encode reaches their time, so
    only a few are ever held. Each track is copied untouched when the output container accepts its
    codec, otherwise transcoded (AAC, or Opus for webm) with a notice.
    """

    def __init__(self, src: Path, source: InputContainer, out: OutputContainer, notices: list[str]) -> None:
        self.src = src
        self.tracks = {s.index: _AudioTrack(s, out, notices) for s in source.streams.audio}
        self.packets = source.demux(list(source.streams.audio))
        self.pending: av.Packet | None = None

    def mux_until(self, until: Fraction | None) -> None:
        """Write every audio packet that starts at or before ``until`` seconds (all of them if None)."""
        while True:
            packet = self.pending or self._next_packet()
            if packet is None:
                for track in self.tracks.values():
                    track.finish()
                return
            timestamp = packet.dts if packet.dts is not None else packet.pts
            if until is not None and timestamp is not None and timestamp * packet.time_base > until:
                self.pending = packet
                return
            self.pending = None
            try:
                self.tracks[packet.stream.index].write(packet)
            except av.FFmpegError as exc:
                raise InputError(f"{shown(self.src)}: cannot decode the audio track: {reason(exc)}") from exc

    def _next_packet(self) -> av.Packet | None:
        try:
            for packet in self.packets:
                # the empty packet at the end of each track flushes its decoder
                if packet.size or self.tracks[packet.stream.index].transcode:
                    return packet
        except av.FFmpegError as exc:
            raise InputError(f"{shown(self.src)}: cannot read the audio track: {reason(exc)}") from exc
        return None


class _AudioTrack:
    """One audio track of the output: a copy of a source track, or its transcode."""

    def __init__(self, in_stream: AudioStream, out: OutputContainer, notices: list[str]) -> None:
        self.in_stream, self.out = in_stream, out
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

    def write(self, packet: av.Packet) -> None:
        if self.transcode:
            for frame in self.in_stream.decode(packet):
                self.out.mux(self.stream.encode(frame))
        else:
            packet.stream = self.stream
            self.out.mux(packet)

    def finish(self) -> None:
        if self.transcode:
            self.out.mux(self.stream.encode(None))


_LEFT_OUT = {"subtitle": "subtitle track", "data": "data track", "attachment": "attachment"}


def _note_left_out(source: InputContainer, video: VideoStream, audio: str, notices: list[str]) -> None:
    """Add a notice naming what of the source the output does not carry (audio dropped on request aside)."""
    kinds: dict[str, int] = {}
    for stream in source.streams:
        if stream.type == "audio" or stream is video:
            continue
        if stream.type == "video":
            kind = "cover picture" if stream.disposition & Disposition.attached_pic else "other video track"
        else:
            kind = _LEFT_OUT.get(stream.type, "other stream")
        kinds[kind] = kinds.get(kind, 0) + 1
    left_out = [f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items()]
    if source.chapters():
        left_out.append("chapters")
    if left_out:
        notices.append(f"not kept: {', '.join(left_out)}")


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


def _container_options(muxer: str) -> dict[str, str]:
    # bitexact: no "encoder=Lavf..." tag, and deterministic ids in Matroska.
    options = {"fflags": "+bitexact"}
    if muxer in MOV_FAMILY:
        options["movflags"] = "+faststart"  # index first: the file plays while still downloading
    return options


def _close_quietly(container: OutputContainer) -> None:
    with contextlib.suppress(av.FFmpegError, OSError):
        container.close()
