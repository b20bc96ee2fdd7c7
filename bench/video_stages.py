#!/usr/bin/env python3
"""Where a video's time goes: decode, colour conversions, detection, painting and encoding timed apart.

    python bench/video_stages.py                     # a 3 s 1080p clip, 2 rounds
    python bench/video_stages.py --size 1280x720 --seconds 4 --rounds 3
    python bench/video_stages.py --clip bench/out/scale/clips1080/v00.mp4   # any clip instead

The clip is made here from scikit-image's astronaut (nothing from the data set): the photo scaled
up and panned across, so that every frame moves and one large face is painted in each, written as
H.264 (crf 18, veryfast, 30 fps) once into OUT. Each round runs, in this process, one after the other:

  decode          every frame decoded, nothing converted;
  + grey          and shrunk to the grey the camera follower compares (the detection pass's work
                  on the frames between keyframes);
  + RGB           and converted to RGB (what painting and encoding start from);
  encode only     the RGB frames, decoded beforehand and held in memory, encoded as unseen encodes
                  (write_video: x264 veryfast crf 18), with nothing else to do;
  unseen, no encode  anonymise_video_file with the encoder replaced by a sink that takes each
                  painted frame: both decoding passes, detection, tracking and painting;
  no detect, no encode  the same with a detector that finds nothing: both decoding passes, the
                  camera follower, the tracker and the conversions, without the network;
  unseen          anonymise_video_file, whole.

Wall time gives frames per second, CPU time (this process, every thread) CPU ms per frame. On a
machine shared with other work the rounds' medians are reported; compare figures from one run only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_OUT  # noqa: E402

from unseen import video_file  # noqa: E402
from unseen.api import anonymise_video_file  # noqa: E402
from unseen.media.video import Frame, VideoWriteResult, probe, read_frames, write_video  # noqa: E402
from unseen.regions import Regions  # noqa: E402
from unseen.video_pipeline import MOTION_WIDTH  # noqa: E402

FPS = 30


def make_clip(path: Path, size: tuple[int, int], frames: int) -> Path:
    """The astronaut, scaled to 1.4 times ``size``, panned across: one large face in every frame."""
    if path.exists():
        return path
    w, h = size
    big = cv2.resize(data.astronaut(), (round(w * 1.4), round(w * 1.4)), interpolation=cv2.INTER_CUBIC)
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "18"})
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    for i in range(frames):
        x = round((big.shape[1] - w) * i / max(frames - 1, 1))
        y = round((big.shape[0] - h) * 0.1 * i / max(frames - 1, 1))
        picture = np.ascontiguousarray(big[y : y + h, x : x + w])
        out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
    out.mux(stream.encode(None))
    out.close()
    return path


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def decode(clip: Path, touch: Callable[[Frame], object] | None = None) -> None:
    for frame in read_frames(clip):
        if touch is not None:
            touch(frame)


def sink(src, dst, info, frames: Iterable[Frame], **_: object) -> VideoWriteResult:
    """write_video's stand-in: takes every painted frame, encodes nothing."""
    count = 0
    for frame in frames:
        frame.pixels  # noqa: B018
        count += 1
    return VideoWriteResult(frames=count)


def blind(sensitivity: float = 1.0) -> Callable[[np.ndarray, bool], Regions]:
    """keyframe_detector's stand-in: finds nothing."""
    return lambda rgb, full: Regions()


def without(clip: Path, dst: Path, **stand_ins: Callable) -> None:
    """anonymise_video_file with some of video_file's functions replaced."""
    real = {name: getattr(video_file, name) for name in stand_ins}
    for name, stand_in in stand_ins.items():
        setattr(video_file, name, stand_in)
    try:
        anonymise_video_file(clip, dst, overwrite=True)
    finally:
        for name, function in real.items():
            setattr(video_file, name, function)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=None, help="a video instead of the astronaut pan")
    ap.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "video_stages")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    frames = round(a.seconds * FPS)
    a.out.mkdir(parents=True, exist_ok=True)
    clip = a.clip or make_clip(a.out / f"pan_{w}x{h}_{frames}.mp4", (w, h), frames)
    info = probe(clip)
    held = [Frame(f.index, f.pts, f.pixels.copy()) for f in read_frames(clip)]
    dst = a.out / "out.mp4"
    stages: dict[str, Callable[[], object]] = {
        "decode": lambda: decode(clip),
        "+ grey": lambda: decode(clip, lambda f: f.grey(MOTION_WIDTH)),
        "+ RGB": lambda: decode(clip, lambda f: f.pixels),
        "encode only": lambda: write_video(clip, dst, info, held, overwrite=True),
        "unseen, no encode": lambda: without(clip, dst, write_video=sink),
        "no detect, no encode": lambda: without(clip, dst, write_video=sink, keyframe_detector=blind),
        "unseen": lambda: anonymise_video_file(clip, dst, overwrite=True),
    }
    anonymise_video_file(clip, dst, overwrite=True)  # the model's first run: not counted
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in stages}
    for _ in range(a.rounds):
        for name, work in stages.items():
            times[name].append(timed(work))
    print(f"{clip.name}: {info.width}x{info.height}, {len(held)} frames, {a.rounds} rounds (medians)")
    print(f"{'stage':22s} {'fps':>7s} {'CPU ms/frame':>13s}")
    for name, runs in times.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{name:22s} {len(held) / wall:7.1f} {1000 * cpu / len(held):13.1f}")
    whole = statistics.median(r[0] for r in times["unseen"])
    encode = statistics.median(r[0] for r in times["encode only"])
    print(f"unseen at {encode / whole:.0%} of the encode-only speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
