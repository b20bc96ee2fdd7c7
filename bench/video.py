#!/usr/bin/env python3
"""Video benchmark: unseen (and an older revision of it) vs deface 1.5.0 on moving-camera clips built
from the WIDER dev sample.

    python bench/video.py                        # default clips at 720p and at 1080p, both tools
    python bench/video.py --limit 1 --only 720   # first make_videos clip (and the pan), 720p only
    python bench/video.py --only 720 --clips all --baseline b58cff5 --skip-deface
    python bench/video.py --skip-deface --json bench/out/video.json

Clip sets (--clips): ``default`` is the make_videos clips, from ../shared/tools/make_videos.py (8 s,
30 fps, H.264; sources in video_sources.txt) at 1280x720 into OUT/clips720 and 1920x1080 into
OUT/clips1080, plus v90, a handheld portrait pan (bench/handheld.py: 720x1280 or 1080x1920, 12 px/frame
with shake, faces entering and leaving at the sides) of HANDHELD_SOURCE; ``dev`` is bench/dev_clips.py's
clips (faces through each edge, a fast pan, a zoom-in, a scene cut, a 20 s static shot of small faces,
a wrong 180 degree rotation flag) in OUT/dev<res>; ``all`` is both. Clips are cached (rebuilt when
missing or built from another photo, size or recipe); they come from the data set: never commit them.

Each tool runs once per kind of clip (one process over that kind's clips) in solid black fill mode:
  unseen <clips> -o OUT/run<res>/<tool>/<kind> --method fill --quiet --overwrite --regions FILE
  deface --thresh 0.2 --mask-scale 1.3 --replacewith solid --ffmpeg-config <libx264, no resize> <clips>
With --baseline REV, unseen at git revision REV (a worktree at OUT/_rev_REV, made once) runs the same
way as ``python -m unseen`` with OUT/_rev_REV/src first on PYTHONPATH, kind by kind right beside the
current code, which goes first on every other kind, so both see the same load; it is scored the same.
Scores, per kind and in total: ../shared/tools/video_coverage.py (faces and face-frames exposed),
video_tracks.py on the regions file (tracks per ground-truth face, tracks touching no face; and
track_split.py's split of the tracks per face into the face's own, its neighbours' and no face's),
video_overpaint.py (frames painted whole, mean and largest painted share of a frame), and here the share
of non-face pixels painted (black in the output, max channel < 48, not in the source, outside every
ground-truth face box) and, per frame of the handheld pan, the painted pixels over the area of the
faces' boxes grown as unseen grows a detection (unseen.plan's default margins). fps = ground-truth
frames / summed process wall time (start-up and model loading included, once per kind and tool).
Peak memory = child ru_maxrss (os.wait4). Exits 0; failing targets are listed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_OUT,
    REPO,
    TOOLS,
    Row,
    Run,
    Target,
    add_common_args,
    finish,
    num,
    pct,
    print_grid,
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
from dev_clips import ensure_dev_clips, reference  # noqa: E402
from handheld import KIND as HANDHELD_KIND  # noqa: E402
from handheld import make_handheld  # noqa: E402
from track_split import split as track_split  # noqa: E402

from unseen.plan import plan_regions  # noqa: E402
from unseen.regions import Regions  # noqa: E402

SIZES = {"720": (1280, 720, 25.0), "1080": (1920, 1080, 12.0)}  # W, H, fps target
HANDHELD = "v90"  # the handheld portrait pan's stem, after the make_videos clips
HANDHELD_SOURCE = "12--Group/12_Group_Group_12_Group_Group_12_519.jpg"  # 12 people in a row
BLACK = 48  # painted: max channel under this (as video_coverage.py)
MEM_TARGET_MB = {"1080": 500.0}
PAN_GROWN_RATIO = 2.0  # issue 18: the pan's painted area at most 2x the faces' own grown area
# imageio-ffmpeg (deface's writer) pads frames to a multiple of macro_block_size=16 by default,
# which would rescale 1920x1080 to 1920x1088 and shift every face against the ground truth.
DEFACE_VIDEO_ARGS = ["--ffmpeg-config", json.dumps({"codec": "libx264", "macro_block_size": 1})]


@dataclass
class Kind:
    """Clips of one kind: STEM.mp4 and STEM.json in ``clips``."""

    name: str
    clips: Path
    stems: list[str]


@dataclass(frozen=True)
class Tool:
    """A column of the tables: ``label``; ``src`` runs unseen from that source folder."""

    label: str
    program: str  # "unseen" or "deface"
    src: Path | None = None

    @property
    def slug(self) -> str:
        return self.label.replace("/", "_")


def clips_ready(clips: Path, names: list[str], w: int, h: int) -> bool:
    for i, name in enumerate(names):
        gt, mp4 = clips / f"v{i:02d}.json", clips / f"v{i:02d}.mp4"
        if not (gt.exists() and mp4.exists()):
            return False
        meta = json.loads(gt.read_text())
        if meta.get("source") != name or meta.get("size") != [w, h]:
            return False
    return True


def ensure_clips(data: Path, names: list[str], clips: Path, w: int, h: int) -> None:
    if clips_ready(clips, names, w, h):
        print(f"clips: reusing {clips}", flush=True)
        return
    print(f"clips: building {len(names)} clip(s) at {w}x{h} into {clips} ...", flush=True)
    t0 = time.perf_counter()
    sys.path.insert(0, str(TOOLS))
    make_videos = importlib.import_module("make_videos")
    # same seed and order as the CLI, so the first N clips are the same whatever N is
    make_videos.main(str(data), names, str(clips), W=w, H=h)
    print(f"clips: built in {time.perf_counter() - t0:.0f} s", flush=True)


def ensure_handheld(data: Path, clips: Path, w: int, h: int) -> None:
    """The portrait pan at the size's width and height swapped (720x1280, 1080x1920)."""
    gt = clips / f"{HANDHELD}.json"
    if gt.exists() and (clips / f"{HANDHELD}.mp4").exists():
        meta = json.loads(gt.read_text())
        if (meta.get("source"), meta.get("kind"), meta.get("size")) == (
            HANDHELD_SOURCE,
            HANDHELD_KIND,
            [h, w],
        ):
            return
    print(f"clips: building the handheld portrait pan at {h}x{w} ...", flush=True)
    make_handheld(data, HANDHELD_SOURCE, clips, HANDHELD, (h, w))


def baseline_src(out: Path, rev: str) -> Path:
    """The sources of git revision ``rev``, checked out once into a detached worktree under ``out``."""
    tree = out / f"_rev_{rev}"
    want = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", f"{rev}^{{commit}}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not (tree / "src" / "unseen").is_dir():
        print(f"baseline: checking out {rev} into {tree} ...", flush=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True)
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.stdout.strip() != want:
        subprocess.run(["git", "-C", str(tree), "checkout", "--quiet", "--detach", want], check=True)
    return tree / "src"


def clip_kinds(a: argparse.Namespace, data: Path, out: Path, res: str, names: list[str]) -> list[Kind]:
    """The kinds of clips of ``--clips`` at this size, built where missing."""
    w, h, _ = SIZES[res]
    kinds = []
    if a.clips in ("default", "all"):
        clips = out / f"clips{res}"
        ensure_clips(data, names, clips, w, h)
        ensure_handheld(data, clips, w, h)
        kinds += [
            Kind("make_videos", clips, [f"v{i:02d}" for i in range(len(names))]),
            Kind("handheld", clips, [HANDHELD]),
        ]
    if a.clips in ("dev", "all"):
        dev = out / f"dev{res}"
        kinds += [Kind(k, dev, stems) for k, stems in ensure_dev_clips(data, dev, (w, h)).items()]
    return kinds


@dataclass
class Trees:
    """Folders of symlinks for one scope (a kind, or all of them): the clips and their ground truth
    (unseen's input, the scorers' GTDIR) and the clips as displayed (video_overpaint's INDIR)."""

    gt: Path
    ref: Path


def make_trees(kinds: list[Kind], root: Path, name: str) -> Trees:
    pairs = [(k.clips, s) for k in kinds for s in k.stems]
    gt = symlink_tree(
        [(c / f"{s}.{ext}", f"{s}.{ext}") for c, s in pairs for ext in ("mp4", "json")], root / "_in" / name
    )
    return Trees(gt, symlink_tree([(reference(c, s), f"{s}.mp4") for c, s in pairs], root / "_ref" / name))


def run_kind(tool: Tool, kind: Kind, trees: Trees, root: Path, logs: Path) -> Run:
    out_dir = root / tool.slug / kind.name
    log = logs / f"{tool.slug}-{kind.name}.log"
    if tool.program == "deface":
        files = [(trees.gt / f"{s}.mp4", f"{s}.mp4") for s in kind.stems]
        return run_deface(files, out_dir, root / "_stage_deface" / kind.name, log, DEFACE_VIDEO_ARGS)
    regions = root / "regions" / f"{tool.slug}-{kind.name}.json"  # outside the outputs, as unseen asks
    regions.parent.mkdir(parents=True, exist_ok=True)
    regions.unlink(missing_ok=True)
    run = run_unseen(
        trees.gt,
        out_dir,
        log,
        label=f"{tool.label} {kind.name}",
        src=tool.src,
        extra_args=["--regions", regions],
    )
    run.extra["regions"] = str(regions)
    return run


def combine(label: str, runs: list[Run]) -> Run:
    """One tool's runs over all kinds as one: times summed, peaks the largest, the first failure."""
    bad = [r for r in runs if not r.ok]
    return Run(
        label,
        cmd=runs[0].cmd,
        log=runs[0].log,
        rc=bad[0].rc if bad else 0,
        wall_s=sum(r.wall_s or 0.0 for r in runs),
        cpu_s=sum(r.cpu_s or 0.0 for r in runs),
        maxrss_mb=max(r.maxrss_mb or 0.0 for r in runs),
        tree_rss_mb=max(r.tree_rss_mb or 0.0 for r in runs),
        error=next((r.error for r in runs if r.error), None),
        outputs=sum(r.outputs for r in runs),
    )


@dataclass
class Paint:
    """What a run painted in one clip, frame by frame."""

    nonface: tuple[int, int]  # (painted, all) pixels outside every ground-truth face box
    shares: list[float]  # share of each frame painted
    ratios: list[float]  # painted pixels / pixels of the faces' grown boxes (inf: painted, no face)


def paint(gt: Path, source: Path, output: Path) -> Paint:
    """Pixels black in ``output`` (max channel < BLACK) but not in ``source``, against the ground truth."""
    frames = json.loads(gt.read_text())["frames"]
    nonface, shares, ratios = [0, 0], [], []
    with av.open(str(source)) as src, av.open(str(output)) as dst:
        # frame counts are scored apart (video_coverage.py)
        for boxes, a, b in zip(frames, src.decode(video=0), dst.decode(video=0), strict=False):
            before, after = a.to_ndarray(format="rgb24"), b.to_ndarray(format="rgb24")
            new = (after.max(axis=2) < BLACK) & (before.max(axis=2) >= BLACK)
            face, grown = np.zeros(new.shape, bool), np.zeros(new.shape, bool)
            for x1, y1, x2, y2, _ in boxes:
                face[
                    max(int(y1), 0) : max(int(np.ceil(y2)), 0), max(int(x1), 0) : max(int(np.ceil(x2)), 0)
                ] = True
            planned = plan_regions(Regions(np.array([box[:4] for box in boxes]).reshape(-1, 4)), new.shape)
            for x1, y1, x2, y2 in planned.boxes:
                grown[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
            nonface[0] += int((new & ~face).sum())
            nonface[1] += int((~face).sum())
            painted, area = int(new.sum()), int(grown.sum())
            shares.append(painted / new.size)
            ratios.append(painted / area if area else (float("inf") if painted else 0.0))
    return Paint((nonface[0], nonface[1]), shares, ratios)


def paint_summary(paints: list[Paint]) -> dict:
    n = sum(p.nonface[1] for p in paints)
    shares = [s for p in paints for s in p.shares]
    ratios = np.array([r for p in paints for r in p.ratios])
    if not shares:
        return {}
    return dict(
        nonface_painted=sum(p.nonface[0] for p in paints) / n if n else None,
        frame_painted=float(np.mean(shares)),
        frames_over_90=float(np.mean(np.array(shares) > 0.9)),
        grown_ratio_max=float(ratios.max()),
        frames_over_grown_ratio=float(np.mean(ratios > PAN_GROWN_RATIO)),
    )


def score_tool(
    tool: Tool, kinds: list[Kind], trees: dict[str, Trees], root: Path, runs: dict[str, Run]
) -> dict[str, dict]:
    """Scores of one tool per kind and for all kinds ("all"), each {coverage, tracks, overpaint, paint}."""
    union = symlink_tree(
        [
            (p, p.name)
            for k in kinds
            for p in (root / tool.slug / k.name).glob("v*")
            if p.is_file() and p.suffix != ".json"
        ],
        root / "_out" / tool.slug,
    )
    paints: dict[str, list[Paint]] = {}
    for k in kinds:
        paints[k.name] = []
        for s in k.stems:
            outs = [p for p in (root / tool.slug / k.name).glob(f"{s}.*") if p.suffix != ".json"]
            if outs:
                paints[k.name].append(paint(k.clips / f"{s}.json", reference(k.clips, s), outs[0]))
    scopes = {k.name: ([k], root / tool.slug / k.name) for k in kinds} | {"all": (kinds, union)}
    scores: dict[str, dict] = {}
    for scope, (members, out_dir) in scopes.items():
        t = trees[scope]
        got: dict = {}
        sections = [("coverage", scorer("video_coverage.py") + [t.gt, out_dir])]
        if scope != "all":  # the total is summed from the kinds' (each frame decoded once less)
            sections.append(("overpaint", scorer("video_overpaint.py") + [t.ref, out_dir]))
        for section, cmd in sections:
            got[section], err = run_json(cmd)
            if got[section] is None:
                print(f"!! {tool.label} {scope}: {section} scoring failed: {err}", file=sys.stderr)
        if scope == "all":
            got["overpaint"] = overpaint_total([scores[k.name]["overpaint"] for k in kinds])
        regions = [runs[k.name].extra["regions"] for k in members if runs[k.name].extra.get("regions")]
        regions = [r for r in regions if Path(r).exists()]
        got["tracks"] = run_json(scorer("video_tracks.py") + [t.gt, *regions])[0] if regions else None
        got["split"] = track_split(Path(t.gt), [Path(r) for r in regions]) if regions else None
        got["paint"] = paint_summary([p for k in members for p in paints[k.name]])
        scores[scope] = got
    return scores


def overpaint_total(parts: list[dict | None]) -> dict | None:
    """video_overpaint.py's numbers over several of its runs (the mean weighted by frames)."""
    if not parts or any(p is None for p in parts):
        return None
    frames = sum(p["frames"] for p in parts)
    return dict(
        frames=frames,
        frames_painted_whole=sum(p["frames_painted_whole"] for p in parts),
        painted_mean=sum(p["painted_mean"] * p["frames"] for p in parts) / frames if frames else None,
        painted_max=max(p["painted_max"] for p in parts),
    )


def gt_counts(kind: Kind) -> tuple[int, int]:
    """(frames, distinct faces) of a kind's ground truth."""
    frames, faces = 0, set()
    for s in kind.stems:
        gt = json.loads((kind.clips / f"{s}.json").read_text())["frames"]
        frames += len(gt)
        faces |= {(s, box[4]) for boxes in gt for box in boxes}
    return frames, len(faces)


def bench_size(
    res: str, a: argparse.Namespace, data: Path, out: Path, names: list[str], tools: list[Tool]
) -> dict:
    w, h, fps_target = SIZES[res]
    kinds = clip_kinds(a, data, out, res, names)
    root = out / f"run{res}"
    trees = {k.name: make_trees([k], root, k.name) for k in kinds} | {"all": make_trees(kinds, root, "all")}
    counts = {k.name: gt_counts(k) for k in kinds}
    frames = sum(f for f, _ in counts.values())
    n = sum(len(k.stems) for k in kinds)
    warm_cache(k.clips / f"{s}.mp4" for k in kinds for s in k.stems)

    unseens = [t for t in tools if t.program == "unseen"]
    runs: dict[str, dict[str, Run]] = {t.label: {} for t in tools}
    for i, k in enumerate(kinds):
        # the unseen revisions back to back, the current one first on every other kind
        order = (unseens if i % 2 == 0 else unseens[::-1]) + [t for t in tools if t.program != "unseen"]
        for tool in order:
            print(
                f"[{res}p] {tool.label}: {k.name}, {len(k.stems)} clip(s), {counts[k.name][0]} frames ...",
                flush=True,
            )
            runs[tool.label][k.name] = run_kind(tool, k, trees[k.name], root, out / "logs" / res)
    report_runs(r for per_kind in runs.values() for r in per_kind.values())
    total = {label: combine(label, list(per_kind.values())) for label, per_kind in runs.items()}

    scores: dict[str, dict | None] = {}
    for tool in tools:
        if not total[tool.label].outputs:
            print(f"!! [{res}p] {tool.label} wrote no outputs: not scored", file=sys.stderr)
            scores[tool.label] = None
            continue
        print(f"[{res}p] scoring {tool.label} ({total[tool.label].outputs} outputs) ...", flush=True)
        scores[tool.label] = score_tool(tool, kinds, trees, root, runs[tool.label])

    labels = [t.label for t in tools]
    rows = table_rows(labels, total, scores, n, frames, fps_target, MEM_TARGET_MB.get(res), a.baseline)
    nfaces = sum((sc(scores, labels[0], "all", "coverage", f"{b}_faces") or 0) for b in ("h12-32", "h32-inf"))
    print_table(
        f"Video {res}p ({w}x{h}), clips {a.clips}: {n} clip(s), {frames} frames, {nfaces} faces >= 12 px "
        "(summed over the two size bands)",
        rows,
        labels,
    )
    print_kinds(f"Video {res}p by kind of clip", kinds, counts, labels, scores)
    failed, unknown = target_summary(rows, prefix=f"{res}p ")
    for label, run in total.items():
        if not run.ok:
            failed.insert(0, f"{res}p {label} run failed ({run.error or f'exit code {run.rc}'})")
    return dict(
        size=[w, h],
        clips=n,
        frames=frames,
        kinds={k.name: k.stems for k in kinds},
        runs=runs,
        scores=scores,
        table=rows_json(rows),
        failed=failed,
        unknown=unknown,
    )


def sc(scores: dict, tool: str, scope: str, section: str, key: str):
    got = ((scores.get(tool) or {}).get(scope) or {}).get(section) or {}
    return got.get(key)


def table_rows(
    labels: list[str],
    total: dict[str, Run],
    scores: dict,
    n: int,
    frames: int,
    fps_target: float,
    mem_t: float | None,
    baseline: str | None,
) -> list[Row]:
    def rv(fn) -> dict:
        return {t: fn(total[t]) if total[t].ok else None for t in labels}

    def all_(section: str, key: str) -> dict:
        return {t: sc(scores, t, "all", section, key) for t in labels}

    def pan(section: str, key: str) -> dict:
        return {t: sc(scores, t, "handheld", section, key) for t in labels}

    no_face = all_("tracks", "tracks_touching_no_face")
    base_no_face = no_face.get(baseline) if baseline else None
    return [
        Row("outputs written", rv(lambda r: r.outputs), num(0), Target(">=", n, f"= {n}")),
        Row(
            "fps (frames / wall s)",
            rv(lambda r: frames / r.wall_s),
            num(1),
            Target(">=", fps_target, f">= {fps_target:g}"),
        ),
        Row("CPU ms/frame (user+sys)", rv(lambda r: 1000 * r.cpu_s / frames), num(1, " ms")),
        Row(
            "peak RSS (ru_maxrss)",
            rv(lambda r: r.maxrss_mb),
            num(0, " MB"),
            Target("<=", mem_t, f"<= {mem_t:g} MB") if mem_t else None,
        ),
        Row("peak tree RSS (sampled)", rv(lambda r: r.tree_rss_mb), num(0, " MB")),
        Row(
            "faces ever exposed",
            all_("coverage", "faces_ever_exposed"),
            pct,
            Target("<=", 0.02, "<= 2 %"),
        ),
        Row(
            "face-frames exposed",
            all_("coverage", "pair_exposed"),
            lambda v: pct(v, 3),
            Target("<=", 0.001, "<= 0.1 %"),
        ),
        *[
            Row(f"  {k} {what}", all_("coverage", f"{k}_{key}"), pct)
            for k in ("h12-32", "h32-inf")
            for what, key in (
                ("faces ever exposed", "faces_ever_exposed"),
                ("face-frames exposed", "pair_exposed"),
            )
        ],
        Row("  handheld pan: faces ever exposed", pan("coverage", "faces_ever_exposed"), pct),
        Row("  handheld pan: face-frames exposed", pan("coverage", "pair_exposed"), lambda v: pct(v, 3)),
        Row(
            "tracks per face, median",
            all_("tracks", "tracks_per_face_median"),
            num(1),
            Target("<=", 1.0, "<= 1"),
        ),
        Row(
            "tracks per face, mean",
            all_("tracks", "tracks_per_face_mean"),
            num(2),
            Target("<=", 1.5, "<= 1.5"),
        ),
        *[
            Row(f"  ... {what}", all_("split", key), num(2))
            for what, key in (
                ("the face's own tracks", "own"),
                ("neighbours' tracks over it", "neighbour"),
                ("tracks of no face over it", "ownerless"),
            )
        ],
        Row(
            "tracks touching no face",
            no_face,
            num(0),
            Target("<=", base_no_face, f"<= {baseline}'s") if base_no_face is not None else None,
        ),
        Row("  tracks in all", all_("tracks", "tracks"), num(0)),
        Row(
            "frames painted whole (>= 95 % black)",
            all_("overpaint", "frames_painted_whole"),
            num(0),
            Target("<=", 0, "= 0"),
        ),
        Row("share of a frame painted, mean", all_("overpaint", "painted_mean"), pct),
        Row("share of a frame painted, largest", all_("overpaint", "painted_max"), pct),
        Row("non-face pixels painted", all_("paint", "nonface_painted"), pct),
        Row("  handheld pan: non-face pixels painted", pan("paint", "nonface_painted"), pct),
        Row("  handheld pan: mean share of a frame painted", pan("paint", "frame_painted"), pct),
        Row("  handheld pan: frames over 90 % painted", pan("paint", "frames_over_90"), pct),
        Row(
            "  handheld pan: painted / grown faces, worst frame",
            pan("paint", "grown_ratio_max"),
            num(2, "x"),
            Target("<=", PAN_GROWN_RATIO, f"<= {PAN_GROWN_RATIO:.2f}x"),
        ),
        Row(
            f"  handheld pan: frames over {PAN_GROWN_RATIO:g}x grown faces",
            pan("paint", "frames_over_grown_ratio"),
            pct,
        ),
        Row(
            "frame_count_mismatch (videos)",
            all_("coverage", "frame_count_mismatch"),
            num(0),
            Target("<=", 0, "= 0"),
        ),
    ]


def print_kinds(title: str, kinds: list[Kind], counts: dict, labels: list[str], scores: dict) -> None:
    """One line per kind and tool: exposure, tracks per face, over-painting."""

    def cell(tool: str, scope: str, section: str, key: str, fmt) -> str:
        return fmt(sc(scores, tool, scope, section, key))

    head = ["kind", "tool", "frames", "GT faces", "faces exp.", "face-frames exp."]
    head += ["tracks/face med", "mean", "no-face tracks", "whole frames", "painted mean", "max"]
    body = []
    for scope in [k.name for k in kinds] + ["all"]:
        f, nf = (
            (sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
            if scope == "all"
            else counts[scope]
        )
        for tool in labels:
            body.append(
                [
                    scope,
                    tool,
                    f,
                    nf,
                    cell(tool, scope, "coverage", "faces_ever_exposed", pct),
                    cell(tool, scope, "coverage", "pair_exposed", lambda v: pct(v, 3)),
                    cell(tool, scope, "tracks", "tracks_per_face_median", num(1)),
                    cell(tool, scope, "tracks", "tracks_per_face_mean", num(2)),
                    cell(tool, scope, "tracks", "tracks_touching_no_face", num(0)),
                    cell(tool, scope, "overpaint", "frames_painted_whole", num(0)),
                    cell(tool, scope, "overpaint", "painted_mean", pct),
                    cell(tool, scope, "overpaint", "painted_max", pct),
                ]
            )
    print_grid(title, head, body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, DEFAULT_OUT / "video", "first N clips of video_sources.txt")
    ap.add_argument("--only", choices=sorted(SIZES), help="run one size only (720 or 1080)")
    ap.add_argument(
        "--clips",
        choices=("default", "dev", "all"),
        default="default",
        help="make_videos clips and the handheld pan, bench/dev_clips.py's, or both (default: %(default)s)",
    )
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also run unseen at this git revision (e.g. b58cff5), scored the same",
    )
    a = ap.parse_args()
    data, out = a.data.resolve(), a.out.resolve()
    names = [x.strip() for x in (data / "video_sources.txt").read_text().splitlines() if x.strip()]
    if a.limit:
        names = names[: a.limit]
    out.mkdir(parents=True, exist_ok=True)
    tools = [Tool("unseen", "unseen")]
    if a.baseline:
        tools.append(Tool(a.baseline, "unseen", baseline_src(out, a.baseline)))
    if not a.skip_deface:
        tools.append(Tool("deface", "deface"))
    results = {res: bench_size(res, a, data, out, names, tools) for res in SIZES if a.only in (None, res)}
    failed = [f for r in results.values() for f in r.pop("failed")]
    unknown = [u for r in results.values() for u in r.pop("unknown")]
    payload = dict(
        benchmark="video",
        data=data,
        out=out,
        sources=names,
        baseline=a.baseline,
        clips=a.clips,
        sizes=results,
    )
    return finish(failed, unknown, payload, a.json)


if __name__ == "__main__":
    sys.exit(main())
