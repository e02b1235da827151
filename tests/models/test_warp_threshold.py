"""``GeneratorConfig.warp_threshold``: moves under a threshold vanish when drawing, and training is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib import Generator
from ganimation_lib.models.warp import shorten_flow
from tests.conftest import tiny_generator_config


def test_shorten_flow_measures_pixels_on_each_axis_and_keeps_directions() -> None:
    flow = torch.zeros(1, 2, 8, 16)  # 16 px wide, 8 px high: half the width is 8 px, half the height 4 px
    flow[0, 0, 0, 0] = 0.25  # 2 px to the right
    flow[0, 1, 0, 1] = 0.5  # 2 px down
    flow[0, :, 0, 2] = torch.tensor([0.3 / 8, 0.4 / 4])  # (0.3, 0.4) px: 0.5 px long
    flow[0, :, 0, 3] = torch.tensor([3 / 8, 4 / 4])  # (3, 4) px: 5 px long
    short = shorten_flow(flow, 1.0)
    torch.testing.assert_close(short[0, :, 0, 0], torch.tensor([0.125, 0.0]))
    torch.testing.assert_close(short[0, :, 0, 1], torch.tensor([0.0, 0.25]))
    assert short[0, :, 0, 2].abs().max() == 0.0
    torch.testing.assert_close(short[0, :, 0, 3], torch.tensor([3 / 8, 1.0]) * 0.8)  # 4 px of 5, same direction
    assert short[0, :, 1:].abs().max() == 0.0


def test_shorten_flow_has_a_finite_gradient_at_a_zero_flow() -> None:
    flow = torch.zeros(1, 2, 4, 4, requires_grad=True)
    shorten_flow(flow, 0.1).sum().backward()
    assert flow.grad is not None and torch.isfinite(flow.grad).all()


def _pair(threshold: float) -> tuple[Generator, Generator]:
    """Two generators with the same weights and a moving warp, without and with ``threshold``."""
    torch.manual_seed(0)
    plain = Generator(tiny_generator_config(warp_range=0.2, attention_bias=10.0))
    shortened = Generator(tiny_generator_config(warp_range=0.2, attention_bias=10.0, warp_threshold=threshold))
    assert plain.flow_head is not None
    with torch.no_grad():
        plain.flow_head.conv.weight.normal_(0, 0.05)
    shortened.load_state_dict(plain.state_dict())
    return plain, shortened


def test_training_sees_the_flow_as_predicted() -> None:
    plain, shortened = _pair(0.5)
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    a, b = plain.train()(images, aus), shortened.train()(images, aus)
    assert torch.equal(a.image, b.image)


def test_drawing_shortens_every_move_by_the_threshold() -> None:
    plain, shortened = _pair(0.5)
    plain.eval(), shortened.eval()
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    with torch.no_grad():
        a, b = plain(images, aus), shortened(images, aus)
    assert a.flow is not None and b.flow is not None
    pixels = 16  # half of a 32 px side
    length_a, length_b = (a.flow * pixels).norm(dim=1), (b.flow * pixels).norm(dim=1)
    assert (length_a < 0.5).any() and (length_a > 0.5).any(), "the test's flow must have moves on both sides"
    torch.testing.assert_close(length_b, (length_a - 0.5).clamp(min=0), atol=1e-5, rtol=0)
    assert not torch.equal(a.image, b.image)


def test_the_threshold_saves_and_loads(tmp_path: Path) -> None:
    _, shortened = _pair(0.3)
    shortened.eval().save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert loaded.config.warp_threshold == 0.3
    images, aus = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 17)
    with torch.no_grad():
        assert torch.equal(loaded(images, aus).image, shortened(images, aus).image)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"warp_threshold": 0.1}, "warp_threshold=0.1 must be 0 or up to 8 px, with warp_range"),
        ({"warp_range": 0.15, "warp_threshold": -0.1}, "warp_threshold=-0.1"),
        ({"warp_range": 0.15, "warp_threshold": 9.0}, "warp_threshold=9.0"),
        ({"warp_range": 0.15, "warp_threshold": float("nan")}, "warp_threshold=nan"),
    ],
)
def test_an_invalid_threshold_is_refused_by_name(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.")):
        tiny_generator_config(**overrides)
