"""Ray: the same per-file work on actors of a Ray cluster, for runs one machine cannot carry.

Each actor is one worker process that holds one model session for its life (loaded on its first
file, not per file) and runs :func:`unseen.process.process` on one file at a time. A file that
fails comes back as a failed outcome like any other; an actor that dies (its node lost, killed, out
of memory) is replaced, and its file is retried on another actor once: outputs are published
atomically and never replace an existing file, so a file is never written twice or half-written; an
output the dead actor had published but not fully recorded is removed first, so the retry redoes
it (see :func:`~unseen.scale.common.sweep_after_death`).
A video's actor tells a small :class:`Tally` actor its frame count every 0.1 s; the driver takes
the counts from it as it waits for outcomes and feeds them to the progress bar, as local workers do.

Without an address a private Ray instance is started on 127.0.0.1 for this run and stopped after
it (no dashboard, no usage statistics). ``auto`` or ``host:port`` joins a running cluster, as
``ray.init`` reads them; every node must then see the inputs and outputs at the same paths (a
shared file system) and have unseen installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .. import machine
from ..batch import Job
from ..errors import one_line
from ..heap import limit_heap_growth
from ..media.atomic import remove_stale_parts
from ..process import Outcome, Progress, Settings, describe, process
from .common import ATTEMPTS, FileProgress, Planned, ScaleError, died, in_order, sweep_after_death

RAY_MISSING = "--ray needs Ray, which is not installed here: pip install 'unseen[ray]'"
LOCAL = "local"
LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's single-machine mode, loopback only
_STOP_GRACE = 30.0
_PROGRESS_EVERY = 0.1  # seconds between a worker's frame counts (and its looks for a cancel)


class Worker:
    """One Ray actor: a share of a node's cores, one model session, one file at a time."""

    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        os.environ.update(env)  # before the model or an encoder is made
        limit_heap_growth()
        self.settings = settings

    def process(self, job: Job, dst: Path, index: int = 0, tally: Any = None) -> Outcome:
        return process(job, dst, self.settings, _progress(index, tally))

    def pid(self) -> int:
        return os.getpid()


class Tally:
    """A Ray actor that keeps the latest frame count of each file in progress, for the driver."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[int, int | None]] = {}

    def report(self, index: int, done: int, total: int | None) -> None:
        self.latest[index] = (done, total)

    def take(self) -> dict[int, tuple[int, int | None]]:
        """The counts reported since the last take."""
        latest, self.latest = self.latest, {}
        return latest


def _progress(index: int, tally: Any) -> Progress:
    """A progress callback that sends file ``index``'s count to ``tally`` (if any) and stops a video
    the way Ctrl-C would once the driver cancels it, both every 0.1 s of work at most.

    Ray only flags a cancelled task of a plain actor. A photo takes less than 0.1 s and is finished
    rather than stopped. The counts go without waiting for an answer: a lost one only delays the bar.
    """
    import ray

    context, last = ray.get_runtime_context(), [0.0]

    def check(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY or done == total:
            last[0] = now
            if tally is not None:
                tally.report.remote(index, done, total)
            if context.is_canceled():
                raise KeyboardInterrupt

    return check


def import_ray(local: bool = False) -> Any:
    """The ray module, or ScaleError with the one-line install hint.

    ``local``: Ray is for this machine alone (a private instance, or a cluster on 127.0.0.1). Ray
    then binds every server to 127.0.0.1 and never takes 127.0.0.1 for this machine's network
    address; otherwise even a private instance listens on every interface. Ray reads this
    setting once, on import.
    """
    if local:
        os.environ[LOCAL_ONLY] = "0"
    try:
        import ray
    except ImportError:
        raise ScaleError(RAY_MISSING) from None
    return ray


def connect(ray: Any, address: str) -> None:
    """Start a private Ray on 127.0.0.1 (``local``) or join the cluster at ``address``."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never report usage to anyone
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address != LOCAL:
        _check_answers(address)
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init makes SIGTERM exit at once: keep ours
    try:
        if address == LOCAL:
            ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=machine.cpu_count(), **quiet)
        else:
            ray.init(address=address, **quiet)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ... for a bad address
        raise ScaleError(f"--ray {address}: cannot start or join Ray: {one_line(str(exc))}") from exc
    finally:
        signal.signal(signal.SIGTERM, sigterm)


def _check_answers(address: str) -> None:
    """Refuse at once an address where nothing listens (Ray itself keeps retrying for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray reads and checks itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ScaleError(f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc})") from None


def run_ray(
    planned: Planned,
    settings: Settings,
    workers: int | None,
    device: str,
    address: str,
    progress: FileProgress | None = None,
) -> Iterator[Outcome]:
    """Each planned file's outcome in the order of ``planned``, worked on by Ray actors.

    ``progress`` gets the frame counts of the videos in progress, a few times a second. On
    KeyboardInterrupt the files in progress are cancelled (their workers drop them unwritten) and
    come out as "interrupted".
    """
    ray = import_ray(local=address == LOCAL or _is_loopback(address))
    # Ray prints its own notes (such as a worker that died) on stdout, which carries the --json
    # report: while Ray is connected, they go to stderr with the other messages.
    with contextlib.redirect_stdout(_Notes(sys.stderr)):
        connect(ray, address)
        dispatch = None
        try:
            dispatch = _Dispatch(ray, planned, settings, workers, device, progress)
            yield from dispatch.run()
        finally:
            ray.shutdown()  # stops this run's actors (and a private Ray)
            for folder in dispatch.stopped if dispatch is not None else ():
                remove_stale_parts(folder)  # temporary outputs of files stopped mid-way


class _Notes(io.TextIOBase):
    """Ray's notes on their way to ``sink``, each about a worker that died cut to one line.

    Ray tells of a dead worker in a paragraph (IDs, ports, guesses at the cause); all that matters
    here is that its file is done again on another worker, which the run sees to.
    """

    def __init__(self, sink: TextIO) -> None:
        super().__init__()
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.sink.write(_shortened(text))
        return len(text)

    def flush(self) -> None:
        self.sink.flush()


_DIED = "A worker died or was killed"


def _shortened(note: str) -> str:
    if _DIED not in note:
        return note
    pid = re.search(r"Worker PID: (\d+)", note)
    how = re.search(r"Worker exit type: (\w+)", note)
    details = ", ".join(
        f"{label}{match.group(1)}" for label, match in (("pid ", pid), ("", how)) if match is not None
    )
    return f"unseen: note: a Ray worker died ({details or 'no details'}); its file is tried again, once"


def _is_loopback(address: str) -> bool:
    return address.rpartition(":")[0].strip("[]") in ("127.0.0.1", "localhost", "::1")


class _Dispatch:
    def __init__(
        self,
        ray: Any,
        planned: Planned,
        settings: Settings,
        workers: int | None,
        device: str,
        progress: FileProgress | None,
    ) -> None:
        self.ray, self.planned, self.settings, self.progress = ray, planned, settings, progress
        self.tally = ray.remote(num_cpus=0)(Tally).remote() if progress is not None else None
        cpus = float(ray.cluster_resources().get("CPU", 1))
        node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=cpus)
        count = workers or max(1, min(int(cpus), len(planned)))
        threads = max(1, min(int(node_cpus), int(cpus // count)))
        # Fractional CPUs when more actors than cores are asked for: every actor gets placed.
        self.actor_cpus = min(float(threads), cpus / count)
        self.env = {machine.THREADS_ENV: str(threads), machine.DEVICE_ENV: device}
        self.remote = ray.remote(max_restarts=0, max_task_retries=0)(Worker)
        self.idle = [self._new_actor() for _ in range(min(count, len(planned)))]
        self.running: dict[Any, tuple[Any, int]] = {}
        self.todo = deque(range(len(planned)))
        self.attempts: dict[int, int] = {}
        self.existed: dict[int, bool] = {}  # whether each file's output was there when first handed out
        self.finished: dict[int, Outcome] = {}
        self.stopped: set[Path] = set()  # folders of files interrupted mid-way

    def _new_actor(self) -> Any:
        return self.remote.options(num_cpus=self.actor_cpus).remote(self.settings, self.env)

    def run(self) -> Iterator[Outcome]:
        emitted = 0
        try:
            while emitted < len(self.planned):
                self._submit()
                ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=0.25)
                for ref in ready:
                    self._collect(ref)
                self._report()
                for outcome in in_order(self.finished, emitted):
                    emitted += 1
                    yield outcome
        except KeyboardInterrupt:
            self._stop()
            for i in sorted(self.finished):
                yield self.finished[i]
            raise

    def _submit(self) -> None:
        while self.idle and self.todo:
            actor, i = self.idle.pop(), self.todo.popleft()
            job, dst = self.planned[i]
            self.existed.setdefault(i, os.path.lexists(dst))
            self.attempts[i] = self.attempts.get(i, 0) + 1
            self.running[actor.process.remote(job, dst, i, self.tally)] = (actor, i)

    def _report(self) -> None:
        """Hand on the frame counts of the files still in progress (a finished file's are late)."""
        if self.tally is None or self.progress is None or not self.running:
            return
        running = {i for _, i in self.running.values()}
        try:
            latest = self.ray.get(self.tally.take.remote())
        except self.ray.exceptions.RayError:  # the tally is gone (its node lost): files, not frames
            self.tally = None
            return
        for i, (done, total) in latest.items():
            if i in running:
                self.progress(i, done, total)

    def _collect(self, ref: Any) -> None:
        exceptions = self.ray.exceptions
        actor, i = self.running.pop(ref)
        job, dst = self.planned[i]
        try:
            outcome = self.ray.get(ref)
        except (exceptions.RayActorError, exceptions.ActorUnavailableError) as exc:
            self._replace(actor)
            sweep_after_death(dst, self.existed[i])
            if self.attempts[i] < ATTEMPTS:
                self.todo.appendleft(i)
                return
            outcome = Outcome(job.src, dst, job.kind, "failed", error=died(job.src, type(exc).__name__))
        except exceptions.RayError as exc:  # e.g. a settings object a node cannot unpickle
            self.idle.append(actor)
            outcome = Outcome(job.src, dst, job.kind, "failed", error=describe(job.src, exc))
        else:
            self.idle.append(actor)
        self.finished[i] = outcome

    def _replace(self, actor: Any) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(actor)
        self.idle.append(self._new_actor())

    def _stop(self) -> None:
        """Cancel the files in progress (their workers drop them unwritten) and wait for the answers."""
        if self.running:  # finished ones first: a cancelled reference loses its answer
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=0)
            for ref in ready:
                self._collect(ref)
        for ref in self.running:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
        deadline = time.monotonic() + _STOP_GRACE
        while self.running and time.monotonic() < deadline:
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=0.5)
            for ref in ready:
                actor, i = self.running.pop(ref)
                job, dst = self.planned[i]
                try:
                    self.finished[i] = self.ray.get(ref)
                except Exception:  # cancelled: the file was not written
                    self.finished[i] = Outcome(job.src, dst, job.kind, "interrupted")
                    self.stopped.add(dst.parent)
        for _, i in self.running.values():
            job, dst = self.planned[i]
            self.finished[i] = Outcome(job.src, dst, job.kind, "interrupted")
            self.stopped.add(dst.parent)
        self.running.clear()
