"""The two Adam optimizers of a training run: parameter groups, and which Adam implementation steps them.

The critic's AU reading can learn at its own rate (``TrainerConfig.au_lr_scale``): its parameters then form a group
named `AU_GROUP`. ``TrainerConfig.adam_implementation`` chooses PyTorch's Adam kernel: ``"auto"`` (PyTorch's
choice: the multi-tensor ``foreach`` path on CUDA), ``"foreach"`` or ``"fused"`` (one kernel per step, on CUDA and,
since PyTorch 2.4, on the CPU). All compute the same update up to float rounding.

Examples:
    >>> from ganimation_lib import Critic, CriticConfig, Generator, GeneratorConfig, TrainerConfig
    >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
    >>> c = Critic(CriticConfig(image_size=16, conv_dim=4, depth=3, au_trunk_conv_dim=4))
    >>> _, critic_opt = build_optimizers(g, c, TrainerConfig(au_lr_scale=0.25, adam_implementation="fused"))
    >>> [group.get("name") for group in critic_opt.param_groups], critic_opt.defaults["fused"]
    ([None, 'au'], True)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.critic import Critic
from .config import TrainerConfig

__all__ = ["AU_GROUP", "build_optimizers", "critic_parameter_groups"]

#: The name of the critic optimizer's parameter group of the AU reading (with ``TrainerConfig.au_lr_scale`` != 1).
AU_GROUP = "au"


def critic_parameter_groups(critic: Critic, au_lr_scale: float) -> list[dict[str, Any]]:
    """One group of all the critic's parameters, or (``au_lr_scale`` != 1) the AU reading's in a group of its own.

    One group by default, so checkpoints of runs without the option keep resuming.
    """
    if au_lr_scale == 1.0:
        return [{"params": list(critic.parameters())}]
    reading = critic.au_parameters()
    own = {id(parameter) for parameter in reading}
    rest = [parameter for parameter in critic.parameters() if id(parameter) not in own]
    return [{"params": rest}, {"params": reading, "name": AU_GROUP}]


def build_optimizers(
    generator: nn.Module, critic: Critic, config: TrainerConfig
) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The generator's and the critic's Adam, with the recipe's rates, betas, groups and implementation."""
    kernel: dict[str, bool] = {}
    if config.adam_implementation != "auto":
        kernel[config.adam_implementation] = True
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=config.generator_lr, betas=config.betas, **kernel)
    critic_optimizer = torch.optim.Adam(
        critic_parameter_groups(critic, config.au_lr_scale), lr=config.critic_lr, betas=config.betas, **kernel
    )
    return generator_optimizer, critic_optimizer
