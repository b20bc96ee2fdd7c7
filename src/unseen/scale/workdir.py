"""A scratch folder beside an output, for the segments of a split video, that no crash leaves behind.

The folder is hidden (the walk leaves it out) and holds a lock for as long as its run uses it. A
run killed outright (SIGKILL, a power cut) cannot remove it; the next split into the same folder
finds it unlocked and removes it, as :func:`unseen.media.atomic.remove_stale_parts` does for
temporary files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so a stale folder cannot be told from a live one
    fcntl = None  # type: ignore[assignment]

TAG = ".unseen-segments"
_MAKING = ".unseen-making"
_LOCK = "lock"


@contextlib.contextmanager
def scratch_folder(dst: Path) -> Iterator[Path]:
    """A new locked folder beside ``dst``, removed with everything in it when the block ends."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(dst.parent)
    # Made under another name and renamed once locked: a sweep never sees it unlocked.
    making = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=_MAKING, dir=dst.parent))
    fd = os.open(making / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        folder = making.with_name(making.name.removesuffix(_MAKING) + TAG)
        os.rename(making, folder)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)
        shutil.rmtree(making, ignore_errors=True)  # if the rename never happened


def remove_stale(parent: Path) -> int:
    """Remove the scratch folders in ``parent`` whose run is gone (their lock is free); how many."""
    if fcntl is None:
        return 0
    removed = 0
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if (
                entry.name.startswith(".")
                and entry.name.endswith(TAG)
                and entry.is_dir(follow_symlinks=False)
            ):
                removed += _remove_if_unlocked(Path(entry.path))
    return removed


def _remove_if_unlocked(folder: Path) -> int:
    try:
        fd = os.open(folder / _LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # its run is alive
        os.close(fd)
        return 0
    try:
        for _ in range(20):  # a worker of the dead run may still be dropping its last file
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                return 1
            time.sleep(0.1)
        return 0
    finally:
        os.close(fd)
