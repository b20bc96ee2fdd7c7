#!/usr/bin/env python3
"""Photo benchmark: unseen vs deface 1.5.0 on the WIDER dev sample, same run, same machine.

    python bench/photos.py                 # all 320 photos, both tools
    python bench/photos.py --limit 4       # first 4 photos (sorted <event>/<name>.jpg)
    python bench/photos.py --skip-deface --json bench/out/photos.json

Both tools run in solid black fill mode, one process each over all selected photos:
  unseen <images> -o OUT/unseen --method fill --quiet --overwrite
  deface --thresh 0.2 --mask-scale 1.3 --replacewith solid <photo> <photo> ...
and are scored with ../shared/tools/face_coverage.py. Time per photo is the whole process wall
time (model loading included, for both) divided by the number of photos. Peak memory is the
child's ru_maxrss from os.wait4 (largest single process in its tree); the sampled sum over the
tree is shown for information. Exits 0; failing targets are listed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_OUT,
    Row,
    Run,
    Target,
    add_common_args,
    finish,
    num,
    pct,
    print_table,
    report_runs,
    rows_json,
    run_deface,
    run_json,
    run_unseen,
    scorer,
    symlink_tree,
    target_summary,
    warm_cache,
)

BINS = [
    ("h0-10", "< 10", Target(">=", 0.80, ">= 80 %")),
    ("h10-16", "10-16", Target(">=", 0.92, ">= 92 %")),
    ("h16-32", "16-32", Target(">=", 0.98, ">= 98 %")),
    ("h32-64", "32-64", None),
    ("h64-inf", ">= 64", None),
]
BIN_EDGES = {
    "h0-10": (0, 10),
    "h10-16": (10, 16),
    "h16-32": (16, 32),
    "h32-64": (32, 64),
    "h64-inf": (64, 10**9),
    "h32-inf": (32, 10**9),
}
COVERAGE = 0.7  # face_coverage.py's default --coverage


def score(tool: str, out: Path, data: Path, listfile: Path) -> dict | None:
    faces_json = out / f"{tool}_faces.json"
    res, err = run_json(
        scorer("face_coverage.py")
        + ["--data", data, "--out", out / tool, "--list", listfile, "--json", faces_json]
    )
    if res is None:
        print(f"!! scoring {tool} failed: {err}", file=sys.stderr)
        return None
    faces = json.loads(faces_json.read_text())
    big = [f for f in faces if f["h"] >= 32]
    res["recall_h32-inf"] = round(sum(f["cov"] >= COVERAGE for f in big) / len(big), 4) if big else None
    res["_bin_counts"] = {k: sum(lo <= f["h"] < hi for f in faces) for k, (lo, hi) in BIN_EDGES.items()}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, DEFAULT_OUT / "photos", "first N photos in sorted order (symlinked, not copied)")
    a = ap.parse_args()
    data, out = a.data.resolve(), a.out.resolve()
    images = data / "images"
    names = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.jpg"))
    if not names:
        sys.exit(f"no photos under {images}")
    if a.limit:
        names = names[: a.limit]
    n = len(names)
    out.mkdir(parents=True, exist_ok=True)
    listfile = out / "selection.txt"
    listfile.write_text("".join(f"{x}\n" for x in names))
    files = [(images / x, x) for x in names]
    # a subset is passed to unseen as a folder of symlinks keeping <event>/<name>.jpg
    input_dir = symlink_tree(files, out / "_input") if a.limit else images
    print(f"{n} photos from {images}; outputs under {out}", flush=True)
    warm_cache(images / x for x in names)

    runs: dict[str, Run] = {}
    print("running unseen ...", flush=True)
    runs["unseen"] = run_unseen(input_dir, out / "unseen", out / "logs" / "unseen.log")
    if not a.skip_deface:
        print("running deface ...", flush=True)
        runs["deface"] = run_deface(files, out / "deface", out / "_stage_deface", out / "logs" / "deface.log")
    report_runs(runs.values())

    scores: dict[str, dict | None] = {}
    for tool, run in runs.items():
        scores[tool] = None
        if run.outputs:
            print(f"scoring {tool} ({run.outputs} outputs) ...", flush=True)
            scores[tool] = score(tool, out, data, listfile)
        else:
            print(f"!! {tool} wrote no outputs: not scored", file=sys.stderr)

    def sc(tool: str, key: str):
        s = scores.get(tool)
        return None if s is None else s.get(key)

    def per_photo(tool: str, attr: str):
        r = runs.get(tool)
        return getattr(r, attr) / n if r is not None and r.ok else None

    def mem(tool: str, attr: str):
        r = runs.get(tool)
        return getattr(r, attr) if r is not None and r.ok else None

    su, sd = per_photo("unseen", "wall_s"), per_photo("deface", "wall_s")
    counts = (scores.get("unseen") or scores.get("deface") or {}).get("_bin_counts", {})

    def label(key: str, text: str) -> str:
        return f"recall h {text} px" + (f" (n={counts[key]})" if key in counts else "")

    rows = [
        Row(
            "outputs written",
            mem("unseen", "outputs"),
            mem("deface", "outputs"),
            num(0),
            Target(">=", n, f"= {n}"),
        ),
        Row(
            "wall s/photo",
            su,
            sd,
            num(3, " s"),
            Target("<=", 1.0, "unseen/deface <= 1.00"),
            value=su / sd if su and sd else None,
            derived=True,
        ),
        Row(
            "CPU s/photo (user+sys)", per_photo("unseen", "cpu_s"), per_photo("deface", "cpu_s"), num(3, " s")
        ),
        Row("peak RSS (ru_maxrss)", mem("unseen", "maxrss_mb"), mem("deface", "maxrss_mb"), num(0, " MB")),
        Row(
            "peak tree RSS (sampled)",
            mem("unseen", "tree_rss_mb"),
            mem("deface", "tree_rss_mb"),
            num(0, " MB"),
        ),
        *[
            Row(label(k, t), sc("unseen", f"recall_{k}"), sc("deface", f"recall_{k}"), pct, tg)
            for k, t, tg in BINS
        ],
        Row(
            label("h32-inf", ">= 32"),
            sc("unseen", "recall_h32-inf"),
            sc("deface", "recall_h32-inf"),
            pct,
            Target(">=", 0.995, ">= 99.5 %"),
        ),
        *[
            Row(f"recall {s}", sc("unseen", f"recall_{s}"), sc("deface", f"recall_{s}"), pct)
            for s in ("easy", "medium", "hard", "all_valid")
        ],
        Row(
            "collateral area",
            sc("unseen", "collateral_area"),
            sc("deface", "collateral_area"),
            lambda v: pct(v, 3),
            Target("<=", 0.01, "<= 1 %"),
        ),
        Row("photos not scored (missing)", sc("unseen", "missing"), sc("deface", "missing"), num(0)),
    ]
    title = (
        f"Photos: {n} photos, {sum(counts.get(k, 0) for k, _, _ in BINS)} faces "
        f"(a face counts when >= {COVERAGE:.0%} of its box is black)"
    )
    print_table(title, rows, show_deface=not a.skip_deface)
    failed, unknown = target_summary(rows)
    for tool, run in runs.items():
        if not run.ok:
            failed.insert(0, f"{tool} run failed ({run.error or f'exit code {run.rc}'})")
    payload = dict(
        benchmark="photos",
        photos=n,
        data=data,
        out=out,
        runs=runs,
        scores={k: v for k, v in scores.items()},
        table=rows_json(rows),
    )
    return finish(failed, unknown, payload, a.json)


if __name__ == "__main__":
    sys.exit(main())
