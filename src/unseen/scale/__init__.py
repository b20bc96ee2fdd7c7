"""Many files at once: local worker processes, or Ray when one machine is not enough.

Every runner calls :func:`unseen.process.process`, the per-file function of a serial run, and hands
the outcomes back in the serial order (:func:`outcomes`).
"""

from .common import ScaleError
from .runner import ScaleOptions, default_workers, outcomes

__all__ = ["ScaleError", "ScaleOptions", "default_workers", "outcomes"]
