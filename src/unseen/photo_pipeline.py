"""Photos: decode -> detect -> plan regions -> obscure -> encode (same format, metadata-free).

:func:`anonymise` works on an array, :func:`anonymise_file` on a file (every frame of an animation,
every page); the video counterpart is :mod:`unseen.video_file`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .count import photo_counts
from .detect.cascade import PHOTO_CASCADE
from .detectors import detect, with_text
from .errors import AnalysisError, shown
from .media.image import read_photo, write_photo
from .obscure import obscure
from .options import Options
from .plan import plan_regions
from .regions import Regions, kinds
from .report import FileReport, Result


def anonymise(image: np.ndarray, options: Options | None = None, regions: Regions | None = None) -> Result:
    """Return a copy of ``image`` (H x W x 3 uint8 RGB) with every face irreversibly obscured.

    Pass ``regions`` to obscure known regions (e.g. corrected in review) instead of detecting.
    With ``options.text`` every text line (plate, badge, sign) is obscured too.
    """
    options = options or Options()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be an H x W x 3 uint8 RGB array")
    found = with_text(detect(image, options.sensitivity), image, options) if regions is None else regions
    planned = plan_regions(found, image.shape[:2], options.plan)
    return Result(obscure(image, planned, options.obscure), found)


def anonymise_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    options: Options | None = None,
    overwrite: bool = False,
    regions: Regions | None = None,
) -> FileReport:
    """Anonymise one photo file into ``dst`` (same format, no metadata, atomic write).

    What the reader left out (further frames, a damaged colour profile) is in the report's ``notices``.
    ``regions`` (e.g. corrected in review) are painted instead of detecting: every one of them.
    """
    start = time.perf_counter()
    src, dst = Path(src), Path(dst)
    photo = read_photo(src)
    pictures = [photo.pixels, *(pixels for pixels, _ in photo.more)]  # frames of an animation, pages
    results = []
    for i, pixels in enumerate(pictures):
        given = None if regions is None else regions[regions.frame == i]
        try:
            result = anonymise(pixels, options, given)
        except AnalysisError as exc:
            raise AnalysisError(f"{shown(src)}: {exc}" + (f" (frame {i})" if i else "")) from exc
        result.regions.frame[:] = i
        results.append(result)
    write_photo(photo, results[0].image, dst, overwrite=overwrite, more=[r.image for r in results[1:]])
    h, w = photo.pixels.shape[:2]
    counts = [photo_counts(r.regions[kinds(r.regions) == "face"], PHOTO_CASCADE.threshold) for r in results]
    return FileReport(
        src,
        dst,
        "image",
        w,
        h,
        Regions.concat([r.regions for r in results]),
        time.perf_counter() - start,
        frames=len(results),
        notices=list(photo.notices),
        faces=max(f for f, _ in counts),  # the same people, frame after frame
        candidates=max(c for _, c in counts),
        texts=max(int((kinds(r.regions) == "text").sum()) for r in results),
    )
