"""Small generated video clips for the video tests, and checks on what comes out of them.

:func:`make_clip` writes an H.264 clip with PyAV (or HEVC, e.g. a phone's 10-bit HDR): AAC sine audio
(one track or several), optionally a display rotation and mirror, a sample aspect ratio, and
identifying data (container/stream tags, a subtitle stream, a chapter) that no output may keep. The
pictures are a moving crop of the astronaut unless ``pictures`` gives them (e.g. rendered scenes).
:func:`identifying_data` lists whatever identifying data an output still carries.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data

ASTRONAUT = data.astronaut()
FPS = 25

# Identifying values injected into the source clip; none may reach the output.
LOCATION = "+48.8577+002.2950/"
SECRETS = {
    "creation_time": "2021-05-01T12:34:56.000000Z",
    "location": LOCATION,
    "com.apple.quicktime.location.ISO6709": "+48.8577+002.2950+035.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 15 Pro",
    "make": "Apple",
    "model": "iPhone 15 Pro",
    "title": "Holiday at the Tower",
    "comment": "Private comment",
    "artist": "Jane Doe",
    "com.apple.quicktime.software": "SecretCam 4.2",  # FFmpeg replaces or drops a plain "encoder" tag
}
VIDEO_HANDLER = "CoreMediaSecretVideo"
AUDIO_HANDLER = "CoreMediaSecretAudio"
SUBTITLE_TEXT = b"Jane is at the tower"
LANGUAGES = ("eng", "fra", "deu")  # of the audio tracks, when there are several
CHAPTER_TITLE = "Eiffel chapter"
FORBIDDEN_BYTES = [
    b"+48.8577",
    b"iPhone",
    b"Holiday at the Tower",
    b"Private comment",
    b"Jane",
    b"SecretCam",
    b"CoreMediaSecret",
    b"Eiffel",
    b"Lavf",
    b"Lavc",
]


def picture(i: int, width: int, height: int) -> np.ndarray:
    """A crop of the astronaut that moves with ``i``, so consecutive frames differ."""
    y = (3 * i) % (ASTRONAUT.shape[0] - height)
    x = (5 * i) % (ASTRONAUT.shape[1] - width)
    return np.ascontiguousarray(ASTRONAUT[y : y + height, x : x + width])


def make_clip(
    path: Path,
    *,
    frames: int = 50,
    size: tuple[int, int] = (160, 120),
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, FPS),
    audio: bool = True,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    identifying: bool = False,
    faststart: bool = False,
    colour: tuple[int, int] | None = None,
    pictures: Callable[[int], np.ndarray] | None = None,
    codec: str = "libx264",
    codec_options: dict[str, str] | None = None,
    primaries_trc: tuple[int, int] | None = None,
    sar: Fraction | None = None,
    mirror: bool = False,
    audio_tracks: int = 1,
) -> Path:
    """Write a small H.264 clip (AAC sine audio) with PyAV; ``identifying`` adds tags, subtitles, chapters.

    ``pictures(i)`` gives frame ``i`` as stored (``size[1]`` x ``size[0]`` x 3 uint8 RGB; a player
    turns it clockwise by ``rotation``, then mirrors it if ``mirror``); by default a moving crop of
    the astronaut. ``primaries_trc`` (AVColorPrimaries, AVColorTransferCharacteristic) tags colour;
    with ``audio_tracks`` > 1, track k is a 440 (k + 1) Hz tone in language LANGUAGES[k] and carries
    identifying tags.
    """
    width, height = size
    options = {}
    movflags = []
    if path.suffix in (".mp4", ".mov"):
        movflags += ["+use_metadata_tags"] if identifying else []
        movflags += ["+faststart"] if faststart else []
    if movflags:
        options["movflags"] = "".join(movflags)
    out = av.open(str(path), "w", container_options=options)
    video = out.add_stream(codec, rate=FPS, options={"preset": "ultrafast", **(codec_options or {})})
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    video.codec_context.time_base = time_base
    if colour:  # (AVColorSpace, AVColorRange), also used as swscale's matrix and range
        video.codec_context.colorspace, video.codec_context.color_range = colour
    if primaries_trc:
        video.codec_context.color_primaries, video.codec_context.color_trc = primaries_trc
    if sar:
        video.codec_context.sample_aspect_ratio = sar
    if rotation or mirror:
        if not hasattr(video, "set_display_rotation"):  # the oldest PyAV unseen supports cannot
            out.close()
            pytest.skip("this PyAV cannot write a display rotation into a test clip (PyAV >= 18 can)")
        video.set_display_rotation(-rotation, hflip=mirror)  # FFmpeg's angle is counter-clockwise
    # bitexact: no "Lavc" version string in the first AAC frame, which a bit-exact copy would carry over
    sounds = [
        out.add_stream("aac", rate=44100, layout="mono", options={"flags": "+bitexact"})
        for _ in range(audio_tracks if audio else 0)
    ]
    sound = sounds[0] if sounds else None
    if len(sounds) > 1:
        for language, track in zip(LANGUAGES, sounds, strict=False):
            track.metadata.update({"handler_name": AUDIO_HANDLER, "language": language, "title": "Jane"})
    subtitles = None
    if identifying:
        out.metadata.update(SECRETS)
        video.metadata.update({"handler_name": VIDEO_HANDLER, "encoder": "SecretCam 4.2"})
        assert sound is not None
        sound.metadata.update({"handler_name": AUDIO_HANDLER, "language": "eng", "title": SECRETS["title"]})
        subtitles = out.add_mux_stream("mov_text")
        subtitles.time_base = Fraction(1, 1000)
        out.set_chapters(
            [
                {
                    "id": 1,
                    "start": 0,
                    "end": 1000,
                    "time_base": Fraction(1, 1000),
                    "metadata": {"title": CHAPTER_TITLE},
                }
            ]
        )
    for i in range(frames):
        pixels = pictures(i) if pictures else picture(i, width, height)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        if colour:
            frame = frame.reformat(format=pix_fmt, dst_colorspace=colour[0], dst_color_range=colour[1])
        frame.pts = pts[i] if pts else i
        frame.time_base = time_base
        out.mux(video.encode(frame))
        if subtitles is not None and i == 0:
            packet = av.Packet(struct.pack(">H", len(SUBTITLE_TEXT)) + SUBTITLE_TEXT)
            packet.stream, packet.time_base = subtitles, subtitles.time_base
            packet.pts = packet.dts = 0
            packet.duration = 1000
            out.mux(packet)
    out.mux(video.encode(None))
    seconds = float(((pts[-1] if pts else frames - 1) + 1) * time_base)
    total = int(seconds * 44100)
    for start in range(0, total, 1024):
        t = np.arange(start, min(start + 1024, total)) / 44100
        for k, track in enumerate(sounds):
            samples = (0.3 * np.sin(2 * np.pi * 440 * (k + 1) * t)).astype(np.float32)[None, :]
            chunk = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, start
            out.mux(track.encode(chunk))
    for track in sounds:
        out.mux(track.encode(None))
    out.close()
    return path


def video_pts_seconds(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


def stream_seconds(stream: av.stream.Stream) -> float:
    return float(stream.duration * stream.time_base)


def leftovers(folder: Path, *keep: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p not in keep)


def truncate(path: Path, share: float = 0.6) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * share)])
    return path


def damage_first_frame(path: Path, at: float = 0.5) -> Path:
    """Overwrite 16 bytes of the first (key) frame, ``at`` its length: FFmpeg decodes it, concealing
    the damage (in a 320 x 240 clip from make_clip; more damage makes the decoder give up)."""
    with av.open(str(path)) as container:
        packet = next(p for p in container.demux(video=0) if p.size)
        start = packet.pos + int(packet.size * at)
    raw = bytearray(path.read_bytes())
    raw[start : start + 16] = np.random.default_rng(1).integers(0, 256, 16, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))
    return path


def corrupt_packet(path: Path, index: int) -> Path:
    """Overwrite all but the first 4 bytes (its NAL length) of video packet ``index`` with noise:
    FFmpeg cannot decode it at all ("Invalid data found when processing input") and that frame never
    comes out (in a 320 x 240 clip from make_clip)."""
    with av.open(str(path)) as container:
        packet = [p for p in container.demux(video=0) if p.size][index]
        start, size = packet.pos + 4, packet.size - 4
    raw = bytearray(path.read_bytes())
    raw[start : start + size] = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))
    return path


def identifying_data(path: Path) -> list[str]:
    """Identifying tags (container or stream) and secret byte strings still present in ``path``."""
    found = []
    with av.open(str(path)) as container:
        tags = [container.metadata] + [s.metadata for s in container.streams]
    for tag in tags:
        for key, value in tag.items():
            text = f"{key}={value}".lower()
            words = ("creation_time", "location", "make", "model", "apple", "lav", "title", "comment")
            secrets = (*SECRETS.values(), VIDEO_HANDLER, AUDIO_HANDLER)
            if any(w in text for w in words) or any(s.lower() in text for s in secrets):
                found.append(f"tag {key}={value}")
    raw = path.read_bytes()
    found += [f"bytes {secret!r}" for secret in FORBIDDEN_BYTES if secret in raw]
    return found
