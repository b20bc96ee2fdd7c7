"""Local workers: the same outputs, messages, regions file and exit status as a serial run.

Real photos (crops of ``skimage.data.astronaut()``) and a small generated clip go through the
command line with ``--workers 2`` and ``--workers 1``; a worker is killed mid-write (its file is
retried, nothing partial is left), a run is stopped with Ctrl-C and started again (it does only the
rest). The helpers here are shared with the Ray tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from clips import make_clip
from PIL import Image
from skimage import data

from unseen import machine
from unseen.batch import Job
from unseen.cli import main
from unseen.detect.model import CenterFace
from unseen.media.atomic import PART_TAG
from unseen.records import Records, state_dir
from unseen.scale import ScaleOptions, default_workers
from unseen.scale.runner import worker_env

ASTRONAUT = data.astronaut()


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` different half-size crops of the astronaut, each showing the face."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        crop = ASTRONAUT[8 * i : 8 * i + 400 : 2, 6 * i : 6 * i + 400 : 2]
        path = folder / f"p{i}.jpg"
        Image.fromarray(crop).save(path, quality=90)
        paths.append(path)
    return paths


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if PART_TAG in p.name]


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run(capsys, *args: object) -> tuple[int, dict, list[str]]:
    """The CLI in this process: exit status, the JSON report without timings, the stderr lines."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    report = json.loads(out) if out else {}
    report.pop("seconds", None)
    for entry in report.get("files", []):
        entry.pop("seconds")
    return code, report, err.splitlines()


def same_but_folder(a: object, b: object, folder_a: Path, folder_b: Path) -> bool:
    """Whether two JSON values are equal once ``folder_a`` is read as ``folder_b``."""
    return json.dumps(a).replace(str(folder_a), str(folder_b)) == json.dumps(b)


def holder_of(path: Path) -> int | None:
    """The process that has ``path`` open (found through /proc), other than this one."""
    target = str(path)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


class Killer(threading.Thread):
    """Kills (SIGKILL) the first process seen writing a temporary file named like ``*SUFFIX`` below
    ``folder``."""

    def __init__(self, folder: Path, suffix: str, timeout: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.folder, self.suffix, self.timeout = folder, suffix, timeout
        self.killed: int | None = None
        self.part: Path | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self.killed is None:
            # a staging folder removed while the scan walks it ends that look, not the thread
            with contextlib.suppress(FileNotFoundError):
                for part in self.folder.rglob(f".*{PART_TAG}{self.suffix}") if self.folder.exists() else ():
                    pid = holder_of(part.resolve())
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                        self.killed, self.part = pid, part
                        return
            time.sleep(0.005)


class WorkerKiller(threading.Thread):
    """Kills (SIGKILL) the worker (a local one, or a Ray actor) working on ``out/name`` at one point.

    ``before``: the first Ray actor seen, as it starts (before any file is written); ``during``: the one
    writing the file's temporary output; ``after``: that one again, the moment its first record of
    the published output appears (published, but its full record, with the counts and the regions,
    not kept yet).
    """

    def __init__(self, out: Path, name: str, when: str) -> None:
        super().__init__(daemon=True)
        self.out, self.name, self.when = out, name, when
        self.record = Records(state_dir()).path_for(out / name)
        self.killed: int | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.killed is None:
            pid = self._actor() if self.when == "before" else self._writer()
            if pid is not None and self.when == "after":
                pid = self._when_recorded(pid, deadline)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                self.killed = pid
            time.sleep(0.005)

    def _actor(self) -> int | None:
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::Worker"):
                    return int(entry.name)
        return None

    def _writer(self) -> int | None:
        for part in self.out.glob(f".{self.name}.*{PART_TAG}*") if self.out.exists() else ():
            with contextlib.suppress(OSError):
                return holder_of(part.resolve())
        return None

    def _when_recorded(self, pid: int, deadline: float) -> int | None:
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), os.scandir(self.record.parent) as entries:
                if any(self.record.name in entry.name for entry in entries):
                    return pid
            time.sleep(0.0005)
        return None


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    return make_photos(tmp_path / "in", 4)


# --- local workers against a serial run -------------------------------------------------------


def test_workers_write_what_a_serial_run_writes(tmp_path, capsys, photos):
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a photo")
    runs = {}
    for n in (1, 2):
        here = tmp_path / f"run{n}"
        out, regions = here / "out", here / "regions.json"
        code, report, err = run(
            capsys, tmp_path / "in", "-o", out, "--regions", regions, "--json", "--workers", n
        )
        runs[n] = (code, report, err, files(out), json.loads(regions.read_text()), here)
    (code1, report1, err1, out1, regions1, dir1), (code2, report2, err2, out2, regions2, dir2) = runs.values()
    assert code1 == code2 == 1  # the broken photo failed, the rest went on
    assert err1 == err2 and any("broken.jpg" in line for line in err1)
    assert out1 == out2 and len(out1) == len(photos)  # byte for byte
    assert report1["done"] == len(photos) and report1["faces"] >= len(photos)
    assert same_but_folder(report1, report2, dir1, dir2)
    assert same_but_folder(regions1, regions2, dir1, dir2)


def test_a_killed_worker_has_its_file_retried_and_nothing_partial_is_left(tmp_path, capsys):
    make_photos(tmp_path / "in", 2)
    clip = make_clip(tmp_path / "in" / "clip.mp4", frames=150, size=(320, 240))
    out = tmp_path / "out"
    killer = Killer(out, ".mp4")
    killer.start()
    code, report, err = run(capsys, tmp_path / "in", "-o", out, "--json", "--workers", "2")
    killer.join()
    assert killer.killed is not None, "the clip's temporary output was never seen"
    assert code == 0, err
    assert report["done"] == 3 and report["failed"] == 0
    assert not killer.part.exists() and not parts(out)  # the dead worker's part file was swept
    assert frame_count(out / "clip.mp4") == frame_count(clip) == 150


def test_a_worker_killed_right_after_publishing_has_its_file_redone(tmp_path, capsys):
    make_photos(tmp_path / "in", 2)
    make_clip(tmp_path / "in" / "clip.mp4", frames=150, size=(320, 240))
    runs = []
    for n in (1, 2):
        here = tmp_path / f"run{n}"
        killer = WorkerKiller(here / "out", "clip.mp4", "after")
        if n == 2:
            killer.start()
        code, report, err = run(
            capsys,
            tmp_path / "in",
            "-o",
            here / "out",
            "--regions",
            here / "r.json",
            "--json",
            "--workers",
            n,
        )
        if n == 2:
            killer.join()
            assert killer.killed is not None, "the clip's worker was never killed"
        runs.append((code, report, err, (here / "r.json").read_text(), here))
    (code1, report1, err1, regions1, dir1), (code2, report2, err2, regions2, dir2) = runs
    assert code1 == code2 == 0 and err1 == err2, err2
    assert report2["done"] == 3 and report2["faces"] == report1["faces"] > 0
    assert same_but_folder(report1, report2, dir1, dir2)  # done, with its true counts
    assert regions1.replace(str(dir1), str(dir2)) == regions2  # and in the regions file
    assert frame_count(dir2 / "out" / "clip.mp4") == 150 and not parts(dir2 / "out")


def test_ctrl_c_stops_workers_cleanly_and_a_rerun_does_only_the_rest(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_photos(src, 8)
    make_clip(src / "a.mp4", frames=150, size=(320, 240))  # first in order: in progress at the stop
    command = [sys.executable, "-m", "unseen", str(src), "-o", str(out), "--workers", "2"]
    env = {**os.environ, machine.THREADS_ENV: "1"}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(f".a.mp4*{PART_TAG}.mp4")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not parts(out) and not (out / "a.mp4").exists()
    first = sorted(p.name for p in out.iterdir())
    for name in first:  # whatever was published is complete
        with Image.open(out / name) as im:
            im.load()

    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    skipped = [line for line in again.stderr.splitlines() if line.startswith("unseen: skipped")]
    assert len(skipped) == len(first)
    assert f"{9 - len(first)} done, {len(first)} skipped, 0 failed" in again.stderr
    assert frame_count(out / "a.mp4") == 150

    serial = tmp_path / "serial"
    subprocess.run([*command[:5], str(serial), "--workers", "1"], check=True, timeout=120)
    photos_out = {k: v for k, v in files(out).items() if k.endswith(".jpg")}
    assert photos_out == {k: v for k, v in files(serial).items() if k.endswith(".jpg")}


# --- shares of the machine and the device ------------------------------------------------------


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(machine, "cpu_count", lambda: 8)
    assert worker_env(4, "cpu") == {machine.THREADS_ENV: "2", machine.DEVICE_ENV: "cpu"}
    assert worker_env(16, "auto")[machine.THREADS_ENV] == "1"
    monkeypatch.setenv(machine.THREADS_ENV, "3")
    assert machine.thread_budget() == 3
    model = CenterFace()
    assert model._session.get_session_options().intra_op_num_threads == 3
    monkeypatch.setenv(machine.THREADS_ENV, "nonsense")
    assert machine.thread_budget() == 8


def test_default_workers_start_only_what_the_work_pays_for(monkeypatch):
    monkeypatch.setattr(machine, "cpu_count", lambda: 4)
    photos = [(Job(Path(f"{i}.jpg"), None, "image"), Path(f"o{i}.jpg")) for i in range(40)]
    videos = [(Job(Path(f"{i}.mp4"), None, "video"), Path(f"o{i}.mp4")) for i in range(3)]
    assert default_workers(photos[:5]) == 1  # a handful of photos: this process alone
    assert default_workers(photos) == 2
    assert default_workers(videos) == 3
    assert default_workers(videos + photos) == 4
    with pytest.raises(ValueError):
        ScaleOptions(workers=0)


def test_device_choice_and_the_notice_on_falling_back_to_the_cpu():
    cpu, cuda = "CPUExecutionProvider", "CUDAExecutionProvider"
    assert machine.choose_providers("auto", [cuda, cpu]) == ([cuda, cpu], None)
    assert machine.choose_providers("auto", [cpu]) == ([cpu], None)
    assert machine.choose_providers("cpu", [cuda, cpu]) == ([cpu], None)
    providers, notice = machine.choose_providers("cuda", [cpu])
    assert providers == [cpu] and "running on the CPU" in notice and "\n" not in notice
    with pytest.raises(ValueError):
        machine.choose_providers("tpu", [cpu])


def test_device_cuda_without_a_gpu_runs_on_the_cpu_with_one_notice(tmp_path, capsys, photos, monkeypatch):
    monkeypatch.setenv(machine.DEVICE_ENV, "auto")  # restored after the run sets it
    code, report, err = run(capsys, photos[0], "-o", tmp_path / "out", "--device", "cuda", "--json")
    assert code == 0 and report["done"] == 1
    notes = [line for line in err if "--device cuda" in line]
    assert len(notes) == 1 and "running on the CPU" in notes[0]


# --- Ray, without a cluster ---------------------------------------------------------------------


def test_ray_missing_is_one_clear_line(tmp_path, capsys, photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now fails as if it were not installed
    code, _, err = run(capsys, photos[0], "-o", tmp_path / "out", "--ray")
    assert code == 2
    assert err == ["unseen: error: --ray needs Ray, which is not installed here: pip install 'unseen[ray]'"]
    assert not (tmp_path / "out" / photos[0].name).exists()


def test_ray_address_where_nothing_listens_is_refused_at_once(tmp_path, capsys, photos):
    import socket

    with socket.socket() as free:  # a port on 127.0.0.1 that nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    started = time.monotonic()
    code, _, err = run(capsys, photos[0], "-o", tmp_path / "out", "--ray", f"127.0.0.1:{port}")
    assert code == 2 and time.monotonic() - started < 30
    assert len(err) == 1
    assert err[0].startswith(f"unseen: error: --ray 127.0.0.1:{port}: no Ray cluster answers")
