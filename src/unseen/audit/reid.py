"""Re-identification check: could a face recogniser still match the obscured face to the original?

For each face the run obscured, dlib's ResNet face embedding (the one face_recognition uses) is
computed for the original face and for the same place in the output, aligned by the landmarks of
the original, and the two are compared. A distance under :data:`MATCH_DISTANCE` (dlib's own
threshold for "same person") means the obscuring left enough for a recogniser to link the output to
the original. The embeddings exist only inside :func:`still_matches`, are never written anywhere,
and are only ever compared for one face with itself: this module offers no way to compare
different faces, files or people.

Needs the optional extra ``pip install 'unseen[audit]'`` (dlib-bin and face_recognition_models,
whose model files ship inside the wheel; nothing is downloaded).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

MATCH_DISTANCE = 0.6
"""dlib's threshold: embeddings closer than this are taken for the same person."""
MIN_FACE = 12  # pixels; smaller faces give no meaningful embedding


def unavailable() -> str | None:
    """Why the check cannot run here, or None when it can."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed: pip install 'unseen[audit]'"
    return None


@cache
def _models() -> tuple[Any, Any]:
    import dlib
    import face_recognition_models as models

    landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    embedding = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    return landmarks, embedding


def still_matches(original: np.ndarray, output: np.ndarray, face: np.ndarray) -> float | None:
    """The embedding distance between the face at ``face`` (x1, y1, x2, y2) in the original and the
    same place in the output; None for a face too small to embed. Both pictures are H x W x 3 RGB."""
    import dlib

    if min(face[2] - face[0], face[3] - face[1]) < MIN_FACE:
        return None
    landmarks, embedding = _models()
    rect = dlib.rectangle(*(int(round(v)) for v in face))
    shape = landmarks(np.ascontiguousarray(original), rect)  # the same alignment for both pictures
    before = np.asarray(embedding.compute_face_descriptor(np.ascontiguousarray(original), shape))
    after = np.asarray(embedding.compute_face_descriptor(np.ascontiguousarray(output), shape))
    return float(np.linalg.norm(before - after))
