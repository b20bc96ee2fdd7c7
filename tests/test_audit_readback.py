"""Metadata read back from files: what unseen writes is clean, whatever is planted is named."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import piexif
import pytest
from clips import CHAPTER_TITLE, LOCATION, VIDEO_HANDLER, make_clip
from PIL import Image, ImageCms, PngImagePlugin
from skimage import data

from unseen.errors import InputError
from unseen.media import icc
from unseen.media.image import IMAGE_EXTENSIONS, read_photo, write_photo
from unseen.media.readback import Item, photo_items, video_items
from unseen.media.video import probe, read_frames, write_video

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
FORMATS = [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("tif", "TIFF"), ("bmp", "BMP")]
if ".heic" in IMAGE_EXTENSIONS:
    FORMATS.append(("heic", "HEIF"))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()[::4, ::4].copy()


def findings(items: list[Item]) -> list[str]:
    return [str(i) for i in items if not i.allowed]


@pytest.mark.parametrize(("ext", "fmt"), FORMATS)
def test_unseen_outputs_carry_nothing_outside_the_allow_list(tmp_path, astronaut, ext, fmt):
    src = tmp_path / f"in.{ext}"
    Image.fromarray(astronaut).save(src, format=fmt, **({} if fmt == "BMP" else {"icc_profile": SRGB}))
    photo = read_photo(src)
    write_photo(photo, photo.pixels, tmp_path / f"out.{ext}")
    items = photo_items(tmp_path / f"out.{ext}")
    assert findings(items) == []
    if fmt != "BMP":  # the colour profile is kept, with the neutral description unseen gives it
        assert Item("ICC", "description", icc.DESCRIPTION, True) in items


def test_jpeg_exif_gps_serial_maker_notes_and_thumbnail_are_named(tmp_path, astronaut):
    out = tmp_path / "out.jpg"
    Image.fromarray(astronaut).save(out)
    thumb = io.BytesIO()
    Image.fromarray(astronaut).resize((16, 16)).save(thumb, format="JPEG")
    exif = {
        "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Orientation: 1},
        "Exif": {piexif.ExifIFD.BodySerialNumber: b"SN-0123", piexif.ExifIFD.MakerNote: b"\x01" * 32},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((52, 1), (22, 1), (0, 1))},
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumb.getvalue(),
    }
    piexif.insert(piexif.dump(exif), str(out))
    items = photo_items(out)
    named = {(i.where, i.name) for i in items if not i.allowed}
    assert {
        ("EXIF", "Make"),
        ("EXIF Exif", "BodySerialNumber"),
        ("EXIF", "MakerNote"),
        ("EXIF GPS", "GPSLatitude"),
        ("EXIF", "thumbnail"),
    } <= named
    assert Item("EXIF Exif", "BodySerialNumber", "SN-0123") in items
    assert Item("EXIF", "Orientation", "1", True) in items  # how to show the pixels: allowed


def test_jpeg_xmp_iptc_comment_and_appended_image_are_named(tmp_path, astronaut):
    out = tmp_path / "out.jpg"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><dc:creator>Jane</dc:creator></rdf:RDF></x:xmpmeta>'
    iptc = (
        b"\x1c\x02\x50" + struct.pack(">H", 4) + b"Jane" + b"\x1c\x02\x5a" + struct.pack(">H", 5) + b"Paris"
    )
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    app13 = b"Photoshop 3.0\x00" + block
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + xmp  # by hand: Pillow < 11 cannot save XMP into a JPEG
    segments = b"\xff\xe1" + struct.pack(">H", 2 + len(app1)) + app1
    segments += b"\xff\xed" + struct.pack(">H", 2 + len(app13)) + app13
    Image.fromarray(astronaut).save(out, comment=b"shot by Jane", extra=segments)
    with out.open("ab") as fh:  # a second picture after the first, as MPO files and phone previews have
        Image.fromarray(astronaut).save(fh, format="JPEG")
    got = findings(photo_items(out))
    assert "XMP packet = dc:creator" in got
    assert "IPTC By-line = Jane" in got and "IPTC City = Paris" in got
    assert "JPEG comment = shot by Jane" in got
    assert any(f.startswith("JPEG embedded images = 1 more") for f in got)


def test_png_webp_and_tiff_blocks_are_named(tmp_path, astronaut):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane")
    exif = Image.Exif()
    exif[0x013B] = "Jane"  # Artist
    Image.fromarray(astronaut).save(tmp_path / "a.png", pnginfo=info, exif=exif)
    got = findings(photo_items(tmp_path / "a.png"))
    assert "PNG tEXt Author = Jane" in got and "EXIF Artist = Jane" in got

    Image.fromarray(astronaut).save(
        tmp_path / "a.webp", exif=exif, xmp=b"<x:xmpmeta><dc:rights/></x:xmpmeta>"
    )
    got = findings(photo_items(tmp_path / "a.webp"))
    assert "EXIF Artist = Jane" in got and "XMP packet = dc:rights" in got

    Image.fromarray(astronaut).save(tmp_path / "a.tif", tiffinfo={315: "Jane", 305: "SecretCam"})
    got = findings(photo_items(tmp_path / "a.tif"))
    assert "TIFF Artist = Jane" in got and "TIFF Software = SecretCam" in got


def test_not_a_photo_is_an_input_error_naming_it(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"not a picture")
    with pytest.raises(InputError, match="notes.jpg"):
        photo_items(bad)


def test_video_tags_streams_and_chapters_are_named_and_unseen_output_is_clean(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", frames=10, identifying=True)
    got = findings(video_items(src))
    assert f"container location = {LOCATION}" in got
    assert "container com.apple.quicktime.model = iPhone 15 Pro" in got
    assert f"stream 0 (video) handler_name = {VIDEO_HANDLER}" in got
    assert "stream 0 (video) encoder = SecretCam 4.2" in got
    assert "stream 2 (subtitle) stream = a subtitle stream" in got
    assert f"chapters chapter 0 = {CHAPTER_TITLE}" in got

    dst = tmp_path / "out.mp4"
    write_video(src, dst, probe(src), read_frames(src))
    assert findings(video_items(dst)) == []


@pytest.mark.skipif(".heic" not in IMAGE_EXTENSIONS, reason="pillow-heif cannot encode here")
def test_heif_exif_and_xmp_are_named(tmp_path, astronaut):
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    Image.fromarray(astronaut).save(
        tmp_path / "a.heic", exif=exif, xmp=b"<x:xmpmeta><dc:creator/></x:xmpmeta>"
    )
    got = findings(photo_items(tmp_path / "a.heic"))
    assert "EXIF Make = Canon" in got and "XMP packet = dc:creator" in got
