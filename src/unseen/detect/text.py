"""Where a picture shows text (number plates, name badges, signs): PP-OCR's detection network only.

The network (PP-OCRv4 det, a DB "differentiable binarisation" model, Apache-2.0) ships inside the
``rapidocr-onnxruntime`` wheel, the optional ``text`` extra. Only its file is used: the package is
never imported (importing it would load its pipeline), its recognition and orientation models are
never opened, and no text is ever read. The network gives each pixel the probability that it is part
of a text line; pixels above :attr:`TextOptions.threshold` joined into blobs are the lines, and each
blob's rotated rectangle, grown by the unclip distance DB was trained with (the probability map marks
a shrunk core of every line), and then its upright bounding box, is the region.

Like faces, the network runs on native-resolution tiles (:mod:`.tiles`), so characters 10 px tall in
a 48 MP photo are as visible as in a small one. Each view is trusted only for the text sizes it was
trained to see: a view at native size keeps the lines at most :attr:`TextOptions.max_line` (32) of
its pixels thick, leaving thicker ones to the next view, a quarter its scale, where they are at least
8 px thick; the last view (long side :attr:`TextOptions.coarse_side`, or a quarter of the one
before) keeps every size. At native size, blurred and upscaled texture (gravel, grass, stone) looked
like lines 30-100 px thick to the network: on 12 MP photos without text, a native view trusted for
every size painted 2-15 % of their pixels.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from .. import machine
from ..errors import UnseenError
from ..regions import Regions, nms, with_kind
from .text_graph import prepared_graph
from .tiles import Rect, tiles

MODEL_PACKAGE = "rapidocr_onnxruntime"
MODEL_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
EXTRA = "pip install 'unseen[text]'"
ALIGN = 32  # the network's input sides must be multiples of this
MEAN = STD = 0.5  # the normalisation the model was trained with, on [0, 1] pixels


class MissingExtra(UnseenError):
    """An optional part of unseen that this run needs is not installed."""


def model_path() -> Path:
    """The detection model inside the installed ``rapidocr-onnxruntime`` wheel, found without importing
    the package. Raises :class:`MissingExtra` naming the extra to install when it is not there."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise MissingExtra(f"finding text (--text) needs the text detector, which is not installed: {EXTRA}")


@dataclass(frozen=True)
class TextOptions:
    """How text is looked for.

    ``threshold``: a pixel belongs to text above this probability; ``box_threshold``: a blob is text
    when its mean probability reaches this. ``unclip``: how far each line's blob grows, as DB's ratio
    (area x ratio / perimeter). ``tile_pixels`` / ``tile_overlap``: the native view's tiles (lines
    at most ``max_line`` thick lying in the overlap, along the seam, were found with 64 as with 128,
    on 2 and 12 MP photos; 64 costs 8-10 % fewer network pixels).
    ``coarse_side``: the smallest view's long side is this, or larger where a quarter of the view
    before is larger; it keeps text of every size, and the views before it (native size, then a
    quarter of the scale before while still larger) keep the lines at most ``max_line`` of their
    pixels thick (the probability blob's short side, before unclipping). 320, not 640: a 720p frame's
    last view is a quarter of it, 16 % fewer network pixels a frame, 3 % on a 2 MP photo; lines
    thicker than the native view keeps are still at least 8 px thick there, as in every other view.
    ``min_side``: blobs thinner than this many network pixels are noise.
    """

    threshold: float = 0.3
    box_threshold: float = 0.5
    unclip: float = 1.6
    tile_pixels: int = 1024 * 1024
    tile_overlap: int = 64
    coarse_side: int = 320
    max_line: float = 32.0
    min_side: float = 3.0


class TextModel:
    """One onnxruntime session of the detection network, its scalar layers folded into its
    convolutions (:mod:`.text_graph`); each run on one thread (``threads``), no spinning: the
    detector runs tiles side by side instead (see :class:`TextDetector`)."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = machine.providers()[0]
        path = path or model_path()
        try:
            self._session = ort.InferenceSession(prepared_graph(path), options, providers=providers)
        except Exception:  # a cached graph onnxruntime refused (its load errors share no base class)
            self._session = ort.InferenceSession(
                prepared_graph(path, cached=False), options, providers=providers
            )
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """The text probability of each pixel of an H x W x 3 uint8 picture (sides multiples of 32)."""
        # (x / 255 - MEAN) / STD in one pass into the network's 1 x 3 x H x W layout
        blob = cv2.dnn.blobFromImage(rgb, 1 / (255 * STD), mean=(255 * MEAN,) * 3)
        return self._session.run(None, {self._input: blob})[0][0, 0]


def boxes_from_map(
    prob: np.ndarray, options: TextOptions, max_line: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Upright boxes (x1, y1, x2, y2 in map pixels) and scores of the text lines in a probability map
    whose blobs are at most ``max_line`` thick."""
    mask = cv2.dilate((prob > options.threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes, scores = [], []
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if not options.min_side <= min(w, h) <= max_line:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        blob = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(blob, [contour - np.array([x, y])], 1)
        score = float(prob[y : y + bh, x : x + bw][blob > 0].mean())
        if score < options.box_threshold:
            continue
        grow = w * h * options.unclip / (2 * (w + h))  # DB's unclip distance
        corners = cv2.boxPoints(((cx, cy), (w + 2 * grow, h + 2 * grow), angle))
        boxes.append([*corners.min(0), *corners.max(0)])
        scores.append(score)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)


class TextDetector:
    """Find text lines in one RGB picture: native tiles for small text, reduced views for larger.

    The tiles of all views run side by side, ``workers`` at a time (the thread budget), each on one
    thread of the model: the network's layers are many and small, and sharing each between two
    threads cost 10-12 % more CPU than two tiles at once (12 MP, 18 tiles: 2.70 -> 2.40 s CPU, the
    wall no longer). Each worker pads its own tile, so memory grows by ``workers`` tiles only.
    """

    def __init__(
        self, model: TextModel, options: TextOptions | None = None, workers: int | None = None
    ) -> None:
        self.model = model
        self.options = options or TextOptions()
        self.workers = workers or machine.thread_budget()

    def __call__(self, rgb: np.ndarray) -> Regions:
        o = self.options
        h, w = rgb.shape[:2]
        coarse = min(o.coarse_side / max(h, w), 1.0)
        views, scale = [], 1.0
        while scale > coarse:  # a line too thick for one view is at least a quarter as thick in the next
            views.append((rgb if scale == 1.0 else _resized(rgb, scale), scale, o.max_line))
            scale = max(scale / 4, coarse)
        views.append((rgb if scale == 1.0 else _resized(rgb, scale), scale, np.inf))
        pieces = [
            (view, rect, scale, max_line)
            for view, scale, max_line in views
            for rect in tiles(view.shape[0], view.shape[1], o.tile_pixels, o.tile_overlap, ALIGN)
        ]
        if self.workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(min(self.workers, len(pieces))) as pool:
                found = list(pool.map(self._look, *zip(*pieces, strict=True)))
        else:
            found = [self._look(*piece) for piece in pieces]
        boxes = np.concatenate([b for b, _ in found])
        scores = np.concatenate([s for _, s in found])
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return with_kind(nms(Regions.from_boxes(boxes[keep], scores[keep], "text"), 0.1), "text")

    def _look(
        self, view: np.ndarray, rect: Rect, scale: float, max_line: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The boxes (in original pixels) and scores of the lines at most ``max_line`` thick in the
        tile ``rect`` of ``view`` (the picture at ``scale``), padded with black to a multiple of 32."""
        x0, y0, x1, y1 = rect
        crop = view[y0:y1, x0:x1]
        ph, pw = -(-crop.shape[0] // ALIGN) * ALIGN, -(-crop.shape[1] // ALIGN) * ALIGN
        canvas = np.zeros((ph, pw, 3), np.uint8)
        canvas[: crop.shape[0], : crop.shape[1]] = crop
        boxes, scores = boxes_from_map(self.model.probabilities(canvas), self.options, max_line)
        return (boxes + np.array([x0, y0, x0, y0], np.float32)) / scale, scores


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


@cache
def shared_text_detector() -> TextDetector:
    """A process-wide text detector (the session takes a moment to open)."""
    return TextDetector(TextModel())
