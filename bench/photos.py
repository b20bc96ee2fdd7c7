#!/usr/bin/env python3
"""Photo benchmark: unseen vs deface 1.5.0 on the WIDER dev sample, same run, same machine.

    python bench/photos.py                          # every set, both tools
    python bench/photos.py --limit 32               # first 32 photos (sorted <event>/<name>.jpg) ...
    python bench/photos.py --sets upright,turned    # ... or only some sets
    python bench/photos.py --skip-deface --json bench/out/photos.json

Four sets, each run by both tools:
  upright  the photos as they are (<= 1024 px);
  12mp     the same photos tiled at native size into 4032x3024 mosaics (../shared/tools/make_mosaics.py):
           crowd faces keep their real sizes while the picture has a phone's resolution;
  48mp     the same into 8064x6048 mosaics;
  turned   photos with faces >= 40 px turned by 90, 180 or 270 degrees without an orientation tag
           (../shared/tools/make_rotated.py), compared with the same photos upright band by band,
           each face banded by its own height (the scorer's bands by box height are shown too:
           a face lying on its side has a box as tall as the face is wide).
The derived sets are built once into OUT/sets (rebuilt when the selection changes); nothing from the
data set is committed. Both tools run in solid black fill mode, one process per tool and set:
  unseen <images> -o OUT/<set>/unseen --method fill --quiet --overwrite
  deface --thresh 0.2 --mask-scale 1.3 --replacewith solid <photo> <photo> ...
and are scored with ../shared/tools/face_coverage.py. Time is the whole process wall time (model
loading included, for both) per photo and per megapixel. Peak memory is the child's ru_maxrss from
os.wait4. Exits 0; failing targets are listed at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image

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
    run_measured,
    run_unseen,
    scorer,
    symlink_tree,
    target_summary,
    warm_cache,
)

BANDS = [
    ("h0-10", "< 10"),
    ("h10-16", "10-16"),
    ("h16-32", "16-32"),
    ("h32-64", "32-64"),
    ("h64-inf", ">= 64"),
]
BIN_EDGES = {
    "h0-10": (0, 10),
    "h10-16": (10, 16),
    "h16-32": (16, 32),
    "h32-64": (32, 64),
    "h64-inf": (64, 10**9),
    "h32-inf": (32, 10**9),
}
# Upright floors: today's (2026-11-27) per band, and >= 32 px raised to 99 %.
UPRIGHT_FLOORS = {"h0-10": 0.90, "h10-16": 0.96, "h16-32": 0.985, "h32-inf": 0.99}
COLLATERAL_FEW_LIMIT = 0.0076 + 0.002  # today's collateral on photos with 1-5 faces + 0.2 points
MOSAIC_GAP = 0.01  # per band, the mosaics' recall within 1 point of the upright sample's
TURNED_GAP = 0.015  # per band, turned photos within 1.5 points of the same photos upright
MEM_48MP_MB = 1000.0
COVERAGE = 0.7  # face_coverage.py's default --coverage
SETS = ("upright", "12mp", "48mp", "turned")
TOOLS_RUN = ["unseen", "deface"]  # the table's columns


def score(tool: str, out: Path, data: Path, listfile: Path, tag: str) -> dict | None:
    """face_coverage.py's numbers for one tool's outputs, plus recall >= 32 px and band counts."""
    faces_json = out / f"{tool}_{tag}_faces.json"
    res, err = run_json(
        scorer("face_coverage.py")
        + ["--data", data, "--out", out / tool, "--list", listfile, "--json", faces_json]
    )
    if res is None:
        print(f"!! scoring {tool} ({tag}) failed: {err}", file=sys.stderr)
        return None
    faces = json.loads(faces_json.read_text())
    res["recall_h32-inf"] = recall([f for f in faces if f["h"] >= 32])
    res["_bin_counts"] = {k: sum(lo <= f["h"] < hi for f in faces) for k, (lo, hi) in BIN_EDGES.items()}
    own = {k: [f for f in faces if lo <= own_height(f) < hi] for k, (lo, hi) in BIN_EDGES.items()}
    res |= {f"recall_own_{k}": recall(band) for k, band in own.items()}
    res["_own_counts"] = {k: len(band) for k, band in own.items()}
    return res


def recall(faces: list[dict]) -> float | None:
    """The share of ``faces`` (the scorer's per-face records) that count as protected."""
    return round(sum(f["cov"] >= COVERAGE for f in faces) / len(faces), 4) if faces else None


def own_height(face: dict) -> int:
    """A face's height in its own upright frame: in a photo turned a quarter turn (make_rotated.py
    names it ``..._r90`` or ``..._r270``) that is its box's width. The scorer bands faces by box
    height, which puts a face 27 px wide and 58 px tall into 16-32 px once its photo lies on its side,
    while the same face upright is in >= 32: comparing turned photos with the same photos upright band
    by band needs each face in the same band in both."""
    quarter = face["img"].rsplit(".", 1)[0].endswith(("_r90", "_r270"))
    return face["w"] if quarter else face["h"]


def ensure_sets(data: Path, names: list[str], root: Path, n12: int, n48: int) -> tuple[Path, Path]:
    """The mosaics and the turned photos of ``names``, built by the shared tools once per selection."""
    root.mkdir(parents=True, exist_ok=True)
    selection = root / "selection.txt"
    wanted = "".join(f"{x}\n" for x in names) + f"# mosaics {n12} {n48}\n"
    mosaics, turned = root / "mosaics", root / "turned"
    if selection.exists() and selection.read_text() == wanted and (mosaics / "list.txt").exists():
        if (turned / "list.txt").exists():
            print(f"sets: reusing {root}", flush=True)
            return mosaics, turned
    print(f"sets: building 12/48 MP mosaics and turned photos into {root} ...", flush=True)
    listing = root / "names.txt"
    listing.write_text("".join(f"{x}\n" for x in names))
    for tool, args in (
        ("make_mosaics.py", [data, listing, mosaics, n12, n48]),
        ("make_rotated.py", [data, listing, turned]),
    ):
        run = run_measured(tool, scorer(tool) + args, root / f"{tool}.log")
        if not run.ok:
            sys.exit(f"{tool} failed: {run.describe_failure()}")
    selection.write_text(wanted)
    return mosaics, turned


def megapixels(images: Path, rels: list[str]) -> float:
    total = 0
    for rel in rels:
        with Image.open(images / rel) as im:
            total += im.width * im.height
    return total / 1e6


class Bench:
    """One set: both tools over the same photos, scored; rows for the table."""

    def __init__(self, tag: str, data: Path, rels: list[str], out: Path, skip_deface: bool) -> None:
        self.tag, self.data, self.rels, self.out = tag, data, rels, out
        images = data / "images"
        out.mkdir(parents=True, exist_ok=True)
        self.listfile = out / "selection.txt"
        self.listfile.write_text("".join(f"{x}\n" for x in rels))
        files = [(images / x, x) for x in rels]
        self.mp = megapixels(images, rels)
        warm_cache(images / x for x in rels)
        self.runs: dict[str, Run] = {}
        print(f"[{tag}] {len(rels)} photos, {self.mp:.0f} MP: running unseen ...", flush=True)
        input_dir = symlink_tree(files, out / "_input")
        self.runs["unseen"] = run_unseen(input_dir, out / "unseen", out / "logs" / "unseen.log")
        if not skip_deface:
            print(f"[{tag}] running deface ...", flush=True)
            self.runs["deface"] = run_deface(
                files, out / "deface", out / "_stage_deface", out / "logs" / "deface.log"
            )
        report_runs(self.runs.values())
        self.scores: dict[str, dict | None] = {}
        for tool, run in self.runs.items():
            self.scores[tool] = None
            if run.outputs:
                print(f"[{tag}] scoring {tool} ({run.outputs} outputs) ...", flush=True)
                self.scores[tool] = score(tool, out, data, self.listfile, tag)
            else:
                print(f"!! [{tag}] {tool} wrote no outputs: not scored", file=sys.stderr)

    def sc(self, tool: str, key: str) -> float | None:
        s = self.scores.get(tool)
        return None if s is None else s.get(key)

    def each(self, value: Callable[[str], float | None]) -> dict[str, float | None]:
        """A row's values: ``value(tool)`` for both tools."""
        return {t: value(t) for t in TOOLS_RUN}

    def scored(self, key: str) -> dict[str, float | None]:
        return self.each(lambda t: self.sc(t, key))

    def measured(self, attr: str) -> dict[str, float | None]:
        return self.each(lambda t: self.run_value(t, attr))

    def run_value(self, tool: str, attr: str) -> float | None:
        r = self.runs.get(tool)
        return getattr(r, attr) if r is not None and r.ok else None

    def counts(self, key: str = "_bin_counts") -> dict:
        """Faces per band (``_own_counts``: by their own heights), from whichever tool was scored."""
        return (self.scores.get("unseen") or self.scores.get("deface") or {}).get(key, {})

    def rows(self, floors: dict[str, Target | None], own: bool = False) -> list[Row]:
        """Recall per band (with ``floors``' targets), collateral, time and memory; with ``own``, the
        bands by each face's own height (:func:`own_height`) follow, and ``floors`` are theirs."""
        counts = self.counts()
        n = len(self.rels)

        def per(tool: str, attr: str, by: float) -> float | None:
            v = self.run_value(tool, attr)
            return None if v is None else v / by

        su, sd = per("unseen", "wall_s", self.mp), per("deface", "wall_s", self.mp)
        rows = [
            Row(
                "outputs written",
                self.measured("outputs"),
                num(0),
                Target(">=", n, f"= {n}"),
            ),
            Row("wall s/photo", self.each(lambda t: per(t, "wall_s", n)), num(3, " s")),
            Row(
                "wall s/MP",
                {"unseen": su, "deface": sd},
                num(3, " s"),
                Target("<=", 1.0, "unseen/deface <= 1.00"),
                value=su / sd if su and sd else None,
                derived=True,
            ),
            # on a shared machine the wall time depends on what else runs; CPU time much less
            Row(
                "CPU s/MP (user+sys)",
                self.each(lambda t: per(t, "cpu_s", self.mp)),
                num(3, " s"),
            ),
            Row(
                "peak RSS (ru_maxrss)",
                self.measured("maxrss_mb"),
                num(0, " MB"),
                Target("<=", MEM_48MP_MB, f"<= {MEM_48MP_MB:.0f} MB") if self.tag == "48mp" else None,
            ),
        ]
        banded = [("recall_", "recall h", counts, {} if own else floors)]
        if own:
            banded.append(("recall_own_", "recall, own height", self.counts("_own_counts"), floors))
        for prefix, title, ns, targets in banded:
            for key, text in [*BANDS, ("h32-inf", ">= 32")]:
                label = f"{title} {text} px" + (f" (n={ns[key]})" if key in ns else "")
                rows.append(
                    Row(
                        label,
                        self.scored(prefix + key),
                        pct,
                        targets.get(key),
                    )
                )
        rows += [
            Row(
                "collateral area",
                self.scored("collateral_area"),
                lambda v: pct(v, 3),
            ),
            Row(
                "collateral, photos with 1-5 faces",
                self.scored("collateral_few"),
                lambda v: pct(v, 3),
                Target("<=", COLLATERAL_FEW_LIMIT, f"<= {100 * COLLATERAL_FEW_LIMIT:.2f} %")
                if self.tag == "upright"
                else None,
            ),
            Row(
                "photos not scored (missing)",
                self.scored("missing"),
                num(0),
            ),
        ]
        return rows


def relative_floors(
    reference: dict | None, gap: float, what: str, prefix: str = "recall_"
) -> dict[str, Target | None]:
    """Per band: no more than ``gap`` under the reference recall (unseen's, same run)."""
    if not reference:
        return {}
    return {
        key: Target(
            ">=",
            reference[f"{prefix}{key}"] - gap,
            f">= {what} - {100 * gap:.1f} pt ({100 * (reference[f'{prefix}{key}'] - gap):.2f} %)",
        )
        for key, _ in [*BANDS, ("h32-inf", "")]
        if reference.get(f"{prefix}{key}") is not None
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, DEFAULT_OUT / "photos", "first N photos in sorted order (symlinked, not copied)")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of %(default)s")
    ap.add_argument(
        "--mosaics",
        type=int,
        nargs=2,
        default=None,
        metavar=("N12", "N48"),
        help="how many 12 and 48 MP mosaics (default: enough to use every photo once)",
    )
    a = ap.parse_args()
    chosen = [s.strip() for s in a.sets.split(",") if s.strip()]
    if unknown := set(chosen) - set(SETS):
        sys.exit(f"unknown set(s): {', '.join(sorted(unknown))}")
    data, out = a.data.resolve(), a.out.resolve()
    images = data / "images"
    names = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.jpg"))
    if not names:
        sys.exit(f"no photos under {images}")
    names = names[: a.limit] if a.limit else names
    n12, n48 = a.mosaics or (math.ceil(len(names) / 16), math.ceil(len(names) / 64))
    print(f"{len(names)} photos from {images}; outputs under {out}", flush=True)

    benches: dict[str, Bench] = {}
    if any(s != "upright" for s in chosen):
        mosaics, turned = ensure_sets(data, names, out / "sets", n12, n48)
    # the upright sample is needed as the reference of every other set
    benches["upright"] = Bench("upright", data, names, out / "upright", a.skip_deface)
    for tag in ("12mp", "48mp"):
        if tag in chosen:
            rels = [x for x in (mosaics / "list.txt").read_text().split() if x.startswith(tag + "/")]
            benches[tag] = Bench(tag, mosaics, rels, out / tag, a.skip_deface)
    if "turned" in chosen:
        rels = (turned / "list.txt").read_text().split()
        benches["turned"] = Bench("turned", turned, rels, out / "turned", a.skip_deface)
        # the same photos upright, scored from the upright run
        sources = [f"{rel.rsplit('_r', 1)[0]}.jpg" for rel in rels]
        same = out / "upright" / "turned_sources.txt"
        same.write_text("".join(f"{x}\n" for x in sources))
        up = benches["upright"]
        turned_reference = (
            score("unseen", up.out, data, same, "turned_sources") if up.runs["unseen"].outputs else None
        )

    payload: dict = dict(benchmark="photos", photos=len(names), data=data, out=out, sets={})
    failed: list[str] = []
    unknown_targets: list[str] = []
    upright_ref = benches["upright"].scores.get("unseen")
    for tag, bench in benches.items():
        if tag == "upright":
            floors = {k: Target(">=", v, f">= {100 * v:.1f} %") for k, v in UPRIGHT_FLOORS.items()}
            title = "upright photos"
        elif tag == "turned":
            floors = relative_floors(turned_reference, TURNED_GAP, "same photos upright", "recall_own_")
            title = "turned photos (90/180/270, no orientation tag)"
            if turned_reference:
                print(
                    "\n[turned] the same photos upright, unseen: "
                    + ", ".join(f"{t} px {pct(turned_reference.get(f'recall_{k}'))}" for k, t in BANDS)
                )
        else:
            floors = relative_floors(upright_ref, MOSAIC_GAP, "upright")
            title = f"{tag[:2]} MP mosaics of the same photos"
        counts = bench.counts()
        rows = bench.rows(floors, own=tag == "turned")
        print_table(
            f"{title}: {len(bench.rels)} photos, {sum(counts.get(k, 0) for k, _ in BANDS)} faces "
            f"(a face counts when >= {COVERAGE:.0%} of its box is black)",
            rows,
            TOOLS_RUN[:1] if a.skip_deface else TOOLS_RUN,
        )
        f, u = target_summary(rows, prefix=f"[{tag}] ")
        failed += f
        unknown_targets += u
        for tool, run in bench.runs.items():
            if not run.ok:
                failed.insert(0, f"[{tag}] {tool} run failed ({run.error or f'exit code {run.rc}'})")
        payload["sets"][tag] = dict(
            runs=bench.runs, scores=bench.scores, megapixels=bench.mp, table=rows_json(rows)
        )
    return finish(failed, unknown_targets, payload, a.json)


if __name__ == "__main__":
    sys.exit(main())
