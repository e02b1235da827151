"""Check weights against what a model expects, in plain words: missing, unexpected, wrong shape, NaN/inf.

[`state_dict_mismatches`][ganimation_lib.models.weights.state_dict_mismatches] and
[`first_non_finite`][ganimation_lib.models.weights.first_non_finite] only describe, for callers that word the error
themselves (the converters, the training checkpoint);
[`check_finite_weights`][ganimation_lib.models.weights.check_finite_weights] and
[`load_state_dict_checked`][ganimation_lib.models.weights.load_state_dict_checked] raise the
[`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError].

Examples:
    >>> import torch
    >>> problems = state_dict_mismatches({"a": (2,), "b": (1,)}, {"a": torch.zeros(3)})
    >>> print(bullet_list(problems, limit=1))
      - missing: b (expected shape (1,))
      - ... and 1 more
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from .safe_load import CheckpointError

__all__ = [
    "bullet_list",
    "check_finite_weights",
    "first_non_finite",
    "load_state_dict_checked",
    "mismatch_error",
    "state_dict_mismatches",
]


def _shape(shape: Sequence[int]) -> str:
    return str(tuple(int(s) for s in shape))


def _describe(value: object) -> str:
    return f"shape {_shape(value.shape)}" if isinstance(value, Tensor) else f"a {type(value).__name__}"


def state_dict_mismatches(expected: Mapping[str, Sequence[int]], found: Mapping[str, object]) -> list[str]:
    """Describe, key by key and in plain words, how ``found`` differs from the ``expected`` shapes.

    Returns an empty list when every expected key is present with its shape and nothing else is.

    Examples:
        >>> import torch
        >>> state_dict_mismatches({"a": (2, 3), "b": (4,)}, {"a": torch.zeros(3, 2), "c": torch.zeros(1)})
        ['missing: b (expected shape (4,))', 'unexpected: c (shape (1,))', 'wrong shape: a is (3, 2), expected (2, 3)']
    """
    problems = [f"missing: {k} (expected shape {_shape(s)})" for k, s in expected.items() if k not in found]
    problems += [f"unexpected: {k} ({_describe(v)})" for k, v in found.items() if k not in expected]
    for key, shape in expected.items():
        tensor = found.get(key)
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            problems.append(f"not a tensor: {key} is a {type(tensor).__name__}")
        elif tuple(tensor.shape) != tuple(shape):
            problems.append(f"wrong shape: {key} is {_shape(tensor.shape)}, expected {_shape(shape)}")
        elif not tensor.is_floating_point():
            problems.append(f"wrong dtype: {key} is {tensor.dtype}, expected a floating-point tensor")
    return problems


def bullet_list(problems: Sequence[str], *, limit: int = 20) -> str:
    """``problems`` as indented ``  - `` lines, at most ``limit`` of them and then how many more.

    Examples:
        >>> print(bullet_list(["missing: a", "missing: b", "missing: c"], limit=2))
          - missing: a
          - missing: b
          - ... and 1 more
    """
    shown = [*problems[:limit], *([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])]
    return "\n".join(f"  - {p}" for p in shown)


def first_non_finite(state_dict: Mapping[str, object]) -> tuple[str, int, int] | None:
    """The first floating-point tensor of ``state_dict`` (in its order) holding NaN or inf, or ``None``.

    Returns:
        ``(key, number of non-finite values, number of values)`` of that tensor, or ``None`` when every
        floating-point tensor is finite (other entries are not looked at).

    Examples:
        >>> import torch
        >>> first_non_finite({"a": torch.zeros(2), "b": torch.tensor([1.0, float("nan"), float("inf")])})
        ('b', 2, 3)
        >>> first_non_finite({"a": torch.zeros(2)}) is None
        True
    """
    for key, value in state_dict.items():
        if isinstance(value, Tensor) and value.is_floating_point():
            finite = torch.isfinite(value.detach())
            if not bool(finite.all()):
                return key, int(finite.numel() - int(finite.sum())), int(finite.numel())
    return None


def mismatch_error(source: str, model: nn.Module, problems: list[str], hint: str) -> CheckpointError:
    """The [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError] for weights from ``source`` that do not
    fit ``model``, problem by problem."""
    config = getattr(model, "config", None)
    built = type(model).__name__ + ("" if config is None else f"({config})")
    return CheckpointError(f"the weights in {source} do not fit {built}:\n{bullet_list(problems)}\n{hint}")


def check_finite_weights(state_dict: Mapping[str, object], *, source: str) -> None:
    """Raise a [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError] naming ``source`` and the first
    tensor holding NaN or inf.

    A network with a single NaN weight outputs NaN everywhere (a black image), so such weights are refused
    when they are loaded instead of giving a silently wrong result.

    Examples:
        >>> import torch
        >>> check_finite_weights({"w": torch.tensor([0.0, float("inf")])}, source="x.pth")
        Traceback (most recent call last):
        ...
        ganimation_lib.models.safe_load.CheckpointError: the weights in x.pth are not finite: w holds 1 NaN/inf \
value(s) of 2 (the first such tensor); a model with them outputs NaN (black images). The run that wrote them \
had diverged: use an earlier checkpoint or retrain
    """
    bad = first_non_finite(state_dict)
    if bad is not None:
        name, count, total = bad
        raise CheckpointError(
            f"the weights in {source} are not finite: {name} holds {count} NaN/inf value(s) of {total} (the first "
            "such tensor); a model with them outputs NaN (black images). The run that wrote them had diverged: "
            "use an earlier checkpoint or retrain"
        )


def load_state_dict_checked(
    model: nn.Module,
    state_dict: Mapping[str, object],
    *,
    source: str,
    hint: str = "the weights were saved for a different architecture or sizes",
) -> None:
    """Load ``state_dict`` into ``model`` strictly, as float32, raising a readable
    [`CheckpointError`][ganimation_lib.models.safe_load.CheckpointError].

    ``model`` may live on the ``meta`` device (then its tensors are replaced by the loaded ones). Unlike
    ``load_state_dict``, a mismatch is reported key by key ("missing", "unexpected", "wrong shape") with
    ``source`` and ``hint`` in the message, never as a raw traceback; NaN/inf values are refused too
    ([`check_finite_weights`][ganimation_lib.models.weights.check_finite_weights]).

    Examples:
        >>> import torch
        >>> load_state_dict_checked(torch.nn.Linear(2, 3), {"weight": torch.zeros(3, 2)}, source="demo")
        Traceback (most recent call last):
        ...
        ganimation_lib.models.safe_load.CheckpointError: the weights in demo do not fit Linear:
          - missing: bias (expected shape (3,))
        the weights were saved for a different architecture or sizes
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = state_dict_mismatches(expected, state_dict)
    if problems:
        raise mismatch_error(source, model, problems, hint)
    check_finite_weights(state_dict, source=source)
    on_meta = any(p.is_meta for p in model.parameters())
    converted = {k: v.detach().to(torch.float32) for k, v in state_dict.items() if isinstance(v, Tensor)}
    model.load_state_dict(converted, strict=True, assign=on_meta)
