"""unseen: find every face in photos and videos and obscure it irreversibly, offline."""

from .api import FileReport, Options, Result, anonymise, anonymise_file, anonymise_video_file, detect
from .obscure import ObscureOptions
from .plan import PlanOptions
from .regions import Regions
from .track import TrackOptions

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
