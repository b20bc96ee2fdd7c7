"""Round trips through unseen.media.video on small generated clips: timing, audio, metadata, failures."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from av.sidedata.sidedata import Type
from clips import (
    FORBIDDEN_BYTES,
    FPS,
    LOCATION,
    VIDEO_HANDLER,
    corrupt_packet,
    damage_first_frame,
    identifying_data,
    leftovers,
    make_clip,
    picture,
    stream_seconds,
    truncate,
    video_pts_seconds,
)

from unseen.errors import AnalysisError, InputError
from unseen.media.encoder import check_encoder
from unseen.media.hdr import hdr_metadata
from unseen.media.video import LOST_ADVICE, Frame, probe, read_frames, write_video


def transcode(src: Path, dst: Path, **kwargs) -> object:
    return write_video(src, dst, probe(src), read_frames(src), **kwargs)


def audio_payload(path: Path, track: int = 0) -> bytes:
    with av.open(str(path)) as container:
        return b"".join(bytes(p) for p in container.demux(container.streams.audio[track]) if p.size)


def audio_span(path: Path, track: int) -> tuple[float, float]:
    """Seconds from the first video frame to the start and to the end of an audio track."""
    with av.open(str(path)) as container:
        start = video_pts_seconds(path)[0]
        packets = [p for p in container.demux(container.streams.audio[track]) if p.size]
        first, last = packets[0], packets[-1]
        return (
            float(first.pts * first.time_base - start),
            float((last.pts + last.duration) * last.time_base - start),
        )


@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("plain") / "plain.mp4")


def test_round_trip_keeps_timing_and_audio_and_drops_identifying_data(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", identifying=True)
    with av.open(str(src)) as container:  # the injection worked, so the checks below mean something
        assert container.metadata["com.apple.quicktime.model"] == "iPhone 15 Pro"
        assert container.metadata["location"] == LOCATION
        assert container.metadata["com.apple.quicktime.software"] == "SecretCam 4.2"
        assert {s.type for s in container.streams} == {"video", "audio", "subtitle", "data"}
        assert container.streams.video[0].metadata["handler_name"] == VIDEO_HANDLER
        assert container.chapters()
    raw_src = src.read_bytes()
    assert all(secret in raw_src for secret in FORBIDDEN_BYTES[:-2])

    dst = tmp_path / "out.mp4"
    result = transcode(src, dst)

    assert result.frames == 50
    assert result.notices == ["not kept: 1 subtitle track, 1 data track, chapters"]
    assert video_pts_seconds(dst) == video_pts_seconds(src)
    with av.open(str(src)) as before, av.open(str(dst)) as after:
        assert after.streams.video[0].frames == 50
        assert (
            abs(stream_seconds(after.streams.video[0]) - stream_seconds(before.streams.video[0])) <= 1 / FPS
        )
        assert abs(stream_seconds(after.streams.audio[0]) - stream_seconds(before.streams.audio[0])) <= 0.05
        assert {s.type for s in after.streams} == {"video", "audio"}
        assert after.chapters() == []
        assert after.streams.audio[0].metadata.get("language") == "eng"
    assert audio_payload(dst) == audio_payload(src)
    assert identifying_data(dst) == []

    # The pictures themselves come through (crf 18: close, not identical).
    for before, after in zip(read_frames(src), read_frames(dst), strict=True):
        assert (before.index, before.pts) == (after.index, after.pts)
        assert np.abs(before.pixels.astype(int) - after.pixels).mean() < 3


def test_drop_audio(plain_clip: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    assert transcode(plain_clip, dst, audio="drop").frames == 50
    with av.open(str(dst)) as container:
        assert not container.streams.audio and len(container.streams.video) == 1


def test_video_without_audio(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "silent.mp4", frames=20, audio=False)
    assert probe(src).has_audio is False
    dst = tmp_path / "out.mp4"
    assert transcode(src, dst).frames == 20
    with av.open(str(dst)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == 20


def test_variable_frame_rate_timestamps_survive(tmp_path: Path) -> None:
    gaps = [40, 40, 120, 40, 80, 40, 200, 40, 40, 80] * 3
    pts = np.cumsum([0, *gaps]).tolist()
    src = make_clip(tmp_path / "vfr.mp4", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    info = probe(src)
    assert [f.pts * info.time_base for f in read_frames(src)] == [Fraction(p, 1000) for p in pts]
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    assert video_pts_seconds(dst) == [Fraction(p, 1000) for p in pts]
    with av.open(str(dst)) as container:
        assert container.streams.video[0].time_base == info.time_base
        assert abs(stream_seconds(container.streams.video[0]) - info.duration) <= 0.2  # longest gap


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_is_written_upright_without_rotation_metadata(tmp_path: Path, rotation: int) -> None:
    src = make_clip(tmp_path / "rotated.mp4", frames=10, size=(160, 96), audio=False, rotation=rotation)
    info = probe(src)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((96, 160) if rotation in (90, 270) else (160, 96))
    first = next(read_frames(src))
    # A player turns the stored picture clockwise by `rotation`; np.rot90 turns counter-clockwise.
    expected = np.rot90(picture(0, 160, 96), k=-rotation // 90)
    assert first.pixels.shape == expected.shape
    assert np.abs(first.pixels.astype(int) - expected).mean() < 6

    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    out_info = probe(dst)
    assert (out_info.rotation, out_info.width, out_info.height) == (0, info.width, info.height)
    with av.open(str(dst)) as container:
        frame = next(container.decode(video=0))
        assert (frame.rotation, frame.width, frame.height) == (0, info.width, info.height)
        assert "rotate" not in container.streams.video[0].metadata
    assert np.abs(next(read_frames(dst)).pixels.astype(int) - first.pixels).mean() < 3


def test_frames_converted_late_keep_their_own_picture(plain_clip: Path) -> None:
    # Frames convert to RGB on first use; one converted after the decoder has moved on must still
    # show its own picture, not a later one that reused its buffer.
    frames = list(read_frames(plain_clip))
    for frame in (frames[-1], frames[0], frames[len(frames) // 2]):
        assert np.abs(frame.pixels.astype(int) - picture(frame.index, 160, 120)).mean() < 6
    with pytest.raises(ValueError):
        Frame(0, None)


def corrupt(path: Path) -> Path:
    raw = bytearray(path.read_bytes())
    start, stop = int(len(raw) * 0.4), int(len(raw) * 0.6)
    raw[start:stop] = np.random.default_rng(7).integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("name", "damage", "faststart"),
    [
        ("cut.mp4", truncate, False),  # index (moov) at the end: lost
        ("cut-faststart.mp4", truncate, True),  # index intact, points past the end
        ("cut.mkv", truncate, False),  # no full index: decode ends far short of the declared duration
        ("cut.avi", truncate, False),  # decode ends far short of the declared frame count
        ("corrupt.mp4", corrupt, True),
    ],
)
def test_damaged_input_fails_closed(tmp_path: Path, name: str, damage, faststart: bool) -> None:
    bad = damage(make_clip(tmp_path / name, frames=75, faststart=faststart))
    with pytest.raises(InputError, match=name):
        for _ in read_frames(bad):
            pass
    dst = tmp_path / "out.mp4"
    with pytest.raises(InputError, match=name):
        write_video(bad, dst, probe(bad), read_frames(bad))
    assert leftovers(tmp_path, bad) == []


def test_good_files_are_not_mistaken_for_truncated(tmp_path: Path) -> None:
    for suffix in (".mp4", ".mkv", ".avi", ".mov"):
        src = make_clip(tmp_path / f"whole{suffix}", frames=30)
        assert len(list(read_frames(src))) == 30
    # Frames before 0 go behind an edit list: the container counts 30, the decoder outputs 20.
    trimmed = make_clip(tmp_path / "edit-list.mp4", frames=30, pts=list(range(-10, 20)), audio=False)
    assert probe(trimmed).frames == 20
    assert len(list(read_frames(trimmed))) == 20


@pytest.mark.parametrize("failure", [AnalysisError("face stage failed"), KeyboardInterrupt()])
def test_failing_frame_source_leaves_no_output(
    plain_clip: Path, tmp_path: Path, failure: BaseException
) -> None:
    def face_stage(frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if frame.index == 20:
                raise failure
            yield frame

    dst = tmp_path / "out.mp4"
    with pytest.raises(type(failure)):
        write_video(plain_clip, dst, probe(plain_clip), face_stage(read_frames(plain_clip)))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".webm", ".avi"])
def test_other_containers(plain_clip: Path, tmp_path: Path, suffix: str) -> None:
    dst = tmp_path / f"out{suffix}"
    result = transcode(plain_clip, dst)
    assert result.frames == 50
    if suffix == ".webm":  # neither H.264 nor AAC may go in webm
        assert any("libvpx-vp9" in n for n in result.notices) and any("libopus" in n for n in result.notices)
    else:
        assert result.notices == []
        assert audio_payload(dst) == audio_payload(plain_clip)
    assert len(list(read_frames(dst))) == 50
    # Matroska and AVI cannot start before 0, so the muxer shifts the whole timeline (audio with it) by
    # the AAC priming delay, which AVI rounds up to a whole frame; FFmpeg also reads H.264 in AVI one
    # frame late. The frame intervals must not change.
    before, after = video_pts_seconds(plain_clip), video_pts_seconds(dst)
    assert abs(after[0] - before[0]) <= (2 / FPS if suffix == ".avi" else 0.05)
    assert [round(t - after[0], 3) for t in after] == [round(t - before[0], 3) for t in before]
    with av.open(str(dst)) as container:
        assert len(container.streams.audio) == 1
        # Matroska must name a muxing application; bitexact makes FFmpeg write a bare "Lavf".
        assert all(v == "Lavf" for k, v in container.metadata.items() if "lav" in f"{k}={v}".lower())


def test_odd_size_and_ten_bit(tmp_path: Path) -> None:
    odd = make_clip(tmp_path / "odd.mp4", frames=10, size=(161, 121), audio=False, pix_fmt="yuv444p")
    result = transcode(odd, tmp_path / "odd-out.mp4")
    assert any("4:4:4" in n for n in result.notices)
    assert (probe(tmp_path / "odd-out.mp4").width, probe(tmp_path / "odd-out.mp4").height) == (161, 121)

    deep = make_clip(tmp_path / "deep.mp4", frames=10, audio=False, pix_fmt="yuv420p10le")
    assert probe(deep).bit_depth == 10
    result = transcode(deep, tmp_path / "deep-out.mp4")
    out = probe(tmp_path / "deep-out.mp4")
    assert (out.bit_depth, out.pix_fmt, result.notices) == (10, "yuv420p10le", [])


@pytest.mark.parametrize("colour", [(1, 1), (5, 2)], ids=["bt709-limited", "bt601-full"])
def test_colour_description_is_kept(tmp_path: Path, colour: tuple[int, int]) -> None:
    src = make_clip(tmp_path / "colour.mp4", frames=5, audio=False, colour=colour)
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    with av.open(str(dst)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.colorspace, ctx.color_range) == colour
    # Converted back with the matrix the decoder used: no colour shift beyond coding loss.
    for before, after in zip(read_frames(src), read_frames(dst), strict=True):
        assert np.abs(before.pixels.astype(int) - after.pixels).mean() < 3


def test_only_regular_files_are_opened(tmp_path: Path) -> None:
    """A FIFO named like a video would block the open forever; a folder or an empty file is no video."""
    fifo = tmp_path / "x.mp4"
    os.mkfifo(fifo)
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "empty.mp4").touch()
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(outcome, probe, fifo), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the stuck open, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("probe blocked on a FIFO")
    assert [str(e) for e in outcome] == [f"{fifo}: not a regular file"]
    with pytest.raises(InputError) as failure:
        next(read_frames(tmp_path / "folder.mp4"))
    assert str(failure.value) == f"{tmp_path / 'folder.mp4'}: not a regular file"
    with pytest.raises(InputError) as failure:
        probe(tmp_path / "empty.mp4")
    assert str(failure.value) == f"{tmp_path / 'empty.mp4'}: empty file"


def _capture(outcome: list[BaseException], call, *args) -> None:
    try:
        call(*args)
    except BaseException as exc:  # handed to the test thread
        outcome.append(exc)


# --- outputs that play where the source played ----------------------------------------------------

# An iPhone's HDR video: 10-bit HEVC, BT.2020 primaries and matrix, PQ transfer, HDR10 metadata.
BT2020, PQ, LIMITED = 9, 16, 1
HDR_PARAMS = (
    "log-level=none:hdr10=1:max-cll=1000,400"
    ":master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
)


def first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def test_ten_bit_hevc_hdr_stays_hevc_that_apple_players_take(tmp_path: Path, capfd) -> None:
    src = make_clip(
        tmp_path / "iphone.mov",
        frames=10,
        audio=False,
        codec="libx265",
        codec_options={"x265-params": HDR_PARAMS},
        pix_fmt="yuv420p10le",
        colour=(BT2020, LIMITED),
        primaries_trc=(BT2020, PQ),
    )
    info = probe(src)
    assert (info.codec, info.bit_depth, info.color_primaries, info.color_trc) == ("hevc", 10, BT2020, PQ)
    capfd.readouterr()
    for suffix in (".mov", ".mp4"):
        dst = tmp_path / f"out{suffix}"
        assert transcode(src, dst).notices == []
        assert "x265" not in capfd.readouterr().err  # x265 logs to stderr itself unless told not to
        with av.open(str(dst)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            assert (ctx.name, stream.profile, stream.codec_tag) == ("hevc", "Main 10", "hvc1")
            assert (ctx.colorspace, ctx.color_range, ctx.color_primaries, ctx.color_trc) == (
                BT2020,
                LIMITED,
                BT2020,
                PQ,
            )
        assert b"x265" not in dst.read_bytes()  # no encoder version and settings in the stream
        assert hdr_metadata(first_frame(dst)) == hdr_metadata(first_frame(src)) == info.hdr
        assert info.hdr is not None and info.hdr.max_cll == "1000,400"
        for before, after in zip(read_frames(src), read_frames(dst), strict=True):
            assert (before.index, before.pts) == (after.index, after.pts)
            assert np.abs(before.pixels.astype(int) - after.pixels).mean() < 3
    # Asked for H.264 instead: High 10, and a notice that the HDR metadata could not go with it.
    assert transcode(src, tmp_path / "x264.mp4", codec="libx264").notices == [
        "HDR mastering metadata not written (libx264 does not take it; libx265 does)"
    ]


def test_eight_bit_sources_stay_h264(tmp_path: Path) -> None:
    src = make_clip(
        tmp_path / "hevc8.mp4",
        frames=5,
        audio=False,
        codec="libx265",
        codec_options={"x265-params": "log-level=none"},
    )
    assert probe(src).codec == "hevc"
    transcode(src, tmp_path / "out.mp4")
    out = probe(tmp_path / "out.mp4")
    assert (out.codec, out.bit_depth) == ("h264", 8)


def test_anamorphic_video_keeps_its_shape(tmp_path: Path) -> None:
    for rotation in (0, 90):
        src = make_clip(
            tmp_path / f"wide{rotation}.mp4", frames=5, audio=False, sar=Fraction(4, 3), rotation=rotation
        )
        info = probe(src)
        assert info.sar == (Fraction(4, 3) if rotation == 0 else Fraction(3, 4))
        dst = tmp_path / f"out{rotation}.mp4"
        transcode(src, dst)
        with av.open(str(dst)) as container:
            stream = container.streams.video[0]
            shown = Fraction(stream.width) * stream.sample_aspect_ratio / stream.height
        # stored 160 x 120 at 4:3 pixels shows as 16:9; turned, as 9:16
        assert shown == (Fraction(16, 9) if rotation == 0 else Fraction(9, 16))


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_mirrored_video_comes_out_as_a_player_shows_it(tmp_path: Path, rotation: int) -> None:
    src = make_clip(
        tmp_path / "selfie.mp4", frames=5, size=(160, 96), audio=False, rotation=rotation, mirror=True
    )
    # PyAV's set_display_rotation: turn counter-clockwise by its angle (-rotation here), then mirror.
    expected = np.fliplr(np.rot90(picture(0, 160, 96), k=-rotation // 90))
    first = next(read_frames(src))
    assert first.pixels.shape == expected.shape
    assert np.abs(first.pixels.astype(int) - expected).mean() < 6
    dst = tmp_path / "out.mp4"
    transcode(src, dst)
    with av.open(str(dst)) as container:
        frame = next(container.decode(video=0))
        assert frame.side_data.get(Type.DISPLAYMATRIX) is None
        assert np.abs(frame.to_ndarray(format="rgb24").astype(int) - expected).mean() < 6


def test_every_audio_track_is_kept_in_sync(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "two.mp4", audio_tracks=2, identifying=True)
    with av.open(str(src)) as container:
        assert [s.metadata.get("language") for s in container.streams.audio] == ["eng", "fra"]
    for suffix in (".mp4", ".mkv"):
        dst = tmp_path / f"out{suffix}"
        transcode(src, dst)
        with av.open(str(dst)) as container:
            assert [s.metadata.get("language") for s in container.streams.audio] == ["eng", "fra"]
        assert [audio_payload(dst, k) for k in (0, 1)] == [audio_payload(src, k) for k in (0, 1)]
        for k in (0, 1):  # each track starts and ends where it did, relative to the video
            assert np.allclose(audio_span(dst, k), audio_span(src, k), atol=0.03)
        # (Matroska must name a muxing application: a bare "Lavf", see test_other_containers)
        assert [found for found in identifying_data(dst) if "Lavf" not in found] == []
        assert video_pts_seconds(dst)[-1] - video_pts_seconds(dst)[0] == Fraction(49, FPS)


# --- messages -------------------------------------------------------------------------------------


def test_messages_name_the_file_once_without_error_numbers(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    cut = truncate(make_clip(tmp_path / "cut.mp4", frames=75))  # its index (at the end) is gone
    for path in (junk, cut):
        with pytest.raises(InputError) as failure:
            probe(path)
        assert str(failure.value) == f"{path}: cannot read video: Invalid data found when processing input"
    with pytest.raises(InputError) as failure:
        probe(tmp_path / "gone.mp4")
    assert str(failure.value) == f"{tmp_path / 'gone.mp4'}: No such file or directory"


def test_check_encoder_refuses_what_cannot_encode_the_video(tmp_path: Path) -> None:
    check_encoder("libx264", ".mp4")
    check_encoder("libx265", ".mkv")
    check_encoder("libx264", ".webm")  # written with the container's own VP9 instead, with a notice
    with pytest.raises(ValueError, match=r"^unknown video encoder 'libx26' \(e\.g\. libx264, libx265"):
        check_encoder("libx26", ".mp4")
    with pytest.raises(ValueError) as failure:
        check_encoder("aac", ".mp4")
    assert str(failure.value) == "'aac' is not a video encoder"
    with pytest.raises(ValueError) as failure:  # it wants full-range pictures
        check_encoder("mjpeg", ".mp4")
    assert str(failure.value) == "video encoder 'mjpeg' cannot be set up: Invalid argument"
    with pytest.raises(ValueError) as failure:
        check_encoder("libx264", ".gif")
    assert str(failure.value) == "unsupported video extension '.gif'"
    assert leftovers(tmp_path) == []


# --- concealed damage -----------------------------------------------------------------------------


def test_concealed_frame_fails_closed_unless_accepted(tmp_path: Path) -> None:
    clip = damage_first_frame(make_clip(tmp_path / "damaged.mkv", frames=30, size=(320, 240), audio=False))
    with av.open(str(clip)) as container:  # FFmpeg decodes every frame and flags the first as corrupt
        container.streams.video[0].thread_type = "AUTO"
        assert [frame.is_corrupt for frame in container.decode(video=0)] == [True] + [False] * 29
    with pytest.raises(InputError) as failure:
        list(read_frames(clip))
    assert str(failure.value) == (
        f"{clip}: frame 0 is damaged (the decoder concealed it); re-encode the video first, e.g. "
        "ffmpeg -i in.mp4 -c:v libx264 -crf 18 fixed.mp4, or accept concealed frames (--accept-concealed)"
    )
    frames = list(read_frames(clip, accept_concealed=True))
    assert [frame.concealed for frame in frames] == [True] + [False] * 29
    assert frames[0].pixels.shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("suffix", "preset"),
    [(".mp4", "ultrafast"), (".mkv", "ultrafast"), (".mp4", "veryfast")],
    ids=["mp4", "mkv", "b-frames"],  # veryfast: B-frames, so packets come in another order than frames
)
def test_a_frame_that_cannot_be_decoded_is_named_or_written_black(
    tmp_path: Path, suffix: str, preset: str
) -> None:
    clip = make_clip(
        tmp_path / f"clip{suffix}", frames=60, size=(320, 240), audio=False, codec_options={"preset": preset}
    )
    pristine = [(frame.pts, frame.pixels.mean()) for frame in read_frames(clip)]
    with av.open(str(clip)) as container:
        corrupted = [p.pts for p in container.demux(video=0) if p.size][31]
    frame = [pts for pts, _ in pristine].index(corrupted)  # where packet 31's frame is shown
    corrupt_packet(clip, 31)
    with pytest.raises(InputError) as failure:
        list(read_frames(clip))
    assert str(failure.value) == (
        f"{clip}: frame {frame} cannot be decoded (Invalid data found when processing input); {LOST_ADVICE}"
    )
    frames = list(read_frames(clip, accept_concealed=True))
    assert [f.pts for f in frames] == [pts for pts, _ in pristine]  # count and timing kept
    assert [f.index for f in frames if f.lost] == [frame]
    assert frames[frame].concealed and not frames[frame].pixels.any()  # nothing of it can show
    assert all(f.pixels.mean() > 20 for f in frames if not f.lost)


@pytest.mark.parametrize(
    "rotation, pix_fmt", [(0, "yuv420p"), (90, "yuv420p"), (270, "yuv444p"), (0, "rgb24")]
)
def test_a_frame_s_small_grey_copy_is_its_picture_upright(
    tmp_path: Path, rotation: int, pix_fmt: str
) -> None:
    """The camera is followed on a small grey copy of each frame, taken from the brightness plane
    where the format has one: it must be the picture as shown (turned as the player turns it), not
    as stored, and look like the RGB picture in grey."""
    codec = "libx264rgb" if pix_fmt == "rgb24" else "libx264"
    clip = make_clip(
        tmp_path / "c.mp4", frames=10, size=(320, 240), rotation=rotation, pix_fmt=pix_fmt, codec=codec
    )
    for frame in read_frames(clip):
        grey = frame.grey(80).astype(np.float64)
        rgb = frame.pixels
        assert grey.shape[1] == 80 and abs(grey.shape[0] - 80 * rgb.shape[0] / rgb.shape[1]) <= 1
        expected = cv2.resize(
            cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), grey.shape[::-1], interpolation=cv2.INTER_AREA
        )
        assert np.corrcoef(grey.ravel(), expected.astype(np.float64).ravel())[0, 1] > 0.98
