"""The audit's words: one verdict line per file, and the JSON document kept with the story.

The JSON report pins what was checked (SHA-256 of every original and output, the tool version and
every option) and is sealed (:mod:`.integrity`), so that ``unseen audit --verify REPORT.json`` can
later tell whether the report is whole and an output is still the file that was audited.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from typing import Any

from ..errors import one_line, shown
from ..regions_file import tool_version
from .findings import FileAudit, Finding
from .integrity import REPORT_SCHEMA, seal

_CHECK_WORDS = {
    "faces": "face visible",
    "strength": "weak obscuring",
    "metadata": "metadata",
    "reid": "still matches",
    "integrity": "integrity",
    "file": "file problem",
}


# The finding a verdict line names first: what most directly exposes a person (a face, then where
# and with which camera: GPS, a location, a serial number), then the rest.
_FIRST = ("faces", "strength", "reid", "file", "integrity", "metadata")
_WHERE = re.compile(r"GPS|location|ISO6709|latitude|longitude", re.IGNORECASE)
_WHICH_CAMERA = re.compile(r"serial", re.IGNORECASE)


def _rank(finding: Finding) -> tuple[int, int]:
    if finding.check == "faces":
        return (0, 0)
    if finding.check == "metadata" and _WHERE.search(finding.message):
        return (1, 0)
    if finding.check == "metadata" and _WHICH_CAMERA.search(finding.message):
        return (1, 1)
    return (2, _FIRST.index(finding.check) if finding.check in _FIRST else len(_FIRST))


def verdict(audit: FileAudit) -> str:
    """One line: ``OUTPUT: clean`` or ``OUTPUT: 3 findings (2 face visible, 1 metadata: EXIF GPS ...)``."""
    name = shown(audit.output)
    if audit.clean:
        skipped = sorted(check for check, done in audit.checks.items() if done.startswith("skipped"))
        return f"{name}: clean" + (f" ({', '.join(skipped)} skipped)" if skipped else "")
    counts = Counter(f.check for f in audit.findings)
    by_rank = sorted(counts.items(), key=lambda kv: _FIRST.index(kv[0]) if kv[0] in _FIRST else len(_FIRST))
    parts = [f"{n} {_CHECK_WORDS.get(check, check)}" for check, n in by_rank]
    first = min(audit.findings, key=_rank)
    where = f" at frame {first.frame}" if first.frame is not None else ""
    total = len(audit.findings)
    plural = "s" if total > 1 else ""
    return one_line(f"{name}: {total} finding{plural} ({', '.join(parts)}); first: {first.message}{where}")


def document(audits: list[FileAudit], options: dict[str, Any], source: str) -> dict[str, Any]:
    """The JSON report: schema, tool, time, options, where the pairs came from, every file, sealed."""
    return seal(
        {
            "schema": REPORT_SCHEMA,
            "tool": tool_version(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": source,
            "options": options,
            "findings": sum(len(a.findings) for a in audits),
            "files": [a.to_json() for a in audits],
        }
    )
