"""Follow a drawn region through a video, frame by frame, for as long as the person lets it run.

A person draws a face the run missed once; following fills the next (or previous) frames. In each
frame the detector is run again, at a low threshold, on a window around where the face was; the
detection that overlaps the face's last box best moves and scales the drawn box with it. A face
the detector does not see even there (dark, blurred, turned away) is followed by matching the
picture of the last box in the new frame; when that fails too, the box stays where it was, so a
person always gets a box to check rather than a gap. Following stops when the box has left the
picture, or when neither has found the face for a few frames: the person takes it from there (it
used to run on for 90 frames past a face that had left).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from ..detect.cascade import VIDEO_CASCADE, Cascade
from ..detect.model import shared_model
from ..regions import iou_matrix

Box = np.ndarray  # x1 y1 x2 y2, float
REACH = 5.0  # the detector's thresholds divided by this around a followed face (0.2 -> 0.04)
AROUND = 1.0  # the window reaches this many box sizes beyond the box on each side
FACE_PIXELS = 48.0  # small faces are upscaled to about this height before detecting (at most 4x)
MIN_OVERLAP = 0.25  # a detection overlapping the face's last box less than this is another face
MIN_MATCH = 0.5  # picture matching below this correlation is no match: the box stays
LOST = 3  # frames in a row without the face (no detection, no match) after which following stops


@cache
def _detector() -> Cascade:
    """The video cascade at a low threshold, without its mirrored view, built once per process: at
    a fifth of its thresholds in a window around one face, the mirrored view's boxes led a followed
    hidden face's box off it from the first frame. Following needs the native view's placement of
    the one face it follows, not more faces."""
    return Cascade(shared_model(), replace(VIDEO_CASCADE, mirror=False).scaled(REACH))


def _window(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The search window around ``box``, clipped to the picture."""
    w, h = box[2] - box[0], box[3] - box[1]
    x1, y1 = int(max(box[0] - AROUND * w, 0)), int(max(box[1] - AROUND * h, 0))
    x2, y2 = int(min(box[2] + AROUND * w, shape[1])), int(min(box[3] + AROUND * h, shape[0]))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def detect_near(image: np.ndarray, box: Box) -> Box | None:
    """The detected face in ``image`` that overlaps ``box`` best, or None if none overlaps enough."""
    x1, y1, x2, y2 = _window(box, image.shape)
    scale = float(np.clip(FACE_PIXELS / max(box[3] - box[1], 1.0), 1.0, 4.0))
    crop = image[y1:y2, x1:x2]
    if scale > 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    found = _detector()(np.ascontiguousarray(crop))
    if not len(found):
        return None
    boxes = found.boxes / scale + np.array([x1, y1, x1, y1], np.float32)
    overlap = iou_matrix(boxes, box[None].astype(np.float32))[:, 0]
    best = int(np.argmax(overlap))
    return boxes[best].astype(np.float64) if overlap[best] >= MIN_OVERLAP else None


def match_near(before: np.ndarray, seen: Box, image: np.ndarray, box: Box) -> Box | None:
    """Where the picture of ``seen`` in ``before`` is found in ``image``, near ``box`` (the face's
    last box), as ``box`` moved there; None if not found."""
    bx1, by1, bx2, by2 = (int(round(v)) for v in seen)
    h, w = before.shape[:2]
    bx1, by1, bx2, by2 = max(bx1, 0), max(by1, 0), min(bx2, w), min(by2, h)
    if bx2 - bx1 < 4 or by2 - by1 < 4:
        return None
    x1, y1, x2, y2 = _window(box, image.shape)
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY)
    patch = cv2.cvtColor(before[by1:by2, bx1:bx2], cv2.COLOR_RGB2GRAY)
    if gray.shape[0] < patch.shape[0] or gray.shape[1] < patch.shape[1]:
        return None
    scores = cv2.matchTemplate(gray, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (mx, my) = cv2.minMaxLoc(scores)
    if not best >= MIN_MATCH:  # NaN (a flat patch) is no match either
        return None
    dx, dy = x1 + mx - bx1, y1 + my - by1
    return seen + np.array([dx, dy, dx, dy], np.float64)


def _moved(box: Box, face: Box, found: Box) -> Box:
    """``box`` moved and scaled as its face moved from ``face`` to ``found``."""
    scale = (found[3] - found[1]) / max(face[3] - face[1], 1e-6)
    centre, new_centre = (face[:2] + face[2:]) / 2, (found[:2] + found[2:]) / 2
    corners = (box.reshape(2, 2) - centre) * scale + new_centre
    return corners.reshape(4)


def follow(
    frame: Callable[[int], np.ndarray], start: int, box: Box, step: int, count: int, frames: int
) -> Iterator[tuple[int, Box]]:
    """Boxes for up to ``count`` frames after (``step`` 1) or before (-1) ``start``, where ``box`` was
    drawn; stops at the first or last of the video's ``frames``, once the box has left the picture,
    and after ``LOST`` frames in a row without the face. ``frame(i)`` decodes frame ``i``."""
    end = min(start + count, frames - 1) if step > 0 else max(start - count, 0)
    box = np.asarray(box, np.float64)
    seen_in, seen = frame(start), box
    face = detect_near(seen_in, box)  # the detector's box of the drawn face, where it sees it
    # The picture matched when the detector misses the face: the face as last seen by the detector
    # or drawn, never the last frame's box (after the face has gone, that is the wall behind it,
    # which matches itself and kept a box standing there).
    lost = 0  # frames in a row in which nothing found the face
    for index in range(start + step, end + step, step):
        image = frame(index)
        found = detect_near(image, face if face is not None else box)
        if found is not None and face is not None:
            box = _moved(box, face, found)
        matched = match_near(seen_in, seen, image, box) if found is None else None
        box = box if matched is None else matched
        lost = 0 if found is not None or matched is not None else lost + 1
        if found is not None:
            seen_in, seen = image, box
        face = found  # a face seen again anchors the box from the next frame on
        h, w = image.shape[:2]
        if lost > LOST or box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
            return  # lost, or gone out of the picture
        yield index, box
