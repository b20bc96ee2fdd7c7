"""``unseen audit``: read what a run produced and report, per file, what an adversary could still use.

    unseen audit REGIONS.json               # the pairs a run listed in its regions file
    unseen audit ORIGINAL OUTPUT            # two files, or two folders paired by relative path
    unseen audit ... --json > audit.json    # the report for machines (and for --verify)
    unseen audit ... --report audit.html    # one self-contained page showing the outputs only
    unseen audit --verify audit.json        # is the report whole, the audited files the same?
    unseen audit --verify audit.json --digest SHA256   # ... and the very report whose digest was kept

Exit status: 0 when nothing is found, 1 when anything is (or a file cannot be audited), 2 for a
usage error. One verdict line per file goes to stdout (to stderr with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from ..batch import path_key
from ..detect.text import model_path
from ..errors import UnseenError, one_line, shown
from ..obscure import SHAPES
from ..plan import PlanOptions
from .core import AuditOptions, audit_pair
from .faces import SearchOptions
from .html import write_html
from .integrity import SEAL, read_report, report_digest, verify
from .report import document, verdict
from .runs import Run, pairs_from_paths, read_run

PROG = "unseen audit"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check a run's outputs for faces left visible, weak obscuring, metadata and "
        "re-identification; never changes a file.",
        epilog="Exit status: 0 nothing found, 1 something found, 2 usage error.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="REGIONS.json, or ORIGINAL OUTPUT"
    )
    parser.add_argument("--json", action="store_true", help="write the report as JSON to stdout")
    parser.add_argument("--report", type=Path, metavar="FILE.html", help="write a self-contained HTML page")
    parser.add_argument(
        "--verify", type=Path, metavar="REPORT.json", help="check a JSON report's seal and its files"
    )
    parser.add_argument(
        "--digest",
        metavar="SHA256",
        help="with --verify: the report's digest as kept elsewhere (printed when the report was made)",
    )
    run = parser.add_argument_group(
        "what the run planned (default: the regions file's options, else unseen's)"
    )
    run.add_argument("--margin", type=float, help="growth around each face, as a share of its size")
    run.add_argument("--head-top", type=float, help="further growth upwards, as a share of the face height")
    run.add_argument("--shape", choices=SHAPES, help="painted shape")
    look = parser.add_argument_group("how hard to look")
    look.add_argument(
        "--sensitivity",
        type=float,
        default=SearchOptions.sensitivity,
        help="above 1 finds more faces and far more false ones (default %(default)s)",
    )
    look.add_argument(
        "--stride", type=int, default=4, help="video: search every Nth frame (default %(default)s)"
    )
    look.add_argument("--around", type=int, default=12, help="... and this many frames around track ends")
    look.add_argument("--every-frame", action="store_true", help="video: search every frame")
    look.add_argument("--no-reid", action="store_true", help="skip the re-identification check")
    look.add_argument(
        "--text",
        action="store_true",
        help="also look for text left readable (default: when the regions file says the run used --text; "
        "needs pip install 'unseen[text]')",
    )
    return parser


def _options(args: argparse.Namespace, run: Run) -> AuditOptions:
    known = run.options
    plan = PlanOptions(
        margin=args.margin if args.margin is not None else known.get("margin", PlanOptions.margin),
        head_top=args.head_top if args.head_top is not None else known.get("head_top", PlanOptions.head_top),
        min_size=known.get("min_size", PlanOptions.min_size),
        text_margin=known.get("text_margin", PlanOptions.text_margin),
    )
    search = replace(SearchOptions(), sensitivity=args.sensitivity)
    return AuditOptions(
        search=search,
        video_search=replace(search, turns=(0,)),
        plan=plan,
        shape=args.shape or known.get("shape", "ellipse"),
        stride=args.stride,
        around=args.around,
        every_frame=args.every_frame,
        reid=not args.no_reid,
        text=args.text or bool(known.get("text")),
    )


def _usage(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return 2


def _verify(report: Path, digest: str | None) -> int:
    try:
        problems = verify(report, digest)
        sealed = report_digest(read_report(report))
    except UnseenError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    if not problems:
        print(f"{shown(report)}: whole and sealed (sha256:{sealed}); every file still matches it")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Run the audit command line; returns the exit status instead of exiting."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.verify is not None:
        return (
            _verify(args.verify, args.digest)
            if not args.paths
            else _usage(parser, "--verify takes no other paths")
        )
    if args.digest is not None:
        return _usage(parser, "--digest goes with --verify")
    if args.stride < 1 or args.around < 0 or args.sensitivity <= 0:
        return _usage(parser, "--stride must be >= 1, --around >= 0 and --sensitivity > 0")
    try:
        if len(args.paths) == 1:
            run = read_run(args.paths[0])
        elif len(args.paths) == 2:
            run = pairs_from_paths(*args.paths)
        else:
            return _usage(parser, "give REGIONS.json, or ORIGINAL OUTPUT")
        if args.report is not None and _reads(args.report, [*args.paths, *_files(run)]):
            return _usage(
                parser, f"--report {shown(args.report)} is a file this audit reads; it is never replaced"
            )
        options = _options(args, run)
        if options.text:
            model_path()  # the text extra is there, or a one-line error naming it
    except (UnseenError, ValueError) as exc:
        return _usage(parser, str(exc))
    lines: TextIO = sys.stderr if args.json else sys.stdout
    audits = []
    for pair in run.pairs:
        audit = audit_pair(pair, options)
        audits.append(audit)
        print(verdict(audit), file=lines, flush=True)
    doc = document(audits, _options_json(options, run), run.source)
    if args.json:
        json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        print(
            f"{PROG}: report sealed, sha256:{doc[SEAL]['sha256']} (kept elsewhere, it shows any later "
            "edit: --verify REPORT --digest ...)",
            file=sys.stderr,
        )
    if args.report is not None:
        try:
            write_html(args.report, doc, audits)
        except UnseenError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 1
    return 1 if any(not a.clean for a in audits) else 0


def _files(run: Run) -> list[Path]:
    return [path for pair in run.pairs for path in (pair.original, pair.output) if path is not None]


def _reads(path: Path, files: list[Path]) -> bool:
    """Whether ``path`` is one of ``files`` (by its identity, links resolved): the report must not
    replace an original, an output or the regions file it reports on."""
    return path_key(path) in {path_key(f) for f in files}


def _options_json(options: AuditOptions, run: Run) -> dict[str, Any]:
    return {"audit": options.to_json(), "run": run.options}
