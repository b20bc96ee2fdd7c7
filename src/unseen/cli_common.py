"""What both command lines (``unseen`` and ``unseen review``) say alike, kept below both of them."""

from __future__ import annotations

from pathlib import Path

from .batch import path_key
from .errors import shown

BLUR_WARNING = (
    "warning: --method blur is the weakest protection: face recognisers can often still match "
    "blurred faces, and blur can be partly undone; prefer --method fill (the default) or pixelate"
)


def regions_in_output_refusal(regions: Path, out_dir: Path | None) -> str | None:
    """Why ``regions`` may not be written where it would be (inside the folder of outputs, published
    with them), or None; ``--regions-in-output`` overrides it (in ``unseen`` and ``unseen review``)."""
    if out_dir is None:
        return None
    folder, parent = Path(path_key(out_dir)), Path(path_key(regions.parent))
    if folder != parent and folder not in parent.parents:
        return None
    return (
        f"--regions {shown(regions)} is inside the output folder {shown(out_dir)}: it maps "
        "where every face was and would be published with the outputs; write it elsewhere "
        "(or pass --regions-in-output)"
    )
