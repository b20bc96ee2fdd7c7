"""Write-then-rename, so that no half-written file ever sits where an output belongs."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError, shown


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it onto ``dst`` only if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``dst`` is
    left untouched. The temporary name keeps the extension, so encoders can pick the format.
    """
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise OutputError(f"{shown(dst)}: output exists (use --overwrite to replace it)")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=f".part{dst.suffix}", dir=dst.parent)
    except OSError as exc:
        raise OutputError(f"{shown(dst)}: cannot write output: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode())  # mkstemp makes it private (0o600); an output is a normal file
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _new_file_mode() -> int:
    """The mode an ordinary new file gets here: 0o666 less the umask.

    The umask can only be read by setting it; it is set to 0o077 for that instant, so a file another
    thread creates meanwhile comes out more private, never less.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask
