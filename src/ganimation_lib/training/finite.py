"""The non-finite guard of a training phase: losses and gradient norm read in one transfer, skipped steps reported.

A finite loss can still have a NaN or inf gradient (a custom term like ``sqrt`` at 0, an overflow in the
backward pass); one optimizer step with it turns every weight into NaN. So each phase back-propagates,
computes the total gradient norm *as a tensor*, and reads it together with the loss values in the single
``.tolist()`` the phase already did for its metrics: on a GPU the check costs no extra synchronisation.
A phase whose losses or gradient norm are not finite skips its optimizer step.

Under a ``GradScaler`` (fp16 autocast) the gradient is not checked here: inf/NaN gradients are normal
there while the scale settles, and the scaler already skips the optimizer step for them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

__all__ = ["GRAD_NORM", "LOGGER", "gradient_norm", "read_phase", "report_skipped_step"]

#: The metric name (after the phase prefix) under which a non-finite gradient norm is reported.
GRAD_NORM = "grad_norm"

#: Where the trainer reports skipped steps (to stderr unless the application configures logging).
LOGGER = logging.getLogger("ganimation_lib.training")


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
    values: Mapping[str, Tensor], prefix: str, grad_norm: Tensor | None = None
) -> tuple[dict[str, float], bool]:
    """Read a phase's loss values (and its gradient norm) from the device in one transfer.

    Args:
        values: Scalar losses by name (the phase's terms and total), all on one device.
        prefix: The phase (``"critic"``, ``"generator"``), prepended to each name: ``critic/wgan``.
        grad_norm: The phase's gradient norm from :func:`gradient_norm`, or ``None`` (not checked).

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
    read = torch.stack(tensors).tolist()
    metrics = {f"{prefix}/{name}": value for name, value in zip(values, read, strict=False)}
    finite = all(math.isfinite(v) for v in read)
    if grad_norm is not None and not math.isfinite(read[-1]):
        metrics[f"{prefix}/{GRAD_NORM}"] = read[-1]
    return metrics, finite


def report_skipped_step(step: int, metrics: Mapping[str, float], streak: int, limit: int) -> None:
    """Warn (through :data:`LOGGER`) that ``step`` was skipped, naming the non-finite values."""
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    LOGGER.warning(
        "ganimation Trainer: step %d skipped: non-finite loss or gradient (%s); %d in a row (limit %d)",
        step,
        ", ".join(bad),
        streak,
        limit,
    )
