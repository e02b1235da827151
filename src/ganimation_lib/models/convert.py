"""Import checkpoints written by other GANimation codebases (and by this one) as ready models.

[`load_checkpoint`][ganimation_lib.models.convert.load_checkpoint] reads a ``.pth``/``.pt`` file (or a ``.safetensors``
file, or a directory written by [`save_pretrained`][ganimation_lib.models.pretrained.save_pretrained]), recognises its
layout, infers every size from the tensor shapes, builds the matching
[`Generator`][ganimation_lib.models.generator.Generator] or [`Critic`][ganimation_lib.models.critic.Critic] and loads
the weights. The layouts are ``"official"`` (albertpumarola/GANimation), ``"replicate"``
(donydchen/ganimation_replicate) and ``"ganimation_lib"`` (this library's own state dict, bare or inside a training
checkpoint); the converters are built from three parts:

* [`safe_load`][ganimation_lib.models.safe_load] reads files: ``torch.load(weights_only=True)`` only, so a pickle
  that would call anything (and so could run code) is refused before anything in it runs;
* [`layouts`][ganimation_lib.models.layouts] strips the prefixes added by ``nn.DataParallel`` /
  ``DistributedDataParallel`` (``module.``) and ``torch.compile`` (``_orig_mod.``), drops the
  ``running_mean``/``running_var`` that PyTorch < 0.4 stored for InstanceNorm (which never uses them),
  recognises the layout, renames the keys and infers the sizes;
* this module puts them together, and reports a file that does not fit key by key, in its own key names.

[`from_pretrained`][ganimation_lib.models.convert.from_pretrained] loads whichever network a ``save_pretrained``
directory holds.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import torch
from torch import Tensor

from .config_json import CONFIG_NAME
from .critic import Critic
from .generator import Generator
from .kinds import KINDS, NETWORKS, AnyConfig, AnyModel, Kind, build_on_meta, kind_of, read_pretrained_info
from .layouts import DEFAULT_GENERATOR_IMAGE_SIZE as DEFAULT_GENERATOR_IMAGE_SIZE
from .layouts import FOREIGN_LAYOUTS, Layout
from .layouts import clean_state_dict as clean_state_dict
from .layouts import detect_layout as detect_layout
from .layouts import infer_config as infer_config
from .layouts import key_map as key_map
from .pretrained import as_device, load_pretrained
from .safe_load import (
    CHECKPOINT_CONFIG_KEYS,
    CHECKPOINT_EMA_KEY,
    CheckpointError,
    StateDictCandidate,
    is_state_dict,
    state_dict_candidates,
)
from .safe_load import read_checkpoint_file as read_checkpoint_file
from .weights import bullet_list, check_finite_weights, load_state_dict_checked, state_dict_mismatches

# The names of layouts.py and safe_load.py that were defined here are re-exported, for older imports.
__all__ = [
    "DEFAULT_GENERATOR_IMAGE_SIZE",
    "ConvertedStateDict",
    "ImportedCheckpoint",
    "Kind",
    "Layout",
    "clean_state_dict",
    "convert_state_dict",
    "detect_layout",
    "from_pretrained",
    "import_checkpoint",
    "infer_config",
    "key_map",
    "load_checkpoint",
    "read_checkpoint_file",
]


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
    """What [`import_checkpoint`][ganimation_lib.models.convert.import_checkpoint] returns: the model and how it was
    recognised.

    Attributes:
        model: The [`Generator`][ganimation_lib.models.generator.Generator] or
            [`Critic`][ganimation_lib.models.critic.Critic], in eval mode.
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
    if kind is not None and kind not in KINDS:
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
        if not isinstance(config, NETWORKS[detected].config_class):
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
        source = FOREIGN_LAYOUTS[layout]["source"] if layout in FOREIGN_LAYOUTS else "ganimation_lib"
        raise CheckpointError(
            f"these {layout}-layout {detected} weights ({source}) do not fit the architecture "
            f"{origin}, {config}:\n{bullet_list(problems)}\n"
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
    if is_state_dict(obj):
        return obj, [], None  # type: ignore[return-value]
    candidates: list[tuple[StateDictCandidate, Kind]] = []
    for candidate in state_dict_candidates(obj):
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
        ema = [c for c in candidates if CHECKPOINT_EMA_KEY in c[0][0].lower()]
        if len(ema) != 1:
            raise CheckpointError(f"{source} holds several {found_kind} state dicts: {paths}")
        chosen, found_kind = ema[0]
        notes = [f"used the EMA weights at '{chosen[0]}' (the checkpoint also holds {paths})"]
    # A training checkpoint of this library stores each network's config beside the weights.
    _, state_dict, parent = chosen
    config_key = CHECKPOINT_CONFIG_KEYS[found_kind]
    stored = parent.get(config_key)
    if not isinstance(stored, Mapping):
        return state_dict, notes, None
    try:
        config: AnyConfig = NETWORKS[found_kind].config_class.from_dict(dict(stored))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: the stored '{config_key}' cannot be used: {error}") from error
    return state_dict, [*notes, f"used the config stored as '{config_key}' in the checkpoint"], config


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
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not supported; use 'generator', 'critic' or None (detect)")
    as_device(map_location)  # fail on a bad device before reading anything
    source = Path(path)
    if source.is_dir():
        if not (source / CONFIG_NAME).exists():
            raise FileNotFoundError(
                f"{source} is a directory without {CONFIG_NAME}; pass a checkpoint file or a directory written by "
                "save_pretrained"
            )
        model = from_pretrained(source, map_location=map_location)
        found = kind_of(model)
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
        model=model.to(as_device(map_location)).eval(),
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
    """Load a GANimation checkpoint of any known layout as a [`Generator`][ganimation_lib.models.generator.Generator] or
    [`Critic`][ganimation_lib.models.critic.Critic].

    The same as [`import_checkpoint`][ganimation_lib.models.convert.import_checkpoint] (see it for the arguments),
    returning only the model; with ``kind="generator"`` / ``"critic"`` the return type is narrowed for type checkers.

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
    assert kind is None or kind_of(model) == kind  # import_checkpoint already refused the other kind
    return model


def from_pretrained(directory: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> AnyModel:
    """Rebuild whichever network ([`Generator`][ganimation_lib.models.generator.Generator] or
    [`Critic`][ganimation_lib.models.critic.Critic]) ``directory`` holds, in eval mode.

    ``Generator.from_pretrained`` / ``Critic.from_pretrained`` load one class and refuse the other; this reads
    the class from ``config.json``. See
    [`from_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.from_pretrained].

    Raises:
        FileNotFoundError: when the directory, ``config.json`` or ``model.safetensors`` is missing.
        CheckpointError: when a file is corrupt, comes from a newer library version, the weights do not
            fit the config, or a weight is NaN/inf (the message names the first such tensor).

    Examples:
        >>> import tempfile
        >>> from ganimation_lib import Critic, CriticConfig
        >>> folder = Critic(CriticConfig(image_size=32, conv_dim=4, depth=4)).save_pretrained(tempfile.mkdtemp() + "/c")
        >>> type(from_pretrained(folder)).__name__
        'Critic'
    """
    as_device(map_location)  # a bad device fails before anything is read
    info = read_pretrained_info(directory)
    network = next(n for n in NETWORKS.values() if n.__name__ == info.model_class)
    return load_pretrained(network, directory, info, map_location=map_location)
