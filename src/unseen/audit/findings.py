"""What an audit reports: findings (anything an adversary could still use) and the per-file record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One thing left in an output. ``box`` is in pixels of the upright output, ``frame`` for video."""

    check: str  # faces, strength, metadata, reid, integrity; "file" when it could not be audited at all
    message: str
    frame: int | None = None
    box: tuple[float, float, float, float] | None = None
    track: int | None = None  # the video track the region belongs to, when it has one

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["box"] = None if self.box is None else [round(float(v), 1) for v in self.box]
        return out


@dataclass
class FileAudit:
    """The audit of one output: hashes that pin exactly what was checked, checks run, findings."""

    original: str | None
    output: str
    kind: str
    sha256_original: str | None = None
    sha256_output: str | None = None
    width: int = 0
    height: int = 0
    frames: int = 0
    checks: dict[str, str] = field(default_factory=dict)  # check -> what was done, or "skipped: why"
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "findings"}
        out["findings"] = [f.to_json() for f in self.findings]
        return out
