"""``unseen audit`` on the command line: exit codes, verdict lines, folders, JSON, verify, HTML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from scenes import compose_crowd

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
    report.write_text(capsys.readouterr().out)
    assert "data:image/jpeg;base64," in page.read_text() and "<link" not in page.read_text()
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
