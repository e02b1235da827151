"""Lazy regularisation: the gradient penalties every k-th critic step, weighted k times (StyleGAN2's lazy R1)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import LossWeights, Trainer, TrainerConfig
from ganimation_lib.data.sample import AUSample

from .helpers import OWN_TRUNK, RandomAUData, tiny_config, tiny_models


def _trainer(**overrides: Any) -> Trainer:
    torch.manual_seed(0)
    settings: dict[str, Any] = {
        "loss_weights": LossWeights(au_gradient_penalty=10.0),
        "gradient_penalty_mode": "critic_step",
        "critic_warmup_steps": 100,
        **overrides,
    }
    return Trainer(
        generator=tiny_models()["generator"],
        critic=OWN_TRUNK,
        config=tiny_config(**settings),
        progress=False,
        default_callbacks=False,
    )


def _batch() -> AUSample:
    return next(iter(DataLoader(RandomAUData(length=2), batch_size=2)))


@pytest.mark.parametrize("field", ["gradient_penalty_interval", "au_penalty_interval"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_an_interval_must_be_a_positive_count(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrainerConfig(**{field: value})


@pytest.mark.parametrize("mode", ["critic_step", "separate_step"])
def test_each_penalty_is_computed_on_its_own_schedule(mode: str) -> None:
    trainer = _trainer(gradient_penalty_mode=mode, gradient_penalty_interval=2, au_penalty_interval=3)
    batch = _batch()
    seen = []
    for _ in range(6):
        metrics = trainer.train_step(batch)
        seen.append(("critic/gradient_penalty" in metrics, "critic/au_gradient_penalty" in metrics))
    assert seen == [(True, True), (False, False), (True, False), (False, True), (True, False), (False, False)]


@pytest.mark.parametrize("mode", ["critic_step", "separate_step"])
def test_a_due_penalty_weighs_its_interval_times_as_much(mode: str) -> None:
    batch = _batch()
    every_step = _trainer(gradient_penalty_mode=mode).train_step(batch)
    lazy = _trainer(gradient_penalty_mode=mode, gradient_penalty_interval=4, au_penalty_interval=8).train_step(batch)
    # The same weights and random draws on the first step: only the multiplier differs.
    assert every_step["critic/gradient_penalty"] > 0 and every_step["critic/au_gradient_penalty"] > 0
    assert lazy["critic/gradient_penalty"] == pytest.approx(4 * every_step["critic/gradient_penalty"], rel=1e-5)
    assert lazy["critic/au_gradient_penalty"] == pytest.approx(8 * every_step["critic/au_gradient_penalty"], rel=1e-5)


def test_skipped_penalties_leave_the_step_as_without_them() -> None:
    batch = _batch()
    lazy = _trainer(gradient_penalty_interval=2, au_penalty_interval=2)
    lazy.train_step(batch)  # step 0: both due
    reference = _trainer(gradient_penalty_interval=2, au_penalty_interval=2)
    reference.train_step(batch)
    without = LossWeights(au_gradient_penalty=0.0, gradient_penalty=0.0)
    reference.objective = reference.config.replace(loss_weights=without).objective()
    lazy_metrics, reference_metrics = lazy.train_step(batch), reference.train_step(batch)
    assert lazy_metrics["critic/total"] == pytest.approx(reference_metrics["critic/total"], rel=1e-6)
    for key, value in lazy.critic.state_dict().items():
        assert torch.allclose(value, reference.critic.state_dict()[key], rtol=1e-6, atol=1e-7), key
