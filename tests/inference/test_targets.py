"""Targets: vectors, dicts and presets to AU vectors; keyframe paths; smoothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ganimation_lib.aus import AU_NAMES, aus_for
from ganimation_lib.inference import (
    Expression,
    keyframe_path,
    parse_au_assignments,
    read_drive,
    resolve_target,
    resolve_targets,
    smooth_aus,
)


def test_every_form_gives_a_normalised_vector() -> None:
    happy = aus_for("happy")
    assert torch.equal(resolve_target("happy", 17), happy)
    assert torch.allclose(resolve_target("happy:0.5", 17), happy * 0.5)
    assert torch.allclose(resolve_target(Expression("happy", 0.5), 17), happy * 0.5)
    assert torch.equal(resolve_target(happy.tolist(), 17), happy)
    assert torch.equal(resolve_target(happy.numpy(), 17), happy)
    v = resolve_target({"AU12": 5.0, "au45": 2.5}, 17)
    assert v[AU_NAMES.index("AU12")] == 1.0 and v[AU_NAMES.index("AU45")] == 0.5 and v.sum() == 1.5


def test_dict_targets_take_the_other_aus_from_the_source() -> None:
    source = torch.full((17,), 0.2)
    v = resolve_target({"AU12": 5.0}, 17, source=source)
    assert v[AU_NAMES.index("AU12")] == 1.0
    assert torch.allclose(v[torch.arange(17) != AU_NAMES.index("AU12")], torch.tensor(0.2))
    assert torch.equal(source, torch.full((17,), 0.2))  # not modified


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("grumpy", "unknown expression 'grumpy'"),
        ("happy:lots", "happy:0.8"),
        ({"AU99": 1.0}, "AU99 is not in this AU layout"),
        ({"smile": 1.0}, "'smile' is not an AU name"),
        ({"AU12": 7.0}, "outside OpenFace's 0-5 range"),
        ([0.1] * 12, "built for 17 AUs"),
        ([float("nan")] * 17, "NaN"),
        (3.5, "cannot use 3.5 as a target"),
    ],
)
def test_bad_targets_name_the_problem(target: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_target(target, 17)  # type: ignore[arg-type]


def test_presets_and_dicts_need_the_models_layout() -> None:
    with pytest.raises(ValueError, match="built for 5 AUs"):
        resolve_target("happy", 5)
    with pytest.raises(ValueError, match="built for 5 AUs"):
        resolve_target({"AU12": 1.0}, 5)
    names = ("AU06", "AU12", "AU25", "AU26", "AU45")
    assert resolve_target("happy", 5, au_names=names).tolist() == pytest.approx([0.5, 0.7, 0.3, 0.0, 0.0])


def test_resolve_targets_shapes() -> None:
    assert resolve_targets("happy", 17).shape == (1, 17)
    assert resolve_targets([0.0] * 17, 17).shape == (1, 17)
    assert resolve_targets(np.zeros((3, 17)), 17).shape == (3, 17)
    assert resolve_targets(["sad", Expression("fear"), {"AU01": 1}], 17).shape == (3, 17)
    with pytest.raises(ValueError, match="non-empty"):
        resolve_targets([], 17)


def test_keyframe_path_count_order_and_ends() -> None:
    keys = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    for easing in ("linear", "ease"):
        path = keyframe_path(keys, 5, easing=easing)  # type: ignore[arg-type]
        assert path.shape == (11, 2)
        assert torch.equal(path[0], keys[0]) and torch.equal(path[5], keys[1]) and torch.equal(path[-1], keys[2])
        assert (path[1:6, 0].diff() > 0).all()  # monotone towards the next keyframe
    assert keyframe_path(keys[:1], 4).shape == (1, 2)
    with pytest.raises(ValueError, match="frames_per_transition"):
        keyframe_path(keys, 0)
    with pytest.raises(ValueError, match="unknown easing"):
        keyframe_path(keys, 2, easing="bounce")  # type: ignore[arg-type]


def test_smoothing_keeps_length_and_constants() -> None:
    noisy = torch.rand(20, 3)
    smoothed = smooth_aus(noisy, 5)
    assert smoothed.shape == noisy.shape
    assert smoothed.diff(dim=0).abs().mean() < noisy.diff(dim=0).abs().mean()
    assert torch.allclose(smooth_aus(torch.ones(7, 2), 4), torch.ones(7, 2))
    assert torch.equal(smooth_aus(noisy, 1), noisy)
    with pytest.raises(ValueError, match="window"):
        smooth_aus(noisy, -1)


def test_parse_au_assignments() -> None:
    assert parse_au_assignments(["AU12=3.5", "au6=1,AU45=0"]) == {"AU12": 3.5, "AU06": 1.0, "AU45": 0.0}
    with pytest.raises(ValueError, match=r"AU12=3\.5"):
        parse_au_assignments(["AU12"])
    with pytest.raises(ValueError, match="not an AU name"):
        parse_au_assignments(["smile=2"])


def test_raw_looking_vectors_are_refused() -> None:
    # A raw OpenFace row (0-5) passed as a vector was used as is: AU12 = 3.5 means 17.5 on the raw scale.
    raw = [0.0] * 17
    raw[8] = 3.5
    with pytest.raises(ValueError, match=r"above the maximum 2 .*divide raw OpenFace values by 5"):
        resolve_target(raw, 17)
    with pytest.raises(ValueError, match=r"driving sequence has 4 .*normalised"):
        read_drive(torch.full((3, 17), 4.0), 17)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_target(aus_for("surprise", intensity=2.0), 17)  # exaggerated presets stay quiet
