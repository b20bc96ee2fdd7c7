"""The regions file: every face found in a run, as documented JSON (``--regions FILE.json``).

Review and audit tools read it back to check or correct what was obscured. Schema
``unseen.regions/1`` (also described in ``docs/regions.md``)::

    {
      "schema": "unseen.regions/1",
      "tool": "unseen 0.1.0",
      "files": [
        {
          "input": "photos/beach.jpg",
          "output": "photos/beach.unseen.jpg",
          "kind": "image",
          "width": 512,
          "height": 512,
          "frames": 1,
          "regions": [
            {"box": [181.5, 58.6, 269.9, 177.4], "score": 0.9281, "source": "full", "frame": 0, "track": -1}
          ]
        }
      ]
    }

* ``input`` / ``output``: the paths as the run used them (relative paths are relative to the folder
  the run was started in). ``kind`` is ``"image"`` or ``"video"``.
* ``width`` / ``height``: size in pixels of the *upright* picture (after EXIF orientation or video
  rotation is applied, i.e. as a viewer shows it). ``frames``: 1 for a photo, the frame count for a
  video.
* ``regions``: one entry per face per frame.

  - ``box``: ``[x1, y1, x2, y2]`` in pixels of the upright picture, floats rounded to 0.1,
    exclusive on the right and bottom; the face *as detected*, before it is grown to cover the whole
    head (the painted area is larger).
  - ``score``: detector confidence, 0..1 (1 for ``manual`` regions).
  - ``source``: what produced the region: a detector pass (``full``, ``coarse``, ``fine``), the video
    tracker (``interpolated`` between detections, ``extended`` before/after them) or ``manual``.
  - ``frame``: 0-based frame index (0 for photos). ``track``: the video track id linking one face
    across frames, ``-1`` when not tracked (photos).

Readers must ignore keys they do not know; a change that breaks readers gets a new schema number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, OutputError, shown
from .media.atomic import atomic_output
from .regions import SCHEMA, Regions

if TYPE_CHECKING:  # avoids importing the detector stack just to write JSON
    from .api import FileReport


def tool_version() -> str:
    """``unseen <version>`` of the installed package."""
    try:
        return f"unseen {metadata.version('unseen')}"
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unseen (unknown version)"


def regions_document(reports: Iterable[FileReport]) -> dict[str, Any]:
    """The regions file's JSON document for these file reports (see the module docstring)."""
    return {
        "schema": SCHEMA,
        "tool": tool_version(),
        "files": [
            {
                "input": str(r.src),
                "output": str(r.dst),
                "kind": r.kind,
                "width": int(r.width),
                "height": int(r.height),
                "frames": int(r.frames),
                "regions": r.regions.to_records(),
            }
            for r in reports
        ],
    }


def dumps_regions(doc: dict[str, Any]) -> str:
    """JSON text of a regions document: indented, with one region per line (easy to diff and grep)."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    lines += [f"  {dump(key)}: {dump(value)}," for key, value in doc.items() if key != "files"]
    files = doc.get("files", [])
    if not files:
        return "\n".join([*lines, '  "files": []', "}"]) + "\n"
    lines.append('  "files": [')
    for i, entry in enumerate(files):
        lines.append("    {")
        fields = [f"      {dump(key)}: {dump(value)}" for key, value in entry.items() if key != "regions"]
        records = entry.get("regions", [])
        if records:
            body = ",\n".join(f"        {dump(record)}" for record in records)
            fields.append(f'      "regions": [\n{body}\n      ]')
        else:
            fields.append('      "regions": []')
        lines.append(",\n".join(fields))
        lines.append("    }," if i < len(files) - 1 else "    }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def write_regions_file(path: str | os.PathLike[str], reports: Iterable[FileReport]) -> None:
    """Write the regions file atomically, replacing any earlier one; OSError becomes OutputError."""
    write_regions_entries(path, regions_document(reports)["files"])


def write_regions_entries(path: str | os.PathLike[str], entries: list[dict[str, Any]]) -> None:
    """Write the regions file from per-file entries (as :func:`regions_document` makes them), e.g.
    entries kept in the records of an earlier run beside those of this one."""
    text = dumps_regions({**regions_document([]), "files": entries})
    try:
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{shown(path)}: cannot write regions file: {exc.strerror or exc}") from exc


def read_regions_file(path: str | os.PathLike[str]) -> dict[str, Regions]:
    """Read a regions file back: ``{input path: Regions}``, in file order.

    Raises InputError naming the file if it cannot be read, is not JSON, or is not a
    ``unseen.regions/1`` document.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read regions file: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{shown(path)}: not a regions file (invalid JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise InputError(f"{shown(path)}: not a regions file (schema {found!r}, expected {SCHEMA!r})")
    files = doc.get("files")
    if not isinstance(files, list):
        raise InputError(f"{shown(path)}: not a regions file ('files' must be a list)")
    result: dict[str, Regions] = {}
    for i, entry in enumerate(files):
        try:
            records = entry["regions"]
            if not isinstance(records, list):
                raise TypeError("'regions' must be a list")
            for record in records:
                if len(record["box"]) != 4:
                    raise ValueError("a box must have four numbers")
            result[str(entry["input"])] = Regions.from_records(records)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{shown(path)}: file entry {i} is malformed: {exc}") from exc
    return result
