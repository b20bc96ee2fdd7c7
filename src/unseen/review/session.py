"""One review: the regions file, the edits made on the page, and the pictures the page shows.

Every accepted edit (a few operations, :mod:`unseen.review.edits`) is checked as strictly as a
regions file is read, then the whole file is written at once (atomically, flushed to disk): closing
the tab, a crash or Ctrl-C lose nothing, and reopening resumes. Each file's entry has a version: an
edit names the version it was made on, and is applied and saved under one lock only if that is still
the file's version, so two tabs never overwrite each other's edits (the stale one is refused).
Inputs are checked against their recorded size and SHA-256 before anything is shown, and again by
:func:`unseen.render.render_entry` before an output is written. A file without SHA-256s (``/1``) is
reviewed only when asked (``unverified``), and stays unverifiable: it is never fingerprinted as it is
found, which would vouch for whatever file now has the name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..api import anonymise
from ..errors import InputError, UnseenError, shown
from ..media.image import read_photo
from ..records import NotOurs
from ..regions_file import (
    FileEntry,
    RegionsDocument,
    check_input,
    load_document,
    save_document,
)
from ..render import (
    UNVERIFIED,
    check_size,
    options_from_record,
    painted,
    photo_faces,
    render_entry,
    run_inputs,
)
from .coverage import coverage, holes
from .edits import apply_edits, checked_boxes
from .follow import follow
from .frames import FrameSource

PHOTOS_KEPT = 4  # decoded photos held for the page (the one shown and its neighbours)
FOLLOW_MOST = 64  # frames followed per request: the page asks again, so a person can stop it between


class StaleEdit(Exception):
    """An edit made on an earlier version of the file's entry (another tab changed it since)."""


class ReviewSession:
    """The state behind the review page. Files are addressed by their index in the regions file only."""

    def __init__(
        self, path: Path, doc: RegionsDocument, overlay: np.ndarray | None = None, unverified: bool = False
    ) -> None:
        self.path, self.doc, self.unverified = Path(path), doc, unverified
        self.options = options_from_record(doc.options, overlay)
        self._lock = threading.Lock()  # the decoded pictures kept
        self._edit_lock = threading.Lock()  # the entries, their versions and the file on disk
        self._versions = [0] * len(doc.files)
        self._photos: OrderedDict[int, np.ndarray] = OrderedDict()
        # a video's decoders, by file and use: the track cards' own, so that the picture shown never
        # waits behind a freshly opened video's card thumbnails (58 of them took 7 s on a 720p clip)
        self._videos: dict[tuple[int, bool], FrameSource] = {}

    @classmethod
    def open(cls, path: Path, overlay: np.ndarray | None = None, unverified: bool = False) -> ReviewSession:
        """Resume the review stored in ``path``; InputError if any input is not the file it describes.

        An entry without a SHA-256 (a ``/1`` file's) cannot be verified to be about its input: it is
        refused unless ``unverified``, and then checked by the picture's size only, as
        :func:`unseen.render.render_entry` does; Export renders it the same way."""
        doc = load_document(path)
        for entry in doc.files:
            if entry.sha256 is None:
                if not unverified:
                    raise InputError(
                        f"{shown(entry.input)}: {UNVERIFIED}; refusing to review it "
                        "(unseen review --unverified reviews it anyway)"
                    )
                check_size(entry, Path(entry.input))
            else:
                check_input(entry)
        return cls(path, doc, overlay, unverified)

    def save(self) -> None:
        save_document(self.path, self.doc)

    def entry(self, index: int) -> FileEntry:
        """The entry at ``index``; KeyError if there is none (the server answers 404)."""
        if not 0 <= index < len(self.doc.files):
            raise KeyError(index)
        return self.doc.files[index]

    def files(self) -> list[dict[str, Any]]:
        """The file list of the page: each file's state, counts and version."""
        with self._edit_lock:
            return [self._summary(i) for i in range(len(self.doc.files))]

    def view(self, index: int) -> tuple[FileEntry, dict[str, Any]]:
        """The entry at ``index`` and its summary, of one version (KeyError if there is none); a
        video's with its frame rate (the page plays it at that rate) and its cuts (the frames, after
        the first, that start a shot: a sweep shows them besides one frame a second)."""
        with self._edit_lock:
            entry, summary = self.entry(index), self._summary(index)
        if entry.kind == "video":
            summary["fps"] = self._source(index, entry).fps
            summary["cuts"] = list(entry.cuts)
        return entry, summary

    def edit(self, index: int, body: Any) -> dict[str, Any]:
        """Apply the page's operations (see :mod:`unseen.review.edits`) to a file's entry and save the
        whole file at once, if ``body['version']`` is still the entry's version (else StaleEdit);
        ValueError if malformed. Refused, nothing changes, in memory or on disk."""
        if not isinstance(body, dict):
            raise ValueError("expected an object with 'ops' and 'version'")
        version = body.get("version")
        if type(version) is not int:
            raise ValueError("'version' must be the file's version the edit was made on")
        with self._edit_lock:
            entry = self.entry(index)
            if version != self._versions[index]:
                raise StaleEdit(f"file {index} changed since version {version}: reload it")
            self.doc.files[index] = apply_edits(entry, body.get("ops"))
            try:
                self.save()
            except UnseenError:
                self.doc.files[index] = entry
                raise
            self._versions[index] += 1
            return self._summary(index)

    def _summary(self, index: int) -> dict[str, Any]:
        return {**_summary(index, self.doc.files[index]), "version": self._versions[index]}

    def picture(self, index: int, frame: int = 0, output: bool = False, card: bool = False) -> np.ndarray:
        """The upright picture (a video's frame) as the page shows it; ``output``: as it will be
        published; ``card``: for a track's card (decoded apart from the pictures shown)."""
        entry = self.entry(index)
        if not 0 <= frame < entry.frames:
            raise KeyError(frame)
        pixels = self._pixels(index, entry, frame, card)
        if not output:
            return pixels
        return anonymise(pixels, self.options, regions=painted(entry, self.options, frame)).image

    def crop(self, index: int, frame: int, box: tuple[int, int, int, int]) -> np.ndarray:
        """``box`` (and a little around it) on ``frame`` at the picture's own resolution: a video
        track's card, sharp enough to tell who it is (the page shows it small)."""
        pixels = self.picture(index, frame, card=True)
        x1, y1, x2, y2 = box
        pad = max(x2 - x1, y2 - y1) // 4
        h, w = pixels.shape[:2]
        x1, x2 = sorted((min(max(x1 - pad, 0), w - 1), min(max(x2 + pad, 1), w)))
        y1, y2 = sorted((min(max(y1 - pad, 0), h - 1), min(max(y2 + pad, 1), h)))
        return np.ascontiguousarray(pixels[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)])

    def _source(self, index: int, entry: FileEntry, card: bool = False) -> FrameSource:
        with self._lock:
            source = self._videos.get((index, card))
            if source is None:
                source = self._videos[index, card] = FrameSource(entry.input, entry.frames)
            return source

    def _pixels(self, index: int, entry: FileEntry, frame: int, card: bool = False) -> np.ndarray:
        if entry.kind == "video":
            return self._source(index, entry, card).frame(frame)
        with self._lock:
            pixels = self._photos.get(index)
            if pixels is not None:
                self._photos.move_to_end(index)
                return pixels
        pixels = read_photo(entry.input).pixels
        if pixels.shape[:2] != (entry.height, entry.width):
            raise InputError(f"{shown(entry.input)}: is not the picture the regions file describes")
        with self._lock:
            self._photos[index] = pixels
            while len(self._photos) > PHOTOS_KEPT:
                self._photos.popitem(last=False)
        return pixels

    def holes(self, index: int, frame: int) -> dict[str, Any]:
        """Where on ``frame`` of a video a face its tracks know is uncovered, and the file's version
        that says so (KeyError if there is no such frame)."""
        with self._edit_lock:
            entry, version = self.entry(index), self._versions[index]
        if not 0 <= frame < entry.frames:
            raise KeyError(frame)
        boxes = holes(entry, frame) if entry.kind == "video" else []
        return {"frame": frame, "version": version, "boxes": boxes}

    def follow(self, index: int, body: Any) -> list[dict[str, Any]]:
        """Follow a drawn box from ``body['frame']`` ``body['count']`` frames on in ``body['step']``
        (1 forward, -1 backward); the boxes found, frame by frame. ValueError if the request is malformed."""
        entry = self.entry(index)
        if entry.kind != "video":
            raise ValueError("only a video's regions can be followed")
        frame, box, step, count = _follow_request(body, entry)
        followed = follow(lambda i: self._pixels(index, entry, i), frame, box, step, count, entry.frames)
        return [{"frame": i, "box": [round(float(v), 1) for v in b]} for i, b in followed]

    def export(self) -> list[dict[str, Any]]:
        """Write every output from the current regions; one result per file, failures named. A file
        at an output is replaced only if it is unseen's own output of that input (as render does)."""
        results = []
        inputs = run_inputs(self.path, self.doc)
        for i, entry in enumerate(list(self.doc.files)):
            try:
                report = render_entry(entry, self.options, inputs=inputs, unverified=self.unverified)
                results.append({"index": i, "output": str(report.dst), "ok": True})
            except NotOurs as exc:  # the command line's advice (--overwrite) means nothing on the page
                results.append({"index": i, "output": entry.output, "ok": False, "error": _not_ours(exc)})
            except UnseenError as exc:
                results.append({"index": i, "output": entry.output, "ok": False, "error": str(exc)})
        return results

    def close(self) -> None:
        for source in self._videos.values():
            source.close()


def _not_ours(exc: NotOurs) -> str:
    return (
        f"{shown(exc.dst)}: a file that is not unseen's output of {shown(exc.src)} is already there, and "
        "Export never replaces it: move or delete that file, then Export again"
    )


def _follow_request(body: Any, entry: FileEntry) -> tuple[int, np.ndarray, int, int]:
    """``frame, box, step, count`` of a follow request, checked; ValueError names what is wrong."""
    frames = entry.frames
    if not isinstance(body, dict):
        raise ValueError("expected an object with 'frame', 'box', 'step' and 'count'")
    frame, box, step, count = (body.get(k) for k in ("frame", "box", "step", "count"))
    if type(frame) is not int or not 0 <= frame < frames:
        raise ValueError(f"frame must be a frame of the video (0 to {frames - 1})")
    if step not in (1, -1) or type(step) is not int:
        raise ValueError("step must be 1 (forward) or -1 (backward)")
    if type(count) is not int or not 1 <= count <= FOLLOW_MOST:
        raise ValueError(f"count must be 1 to {FOLLOW_MOST}")
    if not (isinstance(box, list) and len(box) == 4 and all(type(v) in (int, float) for v in box)):
        raise ValueError("box must be four numbers x1, y1, x2, y2")
    numbers = checked_boxes(box, entry.width, entry.height)[0].astype(np.float64)
    if not (numbers[2] > numbers[0] and numbers[3] > numbers[1]):
        raise ValueError("box must have x2 > x1 and y2 > y1")
    return frame, numbers, step, count


_COUNTED: OrderedDict[int, tuple[FileEntry, tuple[int, int]]] = OrderedDict()  # by id(entry)
COUNTS_KEPT = 4096  # photos' face counts remembered: the file list asks for every file's often


def _photo_counts(entry: FileEntry) -> tuple[int, int]:
    """(faces, candidates) of a photo entry, counted as the command line counts them (boxes of one
    face once, weak ones apart); remembered per entry, which an edit replaces."""
    known = _COUNTED.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    counts = photo_faces(entry.regions[entry.actions != "suggested"], entry.frames)
    _COUNTED[id(entry)] = (entry, counts)
    while len(_COUNTED) > COUNTS_KEPT:
        _COUNTED.popitem(last=False)
    return counts


def _summary(index: int, entry: FileEntry) -> dict[str, Any]:
    actions = entry.actions
    if entry.kind == "video":
        found = entry.regions[actions != "suggested"]
        faces, candidates = len(set(found.track[found.track >= 0].tolist())), 0
    else:
        faces, candidates = _photo_counts(entry)
    state = "reviewed" if entry.reviewed else "changed" if entry.edited else "not reviewed"
    return {
        "index": index,
        "name": Path(entry.input).name,
        "output": entry.output,  # Export says where the files go
        "kind": entry.kind,
        "width": entry.width,
        "height": entry.height,
        "frames": entry.frames,
        "state": state,
        "faces": faces,
        "candidates": candidates,
        "kept": int((actions == "keep").sum()),
        "suggestions": int((actions == "suggested").sum()),
        "zone_count": len(entry.zones),
        "keep_only": entry.keep_only,
        **(coverage(entry) if entry.kind == "video" else {}),
    }
