#!/usr/bin/env python3
"""One-photo start-up: whole-process wall and CPU time of ``unseen PHOTO`` on a small photo.

    python bench/startup.py                  # 7 rounds; the code before is found in git (below)
    python bench/startup.py --rounds 11 --before b58cff5

Three ways, each round in a new order (paired and alternated, so that a busy neighbour on a shared
machine slows each alike):
  before  the code before the optimised graph was cached (default: the parent of the commit that
          added src/unseen/detect/graph_cache.py), exported from git into the scratch folder;
  cold    this code with an empty cache folder (it optimises the graph and writes the cache);
  warm    this code with the cache already written (every run after the first).
The photo is scikit-image's astronaut (512 x 512, one face). Python's bytecode is compiled once
into a private folder before the rounds, as an installed package has it. Reports the median of each
and the median of the per-round ratios against ``before``; the target is warm <= 0.6 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_OUT, REPO, Run, fresh_dir, run_measured  # noqa: E402

TARGET_S = 0.6
WAYS = ("before", "cold", "warm")


def default_before() -> str:
    """The parent of the commit that introduced the graph cache."""
    out = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "src/unseen/detect/graph_cache.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out:
        raise SystemExit("no commit adds src/unseen/detect/graph_cache.py here: pass --before REV")
    return f"{out[-1]}^"


def export(rev: str, dest: Path) -> Path:
    """The src folder of ``rev``, written under ``dest``."""
    tar = subprocess.run(["git", "archive", rev, "src"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest / "src"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--before", default=None, metavar="REV", help="git revision of the code before")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "startup", help="scratch folder")
    args = ap.parse_args()

    out = fresh_dir(args.out)
    before = args.before or default_before()
    sources = {"before": export(before, out / "before"), "cold": REPO / "src", "warm": REPO / "src"}
    photo = out / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=90)
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base_env["PYTHONPYCACHEPREFIX"] = str(out / "pycache")
    warm_cache = out / "cache-warm"

    def one(way: str, tag: str) -> Run:
        cache = out / f"cache-{tag}" if way == "cold" else warm_cache
        if way == "cold":
            fresh_dir(cache)
        env = [f"PYTHONPATH={sources[way]}", f"UNSEEN_CACHE_DIR={cache}"]
        env += [f"{k}={v}" for k, v in base_env.items() if k in ("PYTHONPYCACHEPREFIX", "PATH", "HOME")]
        dest = fresh_dir(out / f"out-{way}-{tag}")
        cmd = ["env", "-i", *env, sys.executable, "-m", "unseen", photo, "-o", dest, "-q"]
        run = run_measured(way, cmd, out / "logs" / f"{way}-{tag}.log")
        if not run.ok:
            raise SystemExit(f"{way} failed: {run.describe_failure()}")
        return run

    for way in WAYS:  # compile the bytecode, write the warm cache; not counted
        one(way, "setup")
    runs: dict[str, list[Run]] = {way: [] for way in WAYS}
    for r in range(args.rounds):
        order = WAYS[r % 3 :] + WAYS[: r % 3]
        for way in order if r % 2 == 0 else order[::-1]:
            runs[way].append(one(way, str(r)))

    print(f"one-photo start-up, {args.rounds} rounds; before = {before}")
    print(f"{'':8} {'wall s':>8} {'cpu s':>8} {'wall / before':>14} {'cpu / before':>13}")
    for way in WAYS:
        wall = [run.wall_s for run in runs[way]]
        cpu = [run.cpu_s for run in runs[way]]
        ratio_wall = [a.wall_s / b.wall_s for a, b in zip(runs[way], runs["before"], strict=True)]
        ratio_cpu = [a.cpu_s / b.cpu_s for a, b in zip(runs[way], runs["before"], strict=True)]
        print(
            f"{way:8} {statistics.median(wall):8.3f} {statistics.median(cpu):8.3f} "
            f"{statistics.median(ratio_wall):14.2f} {statistics.median(ratio_cpu):13.2f}"
        )
    warm = statistics.median(run.wall_s for run in runs["warm"])
    print(f"target: warm <= {TARGET_S} s wall: {'PASS' if warm <= TARGET_S else 'FAIL'} ({warm:.3f} s)")
    return 0 if warm <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
