"""Every test gets its own state folder for unseen's output records (never the user's own)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("UNSEEN_STATE_DIR", str(folder))
    return folder
