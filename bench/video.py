#!/usr/bin/env python3
"""Video benchmark: unseen vs deface 1.5.0 on moving-camera clips built from the WIDER dev sample.

    python bench/video.py                        # 4 clips at 720p and at 1080p, both tools
    python bench/video.py --limit 1 --only 720   # first clip, 720p only
    python bench/video.py --skip-deface --json bench/out/video.json

Clips come from ../shared/tools/make_videos.py (8 s, 30 fps, H.264; sources in video_sources.txt)
at 1280x720 into OUT/clips720 and 1920x1080 into OUT/clips1080, plus v90, a handheld portrait pan
(bench/handheld.py: 720x1280 or 1080x1920, 12 px/frame with shake, faces entering and leaving at
the sides) of HANDHELD_SOURCE; they are cached (rebuilt only when a needed vNN.mp4/vNN.json is
missing or was built from another photo or size). Per size, one process per tool over all clips:
  unseen <clips> -o OUT/unseen<res> --method fill --quiet --overwrite
  deface --thresh 0.2 --mask-scale 1.3 --replacewith solid --ffmpeg-config <libx264, no resize> <clips>
then ../shared/tools/video_coverage.py GTDIR OUTDIR (all clips, and the handheld pan alone), and the
share of non-face pixels painted: pixels black in the output (max channel < 48) but not in the
source, outside every ground-truth face box, over all frames. fps = ground-truth frames / process wall time
(start-up and model loading included, for both tools). Peak memory = child ru_maxrss (os.wait4).
Exits 0; failing targets are listed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_OUT,
    TOOLS,
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
from handheld import KIND as HANDHELD_KIND  # noqa: E402
from handheld import make_handheld  # noqa: E402

SIZES = {"720": (1280, 720, 25.0), "1080": (1920, 1080, 12.0)}  # W, H, fps target
HANDHELD = "v90"  # the handheld portrait pan's stem, after the make_videos clips
HANDHELD_SOURCE = "12--Group/12_Group_Group_12_Group_Group_12_519.jpg"  # 12 people in a row
BLACK = 48  # painted: max channel under this (as video_coverage.py)
MEM_TARGET_MB = {"1080": 500.0}
# imageio-ffmpeg (deface's writer) pads frames to a multiple of macro_block_size=16 by default,
# which would rescale 1920x1080 to 1920x1088 and shift every face against the ground truth.
DEFACE_VIDEO_ARGS = ["--ffmpeg-config", json.dumps({"codec": "libx264", "macro_block_size": 1})]


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


def painted(gt_dir: Path, out_dir: Path, stems: list[str]) -> dict | None:
    """Share of non-face pixels painted, over all frames of ``stems`` and of the handheld pan alone;
    for the pan also the mean share of each frame painted and the share of frames over 90 % painted."""
    totals = {"all": [0, 0], "pan": [0, 0]}
    pan_frames: list[float] = []
    for stem in stems:
        outs = [p for p in out_dir.glob(f"{stem}.*") if p.suffix != ".json"]
        if not outs:
            continue
        frames = json.loads((gt_dir / f"{stem}.json").read_text())["frames"]
        with av.open(str(gt_dir / f"{stem}.mp4")) as src, av.open(str(outs[0])) as dst:
            for boxes, a, b in zip(
                frames, src.decode(video=0), dst.decode(video=0), strict=False
            ):  # counts: scored apart
                before, after = a.to_ndarray(format="rgb24"), b.to_ndarray(format="rgb24")
                new = (after.max(axis=2) < BLACK) & (before.max(axis=2) >= BLACK)
                face = np.zeros(new.shape, bool)
                for x1, y1, x2, y2, _ in boxes:
                    face[
                        max(int(y1), 0) : max(int(np.ceil(y2)), 0), max(int(x1), 0) : max(int(np.ceil(x2)), 0)
                    ] = True
                counts = (int((new & ~face).sum()), int((~face).sum()))
                for key in ("all", "pan") if stem == HANDHELD else ("all",):
                    totals[key] = [totals[key][0] + counts[0], totals[key][1] + counts[1]]
                if stem == HANDHELD:
                    pan_frames.append(float(new.mean()))
    if not totals["all"][1]:
        return None
    share = {k: (p / n if n else None) for k, (p, n) in totals.items()}
    return dict(
        nonface_painted=share["all"],
        pan_nonface_painted=share["pan"],
        pan_frame_painted=float(np.mean(pan_frames)) if pan_frames else None,
        pan_frames_over_90=float(np.mean(np.array(pan_frames) > 0.9)) if pan_frames else None,
    )


def bench_size(res: str, a: argparse.Namespace, data: Path, out: Path, names: list[str]) -> dict:
    w, h, fps_target = SIZES[res]
    clips = out / f"clips{res}"
    ensure_clips(data, names, clips, w, h)
    ensure_handheld(data, clips, w, h)
    stems = [f"v{i:02d}" for i in range(len(names))] + [HANDHELD]
    files = [(clips / f"{s}.mp4", f"{s}.mp4") for s in stems]
    # a subset goes through a folder of symlinks (clip + ground truth); the full set uses clips/
    gt_dir = (
        symlink_tree(files + [(clips / f"{s}.json", f"{s}.json") for s in stems], out / f"_sel{res}")
        if a.limit
        else clips
    )
    frames = sum(len(json.loads((clips / f"{s}.json").read_text())["frames"]) for s in stems)
    warm_cache(p for p, _ in files)
    n = len(stems)

    runs: dict[str, Run] = {}
    print(f"[{res}p] running unseen on {n} clip(s), {frames} frames ...", flush=True)
    runs["unseen"] = run_unseen(gt_dir, out / f"unseen{res}", out / "logs" / f"unseen{res}.log")
    if not a.skip_deface:
        print(f"[{res}p] running deface ...", flush=True)
        runs["deface"] = run_deface(
            files,
            out / f"deface{res}",
            out / f"_stage_deface{res}",
            out / "logs" / f"deface{res}.log",
            DEFACE_VIDEO_ARGS,
        )
    report_runs(runs.values())

    scores: dict[str, dict | None] = {}
    for tool, run in runs.items():
        scores[tool] = None
        if not run.outputs:
            print(f"!! [{res}p] {tool} wrote no outputs: not scored", file=sys.stderr)
            continue
        print(f"[{res}p] scoring {tool} ({run.outputs} outputs) ...", flush=True)
        scores[tool], err = run_json(scorer("video_coverage.py") + [gt_dir, out / f"{tool}{res}"])
        if scores[tool] is None:
            print(f"!! [{res}p] scoring {tool} failed: {err}", file=sys.stderr)
            continue
        if err:
            print(f"   scorer notes for {tool}: {err}", file=sys.stderr)
        pan_dir = symlink_tree([(clips / f"{HANDHELD}.json", f"{HANDHELD}.json")], out / f"_pan{res}")
        pan, err = run_json(scorer("video_coverage.py") + [pan_dir, out / f"{tool}{res}"])
        scores[tool].update({f"pan_{k}": v for k, v in (pan or {}).items()})
        scores[tool].update(painted(gt_dir, out / f"{tool}{res}", stems) or {})

    def sc(tool: str, key: str):
        s = scores.get(tool)
        return None if s is None else s.get(key)

    def rv(tool: str, fn):
        r = runs.get(tool)
        return fn(r) if r is not None and r.ok else None

    mem_t = MEM_TARGET_MB.get(res)
    rows = [
        Row(
            "outputs written",
            rv("unseen", lambda r: r.outputs),
            rv("deface", lambda r: r.outputs),
            num(0),
            Target(">=", n, f"= {n}"),
        ),
        Row(
            "fps (frames / wall s)",
            rv("unseen", lambda r: frames / r.wall_s),
            rv("deface", lambda r: frames / r.wall_s),
            num(1),
            Target(">=", fps_target, f">= {fps_target:g}"),
        ),
        Row(
            "CPU ms/frame (user+sys)",
            rv("unseen", lambda r: 1000 * r.cpu_s / frames),
            rv("deface", lambda r: 1000 * r.cpu_s / frames),
            num(1, " ms"),
        ),
        Row(
            "peak RSS (ru_maxrss)",
            rv("unseen", lambda r: r.maxrss_mb),
            rv("deface", lambda r: r.maxrss_mb),
            num(0, " MB"),
            Target("<=", mem_t, f"<= {mem_t:g} MB") if mem_t else None,
        ),
        Row(
            "peak tree RSS (sampled)",
            rv("unseen", lambda r: r.tree_rss_mb),
            rv("deface", lambda r: r.tree_rss_mb),
            num(0, " MB"),
        ),
        Row(
            "faces ever exposed",
            sc("unseen", "faces_ever_exposed"),
            sc("deface", "faces_ever_exposed"),
            pct,
            Target("<=", 0.02, "<= 2 %"),
        ),
        Row(
            "face-frames exposed",
            sc("unseen", "pair_exposed"),
            sc("deface", "pair_exposed"),
            lambda v: pct(v, 3),
            Target("<=", 0.001, "<= 0.1 %"),
        ),
        *[
            Row(f"  {k} {what}", sc("unseen", f"{k}_{key}"), sc("deface", f"{k}_{key}"), pct)
            for k in ("h12-32", "h32-inf")
            for what, key in (
                ("faces ever exposed", "faces_ever_exposed"),
                ("face-frames exposed", "pair_exposed"),
            )
        ],
        Row(
            "  handheld pan: faces ever exposed",
            sc("unseen", "pan_faces_ever_exposed"),
            sc("deface", "pan_faces_ever_exposed"),
            pct,
        ),
        Row(
            "  handheld pan: face-frames exposed",
            sc("unseen", "pan_pair_exposed"),
            sc("deface", "pan_pair_exposed"),
            lambda v: pct(v, 3),
        ),
        Row(
            "non-face pixels painted",
            sc("unseen", "nonface_painted"),
            sc("deface", "nonface_painted"),
            pct,
        ),
        Row(
            "  handheld pan: non-face pixels painted",
            sc("unseen", "pan_nonface_painted"),
            sc("deface", "pan_nonface_painted"),
            pct,
        ),
        Row(
            "  handheld pan: mean share of a frame painted",
            sc("unseen", "pan_frame_painted"),
            sc("deface", "pan_frame_painted"),
            pct,
        ),
        Row(
            "  handheld pan: frames over 90 % painted",
            sc("unseen", "pan_frames_over_90"),
            sc("deface", "pan_frames_over_90"),
            pct,
        ),
        Row(
            "frame_count_mismatch (videos)",
            sc("unseen", "frame_count_mismatch"),
            sc("deface", "frame_count_mismatch"),
            num(0),
            Target("<=", 0, "= 0"),
        ),
    ]
    nfaces = sc("unseen", "h12-32_faces") or sc("deface", "h12-32_faces") or 0
    nfaces += sc("unseen", "h32-inf_faces") or sc("deface", "h32-inf_faces") or 0
    print_table(
        f"Video {res}p ({w}x{h}): {n} clip(s), {frames} frames, {nfaces} faces >= 12 px",
        rows,
        show_deface=not a.skip_deface,
    )
    failed, unknown = target_summary(rows, prefix=f"{res}p ")
    for tool, run in runs.items():
        if not run.ok:
            failed.insert(0, f"{res}p {tool} run failed ({run.error or f'exit code {run.rc}'})")
    return dict(
        size=[w, h],
        clips=n,
        frames=frames,
        gt_dir=gt_dir,
        runs=runs,
        scores=scores,
        table=rows_json(rows),
        failed=failed,
        unknown=unknown,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap, DEFAULT_OUT / "video", "first N clips of video_sources.txt")
    ap.add_argument("--only", choices=sorted(SIZES), help="run one size only (720 or 1080)")
    a = ap.parse_args()
    data, out = a.data.resolve(), a.out.resolve()
    names = [x.strip() for x in (data / "video_sources.txt").read_text().splitlines() if x.strip()]
    if a.limit:
        names = names[: a.limit]
    out.mkdir(parents=True, exist_ok=True)
    results = {res: bench_size(res, a, data, out, names) for res in SIZES if a.only in (None, res)}
    failed = [f for r in results.values() for f in r.pop("failed")]
    unknown = [u for r in results.values() for u in r.pop("unknown")]
    payload = dict(benchmark="video", data=data, out=out, sources=names, sizes=results)
    return finish(failed, unknown, payload, a.json)


if __name__ == "__main__":
    sys.exit(main())
