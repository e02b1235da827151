"""The critic's optional AU trunk: its own weights read the AUs, the score's trunk judges, and it saves and loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ganimation_lib import Critic, CriticConfig

SEPARATE: dict[str, Any] = {
    "image_size": 32,
    "conv_dim": 8,
    "depth": 3,
    "input_downsample": 2,
    "au_trunk_conv_dim": 8,
    "au_trunk_depth": 3,
}


def test_shared_critic_keeps_the_official_state_dict_keys() -> None:
    keys = set(Critic(CriticConfig(image_size=32, conv_dim=8, depth=4)).state_dict())
    assert not any(key.startswith("au_trunk") for key in keys)
    assert {"trunk.0.weight", "score_head.weight", "au_head.weight"} <= keys


def test_separate_trunk_reads_the_aus_and_leaves_the_score_to_the_other_trunk() -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(**SEPARATE))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    before = critic(images)
    assert before.score.shape == (2, 1, 2, 2) and before.aus.shape == (2, 17)
    # Its AU head spans the AU trunk's 4x4 map (32 px, no reduction, 3 halvings), not the score's 2x2 map.
    assert critic.au_head.weight.shape == (17, 32, 4, 4)

    with torch.no_grad():
        next(critic.au_trunk.parameters()).mul_(2.0)  # the first convolution's weight
    moved_aus = critic(images)
    assert torch.equal(moved_aus.score, before.score)
    assert not torch.allclose(moved_aus.aus, before.aus)

    with torch.no_grad():
        next(critic.trunk.parameters()).mul_(2.0)
    moved_score = critic(images)
    assert torch.equal(moved_score.aus, moved_aus.aus)
    assert not torch.allclose(moved_score.score, moved_aus.score)


def test_au_parameters_are_exactly_the_au_reading() -> None:
    critic = Critic(CriticConfig(**SEPARATE))
    reading = {id(p) for p in critic.au_parameters()}
    expected = {id(p) for p in [*critic.au_trunk.parameters(), *critic.au_head.parameters()]}
    assert reading == expected
    assert not reading & {id(p) for p in [*critic.trunk.parameters(), *critic.score_head.parameters()]}
    shared = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
    assert [id(p) for p in shared.au_parameters()] == [id(shared.au_head.weight)]


def test_separate_trunk_saves_and_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(**SEPARATE))
    critic.save_pretrained(tmp_path / "critic")
    loaded = Critic.from_pretrained(tmp_path / "critic")
    assert loaded.config == critic.config
    images = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(loaded(images).aus, critic(images).aus, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"au_trunk_depth": 3}, r"au_trunk_depth=3 describes a separate AU trunk, but au_trunk_conv_dim is None"),
        ({"au_trunk_input_downsample": 2}, r"au_trunk_input_downsample=2 describes a separate AU trunk"),
        ({"au_trunk_conv_dim": 8, "au_trunk_depth": 6}, r"not divisible by 2\*\*au_trunk_depth=64.*at most 5"),
        ({"au_trunk_conv_dim": 8, "au_trunk_input_downsample": 3}, r"au_trunk_input_downsample=3 must be 1, 2 or 4"),
        ({"au_trunk_conv_dim": 0}, r"au_trunk_conv_dim=0 must be an integer from 1"),
    ],
)
def test_bad_au_trunk_settings_name_the_field(fields: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CriticConfig(image_size=32, conv_dim=8, depth=4, **fields)  # type: ignore[arg-type]


def test_au_trunk_depth_defaults_to_the_critic_depth() -> None:
    config = CriticConfig(image_size=32, conv_dim=8, depth=4, au_trunk_conv_dim=4)
    assert config.au_depth == 4 and config.au_final_size == config.final_size == 2
