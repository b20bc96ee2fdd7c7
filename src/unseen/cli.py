"""Command line: ``unseen PATH... [options]``. Thin: parse arguments, call the API, report.

Every message goes to stderr (one line per problem, naming the file); ``--json`` writes the run's
report to stdout. Exit status: 0 when every file was done or skipped (its output already exists),
1 when any input failed, 2 for a usage error, 130 when interrupted. Outputs are written atomically,
so an interrupted or failed file never leaves a partial output behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from . import api, machine, scale
from .batch import Job, find_inputs, kind_of, output_path, path_key
from .cli_common import BLUR_WARNING, regions_in_output_refusal
from .errors import OutputError, UnseenError, one_line, shown
from .heap import limit_heap_growth
from .media.atomic import remove_stale_parts
from .media.image import read_photo
from .obscure import METHODS, SHAPES, ObscureOptions, parse_color
from .plan import PlanOptions
from .process import Outcome, Settings, describe
from .regions_file import tool_version, write_regions_entries

if TYPE_CHECKING:
    from tqdm import tqdm

PROG = "unseen"

AUDIO_NOTICE = "voices in the kept audio can identify people; --audio drop removes the audio track"
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Find every face in photos and videos and obscure it irreversibly; the outputs carry no "
            "identifying metadata (EXIF, GPS, camera serials, container tags). Runs fully offline."
        ),
        epilog=(
            "Outputs go beside each input as NAME.unseen.EXT, or into -o DIR keeping the layout below "
            "each named folder. Outputs unseen already finished are skipped; any other file in the way "
            "is an error unless --overwrite. Exit status: 0 all done or skipped, 1 some input failed, "
            "2 usage error, 130 interrupted (SIGTERM and SIGHUP too)."
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
    look.add_argument(
        "--color",
        default="black",
        help="fill colour, also shown through a transparent --image: a name (black, red, navy...), "
        "#RGB, #RRGGBB or R,G,B (never alpha: the patch is always opaque)",
    )
    look.add_argument(
        "--image",
        type=Path,
        metavar="PNG",
        help="picture to paste with --method image (its transparent parts show --color)",
    )
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
    look.add_argument(
        "--text",
        action="store_true",
        help="also obscure text: number plates, name badges, signs, screens (never read; needs the "
        "text extra: pip install 'unseen[text]')",
    )

    report = parser.add_argument_group("reporting")
    report.add_argument(
        "--regions", type=Path, metavar="FILE.json", help="write every face found to this JSON file"
    )
    report.add_argument(
        "--regions-in-output",
        action="store_true",
        help="allow the regions file inside the output folder (it maps where every face was)",
    )
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar, notes or summary")
    report.add_argument("--json", action="store_true", help="print the run's report as JSON on stdout")

    video = parser.add_argument_group("videos")
    video.add_argument(
        "--audio", choices=("keep", "drop"), default="keep", help="keep (default) or drop the audio track"
    )
    video.add_argument(
        "--codec",
        default=None,
        help="video encoder (default: H.264 via libx264; 10-bit HEVC stays HEVC via libx265)",
    )
    video.add_argument("--crf", type=int, default=18, help="encoder quality, lower is better (default 18)")
    video.add_argument(
        "--accept-concealed",
        action="store_true",
        help="analyse and paint frames in which the decoder concealed damage, and write frames it cannot "
        "decode black, instead of refusing the video (the damage can hide faces: check such outputs)",
    )

    scale = parser.add_argument_group("scale")
    scale.add_argument(
        "--workers", type=int, metavar="N", help="files at once, each in its own process (default: per core)"
    )
    scale.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray: alone, a private Ray on this machine; 'auto' or HOST:PORT joins a cluster "
        "(needs pip install 'unseen[ray]')",
    )
    scale.add_argument(
        "--device", choices=machine.DEVICES, default="auto", help="where faces are found (default auto)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["audit"]:  # subcommands: imported only when used
        from .audit.cli import main as audit_main

        return audit_main(args[1:])
    if args[:1] in (["review"], ["render"]):
        from .review import cli as review_cli

        return (review_cli.main if args[0] == "review" else review_cli.render_main)(args[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        options = _options(args, parser)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.method == "blur":
        _say(f"{PROG}: {BLUR_WARNING}")
    previous = {s: signal.signal(s, _on_signal) for s in _STOP_SIGNALS}
    try:
        return _Run(args, options).run()
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted; files in progress were not written")
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


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
    if args.workers is not None and args.workers < 1:
        fail(f"--workers must be 1 or more, not {args.workers}")
    if not 0 <= args.crf <= 63:
        fail(f"--crf must be between 0 and 63, not {args.crf}")
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        fail(f"-o {args.output}: exists and is not a folder")
    if args.regions is not None and args.regions.is_dir():
        fail(f"--regions {shown(args.regions)}: is a folder; give a file name such as regions.json")
    if args.regions is not None and not args.regions_in_output:
        refusal = regions_in_output_refusal(args.regions, args.output)
        if refusal is not None:
            fail(refusal)
    overlay = None
    if args.method == "image":
        if args.image is None:
            fail("--method image needs --image PNG (the picture to paste over faces)")
        overlay = _read_overlay(args.image, fail)
    elif args.image is not None:
        fail("--image is only used with --method image")
    if args.text:
        try:
            api.check_text()
        except UnseenError as exc:  # one line, without the usage: nothing is wrong with the command
            _say(f"{PROG}: error: {exc}")
            raise SystemExit(2) from exc
    try:
        return api.Options(
            obscure=ObscureOptions(method=args.method, shape=args.shape, color=color, overlay=overlay),
            plan=PlanOptions(margin=args.margin),
            sensitivity=args.sensitivity,
            text=args.text,
        )
    except ValueError as exc:
        fail(str(exc))


def _read_overlay(path: Path, fail: Any) -> np.ndarray:
    """The --image picture as H x W x 4 uint8 RGBA (ObscureOptions flattens it onto --color).

    Read with the photo reader, so a huge or hostile picture is refused the way an input is.
    """
    try:
        photo = read_photo(path)
    except UnseenError as exc:
        fail(f"--image: {exc}")
    alpha = photo.alpha if photo.alpha is not None else np.full(photo.pixels.shape[:2], 255, np.uint8)
    return np.dstack([photo.pixels, alpha])


def _say(message: str) -> None:
    """One line to stderr, without breaking a progress bar that may be on screen."""
    if "tqdm" in sys.modules:  # a bar may be shown: written above it
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


def _bar(**options: Any) -> tqdm:
    """A progress bar on stderr. tqdm is imported only to show one: it brings importlib.metadata and
    multiprocessing and makes a semaphore (about 25 ms of a run whose bars are off)."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, dynamic_ncols=True, **options)


def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM and SIGHUP stop a run the way Ctrl-C does: the file in progress is not written."""
    raise KeyboardInterrupt


class VideoBar:
    """The frames bar of one video: "analysing", then "writing", each pass counting the frames once
    with its own rate and ETA (the API counts both passes as one run of twice the frames)."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar
        self.writing = False
        bar.set_description_str("analysing", refresh=False)

    def __call__(self, done: int, total: int | None) -> None:
        frames = total // 2 if total else None
        if frames is not None and not self.writing and done > frames:
            self.writing = True
            self.bar.reset(total=frames)
            self.bar.set_description_str("writing", refresh=False)
        elif frames is not None and self.bar.total != frames:
            self.bar.total = frames
        count = done - frames if self.writing and frames is not None else done
        self.bar.update(count - self.bar.n)


class _FramesBar:
    """The frames bar of the video in progress; with workers, of the first one in the serial order."""

    def __init__(self, files_bar: tqdm | None, planned: list[tuple[Job, Path]]) -> None:
        self.files_bar, self.planned = files_bar, planned
        self.bar: tqdm | None = None
        self.phases: VideoBar | None = None
        self.index: int | None = None

    def update(self, index: int, done: int, total: int | None) -> None:
        if self.files_bar is None or self.planned[index][0].kind != "video":
            return
        if self.index is not None and index > self.index:
            return
        if self.bar is None or self.index != index:
            self.close()
            self.index = index
            self.bar = _bar(unit="frame", leave=False, position=self.files_bar.pos + 1)
            self.phases = VideoBar(self.bar)
        assert self.phases is not None
        self.phases(done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.phases, self.index = None, None, None


class _Run:
    """One invocation over all inputs."""

    def __init__(self, args: argparse.Namespace, options: api.Options) -> None:
        self.args = args
        self.settings = Settings(
            options=options,
            overwrite=args.overwrite,
            audio=args.audio,
            codec=args.codec,
            crf=args.crf,
            keep_regions=args.regions is not None,
            accept_concealed=args.accept_concealed,
        )
        self.out_dir: Path | None = args.output
        self.quiet: bool = args.quiet
        self.bars_off: bool = args.quiet or args.json or not sys.stderr.isatty()  # bars: on a terminal
        self.outcomes: list[Outcome] = []
        self.left_out: list[tuple[Path, str]] = []
        self.pending = 0  # files not started when the run was interrupted
        self.interrupted = False
        self.scale = scale.ScaleOptions(workers=args.workers, ray=args.ray, device=args.device)

    def run(self) -> int:
        start = time.perf_counter()
        planned = self._plan(self._discover())
        if self.args.codec is not None:
            from .media.encoder import check_encoder  # PyAV: imported only when a codec is asked for

            suffixes = {dst.suffix.lower() for job, dst in planned if job.kind == "video"} or {".mp4"}
            for suffix in sorted(suffixes):
                try:
                    check_encoder(self.args.codec, suffix)
                except ValueError as exc:
                    _say(f"{PROG}: error: --codec: {exc}")
                    return 2
        if any(job.kind == "video" for job, _ in planned):
            limit_heap_growth()  # lower peaks over long videos and batches
        for folder in dict.fromkeys(dst.parent for _, dst in planned):
            remove_stale_parts(folder)  # temporary files of a run that was killed
        os.environ[machine.DEVICE_ENV] = self.args.device  # read by the model, here and in workers
        notice = machine.providers()[1]
        if notice and not self.quiet:
            _say(f"{PROG}: note: {notice}")
        started = 0
        bar = None if self.bars_off else _bar(total=len(planned), unit="file")
        with bar if bar is not None else contextlib.nullcontext():
            frames = _FramesBar(bar, planned)
            try:
                for outcome in scale.outcomes(planned, self.settings, self.scale, frames.update):
                    started += 1
                    frames.close()
                    self.outcomes.append(self._reported(outcome))
                    if bar is not None:
                        bar.update(outcome.status != "interrupted")
            except KeyboardInterrupt:
                self.interrupted = True
            except scale.ScaleError as exc:
                _say(f"{PROG}: error: {exc}")
                return 2
            finally:
                frames.close()
        self.pending = len(planned) - started
        regions_ok = self._write_regions()
        self._report(time.perf_counter() - start)
        if self.interrupted:
            stopped = sum(o.status == "interrupted" for o in self.outcomes)
            what = {0: "", 1: "the file in progress was not written, "}.get(
                stopped, f"the {stopped} files in progress were not written, "
            )
            _say(f"{PROG}: interrupted; {what}{self.pending} not started")
            return 130
        failed = any(o.status == "failed" for o in self.outcomes) or not regions_ok
        return 1 if failed else 0

    def _fail(self, src: Path, dst: Path | None, kind: str, message: str) -> Outcome:
        _say(f"{PROG}: error: {message}")
        return Outcome(src, dst, kind, "failed", error=message)

    def _discover(self) -> list[Job]:
        """All jobs, each file once, in command-line order; unreadable paths are failed inputs."""
        jobs: list[Job] = []
        seen: set[str] = set()
        exclude = [self.out_dir] if self.out_dir is not None else []
        for path in self.args.paths:
            found = find_inputs([path], exclude=exclude)
            for src, message in found.failed:
                self.outcomes.append(self._fail(src, None, kind_of(src), message))
            self.left_out += found.left_out
            if not found.jobs and not found.failed and path.is_dir() and not self.quiet:
                _say(f"{PROG}: note: no photos or videos found in {shown(path)}")
            for job in found.jobs:
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
                self.outcomes.append(self._fail(job.src, dst, job.kind, describe(job.src, exc)))
                continue
            planned.append((job, dst))
        return planned

    def _reported(self, outcome: Outcome) -> Outcome:
        if outcome.status == "failed":
            _say(f"{PROG}: error: {outcome.error}")
        elif outcome.status == "skipped" and not self.quiet:
            _say(f"{PROG}: skipped {shown(outcome.src)}: already done (output {shown(outcome.dst)})")
        return outcome

    def _write_regions(self) -> bool:
        """The regions file for every file done now or by an earlier run; says which are missing."""
        if self.args.regions is None:
            return True
        entries, missing = [], []
        for o in self.outcomes:
            if o.status in ("done", "skipped") and o.entry is not None:
                entries.append(o.entry)
            elif o.status == "skipped":
                missing.append(o.src)
        if missing:
            _say(
                f"{PROG}: warning: the regions file lacks {len(missing)} file(s) done by an earlier run "
                f"that kept no regions (use --overwrite to redo them), e.g. {shown(missing[0])}"
            )
        try:
            write_regions_entries(self.args.regions, entries, self.settings.options)
        except UnseenError as exc:
            _say(f"{PROG}: error: {describe(self.args.regions, exc)}")
            return False
        return True

    def _notices(self) -> list[str]:
        """Things the user should know about the outputs, each once."""
        notices: list[str] = []
        for o in self.outcomes:
            notices += [f"{shown(o.src)}: {one_line(n)}" for n in o.notices]
        reasons: dict[str, list[Path]] = {}
        for path, reason in self.left_out:
            reasons.setdefault(reason, []).append(path)
        for reason, paths in reasons.items():
            notices.append(f"left out {len(paths)} {reason}, e.g. {shown(paths[0])}")
        if any(o.report is not None and o.report.audio for o in self.outcomes):
            notices.append(AUDIO_NOTICE)
        return list(dict.fromkeys(notices))

    def _report(self, seconds: float) -> None:
        statuses = ("done", "skipped", "failed")
        count = {s: sum(o.status == s for o in self.outcomes) for s in statuses}
        faces = sum(o.faces for o in self.outcomes)
        candidates = sum(o.candidates for o in self.outcomes)
        texts = sum(o.texts for o in self.outcomes)
        videos = [o for o in self.outcomes if o.kind == "video" and o.status in ("done", "skipped")]
        frames = sum(o.frames for o in videos)
        notices = self._notices()
        if self.args.json:
            doc = {
                "tool": tool_version(),
                **count,
                "interrupted": self.interrupted,
                "not_started": self.pending,
                "faces": faces,
                "candidates": candidates,
                "texts": texts,
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
        if candidates:
            parts.append(f"{candidates} more candidate{'s' if candidates != 1 else ''} painted")
        if self.settings.options.text:
            parts.append(f"{texts} text region{'s' if texts != 1 else ''} painted")
        done_videos = [o for o in videos if o.report is not None]
        if done_videos:
            video_seconds = sum(o.report.seconds for o in done_videos if o.report)
            rate = f" at {frames / video_seconds:.1f} fps" if video_seconds else ""
            parts.append(f"{frames} video frames{rate}")
        parts.append(f"{seconds:.1f} s")
        _say(f"{PROG}: {', '.join(parts)}")
        for notice in notices:
            _say(f"{PROG}: note: {notice}")


if __name__ == "__main__":
    sys.exit(main())
