"""The Adam implementation (``adam_implementation``) and cuDNN's autotuning switch (``cudnn_benchmark``)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib import Trainer, TrainerConfig

from .helpers import RandomAUData, tiny_config, tiny_models

LR = 1e-3


def _one_step(implementation: str) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Each parameter's (start, after one critic and one generator step, gradient), from the same start and batch."""
    torch.manual_seed(0)
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(adam_implementation=implementation, n_critic=1, critic_lr=LR, generator_lr=LR),
        progress=False,
        default_callbacks=False,
    )
    named = [*trainer.generator.named_parameters(), *trainer.critic.named_parameters(prefix="critic")]
    start = {name: p.detach().clone() for name, p in named}
    batch = next(iter(DataLoader(RandomAUData(length=2), batch_size=2)))
    torch.manual_seed(1)
    trainer.train_step(batch)
    return {name: (start[name], p.detach().clone(), p.grad.clone()) for name, p in named if p.grad is not None}


@pytest.mark.parametrize("implementation", ["foreach", "fused"])
def test_every_adam_implementation_takes_the_same_step(implementation: str) -> None:
    reference, other = _one_step("auto"), _one_step(implementation)
    assert reference.keys() == other.keys()
    for name, (start, after, grad) in reference.items():
        moved = other[name][1]
        assert torch.equal(other[name][0], start), name
        # Adam's first step is lr * g / (|g| + eps): a gradient at rounding level (|g| around eps = 1e-8, where
        # tiny float differences even flip its sign) can move either way by up to lr in any two kernels. Every
        # weight with a real gradient takes the same step up to float rounding.
        real = grad.abs() > 1e-6
        assert torch.allclose(moved[real], after[real], rtol=0, atol=1e-6), name
        assert (moved - after).abs().max() <= 2 * LR * 1.001, name
    assert any(not torch.equal(after, start) for start, after, _ in reference.values())


def test_the_implementation_is_the_optimizers() -> None:
    trainer = Trainer(**tiny_models(), config=tiny_config(adam_implementation="fused"), progress=False)
    assert trainer.generator_optimizer.defaults["fused"] and trainer.critic_optimizer.defaults["fused"]


@pytest.mark.parametrize(("field", "value"), [("adam_implementation", "apex"), ("cudnn_benchmark", "yes")])
def test_bad_values_are_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrainerConfig(**{field: value})


def test_cudnn_is_left_alone_on_the_cpu() -> None:
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        Trainer(**tiny_models(), config=tiny_config(cudnn_benchmark=True), progress=False)
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cudnn_autotuning_is_switched_on_for_a_cuda_run() -> None:
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        Trainer(**tiny_models(), config=tiny_config(device="cuda"), progress=False)
        assert torch.backends.cudnn.benchmark is True
        torch.backends.cudnn.benchmark = False
        Trainer(**tiny_models(), config=tiny_config(device="cuda", cudnn_benchmark=False), progress=False)
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before
