"""The two networks a file may hold, by kind: the one table that names
[`Generator`][ganimation_lib.models.generator.Generator] and [`Critic`][ganimation_lib.models.critic.Critic].

The saved-model format ([`pretrained`][ganimation_lib.models.pretrained]) is generic: each model class loads and
saves itself. Whatever must work for *either* network, given only a config or a folder, looks the class up
here: building from a config ([`build_on_meta`][ganimation_lib.models.kinds.build_on_meta]), writing a folder from a
config and a state dict ([`write_pretrained`][ganimation_lib.models.kinds.write_pretrained]), reading what a folder
holds ([`read_pretrained_info`][ganimation_lib.models.kinds.read_pretrained_info]), and the converters
([`convert`][ganimation_lib.models.convert], which also loads whichever model a folder holds).

Examples:
    >>> from ganimation_lib import CriticConfig
    >>> critic = build_on_meta(CriticConfig(image_size=32, depth=4))
    >>> kind_of(critic), critic.au_head.weight.device.type
    ('critic', 'meta')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, TypeAlias, get_args

from torch import Tensor

from .config_json import PretrainedInfo, read_config_json
from .critic import Critic, CriticConfig
from .generator import Generator, GeneratorConfig

__all__ = [
    "KINDS",
    "NETWORKS",
    "AnyConfig",
    "AnyModel",
    "Kind",
    "build_on_meta",
    "kind_of",
    "network_for",
    "read_pretrained_info",
    "write_pretrained",
]

#: Which network: the generator or the critic.
Kind = Literal["generator", "critic"]
KINDS: tuple[str, ...] = get_args(Kind)
AnyModel: TypeAlias = Generator | Critic
AnyConfig: TypeAlias = GeneratorConfig | CriticConfig

#: The networks a saved directory or a checkpoint may hold, by kind; ``config.json`` records the class name.
NETWORKS: dict[Kind, type[Generator] | type[Critic]] = {"generator": Generator, "critic": Critic}


def network_for(config: object) -> type[Generator] | type[Critic]:
    """The network class built from ``config``.

    Raises:
        TypeError: when ``config`` is neither a [`GeneratorConfig`][ganimation_lib.models.generator.GeneratorConfig] nor
            a [`CriticConfig`][ganimation_lib.models.critic.CriticConfig].
    """
    for network in NETWORKS.values():
        if isinstance(config, network.config_class):
            return network
    raise TypeError(f"config must be a GeneratorConfig or a CriticConfig, got {type(config).__name__}")


def kind_of(model_or_config: object) -> Kind:
    """``"generator"`` or ``"critic"`` for a network or a config (a subclass counts as what it extends)."""
    for kind, network in NETWORKS.items():
        if isinstance(model_or_config, (network, network.config_class)):
            return kind
    raise TypeError(f"expected a Generator or a Critic (or its config), got {type(model_or_config).__name__}")


def build_on_meta(config: AnyConfig) -> AnyModel:
    """Build the network for ``config`` on the ``meta`` device: shapes without memory or RNG use."""
    return network_for(config).build_on_meta(config)


def write_pretrained(
    directory: str | os.PathLike[str],
    config: AnyConfig,
    state_dict: Mapping[str, Tensor],
    *,
    au_names: Sequence[str] | None = None,
) -> Path:
    """Write a saved-model directory from a config and a matching state dict (this library's key names).

    What a trainer calls with the state dict it keeps (an EMA copy, say); the network class follows from
    ``config``. See [`write_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.write_pretrained].

    Examples:
        >>> import tempfile
        >>> from ganimation_lib import Critic, CriticConfig
        >>> config = CriticConfig(image_size=32, conv_dim=4, depth=4)
        >>> folder = write_pretrained(tempfile.mkdtemp() + "/critic", config, Critic(config).state_dict())
        >>> read_pretrained_info(folder).model_class
        'Critic'
    """
    return network_for(config).write_pretrained(directory, config, state_dict, au_names=au_names)


def read_pretrained_info(directory: str | os.PathLike[str]) -> PretrainedInfo:
    """Read and check ``config.json`` of a directory holding a [`Generator`][ganimation_lib.models.generator.Generator]
    or a [`Critic`][ganimation_lib.models.critic.Critic].

    Raises:
        FileNotFoundError: when ``directory`` or its ``config.json`` is missing.
        CheckpointError: when ``config.json`` is corrupt, not ours, from a newer library version, or names
            another model class.
    """
    return read_config_json(directory, {network.__name__: network.config_class for network in NETWORKS.values()})
