#!/usr/bin/env python3
"""x264 settings by measurement: preset and crf against encoding speed, size and quality.

    python bench/x264_settings.py                            # the astronaut pan at 1080p, 3 s
    python bench/x264_settings.py --clip bench/out/scale/clips1080/v00.mp4 --seconds 3

The frames are decoded once and painted once as unseen paints them (its detections on this clip,
black fill); then each setting encodes the same painted frames with unseen's writer (write_video,
x264 with unseen's other options) and is timed (wall and CPU, the encoder alone), sized (kbit/s)
and decoded again to compare with the painted frames on the pixels left unpainted: PSNR and SSIM
of the brightness (Rec. 601 luma of the RGB), every third frame. The settings alternate, round
after round, so that a busy neighbour slows each alike; medians are reported. The default clip is
bench/video_stages.py's (scikit-image's astronaut panned at 1080p, made here); --clip takes any
video (a WIDER clip of bench/scale.py: never commit it).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_OUT  # noqa: E402
from video_stages import FPS, make_clip  # noqa: E402

from unseen.api import anonymise_video_file  # noqa: E402
from unseen.media.video import Frame, probe, read_frames, write_video  # noqa: E402
from unseen.options import Options  # noqa: E402
from unseen.video_pipeline import paint_frames  # noqa: E402

PRESETS = ("ultrafast", "superfast", "veryfast", "faster")
CRFS = (18, 20, 23)
EVERY = 3  # frames compared: every third


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM per pixel (Wang et al. 2004: 11 x 11 Gaussian window, sigma 1.5) of two luma planes."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def quality(encoded: Path, painted: list[Frame], kept: list[np.ndarray]) -> tuple[float, float]:
    """PSNR (dB) and mean SSIM of the unpainted pixels, every EVERY-th frame."""
    squared, pixels, ssims = 0.0, 0, []
    for frame in read_frames(encoded):
        if frame.index % EVERY:
            continue
        a, b, mask = luma(painted[frame.index].pixels), luma(frame.pixels), kept[frame.index // EVERY]
        squared += float(((a - b) ** 2)[mask].sum())
        pixels += int(mask.sum())
        ssims.append(float(ssim_map(a, b)[mask].mean()))
    mse = squared / max(pixels, 1)
    return 10 * np.log10(255**2 / mse) if mse else float("inf"), float(np.mean(ssims))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=None, help="a video (default: the astronaut pan)")
    ap.add_argument("--seconds", type=float, default=3.0, help="frames used: the first this many seconds")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--presets", default=",".join(PRESETS), help="comma-separated (default %(default)s)")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)), help="comma-separated (default %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "x264_settings")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    clip = a.clip or make_clip(a.out / "pan_1920x1080_90.mp4", (1920, 1080), round(3 * FPS))
    info = probe(clip)
    limit = round(a.seconds * info.fps)
    report = anonymise_video_file(clip, a.out / "detected.mp4", overwrite=True)  # the regions to paint
    source = [Frame(f.index, f.pts, f.pixels.copy()) for f in itertools.islice(read_frames(clip), limit)]
    before = [f.pixels.copy() for f in source[::EVERY]]
    painted = list(paint_frames(iter(source), report.regions, plan=Options().plan, paint=Options().obscure))
    kept = [(p.pixels == b).all(axis=2) for p, b in zip(painted[::EVERY], before, strict=True)]
    settings = list(itertools.product(a.presets.split(","), (int(c) for c in a.crfs.split(","))))
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {s: [] for s in settings}
    sizes: dict[tuple[str, int], int] = {}
    for r in range(a.rounds):
        for preset, crf in settings if r % 2 == 0 else settings[::-1]:
            dst = a.out / f"{preset}_{crf}.mp4"
            wall, cpu = time.perf_counter(), time.process_time()
            write_video(clip, dst, info, painted, crf=crf, preset=preset, audio="drop", overwrite=True)
            runs[preset, crf].append((time.perf_counter() - wall, time.process_time() - cpu))
            sizes[preset, crf] = dst.stat().st_size
    seconds = len(painted) / info.fps
    unpainted = np.mean([k.mean() for k in kept])
    print(f"{clip.name}: {info.width}x{info.height}, {len(painted)} frames, {unpainted:.0%} unpainted")
    widths = {"crf": 3, "fps": 6, "CPU ms/frame": 12, "kbit/s": 7, "PSNR dB": 8, "SSIM": 7}
    print(f"{'preset':10s} " + " ".join(f"{k:>{n}s}" for k, n in widths.items()))
    for preset, crf in settings:
        wall = statistics.median(w for w, _ in runs[preset, crf])
        cpu = statistics.median(c for _, c in runs[preset, crf])
        psnr, ssim = quality(a.out / f"{preset}_{crf}.mp4", painted, kept)
        kbps = sizes[preset, crf] * 8 / 1000 / seconds
        print(
            f"{preset:10s} {crf:3d} {len(painted) / wall:6.1f} {1000 * cpu / len(painted):12.1f}"
            f" {kbps:7.0f} {psnr:8.2f} {ssim:7.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
