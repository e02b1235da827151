"""The loss functions: values by hand, float32 reductions, the gradient penalty's gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganimation_lib import Critic, CriticConfig, LossWeights
from ganimation_lib.losses import (
    attention_saturation_loss,
    attention_smoothness_loss,
    au_gradient_penalty,
    color_smoothness_loss,
    cycle_loss,
    expression_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)
from tests.conftest import tiny_critic_config


def test_wgan_terms() -> None:
    real = torch.tensor([[1.0, 3.0]])
    fake = torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    assert float(wgan_critic_loss(real, fake)) == pytest.approx(0.25 - 2.0)
    assert float(wgan_generator_loss(fake)) == pytest.approx(-0.25)


def test_gradient_penalty_matches_the_analytic_value() -> None:
    # D(x) = <w, x> per sample has gradient w everywhere: penalty = (||w|| - 1)^2 whatever the interpolate.
    w = torch.randn(3, 4, 4)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    value = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)
    assert float(value.detach()) == pytest.approx((float(w.norm()) - 1) ** 2, rel=1e-5)


def test_gradient_penalty_is_per_sample_and_uses_the_interpolates() -> None:
    # D(x) = sum(x^2)/2 has gradient x: the penalty depends on where each interpolate lies.
    real = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)])
    fake = torch.zeros_like(real)
    alpha = torch.tensor([0.5, 0.25]).view(2, 1, 1, 1)
    value = gradient_penalty(lambda x: (x**2).flatten(1).sum(1) / 2, real, fake, alpha=alpha)
    norms = torch.tensor([0.5 * 2.0, 0.75 * 2.0])  # ||alpha * real|| with 4 pixels: alpha * value * 2
    assert float(value.detach()) == pytest.approx(float(((norms - 1) ** 2).mean()))


def test_gradient_penalty_is_reproducible_with_an_rng() -> None:
    critic = Critic(tiny_critic_config())
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    values = [
        gradient_penalty(lambda x: critic(x).score, real, fake, rng=torch.Generator().manual_seed(3)) for _ in range(2)
    ]
    assert torch.equal(values[0], values[1])


def test_gradient_penalty_gradcheck_float64() -> None:
    # The critic is trained through the penalty: check d(penalty)/d(critic weights) numerically.
    torch.manual_seed(0)
    real, fake = torch.randn(2, 2, 5, 5, dtype=torch.float64), torch.randn(2, 2, 5, 5, dtype=torch.float64)
    alpha = torch.rand(2, 1, 1, 1, dtype=torch.float64)

    def penalty(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        def critic(x: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(F.conv2d(x, weight, bias, stride=2), 0.2).tanh()

        return gradient_penalty(critic, real, fake, alpha=alpha)

    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(penalty, (weight, bias))
    assert penalty(weight, bias).dtype == torch.float64


def test_gradient_penalty_stays_float32_under_autocast() -> None:
    critic = Critic(tiny_critic_config())
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    alpha = torch.full((2, 1, 1, 1), 0.3)
    reference = gradient_penalty(lambda x: critic(x).score, real, fake, alpha=alpha)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = gradient_penalty(lambda x: critic(x).score, real.bfloat16(), fake.bfloat16(), alpha=alpha)
    assert under_autocast.dtype == torch.float32
    # The only difference is rounding the inputs to bf16; the critic itself ran in float32.
    exact = gradient_penalty(lambda x: critic(x).score, real.bfloat16().float(), fake.bfloat16().float(), alpha=alpha)
    torch.testing.assert_close(under_autocast, exact)
    assert float(under_autocast.detach()) == pytest.approx(float(reference.detach()), rel=0.05)


def test_gradient_penalty_backpropagates_into_the_critic() -> None:
    critic = Critic(tiny_critic_config())
    value = gradient_penalty(lambda x: critic(x).score, torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    value.backward()
    for name, parameter in critic.named_parameters():
        if name.startswith("au_head"):
            assert parameter.grad is None, "the AU head is not part of the score the penalty constrains"
        elif name.endswith("bias"):
            # For a piecewise-linear critic the input gradient does not depend on the biases locally,
            # so their penalty gradient is exactly zero; they must still be in the graph.
            assert parameter.grad is not None, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_gradient_penalty_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"real has shape \(2, 3\) but fake has shape \(3, 3\)"):
        gradient_penalty(lambda x: x.sum(1), torch.zeros(2, 3), torch.zeros(3, 3))


def test_au_gradient_penalty_is_the_jacobians_squared_norm() -> None:
    weights = torch.randn(5, 12, generator=torch.Generator().manual_seed(0))  # 5 AUs read linearly from 12 values

    def regress(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ weights.T

    images = torch.rand(3, 3, 2, 2)
    probe = torch.randn(3, 5, generator=torch.Generator().manual_seed(1))
    exact = ((probe @ weights) ** 2).sum(1).mean()
    torch.testing.assert_close(au_gradient_penalty(regress, images, probe=probe), exact)
    # With random probes it estimates the squared Frobenius norm of the Jacobian.
    rng = torch.Generator().manual_seed(2)
    draws = torch.stack([au_gradient_penalty(regress, images, rng=rng) for _ in range(2000)])
    assert float(draws.mean()) == pytest.approx(float(weights.pow(2).sum()), rel=0.05)
    assert float(au_gradient_penalty(lambda x: x.flatten(1)[:, :4] * 0 + 1, images)) == 0.0


def test_au_gradient_penalty_trains_only_the_au_reading() -> None:
    critic = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4, au_trunk_conv_dim=8))
    value = au_gradient_penalty(lambda x: critic(x).aus, torch.rand(2, 3, 32, 32).half())
    assert value.dtype == torch.float32
    value.backward()
    reading = {id(p) for p in critic.au_parameters()}
    for name, parameter in critic.named_parameters():
        if id(parameter) not in reading:
            assert parameter.grad is None, f"{name} is not part of the AU reading"
        elif not name.endswith("bias"):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_au_gradient_penalty_rejects_a_probe_of_another_shape() -> None:
    with pytest.raises(ValueError, match=r"probe has shape \(2, 3\) but the regressed AUs have \(2, 4\)"):
        au_gradient_penalty(lambda x: x[:, :4], torch.zeros(2, 6), probe=torch.zeros(2, 3))


def test_attention_losses_by_hand() -> None:
    a = torch.tensor([[[[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]]]])  # (1, 1, 2, 3)
    assert float(attention_saturation_loss(a)) == pytest.approx(0.5)
    # Horizontal |diffs|: 0.5 + 0.5 per row, 2 rows -> 2.0; vertical: 0.
    assert float(attention_smoothness_loss(a)) == pytest.approx(2.0)
    assert float(attention_smoothness_loss(a, "squared_mean")) == pytest.approx(0.25)
    # The official L1-sum grows with the batch; the normalised form does not.
    batch = a.repeat(4, 1, 1, 1)
    assert float(attention_smoothness_loss(batch)) == pytest.approx(8.0)
    assert float(attention_smoothness_loss(batch, "squared_mean")) == pytest.approx(0.25)


def test_attention_losses_reject_bad_shapes_and_forms() -> None:
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        attention_saturation_loss(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="form='tv'"):
        attention_smoothness_loss(torch.zeros(1, 1, 4, 4), "tv")  # type: ignore[arg-type]


def test_expression_loss_official_divides_by_the_batch_again() -> None:
    pred, target = torch.rand(5, 17), torch.rand(5, 17)
    mse = F.mse_loss(pred, target)
    torch.testing.assert_close(expression_loss(pred, target), mse / 5)
    torch.testing.assert_close(expression_loss(pred, target, "mean"), mse)
    with pytest.raises(ValueError, match="form='l2'"):
        expression_loss(pred, target, "l2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(5, 17\) but target_aus has shape \(5, 16\)"):
        expression_loss(pred, target[:, :16])


def test_cycle_loss_is_l1() -> None:
    x = torch.rand(2, 3, 8, 8)
    assert float(cycle_loss(x, x)) == 0.0
    torch.testing.assert_close(cycle_loss(x + 0.25, x), torch.tensor(0.25))


def test_losses_reduce_in_float32_for_half_inputs() -> None:
    a = torch.rand(2, 1, 8, 8).half()
    assert attention_saturation_loss(a).dtype == torch.float32
    assert attention_smoothness_loss(a).dtype == torch.float32
    assert cycle_loss(a.repeat(1, 3, 1, 1), a.repeat(1, 3, 1, 1)).dtype == torch.float32
    assert expression_loss(torch.rand(2, 3).half(), torch.rand(2, 3).half()).dtype == torch.float32
    assert wgan_generator_loss(torch.rand(2, 1).bfloat16()).dtype == torch.float32


def test_loss_weights_official_defaults_and_validation() -> None:
    weights = LossWeights()
    assert weights.to_dict() == {
        "adversarial": 1.0,
        "expression": 4000.0,
        "cycle": 10.0,
        "attention_saturation": 0.1,
        "attention_smoothness": 1e-5,
        "gradient_penalty": 10.0,
        "color_smoothness": 0.0,  # not in the official objective
        "au_gradient_penalty": 0.0,  # nor this
    }
    with pytest.raises(ValueError, match=r"LossWeights\.cycle=-1"):
        LossWeights(cycle=-1)
    with pytest.raises(ValueError, match="nan"):
        LossWeights(expression=float("nan"))


def test_color_smoothness_counts_only_the_colour_the_output_uses() -> None:
    torch.manual_seed(0)
    color = torch.rand(2, 3, 8, 8) * 2 - 1
    closed, open_ = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    dx = (color[..., :, 1:] - color[..., :, :-1]) ** 2
    dy = (color[..., 1:, :] - color[..., :-1, :]) ** 2
    assert float(color_smoothness_loss(color, closed)) == pytest.approx(float(dx.mean() + dy.mean()), rel=1e-6)
    assert float(color_smoothness_loss(color, open_)) == 0.0
    # Attention open on the left half only: jumps on the right half, where the input is kept, are free.
    half = torch.ones(2, 1, 8, 8)
    half[..., :4] = 0
    noisy_right = color.clone()
    noisy_right[..., 5:] = torch.rand(2, 3, 8, 3)
    assert float(color_smoothness_loss(noisy_right, half)) == pytest.approx(float(color_smoothness_loss(color, half)))
    # A flat colour costs nothing wherever the attention is.
    assert float(color_smoothness_loss(torch.full((1, 3, 4, 4), 0.3), torch.rand(1, 1, 4, 4))) == 0.0


def test_color_smoothness_rejects_mismatched_maps() -> None:
    with pytest.raises(ValueError, match="matching attention"):
        color_smoothness_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 4, 4))
