#!/usr/bin/env python3
"""Where the photo cascade spends its time: CPU seconds and network input pixels per view.

    python bench/cascade_views.py                       # first 40 dev photos
    python bench/cascade_views.py --limit 160 --every 4
    python bench/cascade_views.py --images bench/out/photos/sets/mosaics/images/12mp --limit 3
    python bench/cascade_views.py --ablate --limit 40   # what each view adds: faces lost without it
    python bench/cascade_views.py --ablate --data bench/out/photos/sets/turned

Each call of the network on a view (the native tiles, the mirrored and turned half-size views, the
coarse views, the fine windows, and the passes a turn vote adds) is timed in this process and its
input counted: the tiles' pixels, and the canvas the network sees (sides padded to 32), both per
megapixel of photo. Photos are read from --images (default: the dev sample), sorted, nothing written.

--ablate says what each view adds: every photo of --data (a WIDER layout: images/ and
wider_face_dev_bbx_gt.txt, e.g. the dev sample or the turned set bench/photos.py builds) is
searched by the whole cascade and by the cascade without one view, each painted as the photo
pipeline paints (fill, planned regions), and each annotated face counts as found when 70 % of its
box is painted (as ../shared/tools/face_coverage.py counts it). Per configuration: CPU seconds per
megapixel in the cascade, faces found per height band, and the faces the whole cascade finds that
this one does not (the view's own finds) against the CPU time it saves.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA  # noqa: E402

from unseen.api import anonymise  # noqa: E402
from unseen.detect import cascade  # noqa: E402
from unseen.detect.model import ALIGN, shared_model  # noqa: E402


class Meter:
    """Wraps ``Cascade._look``: seconds, calls, tile and canvas pixels per view."""

    def __init__(self) -> None:
        self.views: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0, 0])
        self._look = cascade.Cascade._look

    def install(self) -> None:
        meter = self

        def look(self, view, rects, scale, threshold, source, *, turn=0, flip=False, up=1.0):
            name = f"{source}{' mirrored' if flip else ''}{f' turn {turn}' if turn else ''} at {scale:.2g}"
            start = time.process_time()
            found = meter._look(self, view, rects, scale, threshold, source, turn=turn, flip=flip, up=up)
            row = meter.views[name]
            row[0] += time.process_time() - start
            row[1] += len(rects)
            for x0, y0, x1, y1 in rects:
                h, w = round((y1 - y0) * up), round((x1 - x0) * up)
                row[2] += h * w
                row[3] += -(-h // ALIGN) * ALIGN * (-(-w // ALIGN) * ALIGN)
            return found

        cascade.Cascade._look = look


# Each configuration is the photo cascade with these options changed.
ABLATIONS: dict[str, dict] = {
    "all views": {},
    "no mirrored": {"mirror": False},  # and so no seconding and no turn vote
    "no turned": {"turned": False},  # and so no turn vote
    "no turn vote": {"vote": False},
    "no coarse": {"coarse_side": 10**9},
    "coarse always": {"coarse_after": 0.0},  # as before the mirrored view stood in for them
    "no fine": {"fine": False},
}
BANDS = ((0, 10), (10, 16), (16, 32), (32, 64), (64, 10**9))
COVERAGE, BLACK = 0.7, 32  # face_coverage.py's defaults


def load_truth(path: Path) -> dict[str, np.ndarray]:
    """WIDER ground truth: photo -> (N, 4) x, y, w, h."""
    lines, truth, i = path.read_text().split("\n"), {}, 0
    while i < len(lines) and lines[i].strip():
        n = int(lines[i + 1])
        rows = [[int(v) for v in lines[i + 2 + j].split()[:4]] for j in range(n)]
        truth[lines[i].strip()] = np.array(rows, np.int64).reshape(-1, 4)
        i += 2 + max(n, 1)
    return truth


def found_faces(rgb: np.ndarray, regions, boxes: np.ndarray) -> np.ndarray:
    """Which annotated faces the painted photo covers (face_coverage.py's rule)."""
    black = anonymise(rgb, regions=regions).image.max(axis=2) < BLACK
    h, w = black.shape
    hit = np.zeros(len(boxes), bool)
    for i, (x, y, bw, bh) in enumerate(boxes):
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        hit[i] = x1 > x0 and y1 > y0 and black[y0:y1, x0:x1].mean() >= COVERAGE
    return hit


def ablate(data: Path, limit: int, every: int) -> None:
    truth = load_truth(data / "wider_face_dev_bbx_gt.txt")
    names = sorted(truth)[::every][:limit]
    detectors = {
        name: cascade.Cascade(shared_model(), cascade.replace(cascade.PHOTO_CASCADE, **change))
        for name, change in ABLATIONS.items()
    }
    detectors["all views"](np.zeros((64, 64, 3), np.uint8))  # the session's first run allocates
    seconds = dict.fromkeys(ABLATIONS, 0.0)
    hits: dict[str, list[np.ndarray]] = {name: [] for name in ABLATIONS}
    heights, mp = [], 0.0
    for rel in names:
        with Image.open(data / "images" / rel) as im:
            rgb = np.asarray(im.convert("RGB"))
        mp += rgb.shape[0] * rgb.shape[1] / 1e6
        boxes = truth[rel]
        heights.append(boxes[:, 3])
        for name, detector in detectors.items():
            start = time.process_time()
            regions = detector(rgb)
            seconds[name] += time.process_time() - start
            hits[name].append(found_faces(rgb, regions, boxes))
    h = np.concatenate(heights)
    everything = np.concatenate(hits["all views"])
    print(f"{len(names)} photos, {mp:.1f} MP, {len(h)} faces from {data}\n")
    bands = [f"{lo}-{hi}" if hi < 10**9 else f">={lo}" for lo, hi in BANDS]
    counts = " ".join(
        f"{f'{b} ({((h >= lo) & (h < hi)).sum()})':>11s}" for b, (lo, hi) in zip(bands, BANDS, strict=True)
    )
    print(f"{'configuration':14s} {'CPU s/MP':>9s} {counts} {'lost':>5s} {'gained':>6s} {'saved s':>8s}")
    for name in ABLATIONS:
        hit = np.concatenate(hits[name])
        per_band = " ".join(f"{hit[(h >= lo) & (h < hi)].sum():11d}" for lo, hi in BANDS)
        lost, gained = int((everything & ~hit).sum()), int((hit & ~everything).sum())
        saved = seconds["all views"] - seconds[name]
        print(f"{name:14s} {seconds[name] / mp:9.3f} {per_band} {lost:5d} {gained:6d} {saved:8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=DEFAULT_DATA / "images", help="folder of photos")
    ap.add_argument("--limit", type=int, default=40, help="first N photos (sorted), after --every")
    ap.add_argument("--every", type=int, default=1, help="every Nth photo")
    ap.add_argument("--ablate", action="store_true", help="faces found without each view (see above)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="WIDER layout for --ablate")
    a = ap.parse_args()
    if a.ablate:
        ablate(a.data, a.limit, a.every)
        return 0
    files = sorted(p for p in a.images.rglob("*") if p.suffix.lower() in {".jpg", ".png"})[:: a.every]
    files = files[: a.limit]
    if not files:
        sys.exit(f"no photos under {a.images}")
    meter = Meter()
    meter.install()
    detector = cascade.Cascade(shared_model(), cascade.PHOTO_CASCADE)
    detector(np.zeros((64, 64, 3), np.uint8))  # the session's first run allocates: not a view's cost
    meter.views.clear()
    mp, start = 0.0, time.process_time()
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        mp += rgb.shape[0] * rgb.shape[1] / 1e6
        detector(rgb)
    total = time.process_time() - start
    print(f"{len(files)} photos, {mp:.1f} MP: {total / mp:.3f} CPU s/MP in the cascade\n")
    head = ("view", "CPU s/MP", "share", "tile MP/MP", "canvas MP/MP", "calls")
    print(f"{head[0]:28s} {head[1]:>9s} {head[2]:>6s} {head[3]:>11s} {head[4]:>13s} {head[5]:>6s}")
    for name, (seconds, calls, pixels, canvas) in sorted(meter.views.items(), key=lambda kv: -kv[1][0]):
        print(
            f"{name:28s} {seconds / mp:9.3f} {seconds / total:6.0%} {pixels / 1e6 / mp:11.3f}"
            f" {canvas / 1e6 / mp:13.3f} {calls:6d}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
