"""Integrity: hashes that pin exactly which files an audit looked at, a seal over the report itself,
and checking both later.

A report names each original and output by its SHA-256. If an output is changed after the audit
(re-exported, edited, swapped for another file), it no longer matches its report, and
:func:`verify` says which.

The report is sealed too: ``seal`` holds the SHA-256 of the rest of the report as canonical JSON,
and one of each file's entry, so a report edited afterwards (a hash deleted or recomputed, a file
left out, a finding removed) no longer matches its seal and :func:`verify` names what changed. The
seal is a plain digest, not a signature: it catches accidental and naive edits, but whoever can
edit the report can compute a new seal. Only a digest kept somewhere else (``verify(...,
digest=...)``) shows that the report is, byte for byte, the one that was written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, shown

REPORT_SCHEMA = "unseen.audit/1"
SEAL = "seal"
_HEX64 = re.compile(r"[0-9a-f]{64}")


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


def _digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys, no spaces, UTF-8): the same value, the
    same digest, however the file was indented."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def report_digest(doc: dict[str, Any]) -> str:
    """The digest of a report: its canonical JSON less the seal (what the seal's ``sha256`` holds)."""
    return _digest({k: v for k, v in doc.items() if k != SEAL})


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its seal: the report's digest and one per file entry (to name the edited ones)."""
    body = {k: v for k, v in doc.items() if k != SEAL}
    files = body.get("files") or []
    return {**body, SEAL: {"sha256": report_digest(body), "files": [_digest(entry) for entry in files]}}


def verify(report: str | os.PathLike[str], digest: str | None = None) -> list[str]:
    """Check an audit report and every file it names; one line per problem, none when all is well.

    The report must be whole and sealed (see the module docstring), and equal ``digest`` if one kept
    elsewhere is given; then each file must still match its recorded hash (paths taken as written,
    else relative to the report's folder). InputError if the report is not an audit report.
    """
    report = Path(report)
    doc = read_report(report)
    problems = [f"{shown(report)}: {line}" for line in _seal_problems(doc, digest)]
    problems += _entry_problems(doc["files"])
    for entry in doc["files"]:
        if not isinstance(entry, dict):
            continue
        for role in ("output", "original"):
            name, expected = entry.get(role), entry.get(f"sha256_{role}")
            if not isinstance(name, str) or not name or not isinstance(expected, str) or not expected:
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


def read_report(report: Path) -> dict[str, Any]:
    """An audit report's JSON; InputError if it cannot be read or is not an audit report."""
    try:
        doc: Any = json.loads(report.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{shown(report)}: cannot read report: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"{shown(report)}: not an audit report (invalid JSON: {exc})") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("schema") != REPORT_SCHEMA
        or not isinstance(doc.get("files"), list)
    ):
        raise InputError(f"{shown(report)}: not an audit report (schema {REPORT_SCHEMA!r} expected)")
    return doc


def _seal_problems(doc: dict[str, Any], kept: str | None) -> list[str]:
    """What the seal, and a digest kept elsewhere, say about the report itself."""
    actual = report_digest(doc)
    problems = []
    if kept is not None and kept.strip().lower().removeprefix("sha256:") != actual:
        problems.append(f"not the report whose digest was kept (its digest is sha256:{actual})")
    sealed = doc.get(SEAL)
    if not isinstance(sealed, dict) or not isinstance(sealed.get("sha256"), str):
        return [*problems, "not sealed: it cannot show that it is whole (made by an older unseen, or edited)"]
    if sealed["sha256"] == actual:
        return problems
    return problems + _edits(doc["files"], sealed.get("files"))


def _edits(files: list[Any], sealed: Any) -> list[str]:
    """What changed in a report that no longer matches its seal, as far as the seal can tell."""
    sealed = sealed if isinstance(sealed, list) else []
    edits = []
    if len(files) != len(sealed):
        edits.append(f"edited since the audit: it listed {len(sealed)} file(s), now {len(files)}")
    for i, (entry, expected) in enumerate(zip(files, sealed, strict=False)):
        if _digest(entry) != expected:
            name = entry.get("output") if isinstance(entry, dict) else None
            edits.append(f"edited since the audit: the entry of {shown(name or f'file {i + 1}')}")
    return edits or ["edited since the audit: its tool, options or counts no longer match its seal"]


def _entry_problems(files: list[Any]) -> list[str]:
    """A whole report lists at least one file, each with its output's hash and its original's."""
    if not files:
        return ["the report lists no files"]
    problems = []
    for i, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("output"), str) or not entry["output"]:
            problems.append(f"file {i + 1} of the report: no output named")
            continue
        name = shown(entry["output"])
        if not _HEX64.fullmatch(str(entry.get("sha256_output"))):
            problems.append(f"{name}: the report holds no SHA-256 of this output")
        if entry.get("original") and not _original_missing(entry):
            if not _HEX64.fullmatch(str(entry.get("sha256_original"))):
                problems.append(f"{name}: the report holds no SHA-256 of its original")
    return problems


def _original_missing(entry: dict[str, Any]) -> bool:
    """Whether the audit itself found no original to hash (a "file" finding says so)."""
    findings = entry.get("findings") if isinstance(entry.get("findings"), list) else []
    return any(
        isinstance(f, dict) and f.get("check") == "file" and str(f.get("message", "")).startswith("original ")
        for f in findings
    )
