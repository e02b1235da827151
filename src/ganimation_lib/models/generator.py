"""The GANimation generator: a face and target AUs in, a colour image and an attention mask out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config_mixin import ConfigMixin, check_bool, check_choice, check_int_range, is_finite_number, short_repr
from .blocks import XK, Residual, init_official_
from .config import (
    MAX_CONV_DIM,
    MAX_IMAGE_SIZE,
    MAX_KERNEL_SIZE,
    MAX_NUM_AUS,
    MAX_RESIDUAL_BLOCKS,
    PADDING_MODES,
    WEIGHT_INITS,
    PaddingMode,
    WeightInit,
)
from .draw_resolution import DRAW_UPSAMPLES, DrawUpsample, head_values_per_pixel, maps_at_face_size
from .fast_convs import conv_image_and_tiled_aus, fused_heads
from .inputs import check_au_batch, check_generator_size, check_image_batch
from .pretrained import PretrainedMixin
from .registration import FaceRegistration
from .warp import FlowHead, warp_images

__all__ = ["GENERATOR_PRESETS", "Generator", "GeneratorConfig", "GeneratorOutput", "WeightInit"]

GENERATOR_PRESETS: tuple[str, ...] = ("official", "replicate", "cyclegan")
ColorBase = Literal["input", "warp"]
COLOR_BASES: tuple[str, ...] = ("input", "warp")


@dataclass(frozen=True)
class GeneratorConfig(ConfigMixin):
    """Every choice that defines a GANimation generator.

    The defaults are the ``official`` preset (albertpumarola/GANimation at 128 px). Use the presets
    [`official`][ganimation_lib.models.generator.GeneratorConfig.official],
    [`replicate`][ganimation_lib.models.generator.GeneratorConfig.replicate] and
    [`cyclegan`][ganimation_lib.models.generator.GeneratorConfig.cyclegan] (or
    [`from_preset`][ganimation_lib.models.generator.GeneratorConfig.from_preset]) rather than spelling out variants by
    hand. Every field is bounded to what can be built (``image_size`` <= 2048, ``conv_dim`` <= 1024,
    ``num_residual_blocks`` <= 64, ``num_aus`` <= 128, kernels <= 7; see
    [`ganimation_lib.models.config`][ganimation_lib.models.config]); anything else is a ``ValueError`` naming the
    field.

    Attributes:
        image_size: Side of the square training images, 8 to 2048. The generator is fully convolutional and
            takes any H×W divisible by 4; this is the size it was built and trained for.
        num_aus: Length of the AU vector (17 for OpenFace's default GANimation set).
        conv_dim: Filters of the first ``c7s1`` unit; doubled by each of the two downsamplings.
        num_residual_blocks: Residual blocks at the bottleneck resolution (0 allowed: no bottleneck).
        num_downsamplings: Stride-2 convolutions before the bottleneck (2 official: 1/4 resolution), each
            doubling the channels, mirrored by as many transposed convolutions (other values change the
            state-dict layout). The fast recipe draws a 64 px face at half size instead (``draw_downsample``).
        padding_mode: Padding of the 7×7 and residual convolutions (``"zeros"`` official,
            ``"reflect"`` CycleGAN). Strided convolutions always pad with zeros, as in both codebases.
        norm_affine: InstanceNorm with learned scale/shift (official) or without (replicate).
        conv_bias: Bias on the trunk convolutions (official: no; replicate: yes). The heads never have one.
        down_kernel_size: Kernel of the two stride-2 downsampling convolutions (4 official, 3 CycleGAN).
        up_kernel_size: Kernel of the two stride-2 transposed convolutions (4 official, 3 CycleGAN).
        residual_relu: ReLU after the second norm inside each residual block (CycleGAN-style variant).
        weight_init: ``"official"`` (conv weights N(0, 0.02), biases 0) or ``"pytorch"`` (PyTorch defaults).
        attention_bias: ``None`` (official): the attention head has no bias. A number gives it a bias
            initialised to that value, so the generator starts close to the identity (``A = sigmoid(bias)``,
            e.g. 3.0 → A ≈ 0.95; the fast recipes). It adds one parameter and one state-dict key.
        au_modulation: ``False`` (official): the AUs enter only as constant input channels, and the first
            InstanceNorm removes a constant, so they reach the face's centre only through the zero padding
            at the borders, the weaker the larger the image. ``True`` also modulates the features after
            every residual block and every upsampling, ``h·(1 + γ(aus)) + β(aus)`` (FiLM, zero-initialised,
            so training starts from the official behaviour): the target expression is known everywhere.
            Adds a linear layer per modulated stage (``modulation.*`` state-dict keys).
        color_residual: ``None`` (official): the colour head paints an absolute image, ``C = tanh(h)``. A
            number ``s`` makes it paint a bounded change of the input, ``C = clamp(x + s·tanh(h), −1, 1)``:
            where the attention opens by mistake the output stays near the input instead of taking an
            untrained colour (``docs/training.md``). It adds no parameter.
        color_residual_around: What ``color_residual``'s change is painted around: ``"input"`` (the unmoved
            input) or ``"warp"`` (needs ``warp_range``: the warped input, ``C = clamp(warp(x) + s·tanh(h))``, with
            the colour head zero-initialised, so ``C`` starts as the warped face and opening the attention costs
            nothing until a change worth painting is learnt; the fast recipe from 64 px up).
        color_residual_grey: ``True``: the change is the mean of the head's three channels, the same on each,
            so it can darken (an open mouth) or lighten (teeth) but never change a hue (no red, purple or yellow
            marks); the fast recipe from 64 px up.
        warp_range: ``None`` (official): the input enters the output unmoved. A number ``r`` in (0, 1] adds a
            flow head after the first upsampling that moves the input's pixels by up to ``r`` (normalised coordinates,
            1 = half the image) before the blend, ``A·warp(input) + (1−A)·C``
            ([`ganimation_lib.models.warp`][ganimation_lib.models.warp]): brows, lids and mouth corners move with their
            own colours instead of being repainted. Zero-initialised, so training starts from the official
            behaviour; the fast recipe uses 0.15 from 64 px up. Adds ``flow_head.*`` state-dict keys.
        warp_threshold: With ``warp_range``, when drawing (eval mode) every warp vector is this many pixels
            shorter and shorter ones vanish ([`shorten_flow`][ganimation_lib.models.warp.shorten_flow]): the
            moves of a fraction of a pixel that training against a critic leaves all over the face only soften
            it. Training is unchanged. 0 (default): off; the fast recipe: 0.1 at 64 px.
        draw_downsample: 1 (official): the networks see the face at ``image_size``. 2 or 4: they see it reduced
            by that factor (anti-aliased), and their maps are brought back to ``image_size`` and composed with
            the full-resolution input, which stays sharp where it is kept: four times fewer operations at 2.
            The fast recipe uses 2 from 64 px up (2.5× more iterations in ten CPU minutes). Adds no parameter.
        draw_upsample: How the reduced drawing's maps come back to ``image_size`` (``"bilinear"`` interpolates
            them; ``"shuffle"`` draws ``draw_downsample²`` values per reduced pixel, one per face pixel, with wider
            head convolutions: [`draw_resolution`][ganimation_lib.models.draw_resolution]). No effect at 1.
        face_registration: True: for faces framed differently one from another, it holds a template of its
            training faces ([`FaceRegistration`][ganimation_lib.models.registration.FaceRegistration]; the Trainer
            builds it) and [`drawing_model`][ganimation_lib.models.registered.drawing_model] draws on faces
            registered to it. Adds no parameter.
    """

    image_size: int = 128
    num_aus: int = 17
    conv_dim: int = 64
    num_residual_blocks: int = 6
    num_downsamplings: int = 2
    au_modulation: bool = False
    padding_mode: PaddingMode = "zeros"
    norm_affine: bool = True
    conv_bias: bool = False
    down_kernel_size: int = 4
    up_kernel_size: int = 4
    residual_relu: bool = False
    weight_init: WeightInit = "official"
    attention_bias: float | None = None
    color_residual: float | None = None
    color_residual_around: ColorBase = "input"
    color_residual_grey: bool = False
    warp_range: float | None = None
    warp_threshold: float = 0.0
    draw_downsample: int = 1
    draw_upsample: DrawUpsample = "bilinear"
    face_registration: bool = False

    def __post_init__(self) -> None:
        owner = "GeneratorConfig"
        # Bounded to what can be built (see models/config.py): a config.json is data from anywhere.
        check_int_range(owner, "image_size", self.image_size, 1, MAX_IMAGE_SIZE)
        check_int_range(owner, "num_aus", self.num_aus, 1, MAX_NUM_AUS)
        check_int_range(owner, "conv_dim", self.conv_dim, 1, MAX_CONV_DIM)
        check_int_range(owner, "down_kernel_size", self.down_kernel_size, 1, MAX_KERNEL_SIZE)
        check_int_range(owner, "up_kernel_size", self.up_kernel_size, 1, MAX_KERNEL_SIZE)
        check_int_range(owner, "num_residual_blocks", self.num_residual_blocks, 0, MAX_RESIDUAL_BLOCKS)
        flags = ("au_modulation", "norm_affine", "conv_bias", "residual_relu", "color_residual_grey")
        for flag in (*flags, "face_registration"):
            check_bool(owner, flag, getattr(self, flag))
        if self.image_size % 4 != 0 or self.image_size < 8:
            raise ValueError(
                f"{owner}.image_size={self.image_size} must be a multiple of 4 and at least 8 "
                "(the generator downsamples twice by 2); try 32, 64 or 128"
            )
        downs = self.num_downsamplings
        if not isinstance(downs, int) or isinstance(downs, bool) or not 1 <= downs <= 4:
            raise ValueError(
                f"{owner}.num_downsamplings={short_repr(downs)} must be an integer from 1 to 4 (official: 2)"
            )
        if self.image_size % (2**downs) != 0:
            raise ValueError(
                f"{owner}.image_size={self.image_size} is not divisible by 2**num_downsamplings={2**downs}; "
                "use fewer downsamplings or an image size that is a multiple of it"
            )
        check_choice(owner, "padding_mode", self.padding_mode, PADDING_MODES)
        check_choice(owner, "weight_init", self.weight_init, WEIGHT_INITS)
        bias = self.attention_bias
        if bias is not None and not is_finite_number(bias):
            raise ValueError(f"{owner}.attention_bias={short_repr(bias)} must be None or a finite number (e.g. 3.0)")
        scale = self.color_residual
        if scale is not None and (not is_finite_number(scale) or not 0 < scale <= 2):
            raise ValueError(
                f"{owner}.color_residual={short_repr(scale)} must be None or a number in (0, 2] (e.g. 1.0)"
            )
        warp, threshold = self.warp_range, self.warp_threshold
        if warp is not None and (not is_finite_number(warp) or not 0 < warp <= 1):
            raise ValueError(f"{owner}.warp_range={short_repr(warp)} must be None or a number in (0, 1] (e.g. 0.15)")
        if not is_finite_number(threshold) or not 0 <= threshold <= 8 or (threshold and warp is None):
            raise ValueError(f"{owner}.warp_threshold={short_repr(threshold)} must be 0 or up to 8 px, with warp_range")
        check_choice(owner, "color_residual_around", self.color_residual_around, COLOR_BASES)
        check_choice(owner, "draw_upsample", self.draw_upsample, DRAW_UPSAMPLES)
        around_warp = self.color_residual_around == "warp"
        if (around_warp or self.color_residual_grey) and (scale is None or (around_warp and warp is None)):
            raise ValueError(
                f"{owner}: color_residual_around={self.color_residual_around!r} and color_residual_grey="
                f"{self.color_residual_grey} shape color_residual's change: set color_residual (e.g. 0.5)"
                + (" and warp_range (e.g. 0.15)" if around_warp else "")
            )
        if self.draw_downsample not in (1, 2, 4) or isinstance(self.draw_downsample, bool):
            raise ValueError(
                f"{owner}.draw_downsample={short_repr(self.draw_downsample)} must be 1, 2 or 4 (the fast recipe: 2)"
            )
        drawn = self.image_size // self.draw_downsample
        if self.image_size % self.draw_downsample or drawn % (2**downs) or drawn < 8:
            raise ValueError(
                f"{owner}.image_size={self.image_size} drawn at 1/{self.draw_downsample} gives "
                f"{self.image_size / self.draw_downsample:g} px, which must be at least 8 and a multiple of "
                f"2**num_downsamplings={2**downs}; use a smaller draw_downsample or another image size"
            )

    @classmethod
    def official(cls, **overrides: Any) -> GeneratorConfig:
        """albertpumarola/GANimation: zero padding, affine InstanceNorm, no conv bias, 4×4 strided convs.

        Examples:
            >>> GeneratorConfig.official(image_size=32, conv_dim=8).num_residual_blocks
            6
        """
        return cls(**overrides)

    @classmethod
    def replicate(cls, **overrides: Any) -> GeneratorConfig:
        """donydchen/ganimation_replicate: like official, but InstanceNorm without affine and conv bias on."""
        return cls(**{"norm_affine": False, "conv_bias": True, **overrides})

    @classmethod
    def cyclegan(cls, **overrides: Any) -> GeneratorConfig:
        """CycleGAN-style: reflect padding, 3×3 strided and transposed convs, ReLU after the second
        residual norm; 6 residual blocks below 256 px, 9 from 256 px up (unless given).

        Examples:
            >>> GeneratorConfig.cyclegan(image_size=256).num_residual_blocks
            9
        """
        size = overrides.get("image_size", cls.image_size)
        defaults: dict[str, Any] = {
            "padding_mode": "reflect",
            "down_kernel_size": 3,
            "up_kernel_size": 3,
            "residual_relu": True,
            "num_residual_blocks": 9 if isinstance(size, int) and size >= 256 else 6,
        }
        return cls(**{**defaults, **overrides})

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GeneratorConfig:
        """Build a named preset (``"official"``, ``"replicate"`` or ``"cyclegan"``) with ``overrides``."""
        if name not in GENERATOR_PRESETS:
            raise ValueError(f"unknown generator preset {name!r}; choose one of {list(GENERATOR_PRESETS)}")
        factory = {"official": cls.official, "replicate": cls.replicate, "cyclegan": cls.cyclegan}[name]
        return factory(**overrides)


@dataclass
class GeneratorOutput:
    """What [`Generator`][ganimation_lib.models.generator.Generator] returns.

    Attributes:
        image: The composed face, ``attention * input + (1 - attention) * color``, (B, 3, H, W) in [-1, 1].
        color: The colour regression ``C``, (B, 3, H, W) in [-1, 1] (tanh; around the input with
            ``GeneratorConfig.color_residual``).
        attention: The attention mask ``A``, (B, 1, H, W) in [0, 1] (sigmoid); 1 keeps the input pixel.
        flow: With ``GeneratorConfig.warp_range``, the warp field (B, 2, H, W) in normalised coordinates
            (x, y; see [`warp_images`][ganimation_lib.models.warp.warp_images]), and ``image`` is
            ``attention * warp(input, flow) + (1 - attention) * color``; ``None`` otherwise.
        color_change: With ``GeneratorConfig.color_residual_around="warp"``, the change painted around the
            warped input, ``color = clamp(warp(input, flow) + color_change, −1, 1)``: what the colour-smoothness
            term smooths (not the face's own edges) and what ``edit`` adds to a photo's warped pixels, else ``None``.
    """

    image: Tensor
    color: Tensor
    attention: Tensor
    flow: Tensor | None = None
    color_change: Tensor | None = None


class Generator(nn.Module, PretrainedMixin):
    """The GANimation generator.

    AUs are tiled over H×W and concatenated to the image channels, then
    ``c7s1-k → d2k → d4k → R4k × N → u2k → uk`` produces features from which a colour head
    (7×7 conv → tanh, 3 channels) and an attention head (7×7 conv → sigmoid, 1 channel) are computed.
    The output image is ``A·input + (1−A)·C`` (``A·warp(input) + (1−A)·C`` with
    ``GeneratorConfig.warp_range``, where a flow head after the first upsampling moves the input's pixels).

    Args:
        config: The architecture; ``None`` means ``GeneratorConfig()`` (the official preset at 128 px).

    Examples:
        >>> import torch
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1))
        >>> out = g(torch.zeros(2, 3, 32, 32), torch.rand(2, 17))
        >>> out.image.shape, out.attention.shape
        (torch.Size([2, 3, 32, 32]), torch.Size([2, 1, 32, 32]))
    """

    config_class: ClassVar[type[GeneratorConfig]] = GeneratorConfig

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = GeneratorConfig() if config is None else config
        if not isinstance(config, GeneratorConfig):
            raise TypeError(f"config must be a GeneratorConfig, got {type(config).__name__}")
        d = config.conv_dim
        trunk: dict[str, Any] = {"norm_affine": config.norm_affine, "bias": config.conv_bias}
        n = config.num_downsamplings
        self.encoder = nn.Sequential(
            XK("ck", 3 + config.num_aus, d, kernel_size=7, padding_mode=config.padding_mode, **trunk),
            *(XK("dk", d << i, d << (i + 1), kernel_size=config.down_kernel_size, **trunk) for i in range(n)),
        )
        residual_options: dict[str, Any] = {"padding_mode": config.padding_mode, **trunk}
        self.bottleneck = nn.Sequential(
            *(
                Residual(d << n, relu_after_second_norm=config.residual_relu, **residual_options)
                for _ in range(config.num_residual_blocks)
            )
        )
        self.decoder = nn.Sequential(
            *(XK("uk", d << i, d << (i - 1), kernel_size=config.up_kernel_size, **trunk) for i in range(n, 0, -1)),
        )
        stages = [d << n] * config.num_residual_blocks + [d << (i - 1) for i in range(n, 0, -1)]
        films = [nn.Linear(config.num_aus, 2 * c) for c in stages] if config.au_modulation else []
        self.modulation = nn.ModuleList(films) if films else None
        head: dict[str, Any] = {"kernel_size": 7, "padding": 3, "padding_mode": config.padding_mode, "bias": False}
        per_pixel = head_values_per_pixel(config.draw_downsample, config.draw_upsample)
        self.color_head = nn.Conv2d(d, 3 * per_pixel, **head)
        self.attention_head = nn.Conv2d(d, per_pixel, **{**head, "bias": config.attention_bias is not None})
        if config.weight_init == "official":
            init_official_(self)
        if self.modulation is not None:  # start as the unmodulated network
            for parameter in self.modulation.parameters():
                nn.init.zeros_(parameter)
        if config.attention_bias is not None and self.attention_head.bias is not None:
            nn.init.constant_(self.attention_head.bias, float(config.attention_bias))
        if config.color_residual_around == "warp":  # the colour starts as the warped input itself
            nn.init.zeros_(self.color_head.weight)
        # Built last and zero-initialised: without a warp the other weights draw the same random numbers.
        warp, threshold = config.warp_range, config.warp_threshold
        self.flow_head = None if warp is None else FlowHead(d << (n - 1), warp, threshold_pixels=threshold)
        self.registration = FaceRegistration(config.image_size) if config.face_registration else None

    @property
    def num_aus(self) -> int:
        """Length of the AU vector this generator is conditioned on."""
        return self.config.num_aus

    def export_onnx(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write this generator as an ONNX file: [`export_onnx`][ganimation_lib.models.onnx_export.export_onnx]
        with its options (``opset``, ``dynamic_batch``, ``dynamic_size``, ...); needs the ``onnx`` extra."""
        from .onnx_export import export_onnx

        return export_onnx(self, path, **options)

    def check_inputs(self, images: Tensor, aus: Tensor) -> None:
        """Raise a ``ValueError`` naming the problem if ``images``/``aus`` cannot be fed to this generator."""
        if not isinstance(images, Tensor) or not isinstance(aus, Tensor):
            raise TypeError(
                f"images and aus must be torch.Tensors, got {type(images).__name__} and {type(aus).__name__}"
            )
        check_image_batch(images)
        check_generator_size(images, self.config.image_size, self.config.num_downsamplings, self.config.draw_downsample)
        # Reading a CUDA tensor's values waits for the GPU; in training mode on an accelerator the Trainer's
        # non-finite-loss guard catches NaN/inf AUs instead, so the values are not checked there.
        on_accelerator = self.training and aus.device.type != "cpu"
        check_au_batch(aus, self.config.num_aus, images.shape[0], values=not on_accelerator)

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        """Animate ``images`` (B, 3, H, W) in [-1, 1] towards ``aus`` (B, num_aus)."""
        self.check_inputs(images, aus)
        full = images
        scale = self.config.draw_downsample
        if scale > 1:  # the networks draw on the reduced face; their maps are composed at full resolution below
            images = F.interpolate(full, scale_factor=1 / scale, mode="bilinear", antialias=True, align_corners=False)
        # The AUs enter as constant channels tiled over the image (official); computed without tiling them.
        first: XK = self.encoder[0]  # type: ignore[assignment]
        conv: nn.Conv2d = first.conv  # type: ignore[assignment]  # a "ck" unit's convolution is never transposed
        features = first.act(first.norm(conv_image_and_tiled_aus(images, aus.to(images.dtype), conv)))
        features = self.encoder[1:](features)
        # The flow reads the features after the first upsampling (half resolution at 2 downsamplings): fine
        # enough to move a brow by a pixel, coarse enough to be smooth; measured against the bottleneck's.
        if self.modulation is None:
            flow_features = self.decoder[0](self.bottleneck(features))
            features = self.decoder[1:](flow_features)
        else:
            flow_features = features
            for depth, (stage, film) in enumerate(zip([*self.bottleneck, *self.decoder], self.modulation, strict=True)):
                gamma, beta = film(aus.to(features.dtype)).chunk(2, dim=1)
                features = stage(features) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
                if depth == len(self.bottleneck):
                    flow_features = features
        color_logits, attention_logits = fused_heads(features, self.color_head, self.attention_head)
        color, attention = torch.tanh(color_logits), torch.sigmoid(attention_logits)
        residual, grey = self.config.color_residual, self.config.color_residual_grey
        size = (full.shape[-2], full.shape[-1])
        color, attention = maps_at_face_size(color, attention, size, scale, self.config.draw_upsample, grey=grey)
        if grey:
            color = color.expand(-1, 3, -1, -1)
        if residual is not None and self.config.color_residual_around == "input":
            color = (full + residual * color).clamp(-1, 1)
        if self.flow_head is None:
            return GeneratorOutput(image=attention * full + (1 - attention) * color, color=color, attention=attention)
        flow = self.flow_head(flow_features, size=size)
        warped = warp_images(full, flow)
        change = None
        if residual is not None and self.config.color_residual_around == "warp":
            change = residual * color
            color = (warped + change).clamp(-1, 1)
        image = attention * warped + (1 - attention) * color
        return GeneratorOutput(image=image, color=color, attention=attention, flow=flow, color_change=change)
