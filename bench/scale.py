#!/usr/bin/env python3
"""Scale benchmark: unseen with 1..N local workers, on a local Ray cluster, and one long video split.

    python bench/scale.py                                   # full: 1..cores workers, every part
    python bench/scale.py --photos 48 --clips 2 --seconds 4 --long-seconds 20   # a short run
    python bench/scale.py --skip-ray --json bench/out/scale.json

Photos are the first N of the WIDER dev sample (symlinked, never copied); clips come from
../shared/tools/make_videos.py (H.264, 30 fps) at 720p and 1080p, and one long 1080p clip. Every
run is one ``unseen`` process (start-up, model loading and worker start-up included):
  unseen IN -o OUT --quiet --overwrite --workers W        (W = 1 .. cores)
  unseen IN -o OUT --quiet --overwrite --ray ADDRESS      (a cluster this script starts on 127.0.0.1)
  unseen LONG.mp4 -o OUT --quiet --overwrite --workers W  (W = 1: one process; W > 1: segments)
Photos per second = photos / wall time; frames per second = frames / wall time. The Ray overhead
is its wall time against local workers of the same count (target <= 10 %); the cluster's own
start is reported apart, since a cluster outlives the runs on it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_OUT,
    TOOLS,
    exe,
    fresh_dir,
    run_measured,
    symlink_tree,
    warm_cache,
)

RAY_OVERHEAD_TARGET = 0.10


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_clips(data: Path, names: list[str], folder: Path, size: tuple[int, int], seconds: int) -> list[Path]:
    """``make_videos`` clips (cached: rebuilt only when one is missing or of another size or length)."""
    meta = folder / ".made.json"  # hidden: unseen's walk leaves it out
    wanted = {"names": names, "size": list(size), "seconds": seconds}
    clips = [folder / f"v{i:02d}.mp4" for i in range(len(names))]
    if meta.exists() and json.loads(meta.read_text()) == wanted and all(c.exists() for c in clips):
        return clips
    fresh_dir(folder)
    print(f"building {len(names)} clip(s) at {size[0]}x{size[1]}, {seconds} s ...", flush=True)
    sys.path.insert(0, str(TOOLS))
    make_videos = importlib.import_module("make_videos")
    make_videos.main(str(data), names, str(folder), W=size[0], H=size[1], seconds=seconds)
    for extra in folder.glob("*.json"):
        extra.unlink()  # ground truth: not needed here, and not an input
    meta.write_text(json.dumps(wanted))
    return clips


def frames_in(clips: list[Path]) -> int:
    total = 0
    for clip in clips:
        with av.open(str(clip)) as container:
            total += container.streams.video[0].frames
    return total


def timed(label: str, inputs: Path, out: Path, logs: Path, *extra: str) -> float:
    fresh_dir(out)
    cmd = [exe("unseen"), str(inputs), "-o", str(out), "--quiet", "--overwrite", *extra]
    run = run_measured(label, cmd, logs / f"{label}.log")
    if run.rc != 0:
        raise SystemExit(f"{label}: exit {run.rc}, see {run.log}")
    print(f"  {label}: {run.wall_s:.1f} s", flush=True)
    return float(run.wall_s)


def start_cluster(num_cpus: int):  # type: ignore[no-untyped-def]
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep 127.0.0.1 as 127.0.0.1
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    head = {"num_cpus": num_cpus, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    return Cluster(initialize_head=True, connect=False, head_node_args=head)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "scale")
    ap.add_argument("--photos", type=int, default=200, help="photos in the photo runs")
    ap.add_argument("--clips", type=int, default=4, help="clips per size in the video runs")
    ap.add_argument("--seconds", type=int, default=8, help="length of each clip")
    ap.add_argument("--long-seconds", type=int, default=60, help="length of the long 1080p clip")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--only-ray", action="store_true", help="only the Ray runs and their local baselines")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    data, out = a.data.resolve(), a.out.resolve()
    logs = out / "logs"
    n_cores = cores()
    counts = list(range(1, n_cores + 1))
    results: dict = {"cores": n_cores, "cpu": _cpu_name()}

    images = data / "images"
    names = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.jpg"))[: a.photos]
    photos = symlink_tree([(images / x, x) for x in names], out / "_photos")
    warm_cache(images / x for x in names)
    sources = (data / "video_sources.txt").read_text().split()
    clips = {
        res: make_clips(data, sources[: a.clips], out / f"clips{res}", size, a.seconds)
        for res, size in (("720", (1280, 720)), ("1080", (1920, 1080)))
    }
    long_clip = make_clips(data, sources[:1], out / "long1080", (1920, 1080), a.long_seconds)[0]

    print(f"{len(names)} photos, {n_cores} cores", flush=True)
    if not a.only_ray:
        results["photos_per_s"] = {
            w: len(names) / timed(f"photos-w{w}", photos, out / "o", logs, "--workers", str(w))
            for w in counts
        }
        results["fps"] = {}
        for res, files in clips.items():
            frames = frames_in(files)
            print(f"{res}p: {len(files)} clips, {frames} frames", flush=True)
            folder = files[0].parent
            results["fps"][res] = {
                w: frames / timed(f"{res}p-w{w}", folder, out / "o", logs, "--workers", str(w))
                for w in counts
            }

        long_frames = frames_in([long_clip])
        print(f"long 1080p: {long_frames} frames", flush=True)
        results["long_1080_fps"] = {
            w: long_frames / timed(f"long-w{w}", long_clip, out / "o", logs, "--workers", str(w))
            for w in (1, n_cores)
        }

    if not a.skip_ray:
        t0 = time.perf_counter()
        cluster = start_cluster(n_cores)
        results["ray_cluster_start_s"] = time.perf_counter() - t0
        results["ray"] = {}
        try:  # each Ray run right after a local run of as many workers: the machine's load drifts
            for what, inputs, units in (
                ("photos", photos, len(names)),
                ("720p", clips["720"][0].parent, frames_in(clips["720"])),
            ):
                local = timed(f"{what}-local-w{n_cores}", inputs, out / "o", logs, "--workers", str(n_cores))
                on_ray = timed(f"{what}-ray", inputs, out / "o", logs, "--ray", cluster.address)
                overhead = on_ray / local - 1
                results["ray"][what] = {"local": units / local, "ray": units / on_ray, "overhead": overhead}
        finally:
            cluster.shutdown()

    print()
    print(f"machine: {results['cpu']}, {n_cores} cores")
    if "photos_per_s" in results:
        print("workers            " + "".join(f"{w:>9}" for w in counts))
        print("photos / s         " + "".join(f"{results['photos_per_s'][w]:9.2f}" for w in counts))
        for res in clips:
            print(f"{res}p frames / s    " + "".join(f"{results['fps'][res][w]:9.1f}" for w in counts))
        lf = results["long_1080_fps"]
        print(f"long 1080p clip ({long_frames} frames): one process {lf[1]:.1f} fps, ", end="")
        print(f"split over {n_cores} workers {lf[n_cores]:.1f} fps")
    for what, r in results.get("ray", {}).items():
        verdict = "ok" if r["overhead"] <= RAY_OVERHEAD_TARGET else "ABOVE TARGET"
        print(
            f"{what} on Ray: {r['ray']:.2f}/s against {r['local']:.2f}/s on {n_cores} local workers "
            f"just before: {100 * r['overhead']:+.1f} % time ({verdict}, target <= 10 %)"
        )
    if "ray_cluster_start_s" in results:
        print(f"Ray cluster start (not in the runs): {results['ray_cluster_start_s']:.1f} s")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(results, indent=2))
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
