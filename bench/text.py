"""The text pass (--text) on a generated dev set: recall, collateral, and time per megapixel.

Dev set: photos that ship with scikit-image (no download), scaled to the sizes asked, with number
plates and name badges drawn in DejaVu and Liberation fonts where the system has them (else Pillow's
own): random letters and digits, character (cap) heights 10-60 px drawn log-uniformly, 70 % turned
at most 30 degrees and the rest up to 90, seen in perspective (one side up to 35 % shorter), blurred
(sigma 0-1.2 px) and grainy (2-6 grey levels). A plate or badge counts as found when at least 70 %
of its own pixels are painted (``tests/texts.py``).

Collateral: the share of pixels the text regions paint on the same photos without any text
(scikit-image's ``text`` photo is left out: it shows text). Time: ``unseen.api.anonymise`` per
megapixel with and without ``--text``, on the photos with plates, interleaved, in wall and in CPU
seconds (this process's, all threads: on a machine shared with other work the steadier of the two).
Video (``--video N``): a generated 1280 x 720 clip of N frames, a plate crossing it, through
``unseen.api.anonymise_video_file`` with and without ``--text``, interleaved ``--rounds`` times:
frames per second and CPU seconds per frame.

    PYTHONPATH=src python bench/text.py --photos 8 --sizes 2,12 --video 96
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from clips import make_clip  # noqa: E402
from scenes import background  # noqa: E402
from texts import Plate, plate_covered, random_text, render_plates  # noqa: E402

from unseen import api  # noqa: E402
from unseen.plan import plan_regions  # noqa: E402
from unseen.regions import kinds  # noqa: E402

PHOTOS = ("coffee", "rocket", "gravel", "brick", "grass")
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
]


def plates_for(rng: random.Random, width: int, height: int, n: int) -> list[Plate]:
    """``n`` plates and badges spread over a ``width`` x ``height`` picture, one per grid cell."""
    fonts = [f for f in FONTS if Path(f).exists()] or [None]
    cols = math.ceil(math.sqrt(n * width / height))
    rows = math.ceil(n / cols)
    cells = rng.sample(range(rows * cols), n)
    out = []
    for cell in cells:
        ch = math.exp(rng.uniform(math.log(10), math.log(60)))
        angle = rng.uniform(-30, 30) if rng.random() < 0.7 else rng.uniform(-90, 90)
        cw, chh = width / cols, height / rows
        cx = (cell % cols + rng.uniform(0.35, 0.65)) * cw
        cy = (cell // cols + rng.uniform(0.35, 0.65)) * chh
        style = rng.choice(["plate", "yellow", "badge"])
        text = random_text(rng) if style != "badge" else random_text(rng, rng.randint(4, 10)).title()
        blur, tilt = rng.uniform(0, 1.2), rng.uniform(0, 0.35)
        out.append(Plate(text, ch, cx, cy, angle, tilt, blur, style, rng.choice(fonts)))
    return out


def video_speed(frames: int, rounds: int, folder: Path) -> None:
    """Print 720p frames per second and CPU seconds per frame without and with ``--text``."""
    base = background((720, 1280), seed=5, kind="rocket")

    def picture(i: int) -> np.ndarray:
        plate = Plate("KL 3096", 18, -100 + 1480 * i / frames, 400 + i / 4, angle=8, style="yellow")
        return render_plates(base, [plate])[0]

    src = make_clip(folder / "street.mp4", frames=frames, size=(1280, 720), pictures=picture, audio=False)
    wall, cpu = {False: [], True: []}, {False: [], True: []}
    for _ in range(rounds):
        for text in (False, True):
            start, start_cpu = time.perf_counter(), time.process_time()
            api.anonymise_video_file(src, folder / "out.mp4", api.Options(text=text), overwrite=True)
            wall[text].append(frames / (time.perf_counter() - start))
            cpu[text].append((time.process_time() - start_cpu) / frames)
    for text in (False, True):
        fps = ", ".join(f"{f:.1f}" for f in wall[text])
        per = ", ".join(f"{c * 1000:.0f}" for c in cpu[text])
        print(f"720p video {'with' if text else 'without'} --text: {fps} fps; {per} ms CPU per frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=8, help="photos per size (default 8)")
    ap.add_argument("--sizes", default="2,12", help="megapixels, comma-separated (default 2,12)")
    ap.add_argument("--plates", type=int, default=8, help="plates and badges per photo (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--video", type=int, default=0, help="frames of a 720p clip to time (default none)")
    ap.add_argument("--rounds", type=int, default=2, help="video runs each way, interleaved (default 2)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    found = {"plate": [], "badge": []}
    collateral, seconds, cpu = [], {False: 0.0, True: 0.0}, {False: 0.0, True: 0.0}
    megapixels = 0.0
    api.anonymise(np.zeros((64, 64, 3), np.uint8), api.Options(text=True))  # open both networks
    for mp in (float(s) for s in args.sizes.split(",")):
        width, height = round(math.sqrt(mp * 1e6 * 3 / 2)), round(math.sqrt(mp * 1e6 * 2 / 3))
        for i in range(args.photos):
            kind = PHOTOS[i % len(PHOTOS)]
            clean = background((height, width), seed=i, kind=kind, blur=0.7)
            plates = plates_for(rng, width, height, args.plates)
            scene, quads = render_plates(clean, plates, noise=rng.uniform(2, 6), seed=i)
            for text in (False, True):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = api.anonymise(scene, api.Options(text=text))
                seconds[text] += time.perf_counter() - start
                cpu[text] += time.process_time() - start_cpu
            megapixels += width * height / 1e6
            for plate, quad in zip(plates, quads, strict=True):
                share = plate_covered(scene, result.image, quad)
                found["badge" if plate.style == "badge" else "plate"].append((share, plate))
            text_only = api.detect_text(clean)
            painted = np.zeros((height, width), bool)
            for x1, y1, x2, y2 in plan_regions(text_only, clean.shape).boxes.astype(int):
                painted[y1:y2, x1:x2] = True
            collateral.append(painted.mean())
            hits = sum(s >= 0.7 for s, _ in found["plate"] + found["badge"])
            print(
                f"{mp:g} MP {kind}: {hits} found so far, "
                f"collateral {painted.mean():.4%} ({len(text_only)} boxes), "
                f"{int((kinds(result.regions) == 'text').sum())} text regions",
                flush=True,
            )
    for name, rows in found.items():
        hit = [s >= 0.7 for s, _ in rows]
        print(f"{name}s: {sum(hit)} of {len(rows)} at least 70 % covered ({np.mean(hit):.1%})")
        for band in ((10, 15), (15, 25), (25, 61)):
            inside = [s >= 0.7 for s, p in rows if band[0] <= p.char_height < band[1]]
            if inside:
                print(f"  {band[0]}-{band[1]} px characters: {np.mean(inside):.1%} of {len(inside)}")
        steep = [s >= 0.7 for s, p in rows if abs(p.angle) > 30]
        if steep:
            print(f"  turned more than 30 degrees: {np.mean(steep):.1%} of {len(steep)}")
    print(f"collateral on photos without text: mean {np.mean(collateral):.3%}, max {np.max(collateral):.3%}")
    for name, spent in (("time", seconds), ("CPU time", cpu)):
        plain, text = spent[False] / megapixels, spent[True] / megapixels
        print(f"{name}: {plain:.2f} s/MP without --text, {text:.2f} s/MP with (+{text / plain - 1:.0%})")
    if args.video:
        with tempfile.TemporaryDirectory(prefix="unseen-text-bench-") as folder:
            video_speed(args.video, args.rounds, Path(folder))


if __name__ == "__main__":
    main()
