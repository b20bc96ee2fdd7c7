"""Write, verify, publish: no half-written or unreadable file ever sits where an output belongs.

An output is written to a hidden temporary file beside it, flushed to disk, checked (its writer's
``verify`` reads it back: a photo decodes, a video has every frame), then published in one step.
Encoders that write through :func:`checked_writes` also have their writes checked: a full disk
fails the write instead of leaving a short file (a library writing to the descriptor itself may
ignore a short count, as Pillow's JPEG encoder does). Without ``overwrite`` the publishing step
itself refuses an existing file (no window between an "exists?" check and a rename in which
another writer's file could be replaced). While it is being written, the temporary file is locked;
a writer that was killed (SIGKILL, a power cut) leaves an unlocked one behind, which
:func:`remove_stale_parts` (run by the CLI on every output folder before it writes there) removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import secrets
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import BinaryIO

from ..errors import OutputError, shown
from ..stops import stops_held

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so stale temporary files cannot be told from live ones
    fcntl = None  # type: ignore[assignment]

PART_TAG = ".unseen-part"
"""In the name of every temporary output: ``.NAME.EXT.<random>.unseen-part.EXT``."""

PUBLISHED: ContextVar[Callable[[Path], None] | None] = ContextVar("unseen_published", default=None)
"""Called with each output's path right after it is published, while stops are held (the per-file
function records the output there, see process.py)."""

Verify = Callable[[Path], None]
"""Reads a finished temporary output back; raises ValueError (a one-line reason) if it is not whole."""

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def is_part_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary outputs (finished or not)."""
    return name.startswith(".") and PART_TAG in name


@contextlib.contextmanager
def atomic_output(
    dst: str | os.PathLike[str], overwrite: bool = False, verify: Verify | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; publish it as ``dst`` only if the block succeeds and
    ``verify`` (given the temporary path once it is on disk) accepts it.

    On any exception (KeyboardInterrupt included) or a rejected file the temporary file is removed
    and ``dst`` is left untouched (OutputError naming ``dst`` for a rejected file). Without
    ``overwrite`` an existing ``dst`` is never replaced, even one that appeared while the block ran:
    OutputError. The temporary name keeps the extension, so encoders can pick the format.
    """
    dst = Path(dst)
    if not overwrite and (dst.exists() or dst.is_symlink()):
        raise OutputError(f"{shown(dst)}: output exists (use --overwrite to replace it)")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _create_locked(dst)
    except OSError as exc:
        raise OutputError(f"{shown(dst)}: cannot write output: {exc.strerror or exc}") from exc
    try:
        yield tmp
        os.fsync(fd)  # the data is on disk before the name points at it (power cut: no empty output)
        if verify is not None:
            _verified(dst, tmp, verify)
        os.chmod(tmp, _new_file_mode())  # a temporary file is private (0o600); an output is not
        with stops_held():  # published and vouched for in one step
            _publish(tmp, dst, overwrite)
            _sync_folder(dst.parent)
            hook = PUBLISHED.get()
            if hook is not None:
                hook(dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        os.close(fd)  # releases the lock


def _verified(dst: Path, tmp: Path, verify: Verify) -> None:
    try:
        verify(tmp)
    except ValueError as exc:
        raise OutputError(
            f"{shown(dst)}: the file written does not read back whole ({exc}); not published"
        ) from exc


class _Counted(io.FileIO):
    """A file that libraries must write through ``write`` (it has no descriptor to hand out), and
    that knows where the furthest byte written ends."""

    end = 0

    def fileno(self) -> int:
        raise io.UnsupportedOperation("written through write(), so that every short write is seen")

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        count = super().write(data)
        if count:
            self.end = max(self.end, self.tell())
        return count


@contextlib.contextmanager
def checked_writes(tmp: Path) -> Iterator[BinaryIO]:
    """``tmp`` (made by :func:`atomic_output`) open for an encoder that takes a file object.

    The buffer above the file retries a short write and raises on a full disk (ENOSPC), where a
    library writing to the descriptor could drop the rest silently; on closing, the file's size must
    be where the last byte written ends (OSError otherwise).
    """
    raw = _Counted(str(tmp), "r+")  # a str name: old Pillow hands it to libtiff
    with io.BufferedRandom(raw) as fh:
        yield fh
        fh.flush()
    size = os.stat(tmp).st_size
    if size != raw.end:
        raise OSError(errno.EIO, f"{raw.end} bytes were written but the file holds {size}", str(tmp))


def publish_bytes(dst: str | os.PathLike[str], data: bytes, overwrite: bool = False) -> None:
    """Publish ``data`` as ``dst`` (a report, a regions file, a record): written through
    :func:`checked_writes`, read back equal, then renamed into place; OSError (a full disk) or
    OutputError (a file that does not read back) leave ``dst`` as it was."""
    with atomic_output(dst, overwrite, lambda tmp: _reads_back(tmp, data)) as tmp, checked_writes(tmp) as fh:
        fh.write(data)


def _reads_back(tmp: Path, data: bytes) -> None:
    if tmp.read_bytes() != data:
        raise ValueError(f"it does not hold the {len(data)} bytes written")


def _create_locked(dst: Path) -> tuple[Path, int]:
    """Create a new temporary file beside ``dst`` and hold a lock on it while it exists."""
    while True:
        tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}{PART_TAG}{dst.suffix}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        if fcntl is None:
            return tmp, fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with contextlib.suppress(OSError):
                if os.stat(tmp).st_ino == os.fstat(fd).st_ino:  # not removed by a sweep before the lock
                    return tmp, fd
        except BaseException:  # e.g. Ctrl-C right here: leave no file behind
            with contextlib.suppress(OSError):
                tmp.unlink()
            os.close(fd)
            raise
        os.close(fd)


def remove_stale_parts(folder: str | os.PathLike[str]) -> int:
    """Remove temporary outputs in ``folder`` that no live writer holds; return how many.

    Only regular files with our temporary-file name are touched, and only when their lock can be
    taken, i.e. the process that wrote them is gone.
    """
    if fcntl is None:
        return 0
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if is_part_name(entry.name) and entry.is_file(follow_symlinks=False):
                removed += _remove_if_unlocked(Path(entry.path))
    return removed


def _remove_if_unlocked(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a live writer holds it
        os.close(fd)
        return 0
    try:
        path.unlink()
        return 1
    except OSError:
        return 0
    finally:
        os.close(fd)


def _publish(tmp: Path, dst: Path, overwrite: bool) -> None:
    """Give ``tmp`` the name ``dst`` in one step; without ``overwrite``, never replacing a file."""
    if overwrite:
        os.replace(tmp, dst)
        return
    if _rename_noreplace(tmp, dst):
        return
    try:  # a hard link fails on an existing name, like a no-replace rename
        os.link(tmp, dst)
    except FileExistsError:
        raise _exists(dst) from None
    except OSError:  # no hard links here (FAT, some network shares): the last, checked resort
        if dst.exists() or dst.is_symlink():
            raise _exists(dst) from None
        os.rename(tmp, dst)
        return
    tmp.unlink()


def _exists(dst: Path) -> OutputError:
    return OutputError(f"{shown(dst)}: output appeared while it was being written; not replaced")


@cache
def _renameat2():  # type: ignore[no-untyped-def]
    with contextlib.suppress(OSError, AttributeError):
        # the symbols the process already has (libc's among them): ctypes.util.find_library would
        # run ldconfig, 20-50 ms of every run's start-up
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.renameat2
    return None


def _rename_noreplace(tmp: Path, dst: Path) -> bool:
    """Linux's atomic rename that fails on an existing target; False where it is not available."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise _exists(dst)
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):  # file system cannot do it
        return False
    raise OSError(code, os.strerror(code), str(dst))


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry, so the new name survives a power cut (POSIX; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _new_file_mode() -> int:
    """The mode an ordinary new file gets here: 0o666 less the umask.

    The umask can only be read by setting it; it is set to 0o077 for that instant, so a file another
    thread creates meanwhile comes out more private, never less.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask
