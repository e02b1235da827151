"""``TrainerConfig.compile``: training through ``torch.compile``'d networks, penalties through the eager critic."""

from __future__ import annotations

from typing import cast

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import Critic, LossWeights, Trainer

from .helpers import OWN_TRUNK, RandomAUData, tiny_config, tiny_models

pytestmark = pytest.mark.slow  # each compiled run spends 10-30 s compiling on a CPU


def _train(compiled: bool, **overrides: object) -> tuple[Trainer, list[dict[str, float]]]:
    """Two iterations (critic, then critic + generator) with both gradient penalties, from the same start.

    The learning rates are tiny, so every phase runs on the starting weights: Adam moves a weight by about the
    learning rate whatever its gradient's size, so with a real one a gradient that is zero up to rounding would
    move it either way and the two runs would part by more than rounding."""
    torch.manual_seed(0)
    trainer = Trainer(
        generator=tiny_models()["generator"],
        critic=OWN_TRUNK,
        config=tiny_config(
            compile=compiled,
            loss_weights=LossWeights(au_gradient_penalty=1.0),
            critic_lr=1e-12,
            generator_lr=1e-12,
            **overrides,
        ),
        progress=False,
        default_callbacks=False,
    )
    data = DataLoader(RandomAUData(length=4), batch_size=2)
    torch.manual_seed(1)
    return trainer, [trainer.train_step(batch) for batch in data]


@pytest.mark.parametrize("mode", ["separate_step", "critic_step"])
def test_compiled_training_computes_what_eager_training_computes(mode: str) -> None:
    # Without the eager critic for the penalties this raises: compiled code has no double backward.
    eager, eager_metrics = _train(False, gradient_penalty_mode=mode)
    compiled, compiled_metrics = _train(True, gradient_penalty_mode=mode)
    assert compiled._train_generator is not compiled.generator  # it did train through a compiled wrapper
    assert {"critic/gradient_penalty", "critic/au_gradient_penalty"} <= compiled_metrics[0].keys()
    for expected, got in zip(eager_metrics, compiled_metrics, strict=True):
        assert expected.keys() == got.keys()
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    # The last steps' gradients agree up to float rounding.
    named = zip(
        [*eager.critic.named_parameters(), *eager.generator.named_parameters()],
        [*compiled.critic.parameters(), *compiled.generator.parameters()],
        strict=True,
    )
    for (name, a), b in named:
        assert (a.grad is None) == (b.grad is None), name
        if a.grad is None or b.grad is None:
            continue  # the penalty step's zero_grad left no gradient on the AU trunk, in both runs
        assert float((a.grad - b.grad).abs().max()) <= 1e-3 * float(a.grad.abs().max()) + 1e-7, name


def test_a_critic_compiled_by_the_user_trains_with_the_gradient_penalty() -> None:
    torch.manual_seed(0)
    critic = Critic(tiny_models()["critic"])
    compiled_critic = cast(Critic, torch.compile(critic))  # the trainer takes a compiled network as it is
    trainer = Trainer(
        generator=tiny_models()["generator"],
        critic=compiled_critic,
        config=tiny_config(max_steps=2, compile=True),
        progress=False,
        default_callbacks=False,
    )
    assert trainer._train_critic is compiled_critic  # trained through the user's wrapper, not compiled again
    assert trainer._train_generator is not trainer.generator  # the generator, given as a config, was compiled
    metrics = [trainer.train_step(batch) for batch in DataLoader(RandomAUData(length=4), batch_size=2)]
    assert trainer.step == 2
    # The penalty's double backward ran (through the eager critic) and gave a finite value on both steps.
    assert all(torch.isfinite(torch.tensor(m["critic/gradient_penalty"])) for m in metrics)
    assert all("nonfinite" not in m for m in metrics)
