#!/usr/bin/env python3
"""4K video: are small faces kept as well as in the same clip at 1080p?

    python bench/video_4k.py                 # 2 clips, 4 s each, unseen only
    python bench/video_4k.py --clips 1 --seconds 2

Crowd photos of the dev sample are tiled at their native size into 12 MP mosaics
(../shared/tools/make_mosaics.py), so faces keep the sizes they have in real crowd shots. Each
mosaic becomes a moving-camera clip (../shared/tools/make_videos.py: zoom and pan, exact per-frame
ground truth) twice, at 3840x2160 and at 1920x1080, along the same path: every 1080p frame is its
4K twin at half size. unseen runs on both (solid fill) and each face is scored in both by its
height in the 4K frame: the share of faces exposed in at least one frame and of face-frames
exposed (a face is exposed in a frame when under 70 % of its box is covered). A face of 24 px in
4K is 12 px at 1080p, so the 4K clip should expose no more than its twin in any band.
Exits 0; the verdict is printed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, DEFAULT_OUT, TOOLS, fresh_dir, run_measured, run_unseen, scorer  # noqa: E402

sys.path.insert(0, str(TOOLS))  # the shared generators and scorers, imported by name

SIZES = {"2160": (3840, 2160), "1080": (1920, 1080)}
BANDS = ((12, 18), (18, 34), (34, 64), (64, 1e9))  # face height in the 4K frame
FPS = 30


def crowd_photos(data: Path, count: int) -> list[str]:
    """The ``count`` dev photos with the most annotated faces under 32 px (the faces at stake)."""
    gt = importlib.import_module("face_coverage").load_gt(str(data / "wider_face_dev_bbx_gt.txt"))
    small = {name: int(((b[:, 3] < 32) & (b[:, 4] == 0)).sum()) for name, b in gt.items() if len(b)}
    return sorted(small, key=lambda n: (-small[n], n))[:count]


def build(data: Path, out: Path, clips: int, seconds: int) -> dict[str, Path]:
    """The mosaics, then one clip per mosaic at each size (cached by the selection)."""
    names = crowd_photos(data, 16 * clips)
    wanted = json.dumps({"names": names, "seconds": seconds})
    stamp = out / "selection.json"
    dirs = {res: out / f"clips{res}" for res in SIZES}
    if (
        stamp.exists()
        and stamp.read_text() == wanted
        and all((d / "v00.json").exists() for d in dirs.values())
    ):
        return dirs
    listing = out / "names.txt"
    out.mkdir(parents=True, exist_ok=True)
    listing.write_text("".join(f"{n}\n" for n in names))
    mosaics = fresh_dir(out / "mosaics")
    run = run_measured(
        "make_mosaics", scorer("make_mosaics.py") + [data, listing, mosaics, clips, 0], out / "m.log"
    )
    if not run.ok:
        sys.exit(f"make_mosaics failed: {run.describe_failure()}")
    tiles = [x for x in (mosaics / "list.txt").read_text().split() if x.startswith("12mp/")]
    for res, (w, h) in SIZES.items():
        # in a child process: a clip is built in memory, and a run forked from a large process
        # would start with its size (and report it as its peak memory)
        print(f"building {len(tiles)} clips at {w}x{h} ...", flush=True)
        build = (
            f"import sys; sys.path.insert(0, {str(TOOLS)!r}); import make_videos; "
            f"make_videos.main({str(mosaics)!r}, {tiles!r}, {str(fresh_dir(dirs[res]))!r}, "
            f"W={w}, H={h}, fps={FPS}, seconds={seconds})"
        )
        run = run_measured("make_videos", [sys.executable, "-c", build], out / f"clips{res}.log")
        if not run.ok:
            sys.exit(f"make_videos failed: {run.describe_failure()}")
    stamp.write_text(wanted)
    return dirs


def face_scores(gt_dir: Path, out_dir: Path) -> dict[int, list[tuple[float, float]]]:
    """Per face (clip * 10000 + id): (height, covered share) for every frame it is mostly inside."""
    video_coverage = importlib.import_module("video_coverage")
    args = SimpleNamespace(black=48, coverage=0.7, min_h=0)
    faces: dict[int, list[tuple[float, float]]] = {}
    for gt_path in sorted(gt_dir.glob("v*.json")):
        pairs: list[tuple[int, float, float]] = []
        frames = json.loads(gt_path.read_text())["frames"]
        video_coverage.score(
            frames, str(out_dir / f"{gt_path.stem}.mp4"), args, pairs, vid=int(gt_path.stem[1:])
        )
        for face, h, cov in pairs:
            faces.setdefault(int(face), []).append((h, cov))
    return faces


def table(scores: dict[str, dict[int, list[tuple[float, float]]]]) -> list[dict]:
    """Faces and face-frames exposed per band of 4K height, for each size, over the faces in both."""
    big = scores["2160"]
    ids = sorted(set(big) & set(scores["1080"]))
    rows = []
    for lo, hi in BANDS:
        band = [f for f in ids if lo <= float(np.median([h for h, _ in big[f]])) < hi]
        row: dict = {"band": f"{lo}-{'inf' if hi > 1e8 else int(hi)}", "faces": len(band)}
        for res, per_face in scores.items():
            covs = [[c for _, c in per_face[f]] for f in band]
            row[f"{res}_faces_exposed"] = int(sum(min(c) < 0.7 for c in covs))
            frames = [c for cs in covs for c in cs]
            row[f"{res}_frames_exposed"] = float(np.mean(np.array(frames) < 0.7)) if frames else None
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "video_4k")
    ap.add_argument("--clips", type=int, default=2, help="mosaics (16 crowd photos each) and clips")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    dirs = build(a.data, a.out, a.clips, a.seconds)
    scores, runs = {}, {}
    for res, gt_dir in dirs.items():
        out_dir = a.out / f"unseen{res}"
        run = run_unseen(gt_dir, out_dir, a.out / f"unseen{res}.log")
        if not run.ok:
            sys.exit(f"unseen failed at {res}: {run.describe_failure()}")
        frames = sum(len(json.loads(p.read_text())["frames"]) for p in gt_dir.glob("v*.json"))
        runs[res] = {"fps": frames / run.wall_s, "peak_mb": run.maxrss_mb}
        scores[res] = face_scores(gt_dir, out_dir)
    rows = table(scores)
    head = f"{'faces':>6} | {'exposed 4K':>10} {'1080p':>6} | {'frames 4K':>9} {'1080p':>7}"
    print(f"\n{'4K face height':>15} {head}")
    for r in rows:
        f4, f1 = r["2160_frames_exposed"], r["1080_frames_exposed"]
        print(
            f"{r['band']:>15} {r['faces']:>6} | {r['2160_faces_exposed']:>10} {r['1080_faces_exposed']:>6} | "
            f"{'-' if f4 is None else f'{f4:.2%}':>9} {'-' if f1 is None else f'{f1:.2%}':>7}"
        )
    for res, r in runs.items():
        print(f"unseen {res}p: {r['fps']:.1f} fps (start-up included), peak {r['peak_mb']:.0f} MB")
    worse = [r["band"] for r in rows if r["2160_faces_exposed"] > r["1080_faces_exposed"]]
    print("4K exposes more faces than its 1080p twin in: " + (", ".join(worse) if worse else "no band"))
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
