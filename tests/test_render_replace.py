"""Nothing replaced that unseen did not make: ``unseen render`` and review's Export replace only
unseen's own finished output of the same input (anything else only with ``--overwrite``), and no
output ever replaces a file the run reads, whatever a hand-edited regions file says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from unseen.cli import main
from unseen.regions_file import fingerprint, load_document
from unseen.review.session import ReviewSession

FACE = [90.0, 29.0, 135.0, 89.0]  # the astronaut's face in the half-size picture
HALF = np.ascontiguousarray(data.astronaut()[::2, ::2])


def _photo(path: Path, pixels: np.ndarray = HALF) -> Path:
    Image.fromarray(pixels).save(path)
    return path


def _entry(src: Path, out: Path) -> dict:
    size, sha = fingerprint(src)
    region = {"box": FACE, "score": 1.0, "source": "manual", "frame": 0, "track": -1, "action": "obscure"}
    return {
        "input": str(src),
        "output": str(out),
        "kind": "image",
        "width": 256,
        "height": 256,
        "frames": 1,
        "size": size,
        "sha256": sha,
        "regions": [region],
    }


def _regions(path: Path, *entries: dict) -> Path:
    doc = {"schema": "unseen.regions/2", "tool": "unseen test", "options": None, "files": list(entries)}
    path.write_text(json.dumps(doc))
    return path


def _render(regions: Path, capsys, *flags: str) -> tuple[int, list[str]]:
    code = main(["render", str(regions), *flags])
    return code, capsys.readouterr().err.splitlines()


def _face_covered(path: Path) -> bool:
    with Image.open(path) as im:
        face = np.asarray(im.convert("RGB"))[45:75, 100:125]
    return bool((face == 0).all())


def test_render_replaces_its_own_output_and_refuses_any_other_file(tmp_path, capsys):
    src, out = _photo(tmp_path / "a.png"), tmp_path / "a.unseen.png"
    regions = _regions(tmp_path / "r.json", _entry(src, out))
    assert _render(regions, capsys) == (0, [f"unseen render: {out}"])
    assert _render(regions, capsys) == (0, [f"unseen render: {out}"])  # its own: replaced
    assert _face_covered(out)

    unrelated = _photo(out, HALF[::-1])  # a photo of someone else's with the output's name
    before = unrelated.read_bytes()
    code, err = _render(regions, capsys)
    assert code == 1 and err == [
        f"unseen render: {out}: output exists but is not unseen's finished output of {src} "
        "(use --overwrite to replace it)"
    ]
    assert out.read_bytes() == before
    assert _render(regions, capsys, "--overwrite") == (0, [f"unseen render: {out}"])
    assert _face_covered(out)


@pytest.mark.parametrize("target", ["own input", "other input", "regions file"])
def test_overwrite_never_replaces_a_file_the_run_reads(tmp_path, capsys, target):
    """A hand-edited ``output`` pointing at an original (its own, another file's) or at the regions
    file itself is refused even with --overwrite, and the other files are still rendered."""
    a, b = _photo(tmp_path / "a.png"), _photo(tmp_path / "b.png", HALF[:, ::-1])
    regions = tmp_path / "r.json"
    victim = {"own input": a, "other input": b, "regions file": regions}[target]
    _regions(regions, _entry(a, victim), _entry(b, tmp_path / "b.unseen.png"))
    before = victim.read_bytes()

    code, err = _render(regions, capsys, "--overwrite")

    assert code == 1 and len(err) == 2
    assert err[0] == (
        f"unseen render: {victim}: is an input of this run ({victim}); it is never replaced, "
        "not even with --overwrite"
    )
    assert err[1] == f"unseen render: {tmp_path / 'b.unseen.png'}"
    assert victim.read_bytes() == before


def test_export_replaces_only_unseens_own_output_of_the_same_input(tmp_path):
    src, out = _photo(tmp_path / "a.png"), tmp_path / "a.unseen.png"
    path = _regions(tmp_path / "r.json", _entry(src, out))
    session = ReviewSession(path, load_document(path))

    unrelated = _photo(out, HALF[::-1])
    before = unrelated.read_bytes()
    (result,) = session.export()
    assert result == {
        "index": 0,
        "output": str(out),
        "ok": False,
        "error": f"{out}: a file that is not unseen's output of {src} is already there, and Export "
        "never replaces it: move or delete that file, then Export again",
    }
    assert out.read_bytes() == before

    out.unlink()
    assert session.export() == [{"index": 0, "output": str(out), "ok": True}]
    assert session.export() == [{"index": 0, "output": str(out), "ok": True}]  # its own: replaced
    assert _face_covered(out)


def test_export_replaces_the_output_of_an_earlier_plain_run(tmp_path, capsys):
    """A plain run's output is unseen's own: review then Export redoes it from the corrected regions."""
    folder = tmp_path / "in"
    folder.mkdir()
    src = _photo(folder / "a.png")
    assert main([str(folder), "-o", str(tmp_path / "out"), "-q"]) == 0
    out = tmp_path / "out" / "a.png"
    entry = _entry(src, out)
    entry["regions"][0]["action"] = "keep"  # the person keeps the face visible
    path = _regions(tmp_path / "r.json", entry)
    assert ReviewSession(path, load_document(path)).export() == [{"index": 0, "output": str(out), "ok": True}]
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im.convert("RGB"))[45:75, 100:125], HALF[45:75, 100:125])
