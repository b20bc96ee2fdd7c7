"""Decoding, detecting, painting and encoding side by side: the same output, and failures fail closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from clips import leftovers, make_clip
from scenes import Placement, background, render

import unseen.media.video
import unseen.video_file
import unseen.video_pipeline
from unseen.api import anonymise_video_file
from unseen.errors import AnalysisError, InputError, OutputError
from unseen.media.video import Frame
from unseen.pipelined import OVERLAP_ENV, ahead

FRAMES = 30


def _alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "unseen-ahead"]


# --- the primitive ---------------------------------------------------------------------------------


def test_items_come_in_order_from_another_thread_a_few_at_a_time() -> None:
    made: list[int] = []
    threads: set[str] = set()

    def numbers() -> Iterator[int]:
        for i in range(50):
            threads.add(threading.current_thread().name)
            made.append(i)
            yield i

    got = []
    with ahead(numbers(), depth=2) as items:
        for i in items:
            if i == 10:  # the producer keeps running while the consumer waits, but only so far
                threading.Event().wait(0.3)
                assert len(made) <= 10 + 2 + 2  # in hand, queued, and one blocked on the full queue
            got.append(i)
    assert got == list(range(50))
    assert threads == {"unseen-ahead"}
    assert _alive() == []


def test_an_error_in_the_thread_comes_where_its_item_would_have() -> None:
    def failing() -> Iterator[int]:
        yield from range(5)
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"), ahead(failing()) as items:
        got.extend(items)
    assert got == list(range(5))
    assert _alive() == []


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_its_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    with pytest.raises(KeyboardInterrupt), ahead(endless()) as items:
        for i in items:
            if i == 7:
                raise KeyboardInterrupt
    assert closed.is_set()
    assert _alive() == []


def test_without_overlap_everything_runs_in_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OVERLAP_ENV, "0")
    seen = []

    def names() -> Iterator[str]:
        for _ in range(3):
            seen.append(threading.current_thread().name)
            yield "x"

    with ahead(names(), prepare=lambda _: pytest.fail("prepared")) as items:
        assert list(items) == ["x"] * 3
    assert set(seen) == {threading.current_thread().name}


# --- videos ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A face walking across a 320 x 240 frame for 30 frames, with audio."""
    base = background((240, 320), 3, "gradient")
    frames = [render(base, [Placement(45, 60 + 7 * i, 120, "cameraman")]).image for i in range(FRAMES)]
    return make_clip(
        tmp_path_factory.mktemp("walk") / "walk.mp4",
        frames=FRAMES,
        size=(320, 240),
        pictures=frames.__getitem__,
    )


def _frames(path: Path) -> tuple[list[np.ndarray], list[int]]:
    with av.open(str(path)) as container:
        decoded = list(container.decode(container.streams.video[0]))
    return [f.to_ndarray(format="rgb24") for f in decoded], [f.pts for f in decoded]


def _decoding_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that decode each frame read by the video pipeline, from now on."""
    names: list[str] = []
    real = unseen.video_file.read_frames

    def spied(*args, **kwargs):  # type: ignore[no-untyped-def]
        for frame in real(*args, **kwargs):
            names.append(threading.current_thread().name)
            yield frame

    monkeypatch.setattr(unseen.video_file, "read_frames", spied)
    return names


def test_overlapped_video_is_exactly_the_serial_one(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _decoding_threads(monkeypatch)
    serial, overlapped = tmp_path / "serial.mp4", tmp_path / "overlapped.mp4"
    with monkeypatch.context() as m:
        m.setenv(OVERLAP_ENV, "0")
        before = anonymise_video_file(clip, serial)
    assert set(threads) == {threading.current_thread().name}
    threads.clear()
    after = anonymise_video_file(clip, overlapped)
    assert set(threads) == {"unseen-ahead"} and len(threads) == 2 * FRAMES  # both passes decoded aside
    assert before.frames == after.frames == FRAMES
    assert before.tracks == after.tracks >= 1
    np.testing.assert_array_equal(before.regions.boxes, after.regions.boxes)
    (a, a_pts), (b, b_pts) = _frames(serial), _frames(overlapped)
    assert len(a) == len(b) == FRAMES and a_pts == b_pts
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert serial.read_bytes() == overlapped.read_bytes()
    assert _alive() == []


def test_painting_known_regions_overlapped_is_exactly_the_serial_one(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regions = anonymise_video_file(clip, tmp_path / "found.mp4").regions
    threads = _decoding_threads(monkeypatch)
    serial, overlapped = tmp_path / "serial.mp4", tmp_path / "overlapped.mp4"
    with monkeypatch.context() as m:
        m.setenv(OVERLAP_ENV, "0")
        anonymise_video_file(clip, serial, regions=regions)
    assert set(threads) == {threading.current_thread().name}
    threads.clear()
    anonymise_video_file(clip, overlapped, regions=regions)
    assert set(threads) == {"unseen-ahead"} and len(threads) == FRAMES  # one pass, decoded aside
    assert serial.read_bytes() == overlapped.read_bytes() == (tmp_path / "found.mp4").read_bytes()
    assert _alive() == []


@pytest.mark.parametrize("failing_pass", [1, 2])
def test_a_decode_error_in_its_thread_fails_the_file_leaving_nothing(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_pass: int
) -> None:
    real, passes, where = unseen.video_file.read_frames, [], []

    def breaking(*args, **kwargs):  # type: ignore[no-untyped-def]
        passes.append(1)
        for frame in real(*args, **kwargs):
            if len(passes) == failing_pass and frame.index == 12:
                where.append(threading.current_thread().name)
                raise InputError("walk.mp4: cannot decode frame 12: simulated")
            yield frame

    monkeypatch.setattr(unseen.video_file, "read_frames", breaking)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="frame 12: simulated"):
        anonymise_video_file(clip, out / "walk.mp4")
    assert where == ["unseen-ahead"]
    assert leftovers(out) == []
    assert _alive() == []


def test_a_frame_that_was_not_analysed_is_never_written(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file grew between the passes: painted aside, the extra frame still stops the encoder."""
    real, passes = unseen.video_file.read_frames, []

    def growing(*args, **kwargs):  # type: ignore[no-untyped-def]
        passes.append(1)
        frame = None
        for frame in real(*args, **kwargs):
            yield frame
        if len(passes) == 2 and frame is not None:
            yield Frame(frame.index + 1, frame.pts + 512, frame.pixels.copy())

    monkeypatch.setattr(unseen.video_file, "read_frames", growing)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AnalysisError, match=f"frame {FRAMES} was not there when the video was analysed"):
        anonymise_video_file(clip, out / "walk.mp4")
    assert leftovers(out) == []
    assert _alive() == []


def test_a_paint_error_in_its_thread_fails_the_file_leaving_nothing(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, where = unseen.video_pipeline.obscure, []

    def breaking(pixels, *args, **kwargs):  # type: ignore[no-untyped-def]
        if len(where) == 9:
            raise MemoryError("simulated")
        where.append(threading.current_thread().name)
        return real(pixels, *args, **kwargs)

    monkeypatch.setattr(unseen.video_pipeline, "obscure", breaking)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MemoryError, match="simulated"):
        anonymise_video_file(clip, out / "walk.mp4")
    assert set(where) == {"unseen-ahead"}
    assert leftovers(out) == []
    assert _alive() == []


@pytest.mark.parametrize(
    "error", [OutputError("walk.mp4: cannot encode frame 9: simulated"), KeyboardInterrupt()]
)
def test_an_encode_error_or_ctrl_c_stops_every_thread_leaving_nothing(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    real, calls = unseen.media.video._wrap, []

    def breaking(pixels: np.ndarray) -> av.VideoFrame:
        calls.append(threading.current_thread().name)
        if len(calls) == 9:
            raise error
        return real(pixels)

    monkeypatch.setattr(unseen.media.video, "_wrap", breaking)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(type(error)):
        anonymise_video_file(clip, out / "walk.mp4")
    assert set(calls) == {threading.current_thread().name}  # the encoder runs in the caller's thread
    assert leftovers(out) == []
    assert _alive() == []
