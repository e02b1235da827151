"""The non-finite guard of a training phase: losses and gradient norm read in one transfer, skipped steps reported.

A finite loss can still have a NaN or inf gradient (a custom term like ``sqrt`` at 0, an overflow in the
backward pass); one optimizer step with it turns every weight into NaN. So each phase back-propagates,
computes the total gradient norm *as a tensor*, and reads it together with the loss values in the single
``.tolist()`` the phase already did for its metrics: on a GPU the check costs no extra synchronisation.
A phase whose losses or gradient norm are not finite skips its optimizer step.

Under a ``GradScaler`` (fp16 autocast) the gradient is not checked here: inf/NaN gradients are normal
there while the scale settles, and the scaler already skips the optimizer step for them.

Skipped steps are reported through `LOGGER` (``logging``, not ``print``); after
``max_nonfinite_steps`` of them in a row training stops with
[`NonFiniteLossError`][ganimation_lib.training.finite.NonFiniteLossError].
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from .distributed import DistributedContext

__all__ = [
    "GRAD_NORM",
    "LOGGER",
    "NonFiniteLossError",
    "check_nonfinite_streak",
    "gradient_norm",
    "guarded_step",
    "read_phase",
    "report_skipped_step",
]

#: The metric name (after the phase prefix) under which a non-finite gradient norm is reported.
GRAD_NORM = "grad_norm"

#: Where the trainer reports skipped steps (to stderr unless the application configures logging).
LOGGER = logging.getLogger("ganimation_lib.training")


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss or its gradient was NaN/inf for too many iterations in a row."""


def gradient_norm(parameters: Iterable[Tensor]) -> Tensor | None:
    """The L2 norm of all gradients of ``parameters`` as a 0-d float32 tensor (no device sync), or ``None``.

    A NaN or inf anywhere in a gradient makes the norm NaN or inf; so does a norm beyond float32's range
    (gradient entries around 1e19), which no optimizer step should take either.

    Examples:
        >>> w = torch.ones(3, requires_grad=True)
        >>> (2 * w).sum().backward()
        >>> gradient_norm([w])
        tensor(3.4641)
        >>> gradient_norm([torch.ones(2)]) is None
        True
    """
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return None
    total: Tensor = torch.nn.utils.get_total_norm(grads)
    return total.float()


def read_phase(
    values: Mapping[str, Tensor],
    prefix: str,
    grad_norm: Tensor | None = None,
    reduce: Callable[[Tensor], Tensor] | None = None,
) -> tuple[dict[str, float], bool]:
    """Read a phase's loss values (and its gradient norm) from the device in one transfer.

    Args:
        values: Scalar losses by name (the phase's terms and total), all on one device.
        prefix: The phase (``"critic"``, ``"generator"``), prepended to each name: ``critic/wgan``.
        grad_norm: The phase's gradient norm from [`gradient_norm`][ganimation_lib.training.finite.gradient_norm], or
            ``None`` (not checked).
        reduce: Applied to the stacked values before they are read: under several processes their mean over
            the ranks, so the metrics are averaged and a non-finite value on any rank is seen by all.

    Returns:
        The metrics, and whether every value (gradient norm included) is finite. The gradient norm is
        added to the metrics (as ``PREFIX/grad_norm``) only when it is not finite, to name the cause.

    Examples:
        >>> read_phase({"a": torch.tensor(1.0), "total": torch.tensor(1.0)}, "critic", torch.tensor(float("nan")))
        ({'critic/a': 1.0, 'critic/total': 1.0, 'critic/grad_norm': nan}, False)
    """
    tensors = [v.detach().float().reshape(()) for v in values.values()]
    if grad_norm is not None:
        tensors.append(grad_norm.detach().float().reshape(()).to(tensors[0].device))
    stacked = torch.stack(tensors)
    read = (stacked if reduce is None else reduce(stacked)).tolist()
    metrics = {f"{prefix}/{name}": value for name, value in zip(values, read, strict=False)}
    finite = all(math.isfinite(v) for v in read)
    if grad_norm is not None and not math.isfinite(read[-1]):
        metrics[f"{prefix}/{GRAD_NORM}"] = read[-1]
    return metrics, finite


def report_skipped_step(step: int, metrics: Mapping[str, float], streak: int, limit: int) -> None:
    """Warn (through `LOGGER`) that ``step`` was skipped, naming the non-finite values."""
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    LOGGER.warning(
        "ganimation Trainer: step %d skipped: non-finite loss or gradient (%s); %d in a row (limit %d)",
        step,
        ", ".join(bad),
        streak,
        limit,
    )


def check_nonfinite_streak(streak: int, limit: int, step: int, last_checkpoint: Path | None) -> None:
    """Raise [`NonFiniteLossError`][ganimation_lib.training.finite.NonFiniteLossError] once ``streak`` skipped
    iterations in a row reach ``limit``.

    The message names the last good checkpoint (``last_checkpoint``), where a fixed run resumes.

    Examples:
        >>> check_nonfinite_streak(2, 5, step=10, last_checkpoint=None)  # below the limit: nothing happens
    """
    if streak < limit:
        return
    raise NonFiniteLossError(
        f"the loss was not finite (or its gradient) for {streak} iterations in a row "
        f"(up to step {step}); training stopped. The last good checkpoint is "
        f"{last_checkpoint or 'none (none was saved)'}. "
        "Lower the learning rates, enable grad_clip, use precision='fp32', or check the data for NaNs."
    )


def guarded_step(
    values: Mapping[str, Tensor],
    loss: Tensor,
    prefix: str,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    grad_clip: float | None = None,
    *,
    sync: DistributedContext | None = None,
) -> tuple[dict[str, float], bool]:
    """Back-propagate ``loss`` and step ``optimizer``, unless a value or the gradient is not finite.

    Args:
        values: The losses to report by name (the phase's terms and total), read with the gradient norm
            in one transfer (one sync per phase).
        loss: What to minimise.
        prefix: The phase, prepended to the metric names.
        module: The network ``optimizer`` trains (its gradient is checked and clipped).
        optimizer: Its optimizer.
        scaler: Its gradient scaler (disabled unless fp16).
        grad_clip: Maximum gradient norm; ``None``: no clipping.
        sync: Under several processes: the gradients are averaged over the ranks right after the backward
            pass (before the norm, clipping, unscaling and the step), and the values and gradient norm are read
            averaged over the ranks, so every rank takes the same step or skips it.

    Returns:
        ``values`` as ``PREFIX/name`` floats, and whether the optimizer stepped.

    Examples:
        >>> net = nn.Linear(1, 1)
        >>> loss = net(torch.ones(1, 1)).sum() * float("nan")
        >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
        >>> guarded_step({"total": loss}, loss, "critic", net, opt, torch.amp.GradScaler("cpu", enabled=False))[1]
        False
    """
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
    if sync is not None:
        sync.average_gradients(module.parameters())
    # Under a GradScaler the scaler itself skips steps with non-finite gradients.
    norm = None if scaler.is_enabled() else gradient_norm(module.parameters())
    metrics, finite = read_phase(values, prefix, norm, None if sync is None or not sync.enabled else sync.average)
    if not finite:
        optimizer.zero_grad(set_to_none=True)
        return metrics, False
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return metrics, True
