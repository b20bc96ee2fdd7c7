"""Each face a video run left exposed, side by side for two or more runs, with what the input shows there.

``video_coverage.py`` counts a face-frame covered when 70 % of the face's box is near-black in the
output. A face in shadow is partly near-black already in the input, so the encoder's noise can move
it across that line with nothing painted on it, and a run can seem to expose it more or less than
another. This lists, for every face exposed in at least one frame of any of the runs, the frames
exposed in each run and how many of those frames the input itself has at least half near-black
(``shadow``): a difference there is not a difference in cover.

    python bench/exposed_faces.py GTDIR INPUTDIR OUT_A OUT_B [...]

GTDIR holds make_videos.py's vNN.json, INPUTDIR the clips the runs were given, OUT_* each run's
outputs (``bench/video.py`` writes them to OUT/run<res>/<tool>/<kind>).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import av

BLACK = 48  # near-black: max channel under this (as video_coverage.py)
COVERED = 0.7  # a face-frame is covered when this share of its box is near-black
MIN_HEIGHT = 12  # smaller faces are not scored
SHADOW = 0.5  # the input is this dark in the box already


def dark_shares(video: Path, frames: list[list[list[float]]]) -> dict[tuple[int, int], float]:
    """(frame, face id) -> the share of that face's box that is near-black in ``video``, for the
    faces scored (at least half in the picture, at least MIN_HEIGHT tall)."""
    shares = {}
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= len(frames):
                break
            dark = frame.to_ndarray(format="rgb24").max(axis=2) < BLACK
            h, w = dark.shape
            for x1, y1, x2, y2, fid in frames[i]:
                cx1, cy1, cx2, cy2 = max(int(x1), 0), max(int(y1), 0), min(int(x2), w), min(int(y2), h)
                inside = max(cx2 - cx1, 0) * max(cy2 - cy1, 0) / max((x2 - x1) * (y2 - y1), 1)
                if inside >= 0.5 and y2 - y1 >= MIN_HEIGHT:
                    shares[(i, int(fid))] = float(dark[cy1:cy2, cx1:cx2].mean())
    return shares


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("gt", type=Path)
    parser.add_argument("inputs", type=Path)
    parser.add_argument("outputs", type=Path, nargs="+")
    a = parser.parse_args()
    names = [str(o) for o in a.outputs]
    totals = defaultdict(int)
    for gt in sorted(a.gt.glob("v*.json")):
        clips = sorted(a.inputs.glob(gt.stem + ".*"))
        clips = [c for c in clips if c.suffix != ".json"]
        outs = [[p for p in sorted(o.glob(gt.stem + ".*")) if p.suffix != ".json"] for o in a.outputs]
        if not clips or not all(outs):
            continue
        frames = json.loads(gt.read_text())["frames"]
        source = dark_shares(clips[0], frames)
        exposed = [{k for k, v in dark_shares(o[0], frames).items() if v < COVERED} for o in outs]
        for fid in sorted({f for run in exposed for _, f in run}):
            counts = []
            for name, run in zip(names, exposed, strict=True):
                mine = [i for i, f in run if f == fid]
                shadow = sum(source.get((i, fid), 0.0) >= SHADOW for i in mine)
                counts.append(f"{len(mine)} ({shadow} shadow)")
                totals[name] += len(mine)
                totals[name + " shadow"] += shadow
            print(f"{gt.stem} face {fid}: frames exposed " + " | ".join(counts))
    for name in names:
        print(f"{name}: {totals[name]} face-frames exposed, {totals[name + ' shadow']} of them in shadow")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
