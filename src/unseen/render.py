"""Outputs from known regions: a regions file, corrected in review, painted without detecting again.

Only regions whose action is ``obscure`` are painted; ``keep`` (left visible by a person's choice)
and ``suggested`` (a weak detection nobody accepted) are not; a file reviewed "keep only" is painted
whole but its ``keep`` regions. Outputs are written exactly as a normal
run writes them (atomically, metadata-free), with the options the run recorded in the file. An entry
is applied only to the file it was made for (same size and SHA-256), never to another one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .count import photo_counts, same_face
from .detect.cascade import PHOTO_CASCADE
from .errors import InputError, UnseenError, brief, shown
from .media.image import read_photo
from .obscure import KEPT, ObscureOptions
from .options import Options
from .photo_pipeline import anonymise_file
from .plan import PlanOptions
from .records import Record, Records
from .regions import Regions
from .regions_file import FileEntry, RegionsDocument, check_input, load_document, tool_version
from .report import FileReport
from .stops import stops_held

UNVERIFIED = (
    "the regions file records no SHA-256 of this input (an unseen.regions/1 file records none), so it "
    "cannot be verified to be the file the regions were made for"
)
ZONE_GROWTH = 1.42  # > sqrt(2): the ellipse inscribed in the grown box contains the drawn box


# What a regions file may ask for, no more than the command line would do: pixelation never finer
# than the command's (more cells show more of a face), blur never weaker, nor so strong that its
# kernel outgrows memory.
PIXEL_CELLS = (1, ObscureOptions().pixel_cells)
BLUR_STRENGTH = (ObscureOptions().blur_strength, 10.0)


def options_from_record(record: dict[str, Any] | None, overlay: np.ndarray | None = None) -> Options:
    """The run's options back from the regions file (the safe defaults where it recorded none),
    bounded as the command line bounds its own (see :func:`_checked_record`).

    ``overlay`` is the picture for ``method: image``, which the file names but does not carry.
    """
    if not record:
        return Options()
    if record.get("method") == "image" and overlay is None:
        raise InputError("regions file asks for --method image: give the picture with --image")
    try:
        _checked_record(record)
        obscure_keys = ("method", "shape", "pixel_cells", "blur_strength")
        plan_keys = ("margin", "head_top", "min_size", "text_margin")
        obscure = ObscureOptions(
            **{k: record[k] for k in obscure_keys if k in record},
            color=tuple(record.get("color", (0, 0, 0))),
            overlay=overlay,
        )
        plan = PlanOptions(**{k: float(record[k]) for k in plan_keys if k in record})
        sensitivity = float(record.get("sensitivity", 1.0))
    except (TypeError, ValueError) as exc:
        raise InputError(f"regions file options are invalid: {exc}") from exc
    return Options(obscure=obscure, plan=plan, sensitivity=sensitivity, text=bool(record.get("text", False)))


def _checked_record(record: dict[str, Any]) -> None:
    """ValueError unless every option the file gives has the type and range the command line allows."""

    def number(key: str, low: float, high: float = math.inf, above: bool = False) -> None:
        if key not in record:
            return
        value = record[key]
        try:
            real = float(value) if type(value) in (int, float) else math.nan
        except OverflowError:  # an integer of hundreds of digits
            real = math.nan
        if not (math.isfinite(real) and (real > low if above else real >= low) and real <= high):
            bounds = f"> {low:g}" if above else f">= {low:g}" if high == math.inf else f"{low:g} to {high:g}"
            raise ValueError(f"{key} must be a number {bounds}, not {brief(value)}")

    for key in ("margin", "head_top", "min_size", "text_margin"):
        number(key, 0.0)
    number("sensitivity", 0.0, above=True)
    if type(record.get("text", False)) is not bool:
        raise ValueError(f"text must be true or false, not {brief(record['text'])}")
    number("blur_strength", *BLUR_STRENGTH)
    cells = record.get("pixel_cells", PIXEL_CELLS[1])
    if type(cells) is not int or not PIXEL_CELLS[0] <= cells <= PIXEL_CELLS[1]:
        low, high = PIXEL_CELLS
        raise ValueError(
            f"pixel_cells must be a whole number from {low} to {high} (more cells show more of a face), "
            f"not {brief(cells)}"
        )
    color = record.get("color", [0, 0, 0])
    if not (isinstance(color, list) and len(color) == 3 and all(type(c) is int for c in color)):
        raise ValueError(f"color must be three whole numbers 0..255, not {brief(color)}")


def render_entry(
    entry: FileEntry,
    options: Options,
    *,
    overwrite: bool = False,
    audio: str = "keep",
    codec: str | None = None,
    crf: int = 18,
    progress: Callable[[int, int | None], None] | None = None,
    unverified: bool = False,
    inputs: Iterable[Path] = (),
) -> FileReport:
    """Write ``entry``'s output from its regions; InputError if its input is not the file it describes
    (its SHA-256, and its picture size and frame count: :func:`check_size`).

    An entry without a SHA-256 (every entry of a ``/1`` file) cannot be verified to be about its
    input: it is refused unless ``unverified``, and then checked by the picture's size only. A file
    already at the output is replaced only if it is unseen's finished output of this input, or with
    ``overwrite``; never if it is the entry's input or one of the run's other ``inputs`` (see
    :meth:`Records.replaceable`). The output is recorded as unseen's, as a normal run's is.
    """
    src, dst = Path(entry.input), Path(entry.output)
    if entry.sha256 is None and not unverified:
        raise InputError(
            f"{shown(src)}: {UNVERIFIED}; refusing to render it (--unverified renders it anyway)"
        )
    records = Records()
    replace = records.replaceable(src, dst, overwrite, inputs)
    check_input(entry, src)
    check_size(entry, src)
    with records.vouching(src, dst, tool_version()) as vouched:
        report = _paint(entry, options, replace, audio, codec, crf, progress)
    with stops_held():
        _record(records, entry, report, vouched[0] if vouched else None)
    return report


def unverified_warning(regions_file: str | os.PathLike[str], doc: RegionsDocument) -> str | None:
    """The one warning for a file's entries without a SHA-256 used anyway (``--unverified``); None
    if every entry has one."""
    count = sum(entry.sha256 is None for entry in doc.files)
    if not count:
        return None
    return (
        f"warning: {count} file(s) in {shown(regions_file)} have no SHA-256 (unseen.regions/1): checked "
        "by picture size only, they cannot be verified to be the files the regions were made for"
    )


def run_inputs(regions_file: str | os.PathLike[str], doc: RegionsDocument) -> list[Path]:
    """Every file a render of ``doc`` reads: no output may replace one of them."""
    return [Path(regions_file), *(Path(entry.input) for entry in doc.files)]


def _record(records: Records, entry: FileEntry, report: FileReport, first: Record | None) -> None:
    """Keep the record that makes this output unseen's own (with the entry it was painted from),
    reusing the files' states of the ``first`` record kept as it was published."""
    summary = {
        "faces": int(report.faces),
        "candidates": int(report.candidates),
        "frames": int(report.frames),
        "notices": list(report.notices),
    }
    try:
        records.write(
            report.src,
            report.dst,
            tool_version(),
            entry.to_json(),
            summary,
            source=first.input_state if first else None,
            output=first.output_state if first else None,
        )
    except UnseenError as exc:
        report.notices.append(f"{exc}; a later render will not replace this output without --overwrite")


def _paint(
    entry: FileEntry,
    options: Options,
    overwrite: bool,
    audio: str,
    codec: str | None,
    crf: int,
    progress: Callable[[int, int | None], None] | None,
) -> FileReport:
    """The entry's output painted from its regions (replacing the file there if ``overwrite``)."""
    src = Path(entry.input)
    if entry.kind == "image":
        paint = painted(entry, options)
        report = anonymise_file(src, entry.output, options, overwrite=overwrite, regions=paint)
        # the faces are the regions obscured, not the zones or the picture a "keep only" file paints
        report.faces, report.candidates = photo_faces(entry.to_paint, entry.frames)
    else:
        from .video_file import anonymise_video_file  # PyAV: imported only when a video is painted

        report = anonymise_video_file(
            src,
            entry.output,
            options,
            overwrite=overwrite,
            audio=audio,
            codec=codec,
            crf=crf,
            progress=progress,
            regions=painted(entry, options),
        )
    report.regions = entry.regions
    return report


def photo_faces(regions: Regions, frames: int = 1) -> tuple[int, int]:
    """(faces, candidates) among a photo's regions as a normal run counts and prints them (the most
    on any one of its ``frames``): the review page shows the same numbers as the command line."""
    counts = [photo_counts(regions[regions.frame == i], PHOTO_CASCADE.threshold) for i in range(frames)]
    return max(counts, default=(0, 0))


def painted(entry: FileEntry, options: Options, frame: int | None = None) -> Regions:
    """What is painted over on every frame (or on ``frame``): the ``obscure`` regions and the static
    zones. A zone is grown by sqrt(2) about its centre when the shape is an ellipse, so that the
    ellipse painted still covers the whole box the person drew.

    A face a person keeps stays visible (see :data:`unseen.obscure.KEPT`): the regions to obscure
    that are only other views of a kept face on its frame (:func:`unseen.count.same_face`: a box
    over its eyes, a second detection; not a region a person drew there) are painted first, then
    the kept faces get their pixels back (in their own shape only), then every other region and
    zone is painted over them, so a neighbour's face that overlaps a kept one stays covered. A file
    reviewed "keep only" gets the whole picture painted first of all. The preview, Export and
    ``unseen render`` all paint this."""
    regions = entry.to_paint
    kept = entry.regions[entry.actions == "keep"]
    frames = np.arange(entry.frames) if frame is None else np.asarray([frame])
    if frame is not None:
        regions, kept = regions[regions.frame == frame], kept[kept.frame == frame]
    views = _views_of(regions, kept)
    if not entry.keep_only and not views.any():
        return _with_zones(regions, entry, options, frames)
    nothing = {n: None for n in regions.data}
    whole = np.tile([0.0, 0.0, float(entry.width), float(entry.height)], (len(frames), 1))
    everything = [Regions(whole, 1.0, "everything", frames, -1, nothing)] if entry.keep_only else []
    return Regions.concat(
        [
            *everything,
            regions[views],
            Regions(kept.boxes, kept.scores, KEPT, kept.frame, -1, kept.data),
            _with_zones(regions[~views], entry, options, frames),
        ]
    )


def _views_of(regions: Regions, kept: Regions) -> np.ndarray:
    """Which of ``regions`` are other views of a kept face on the same frame, found by a detector: a
    region a person drew (or filled in between drawn keys) over a kept face is painted over it."""
    views = np.zeros(len(regions), bool)
    if not len(kept) or not len(regions):
        return views
    drawn = regions.source == "manual"
    drawn |= (regions.source == "interpolated") & np.isin(
        regions.track, regions.track[drawn & (regions.track >= 0)]
    )
    order, korder = np.argsort(regions.frame, kind="stable"), np.argsort(kept.frame, kind="stable")
    on, kon = regions.frame[order], kept.frame[korder]
    for f in np.unique(kon).tolist():
        rows = order[np.searchsorted(on, f) : np.searchsorted(on, f, side="right")]
        faces = korder[np.searchsorted(kon, f) : np.searchsorted(kon, f, side="right")]
        if len(rows):
            views[rows] = same_face(regions.boxes[rows], kept.boxes[faces])
    return views & ~drawn


def _with_zones(regions: Regions, entry: FileEntry, options: Options, frames: np.ndarray) -> Regions:
    if not len(entry.zones):
        return regions
    zones = entry.zones.astype(np.float64)
    if options.obscure.shape == "ellipse":
        centre, half = (zones[:, :2] + zones[:, 2:]) / 2, (zones[:, 2:] - zones[:, :2]) / 2 * ZONE_GROWTH
        zones = np.hstack([centre - half, centre + half])
    boxes = np.tile(zones, (len(frames), 1))
    on = np.repeat(frames, len(zones))
    return Regions.concat([regions, Regions(boxes, 1.0, "zone", on, -1, {n: None for n in regions.data})])


def check_size(entry: FileEntry, src: Path) -> None:
    """Refuse ``src`` if its picture size or frame count is not the entry's: the regions were made
    for another picture, or the file lies about the frames it describes (a photo said to have two
    billion frames would be painted frame by frame)."""
    if entry.kind == "image":
        photo = read_photo(src)
        height, width = photo.pixels.shape[:2]
        frames = 1 + len(photo.more)
    else:
        from .media.video import probe  # PyAV: imported only when a video is checked

        info = probe(src)
        width, height, frames = info.width, info.height, info.frames or entry.frames
    if (width, height, frames) != (entry.width, entry.height, entry.frames):
        raise InputError(
            f"{shown(src)}: is {width} x {height} ({frames} frames), but the regions file describes "
            f"{entry.width} x {entry.height} ({entry.frames} frames); refusing to apply it"
        )


def render(
    regions_file: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    overlay: np.ndarray | None = None,
    audio: str = "keep",
    codec: str | None = None,
    crf: int = 18,
    unverified: bool = False,
) -> list[FileReport]:
    """Write every output a regions file describes from its regions, without detecting again.

    Regions to ``keep`` and unaccepted suggestions stay visible; each input must be the very file
    the regions were made for (entries without a SHA-256, as in ``/1`` files, only with
    ``unverified``). ``overlay`` is the picture of a file made with ``method: image``.
    The first file that fails raises (``unseen render`` goes on with the others instead).
    """
    doc = load_document(regions_file)
    options = options_from_record(doc.options, overlay)
    inputs = run_inputs(regions_file, doc)
    return [
        render_entry(
            entry,
            options,
            overwrite=overwrite,
            audio=audio,
            codec=codec,
            crf=crf,
            unverified=unverified,
            inputs=inputs,
        )
        for entry in doc.files
    ]
