"""Exceptions raised by the library; the CLI turns each into a one-line report naming the file."""


class UnseenError(Exception):
    """Base class: something about one input or output that stops it from being processed."""


class InputError(UnseenError):
    """The input is unreadable, corrupt, truncated, unsupported or refused (e.g. a decompression bomb)."""


class OutputError(UnseenError):
    """The output cannot be written (exists without --overwrite, unwritable folder, would overwrite input)."""


class AnalysisError(UnseenError):
    """A frame or image could not be analysed; nothing unprotected is written (fail closed)."""
