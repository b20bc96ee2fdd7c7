"""Publishing verified outputs only: a full disk, a short write or a file that does not read back
publishes nothing, keeps no record, and a later run with space writes the output.

The full disk is a real one: a small tmpfs mounted for the test (tests run as root in CI).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from clips import make_clip, truncate
from PIL import Image
from skimage import data

from unseen.cli import main
from unseen.errors import OutputError
from unseen.media import image as image_io
from unseen.media.atomic import atomic_output, checked_writes
from unseen.media.video import check_packets

PHOTO = np.ascontiguousarray(data.astronaut()[::2, ::2])  # one real face, 256 x 256
FORMATS = {"jpg": "JPEG", "png": "PNG", "tif": "TIFF", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
if "HEIF" in Image.SAVE and ".heic" in image_io.IMAGE_EXTENSIONS:
    FORMATS["heic"] = "HEIF"


def _mount(folder: Path, size: str, remount: bool = False) -> None:
    options = f"remount,size={size}" if remount else f"size={size}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 KiB tmpfs: one page, smaller than any output here."""
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        _mount(folder, "4k")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("mounting a tmpfs is not permitted here (needs root): the full-disk tests cannot run")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def _inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for ext, fmt in FORMATS.items():
        path = folder / f"photo.{ext}"
        Image.fromarray(PHOTO).save(path, format=fmt)
        paths.append(path)
    paths.append(make_clip(folder / "clip.mp4", frames=12))
    return paths


def _records(state: Path) -> list[Path]:
    return [p for p in state.rglob("*") if p.is_file()]


def test_a_full_disk_publishes_nothing_for_any_format_and_a_later_run_writes_it(
    small_disk, tmp_path, state_dir, capsys
):
    inputs = _inputs(tmp_path / "in")
    out = small_disk / "out"

    assert main([str(tmp_path / "in"), "-o", str(out), "-q"]) == 1

    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == len(inputs)
    for src in inputs:
        (line,) = [e for e in errors if f"out/{src.name}" in e]
        assert line.startswith(f"unseen: error: {src}: ") and "No space left on device" in line
    assert [p.name for p in out.rglob("*")] == []  # no output, no temporary file
    assert _records(state_dir) == []  # nothing vouched for

    _mount(small_disk, "32m", remount=True)
    assert main([str(tmp_path / "in"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{len(inputs)} done, 0 skipped, 0 failed" in err and "already done" not in err
    for src in inputs[:-1]:
        with Image.open(out / src.name) as im:
            im.load()
            assert im.size == (256, 256)
    check_packets(out / "clip.mp4", 12)


def test_a_short_write_fails_the_write_instead_of_leaving_a_short_file(small_disk):
    """Pillow's optimised JPEG goes out in one write() of the whole file; on a full disk the kernel
    writes what fits and returns a short count, which Pillow ignores when it holds the descriptor."""
    dst = small_disk / "photo.jpg"
    with pytest.raises(OSError, match="No space left"), atomic_output(dst) as tmp, checked_writes(tmp) as fh:
        Image.fromarray(PHOTO).save(fh, format="JPEG", quality=95, optimize=True)
    assert list(small_disk.iterdir()) == []


def test_checked_writes_refuses_a_file_that_is_not_as_long_as_what_was_written(tmp_path):
    dst = tmp_path / "out.png"
    with pytest.raises(OSError, match="1000 bytes were written but the file holds 10"):
        with atomic_output(dst) as tmp, checked_writes(tmp) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            with open(tmp, "r+b") as other:  # someone else cuts it short meanwhile
                other.truncate(10)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cut", [0.5, -2])
def test_a_jpeg_cut_short_does_not_read_back(tmp_path, cut):
    """Read back at an eighth of its size, a JPEG still has all its compressed data parsed; the end
    marker, which the decoder does without, is checked too."""
    buffer = io.BytesIO()
    Image.fromarray(PHOTO).save(buffer, format="JPEG", quality=95, optimize=True)
    raw = buffer.getvalue()
    dst = tmp_path / "photo.jpg"
    with pytest.raises(
        OutputError, match=r"photo.jpg: the file written does not read back whole .*not published"
    ):
        with atomic_output(dst, verify=lambda tmp: image_io._check_written("JPEG", (256, 256), tmp)) as tmp:
            tmp.write_bytes(raw[: int(len(raw) * cut) if cut > 0 else cut])
    assert list(tmp_path.iterdir()) == []
    with atomic_output(dst, verify=lambda tmp: image_io._check_written("JPEG", (256, 256), tmp)) as tmp:
        tmp.write_bytes(raw)
    assert dst.read_bytes() == raw


def test_a_video_missing_frames_is_not_published(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=20, audio=False)
    check_packets(clip, 20)
    with pytest.raises(ValueError, match="holds 20 of the 21 frames written"):
        check_packets(clip, 21)
    with pytest.raises(ValueError, match="does not open as a video"):
        check_packets(truncate(clip, 0.3), 20)


def test_every_frame_of_an_animation_is_read_back(tmp_path):
    """A GIF cut inside its last frame still opens and shows its first frames: only decoding every
    frame tells it from a whole one."""
    frames = [Image.fromarray(np.roll(PHOTO, 40 * i, axis=1)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    raw = buffer.getvalue()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(raw[: int(len(raw) * 0.9)])
    with Image.open(cut) as im:
        im.load()  # the first frame alone reads fine
    with pytest.raises(ValueError):
        image_io._check_written("GIF", (256, 256), cut)
    whole = tmp_path / "whole.gif"
    whole.write_bytes(raw)
    image_io._check_written("GIF", (256, 256), whole)


def test_an_audit_report_on_a_full_disk_is_not_published(small_disk, tmp_path, capsys):
    """The HTML page goes out as outputs do: a full disk is one line, and no page, whole or cut."""
    original, output = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(PHOTO).save(original)
    covered = PHOTO.copy()
    covered[20:100, 80:150] = 0  # the astronaut's face
    Image.fromarray(covered).save(output)
    page = small_disk / "audit.html"
    audit = ["audit", str(original), str(output), "--no-reid", "--report", str(page)]

    main(audit)
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"unseen audit: {page}: cannot write report: No space left on device"
    )
    assert list(small_disk.iterdir()) == []

    _mount(small_disk, "32m", remount=True)
    main(audit)
    assert page.read_text(encoding="utf-8").endswith("</body></html>\n")
    assert [p.name for p in small_disk.iterdir()] == ["audit.html"]
