"""A full run opens no network connection: not to fetch a model, not to report anything, never.

Each run happens in a fresh interpreter, so imports and model loading happen under the guard too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

# Runs before anything of unseen is imported: every way Python code reaches the network records the
# attempt and fails. The attempts are written out even if the run itself fails.
GUARD = r"""
import json, os, socket, sys

attempts = []

def _blocked(name):
    def blocked(*args, **kwargs):
        attempts.append([name, repr(args)[:200]])
        raise OSError("network access blocked by test_offline: " + name)
    return blocked

socket.socket.connect = _blocked("socket.connect")
socket.socket.connect_ex = _blocked("socket.connect_ex")
socket.socket.sendto = _blocked("socket.sendto")
socket.create_connection = _blocked("socket.create_connection")
socket.getaddrinfo = _blocked("socket.getaddrinfo")

code = 99
try:
    from unseen.cli import main
    code = main(sys.argv[1:])
finally:
    with open(os.environ["UNSEEN_TEST_ATTEMPTS"], "w") as fh:
        json.dump(attempts, fh)
sys.exit(code)
"""

# Without any guard: first prove the sandbox has no network, then run.
NO_NETWORK = r"""
import socket, sys
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)  # TEST-NET-1: never routable
except OSError:
    pass
else:
    sys.exit(98)
from unseen.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()[::2, ::2].copy()).save(path, quality=92)
    return path


def test_full_run_opens_no_socket(tmp_path, photo):
    attempts_file = tmp_path / "attempts.json"
    env = {**os.environ, "UNSEEN_TEST_ATTEMPTS": str(attempts_file)}
    proc = subprocess.run(
        [sys.executable, "-c", GUARD, str(photo), "--json", "--regions", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    attempts = json.loads(attempts_file.read_text())
    assert attempts == []
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["faces"] >= 1
    assert (tmp_path / "astronaut.unseen.jpg").is_file()


def test_guard_catches_a_connection_attempt(tmp_path):
    """The guard itself works: a run whose code tries to connect is caught and recorded."""
    attempts_file = tmp_path / "attempts.json"
    env = {**os.environ, "UNSEEN_TEST_ATTEMPTS": str(attempts_file)}
    probe = GUARD.replace(
        "from unseen.cli import main",
        "import urllib.request\n    urllib.request.urlopen('http://example.com', timeout=1)",
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0
    assert json.loads(attempts_file.read_text())  # the attempt was recorded


def _unshare_works() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    try:
        check = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return check.returncode == 0


def test_full_run_without_any_network(tmp_path, photo):
    """Linux: run in a new network namespace that has no interface up at all."""
    if not _unshare_works():
        pytest.skip("unshare -rn is not available or not permitted here")
    proc = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", NO_NETWORK, str(photo), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 98, "the sandbox still had a network"
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["faces"] >= 1
    assert (tmp_path / "astronaut.unseen.jpg").is_file()


def _telemetry_store(home: Path, code: str) -> bool:
    """Whether running ``code`` with this home folder leaves onnxruntime's telemetry store in it."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    return (home / ".cache" / "Microsoft").exists()


def test_onnxruntime_keeps_no_telemetry(tmp_path):
    """onnxruntime 1.32 queues telemetry events (device id, process, machine) for upload to Microsoft
    from its import on; a run of unseen must start none of it."""
    if not _telemetry_store(tmp_path / "plain", "import onnxruntime"):
        pytest.skip("this onnxruntime keeps no telemetry store")
    run = (
        "import numpy as np, unseen\n"
        "from unseen.detect.model import CenterFace\n"
        "CenterFace().run(np.zeros((1, 32, 32, 3), np.uint8))\n"
    )
    assert not _telemetry_store(tmp_path / "unseen", run)
