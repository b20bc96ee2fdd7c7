"""The audit of photos end to end: a normal run is clean; copies, metadata, weak obscuring are found."""

from __future__ import annotations

import copy
import io
import shutil
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image
from scenes import Scene, compose_crowd

from unseen.api import FileReport, Options, anonymise_file
from unseen.audit import reid
from unseen.audit.core import AuditOptions, audit_pair
from unseen.audit.faces import SearchOptions
from unseen.audit.runs import read_run
from unseen.obscure import ObscureOptions
from unseen.plan import PlanOptions
from unseen.regions_file import write_regions_file

UPRIGHT = AuditOptions(search=SearchOptions(turns=(0,)))  # the cheaper look, where turns do not matter


@pytest.fixture(scope="module")
def scene() -> Scene:
    return compose_crowd(
        [40, 56, 80], (320, 420), seed=3, background_kind="rocket", faces=("astronaut", "cameraman")
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, scene: Scene) -> tuple[Path, FileReport]:
    """A normal run over one real-face photo, with its regions file."""
    folder = tmp_path_factory.mktemp("run")
    Image.fromarray(scene.image).save(folder / "crowd.jpg", quality=95)
    report = anonymise_file(folder / "crowd.jpg", folder / "crowd.unseen.jpg")
    assert len(report.regions) >= len(scene.boxes)
    write_regions_file(folder / "regions.json", [report])
    return folder, report


def with_output(report: FileReport, output: Path, folder: Path) -> Path:
    """A regions file describing the same run, but with ``output`` as the output."""
    other = copy.copy(report)
    other.dst = output
    write_regions_file(folder / "other.json", [other])
    return folder / "other.json"


def test_a_normal_run_audits_clean(run):
    folder, _ = run
    [pair] = read_run(folder / "regions.json").pairs
    audit = audit_pair(pair)  # the full look: every turn, both detectors, re-identification
    assert audit.findings == []
    assert audit.checks["reid"].startswith("0 face(s) compared with dlib ResNet embeddings")  # all filled
    assert "libfacedetection" in audit.checks["faces"] and "turned by 90, 180, 270" in audit.checks["faces"]
    assert audit.sha256_output and audit.sha256_original and audit.sha256_output != audit.sha256_original


def test_the_original_copied_as_output_gives_a_face_finding_for_every_face(run, scene, tmp_path):
    folder, report = run
    copied = tmp_path / "copied.jpg"
    shutil.copy(folder / "crowd.jpg", copied)
    [pair] = read_run(with_output(report, copied, tmp_path)).pairs
    audit = audit_pair(pair, UPRIGHT)
    for check, message in (
        ("faces", "face visible"),
        ("strength", "not obscured"),
        ("reid", "face still matches"),
    ):
        found = [f for f in audit.findings if f.check == check and f.message.startswith(message)]
        boxes = np.array([f.box for f in found], np.float32).reshape(-1, 4)
        for face in scene.boxes:  # every face has a finding of each kind there
            centre = (face[:2] + face[2:]) / 2
            assert ((centre >= boxes[:, :2]) & (centre <= boxes[:, 2:])).all(axis=1).any(), (check, face)


def test_metadata_written_back_into_an_output_is_named(run, tmp_path):
    folder, report = run
    tampered = tmp_path / "tampered.jpg"
    shutil.copy(folder / "crowd.unseen.jpg", tampered)
    thumb = io.BytesIO()
    Image.open(tampered).resize((32, 24)).save(thumb, format="JPEG")
    exif = {
        "0th": {piexif.ImageIFD.Make: b"Nikon"},
        "Exif": {piexif.ExifIFD.BodySerialNumber: b"3004711"},
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (30, 1)),
            piexif.GPSIFD.GPSLongitude: ((2, 1), (17, 1), (40, 1)),
        },
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumb.getvalue(),
    }
    piexif.insert(piexif.dump(exif), str(tampered))
    [pair] = read_run(with_output(report, tampered, tmp_path)).pairs
    audit = audit_pair(pair, UPRIGHT)
    metadata = [f.message for f in audit.findings if f.check == "metadata"]
    assert "EXIF Exif BodySerialNumber = 3004711" in metadata
    assert any(m.startswith("EXIF GPS GPSLatitude =") for m in metadata)
    assert any(m.startswith("EXIF GPS GPSLongitude =") for m in metadata)
    assert any(m.startswith("EXIF thumbnail") for m in metadata)
    assert {f.check for f in audit.findings} == {"metadata"}  # the pixels are the clean run's


def test_a_light_blur_is_a_strength_finding(run, tmp_path):
    folder, _ = run
    light = Options(obscure=ObscureOptions(method="blur", blur_strength=0.05))
    report = anonymise_file(folder / "crowd.jpg", tmp_path / "blurred.jpg", light)
    write_regions_file(tmp_path / "blurred.json", [report])
    [pair] = read_run(tmp_path / "blurred.json").pairs
    audit = audit_pair(pair, UPRIGHT)
    strength = [f.message for f in audit.findings if f.check == "strength"]
    assert strength and all("blur is weak protection" in m for m in strength)
    assert any(m.startswith("light blur") for m in strength)


def on_faces(findings: list, scene: Scene) -> list[str]:
    """Messages of the findings whose box holds one of the scene's real faces."""
    centres = (scene.boxes[:, :2] + scene.boxes[:, 2:]) / 2
    return [
        f.message
        for f in findings
        if f.box is not None and ((centres >= f.box[:2]) & (centres <= f.box[2:])).all(axis=1).any()
    ]


def test_a_fine_pixelation_is_a_strength_finding_and_the_default_one_is_not(run, scene, tmp_path):
    folder, _ = run
    found = {}
    for cells in (8, 24):
        options = Options(obscure=ObscureOptions(method="pixelate", pixel_cells=cells, seed=1))
        report = anonymise_file(folder / "crowd.jpg", tmp_path / f"pix{cells}.jpg", options)
        write_regions_file(tmp_path / f"pix{cells}.json", [report])
        [pair] = read_run(tmp_path / f"pix{cells}.json").pairs
        found[cells] = on_faces(
            [f for f in audit_pair(pair, UPRIGHT).findings if f.check == "strength"], scene
        )
    assert found[8] == []
    assert len(found[24]) == len(scene.boxes) and all(m.startswith("pixelation too fine") for m in found[24])


def test_a_narrower_margin_than_planned_is_a_strength_finding(run, tmp_path):
    folder, _ = run
    narrow = Options(plan=PlanOptions(margin=0.0, head_top=0.0))
    report = anonymise_file(folder / "crowd.jpg", tmp_path / "narrow.jpg", narrow)
    write_regions_file(tmp_path / "narrow.json", [report])
    [pair] = read_run(tmp_path / "narrow.json").pairs
    strength = [f.message for f in audit_pair(pair, UPRIGHT).findings if f.check == "strength"]
    assert strength and all(m.startswith("margin short") for m in strength)


def test_reid_matches_an_original_with_itself_and_not_with_its_filled_output(run, scene):
    folder, report = run
    original = np.asarray(Image.open(folder / "crowd.jpg").convert("RGB"))
    filled = np.asarray(Image.open(folder / "crowd.unseen.jpg").convert("RGB"))
    for face in scene.boxes:
        assert reid.still_matches(original, original, face) < reid.MATCH_DISTANCE
        assert reid.still_matches(original, filled, face) > reid.MATCH_DISTANCE


def test_without_the_extra_reid_is_skipped_and_says_why(run, monkeypatch):
    folder, _ = run
    monkeypatch.setattr(reid, "unavailable", lambda: "dlib is not installed: pip install 'unseen[audit]'")
    [pair] = read_run(folder / "regions.json").pairs
    audit = audit_pair(pair, UPRIGHT)
    assert audit.findings == []
    assert audit.checks["reid"] == "skipped: dlib is not installed: pip install 'unseen[audit]'"


def test_an_original_other_than_the_one_the_regions_file_describes_is_an_integrity_finding(run, tmp_path):
    folder, _ = run
    [pair] = read_run(folder / "regions.json").pairs
    pair.sha256 = "0" * 64  # as a /2 regions file records it
    assert any(f.check == "integrity" for f in audit_pair(pair, UPRIGHT).findings)
