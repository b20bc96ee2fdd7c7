"""``unseen review PATH... [-o DIR]`` and ``unseen render REGIONS.json``: the review commands.

review detects as a normal run does (plus suggestions), writes the regions file, then serves the
review page on 127.0.0.1 until Ctrl-C; ``--regions FILE.json`` alone resumes an earlier review.
render writes every output from a regions file without detecting again. Messages go to stderr, one
line each, naming the file; the review address goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..api import Options, check_text
from ..batch import find_inputs, output_path
from ..cli_common import BLUR_WARNING, regions_in_output_refusal
from ..errors import InputError, UnseenError, one_line, shown
from ..obscure import METHODS, SHAPES, ObscureOptions, parse_color
from ..plan import PlanOptions
from ..regions_file import RegionsDocument, load_document, options_record, save_document
from ..render import options_from_record, photo_faces, render_entry, run_inputs, unverified_warning
from .detection import detect_photo, detect_video
from .lock import RegionsLock
from .server import ReviewServer
from .session import ReviewSession

DEFAULT_REGIONS = "review.unseen.json"


def _say(message: str) -> None:
    print(one_line(message), file=sys.stderr, flush=True)


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


def _overlay(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA"))
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read the --image picture: {exc}") from exc


def review_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unseen review",
        description="Detect faces, then check and correct every region on a local page, and export.",
        epilog="The page listens on 127.0.0.1 only; its address carries a random token. Ctrl-C stops it; "
        "every change is already saved in the regions file.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="photos, videos or folders")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="write outputs into this folder")
    parser.add_argument(
        "--regions",
        type=Path,
        metavar="FILE.json",
        help=f"the review's regions file (default: {DEFAULT_REGIONS} here, never inside the output "
        "folder); given alone, resume that review",
    )
    parser.add_argument(
        "--regions-in-output",
        action="store_true",
        help="allow the regions file inside the output folder (it maps where every face was)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the address")
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="resume a regions file that has no SHA-256 of its files (unseen.regions/1), checked by "
        "picture size only: they cannot be verified to be the files the regions were made for",
    )
    parser.add_argument("--method", choices=METHODS, default="fill", help="how faces are obscured")
    parser.add_argument("--color", default="black", help="fill colour")
    parser.add_argument("--image", type=Path, metavar="PNG", help="picture to paste with --method image")
    parser.add_argument("--shape", choices=SHAPES, default="ellipse")
    parser.add_argument("--margin", type=float, default=PlanOptions().margin)
    parser.add_argument("--sensitivity", type=float, default=1.0)
    parser.add_argument(
        "--text",
        action="store_true",
        help="also find text: plates, badges, signs (pip install 'unseen[text]')",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """``unseen review``; returns the exit status (0 stopped cleanly, 1 failed, 2 usage error)."""
    parser = review_parser()
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if not args.paths and args.regions is None:
        parser.print_usage(sys.stderr)
        _say("unseen review: give photos, videos or folders, or --regions FILE.json to resume")
        return 2
    path = args.regions or Path(DEFAULT_REGIONS)
    refusal = regions_in_output_refusal(path, args.output) if args.paths else None
    if refusal is not None and not args.regions_in_output:
        parser.print_usage(sys.stderr)
        _say(f"unseen review: {refusal}")
        return 2
    try:
        lock = RegionsLock(path)
    except UnseenError as exc:
        _say(f"unseen review: {exc}")
        return 1
    try:
        return _review(args, parser, path, lock)
    finally:
        lock.release()


def _review(args: argparse.Namespace, parser: argparse.ArgumentParser, path: Path, lock: RegionsLock) -> int:
    """The review of ``path`` (made first from ``args.paths`` if given), served until Ctrl-C."""
    try:
        overlay = _overlay(args.image)
        if args.paths:
            session = _new_review(args, parser, path, overlay)
        else:
            session = ReviewSession.open(path, overlay, args.unverified)
            warning = unverified_warning(path, session.doc)
            if warning:
                _say(f"unseen review: {warning}; Export writes them anyway")
    except SystemExit:  # a usage error in the options, already printed by argparse
        return 2
    except UnseenError as exc:
        _say(f"unseen review: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("unseen review: interrupted before the review started")
        return 130
    server = ReviewServer(session)
    with server.stopped_by_signals():  # Ctrl-C from here on (read the address, pressed at once) stops it
        lock.announce(server.address)
        print(f"unseen review: {server.url}", flush=True)
        _say(f"unseen review: every change is saved in {shown(session.path)}; Ctrl-C stops")
        if not args.no_browser:  # in the background: a terminal browser may not return until it is closed
            threading.Thread(target=webbrowser.open, args=(server.browser_url(),), daemon=True).start()
        server.serve()  # uvicorn finishes the requests in flight, then returns
    _say(f"unseen review: stopped; resume with: unseen review --regions {shown(session.path)}")
    return 0


def _options(
    args: argparse.Namespace, parser: argparse.ArgumentParser, overlay: np.ndarray | None
) -> Options:
    try:
        obscure = ObscureOptions(
            method=args.method, shape=args.shape, color=parse_color(args.color), overlay=overlay
        )
        plan = PlanOptions(margin=args.margin)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.sensitivity > 0:
        parser.error("--sensitivity must be a number > 0")
    if args.method == "blur":
        _say(f"unseen review: {BLUR_WARNING}")
    if args.text:
        try:
            check_text()
        except UnseenError as exc:
            parser.error(str(exc))
    return Options(obscure=obscure, plan=plan, sensitivity=args.sensitivity, text=args.text)


def _new_review(
    args: argparse.Namespace, parser: argparse.ArgumentParser, path: Path, overlay: np.ndarray | None
) -> ReviewSession:
    options = _options(args, parser, overlay)
    if path.exists():
        raise InputError(
            f"{shown(path)}: exists; resume it with: unseen review --regions {shown(path)} (or remove it)"
        )
    found = find_inputs(args.paths, exclude=[args.output] if args.output else [])
    for _, message in found.failed:
        _say(f"unseen review: {message}; not in this review")
    jobs = found.jobs
    if not jobs:
        raise InputError("no photos or videos found")
    entries = []
    for n, job in enumerate(jobs, 1):
        dst = output_path(job, args.output)
        try:
            if job.kind == "video":
                quiet = not sys.stderr.isatty()
                with tqdm(desc=job.src.name, unit="frame", leave=False, disable=quiet) as bar:
                    entry = detect_video(job.src, dst, options, progress=partial(_advance, bar))
            else:
                entry = detect_photo(job.src, dst, options)
        except UnseenError as exc:
            _say(f"unseen review: {exc}; not in this review")
            continue
        suggested = entry.actions == "suggested"
        if entry.kind == "video":
            tracks = len(set(entry.regions.track[~suggested].tolist()))
            found = f"{tracks} tracks ({int((~suggested).sum())} regions)"
        else:  # as a normal run and the page count them
            faces, candidates = photo_faces(entry.regions[~suggested], entry.frames)
            found = f"{faces} face{'s' if faces != 1 else ''}" + (
                f" (+{candidates} candidates)" if candidates else ""
            )
        _say(f"unseen review: {n}/{len(jobs)} {shown(job.src)}: {found}, {int(suggested.sum())} suggestions")
        entries.append(entry)
    if not entries:
        raise InputError("no file could be analysed")
    save_document(path, RegionsDocument(entries, options_record(options)))
    # The review works on the file as written (boxes to 0.1 px), not on the detector's unrounded
    # boxes: so Export, the preview and ``unseen render`` of that file paint the very same pixels.
    return ReviewSession(path, load_document(path), overlay)


def _advance(bar: tqdm, done: int, total: int | None) -> None:
    bar.total = total
    bar.update(done - bar.n)


def render_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unseen render",
        description="Write every output a regions file describes, from its regions, without detecting "
        "again: regions to keep stay visible, unaccepted suggestions are not painted.",
    )
    parser.add_argument("regions", type=Path, metavar="REGIONS.json")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace any file at an output (without it, only unseen's own output of the same input "
        "is replaced); never an input",
    )
    parser.add_argument(
        "--image", type=Path, metavar="PNG", help="the picture, for a file made with --method image"
    )
    parser.add_argument("--audio", choices=("keep", "drop"), default="keep")
    parser.add_argument("--codec", default=None)
    parser.add_argument("--crf", type=int, default=18, help="encoder quality, 0 to 63 (default 18)")
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="also render files the regions file has no SHA-256 for (unseen.regions/1 files), checked by "
        "picture size only: they cannot be verified to be the files the regions were made for",
    )
    return parser


def render_main(argv: list[str] | None = None) -> int:
    """``unseen render``; 0 when every output was written, 1 when any failed, 2 for a usage error."""
    parser = render_parser()
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if not 0 <= args.crf <= 63:
        parser.print_usage(sys.stderr)
        _say(f"unseen render: error: --crf must be between 0 and 63, not {args.crf}")
        return 2
    try:
        doc = load_document(args.regions)
        options = options_from_record(doc.options, _overlay(args.image))
    except UnseenError as exc:
        _say(f"unseen render: {exc}")
        return 1
    warning = unverified_warning(args.regions, doc)
    if warning and args.unverified:
        _say(f"unseen render: {warning}")
    inputs = [*run_inputs(args.regions, doc), *([args.image] if args.image else [])]
    failed = 0
    for entry in doc.files:
        try:
            report = render_entry(
                entry,
                options,
                overwrite=args.overwrite,
                audio=args.audio,
                codec=args.codec,
                crf=args.crf,
                unverified=args.unverified,
                inputs=inputs,
            )
        except UnseenError as exc:
            _say(f"unseen render: {exc}")
            failed += 1
            continue
        except KeyboardInterrupt:
            _say("unseen render: interrupted; the file in progress was not written")
            return 130
        _say(f"unseen render: {shown(report.dst)}")
    return 1 if failed else 0
