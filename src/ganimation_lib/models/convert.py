"""Import checkpoints written by other GANimation codebases (and by this one) as ready models.

:func:`load_checkpoint` reads a ``.pth``/``.pt`` file (or a ``.safetensors`` file, or a directory written by
:func:`~ganimation_lib.models.pretrained.save_pretrained`), recognises its layout, infers every size from
the tensor shapes, builds the matching :class:`Generator` or :class:`Critic` and loads the weights:

* ``"official"``: albertpumarola/GANimation (``main.N...``, ``img_reg``, ``attetion_reg`` [sic];
  ``main.N``, ``conv1``, ``conv2`` for the discriminator);
* ``"replicate"``: donydchen/ganimation_replicate (``model.N...``, ``color_top``, ``au_top``;
  ``model.N``, ``dis_top``, ``aus_top``);
* ``"ganimation_lib"``: this library's own state dict, bare or inside a training checkpoint.

Files are read with ``torch.load(weights_only=True)`` only: a pickle that would call anything (and so
could run code) is refused before anything in it runs. Prefixes added by ``nn.DataParallel`` /
``DistributedDataParallel`` (``module.``) and ``torch.compile`` (``_orig_mod.``) are stripped, and the
``running_mean``/``running_var`` that PyTorch < 0.4 stored for InstanceNorm (which never uses them) are
dropped. A file that does not fit is reported key by key, in the file's own key names.

Examples:
    >>> import tempfile, torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> ours = Generator(GeneratorConfig.official(conv_dim=8, num_residual_blocks=2)).state_dict()
    >>> official = {official_name: ours[name] for name, official_name in key_map(
    ...     GeneratorConfig.official(conv_dim=8, num_residual_blocks=2), "official").items()}
    >>> sorted(official)[:3]
    ['attetion_reg.0.weight', 'img_reg.0.weight', 'main.0.weight']
    >>> path = tempfile.mkdtemp() + "/net_G.pth"
    >>> torch.save({"module." + k: v for k, v in official.items()}, path)
    >>> loaded = import_checkpoint(path)
    >>> loaded.kind, loaded.layout, loaded.config.conv_dim, loaded.config.num_residual_blocks
    ('generator', 'official', 8, 2)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from .critic import Critic, CriticConfig
from .generator import Generator, GeneratorConfig
from .pretrained import (
    CONFIG_NAME,
    CheckpointError,
    _as_device,
    build_on_meta,
    check_finite_weights,
    from_pretrained,
    load_state_dict_checked,
    state_dict_mismatches,
)
from .safe_load import load_weights_only

if TYPE_CHECKING:
    AnyModel: TypeAlias = Generator | Critic
    AnyConfig: TypeAlias = GeneratorConfig | CriticConfig

__all__ = [
    "DEFAULT_GENERATOR_IMAGE_SIZE",
    "ConvertedStateDict",
    "ImportedCheckpoint",
    "Kind",
    "Layout",
    "clean_state_dict",
    "convert_state_dict",
    "detect_layout",
    "import_checkpoint",
    "infer_config",
    "key_map",
    "load_checkpoint",
    "read_checkpoint_file",
]

Kind = Literal["generator", "critic"]
Layout = Literal["official", "replicate", "ganimation_lib"]
_KINDS: tuple[str, ...] = ("generator", "critic")
_LAYOUTS: tuple[str, ...] = ("official", "replicate", "ganimation_lib")

#: A generator's weights do not record the image size it was trained at (it is fully convolutional).
DEFAULT_GENERATOR_IMAGE_SIZE = 128

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_LEGACY_NORM_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
# Names of the two foreign layouts: trunk prefix, residual-block container, generator heads, critic heads.
_FOREIGN: dict[str, dict[str, str]] = {
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


@dataclass(frozen=True)
class ConvertedStateDict:
    """A state dict renamed to this library's keys, with what was learned on the way.

    Attributes:
        kind: ``"generator"`` or ``"critic"``.
        layout: The layout the keys were written in.
        config: The config inferred from the tensor shapes.
        state_dict: The weights under this library's key names (float32, on CPU).
        notes: Plain-language remarks: prefixes stripped, entries dropped, values assumed.
    """

    kind: Kind
    layout: Layout
    config: AnyConfig
    state_dict: dict[str, Tensor]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ImportedCheckpoint:
    """What :func:`import_checkpoint` returns: the model and how it was recognised.

    Attributes:
        model: The :class:`Generator` or :class:`Critic`, in eval mode.
        kind: ``"generator"`` or ``"critic"``.
        layout: ``"official"``, ``"replicate"``, ``"ganimation_lib"`` or ``"pretrained"`` (a
            save_pretrained directory).
        notes: Plain-language remarks (prefixes stripped, entries dropped, values assumed).
    """

    model: AnyModel
    kind: Kind
    layout: Layout | Literal["pretrained"]
    notes: tuple[str, ...]

    @property
    def config(self) -> AnyConfig:
        """The config the model was built from."""
        return self.model.config


# ----------------------------------------------------------------------------------------------- reading


def read_checkpoint_file(path: str | os.PathLike[str]) -> Any:
    """Read a ``.pth``/``.pt`` (zip or legacy torch serialisation) or ``.safetensors`` file safely, on CPU.

    Pickles are read with ``torch.load(weights_only=True)``: only tensors, containers and plain values
    are rebuilt, and a pickle that asks to call a function or build a class is refused before it runs.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        CheckpointError: when the file is refused (it would run code) or is not a checkpoint at all.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"checkpoint {file} does not exist; check the path")
    if file.is_dir():
        raise CheckpointError(f"{file} is a directory; pass a checkpoint file (or use load_checkpoint)")
    if file.suffix == ".safetensors":
        try:
            return load_file(str(file), device="cpu")
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"{file} cannot be read as safetensors ({error}); the file is corrupt") from error
    return load_weights_only(
        file,
        unreadable="pass a .pth/.pt file written by torch.save, a .safetensors file or a save_pretrained directory",
    )


def _is_state_dict(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())
    )


_Candidate: TypeAlias = tuple[str, Mapping[str, Tensor], Mapping[str, Any]]


def _state_dict_candidates(obj: object, path: str = "", depth: int = 0) -> list[_Candidate]:
    """Every mapping of tensors inside a (training) checkpoint: its path (``'models/generator'``) and parent."""
    found: list[_Candidate] = []
    if isinstance(obj, Mapping) and depth < 4:
        for key, value in obj.items():
            where = f"{path}/{key}" if path else str(key)
            if _is_state_dict(value):
                found.append((where, value, obj))
            else:
                found += _state_dict_candidates(value, where, depth + 1)
    return found


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
        while name.startswith(_WRAPPER_PREFIXES):
            prefix = next(p for p in _WRAPPER_PREFIXES if name.startswith(p))
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
        names = _FOREIGN[layout]
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
    if layout not in _LAYOUTS:
        raise ValueError(f"layout={layout!r} is not supported; use one of {list(_LAYOUTS)}")
    meta = build_on_meta(config)
    if layout == "ganimation_lib":
        return {k: k for k in meta.state_dict()}
    names = _FOREIGN[layout]
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
        names = _FOREIGN[layout]
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
        names = _FOREIGN[layout]
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


# ----------------------------------------------------------------------------------------- conversion


def convert_state_dict(
    state_dict: Mapping[str, Tensor],
    *,
    kind: Kind | None = None,
    image_size: int | None = None,
    config: AnyConfig | None = None,
) -> ConvertedStateDict:
    """Clean, recognise, size and rename a state dict of any known layout to this library's keys.

    Args:
        state_dict: The weights, in the official, replicate or this library's layout.
        kind: ``"generator"`` or ``"critic"`` to insist on one; ``None`` detects it.
        image_size: The generator's training image size (not stored in its weights); for a critic, a check.
        config: The exact config, when known (a training checkpoint stores it); ``None`` infers it.

    Raises:
        CheckpointError: when the layout is unknown, is not ``kind``, or the tensors do not fit the
            inferred architecture (listed key by key, in the file's own names).
    """
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind={kind!r} is not supported; use 'generator', 'critic' or None (detect)")
    cleaned, clean_notes = clean_state_dict(state_dict)
    detected, layout = detect_layout(cleaned)
    if kind is not None and kind != detected:
        raise CheckpointError(
            f"these weights hold a {detected} ({layout} layout), not a {kind}; pass kind={detected!r} or the "
            f"{kind}'s checkpoint"
        )
    origin = "inferred from their shapes" if config is None else "of the stored config"
    if config is None:
        config, infer_notes = infer_config(cleaned, detected, layout, image_size=image_size)
    else:
        expected_cls = GeneratorConfig if detected == "generator" else CriticConfig
        if not isinstance(config, expected_cls):
            raise CheckpointError(f"config is a {type(config).__name__} but the weights hold a {detected}")
        if image_size is not None and image_size != config.image_size:
            raise CheckpointError(
                f"image_size={image_size} contradicts the stored config (image_size={config.image_size})"
            )
        infer_notes = ()
    names = key_map(config, layout)
    meta_shapes = {k: tuple(v.shape) for k, v in build_on_meta(config).state_dict().items()}
    expected = {theirs: meta_shapes[ours] for ours, theirs in names.items()}
    problems = state_dict_mismatches(expected, cleaned)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  - ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        source = _FOREIGN[layout]["source"] if layout in _FOREIGN else "ganimation_lib"
        raise CheckpointError(
            f"these {layout}-layout {detected} weights ({source}) do not fit the architecture "
            f"{origin}, {config}:\n{shown}{more}\n"
            "the file may be truncated, edited, or from a modified version of that code"
        )
    converted = {ours: cleaned[theirs].detach().to(device="cpu", dtype=torch.float32) for ours, theirs in names.items()}
    return ConvertedStateDict(
        kind=detected,
        layout=layout,
        config=config,
        state_dict=converted,
        notes=clean_notes + infer_notes,
    )


def _pick_state_dict(
    obj: object, kind: Kind | None, source: str
) -> tuple[Mapping[str, Tensor], list[str], AnyConfig | None]:
    """The state dict of ``kind`` in a checkpoint, notes, and the config stored next to it (if any)."""
    if _is_state_dict(obj):
        return obj, [], None  # type: ignore[return-value]
    candidates: list[tuple[_Candidate, Kind]] = []
    for candidate in _state_dict_candidates(obj):
        try:
            found_kind, _ = detect_layout(clean_state_dict(candidate[1])[0])
        except CheckpointError:
            continue  # optimizer moments, RNG states, ...
        if kind is None or found_kind == kind:
            candidates.append((candidate, found_kind))
    if not candidates:
        what = f"a {kind}" if kind else "a generator or a critic"
        top = list(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointError(f"{source} holds no state dict of {what} (top-level entries: {top})")
    paths = [c[0] for c, _ in candidates]
    if len({k for _, k in candidates}) > 1:
        raise CheckpointError(
            f"{source} holds both a generator and a critic ({paths}); "
            "pass kind='generator' or kind='critic' (--kind) to choose"
        )
    chosen, found_kind = candidates[0]
    notes = [f"used the state dict at '{chosen[0]}' of the checkpoint"]
    if len(candidates) > 1:
        # Several generators: a training checkpoint with an EMA copy, which is the one meant for inference.
        ema = [c for c in candidates if "ema" in c[0][0].lower()]
        if len(ema) != 1:
            raise CheckpointError(f"{source} holds several {found_kind} state dicts: {paths}")
        chosen, found_kind = ema[0]
        notes = [f"used the EMA weights at '{chosen[0]}' (the checkpoint also holds {paths})"]
    # A training checkpoint of this library stores each network's config beside the weights.
    _, state_dict, parent = chosen
    stored = parent.get(f"{found_kind}_config")
    if not isinstance(stored, Mapping):
        return state_dict, notes, None
    config_cls = GeneratorConfig if found_kind == "generator" else CriticConfig
    try:
        config: AnyConfig = config_cls.from_dict(dict(stored))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: the stored '{found_kind}_config' cannot be used: {error}") from error
    return state_dict, [*notes, f"used the config stored as '{found_kind}_config' in the checkpoint"], config


def import_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: Kind | None = None,
    map_location: str | torch.device = "cpu",
    image_size: int | None = None,
) -> ImportedCheckpoint:
    """Load a checkpoint of any known layout into a model, and say how it was recognised.

    Args:
        path: A ``.pth``/``.pt`` file (a bare state dict, or a training checkpoint holding one), a
            ``.safetensors`` file, or a directory written by ``save_pretrained``.
        kind: ``"generator"`` or ``"critic"``; ``None`` detects it (needed when a file holds both).
        map_location: Device for the model.
        image_size: The generator's training image size (weights do not record it; default 128).

    Returns:
        The model in eval mode and float32, with the detected kind, layout and notes.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        CheckpointError: when the file is refused (it would run code), unreadable, of an unknown layout,
            of the other kind, does not fit the inferred architecture (key by key), or holds a NaN/inf
            weight (the message names the file and the first such tensor).
    """
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind={kind!r} is not supported; use 'generator', 'critic' or None (detect)")
    _as_device(map_location)  # fail on a bad device before reading anything
    source = Path(path)
    if source.is_dir():
        if not (source / CONFIG_NAME).exists():
            raise FileNotFoundError(
                f"{source} is a directory without {CONFIG_NAME}; pass a checkpoint file or a directory written by "
                "save_pretrained"
            )
        model = from_pretrained(source, map_location=map_location)
        found: Kind = "generator" if isinstance(model, Generator) else "critic"
        if kind is not None and kind != found:
            raise CheckpointError(f"{source} holds a {found}, not a {kind}; pass kind={found!r}")
        if image_size is not None and image_size != model.config.image_size:
            raise CheckpointError(
                f"image_size={image_size} contradicts {source}/{CONFIG_NAME} (image_size={model.config.image_size})"
            )
        return ImportedCheckpoint(model=model, kind=found, layout="pretrained", notes=())
    obj = read_checkpoint_file(source)
    state_dict, pick_notes, stored_config = _pick_state_dict(obj, kind, str(source))
    check_finite_weights(state_dict, source=str(source))  # named as the file names them
    try:
        converted = convert_state_dict(state_dict, kind=kind, image_size=image_size, config=stored_config)
    except CheckpointError as error:  # about the weights, not the file: say which file they came from
        raise CheckpointError(f"{source}: {error}") from None
    model = build_on_meta(converted.config)
    load_state_dict_checked(model, converted.state_dict, source=str(source))
    return ImportedCheckpoint(
        model=model.to(_as_device(map_location)).eval(),
        kind=converted.kind,
        layout=converted.layout,
        notes=tuple(pick_notes) + converted.notes,
    )


@overload
def load_checkpoint(
    path: str | os.PathLike[str],
    kind: Literal["generator"],
    map_location: str | torch.device = ...,
    *,
    image_size: int | None = ...,
) -> Generator: ...
@overload
def load_checkpoint(
    path: str | os.PathLike[str],
    kind: Literal["critic"],
    map_location: str | torch.device = ...,
    *,
    image_size: int | None = ...,
) -> Critic: ...
@overload
def load_checkpoint(
    path: str | os.PathLike[str],
    kind: None = ...,
    map_location: str | torch.device = ...,
    *,
    image_size: int | None = ...,
) -> AnyModel: ...
def load_checkpoint(
    path: str | os.PathLike[str],
    kind: Kind | None = None,
    map_location: str | torch.device = "cpu",
    *,
    image_size: int | None = None,
) -> AnyModel:
    """Load a GANimation checkpoint of any known layout as a :class:`Generator` or :class:`Critic`.

    The same as :func:`import_checkpoint` (see it for the arguments), returning only the model; with
    ``kind="generator"`` / ``"critic"`` the return type is narrowed for type checkers.

    Examples:
        >>> import tempfile, torch
        >>> from ganimation_lib import Critic, CriticConfig
        >>> path = tempfile.mkdtemp() + "/critic.pth"
        >>> torch.save(Critic(CriticConfig(image_size=64, conv_dim=4, depth=4)).state_dict(), path)
        >>> critic = load_checkpoint(path)
        >>> type(critic).__name__, critic.config.image_size, critic.config.depth
        ('Critic', 64, 4)
    """
    model = import_checkpoint(path, kind=kind, map_location=map_location, image_size=image_size).model
    expected = {"generator": Generator, "critic": Critic}.get(kind or "", (Generator, Critic))
    assert isinstance(model, expected)  # import_checkpoint already refused the other kind
    return model
