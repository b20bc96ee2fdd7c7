"""Test media for review: real faces a detector finds, one it only half sees, and one it misses.

A face is made hard to see the way a bad photo does it: darkened and out of focus. The weak face
(``WEAK``) is found only below the normal thresholds, so review offers it as a suggestion; the
hidden one (``HIDDEN``) is not found at all, so a person has to draw it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from clips import make_clip
from PIL import Image
from scenes import Placement, background, render

# Photo: face-box centres and, per face, (gain, blur sigma); 0 blur leaves the face as it is.
PHOTO_FACES = [(80, 90, 1.0, 0), (230, 150, 0.2, 5), (370, 100, 0.12, 9)]
CLEAR, WEAK, HIDDEN = 0, 1, 2
VIDEO_FRAMES = 24
VIDEO_CLEAR, VIDEO_HIDDEN, VIDEO_WEAK = 0, 1, 2


def _hide(image: np.ndarray, box: np.ndarray, sigma: float, pad: int = 10) -> None:
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]) - pad, 0), max(int(box[1]) - pad, 0)
    x2, y2 = min(int(box[2]) + pad, w), min(int(box[3]) + pad, h)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(image[y1:y2, x1:x2], (0, 0), sigma)


def _scene(base: np.ndarray, faces: list[tuple[float, float, float, float]], height: float) -> tuple:
    scene = render(base, [Placement(height, cx, cy, gain=gain) for cx, cy, gain, _ in faces])
    image = scene.image.copy()
    for box, (*_, sigma) in zip(scene.boxes, faces, strict=True):
        if sigma:
            _hide(image, box, sigma)
    return image, scene.boxes


def review_photo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 448 x 256 PNG with a clear, a weak and a hidden face; returns its pixels and face boxes."""
    image, boxes = _scene(background((256, 448), 1, "coffee"), PHOTO_FACES, 60)
    Image.fromarray(image).save(path)
    return image, boxes


def video_faces(i: int) -> list[tuple[float, float, float, float]]:
    """Frame ``i``: a clear face moving right, a hidden face moving down and a weak one standing still."""
    # (the weak face at gain 0.25, not 0.3: a video's keyframes now second a face seen at 0.1-0.2
    # with their mirrored view, which found that one on a keyframe and obscured it)
    return [(60 + 2 * i, 70, 1.0, 0), (190, 60 + i, 0.12, 9), (110, 150, 0.25, 4)]


def review_video(path: Path) -> list[np.ndarray]:
    """A 256 x 192 clip of ``VIDEO_FRAMES`` frames; returns each frame's face boxes."""
    base = background((192, 256), 1, "coffee")
    boxes = []

    def picture(i: int) -> np.ndarray:
        image, frame_boxes = _scene(base, video_faces(i), 50)
        boxes.append(frame_boxes)
        return image

    make_clip(path, frames=VIDEO_FRAMES, size=(256, 192), audio=False, pictures=picture)
    return boxes


FOLLOW_FRAMES = 16


def follow_faces(i: int) -> list[tuple[float, float, float, float]]:
    """Frame ``i`` of the follow clip: a hidden face crossing the picture, a clear one standing still."""
    return [(70 + 5 * i, 80 + 2 * i, 0.12, 9), (200, 150, 1.0, 0)]


def follow_video(path: Path) -> list[np.ndarray]:
    """A 256 x 192 clip of ``FOLLOW_FRAMES`` frames whose hidden face moves fast; each frame's boxes."""
    base = background((192, 256), 1, "coffee")
    boxes = []

    def picture(i: int) -> np.ndarray:
        image, frame_boxes = _scene(base, follow_faces(i), 44)
        boxes.append(frame_boxes)
        return image

    make_clip(path, frames=FOLLOW_FRAMES, size=(256, 192), audio=False, pictures=picture)
    return boxes
