"""``unseen review`` and ``unseen render`` as a person runs them: address printed, Ctrl-C, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
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


def _start(*args: str, cwd: Path) -> tuple[subprocess.Popen, str, str]:
    """Run ``unseen review ARGS --no-browser``; return the process, its address and its token."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen", "review", *args, "--no-browser"],
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
            first = client.get("/api/files/0").json()["regions"][0]
            ops = [{"op": "replace", "regions": [[first, {**first, "action": "keep"}]]}]
            client.patch("/api/files/0", json={"ops": ops}).raise_for_status()
    finally:
        err = _stop(proc)
    regions_file = out / "review.unseen.json"
    assert f"resume with: unseen review --regions {regions_file.relative_to(tmp_path)}" in err
    assert not (out / "people.png").exists()  # nothing is written before Export
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


def test_export_writes_the_same_bytes_as_render_and_the_preview_shows_them(tmp_path):
    """A fresh review's Export, ``unseen render`` of its regions file and the page's preview of the
    output agree pixel for pixel (the detector's boxes are unrounded; the file keeps 0.1 px), and a
    face kept stays visible under a second box over its eyes."""
    original, faces = review_photo(tmp_path / "people.png")
    proc, url, _ = _start("people.png", "-o", "out", cwd=tmp_path)
    try:
        with httpx.Client(base_url=url.split("/?")[0], follow_redirects=True) as client:
            client.get(url).raise_for_status()
            regions = client.get("/api/files/0").json()["regions"]
            face = regions[int(np.argmax([_iou(r["box"], faces[CLEAR]) for r in regions]))]
            x1, y1, x2, y2 = face["box"]
            eyes = {**face, "box": [x1 + 4, y1 + 8, x2 - 4, (y1 + y2) / 2], "source": "fine", "score": 0.5}
            ops = [
                {"op": "replace", "regions": [[face, {**face, "action": "keep"}]]},
                {"op": "add", "regions": [eyes]},
            ]
            client.patch("/api/files/0", json={"ops": ops}).raise_for_status()
            (result,) = client.post("/api/export").json()["results"]
    finally:
        _stop(proc)
    exported = Path(result["output"]).read_bytes()
    with Image.open(result["output"]) as im:
        out = np.asarray(im.convert("RGB"))
    x1, y1, x2, y2 = (int(v) for v in faces[CLEAR])
    assert np.array_equal(out[y1:y2, x1:x2], original[y1:y2, x1:x2])
    regions_file = tmp_path / "out" / "review.unseen.json"
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
    assert main(["render", str(tmp_path / "r.json")]) == 1  # the output exists
    assert "output exists" in capsys.readouterr().err
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
