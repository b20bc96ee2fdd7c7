"""Shared helpers for bench/photos.py and bench/video.py.

Paths to the shared data and scorers, running a child process with wall time and peak memory,
staging inputs as symlinks (the WIDER sample is never copied), running deface and unseen the same
way in both benchmarks, and printing side-by-side tables with pass/fail targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TOOLS = SHARED / "tools"
DEFAULT_DATA = SHARED / "data" / "wider-dev"
DEFAULT_OUT = REPO / "bench" / "out"
MB = 1_000_000  # memory is reported in MB = 10^6 bytes (stricter than MiB for the targets)
PAGE = os.sysconf("SC_PAGE_SIZE")

# deface 1.5.0 defaults are --thresh 0.2 --mask-scale 1.3 --replacewith blur: spell out all three.
DEFACE_ARGS = ["--thresh", "0.2", "--mask-scale", "1.3", "--replacewith", "solid"]


def exe(name: str) -> str:
    """A console script from this interpreter's venv first, else from PATH."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else (shutil.which(name) or name)


def add_common_args(ap: argparse.ArgumentParser, out_default: Path, limit_help: str) -> None:
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="WIDER dev sample (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=out_default, help="scratch folder (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, metavar="N", help=limit_help)
    ap.add_argument("--skip-deface", action="store_true", help="run and score unseen only")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="save every number here")


# ---------------------------------------------------------------- measured child runs


@dataclass
class Run:
    label: str
    cmd: list[str]
    log: str
    rc: int | None = None  # None: could not start
    wall_s: float | None = None
    cpu_s: float | None = None  # user + sys of the child and its reaped descendants
    maxrss_mb: float | None = None  # ru_maxrss from wait4: largest single process in the tree
    tree_rss_mb: float | None = None  # sampled peak of the summed RSS of the whole tree
    error: str | None = None
    outputs: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe_failure(self) -> str:
        if self.error:
            return self.error
        tail = Path(self.log).read_text(errors="replace").strip().splitlines()[-6:] if self.log else []
        return f"exit code {self.rc}; log {self.log}:\n    " + "\n    ".join(tail)


def _tree_rss_bytes(root: int) -> int:
    """Summed RSS of root and all its descendants, from /proc (no psutil)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
            ppid = int(s[s.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.root, self.interval, self.peak = root, interval, 0
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, _tree_rss_bytes(self.root))
            if self._done.wait(self.interval):
                return

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def run_measured(label: str, cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> Run:
    """Run cmd with stdout+stderr to log_path (in ``env``, default this process's); wall time from
    spawn to reap, rusage from os.wait4."""
    cmd = [str(c) for c in cmd]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run = Run(label, cmd, str(log_path))
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        except OSError as e:
            run.error = f"could not start {cmd[0]}: {e}"
            return run
        sampler = _TreeSampler(p.pid)
        sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        run.wall_s = time.perf_counter() - t0
        p.returncode = run.rc = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
        run.tree_rss_mb = sampler.stop() / MB
    run.cpu_s = ru.ru_utime + ru.ru_stime
    run.maxrss_mb = ru.ru_maxrss * 1024 / MB  # Linux reports KiB
    return run


def run_json(cmd: list) -> tuple[dict | None, str]:
    """Run a scorer that prints JSON on stdout; return (parsed or None, stderr/diagnostic)."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        return None, f"exit code {p.returncode}: {p.stderr.strip()[-2000:]}"
    try:
        return json.loads(p.stdout), p.stderr.strip()
    except json.JSONDecodeError as e:
        return None, f"bad JSON from scorer ({e}): {p.stdout[-500:]}"


def scorer(name: str) -> list[str]:
    return [sys.executable, str(TOOLS / name)]


# ---------------------------------------------------------------- staging


def fresh_dir(path: Path) -> Path:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def symlink_tree(files: Iterable[tuple[Path, str]], dest: Path) -> Path:
    """A fresh folder of symlinks dest/<rel> -> src, so nothing from the data set is copied."""
    fresh_dir(dest)
    for src, rel in files:
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path(src).resolve())
    return dest


def warm_cache(paths: Iterable[Path]) -> None:
    """Read every input once so neither tool pays for a cold page cache."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def count_outputs(out_dir: Path) -> int:
    return sum(1 for p in out_dir.rglob("*") if p.is_file() and p.suffix != ".json")


def run_unseen(
    input_dir: Path,
    out_dir: Path,
    log: Path,
    *,
    label: str = "unseen",
    src: Path | None = None,
    extra_args: Iterable[str] = (),
) -> Run:
    """unseen in solid black fill mode: the installed one, or with ``src`` the package in that
    source folder (``python -m unseen`` with ``src`` first on PYTHONPATH, e.g. an older revision)."""
    fresh_dir(out_dir)
    start, env = [exe("unseen")], None
    if src is not None:
        start = [sys.executable, "-m", "unseen"]
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
        )
    cmd = [*start, input_dir, "-o", out_dir, "--method", "fill", "--quiet", "--overwrite", *extra_args]
    run = run_measured(label, cmd, log, env)
    run.outputs = count_outputs(out_dir)
    return run


def run_deface(
    files: list[tuple[Path, str]], out_dir: Path, stage_dir: Path, log: Path, extra_args: Iterable[str] = ()
) -> Run:
    """One deface process over all files.

    deface's -o names a single output for all inputs, so with several inputs it cannot write
    chosen per-file paths. Instead each input is symlinked into stage_dir/<rel>; deface then writes
    its default <stem>_anonymized<ext> beside each link, and after the timed run those files are
    moved to out_dir/<rel>. The staging and the moves are outside the timed region.
    """
    symlink_tree(files, stage_dir)
    fresh_dir(out_dir)
    links = [stage_dir / rel for _, rel in files]
    run = run_measured("deface", [exe("deface"), *DEFACE_ARGS, *extra_args, *links], log)
    missing = []
    for _, rel in files:
        produced = (stage_dir / rel).with_name(Path(rel).stem + "_anonymized" + Path(rel).suffix)
        if produced.exists():
            dst = out_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(produced, dst)
        else:
            missing.append(rel)
    run.outputs = len(files) - len(missing)
    run.extra["missing_outputs"] = missing[:20]
    if run.ok and missing and not run.error:
        run.error = f"deface exited 0 but wrote no output for {len(missing)} input(s), e.g. {missing[0]}"
    return run


# ---------------------------------------------------------------- tables and targets


@dataclass
class Target:
    op: str  # ">=" or "<="
    limit: float
    text: str  # how it is shown, e.g. ">= 99.5 %"

    def check(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.op == ">=" else value <= self.limit


def pct(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def num(digits: int = 2, unit: str = "") -> Callable[[float | None], str]:
    return lambda v: "-" if v is None else f"{v:.{digits}f}{unit}"


CHECKED = "unseen"  # the tool whose value a row's target is checked on


@dataclass
class Row:
    """One metric, one value per tool (the table's columns, in ``print_table``'s order)."""

    metric: str
    values: dict[str, float | None]
    fmt: Callable[[float | None], str]
    target: Target | None = None
    value: float | None = None  # with derived=True the target is checked on this (e.g. a ratio)
    derived: bool = False

    @property
    def checked(self) -> float | None:
        return self.value if self.derived else self.values.get(CHECKED)

    @property
    def checked_text(self) -> str:
        if self.derived:
            return "-" if self.value is None else f"{self.value:.2f}"
        return self.fmt(self.values.get(CHECKED))

    @property
    def status(self) -> str:
        if self.target is None:
            return ""
        r = self.target.check(self.checked)
        return "n/a" if r is None else ("PASS" if r else "FAIL")


def print_grid(title: str, head: list[str], body: list[list]) -> None:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c[i])) for c in [head, *body]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}\n{line}")
    for i, cells in enumerate([head, *body]):
        print(
            "  ".join(
                str(c).ljust(w) if j == 0 else str(c).rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            print(line)
    print(line)


def print_table(title: str, rows: list[Row], tools: list[str]) -> None:
    """Rows with one column per tool of ``tools``, then the target and whether it is met."""
    body = []
    for r in rows:
        tgt = r.target.text if r.target else ""
        if r.target and r.derived:  # the target is on a derived value: show it
            tgt = f"{tgt} (is {r.checked_text})"
        body.append([r.metric, *(r.fmt(r.values.get(t)) for t in tools), tgt, r.status])
    print_grid(title, ["metric", *tools, "target", "pass/fail"], body)


def target_summary(rows: list[Row], prefix: str = "") -> tuple[list[str], list[str]]:
    """(failed, not evaluated) target descriptions."""
    failed = [
        f"{prefix}{r.metric}: {r.checked_text} (target {r.target.text})" for r in rows if r.status == "FAIL"
    ]
    unknown = [f"{prefix}{r.metric}" for r in rows if r.status == "n/a"]
    return failed, unknown


def rows_json(rows: list[Row]) -> list[dict]:
    return [
        dict(
            metric=r.metric,
            values=r.values,
            checked=r.checked,
            target=r.target.text if r.target else None,
            status=r.status or None,
        )
        for r in rows
    ]


def report_runs(runs: Iterable[Run]) -> None:
    for run in runs:
        if not run.ok:
            print(f"\n!! {run.label} FAILED: {run.describe_failure()}", file=sys.stderr)
        elif run.error:
            print(f"\n!! {run.label}: {run.error}", file=sys.stderr)


def finish(failed: list[str], unknown: list[str], payload: dict, json_path: Path | None) -> int:
    print()
    if failed:
        print(f"TARGETS FAILED ({len(failed)}):")
        for f in failed:
            print(f"  - {f}")
    else:
        print("All evaluated targets met.")
    if unknown:
        print("Not evaluated (no number): " + ", ".join(unknown))
    if json_path:
        payload = dict(payload, failed=failed, not_evaluated=unknown)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=1, default=_jsonable))
        print(f"numbers saved to {json_path}")
    return 0


def _jsonable(o):
    if isinstance(o, Run):
        return asdict(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))
