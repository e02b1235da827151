"""Drawing at a reduced resolution (``GeneratorConfig.draw_downsample``): maps from a smaller network, composed
with the full-resolution input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.models.draw_resolution import maps_at_face_size
from tests.conftest import tiny_generator_config


def test_the_maps_come_at_full_size_and_the_kept_pixels_stay_sharp() -> None:
    torch.manual_seed(0)
    config = tiny_generator_config(image_size=64, draw_downsample=2, warp_range=0.15, attention_bias=0.0)
    generator = Generator(config)
    with torch.no_grad():  # the attention keeps every input pixel
        generator.attention_head.weight.zero_()
        generator.attention_head.bias.fill_(40.0)  # type: ignore[union-attr]
    images, aus = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 17)
    out = generator(images, aus)
    assert out.image.shape == (2, 3, 64, 64) and out.color.shape == (2, 3, 64, 64)
    assert out.attention.shape == (2, 1, 64, 64) and out.flow is not None and out.flow.shape == (2, 2, 64, 64)
    # Not the reduced face upsampled (off by about 0.3 on random pixels): the input itself, up to the float
    # rounding of sampling it through a zero flow.
    torch.testing.assert_close(out.image, images, atol=1e-4, rtol=0)


def test_the_network_is_the_one_of_the_reduced_size_and_sees_the_reduced_face() -> None:
    torch.manual_seed(0)
    small = Generator(tiny_generator_config(image_size=32))
    reduced = Generator(tiny_generator_config(image_size=64, draw_downsample=2))
    # The same keys and shapes as the network of the reduced size: drawing smaller adds no parameter.
    assert {k: v.shape for k, v in reduced.state_dict().items()} == {k: v.shape for k, v in small.state_dict().items()}
    reduced.load_state_dict(small.state_dict())
    images, aus = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 17)
    half = F.interpolate(images, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
    expected = small(half, aus)
    out = reduced(images, aus)
    size = (64, 64)
    up = F.interpolate(expected.attention, size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out.attention, up)
    color = F.interpolate(expected.color, size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out.color, color)
    torch.testing.assert_close(out.image, up * images + (1 - up) * out.color)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(image_size=64, draw_downsample=2, warp_range=0.15, au_modulation=True))
    out = generator(torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 17))
    (out.image.square().mean() + out.flow.square().mean()).backward()  # type: ignore[union-attr]
    assert all(p.grad is not None for p in generator.parameters())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_size": 64, "draw_downsample": 3}, "draw_downsample=3 must be 1, 2 or 4"),
        ({"image_size": 36, "draw_downsample": 2}, "gives 18 px"),
        ({"image_size": 16, "draw_downsample": 4}, "gives 4 px"),
    ],
)
def test_sizes_that_cannot_be_drawn_are_refused_by_name(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**overrides)


def test_an_input_the_reduced_network_cannot_take_names_the_size_to_use() -> None:
    generator = Generator(tiny_generator_config(image_size=64, draw_downsample=2))
    with pytest.raises(ValueError, match=r"multiples of 8.*resize to 64x64"):
        generator(torch.zeros(1, 3, 60, 60), torch.zeros(1, 17))


def test_the_setting_survives_save_and_load(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    generator = Generator(tiny_generator_config(image_size=64, draw_downsample=2))
    generator.save_pretrained(folder)
    loaded = Generator.from_pretrained(folder)
    assert loaded.config.draw_downsample == 2
    images, aus = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 17)
    torch.testing.assert_close(loaded(images, aus).image, generator(images, aus).image)


def test_shuffled_maps_give_each_face_pixel_its_own_value() -> None:
    # A change finer than the reduced pixel's 2x2 block: only the top-left pixel of each block is drawn. Bilinear
    # upsampling cannot make it; with draw_upsample="shuffle" each head draws one value per face pixel.
    config = tiny_generator_config(image_size=64, draw_downsample=2, draw_upsample="shuffle", attention_bias=0.0)
    generator = Generator(config)
    assert generator.color_head.out_channels == 3 * 4 and generator.attention_head.out_channels == 4
    with torch.no_grad():
        generator.color_head.weight.zero_()  # the colour is tanh(0) = 0 everywhere
        generator.attention_head.weight.zero_()
        generator.attention_head.bias.copy_(torch.tensor([-40.0, 40.0, 40.0, 40.0]))  # type: ignore[union-attr]
    images, aus = torch.rand(2, 3, 64, 64) * 0.8 + 0.1, torch.rand(2, 17)
    out = generator(images, aus)
    drawn = torch.zeros(64, 64, dtype=torch.bool)
    drawn[0::2, 0::2] = True
    assert out.attention[..., drawn].max() < 1e-6 and out.attention[..., ~drawn].min() > 1 - 1e-6
    assert out.image[..., drawn].abs().max() < 1e-6  # the colour, 0, on every drawn pixel
    torch.testing.assert_close(out.image[..., ~drawn], images[..., ~drawn])  # the input on the others


def test_shuffled_grey_colour_averages_the_three_channels_of_each_face_pixel() -> None:
    # The colour head's channels are colour-major (red's four sub-pixels, then green's, then blue's).
    color = torch.zeros(1, 12, 4, 4)
    for channel in range(3):
        for sub_pixel in range(4):
            color[0, channel * 4 + sub_pixel] = 3.0 * sub_pixel + channel  # grey of sub-pixel k: 3k + 1
    grey, attention = maps_at_face_size(color, torch.zeros(1, 4, 4, 4), (8, 8), 2, "shuffle", grey=True)
    assert grey.shape == (1, 1, 8, 8) and attention.shape == (1, 1, 8, 8)
    assert grey[0, 0, :2, :2].tolist() == [[1.0, 4.0], [7.0, 10.0]]
    assert torch.equal(grey[0, 0, 2:4, 2:4], grey[0, 0, :2, :2])  # every block alike, as the reduced pixels are


def test_shuffled_heads_survive_save_and_load(tmp_path: Path) -> None:
    # (bilinear, the default, is test_the_setting_survives_save_and_load above)
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(image_size=64, draw_downsample=2, draw_upsample="shuffle"))
    generator.save_pretrained(tmp_path / "g")
    loaded = Generator.from_pretrained(tmp_path / "g")
    assert loaded.config.draw_upsample == "shuffle"
    images, aus = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 17)
    torch.testing.assert_close(loaded(images, aus).image, generator(images, aus).image)


def test_an_unknown_upsampling_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"draw_upsample.*'nearest'"):
        GeneratorConfig(image_size=64, draw_downsample=2, draw_upsample="nearest")  # type: ignore[arg-type]
