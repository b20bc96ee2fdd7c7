"""How much of the machine one process may use: its thread budget and its compute device.

A runner that starts N worker processes gives each a share of the cores, so that N onnxruntime
sessions and N encoders never fight over them. The share travels in environment variables, which
reach every worker process (and this one) before the model or an encoder is made; the model and
the video writer read them through :func:`thread_budget` and :func:`providers`. Unset, a process
uses every core it may run on and the best device there is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

THREADS_ENV = "UNSEEN_THREADS"
DEVICE_ENV = "UNSEEN_DEVICE"
DEVICES = ("auto", "cpu", "cuda")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def thread_budget() -> int:
    """Threads one stage of this process may use: ``$UNSEEN_THREADS``, else every core."""
    try:
        budget = int(os.environ.get(THREADS_ENV, "0"))
    except ValueError:
        budget = 0
    return budget if budget > 0 else cpu_count()


def device() -> str:
    """The device asked for: ``$UNSEEN_DEVICE`` (auto, cpu or cuda), else auto."""
    value = os.environ.get(DEVICE_ENV, "auto").strip().lower()
    return value if value in DEVICES else "auto"


def choose_providers(wanted: str, available: Iterable[str]) -> tuple[list[str], str | None]:
    """onnxruntime providers for ``wanted``, and a one-line notice when CUDA was asked for but is absent.

    ``auto`` takes CUDA where onnxruntime offers it and the CPU otherwise, without a word; ``cuda``
    falls back to the CPU with a notice, since the run still works, only slower.
    """
    if wanted not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {wanted!r}")
    has_cuda = CUDA in set(available)
    if wanted == "cpu" or not has_cuda:
        notice = None
        if wanted == "cuda":
            notice = (
                "--device cuda: onnxruntime here has no CUDA provider (install 'unseen[gpu]' on a "
                "machine with an NVIDIA GPU); running on the CPU"
            )
        return [CPU], notice
    return [CUDA, CPU], None


def providers() -> tuple[list[str], str | None]:
    """The providers for this process's device (see :func:`choose_providers`)."""
    import onnxruntime as ort

    return choose_providers(device(), ort.get_available_providers())
