"""GANimation's losses as typed pure functions (the weighted objective that combines them:
[`objective`][ganimation_lib.losses.objective]).

Every function follows the device and dtype of its inputs and reduces in float32, so the values are the
same under autocast. The formulas are the ones of the paper and of the official code (albertpumarola/GANimation),
with the differences spelled out where the code departs from the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "ExpressionLossForm",
    "SmoothnessForm",
    "attention_saturation_loss",
    "attention_smoothness_loss",
    "au_gradient_penalty",
    "color_smoothness_loss",
    "cycle_loss",
    "expression_loss",
    "gradient_penalty",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

SmoothnessForm = Literal["l1_sum", "squared_mean"]
ExpressionLossForm = Literal["official", "mean"]


def _check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}; they must match"
        )


def _check_attention(attention: Tensor) -> None:
    if attention.dim() != 4 or attention.shape[1] != 1:
        raise ValueError(f"attention must have shape (B, 1, H, W), got {tuple(attention.shape)}")


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's Wasserstein term: ``mean(D(fake)) − mean(D(real))`` (minimised by the critic).

    Args:
        real_scores: Critic scores of real images, any shape.
        fake_scores: Critic scores of generated images, any shape.

    Examples:
        >>> import torch
        >>> wgan_critic_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0]))
        tensor(-2.)
    """
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    """The generator's adversarial term: ``−mean(D(G(x, y)))``.

    Examples:
        >>> import torch
        >>> wgan_generator_loss(torch.tensor([[1.0, 3.0]]))
        tensor(-2.)
    """
    return -fake_scores.float().mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    alpha: Tensor | None = None,
    rng: torch.Generator | None = None,
    create_graph: bool = True,
) -> Tensor:
    """WGAN-GP: ``mean_i (‖∇_x̂ D(x̂_i)‖₂ − 1)²`` on random interpolates ``x̂ = α·real + (1−α)·fake``.

    The norm is per sample, over all of its pixels and channels; for a patch critic ``D(x̂)`` is the sum of
    the score map, as in the official code (``grad_outputs`` of ones). The interpolates and the critic's
    forward pass run in float32 with autocast disabled, because half-precision gradients of the critic
    make the penalty unreliable.

    Args:
        critic: A function from images to scores, e.g. ``lambda x: critic_module(x).score``.
        real: Real images (B, ...).
        fake: Generated images of the same shape (detached or not).
        alpha: Interpolation weights broadcastable to ``real`` (e.g. (B, 1, 1, 1)); ``None`` draws
            U(0, 1) per sample.
        rng: Random number generator for ``alpha`` (reproducibility).
        create_graph: Keep the graph of the gradient so the penalty can be back-propagated (training).

    Examples:
        >>> import torch
        >>> linear = lambda x: 3.0 * x.flatten(1).sum(1)   # gradient norm is 3·sqrt(numel) per sample
        >>> real, fake = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
        >>> gradient_penalty(linear, real, fake)
        tensor(25.)
    """
    _check_same_shape("real", real, "fake", fake)
    if real.dim() < 2:
        raise ValueError(f"real and fake must have a batch dimension, got shape {tuple(real.shape)}")
    batch = real.shape[0]
    # At least float32: half inputs are promoted, float64 stays float64 (gradcheck).
    dtype = torch.promote_types(real.dtype, torch.float32)
    real32, fake32 = real.detach().to(dtype), fake.detach().to(dtype)
    if alpha is None:
        shape = (batch,) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, device=real.device, generator=rng)
    alpha = alpha.to(device=real.device, dtype=dtype)
    interpolates = (alpha * real32 + (1 - alpha) * fake32).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = critic(interpolates).to(dtype)
        (grad,) = torch.autograd.grad(
            outputs=scores,
            inputs=interpolates,
            grad_outputs=torch.ones_like(scores),
            create_graph=create_graph,
        )
        norms = grad.reshape(batch, -1).norm(2, dim=1)
        penalty: Tensor = ((norms - 1) ** 2).mean()
        return penalty


def au_gradient_penalty(
    regress: Callable[[Tensor], Tensor],
    images: Tensor,
    *,
    probe: Tensor | None = None,
    rng: torch.Generator | None = None,
    create_graph: bool = True,
) -> Tensor:
    """How strongly an AU reading hinges on single pixels: ``mean_i ‖∂(v_i · R(x_i)) / ∂x_i‖²``, ``v_i ~ N(0, I)``.

    For a Gaussian probe ``v`` the expected value is the squared Frobenius norm of the Jacobian of the
    regressed AUs with respect to the image (Hutchinson's estimator), summed over pixels and channels. On
    real faces it keeps the critic's AU reading from resting on pixel-level patterns, which a generator
    learns to paint (speckles that move the reading instead of the face): to move a smooth reading the
    generator has to move the face's shapes. Not in the official objective; the fast recipe weights it 10
    from 64 px up, on an AU head with its own trunk (``CriticConfig.au_trunk_conv_dim``), see
    ``docs/training.md``. Runs in float32 with autocast disabled, as the gradient penalty.

    Args:
        regress: A function from images to AUs (B, num_aus), e.g. ``lambda x: critic_module(x).aus``.
        images: The images the reading is smoothed at (B, ...), normally the real faces.
        probe: The probe vectors (B, num_aus); ``None`` draws them from N(0, 1).
        rng: Random number generator for the probe (reproducibility).
        create_graph: Keep the graph of the gradient so the penalty can be back-propagated (training).

    Examples:
        >>> import torch
        >>> first_three = lambda x: 2.0 * x.flatten(1)[:, :3]   # each AU reads one pixel with slope 2
        >>> au_gradient_penalty(first_three, torch.zeros(4, 1, 2, 2), probe=torch.ones(4, 3))
        tensor(12.)
    """
    if images.dim() < 2:
        raise ValueError(f"images must have a batch dimension, got shape {tuple(images.shape)}")
    dtype = torch.promote_types(images.dtype, torch.float32)
    inputs = images.detach().to(dtype).requires_grad_(True)
    with torch.autocast(device_type=images.device.type, enabled=False):
        aus = regress(inputs).to(dtype)
        if probe is None:
            probe = torch.randn(aus.shape, device=aus.device, generator=rng, dtype=dtype)
        elif probe.shape != aus.shape:
            raise ValueError(
                f"probe has shape {tuple(probe.shape)} but the regressed AUs have {tuple(aus.shape)}; "
                "pass one probe vector per image and AU, or probe=None"
            )
        (grad,) = torch.autograd.grad(outputs=aus, inputs=inputs, grad_outputs=probe.to(aus), create_graph=create_graph)
    penalty: Tensor = grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()
    return penalty


def attention_saturation_loss(attention: Tensor) -> Tensor:
    """Keeps the attention from saturating to 1 (changing nothing): ``mean(A)``.

    ``A`` is the share of the input kept, so minimising ``mean(A)`` pushes the generator to change pixels; the
    paper adds it because the mask otherwise settles at 1, where the output is the unchanged input. Its weight
    balances that push against keeping the face.

    Examples:
        >>> import torch
        >>> attention_saturation_loss(torch.full((1, 1, 4, 4), 0.25))
        tensor(0.2500)
    """
    _check_attention(attention)
    return attention.float().mean()


def attention_smoothness_loss(attention: Tensor, form: SmoothnessForm = "l1_sum") -> Tensor:
    """Total variation of the attention mask, which keeps it smooth.

    * ``"l1_sum"`` (official code, default):
      ``Σ|A[..., :, 1:] − A[..., :, :-1]| + Σ|A[..., 1:, :] − A[..., :-1, :]|``
      summed over the whole batch, so its scale grows with batch and image size (hence its tiny official
      weight, 1e-5).
    * ``"squared_mean"`` (the paper's squared form, normalised): mean of the squared horizontal differences
      plus mean of the squared vertical ones; independent of batch and image size.

    Examples:
        >>> import torch
        >>> a = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
        >>> attention_smoothness_loss(a)
        tensor(2.)
        >>> attention_smoothness_loss(a, "squared_mean")
        tensor(1.)
    """
    _check_attention(attention)
    a = attention.float()
    dx = a[..., :, 1:] - a[..., :, :-1]
    dy = a[..., 1:, :] - a[..., :-1, :]
    if form == "l1_sum":
        return dx.abs().sum() + dy.abs().sum()
    if form == "squared_mean":
        return (dx**2).mean() + (dy**2).mean()
    raise ValueError(f"form={form!r} is not a smoothness form; use 'l1_sum' or 'squared_mean'")


def color_smoothness_loss(color: Tensor, attention: Tensor) -> Tensor:
    """Squared total variation of the colour where it is used: ``mean((1 − A)·(Δx C)²) + mean((1 − A)·(Δy C)²)``.

    The colour head is free wherever the attention keeps the input (``A ≈ 1``), but where the attention opens
    its pixel-to-pixel noise lands in the output as coloured speckles that fool an AU regressor. Weighting the
    colour's total variation by ``1 − A`` (the share of the colour in the output) penalises exactly that noise
    and leaves the hidden colour alone. Not part of the official objective (its weight defaults to 0).

    Examples:
        >>> import torch
        >>> color = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]]).expand(1, 3, 2, 2)
        >>> color_smoothness_loss(color, torch.zeros(1, 1, 2, 2))   # attention closed: every jump counts
        tensor(1.)
        >>> color_smoothness_loss(color, torch.ones(1, 1, 2, 2))    # input kept: the colour is unused
        tensor(0.)
    """
    _check_attention(attention)
    if color.dim() != 4 or color.shape[0] != attention.shape[0] or color.shape[-2:] != attention.shape[-2:]:
        raise ValueError(
            f"color must be (B, C, H, W) matching attention {tuple(attention.shape)}, got {tuple(color.shape)}"
        )
    c, used = color.float(), 1 - attention.float()
    dx = (c[..., :, 1:] - c[..., :, :-1]) ** 2 * (used[..., :, 1:] + used[..., :, :-1]) / 2
    dy = (c[..., 1:, :] - c[..., :-1, :]) ** 2 * (used[..., 1:, :] + used[..., :-1, :]) / 2
    return dx.mean() + dy.mean()


def expression_loss(predicted_aus: Tensor, target_aus: Tensor, form: ExpressionLossForm = "official") -> Tensor:
    """Conditional expression loss on the critic's AU head: the MSE between predicted and target AUs.

    * ``"official"`` (default, matches ``LossWeights.expression = 4000``): the official code's
      ``MSELoss()(pred, target) / B`` — the mean is divided by the batch size a second time.
    * ``"mean"``: the plain mean squared error, for which a weight around ``4000 / B`` (160 at B = 25)
      gives the same scale.

    Examples:
        >>> import torch
        >>> pred, target = torch.zeros(2, 3), torch.ones(2, 3)
        >>> expression_loss(pred, target), expression_loss(pred, target, "mean")
        (tensor(0.5000), tensor(1.))
    """
    _check_same_shape("predicted_aus", predicted_aus, "target_aus", target_aus)
    if predicted_aus.dim() != 2:
        raise ValueError(f"AU tensors must have shape (B, num_aus), got {tuple(predicted_aus.shape)}")
    mse = torch.nn.functional.mse_loss(predicted_aus.float(), target_aus.float())
    if form == "official":
        return mse / predicted_aus.shape[0]
    if form == "mean":
        return mse
    raise ValueError(f"form={form!r} is not an expression-loss form; use 'official' or 'mean'")


def cycle_loss(reconstruction: Tensor, original: Tensor) -> Tensor:
    """Identity (cycle) loss: ``mean |G(G(x, y_f).image, y_o).image − x|`` (L1).

    Examples:
        >>> import torch
        >>> cycle_loss(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5))
        tensor(0.5000)
    """
    _check_same_shape("reconstruction", reconstruction, "original", original)
    return (reconstruction.float() - original.float()).abs().mean()
