"""One long video split across workers: the output of a single-process run, face covered at every cut.

The clip shows the astronaut's face moving left and right through all 900 frames, so it crosses
each cut between segments. Split across three workers, the video must keep the frame count, every
timestamp, the duration and the audio of a single-process run, find the same regions, and cover
the face in every frame, in particular around the cuts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from clips import make_clip
from skimage import data
from test_scale import Killer, parts

from unseen.cli import main
from unseen.scale.segments import plan
from unseen.track import Tracker

SIZE = (320, 240)
HALF = data.astronaut()[::2, ::2]  # the face is at about (90, 29)-(135, 89)


def face_x(i: int) -> int:
    return int(20 + 40 * (1 + np.sin(i / 30)))


def still_face_x(i: int) -> int:
    """A tripod shot: the face stands still for 100 frames at a time, then steps aside."""
    return 20 + 60 * ((i // 100) % 2)


def picture(i: int, x=face_x) -> np.ndarray:
    canvas = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    canvas[:, x(i) : x(i) + 200] = HALF[:240, 20:220]
    return canvas


def inside_face(pixels: np.ndarray, i: int, x=face_x) -> np.ndarray:
    """Rows and columns well inside the face in frame ``i``."""
    return pixels[40:80, x(i) + 80 : x(i) + 105]


def decoded(path: Path) -> tuple[list[int], list[np.ndarray], list[bytes], float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    with av.open(str(path)) as container:
        audio = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
        duration = container.duration
    return [f.pts for f in frames], [f.to_ndarray(format="rgb24") for f in frames], audio, duration


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "long.mp4", frames=900, size=SIZE, pictures=picture)


@pytest.mark.parametrize("moving", [True, False], ids=["moving", "still"])
def test_a_long_video_split_across_workers_is_the_single_process_output(tmp_path, clip, moving):
    """Moving: the face crosses every cut. Still: most keyframes take the detector's last look
    (``detect_keyframes``), and the workers must pick the same looks as one process."""
    x = face_x if moving else still_face_x
    if not moving:
        clip = make_clip(
            tmp_path / "still.mp4", frames=900, size=SIZE, pictures=lambda i: picture(i, still_face_x)
        )
    margin = Tracker(frame_size=(1, 1)).margin
    segments = plan(clip, 3, margin)
    assert segments is not None and len(segments) == 3
    cuts = [s.start for s in segments[1:]]
    for n in (1, 3):
        code = main(
            [str(clip), "-o", str(tmp_path / f"w{n}"), "--workers", str(n), "-q"]
            + ["--regions", str(tmp_path / f"r{n}.json")]
        )
        assert code == 0
    one, split = tmp_path / "w1" / clip.name, tmp_path / "w3" / clip.name
    assert [p.name for p in (tmp_path / "w3").iterdir()] == [clip.name]  # no segments left behind
    pts1, frames1, audio1, duration1 = decoded(one)
    pts3, frames3, audio3, duration3 = decoded(split)
    assert len(frames3) == len(frames1) == 900
    assert pts3 == pts1 and duration3 == duration1
    assert audio3 == audio1 and audio1  # copied once, packet for packet
    regions1, regions3 = (json.loads((tmp_path / f"r{n}.json").read_text())["files"][0] for n in (1, 3))
    # tracked across the cuts as in one pass: the same regions, boxes within a rounding step (each
    # worker follows the camera in a scene frame anchored at its own first frame)
    boxes1, boxes3 = ([r.pop("box") for r in r_["regions"]] for r_ in (regions1, regions3))
    assert regions3["regions"] == regions1["regions"]
    assert np.abs(np.array(boxes3) - np.array(boxes1)).max() <= 0.1 + 1e-9
    source = decoded(clip)[1]
    for i, pixels in enumerate(frames3):
        assert inside_face(source[i], i, x).mean() > 100  # the face is there ...
        assert inside_face(pixels, i, x).mean() < 40, f"face exposed in frame {i} (cuts at {cuts})"
    for cut in cuts:  # frames next to a cut differ from the one-process output only by encoding
        for i in range(cut - 2, cut + 2):
            assert np.abs(frames3[i].astype(int) - frames1[i]).mean() < 4


def test_a_short_video_is_not_split(tmp_path):
    short = make_clip(tmp_path / "short.mp4", frames=100)
    assert plan(short, 4, Tracker(frame_size=(1, 1)).margin) is None


def test_a_segment_worker_killed_mid_write_leaves_the_video_to_one_process(tmp_path, clip):
    out = tmp_path / "out"
    killer = Killer(out, ".mp4")
    killer.start()
    code = main([str(clip), "-o", str(out), "--workers", "3", "-q"])
    killer.join()
    assert killer.killed is not None, "no segment was seen being written"
    assert code == 0
    assert [p.name for p in out.iterdir()] == [clip.name] and not parts(out)
    pts, frames, audio, _ = decoded(out / clip.name)
    assert len(frames) == 900 and pts == decoded(clip)[0] and audio


def test_ctrl_c_stops_every_segment_and_leaves_nothing(tmp_path, clip):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "unseen", str(clip), "-o", str(out), "--workers", "3"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and parts(out)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None and parts(out), "no segment was seen being written"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no output, no segments, no scratch folder


def test_a_video_with_several_audio_tracks_is_split_and_keeps_every_track(tmp_path, monkeypatch):
    """The join moves every audio track as the encoder does (it used to copy only the first one, so
    such a video was left to one process)."""
    from unseen.scale import segments

    clip = make_clip(tmp_path / "two.mp4", frames=900, size=SIZE, pictures=picture, audio_tracks=2)
    painted = []
    paint_all = segments._paint_all
    monkeypatch.setattr(segments, "_paint_all", lambda *a: painted.append(paint_all(*a)) or painted[-1])
    for n in (1, 3):
        assert main([str(clip), "-o", str(tmp_path / f"w{n}"), "--workers", str(n), "-q"]) == 0
    assert len(painted) == 1 and len(painted[0]) == 3  # the three-worker run was split, the other not

    def tracks(path: Path) -> list[tuple[str, list[bytes]]]:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            packets = {s.index: [] for s in streams}
            for packet in container.demux(list(streams)):
                if packet.size:
                    packets[packet.stream.index].append(bytes(packet))
            return [(s.metadata.get("language", ""), packets[s.index]) for s in streams]

    one, split = tracks(tmp_path / "w1" / clip.name), tracks(tmp_path / "w3" / clip.name)
    assert [lang for lang, _ in split] == ["eng", "fra"]
    assert split == one and all(packets for _, packets in split)
