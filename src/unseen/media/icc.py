"""Colour profiles without the words: keep what changes how colours look, drop what can name someone.

An ICC profile is a 128-byte header, a tag table and tagged elements. Next to the colorimetry a
colour-managed viewer needs, it carries free text (description, copyright, device maker and model
descriptions, metadata dictionaries), a creation date, the device maker, model and attributes, the
creating software and platform: a calibrated monitor's or scanner's profile can name its owner or
the machine. ``scrub`` rebuilds a profile from an allow-list of colour tags, with a neutral
description, an empty copyright and the header's identifying fields zeroed; everything else, known
or not, is left behind.
"""

from __future__ import annotations

import struct

_HEADER_SIZE = 128

# Header byte ranges that identify a machine, a person's software or a moment, zeroed in the output:
# preferred CMM, creation date, platform, flags, device manufacturer, model and attributes, creator,
# profile ID (an MD5 of the original bytes) and the reserved tail.
_ZEROED = ((4, 8), (10, 12), (24, 36), (40, 64), (80, 128))

_XYZ, _CURVES, _LUTS = (b"XYZ ",), (b"curv", b"para"), (b"mft1", b"mft2", b"mAB ", b"mBA ")

# The tags a colour-managed viewer uses to turn pixels into colours, with the types they may have.
# Left out on purpose: text and dictionaries (desc, cprt, dmnd, dmdd, vued, meta, ...), calibration
# and measurement records (vcgt, targ, calt, meas, tech, ciis, ...), vendor tags (mmod, ...), named
# and colorant tables (ncl2, clrt, clro, which carry names) and any tag this list does not know.
_KEPT: dict[bytes, tuple[bytes, ...]] = {
    b"wtpt": _XYZ,  # media white point
    b"bkpt": _XYZ,  # media black point
    b"rXYZ": _XYZ,  # matrix columns: the primaries
    b"gXYZ": _XYZ,
    b"bXYZ": _XYZ,
    b"lumi": _XYZ,  # absolute luminance
    b"rTRC": _CURVES,  # tone curves
    b"gTRC": _CURVES,
    b"bTRC": _CURVES,
    b"kTRC": _CURVES,
    b"chad": (b"sf32",),  # chromatic adaptation matrix
    b"chrm": (b"chrm",),  # chromaticities of the primaries
    b"cicp": (b"cicp",),  # coding-independent code points (primaries, transfer, matrix)
    **{sig: _LUTS for sig in (b"A2B0", b"A2B1", b"A2B2", b"B2A0", b"B2A1", b"B2A2", b"gamt")},
    **{sig: _LUTS for sig in (b"pre0", b"pre1", b"pre2")},
    **{f"{a}2{b}{i}".encode(): (b"mpet",) for a, b in ("DB", "BD") for i in range(4)},
}

# A profile without one of these sets (a table; RGB's matrix and curves; grey's curve) converts no colour.
_TRANSFORMS = ({b"A2B0"}, {b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"}, {b"kTRC"})

DESCRIPTION = "RGB colour profile"
"""What every scrubbed profile calls itself."""

_PARA_PARAMETERS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


class ProfileError(ValueError):
    """The bytes are not an ICC profile this module can take apart safely."""


def scrub(profile: bytes) -> bytes:
    """The colour of ``profile`` without its identifying text, dates and header fields.

    Raises ProfileError if the profile cannot be parsed (truncated, tags outside it, a colour tag of
    the wrong type, a version other than 2 or 4) or keeps no colour transform once scrubbed.
    """
    if len(profile) < _HEADER_SIZE + 4 or profile[36:40] != b"acsp":
        raise ProfileError("not an ICC profile")
    size = struct.unpack_from(">I", profile)[0]
    if not _HEADER_SIZE + 4 <= size <= len(profile):
        raise ProfileError(f"declared size {size} does not fit its {len(profile)} bytes")
    profile = profile[:size]
    version = profile[8]
    if version not in (2, 4):
        raise ProfileError(f"unsupported ICC version {version}")
    kept = _colour_tags(profile)
    if not any(needed <= kept.keys() for needed in _TRANSFORMS):
        raise ProfileError("no colour transform among its tags")
    kept[b"desc"] = _text_v4(DESCRIPTION) if version == 4 else _description_v2(DESCRIPTION)
    kept[b"cprt"] = _text_v4("") if version == 4 else _text_v2("")
    header = bytearray(profile[:_HEADER_SIZE])
    for start, end in _ZEROED:
        header[start:end] = bytes(end - start)
    if struct.unpack_from(">I", header, 64)[0] > 3:  # rendering intents are 0..3
        header[64:68] = bytes(4)
    return _assemble(bytes(header), kept)


def _colour_tags(profile: bytes) -> dict[bytes, bytes]:
    """The allow-listed tags' elements, each cut to the length its type defines."""
    count = struct.unpack_from(">I", profile, _HEADER_SIZE)[0]
    table_end = _HEADER_SIZE + 4 + 12 * count
    if table_end > len(profile):
        raise ProfileError(f"tag table of {count} entries does not fit")
    tags: dict[bytes, bytes] = {}
    for i in range(count):
        sig, offset, length = struct.unpack_from(">4sII", profile, _HEADER_SIZE + 4 + 12 * i)
        if sig not in _KEPT:  # like a viewer, never look at what is not needed (nor judge it)
            continue
        if offset < table_end or offset + length > len(profile) or length < 8:
            raise ProfileError(f"tag {sig!r} lies outside the profile")
        if sig in tags:
            raise ProfileError(f"tag {sig!r} appears twice")
        tags[sig] = _element(sig, profile[offset : offset + length])
    return tags


def _element(sig: bytes, data: bytes) -> bytes:
    """``data`` cut to its type's own length, with the reserved bytes zeroed."""
    kind = data[:4]
    if kind not in _KEPT[sig]:
        raise ProfileError(f"tag {sig!r} has type {kind!r}")
    needed = _length(kind, data)
    if needed is None or needed > len(data):
        raise ProfileError(f"tag {sig!r} is truncated")
    return kind + bytes(4) + data[8:needed]


def _length(kind: bytes, data: bytes) -> int | None:
    """Bytes an element of this type takes, from its own counts (None if they cannot be read)."""
    if len(data) < 12:
        return None
    if kind == b"XYZ ":
        return 8 + 12 * ((len(data) - 8) // 12) if len(data) >= 20 else None
    if kind == b"sf32":
        return 8 + 4 * ((len(data) - 8) // 4)
    if kind == b"curv":
        return 12 + 2 * struct.unpack_from(">I", data, 8)[0]
    if kind == b"para":
        parameters = _PARA_PARAMETERS.get(struct.unpack_from(">H", data, 8)[0])
        return None if parameters is None else 12 + 4 * parameters
    if kind == b"chrm":
        return 12 + 8 * struct.unpack_from(">H", data, 8)[0]
    if kind == b"cicp":
        return 12
    if kind in (b"mft1", b"mft2") and len(data) >= 52:
        inputs, outputs, grid = data[8], data[9], data[10]
        if kind == b"mft1":
            return 48 + 256 * inputs + grid**inputs * outputs + 256 * outputs
        in_entries, out_entries = struct.unpack_from(">HH", data, 48)
        return 52 + 2 * (in_entries * inputs + grid**inputs * outputs + out_entries * outputs)
    if kind in (b"mft1", b"mft2"):
        return None
    return len(data)  # mAB, mBA, mpet: sub-elements at offsets of their own; kept whole


def _description_v2(text: str) -> bytes:
    """A v2 textDescriptionType: ASCII, then empty Unicode and ScriptCode parts."""
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


def _text_v2(text: str) -> bytes:
    """A v2 textType (what v2 uses for the copyright)."""
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def _text_v4(text: str) -> bytes:
    """A v4 multiLocalizedUnicodeType with one en-US record."""
    encoded = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded


def _assemble(header: bytes, tags: dict[bytes, bytes]) -> bytes:
    """Header, tag table and 4-byte aligned elements; identical elements (e.g. shared TRCs) stored once."""
    body = bytearray()
    table = []
    placed: dict[bytes, int] = {}
    start = _HEADER_SIZE + 4 + 12 * len(tags)
    for sig, element in tags.items():
        if element not in placed:
            placed[element] = start + len(body)
            body += element + bytes(-len(element) % 4)
        table.append(struct.pack(">4sII", sig, placed[element], len(element)))
    out = bytearray(header) + struct.pack(">I", len(tags)) + b"".join(table) + body
    out[0:4] = struct.pack(">I", len(out))
    return bytes(out)
