"""Audit a run's outputs: what could an adversary still use? (``unseen audit``, docs/audit.md)

Read-back checks only; nothing here changes a file. ``runs`` reads the pairs, ``faces`` looks for
faces left visible, ``strength`` judges how each region was painted, ``reid`` asks whether a face
recogniser could still link output and original, ``media.readback`` reads the metadata back,
``integrity`` pins the files by hash; ``report`` and ``html`` write the results, ``cli`` is the
command line.
"""

from .core import AuditOptions, audit_pair, audit_pairs
from .findings import FileAudit, Finding
from .runs import Pair, Run, pairs_from_paths, read_run

__all__ = [
    "AuditOptions",
    "FileAudit",
    "Finding",
    "Pair",
    "Run",
    "audit_pair",
    "audit_pairs",
    "pairs_from_paths",
    "read_run",
]
