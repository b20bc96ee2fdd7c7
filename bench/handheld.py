"""A handheld portrait pan: a phone held upright sweeps sideways across a group photo.

The view moves 12 px per frame (a brisk pan) and shakes as a hand does (a few smooth wobbles a
second, about 1 % of the frame's width), so faces keep entering and leaving through the frame's
side edges, moving fast near them: the case where a tracker that grows boxes with motion blacks
out the picture. The photo is scaled to cover the frame's height; the clip lasts as long as the pan
stays inside the photo. Writes STEM.mp4 (H.264, crf 18) and STEM.json in the format of
../shared/tools/make_videos.py ({source, fps, size, frames: [[x1, y1, x2, y2, face_id], ...]}), so
../shared/tools/video_coverage.py scores it like the other clips.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np

KIND = "handheld-pan"


def shake_offsets(n: int, fps: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) smooth offsets in pixels: three wobbles of different frequency per axis."""
    t = np.arange(n) / fps
    out = np.zeros((n, 2))
    for axis in range(2):
        for hz, share in ((0.7, 0.5), (1.9, 0.3), (3.1, 0.2)):
            out[:, axis] += amplitude * share * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    return out


def make_handheld(
    data: Path,
    name: str,
    out: Path,
    stem: str,
    size: tuple[int, int],
    *,
    fps: int = 30,
    speed: float = 12.0,
    seed: int = 11,
) -> Path:
    """Write ``out/stem.mp4`` and ``out/stem.json`` for WIDER photo ``name``; ``size`` is (W, H)."""
    tools = Path(__file__).resolve().parents[2] / "shared" / "tools"
    sys.path.insert(0, str(tools))
    from face_coverage import load_gt  # the shared WIDER reader

    w, h = size
    rng = np.random.default_rng(seed)
    img = cv2.imread(str(data / "images" / name))[:, :, ::-1]
    h0, w0 = img.shape[:2]
    amplitude = 0.01 * w
    z = (h + 4 * amplitude) / h0
    n = int((w0 * z - w - 4 * amplitude) / speed)
    if n < fps:
        raise ValueError(f"{name}: too narrow for a {w}x{h} pan")
    boxes = load_gt(str(data / "wider_face_dev_bbx_gt.txt"))[name]
    boxes = boxes[boxes[:, 4] == 0][:, :4].astype(float)
    shake = shake_offsets(n, fps, amplitude, rng)
    out.mkdir(parents=True, exist_ok=True)
    frames_gt = []
    with av.open(str(out / f"{stem}.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for f in range(n):
            left = 2 * amplitude + speed * f + shake[f, 0]  # the view's left edge in scaled photo pixels
            top = (h0 * z - h) / 2 + shake[f, 1]
            matrix = np.array([[z, 0, -left], [0, z, -top]])
            frame = cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
            x1, y1 = boxes[:, 0] * z - left, boxes[:, 1] * z - top
            x2, y2 = (boxes[:, 0] + boxes[:, 2]) * z - left, (boxes[:, 1] + boxes[:, 3]) * z - top
            keep = (x2 > 0) & (y2 > 0) & (x1 < w) & (y1 < h)
            frames_gt.append(
                [
                    [round(float(v), 1) for v in (a, b, c, d)] + [int(i)]
                    for i, (a, b, c, d) in enumerate(zip(x1, y1, x2, y2, strict=True))
                    if keep[i]
                ]
            )
        for packet in stream.encode():
            container.mux(packet)
    meta = {"source": name, "kind": KIND, "fps": fps, "size": [w, h], "frames": frames_gt}
    (out / f"{stem}.json").write_text(json.dumps(meta))
    return out / f"{stem}.mp4"
