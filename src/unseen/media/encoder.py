"""The video encoder: which one, and set up so that the output plays where the source played.

The default follows the source. A phone's HDR video is 10-bit HEVC, and the players that play it
(iPhones, QuickTime, Safari, most hardware decoders) refuse H.264 High 10; so 10-bit HEVC is written
as 10-bit HEVC, tagged ``hvc1`` in MP4/MOV (Apple's players refuse FFmpeg's default ``hev1``), with
the source's colour description and HDR metadata. Everything else is written as H.264, which every
player takes. The whole set-up can be tried on a throwaway encoder first, so that an encoder that
cannot write a video fails before the video is analysed, not after.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
from av.codec.codec import UnknownCodecError
from av.container import OutputContainer
from av.video.stream import VideoStream

from .. import machine
from ..errors import OutputError, shown
from .containers import MOV_FAMILY, muxer_for
from .local_av import open_output, reason
from .video_info import VideoInfo

# Encoders worth suggesting when a name is mistyped, where this FFmpeg has them.
_SUGGESTED = ("libx264", "libx265", "libvpx-vp9", "libsvtav1")


def default_codec(info: VideoInfo) -> str:
    """10-bit HEVC stays 10-bit HEVC (libx265); everything else becomes H.264 (libx264)."""
    return "libx265" if info.codec == "hevc" and info.bit_depth > 8 else "libx264"


def nominal_rate(info: VideoInfo) -> Fraction:
    return Fraction(info.fps).limit_denominator(100_000)


def encode_time_base(info: VideoInfo, muxer: str) -> Fraction:
    """The source's own time base, so every pts is carried over unchanged; for AVI, one frame.

    AVI alone counts time in frames from 0 at a fixed rate (a finer time base or a late start
    becomes empty padding chunks), so there the writer counts from the first frame at the average rate.
    """
    return 1 / nominal_rate(info) if muxer == "avi" else info.time_base


def add_video_stream(
    out: OutputContainer,
    info: VideoInfo,
    codec: str | None,
    crf: int,
    preset: str,
    notices: list[str],
) -> VideoStream:
    """Add the video stream to ``out``, set up for ``info``'s upright frames (``codec`` None: the default).

    If ``codec`` cannot go in the container (H.264 in .webm), the container's own codec is used and a
    notice says so. Raises av.FFmpegError or ValueError if the encoder cannot take this video.
    """
    muxer = out.format.name
    codec = codec or default_codec(info)
    if codec not in out.supported_codecs:
        fallback = "libvpx-vp9" if muxer == "webm" else "libx264"
        notices.append(f"{codec} cannot go in {muxer} files; encoded with {fallback}")
        codec = fallback
    stream = out.add_stream(codec, rate=nominal_rate(info))
    stream.width, stream.height = info.width, info.height
    stream.pix_fmt = _pixel_format(codec, info, notices)
    stream.time_base = stream.codec_context.time_base = encode_time_base(info, muxer)
    stream.thread_type = "AUTO"
    ctx = stream.codec_context
    # Tag the output with the source's colour description; the writer converts with the same matrix
    # the decoder used (read_frames converts per the frame's tags), so colours do not shift.
    ctx.colorspace, ctx.color_range = info.colorspace, info.color_range
    ctx.color_primaries, ctx.color_trc = info.color_primaries, info.color_trc
    if info.sar != 1:
        ctx.sample_aspect_ratio = info.sar  # anamorphic video keeps its shape
    name = stream.codec_context.codec.name
    if name == "libx265" and muxer in MOV_FAMILY:
        stream.codec_tag = "hvc1"  # parameter sets in the header only; what Apple's players require
    elif info.hdr and name != "libx265":
        notices.append(f"HDR mastering metadata not written ({name} does not take it; libx265 does)")
    stream.options = _options(name, crf, preset, info, avi=muxer == "avi")
    return stream


def check_encoder(codec: str, suffix: str) -> None:
    """Raise ValueError with a one-line reason if ``codec`` cannot encode a video written as ``suffix``.

    For a command line to call before any work: it tries the encoder on a small 8-bit picture.
    """
    try:
        found = av.codec.Codec(codec, "w")
    except UnknownCodecError:
        known = ", ".join(c for c in _SUGGESTED if c in av.codecs_available)
        raise ValueError(f"unknown video encoder {codec!r} (e.g. {known})") from None
    if found.type != "video":
        raise ValueError(f"{codec!r} is not a video encoder")
    try:
        muxer = muxer_for(Path(f"check{suffix}"))
    except OutputError:
        raise ValueError(f"unsupported video extension {suffix!r}") from None
    sample = VideoInfo(64, 64, 0, 1, 25.0, 0.04, Fraction(1, 25), False, "yuv420p", "h264", 8)
    try:
        _try_setup(muxer, sample, codec, 23, "veryfast")
    except (av.FFmpegError, ValueError) as exc:
        raise ValueError(f"video encoder {codec!r} cannot be set up: {reason(exc)}") from exc


def check_encoder_setup(dst: Path, info: VideoInfo, codec: str | None, crf: int, preset: str) -> None:
    """Raise OutputError if the encoder cannot be set up to write this video to ``dst``.

    Opens a throwaway encoder with everything the real one gets (size, pixel format, colour, options)
    and writes nothing, so a failure comes before the video is analysed.
    """
    muxer = muxer_for(dst)
    try:
        _try_setup(muxer, info, codec, crf, preset)
    except (av.FFmpegError, ValueError) as exc:
        raise OutputError(
            f"{shown(dst)}: cannot set up the {codec or default_codec(info)} encoder: {reason(exc)}"
        ) from exc


def _try_setup(muxer: str, info: VideoInfo, codec: str | None, crf: int, preset: str) -> None:
    out = open_output(Path(os.devnull), muxer, {})  # the file is only opened when writing starts
    try:
        add_video_stream(out, info, codec, crf, preset, []).codec_context.open()
    finally:
        out.close()


def _options(codec: str, crf: int, preset: str, info: VideoInfo, avi: bool) -> dict[str, str]:
    options = {"crf": str(crf), "flags": "+bitexact"}
    if codec in ("libx264", "libx265"):
        options["preset"] = preset
    if codec == "libx264":
        # One frame thread per core and short look-aheads: frames held inside x264 are most of
        # the encoder's memory (measured at 1080p: ~60 MB less for rc-lookahead=5, ~40 MB less
        # for sync-lookahead=1 than for its default of bframes + 1, at the same speed).
        options["x264-params"] = f"threads={machine.thread_budget()}:rc-lookahead=5:sync-lookahead=1"
    elif codec == "libx265":
        # x265 logs to stderr itself (not through FFmpeg), and writes its version and settings into
        # the stream unless told not to.
        params = ["log-level=none", "info=0", *(info.hdr.x265_params() if info.hdr else [])]
        options["x265-params"] = ":".join(params)
    elif codec == "libvpx-vp9":  # constant quality, and fast enough to keep up with the face stage
        options.update({"b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"})
    if avi:  # AVI stores no presentation times, so frames must not be reordered (no B-frames)
        options["bf"] = "0"
    return options


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
        raise ValueError(f"{codec} cannot encode a {info.width}x{info.height} picture")
    return f"yuv{chroma}p"
