"""The critic's AU reading in training: its own learning rate (``au_lr_scale``), its gradient penalty, and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import LossWeights, Trainer

from .helpers import OWN_TRUNK, RandomAUData, tiny_config, tiny_models


def _trainer(output: Path | None = None, **overrides: Any) -> Trainer:
    settings: dict[str, Any] = {
        "au_lr_scale": 0.25,
        "critic_lr": 2e-3,
        "loss_weights": LossWeights(au_gradient_penalty=10.0),
        "lr_unit": "step",
        "lr_constant": 2,
        "lr_decay": 4,
        "checkpoint_every": 2,
        **overrides,
    }
    return Trainer(
        generator=tiny_models()["generator"],
        critic=OWN_TRUNK,
        config=tiny_config(**settings),
        output_dir=output,
        progress=False,
        default_callbacks=output is not None,
    )


def test_the_au_reading_learns_at_its_own_rate_through_the_schedule() -> None:
    trainer = _trainer()
    groups = trainer.critic_optimizer.param_groups
    assert len(groups) == 2
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in trainer.critic.au_parameters()}
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(trainer.critic.parameters()))
    data = RandomAUData(length=4)
    trainer.fit(data)  # 4 steps: the last one at lr factor 1 - (3 - 2) / 4
    assert groups[0]["lr"] == pytest.approx(2e-3 * 0.75)
    assert groups[1]["lr"] == pytest.approx(2e-3 * 0.75 * 0.25)


def test_without_the_option_the_critic_has_one_group_as_before() -> None:
    trainer = _trainer(au_lr_scale=1.0)
    assert len(trainer.critic_optimizer.param_groups) == 1


def test_the_penalty_is_a_critic_term_that_moves_only_the_au_reading() -> None:
    only_the_penalty = LossWeights(au_gradient_penalty=10.0, adversarial=0.0, expression=0.0, gradient_penalty=0.0)
    trainer = _trainer(loss_weights=only_the_penalty, gradient_penalty_mode="critic_step", critic_warmup_steps=5)
    before = {name: p.detach().clone() for name, p in trainer.critic.named_parameters()}
    batch = next(iter(DataLoader(RandomAUData(length=2), batch_size=2)))
    metrics = trainer.train_step(batch)
    assert metrics["critic/au_gradient_penalty"] > 0
    reading = {id(p) for p in trainer.critic.au_parameters()}
    moved = {id(p) for name, p in trainer.critic.named_parameters() if not torch.equal(p, before[name])}
    assert moved and moved <= reading
    assert "critic/au_gradient_penalty" not in _trainer(loss_weights=LossWeights()).train_step(batch)


def test_a_run_with_its_own_au_reading_resumes_bit_for_bit(tmp_path: Path) -> None:
    data = RandomAUData(length=6)
    full = _trainer(tmp_path / "full", max_steps=4)
    full.fit(data)
    _trainer(tmp_path / "part", max_steps=2).fit(data)
    resumed = _trainer(tmp_path / "resumed", max_steps=4)
    resumed.fit(data, resume_from=tmp_path / "part" / "checkpoints")
    for key, value in full.critic.state_dict().items():
        assert torch.equal(value, resumed.critic.state_dict()[key]), key
    assert [g["lr"] for g in full.critic_optimizer.param_groups] == [
        g["lr"] for g in resumed.critic_optimizer.param_groups
    ]


def test_resuming_with_another_au_lr_scale_says_which_setting_to_keep(tmp_path: Path) -> None:
    _trainer(tmp_path / "run", max_steps=2).fit(RandomAUData(length=4))
    other = _trainer(tmp_path / "other", max_steps=4, au_lr_scale=1.0)
    before = {key: value.clone() for key, value in other.critic.state_dict().items()}
    with pytest.raises(ValueError, match=r"au_lr_scale is 1.0 here .*resume with the run's au_lr_scale"):
        other.fit(RandomAUData(length=4), resume_from=tmp_path / "run" / "checkpoints")
    # Refused before anything was loaded: the trainer's networks are as they were.
    assert all(torch.equal(value, before[key]) for key, value in other.critic.state_dict().items())
    assert other.step == 0
