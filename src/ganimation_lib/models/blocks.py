"""The two building blocks the GANimation generator is written in: ``XK`` and ``Residual``.

GANimation (like StarGAN and CycleGAN before it) describes its generator in the notation of
Johnson et al. / CycleGAN:

* ``c7s1-k``: a 7×7 convolution, stride 1, with ``k`` filters, then InstanceNorm and ReLU
  (kind ``"ck"`` here; the kernel size is configurable, 7 by default).
* ``dk``: a stride-2 convolution that halves the resolution, with ``k`` filters, then InstanceNorm and ReLU
  (kind ``"dk"``; 4×4 in the official code, 3×3 in CycleGAN).
* ``uk``: a stride-2 *transposed* convolution that doubles the resolution, with ``k`` filters, then
  InstanceNorm and ReLU (kind ``"uk"``; 4×4 in the official code, 3×3 with ``output_padding=1`` in CycleGAN).
* ``Rk``: a residual block of two 3×3 convolutions with ``k`` filters (``Residual`` here).

Both blocks keep their layers as named children (``conv``, ``norm``) so that state-dict keys are stable
and checkpoints from other codebases can be mapped onto them.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .config import PADDING_MODES, PaddingMode

__all__ = ["XK", "PaddingMode", "Residual", "XKKind"]

XKKind = Literal["ck", "dk", "uk"]

_KINDS: tuple[str, ...] = ("ck", "dk", "uk")
_DEFAULT_KERNEL: dict[str, int] = {"ck": 7, "dk": 4, "uk": 4}


def _check_padding_mode(padding_mode: str) -> None:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode={padding_mode!r} is not supported; use one of {list(PADDING_MODES)}")


def _check_channels(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer number of channels")


class XK(nn.Module):
    """One ``conv → InstanceNorm → ReLU`` unit in the CycleGAN notation (``c7s1-k``, ``dk``, ``uk``).

    Args:
        kind: ``"ck"`` (stride 1, same resolution), ``"dk"`` (stride-2 convolution: halves H and W) or
            ``"uk"`` (stride-2 transposed convolution: doubles H and W).
        in_channels: Channels of the input.
        out_channels: ``k``, the number of filters.
        kernel_size: Kernel size; ``None`` picks the official one (7 for ``ck``, 4 for ``dk``/``uk``).
            Odd kernels for ``uk`` get ``output_padding=1`` so that the output is exactly twice the input.
        padding_mode: Padding of the (non-transposed) convolution: ``"zeros"`` (official) or
            ``"reflect"`` (CycleGAN), ``"replicate"``, ``"circular"``. Transposed convolutions always
            pad with zeros (PyTorch supports nothing else).
        norm_affine: Whether InstanceNorm has a learned scale and shift (official: yes; replicate: no).
        bias: Whether the convolution has a bias (official: no, since the norm removes it anyway).
        activation: Whether the ReLU is applied (``False`` gives ``conv → norm``).

    Examples:
        >>> import torch
        >>> down = XK("dk", 8, 16)
        >>> down(torch.zeros(2, 8, 32, 32)).shape
        torch.Size([2, 16, 16, 16])
        >>> XK("uk", 16, 8, kernel_size=3)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(
        self,
        kind: XKKind,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | None = None,
        padding_mode: PaddingMode = "zeros",
        norm_affine: bool = True,
        bias: bool = False,
        activation: bool = True,
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind={kind!r} is not an XK kind; use 'ck' (c7s1-k), 'dk' (down) or 'uk' (up)")
        _check_channels("in_channels", in_channels)
        _check_channels("out_channels", out_channels)
        _check_padding_mode(padding_mode)
        k = _DEFAULT_KERNEL[kind] if kernel_size is None else kernel_size
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"kernel_size={kernel_size!r} must be a positive integer")
        if kind == "ck" and k % 2 == 0:
            raise ValueError(f"kernel_size={k} for a stride-1 'ck' unit must be odd to keep the resolution")
        self.kind: XKKind = kind
        self.conv: nn.Conv2d | nn.ConvTranspose2d
        if kind == "uk":
            # Even kernels (4) with padding k/2-1 double exactly; odd kernels (3) need output_padding=1.
            padding = k // 2 - 1 if k % 2 == 0 else k // 2
            output_padding = 0 if k % 2 == 0 else 1
            self.conv = nn.ConvTranspose2d(
                in_channels,
                out_channels,
                kernel_size=k,
                stride=2,
                padding=padding,
                output_padding=output_padding,
                bias=bias,
            )
        else:
            stride = 1 if kind == "ck" else 2
            padding = k // 2 if k % 2 == 1 else k // 2 - 1
            self.conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=k,
                stride=stride,
                padding=padding,
                padding_mode=padding_mode,
                bias=bias,
            )
        self.norm = nn.InstanceNorm2d(out_channels, affine=norm_affine)
        self.act: nn.Module = nn.ReLU(inplace=True) if activation else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Apply ``conv → norm → ReLU`` to ``x`` of shape (B, C, H, W)."""
        out: Tensor = self.act(self.norm(self.conv(x)))
        return out


class Residual(nn.Module):
    """A residual block ``x + f(x)`` with ``f = conv3×3 → IN → ReLU → conv3×3 → IN``.

    Args:
        channels: Channels in and out (the block keeps the shape).
        padding_mode: Padding of both 3×3 convolutions (``"zeros"`` official, ``"reflect"`` CycleGAN).
        norm_affine: Whether InstanceNorm has learned affine parameters.
        bias: Whether the convolutions have a bias.
        relu_after_second_norm: Apply a ReLU after the second norm, inside ``f`` (the CycleGAN-style
            variant); the official block has none.

    Examples:
        >>> import torch
        >>> block = Residual(8)
        >>> block(torch.zeros(2, 8, 16, 16)).shape
        torch.Size([2, 8, 16, 16])
    """

    def __init__(
        self,
        channels: int,
        *,
        padding_mode: PaddingMode = "zeros",
        norm_affine: bool = True,
        bias: bool = False,
        relu_after_second_norm: bool = False,
    ) -> None:
        super().__init__()
        _check_channels("channels", channels)
        _check_padding_mode(padding_mode)
        self.first = XK(
            "ck", channels, channels, kernel_size=3, padding_mode=padding_mode, norm_affine=norm_affine, bias=bias
        )
        self.second = XK(
            "ck",
            channels,
            channels,
            kernel_size=3,
            padding_mode=padding_mode,
            norm_affine=norm_affine,
            bias=bias,
            activation=relu_after_second_norm,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + f(x)``."""
        out: Tensor = x + self.second(self.first(x))
        return out


def init_official_(module: nn.Module, std: float = 0.02) -> None:
    """Initialise like the official GANimation code: conv weights ~ N(0, ``std``), conv biases 0.

    Norm layers keep PyTorch's defaults (scale 1, shift 0), exactly as the official ``_weights_init_fn``
    leaves InstanceNorm untouched.

    Examples:
        >>> import torch
        >>> conv = torch.nn.Conv2d(3, 64, 3)
        >>> init_official_(conv)
        >>> conv.bias.abs().max().item()
        0.0
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            with torch.no_grad():
                m.weight.normal_(0.0, std)
                if m.bias is not None:
                    m.bias.zero_()
