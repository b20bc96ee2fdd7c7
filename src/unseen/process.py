"""One input file, start to finish: the function every runner calls (the CLI's serial loop today).

It decides whether the file is already done (its output exists and a record says unseen wrote it
from this input), anonymises it otherwise, keeps the record, and returns an :class:`Outcome`. It
never prints and never raises for a bad file: a failure is an outcome with a one-line message
naming the file, so a batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import api
from .batch import Job
from .errors import UnseenError, one_line, shown
from .records import FileState, NotOurs, Record, Records
from .regions_file import entry_from_report, tool_version
from .stops import stops_held


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the processing of each file of a run, besides the file itself."""

    options: api.Options = field(default_factory=api.Options)
    overwrite: bool = False
    audio: str = "keep"
    codec: str | None = None  # None: H.264, or HEVC for a 10-bit HEVC source (see media/encoder.py)
    crf: int = 18
    accept_concealed: bool = False  # paint frames the decoder concealed instead of refusing the video
    keep_regions: bool = False  # keep per-frame regions for a regions file (costs memory on long videos)
    state: Path | None = None  # where records are kept (None: the default state folder)


@dataclass
class Outcome:
    """What happened to one input: done (with its report), skipped (already done) or failed."""

    src: Path
    dst: Path | None
    kind: str
    status: str  # "done", "skipped", "failed" or "interrupted"
    report: api.FileReport | None = None
    error: str | None = None
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)
    entry: dict[str, Any] | None = None  # the file's regions-file entry, if regions were kept
    summary: dict[str, Any] = field(default_factory=dict)  # faces, frames ... of an earlier run, if skipped

    @property
    def faces(self) -> int:
        """Faces a person would count (confident detections; a video's tracks once joined)."""
        return int(self.report.faces) if self.report is not None else int(self.summary.get("faces", 0))

    @property
    def candidates(self) -> int:
        """Weaker detections, painted all the same."""
        if self.report is None:
            return int(self.summary.get("candidates", 0))
        return int(self.report.candidates)

    @property
    def texts(self) -> int:
        """Text regions painted (plates, badges, signs with ``--text``); not faces."""
        return int(self.report.texts) if self.report is not None else int(self.summary.get("texts", 0))

    @property
    def frames(self) -> int:
        if self.report is None:
            return int(self.summary.get("frames", 0))
        return int(self.report.frames)

    def to_json(self) -> dict[str, Any]:
        return {
            "input": str(self.src),
            "output": str(self.dst) if self.dst is not None else None,
            "kind": self.kind,
            "status": self.status,
            "faces": self.faces,
            "candidates": self.candidates,
            "texts": self.texts,
            "regions": len(self.report.regions) if self.report is not None else 0,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "notices": list(self.notices),
        }


Progress = Callable[[int, int | None], None]
Anonymise = Callable[[Job, Path, Settings, "Progress | None"], api.FileReport]


def process(
    job: Job,
    dst: Path,
    settings: Settings,
    progress: Progress | None = None,
    anonymise: Anonymise | None = None,
) -> Outcome:
    """Anonymise ``job`` into ``dst`` unless it is already done; never raises for a bad file.

    ``anonymise`` replaces the way the file itself is done (a long video split across workers),
    keeping the skipping, the record and the failure handling the same.
    """
    records = Records(settings.state)
    if not settings.overwrite and (dst.exists() or dst.is_symlink()):
        record = records.finished(job.src, dst)
        if record is None:
            return Outcome(job.src, dst, job.kind, "failed", error=str(NotOurs(job.src, dst)))
        if settings.options.text and not record.summary.get("text"):  # its text was left as it was
            error = f"{shown(dst)}: was made without --text; use --overwrite to redo it with --text"
            return Outcome(job.src, dst, job.kind, "failed", error=error)
        return Outcome(job.src, dst, job.kind, "skipped", entry=record.entry, summary=record.summary)

    try:
        with records.vouching(job.src, dst, tool_version()) as vouched:
            report = (anonymise or anonymise_job)(job, dst, settings, progress)
    except Exception as exc:  # UnseenError, OSError or a bug: report it and go on with the batch
        return Outcome(job.src, dst, job.kind, "failed", error=describe(job.src, exc))
    outcome = Outcome(job.src, dst, job.kind, "done", report, None, report.seconds, list(report.notices))
    with stops_held():  # the full record, with the regions entry and the counts
        return _recorded(outcome, records, settings, vouched[0] if vouched else None)


def _recorded(outcome: Outcome, records: Records, settings: Settings, first: Record | None) -> Outcome:
    """Keep the record of a finished output (and its regions entry, if the run keeps regions); the
    files' states come from the ``first`` record when there is one, not from hashing them again."""
    job_src, dst, report = outcome.src, outcome.dst, outcome.report
    assert dst is not None and report is not None
    try:
        source = first.input_state if first else FileState.of(job_src)
    except OSError as exc:
        outcome.notices.append(f"cannot read the input again to record it: {exc.strerror or exc}")
        return outcome
    if settings.keep_regions:
        outcome.entry = entry_from_report(report, digest=(source.size, source.sha256)).to_json()
    summary = {
        "faces": outcome.faces,
        "candidates": outcome.candidates,
        "texts": outcome.texts,
        "text": settings.options.text,  # text was looked for: a later --text run need not redo it
        "frames": outcome.frames,
        "notices": outcome.notices,
    }
    try:
        output = first.output_state if first else None
        records.write(job_src, dst, tool_version(), outcome.entry, summary, source=source, output=output)
    except UnseenError as exc:
        outcome.notices.append(f"{exc}; a later run will not recognise this output as done")
    return outcome


def anonymise_job(job: Job, dst: Path, settings: Settings, progress: Progress | None) -> api.FileReport:
    """Anonymise one file as a single process does (no skipping, no record): the default of process()."""
    if job.kind == "video":
        return api.anonymise_video_file(
            job.src,
            dst,
            settings.options,
            overwrite=settings.overwrite,
            audio=settings.audio,
            codec=settings.codec,
            crf=settings.crf,
            progress=progress,
            record=settings.keep_regions,
            accept_concealed=settings.accept_concealed,
        )
    return api.anonymise_file(job.src, dst, settings.options, overwrite=settings.overwrite)


def describe(src: Path, exc: BaseException) -> str:
    """A one-line description of ``exc`` that names ``src`` (once, escaped)."""
    if isinstance(exc, OSError) and not isinstance(exc, UnseenError):
        text = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(src):
            text = f"{shown(exc.filename)}: {text}"
    elif isinstance(exc, UnseenError):
        text = str(exc)
    else:
        text = f"unexpected error: {type(exc).__name__}: {exc}"
    text = one_line(text.strip()) or type(exc).__name__
    return text if text.startswith(shown(src)) else f"{shown(src)}: {text}"
