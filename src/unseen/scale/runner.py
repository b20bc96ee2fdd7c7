"""Choosing how a run's files are worked on: in this process, in local workers, or on Ray.

Whichever it is, each file goes through :func:`unseen.process.process`, the function a serial run
calls, and the outcomes come out in the serial order. So the messages, the progress bar, the regions
file, the summary and the exit status are those of a serial run; only the time differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial

from .. import machine
from ..process import Anonymise, Outcome, Progress, Settings, process
from ..records import state_dir
from .common import FileProgress, Planned
from .workdir import remove_stale

WORKER_MEMORY = 600 << 20
"""Peak memory one worker may reach (a 1080p video: about 460 MB measured), for the default count."""


PHOTOS_PER_WORKER = 16
"""Photos that pay for starting one more worker (about 3 s of work against 1-2 s of start-up)."""


@dataclass(frozen=True)
class ScaleOptions:
    """How many files at once, and where. ``workers=None``: what suits this machine."""

    workers: int | None = None
    ray: str | None = None  # None: no Ray; "local": start a private one; "auto" or "host:port": join
    device: str = "auto"  # auto | cpu | cuda (see unseen.machine)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be 1 or more, not {self.workers}")
        if self.device not in machine.DEVICES:
            raise ValueError(f"device must be one of {', '.join(machine.DEVICES)}, not {self.device!r}")


def default_workers(planned: Planned) -> int:
    """One worker per core, but only as many as the work pays for and memory holds.

    A worker costs a second or two to start (an interpreter, the model), so it is only worth
    starting for a video or for PHOTOS_PER_WORKER photos; a handful of photos runs in this process.
    """
    videos = sum(job.kind == "video" for job, _ in planned)
    shares = videos + (len(planned) - videos) // PHOTOS_PER_WORKER
    memory = _available_memory()
    by_memory = max(1, memory // WORKER_MEMORY) if memory else shares
    return max(1, min(machine.cpu_count(), shares, by_memory))


def worker_env(workers: int, device: str) -> dict[str, str]:
    """The environment that gives each of ``workers`` processes its share of the cores."""
    threads = max(1, machine.cpu_count() // workers)
    return {machine.THREADS_ENV: str(threads), machine.DEVICE_ENV: device}


def outcomes(
    planned: Planned, settings: Settings, options: ScaleOptions, progress: FileProgress | None = None
) -> Iterator[Outcome]:
    """Each planned file's outcome, in the order of ``planned``.

    On KeyboardInterrupt the files in progress come out, as "interrupted" (nothing written) unless
    they were finished meanwhile, then KeyboardInterrupt is raised again; files never started do
    not come out.
    """
    # Workers elsewhere must keep their records where this run would: resolve the folder here.
    settings = replace(settings, state=settings.state or state_dir())
    for folder in dict.fromkeys(dst.parent for _, dst in planned):
        remove_stale(folder)  # segments of a split run that was killed
    if options.ray is not None:
        from .ray_runner import run_ray

        yield from run_ray(planned, settings, options.workers, options.device, options.ray, progress)
        return
    one_video = len(planned) == 1 and planned[0][0].kind == "video"
    # One video is split across workers only when asked for (--workers N): the split path joins
    # packets itself and is the less travelled one, so a plain run keeps the single-process writer.
    workers = options.workers or (default_workers(planned) if not one_video else 1)
    env = worker_env(workers, options.device)
    # The worker pool and the video splitter (multiprocessing, PyAV) are imported only when used: a
    # run of a few photos works in this process and never needs them.
    if workers > 1 and len(planned) > 1:
        from .local import run_local

        yield from run_local(planned, settings, workers, env, progress)
        return
    split = None
    if one_video and workers > 1:
        from .segments import split_video

        split = partial(split_video, workers=workers, env=env)
    yield from _serial(planned, settings, progress, split)


def _serial(
    planned: Planned, settings: Settings, progress: FileProgress | None, anonymise: Anonymise | None = None
) -> Iterator[Outcome]:
    for i, (job, dst) in enumerate(planned):
        try:
            outcome = process(job, dst, settings, _for_file(progress, i), anonymise)
        except KeyboardInterrupt:
            yield Outcome(job.src, dst, job.kind, "interrupted")
            raise
        yield outcome


def _for_file(progress: FileProgress | None, i: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(i, done, total)


def _available_memory() -> int:
    """Bytes of memory available to new work (Linux's MemAvailable), or 0 if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
