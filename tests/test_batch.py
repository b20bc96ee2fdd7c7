"""Same-shaped tiles go through the network together; what is found must not depend on how many."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import spread_faces

from unseen.api import detector
from unseen.detect.cascade import PHOTO_CASCADE, Cascade
from unseen.detect.model import CUDA_BATCH, CenterFace, shared_model
from unseen.machine import CPU, CUDA

# Small faces for the fine pass (windows of several shapes), large ones for the reduced views.
SIZES = [14, 18, 22, 28, 40, 64, 96, 150]


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return spread_faces(SIZES, (1100, 1700), seed=3).image  # 1.9 MP: a grid of native tiles


def _found(image: np.ndarray, batch: int, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[tuple]]:
    """The detections at ``batch``, and the (N, H, W) of every network run."""
    model = shared_model()
    runs: list[tuple] = []
    run = model.run

    def counted(canvas: np.ndarray):  # type: ignore[no-untyped-def]
        runs.append(canvas.shape[:3])
        return run(canvas)

    with monkeypatch.context() as m:
        m.setattr(model, "batch", batch)
        m.setattr(model, "run", counted)
        regions = Cascade(model, PHOTO_CASCADE)(image)
    return regions, runs


def test_batched_tiles_find_exactly_what_single_tiles_find(
    scene: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, single = _found(scene, 1, monkeypatch)
    assert {n for n, _, _ in single} == {1}
    assert len({(h, w) for _, h, w in single}) >= 3  # native tiles, reduced views, fine windows
    assert len(alone) >= len(SIZES) - 1
    for batch in (2, 3, 4, 8):
        together, runs = _found(scene, batch, monkeypatch)
        sizes = [n for n, _, _ in runs]
        assert max(sizes) == min(batch, max(sizes)) > 1  # tiles really went together ...
        assert sum(sizes) == len(single)  # ... every one of them once
        assert len(runs) < len(single)
        shapes = {}
        for n, h, w in runs:
            shapes.setdefault((h, w), []).append(n)
        assert any(len(ns) > 1 and ns[-1] < batch for ns in shapes.values())  # a last, partial batch
        assert len(together) == len(alone)
        np.testing.assert_allclose(together.boxes, alone.boxes, atol=1e-3)
        np.testing.assert_allclose(together.scores, alone.scores, rtol=0, atol=1e-6)
        assert list(together.source) == list(alone.source)


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider':UserWarning")
def test_the_batch_follows_the_provider() -> None:
    assert CenterFace(threads=1, providers=[CPU]).batch == 1
    assert CenterFace(threads=1, providers=[CPU], batch=3).batch == 3
    # Asked for CUDA (onnxruntime here falls back to the CPU with a warning): tiles go eight at a time.
    assert CenterFace(threads=1, providers=[CUDA, CPU]).batch == CUDA_BATCH == 8
    assert detector().model.batch == 1  # this machine has no GPU
