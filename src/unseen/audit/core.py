"""Audit one run's outputs: for each original/output pair, what an adversary could still use.

Never changes a file. Per file it records the SHA-256 of both files, runs the checks (faces left
visible, obscuring strength, metadata read back, re-identification) and lists the findings. For
video, strength is judged on every frame that has regions; faces are searched on every
``stride``-th frame, on every frame within ``around`` frames of a track's first and last frame
(where trackers lose faces), and on the last frame (``every_frame`` checks them all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnseenError, shown
from ..media.image import read_photo
from ..media.local_av import open_input
from ..media.readback import photo_items, video_items
from ..media.video import probe, read_frames
from ..plan import PlanOptions, plan_regions
from ..regions import Regions, iou_matrix, kinds
from . import reid
from .faces import SearchOptions, changed_mask, find_faces, second_detector_missing, visible_faces
from .findings import FileAudit, Finding
from .integrity import sha256_file
from .runs import Pair
from .strength import judge_frame

TEXT_SEARCH = (
    "the run's text detector (PP-OCR detection) on the output: text outside painted areas "
    "(with the original: where it finds text in the original too)"
)


@dataclass(frozen=True)
class AuditOptions:
    """What the audit assumes about the run (``plan``, ``shape``) and how hard it looks."""

    search: SearchOptions = field(default_factory=SearchOptions)
    video_search: SearchOptions = field(default_factory=lambda: SearchOptions(turns=(0,)))
    plan: PlanOptions = field(default_factory=PlanOptions)
    shape: str = "ellipse"
    stride: int = 4
    around: int = 12
    every_frame: bool = False
    reid: bool = True
    text: bool = False  # also look for text left readable (runs made with --text; the text extra)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("search", "video_search"):
            out[key]["turns"] = list(out[key]["turns"])
        return out


def frames_to_search(count: int, regions: Regions | None, options: AuditOptions) -> tuple[set[int], str]:
    """The video frames the face search looks at, and the rule in words (for the report)."""
    if options.every_frame or count <= 0:
        return set(range(count)), "every frame"
    chosen = set(range(0, count, options.stride)) | {count - 1}
    ends = 0
    if regions is not None and len(regions):
        for track in np.unique(regions.track):
            frames = regions.frame[regions.track == track]
            for end in (int(frames.min()), int(frames.max())):
                chosen |= set(range(max(end - options.around, 0), min(end + options.around + 1, count)))
                ends += 1
    rule = f"every {options.stride}th frame and the last"
    if ends:
        rule += f", plus every frame within {options.around} of the {ends} track ends"
    return chosen, f"{len(chosen)} of {count} frames ({rule})"


class _Checker:
    """The checks over one picture (a photo, or one frame of a video), adding findings to ``audit``."""

    def __init__(self, audit: FileAudit, kept: Regions, options: AuditOptions, search: SearchOptions) -> None:
        self.audit, self.kept, self.options, self.search = audit, kept, options, search
        self.reid_off = None if options.reid else "turned off (--no-reid)"
        self.reid_off = self.reid_off or reid.unavailable()
        self.reid_compared = 0

    def add(self, check: str, message: str, frame: int | None, box: Any = None, track: int = -1) -> None:
        box = None if box is None else tuple(float(v) for v in box)
        self.audit.findings.append(Finding(check, message, frame, box, None if track < 0 else int(track)))

    def faces(
        self, original: np.ndarray | None, output: np.ndarray, planned: Regions, frame: int | None
    ) -> None:
        if original is not None and original.shape == output.shape:
            obscured = changed_mask(original, output)
        else:  # no original to compare with: trust the planned regions as painted
            obscured = _mask(planned, output.shape[:2])
        for box, score, source in zip(
            *_fields(visible_faces(find_faces(output, self.search), obscured, self.kept)), strict=True
        ):
            size = f"{box[2] - box[0]:.0f} x {box[3] - box[1]:.0f} px"
            self.add("faces", f"face visible ({size}, {source} score {score:.2f})", frame, box)
        if self.options.text:
            self._text(original, output, obscured, frame)

    def _text(
        self, original: np.ndarray | None, output: np.ndarray, obscured: np.ndarray, frame: int | None
    ) -> None:
        """Text the run's own text detector still finds in the output, mostly outside what was painted
        and outside kept regions (a plate or a badge left readable). With the original, only where it
        finds text in the original too: painted boxes and their edges change what the network sees
        around them, and a blip it sees only beside them hides nothing."""
        from ..api import detect_text

        found = visible_faces(detect_text(output), obscured, self.kept)
        if original is not None and original.shape == output.shape and len(found):
            there = detect_text(original).boxes
            found = found[(iou_matrix(found.boxes, there) > 0.3).any(axis=1)] if len(there) else found[:0]
        for box in found.boxes:
            self.add("text", f"text visible ({box[2] - box[0]:.0f} x {box[3] - box[1]:.0f} px)", frame, box)

    def strength(
        self, original: np.ndarray, output: np.ndarray, regions: Regions, frame: int | None
    ) -> Regions:
        """Judge every region; returns those painted with something a recogniser could still read
        (a flat fill leaves nothing to compare, and an embedding of a blank patch means nothing)."""
        readable = []
        for i, box, verdict in judge_frame(original, output, regions, self.options.plan, self.options.shape):
            if verdict.problem:
                self.add("strength", verdict.problem, frame, box, regions.track[i])
            if verdict.method != "fill":
                readable.append(i)
        return regions[np.array(readable, np.intp)]

    def reidentify(
        self, original: np.ndarray, output: np.ndarray, regions: Regions, frame: int | None
    ) -> None:
        if self.reid_off:
            return
        regions = regions[kinds(regions) == "face"]  # a plate has no face to embed
        for face, track in zip(regions.boxes, regions.track, strict=True):
            distance = reid.still_matches(original, output, face)
            if distance is None:
                continue
            self.reid_compared += 1
            if distance < reid.MATCH_DISTANCE:
                distance_text = f"embedding distance {distance:.2f} < {reid.MATCH_DISTANCE}"
                self.add("reid", f"face still matches the original ({distance_text})", frame, face, track)

    def finish_reid(self) -> None:
        if self.reid_off:
            self.audit.checks["reid"] = f"skipped: {self.reid_off}"
        else:
            self.audit.checks["reid"] = (
                f"{self.reid_compared} face(s) compared with dlib ResNet embeddings (solid fills need none)"
            )


def _fields(found: Regions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return found.boxes, found.scores, found.source


def _mask(regions: Regions, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x1, y1, x2, y2 in regions.boxes:
        mask[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
    return mask


def _metadata(audit: FileAudit, items: Iterable[Any]) -> None:
    shown_items = [item for item in items if not item.allowed]
    for item in shown_items:
        audit.findings.append(Finding("metadata", f"{item}"))
    audit.checks["metadata"] = (
        "read back from the output: EXIF, GPS, XMP, IPTC, comments, thumbnails, ICC, chunks, tags"
    )


def _searching(options: SearchOptions) -> str:
    turns = ", ".join(f"{90 * t}" for t in options.turns if t % 4)
    views = f"the upright view and views turned by {turns} degrees" if turns else "the upright view only"
    second = second_detector_missing() if options.second else "turned off"
    detectors = "CenterFace cascade" + ("" if second else " and libfacedetection (YuNet)")
    text = f"{detectors} on {views}, sensitivity {options.sensitivity:g}"
    return text + (f" (second detector skipped: {second})" if second else "")


def audit_pair(pair: Pair, options: AuditOptions = AuditOptions()) -> FileAudit:
    """Audit one output against its original. Problems with the files themselves (unreadable,
    missing, a different size) are findings too: an output that cannot be checked is not clean."""
    original = pair.original if pair.original is not None and pair.original.is_file() else None
    audit = FileAudit(str(pair.original) if pair.original else None, str(pair.output), pair.kind)
    try:
        audit.sha256_output = sha256_file(pair.output)
        if original is not None:
            audit.sha256_original = sha256_file(original)
        elif pair.original is not None:
            audit.findings.append(
                Finding("file", f"original {shown(pair.original)} not found: compared with nothing")
            )
        if pair.sha256 and audit.sha256_original and pair.sha256 != audit.sha256_original:
            audit.findings.append(
                Finding(
                    "integrity", "the original is not the file the regions file describes (SHA-256 differs)"
                )
            )
        (_audit_video if pair.kind == "video" else _audit_photo)(pair, original, audit, options)
    except UnseenError as exc:
        audit.findings.append(Finding("file", str(exc)))
    return audit


def _regions_for(pair: Pair, audit: FileAudit, detect: Callable[[], Regions] | None) -> Regions | None:
    if pair.regions is not None:
        audit.checks["regions"] = "from the regions file"
        return pair.regions
    if detect is None:
        audit.checks["regions"] = "none: no regions file and no original"
        return None
    audit.checks["regions"] = "found again on the original with the run's own detector (no regions file)"
    return detect()


def _audit_photo(pair: Pair, original_path: Path | None, audit: FileAudit, options: AuditOptions) -> None:
    from ..api import detect

    _metadata(audit, photo_items(pair.output))
    output = read_photo(pair.output).pixels
    audit.height, audit.width = output.shape[:2]
    audit.frames = 1
    original = read_photo(original_path).pixels if original_path is not None else None
    if original is not None and original.shape != output.shape:
        audit.findings.append(
            Finding("file", f"output is {_size(output)}, original {_size(original)}: not comparable")
        )
        original = None
    regions = _regions_for(pair, audit, (lambda: detect(original)) if original is not None else None)
    checker = _Checker(audit, pair.kept, options, options.search)
    planned = plan_regions(regions, output.shape[:2], options.plan) if regions is not None else Regions()
    checker.faces(original, output, planned, None)
    audit.checks["faces"] = _searching(options.search)
    if options.text:
        audit.checks["text"] = TEXT_SEARCH
    if original is not None and regions is not None:
        readable = checker.strength(original, output, regions, None)
        checker.reidentify(original, output, readable, None)
        audit.checks["strength"] = f"{len(regions)} region(s) compared with the original"
    else:
        audit.checks["strength"] = "skipped: needs the original and its regions"
        checker.reid_off = checker.reid_off or "needs the original and its regions"
    checker.finish_reid()


def _size(pixels: np.ndarray) -> str:
    return f"{pixels.shape[1]} x {pixels.shape[0]}"


def _audit_video(pair: Pair, original_path: Path | None, audit: FileAudit, options: AuditOptions) -> None:
    from ..api import detect

    _metadata(audit, video_items(pair.output))
    info = probe(pair.output)
    audit.width, audit.height = info.width, info.height
    source = probe(original_path) if original_path is not None else None
    if source is not None and (source.width, source.height) != (info.width, info.height):
        audit.findings.append(
            Finding(
                "file", f"output is {info.width} x {info.height}, original {source.width} x {source.height}"
            )
        )
        source, original_path = None, None
    count = info.frames or _count_frames(pair.output)
    regions = pair.regions
    searched, rule = frames_to_search(count, regions, options)
    checker = _Checker(audit, pair.kept, options, options.video_search)
    by_frame = _by_frame(regions) if regions is not None else None
    originals = read_frames(original_path) if original_path is not None else None
    frames = 0
    for out_frame in read_frames(pair.output):
        i = out_frame.index
        frames += 1
        in_frame = next(originals, None) if originals is not None else None
        if i not in searched and (by_frame is None or i not in by_frame):
            continue  # frames are converted to pixels only when looked at
        original = in_frame.pixels if in_frame is not None else None
        if by_frame is not None:
            here = by_frame.get(i, Regions())
        elif original is not None and i in searched:
            here = detect(original, video=True)
        else:
            here = Regions()
        readable = checker.strength(original, out_frame.pixels, here, i) if original is not None else here
        if i in searched:
            planned = plan_regions(here, out_frame.pixels.shape[:2], options.plan)
            checker.faces(original, out_frame.pixels, planned, i)
            if original is not None:
                checker.reidentify(original, out_frame.pixels, readable, i)
    if originals is not None and next(originals, None) is not None:
        audit.findings.append(Finding("file", "the output has fewer frames than the original"))
    audit.frames = frames
    audit.checks["regions"] = (
        "from the regions file"
        if regions is not None
        else "found again on the searched frames of the original"
    )
    audit.checks["faces"] = f"{_searching(options.video_search)}; {rule}"
    if options.text:
        audit.checks["text"] = f"{TEXT_SEARCH}; {rule}"
    audit.checks["strength"] = (
        "every frame with regions, compared with the original"
        if original_path is not None
        else "skipped: needs the original"
    )
    if original_path is None:
        checker.reid_off = checker.reid_off or "needs the original"
    checker.finish_reid()
    audit.findings[:] = _merged(audit.findings)


def _count_frames(path: Path) -> int:
    """Frames of a video whose container does not state its count: its video packets, counted."""

    with open_input(path) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _by_frame(regions: Regions) -> dict[int, Regions]:
    return {int(f): regions[regions.frame == f] for f in np.unique(regions.frame)}


def _merged(findings: list[Finding]) -> list[Finding]:
    """Runs of the same problem on consecutive frames become one finding naming the frames."""
    out: list[Finding] = []
    last: dict[tuple[str, str, int | None], tuple[int, int, int]] = {}  # -> (index in out, first, last frame)
    for finding in findings:
        if finding.frame is None or finding.check not in ("strength", "reid"):
            out.append(finding)
            continue
        key = (finding.check, finding.message.split(":")[0].split("(")[0], finding.track)
        seen = last.get(key)
        if seen is not None and finding.frame in (seen[2], seen[2] + 1):
            index, first, _ = seen
            last[key] = (index, first, finding.frame)
            continue
        last[key] = (len(out), finding.frame, finding.frame)
        out.append(finding)
    for index, first, final in last.values():
        if final > first:
            f = out[index]
            out[index] = Finding(f.check, f"{f.message} (frames {first}-{final})", f.frame, f.box, f.track)
    return out


def audit_pairs(pairs: Iterable[Pair], options: AuditOptions = AuditOptions()) -> list[FileAudit]:
    """Audit every pair, in order."""
    return [audit_pair(pair, options) for pair in pairs]
