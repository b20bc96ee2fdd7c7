"""Which files a run works on, and where each one's output goes. No faces, no printing.

A file named directly is always taken, whatever its extension, so that an unsupported file is
reported as an error instead of being skipped in silence. A folder is walked recursively, in sorted
(deterministic) order, taking photos and videos by extension and leaving out hidden files and
folders (names starting with ``.``, which includes our own half-written ``.part`` files) and our own
outputs (``NAME.unseen.EXT``).

Outputs go beside their input as ``NAME.unseen.EXT``, or, with an output folder, into that folder
under the same name, keeping the layout below a folder that was named on the command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import InputError, OutputError, shown
from .media.image import IMAGE_EXTENSIONS
from .media.video import VIDEO_EXTENSIONS

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


def kind_of(path: Path) -> Kind:
    """``"video"`` for a video extension, otherwise ``"image"`` (the photo reader names bad types)."""
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def is_output_name(name: str) -> bool:
    """Whether a file name looks like one of our outputs (``*.unseen.*``)."""
    return f"{OUTPUT_TAG}." in name.lower()


def find_inputs(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> list[Job]:
    """Expand files and folders into jobs, in the order given, each folder's files sorted.

    Raises InputError naming the first path that does not exist. Folders listed in ``exclude``
    (e.g. an output folder inside the input folder) are not walked. A file reached twice (named
    twice, or named and also inside a named folder) is taken once, at its first place.
    """
    excluded = {path_key(p) for p in exclude}
    jobs: list[Job] = []
    seen: set[str] = set()

    def add(job: Job) -> None:
        key = path_key(job.src)
        if key not in seen:
            seen.add(key)
            jobs.append(job)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for src in _walk(path, excluded):
                add(Job(src, path, kind_of(src)))
        elif path.exists() or path.is_symlink():
            add(Job(path, None, kind_of(path)))
        else:
            raise InputError(f"{shown(path)}: no such file or folder")
    return jobs


def _walk(folder: Path, excluded: set[str]) -> list[Path]:
    """Media files below ``folder``, sorted by name at every level, files before subfolders."""
    found: list[Path] = []

    def onerror(exc: OSError) -> None:
        raise InputError(
            f"{shown(exc.filename or folder)}: cannot read folder: {exc.strerror or exc}"
        ) from exc

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and path_key(here / d) not in excluded
        )
        for name in sorted(filenames):
            if name.startswith(".") or is_output_name(name):
                continue
            if Path(name).suffix.lower() in MEDIA_EXTENSIONS:
                found.append(here / name)
    return found


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
    return os.path.normcase(str(Path(path).resolve()))
