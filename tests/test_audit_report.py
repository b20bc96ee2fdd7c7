"""The audit's reports: verdict lines, the JSON that pins the files, and the self-contained HTML page."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scenes import compose_crowd

from unseen.api import anonymise_file
from unseen.audit.core import AuditOptions, audit_pair
from unseen.audit.faces import SearchOptions
from unseen.audit.html import write_html
from unseen.audit.integrity import seal, verify
from unseen.audit.report import document, verdict
from unseen.audit.runs import Pair
from unseen.errors import InputError

CHROMIUM = Path("/usr/bin/chromium")
QUICK = AuditOptions(search=SearchOptions(turns=(0,)))


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory):
    """A clean output and the original copied as an output, audited, with their JSON report."""
    folder = tmp_path_factory.mktemp("report")
    scene = compose_crowd([48, 72], (240, 320), seed=5, background_kind="gradient", faces=("astronaut",))
    Image.fromarray(scene.image).save(folder / "original.jpg", quality=95)
    clean = anonymise_file(folder / "original.jpg", folder / "clean.jpg")
    shutil.copy(folder / "original.jpg", folder / "copied.jpg")
    audits = [
        audit_pair(Pair(folder / "original.jpg", folder / name, "image", clean.regions), QUICK)
        for name in ("clean.jpg", "copied.jpg")
    ]
    doc = document(audits, QUICK.to_json(), "paths")
    (folder / "audit.json").write_text(json.dumps(doc))
    return folder, scene, audits, doc


def test_verdict_lines_and_the_json_document(audited):
    folder, _, (clean, copied), doc = audited
    assert verdict(clean) == f"{folder / 'clean.jpg'}: clean"
    line = verdict(copied)
    assert line.startswith(f"{folder / 'copied.jpg'}: ") and "\n" not in line
    assert "face visible" in line and "; first: face visible" in line  # faces are named before the rest
    assert doc["schema"] == "unseen.audit/1" and doc["tool"].startswith("unseen ")
    assert doc["findings"] == len(copied.findings) > 0
    assert doc["files"][0]["sha256_output"] == clean.sha256_output
    assert doc["options"]["search"]["turns"] == [0]


def test_verify_notices_an_output_changed_after_the_audit(audited, tmp_path):
    folder, _, _, doc = audited
    for name in ("original.jpg", "clean.jpg", "copied.jpg"):
        shutil.copy(folder / name, tmp_path / name)
    for entry in doc["files"]:  # the report beside the files, naming them relatively (sealed anew)
        entry["output"], entry["original"] = Path(entry["output"]).name, Path(entry["original"]).name
    (tmp_path / "audit.json").write_text(json.dumps(seal(doc)))
    assert verify(tmp_path / "audit.json") == []
    with (tmp_path / "clean.jpg").open("ab") as fh:
        fh.write(b"\0")
    assert verify(tmp_path / "audit.json") == [
        "clean.jpg: changed since the audit (output no longer matches its SHA-256)"
    ]
    (tmp_path / "regions.json").write_text('{"schema": "unseen.regions/1", "files": []}')
    with pytest.raises(InputError, match="not an audit report"):
        verify(tmp_path / "regions.json")


def test_verify_refuses_a_report_whose_hashes_or_files_were_taken_out(audited, tmp_path):
    folder = audited[0]
    assert verify(folder / "audit.json") == []
    doc = json.loads((folder / "audit.json").read_text())
    for entry in doc["files"]:
        entry.pop("sha256_output")
    (tmp_path / "no-hashes.json").write_text(json.dumps(doc))
    problems = verify(tmp_path / "no-hashes.json")
    assert [p for p in problems if "no SHA-256 of this output" in p] == [
        f"{folder / name}: the report holds no SHA-256 of this output" for name in ("clean.jpg", "copied.jpg")
    ]
    (tmp_path / "no-files.json").write_text(json.dumps({**doc, "files": []}))
    assert "the report lists no files" in verify(tmp_path / "no-files.json")


def decoded(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
)
def test_the_html_report_opens_in_chromium_and_shows_the_outputs_with_findings_marked(audited):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the test extra)")
    folder, scene, (clean, copied), doc = audited
    page_path = folder / "audit.html"
    write_html(page_path, doc, [clean, copied])
    requests = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        sections = page.locator("section")
        assert sections.count() == 2
        assert "clean" in sections.nth(0).locator(".verdict").inner_text()
        assert sections.nth(0).locator(".mark").count() == 0
        boxed = [f for f in copied.findings if f.box is not None]
        assert sections.nth(1).locator(".mark").count() == len(boxed) > 0
        assert "face visible" in sections.nth(1).inner_text()
        sources = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.src, i.naturalWidth])")
        mark = sections.nth(1).locator(".mark").first.bounding_box()
        picture = sections.nth(1).locator("img").bounding_box()
        browser.close()
    assert all(url.startswith(("file:", "data:")) for url in requests)  # nothing fetched from anywhere
    assert [width for _, width in sources] == [320, 320]
    assert mark["x"] >= picture["x"] and mark["y"] >= picture["y"]  # marks sit on the picture
    # The page shows the output, never the original: where the faces were, it is black.
    shown = decoded(sources[0][0])
    for x1, y1, x2, y2 in scene.boxes.astype(int):
        assert shown[y1 + 4 : y2 - 4, x1 + 4 : x2 - 4].mean() < 30
        assert scene.image[y1:y2, x1:x2].mean() > 60
