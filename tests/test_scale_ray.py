"""Ray: the command line on a real Ray cluster that the tests start on 127.0.0.1 and stop.

The cluster (two CPUs, no dashboard) is shared by the tests of this module; every test runs under
a timeout. Outputs and the regions file must equal a serial run's, a failing file must not stop
the rest, a worker killed while writing must have its file retried without leaving anything
partial, and a run stopped half-way must, started again, do only what is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Before Ray is imported: Ray otherwise replaces 127.0.0.1 in an address by this machine's network
# address, where the test cluster (bound to 127.0.0.1 only) is not listening.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

from clips import make_clip  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from test_scale import (  # noqa: E402
    Killer,
    WorkerKiller,
    files,
    frame_count,
    make_photos,
    parts,
    run,
    same_but_folder,
)

from unseen.batch import Job  # noqa: E402
from unseen.media.atomic import PART_TAG  # noqa: E402
from unseen.process import Settings  # noqa: E402
from unseen.scale.runner import ScaleOptions, outcomes  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster() -> str:
    head = {"num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    nodes = Cluster(initialize_head=True, connect=False, head_node_args=head)
    try:
        yield nodes.address
    finally:
        nodes.shutdown()


def test_ray_writes_what_a_serial_run_writes_and_a_bad_file_does_not_stop_it(tmp_path, capsys, cluster):
    photos = make_photos(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a photo")
    runs = []
    for how in (["--workers", "1"], ["--ray", cluster]):
        here = tmp_path / how[0].strip("-")
        code, report, err = run(
            capsys, tmp_path / "in", "-o", here / "out", "--regions", here / "r.json", "--json", *how
        )
        runs.append((code, report, err, files(here / "out"), (here / "r.json").read_text(), here))
    (code1, report1, err1, out1, regions1, dir1), (code2, report2, err2, out2, regions2, dir2) = runs
    assert code1 == code2 == 1
    assert err1 == err2 and len([line for line in err1 if "broken.jpg" in line]) == 1
    assert out1 == out2 and len(out1) == len(photos)
    assert report2["done"] == len(photos) and report2["failed"] == 1
    assert same_but_folder(report1, report2, dir1, dir2)
    assert regions1.replace(str(dir1), str(dir2)) == regions2


def test_a_ray_worker_killed_while_writing_has_its_file_retried(tmp_path, capsys, cluster):
    make_photos(tmp_path / "in", 2)
    clip = make_clip(tmp_path / "in" / "clip.mp4", frames=150, size=(320, 240))
    out = tmp_path / "out"
    killer = Killer(out, ".mp4")
    killer.start()
    code, report, err = run(capsys, tmp_path / "in", "-o", out, "--json", "--ray", cluster)
    killer.join()
    assert killer.killed is not None, "the clip's temporary output was never seen"
    assert code == 0, err
    assert (report["done"], report["failed"]) == (3, 0)
    assert not parts(out)
    assert frame_count(out / "clip.mp4") == frame_count(clip) == 150


@pytest.mark.parametrize("when", ["before", "during", "after"])
def test_a_ray_actor_killed_at_any_point_leaves_what_a_serial_run_leaves(tmp_path, capsys, cluster, when):
    make_photos(tmp_path / "in", 2)
    clip = make_clip(tmp_path / "in" / "clip.mp4", frames=150, size=(320, 240))
    runs = []
    for how in (["--workers", "1"], ["--ray", cluster]):
        here = tmp_path / how[0].strip("-")
        killer = WorkerKiller(here / "out", "clip.mp4", when)
        if how[0] == "--ray":
            killer.start()
        code, report, err = run(
            capsys, tmp_path / "in", "-o", here / "out", "--regions", here / "r.json", "--json", *how
        )
        if how[0] == "--ray":
            killer.join()
            assert killer.killed is not None, f"no actor was killed {when} its file"
        runs.append((code, report, err, files(here / "out"), (here / "r.json").read_text(), here))
    (code1, report1, err1, out1, regions1, dir1), (code2, report2, err2, out2, regions2, dir2) = runs
    assert code2 == code1 == 0, err2
    assert report2["done"] == 3 and report2["faces"] == report1["faces"] > 0
    assert same_but_folder(report1, report2, dir1, dir2)  # every file done, with its true counts
    assert regions1.replace(str(dir1), str(dir2)) == regions2  # every file, with its regions
    assert {k: v for k, v in out1.items() if k.endswith(".jpg")} == {
        k: v for k, v in out2.items() if k.endswith(".jpg")
    }
    assert out1.keys() == out2.keys() and not parts(dir2 / "out")
    assert frame_count(dir2 / "out" / "clip.mp4") == frame_count(clip) == 150
    notes = [line for line in err2 if "Ray worker died" in line]
    assert [line for line in err2 if line not in notes] == err1 and len(notes) <= 1, err2


def test_a_stopped_ray_run_started_again_does_only_the_rest(tmp_path, capsys, cluster):
    src, out = tmp_path / "in", tmp_path / "out"
    make_photos(src, 6)
    make_clip(src / "a.mp4", frames=300, size=(320, 240))  # first in order: in progress at the stop

    def interrupt_mid_clip() -> None:
        deadline = time.monotonic() + 120
        while not list(out.glob(f".a.mp4*{PART_TAG}.mp4")) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

    stopper = threading.Thread(target=interrupt_mid_clip, daemon=True)
    stopper.start()
    code, report, err = run(capsys, src, "-o", out, "--json", "--ray", cluster)
    stopper.join()
    assert code == 130 and report["interrupted"], err
    status = {Path(f["input"]).name: f["status"] for f in report["files"]}
    assert status["a.mp4"] in ("interrupted", "done")  # or finished before the stop reached it
    assert (out / "a.mp4").exists() == (status["a.mp4"] == "done")
    assert not parts(out)
    first = report["done"]

    code, report, err = run(capsys, src, "-o", out, "--json", "--ray", cluster)
    assert code == 0, err
    assert (report["done"], report["skipped"]) == (7 - first, first)
    assert frame_count(out / "a.mp4") == 300


def test_ray_reports_a_videos_frames_as_local_workers_do(tmp_path, cluster):
    clip = make_clip(tmp_path / "clip.mp4", frames=300, size=(480, 360), audio=False)
    planned = [(Job(clip, None, "video"), tmp_path / "out" / "clip.mp4")]
    seen: list[tuple[int, int, int | None]] = []
    done = list(outcomes(planned, Settings(), ScaleOptions(ray=cluster), lambda *count: seen.append(count)))
    assert [o.status for o in done] == ["done"]
    assert {(i, total) for i, _, total in seen} == {(0, 600)}  # both passes over the 300 frames
    counts = [n for _, n, _ in seen]
    assert counts == sorted(counts) and len(counts) >= 3
    assert counts[0] <= 300 < counts[-1]  # the analysing pass and the writing pass were both seen


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def _listening(pids: set[int]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of the TCP sockets these processes listen on (from /proc/net)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: listening
                raw = bytes.fromhex(fields[1].split(":")[0])
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # host order
                address = ipaddress.ip_address(raw)
                mapped = getattr(address, "ipv4_mapped", None)
                addresses.append(mapped or address)
    return addresses


def test_a_private_ray_listens_on_127_0_0_1_only(tmp_path):
    photos = make_photos(tmp_path / "in", 3)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    command = [sys.executable, "-m", "unseen", *map(str, photos), "-o", str(tmp_path / "out"), "--ray"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    seen = []
    try:
        while proc.poll() is None:  # Ray's servers come and go with the run: look all along
            seen += _listening(_descendants(proc.pid))
            time.sleep(0.2)
    finally:
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert seen, "no listening socket of the run was ever seen"
    assert all(address.is_loopback for address in seen), sorted(set(map(str, seen)))
