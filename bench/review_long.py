#!/usr/bin/env python3
"""Review on a long video: frame stepping, seeking, server memory and the size of loads and edits.

    python bench/review_long.py                          # a 60-minute 1080p video, this tree only
    python bench/review_long.py --baseline /work/main/src --minutes 60 --json bench/out/review.json

The video (cached in OUT) is 1920x1080, 25 fps, H.264 (x264 ultrafast, its default keyframe
interval of 250 frames, the worst a seek meets in common files): three real faces (the astronaut
of skimage, one mirrored, at three sizes) glide over a smooth gradient. A 20 s segment is encoded
once and its packets are repeated (timestamps shifted) up to ``--minutes``, so an hour is made in
about 5 s (4.5 s here). Detecting an hour on this machine's two cores would take hours, so the regions
file is synthesised the way a run writes it: one track per face for the whole length, ``full``
on every 8th frame and ``interpolated`` between, and a weak ``suggested`` box every 100 frames.

For each source tree (``--baseline`` first, then this one), a review server runs in a child
process and a real HTTP client measures: opening the session, the page's initial load (bytes and
seconds of /api/files and /api/files/0), consecutive frames as the page steps (frames/s), seeks
to random frames (median and max), one edit (keeping one track: bytes sent and seconds) and the
server's RSS after loading and at the end. ``--page`` also steps through frames in Chromium with
the arrow key, as a person does (each step waits for the new picture).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
from skimage import data, transform

REPO = Path(__file__).resolve().parents[1]
W, H, FPS = 1920, 1080, 25
SEGMENT_S = 20
KEY_EVERY = 8  # tracker: detections on every 8th frame, interpolated between
FACE = (160, 40, 300, 220)  # the astronaut's head in skimage's 512 x 512 picture (x1, y1, x2, y2)
SERVER = """
import sys, time
t = time.perf_counter()
from unseen.review.server import ReviewServer
from unseen.review.session import ReviewSession
server = ReviewServer(ReviewSession.open(sys.argv[1]))
print(server.port, server.token, round(time.perf_counter() - t, 3), flush=True)
server.serve()
"""


def faces() -> list[np.ndarray]:
    x1, y1, x2, y2 = FACE
    head = data.astronaut()[y1:y2, x1:x2]
    out = []
    for scale, mirror in ((1.0, False), (1.6, True), (0.6, False)):
        size = (round(head.shape[0] * scale), round(head.shape[1] * scale))
        face = (transform.resize(head, size, anti_aliasing=True) * 255).astype(np.uint8)
        out.append(face[:, ::-1] if mirror else face)
    return out


def positions(i: int, heads: list[np.ndarray]) -> list[tuple[int, int]]:
    """Top-left corner of each face on frame ``i`` of a segment: each bounces on its own path."""
    out = []
    for k, head in enumerate(heads):
        h, w = head.shape[:2]
        t = i / (SEGMENT_S * FPS)
        x = (0.5 + 0.45 * np.sin(2 * np.pi * (t * (k + 1) + k / 3))) * (W - w)
        y = (0.5 + 0.4 * np.cos(2 * np.pi * (t * (k + 2) / 2 + k / 5))) * (H - h)
        out.append((int(x), int(y)))
    return out


def make_segment(path: Path, heads: list[np.ndarray]) -> None:
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([xx * 200 // W + 30, yy * 180 // H + 40, (xx + yy) * 120 // (W + H) + 60], -1)
    base = base.astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(SEGMENT_S * FPS):
            image = base.copy()
            for head, (x, y) in zip(heads, positions(i, heads), strict=True):
                image[y : y + head.shape[0], x : x + head.shape[1]] = head
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))


def make_video(path: Path, minutes: float, heads: list[np.ndarray]) -> int:
    """The long video (repeated segment); its frame count."""
    repeats = max(1, round(minutes * 60 / SEGMENT_S))
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == {"repeats": repeats}:
        return repeats * SEGMENT_S * FPS
    segment = path.with_name("segment.mp4")
    make_segment(segment, heads)
    with av.open(str(segment)) as src, av.open(str(path), "w") as dst:
        packets = [p for p in src.demux(src.streams.video[0]) if p.size]
        template = src.streams.video[0]
        out = dst.add_stream_from_template(template)
        span = int(Fraction(SEGMENT_S, 1) / template.time_base)
        for r in range(repeats):
            for p in packets:
                p.pts, p.dts = p.pts + (span if r else 0), p.dts + (span if r else 0)
                p.stream = out
                dst.mux(p)
    segment.unlink()
    stamp.write_text(json.dumps({"repeats": repeats}))
    return repeats * SEGMENT_S * FPS


def write_regions(path: Path, video: Path, out: Path, frames: int, heads: list[np.ndarray]) -> int:
    """A regions file with one track per face over every frame; the number of regions."""
    sys.path.insert(0, str(REPO / "src"))
    from unseen.regions import Regions
    from unseen.regions_file import FileEntry, RegionsDocument, fingerprint, save_document

    per = SEGMENT_S * FPS
    boxes, frame, track, source, scores, actions = [], [], [], [], [], []
    for i in range(frames):
        for k, (x, y) in enumerate(positions(i % per, heads)):
            h, w = heads[k].shape[:2]
            boxes.append([x + 0.1 * w, y + 0.15 * h, x + 0.9 * w, y + 0.95 * h])
            frame.append(i), track.append(k), actions.append("obscure")
            source.append("full" if i % KEY_EVERY == 0 else "interpolated")
            scores.append(0.92 if i % KEY_EVERY == 0 else 0.0)
        if i % 100 == 50:
            boxes.append([40.0, 40.0, 90.0, 100.0])
            frame.append(i), track.append(-1), actions.append("suggested"), source.append("full")
            scores.append(0.08)
    regions = Regions(np.round(boxes, 1), np.round(scores, 4), source, frame, track)
    size, sha = fingerprint(video)
    entry = FileEntry(str(video), str(out), "video", W, H, frames, regions, actions, size, sha)
    save_document(path, RegionsDocument([entry]))
    return len(regions)


def rss_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def timed(client: httpx.Client, method: str, url: str, **kw) -> tuple[httpx.Response, float]:
    t = time.perf_counter()
    reply = client.request(method, url, **kw)
    reply.raise_for_status()
    return reply, time.perf_counter() - t


def edit(client: httpx.Client, entry: dict) -> tuple[int, float]:
    """Keep track 1, as the page sends it (on the file's version, where the server has versions);
    bytes sent and seconds."""
    ops = [{"op": "action", "track": 1, "action": "keep"}]
    op = json.dumps({"ops": ops, "version": entry.get("version")}).encode()
    reply = client.patch("/api/files/0", content=op, headers={"content-type": "application/json"})
    if reply.status_code != 405:
        reply.raise_for_status()
        op = json.dumps({"ops": ops, "version": reply.json().get("version")}).encode()
        t = time.perf_counter()
        reply = client.patch("/api/files/0", content=op, headers={"content-type": "application/json"})
        reply.raise_for_status()
        return len(op), time.perf_counter() - t
    regions = [{**r, "action": "keep"} if r["track"] == 1 else r for r in entry["regions"]]
    body = json.dumps({"regions": regions, "reviewed": False}).encode()  # the whole entry, as main's page
    _, seconds = timed(
        client, "PUT", "/api/files/0", content=body, headers={"content-type": "application/json"}
    )
    return len(body), seconds


def measure(src: Path, regions: Path, frames: int, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(regions)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        port, token, opened = child.stdout.readline().split()
        base = f"http://127.0.0.1:{port}"
        result: dict = {"src": str(src), "open_s": float(opened)}
        with httpx.Client(base_url=base, timeout=600) as client:
            client.get(f"/?token={token}")
            t = time.perf_counter()
            page = sum(len(client.get(u).content) for u in ("/", "/assets/app.js", "/assets/style.css"))
            listing, _ = timed(client, "GET", "/api/files")
            entry, entry_s = timed(client, "GET", "/api/files/0")
            first, first_s = timed(client, "GET", "/api/files/0/picture", params={"frame": 0})
            result["initial_load_bytes"] = (
                page + len(listing.content) + len(entry.content) + len(first.content)
            )
            result["initial_load_s"] = round(time.perf_counter() - t, 3)
            result["entry_bytes"], result["entry_s"] = len(entry.content), round(entry_s, 3)
            result["first_frame_s"] = round(first_s, 3)
            result["rss_loaded_mb"] = round(rss_mb(child.pid)[0], 1)
            start = frames // 3
            t = time.perf_counter()
            for f in range(start, start + args.steps):
                timed(client, "GET", "/api/files/0/picture", params={"frame": f})
            result["step_fps"] = round(args.steps / (time.perf_counter() - t), 2)
            rng = random.Random(7)
            seeks = []
            for f in rng.sample(range(frames), args.seeks):
                seeks.append(timed(client, "GET", "/api/files/0/picture", params={"frame": f})[1])
            result["seek_median_s"] = round(statistics.median(seeks), 3)
            result["seek_max_s"] = round(max(seeks), 3)
            result["edit_bytes"], edit_s = edit(client, entry.json())
            result["edit_s"] = round(edit_s, 3)
        if args.page:
            result.update(page_steps(f"{base}/?token={token}", args.steps))
        result["rss_end_mb"], result["rss_peak_mb"] = (round(v, 1) for v in rss_mb(child.pid))
        return result
    finally:
        child.terminate()
        child.wait()


def page_steps(url: str, steps: int) -> dict:
    """Load the page in Chromium and step ``steps`` frames with the arrow key, each to its picture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("body.ready", timeout=600_000)
        ready = time.perf_counter() - t
        seconds = page.evaluate(
            """async (n) => {
                const img = document.getElementById("picture");
                const t0 = performance.now();
                for (let i = 0; i < n; i++) {
                    const loaded = new Promise((r) => img.addEventListener("load", r, { once: true }));
                    document.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight" }));
                    await loaded;
                }
                return (performance.now() - t0) / 1000;
            }""",
            steps,
        )
        browser.close()
    return {"page_ready_s": round(ready, 2), "page_step_fps": round(steps / seconds, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the video (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "review_long")
    ap.add_argument(
        "--baseline", type=Path, default=None, metavar="SRC", help="another tree's src/ to compare"
    )
    ap.add_argument(
        "--steps", type=int, default=100, help="consecutive frames stepped (default: %(default)s)"
    )
    ap.add_argument("--seeks", type=int, default=20, help="random frames sought (default: %(default)s)")
    ap.add_argument("--page", action="store_true", help="also step through frames in Chromium")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="save every number here")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    heads = faces()
    video = args.out / "long.mp4"
    t = time.perf_counter()
    frames = make_video(video, args.minutes, heads)
    made = time.perf_counter() - t
    regions = args.out / "long.regions.json"
    t = time.perf_counter()
    count = write_regions(regions, video, args.out / "long.unseen.mp4", frames, heads)
    info = {
        "minutes": args.minutes,
        "frames": frames,
        "video_mb": round(video.stat().st_size / 1e6, 1),
        "video_made_s": round(made, 1),
        "regions": count,
        "regions_file_mb": round(regions.stat().st_size / 1e6, 1),
        "regions_written_s": round(time.perf_counter() - t, 1),
    }
    print(json.dumps(info))
    runs = []
    for src in [args.baseline, REPO / "src"]:
        if src is not None:  # each tree starts from the same file (the edit changes it)
            shutil.copyfile(regions, args.out / "run.regions.json")
            runs.append(measure(src.resolve(), args.out / "run.regions.json", frames, args))
            print(json.dumps(runs[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"video": info, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
