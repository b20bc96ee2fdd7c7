#!/usr/bin/env python3
"""Where the photo cascade spends its time: CPU seconds and network input pixels per view.

    python bench/cascade_views.py                       # first 40 dev photos
    python bench/cascade_views.py --limit 160 --every 4
    python bench/cascade_views.py --images bench/out/photos/sets/mosaics/images/12mp --limit 3

Each call of the network on a view (the native tiles, the mirrored and turned half-size views, the
coarse views, the fine windows, and the passes a turn vote adds) is timed in this process and its
input counted: the tiles' pixels, and the canvas the network sees (sides padded to 32), both per
megapixel of photo. Photos are read from --images (default: the dev sample), sorted, nothing written.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=DEFAULT_DATA / "images", help="folder of photos")
    ap.add_argument("--limit", type=int, default=40, help="first N photos (sorted), after --every")
    ap.add_argument("--every", type=int, default=1, help="every Nth photo")
    a = ap.parse_args()
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
