"""The generator's optional warp field (``GeneratorConfig.warp_range``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib import Generator
from ganimation_lib.models.warp import warp_images
from tests.conftest import tiny_generator_config


def test_an_untrained_warp_generator_composes_the_unmoved_input() -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(warp_range=0.15, au_modulation=True))
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    out = generator(images, aus)
    assert out.flow is not None and out.flow.shape == (2, 2, 32, 32)
    assert out.flow.abs().max().item() == 0.0
    expected = out.attention * images + (1 - out.attention) * out.color
    torch.testing.assert_close(out.image, expected, atol=1e-5, rtol=0)


def test_without_a_warp_there_is_no_flow_and_the_weights_are_the_official_draw() -> None:
    torch.manual_seed(0)
    plain = Generator(tiny_generator_config())
    torch.manual_seed(0)
    warped = Generator(tiny_generator_config(warp_range=0.15))
    assert plain(torch.zeros(1, 3, 32, 32), torch.zeros(1, 17)).flow is None
    extra = set(warped.state_dict()) - set(plain.state_dict())
    assert extra == {"flow_head.conv.weight"}
    for key, value in plain.state_dict().items():
        assert torch.equal(value, warped.state_dict()[key]), key


def test_the_flow_learns_and_moves_the_input() -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(warp_range=0.2, attention_bias=10.0))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    aus = torch.rand(2, 17)
    target = torch.roll(images, shifts=1, dims=-1)  # everything one pixel to the right
    out = generator(images, aus)
    (out.image - target).abs().mean().backward()
    assert generator.flow_head is not None
    grad = generator.flow_head.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with torch.no_grad():
        generator.flow_head.conv.weight.normal_(0, 0.5)
    moved = generator(images, aus)
    assert moved.flow is not None and moved.flow.abs().max() <= 0.2 + 1e-6
    assert (moved.image - out.image).abs().max() > 1e-2


@pytest.mark.parametrize("value", [0, -0.1, 1.5, float("nan"), "0.1"])
def test_an_invalid_warp_range_is_refused_by_name(value: object) -> None:
    with pytest.raises(ValueError, match="warp_range"):
        tiny_generator_config(warp_range=value)


def test_a_warp_generator_saves_and_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(warp_range=0.15))
    assert generator.flow_head is not None
    with torch.no_grad():
        generator.flow_head.conv.weight.normal_(0, 0.1)
    generator.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert loaded.config.warp_range == 0.15
    images, aus = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 17)
    generator.eval()
    assert torch.equal(loaded(images, aus).image, generator(images, aus).image)


def test_warp_images_moves_pixels_by_the_flow_in_normalised_units() -> None:
    images = torch.arange(64.0).reshape(1, 1, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 1] = 0.25  # a quarter unit = one pixel of eight, downwards: each pixel takes the one below
    assert torch.allclose(warp_images(images, flow)[0, 0, :7], images[0, 0, 1:])
    assert torch.allclose(warp_images(images, flow)[0, 0, 7], images[0, 0, 7])  # the border repeats


def test_edit_warps_the_full_resolution_input_like_the_generator() -> None:
    from ganimation_lib.inference import edit

    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(warp_range=0.2, attention_bias=10.0)).eval()
    assert generator.flow_head is not None
    with torch.no_grad():
        generator.flow_head.conv.weight.normal_(0, 0.5)
    # A smooth face-sized picture, so that warping it at 32 or at 64 px moves the same content.
    ramp = torch.linspace(-1, 1, 32)
    face = torch.stack([ramp[None, :].expand(32, 32), ramp[:, None].expand(32, 32), ramp.outer(ramp)])
    aus = torch.rand(17)
    with torch.no_grad():
        direct = generator(face[None], aus[None])
    assert direct.flow is not None and direct.flow.abs().max() > 0.05
    same_size = edit(generator, face, aus)
    torch.testing.assert_close(same_size, direct.image[0], atol=1e-5, rtol=0)
    # At twice the resolution the flow, in normalised units, moves the same content.
    big = torch.nn.functional.interpolate(face[None], scale_factor=2, mode="bilinear", align_corners=False)[0]
    edited_big = edit(generator, big, aus)
    shrunk = torch.nn.functional.avg_pool2d(edited_big[None], 2)[0]
    unwarped_error = (face - direct.image[0]).abs().mean()
    assert (shrunk - direct.image[0]).abs().mean() < 0.25 * unwarped_error
