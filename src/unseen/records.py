"""Per-output records: what unseen wrote, so that a later run can tell its own finished outputs.

An existing file where an output belongs is skipped only when a record says unseen wrote exactly
that file from exactly this input. Anything else in the way (the original copied there, an older
output of another file) is not ours and must not be reported as done.

Records live in a state folder outside every output tree, never beside the outputs: a record can
name input files and, when the run kept regions, where each face was, and an output folder is
meant to be published. The folder is ``$UNSEEN_STATE_DIR``, else ``$XDG_STATE_HOME/unseen``, else
``~/.local/state/unseen``; one JSON file per output, named by a hash of the output's absolute path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import path_key
from .errors import OutputError, UnseenError, shown
from .media.atomic import PUBLISHED, publish_bytes

SCHEMA = "unseen.record/1"
STATE_ENV = "UNSEEN_STATE_DIR"


def state_dir() -> Path:
    """The folder that holds the records (see the module docstring)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "unseen"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (memory does not grow with the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileState:
    """What identifies a file's contents: its hash, plus size, mtime and inode for a cheap check."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        st = os.stat(path)
        return cls(sha256_file(path), st.st_size, st.st_mtime_ns, st.st_ino)

    def matches(self, path: Path) -> bool:
        """Whether ``path`` still has these contents (hashed again unless size, mtime and inode agree)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_size != self.size:
            return False
        if (st.st_mtime_ns, st.st_ino) == (self.mtime_ns, self.inode):
            return True
        try:
            return sha256_file(path) == self.sha256
        except OSError:
            return False


@dataclass(frozen=True)
class Record:
    """One finished output: its input, both files' states, and the run's entry for it.

    ``entry`` is the file's entry of the regions file (with its regions) when the run kept regions,
    else None; ``summary`` the run's report line for it (faces, frames, notices).
    """

    input: str
    output: str
    input_state: FileState
    output_state: FileState
    tool: str
    entry: dict[str, Any] | None
    summary: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": self.tool,
            "input": self.input,
            "output": self.output,
            "input_state": vars(self.input_state),
            "output_state": vars(self.output_state),
            "entry": self.entry,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"not a record (schema {doc.get('schema')!r})")
        return cls(
            input=str(doc["input"]),
            output=str(doc["output"]),
            input_state=FileState(**doc["input_state"]),
            output_state=FileState(**doc["output_state"]),
            tool=str(doc["tool"]),
            entry=doc.get("entry"),
            summary=dict(doc.get("summary") or {}),
        )


class Records:
    """The records in one state folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else state_dir()

    def path_for(self, output: Path) -> Path:
        key = hashlib.sha256(os.fsencode(os.path.abspath(output))).hexdigest()[:40]
        return self.folder / "records" / key[:2] / f"{key}.json"

    def finished(self, src: Path, dst: Path) -> Record | None:
        """The record of ``dst`` if unseen wrote exactly the file there, from exactly ``src``."""
        try:
            record = Record.from_json(json.loads(self.path_for(dst).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        same_paths = record.output == os.path.abspath(dst) and record.input == os.path.abspath(src)
        if same_paths and record.output_state.matches(dst) and record.input_state.matches(src):
            return record
        return None

    def write(
        self,
        src: Path,
        dst: Path,
        tool: str,
        entry: dict[str, Any] | None,
        summary: dict[str, Any],
        source: FileState | None = None,
        output: FileState | None = None,
    ) -> Record:
        """Record that ``dst`` was just written from ``src`` (the files' states ``source`` and
        ``output`` if known); OutputError if the record cannot be kept."""
        try:
            record = Record(
                input=os.path.abspath(src),
                output=os.path.abspath(dst),
                input_state=source or FileState.of(src),
                output_state=output or FileState.of(dst),
                tool=tool,
                entry=entry,
                summary=summary,
            )
            path = self.path_for(dst)
            text = json.dumps(record.to_json(), ensure_ascii=False, allow_nan=False)
            publish_bytes(path, text.encode("utf-8"), overwrite=True)
        except (OSError, ValueError) as exc:  # ValueError: a number JSON cannot hold (NaN, Infinity)
            raise OutputError(f"{shown(dst)}: cannot keep the record of this output: {exc}") from exc
        return record

    def replaceable(self, src: Path, dst: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> bool:
        """Whether writing ``dst`` from ``src`` replaces a file there (False: nothing is there).

        The rule of outputs written again on purpose (``unseen render``, review's Export): only
        unseen's own finished output of ``src`` is replaced, any other file only with ``overwrite``,
        and a file that is one of the run's ``inputs`` never (OutputError naming it).
        """
        key = path_key(dst)
        for path in (src, *inputs):
            if path_key(path) == key:
                raise OutputError(
                    f"{shown(dst)}: is an input of this run ({shown(path)}); it is never replaced, "
                    "not even with --overwrite"
                )
        if not (dst.exists() or dst.is_symlink()):
            return False
        if not overwrite and self.finished(src, dst) is None:
            raise NotOurs(src, dst)
        return True

    @contextlib.contextmanager
    def vouching(self, src: Path, dst: Path, tool: str) -> Iterator[list[Record]]:
        """While the block writes ``dst``, keep a first record the moment it is published (stops held),
        so that a stop before the full record cannot leave a finished output that a re-run refuses.
        Yields the list that then holds it."""
        vouched: list[Record] = []

        def vouch(published: Path) -> None:
            if published == dst:
                with contextlib.suppress(UnseenError):
                    vouched.append(self.write(src, dst, tool, None, {}))

        token = PUBLISHED.set(vouch)
        try:
            yield vouched
        finally:
            PUBLISHED.reset(token)


class NotOurs(OutputError):
    """A file in ``dst``'s place that is not unseen's finished output of ``src``: the message says what
    to do on the command line; the review page, which has no ``--overwrite``, says its own."""

    def __init__(self, src: Path, dst: Path) -> None:
        super().__init__(
            f"{shown(dst)}: output exists but is not unseen's finished output of {shown(src)} "
            "(use --overwrite to replace it)"
        )
        self.src, self.dst = src, dst
