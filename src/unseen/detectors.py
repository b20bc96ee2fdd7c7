"""The detectors a run uses, built once per process: faces in a photo, in a video's keyframes, and text.

Both pipelines (:mod:`unseen.photo_pipeline`, :mod:`unseen.video_file`) find regions through these;
a detector that fails raises :class:`AnalysisError`, so nothing is written as if clean.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np

from .detect.cascade import PHOTO_CASCADE, VIDEO_CASCADE, WEAK_FLOOR, Cascade
from .detect.keyframe import KeyframeDetector
from .detect.model import shared_model
from .errors import AnalysisError, UnseenError
from .options import Options
from .regions import Regions, with_kind


@cache
def detector(sensitivity: float = 1.0, video: bool = False) -> Cascade:
    """The face detector for a given sensitivity, built once per process (see ``VIDEO_CASCADE``)."""
    return Cascade(shared_model(), (VIDEO_CASCADE if video else PHOTO_CASCADE).scaled(sensitivity))


def keyframe_detector(sensitivity: float = 1.0) -> KeyframeDetector:
    """A video's keyframe detector (see :mod:`unseen.detect.keyframe`): both cascades also give their
    weak detections, for the tracker to continue faces with. One per video: it keeps the turn."""
    return KeyframeDetector(*(_weak_cascade(sensitivity, video) for video in (False, True)))


@cache
def _weak_cascade(sensitivity: float, video: bool) -> Cascade:
    base = VIDEO_CASCADE if video else PHOTO_CASCADE
    return Cascade(shared_model(), replace(base, weak=WEAK_FLOOR).scaled(sensitivity))


def detect(image: np.ndarray, sensitivity: float = 1.0, video: bool = False) -> Regions:
    """Find faces in an H x W x 3 uint8 RGB image (no obscuring)."""
    try:
        return detector(sensitivity, video)(np.ascontiguousarray(image))
    except Exception as exc:  # fail closed: an image we cannot analyse is never written as if clean
        raise AnalysisError(f"face detection failed: {exc}") from exc


def detect_text(image: np.ndarray) -> Regions:
    """Find text lines (number plates, badges, signs) in an H x W x 3 uint8 RGB image, as regions of
    kind ``text``; never reads the text. Needs the ``text`` extra (:class:`MissingExtra` without it)."""
    from .detect.text import shared_text_detector  # the optional extra: looked for only when wanted

    try:
        return shared_text_detector()(np.ascontiguousarray(image))
    except UnseenError:
        raise
    except Exception as exc:  # fail closed, as for faces
        raise AnalysisError(f"text detection failed: {exc}") from exc


def check_text() -> None:
    """Raise :class:`MissingExtra` (one line naming the extra) unless text detection can run."""
    from .detect.text import model_path

    model_path()


def with_text(faces: Regions, image: np.ndarray, options: Options) -> Regions:
    """``faces`` found in ``image``, and its text when ``options.text`` asks (each with its kind)."""
    if not options.text:
        return faces
    return Regions.concat([with_kind(faces, "face"), detect_text(image)])
