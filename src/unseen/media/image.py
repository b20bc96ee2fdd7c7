"""Photo decoding and encoding: upright RGB pixels in, metadata-free file of the same format out.

Knows nothing of faces. Everything a photo file can carry besides its pixels (EXIF with GPS and
camera serials, XMP, IPTC, comments, text chunks, embedded thumbnails, secondary MPO/HEIF images)
may identify a person or place, so the writer builds a fresh image and keeps only the colour profile,
and that only as rebuilt by :mod:`unseen.media.icc` (colour tags kept, text, dates and devices dropped).
What the reader had to leave behind (further frames, a damaged profile, unreadable EXIF) it says in
``Photo.notices``; Pillow's own warnings never reach the user.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, OutputError, shown
from . import icc
from .atomic import atomic_output, checked_writes

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
    "GIF": {},  # the writer hands it a palette image (see _palette_image)
}
_EXTENSIONS = {".jpg", ".jpeg", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
if pillow_heif is not None and "HEIF" in Image.SAVE:  # reading is useless if we cannot write back
    _SAVE_OPTIONS["HEIF"] = {"quality": 95}
    _EXTENSIONS |= {".heic", ".heif"}

IMAGE_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS)
"""Lower-case file suffixes that ``read_photo`` accepts."""

_HEIF_HINT = "pip install 'unseen[heif]'"
EXTRA_EXTENSIONS: dict[str, str] = {
    ext: _HEIF_HINT for ext in (".heic", ".heif") if ext not in IMAGE_EXTENSIONS
}
"""Photo suffixes this installation cannot read, each with the command that installs what it needs."""

# How a file with more than one frame is called, and what its frames are, for the notice that only
# the first was kept.
_SEVERAL = {
    "GIF": ("animated GIF", "first", "frames"),
    "PNG": ("animated PNG", "first", "frames"),
    "WEBP": ("animated WebP", "first", "frames"),
    "TIFF": ("multi-page TIFF", "first", "pages"),
    "MPO": ("MPO (a JPEG with more images after it)", "first", "images"),
    "HEIF": ("HEIF with several images", "primary", "images"),
}

# Formats whose every frame (page) is read, painted and written back; the others (MPO's depth maps and
# previews, HEIF's secondary images) keep their first (primary) image, with a notice.
_ALL_FRAMES = frozenset({"GIF", "PNG", "WEBP", "TIFF"})

GIF_EXACT_COLOURS = 64
"""Palette entries a GIF output with more than 256 colours gives to its most frequent exact colours."""


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

_ORIENTATION = 0x0112  # the EXIF tag

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
    """Pillow format name of the source ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF"); MPO is JPEG."""
    icc_profile: bytes | None
    """RGB colour profile of the source as ``icc.scrub`` rebuilds it: its colour, none of its text."""
    notices: list[str] = field(default_factory=list)
    """What the reader left out or could not apply, one line each, for the user (e.g. dropped frames)."""
    more: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)
    """The further frames or pages of an animation or multi-page TIFF, (pixels, alpha) like the first."""
    durations: list[int] | None = None
    """Milliseconds each frame of an animation is shown (first frame included), if the file says."""
    loop: int | None = None
    """How often an animation repeats (0: for ever), if the file says."""


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Decode ``path`` fully into an upright RGB array; never modifies the file.

    Refuses, with an InputError naming the file: unsupported suffixes or formats, unreadable, empty,
    corrupt or truncated files, and images over MAX_PIXELS (checked from the header, before any
    pixel is decoded). Multi-frame files (animated GIF, PNG and WebP, multi-page TIFF, MPO, HEIF
    with several images) yield their first (HEIF: primary) frame only, and a notice that says so.
    Deeper greyscale is scaled to 8 bits (see ``_eight_bit``); other bit depths are converted by Pillow.
    """
    path = Path(path)
    notices: list[str] = []
    with _opened(path) as (im, caught):
        try:
            im.load()  # full decode now: a truncated file must fail here, not yield grey pixels
            # Pillow's JPEG opener reports MPO (a JPEG followed by more images: stereo pairs, depth
            # maps); only the first image is decoded, and it is written back as a plain JPEG.
            fmt = "JPEG" if im.format == "MPO" else im.format
            icc_profile = im.info.get("icc_profile")
            frames = getattr(im, "n_frames", 1)
            orientation = im.getexif().get(_ORIENTATION)
            if frames == 1:
                ImageOps.exif_transpose(im, in_place=True)  # no copy of a 48 MP photo that is upright
                upright = im
            else:  # later frames are turned from the file's own orientation tag, which in_place drops
                upright = ImageOps.exif_transpose(im)
            upright, scaled = _eight_bit(upright)
            pixels, alpha = _rgb_and_alpha(upright)
        except _DECODE_ERRORS as exc:
            raise InputError(f"{shown(path)}: corrupt or truncated image: {exc}") from exc
        # Pillow warns (and reads on, or gives up on the rest) when EXIF is damaged: the orientation
        # may be lost with it, and the user should know why a photo comes out turned.
        if caught and "exif" in im.info and orientation is None:
            notices.append("EXIF unreadable; orientation not applied")
        photo = Photo(pixels, alpha, fmt, None, notices)
        if frames > 1:
            kind, which, unit = _SEVERAL.get(im.format, (im.format, "first", "frames"))
            if im.format in _ALL_FRAMES and frames * pixels.shape[0] * pixels.shape[1] <= MAX_PIXELS:
                _read_more(path, im, frames, photo)
            else:
                too_many = " (too many to hold at once)" if im.format in _ALL_FRAMES else ""
                notices.append(f"{kind}: only the {which} of {frames} {unit} was kept{too_many}")
    if scaled:
        notices.append(scaled)
    photo.icc_profile = _colour_profile(icc_profile, notices)
    return photo


def _read_more(path: Path, im: Image.Image, frames: int, photo: Photo) -> None:
    """Frames 2.. of an animation or pages 2.. of a TIFF into ``photo``, each as upright as the first."""
    durations = [int(im.info.get("duration") or 0)]
    try:
        for i in range(1, frames):
            im.seek(i)
            upright, _ = _eight_bit(ImageOps.exif_transpose(im))
            pixels, alpha = _rgb_and_alpha(upright)
            if pixels.shape != photo.pixels.shape:
                raise ValueError(f"frame {i} is {pixels.shape[1]} x {pixels.shape[0]}, unlike the first")
            photo.more.append((pixels, alpha))
            durations.append(int(im.info.get("duration") or 0))
    except _DECODE_ERRORS as exc:
        raise InputError(f"{shown(path)}: corrupt or truncated frame {len(photo.more) + 1}: {exc}") from exc
    if photo.format != "TIFF":
        photo.durations = durations if any(durations) else None
        photo.loop = im.info.get("loop")


def frame_count(path: str | os.PathLike[str]) -> int:
    """How many frames (pages, images) the photo file at ``path`` holds, e.g. to send an animated GIF
    to the video pipeline. Cheap: read from the headers, no pixel is decoded (a GIF's frames are
    skipped over, not decompressed). Raises InputError as ``read_photo`` would.
    """
    path = Path(path)
    with _opened(path) as (im, _):
        try:
            return int(getattr(im, "n_frames", 1))
        except _DECODE_ERRORS as exc:
            raise InputError(f"{shown(path)}: corrupt image: {exc}") from exc


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[Image.Image, list[warnings.WarningMessage]]]:
    """``path`` opened by Pillow (header read, no pixels yet) if its suffix, size and format are ours,
    with the warnings Pillow gives while it is open: caught, never shown (they name library files)."""
    suffix = path.suffix.lower()
    if suffix in EXTRA_EXTENSIONS:
        raise InputError(f"{shown(path)}: {suffix} photos need {EXTRA_EXTENSIONS[suffix]}")
    if suffix not in IMAGE_EXTENSIONS:
        raise InputError(f"{shown(path)}: unsupported file type {path.suffix or '(no extension)'!r}")
    fh = _open_regular(path)
    with fh, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            im = Image.open(fh, formats=tuple(_SAVE_OPTIONS))
            # Pillow warns between MAX_PIXELS and twice that; we refuse those just below instead.
            caught[:] = [w for w in caught if not issubclass(w.category, Image.DecompressionBombWarning)]
        except Image.DecompressionBombError as exc:
            limit = 2 * MAX_PIXELS  # Pillow refuses these itself, before we could read the dimensions
            raise InputError(
                f"{shown(path)}: image too large (over {limit:,} pixels); "
                "refusing a possible decompression bomb"
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
            yield im, caught


def _open_regular(path: Path) -> BinaryIO:
    """``path`` open for reading if it is a non-empty regular file. Opened without blocking, so that a
    FIFO (or a device) named like a photo is refused at once instead of waiting for a writer forever."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_size > 0:
        return os.fdopen(fd, "rb")
    os.close(fd)
    raise InputError(f"{shown(path)}: {'empty file' if stat.S_ISREG(info.st_mode) else 'not a regular file'}")


def _colour_profile(profile: bytes | None, notices: list[str]) -> bytes | None:
    """The profile to write: scrubbed, or None (with a notice if an RGB profile had to be dropped)."""
    if not profile or profile[16:20] != _ICC_RGB:  # a grey or CMYK profile does not fit RGB output
        return None
    try:
        return icc.scrub(profile)
    except icc.ProfileError as exc:
        notices.append(f"colour profile unreadable ({exc}); dropped, so colours may look different")
        return None


def _eight_bit(im: Image.Image) -> tuple[Image.Image, str | None]:
    """Deep greyscale (16- or 32-bit integers, floats) as 8-bit "L", and a notice if a range was chosen.

    Pillow's own conversion clips such values to 0..255, which turns the photo white or black. Unsigned
    16-bit values fill their declared range, as viewers show them. Signed, 32-bit and float values
    declare no range a photo uses, so they are stretched over their own (floats within 0..1 keep 0..1).
    """
    if not im.mode.startswith("I") and im.mode != "F":
        return im, None
    values = np.asarray(im)
    if values.dtype.kind == "u" and values.dtype.itemsize == 2:
        return Image.fromarray((values >> 8).astype(np.uint8)), None
    values = values.astype(np.float32)
    finite = np.isfinite(values)
    lo, hi = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 0.0)
    if im.mode == "F" and 0 <= lo and hi <= 1:
        lo, hi = 0.0, 1.0
    elif im.mode != "F" and 0 <= lo and hi <= 255:
        return im, None  # 8-bit values in a wider type: Pillow's conversion is right
    gain = 255 / (hi - lo) if hi > lo else 0.0
    scaled = np.where(finite, np.rint((values - lo) * gain), 0).clip(0, 255).astype(np.uint8)
    kind = "floating-point" if im.mode == "F" else "integer"
    return Image.fromarray(scaled), f"{kind} pixels scaled from {lo:g}..{hi:g} to 8 bits"


def _rgb_and_alpha(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Reduce any 8-bit Pillow mode to RGB plus alpha where the source carries transparency."""
    if im.has_transparency_data:
        rgba = np.array(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.array(im if im.mode == "RGB" else im.convert("RGB")), None


def write_photo(
    photo: Photo,
    pixels: np.ndarray,
    dst: str | os.PathLike[str],
    overwrite: bool = False,
    more: list[np.ndarray] | None = None,
) -> None:
    """Write ``pixels`` (the anonymised H x W x 3 uint8 image) to ``dst`` in ``photo``'s format.

    ``more``: the anonymised further frames of an animation or pages of a TIFF (``photo.more``), written
    after the first with the source's frame timing. The image is built afresh from the arrays, so
    nothing from the source file's metadata can leak: the output has no EXIF (hence no orientation
    tag: the pixels are already upright), XMP, IPTC, comments, text chunks or thumbnails. Only alpha,
    timing and ``photo.icc_profile`` are carried over. The file appears at ``dst`` only once fully
    written and read back whole (see :func:`_check_written`); OSError becomes OutputError.
    """
    if photo.format not in _SAVE_OPTIONS:
        raise ValueError(f"cannot write format {photo.format!r}")
    more = more or []
    if len(more) != len(photo.more):
        raise ValueError(f"{len(photo.more)} further frames to write, {len(more)} given")
    options = dict(_SAVE_OPTIONS[photo.format])
    image, transparency = _frame_image(photo.format, pixels, photo.alpha)
    if transparency is not None:
        options["transparency"] = transparency
    if more:
        frames = []
        for painted, (_, alpha) in zip(more, photo.more, strict=True):
            frame, clear = _frame_image(photo.format, painted, alpha)
            if clear is not None:
                frame.info["transparency"] = clear
            frames.append(frame)
        options.update(save_all=True, append_images=frames)
        if photo.durations:
            options["duration"] = photo.durations
        if photo.loop is not None:
            options["loop"] = photo.loop
    if photo.format == "JPEG" and image.width * image.height > 16_000_000:
        options["optimize"] = False  # optimised Huffman tables hold every DCT coefficient: 290 MB at 48 MP
    if photo.icc_profile:
        options["icc_profile"] = photo.icc_profile
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings name library files; they are not for users
            verify = partial(_check_written, photo.format, image.size)
            with atomic_output(dst, overwrite, verify) as tmp, checked_writes(tmp) as fh:
                image.save(fh, format=photo.format, **options)
    except OSError as exc:
        raise OutputError(f"{shown(dst)}: cannot write output: {exc.strerror or exc}") from exc


def _check_written(fmt: str, size: tuple[int, int], path: Path) -> None:
    """Decode every frame of a photo just written (ValueError if one does not), so that a file cut
    short or garbled is never published. A JPEG is decoded at an eighth of its size: every byte of
    its compressed data is still read and parsed, at half the cost; its end marker, which the decoder
    does without, is checked on its own."""
    try:
        if fmt == "JPEG" and not _ends_with(path, b"\xff\xd9"):
            raise ValueError("it does not end with the JPEG end marker")
        with Image.open(path, formats=[fmt]) as im:
            if im.size != size:
                raise ValueError(f"it reads as {im.width} x {im.height}, not {size[0]} x {size[1]}")
            for index in range(getattr(im, "n_frames", 1)):
                im.seek(index)
                if fmt == "JPEG":
                    im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
    except _DECODE_ERRORS as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc


def _ends_with(path: Path, end: bytes) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - len(end)))
        return fh.read() == end


def _frame_image(fmt: str, pixels: np.ndarray, alpha: np.ndarray | None) -> tuple[Image.Image, int | None]:
    """One frame as a Pillow image for ``fmt``, and a GIF's transparent index."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"pixels must be an H x W x 3 uint8 array, not {pixels.dtype} {pixels.shape}")
    if alpha is not None and alpha.shape != pixels.shape[:2]:
        raise ValueError(f"alpha shape {alpha.shape} does not match pixels {pixels.shape[:2]}")
    alpha = None if alpha is None else np.ascontiguousarray(alpha, dtype=np.uint8)
    if fmt == "GIF":
        return _palette_image(pixels, alpha)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image, None


def _palette_image(pixels: np.ndarray, alpha: np.ndarray | None) -> tuple[Image.Image, int | None]:
    """``pixels`` as a GIF's palette image, plus the transparent index (where ``alpha`` is below half).

    A GIF holds 256 colours. An image with no more keeps every pixel exact. Otherwise the
    GIF_EXACT_COLOURS most frequent colours keep theirs (a face painted with a fill is one colour over
    many pixels) and the rest are quantised by median cut without dithering, so equal colours always
    share one entry: a painted area stays flat, never speckled with what was under it.
    """
    h, w = pixels.shape[:2]
    flat = pixels.reshape(-1, 3)
    keys = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    clear = None if alpha is None else alpha.reshape(-1) < 128
    transparent = clear is not None and bool(clear.any())
    slots = 255 if transparent else 256  # the last entry is the transparent one
    colours, counts = np.unique(keys if clear is None else keys[~clear], return_counts=True)
    exact = colours if len(colours) else np.zeros(1, np.uint32)  # all transparent: any one colour
    if len(colours) > slots:
        exact = np.sort(colours[np.argsort(counts, kind="stable")[::-1][:GIF_EXACT_COLOURS]])
    position = np.searchsorted(exact, keys).clip(max=len(exact) - 1)
    is_exact = exact[position] == keys
    index = np.zeros(len(keys), np.uint8)
    rest_palette = np.zeros((0, 3), np.uint8)
    if len(colours) > slots:
        rest = Image.fromarray(np.ascontiguousarray(flat[~is_exact][None]))
        quantised = rest.quantize(slots - len(exact), method=Image.Quantize.MEDIANCUT)
        rest_palette = np.array(quantised.getpalette()[: 3 * (slots - len(exact))], np.uint8).reshape(-1, 3)
        index[~is_exact] = np.asarray(quantised).reshape(-1)
    index[is_exact] = len(rest_palette) + position[is_exact]
    exact_rgb = np.stack([(exact >> 16) & 255, (exact >> 8) & 255, exact & 255], axis=1).astype(np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(rest_palette) + len(exact)] = np.concatenate([rest_palette, exact_rgb])
    if transparent:
        index[clear] = 255
    image = Image.frombytes("P", (w, h), index.tobytes())
    image.putpalette(palette.tobytes())
    return image, 255 if transparent else None
