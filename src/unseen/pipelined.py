"""Stages of a video pass side by side: each in a thread of its own, joined by queues of a few frames.

Decoding, detecting or painting, and encoding each wait on a different thing (FFmpeg's decoder,
onnxruntime, x264), and each of those releases the GIL while it works. Run one after the other,
a fast detector (a GPU) idles while a frame is decoded, and the encoder never runs beside anything.
:func:`ahead` runs a stage's iterator in a thread that keeps at most ``depth`` items ready for
the next stage, so memory is a few frames whatever the length of the video.

Failures are never lost: an exception in the thread is raised in the consumer at the point the
failed item would have come, so the file fails exactly as it would without threads (nothing is
written: the encoder's temporary output is removed). When the consumer stops early (its own error,
Ctrl-C), the thread is told to stop, finishes the item it is on, closes its iterator (the decoder
closes its file) and is joined before :func:`ahead` returns.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

OVERLAP_ENV = "UNSEEN_OVERLAP"  # "0": every stage in the calling thread (for measurements)
DEPTH = 3  # items a stage keeps ready: enough to ride out an uneven frame, few enough to stay small
_POLL = 0.1  # seconds between looks at the stop flag while the queue is full


def overlap() -> bool:
    """Whether stages run in threads of their own: yes, unless ``$UNSEEN_OVERLAP`` is 0."""
    return os.environ.get(OVERLAP_ENV, "1").strip() != "0"


class _Done:
    """The producer's last word: the items ran out, or ``error`` ended them."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


@contextmanager
def ahead(
    items: Iterable[T], *, depth: int = DEPTH, prepare: Callable[[T], object] | None = None
) -> Iterator[Iterator[T]]:
    """``items``, produced in a thread of their own at most ``depth`` ahead of the consumer.

    ``prepare`` runs on each item in that thread before it is handed over (e.g. turn a decoded frame
    into RGB there). Without overlap (see :func:`overlap`) the items come from the calling thread,
    unprepared. Use it as ``with ahead(frames) as frames: ...``: leaving the block stops the thread.
    """
    if not overlap():
        yield iter(items)
        return
    handed: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        end = _Done()
        try:
            for item in source:
                if prepare is not None:
                    prepare(item)
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer, who raises it
            end = _Done(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                try:
                    close()  # a generator's clean-up (the decoder's file) runs in the thread it ran in
                except BaseException as exc:
                    end = end if end.error else _Done(exc)
        put(end)

    worker = threading.Thread(target=produce, name="unseen-ahead", daemon=True)
    worker.start()

    def consume() -> Iterator[T]:
        while True:
            item = handed.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item  # type: ignore[misc]

    try:
        yield consume()
    finally:
        stop.set()
        worker.join()
