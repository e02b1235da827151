"""Foreign state-dict layouts and what their shapes say: clean, recognise, rename and size GANimation weights.

Three layouts are known:

* ``"official"``: albertpumarola/GANimation (``main.N...``, ``img_reg``, ``attetion_reg`` [sic];
  ``main.N``, ``conv1``, ``conv2`` for the discriminator);
* ``"replicate"``: donydchen/ganimation_replicate (``model.N...``, ``color_top``, ``au_top``;
  ``model.N``, ``dis_top``, ``aus_top``);
* ``"ganimation_lib"``: this library's own keys.

[`clean_state_dict`][ganimation_lib.models.layouts.clean_state_dict] strips wrapper prefixes and legacy statistics,
[`detect_layout`][ganimation_lib.models.layouts.detect_layout] tells the network and layout from the keys,
[`key_map`][ganimation_lib.models.layouts.key_map] renames, and
[`infer_config`][ganimation_lib.models.layouts.infer_config] reads every size from the tensor shapes.
[`convert`][ganimation_lib.models.convert] puts them together.

Examples:
    >>> from ganimation_lib import Critic, CriticConfig
    >>> config = CriticConfig(image_size=32, conv_dim=4, depth=4)
    >>> names = key_map(config, "official")
    >>> official = {names[k]: v for k, v in Critic(config).state_dict().items()}
    >>> detect_layout(official)
    ('critic', 'official')
    >>> infer_config(official, "critic", "official")[0] == config
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from torch import Tensor

from .critic import CriticConfig
from .generator import GeneratorConfig
from .kinds import AnyConfig, Kind, build_on_meta
from .safe_load import CheckpointError
from .unwrap import WRAPPER_PREFIXES

__all__ = [
    "DEFAULT_GENERATOR_IMAGE_SIZE",
    "FOREIGN_LAYOUTS",
    "LAYOUTS",
    "Layout",
    "clean_state_dict",
    "detect_layout",
    "infer_config",
    "key_map",
]

#: Whose key names a state dict uses.
Layout = Literal["official", "replicate", "ganimation_lib"]
LAYOUTS: tuple[str, ...] = get_args(Layout)


#: A generator's weights do not record the image size it was trained at (it is fully convolutional).
DEFAULT_GENERATOR_IMAGE_SIZE = 128

_LEGACY_NORM_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
#: Names in the two foreign layouts: trunk prefix, residual-block container, generator heads, critic heads, and
#: the codebase that writes them (``"source"``).
FOREIGN_LAYOUTS: dict[str, dict[str, str]] = {
    "official": {
        "trunk": "main.",
        "block": "main",
        "color": "img_reg.0",
        "attention": "attetion_reg.0",  # sic: the official code misspells it
        "score": "conv1",
        "aus": "conv2",
        "source": "albertpumarola/GANimation",
    },
    "replicate": {
        "trunk": "model.",
        "block": "conv_block",
        "color": "color_top.0",
        "attention": "au_top.0",
        "score": "dis_top",
        "aus": "aus_top",
        "source": "donydchen/ganimation_replicate",
    },
}


# ------------------------------------------------------------------------------------------- cleaning


def clean_state_dict(state_dict: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], tuple[str, ...]]:
    """Strip ``module.``/``_orig_mod.`` prefixes and drop legacy InstanceNorm running statistics.

    Returns:
        The cleaned state dict and notes saying what was changed.

    Examples:
        >>> import torch
        >>> legacy = {"module.main.0.weight": torch.ones(1), "module.main.1.running_mean": torch.ones(1)}
        >>> sd, notes = clean_state_dict(legacy)
        >>> list(sd), len(notes)
        (['main.0.weight'], 2)
    """
    stripped: set[str] = set()
    dropped = 0
    cleaned: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = key
        while name.startswith(WRAPPER_PREFIXES):
            prefix = next(p for p in WRAPPER_PREFIXES if name.startswith(p))
            stripped.add(prefix)
            name = name[len(prefix) :]
        if name.endswith(_LEGACY_NORM_SUFFIXES):
            # Neither network has BatchNorm; these are InstanceNorm statistics PyTorch < 0.4 saved but
            # InstanceNorm (track_running_stats=False) never reads.
            dropped += 1
            continue
        if name in cleaned:
            raise CheckpointError(f"key {name!r} appears twice once prefixes are stripped (e.g. as {key!r})")
        cleaned[name] = value
    notes: list[str] = []
    if "module." in stripped:
        notes.append("stripped the 'module.' prefix (saved from nn.DataParallel / DistributedDataParallel)")
    if "_orig_mod." in stripped:
        notes.append("stripped the '_orig_mod.' prefix (saved from a torch.compile'd model)")
    if dropped:
        notes.append(
            f"dropped {dropped} InstanceNorm running statistics (written by PyTorch < 0.4; InstanceNorm ignores them)"
        )
    return cleaned, tuple(notes)


# ------------------------------------------------------------------------------------------ detection


def detect_layout(state_dict: Mapping[str, Tensor]) -> tuple[Kind, Layout]:
    """Tell which network (``"generator"``/``"critic"``) and which layout a cleaned state dict holds.

    Raises:
        CheckpointError: when the keys match no known layout.

    Examples:
        >>> import torch
        >>> detect_layout({"main.0.weight": torch.zeros(8, 3, 4, 4), "conv1.weight": torch.zeros(1, 8, 3, 3)})
        ('critic', 'official')
    """
    keys = set(state_dict)

    def has(*prefixes: str) -> bool:
        return any(k.startswith(prefixes) for k in keys)

    if has("encoder.", "bottleneck.", "decoder.", "color_head.", "attention_head."):
        return "generator", "ganimation_lib"
    if has("trunk.", "score_head.", "au_head."):
        return "critic", "ganimation_lib"
    for layout in ("official", "replicate"):
        names = FOREIGN_LAYOUTS[layout]
        if has(names["color"] + ".", names["attention"] + "."):
            return "generator", layout
        if has(names["score"] + ".", names["aus"] + "."):
            return "critic", layout
        # Headless files: the first convolution's input channels tell the networks apart (3 vs 3 + AUs).
        first = state_dict.get(names["trunk"] + "0.weight")
        if first is not None and first.dim() == 4:
            return ("critic" if first.shape[1] == 3 else "generator"), layout
    sample = sorted(keys)[:6]
    raise CheckpointError(
        f"cannot tell which network these weights belong to: the keys (e.g. {sample}) match none of the known "
        "layouts: official (main.*, img_reg.*, attetion_reg.* / conv1, conv2), replicate (model.*, color_top.*, "
        "au_top.* / dis_top, aus_top) or ganimation_lib (encoder.*, color_head.* / trunk.*, score_head.*)"
    )


# ------------------------------------------------------------------------------------------ key maps


def _unit(ours: str, theirs_conv: str, theirs_norm: str, *, bias: bool, affine: bool) -> dict[str, str]:
    names = {f"{ours}.conv.weight": f"{theirs_conv}.weight"}
    if bias:
        names[f"{ours}.conv.bias"] = f"{theirs_conv}.bias"
    if affine:
        names[f"{ours}.norm.weight"] = f"{theirs_norm}.weight"
        names[f"{ours}.norm.bias"] = f"{theirs_norm}.bias"
    return names


def key_map(config: AnyConfig, layout: Layout) -> dict[str, str]:
    """Map each of this library's state-dict keys for ``config`` to its name in ``layout``.

    Both foreign codebases build their networks as one ``nn.Sequential`` whose indices count every
    module (conv, norm, ReLU), so a key's index follows from its position: the generator is
    ``conv(0) norm(1) relu(2)``, two ``dk`` units at 3 and 6, residual blocks from 9, the two ``uk``
    units at ``9 + n`` and ``12 + n``; the critic's convolutions sit at even indices.

    Examples:
        >>> from ganimation_lib import CriticConfig
        >>> key_map(CriticConfig(image_size=32, depth=2), "replicate")
        {'trunk.0.weight': 'model.0.weight', 'trunk.0.bias': 'model.0.bias', 'trunk.2.weight': 'model.2.weight', \
'trunk.2.bias': 'model.2.bias', 'score_head.weight': 'dis_top.weight', 'au_head.weight': 'aus_top.weight'}
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not supported; use one of {list(LAYOUTS)}")
    meta = build_on_meta(config)
    if layout == "ganimation_lib":
        return {k: k for k in meta.state_dict()}
    names = FOREIGN_LAYOUTS[layout]
    trunk = names["trunk"]
    mapping: dict[str, str] = {}
    if isinstance(config, GeneratorConfig):
        unit = {"bias": config.conv_bias, "affine": config.norm_affine}
        for i, at in enumerate((0, 3, 6)):
            mapping |= _unit(f"encoder.{i}", f"{trunk}{at}", f"{trunk}{at + 1}", **unit)
        n = config.num_residual_blocks
        for i in range(n):
            block = f"{trunk}{9 + i}.{names['block']}"
            mapping |= _unit(f"bottleneck.{i}.first", f"{block}.0", f"{block}.1", **unit)
            mapping |= _unit(f"bottleneck.{i}.second", f"{block}.3", f"{block}.4", **unit)
        for i, at in enumerate((9 + n, 12 + n)):
            mapping |= _unit(f"decoder.{i}", f"{trunk}{at}", f"{trunk}{at + 1}", **unit)
        mapping["color_head.weight"] = f"{names['color']}.weight"
        mapping["attention_head.weight"] = f"{names['attention']}.weight"
        if config.attention_bias is not None:
            mapping["attention_head.bias"] = f"{names['attention']}.bias"
    else:
        for i in range(config.depth):
            mapping[f"trunk.{2 * i}.weight"] = f"{trunk}{2 * i}.weight"
            if config.conv_bias:
                mapping[f"trunk.{2 * i}.bias"] = f"{trunk}{2 * i}.bias"
        mapping["score_head.weight"] = f"{names['score']}.weight"
        mapping["au_head.weight"] = f"{names['aus']}.weight"
    missing = set(meta.state_dict()) - set(mapping)
    if missing:  # a config option neither foreign layout has
        raise CheckpointError(f"the {layout} layout has no place for {sorted(missing)}")
    return mapping


# ------------------------------------------------------------------------------------------ inference


def _require(state_dict: Mapping[str, Tensor], key: str, what: str, dims: int) -> Tensor:
    tensor = state_dict.get(key)
    if tensor is None or tensor.dim() != dims:
        found = "missing" if tensor is None else f"has shape {tuple(tensor.shape)}"
        raise CheckpointError(
            f"cannot infer the sizes: {key} ({what}) is {found}; expected a {dims}-D convolution weight"
        )
    return tensor


def _indices(state_dict: Mapping[str, Tensor], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state_dict if (m := regex.match(k))})


def _infer_generator(
    state_dict: Mapping[str, Tensor], layout: Layout, image_size: int | None
) -> tuple[GeneratorConfig, list[str]]:
    notes: list[str] = []
    if layout == "ganimation_lib":
        first_key, first_norm, down_key = "encoder.0.conv", "encoder.0.norm", "encoder.1.conv.weight"
        blocks = _indices(state_dict, r"^bottleneck\.(\d+)\.")
        up_key = "decoder.0.conv.weight"
        attention_bias = state_dict.get("attention_head.bias")
    else:
        names = FOREIGN_LAYOUTS[layout]
        trunk = names["trunk"]
        first_key, first_norm, down_key = f"{trunk}0", f"{trunk}1", f"{trunk}3.weight"
        blocks = _indices(state_dict, rf"^{re.escape(trunk)}(\d+)\.{names['block']}\.")
        up_key = f"{trunk}{9 + len(blocks)}.weight"
        attention_bias = state_dict.get(f"{names['attention']}.bias")
    first = _require(state_dict, f"{first_key}.weight", "the first 7x7 convolution", 4)
    conv_dim, in_channels = int(first.shape[0]), int(first.shape[1])
    if in_channels <= 3:
        raise CheckpointError(
            f"{first_key}.weight takes {in_channels} input channels, but a generator takes 3 image channels "
            "plus one per AU; is this a critic? (pass kind='critic')"
        )
    down = state_dict.get(down_key)
    up = state_dict.get(up_key)
    sizes: dict[str, Any] = {
        "num_aus": in_channels - 3,
        "conv_dim": conv_dim,
        "num_residual_blocks": len(blocks),
        "down_kernel_size": int(down.shape[-1]) if down is not None and down.dim() == 4 else 4,
        "up_kernel_size": int(up.shape[-1]) if up is not None and up.dim() == 4 else 4,
        "norm_affine": f"{first_norm}.weight" in state_dict,
        "conv_bias": f"{first_key}.bias" in state_dict,
    }
    if attention_bias is not None and attention_bias.numel() == 1:
        sizes["attention_bias"] = float(attention_bias.reshape(()))
    if image_size is None:
        image_size = DEFAULT_GENERATOR_IMAGE_SIZE
        notes.append(
            f"a generator's weights do not record its training image size (it is fully convolutional): "
            f"assumed {image_size}; pass image_size=... (--image-size) if it was trained at another size"
        )
    sizes["image_size"] = image_size
    preset = "official"
    if layout == "ganimation_lib" and sizes["down_kernel_size"] == sizes["up_kernel_size"] == 3:
        # Padding and the residual ReLU leave no trace in the weights; 3x3 strided convs are the cyclegan preset.
        preset = "cyclegan"
        notes.append(
            "padding_mode and residual_relu are not stored in a bare state dict; the 3x3 strided convolutions "
            "suggest the cyclegan preset, so reflect padding and the residual ReLU were assumed "
            "(save with save_pretrained to keep the exact config)"
        )
    elif layout == "ganimation_lib":
        notes.append(
            "padding_mode and residual_relu are not stored in a bare state dict; assumed the official "
            "zero padding and no residual ReLU (save with save_pretrained to keep the exact config)"
        )
    try:
        config = GeneratorConfig.from_preset(preset, **sizes)
    except ValueError as error:
        raise CheckpointError(f"the inferred generator sizes {sizes} are not valid: {error}") from error
    return config, notes


def _infer_critic(
    state_dict: Mapping[str, Tensor], layout: Layout, image_size: int | None
) -> tuple[CriticConfig, list[str]]:
    if layout == "ganimation_lib":
        trunk, aus_key = "trunk.", "au_head.weight"
    else:
        names = FOREIGN_LAYOUTS[layout]
        trunk, aus_key = names["trunk"], f"{names['aus']}.weight"
    indices = _indices(state_dict, rf"^{re.escape(trunk)}(\d+)\.weight$")
    convs = [i for i in indices if state_dict[f"{trunk}{i}.weight"].dim() == 4]
    if not convs:
        raise CheckpointError(f"cannot infer the critic's sizes: no trunk convolution ({trunk}N.weight) found")
    first = state_dict[f"{trunk}{convs[0]}.weight"]
    au_head = _require(state_dict, aus_key, "the AU regression head", 4)
    depth = len(convs)
    kernel = int(au_head.shape[-1])
    # The AU head's kernel spans the final feature map, which is image_size / 2**depth wide.
    inferred_size = kernel * 2**depth
    if image_size is not None and image_size != inferred_size:
        raise CheckpointError(
            f"image_size={image_size} contradicts the weights: the AU head's {kernel}x{kernel} kernel after "
            f"{depth} halvings means {inferred_size} px images; drop image_size or pass {inferred_size}"
        )
    sizes: dict[str, Any] = {
        "image_size": inferred_size,
        "num_aus": int(au_head.shape[0]),
        "conv_dim": int(first.shape[0]),
        "depth": depth,
        "conv_bias": f"{trunk}{convs[0]}.bias" in state_dict,
    }
    notes = [f"image size {inferred_size} inferred from the AU head's {kernel}x{kernel} kernel and depth {depth}"]
    if layout == "ganimation_lib":
        notes.append("leaky_slope is not stored in a bare state dict; assumed the official 0.01")
    try:
        return CriticConfig(**sizes), notes
    except ValueError as error:
        raise CheckpointError(f"the inferred critic sizes {sizes} are not valid: {error}") from error


def infer_config(
    state_dict: Mapping[str, Tensor], kind: Kind, layout: Layout, *, image_size: int | None = None
) -> tuple[AnyConfig, tuple[str, ...]]:
    """Infer the config of a cleaned state dict from its tensor shapes alone.

    Generator: ``conv_dim`` and ``num_aus`` from the first convolution (its input is 3 image channels
    plus one per AU), ``num_residual_blocks`` by counting blocks, the strided kernels from their
    weights, ``norm_affine`` / ``conv_bias`` from whether norm weights / conv biases are present (this
    is what tells the official preset from the replicate one). The training image size is not in the
    weights: ``image_size`` or 128. Critic: ``depth`` by counting trunk convolutions, ``conv_dim`` from the
    first one, ``num_aus`` and the image size (kernel × 2**depth) from the AU head.

    Returns:
        The config and notes on what was assumed.
    """
    if kind == "generator":
        generator, notes = _infer_generator(state_dict, layout, image_size)
        return generator, tuple(notes)
    if kind == "critic":
        critic, notes = _infer_critic(state_dict, layout, image_size)
        return critic, tuple(notes)
    raise ValueError(f"kind={kind!r} is not supported; use 'generator' or 'critic'")
