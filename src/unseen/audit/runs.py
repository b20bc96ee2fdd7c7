"""What an audit looks at: the original/output pairs of a run and the regions the run meant to paint.

Pairs come from a regions file (``unseen.regions/1`` or ``/2``, see ``docs/regions.md``), read here
leniently: unknown keys are ignored, so files written by newer runs still audit) or from two paths
given on the command line, files or folders paired by relative path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..batch import MEDIA_EXTENSIONS, OUTPUT_TAG, kind_of
from ..errors import InputError, shown
from ..regions import Regions
from ..regions_file import read_json_document

# Run options the audit needs to know what was planned; named as in the /2 schema's ``options``.
RUN_OPTION_KEYS = (
    *("method", "shape", "pixel_cells", "blur_strength", "margin", "head_top", "min_size"),
    *("text_margin", "text"),
)


@dataclass
class Pair:
    """One original and the output a run made of it.

    ``regions`` are the faces the run meant to obscure (detected boxes, before growing), or None when
    no regions file was given. ``kept`` are regions a reviewer chose to leave visible. ``sha256`` is
    the original's hash recorded by the run, when it recorded one.
    """

    original: Path | None
    output: Path
    kind: str
    regions: Regions | None = None
    kept: Regions = field(default_factory=Regions)
    sha256: str | None = None


@dataclass
class Run:
    """The pairs to audit, the run's options where known, and where they came from."""

    pairs: list[Pair]
    options: dict[str, Any]
    source: str  # "regions file NAME" or "paths"


def _resolve(text: str, base: Path) -> Path:
    """A path as the run wrote it: relative to the current folder, else to the regions file's folder."""
    path = Path(text)
    if path.is_absolute() or path.exists():
        return path
    beside = base / path
    return beside if beside.exists() else path


def _regions(records: list[dict[str, Any]]) -> tuple[Regions, Regions]:
    """Regions to obscure, and regions a reviewer kept visible (``suggested`` ones were never painted)."""
    painted = [r for r in records if r.get("action", "obscure") == "obscure"]
    kept = [r for r in records if r.get("action") == "keep"]
    for record in records:
        box = record["box"]
        if len(box) != 4 or not np.isfinite(np.asarray(box, np.float64)).all():
            raise ValueError("a box must have four finite numbers")
    return Regions.from_records(painted), Regions.from_records(kept)


def read_run(path: str | os.PathLike[str]) -> Run:
    """Read a regions file's pairs, regions and options. InputError naming the file if it is unusable."""
    path = Path(path)
    doc = read_json_document(path)
    files = doc["files"]
    options = doc.get("options") if isinstance(doc.get("options"), dict) else {}
    base = path.parent
    pairs = []
    for i, entry in enumerate(files):
        try:
            painted, kept = _regions(entry.get("regions") or [])
            output = _resolve(str(entry["output"]), base)
            original = _resolve(str(entry["input"]), base) if entry.get("input") else None
            kind = entry.get("kind") or kind_of(output)
            if kind not in ("image", "video"):
                raise ValueError(f"unknown kind {kind!r}")
            digest = entry.get("sha256")
            pairs.append(
                Pair(original, output, kind, painted, kept, digest if isinstance(digest, str) else None)
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{shown(path)}: file entry {i} is malformed: {exc}") from exc
    run_options = {k: options[k] for k in RUN_OPTION_KEYS if options.get(k) is not None}
    return Run(pairs, run_options, f"regions file {shown(path)}")


def _media_below(folder: Path) -> list[Path]:
    found = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(here, n).relative_to(folder)
            for n in sorted(names)
            if not n.startswith(".") and Path(n).suffix.lower() in MEDIA_EXTENSIONS
        ]
    return found


def pairs_from_paths(original: Path, output: Path) -> Run:
    """Two files, or two folders whose files pair by relative path (an output may also be named
    ``NAME.unseen.EXT``, as a run writes them beside their input). InputError if nothing pairs."""
    if original.is_dir() != output.is_dir():
        raise InputError(f"{shown(original)} and {shown(output)}: give two files or two folders")
    if not original.is_dir():
        for path in (original, output):
            if not path.is_file():
                raise InputError(f"{shown(path)}: no such file")
        return Run([Pair(original, output, kind_of(output))], {}, "paths")
    pairs = []
    for relative in _media_below(original):
        if OUTPUT_TAG + "." in relative.name.lower():
            continue  # a run's output beside its input, not an original
        candidates = [
            output / relative,
            output / relative.with_name(f"{relative.stem}{OUTPUT_TAG}{relative.suffix}"),
        ]
        match = next((c for c in candidates if c.is_file()), None)
        if match is not None:
            pairs.append(Pair(original / relative, match, kind_of(match)))
    if not pairs:
        raise InputError(f"{shown(original)} and {shown(output)}: no files pair by relative path")
    return Run(pairs, {}, "paths")
