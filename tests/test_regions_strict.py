"""Regions files are trusted no further than the command line: every number checked as it is stored
(float32 boxes and scores, 32-bit counts), options bounded as the command bounds its own, files that
cannot be verified rendered only on request, standard JSON only, every refusal one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from unseen import api
from unseen.cli import main
from unseen.errors import InputError, OutputError
from unseen.regions_file import fingerprint, load_document, save_document

FACE = [90.0, 29.0, 135.0, 89.0]  # the astronaut's face in the half-size picture


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "astronaut.png"
    Image.fromarray(np.ascontiguousarray(data.astronaut()[::2, ::2])).save(path)
    return path


def _document(src: Path, out: Path, **changes) -> dict:
    size, sha = fingerprint(src)
    region = {"box": FACE, "score": 1.0, "source": "manual", "frame": 0, "track": -1, "action": "obscure"}
    entry = {"input": str(src), "output": str(out), "kind": "image", "width": 256, "height": 256}
    entry |= {"frames": 1, "size": size, "sha256": sha, "regions": [region]}
    doc = {"schema": "unseen.regions/2", "tool": "unseen test", "options": None, "files": [entry]}
    for key, value in changes.items():
        where, _, name = key.partition("__")
        target = {"region": region, "entry": entry, "doc": doc}[where]
        target[name] = value
    return doc


def _render(tmp_path: Path, doc: dict | str, capsys, *flags: str) -> tuple[int, list[str]]:
    path = tmp_path / "regions.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code = main(["render", str(path), *flags])
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"region__box": [90, 29, 135, 1e39]}, "a box must have finite numbers (32-bit floats), not 1e+39"),
        ({"region__score": 1e39}, "'score' must have finite numbers"),
        (
            {"region__track": 10**30},
            "'track' must be a whole number from -1 to 2147483647, not 10000000000000000000...",
        ),
        ({"entry__zones": [{"box": [0, 0, 10, 1e39]}]}, "a zone's box must have finite numbers"),
        ({"entry__frames": 2**31}, "'frames' must be a whole number from 1 to 2147483647, not 2147483648"),
        ({"entry__width": True}, "'width' must be a whole number"),
    ],
)
def test_numbers_are_checked_as_they_are_stored(photo, tmp_path, capsys, change, reason):
    out = tmp_path / "out.png"
    code, err = _render(tmp_path, _document(photo, out, **change), capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"unseen render: {tmp_path / 'regions.json'}: file entry 0 is malformed: ")
    assert reason in err[0]
    assert not out.exists()


@pytest.mark.parametrize("output", ["", ".", "/", "out\0.png", None, 5])
def test_an_output_must_be_the_path_of_a_file(photo, tmp_path, capsys, monkeypatch, output):
    monkeypatch.chdir(tmp_path)
    code, err = _render(tmp_path, _document(photo, tmp_path / "out.png", entry__output=output), capsys)
    assert code == 1 and len(err) == 1, err
    assert "file entry 0 is malformed: 'output' must be the path of a file, not " in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut.png", "regions.json"]


@pytest.mark.parametrize(
    ("change", "described"),
    [({"entry__frames": 3}, "256 x 256 (3 frames)"), ({"entry__width": 300}, "300 x 256 (1 frames)")],
)
def test_an_entry_must_describe_its_input_as_it_is(photo, tmp_path, capsys, change, described):
    """The SHA-256 says which file; its size and frames must be the file's too (a photo said to have
    millions of frames would be painted frame by frame)."""
    out = tmp_path / "out.png"
    code, err = _render(tmp_path, _document(photo, out, **change), capsys)
    assert code == 1 and err == [
        f"unseen render: {photo}: is 256 x 256 (1 frames), but the regions file describes {described}; "
        "refusing to apply it"
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"schema": "unseen.regions/2", "files": [], "x": NaN}',
        '{"schema": "unseen.regions/2", "files": [], "x": -Infinity}',
        '{"schema": "unseen.regions/2", "files": [], "x": ' + "9" * 5000 + "}",
        '{"schema": "unseen.regions/2", "files": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_what_standard_json_cannot_hold_is_refused_in_one_line(tmp_path, capsys, text):
    code, err = _render(tmp_path, text, capsys)
    assert code == 1 and len(err) == 1 and "not a regions file" in err[0], err


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"method": "pixelate", "pixel_cells": 1_000_000}, "pixel_cells must be a whole number from 1 to 8"),
        ({"method": "pixelate", "pixel_cells": 8.5}, "pixel_cells must be a whole number"),
        ({"method": "blur", "blur_strength": 0.01}, "blur_strength must be a number 1 to 10, not 0.01"),
        ({"method": "blur", "blur_strength": 1e300}, "blur_strength must be a number 1 to 10"),
        ({"margin": -1}, "margin must be a number >= 0, not -1"),
        ({"margin": 10**400}, "margin must be a number >= 0"),
        ({"sensitivity": 0}, "sensitivity must be a number > 0, not 0"),
        ({"color": [0, 0, 0.5]}, "color must be three whole numbers 0..255"),
        ({"color": [0, 0, 256]}, "color must be three integers 0..255"),
    ],
)
def test_options_are_bounded_as_the_command_line_bounds_them(photo, tmp_path, capsys, options, reason):
    out = tmp_path / "out.png"
    code, err = _render(tmp_path, _document(photo, out, doc__options=options), capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("unseen render: regions file options are invalid: ") and reason in err[0]
    assert not out.exists()


def test_a_pixelated_face_stays_coarse(photo, tmp_path, capsys):
    """The run's own pixelation renders; the face is covered by at most 8 cells across."""
    out = tmp_path / "out.png"
    code, err = _render(
        tmp_path, _document(photo, out, doc__options={"method": "pixelate", "pixel_cells": 8}), capsys
    )
    assert code == 0, err
    with Image.open(out) as im:
        face = np.asarray(im.convert("RGB"))[40:80, 100:125]
    assert len(np.unique(face.reshape(-1, 3), axis=0)) < 40


def test_files_without_a_fingerprint_render_only_when_asked(photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    doc = _document(photo, out, doc__schema="unseen.regions/1")
    code, err = _render(tmp_path, doc, capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0] == (
        f"unseen render: {photo}: the regions file records no SHA-256 of this input (an unseen.regions/1 "
        "file records none), so it cannot be verified to be the file the regions were made for; refusing "
        "to render it (--unverified renders it anyway)"
    )
    assert not out.exists()
    with pytest.raises(InputError, match="cannot be verified"):
        api.render(tmp_path / "regions.json")

    code, err = _render(tmp_path, doc, capsys, "--unverified")
    assert code == 0, err
    assert err[0].startswith("unseen render: warning: 1 file(s) in ") and "cannot be verified" in err[0]
    assert err[1:] == [f"unseen render: {out}"]
    assert out.exists()


def test_a_regions_file_is_written_as_standard_json_or_not_at_all(photo, tmp_path):
    path = tmp_path / "regions.json"
    path.write_text(json.dumps(_document(photo, tmp_path / "out.png")))
    doc = load_document(path)
    before = path.read_bytes()
    doc.files[0].regions.scores[0] = np.nan
    with pytest.raises(OutputError, match="regions.json: cannot write regions file: Out of range float"):
        save_document(path, doc)
    assert path.read_bytes() == before
    doc.files[0].regions.scores[0] = 1.0
    doc.files[0].regions.data["note"] = np.array([float("inf")], object)
    with pytest.raises(OutputError, match="regions.json: cannot write regions file"):
        save_document(path, doc)
    assert path.read_bytes() == before
    assert json.loads(before, parse_constant=lambda name: pytest.fail(name))
