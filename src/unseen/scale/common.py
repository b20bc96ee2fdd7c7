"""What every runner shares: the shape of the work, the order outcomes come out in, retries."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..batch import Job
from ..errors import UnseenError, shown
from ..media.atomic import remove_stale_parts
from ..process import Outcome

Planned = list[tuple[Job, Path]]
"""The files of a run, each with the output it goes to, in the order a serial run takes them."""

FileProgress = Callable[[int, int, int | None], None]
"""Progress of one file: its index in the plan, units done, units in all (if known)."""


class ScaleError(UnseenError):
    """The run cannot be spread as asked (Ray missing, a cluster that cannot be reached)."""


ATTEMPTS = 2
"""Tries per file: a worker that dies has its file retried once elsewhere, then the file fails."""


def in_order(finished: dict[int, Outcome], start: int) -> Iterator[Outcome]:
    """Take out and yield ``finished[start]``, ``finished[start + 1]`` ... while they are there.

    Workers finish in any order; the run reports in the serial order, so its messages, regions file
    and summary come out exactly as a serial run's.
    """
    while start in finished:
        yield finished.pop(start)
        start += 1


def died(src: Path, how: str) -> str:
    """The failure message of a file whose worker died on every attempt."""
    return (
        f"{shown(src)}: the worker processing it stopped unexpectedly ({how}) {ATTEMPTS} times; not written"
    )


def sweep_after_death(dst: Path, existed: bool) -> None:
    """Remove what a worker that died on ``dst`` left, so that its file is redone from scratch.

    Its temporary output (unlocked by its death) goes. So does ``dst`` itself if it was not there
    when the file was first handed out (``existed``): the worker published it, but a death between
    publishing and keeping the full record leaves an output that no record, or only a first record
    without the counts and regions, vouches for; kept, a retry would refuse it as not unseen's or
    skip it with no faces counted. An output that was there before is never touched.
    """
    remove_stale_parts(dst.parent)
    if not existed:
        with contextlib.suppress(OSError):  # gone already, or not a file: the retry says so
            dst.unlink()


def die_with_parent() -> None:
    """End this worker process at once when its parent is gone (a driver killed outright).

    A worker busy in native code (the model, the encoder) would otherwise work on for nobody. A
    daemon thread watches the parent; what the worker leaves half-done is a temporary file or
    scratch folder, which the next run removes.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="unseen-parent-watch", daemon=True).start()
