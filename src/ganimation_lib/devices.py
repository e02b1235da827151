"""Device and precision resolution: the one place where ``"auto"``, ``"bf16"`` and friends become torch objects.

Library code follows its inputs' device and dtype; only the [`Trainer`][ganimation_lib.training.trainer.Trainer] (and
the command line) choose, through these two functions.

Examples:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_precision("bf16", resolve_device("cpu")).autocast_dtype
    torch.bfloat16
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["PRECISIONS", "Precision", "PrecisionPlan", "resolve_device", "resolve_precision"]

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` (CUDA when available, else CPU) or an explicit device string into a ``torch.device``.

    Raises:
        ValueError: if the string is not a device, or names CUDA on a machine without it.

    Examples:
        >>> resolve_device("auto").type in {"cpu", "cuda"}
        True
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} asks for CUDA, which is not available here; use 'auto' or 'cpu'")
    return resolved


@dataclass(frozen=True)
class PrecisionPlan:
    """How one training step runs for a precision setting.

    Attributes:
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device_type: ``"cpu"`` or ``"cuda"`` (what ``torch.autocast`` takes).
        autocast_dtype: The reduced dtype, or ``None`` for fp32 (autocast disabled).
        use_grad_scaler: Whether gradients need loss scaling (fp16 only).
    """

    precision: Precision
    device_type: str
    autocast_dtype: torch.dtype | None
    use_grad_scaler: bool

    def autocast(self) -> torch.autocast:
        """The autocast context for forward passes (a no-op context for fp32)."""
        dtype = self.autocast_dtype if self.autocast_dtype is not None else torch.float32
        return torch.autocast(device_type=self.device_type, dtype=dtype, enabled=self.autocast_dtype is not None)


def resolve_precision(precision: str, device: torch.device) -> PrecisionPlan:
    """Check that ``precision`` runs on ``device`` and return its
    [`PrecisionPlan`][ganimation_lib.devices.PrecisionPlan].

    Raises:
        ValueError: for an unknown precision, or one this device/PyTorch build cannot autocast to.

    Examples:
        >>> plan = resolve_precision("fp16", torch.device("cpu"))
        >>> plan.use_grad_scaler
        True
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not supported; use one of {list(PRECISIONS)}")
    if precision == "fp32":
        return PrecisionPlan("fp32", device.type, None, False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError("precision='bf16' needs a GPU with bfloat16 support; use 'fp16' or 'fp32' on this GPU")
    try:
        with torch.autocast(device_type=device.type, dtype=dtype):
            torch.nn.functional.conv2d(torch.zeros(1, 1, 3, 3, device=device), torch.zeros(1, 1, 1, 1, device=device))
        if precision == "fp16":
            torch.amp.GradScaler(device.type)
    except (RuntimeError, AssertionError, ValueError) as error:
        raise ValueError(
            f"precision={precision!r} does not run on {device} with this PyTorch ({torch.__version__}): {error}; "
            "use 'fp32' (or 'bf16' on CPU)"
        ) from error
    # Explicit Literal for mypy: precision is one of the two reduced names here.
    name: Precision = "bf16" if precision == "bf16" else "fp16"
    return PrecisionPlan(name, device.type, dtype, precision == "fp16")
