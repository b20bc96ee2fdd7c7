"""The command line end to end, in-process: real photos, real pixels, real files on disk.

Photos are built from ``skimage.data.astronaut()``, which shows one real face at about
(180, 58)-(270, 178) in its 512 x 512 frame. Most runs use a half-size copy to keep detection cheap.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data
from tqdm import tqdm

from unseen import api
from unseen.batch import EARLIER_OUTPUT, HIDDEN, OTHER_TYPE, SYMLINKED_FOLDER, Job, find_inputs, output_path
from unseen.cli import AUDIO_NOTICE, BLUR_WARNING, VideoBar, main
from unseen.errors import InputError, OutputError
from unseen.regions import SCHEMA, Regions
from unseen.regions_file import read_regions_file, regions_document, write_regions_file

FACE = (180, 58, 270, 178)  # x1, y1, x2, y2 of the astronaut's face, full size
INSIDE = (slice(68, 168), slice(192, 258))  # rows, cols well inside the face
SMALL_INSIDE = (slice(34, 84), slice(96, 129))  # the same, in the half-size copy
FAR = (slice(300, 512), slice(0, 150))  # rows, cols far from the face (the suit, the flag)
SOURCES = {"full", "coarse", "fine", "interpolated", "extended", "manual"}


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def small(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[::2, ::2])


def save(pixels: np.ndarray, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("unseen: error:")]


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# --- discovery and output naming (no detection) -------------------------------------------------


def test_find_inputs_walks_sorted_and_lists_what_it_leaves_out(tmp_path):
    root = tmp_path / "in"
    for name in [
        "b.JPG",
        "a.png",
        "clip.mp4",
        "notes.txt",
        ".hidden.jpg",
        "x.unseen.jpg",
        "z/c.jpeg",
        "m/d.webp",
        ".git/e.jpg",
        "out/f.jpg",
    ]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (root / "linked").symlink_to(tmp_path / "elsewhere")
    found = find_inputs([root], exclude=[root / "out"])
    assert [j.src.relative_to(root).as_posix() for j in found.jobs] == [
        "a.png",
        "b.JPG",
        "clip.mp4",
        "m/d.webp",
        "z/c.jpeg",
    ]
    assert all(j.root == root for j in found.jobs)
    assert [j.kind for j in found.jobs] == ["image", "image", "video", "image", "image"]
    left_out = {p.relative_to(root).as_posix(): reason for p, reason in found.left_out}
    assert left_out == {
        ".git": HIDDEN,
        "linked": SYMLINKED_FOLDER,
        ".hidden.jpg": HIDDEN,
        "notes.txt": OTHER_TYPE,
        "x.unseen.jpg": EARLIER_OUTPUT,
    }
    assert found.failed == []
    # A file named directly is taken whatever its type (so it is reported, not ignored), and only once.
    direct = find_inputs([root / "notes.txt", root / "a.png", root]).jobs
    assert direct[0] == Job(root / "notes.txt", None, "image")
    assert direct[1] == Job(root / "a.png", None, "image")
    assert sum(j.src.name == "a.png" for j in direct) == 1
    missing = find_inputs([tmp_path / "missing.jpg"])
    assert missing.jobs == [] and missing.failed == [
        (tmp_path / "missing.jpg", f"{tmp_path / 'missing.jpg'}: no such file or folder")
    ]


def test_output_path_mapping(tmp_path):
    src = tmp_path / "in" / "sub" / "x.jpg"
    assert output_path(Job(src, None, "image"), None) == tmp_path / "in" / "sub" / "x.unseen.jpg"
    assert (
        output_path(Job(src, tmp_path / "in", "image"), tmp_path / "out")
        == tmp_path / "out" / "sub" / "x.jpg"
    )
    assert output_path(Job(src, None, "image"), tmp_path / "out") == tmp_path / "out" / "x.jpg"
    with pytest.raises(OutputError, match="overwrite the input"):
        output_path(Job(src, None, "image"), tmp_path / "in" / "sub")
    with pytest.raises(OutputError, match="overwrite the input"):
        output_path(Job(src, tmp_path / "in", "image"), tmp_path / "in")


# --- photos end to end ----------------------------------------------------------------------------


def test_single_file_gets_unseen_name_beside_it_and_face_is_filled(tmp_path, capsys, astronaut):
    src = save(astronaut, tmp_path / "portrait.png")
    before = sha256(src)
    code, out, err = run(capsys, src, "--method", "fill")
    assert code == 0, err
    dst = tmp_path / "portrait.unseen.png"
    assert files_under(tmp_path) == {"portrait.png", "portrait.unseen.png"}
    assert sha256(src) == before
    result = pixels(dst)
    assert result.shape == astronaut.shape
    assert result[INSIDE].mean() < 20  # the face is black
    assert np.array_equal(result[FAR], astronaut[FAR])  # elsewhere the photo is untouched
    assert out == ""
    # tiny low-confidence patches elsewhere are allowed (recall first); the face must be among them
    found = re.search(r"1 done, 0 skipped, 0 failed, (\d+) faces? found", err)
    assert found and int(found.group(1)) >= 1, err


def test_jpeg_default_name(tmp_path, capsys, small):
    src = save(small, tmp_path / "x.jpg", quality=92)
    before = sha256(src)
    code, _, err = run(capsys, src, "--quiet")
    assert code == 0, err
    assert err == ""  # --quiet: no summary
    assert (tmp_path / "x.unseen.jpg").is_file()
    assert sha256(src) == before
    with Image.open(tmp_path / "x.unseen.jpg") as im:
        assert im.format == "JPEG" and im.size == (256, 256)


def test_output_folder_keeps_tree_layout(tmp_path, capsys, small):
    root = tmp_path / "photos"
    save(small, root / "a.jpg")
    save(small, root / "sub" / "b.png")
    save(small[:, ::-1].copy(), root / "sub" / "deeper" / "c.jpeg")
    save(small, root / ".private" / "hidden.jpg")
    save(small, root / "old.unseen.jpg")
    (root / "notes.txt").write_text("not a photo")
    before = {p: sha256(root / p) for p in files_under(root)}
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, root, "-o", out_dir)
    assert code == 0, err
    assert files_under(out_dir) == {"a.jpg", "sub/b.png", "sub/deeper/c.jpeg"}
    assert {p: sha256(root / p) for p in files_under(root)} == before  # inputs untouched, nothing added
    for rel in ("a.jpg", "sub/b.png"):
        assert pixels(out_dir / rel)[SMALL_INSIDE].mean() < 20
    assert "3 done" in err


def test_output_folder_for_a_single_file_and_refusal_to_overwrite_input(tmp_path, capsys, small):
    src = save(small, tmp_path / "in" / "one.png")
    code, _, err = run(capsys, src, "-o", tmp_path / "out")
    assert code == 0, err
    assert files_under(tmp_path / "out") == {"one.png"}
    before = sha256(src)
    code, _, err = run(capsys, src, "-o", tmp_path / "in", "--overwrite")
    assert code == 1
    assert len(error_lines(err)) == 1 and "one.png" in err and "overwrite the input" in err
    assert sha256(src) == before


def test_only_unseens_own_finished_output_is_skipped(tmp_path, capsys, small):
    src = save(small, tmp_path / "p.jpg")
    dst = tmp_path / "p.unseen.jpg"
    dst.write_bytes(b"someone else's file")
    code, out, err = run(capsys, src, "--json")
    assert code == 1
    assert dst.read_bytes() == b"someone else's file"
    assert error_lines(err) == [
        f"unseen: error: {dst}: output exists but is not unseen's finished output of {src} "
        "(use --overwrite to replace it)"
    ]
    report = json.loads(out)
    assert (report["done"], report["skipped"], report["failed"]) == (0, 0, 1)

    code, _, err = run(capsys, src, "--overwrite")
    assert code == 0, err
    assert pixels(dst).shape == small.shape
    written = dst.read_bytes()
    code, out, err = run(capsys, src, "--json")  # the finished output is recognised: skipped
    assert code == 0, err
    assert f"skipped {src}: already done (output {dst})" in err
    assert json.loads(out)["skipped"] == 1 and dst.read_bytes() == written

    dst.write_bytes(src.read_bytes())  # the output replaced by the original: no longer ours
    code, _, err = run(capsys, src)
    assert code == 1 and "is not unseen's finished output" in err
    assert dst.read_bytes() == src.read_bytes()


def test_originals_copied_into_the_output_folder_are_not_reported_done(tmp_path, capsys, small):
    """`cp -r photos public; unseen photos -o public` must not publish the originals with exit 0."""
    photos = tmp_path / "photos"
    for name in ("a.jpg", "b.jpg"):
        save(small, photos / name, exif=_gps_exif())
    public = tmp_path / "public"
    public.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (public / name).write_bytes((photos / name).read_bytes())
    code, out, err = run(capsys, photos, "-o", public, "-q", "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["done"], report["skipped"], report["failed"]) == (0, 0, 2)
    assert len(error_lines(err)) == 2


def _gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {2: (51.0, 30.0, 0.0), 1: "N"}  # GPSInfo: latitude
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber
    return exif.tobytes()


def test_bad_files_fail_one_line_each_and_the_batch_goes_on(tmp_path, capsys, small):
    good1 = save(small, tmp_path / "good1.jpg")
    good2 = save(small, tmp_path / "sub" / "good2.png")
    whole = (tmp_path / "good1.jpg").read_bytes()
    bad = {
        "truncated.jpg": whole[: len(whole) // 3],
        "garbage.png": os.urandom(3000),
        "empty.jpg": b"",
        "notes.txt": b"hello",
    }
    for name, raw in bad.items():
        (tmp_path / name).write_bytes(raw)
    Image.fromarray(small).save(tmp_path / "picture.pcx")  # a format we cannot write back
    bad_names = [*bad, "picture.pcx"]
    args = [good1, *(tmp_path / n for n in bad_names), tmp_path / "sub", tmp_path / "missing.jpg"]
    code, out, err = run(capsys, *args, "--json")
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == len(bad_names) + 1
    for name in [*bad_names, "missing.jpg"]:
        assert sum(name in line for line in lines) == 1, (name, lines)
    assert (tmp_path / "good1.unseen.jpg").is_file() and (tmp_path / "sub" / "good2.unseen.png").is_file()
    for name in bad_names:
        stem, ext = name.rsplit(".", 1)
        assert not (tmp_path / f"{stem}.unseen.{ext}").exists()
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]
    report = json.loads(out)
    assert (report["done"], report["skipped"], report["failed"]) == (2, 0, len(bad_names) + 1)
    failed = {Path(f["input"]).name: f for f in report["files"] if f["status"] == "failed"}
    assert set(failed) == {*bad_names, "missing.jpg"}
    assert all(f["error"] and Path(f["input"]).name in f["error"] for f in failed.values())
    assert good2.is_file()


def test_unexpected_errors_are_reported_per_file(tmp_path, capsys, small, monkeypatch):
    first = save(small, tmp_path / "first.jpg")
    second = save(small, tmp_path / "second.jpg")
    real = api.anonymise_file

    def flaky(src, dst, options=None, overwrite=False):
        if Path(src).name == "first.jpg":
            raise RuntimeError("boom")
        return real(src, dst, options, overwrite)

    monkeypatch.setattr(api, "anonymise_file", flaky)
    code, _, err = run(capsys, first, second)
    assert code == 1
    assert error_lines(err) == [f"unseen: error: {first}: unexpected error: RuntimeError: boom"]
    assert (tmp_path / "second.unseen.jpg").is_file()


def test_interrupt_exits_130(tmp_path, capsys, small, monkeypatch):
    src = save(small, tmp_path / "a.jpg")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "anonymise_file", interrupted)
    code, _, err = run(capsys, src)
    assert code == 130
    assert "interrupted" in err
    assert files_under(tmp_path) == {"a.jpg"}


def test_json_report(tmp_path, capsys, astronaut):
    src = save(astronaut, tmp_path / "a.jpg")
    code, out, err = run(capsys, src, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["done"] == 1 and report["failed"] == 0 and report["skipped"] == 0
    assert report["faces"] >= 1
    assert report["seconds"] >= 0 and report["tool"].startswith("unseen ")
    (entry,) = report["files"]
    assert entry["input"] == str(src) and entry["output"] == str(tmp_path / "a.unseen.jpg")
    assert entry["status"] == "done" and entry["error"] is None and entry["faces"] >= 1
    assert "done," not in err  # the JSON replaces the human summary


def test_regions_file_schema_and_round_trip(tmp_path, capsys, astronaut, small):
    big = save(astronaut, tmp_path / "big.png")
    little = save(small, tmp_path / "little.jpg")
    regions_path = tmp_path / "r.json"
    code, _, err = run(capsys, big, little, "--regions", regions_path)
    assert code == 0, err
    doc = json.loads(regions_path.read_text())
    assert doc["schema"] == SCHEMA == "unseen.regions/2"
    assert doc["tool"].startswith("unseen ")
    assert [f["input"] for f in doc["files"]] == [str(big), str(little)]
    for entry, size in zip(doc["files"], (512, 256), strict=True):
        assert set(entry) == {"input", "output", "kind", "width", "height", "frames", "regions"} | {
            "size",
            "sha256",
            "reviewed",
            "edited",
        }
        assert (entry["kind"], entry["width"], entry["height"], entry["frames"]) == ("image", size, size, 1)
        assert Path(entry["output"]).is_file()
        assert len(entry["regions"]) >= 1
        for region in entry["regions"]:
            assert set(region) == {"box", "score", "source", "frame", "track", "action"}
            x1, y1, x2, y2 = region["box"]
            assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
            assert 0 <= region["score"] <= 1
            assert region["source"] in SOURCES
            assert (region["frame"], region["track"]) == (0, -1)
    # The detected face is the astronaut's, as detected (not grown by the margin).
    box = doc["files"][0]["regions"][0]["box"]
    assert all(abs(a - b) < 15 for a, b in zip(box, FACE, strict=True))

    back = read_regions_file(regions_path)
    assert list(back) == [str(big), str(little)]
    for entry in doc["files"]:
        regions = back[entry["input"]]
        assert isinstance(regions, Regions)
        assert regions.to_records() == [
            {k: v for k, v in r.items() if k != "action"} for r in entry["regions"]
        ]


def test_regions_file_module(tmp_path):
    report = api.FileReport(
        Path("in.jpg"),
        Path("in.unseen.jpg"),
        "image",
        40,
        30,
        Regions.from_boxes([[1, 2, 11, 12], [5, 5, 9, 9]], [0.5, 0.25], source="fine"),
        0.1,
    )
    path = tmp_path / "deep" / "regions.json"
    write_regions_file(path, [report])
    assert json.loads(path.read_text()) == regions_document([report])
    assert read_regions_file(path)["in.jpg"].to_records() == report.regions.to_records()
    write_regions_file(path, [])  # replaces, never refuses
    assert read_regions_file(path) == {}
    assert files_under(tmp_path) == {"deep/regions.json"}
    for text in [
        "not json",
        json.dumps({"schema": "other/1", "files": []}),
        json.dumps({"schema": SCHEMA, "files": [{"input": "a"}]}),
    ]:
        path.write_text(text)
        with pytest.raises(InputError, match="regions.json"):
            read_regions_file(path)


# --- methods and option validation ----------------------------------------------------------------


def test_pixelate_changes_the_face(tmp_path, capsys, astronaut):
    src = save(astronaut, tmp_path / "a.png")
    code, _, err = run(capsys, src, "--method", "pixelate")
    assert code == 0, err
    result = pixels(tmp_path / "a.unseen.png")
    diff = np.abs(result[INSIDE].astype(int) - astronaut[INSIDE].astype(int)).mean()
    assert diff > 10
    assert result[INSIDE].mean() > 40  # pixelated, not painted black
    assert np.array_equal(result[FAR], astronaut[FAR])


def test_blur_warns(tmp_path, capsys, small):
    src = save(small, tmp_path / "a.png")
    code, _, err = run(capsys, src, "--method", "blur", "--quiet")
    assert code == 0
    assert BLUR_WARNING in err and "weakest" in err


def test_image_method(tmp_path, capsys, small):
    code, _, err = run(capsys, tmp_path / "any.jpg", "--method", "image")
    assert code == 2 and "--image" in err
    overlay = save(np.full((8, 8, 3), (255, 0, 0), np.uint8), tmp_path / "red.png")
    src = save(small, tmp_path / "a.png")
    code, _, err = run(capsys, src, "--method", "image", "--image", overlay, "--shape", "box")
    assert code == 0, err
    face = pixels(tmp_path / "a.unseen.png")[SMALL_INSIDE].astype(int)
    assert (face[..., 0] > 240).all() and (face[..., 1:] < 15).all()
    code, _, err = run(capsys, src, "--image", overlay)
    assert code == 2 and "--method image" in err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--color", "chartreuse-ish"], "colour"),
        (["--color", "300,0,0"], "colour"),
        (["--margin", "-0.5"], "--margin"),
        (["--margin", "nan"], "--margin"),
        (["--sensitivity", "0"], "--sensitivity"),
        (["--method", "smudge"], "invalid choice"),
        (["--crf", "99"], "--crf"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, fragment):
    src = tmp_path / "never-read.jpg"
    code, _, err = run(capsys, src, *args)
    assert code == 2
    assert fragment in err
    assert not list(tmp_path.iterdir())


def test_missing_path_exits_1_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-photo.jpg"
    code, _, err = run(capsys, missing)
    assert code == 1
    assert error_lines(err) == [f"unseen: error: {missing}: no such file or folder"]


def test_two_inputs_with_one_output_name(tmp_path, capsys, small):
    a = save(small, tmp_path / "a" / "same.jpg")
    b = save(small, tmp_path / "b" / "same.jpg")
    code, _, err = run(capsys, a, b, "-o", tmp_path / "out")
    assert code == 1
    (line,) = error_lines(err)
    assert str(b) in line and "also the output" in line
    assert files_under(tmp_path / "out") == {"same.jpg"}


# --- videos (the CLI's side of the contract) ------------------------------------------------------


def test_video_contract(tmp_path, capsys, monkeypatch):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"not decoded by this fake")
    calls = []

    def fake(src, dst, options, *, overwrite, audio, codec, crf, progress, record, accept_concealed):
        calls.append((audio, codec, crf, overwrite, record, accept_concealed))
        for done in range(1, 4):
            progress(done, 3)
        Path(dst).write_bytes(b"video")
        regions = Regions.from_boxes([[1, 1, 5, 5], [2, 1, 6, 5]], source="full", track=0)
        regions.frame[:] = [0, 1]
        return api.FileReport(
            Path(src),
            Path(dst),
            "video",
            64,
            48,
            regions,
            0.5,
            frames=3,
            tracks=1,
            faces=1,
            notices=["subtitles dropped"],
            audio=audio == "keep",
        )

    monkeypatch.setattr(api, "anonymise_video_file", fake)
    code, out, err = run(
        capsys,
        src,
        "--json",
        "--audio",
        "keep",
        "--codec",
        "libx265",
        "--crf",
        "23",
        "--regions",
        tmp_path / "r.json",
    )
    assert code == 0, err
    assert calls == [("keep", "libx265", 23, False, True, False)]
    report = json.loads(out)
    assert (report["done"], report["faces"], report["frames"]) == (1, 1, 3)
    assert AUDIO_NOTICE in report["notices"] and f"{src}: subtitles dropped" in report["notices"]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["files"][0]["kind"] == "video" and doc["files"][0]["frames"] == 3
    assert [r["frame"] for r in doc["files"][0]["regions"]] == [0, 1]

    code, _, err = run(capsys, src, "--overwrite", "--audio", "drop")
    assert code == 0 and calls[-1] == ("drop", None, 18, True, False, False)
    assert "video frames" in err and "voices" not in err


# --- the entry point ------------------------------------------------------------------------------


def test_python_dash_m_entry_point(tmp_path, small):
    src = save(small, tmp_path / "a.jpg")
    proc = subprocess.run(
        [sys.executable, "-m", "unseen", str(src), "--json"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["faces"] >= 1
    assert (tmp_path / "a.unseen.jpg").is_file()
    version = subprocess.run([sys.executable, "-m", "unseen", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("unseen ")


def test_video_progress_counts_each_pass_once():
    """The API reports both passes as one count to 2 x frames; the bar shows each pass out of the frames."""
    stream = io.StringIO()
    with tqdm(file=stream, disable=False) as bar:
        progress = VideoBar(bar)
        seen = []
        for done in range(1, 201):  # 100 frames: pass 1 reports 1..100, pass 2 101..200
            progress(done, 200)
            seen.append((bar.desc, bar.n, bar.total))
    assert seen[0] == ("analysing", 1, 100)
    assert seen[99] == ("analysing", 100, 100)
    assert seen[100] == ("writing", 1, 100)
    assert seen[-1] == ("writing", 100, 100)
    assert all(total == 100 for _, _, total in seen)


def test_summary_mentions_video_frames_only_when_a_video_was_done(tmp_path, capsys, small):
    src = save(small, tmp_path / "p.jpg")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    code, _, err = run(capsys, src, tmp_path / "broken.mp4")
    assert code == 1
    summary = [line for line in err.splitlines() if " done, " in line]
    assert len(summary) == 1 and "video frames" not in summary[0]


def test_a_walk_names_photos_that_need_an_extra(tmp_path, capsys, small, monkeypatch):
    monkeypatch.setattr("unseen.batch.EXTRA_EXTENSIONS", {".heic": "pip install 'unseen[heif]'"})
    save(small, tmp_path / "in" / "a.jpg")
    for name in ("b.HEIC", "c.heic"):
        (tmp_path / "in" / name).write_bytes(b"heic bytes")
    code, _, err = run(capsys, tmp_path / "in", "-o", tmp_path / "out")
    assert code == 0, err
    assert "note: left out 2 .heic photos (they need pip install 'unseen[heif]'), e.g." in err


def test_an_unreadable_image_overlay_is_a_usage_error(tmp_path, capsys, small):
    src = save(small, tmp_path / "p.jpg")
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb)  # 900 M pixels: refused before decoding
    code, _, err = run(capsys, src, "--method", "image", "--image", bomb)
    assert code == 2 and "Traceback" not in err
    assert f"--image: {bomb}: image too large" in err
