"""Local worker processes: several files at once, each worker holding one model session for its life.

Each worker is a fresh interpreter (spawned, not forked: the parent may run threads) that gets the
run's settings once and then one file at a time over its own pipe, and sends back the file's
:class:`~unseen.process.Outcome`. Its share of the cores travels in the environment
(:mod:`unseen.machine`), so N workers never run more threads than there are cores.

Workers ignore Ctrl-C (the terminal sends it to the whole process group); the parent decides. On
an interrupt it sends each busy worker SIGTERM, which stops the file in progress the way Ctrl-C stops
a serial run: its temporary output is removed and nothing is published. A worker that dies on its
own (killed, out of memory) has its file retried on a new worker; its temporary output, unlocked by
its death, is swept away first, and so is an output it published but did not fully record. Nothing
is ever published half-written: outputs appear only through
:func:`unseen.media.atomic.atomic_output`, which never replaces an existing file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from ..heap import limit_heap_growth
from ..media.atomic import remove_stale_parts
from ..process import Outcome, Settings, process
from .common import ATTEMPTS, FileProgress, Planned, die_with_parent, died, in_order, sweep_after_death

_STOP_GRACE = 30.0  # seconds a stopping worker gets to clean up before it is killed
_PROGRESS_EVERY = 0.1  # seconds between progress messages from one worker


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: int | None = None  # index of the file it is working on
    done: bool = False  # exited, or told to


@dataclass
class _Pool:
    planned: Planned
    settings: Settings
    env: dict[str, str]
    progress: FileProgress | None
    workers: list[_Worker] = field(default_factory=list)
    todo: deque[int] = field(default_factory=deque)
    attempts: dict[int, int] = field(default_factory=dict)
    existed: dict[int, bool] = field(default_factory=dict)  # each output there when first handed out?
    finished: dict[int, Outcome] = field(default_factory=dict)

    def start_worker(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        proc = context.Process(target=_serve, args=(child, self.settings, self.env), daemon=True)
        # A worker is born ignoring Ctrl-C (Python keeps an inherited SIG_IGN), so an interrupt during
        # its start-up cannot kill it with a traceback; the parent stops it instead.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            proc.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        child.close()
        self.workers.append(_Worker(proc, parent))

    def dispatch(self) -> None:
        for w in self.workers:
            if w.job is None and not w.done and self.todo:
                w.job = self.todo.popleft()
                job, dst = self.planned[w.job]
                self.existed.setdefault(w.job, os.path.lexists(dst))
                self.attempts[w.job] = self.attempts.get(w.job, 0) + 1
                w.conn.send((w.job, job, dst))
            elif w.job is None and not w.done:  # nothing left for it
                self.retire(w)

    def retire(self, w: _Worker) -> None:
        with contextlib.suppress(OSError):
            w.conn.send(None)
        w.done = True

    def receive(self, w: _Worker) -> None:
        """Read every message ``w`` has sent (its last ones may come just before it exits)."""
        try:
            while w.conn.poll():
                message = w.conn.recv()
                kind, i = message[0], message[1]
                if kind == "progress" and self.progress is not None:
                    self.progress(i, message[2], message[3])
                elif kind in ("outcome", "interrupted"):
                    job, dst = self.planned[i]
                    outcome = (
                        message[2] if kind == "outcome" else Outcome(job.src, dst, job.kind, "interrupted")
                    )
                    self.finished[i] = outcome
                    w.job = None
        except (EOFError, OSError):
            pass

    def bury(self, w: _Worker) -> None:
        """``w`` has exited: retry its file on a new worker, or fail it after the last attempt."""
        w.done = True
        w.conn.close()
        if w.job is None:
            return
        i, w.job = w.job, None
        job, dst = self.planned[i]
        sweep_after_death(dst, self.existed[i])
        if self.attempts[i] >= ATTEMPTS:
            how = _how(w.process.exitcode)
            self.finished[i] = Outcome(job.src, dst, job.kind, "failed", error=died(job.src, how))
            return
        self.todo.appendleft(i)
        self.start_worker()

    def step(self, timeout: float) -> None:
        """Wait for messages or exits, and act on them."""
        live = [w for w in self.workers if w.process.exitcode is None or w.conn.poll()]
        if not live:
            return
        ready = set(wait([w.conn for w in live] + [w.process.sentinel for w in live], timeout))
        for w in live:
            if w.conn in ready:
                self.receive(w)
            if w.process.sentinel in ready or w.process.exitcode is not None:
                w.process.join()
                self.receive(w)
                if not w.done or w.job is not None:
                    self.bury(w)
                self.workers.remove(w)

    def stop(self) -> None:
        """Stop every worker: busy ones are told to drop their file (SIGTERM), idle ones to exit."""
        busy = {self.planned[w.job][1].parent for w in self.workers if w.job is not None}
        for w in self.workers:
            if w.job is not None and w.process.exitcode is None:
                with contextlib.suppress(OSError):
                    os.kill(w.process.pid, signal.SIGTERM)
            elif not w.done:
                self.retire(w)
        deadline = time.monotonic() + _STOP_GRACE
        while any(w.process.exitcode is None for w in self.workers) and time.monotonic() < deadline:
            wait([w.process.sentinel for w in self.workers if w.process.exitcode is None], 0.2)
        for w in self.workers:
            if w.process.exitcode is None:
                w.process.kill()
            w.process.join()
            self.receive(w)
            if w.job is not None:  # it never answered: the file was not written
                job, dst = self.planned[w.job]
                self.finished[w.job] = Outcome(job.src, dst, job.kind, "interrupted")
            w.conn.close()
        self.workers.clear()
        for folder in busy:  # a stop that landed between creating a temporary file and guarding it
            remove_stale_parts(folder)


def run_local(
    planned: Planned, settings: Settings, workers: int, env: dict[str, str], progress: FileProgress | None
) -> Iterator[Outcome]:
    """Each planned file's outcome in the order of ``planned``, worked on by ``workers`` processes.

    On KeyboardInterrupt the workers are stopped, the files that were in progress come out (as
    "interrupted" unless they were finished meanwhile), and KeyboardInterrupt is raised again.
    """
    pool = _Pool(planned, settings, env, progress, todo=deque(range(len(planned))))
    emitted = 0
    try:
        for _ in range(min(workers, len(planned))):
            pool.start_worker()
        while emitted < len(planned):
            pool.dispatch()
            pool.step(timeout=1.0)
            for outcome in in_order(pool.finished, emitted):
                emitted += 1
                yield outcome
    except KeyboardInterrupt:
        pool.stop()
        for i in sorted(pool.finished):
            yield pool.finished[i]
        raise
    finally:
        pool.stop()


def _serve(conn: Connection, settings: Settings, env: dict[str, str]) -> None:
    """A worker's life: its share of the machine, then one file at a time until told to stop."""
    os.environ.update(env)
    signal.signal(signal.SIGTERM, _interrupt)
    die_with_parent()
    limit_heap_growth()
    try:
        while (task := conn.recv()) is not None:
            i, job, dst = task
            try:
                outcome = process(job, dst, settings, _Reporter(conn, i))
            except KeyboardInterrupt:
                conn.send(("interrupted", i))
                return
            conn.send(("outcome", i, outcome))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):  # stopped while idle, or the parent is gone
        return


class _Reporter:
    """A worker's progress callback: forwards a video's frame count at most every 0.1 s."""

    def __init__(self, conn: Connection, index: int) -> None:
        self.conn, self.index, self.last = conn, index, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY or done == total:
            self.last = now
            self.conn.send(("progress", self.index, done, total))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"
