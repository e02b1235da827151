"""Generator, Critic and their blocks, swept over every preset at tiny sizes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganimation_lib import XK, Critic, CriticConfig, Generator, GeneratorConfig, Residual
from ganimation_lib.models.critic import CRITIC_PRESETS
from ganimation_lib.models.generator import GENERATOR_PRESETS
from tests.conftest import tiny_critic_config, tiny_generator_config


@pytest.mark.parametrize("preset", GENERATOR_PRESETS)
@pytest.mark.parametrize("batch", [1, 3])
def test_generator_shapes_ranges_and_composition(preset: str, batch: int) -> None:
    generator = Generator(tiny_generator_config(preset))
    images = torch.rand(batch, 3, 32, 32) * 2 - 1
    aus = torch.rand(batch, 17)
    out = generator(images, aus)
    assert out.image.shape == (batch, 3, 32, 32)
    assert out.color.shape == (batch, 3, 32, 32)
    assert out.attention.shape == (batch, 1, 32, 32)
    assert out.attention.min() >= 0 and out.attention.max() <= 1
    assert out.color.min() >= -1 and out.color.max() <= 1
    expected = out.attention * images + (1 - out.attention) * out.color
    torch.testing.assert_close(out.image, expected)


@pytest.mark.parametrize("preset", GENERATOR_PRESETS)
def test_generator_is_fully_convolutional_and_conditioned(preset: str) -> None:
    generator = Generator(tiny_generator_config(preset)).eval()
    images = torch.rand(1, 3, 48, 64) * 2 - 1
    with torch.no_grad():
        a = generator(images, torch.zeros(1, 17))
        b = generator(images, torch.ones(1, 17))
    assert a.image.shape == (1, 3, 48, 64)
    assert not torch.allclose(a.color, b.color), "the AUs must change the output"


@pytest.mark.parametrize("preset", GENERATOR_PRESETS)
def test_every_generator_parameter_receives_a_gradient(preset: str) -> None:
    generator = Generator(tiny_generator_config(preset))
    out = generator(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17))
    (out.image.square().mean() + out.attention.mean()).backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None, name
        if name.endswith(".conv.bias"):
            # A conv bias right before InstanceNorm (replicate preset) is cancelled by the norm: its true
            # gradient is zero, so only its presence in the graph is checked.
            continue
        assert parameter.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


@pytest.mark.parametrize("preset", CRITIC_PRESETS)
@pytest.mark.parametrize("batch", [1, 4])
def test_critic_shapes_for_every_batch_size(preset: str, batch: int) -> None:
    critic = Critic(tiny_critic_config(preset, num_aus=5))
    out = critic(torch.rand(batch, 3, 32, 32) * 2 - 1)
    assert out.score.shape == (batch, 1, 2, 2)
    assert out.aus.shape == (batch, 5)


@pytest.mark.parametrize("preset", CRITIC_PRESETS)
def test_every_critic_parameter_receives_a_gradient(preset: str) -> None:
    critic = Critic(tiny_critic_config(preset))
    out = critic(torch.rand(2, 3, 32, 32) * 2 - 1)
    (out.score.mean() + out.aus.square().mean()).backward()
    for name, parameter in critic.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_official_preset_has_the_official_parameter_counts() -> None:
    assert _count(Generator(GeneratorConfig.official())) == 8_471_296
    assert _count(Critic(CriticConfig.official())) == 44_860_352


def _official_generator_shapes(conv_dim: int, c_dim: int, repeat_num: int) -> list[tuple[int, ...]]:
    """The official generator's state-dict shapes, in order, written out from its source."""
    d = conv_dim
    shapes: list[tuple[int, ...]] = [(d, 3 + c_dim, 7, 7), (d,), (d,)]
    shapes += [(2 * d, d, 4, 4), (2 * d,), (2 * d,), (4 * d, 2 * d, 4, 4), (4 * d,), (4 * d,)]
    for _ in range(repeat_num):
        shapes += [(4 * d, 4 * d, 3, 3), (4 * d,), (4 * d,)] * 2
    # ConvTranspose2d weights are (in, out, k, k).
    shapes += [(4 * d, 2 * d, 4, 4), (2 * d,), (2 * d,), (2 * d, d, 4, 4), (d,), (d,)]
    shapes += [(3, d, 7, 7), (1, d, 7, 7)]
    return shapes


def _official_critic_shapes(image_size: int, conv_dim: int, c_dim: int, repeat_num: int) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    cin, cout = 3, conv_dim
    for _ in range(repeat_num):
        shapes += [(cout, cin, 4, 4), (cout,)]
        cin, cout = cout, 2 * cout
    k = image_size // 2**repeat_num
    return [*shapes, (1, cin, 3, 3), (c_dim, cin, k, k)]


def test_official_state_dict_shapes_match_the_official_layout() -> None:
    generator = Generator(GeneratorConfig.official())
    assert [tuple(t.shape) for t in generator.state_dict().values()] == _official_generator_shapes(64, 17, 6)
    critic = Critic(CriticConfig.official())
    assert [tuple(t.shape) for t in critic.state_dict().values()] == _official_critic_shapes(128, 64, 17, 6)


@pytest.mark.fixtures
def test_state_dict_shapes_match_the_official_checkpoints(fixtures_dir: object) -> None:
    from pathlib import Path

    root = Path(str(fixtures_dir)) / "checkpoints"
    official_g = torch.load(root / "official_net_G.pth", weights_only=True)
    ours_g = Generator(GeneratorConfig.official(conv_dim=16)).state_dict()
    assert [tuple(t.shape) for t in official_g.values()] == [tuple(t.shape) for t in ours_g.values()]
    official_d = torch.load(root / "official_net_D.pth", weights_only=True)
    ours_d = Critic(CriticConfig.official(conv_dim=8)).state_dict()
    assert [tuple(t.shape) for t in official_d.values()] == [tuple(t.shape) for t in ours_d.values()]
    replicate_g = torch.load(root / "replicate_net_gen.pth", weights_only=True)
    ours_r = Generator(GeneratorConfig.replicate(conv_dim=16)).state_dict()
    assert [tuple(t.shape) for t in replicate_g.values()] == [tuple(t.shape) for t in ours_r.values()]


def test_replicate_preset_differs_where_the_replicate_code_differs() -> None:
    state = Generator(GeneratorConfig.replicate(conv_dim=8, image_size=32)).state_dict()
    assert "encoder.0.conv.bias" in state and "encoder.0.norm.weight" not in state
    assert "color_head.bias" not in state and "attention_head.bias" not in state


def test_cyclegan_preset_layers() -> None:
    config = GeneratorConfig.cyclegan(image_size=32, conv_dim=8)
    generator = Generator(config)
    down = generator.encoder[1].conv
    up = generator.decoder[0].conv
    assert isinstance(down, nn.Conv2d) and down.kernel_size == (3, 3) and down.stride == (2, 2)
    assert isinstance(up, nn.ConvTranspose2d) and up.kernel_size == (3, 3) and up.output_padding == (1, 1)
    assert generator.encoder[0].conv.padding_mode == "reflect"
    assert isinstance(generator.bottleneck[0].second.act, nn.ReLU)
    assert GeneratorConfig.cyclegan(image_size=128).num_residual_blocks == 6
    assert GeneratorConfig.cyclegan(image_size=256).num_residual_blocks == 9
    assert GeneratorConfig.cyclegan(image_size=512, num_residual_blocks=4).num_residual_blocks == 4
    official = Generator(GeneratorConfig.official(image_size=32, conv_dim=8))
    assert isinstance(official.bottleneck[0].second.act, nn.Identity)


def test_official_weight_init() -> None:
    torch.manual_seed(1)
    generator = Generator(GeneratorConfig.official(image_size=32, conv_dim=16))
    convs = [m for m in generator.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.detach().flatten() for m in convs])
    assert abs(float(weights.std()) - 0.02) < 0.002 and abs(float(weights.mean())) < 0.002
    critic = Critic(CriticConfig.official(image_size=32, conv_dim=8, depth=4))
    biases = [m.bias for m in critic.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert biases and all(float(b.detach().abs().max()) == 0.0 for b in biases)
    norms = [m for m in generator.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert all(bool((m.weight == 1).all()) for m in norms), "official init leaves InstanceNorm at scale 1"
    pytorch = Generator(GeneratorConfig.official(image_size=32, conv_dim=16, weight_init="pytorch"))
    first = pytorch.encoder[0].conv.weight.detach()
    assert float(first.std()) < 0.02, "PyTorch's kaiming-uniform default is narrower at this fan-in"


@pytest.mark.parametrize(
    ("kind", "kernel", "size_in", "size_out"),
    [("ck", 7, 16, 16), ("ck", 3, 16, 16), ("dk", 4, 16, 8), ("dk", 3, 16, 8), ("uk", 4, 8, 16), ("uk", 3, 8, 16)],
)
def test_xk_resolution(kind: str, kernel: int, size_in: int, size_out: int) -> None:
    unit = XK(kind, 4, 6, kernel_size=kernel)  # type: ignore[arg-type]
    out = unit(torch.rand(2, 4, size_in, size_in))
    assert out.shape == (2, 6, size_out, size_out)
    assert out.min() >= 0, "ReLU output"


def test_xk_options_reach_the_layers() -> None:
    unit = XK("ck", 4, 6, padding_mode="reflect", norm_affine=False, bias=True, activation=False)
    assert unit.conv.padding_mode == "reflect" and unit.conv.bias is not None
    assert unit.norm.weight is None and isinstance(unit.act, nn.Identity)
    assert (unit(torch.randn(1, 4, 8, 8)) < 0).any(), "no ReLU when activation=False"


def test_residual_colour_paints_a_bounded_change_of_the_input() -> None:
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(color_residual=0.5))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    out = generator(images, torch.rand(2, 17))
    # C = clamp(x + 0.5·tanh(h)): within 0.5 of the input and inside the image range.
    assert (out.color - images).abs().max() <= 0.5 + 1e-6
    assert out.color.min() >= -1 and out.color.max() <= 1
    torch.testing.assert_close(out.image, out.attention * images + (1 - out.attention) * out.color)
    # A silent colour head gives back the input whatever the attention: the face stays clean.
    nn.init.zeros_(generator.color_head.weight)
    torch.testing.assert_close(generator(images, torch.rand(2, 17)).image, images)
    # The option adds no parameter, so official-layout state dicts still load.
    plain = Generator(tiny_generator_config())
    assert generator.state_dict().keys() == plain.state_dict().keys()


def test_critic_input_downsample_judges_shapes_not_pixel_patterns() -> None:
    torch.manual_seed(0)
    critic = Critic(tiny_critic_config(depth=3, input_downsample=2))
    plain = Critic(tiny_critic_config(depth=3))  # same layers: the low-pass adds no parameter or key
    assert critic.config.final_size == 2 and critic.state_dict().keys() == plain.state_dict().keys()
    faces = torch.rand(2, 3, 32, 32) * 2 - 1
    out = critic(faces)
    assert out.score.shape == (2, 1, 2, 2) and out.aus.shape == (2, 17)
    # A one-pixel checkerboard is what the binomial low-pass removes (its response at that frequency is 0):
    # the critic barely reacts to it, while a smooth change of the same amplitude moves it fully.
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 0.4 - 0.2
    smooth = torch.linspace(-0.2, 0.2, 32)[None, :].expand(32, 32)

    def moved(pattern: torch.Tensor) -> float:
        with torch.no_grad():
            return float((critic(faces + pattern).aus - critic(faces).aus).abs().max())

    assert moved(checker) < 0.1 * moved(smooth)
    # Every parameter still learns through the low-pass.
    judged = critic(faces)
    (judged.aus.sum() + judged.score.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.parameters())


def test_three_downsamplings_give_an_eighth_resolution_bottleneck() -> None:
    config = tiny_generator_config(num_downsamplings=3, num_residual_blocks=1)
    generator = Generator(config)
    seen: list[tuple[int, ...]] = []
    generator.bottleneck.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape)))
    out = generator(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17))
    assert out.image.shape == (2, 3, 32, 32) and seen == [(2, 8 * 8, 4, 4)]  # conv_dim 8 doubled 3 times, 32/8
    with pytest.raises(ValueError, match="multiples of 8"):
        generator(torch.zeros(1, 3, 36, 36), torch.zeros(1, 17))


def test_au_modulation_starts_official_and_reaches_the_face_centre() -> None:
    torch.manual_seed(0)
    plain = Generator(tiny_generator_config(image_size=64))
    modulated = Generator(tiny_generator_config(image_size=64, au_modulation=True))
    modulated.load_state_dict(plain.state_dict(), strict=False)  # the FiLM layers stay zero
    assert {k for k in modulated.state_dict() if k not in plain.state_dict()} == {
        f"modulation.{i}.{w}"
        for i in range(4)
        for w in ("weight", "bias")  # 2 residual blocks + 2 upsamplings
    }
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    neutral, smile = torch.zeros(2, 17), torch.ones(2, 17)
    with torch.no_grad():
        torch.testing.assert_close(modulated(images, smile).image, plain(images, smile).image)
        for layer in modulated.modulation or []:
            layer.weight.normal_(0, 0.5)

        def centre_change(model: Generator) -> float:
            change = (model(images, smile).color - model(images, neutral).color).abs()
            return float(change[..., 24:40, 24:40].mean())

        # Without modulation the AUs reach the centre only from the zero-padded borders.
        assert centre_change(modulated) > 2 * centre_change(plain)


def test_residual_adds_its_input() -> None:
    block = Residual(4)
    for p in block.second.parameters():
        nn.init.zeros_(p)  # f(x) = 0 when the last norm's affine is zero
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: XK("zk", 3, 8), "kind='zk'"),  # type: ignore[arg-type]
        (lambda: XK("ck", 3, 8, kernel_size=4), "must be odd"),
        (lambda: XK("ck", 0, 8), "in_channels=0"),
        (lambda: Residual(8, padding_mode="mirror"), "padding_mode='mirror'"),  # type: ignore[arg-type]
        (lambda: GeneratorConfig(image_size=30), "image_size=30"),
        (lambda: GeneratorConfig(num_residual_blocks=-1), "num_residual_blocks=-1"),
        (lambda: GeneratorConfig(padding_mode="mirror"), "padding_mode='mirror'"),  # type: ignore[arg-type]
        (lambda: GeneratorConfig(attention_bias=float("inf")), "attention_bias=inf"),
        (lambda: GeneratorConfig(color_residual=0.0), "color_residual=0.0"),
        (lambda: CriticConfig(input_downsample=3), "input_downsample=3"),
        (lambda: GeneratorConfig(num_downsamplings=0), "num_downsamplings=0"),
        (lambda: GeneratorConfig(image_size=36, num_downsamplings=3), "image_size=36 is not divisible by 2\\*\\*num"),
        (lambda: CriticConfig(image_size=32, depth=5, input_downsample=2), "divided by input_downsample=2"),
        (lambda: GeneratorConfig(color_residual=float("nan")), "color_residual=nan"),
        (lambda: GeneratorConfig.from_preset("stargan"), "unknown generator preset 'stargan'"),
        (lambda: CriticConfig(image_size=96, depth=6), "image_size=96 is not divisible by 2\\*\\*depth=64"),
        (lambda: CriticConfig(leaky_slope=-1.0), "leaky_slope=-1.0"),
        (lambda: CriticConfig.from_preset("patch"), "unknown critic preset 'patch'"),
        (lambda: GeneratorConfig.from_dict({"conv_dim": 8, "attention_temperature": 2.0}), "attention_temperature"),
    ],
)
def test_bad_construction_raises_a_clear_error(factory: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()  # type: ignore[operator]


@pytest.fixture(scope="module")
def tiny_generator() -> Generator:
    return Generator(tiny_generator_config())


@pytest.mark.parametrize(
    ("images", "aus", "match"),
    [
        (torch.zeros(3, 32, 32), torch.zeros(1, 17), r"shape \(B, 3, H, W\).*unsqueeze"),
        (torch.zeros(1, 1, 32, 32), torch.zeros(1, 17), "3 \\(RGB\\) channels, got 1"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 17), "floating point"),
        (torch.zeros(1, 3, 30, 32), torch.zeros(1, 17), "30x32.*multiples of 4"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(17), r"shape \(B, num_aus\)"),
        (torch.zeros(1, 3, 32, 32), torch.zeros(1, 12), "12 values per image.*17"),
        (torch.zeros(2, 3, 32, 32), torch.zeros(3, 17), "2 images but 3 AU vectors"),
        (torch.zeros(1, 3, 32, 32), torch.tensor([[math.nan] + [0.0] * 16]), "NaN"),
    ],
)
def test_generator_bad_inputs(tiny_generator: Generator, images: torch.Tensor, aus: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_generator(images, aus)


def test_generator_rejects_non_tensors(tiny_generator: Generator) -> None:
    with pytest.raises(TypeError, match=r"torch\.Tensors"):
        tiny_generator([[0.0]], torch.zeros(1, 17))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(3, 32, 32), "unsqueeze"),
        (torch.zeros(1, 4, 32, 32), "got 4"),
        (torch.zeros(1, 3, 64, 64), "judges 32x32 images.*got 64x64"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.int64), "floating point"),
    ],
)
def test_critic_bad_inputs(images: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Critic(tiny_critic_config())(images)


def test_config_dict_round_trip_and_frozen() -> None:
    config = GeneratorConfig.cyclegan(image_size=64, conv_dim=16)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert config.replace(conv_dim=8).conv_dim == 8
    with pytest.raises(AttributeError):
        config.conv_dim = 4  # type: ignore[misc]
    critic = CriticConfig(image_size=64, depth=5)
    assert CriticConfig.from_dict(critic.to_dict()) == critic and critic.final_size == 2


def test_networks_follow_input_dtype_float64() -> None:
    generator = Generator(tiny_generator_config()).double()
    out = generator(torch.zeros(1, 3, 32, 32, dtype=torch.float64), torch.zeros(1, 17, dtype=torch.float64))
    assert out.image.dtype == torch.float64


@pytest.mark.parametrize("preset", GENERATOR_PRESETS)
def test_fast_convolutions_equal_the_plain_ones(preset: str) -> None:
    # The generator computes its first convolution without tiling the AUs and its two heads as one
    # convolution; both must equal the official formulation, for every padding mode the presets use.
    torch.manual_seed(0)
    generator = Generator(tiny_generator_config(preset, attention_bias=1.0, image_size=16))
    images, aus = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 17)
    tiled = torch.cat([images, aus[:, :, None, None].expand(2, 17, 16, 16)], dim=1)
    features = generator.decoder(generator.bottleneck(generator.encoder(tiled)))
    attention = torch.sigmoid(generator.attention_head(features))
    expected = attention * images + (1 - attention) * torch.tanh(generator.color_head(features))
    torch.testing.assert_close(generator(images, aus).image, expected, atol=1e-5, rtol=1e-5)


def test_fast_convolutions_refuse_a_convolution_they_are_not_exact_for() -> None:
    from ganimation_lib.models.fast_convs import conv_image_and_tiled_aus

    strided = nn.Conv2d(3 + 17, 8, 7, stride=2, padding=3)
    with pytest.raises(ValueError, match=r"stride \(2, 2\)"):
        conv_image_and_tiled_aus(torch.zeros(1, 3, 16, 16), torch.zeros(1, 17), strided)
