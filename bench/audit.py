#!/usr/bin/env python3
"""Audit benchmark: how many of the run's missed faces does the audit's face check flag, and at what
cost in false findings, on the WIDER dev sample.

    python bench/audit.py                  # all 320 photos
    python bench/audit.py --limit 60       # the first 60 (sorted <event>/<name>.jpg)

For each photo: unseen anonymises it with its defaults (solid fill) and writes the output as a run
would (bench/out/audit/, never committed); the audit's face search then looks at the output. A
ground-truth face (valid WIDER box) is *missed by the run* when under 70 % of its box changed in the
output (the face_coverage.py rule). An audit face that lies outside the changed area is a finding;
it *flags* a missed face when the two boxes overlap (IoU >= 0.2, or the centre of one lies in the
other); a finding that matches no ground-truth face at all is a *false finding*. WIDER leaves many
crowd faces unannotated, so false findings are counted on all photos and on photos with 1-5 faces.

The search runs once with the lowest floors; the table then shows the trade-off for stricter floors
per detector (the audit's defaults are marked), computed on the same detections.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, DEFAULT_OUT  # noqa: E402

from unseen.api import anonymise  # noqa: E402
from unseen.audit.faces import (  # noqa: E402
    SearchOptions,
    changed_mask,
    raw_faces,  # noqa: E402
    share_inside,
)
from unseen.media.image import read_photo, write_photo  # noqa: E402
from unseen.regions import Regions, iou_matrix, nms  # noqa: E402

LOW = SearchOptions(
    sensitivity=2.0, centerface_score=0.06, turned_score=0.06, second_score=60
)  # floors 0.03, 30
CF_FLOORS = [0.05, 0.1, 0.15, 0.2, 0.3, 1.1]  # upright views
TURNED_FLOORS = [0.1, 0.2, 0.3, 0.5, 1.1]
YU_FLOORS = [40, 60, 70, 80, 101]  # 1.1 and 101: that detector or view off


def ground_truth(data: Path) -> dict[str, np.ndarray]:
    lines = (data / "wider_face_dev_bbx_gt.txt").read_text().split("\n")
    out, i = {}, 0
    while i < len(lines) and lines[i].strip():
        name, count = lines[i].strip(), int(lines[i + 1])
        rows = [list(map(int, lines[i + 2 + k].split()[:8])) for k in range(max(count, 1))]
        boxes = [[x, y, x + w, y + h] for x, y, w, h, *_, invalid in rows if not invalid and w > 0 and h > 0]
        out[name] = np.array(boxes, np.float32).reshape(-1, 4)
        i += 2 + max(count, 1)
    return out


def matches(found: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(F, G) bool: a finding and a ground-truth face are the same face."""
    if not len(found) or not len(gt):
        return np.zeros((len(found), len(gt)), bool)
    iou = iou_matrix(found, gt) >= 0.2
    fc = (found[:, :2] + found[:, 2:]) / 2
    gc = (gt[:, :2] + gt[:, 2:]) / 2
    f_in_g = (fc[:, None, 0] >= gt[None, :, 0]) & (fc[:, None, 0] <= gt[None, :, 2])
    f_in_g &= (fc[:, None, 1] >= gt[None, :, 1]) & (fc[:, None, 1] <= gt[None, :, 3])
    g_in_f = (gc[None, :, 0] >= found[:, None, 0]) & (gc[None, :, 0] <= found[:, None, 2])
    g_in_f &= (gc[None, :, 1] >= found[:, None, 1]) & (gc[None, :, 1] <= found[:, None, 3])
    return iou | f_in_g | g_in_f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "audit")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="save per-photo detections here")
    ap.add_argument("--from-json", type=Path, default=None, help="only print the table for saved detections")
    args = ap.parse_args()
    if args.from_json:
        report(json.loads(args.from_json.read_text()), None)
        return 0
    gt_all = ground_truth(args.data)
    names = sorted(gt_all)[: args.limit]
    records = []
    seconds = 0.0
    for n, name in enumerate(names, 1):
        photo = read_photo(args.data / "images" / name)
        out_path = args.out / name
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_photo(photo, anonymise(photo.pixels).image, out_path, overwrite=True)
        output = read_photo(out_path).pixels
        t0 = time.perf_counter()
        found = raw_faces(output, LOW)
        obscured = changed_mask(photo.pixels, output)
        seconds += time.perf_counter() - t0
        gt = gt_all[name]
        missed = np.array([share_inside(b, obscured) < 0.7 for b in gt], bool)
        outside = np.array([share_inside(b, obscured) < 0.5 for b in found.boxes], bool)
        records.append(
            {
                "name": name,
                "gt": gt.tolist(),
                "missed": missed.tolist(),
                "boxes": found.boxes[outside].tolist(),
                "scores": found.scores[outside].tolist(),
                "source": found.source[outside].tolist(),
            }
        )
        print(f"\r{n}/{len(names)} photos, {seconds / n:.2f} s audit search per photo", end="", flush=True)
    print()
    if args.json:
        args.json.write_text(json.dumps(records))
    report(records, seconds)
    return 0


def report(records: list[dict], seconds: float | None) -> None:
    default = SearchOptions()
    total_missed = sum(sum(r["missed"]) for r in records)
    few = [r for r in records if 1 <= len(r["gt"]) <= 5]
    print(
        f"photos {len(records)}, faces {sum(len(r['gt']) for r in records)}, missed by the run {total_missed}"
    )
    if seconds is not None:
        print(f"audit search: {seconds / max(len(records), 1):.2f} s per photo (4 turns, both detectors)")
    print()
    print("centerface>=  turned>=  yunet>=  flagged-missed  false/photo  false/photo(1-5 faces)")
    grid = [(cf, tu, yu) for cf in CF_FLOORS for tu in TURNED_FLOORS for yu in YU_FLOORS]
    for cf, tu, yu in grid:
        flagged = false_all = false_few = 0
        for r in records:
            source = np.array(r["source"], str)
            scores = np.array(r["scores"], np.float32)
            is_yunet = np.char.startswith(source, "yunet")
            turned = np.char.find(source, "@") >= 0
            keep = np.where(is_yunet, scores * 100 >= yu, scores >= np.where(turned, tu, cf))
            boxes = np.array(r["boxes"], np.float32).reshape(-1, 4)[keep]
            merged = nms(Regions.from_boxes(boxes, scores[keep]), 0.3).boxes if len(boxes) else boxes
            m = matches(merged, np.array(r["gt"], np.float32).reshape(-1, 4))
            missed = np.array(r["missed"], bool)
            flagged += int((m[:, missed].any(axis=0)).sum()) if len(missed) else 0
            false = int((~m.any(axis=1)).sum()) if len(merged) else 0
            false_all += false
            false_few += false if r in few else 0
        chosen = (default.centerface_score, default.turned_score, default.second_score)
        mark = " <- default" if (cf, tu, yu) == chosen else ""
        print(
            f"{cf:11.2f}  {tu:8.2f}  {yu:7d}  {flagged / max(total_missed, 1):14.1%}  "
            f"{false_all / len(records):11.2f}  {false_few / max(len(few), 1):22.2f}{mark}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
