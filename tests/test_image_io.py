"""Photo decode/encode on real files: round trips, metadata stripping, orientation, alpha, bad input."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin
from skimage import data

from unseen.errors import InputError, OutputError
from unseen.media.atomic import atomic_output
from unseen.media.image import IMAGE_EXTENSIONS, MAX_PIXELS, Photo, read_photo, write_photo
from unseen.media.readback import jpeg_markers, png_chunks, riff_chunks

HEIF = ".heic" in IMAGE_EXTENSIONS
SECRET = "Jane Q. Photographer"  # planted in every metadata field; must never reach an output
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def decoded(path: Path) -> np.ndarray:
    """Pixels exactly as stored, with no orientation applied (what a metadata-blind viewer shows)."""
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def png_with_header(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims the given size (a decompression-bomb shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --- round trips -------------------------------------------------------------------------------

FORMATS = [
    ("jpg", "JPEG", 3.0),
    ("png", "PNG", 0.0),
    ("webp", "WEBP", 3.0),
    ("tif", "TIFF", 0.0),
    ("bmp", "BMP", 0.0),
    pytest.param("heic", "HEIF", 4.0, marks=pytest.mark.skipif(not HEIF, reason="pillow-heif cannot encode")),
]


@pytest.mark.parametrize(("ext", "fmt", "tolerance"), FORMATS)
def test_round_trip_keeps_format_size_and_pixels(tmp_path, astronaut, ext, fmt, tolerance):
    src = tmp_path / f"in.{ext}"
    Image.fromarray(astronaut).save(src, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    before = sha256(src)

    photo = read_photo(src)
    assert photo.format == fmt
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.uint8
    assert photo.alpha is None
    assert mean_abs_diff(photo.pixels, astronaut) <= tolerance

    out = tmp_path / f"out.{ext}"
    write_photo(photo, photo.pixels, out)
    with Image.open(out) as im:
        assert im.format == fmt
        assert im.size == (512, 512)
    assert mean_abs_diff(decoded(out), photo.pixels) <= tolerance
    assert sha256(src) == before
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_written_pixels_are_the_given_ones_not_the_source(tmp_path, astronaut):
    src = tmp_path / "in.png"
    Image.fromarray(astronaut).save(src)
    photo = read_photo(src)
    anonymised = photo.pixels.copy()
    anonymised[100:300, 150:350] = 0
    write_photo(photo, anonymised, tmp_path / "out.png")
    np.testing.assert_array_equal(decoded(tmp_path / "out.png"), anonymised)


def test_mpo_keeps_only_the_first_image_as_plain_jpeg(tmp_path, astronaut):
    src = tmp_path / "in.jpg"
    first, second = Image.fromarray(astronaut), Image.fromarray(astronaut[::-1].copy())
    first.save(src, format="MPO", save_all=True, append_images=[second], quality=90)
    assert src.read_bytes().count(b"\xff\xd8") == 2

    photo = read_photo(src)
    assert photo.format == "JPEG"
    assert mean_abs_diff(photo.pixels, astronaut) < 3
    write_photo(photo, photo.pixels, tmp_path / "out.jpg")
    raw = (tmp_path / "out.jpg").read_bytes()
    assert raw.count(b"\xff\xd8") == 1 and raw.endswith(b"\xff\xd9")


def test_multi_page_tiff_yields_first_page(tmp_path):
    src = tmp_path / "in.tif"
    red, blue = Image.new("RGB", (32, 16), (255, 0, 0)), Image.new("RGB", (32, 16), (0, 0, 255))
    red.save(src, save_all=True, append_images=[blue])
    photo = read_photo(src)
    assert photo.pixels.shape == (16, 32, 3)
    assert (photo.pixels == (255, 0, 0)).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda a: Image.fromarray(a).convert("L"),
        lambda a: Image.fromarray(a).convert("1"),
        lambda a: Image.fromarray(a).convert("P"),
        lambda a: Image.fromarray(a).convert("CMYK"),
        lambda a: Image.fromarray(a[..., 1].astype(np.uint16) * 257),  # 16-bit greyscale
    ],
    ids=["L", "1", "P", "CMYK", "I;16"],
)
def test_any_mode_becomes_8bit_rgb(tmp_path, astronaut, make):
    im = make(astronaut)
    src = tmp_path / ("in.jpg" if im.mode == "CMYK" else "in.tif")
    im.save(src)
    photo = read_photo(src)
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.uint8
    assert photo.alpha is None
    if im.mode == "I;16":  # scaled, not clipped to white
        np.testing.assert_array_equal(photo.pixels[..., 0], astronaut[..., 1])


# --- metadata stripping ------------------------------------------------------------------------


def test_jpeg_output_has_no_metadata(tmp_path, astronaut):
    thumb = io.BytesIO()
    Image.fromarray(astronaut).resize((64, 64)).save(thumb, format="JPEG")
    exif = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"Canon",
                piexif.ImageIFD.Model: b"EOS 5D Mark IV",
                piexif.ImageIFD.ImageDescription: SECRET.encode(),
                piexif.ImageIFD.Artist: SECRET.encode(),
            },
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 12:34:56",
                piexif.ExifIFD.BodySerialNumber: b"SN-0123456789",
            },
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((52, 1), (22, 1), (1234, 100)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((4, 1), (53, 1), (5678, 100)),
            },
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": thumb.getvalue(),
        }
    )
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{SECRET}</dc:creator></x:xmpmeta>'.encode()
    iptc = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", 5 + len(SECRET)) + b"\x1c\x02\x50"
    iptc += struct.pack(">H", len(SECRET)) + SECRET.encode() + b"\x00"
    app13 = b"Photoshop 3.0\x00" + iptc
    src = tmp_path / "in.jpg"
    Image.fromarray(astronaut).save(
        src,
        exif=exif,
        xmp=xmp,
        comment=f"comment by {SECRET}",
        extra=b"\xff\xed" + struct.pack(">H", 2 + len(app13)) + app13,
    )
    raw_in = src.read_bytes()
    for planted in (b"Exif", b"http://ns.adobe.com/xap", b"Photoshop 3.0", SECRET.encode()):
        assert planted in raw_in
    assert raw_in.count(b"\xff\xd8") == 2  # the embedded thumbnail
    before = sha256(src)

    out = tmp_path / "out.jpg"
    write_photo(read_photo(src), read_photo(src).pixels, out)

    raw = out.read_bytes()
    for leaked in (b"Exif", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"8BIM", SECRET.encode()):
        assert leaked not in raw
    assert raw.count(b"\xff\xd8") == 1
    assert set(jpeg_markers(raw)) <= {0xE0, 0xDB, 0xC0, 0xC4}  # JFIF, tables, frame: nothing else
    assert b"\xff\xfe" not in raw.split(b"\xff\xda")[0]  # no COM segment
    with Image.open(out) as im:
        assert not im.getexif()
        assert "comment" not in im.info and "xmp" not in im.info
    assert sha256(src) == before


def test_png_output_has_no_text_or_exif_chunks(tmp_path, astronaut):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_text("Comment", SECRET, zip=True)
    info.add_itxt("Description", SECRET)
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{SECRET}</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x013B] = SECRET
    src = tmp_path / "in.png"
    Image.fromarray(astronaut).save(src, pnginfo=info, exif=exif)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf"} <= set(png_chunks(src.read_bytes()))

    out = tmp_path / "out.png"
    photo = read_photo(src)
    write_photo(photo, photo.pixels, out)
    raw = out.read_bytes()
    assert set(png_chunks(raw)) == {b"IHDR", b"IDAT", b"IEND"}
    assert SECRET.encode() not in raw


def test_webp_output_has_no_exif_or_xmp_chunks(tmp_path, astronaut):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x013B] = SECRET
    src = tmp_path / "in.webp"
    Image.fromarray(astronaut).save(src, exif=exif, xmp=f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode())
    assert {b"EXIF", b"XMP "} <= set(riff_chunks(src.read_bytes()))

    out = tmp_path / "out.webp"
    photo = read_photo(src)
    write_photo(photo, photo.pixels, out)
    raw = out.read_bytes()
    assert not {b"EXIF", b"XMP "} & set(riff_chunks(raw))
    assert SECRET.encode() not in raw


def test_tiff_output_has_no_descriptive_tags(tmp_path, astronaut):
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[270] = SECRET  # ImageDescription
    tags[271] = "Canon"  # Make
    tags[272] = "EOS 5D"  # Model
    tags[305] = "Camera firmware 1.2"  # Software
    tags[306] = "2021:06:01 12:34:56"  # DateTime
    tags[315] = SECRET  # Artist
    tags[33432] = SECRET  # Copyright
    tags[700] = f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode()  # XMP
    tags[33723] = b"\x1c\x02\x50" + struct.pack(">H", len(SECRET)) + SECRET.encode()  # IPTC
    tags[34853] = {1: "N", 2: (52.0, 22.0, 12.34)}  # GPS IFD
    src = tmp_path / "in.tif"
    Image.fromarray(astronaut).save(src, tiffinfo=tags)
    descriptive = {270, 271, 272, 305, 306, 315, 33432, 700, 33723, 34853, 34665}
    with Image.open(src) as im:
        assert descriptive - {34665} <= set(im.tag_v2)

    out = tmp_path / "out.tif"
    photo = read_photo(src)
    write_photo(photo, photo.pixels, out)
    with Image.open(out) as im:
        assert not descriptive & set(im.tag_v2)
        assert not im.getexif().get_ifd(0x8825)
    assert SECRET.encode() not in out.read_bytes()


ICC_FORMATS = [
    ("jpg", "JPEG"),
    ("png", "PNG"),
    ("webp", "WEBP"),
    ("tif", "TIFF"),
    pytest.param("heic", "HEIF", marks=pytest.mark.skipif(not HEIF, reason="pillow-heif cannot encode")),
]


@pytest.mark.parametrize(("ext", "fmt"), ICC_FORMATS)
def test_icc_profile_is_kept(tmp_path, astronaut, ext, fmt):
    src = tmp_path / f"in.{ext}"
    Image.fromarray(astronaut).save(src, format=fmt, icc_profile=SRGB)
    photo = read_photo(src)
    assert photo.icc_profile == SRGB

    out = tmp_path / f"out.{ext}"
    write_photo(photo, photo.pixels, out)
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == SRGB
    if fmt == "WEBP":
        assert not {b"EXIF", b"XMP "} & set(riff_chunks(out.read_bytes()))


def test_non_rgb_icc_profile_is_dropped(tmp_path, astronaut):
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    src = tmp_path / "in.jpg"
    Image.fromarray(astronaut).save(src, icc_profile=lab)
    photo = read_photo(src)
    assert photo.icc_profile is None


# --- orientation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "turns"), [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied_and_not_written(tmp_path, astronaut, orientation, turns):
    """Orientation 6 means 'rotate 90 degrees clockwise to display', 8 counter-clockwise, 3 by 180."""
    src = tmp_path / "in.jpg"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation}})
    Image.fromarray(astronaut).save(src, quality=90, exif=exif)
    upright = np.rot90(astronaut, k=turns)
    wrong = np.rot90(astronaut, k=-turns) if turns != 2 else astronaut

    photo = read_photo(src)
    assert photo.pixels.shape == upright.shape
    assert mean_abs_diff(photo.pixels, upright) < 3
    assert mean_abs_diff(photo.pixels, wrong) > 30
    # The astronaut's face (rows 30..130, cols 170..270 of the stored pixels) lands where the
    # rotation takes it, turned the same way.
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[30:130, 170:270] = True
    rows, cols = np.nonzero(np.rot90(mask, k=turns))
    patch = photo.pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert mean_abs_diff(patch, np.rot90(astronaut[30:130, 170:270], k=turns)) < 6

    out = tmp_path / "out.jpg"
    write_photo(photo, photo.pixels, out)
    with Image.open(out) as im:
        assert not im.getexif()
    assert mean_abs_diff(decoded(out), upright) < 3


# --- alpha -------------------------------------------------------------------------------------


def _alpha_ramp() -> np.ndarray:
    return np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))


@pytest.mark.parametrize("ext", ["png", "tif", "webp"])
def test_rgba_round_trips_with_alpha(tmp_path, astronaut, ext):
    alpha = _alpha_ramp()
    src = tmp_path / f"in.{ext}"
    rgba = np.dstack([astronaut, alpha])
    Image.fromarray(rgba).save(src, **({"lossless": True, "exact": True} if ext == "webp" else {}))

    photo = read_photo(src)
    assert photo.alpha is not None
    np.testing.assert_array_equal(photo.alpha, alpha)
    np.testing.assert_array_equal(photo.pixels, astronaut)

    out = tmp_path / f"out.{ext}"
    write_photo(photo, photo.pixels, out)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        written = np.array(im)
    if ext == "webp":  # lossy colour, lossless alpha
        assert mean_abs_diff(written[..., :3], astronaut) < 3
    else:
        np.testing.assert_array_equal(written[..., :3], astronaut)
    np.testing.assert_array_equal(written[..., 3], alpha)


def test_la_and_palette_transparency_give_alpha(tmp_path, astronaut):
    la = tmp_path / "la.png"
    Image.fromarray(np.dstack([astronaut[..., 0], _alpha_ramp()])).save(la)
    assert read_photo(la).alpha is not None

    pal = tmp_path / "pal.png"
    Image.fromarray(astronaut).convert("P").save(pal, transparency=0)
    photo = read_photo(pal)
    assert photo.alpha is not None and photo.alpha.min() == 0 and photo.alpha.max() == 255


# --- bad input ---------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path, astronaut: np.ndarray) -> dict[str, Path]:
    good = tmp_path / "good.jpg"
    Image.fromarray(astronaut).save(good)
    raw = good.read_bytes()
    files = {
        "empty.jpg": b"",
        "truncated.jpg": raw[: len(raw) // 2],
        "noise.jpg": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "notes.png": b"this is a text file, not a picture\n" * 20,
        "picture.gif": None,
        "animation.png": None,  # a GIF behind a .png name: not a format we can write back
        "bomb.png": png_with_header(30000, 30000),
        "almost-bomb.png": png_with_header(15000, 15000),
    }
    paths = {}
    for name, content in files.items():
        path = tmp_path / name
        if content is None:
            Image.fromarray(astronaut).save(path, format="GIF")
        else:
            path.write_bytes(content)
        paths[name] = path
    paths["missing.jpg"] = tmp_path / "missing.jpg"
    paths["folder.jpg"] = tmp_path / "folder.jpg"
    paths["folder.jpg"].mkdir()
    return paths


def test_bad_inputs_raise_input_error_naming_the_file(tmp_path, astronaut):
    assert 15000 * 15000 > MAX_PIXELS
    for name, path in _bad_inputs(tmp_path, astronaut).items():
        with pytest.raises(InputError) as info:
            read_photo(path)
        message = str(info.value)
        assert message.startswith(str(path)), message
        assert "\n" not in message
        if "bomb" in name:
            assert "too large" in message
    assert "15000 x 15000" in str(pytest.raises(InputError, read_photo, tmp_path / "almost-bomb.png").value)


def test_truncated_jpeg_is_refused_not_padded(tmp_path, astronaut):
    src = tmp_path / "cut.jpg"
    Image.fromarray(astronaut).save(src)
    raw = src.read_bytes()
    src.write_bytes(raw[: len(raw) - 200])
    with pytest.raises(InputError, match="truncated"):
        read_photo(src)


# --- output side -------------------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path, astronaut) -> Photo:
    src = tmp_path / "src.png"
    Image.fromarray(astronaut).save(src)
    return read_photo(src)


def test_existing_output_needs_overwrite(tmp_path, photo):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        write_photo(photo, photo.pixels, out)
    assert out.read_bytes() == b"precious"

    write_photo(photo, photo.pixels, out, overwrite=True)
    np.testing.assert_array_equal(decoded(out), photo.pixels)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_output_gets_the_ordinary_file_mode(tmp_path, photo, umask):
    # The temporary file is created private; the finished output must be an ordinary file that the
    # user's umask governs (e.g. readable by a web server that publishes it).
    previous = os.umask(umask)
    try:
        write_photo(photo, photo.pixels, tmp_path / "out.png")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_parent_that_is_a_file_gives_output_error(tmp_path, photo):
    (tmp_path / "not-a-dir").write_bytes(b"")
    out = tmp_path / "not-a-dir" / "out.png"
    with pytest.raises(OutputError) as info:
        write_photo(photo, photo.pixels, out)
    assert str(info.value).startswith(str(out))


def test_read_only_folder_gives_output_error(tmp_path, photo):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.write_bytes(b"")
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("permissions are not enforced for this user (root)")
        with pytest.raises(OutputError):
            write_photo(photo, photo.pixels, folder / "out.png")
    finally:
        folder.chmod(0o755)


def test_encoder_failure_leaves_nothing_behind(tmp_path, photo):
    # A JPEG cannot hold alpha: Pillow raises inside the atomic block, after the temp file exists.
    broken = Photo(photo.pixels, np.full(photo.pixels.shape[:2], 255, np.uint8), "JPEG", None)
    with pytest.raises(OutputError, match="cannot write output"):
        write_photo(broken, broken.pixels, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.png"]


def test_rename_failure_leaves_nothing_behind(tmp_path, photo):
    target = tmp_path / "out.png"
    target.mkdir()
    (target / "keep").write_bytes(b"x")
    with pytest.raises(OutputError, match="cannot write output"):
        write_photo(photo, photo.pixels, target, overwrite=True)
    assert (target / "keep").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "src.png"]


def test_interrupted_write_leaves_no_file(tmp_path):
    dst = tmp_path / "out.jpg"
    with pytest.raises(KeyboardInterrupt), atomic_output(dst) as tmp:
        tmp.write_bytes(b"half a picture")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_bad_pixels_are_rejected_before_writing(tmp_path, photo):
    for pixels in (photo.pixels.astype(np.float32), photo.pixels[..., :2], photo.pixels[..., 0]):
        with pytest.raises(ValueError):
            write_photo(photo, pixels, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()
