"""Integrity: hashes that pin exactly which files an audit looked at, and checking them later.

A report names each original and output by its SHA-256. If an output is changed after the audit
(re-exported, edited, swapped for another file), it no longer matches its report, and
:func:`verify` says which.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError, shown

REPORT_SCHEMA = "unseen.audit/1"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in blocks (videos can be large). InputError if unreadable."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def verify(report: str | os.PathLike[str]) -> list[str]:
    """Check every file an audit report names against its recorded hash; one line per mismatch.

    Paths are taken as written, else relative to the report's folder. InputError if the report is
    not an audit report.
    """
    report = Path(report)
    try:
        doc: Any = json.loads(report.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{shown(report)}: cannot read report: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{shown(report)}: not an audit report (invalid JSON: {exc})") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("schema") != REPORT_SCHEMA
        or not isinstance(doc.get("files"), list)
    ):
        raise InputError(f"{shown(report)}: not an audit report (schema {REPORT_SCHEMA!r} expected)")
    problems = []
    for entry in doc["files"]:
        for role in ("output", "original"):
            name, expected = entry.get(role), entry.get(f"sha256_{role}")
            if not name or not expected:
                continue
            path = Path(name)
            if not path.is_absolute() and not path.exists():
                path = report.parent / path
            if not path.is_file():
                problems.append(f"{shown(name)}: missing ({role} named in the report)")
            elif sha256_file(path) != expected:
                problems.append(
                    f"{shown(name)}: changed since the audit ({role} no longer matches its SHA-256)"
                )
    return problems
