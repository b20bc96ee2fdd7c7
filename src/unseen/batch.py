"""Which files a run works on, and where each one's output goes. No faces, no printing.

A file named directly is always taken, whatever its extension, so that an unsupported file is
reported as an error instead of being skipped in silence. A folder is walked recursively, in sorted
(deterministic) order, taking photos and videos by extension. Nothing is left out in silence: what
a walk does not take (hidden files and folders, symlinked folders, our own earlier outputs, other
types) is listed with the reason, and an entry that looks like media but is not a readable regular
file (a FIFO, a broken symlink, a symlink loop) is a failed input, so the batch goes on without it.

Outputs go beside their input as ``NAME.unseen.EXT``, or, with an output folder, into that folder
under the same name, keeping the layout below a folder that was named on the command line.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import OutputError, shown
from .media.atomic import is_part_name
from .media.containers import VIDEO_EXTENSIONS
from .media.image import EXTRA_EXTENSIONS, IMAGE_EXTENSIONS

MEDIA_EXTENSIONS: frozenset[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
"""Lower-case suffixes picked up when walking a folder."""

OUTPUT_TAG = ".unseen"
"""Inserted before the extension of an output written beside its input: ``x.jpg`` -> ``x.unseen.jpg``."""

Kind = Literal["image", "video"]


@dataclass(frozen=True)
class Job:
    """One input file. ``root`` is the folder named on the command line that it was found in, or
    ``None`` if the file itself was named; output paths keep the layout below ``root``."""

    src: Path
    root: Path | None
    kind: Kind


@dataclass
class Discovery:
    """What a set of command-line paths expands to.

    ``jobs``: the files to process. ``failed``: (path, one-line message) for inputs that cannot be
    read at all. ``left_out``: (path, reason) for what a folder walk did not take.
    """

    jobs: list[Job] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    left_out: list[tuple[Path, str]] = field(default_factory=list)


# Reasons a walk leaves something out (the CLI counts them per reason).
HIDDEN = "hidden files and folders (name them to include them)"
SYMLINKED_FOLDER = "symlinked folders (name them to include them)"
EARLIER_OUTPUT = "earlier outputs (*.unseen.*)"
OTHER_TYPE = "files that are not photos or videos"


def kind_of(path: Path) -> Kind:
    """``"video"`` for a video extension, otherwise ``"image"`` (the photo reader names bad types)."""
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def is_output_name(name: str) -> bool:
    """Whether a file name looks like one of our outputs (``*.unseen.*``)."""
    return f"{OUTPUT_TAG}." in name.lower()


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file (a one-line message), or None if it can.

    Only regular files are read: opening a FIFO would block forever, a device would read endlessly.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{shown(path)}: symlink loop"
        if path.is_symlink():
            return f"{shown(path)}: broken symlink (points to {shown(os.readlink(path))})"
        if exc.errno == errno.ENOENT:
            return f"{shown(path)}: no such file or folder"
        return f"{shown(path)}: cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    what = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{shown(path)}: not a regular file ({what})"


def find_inputs(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> Discovery:
    """Expand files and folders into jobs, in the order given, each folder's files sorted.

    Folders listed in ``exclude`` (e.g. an output folder inside the input folder) are not walked.
    A file reached twice (named twice, or named and also inside a named folder) is taken once, at
    its first place.
    """
    excluded = {path_key(p) for p in exclude}
    found = Discovery()
    seen: set[str] = set()

    def add(job: Job) -> None:
        key = path_key(job.src)
        if key not in seen:
            seen.add(key)
            found.jobs.append(job)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for src in _walk(path, excluded, found):
                add(Job(src, path, kind_of(src)))
        elif (problem := not_a_file(path)) is not None:
            found.failed.append((path, problem))
        else:
            add(Job(path, None, kind_of(path)))
    return found


def _walk(folder: Path, excluded: set[str], found: Discovery) -> list[Path]:
    """Media files below ``folder``, sorted by name at every level, files before subfolders."""
    media: list[Path] = []

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        found.failed.append((where, f"{shown(where)}: cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if path_key(here / d) in excluded:
                continue
            if d.startswith("."):
                found.left_out.append((here / d, HIDDEN))
            elif (here / d).is_symlink():
                found.left_out.append((here / d, SYMLINKED_FOLDER))
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if is_part_name(name):
                continue  # our own temporary files: removed before outputs are written
            if name.startswith("."):
                found.left_out.append((path, HIDDEN))
            elif is_output_name(name):
                found.left_out.append((path, EARLIER_OUTPUT))
            elif (suffix := path.suffix.lower()) in EXTRA_EXTENSIONS:
                found.left_out.append((path, f"{suffix} photos (they need {EXTRA_EXTENSIONS[suffix]})"))
            elif path.suffix.lower() not in MEDIA_EXTENSIONS:
                found.left_out.append((path, OTHER_TYPE))
            elif (problem := not_a_file(path)) is not None:
                found.failed.append((path, problem))
            else:
                media.append(path)
    return media


def output_path(job: Job, out_dir: Path | None) -> Path:
    """Where ``job``'s output goes.

    Without ``out_dir``: ``NAME.unseen.EXT`` beside the input. With it: ``out_dir/NAME.EXT`` for a
    file named directly, ``out_dir/<path below the named folder>`` for a file found in a folder.
    Raises OutputError if the output would be the input file itself.
    """
    src = job.src
    if out_dir is None:
        dst = src.with_name(f"{src.stem}{OUTPUT_TAG}{src.suffix}")
    elif job.root is not None:
        dst = Path(out_dir) / src.relative_to(job.root)
    else:
        dst = Path(out_dir) / src.name
    if _same_file(src, dst):
        raise OutputError(
            f"{shown(src)}: output {shown(dst)} would overwrite the input; "
            "choose an output folder (-o) elsewhere"
        )
    return dst


def _same_file(a: Path, b: Path) -> bool:
    if path_key(a) == path_key(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive file systems
    except OSError:
        return False


def path_key(path: Path) -> str:
    """A path's identity for comparisons: absolute, symlinks resolved where they exist."""
    try:
        return os.path.normcase(str(Path(path).resolve()))
    except (OSError, RuntimeError):  # a symlink loop cannot be resolved: it is its own identity
        return os.path.normcase(os.path.abspath(path))
