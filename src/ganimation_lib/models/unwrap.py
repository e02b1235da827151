"""The network inside the wrappers training puts around it: data parallel (``.module``) and ``torch.compile``.

``DataParallel`` and ``DistributedDataParallel`` keep the wrapped network in ``.module``, ``torch.compile``
in ``._orig_mod``; their state dicts prefix every key with ``module.`` / ``_orig_mod.``. Saving, loading
and type checks want the network itself, so the whole library unwraps with `unwrap_model`, and the
key prefixes are the ones `WRAPPER_PREFIXES` names.

Examples:
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> unwrap_model(torch.nn.DataParallel(net)) is net
    True
    >>> unwrap_model(net) is net
    True
"""

from __future__ import annotations

from torch import nn

__all__ = ["WRAPPER_ATTRIBUTES", "WRAPPER_PREFIXES", "unwrap_model", "without_compile"]

#: The child names under which wrappers keep the network: data parallel's ``module``, torch.compile's
#: ``_orig_mod``.
WRAPPER_ATTRIBUTES: tuple[str, ...] = ("module", "_orig_mod")
#: The state-dict key prefixes those wrappers add.
WRAPPER_PREFIXES: tuple[str, ...] = tuple(f"{name}." for name in WRAPPER_ATTRIBUTES)

# Wrappers nest (a compiled DDP model is two); more than this many levels is not a wrapper chain.
_MAX_DEPTH = 4


def unwrap_model(model: nn.Module) -> nn.Module:
    """Return the network inside any ``DataParallel``/``DistributedDataParallel``/``torch.compile`` wrappers.

    The wrapped network is looked up among the registered children (``_modules``), not with ``getattr``:
    ``torch.compile``'s wrapper forwards attribute lookups to the model it wraps, so ``getattr`` would also
    find a *model's own* attribute of that name. A model that is not wrapped is returned as it is.

    Args:
        model: A network, wrapped or not.

    Returns:
        The innermost network (up to four levels of wrappers).

    Examples:
        >>> import torch
        >>> net = torch.nn.Conv2d(3, 3, 1)
        >>> unwrap_model(torch.nn.DataParallel(torch.nn.DataParallel(net))) is net
        True
    """
    return _strip(model, WRAPPER_ATTRIBUTES)


def without_compile(model: nn.Module) -> nn.Module:
    """Return ``model`` without its ``torch.compile`` wrappers, keeping any data-parallel wrapper.

    What runs a double backward (a gradient penalty) needs this: compiled code cannot be differentiated twice.

    Examples:
        >>> import torch
        >>> net = torch.nn.Conv2d(3, 3, 1)
        >>> without_compile(torch.compile(net)) is net
        True
        >>> parallel = torch.nn.DataParallel(net)
        >>> without_compile(parallel) is parallel
        True
    """
    return _strip(model, ("_orig_mod",))


def _strip(model: nn.Module, attributes: tuple[str, ...]) -> nn.Module:
    """``model`` without the wrappers that keep the network as a child under one of ``attributes``."""
    for _ in range(_MAX_DEPTH):
        inner = next((model._modules[name] for name in attributes if name in model._modules), None)
        if not isinstance(inner, nn.Module):
            break
        model = inner
    return model
