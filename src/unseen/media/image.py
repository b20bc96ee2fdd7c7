"""Photo decoding and encoding: upright RGB pixels in, metadata-free file of the same format out.

Knows nothing of faces. Everything a photo file can carry besides its pixels (EXIF with GPS and
camera serials, XMP, IPTC, comments, text chunks, embedded thumbnails, secondary MPO/HEIF images)
may identify a person or place, so the writer builds a fresh image and keeps only the colour profile.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, OutputError, shown
from .atomic import atomic_output

try:
    import pillow_heif
except ImportError:  # optional extra: without it HEIC/HEIF photos are simply not accepted
    pillow_heif = None
else:
    pillow_heif.register_heif_opener()

MAX_PIXELS: int = 200_000_000
"""Larger images are refused before decoding: a tiny file can declare enormous dimensions."""

# Pillow's own guard reads this at open time (it warns above it and raises above twice it); align it
# with ours so that Pillow never refuses an image we accept.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Save arguments per source format. Only formats we can write back are accepted on input, so the
# output always has the format of its source.
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 95, "subsampling": 0, "optimize": True},
    "PNG": {},
    "WEBP": {"quality": 95},
    "TIFF": {"compression": "tiff_adobe_deflate"},
    "BMP": {},
}
_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
if pillow_heif is not None and "HEIF" in Image.SAVE:  # reading is useless if we cannot write back
    _SAVE_OPTIONS["HEIF"] = {"quality": 95}
    _EXTENSIONS |= {".heic", ".heif"}

IMAGE_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS)
"""Lower-case file suffixes that ``read_photo`` accepts."""


# Exceptions Pillow's decoders are known to raise on malformed input (see Pillow's fuzzing tests).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    NotImplementedError,
    OverflowError,
    MemoryError,
)

# ICC header bytes 16..20 name the profile's colour space; only an RGB profile fits RGB output.
_ICC_RGB = b"RGB "


@dataclass
class Photo:
    """A decoded photo: upright pixels plus what is needed to write it back in its own format."""

    pixels: np.ndarray
    """H x W x 3 uint8 RGB, EXIF orientation already applied (the image as a viewer shows it)."""
    alpha: np.ndarray | None
    """H x W uint8 alpha if the source had transparency, else None."""
    format: str
    """Pillow format name of the source ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "HEIF"); MPO reads as JPEG."""
    icc_profile: bytes | None
    """RGB colour profile of the source, kept because it changes how colours look, not who is seen."""


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Decode ``path`` fully into an upright RGB array; never modifies the file.

    Refuses, with an InputError naming the file: unsupported suffixes or formats, unreadable, empty,
    corrupt or truncated files, and images over MAX_PIXELS (checked from the header, before any
    pixel is decoded). Multi-frame files (animated WebP, multi-page TIFF, MPO) yield their first
    frame only. 16-bit greyscale is scaled to 8 bits; other bit depths are converted by Pillow.
    """
    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise InputError(f"{shown(path)}: unsupported file type {path.suffix or '(no extension)'!r}")
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                raise InputError(f"{shown(path)}: empty file")
            return _decode(path, fh)
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from exc


def _decode(path: Path, fh: BinaryIO) -> Photo:
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_PIXELS and twice that; we refuse those just below instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh, formats=tuple(_SAVE_OPTIONS))
    except Image.DecompressionBombError as exc:
        limit = 2 * MAX_PIXELS  # Pillow refuses these itself, before we could read the dimensions
        raise InputError(
            f"{shown(path)}: image too large (over {limit:,} pixels); refusing a possible decompression bomb"
        ) from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{shown(path)}: not a supported image (unrecognised or corrupt data)") from exc
    except _DECODE_ERRORS as exc:
        raise InputError(f"{shown(path)}: corrupt image: {exc}") from exc
    with im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise InputError(
                f"{shown(path)}: image too large ({width} x {height} pixels); "
                "refusing a possible decompression bomb"
            )
        try:
            im.load()  # full decode now: a truncated file must fail here, not yield grey pixels
            # Pillow's JPEG opener reports MPO (a JPEG followed by more images: stereo pairs, depth
            # maps); only the first image is decoded, and it is written back as a plain JPEG.
            fmt = "JPEG" if im.format == "MPO" else im.format
            icc = im.info.get("icc_profile")
            ImageOps.exif_transpose(im, in_place=True)  # no copy of a 48 MP photo that is upright
            pixels, alpha = _rgb_and_alpha(im)
        except _DECODE_ERRORS as exc:
            raise InputError(f"{shown(path)}: corrupt or truncated image: {exc}") from exc
    return Photo(
        pixels=pixels,
        alpha=alpha,
        format=fmt,
        icc_profile=icc if icc and icc[16:20] == _ICC_RGB else None,
    )


def _rgb_and_alpha(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Reduce any Pillow mode to 8-bit RGB plus alpha where the source carries transparency."""
    if im.mode.startswith("I;16"):
        # Pillow clips 16-bit values to 255 when converting, which would turn the photo white.
        im = Image.fromarray((np.asarray(im) >> 8).astype(np.uint8))
    if im.has_transparency_data:
        rgba = np.array(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.array(im if im.mode == "RGB" else im.convert("RGB")), None


def write_photo(
    photo: Photo, pixels: np.ndarray, dst: str | os.PathLike[str], overwrite: bool = False
) -> None:
    """Write ``pixels`` (the anonymised H x W x 3 uint8 image) to ``dst`` in ``photo``'s format.

    The image is built afresh from the array, so nothing from the source file's metadata can leak:
    the output has no EXIF (hence no orientation tag: the pixels are already upright), XMP, IPTC,
    comments, text chunks or thumbnails. Only ``photo.alpha`` and ``photo.icc_profile`` are carried
    over. The file appears at ``dst`` only once fully written; OSError becomes OutputError.
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"pixels must be an H x W x 3 uint8 array, not {pixels.dtype} {pixels.shape}")
    if photo.format not in _SAVE_OPTIONS:
        raise ValueError(f"cannot write format {photo.format!r}")
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if photo.alpha is not None:
        if photo.alpha.shape != pixels.shape[:2]:
            raise ValueError(f"alpha shape {photo.alpha.shape} does not match pixels {pixels.shape[:2]}")
        image.putalpha(Image.fromarray(np.ascontiguousarray(photo.alpha, dtype=np.uint8)))
    options = dict(_SAVE_OPTIONS[photo.format])
    if photo.format == "JPEG" and pixels.shape[0] * pixels.shape[1] > 16_000_000:
        options["optimize"] = False  # optimised Huffman tables hold every DCT coefficient: 290 MB at 48 MP
    if photo.icc_profile:
        options["icc_profile"] = photo.icc_profile
    try:
        with atomic_output(dst, overwrite) as tmp:
            image.save(tmp, format=photo.format, **options)
    except OSError as exc:
        raise OutputError(f"{shown(dst)}: cannot write output: {exc.strerror or exc}") from exc
