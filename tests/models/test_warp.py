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


def around_warp_config(grey: bool = True, **overrides: object) -> object:
    fields: dict[str, object] = {"warp_range": 0.2, "color_residual": 0.5, "color_residual_around": "warp"}
    return tiny_generator_config(**{**fields, "color_residual_grey": grey, **overrides})


def test_a_colour_around_the_warp_starts_as_the_identity_and_paints_only_a_grey_change() -> None:
    torch.manual_seed(0)
    generator = Generator(around_warp_config(attention_bias=0.0))  # type: ignore[arg-type]
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    # The colour head starts silent and the flow at zero: the output is the input whatever the attention.
    start = generator(images, aus)
    assert start.color_change is not None and start.color_change.abs().max() == 0
    torch.testing.assert_close(start.image, images, atol=1e-5, rtol=0)
    assert generator.flow_head is not None
    with torch.no_grad():
        generator.color_head.weight.normal_(0, 0.5)
        generator.flow_head.conv.weight.normal_(0, 0.5)
    out = generator(images, aus)
    assert out.flow is not None and out.color_change is not None
    change = out.color_change
    assert change.abs().max() > 0.05 and change.abs().max() <= 0.5 + 1e-6
    # The same change on the three channels: a hue cannot be painted.
    torch.testing.assert_close(change[:, 0], change[:, 1], atol=0, rtol=0)
    torch.testing.assert_close(change[:, 0], change[:, 2], atol=0, rtol=0)
    warped = warp_images(images, out.flow)
    torch.testing.assert_close(out.color, (warped + change).clamp(-1, 1))
    torch.testing.assert_close(out.image, out.attention * warped + (1 - out.attention) * out.color)


def test_a_colour_around_the_warp_in_rgb_differs_per_channel_and_adds_no_parameter() -> None:
    torch.manual_seed(0)
    generator = Generator(around_warp_config(grey=False))  # type: ignore[arg-type]
    with torch.no_grad():
        generator.color_head.weight.normal_(0, 0.5)
    out = generator(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17))
    assert out.color_change is not None and (out.color_change[:, 0] - out.color_change[:, 1]).abs().max() > 1e-3
    plain = Generator(tiny_generator_config(warp_range=0.2))
    assert generator.state_dict().keys() == plain.state_dict().keys()
    assert plain(torch.zeros(1, 3, 32, 32), torch.zeros(1, 17)).color_change is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"color_residual_around": "warp", "warp_range": 0.1}, "set color_residual"),
        ({"color_residual_around": "warp", "color_residual": 0.5}, "and warp_range"),
        ({"color_residual_grey": True}, "set color_residual"),
        ({"color_residual_around": "output", "color_residual": 0.5}, "color_residual_around='output'"),
        ({"color_residual_grey": "yes", "color_residual": 0.5}, "color_residual_grey"),
    ],
)
def test_a_colour_change_without_its_base_is_refused_by_name(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_generator_config(**overrides)


def test_the_colour_smoothness_term_smooths_the_change_not_the_faces_edges() -> None:
    from ganimation_lib.losses.objective import GANimationObjective, GeneratorStep, LossWeights
    from ganimation_lib.models.critic import CriticOutput
    from ganimation_lib.models.generator import GeneratorOutput

    edges = torch.zeros(1, 3, 4, 4)
    edges[..., 2:] = 1.0  # a face's own edge, carried into the colour around the warped face
    opened = torch.zeros(1, 1, 4, 4)  # the attention open everywhere: the colour is what is seen
    objective = GANimationObjective(weights=LossWeights(color_smoothness=1.0))

    def smoothness(fake: GeneratorOutput) -> float:
        aus = torch.zeros(1, 17)
        judged = CriticOutput(score=torch.zeros(1, 1, 1, 1), aus=aus)
        step = GeneratorStep(None, edges, aus, aus, fake, judged, fake)  # type: ignore[arg-type]
        return float(objective.generator_terms(step)["color_smoothness"])

    assert smoothness(GeneratorOutput(image=edges, color=edges, attention=opened)) > 0  # an absolute colour
    flat_change = GeneratorOutput(image=edges, color=edges, attention=opened, color_change=torch.zeros_like(edges))
    assert smoothness(flat_change) == 0.0
    ramp_change = torch.zeros_like(edges)
    ramp_change[..., 3] = 0.2
    assert smoothness(GeneratorOutput(image=edges, color=edges, attention=opened, color_change=ramp_change)) > 0


def test_edit_adds_the_change_to_the_photos_own_warped_pixels() -> None:
    from ganimation_lib.inference import edit

    torch.manual_seed(0)
    generator = Generator(around_warp_config(attention_bias=0.0)).eval()  # type: ignore[arg-type]
    # Untrained: no flow, no change, the attention half open. A photo twice the model's size keeps every
    # one of its own sharp pixels, where composing with the 32 px colour map would blur them.
    photo = torch.rand(3, 64, 64) * 2 - 1
    torch.testing.assert_close(edit(generator, photo, torch.rand(17)), photo, atol=1e-5, rtol=0)
    plain = Generator(tiny_generator_config(warp_range=0.2, color_residual=0.5, attention_bias=0.0)).eval()
    with torch.no_grad():
        plain.color_head.weight.zero_()
    assert (edit(plain, photo, torch.rand(17)) - photo).abs().mean() > 0.05  # around the 32 px input: blurred


def test_a_colour_around_the_warp_saves_and_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(around_warp_config()).eval()  # type: ignore[arg-type]
    assert generator.flow_head is not None
    with torch.no_grad():
        generator.color_head.weight.normal_(0, 0.5)
        generator.flow_head.conv.weight.normal_(0, 0.1)
    generator.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert (loaded.config.color_residual_around, loaded.config.color_residual_grey) == ("warp", True)
    images, aus = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 17)
    assert torch.equal(loaded(images, aus).image, generator(images, aus).image)
