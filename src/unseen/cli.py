"""Command line: ``unseen PATH... [options]``. Thin: parse arguments, call the API, report.

Every message goes to stderr (one line per problem, naming the file); ``--json`` writes the run's
report to stdout. Exit status: 0 when every file was done or skipped (its output already exists),
1 when any input failed, 2 for a usage error, 130 when interrupted. Outputs are written atomically,
so an interrupted or failed file never leaves a partial output behind.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from . import api
from .batch import Job, find_inputs, kind_of, output_path, path_key
from .errors import OutputError, UnseenError, one_line, shown
from .heap import limit_heap_growth
from .obscure import METHODS, SHAPES, ObscureOptions, parse_color
from .plan import PlanOptions
from .regions_file import tool_version, write_regions_file

PROG = "unseen"

BLUR_WARNING = (
    "warning: --method blur is the weakest protection: face recognisers can often still match "
    "blurred faces, and blur can be partly undone; prefer --method fill (the default) or pixelate"
)
AUDIO_NOTICE = "voices in the kept audio can identify people; --audio drop removes the audio track"


@dataclass
class Outcome:
    """What happened to one input: done (with its report), skipped or failed (with the message)."""

    src: Path
    dst: Path | None
    kind: str
    status: str  # "done", "skipped" or "failed"
    report: api.FileReport | None = None
    error: str | None = None
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def faces(self) -> int:
        """Faces found: detections in a photo, face tracks in a video."""
        if self.report is None:
            return 0
        return int(self.report.tracks) if self.report.kind == "video" else len(self.report.regions)

    @property
    def frames(self) -> int:
        return int(self.report.frames) if self.report is not None else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "input": str(self.src),
            "output": str(self.dst) if self.dst is not None else None,
            "kind": self.kind,
            "status": self.status,
            "faces": self.faces,
            "regions": len(self.report.regions) if self.report is not None else 0,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "notices": list(self.notices),
        }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Find every face in photos and videos and obscure it irreversibly; the outputs carry no "
            "identifying metadata (EXIF, GPS, camera serials, container tags). Runs fully offline."
        ),
        epilog=(
            "Outputs go beside each input as NAME.unseen.EXT, or into -o DIR keeping the layout below "
            "each named folder. Existing outputs are skipped unless --overwrite. Exit status: 0 all "
            "done or skipped, 1 some input failed, 2 usage error, 130 interrupted."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="photos, videos, or folders (searched recursively)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="write outputs into this folder")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument("--version", action="version", version=tool_version())

    look = parser.add_argument_group("how faces are obscured")
    look.add_argument(
        "--method",
        choices=METHODS,
        default="fill",
        help="fill: solid colour (default, strongest); pixelate: coarse noisy cells; "
        "blur: weakest, not recommended; image: paste --image over each face",
    )
    look.add_argument("--color", default="black", help="fill colour: black, white, gray, #RRGGBB or R,G,B")
    look.add_argument("--image", type=Path, metavar="PNG", help="picture to paste with --method image")
    look.add_argument("--shape", choices=SHAPES, default="ellipse", help="painted shape (default ellipse)")
    look.add_argument(
        "--margin",
        type=float,
        default=PlanOptions().margin,
        help="grow each face by this fraction of its size on every side, to cover the whole head "
        "(default %(default)s)",
    )
    look.add_argument(
        "--sensitivity",
        type=float,
        default=1.0,
        help="above 1 finds more faces (and more false ones), below 1 fewer (default 1.0)",
    )

    report = parser.add_argument_group("reporting")
    report.add_argument(
        "--regions", type=Path, metavar="FILE.json", help="write every face found to this JSON file"
    )
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar, notes or summary")
    report.add_argument("--json", action="store_true", help="print the run's report as JSON on stdout")

    video = parser.add_argument_group("videos")
    video.add_argument(
        "--audio", choices=("keep", "drop"), default="keep", help="keep (default) or drop the audio track"
    )
    video.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    video.add_argument("--crf", type=int, default=18, help="encoder quality, lower is better (default 18)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["audit"]:
        from .audit.cli import main as audit_main

        return audit_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        options = _options(args, parser)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.method == "blur":
        _say(f"{PROG}: {BLUR_WARNING}")
    try:
        return _Run(args, options).run()
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted; files in progress were not written")
        return 130


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> api.Options:
    """Validate option values (exits with a usage error) and build the API options."""

    def fail(message: str) -> NoReturn:
        parser.error(message)

    try:
        color = parse_color(args.color)
    except ValueError as exc:
        fail(f"--color: {exc}")
    if not (math.isfinite(args.margin) and args.margin >= 0):
        fail(f"--margin must be a number >= 0, not {args.margin}")
    if not (math.isfinite(args.sensitivity) and args.sensitivity > 0):
        fail(f"--sensitivity must be a number > 0, not {args.sensitivity}")
    if not 0 <= args.crf <= 63:
        fail(f"--crf must be between 0 and 63, not {args.crf}")
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        fail(f"-o {args.output}: exists and is not a folder")
    if args.regions is not None and args.regions.is_dir():
        fail(f"--regions {args.regions}: is a folder; give a file name such as regions.json")
    overlay = None
    if args.method == "image":
        if args.image is None:
            fail("--method image needs --image PNG (the picture to paste over faces)")
        overlay = _read_overlay(args.image, fail)
    elif args.image is not None:
        fail("--image is only used with --method image")
    try:
        return api.Options(
            obscure=ObscureOptions(method=args.method, shape=args.shape, color=color, overlay=overlay),
            plan=PlanOptions(margin=args.margin),
            sensitivity=args.sensitivity,
        )
    except ValueError as exc:
        fail(str(exc))


def _read_overlay(path: Path, fail: Any) -> np.ndarray:
    """The --image picture as H x W x 4 uint8 RGBA."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGBA"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        fail(f"--image {shown(path)}: cannot read picture: {exc}")


def _say(message: str) -> None:
    """One line to stderr, without breaking a progress bar that may be on screen."""
    tqdm.write(message, file=sys.stderr)


def _message(src: Path, exc: BaseException) -> str:
    """A one-line description of ``exc`` that names ``src``."""
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


class _Run:
    """One invocation over all inputs."""

    def __init__(self, args: argparse.Namespace, options: api.Options) -> None:
        self.args = args
        self.options = options
        self.out_dir: Path | None = args.output
        self.quiet: bool = args.quiet
        self.bars_off: bool | None = True if (args.quiet or args.json) else None  # None: only on a TTY
        self.outcomes: list[Outcome] = []

    def run(self) -> int:
        start = time.perf_counter()
        planned = self._plan(self._discover())
        if any(job.kind == "video" for job, _ in planned):
            limit_heap_growth()  # lower peaks over long videos and batches
        with tqdm(
            total=len(planned), unit="file", disable=self.bars_off, file=sys.stderr, dynamic_ncols=True
        ) as bar:
            for job, dst in planned:
                bar.set_postfix_str(job.src.name, refresh=False)
                self.outcomes.append(self._process(job, dst, bar))
                bar.update()
        regions_ok = self._write_regions()
        self._report(time.perf_counter() - start)
        failed = any(o.status == "failed" for o in self.outcomes) or not regions_ok
        return 1 if failed else 0

    def _fail(self, src: Path, dst: Path | None, kind: str, message: str, seconds: float = 0.0) -> Outcome:
        _say(f"{PROG}: error: {message}")
        return Outcome(src, dst, kind, "failed", error=message, seconds=seconds)

    def _discover(self) -> list[Job]:
        """All jobs, each file once, in command-line order; a missing path is a failed input."""
        jobs: list[Job] = []
        seen: set[str] = set()
        exclude = [self.out_dir] if self.out_dir is not None else []
        for path in self.args.paths:
            try:
                found = find_inputs([path], exclude=exclude)
            except UnseenError as exc:
                self.outcomes.append(self._fail(path, None, kind_of(path), _message(path, exc)))
                continue
            if not found and not self.quiet:
                _say(f"{PROG}: note: no photos or videos found in {shown(path)}")
            for job in found:
                key = path_key(job.src)
                if key not in seen:
                    seen.add(key)
                    jobs.append(job)
        return jobs

    def _plan(self, jobs: list[Job]) -> list[tuple[Job, Path]]:
        """Each job's output path; refuses outputs that are an input or another job's output."""
        inputs = {path_key(job.src): job.src for job in jobs}
        claimed: dict[str, Path] = {}
        planned: list[tuple[Job, Path]] = []
        for job in jobs:
            dst: Path | None = None
            try:
                dst = output_path(job, self.out_dir)
                key = path_key(dst)
                if key in inputs:
                    raise OutputError(
                        f"{shown(job.src)}: output {shown(dst)} would overwrite "
                        f"the input {shown(inputs[key])}"
                    )
                if key in claimed:
                    raise OutputError(
                        f"{shown(job.src)}: output {shown(dst)} is also the output of {shown(claimed[key])}"
                    )
                claimed[key] = job.src
            except UnseenError as exc:
                self.outcomes.append(self._fail(job.src, dst, job.kind, _message(job.src, exc)))
                continue
            planned.append((job, dst))
        return planned

    def _process(self, job: Job, dst: Path, bar: tqdm) -> Outcome:
        start = time.perf_counter()
        if dst.exists() and not self.args.overwrite:
            if not self.quiet:
                _say(
                    f"{PROG}: skipped {shown(job.src)}: output {shown(dst)} exists "
                    "(use --overwrite to replace it)"
                )
            return Outcome(job.src, dst, job.kind, "skipped")
        try:
            if job.kind == "video":
                report = self._video(job, dst, bar)
            else:
                report = api.anonymise_file(job.src, dst, self.options, overwrite=self.args.overwrite)
        except Exception as exc:  # UnseenError, OSError or a bug: report it and go on with the batch
            return self._fail(job.src, dst, job.kind, _message(job.src, exc), time.perf_counter() - start)
        notices = [str(n) for n in (report.notices or [])]
        return Outcome(job.src, dst, job.kind, "done", report, None, report.seconds, notices)

    def _video(self, job: Job, dst: Path, files_bar: tqdm) -> api.FileReport:
        with tqdm(
            unit="frame",
            leave=False,
            position=files_bar.pos + 1,
            disable=self.bars_off,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as frames_bar:

            def progress(done: int, total: int | None) -> None:
                if total is not None and frames_bar.total != total:
                    frames_bar.total = total
                frames_bar.update(done - frames_bar.n)

            return api.anonymise_video_file(
                job.src,
                dst,
                self.options,
                overwrite=self.args.overwrite,
                audio=self.args.audio,
                codec=self.args.codec,
                crf=self.args.crf,
                progress=progress,
                record=self.args.regions is not None,
            )

    def _write_regions(self) -> bool:
        if self.args.regions is None:
            return True
        reports = [o.report for o in self.outcomes if o.status == "done" and o.report is not None]
        try:
            write_regions_file(self.args.regions, reports)
        except UnseenError as exc:
            _say(f"{PROG}: error: {_message(self.args.regions, exc)}")
            return False
        return True

    def _notices(self) -> list[str]:
        """Things the user should know about the outputs, each once."""
        notices: list[str] = []
        for o in self.outcomes:
            notices += [f"{o.src}: {n}" for n in o.notices]
        if any(o.report is not None and o.report.audio for o in self.outcomes):
            notices.append(AUDIO_NOTICE)
        return list(dict.fromkeys(notices))

    def _report(self, seconds: float) -> None:
        count = {s: sum(o.status == s for o in self.outcomes) for s in ("done", "skipped", "failed")}
        faces = sum(o.faces for o in self.outcomes)
        frames = sum(o.frames for o in self.outcomes if o.kind == "video")
        notices = self._notices()
        if self.args.json:
            doc = {
                "tool": tool_version(),
                **count,
                "faces": faces,
                "frames": frames,
                "seconds": round(seconds, 3),
                "regions_file": str(self.args.regions) if self.args.regions is not None else None,
                "notices": notices,
                "files": [o.to_json() for o in self.outcomes],
            }
            print(json.dumps(doc, indent=2))
            return
        if self.quiet:
            return
        parts = [
            f"{count['done']} done",
            f"{count['skipped']} skipped",
            f"{count['failed']} failed",
            f"{faces} face{'s' if faces != 1 else ''} found",
        ]
        if any(o.kind == "video" for o in self.outcomes):
            video_seconds = sum(o.report.seconds for o in self.outcomes if o.kind == "video" and o.report)
            rate = f" at {frames / video_seconds:.1f} fps" if video_seconds else ""
            parts.append(f"{frames} video frames{rate} (faces in videos are counted as tracks)")
        parts.append(f"{seconds:.1f} s")
        _say(f"{PROG}: {', '.join(parts)}")
        for notice in notices:
            _say(f"{PROG}: note: {notice}")


if __name__ == "__main__":
    sys.exit(main())
