#!/usr/bin/env python3
"""A scripted reviewer that knows the ground truth sweeps real crowd photos on the review page.

    python bench/review_sweep.py                 # 8 crowd photos of the WIDER dev sample
    python bench/review_sweep.py --limit 4 --json bench/out/review_sweep.json
    python bench/review_sweep.py --src /tmp/old/src  # another checkout's page and server (before/after)
    python bench/review_sweep.py --clips bench/out/video/clips720 --limit 2  # make_videos clips

The photos are the first ``--limit`` of the parade and demonstration events with 20 to 60 annotated
faces (taken in turn from each event, sorted by name). ``unseen review`` (the real command, in a
child process, ``--no-browser``, on 127.0.0.1) detects them; then, in Chromium, the reviewer goes
through the files (``]`` to the next) and on each presses ``W`` and sweeps it: on each tile it looks
at the output as the page shows it (the preview picture, fetched as the page fetches it) and draws a
box (one mouse drag) over every annotated face of 10 px or more whose centre lies in the tile and
which is under 70 % covered there (covered: near-black, max channel < 32, the rule of
../shared/tools/face_coverage.py); then ``Space`` to the next tile, until the sweep ends (which marks
the file reviewed). Last it clicks Export and confirms.

With ``--clips DIR`` the reviewer takes the first ``--limit`` clips ``vNN.mp4`` of DIR with their
ground truth ``vNN.json`` (``../shared/tools/make_videos.py``; ``bench/video.py`` builds them) and
sweeps each as a person would a video: the page's sweep shows one frame a second, each shot's first
frame and the last, tile by tile, and on each tile every annotated face the video scorer counts
(``video_coverage.py``: 12 px or more, at least half in the picture) that is under 70 % covered in
the output shown (near-black: max channel < 48) is drawn over and followed both ways (``Shift+F``
back, then a click on its track's lane in the timeline at the frame drawn on and ``F`` forward, and
a click on the lane again to come back to the tile's frame; a click on the picture first when a
track is selected, so the box starts a track of its own). After Export, ``video_coverage.py``
scores the exported clips beside the command line's own output of the same clips (``unseen``,
solid fill): faces exposed in at least one frame and face-frames exposed, before and after review.

Printed, per photo and in all: the inputs (keys and mouse actions) against the target of one per
swept tile plus one per missed face (the keys counted include ``W`` and ``]``: one more each a
file); the page's time per input (in the page's clock, from the key going down or the mouse button
going up until the page has answered it: the picture asked for shown, of whatever saved version,
since the page draws an edit's paint itself at once; Export's confirm: until it says it is
exporting), and apart the time until nothing is left to save and the picture of the last saved
version is loaded (the server's part, in the background; the next input waits for it, as a
scripted reviewer judges the output); the regions the page outlines on each photo as it opens,
fitted (the ``rect.region`` elements drawn: one per face's group of boxes, suggestions included;
the weak or small painted ones left to the page's faint layer are counted apart, with
``--min-score`` setting the page's filter)
per annotated face; and the share of the annotated faces of 10 px or more (valid ones, of the
height) at least 70 % covered in the exported files. Nothing from the data set is kept but what
``--out`` holds (bench/out is not committed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, DEFAULT_OUT, REPO, TOOLS, fresh_dir  # noqa: E402
from suggestions import PROTECTED, box_cover  # noqa: E402

sys.path.insert(0, str(TOOLS))
from face_coverage import load_gt  # noqa: E402

EVENTS = ("0--Parade", "2--Demonstration")
CROWD = (20, 60)  # annotated faces in a photo chosen
SMALLEST = 10  # px: the faces the reviewer must cover (face_coverage's bands start there)
BLACK = 32  # face_coverage.py's --black
VIDEO_SMALLEST, VIDEO_BLACK = 12, 48  # video_coverage.py's --min-h and --black
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}

# In the page: when the input began (a key down, a mouse button up), when the next frame came (what
# the page did at once is on the screen), whether the page has answered it (the picture it shows is
# the one asked for, of any saved version: an edit's own paint is drawn by the page at once), and
# whether all is done (saved, and the picture of the last saved version loaded).
MARK = """
window.__mark = null;
for (const type of ["keydown", "pointerup"]) {
  const mark = () => {
    if (window.__mark !== null) return;
    window.__mark = performance.now();
    const frame = () => (window.__frame = performance.now() - window.__mark);
    requestAnimationFrame(() => requestAnimationFrame(frame)); // the frame after the page's first
  };
  window.addEventListener(type, mark, true);
}
"""
SHOWN = """(index, settled) => {
  if (window.__mark === null || window.__frame === null) return false;
  if (index !== null && state.index !== index) return false;
  const img = document.getElementById("picture");
  const bare = (url) => (settled ? url : (url || "").replace(/&v=\\d+/, ""));
  const shown = bare(img.dataset.url) === bare(pictureUrl()) && img.complete && img.naturalWidth > 0;
  return (!settled || unsaved === 0) && shown && !state.drag ? performance.now() - window.__mark : false;
}"""
ANSWERED = f"(index) => ({SHOWN})(index, false)"
IDLE = f"(index) => ({SHOWN})(index, true)"
EXPORTING = """() => window.__frame !== null && /^export/.test(document.getElementById("status").textContent)
  && performance.now() - window.__mark"""
EXPORTED = """() => window.__frame !== null
  && /^export(ed| failed)/.test(document.getElementById("status").textContent)
  && performance.now() - window.__mark"""
DIALOG = """() => window.__frame !== null && document.getElementById("export-dialog").open
  && performance.now() - window.__mark"""
FRAME = "() => window.__frame !== null && performance.now() - window.__mark"
FOLLOWED = """() => window.__frame !== null && state.following === null && unsaved === 0
  && performance.now() - window.__mark"""


def choose(gt: dict[str, np.ndarray], limit: int) -> list[str]:
    """Crowd photos, taken in turn from each event."""
    lists = [
        sorted(n for n in gt if n.startswith(e + "/") and CROWD[0] <= len(gt[n]) <= CROWD[1]) for e in EVENTS
    ]
    order = [n for row in zip(*lists, strict=False) for n in row]
    return order[:limit]


class Reviewer:
    """Drives the page and keeps the time of every input."""

    def __init__(self, page, base: str) -> None:
        self.page, self.base = page, base
        self.times: list[tuple[str, float]] = []  # (kind, ms until the page answered)
        self.settled: list[float] = []  # ms until saved and repainted (the server's part done)
        self.frames: list[float] = []  # ms until the first frame after the input
        self.previews: dict[str, np.ndarray] = {}

    def _timed(
        self, kind: str, act, answered: str = ANSWERED, done: str = IDLE, index: int | None = None
    ) -> None:
        self.page.evaluate("window.__mark = window.__frame = null")
        act()
        wait = lambda js: self.page.wait_for_function(js, arg=index, polling="raf", timeout=120_000)  # noqa: E731
        self.times.append((kind, float(wait(answered).json_value())))
        self.settled.append(float(wait(done).json_value()))  # before the next input, as before
        self.frames.append(self.page.evaluate("window.__frame"))

    def key(self, key: str, index: int | None = None) -> None:
        """Press ``key``; done once idle (and showing file ``index``, if given)."""
        self._timed(f"key {key.strip() or 'Space'}", lambda: self.page.keyboard.press(key), index=index)

    def click(self, selector: str, answered: str, done: str) -> None:
        self._timed(f"click {selector}", lambda: self.page.click(selector), answered, done)

    def covered(self, black: int = BLACK) -> np.ndarray:
        """The picture shown (the preview while sweeping), near-black as a mask."""
        url = self.page.evaluate("document.getElementById('picture').dataset.url")
        if url not in self.previews:
            body = self.page.request.get(self.base + url).body()
            with Image.open(io.BytesIO(body)) as im:
                self.previews = {url: np.asarray(im.convert("RGB")).max(axis=2) < black}
        return self.previews[url]

    def draw(self, box: list[float], tile: list[float]) -> None:
        """Drag over ``box`` (picture px) from a corner inside ``tile``; the page keeps the pointer
        beyond the stage's edge, as it does for a person's drag."""
        rect = self.page.locator("#overlay").bounding_box()
        scale = rect["width"] / self.page.evaluate("state.info.width")
        x1, y1, x2, y2 = box
        inside = lambda x, y: tile[0] <= x <= tile[2] and tile[1] <= y <= tile[3]  # noqa: E731
        corners = [((x1, y1), (x2, y2)), ((x2, y2), (x1, y1)), ((x2, y1), (x1, y2)), ((x1, y2), (x2, y1))]
        start, end = next(((a, b) for a, b in corners if inside(*a)), corners[0])
        screen = lambda p: (rect["x"] + p[0] * scale, rect["y"] + p[1] * scale)  # noqa: E731
        self.page.mouse.move(*screen(start))
        self.page.mouse.down()
        self.page.mouse.move(*screen(end), steps=4)
        self._timed("draw", self.page.mouse.up)

    def sweep(self, faces: np.ndarray) -> dict:
        """Sweep the file shown, drawing over each face left uncovered; what it took."""
        before = len(self.times)
        self.key("w")
        tiles = self.page.evaluate("sweep.tiles.length")
        drawn = 0
        while self.page.evaluate("sweep.on"):
            tile = self.page.evaluate("sweep.tiles[sweep.at]")[1:]
            for x, y, w, h in faces:
                if not (tile[0] <= x + w / 2 <= tile[2] and tile[1] <= y + h / 2 <= tile[3]):
                    continue
                if box_cover(self.covered(), np.array([[x, y, w, h]]))[0] < PROTECTED:
                    self.draw([float(x), float(y), float(x + w), float(y + h)], tile)
                    drawn += 1
            self.key(" ")
        keys = sum(kind.startswith("key") for kind, _ in self.times[before:])
        return {"tiles": tiles, "drawn": drawn, "keys": keys, "mouse": len(self.times) - before - keys}

    def sweep_video(self, truth: list[list[float]]) -> dict:
        """Sweep the video shown (``truth``: make_videos.py's boxes per frame), drawing over each face
        left uncovered on a swept frame and following it both ways; what it took."""
        before = len(self.times)
        self.key("w")
        tiles = self.page.evaluate("sweep.tiles.length")
        width, height = self.page.evaluate("[state.info.width, state.info.height]")
        drawn = 0
        while self.page.evaluate("sweep.on"):
            frame, *tile = self.page.evaluate("sweep.tiles[sweep.at]")
            for box in scored_faces(truth[frame], width, height):
                x1, y1, x2, y2 = box
                if not (tile[0] <= (x1 + x2) / 2 <= tile[2] and tile[1] <= (y1 + y2) / 2 <= tile[3]):
                    continue
                cut = [int(x1), int(y1), int(x2) - int(x1), int(y2) - int(y1)]  # as the scorer cuts it
                if box_cover(self.covered(VIDEO_BLACK), np.array([cut]))[0] < PROTECTED:
                    self.cover_face(box, tile, frame)
                    drawn += 1
            self.key(" ")
        keys = sum(kind.startswith("key") for kind, _ in self.times[before:])
        return {"tiles": tiles, "drawn": drawn, "keys": keys, "mouse": len(self.times) - before - keys}

    def cover_face(self, box: list[float], tile: list[float], frame: int) -> None:
        """Draw over ``box`` on ``frame`` as a track of its own, follow it back and forward, and come
        back to ``frame``."""
        if self.page.evaluate("state.track") is not None:
            self.deselect(tile, frame)
        self.draw(box, tile)
        track = self.page.evaluate("state.track")
        self._timed("key Shift+F", lambda: self.page.keyboard.press("Shift+F"), FRAME, FOLLOWED)
        self.lane(track, frame)
        self._timed("key f", lambda: self.page.keyboard.press("f"), FRAME, FOLLOWED)
        self.lane(track, frame)

    def deselect(self, tile: list[float], frame: int) -> None:
        """A click on the picture away from every region on ``frame``, inside ``tile``."""
        boxes = self.page.evaluate(f"state.regions.filter((r) => r.frame === {frame}).map((r) => r.box)")
        free = lambda x, y: all(not (b[0] - 8 <= x <= b[2] + 8 and b[1] - 8 <= y <= b[3] + 8) for b in boxes)  # noqa: E731
        spots = [
            (tile[0] + (tile[2] - tile[0]) * i / 8, tile[1] + (tile[3] - tile[1]) * j / 8)
            for j in range(1, 8)
            for i in range(1, 8)
        ]
        x, y = next((p for p in spots if free(*p)), spots[0])
        rect = self.page.locator("#overlay").bounding_box()
        scale = rect["width"] / self.page.evaluate("state.info.width")
        self.page.mouse.move(rect["x"] + x * scale, rect["y"] + y * scale)
        self.page.mouse.down()
        self._timed("click picture", self.page.mouse.up)

    def lane(self, track: int, frame: int) -> None:
        """Click ``track``'s lane in the timeline at ``frame``: that frame, the track's region selected."""
        timeline = self.page.locator("#timeline").bounding_box()
        frames = self.page.evaluate("state.info.frames")
        x = timeline["x"] + (frame + 0.25) / frames * timeline["width"]
        for lane in self.page.locator(f'#timeline rect.lane[data-track="{track}"]').all():
            there = lane.bounding_box()
            if there and there["x"] <= x <= there["x"] + there["width"]:
                point = {"x": x - there["x"], "y": there["height"] / 2}
                self._timed("click lane", lambda lane=lane, point=point: lane.click(position=point))
                return
        raise RuntimeError(f"no lane of track {track} at frame {frame}")


def scored_faces(faces: list[list[float]], width: int, height: int) -> list[list[float]]:
    """The boxes (clipped to the picture) of one frame's faces that video_coverage.py scores."""
    kept = []
    for x1, y1, x2, y2, _ in faces:
        inside = [max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)]
        if inside[2] <= inside[0] or inside[3] <= inside[1] or y2 - y1 < VIDEO_SMALLEST:
            continue
        if (inside[2] - inside[0]) * (inside[3] - inside[1]) >= 0.5 * (x2 - x1) * (y2 - y1):
            kept.append(inside)
    return kept


def video_exposure(gt: Path, outputs: Path) -> dict:
    """video_coverage.py's figures for the clips in ``outputs`` against ``gt``."""
    score = subprocess.run(
        [sys.executable, str(TOOLS / "video_coverage.py"), str(gt), str(outputs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(score.stdout)


def start_review(paths: list[Path], out: Path, src: Path) -> tuple[subprocess.Popen, str]:
    """``unseen review`` (of ``src``) on ``paths``, detection first; the child and the address it prints."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "unseen", "review", *map(str, paths), "-o", str(out / "published")]
    cmd += ["--regions", str(out / "review.unseen.json"), "--no-browser"]
    child = subprocess.Popen(cmd, cwd=out, env=env, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line.startswith("unseen review: http://127.0.0.1:"):
        child.kill()
        raise SystemExit(f"unseen review did not start: {line!r}")
    return child, line.split(": ", 1)[1].strip()


def opened(p, url: str, min_score: float | None):
    """Chromium on the review page at ``url``, ready; the browser, the page and its reviewer."""
    browser = p.chromium.launch(executable_path=CHROMIUM)
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.add_init_script(MARK)
    page.goto(url)
    page.wait_for_selector("body.ready", timeout=600_000)
    if min_score is not None:
        page.fill("#min-score", str(min_score))
        page.locator("#min-score").blur()  # the keys are the page's again
    return browser, page, Reviewer(page, url.split("/?")[0])


def exported(reviewer: Reviewer) -> tuple[str, list[float], list[float]]:
    """Export and confirm: the page's status after it, and the ms until it answered and was done."""
    before = len(reviewer.times)
    reviewer.click("#export", DIALOG, DIALOG)
    reviewer.click("#export-confirm", EXPORTING, EXPORTED)
    status = reviewer.page.locator("#status").inner_text()
    return status, [ms for _, ms in reviewer.times[before:]], reviewer.settled[before:]


def review_clips(args: argparse.Namespace) -> int:
    """The reviewer on clips (``--clips``): sweep, draw and follow, export; exposure before and after."""
    from playwright.sync_api import sync_playwright

    clips = sorted(args.clips.resolve().glob("v*.mp4"))[: args.limit]
    truth = {c.name: json.loads(c.with_suffix(".json").read_text())["frames"] for c in clips}
    out = fresh_dir(args.out.resolve())
    plain = out / "command_line"
    cmd = [sys.executable, "-m", "unseen", *map(str, clips), "-o", str(plain), "--method", "fill", "--quiet"]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(args.src.resolve())})
    t = time.perf_counter()
    child, url = start_review(clips, out, args.src.resolve())
    detect_s = time.perf_counter() - t
    rows = []
    try:
        with sync_playwright() as p:
            browser, page, reviewer = opened(p, url, args.min_score)
            for i, clip in enumerate(clips):
                before = len(reviewer.times)
                if i:
                    reviewer.key("]", index=i)
                swept = reviewer.sweep_video(truth[clip.name])
                rows.append({"clip": clip.name, **swept, "inputs": len(reviewer.times) - before})
                rows[-1]["ms"] = [ms for _, ms in reviewer.times[before:]]
            status, export_ms, _ = exported(reviewer)
            times = reviewer.times
            browser.close()
    finally:
        child.terminate()
        child.wait()
    gt = out / "truth"  # the ground truth of the clips reviewed, for the scorer
    gt.mkdir()
    for clip in clips:
        (gt / clip.with_suffix(".json").name).write_bytes(clip.with_suffix(".json").read_bytes())
    before, after = video_exposure(gt, plain), video_exposure(gt, out / "published")
    print(f"unseen review detected {len(clips)} clips in {detect_s:.0f} s; export: {status}")
    print("clip | swept tiles | faces drawn and followed | inputs (keys+mouse) | page ms per input")
    for row in rows:
        print(
            f"{row['clip']} | {row['tiles']} | {row['drawn']} "
            f"| {row['inputs']} ({row['keys']}+{row['mouse']}) | {summary(row['ms'])}"
        )
    every = [ms for _, ms in times]
    result = {
        "clips": len(rows),
        "faces_exposed_before": before["faces_ever_exposed"],
        "faces_exposed_after": after["faces_ever_exposed"],
        "face_frames_exposed_before": before["pair_exposed"],
        "face_frames_exposed_after": after["pair_exposed"],
        "tiles": sum(r["tiles"] for r in rows),
        "drawn": sum(r["drawn"] for r in rows),
        "inputs": sum(r["inputs"] for r in rows) + len(export_ms),
        "page_ms_median": round(statistics.median(every), 1),
        "page_ms_max": round(max(every), 1),
        "inputs_over_100ms": sum(ms >= 100 for ms in every),
    }
    return reported(result, rows, times, args.json)


def reported(result: dict, rows: list[dict], times: list[tuple[str, float]], path: Path | None) -> int:
    """Print ``result`` with the page's time per kind of input; save it with ``rows`` to ``path``."""
    for kind in sorted({k for k, _ in times}):
        result[f"ms {kind}"] = summary([ms for k, ms in times if k == kind])
    print(json.dumps(result, indent=1))
    if path:
        path.write_text(json.dumps({"rows": rows, "result": result}, indent=1))
    return 0


def exported_cover(out: Path, names: list[str], gt: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Per photo, the share of each annotated face (x y w h) covered in its exported file."""
    shares = []
    for name in names:
        with Image.open(out / "published" / Path(name).name) as im:
            mask = np.asarray(im.convert("RGB")).max(axis=2) < BLACK
        shares.append(box_cover(mask, gt[name][:, :4]))
    return shares


def summary(times: list[float]) -> str:
    if not times:
        return "-"
    return f"median {statistics.median(times):.0f} · max {max(times):.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=8, help="photos or clips (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "review_sweep")
    ap.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="the page's score filter (default: its own)",
    )
    ap.add_argument("--src", type=Path, default=REPO / "src", help="the unseen sources reviewed with")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="save every number here")
    ap.add_argument(
        "--clips", type=Path, default=None, metavar="DIR", help="review make_videos clips (vNN.mp4, vNN.json)"
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    if args.clips is not None:
        return review_clips(args)
    gt = load_gt(str(args.data / "wider_face_dev_bbx_gt.txt"))
    names = choose(gt, args.limit)
    out = fresh_dir(args.out.resolve())
    t = time.perf_counter()
    child, url = start_review([args.data / "images" / n for n in names], out, args.src.resolve())
    detect_s = time.perf_counter() - t
    rows = []
    try:
        with sync_playwright() as p:
            browser, page, reviewer = opened(p, url, args.min_score)
            files = page.evaluate("state.files.map((f) => f.name)")
            for i, name in enumerate(names):
                before = len(reviewer.times)
                if i:
                    reviewer.key("]", index=i)
                assert files[i] == Path(name).name, (files, name)
                shown = page.locator("#overlay rect.region").count()  # what is drawn, outlined
                faint = page.locator("#overlay path.faint")
                faint = int(faint.get_attribute("data-count")) if faint.count() else 0
                found = page.evaluate("state.regions.filter((r) => r.action !== 'suggested').length")
                counted = page.evaluate(
                    "[state.files[state.index].faces, state.files[state.index].candidates]"
                )
                boxes = gt[name]
                must = boxes[(boxes[:, 3] >= SMALLEST) & (boxes[:, 4] == 0), :4]
                swept = reviewer.sweep(must)
                swept["inputs"] = len(reviewer.times) - before
                swept["keys"] += bool(i)
                rows.append(
                    {
                        "photo": name,
                        "faces": len(boxes),
                        "faces_10": len(must),
                        "boxes": found,
                        "shown": shown,
                        "faint": faint,
                        "page_faces": counted,
                        **swept,
                    }
                )
                rows[-1]["ms"] = [ms for _, ms in reviewer.times[before:]]
                rows[-1]["slowest"] = max(reviewer.times[before:], key=lambda t: t[1])
            status, export_ms, export_done_ms = exported(reviewer)
            times, frames, settled = reviewer.times, reviewer.frames, reviewer.settled
            browser.close()
    finally:
        child.terminate()
        child.wait()
    shares = exported_cover(out, names, gt)
    print(f"unseen review detected {len(names)} photos in {detect_s:.0f} s; export: {status}")
    print(
        "photo | faces (>= 10 px) | page: faces+candidates | boxes | shown (+faint) | shown/face | tiles "
        "| drawn | inputs (keys+mouse) | target | covered >= 10 px | page ms per input"
    )
    covered = total = 0
    for row, share in zip(rows, shares, strict=True):
        boxes = gt[row["photo"]]
        must = (boxes[:, 3] >= SMALLEST) & (boxes[:, 4] == 0)
        row["covered_10"] = int((share[must] >= PROTECTED).sum())
        row["target_inputs"] = row["tiles"] + row["drawn"]
        covered, total = covered + row["covered_10"], total + row["faces_10"]
        print(
            f"{Path(row['photo']).name} | {row['faces']} ({row['faces_10']}) "
            f"| {'+'.join(map(str, row['page_faces']))} | {row['boxes']} | {row['shown']} (+{row['faint']}) "
            f"| {row['shown'] / row['faces']:.2f} | {row['tiles']} | {row['drawn']} "
            f"| {row['inputs']} ({row['keys']}+{row['mouse']}) | {row['target_inputs']} "
            f"| {row['covered_10']}/{row['faces_10']} | {summary(row['ms'])}"
        )
    faces = sum(r["faces"] for r in rows)
    every = [ms for _, ms in times]
    result = {
        "photos": len(rows),
        "faces": faces,
        "regions_shown_per_face": round(sum(r["shown"] for r in rows) / faces, 2),
        "faint_per_face": round(sum(r["faint"] for r in rows) / faces, 2),
        "boxes_per_face": round(sum(r["boxes"] for r in rows) / faces, 2),
        "tiles": sum(r["tiles"] for r in rows),
        "drawn": sum(r["drawn"] for r in rows),
        "inputs": sum(r["inputs"] for r in rows) + len(export_ms),
        "covered_10": f"{covered}/{total}",
        "covered_10_share": round(covered / max(total, 1), 4),
        "first_frame_ms_median": round(statistics.median(frames), 1),
        "first_frame_ms_max": round(max(frames), 1),
        "page_ms_median": round(statistics.median(every), 1),
        "page_ms_p90": round(float(np.percentile(every, 90)), 1),
        "page_ms_max": round(max(every), 1),
        "inputs_over_100ms": sum(ms >= 100 for ms in every),
        "settled_ms_median": round(statistics.median(settled), 1),
        "settled_ms_max": round(max(settled), 1),
        "settled_over_100ms": sum(ms >= 100 for ms in settled),
        "export_ms": [round(ms) for ms in export_ms],
        "export_done_ms": [round(ms) for ms in export_done_ms],
    }
    return reported(result, rows, times, args.json)


if __name__ == "__main__":
    sys.exit(main())
