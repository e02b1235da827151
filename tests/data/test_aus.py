"""The AU vocabulary: names, presets and the raw/normalised conversions."""

from __future__ import annotations

import pytest
import torch

from ganimation_lib.aus import (
    AU_DESCRIPTIONS,
    AU_NAMES,
    EXPRESSIONS,
    au_index,
    aus_for,
    aus_from_dict,
    canonical_au_name,
)


def test_names_are_the_17_openface_aus_in_official_order() -> None:
    assert AU_NAMES == (
        "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
        "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
    )  # fmt: skip
    assert set(AU_NAMES) <= set(AU_DESCRIPTIONS)


def test_every_preset_uses_only_known_aus_on_the_raw_scale() -> None:
    assert set(EXPRESSIONS) == {"happy", "sad", "surprise", "fear", "anger", "disgust", "contempt", "neutral"}
    for preset in EXPRESSIONS.values():
        for au, raw in preset.items():
            assert au in AU_NAMES
            assert 0 < raw <= 5


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_aus_for_is_preset_over_five_scaled_by_intensity(name: str) -> None:
    v = aus_for(name)
    assert v.dtype == torch.float32 and v.shape == (17,)
    expected = torch.zeros(17)
    for au, raw in EXPRESSIONS[name].items():
        expected[AU_NAMES.index(au)] = raw / 5
    torch.testing.assert_close(v, expected)
    torch.testing.assert_close(aus_for(name, intensity=0.5), expected * 0.5)
    assert float(aus_for(name, intensity=0.0).abs().sum()) == 0


def test_aus_for_prototypes_contain_their_defining_aus() -> None:
    def active(name: str) -> set[str]:
        return {AU_NAMES[i] for i, x in enumerate(aus_for(name).tolist()) if x > 0}

    assert {"AU06", "AU12"} <= active("happy")
    assert {"AU01", "AU04", "AU15"} <= active("sad")
    assert {"AU01", "AU02", "AU05", "AU26"} <= active("surprise")
    assert active("neutral") == set()


def test_aus_for_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"happy.*neutral"):
        aus_for("joyful")
    with pytest.raises(ValueError, match="intensity"):
        aus_for("happy", intensity=-1)
    with pytest.raises(ValueError, match="intensity"):
        aus_for("happy", intensity=float("nan"))


def test_aus_for_custom_subset_keeps_layout_and_drops_missing_aus() -> None:
    v = aus_for("happy", au_names=("AU45", "AU12", "AU06"))
    torch.testing.assert_close(v, torch.tensor([0.0, 3.5 / 5, 2.5 / 5]))


def test_canonical_names_and_index() -> None:
    assert canonical_au_name(" au1_R ") == "AU01"
    assert canonical_au_name(26) == "AU26"
    assert au_index("AU45") == 16
    assert au_index("AU12_c", au_names=("AU06", "AU12")) == 1
    for bad in ("smile", "AU", "AU123", 3.5, True):
        with pytest.raises(ValueError):
            canonical_au_name(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in this AU layout"):
        au_index("AU45", au_names=("AU06",))
    with pytest.raises(ValueError, match="more than once"):
        au_index("AU06", au_names=("AU06", "au6"))


def test_aus_from_dict_converts_raw_to_normalised_and_keeps_base() -> None:
    base = aus_for("sad")
    before = base.clone()
    v = aus_from_dict({"AU12": 2.5, "au45": 5}, base=base)
    assert float(v[au_index("AU12")]) == pytest.approx(0.5)
    assert float(v[au_index("AU45")]) == pytest.approx(1.0)
    assert float(v[au_index("AU15")]) == pytest.approx(0.6)
    torch.testing.assert_close(base, before)  # base untouched


@pytest.mark.parametrize("bad", [{"AU12": 6.0}, {"AU12": -0.1}, {"AU12": float("inf")}, {"AU99": 1.0}])
def test_aus_from_dict_rejects_bad_values(bad: dict[str | int, float]) -> None:
    with pytest.raises(ValueError):
        aus_from_dict(bad)


def test_aus_from_dict_rejects_base_of_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"shape \(17,\)"):
        aus_from_dict({}, base=torch.zeros(12))
