#!/usr/bin/env python3
"""Do review's suggestions point at the faces a normal run misses? Measured on the WIDER dev sample.

    python bench/suggestions.py --limit 60           # first 60 photos (sorted <event>/<name>.jpg)
    python bench/suggestions.py --reach 2.5 4        # the default reach beside a lower floor
    python bench/suggestions.py --least 0 0.08 --rank look score --top 1 30   # what the second look adds

Each photo is detected as ``unseen review`` detects it (unseen.api.detect, then the candidates of
unseen.review.suggest on the same pixels, once per ``--reach``, with their second-look scores),
keeping the candidates at least ``--min-height`` tall whose second look scores ``--least`` or more,
the first ``--top`` by the second look (as review orders them) or by the detector's score. A valid
annotated face is *missed* when under 70 % of its box is covered by what the run paints (regions
planned and painted as a fill: the same decision as ../shared/tools/face_coverage.py), and *under a
suggestion* when at least 50 % of its box is covered by the suggested regions as they would be
painted once accepted. Prints, per setting: the misses, the share of them under a suggestion, the
share that accepting every suggestion would protect (>= 70 %), and suggestions per photo. Nothing is
written but --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, TOOLS  # noqa: E402

sys.path.insert(0, str(TOOLS))
from face_coverage import load_gt  # noqa: E402

from unseen.api import Options, detect  # noqa: E402
from unseen.media.image import read_photo  # noqa: E402
from unseen.obscure import ObscureOptions, obscure  # noqa: E402
from unseen.plan import plan_regions  # noqa: E402
from unseen.regions import Regions  # noqa: E402
from unseen.review.suggest import LIMIT, MIN_HEIGHT, REACH, RECHECK, candidates  # noqa: E402

PROTECTED = 0.7  # face_coverage.py's default --coverage
UNDER = 0.5  # a miss this much under a suggested region is one a person is pointed at
BANDS = ((0, 10), (10, 16), (16, 32), (32, 10**6))  # face heights in pixels
WHITE = ObscureOptions(method="fill", color=(255, 255, 255))


def painted(regions: Regions, shape: tuple[int, int], options: Options) -> np.ndarray:
    """The pixels a run paints for ``regions`` (planned as the run plans them), as a bool mask."""
    canvas = np.zeros((*shape, 3), np.uint8)
    return obscure(canvas, plan_regions(regions, shape, options.plan), WHITE, inplace=True)[..., 0] > 0


def box_cover(mask: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Share of each ``x y w h`` face box covered by ``mask`` (0 for boxes with no pixel inside)."""
    height, width = mask.shape
    ii = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    out = np.zeros(len(faces))
    for k, (x, y, w, h) in enumerate(faces):
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if x1 > x0 and y1 > y0:
            out[k] = (ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]) / ((x1 - x0) * (y1 - y0))
    return out


def band(under: np.ndarray, inside: np.ndarray) -> str:
    """``found/missed`` among the misses of one height band."""
    return f"{int(under[inside].sum())}/{int(inside.sum())}"


def record(stats: dict, weak: Regions, missed: np.ndarray, shape: tuple[int, int], options: Options) -> None:
    """Add one photo's suggestions and what they cover of its missed faces to ``stats``."""
    cover = box_cover(painted(weak, shape, options), missed)
    stats["under"] += list(cover >= UNDER)
    stats["protected"] += list(cover >= PROTECTED)
    stats["suggested"] += len(weak)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="WIDER dev sample (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N photos")
    ap.add_argument("--reach", type=float, nargs="+", default=[REACH], help="thresholds divided by this")
    ap.add_argument(
        "--min-height", type=float, nargs="+", default=[MIN_HEIGHT], help="shorter ones are left out"
    )
    ap.add_argument("--top", type=int, nargs="+", default=[LIMIT], help="keep at most this many per photo")
    ap.add_argument(
        "--least", type=float, nargs="+", default=[RECHECK], help="second-look score needed (0: all)"
    )
    ap.add_argument(
        "--rank",
        nargs="+",
        choices=("look", "score"),
        default=["look"],
        help="order by the second look (as review does) or by the detector's score",
    )
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="save the numbers here")
    args = ap.parse_args()
    gt = load_gt(str(args.data / "wider_face_dev_bbx_gt.txt"))
    names = sorted(gt)[: args.limit]
    options = Options()
    misses = 0
    heights: list[int] = []
    runs = [
        (r, m, t, q, k)
        for r in args.reach
        for m in args.min_height
        for t in args.top
        for q in args.least
        for k in args.rank
    ]
    stats = {run: dict(under=[], protected=[], suggested=0) for run in runs}
    start = time.perf_counter()
    for n, name in enumerate(names, 1):
        pixels = read_photo(args.data / "images" / name).pixels
        shape = pixels.shape[:2]
        faces = gt[name][gt[name][:, 4] == 0, :4] if len(gt[name]) else np.zeros((0, 4), int)
        found = detect(pixels, options.sensitivity)
        missed = faces[box_cover(painted(found, shape, options), faces) < PROTECTED]
        misses += len(missed)
        heights += [int(h) for h in missed[:, 3]]
        for reach in args.reach:  # one weak pass per reach; the rest only select from it
            low = min(args.min_height)
            weak, looks = candidates(pixels, found, options.sensitivity, reach=reach, min_height=low)
            for _, floor, top, least, rank in (run for run in runs if run[0] == reach):
                keep = (weak.heights >= floor) & (looks >= least)
                order = np.argsort(-(looks if rank == "look" else weak.scores)[keep], kind="stable")
                record(stats[reach, floor, top, least, rank], weak[keep][order[:top]], missed, shape, options)
        if n % 10 == 0:
            print(f"  {n}/{len(names)} photos, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    faces_total = sum(int((gt[x][:, 4] == 0).sum()) if len(gt[x]) else 0 for x in names)
    print(f"\n{len(names)} photos, {faces_total} valid faces, {misses} missed by the default run")
    hs = np.array(heights)
    for (reach, floor, top, least, rank), s in stats.items():
        under = np.array(s["under"], bool)
        s.update(
            reach=reach,
            top=top,
            min_height=floor,
            least=least,
            rank=rank,
            share_under=float(under.mean()) if misses else None,
            share_protected=float(np.mean(s["protected"])) if misses else None,
            per_photo=s["suggested"] / max(len(names), 1),
            by_height={f"{lo}-{hi}": band(under, (hs >= lo) & (hs < hi)) for lo, hi in BANDS},
        )
        print(
            f"reach {reach:g}, >= {floor:g} px, look >= {least:g}, by {rank}, at most {top}: "
            f"{int(under.sum())}/{misses} misses under a suggestion "
            f"({100 * (s['share_under'] or 0):.1f} %), {100 * (s['share_protected'] or 0):.1f} % protected "
            f"if all accepted, {s['per_photo']:.2f} suggestions per photo; found by height {s['by_height']}"
        )
        del s["under"], s["protected"]
    if args.json:
        payload = dict(photos=len(names), faces=faces_total, misses=misses, runs=list(stats.values()))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
