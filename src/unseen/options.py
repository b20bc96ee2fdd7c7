"""What shapes one run: the options every pipeline takes (a plain value, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .obscure import ObscureOptions
from .plan import PlanOptions
from .track import TrackOptions


@dataclass(frozen=True)
class Options:
    """Everything that shapes one run. Defaults are the safe ones: solid fill over the whole head."""

    obscure: ObscureOptions = field(default_factory=ObscureOptions)
    plan: PlanOptions = field(default_factory=PlanOptions)
    track: TrackOptions = field(default_factory=TrackOptions)
    sensitivity: float = 1.0  # >1 finds more faces (and more false positives)
    text: bool = False  # also find text (plates, badges, signs) and obscure it: the ``text`` extra
