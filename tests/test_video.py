"""Videos end to end with the real detector: generated clips of real faces moving, with known boxes.

Each clip is drawn frame by frame with :func:`scenes.render` (real face photos over one background),
so every face's true box is known in every frame. The clips carry a sine audio track and, for the main
one, identifying tags and a subtitle stream (see ``clips.make_clip``). Outputs are decoded with PyAV
and checked frame by frame: every face of a visible height of 20 px or more must be under the black
fill in every frame.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import test_offline
from clips import (
    FPS,
    corrupt_packet,
    damage_first_frame,
    identifying_data,
    leftovers,
    make_clip,
    stream_seconds,
    truncate,
    video_pts_seconds,
)
from scenes import Placement, background, covered_fraction, render

import unseen.detectors
import unseen.video_file
from unseen.api import anonymise_video_file
from unseen.cli import main
from unseen.errors import AnalysisError, InputError, OutputError
from unseen.media.video import probe

MIN_HEIGHT = 20  # faces at least this tall (visible part of the face box) must be covered
MIN_COVERED = 0.7  # share of the face box under the fill
BLACK_TOL = 40  # H.264 and 4:2:0 chroma blur the black fill's edge; unpainted faces are far brighter
SOURCES = {"full", "coarse", "fine", "turned", "weak", "interpolated", "extended"}


@dataclass
class Clip:
    """A generated clip and, per frame, the true face boxes (name -> x1, y1, x2, y2) in upright pixels."""

    path: Path
    boxes: list[dict[str, np.ndarray]]
    size: tuple[int, int]  # upright width, height

    @property
    def frames(self) -> int:
        return len(self.boxes)


Motion = Callable[[int], Placement | None]


def scene_clip(
    path: Path,
    motions: dict[str, Motion],
    frames: int,
    size: tuple[int, int],
    *,
    rotation: int = 0,
    seed: int = 3,
    **kwargs,
) -> Clip:
    """Render ``motions`` (name -> placement at frame i, or None when absent) over one background."""
    width, height = size
    base = background((height, width), seed, "gradient")
    images, boxes = [], []
    for i in range(frames):
        placed = [(name, motion(i)) for name, motion in motions.items()]
        placed = [(name, p) for name, p in placed if p is not None]
        scene = render(base, [p for _, p in placed])
        kept = {id(p): box for p, box in zip(scene.placements, scene.boxes, strict=True)}
        boxes.append({name: kept[id(p)] for name, p in placed if id(p) in kept})  # faces in view
        # a player turns the stored picture clockwise by `rotation`: store it turned the other way
        images.append(np.ascontiguousarray(np.rot90(scene.image, k=rotation // 90)))
    stored = (height, width) if rotation in (90, 270) else (width, height)
    make_clip(path, frames=frames, size=stored, rotation=rotation, pictures=images.__getitem__, **kwargs)
    return Clip(path, boxes, size)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]


def uncovered(clip: Clip, output: Sequence[np.ndarray]) -> list[tuple[int, str, float, float]]:
    """(frame, face, visible height, covered share) of every face of MIN_HEIGHT or more left visible."""
    misses = []
    for i, (pixels, faces) in enumerate(zip(output, clip.boxes, strict=True)):
        for name, box in faces.items():
            height = float(box[3] - box[1])
            if height < MIN_HEIGHT:
                continue
            share = covered_fraction(pixels, pixels, box, tol=BLACK_TOL, color=(0, 0, 0))
            if share < MIN_COVERED:
                misses.append((i, name, round(height, 1), round(share, 2)))
    return misses


def audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(container.streams.audio[0]))


# --- the clips ------------------------------------------------------------------------------------

N = 64  # frames of the main clip: 2.56 s at 25 fps
SIZE = (480, 360)


def pan(i: int) -> Placement:  # left to right across the top, about 40 px tall
    return Placement(40, 60 + 360 * i / (N - 1), 80, "astronaut")


def zoom(i: int) -> Placement:  # bottom left, growing from 30 to 90 px
    return Placement(30 + 60 * i / (N - 1), 130, 250, "cameraman")


def enter(i: int) -> Placement | None:  # comes in from the right edge from frame 24 on
    return None if i < 24 else Placement(50, 520 - 4.5 * (i - 24), 250, "astronaut", flip=True)


@pytest.fixture(scope="module")
def main_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("main")
    return scene_clip(
        folder / "faces.mp4", {"pan": pan, "zoom": zoom, "enter": enter}, N, SIZE, identifying=True
    )


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """One face walking across a 320 x 240 frame for one second, with audio."""
    folder = tmp_path_factory.mktemp("small")
    walk = {"walk": lambda i: Placement(45, 60 + 8 * i, 120, "cameraman")}
    return scene_clip(folder / "walk.mp4", walk, 25, (320, 240))


@pytest.fixture(scope="module")
def main_output(main_clip: Clip, tmp_path_factory: pytest.TempPathFactory):
    dst = tmp_path_factory.mktemp("main-out") / "faces.mp4"
    report = anonymise_video_file(main_clip.path, dst)
    return report, dst


def test_the_clip_is_what_the_tests_think(main_clip: Clip) -> None:
    """Every face is there and visible in the source, so the coverage checks below mean something."""
    source = decoded(main_clip.path)
    assert len(source) == N
    assert {name for faces in main_clip.boxes for name in faces} == {"pan", "zoom", "enter"}
    assert "enter" not in main_clip.boxes[23] and "enter" in main_clip.boxes[30]
    assert len(uncovered(main_clip, source)) == sum(len(f) for f in main_clip.boxes)
    with av.open(str(main_clip.path)) as container:
        assert {s.type for s in container.streams} >= {"video", "audio", "subtitle"}
    assert identifying_data(main_clip.path)


def test_every_face_is_covered_in_every_frame(main_clip: Clip, main_output) -> None:
    report, dst = main_output
    misses = uncovered(main_clip, decoded(dst))
    assert misses == [], misses
    assert report.frames == N and report.kind == "video"
    assert report.tracks >= 3
    assert (report.width, report.height) == SIZE


def test_timing_and_audio_are_kept_and_identifying_data_dropped(main_clip: Clip, main_output) -> None:
    _, dst = main_output
    assert video_pts_seconds(dst) == video_pts_seconds(main_clip.path)
    with av.open(str(main_clip.path)) as before, av.open(str(dst)) as after:
        assert {s.type for s in after.streams} == {"video", "audio"}  # no subtitles, no data
        assert after.streams.video[0].frames == N
        assert (
            abs(stream_seconds(after.streams.video[0]) - stream_seconds(before.streams.video[0])) <= 1 / FPS
        )
        assert abs(stream_seconds(after.streams.audio[0]) - stream_seconds(before.streams.audio[0])) <= 0.05
        rate = before.streams.audio[0].rate
    assert abs(audio_samples(dst) - audio_samples(main_clip.path)) <= 0.05 * rate
    assert identifying_data(dst) == []


def test_cli_writes_the_video_and_a_regions_file(main_clip: Clip, tmp_path: Path, capsys) -> None:
    out, regions = tmp_path / "out", tmp_path / "regions.json"
    code = main([str(main_clip.path), "-o", str(out), "--regions", str(regions)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "voices" in err  # the clip's audio is kept, and the summary says what that means
    dst = out / main_clip.path.name
    assert leftovers(out) == [dst.name]
    assert uncovered(main_clip, decoded(dst)) == []
    (entry,) = json.loads(regions.read_text())["files"]
    assert (entry["kind"], entry["frames"], entry["width"], entry["height"]) == ("video", N, *SIZE)
    assert {r["frame"] for r in entry["regions"]} == set(range(N))  # a face is in view in every frame
    assert all(r["track"] >= 0 for r in entry["regions"])
    assert {r["source"] for r in entry["regions"]} <= SOURCES
    assert len({r["track"] for r in entry["regions"]}) >= 3


def test_cli_audio_drop(small_clip: Clip, tmp_path: Path, capsys) -> None:
    code = main([str(small_clip.path), "-o", str(tmp_path), "--audio", "drop"])
    assert code == 0, capsys.readouterr().err
    dst = tmp_path / small_clip.path.name
    with av.open(str(dst)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == small_clip.frames
    assert uncovered(small_clip, decoded(dst)) == []


def test_video_without_audio(tmp_path: Path, capsys) -> None:
    walk = {"walk": lambda i: Placement(45, 260 - 8 * i, 120, "astronaut")}
    clip = scene_clip(tmp_path / "silent.mp4", walk, 25, (320, 240), audio=False)
    dst = tmp_path / "out" / "silent.mp4"
    report = anonymise_video_file(clip.path, dst)
    assert report.frames == clip.frames and not report.audio
    # With nothing to hear, the summary does not warn about voices.
    assert main([str(clip.path), "-o", str(tmp_path / "cli")]) == 0
    assert "voices" not in capsys.readouterr().err
    with av.open(str(dst)) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert video_pts_seconds(dst) == video_pts_seconds(clip.path)
    assert uncovered(clip, decoded(dst)) == []


def test_fast_face_is_covered_between_keyframes(tmp_path: Path) -> None:
    dash = {"dash": lambda i: Placement(45, 30 + 16 * i, 120, "cameraman")}  # 400 px/s at 25 fps
    clip = scene_clip(tmp_path / "fast.mp4", dash, 25, (640, 240), audio=False)
    dst = tmp_path / "out.mp4"
    report = anonymise_video_file(clip.path, dst)
    misses = uncovered(clip, decoded(dst))
    assert misses == [], (report.tracks, misses)


def test_rotated_video_comes_out_upright_with_faces_covered(tmp_path: Path) -> None:
    motions = {
        "down": lambda i: Placement(40, 120, 70 + 5 * i, "astronaut"),
        "still": lambda i: Placement(50, 150, 250, "cameraman"),
    }
    clip = scene_clip(tmp_path / "portrait.mp4", motions, 30, (240, 320), rotation=90, audio=False)
    info = probe(clip.path)
    assert (info.rotation, info.width, info.height) == (90, 240, 320)
    with av.open(str(clip.path)) as container:  # stored landscape, shown portrait
        assert (container.streams.video[0].width, container.streams.video[0].height) == (320, 240)
    assert len(uncovered(clip, [np.rot90(p, k=-1) for p in decoded(clip.path)])) == 60  # truth is upright

    dst = tmp_path / "out.mp4"
    anonymise_video_file(clip.path, dst)
    out = probe(dst)
    assert (out.rotation, out.width, out.height) == (0, 240, 320)
    frames = decoded(dst)
    assert frames[0].shape == (320, 240, 3)
    assert uncovered(clip, frames) == []


# --- failing closed -------------------------------------------------------------------------------


def test_truncated_video_fails_via_cli_leaving_nothing(tmp_path: Path, capsys) -> None:
    bad = truncate(make_clip(tmp_path / "cut.mp4", frames=75))
    out = tmp_path / "out"
    code = main([str(bad), "-o", str(out)])
    _, err = capsys.readouterr()
    assert code == 1
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert str(bad) in line
    assert not (out.exists() and list(out.rglob("*")))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["cut.mp4"]  # no .part anywhere


def test_detector_failure_mid_video_leaves_no_output(small_clip: Clip, tmp_path: Path, monkeypatch) -> None:
    real, calls = unseen.video_file.keyframe_detector, []

    def flaky_detector(sensitivity: float = 1.0):
        detect = real(sensitivity)

        def flaky(image: np.ndarray, full: bool):
            calls.append(1)
            if len(calls) == 3:
                raise AnalysisError("face detection failed: simulated")
            return detect(image, full)

        return flaky

    monkeypatch.setattr(unseen.video_file, "keyframe_detector", flaky_detector)
    dst = tmp_path / "out.mp4"
    with pytest.raises(AnalysisError, match="simulated") as failure:
        anonymise_video_file(small_clip.path, dst)
    assert str(small_clip.path) in str(failure.value)
    assert len(calls) == 3
    assert leftovers(tmp_path) == []


# --- no network -----------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on 127.0.0.1: its port, and the peers of every connection it receives."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    peers: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            peers.append(str(peer))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], peers
    stop.set()
    thread.join()
    server.close()


def test_names_that_look_like_urls_open_no_connection(tmp_path: Path, listener) -> None:
    """FFmpeg reads such names as URLs: before the fix, tcp: and http: ones made it connect here."""
    port, peers = listener
    url = f"127.0.0.1:{port}"
    clip = make_clip(tmp_path / "clip.mp4", frames=5)
    named = [f"tcp:{url}.mp4", f"http:{url}.mp4", f"concat:tcp:{url}|clip.mp4"]
    for name in named:
        shutil.copy(clip, tmp_path / name)
    folder = tmp_path / "names"  # playlists and such inside files that claim to be videos
    folder.mkdir()
    shutil.copy(clip, folder / f"http:{url}.mkv")
    (folder / "playlist.mp4").write_text(f"#EXTM3U\n#EXTINF:2.0,\nhttp://{url}/a.ts\n#EXT-X-ENDLIST\n")
    (folder / "list.mp4").write_text(f"ffconcat version 1.0\nfile 'tcp://{url}'\nfile 'http://{url}/a.mp4'\n")
    attempts = tmp_path / "attempts.json"
    proc = subprocess.run(  # relative names, and an output folder whose name is a URL too
        [sys.executable, "-c", test_offline.GUARD, *named, "names", "-o", f"http:{url}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "UNSEEN_TEST_ATTEMPTS": str(attempts)},
        timeout=120,
    )
    assert peers == [] and json.loads(attempts.read_text()) == []
    written = sorted(p.name for p in (tmp_path / f"http:{url}").iterdir())
    assert written == sorted([*named, f"http:{url}.mkv"]), proc.stderr
    errors = sorted(line for line in proc.stderr.splitlines() if "error" in line)
    assert errors == [
        "unseen: error: names/list.mp4: not a video in a format unseen reads "
        "(MP4/MOV/3GP, Matroska/WebM, AVI, MPEG-TS)",
        "unseen: error: names/playlist.mp4: cannot read video: Invalid data found when processing input",
    ]


def test_output_problems_are_found_before_the_video_is_analysed(
    small_clip: Clip, tmp_path: Path, monkeypatch
) -> None:
    calls: list[int] = []
    real = unseen.detectors.keyframe_detector
    monkeypatch.setattr(unseen.video_file, "keyframe_detector", lambda *args: calls.append(1) or real(*args))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError) as failure:
        anonymise_video_file(small_clip.path, blocker / "out.mp4")
    assert str(failure.value) == f"{blocker / 'out.mp4'}: cannot write output: Not a directory"
    with pytest.raises(OutputError) as failure:  # the mjpeg encoder wants full-range pictures
        anonymise_video_file(small_clip.path, tmp_path / "out.mp4", codec="mjpeg")
    assert str(failure.value) == f"{tmp_path / 'out.mp4'}: cannot set up the mjpeg encoder: Invalid argument"
    assert calls == []
    assert leftovers(tmp_path, blocker) == []


def test_concealed_frames_are_refused_or_painted_on_request(tmp_path: Path) -> None:
    walk = {"walk": lambda i: Placement(45, 60 + 8 * i, 50, "cameraman")}
    clip = scene_clip(tmp_path / "damaged.mkv", walk, 25, (320, 240), audio=False)
    # Damage below the face: damage the decoder smears over a face can hide it from the detector,
    # which is why concealed frames are refused unless the caller accepts them.
    damage_first_frame(clip.path, at=0.8)
    dst = tmp_path / "out" / "damaged.mkv"
    with pytest.raises(InputError, match="frame 0 is damaged"):
        anonymise_video_file(clip.path, dst)
    assert not dst.exists()
    report = anonymise_video_file(clip.path, dst, accept_concealed=True)
    assert report.frames == clip.frames
    assert report.notices == [
        "1 damaged frame(s) analysed and written as the decoder concealed the damage; "
        "concealment can hide faces from the detector: check the output"
    ]
    assert uncovered(clip, decoded(dst)) == []


def test_a_frame_that_cannot_be_decoded_fails_with_the_fix_or_is_written_black(
    tmp_path: Path, capsys
) -> None:
    walk = {"walk": lambda i: Placement(45, 60 + 4 * i, 50, "cameraman")}
    clip = scene_clip(tmp_path / "corrupt.mp4", walk, 40, (320, 240), audio=False)
    timing = video_pts_seconds(clip.path)
    corrupt_packet(clip.path, 20)
    out = tmp_path / "out"
    assert main([str(clip.path), "-o", str(out)]) == 1
    [line] = capsys.readouterr().err.splitlines()[:1]
    assert "frame 20 cannot be decoded (Invalid data found when processing input); re-encode" in line
    assert "ffmpeg -i in.mp4" in line and "--accept-concealed" in line
    assert not out.exists() or not list(out.iterdir())
    report = anonymise_video_file(clip.path, out / "corrupt.mp4", accept_concealed=True)
    assert report.frames == clip.frames
    assert report.notices == [
        "1 frame(s) could not be decoded (first: frame 20); written fully obscured (black), keeping the "
        "frame count and timing"
    ]
    written = decoded(out / "corrupt.mp4")
    assert video_pts_seconds(out / "corrupt.mp4") == timing
    assert written[20].mean() < 3  # the lost frame: black, not a picture of anyone
    assert uncovered(clip, written) == []


# --- memory ---------------------------------------------------------------------------------------

# Peak RSS of the child as the kernel's high-water mark of its own address space (VmHWM). Not
# ru_maxrss: Linux carries that across fork and exec, so a child of a pytest process that has
# already loaded the model reports the *parent's* size (about 400 MiB here against about 200 MiB
# for the child itself) and short and long runs would look the same whatever they did.
CHILD = textwrap.dedent(
    """
    import re, sys
    from unseen.api import Options, anonymise_video_file
    from unseen.track import TrackOptions

    options = Options(track=TrackOptions(detect_every=8))
    report = anonymise_video_file(sys.argv[1], sys.argv[2], options, record=False)
    assert report.frames == int(sys.argv[3]) and len(report.regions) == 0, report
    with open("/proc/self/status") as status:
        print(re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1))
    """
)


def long_clip(path: Path, frames: int) -> Path:
    """160 x 120, one small face drifting back and forth: crops of one wide rendered strip."""
    strip = render(background((120, 320), 5, "gradient"), [Placement(30, 160, 60, "astronaut")]).image

    def picture(i: int) -> np.ndarray:
        offset = abs((3 * i) % 240 - 120)  # 0..120..0: the face moves across and back
        return np.ascontiguousarray(strip[:, offset + 20 : offset + 180])

    return make_clip(path, frames=frames, size=(160, 120), pictures=picture)


def peak_rss_mib(src: Path, dst: Path, frames: int) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(dst), str(frames)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for peak RSS")
def test_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    """A 2000-frame run peaks no higher than a 400-frame one (both with record=False).

    Measured here: both peak at about 200 MiB, within 4 MiB of each other. A pipeline that kept every
    decoded 160 x 120 frame (57.6 kB each) would add about 110 MiB for the long clip over the short
    one (a child doing exactly that measured +94 MiB), so a 40 MiB margin is ten times the noise and
    well below what holding on to the frames costs.
    """
    frames = 2000
    short = long_clip(tmp_path / "short.mp4", frames // 5)
    long = long_clip(tmp_path / "long.mp4", frames)
    short_peak = peak_rss_mib(short, tmp_path / "short-out.mp4", frames // 5)
    long_peak = peak_rss_mib(long, tmp_path / "long-out.mp4", frames)
    print(f"peak RSS: short {short_peak:.0f} MiB, long {long_peak:.0f} MiB")
    assert long_peak <= short_peak + 40


def test_cli_codec_typo_is_a_usage_error_before_any_work(small_clip: Clip, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main([str(small_clip.path), "-o", str(out), "--codec", "libx26"]) == 2
    err = capsys.readouterr().err
    assert "unseen: error: --codec: unknown video encoder 'libx26'" in err
    assert not out.exists()


def test_cli_accept_concealed_paints_a_damaged_video(tmp_path: Path, capsys) -> None:
    walk = {"walk": lambda i: Placement(45, 60 + 8 * i, 50, "cameraman")}
    clip = scene_clip(tmp_path / "damaged.mkv", walk, 25, (320, 240), audio=False)
    damage_first_frame(clip.path, at=0.8)
    out = tmp_path / "out"
    assert main([str(clip.path), "-o", str(out)]) == 1
    assert "--accept-concealed" in capsys.readouterr().err
    assert main([str(clip.path), "-o", str(out), "--accept-concealed"]) == 0
    assert "1 damaged frame(s) analysed" in capsys.readouterr().err
    assert uncovered(clip, decoded(out / "damaged.mkv")) == []


@pytest.mark.parametrize("suffix", [".3gp", ".MTS"])
def test_phone_and_camcorder_containers_are_taken_from_a_folder(tmp_path: Path, capsys, suffix: str) -> None:
    """.3gp (old phones) and .MTS (AVCHD camcorders) were left out of folder walks in silence."""
    folder = tmp_path / "in"
    folder.mkdir()
    src = make_clip(folder / f"clip{suffix}", frames=20, audio=False)
    assert main([str(folder), "-o", str(tmp_path / "out"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["done"] == 1
    out = tmp_path / "out" / src.name
    assert probe(out).width == 160 and len(decoded(out)) == 20
