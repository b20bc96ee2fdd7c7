"""``unseen audit`` on the command line: exit codes, verdict lines, folders, JSON, verify, HTML."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import piexif
import pytest
from PIL import Image
from scenes import compose_crowd

from unseen.audit.integrity import seal
from unseen.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """originals/day1/crowd.jpg anonymised into outputs/day1/crowd.jpg by the CLI, with a regions file."""
    root = tmp_path_factory.mktemp("cli")
    (root / "originals" / "day1").mkdir(parents=True)
    scene = compose_crowd([48, 72], (240, 320), seed=5, background_kind="gradient", faces=("astronaut",))
    Image.fromarray(scene.image).save(root / "originals" / "day1" / "crowd.jpg", quality=95)
    args = [
        str(root / "originals"),
        "-o",
        str(root / "outputs"),
        "--regions",
        str(root / "regions.json"),
        "--quiet",
    ]
    assert main(args) == 0
    return root


def test_a_clean_run_exits_0_with_one_verdict_line(folders, capsys):
    assert main(["audit", str(folders / "regions.json")]) == 0
    out = capsys.readouterr().out
    assert out == f"{folders / 'outputs' / 'day1' / 'crowd.jpg'}: clean\n"


def test_folders_pair_by_relative_path_and_findings_exit_1(folders, tmp_path, capsys):
    shutil.copytree(folders / "outputs", tmp_path / "outputs")
    shutil.copy(folders / "originals" / "day1" / "crowd.jpg", tmp_path / "outputs" / "day1" / "crowd.jpg")
    assert main(["audit", str(folders / "originals"), str(tmp_path / "outputs"), "--no-reid", "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    [entry] = doc["files"]
    assert entry["original"].endswith("originals/day1/crowd.jpg")
    assert entry["output"].endswith("outputs/day1/crowd.jpg")
    assert {f["check"] for f in entry["findings"]} >= {"faces", "strength"}
    assert entry["checks"]["reid"] == "skipped: turned off (--no-reid)"
    assert captured.err.startswith(f"{tmp_path / 'outputs' / 'day1' / 'crowd.jpg'}: ")  # verdicts on stderr


def test_json_report_verifies_until_an_output_changes(folders, tmp_path, capsys):
    shutil.copytree(folders / "outputs", tmp_path / "outputs")
    report = tmp_path / "audit.json"
    page = tmp_path / "audit.html"
    assert (
        main(
            ["audit", str(folders / "originals"), str(tmp_path / "outputs"), "--json", "--report", str(page)]
        )
        == 0
    )
    captured = capsys.readouterr()
    report.write_text(captured.out)
    assert "data:image/jpeg;base64," in page.read_text() and "<link" not in page.read_text()
    digest = captured.err.split("report sealed, sha256:")[1].split()[0]
    assert f"sha256:{digest}" in page.read_text()  # the page keeps the report's digest apart from it
    assert main(["audit", "--verify", str(report)]) == 0
    capsys.readouterr()
    Image.new("RGB", (320, 240)).save(tmp_path / "outputs" / "day1" / "crowd.jpg")
    assert main(["audit", "--verify", str(report)]) == 1
    assert "changed since the audit" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [[], ["a", "b", "c"], ["missing.json"], ["--stride", "0", "x.json"], ["--verify", "missing.json"]],
    ids=["nothing", "three", "missing", "stride", "verify-missing"],
)
def test_usage_errors_exit_2(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *args]) == 2
    assert capsys.readouterr().err


def test_a_file_that_is_not_a_regions_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "other.json").write_text('{"schema": "something/else"}')
    assert main(["audit", str(tmp_path / "other.json")]) == 2
    assert "not a regions file" in capsys.readouterr().err


def _audited(folders: Path, tmp_path: Path, capsys) -> tuple[Path, dict, str]:
    """A copy of the outputs audited into a JSON report; the report, its JSON and the digest printed."""
    shutil.copytree(folders / "outputs", tmp_path / "outputs")
    report = tmp_path / "audit.json"
    assert main(["audit", str(folders / "originals"), str(tmp_path / "outputs"), "--no-reid", "--json"]) == 0
    captured = capsys.readouterr()
    report.write_text(captured.out)
    [line] = [line for line in captured.err.splitlines() if "report sealed" in line]
    return report, json.loads(captured.out), line.split("sha256:")[1].split()[0]


def _verify(report: Path, capsys, *more: str) -> tuple[int, list[str]]:
    code = main(["audit", "--verify", str(report), *more])
    return code, capsys.readouterr().out.splitlines()


def test_verify_names_every_edit_of_a_sealed_report(folders, tmp_path, capsys):
    report, doc, digest = _audited(folders, tmp_path, capsys)
    output = doc["files"][0]["output"]
    code, lines = _verify(report, capsys, "--digest", digest)
    assert (code, lines) == (
        0,
        [f"{report}: whole and sealed (sha256:{digest}); every file still matches it"],
    )
    report.write_text(json.dumps(doc, indent=4))  # laid out anew: the same report
    assert _verify(report, capsys, "--digest", digest)[0] == 0

    hashes_deleted = json.loads(json.dumps(doc))
    del hashes_deleted["files"][0]["sha256_output"], hashes_deleted["files"][0]["sha256_original"]
    report.write_text(json.dumps(hashes_deleted))
    assert _verify(report, capsys) == (
        1,
        [
            f"{report}: edited since the audit: the entry of {output}",
            f"{output}: the report holds no SHA-256 of this output",
            f"{output}: the report holds no SHA-256 of its original",
        ],
    )

    emptied = {**doc, "files": []}
    report.write_text(json.dumps(emptied))
    assert _verify(report, capsys) == (
        1,
        [f"{report}: edited since the audit: it listed 1 file(s), now 0", "the report lists no files"],
    )

    unsealed = {k: v for k, v in doc.items() if k != "seal"}
    report.write_text(json.dumps(unsealed))
    code, lines = _verify(report, capsys)
    assert code == 1 and lines == [
        f"{report}: not sealed: it cannot show that it is whole (made by an older unseen, or edited)"
    ]


def test_a_hash_recomputed_after_gps_went_back_in_is_caught(folders, tmp_path, capsys):
    report, doc, digest = _audited(folders, tmp_path, capsys)
    output = Path(doc["files"][0]["output"])
    gps = {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (30, 1))}
    piexif.insert(piexif.dump({"GPS": gps}), str(output))
    doc["files"][0]["sha256_output"] = hashlib.sha256(output.read_bytes()).hexdigest()
    report.write_text(json.dumps(doc))
    assert _verify(report, capsys) == (1, [f"{report}: edited since the audit: the entry of {output}"])
    report.write_text(json.dumps(seal(doc)))  # the seal recomputed too: only a digest kept elsewhere shows it
    assert _verify(report, capsys)[0] == 0
    code, lines = _verify(report, capsys, "--digest", digest)
    assert code == 1 and lines[0].startswith(f"{report}: not the report whose digest was kept")


def test_the_verdict_names_gps_and_serials_before_the_rest_of_the_metadata(folders, tmp_path, capsys):
    output = tmp_path / "crowd.jpg"
    shutil.copy(folders / "outputs" / "day1" / "crowd.jpg", output)
    exif = {
        "0th": {piexif.ImageIFD.YCbCrPositioning: 1, piexif.ImageIFD.Make: b"Nikon"},
        "Exif": {piexif.ExifIFD.BodySerialNumber: b"3004711"},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (30, 1))},
    }
    piexif.insert(piexif.dump(exif), str(output))
    original = folders / "originals" / "day1" / "crowd.jpg"
    assert main(["audit", str(original), str(output), "--no-reid"]) == 1
    line = capsys.readouterr().out.strip()
    assert "(5 metadata); first: EXIF GPS GPSLatitude" in line, line
    output.write_bytes(b"")
    shutil.copy(original, output)  # a face left visible comes before everything else
    piexif.insert(piexif.dump(exif), str(output))
    assert main(["audit", str(original), str(output), "--no-reid"]) == 1
    assert "; first: face visible" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["original", "output", "regions file"])
def test_the_page_never_replaces_a_file_the_audit_reads(folders, tmp_path, capsys, target):
    """``--report`` names where the page goes; an original, an output or the regions file given by
    mistake is refused before anything is audited, and left as it was."""
    for name in ("originals", "outputs"):
        shutil.copytree(folders / name, tmp_path / name)
    regions = json.loads((folders / "regions.json").read_text())
    for entry in regions["files"]:
        for key in ("input", "output"):
            entry[key] = entry[key].replace(str(folders), str(tmp_path))
    (tmp_path / "regions.json").write_text(json.dumps(regions))
    victim = {
        "original": tmp_path / "originals" / "day1" / "crowd.jpg",
        "output": tmp_path / "outputs" / "day1" / "crowd.jpg",
        "regions file": tmp_path / "regions.json",
    }[target]
    before = victim.read_bytes()
    (tmp_path / "link").symlink_to(victim)

    for page in (victim, tmp_path / "link"):
        assert main(["audit", str(tmp_path / "regions.json"), "--report", str(page)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert (
            err[-1]
            == f"unseen audit: error: --report {page} is a file this audit reads; it is never replaced"
        )
    assert victim.read_bytes() == before
