"""The text network with its scalar layers folded in: the same maps as the wheel's graph, fewer
passes, kept in the cache folder and rebuilt when the cached file is damaged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_text import plate_scene

from unseen.detect import graph_cache, text_graph
from unseen.detect.text import TextModel, model_path


def _maps(graph: bytes, blob: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: blob})[0]


def test_the_folded_graph_gives_the_wheels_maps_in_fewer_passes():
    image, _ = plate_scene()
    crop = image[96:480, 128:768].astype(np.float32) / 127.5 - 1  # plates of 10-20 px characters
    blob = np.ascontiguousarray(crop.transpose(2, 0, 1)[None])
    source = model_path().read_bytes()
    folded = text_graph.rewritten(source)
    wheel, ours = _maps(source, blob), _maps(folded, blob)
    assert wheel.max() > 0.9  # the plates are there
    assert np.abs(wheel - ours).max() < 1e-4
    before = Counter(n.op_type for n in onnx.load_from_string(source).graph.node if n.op_type != "Constant")
    after = Counter(n.op_type for n in onnx.load_from_string(folded).graph.node)
    assert not after["Clip"] and not after["Div"] and after["Add"] < before["Add"] / 4
    assert sum(after.values()) < 0.6 * sum(before.values())


def test_the_folded_graph_is_cached_and_rebuilt_when_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(tmp_path))
    picture = np.zeros((64, 96, 3), np.uint8)
    picture[20:40, 10:80] = 255
    first = TextModel(threads=1).probabilities(picture)
    cached = graph_cache.cache_path("ppocr-det-float")
    assert cached.is_file()
    stamp = cached.stat().st_mtime_ns
    assert np.array_equal(TextModel(threads=1).probabilities(picture), first)
    assert cached.stat().st_mtime_ns == stamp  # read back, not rebuilt
    cached.write_bytes(cached.read_bytes()[:-100])  # cut short
    assert np.array_equal(TextModel(threads=1).probabilities(picture), first)
    assert cached.stat().st_mtime_ns != stamp and graph_cache.load("ppocr-det-float", _key()) is not None


def _key() -> str:
    return graph_cache.make_key(model_path().read_bytes(), text_graph.RECIPE)
