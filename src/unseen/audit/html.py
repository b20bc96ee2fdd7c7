"""The audit as one self-contained HTML page: inline CSS, pictures as data: URIs, nothing fetched.

The page shows the *outputs* only (the files that will be published), with each finding's place
marked and numbered, the findings listed under each picture, and the hashes and checks that pin
what was audited. It never shows an original: the originals hold the faces the run protected.
"""

from __future__ import annotations

import base64
import html
import io
import os
from typing import Any

import numpy as np
from PIL import Image

from ..errors import OutputError, UnseenError, shown
from ..media.atomic import publish_bytes
from ..media.image import read_photo
from ..media.video import read_frames
from .findings import FileAudit, Finding
from .report import verdict

MAX_SIDE = 960  # pictures are shrunk to this long side: enough to see the finding, a small page
MAX_FRAMES = 6  # video frames shown per file

# The page may load nothing at all: pictures only from data: URIs, styles only inline.
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1040px;color:#111;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.1em;margin:0 0 .3em;word-break:break-all}
section{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1.2em 0}
section.clean{border-left:6px solid #2a7a2a}section.found{border-left:6px solid #b00020}
.verdict{font-weight:600}.found .verdict{color:#b00020}.clean .verdict{color:#2a7a2a}
figure{margin:.6em 0}figcaption{font-size:.85em;color:#444}
.pic{position:relative;display:inline-block;max-width:100%;line-height:0}
.pic img{max-width:100%;height:auto;display:block}
.mark{position:absolute;border:3px solid #ff1744;box-shadow:0 0 0 1px #fff;box-sizing:border-box}
.mark span{position:absolute;top:-1.5em;left:-3px;background:#ff1744;color:#fff;font:bold 12px/1.4 sans-serif;
padding:0 4px;white-space:nowrap}
ol.findings li{margin:.15em 0}code{font-size:.85em;word-break:break-all}
table{border-collapse:collapse;font-size:.85em}td{padding:.1em .6em .1em 0;vertical-align:top}
"""


def _data_uri(pixels: np.ndarray) -> str:
    """A JPEG data: URI of the picture shrunk to MAX_SIDE (marks are placed in percent, so the
    scale does not matter to them)."""
    image = Image.fromarray(pixels)
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(pixels: np.ndarray, marks: list[tuple[int, Finding]], caption: str) -> str:
    uri = _data_uri(pixels)
    h, w = pixels.shape[:2]
    boxes = []
    for number, finding in marks:
        x1, y1, x2, y2 = finding.box or (0, 0, 0, 0)
        style = (
            f"left:{100 * x1 / w:.2f}%;top:{100 * y1 / h:.2f}%;"
            f"width:{100 * (x2 - x1) / w:.2f}%;height:{100 * (y2 - y1) / h:.2f}%"
        )
        label = f"{number} {finding.check}"
        boxes.append(
            f'<div class="mark" style="{style}" title="{html.escape(finding.message)}">'
            f"<span>{label}</span></div>"
        )
    return (
        f'<figure><div class="pic"><img src="{uri}" alt="{html.escape(caption)}">{"".join(boxes)}</div>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _pictures(audit: FileAudit, numbered: list[tuple[int, Finding]]) -> str:
    """The output's picture (a photo) or its frames with findings (a video; else its first frame),
    findings marked."""
    boxed = [(n, f) for n, f in numbered if f.box is not None]
    try:
        if audit.kind == "image":
            return _figure(read_photo(audit.output).pixels, boxed, "the output, findings marked")
        wanted = sorted({f.frame for _, f in boxed if f.frame is not None})[:MAX_FRAMES] or [0]
        figures = []
        for frame in read_frames(audit.output):
            if frame.index in wanted:
                here = [(n, f) for n, f in boxed if f.frame == frame.index]
                figures.append(_figure(frame.pixels, here, f"the output, frame {frame.index}"))
            if frame.index >= wanted[-1]:
                break
        more = len({f.frame for _, f in boxed}) - len(wanted)
        return "".join(figures) + (
            f"<p>and {more} more frame(s) with findings, listed below</p>" if more > 0 else ""
        )
    except UnseenError as exc:
        return f"<p>the output cannot be shown: {html.escape(str(exc))}</p>"


def _section(audit: FileAudit) -> str:
    numbered = list(enumerate(audit.findings, 1))
    items = "".join(
        f"<li><b>{html.escape(f.check)}</b>: {html.escape(f.message)}"
        + (f" (frame {f.frame})" if f.frame is not None else "")
        + "</li>"
        for _, f in numbered
    )
    rows = [
        ("output", audit.output, audit.sha256_output),
        ("original", audit.original or "(none)", audit.sha256_original),
    ]
    pins = "".join(
        f"<tr><td>{role}</td><td><code>{html.escape(name)}</code></td>"
        f"<td><code>SHA-256 {digest or '-'}</code></td></tr>"
        for role, name, digest in rows
    )
    checks = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{html.escape(d)}</td></tr>" for c, d in audit.checks.items()
    )
    return (
        f'<section class="{"clean" if audit.clean else "found"}">'
        f"<h2>{html.escape(shown(audit.output))}</h2>"
        f'<p class="verdict">{html.escape(verdict(audit))}</p>'
        f"{_pictures(audit, numbered)}"
        f"{f'<ol class=findings>{items}</ol>' if items else ''}"
        f"<table>{pins}</table><table>{checks}</table></section>"
    )


def render_html(doc: dict[str, Any], audits: list[FileAudit]) -> str:
    """The whole page for one audit (``doc`` is the JSON report of :func:`report.document`)."""
    found = sum(not a.clean for a in audits)
    summary = f"{len(audits)} file(s) audited, {found} with findings, {doc['findings']} finding(s) in all"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f"<title>unseen audit</title><style>{_CSS}</style></head><body>"
        f"<h1>unseen audit</h1><p>{html.escape(summary)}</p>"
        f"<p>{html.escape(doc['tool'])}, {html.escape(doc['created'])}; "
        f"pairs from {html.escape(doc['source'])}. "
        "Only the outputs are shown; the originals never appear on this page.</p>"
        f"<p>JSON report digest: <code>sha256:{html.escape(doc['seal']['sha256'])}</code> "
        "(<code>unseen audit --verify REPORT.json --digest ...</code>)</p>"
        + "".join(_section(a) for a in audits)
        + "</body></html>\n"
    )


def write_html(path: str | os.PathLike[str], doc: dict[str, Any], audits: list[FileAudit]) -> None:
    """Write the page as outputs are written (checked, read back, then renamed into place); OSError
    becomes OutputError naming the file."""
    text = render_html(doc, audits)
    try:
        publish_bytes(path, text.encode("utf-8"), overwrite=True)
    except OSError as exc:
        raise OutputError(f"{shown(path)}: cannot write report: {exc.strerror or exc}") from exc
