"""Camera motion: how the picture moved between consecutive frames, so faces are followed in the scene.

Most motion in real footage is the camera's (a pan, a zoom, a hand's shake), not the people's. A
tracker that predicts in picture coordinates sees every still face slide across the frame; it then
guesses wrong between keyframes, loses faces that leave the picture, and breaks one face into many
tracks. So each frame is compared with the one before on a small grey copy: corners found in the
earlier one are followed by sparse optical flow (pyramidal Lucas-Kanade) and a similarity transform
(shift, zoom, roll) is fitted to them with RANSAC, so a person walking across the picture does not
count as the camera; corners are looked for cell by cell, away from the faces last seen. Chaining
the transforms gives every frame's way into one *scene* frame (its shot's first frame's pixels): a
face that stands still while the camera moves has the same scene box in every frame.

Where the fit cannot be trusted (too few corners followed: a blank wall, darkness, a blur; or the
corners that agree lie in a few parts of the picture only, so they are things moving, not the
camera) the camera is taken as still, which is what the tracker assumed before. A *cut* (a new
shot) is told apart by the picture's brightness histogram changing at once; the transform is then
unknown and taken as the identity, and the tracker starts afresh there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionOptions:
    """How consecutive frames are compared."""

    corners: int = 200  # at most this many corners are followed
    min_points: int = 12  # fewer corners followed than this: the camera is taken as still
    min_inliers: float = 0.5  # ... and fewer than this share agreeing with one transform
    min_cells: int = 8  # ... and agreeing corners in fewer than this many of the picture's 4 x 4
    # cells: those are a few things moving (faces before a blank wall), not the camera
    cut: float = 0.5  # Bhattacharyya distance of the brightness histograms that marks a new shot


def _matrix(affine: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2] = affine
    return out


class MotionEstimator:
    """Feed every frame's small grey copy in order; each step says how the camera moved since the last."""

    def __init__(self, frame_size: tuple[int, int], options: MotionOptions | None = None) -> None:
        """``frame_size``: the full frame's (height, width), since transforms are given in its pixels."""
        self.options = options or MotionOptions()
        self.frame_size = frame_size
        self._previous: np.ndarray | None = None
        self._histogram: np.ndarray | None = None

    def step(self, small: np.ndarray, faces: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """(3x3 transform taking the previous frame's pixels to this frame's, whether this frame cuts).

        ``small`` is the frame in grey, shrunk (see ``Frame.grey``; its size is the caller's). ``faces``
        (N x 4, in full pixels): where people were lately; their corners are left out, since people
        move on their own. The first frame has the identity and is no cut."""
        o = self.options
        histogram = cv2.calcHist([small], [0], None, [32], [0, 256])
        cv2.normalize(histogram, histogram)
        previous, last_histogram = self._previous, self._histogram
        self._previous, self._histogram = small, histogram
        if previous is None or last_histogram is None or previous.shape != small.shape:
            return np.eye(3), False
        if cv2.compareHist(last_histogram, histogram, cv2.HISTCMP_BHATTACHARYYA) > o.cut:
            return np.eye(3), True
        corners = self._corners(previous, self._mask(small, faces))
        if len(corners) < o.min_points:
            return np.eye(3), False
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, small, corners, None, winSize=(15, 15), maxLevel=3
        )
        ok = status.ravel() == 1
        if ok.sum() < o.min_points:
            return np.eye(3), False
        affine, inliers = cv2.estimateAffinePartial2D(
            corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0
        )
        if affine is None or inliers is None or inliers.sum() < max(o.min_points, o.min_inliers * ok.sum()):
            return np.eye(3), False
        agreeing = corners[ok][inliers.ravel() == 1].reshape(-1, 2)
        cells = np.floor(agreeing * 4 / [small.shape[1], small.shape[0]]).astype(int)
        if len(np.unique(cells[:, 0] * 4 + cells[:, 1])) < o.min_cells:
            return np.eye(3), False
        height, width = self.frame_size
        scale = np.diag([width / small.shape[1], height / small.shape[0], 1.0])
        return scale @ _matrix(affine) @ np.linalg.inv(scale), False  # in the full frame's pixels

    def _corners(self, grey: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Corners to follow, looked for in each of the picture's 4 x 4 cells on its own: the strongest
        corners of a picture are on its people and its busiest part, and a fit to those alone cannot
        tell the camera's motion from theirs. (N x 1 x 2 float32, in ``grey``'s pixels.)"""
        h, w = grey.shape
        found = []
        for i in range(4):
            for j in range(4):
                y0, y1, x0, x1 = h * i // 4, h * (i + 1) // 4, w * j // 4, w * (j + 1) // 4
                cell = None if mask is None else np.ascontiguousarray(mask[y0:y1, x0:x1])
                if cell is not None and not cell.any():
                    continue
                got = cv2.goodFeaturesToTrack(
                    np.ascontiguousarray(grey[y0:y1, x0:x1]),
                    self.options.corners // 16,
                    0.01,
                    8,
                    mask=cell,
                    blockSize=5,
                )
                if got is not None:
                    found.append(got + np.array([x0, y0], np.float32))
        return np.concatenate(found) if found else np.zeros((0, 1, 2), np.float32)

    def _mask(self, small: np.ndarray, faces: np.ndarray | None) -> np.ndarray | None:
        """Where corners may be looked for: everywhere but the ``faces`` grown by half their size."""
        if faces is None or not len(faces):
            return None
        height, width = self.frame_size
        sx, sy = small.shape[1] / width, small.shape[0] / height
        mask = np.full(small.shape, 255, np.uint8)
        for x1, y1, x2, y2 in np.asarray(faces, np.float64).reshape(-1, 4):
            w, h = (x2 - x1) / 2, (y2 - y1) / 2
            a = (max(int((x1 - w) * sx), 0), max(int((y1 - h) * sy), 0))
            mask[a[1] : int(np.ceil((y2 + h) * sy)), a[0] : int(np.ceil((x2 + w) * sx))] = 0
        return mask


class CameraPath:
    """Every frame's transform into the scene frame, and the shots' first frames.

    Frames are added in order, from any first frame (a worker's part of a video starts anywhere).
    A cut restarts the scene at that frame's own pixels. Without frames the camera is still. The
    path of a whole video is kept (the painting pass reads it after the detecting pass made it), in
    flat arrays: 80 bytes a frame (half as much again spare while they grow), 11 MB for an hour at
    30 fps, where a list of matrices took 23 MB.
    """

    def __init__(self) -> None:
        self._first = 0
        self._count = 0
        self._to_scene = np.empty((64, 3, 3))
        self._shot = np.empty(64, np.int64)  # the first frame of each frame's shot

    def add(self, frame: int, motion: np.ndarray, cut: bool) -> None:
        """Add ``frame``, which ``motion`` (3x3) takes from the frame before, or which cuts to a new shot."""
        n = self._count
        if not n:
            self._first = frame
        elif frame != self._first + n:
            raise ValueError(f"CameraPath: frame {frame} added out of order")
        if n == len(self._shot):  # grow by half: amortised constant time a frame
            self._to_scene = np.concatenate([self._to_scene, np.empty((n // 2, 3, 3))])
            self._shot = np.concatenate([self._shot, np.empty(n // 2, np.int64)])
        if not n or cut:
            self._to_scene[n] = np.eye(3)
            self._shot[n] = frame
        else:
            self._to_scene[n] = self._to_scene[n - 1] @ np.linalg.inv(motion)
            self._shot[n] = self._shot[n - 1]
        self._count = n + 1

    def _at(self, frame: int) -> int:
        return min(max(frame - self._first, 0), self._count - 1)

    def shot(self, frame: int) -> int:
        """The first frame of ``frame``'s shot (frames outside those added: the nearest's shot)."""
        return int(self._shot[self._at(frame)]) if self._count else 0

    def _matrix(self, frame: int) -> np.ndarray:
        return self._to_scene[self._at(frame)] if self._count else np.eye(3)

    def to_scene(self, frame: int, boxes: np.ndarray) -> np.ndarray:
        """``boxes`` (N x 4, in ``frame``'s pixels) in the scene frame of its shot."""
        return transform_boxes(self._matrix(frame), boxes)

    def to_frame(self, frame: int, boxes: np.ndarray) -> np.ndarray:
        """``boxes`` (N x 4, in the scene frame) in ``frame``'s pixels."""
        return transform_boxes(np.linalg.inv(self._matrix(frame)), boxes)


def transform_boxes(matrix: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Boxes (N x 4 or 4) through a 3x3 transform: the box around each transformed box's corners
    (a rolled box grows to hold its turned corners, never shrinks into the face). In float64: scene
    coordinates far from the picture keep their fractions."""
    boxes = np.asarray(boxes, np.float64)
    flat = boxes.reshape(-1, 4)
    if np.array_equal(matrix, np.eye(3)):
        return boxes.copy()
    xs, ys = flat[:, [0, 2, 2, 0]], flat[:, [1, 1, 3, 3]]
    a = matrix
    tx = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    ty = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    out = np.stack([tx.min(1), ty.min(1), tx.max(1), ty.max(1)], 1)
    return out.reshape(boxes.shape)
