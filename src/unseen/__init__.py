"""unseen: find every face in photos and videos and obscure it irreversibly, offline."""

import os
from typing import TYPE_CHECKING, Any

# onnxruntime (1.32 on Linux too) records telemetry events from its import on, in a store under
# ~/.cache/Microsoft, for upload to Microsoft. unseen sends nothing anywhere: this switch is read when
# onnxruntime is imported, so it is set before anything of unseen can import it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


from .api import FileReport, Options, Result, anonymise, anonymise_file, detect
from .obscure import ObscureOptions
from .plan import PlanOptions
from .regions import Regions
from .track import TrackOptions

if TYPE_CHECKING:
    from .api import anonymise_video_file

__all__ = [
    "FileReport",
    "ObscureOptions",
    "Options",
    "PlanOptions",
    "Regions",
    "Result",
    "TrackOptions",
    "anonymise",
    "anonymise_file",
    "anonymise_video_file",
    "detect",
]


def __getattr__(name: str) -> Any:
    """``anonymise_video_file``, imported on first use (see :mod:`unseen.api`)."""
    if name == "anonymise_video_file":
        from . import api

        return api.anonymise_video_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
