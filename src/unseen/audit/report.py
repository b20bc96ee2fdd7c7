"""The audit's words: one verdict line per file, and the JSON document kept with the story.

The JSON report pins what was checked (SHA-256 of every original and output, the tool version and
every option) so that ``unseen audit --verify REPORT.json`` can later tell whether an output is
still the file that was audited.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from ..errors import one_line, shown
from ..regions_file import tool_version
from .findings import FileAudit
from .integrity import REPORT_SCHEMA

_CHECK_WORDS = {
    "faces": "face visible",
    "strength": "weak obscuring",
    "metadata": "metadata",
    "reid": "still matches",
    "integrity": "integrity",
    "file": "file problem",
}


# The finding a verdict line names first: what most directly exposes a person.
_FIRST = ("faces", "strength", "reid", "file", "integrity", "metadata")


def verdict(audit: FileAudit) -> str:
    """One line: ``OUTPUT: clean`` or ``OUTPUT: 3 findings (2 face visible, 1 metadata: EXIF GPS ...)``."""
    name = shown(audit.output)
    if audit.clean:
        skipped = sorted(check for check, done in audit.checks.items() if done.startswith("skipped"))
        return f"{name}: clean" + (f" ({', '.join(skipped)} skipped)" if skipped else "")
    counts = Counter(f.check for f in audit.findings)
    parts = [f"{n} {_CHECK_WORDS.get(check, check)}" for check, n in counts.items()]
    first = min(audit.findings, key=lambda f: _FIRST.index(f.check) if f.check in _FIRST else len(_FIRST))
    where = f" at frame {first.frame}" if first.frame is not None else ""
    total = len(audit.findings)
    plural = "s" if total > 1 else ""
    return one_line(f"{name}: {total} finding{plural} ({', '.join(parts)}); first: {first.message}{where}")


def document(audits: list[FileAudit], options: dict[str, Any], source: str) -> dict[str, Any]:
    """The JSON report: schema, tool, time, options, where the pairs came from, and every file."""
    return {
        "schema": REPORT_SCHEMA,
        "tool": tool_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": source,
        "options": options,
        "findings": sum(len(a.findings) for a in audits),
        "files": [a.to_json() for a in audits],
    }
