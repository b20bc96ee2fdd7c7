"""Holding Ctrl-C, SIGTERM and SIGHUP for the few steps that must not be cut in two.

A stop normally interrupts a file at once and nothing of it is written. Between publishing an output
and recording it, though, a stop would leave a finished output that no record vouches for, which a
re-run then refuses; so those steps hold the stop and act on it once they are done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_STOPS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
_depth = 0  # nested holds share the outermost one


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Hold stops until the block is done, then raise KeyboardInterrupt if one came (main thread only:
    Python delivers signals nowhere else)."""
    global _depth
    if _depth or threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in _STOPS}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise KeyboardInterrupt
