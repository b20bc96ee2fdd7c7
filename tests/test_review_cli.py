"""``unseen review`` and ``unseen render`` as a person runs them: address printed, Ctrl-C, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from review_media import CLEAR, review_photo
from scenes import covered_fraction

from unseen import api
from unseen.cli import main
from unseen.regions_file import load_document, write_regions_file
from unseen.review.session import ReviewSession

URL = re.compile(r"unseen review: (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))")


def _start(*args: str, cwd: Path, browser: Path | None = None) -> tuple[subprocess.Popen, str, str]:
    """Run ``unseen review ARGS`` (``--no-browser`` unless ``browser`` is the program to start);
    return the process, its address and its token."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if browser is not None:
        env["BROWSER"] = str(browser)
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen", "review", *args, *([] if browser else ["--no-browser"])],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = URL.search(line)
    if found is None:
        proc.kill()
        pytest.fail(f"no address printed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, found.group(1), found.group(3)


def _stop(proc: subprocess.Popen) -> str:
    """Ctrl-C, as in a terminal; the command must stop cleanly and say how to resume."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def test_review_prints_the_address_stops_on_ctrl_c_and_resumes(tmp_path):
    review_photo(tmp_path / "people.png")
    out = tmp_path / "out"
    proc, url, token = _start("people.png", "-o", "out", cwd=tmp_path)
    try:
        assert len(token) >= 32
        with httpx.Client(base_url=url.split("/?")[0], follow_redirects=True) as client:
            client.get(url).raise_for_status()  # the printed address: token in, cookie out
            files = client.get("/api/files").json()["files"]
            assert [f["name"] for f in files] == ["people.png"] and files[0]["suggestions"] >= 1
            loaded = client.get("/api/files/0").json()
            first = loaded["regions"][0]
            ops = [{"op": "replace", "regions": [[first, {**first, "action": "keep"}]]}]
            client.patch("/api/files/0", json={"ops": ops, "version": loaded["version"]}).raise_for_status()
    finally:
        err = _stop(proc)
    regions_file = tmp_path / "review.unseen.json"  # here, not among the outputs to publish
    assert "resume with: unseen review --regions review.unseen.json" in err
    assert not out.exists()  # nothing is written there before Export
    kept = load_document(regions_file).files[0].records()[0]  # the edit survived Ctrl-C
    assert kept == {**first, "action": "keep"}

    # The same command again would start over: refused, the earlier review is there to resume.
    again = subprocess.run(
        [sys.executable, "-m", "unseen", "review", "people.png", "-o", "out", "--no-browser"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and "exists; resume it with" in again.stderr

    proc, url, _ = _start("--regions", str(regions_file), cwd=tmp_path)
    try:
        with httpx.Client(base_url=url.split("/?")[0], follow_redirects=True) as client:
            client.get(url).raise_for_status()
            entry = client.get("/api/files/0").json()
            assert entry["regions"][0] == {**first, "action": "keep"} and entry["state"] == "changed"
    finally:
        _stop(proc)


def _review(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "unseen", "review", *args, "--no-browser"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_review_of_one_regions_file_is_refused(tmp_path):
    """Two reviews of one regions file would each rewrite it from their own copy: the second one is
    refused at once, naming the first one's address (not its token); a killed review leaves it free."""
    review_photo(tmp_path / "people.png")
    first, url, token = _start("people.png", "--regions", "r.json", cwd=tmp_path)
    try:
        (tmp_path / "link").symlink_to(tmp_path)
        for args in [
            ("--regions", "r.json"),
            ("people.png", "--regions", "r.json"),
            ("--regions", "link/r.json"),
        ]:
            second = _review(*args, cwd=tmp_path)
            assert second.returncode == 1 and second.stdout == ""
            assert second.stderr.count("\n") == 1, second.stderr
            assert f"{args[-1]}: already being reviewed by unseen review" in second.stderr
            assert f"(pid {first.pid}) at {url.split('?')[0]};" in second.stderr
            assert token not in second.stderr
    finally:
        first.kill()  # as kill -9: its lock goes with it
        first.wait()
    again, _, _ = _start("--regions", "r.json", cwd=tmp_path)
    _stop(again)
    assert not (tmp_path / "r.json.lock").exists()


def test_the_regions_file_stays_out_of_the_output_folder(tmp_path):
    """It maps every face and names every original: as the plain command's --regions, review's is
    refused inside -o (its default too, when run from there) unless --regions-in-output is given."""
    review_photo(tmp_path / "people.png")
    (tmp_path / "out").mkdir()
    for cwd, args in [
        (tmp_path, ("people.png", "-o", "out", "--regions", "out/r.json")),
        (tmp_path, ("people.png", "-o", ".")),
        (tmp_path / "out", ("../people.png", "-o", ".")),
    ]:
        refused = _review(*args, cwd=cwd)
        assert refused.returncode == 2, refused.stderr
        assert "is inside the output folder" in refused.stderr and "--regions-in-output" in refused.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "people.png"]
    proc, _, _ = _start(
        "people.png", "-o", "out", "--regions", "out/r.json", "--regions-in-output", cwd=tmp_path
    )
    _stop(proc)
    assert load_document(tmp_path / "out" / "r.json").files[0].input == str(tmp_path / "people.png")


def test_the_browser_gets_no_token_and_does_not_hold_up_the_server(tmp_path):
    """A terminal browser (BROWSER) runs until it is closed: the page is served meanwhile and Ctrl-C
    stops the review; its command line, which every local user can read, has no token, only a code
    that opens the page once."""
    review_photo(tmp_path / "people.png")
    seen = tmp_path / "browser.pid"
    browser = tmp_path / "terminal-browser"
    browser.write_text(
        f"#!{sys.executable}\nimport os, pathlib, time\n"
        f"pathlib.Path({str(seen)!r}).write_text(str(os.getpid()))\ntime.sleep(300)\n"
    )
    browser.chmod(0o700)
    proc, url, token = _start("people.png", "--regions", "r.json", cwd=tmp_path, browser=browser)
    pid = None
    try:
        for _ in range(600):
            if seen.exists() and seen.read_text():
                break
            time.sleep(0.05)
        pid = int(seen.read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")  # what ps shows
        assert token.encode() not in b" ".join(argv) and b"token=" not in b" ".join(argv)
        opened = argv[-2].decode()
        assert opened.startswith(url.split("?")[0] + "?code=")
        base = url.split("/?")[0]
        with httpx.Client(base_url=base, timeout=20) as client, httpx.Client(base_url=base) as other:
            assert client.get(opened).status_code == 303  # the browser's visit
            assert client.get("/api/files").json()["files"][0]["name"] == "people.png"
            assert other.get(opened).status_code == 403  # read from ps afterwards: spent
        os.kill(pid, 0)  # the browser is still running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0  # Ctrl-C stops the review, the browser still open
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)  # it holds the review's output pipes
        proc.kill()
    assert "resume with" in proc.communicate(timeout=20)[1]


def test_export_writes_the_same_bytes_as_render_and_the_preview_shows_them(tmp_path):
    """A fresh review's Export, ``unseen render`` of its regions file and the page's preview of the
    output agree pixel for pixel (the detector's boxes are unrounded; the file keeps 0.1 px), and a
    face kept stays visible under a second box over its eyes."""
    original, faces = review_photo(tmp_path / "people.png")
    proc, url, _ = _start("people.png", "-o", "out", cwd=tmp_path)
    try:
        with httpx.Client(base_url=url.split("/?")[0], follow_redirects=True) as client:
            client.get(url).raise_for_status()
            entry = client.get("/api/files/0").json()
            regions = entry["regions"]
            face = regions[int(np.argmax([_iou(r["box"], faces[CLEAR]) for r in regions]))]
            x1, y1, x2, y2 = face["box"]
            eyes = {**face, "box": [x1 + 4, y1 + 8, x2 - 4, (y1 + y2) / 2], "source": "fine", "score": 0.5}
            ops = [
                {"op": "replace", "regions": [[face, {**face, "action": "keep"}]]},
                {"op": "add", "regions": [eyes]},
            ]
            client.patch("/api/files/0", json={"ops": ops, "version": entry["version"]}).raise_for_status()
            (result,) = client.post("/api/export").json()["results"]
    finally:
        _stop(proc)
    exported = Path(result["output"]).read_bytes()
    with Image.open(result["output"]) as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])
    regions_file = tmp_path / "review.unseen.json"  # the default: the current folder, outside -o
    assert main(["render", str(regions_file), "--overwrite"]) == 0
    assert Path(result["output"]).read_bytes() == exported
    session = ReviewSession.open(regions_file)
    with Image.open(result["output"]) as im:
        assert np.array_equal(session.picture(0, output=True), np.asarray(im.convert("RGB")))


def test_render_command_writes_outputs_from_the_regions(tmp_path, capsys):
    src = tmp_path / "people.png"
    original, faces = review_photo(src)
    assert main(["review", str(src), "--regions", str(tmp_path / "r.json"), "--help"]) == 0
    report = api.anonymise_file(src, tmp_path / "people.unseen.png")  # a normal run with --regions
    report.dst.unlink()
    write_regions_file(tmp_path / "r.json", [report], api.Options())
    raw = json.loads((tmp_path / "r.json").read_text())
    clear = int(np.argmax([_iou(r["box"], faces[CLEAR]) for r in raw["files"][0]["regions"]]))
    raw["files"][0]["regions"][clear]["action"] = "keep"
    (tmp_path / "r.json").write_text(json.dumps(raw))

    assert main(["render", str(tmp_path / "r.json")]) == 0
    dst = Path(raw["files"][0]["output"])
    with Image.open(dst) as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])
    assert main(["render", str(tmp_path / "r.json")]) == 0  # its own output: replaced
    Image.new("RGB", (8, 8)).save(dst)  # someone else's photo in its place: refused
    assert main(["render", str(tmp_path / "r.json")]) == 1
    assert "output exists but is not unseen's finished output" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "r.json"), "--overwrite"]) == 0
    assert main(["render", str(tmp_path / "missing.json")]) == 1
    assert "missing.json: cannot read regions file" in capsys.readouterr().err
    assert main(["render"]) == 2
    assert covered_fraction(original, out, faces[CLEAR]) == 0.0


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union
