#!/usr/bin/env python3
"""Overlap benchmark: video frames per second with decode, detect, paint and encode side by side, or not.

    python bench/overlap.py                          # one 4 s clip at 720p and at 1080p, 2 rounds
    python bench/overlap.py --seconds 8 --rounds 3

Clips as in bench/scale.py (../shared/tools/make_videos.py, H.264, 30 fps, cached). Each run is one
``unseen CLIP -o OUT --quiet --overwrite --workers 1`` process, with ``UNSEEN_OVERLAP=0`` (every stage
in one thread, as before unseen.pipelined) or 1 (the default); the two alternate, round after round,
so that a busy neighbour on a shared machine slows each alike. Frames per second = frames / wall
time (start-up and model loading included); CPU seconds are the process's user + system time, peak
memory its largest resident set.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, DEFAULT_OUT, exe, fresh_dir, run_measured  # noqa: E402
from scale import frames_in, make_clips  # noqa: E402

from unseen.pipelined import OVERLAP_ENV  # noqa: E402

SIZES = {"720": (1280, 720), "1080": (1920, 1080)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "overlap")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=sorted(SIZES), default=None)
    a = ap.parse_args()
    data, out = a.data.resolve(), a.out.resolve()
    source = (data / "video_sources.txt").read_text().split()[:1]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for res, size in SIZES.items():
        if a.only and res != a.only:
            continue
        clip = make_clips(data, source, out / f"clips{res}", size, a.seconds)[0]
        frames = frames_in([clip])
        for r in range(a.rounds):
            for mode in ("0", "1"):
                os.environ[OVERLAP_ENV] = mode
                label = f"{res}p-overlap{mode}-r{r + 1}"
                dst = fresh_dir(out / "o") / clip.name
                cmd = [exe("unseen"), str(clip), "-o", str(dst), "--quiet", "--overwrite", "--workers", "1"]
                run = run_measured(label, cmd, out / "logs" / f"{label}.log")
                if run.rc != 0:
                    raise SystemExit(f"{label}: exit {run.rc}, see {run.log}")
                fps = frames / run.wall_s
                results.setdefault((res, mode), []).append((fps, run.cpu_s, run.maxrss_mb))
                print(
                    f"  {label}: {fps:.2f} fps, {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s cpu, "
                    f"peak {run.maxrss_mb:.0f} MB",
                    flush=True,
                )
    print()
    for (res, mode), rows in results.items():
        fps, cpu, peak = zip(*rows, strict=True)
        what = "overlap" if mode == "1" else "serial "
        print(
            f"{res}p {what}: {', '.join(f'{f:.2f}' for f in fps)} fps (best {max(fps):.2f}); "
            f"cpu {', '.join(f'{c:.1f}' for c in cpu)} s; peak {max(peak):.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
