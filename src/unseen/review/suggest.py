"""Suggestions: what the detector saw below its normal thresholds, for a person to accept or reject.

The cascade is run a second time with every threshold divided by :data:`REACH`; what it finds that
the normal run did not (no overlap with a normal detection) is a candidate. Each candidate is then
looked at again on its own (:mod:`unseen.detect.recheck`), and those that still look like a face
(:data:`RECHECK`) are the suggestions, the most face-like first. Suggestions are never painted
unless a person accepts them, so a normal run's output is exactly what review starts from.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..detect.cascade import PHOTO_CASCADE, VIDEO_CASCADE, Cascade
from ..detect.model import shared_model
from ..detect.recheck import recheck
from ..errors import AnalysisError
from ..regions import Regions, iou_matrix

REACH = 2.5  # thresholds divided by this: a face at 0.08 where 0.2 is needed is worth a look
MIN_HEIGHT = 32.0  # weak boxes shorter than this are left out (see below)
LIMIT = 30  # at most this many suggestions per picture, the strongest first (a person reads them all)
OVERLAP = 0.2  # a weak box overlapping a detection this much is that detection, not a new face
RECHECK = 0.05  # a candidate whose second look scores under this is left out (see suggestions())


@cache
def weak_detector(sensitivity: float = 1.0, video: bool = False, reach: float = REACH) -> Cascade:
    """The cascade at lower thresholds, built once per process."""
    base = VIDEO_CASCADE if video else PHOTO_CASCADE
    return Cascade(shared_model(), base.scaled(sensitivity * reach))


def suggestions(
    image: np.ndarray,
    found: Regions,
    sensitivity: float = 1.0,
    video: bool = False,
    *,
    reach: float = REACH,
    min_height: float = MIN_HEIGHT,
    limit: int = LIMIT,
    least: float = RECHECK,
) -> Regions:
    """The candidates of :func:`candidates` whose second look scores at least ``least``; at most
    ``limit``, the most face-like first (their scores stay the detector's).

    On the 320 dev photos (bench/suggestions.py; 75 faces missed by the default run), the candidates
    of 32 px and up lay over 22 misses at 3.8 a photo; those whose second look scores 0.05 or more
    over 21 at 2.0 a photo, and at 0.08 over 12 at 0.9 a photo. The first 100 photos chose the
    measure; texture rarely looks like a face twice."""
    weak, looks = candidates(image, found, sensitivity, video, reach=reach, min_height=min_height)
    keep = looks >= least
    return weak[keep][np.argsort(-looks[keep], kind="stable")[:limit]]


def candidates(
    image: np.ndarray,
    found: Regions,
    sensitivity: float = 1.0,
    video: bool = False,
    *,
    reach: float = REACH,
    min_height: float = MIN_HEIGHT,
) -> tuple[Regions, np.ndarray]:
    """Weak boxes in ``image`` at least ``min_height`` tall that none of the regions in ``found``
    already covers, and the score of each one's second look (:func:`unseen.detect.recheck.recheck`).
    ``reach``: how far below the normal thresholds to look.

    Small faces are already accepted at low confidence by the normal run, so what the cascade sees
    below that in small boxes is mostly texture. On the 320 photos of the WIDER dev sample,
    leaving out boxes under 32 px cut them from 24.3 to 3.3 per photo, while the share of the run's
    80 misses under one went from 36 % to 26 % (faces of 32 px and up: 19 then 20 of 32; smaller
    ones: 10 then 1 of 48)."""
    try:
        weak = weak_detector(sensitivity, video, reach)(np.ascontiguousarray(image))
    except Exception as exc:  # the same failure the normal detection reports
        raise AnalysisError(f"face detection failed: {exc}") from exc
    if len(weak) and len(found):
        centres = (weak.boxes[:, None, :2] + weak.boxes[:, None, 2:]) / 2
        inside = (
            (centres[..., 0] >= found.boxes[None, :, 0])
            & (centres[..., 0] <= found.boxes[None, :, 2])
            & (centres[..., 1] >= found.boxes[None, :, 1])
            & (centres[..., 1] <= found.boxes[None, :, 3])
        ).any(axis=1)
        weak = weak[~inside & (iou_matrix(weak.boxes, found.boxes).max(axis=1) < OVERLAP)]
    weak = weak[weak.heights >= min_height]
    return weak, recheck(shared_model(), image, weak)
