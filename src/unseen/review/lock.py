"""One ``unseen review`` per regions file: a lock file beside it, held with ``flock``.

Each review rewrites the whole regions file from its own copy after every edit, so a second one on
the same file would silently undo the first one's edits (a face set back to "obscure" published
uncovered). The lock file holds the owner's pid and address (never its token), so the second one can
say where the first one is; the lock is the kernel's, so a review that was killed leaves it free.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import InputError, shown


class RegionsLock:
    """The exclusive lock on ``<regions file>.lock``, held until :meth:`release` (or the process ends)."""

    def __init__(self, regions: Path) -> None:
        self.regions = regions
        resolved = regions.resolve()  # one lock however the file is named (a linked folder, ./, ...)
        self.path = resolved.with_name(resolved.name + ".lock")
        self._fd = self._acquire()
        self.announce(None)

    def _acquire(self) -> int:
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise InputError(f"{shown(self.path)}: cannot create the lock file: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another unseen review"
                os.close(fd)
                raise InputError(
                    f"{shown(self.regions)}: already being reviewed by {holder}; "
                    "use that one, or stop it first"
                ) from None
            # The file may have been removed (and another made) by its owner between open and flock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def announce(self, address: str | None) -> None:
        """Write who holds the lock: this pid, and the review's address once it has one."""
        text = f"unseen review (pid {os.getpid()})" + (f" at {address}" if address else "")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode() + b"\n", 0)

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no one locks the removed file), then unlock."""
        try:
            self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
