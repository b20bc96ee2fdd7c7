"""Obscuring strength judged region by region on real pixels, for every painting method."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scenes import close_up

from unseen.api import Options, anonymise
from unseen.audit.strength import judge_frame, safe_cells
from unseen.obscure import ObscureOptions
from unseen.plan import PlanOptions
from unseen.regions import Regions


def jpeg(pixels: np.ndarray) -> np.ndarray:
    """Through a JPEG, as an output is read back."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, Regions]:
    scene = close_up((240, 320), fill=0.5)
    return scene.image, Regions.from_boxes(scene.boxes)


def verdict(face, **changes):
    image, regions = face
    plan = changes.pop("plan", PlanOptions())
    out = jpeg(anonymise(image, Options(obscure=ObscureOptions(**changes), plan=plan), regions).image)
    [(_, _, judged)] = judge_frame(image, out, regions, PlanOptions(), "ellipse")
    return judged


def test_fill_and_default_pixelation_cover_the_face_as_planned(face):
    assert verdict(face).method == "fill" and verdict(face).problem is None
    pixelated = verdict(face, method="pixelate", seed=0)
    assert (pixelated.method, pixelated.problem, pixelated.cells) == ("pixelate", None, 8)


def test_fine_pixelation_light_and_default_blur_are_findings(face):
    fine = verdict(face, method="pixelate", pixel_cells=20, seed=0)
    assert fine.method == "pixelate" and fine.problem.startswith("pixelation too fine: 20 cells across")
    light = verdict(face, method="blur", blur_strength=0.05)
    assert light.method == "blur" and light.problem.startswith("light blur")
    assert verdict(face, method="blur").problem.startswith("blur (sigma about")  # even at full strength


def test_an_unpainted_face_and_a_short_margin_are_findings(face):
    image, regions = face
    [(_, _, judged)] = judge_frame(image, jpeg(image), regions, PlanOptions(), "ellipse")
    assert judged.method == "unchanged" and judged.problem.startswith("not obscured: 100%")
    narrow = verdict(face, plan=PlanOptions(margin=0.0, head_top=0.0))
    assert narrow.problem.startswith("margin short")


def test_safe_cells_shrink_for_small_regions():
    assert safe_cells(200) == 8 and safe_cells(15) == 5 and safe_cells(2) == 1
