"""The editor's controls: sliders per AU, presets on the sliders' scale, and the ``--au`` text."""

from __future__ import annotations

import math

import pytest
import torch

from ganimation_lib.app.controls import (
    INTENSITY_MAX,
    SLIDER_STEP,
    au_argument,
    au_sliders,
    au_vector,
    preset_values,
)
from ganimation_lib.aus import AU_DESCRIPTIONS, AU_NAMES, AU_SCALE, EXPRESSIONS, expression_names
from ganimation_lib.inference import parse_au_assignments, resolve_target


def test_one_slider_per_au_in_vector_order_labelled_with_its_facs_name() -> None:
    sliders = au_sliders(AU_NAMES)
    assert [s.name for s in sliders] == list(AU_NAMES)
    assert all(s.maximum == AU_SCALE for s in sliders)
    assert sliders[AU_NAMES.index("AU12")].label == "AU12 · lip corner puller"
    assert all(s.label == f"{s.name} · {AU_DESCRIPTIONS[s.name]}" for s in sliders)


def test_sliders_follow_a_custom_layout_and_canonical_names() -> None:
    sliders = au_sliders(["au6", "AU12", "AU99"])
    assert [s.label for s in sliders] == ["AU06 · cheek raiser", "AU12 · lip corner puller", "AU99"]
    with pytest.raises(ValueError, match="more than once"):
        au_sliders(["AU06", "au6"])


@pytest.mark.parametrize("name", expression_names())
def test_a_preset_at_intensity_one_is_the_preset_itself(name: str) -> None:
    values = preset_values(name, 1.0, AU_NAMES)
    assert values == [EXPRESSIONS[name].get(au, 0.0) for au in AU_NAMES]


def test_intensity_scales_a_preset_on_the_sliders_grid_and_never_past_their_top() -> None:
    half = preset_values("happy", 0.5, AU_NAMES)
    assert half[AU_NAMES.index("AU12")] == 1.75
    assert half[AU_NAMES.index("AU06")] == 1.25
    for name in expression_names():
        for values in (preset_values(name, INTENSITY_MAX, AU_NAMES), preset_values(name, 0.37, AU_NAMES)):
            assert all(0 <= v <= AU_SCALE for v in values)
            assert all(math.isclose(v / SLIDER_STEP, round(v / SLIDER_STEP), abs_tol=1e-9) for v in values)
    assert preset_values("sad", 0.0, AU_NAMES) == [0.0] * len(AU_NAMES)


def test_bad_presets_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown expression"):
        preset_values("smug", 1.0, AU_NAMES)
    with pytest.raises(ValueError, match=">= 0"):
        preset_values("happy", -0.5, AU_NAMES)


def test_the_au_vector_is_the_raw_values_over_five() -> None:
    values = [0.0] * 17
    values[AU_NAMES.index("AU12")] = 3.5
    vector = au_vector(values, AU_NAMES)
    assert vector.dtype == torch.float32 and vector.shape == (17,)
    assert vector[AU_NAMES.index("AU12")].item() == pytest.approx(0.7)
    assert vector.sum().item() == pytest.approx(0.7)


@pytest.mark.parametrize("bad", [5.05, -0.1, math.nan, math.inf])
def test_values_outside_the_openface_scale_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="AU02"):
        au_vector([0.0, bad], ["AU01", "AU02"])
    with pytest.raises(ValueError, match="AU02"):
        au_argument([0.0, bad], ["AU01", "AU02"])


def test_a_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(ValueError, match="got 2 AU values for 17 AUs"):
        au_vector([0.0, 1.0], AU_NAMES)


def test_the_au_text_reads_back_as_the_same_target() -> None:
    for values in (preset_values("fear", 1.1, AU_NAMES), [0.0] * 17, [0.05 * i for i in range(17)]):
        text = au_argument(values, AU_NAMES)
        assert text.startswith("--au ") and " " not in text.removeprefix("--au ")
        parsed = parse_au_assignments([text.removeprefix("--au ")])
        assert torch.allclose(resolve_target(parsed, 17), au_vector(values, AU_NAMES))


def test_the_au_text_names_only_the_aus_that_are_set() -> None:
    values = preset_values("happy", 1.0, AU_NAMES)
    assert au_argument(values, AU_NAMES) == "--au AU06=2.5,AU12=3.5,AU25=1.5"
    assert au_argument([0.0] * 17, AU_NAMES) == "--au AU01=0"
