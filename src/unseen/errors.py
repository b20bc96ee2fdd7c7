"""Exceptions raised by the library, and how messages name files.

The CLI turns each exception into a one-line report naming the file. File names come from users
and from folders full of other people's files, so a message never prints one raw: :func:`shown`
escapes it, and a name with a newline or an escape sequence cannot forge lines of output.
"""

from __future__ import annotations

import os
import re


class UnseenError(Exception):
    """Base class: something about one input or output that stops it from being processed."""


class InputError(UnseenError):
    """The input is unreadable, corrupt, truncated, unsupported or refused (e.g. a decompression bomb)."""


class OutputError(UnseenError):
    """The output cannot be written (exists without --overwrite, unwritable folder, would overwrite input)."""


class AnalysisError(UnseenError):
    """A frame or image could not be analysed; nothing unprotected is written (fail closed)."""


# Characters that make a name ambiguous when printed: whitespace other than a lone inner space,
# quotes and backslashes (which the quoting itself uses).
_NEEDS_QUOTES = re.compile(r"""[\s'"\\]""")


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as messages print it: unchanged when plain, else quoted with control characters,
    undecodable bytes and quotes escaped, so the printed name is one unambiguous token on one line.

    ``photos/a b.jpg`` -> ``'photos/a b.jpg'``; ``x\\n5 done.jpg`` -> ``'x\\\\n5 done.jpg'``.
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text and text.isprintable() and not _NEEDS_QUOTES.search(text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\" or ch == "'":
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "'" + "".join(out) + "'"


def one_line(text: str) -> str:
    """``text`` with every character that could start a new line or move the cursor escaped."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def brief(value: object) -> str:
    """``repr(value)`` cut to a length a one-line message can hold (a number in a file can have
    thousands of digits)."""
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."
