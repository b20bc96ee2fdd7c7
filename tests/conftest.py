"""Every test gets its own state folder for unseen's output records, and the run one cache folder for
optimised networks (never the user's own)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

# A suite started in the background (``cmd &`` in a script) inherits Ctrl-C ignored, and so would every
# unseen the Ctrl-C tests start: a handler here is reset to the default in them, as in a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # one folder for the whole run, so that the graph is optimised once, not once per test; set in
    # os.environ so that the subprocesses tests start find it too
    folder = str(tmp_path_factory.mktemp("cache"))
    before = os.environ.get("UNSEEN_CACHE_DIR")
    os.environ["UNSEEN_CACHE_DIR"] = folder
    yield folder
    if before is None:
        del os.environ["UNSEEN_CACHE_DIR"]
    else:
        os.environ["UNSEEN_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("UNSEEN_STATE_DIR", str(folder))
    return folder
