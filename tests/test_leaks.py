"""Ways a finished file, a record or a face could slip out or be lost: races, kills, interruptions,
odd directory entries and hostile file names. Real files, real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from clips import make_clip
from PIL import Image
from skimage import data

from unseen.batch import Job
from unseen.cli import main
from unseen.errors import OutputError, shown
from unseen.media import atomic
from unseen.media.atomic import PART_TAG, atomic_output, remove_stale_parts
from unseen.process import Settings, process
from unseen.records import Records
from unseen.regions_file import read_regions_file

CLI = [sys.executable, "-m", "unseen"]


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[::2, ::2])


def save(pixels: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if PART_TAG in p.name]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("unseen: error:")]


# --- publishing an output -------------------------------------------------------------------------


def test_an_output_that_appears_while_writing_is_never_replaced(tmp_path):
    dst = tmp_path / "out.jpg"
    with pytest.raises(OutputError, match="appeared while it was being written"):
        with atomic_output(dst) as tmp:
            tmp.write_bytes(b"ours")
            dst.write_bytes(b"theirs")  # another writer, between the check and the publishing
    assert dst.read_bytes() == b"theirs"
    assert sorted(tmp_path.iterdir()) == [dst]


@pytest.mark.parametrize("no_rename", [True, False])
def test_the_fallbacks_never_replace_either(tmp_path, monkeypatch, no_rename):
    """Without renameat2 (other kernels) a hard link publishes; without hard links (FAT), a checked rename."""
    monkeypatch.setattr(atomic, "_rename_noreplace", lambda tmp, dst: False)
    if not no_rename:

        def no_links(src, dst):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_links)
    dst = tmp_path / "out.png"
    with atomic_output(dst) as tmp:
        tmp.write_bytes(b"first")
    assert dst.read_bytes() == b"first"
    raced = tmp_path / "raced.png"
    with pytest.raises(OutputError, match="appeared"), atomic_output(raced) as tmp:
        tmp.write_bytes(b"second")
        raced.write_bytes(b"racer")
    assert raced.read_bytes() == b"racer"
    assert parts(tmp_path) == []


def test_data_and_folder_are_flushed_before_and_after_publishing(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_publish = os.fsync, atomic._publish

    def fsync(fd: int) -> None:
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def publish(tmp: Path, dst: Path, overwrite: bool) -> None:
        events.append("publish")
        real_publish(tmp, dst, overwrite)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic, "_publish", publish)
    with atomic_output(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"data")
    assert events == ["fsync file", "publish", "fsync folder"]


def test_stale_temporary_files_are_removed_but_live_ones_kept(tmp_path):
    stale = tmp_path / f".a.jpg.0000{PART_TAG}.jpg"
    stale.write_bytes(b"left by a killed run")
    other = tmp_path / ".a.jpg.part.jpg"  # not our name: never touched
    other.write_bytes(b"x")
    with atomic_output(tmp_path / "b.jpg") as live:
        live.write_bytes(b"being written")
        assert remove_stale_parts(tmp_path) == 1
        assert live.exists()
    assert not stale.exists() and other.exists() and (tmp_path / "b.jpg").read_bytes() == b"being written"


# --- killed and interrupted runs ------------------------------------------------------------------


def _start_video_run(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "in").mkdir(exist_ok=True)
    src = make_clip(tmp_path / "in" / "long.mp4", frames=600, size=(480, 360), audio=False)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*CLI, str(src), "-o", str(out), "-q", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out.exists() and parts(out)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run never started writing: {proc.communicate()}")
        time.sleep(0.01)
    return proc, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c_and_leave_nothing(tmp_path, signum):
    proc, out = _start_video_run(tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_killed_run_leaves_a_temporary_file_that_the_next_run_removes(tmp_path):
    proc, out = _start_video_run(tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    assert len(parts(out)) == 1  # SIGKILL cannot be caught: its temporary file stays ...
    rerun = subprocess.run(
        [*CLI, str(tmp_path / "in" / "long.mp4"), "-o", str(out), "-q"], capture_output=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert parts(out) == []  # ... until the next run into that folder
    assert [p.name for p in out.iterdir()] == ["long.mp4"]


def test_ctrl_c_mid_batch_keeps_the_report_and_regions_of_finished_files(tmp_path, small):
    photos = [save(small, tmp_path / "in" / f"{name}.jpg") for name in ("a", "b")]
    video = make_clip(tmp_path / "in" / "z.mp4", frames=600, size=(480, 360), audio=False)
    regions = tmp_path / "regions.json"
    out = tmp_path / "out"
    args = [*map(str, photos), str(video), "-o", str(out), "--regions", str(regions), "--json"]
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # until the video is being written
        if out.exists() and any(p.name.startswith(".z.mp4.") for p in parts(out)):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    report = json.loads(stdout)
    assert report["interrupted"] is True and report["done"] == 2
    assert [f["status"] for f in report["files"]] == ["done", "done", "interrupted"]
    assert sorted(read_regions_file(regions)) == sorted(map(str, photos))

    # The re-run does only what is left, and its regions file still lists the photos done before.
    rerun = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    again = json.loads(rerun.stdout)
    assert [f["status"] for f in again["files"]] == ["skipped", "skipped", "done"]
    found = read_regions_file(regions)
    assert list(found) == [*map(str, photos), str(video)]
    assert all(len(found[str(p)]) >= 1 for p in photos)  # the astronaut's face, from the earlier run


def test_skipped_files_without_a_record_of_regions_are_named_as_missing(tmp_path, capsys, small):
    src = save(small, tmp_path / "p.jpg")
    assert main([str(src), "-q"]) == 0  # a first run that kept no regions
    capsys.readouterr()
    assert main([str(src), "--regions", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert "the regions file lacks 1 file(s) done by an earlier run that kept no regions" in err
    assert read_regions_file(tmp_path / "r.json") == {}


# --- what a folder holds --------------------------------------------------------------------------


def test_symlink_loops_fifos_and_dangling_links_fail_one_line_each(tmp_path, small):
    folder = tmp_path / "in"
    save(small, folder / "good.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")
    os.mkfifo(folder / "pipe.mp4")
    os.mkfifo(tmp_path / "named.jpg")
    proc = subprocess.run(
        [*CLI, str(folder), str(tmp_path / "named.jpg"), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(error_lines(proc.stderr)) == sorted(
        [
            f"unseen: error: {folder / 'gone.jpg'}: broken symlink (points to {folder / 'nowhere.jpg'})",
            f"unseen: error: {folder / 'loop.jpg'}: symlink loop",
            f"unseen: error: {folder / 'pipe.mp4'}: not a regular file (a FIFO)",
            f"unseen: error: {tmp_path / 'named.jpg'}: not a regular file (a FIFO)",
        ]
    )
    assert (tmp_path / "out" / "good.jpg").is_file()


def test_hostile_names_are_printed_once_escaped_and_cannot_forge_lines(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["x\nunseen: 5 done.jpg", "two  spaces.jpg", "esc\x1b[2J.png"]
    for name in names:
        (folder / name).write_bytes(b"not an image")
    assert main([str(folder), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert not any(line.startswith("unseen: 5 done") for line in err.splitlines())
    assert "\x1b" not in err
    lines = error_lines(err)
    assert len(lines) == len(names)
    for name in names:
        printed = shown(folder / name)
        assert printed.startswith("'") and "\n" not in printed
        assert sum(line.count(printed) for line in lines) == 1, (printed, lines)


def test_the_regions_file_is_refused_inside_the_output_folder(tmp_path, capsys, small):
    src = save(small, tmp_path / "p.jpg")
    out = tmp_path / "public"
    code = main([str(src), "-o", str(out), "--regions", str(out / "sub" / "r.json")])
    assert code == 2
    assert "inside the output folder" in capsys.readouterr().err
    assert not out.exists()
    assert (
        main([str(src), "-o", str(out), "--regions", str(out / "r.json"), "--regions-in-output", "-q"]) == 0
    )
    assert (out / "r.json").is_file()


def test_a_stop_while_the_record_is_kept_still_keeps_it(tmp_path, monkeypatch, small):
    """Ctrl-C (or a worker's SIGTERM) between publishing an output and recording it made the next run
    refuse the finished output as 'not unseen's'."""
    src = save(small, tmp_path / "p.jpg")
    dst = tmp_path / "out" / "p.jpg"
    real = Records.write

    def write(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the stop lands right after the output was published
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Records, "write", write)
    with pytest.raises(KeyboardInterrupt):
        process(Job(src, None, "image"), dst, Settings())
    assert dst.is_file() and Records().finished(src, dst) is not None
