"""Read back what a photo or video file carries besides its pictures and sound.

The writers in this package build every output afresh, so an output should carry nothing but the
pixels, the colour profile and the container's bare bookkeeping. This module checks that claim on
the file itself, the way an adversary would read it: it walks JPEG segments, PNG and RIFF (WebP)
chunks, TIFF tags, HEIF items and the container, streams, tags and chapters of videos, and lists
every piece of data it finds as an :class:`Item`. Items outside a short allow-list (structure that
says nothing about who, where or with what camera) are marked ``allowed=False``.

It knows nothing of faces and never changes a file.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from PIL import ExifTags, Image, ImageCms, TiffTags

from ..errors import InputError, shown
from . import icc
from .local_av import open_input

_VALUE_CHARS = 80


@dataclass(frozen=True)
class Item:
    """One piece of data a file carries: ``where`` it sits, its ``name``, a short printable ``value``.

    ``allowed`` is False for anything that can say who took the picture, where, when or with what.
    """

    where: str
    name: str
    value: str = ""
    allowed: bool = False

    def __str__(self) -> str:
        return f"{self.where} {self.name}" + (f" = {self.value}" if self.value else "")


def _text(value: object) -> str:
    """A short, printable rendering of a tag value (bytes decoded leniently, long values cut)."""
    if isinstance(value, bytes):
        value = value.rstrip(b"\x00").decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


# --- containers: the low-level walkers --------------------------------------------------------


def jpeg_segments(raw: bytes) -> list[tuple[int, bytes]]:
    """``(marker, payload)`` of every JPEG segment before the first scan (start of scan excluded)."""
    return _jpeg_walk(raw)[0]


def _jpeg_walk(raw: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The segments before the first scan, and the offset where that scan starts."""
    if raw[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file")
    segments, pos = [], 2
    while pos + 4 <= len(raw):
        if raw[pos] != 0xFF:
            raise ValueError(f"JPEG segment expected at byte {pos}")
        marker = raw[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return segments, pos
        length = struct.unpack(">H", raw[pos + 2 : pos + 4])[0]
        segments.append((marker, raw[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    raise ValueError("JPEG file ends before its first scan")


def jpeg_markers(raw: bytes) -> list[int]:
    """Marker codes of the JPEG segments before the first scan."""
    return [marker for marker, _ in jpeg_segments(raw)]


def png_chunk_data(raw: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, data)`` of every PNG chunk, in file order."""
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    chunks, pos = [], 8
    while pos + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[pos : pos + 8])
        chunks.append((kind, raw[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_chunks(raw: bytes) -> list[bytes]:
    """Types of the PNG chunks, in file order."""
    return [kind for kind, _ in png_chunk_data(raw)]


def riff_chunk_data(raw: bytes) -> list[tuple[bytes, bytes]]:
    """``(fourcc, data)`` of every top-level chunk of a RIFF WebP file."""
    if raw[:4] != b"RIFF" or raw[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    chunks, pos = [], 12
    while pos + 8 <= len(raw):
        kind, length = struct.unpack("<4sI", raw[pos : pos + 8])
        chunks.append((kind, raw[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return chunks


def riff_chunks(raw: bytes) -> list[bytes]:
    """FourCCs of the top-level chunks of a RIFF WebP file."""
    return [kind for kind, _ in riff_chunk_data(raw)]


# --- what the blocks say --------------------------------------------------------------------

# EXIF tags that describe only how to show the pixels.
_EXIF_ALLOWED = {"Orientation", "XResolution", "YResolution", "ResolutionUnit", "ColorSpace", "ExifOffset"}
_EXIF_POINTERS = {0x8769: "Exif", 0x8825: "GPS", 0xA005: "Interop"}

# Well-known colour profiles, and the neutral description unseen's own scrub writes (media/icc.py);
# anything else (a camera's or a scanner's own profile, a name someone typed) is reported with its
# description and copyright text.
_ICC_STANDARD = re.compile(
    r"^(sRGB|Display P3|Adobe RGB|ProPhoto RGB|ROMM RGB|Rec\.? ?(2020|709)|ITU-R BT\.? ?(2020|709)|DCI-P3|"
    r"P3|Generic RGB|Apple RGB|eciRGB|ECI-RGB|scRGB|BT\.?(709|2020)|Linear sRGB)\b",
    re.IGNORECASE,
)

# IPTC IIM record 2 datasets most often filled in by newsrooms and cameras.
_IPTC_NAMES = {
    5: "ObjectName",
    25: "Keywords",
    55: "DateCreated",
    60: "TimeCreated",
    80: "By-line",
    85: "By-lineTitle",
    90: "City",
    92: "Sublocation",
    95: "Province-State",
    101: "Country",
    105: "Headline",
    110: "Credit",
    115: "Source",
    116: "CopyrightNotice",
    120: "Caption-Abstract",
    122: "Writer-Editor",
}


def exif_items(data: bytes, where: str = "EXIF") -> list[Item]:
    """Every tag of an EXIF block (``Exif\\0\\0`` prefix optional): main, Exif, GPS and interop
    IFDs, maker notes, and the thumbnail that IFD1 may carry."""
    exif = Image.Exif()
    try:
        exif.load(data if data.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + data)
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError) as exc:
        return [Item(where, "unreadable block", _text(exc))]
    items = []
    for tag, value in exif.items():
        if tag in _EXIF_POINTERS:
            continue
        name = ExifTags.TAGS.get(tag, f"tag 0x{tag:04x}")
        items.append(Item(where, name, _text(value), name in _EXIF_ALLOWED))
    for pointer, label in _EXIF_POINTERS.items():
        ifd = _ifd(exif, pointer)
        names = ExifTags.GPSTAGS if pointer == 0x8825 else ExifTags.TAGS
        for tag, value in ifd.items():
            name = names.get(tag, f"tag 0x{tag:04x}")
            if tag == 0x927C:
                items.append(Item(where, "MakerNote", f"{len(value)} bytes of camera maker notes"))
            else:
                items.append(Item(f"{where} {label}", name, _text(value), name in _EXIF_ALLOWED))
    thumbnail = _ifd(exif, ExifTags.IFD.IFD1)
    if thumbnail:
        size = thumbnail.get(0x0202)  # JPEGInterchangeFormatLength
        detail = f"{size} bytes" if size else f"{len(thumbnail)} tags"
        items.append(Item(where, "thumbnail", f"embedded preview image ({detail})"))
    return items


def icc_items(data: bytes, where: str = "ICC") -> list[Item]:
    """The colour profile's description and copyright; allowed only for well-known standard profiles."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data)).profile
        description = _text(profile.profile_description or "")
        copyright_ = _text(profile.copyright or "")
        maker = " ".join(_text(v) for v in (profile.manufacturer, profile.model) if v)
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError) as exc:
        return [Item(where, "profile", f"unreadable colour profile: {_text(exc)}")]
    standard = description == icc.DESCRIPTION or bool(_ICC_STANDARD.match(description))
    items = [Item(where, "description", description, standard)]
    if copyright_:
        items.append(Item(where, "copyright", copyright_, standard))
    if maker:
        items.append(Item(where, "device", maker, False))
    return items


def _ifd(exif: Image.Exif, pointer: int) -> dict[int, Any]:
    """One sub-IFD of ``exif``, empty when absent (Pillow before 11 raises KeyError for a missing
    Exif IFD under an Interop pointer, or for a missing pointer)."""
    try:
        return dict(exif.get_ifd(pointer))
    except KeyError:
        return {}


def xmp_items(data: bytes, where: str = "XMP") -> list[Item]:
    """An XMP packet, named by the properties it sets (``dc:creator``, ``exif:GPSLatitude`` ...)."""
    text = data.decode("utf-8", "replace")
    names = re.findall(r"<([A-Za-z][\w.-]*:[\w.-]+)[\s>/]", text) + re.findall(r"\s([A-Za-z]\w*:\w+)=", text)
    skip = {"x:xmpmeta", "rdf:RDF", "rdf:Description", "rdf:Seq", "rdf:Bag", "rdf:Alt", "rdf:li", "x:xmptk"}
    props = sorted({n for n in names if n not in skip and not n.startswith(("xmlns:", "rdf:", "xml:"))})
    return [Item(where, "packet", _text(", ".join(props) or f"{len(data)} bytes"))]


def iptc_items(data: bytes, where: str = "IPTC") -> list[Item]:
    """IPTC IIM datasets (``0x1C record dataset length value``), wherever they sit in ``data``."""
    items, pos = [], data.find(b"\x1c")
    while 0 <= pos and pos + 5 <= len(data) and data[pos] == 0x1C:
        record, dataset, length = (
            data[pos + 1],
            data[pos + 2],
            struct.unpack(">H", data[pos + 3 : pos + 5])[0],
        )
        value = data[pos + 5 : pos + 5 + length]
        if record != 1:  # record 1 is the envelope (coded character set and the like)
            name = _IPTC_NAMES.get(dataset, f"{record}:{dataset}") if record == 2 else f"{record}:{dataset}"
            items.append(Item(where, name, _text(value)))
        pos += 5 + length
    return items or [Item(where, "block", f"{len(data)} bytes")]


def _photoshop_items(data: bytes) -> list[Item]:
    """Photoshop image resources (APP13): IPTC (resource 0x0404), thumbnails, anything else."""
    items, pos = [], data.find(b"8BIM")
    while 0 <= pos and pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        resource = struct.unpack(">H", data[pos + 4 : pos + 6])[0]
        name_len = data[pos + 6]
        pos += 7 + name_len + ((name_len + 1) & 1)
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        body = data[pos + 4 : pos + 4 + size]
        if resource == 0x0404:
            items += iptc_items(body)
        elif resource in (0x0409, 0x040C):
            items.append(Item("Photoshop", "thumbnail", f"embedded preview image ({size} bytes)"))
        else:
            items.append(Item("Photoshop", f"resource 0x{resource:04x}", f"{size} bytes"))
        pos += 4 + size + (size & 1)
    return items or [Item("Photoshop", "block", f"{len(data)} bytes")]


# --- photos -------------------------------------------------------------------------------------

_JPEG_STRUCTURE = {0xC4, 0xCC, 0xDB, 0xDD} | set(range(0xC0, 0xD0))  # tables, frame headers, restart


def _jpeg_items(raw: bytes) -> list[Item]:
    items: list[Item] = []
    icc = b""
    segments, scan = _jpeg_walk(raw)
    for marker, body in segments:
        if marker in _JPEG_STRUCTURE:
            continue
        if marker == 0xE0 and body.startswith(b"JFIF\x00"):
            thumb = body[12:14] if len(body) >= 14 else b"\x00\x00"
            if thumb != b"\x00\x00":
                items.append(Item("JFIF", "thumbnail", f"{thumb[0]} x {thumb[1]} preview image"))
        elif marker == 0xE0 and body.startswith(b"JFXX\x00"):
            items.append(Item("JFIF", "thumbnail", "JFXX extension preview image"))
        elif marker == 0xE1 and body.startswith(b"Exif\x00"):
            items += exif_items(body)
        elif marker == 0xE1 and body.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
            items += xmp_items(body[29:])
        elif marker == 0xE1 and body.startswith(b"http://ns.adobe.com/xmp/extension/\x00"):
            items.append(Item("XMP", "extended packet", f"{len(body)} bytes"))
        elif marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00"):
            icc += body[14:]
        elif marker == 0xE2 and body.startswith(b"MPF\x00"):
            items.append(Item("JPEG", "MPF", "multi-picture index (further images in the file)"))
        elif marker == 0xED:
            items += _photoshop_items(body)
        elif marker == 0xEE and body.startswith(b"Adobe"):
            continue  # colour transform flags only
        elif marker == 0xFE:
            items.append(Item("JPEG", "comment", _text(body)))
        else:
            label = _text(body[: body.find(b"\x00")] if b"\x00" in body[:40] else body[:16])
            name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"0x{marker:02x}"
            items.append(Item("JPEG", name, label))
    if icc:
        items += icc_items(icc)
    # Entropy-coded data never holds 0xFF 0xD8, so a start-of-image after the first scan is a further
    # picture appended to the file (MPO second views, phone previews, depth maps).
    end = raw.rfind(b"\xff\xd9")
    extra = raw.count(b"\xff\xd8\xff", scan)
    if extra > 0:
        items.append(
            Item("JPEG", "embedded images", f"{extra} more JPEG stream(s) (previews, MPO or depth images)")
        )
    elif 0 <= end and len(raw) - end - 2 > 16:
        items.append(Item("JPEG", "trailing data", f"{len(raw) - end - 2} bytes after the end of the image"))
    return items


_PNG_ALLOWED = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"sRGB",
    b"gAMA",
    b"cHRM",
    b"sBIT",
    b"pHYs",
    b"bKGD",
}


def _png_items(raw: bytes) -> list[Item]:
    items = []
    for kind, body in png_chunk_data(raw):
        name = kind.decode("latin-1")
        if kind in _PNG_ALLOWED:
            continue
        if kind == b"iCCP":
            profile_name, _, rest = body.partition(b"\x00")
            try:
                items += icc_items(zlib.decompress(rest[1:]))
            except zlib.error:
                items.append(Item("ICC", "profile", "undecodable iCCP chunk"))
            if profile_name not in (b"ICC Profile", b"icc", b"ICC profile"):
                items.append(Item("PNG", "iCCP name", _text(profile_name)))
        elif kind == b"eXIf":
            items += exif_items(body)
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, _, value = body.partition(b"\x00")
            if key == b"XML:com.adobe.xmp":
                items += xmp_items(value)
            else:
                shown_value = value if kind == b"tEXt" else b"(compressed or international text)"
                items.append(Item("PNG", f"{name} {_text(key)}", _text(shown_value)))
        elif kind == b"tIME":
            items.append(Item("PNG", "tIME", "last-modification time"))
        elif kind in (b"acTL", b"fcTL", b"fdAT"):
            if kind == b"acTL":
                items.append(Item("PNG", "animation", "more frames than the one shown"))
        else:
            items.append(Item("PNG", name, f"{len(body)} bytes"))
    return items


_WEBP_ALLOWED = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}


def _webp_items(raw: bytes) -> list[Item]:
    items = []
    for kind, body in riff_chunk_data(raw):
        if kind in _WEBP_ALLOWED:
            continue
        if kind == b"ICCP":
            items += icc_items(body)
        elif kind == b"EXIF":
            items += exif_items(body)
        elif kind == b"XMP ":
            items += xmp_items(body)
        elif kind == b"ANIM":
            items.append(Item("WebP", "animation", "more frames than the one shown"))
        elif kind != b"ANMF":
            items.append(Item("WebP", kind.decode("latin-1").strip(), f"{len(body)} bytes"))
    return items


# TIFF tags that only describe the pixel layout.
_TIFF_STRUCTURE = {
    254, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296, 317, 322, 323, 324, 325,
    338, 339, 532,
}  # fmt: skip


def _tiff_items(im: Image.Image) -> list[Item]:
    items = []
    tags = im.tag_v2  # type: ignore[attr-defined]
    for tag, value in tags.items():
        if tag in _TIFF_STRUCTURE:
            continue
        name = TiffTags.lookup(tag).name
        if tag == 34675:
            items += icc_items(bytes(value))
        elif tag == 700:
            items += xmp_items(bytes(value))
        elif tag == 33723:
            items += iptc_items(bytes(value) if not isinstance(value, bytes) else value)
        elif tag in (34665, 34853):
            continue  # listed below, tag by tag
        else:
            items.append(Item("TIFF", name if name != "unknown" else f"tag {tag}", _text(value)))
    exif = im.getexif()
    for pointer, label in ((0x8769, "Exif"), (0x8825, "GPS")):
        names = ExifTags.GPSTAGS if pointer == 0x8825 else ExifTags.TAGS
        for tag, value in _ifd(exif, pointer).items():
            items.append(Item(f"TIFF {label}", names.get(tag, f"tag 0x{tag:04x}"), _text(value)))
    if getattr(im, "n_frames", 1) > 1:
        items.append(Item("TIFF", "pages", f"{im.n_frames - 1} more page(s) than the one shown"))  # type: ignore[attr-defined]
    return items


def _heif_items(path: Path) -> list[Item]:
    try:
        import pillow_heif
    except ImportError:
        return [Item("HEIF", "not inspected", "pillow-heif is not installed", True)]
    heif = pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False)
    items: list[Item] = []
    for index, image in enumerate(heif):
        where = "HEIF" if index == 0 else f"HEIF image {index}"
        info = image.info
        if info.get("exif"):
            items += exif_items(info["exif"])
        if info.get("xmp"):
            items += xmp_items(info["xmp"])
        if info.get("icc_profile"):
            items += icc_items(info["icc_profile"])
        for block in info.get("metadata") or []:
            items.append(
                Item(where, f"metadata {block.get('type', '?')}", f"{len(block.get('data', b''))} bytes")
            )
        if info.get("thumbnails"):
            items.append(Item(where, "thumbnail", f"{len(info['thumbnails'])} embedded preview image(s)"))
        if info.get("depth_images"):
            items.append(Item(where, "depth image", f"{len(info['depth_images'])} depth map(s)"))
        if index:
            items.append(Item(where, "image", "a further picture in the file"))
    return items


def photo_items(path: str | os.PathLike[str]) -> list[Item]:
    """Everything ``path`` (JPEG, PNG, WebP, TIFF, BMP, HEIF) carries besides its pixels.

    Raises InputError naming the file if it cannot be read or is no picture of these formats.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            fmt = im.format
            if fmt in ("JPEG", "MPO"):
                return _jpeg_items(raw)
            if fmt == "PNG":
                return _png_items(raw)
            if fmt == "WEBP":
                return _webp_items(raw)
            if fmt == "TIFF":
                return _tiff_items(im)
            if fmt == "BMP":
                return []  # a bare header: size, depth, compression
            if fmt == "HEIF":
                return _heif_items(path)
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from exc
    except (ValueError, SyntaxError, struct.error) as exc:
        raise InputError(f"{shown(path)}: cannot inspect metadata: {exc}") from exc
    raise InputError(f"{shown(path)}: cannot inspect metadata of format {fmt!r}")


# --- videos ---------------------------------------------------------------------------------------

# Bookkeeping FFmpeg writes itself (with +bitexact), and the default handler names.
_CONTAINER_ALLOWED = {"major_brand", "minor_version", "compatible_brands"}
_STREAM_ALLOWED = {"language", "duration"}
_HANDLERS = {"VideoHandler", "SoundHandler"}


def _tag_items(where: str, tags: dict[str, str], allowed: set[str]) -> Iterator[Item]:
    for key, value in tags.items():
        lower = key.lower()
        if lower in allowed:
            ok = True
        elif lower == "encoder":
            ok = value == "Lavf"  # the bare muxer name +bitexact leaves; a version or app name is not
        elif lower == "handler_name":
            ok = value in _HANDLERS
        elif lower == "vendor_id":
            ok = value.strip("[0]") == ""
        else:
            ok = False
        yield Item(where, key, _text(value), ok)


def video_items(path: str | os.PathLike[str]) -> list[Item]:
    """Container and stream tags, chapters, and subtitle, data, attachment and cover-picture streams.

    Raises InputError naming the file if it cannot be opened as a media file.
    """
    path = Path(path)
    try:
        with open_input(path) as container:
            items = list(_tag_items("container", dict(container.metadata), _CONTAINER_ALLOWED))
            for stream in container.streams:
                where = f"stream {stream.index} ({stream.type})"
                items += _tag_items(where, dict(stream.metadata), _STREAM_ALLOWED)
                if stream.type in ("subtitle", "data", "attachment"):
                    items.append(Item(where, "stream", f"a {stream.type} stream"))
                elif stream.type == "video" and stream.disposition & av.stream.Disposition.attached_pic:
                    items.append(Item(where, "cover picture", "an embedded still picture"))
                elif stream.type not in ("video", "audio"):
                    items.append(Item(where, "stream", f"a {stream.type} stream"))
            for chapter in container.chapters():
                title = chapter.get("metadata", {}).get("title", "")
                items.append(Item("chapters", f"chapter {chapter.get('id', '?')}", _text(title)))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{shown(path)}: cannot read video: {exc}") from exc
    return items
