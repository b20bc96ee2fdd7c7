#!/usr/bin/env python3
"""Tile batching benchmark: seconds per photo and per 1080p frame with 1, 2, 4 tiles per network run.

    python bench/batch.py                   # 24 WIDER photos and 16 frames, batches 1 2 4, 2 rounds
    python bench/batch.py --photos 8 --batches 1 8 --rounds 3

In one process, with one model session (its thread budget is this process's, see unseen.machine):
every round times each batch size on the same photos (the photo cascade) and on the same 1080p
frames (the video cascade, frames of a make_videos-like pan over a WIDER photo), batch sizes
interleaved so that a busy neighbour on a shared machine slows each alike. Reports wall and CPU
seconds (process time: every thread of this process) per photo and per frame, best round and mean.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA  # noqa: E402

from unseen.detect.cascade import PHOTO_CASCADE, VIDEO_CASCADE, Cascade  # noqa: E402
from unseen.detect.model import shared_model  # noqa: E402
from unseen.media.image import read_photo  # noqa: E402


def frames_1080(photo: np.ndarray, count: int) -> list[np.ndarray]:
    """1080p views panning across ``photo`` scaled to cover 2400 x 1350 (faces at video sizes)."""
    h, w = photo.shape[:2]
    k = max(2400 / w, 1350 / h)
    big = cv2.resize(photo, (round(w * k), round(h * k)), interpolation=cv2.INTER_LINEAR)
    xs = np.linspace(0, big.shape[1] - 1920, count).round().astype(int)
    return [np.ascontiguousarray(big[:1080, x : x + 1920]) for x in xs]


def timed(cascade: Cascade, images: list[np.ndarray]) -> tuple[float, float, int]:
    wall, cpu, found = time.perf_counter(), time.process_time(), 0
    for image in images:
        found += len(cascade(image))
    return time.perf_counter() - wall, time.process_time() - cpu, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    images = sorted((a.data / "images").rglob("*.jpg"))[: a.photos]
    photos = [read_photo(p).pixels for p in images]
    frames = frames_1080(photos[0], a.frames)
    model = shared_model()
    sets = {"photo": (PHOTO_CASCADE, photos), "1080p frame": (VIDEO_CASCADE, frames)}
    Cascade(model, PHOTO_CASCADE)(photos[0])  # warm-up: arena and kernels
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for r in range(a.rounds):
        for batch in a.batches:
            model.batch = batch
            for kind, (options, items) in sets.items():
                wall, cpu, found = timed(Cascade(model, options), items)
                results.setdefault((kind, batch), []).append((wall / len(items), cpu / len(items)))
                print(
                    f"round {r + 1} batch {batch} {kind}: {wall / len(items):.3f} s wall, "
                    f"{cpu / len(items):.3f} s cpu each ({found} faces)",
                    flush=True,
                )
    threads = model._options.intra_op_num_threads
    print(f"\n{len(photos)} photos, {len(frames)} 1080p frames, {a.rounds} rounds, {threads} threads")
    for (kind, batch), rows in results.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(
            f"{kind:12} batch {batch}: wall {min(walls):.3f} s best, {np.mean(walls):.3f} mean; "
            f"cpu {min(cpus):.3f} s best, {np.mean(cpus):.3f} mean"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
