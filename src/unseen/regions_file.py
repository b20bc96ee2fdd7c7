"""The regions file: every face found in a run, and what a person decided about each (``--regions``).

Review reads it, changes it and writes it back after every edit; ``unseen render`` paints outputs
from it without detecting again; audit tools read it to check what was obscured. Schema
``unseen.regions/2`` is documented in ``docs/regions.md``; ``unseen.regions/1`` files are still read
(every region then counts as ``obscure``, no file as reviewed, and no fingerprint is known).

A regions file is only ever applied to the file it describes: ``/2`` records each input's size and
SHA-256, and :func:`check_input` refuses any other file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError, OutputError, brief, one_line, shown
from .media.atomic import publish_bytes
from .regions import KINDS as REGION_KINDS
from .regions import SCHEMA, Regions
from .version import VERSION

if TYPE_CHECKING:  # annotations only: writing JSON needs neither module loaded
    from .options import Options
    from .report import FileReport

SCHEMA_V1 = "unseen.regions/1"
ACTIONS = ("obscure", "keep", "suggested")
"""What becomes of a region: painted over, left visible by a person's choice, or a weak detection
shown for review and painted only once accepted (then its action is ``obscure``)."""
KINDS = ("image", "video")
REGION_METHODS = ("fill", "pixelate", "blur")
"""What a region's own ``method`` may be (chosen in review; absent: the run's ``options.method``)."""
INT32_MAX = 2**31 - 1
"""Counts, frame indices and track ids are stored as 32-bit integers: no larger value is accepted."""
SWEEP_CELLS = 64
"""A review sweep's grid has at most this many cells along the picture's longer side."""


def tool_version() -> str:
    """``unseen <version>`` of this package."""
    return f"unseen {VERSION}"


def fingerprint(path: str | os.PathLike[str]) -> tuple[int, str]:
    """Size in bytes and SHA-256 (hex) of a file, read in blocks (a long video never sits in memory)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
                size += len(block)
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from exc
    return size, digest.hexdigest()


@dataclass
class FileEntry:
    """One input of a regions file: where it came from and goes, its regions and their actions."""

    input: str
    output: str
    kind: str
    width: int
    height: int
    frames: int
    regions: Regions
    actions: np.ndarray = field(default_factory=lambda: np.zeros(0, "U9"))
    size: int | None = None  # of the input file in bytes; None for /1 files
    sha256: str | None = None
    reviewed: bool = False  # a person marked the file as checked
    edited: bool = False  # a person changed its regions
    zones: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    """Static zones, x1, y1, x2, y2 each: areas a person drew once, obscured on every frame (a screen
    showing faces, a window onto a street)."""
    keep_only: bool = False
    """Obscure the whole picture but the regions kept (``keep``): even a face nobody found is covered."""
    swept: dict[str, Any] | None = None
    """What a review's sweep has shown: ``{"cell": C, "seen": {frame: "0110..."}}`` (see
    :func:`parse_swept`); None before any sweep."""
    cuts: list[int] = field(default_factory=list)
    """A video's frames that start a new shot (after frame 0), as review's detection found them: a
    review sweeps each shot's first frame besides one frame a second."""

    def __post_init__(self) -> None:
        self.zones = np.asarray(self.zones, np.float32).reshape(-1, 4)
        n = len(self.regions)
        actions = np.asarray(self.actions, "U9").reshape(-1)
        self.actions = np.full(n, "obscure", "U9") if actions.size == 0 and n else actions
        if len(self.actions) != n:
            raise ValueError("FileEntry needs one action per region")
        unknown = set(self.actions.tolist()) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown region action {sorted(unknown)[0]!r}")

    @property
    def to_paint(self) -> Regions:
        """The regions that are painted over in the output (``obscure``; never ``keep`` or ``suggested``)."""
        return self.regions[self.actions == "obscure"]

    def records(self) -> list[dict[str, Any]]:
        """The entry's ``regions`` array: each region's record with its action."""
        return [
            {**record, "action": str(action)}
            for record, action in zip(self.regions.to_records(), self.actions, strict=True)
        ]

    def header(self) -> dict[str, Any]:
        """The entry's keys but its ``regions``."""
        return {
            "input": self.input,
            "output": self.output,
            "kind": self.kind,
            "width": int(self.width),
            "height": int(self.height),
            "frames": int(self.frames),
            "size": self.size,
            "sha256": self.sha256,
            "reviewed": bool(self.reviewed),
            "edited": bool(self.edited),
            **({"zones": self.zone_records()} if len(self.zones) else {}),
            **({"keep_only": True} if self.keep_only else {}),
            **({"swept": self.swept} if self.swept else {}),
            **({"cuts": list(self.cuts)} if self.cuts else {}),
        }

    def zone_records(self) -> list[dict[str, Any]]:
        """The entry's ``zones`` array (boxes rounded as regions' are)."""
        return [{"box": [round(float(v), 1) for v in box]} for box in self.zones]

    def to_json(self) -> dict[str, Any]:
        return {**self.header(), "regions": self.records()}

    def region_lines(self) -> list[str]:
        """Each record of :meth:`records` as ``json.dumps`` writes it, made column by column: an hour of
        video has hundreds of thousands of regions, and review writes them all after every edit."""
        regions = self.regions
        finite = np.isfinite(regions.boxes).all() and np.isfinite(regions.scores).all()
        if set(regions.data) - {"method", "kind"} or not finite:  # other columns or odd numbers
            return [_dump(record) for record in self.records()]
        quoted: dict[str, str] = {}  # the few distinct sources, kinds, methods and actions, each quoted once

        def text(value: Any) -> str:
            if value not in quoted:
                quoted[value] = json.dumps(str(value), ensure_ascii=False)
            return quoted[value]

        # A float32 times 10 or 10^4 is exact in float64, so numpy's rounding (scale, round half to
        # even, divide) gives the very numbers Python's round() gives to to_records.
        boxes = np.round(regions.boxes.astype(np.float64), 1).tolist()
        scores = np.round(regions.scores.astype(np.float64), 4).tolist()
        columns = (boxes, scores, regions.source.tolist(), regions.frame.tolist(), regions.track.tolist())
        names = list(regions.data)  # kind and method, in the order to_records writes them
        extras = list(zip(*(regions.data[n].tolist() for n in names), strict=True)) or [()] * len(regions)
        ends: dict[tuple[Any, str], str] = {}  # the record's last keys: the few (kind, method, action)

        def end(values: tuple, action: str) -> str:
            if (values, action) not in ends:
                chosen = "".join(
                    f'"{n}": {text(v)}, ' for n, v in zip(names, values, strict=True) if v is not None
                )
                ends[values, action] = f'{chosen}"action": {text(action)}}}'
            return ends[values, action]

        rows = zip(*columns, extras, self.actions.tolist(), strict=True)
        return [
            f'{{"box": [{x1!r}, {y1!r}, {x2!r}, {y2!r}], "score": {score!r}, "source": {text(source)}, '
            f'"frame": {frame}, "track": {track}, {end(values, action)}'
            for (x1, y1, x2, y2), score, source, frame, track, values, action in rows
        ]


@dataclass
class RegionsDocument:
    """A whole regions file: the run's options and one entry per input."""

    files: list[FileEntry]
    options: dict[str, Any] | None = None  # see options_record; None when the writer did not say
    tool: str = field(default_factory=tool_version)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": self.tool,
            "options": self.options,
            "files": [entry.to_json() for entry in self.files],
        }


def options_record(options: Options) -> dict[str, Any]:
    """The run's options as the regions file keeps them, so that render paints as the run would."""
    o, p = options.obscure, options.plan
    return {
        "method": o.method,
        "shape": o.shape,
        "color": list(o.color),
        "pixel_cells": o.pixel_cells,
        "blur_strength": o.blur_strength,
        "margin": p.margin,
        "head_top": p.head_top,
        "min_size": p.min_size,
        "text_margin": p.text_margin,
        "sensitivity": options.sensitivity,
        "text": options.text,
    }


def entry_from_report(
    report: FileReport, actions: Any = None, digest: tuple[int | None, str | None] | None = None
) -> FileEntry:
    """The entry for one processed file; its fingerprint is read from the input unless given.

    An input that can no longer be read gets no fingerprint (the entry is then checked by the
    picture's size only, as a ``/1`` entry is) rather than losing the whole file.
    """
    if digest is None:
        try:
            digest = fingerprint(report.src)
        except InputError:
            digest = (None, None)
    size, sha = digest
    return FileEntry(
        input=str(report.src),
        output=str(report.dst),
        kind=report.kind,
        width=int(report.width),
        height=int(report.height),
        frames=int(report.frames),
        regions=report.regions,
        actions=[] if actions is None else actions,
        size=size,
        sha256=sha,
    )


def regions_document(reports: Iterable[FileReport], options: Options | None = None) -> dict[str, Any]:
    """The regions file's JSON document for these file reports (every region to ``obscure``)."""
    record = options_record(options) if options is not None else None
    return RegionsDocument([entry_from_report(r) for r in reports], record).to_json()


def dumps_regions(doc: dict[str, Any]) -> str:
    """JSON text of a regions document: indented, with one region per line (easy to diff and grep)."""
    files = [
        ({k: v for k, v in entry.items() if k != "regions"}, [_dump(r) for r in entry.get("regions", [])])
        for entry in doc.get("files", [])
    ]
    return _layout({k: v for k, v in doc.items() if k != "files"}, files)


def _dump(value: Any) -> str:
    """Standard JSON only: a number that is not finite raises ValueError rather than being written as
    ``NaN`` or ``Infinity``, which other readers refuse."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _layout(head: dict[str, Any], files: list[tuple[dict[str, Any], list[str]]]) -> str:
    """The document's text from its top keys and, per file, its keys and its regions' JSON lines."""
    lines = ["{"]
    lines += [f"  {_dump(key)}: {_dump(value)}," for key, value in head.items()]
    if not files:
        return "\n".join([*lines, '  "files": []', "}"]) + "\n"
    lines.append('  "files": [')
    for i, (entry, records) in enumerate(files):
        lines.append("    {")
        fields = [f"      {_dump(key)}: {_dump(value)}" for key, value in entry.items()]
        if records:
            body = ",\n".join(f"        {record}" for record in records)
            fields.append(f'      "regions": [\n{body}\n      ]')
        else:
            fields.append('      "regions": []')
        lines.append(",\n".join(fields))
        lines.append("    }," if i < len(files) - 1 else "    }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def save_document(path: str | os.PathLike[str], doc: RegionsDocument) -> None:
    """Write ``doc`` atomically and durably (flushed to disk before the rename): a crash at any moment
    leaves either the previous file or this one, never a mix. OSError becomes OutputError."""
    head = {k: v for k, v in RegionsDocument([], doc.options, doc.tool).to_json().items() if k != "files"}
    _write_text(path, lambda: _layout(head, [(entry.header(), entry.region_lines()) for entry in doc.files]))


def write_regions_file(
    path: str | os.PathLike[str], reports: Iterable[FileReport], options: Options | None = None
) -> None:
    """Write the regions file of a run atomically, replacing any earlier one."""
    _write_text(path, lambda: dumps_regions(regions_document(reports, options)))


def write_regions_entries(
    path: str | os.PathLike[str], entries: list[dict[str, Any]], options: Options | None = None
) -> None:
    """Write the regions file from per-file entries (``FileEntry.to_json()``), e.g. entries kept in
    the records of an earlier run beside those of this one."""
    record = options_record(options) if options is not None else None
    _write_text(path, lambda: dumps_regions({**RegionsDocument([], record).to_json(), "files": entries}))


def _write_text(path: str | os.PathLike[str], layout: Callable[[], str]) -> None:
    """Write the text ``layout`` makes; a value JSON cannot hold (a number that is not finite) is an
    OutputError, and the file is left as it was."""
    try:
        text = layout()
    except ValueError as exc:
        raise OutputError(f"{shown(path)}: cannot write regions file: {exc}") from exc
    try:
        publish_bytes(path, text.encode("utf-8"), overwrite=True)
    except OSError as exc:
        raise OutputError(f"{shown(path)}: cannot write regions file: {exc.strerror or exc}") from exc


def read_json_document(path: Path) -> dict[str, Any]:
    """The JSON of a ``unseen.regions/1`` or ``/2`` file, with a ``files`` list; InputError naming
    the file if it is anything else. The entries are left to the caller to check."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_json)
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read regions file: {exc.strerror or exc}") from exc
    except ValueError as exc:  # not UTF-8, not JSON, NaN or Infinity, an integer of over 4300 digits
        raise InputError(f"{shown(path)}: not a regions file (invalid JSON: {one_line(str(exc))})") from exc
    except RecursionError as exc:
        raise InputError(f"{shown(path)}: not a regions file (nested too deeply)") from exc
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema not in (SCHEMA, SCHEMA_V1):
        raise InputError(f"{shown(path)}: not a regions file (schema {schema!r}, expected {SCHEMA!r})")
    if not isinstance(doc.get("files"), list):
        raise InputError(f"{shown(path)}: not a regions file ('files' must be a list)")
    return doc


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a number standard JSON allows")


def load_document(path: str | os.PathLike[str]) -> RegionsDocument:
    """Read a ``unseen.regions/1`` or ``/2`` file; InputError naming the file if it is anything else."""
    path = Path(path)
    doc = read_json_document(path)
    schema, files = doc["schema"], doc["files"]
    options = doc.get("options")
    if options is not None and not isinstance(options, dict):
        raise InputError(f"{shown(path)}: not a regions file ('options' must be an object)")
    entries = []
    for i, entry in enumerate(files):
        try:
            entries.append(parse_entry(entry, v1=schema == SCHEMA_V1))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{shown(path)}: file entry {i} is malformed: {one_line(str(exc))}") from exc
    return RegionsDocument(entries, options, str(doc.get("tool", "")))


def parse_entry(entry: dict[str, Any], v1: bool = False) -> FileEntry:
    """One file entry from JSON, strictly checked (also used for the review page's edits)."""
    if not isinstance(entry, dict):
        raise TypeError("a file entry must be an object")
    kind = entry["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind must be 'image' or 'video', not {kind!r}")
    width, height, frames = (_count(entry, key) for key in ("width", "height", "frames"))
    regions, actions = parse_records(entry["regions"], frames, v1)
    zones = np.zeros((0, 4)) if v1 else parse_zones(entry.get("zones", []))
    size = None if v1 else entry.get("size")
    sha = None if v1 else entry.get("sha256")
    keep_only = False if v1 else entry.get("keep_only", False)
    swept = None if v1 or entry.get("swept") is None else parse_swept(entry["swept"], width, height, frames)
    cuts = [] if v1 else parse_cuts(entry.get("cuts", []), frames)
    if not isinstance(keep_only, bool):
        raise ValueError("'keep_only' must be true or false")
    if size is not None and (type(size) is not int or not 0 <= size < 2**63):
        raise ValueError("'size' must be a whole number of bytes")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
        raise ValueError("'sha256' must be 64 hex digits")
    return FileEntry(
        input=_path(entry, "input"),
        output=_path(entry, "output"),
        kind=kind,
        width=width,
        height=height,
        frames=frames,
        regions=regions,
        actions=actions,
        size=size,
        sha256=sha,
        reviewed=bool(entry.get("reviewed", False)) and not v1,
        edited=bool(entry.get("edited", False)) and not v1,
        zones=zones,
        keep_only=keep_only,
        swept=swept,
        cuts=cuts,
    )


def parse_swept(swept: Any, width: int, height: int, frames: int) -> dict[str, Any]:
    """A sweep's record, checked: ``cell`` a whole number of pixels, no finer than SWEEP_CELLS cells
    along the longer side; ``seen`` maps frames swept (any of the file's: which frames a sweep
    shows depends on the frame rate and the cuts) to one ``0`` or ``1`` per cell, row by row
    (``1``: a tile holding its centre was shown).
    ValueError/TypeError on anything else, so the record stays as small as the page makes it."""
    if not (isinstance(swept, dict) and set(swept) == {"cell", "seen"} and isinstance(swept["seen"], dict)):
        raise ValueError("'swept' must be an object with 'cell' and 'seen'")
    cell, seen = swept["cell"], swept["seen"]
    finest = -(-max(width, height) // SWEEP_CELLS)
    if type(cell) is not int or not finest <= cell <= INT32_MAX:
        raise ValueError(
            f"'swept' cell must be a whole number from {finest} to {INT32_MAX}, not {brief(cell)}"
        )
    cells = -(-width // cell) * -(-height // cell)
    for frame, bits in seen.items():
        if not (frame.isdigit() and frame.isascii() and str(int(frame)) == frame and int(frame) < frames):
            raise ValueError(f"'swept' has frame {brief(frame)}, not a frame of the file")
        if not (isinstance(bits, str) and len(bits) == cells and not bits.strip("01")):
            raise ValueError(f"'swept' frame {frame} must have one 0 or 1 for each of its {cells} cells")
    return {"cell": cell, "seen": dict(seen)}


def parse_cuts(cuts: Any, frames: int) -> list[int]:
    """A video's ``cuts``, checked: frames of the file after the first, in increasing order."""
    if not (isinstance(cuts, list) and all(type(c) is int and 0 < c < frames for c in cuts)):
        raise ValueError(f"'cuts' must be a list of frames from 1 to {frames - 1}, not {brief(cuts)}")
    if any(a >= b for a, b in zip(cuts[:-1], cuts[1:], strict=True)):
        raise ValueError("'cuts' must be in increasing order, each once")
    return list(cuts)


def parse_zones(zones: Any) -> np.ndarray:
    """The boxes of a ``zones`` array (N x 4); ValueError/TypeError on anything odd."""
    if not isinstance(zones, list):
        raise TypeError("'zones' must be a list")
    boxes = []
    for zone in zones:
        box = zone.get("box") if isinstance(zone, dict) else None
        if not (isinstance(box, list) and len(box) == 4):
            raise ValueError("a zone must be an object with a box of four numbers")
        box = [float32(v, "a zone's box") for v in box]
        if not (box[2] > box[0] and box[3] > box[1]):
            raise ValueError("a zone's box must have x2 > x1 and y2 > y1")
        boxes.append(box)
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def parse_records(records: Any, frames: int, v1: bool = False) -> tuple[Regions, list[str]]:
    """Regions and their actions from a ``regions`` array; ValueError/TypeError on anything odd."""
    if not isinstance(records, list):
        raise TypeError("'regions' must be a list")
    actions = []
    for record in records:
        if not isinstance(record, dict):
            raise TypeError("a region must be an object")
        box = record["box"]
        if not (isinstance(box, list) and len(box) == 4):
            raise ValueError("a box must have four numbers")
        for value in box:
            float32(value, "a box")
        float32(record.get("score", 1.0), "'score'")
        frame = record.get("frame", 0)
        if type(frame) is not int or not 0 <= frame < max(frames, 1):
            raise ValueError(f"frame {brief(frame)} is outside the file's {frames} frames")
        track = record.get("track", -1)
        if type(track) is not int or not -1 <= track <= INT32_MAX:
            raise ValueError(f"'track' must be a whole number from -1 to {INT32_MAX}, not {brief(track)}")
        if record.get("kind") not in (None, *REGION_KINDS):
            raise ValueError(f"unknown region kind {brief(record['kind'])}")
        if record.get("method") not in (None, *REGION_METHODS):
            raise ValueError(f"unknown region method {record['method']!r}")
        action = "obscure" if v1 else record.get("action", "obscure")
        if action not in ACTIONS:
            raise ValueError(f"unknown region action {action!r}")
        actions.append(action)
    # The action is the entry's own column (FileEntry.actions), not one of the regions' extra columns.
    return Regions.from_records([{k: v for k, v in r.items() if k != "action"} for r in records]), actions


def _path(entry: dict[str, Any], key: str) -> str:
    """A path of a file entry: text that names a file (not a folder such as ``""``, ``.`` or ``/``)."""
    value = entry[key]
    if not (isinstance(value, str) and "\0" not in value and Path(value).name not in ("", ".", "..")):
        raise ValueError(f"{key!r} must be the path of a file, not {brief(value)}")
    return value


def _count(entry: dict[str, Any], key: str) -> int:
    value = entry[key]
    if type(value) is not int or not 1 <= value <= INT32_MAX:
        raise ValueError(f"{key!r} must be a whole number from 1 to {INT32_MAX}, not {brief(value)}")
    return value


def float32(value: Any, what: str) -> float:
    """``value`` as the float32 it is stored as; ValueError unless it is a number (not a bool) that
    stays finite there: ``1e39`` is a finite JSON number but an infinite float32."""
    if type(value) not in (int, float):
        raise ValueError(f"{what} must have numbers, not {brief(value)}")
    try:
        with np.errstate(over="ignore"):
            stored = np.float32(value)
    except OverflowError:  # an integer too large even for a float64
        stored = np.float32(np.inf)
    if not np.isfinite(stored):
        raise ValueError(f"{what} must have finite numbers (32-bit floats), not {brief(value)}")
    return float(stored)


def check_input(entry: FileEntry, path: str | os.PathLike[str] | None = None) -> None:
    """Refuse to apply ``entry`` to a file that is not the one it was made for (InputError).

    Compares the file's size and SHA-256 with the entry's (``/1`` entries have none: only the
    picture's size can be compared, by the reader of the pixels).
    """
    path = Path(entry.input if path is None else path)
    if entry.sha256 is None:
        return
    size, sha = fingerprint(path)
    if size != entry.size or sha != entry.sha256:
        raise InputError(
            f"{shown(path)}: is not the file the regions file describes "
            f"(its size or SHA-256 differs); refusing to apply regions made for another file"
        )


def read_regions_file(path: str | os.PathLike[str]) -> dict[str, Regions]:
    """Read a regions file back: ``{input path: Regions}``, in file order (all actions included).

    Raises InputError naming the file if it cannot be read, is not JSON, or is not a
    ``unseen.regions/1`` or ``/2`` document.
    """
    return {entry.input: entry.regions for entry in load_document(path).files}
