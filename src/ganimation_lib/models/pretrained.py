"""Save and load models as a directory: ``config.json`` (what to build) + ``model.safetensors`` (weights).

The config a model was constructed with *is* the saved config, so loading rebuilds exactly the same
architecture, in float32, on CPU (or ``map_location``), and never runs code from the files: JSON and
safetensors cannot carry any. Both files are written atomically and tagged with a shared save id, so a
crash can never leave a directory whose weights and config silently disagree.

``config.json`` looks like::

    {
      "format": "ganimation_lib.pretrained",
      "format_version": 1,
      "model_class": "Generator",
      "library_version": "0.1.0",
      "au_names": ["AU01", "AU02", ...],
      "save_id": "3f2c...",
      "config": {"image_size": 128, "num_aus": 17, "conv_dim": 64, ...}
    }

Examples:
    >>> import tempfile, torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1))
    >>> folder = g.save_pretrained(tempfile.mkdtemp() + "/smile-generator")
    >>> sorted(p.name for p in folder.iterdir())
    ['config.json', 'model.safetensors']
    >>> same = Generator.from_pretrained(folder)
    >>> x, aus = torch.zeros(1, 3, 32, 32), torch.rand(1, 17)
    >>> bool(torch.equal(same(x, aus).image, g.eval()(x, aus).image)), same.au_names[:2]
    (True, ('AU01', 'AU02'))
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn
from typing_extensions import Self

from .._atomic import write_new_file
from .._version import __version__
from ..aus import AU_NAMES
from ..errors import writing
from .config import read_json

if TYPE_CHECKING:
    from .critic import Critic, CriticConfig
    from .generator import Generator, GeneratorConfig

    AnyModel: TypeAlias = Generator | Critic
    AnyConfig: TypeAlias = GeneratorConfig | CriticConfig

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "CheckpointError",
    "PretrainedInfo",
    "PretrainedMixin",
    "build_on_meta",
    "check_finite_weights",
    "first_non_finite",
    "from_pretrained",
    "load_state_dict_checked",
    "read_pretrained_info",
    "save_pretrained",
    "state_dict_mismatches",
    "write_pretrained",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Bumped when config.json gains a field whose meaning an older library could not honour.
FORMAT_VERSION = 1
_FORMAT = "ganimation_lib.pretrained"
_TOP_LEVEL_KEYS = frozenset(
    {"format", "format_version", "model_class", "library_version", "au_names", "save_id", "config"}
)
_MODEL_CLASSES = ("Generator", "Critic")


class CheckpointError(ValueError):
    """Saved weights or a saved config cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class PretrainedInfo:
    """What ``config.json`` of a saved-model directory says (read without touching the weights).

    Attributes:
        model_class: ``"Generator"`` or ``"Critic"``.
        config: The config the model was built with.
        library_version: The ganimation_lib version that wrote the directory.
        au_names: Names of the AUs, in the order of the model's AU vector; ``None`` when not recorded.
        save_id: Random id shared by ``config.json`` and ``model.safetensors`` of one save.
    """

    model_class: str
    config: AnyConfig
    library_version: str
    au_names: tuple[str, ...] | None
    save_id: str | None


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for :class:`Generator` and :class:`Critic`.

    Attributes:
        au_names: Names of the AUs this model's AU vector holds, in order, or ``None`` (unknown).
            :meth:`from_pretrained` sets it from ``config.json``; :meth:`save_pretrained` writes it.
    """

    au_names: tuple[str, ...] | None = None

    def save_pretrained(self, directory: str | os.PathLike[str], *, au_names: Sequence[str] | None = None) -> Path:
        """Write this model to ``directory`` (see :func:`save_pretrained`) and return its path."""
        return save_pretrained(self, directory, au_names=au_names)  # type: ignore[arg-type]

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Self:
        """Rebuild the model saved in ``directory`` (see :func:`from_pretrained`).

        Raises:
            CheckpointError: also when ``directory`` holds the other kind of model.
        """
        model = from_pretrained(directory, map_location=map_location)
        if not isinstance(model, cls):
            raise CheckpointError(
                f"{directory} holds a {type(model).__name__}, not a {cls.__name__}; "
                f"use {type(model).__name__}.from_pretrained (or ganimation_lib.models.pretrained.from_pretrained)"
            )
        return model


def _model_classes() -> dict[str, tuple[type[nn.Module], type[Any]]]:
    # Imported here because generator.py and critic.py import this module for PretrainedMixin.
    from .critic import Critic, CriticConfig
    from .generator import Generator, GeneratorConfig

    return {"Generator": (Generator, GeneratorConfig), "Critic": (Critic, CriticConfig)}


def _model_class_for(config: object) -> str:
    for name, (_, config_cls) in _model_classes().items():
        if isinstance(config, config_cls):
            return name
    raise TypeError(f"config must be a GeneratorConfig or a CriticConfig, got {type(config).__name__}")


def build_on_meta(config: AnyConfig) -> AnyModel:
    """Build the model for ``config`` on the ``meta`` device: shapes without memory or RNG use."""
    model_cls, _ = _model_classes()[_model_class_for(config)]
    with torch.device("meta"):
        model: AnyModel = model_cls(config)  # type: ignore[assignment]
    return model


def _resolve_au_names(au_names: Sequence[str] | None, num_aus: int) -> tuple[str, ...] | None:
    if au_names is None:
        # The 17 OpenFace AUs GANimation uses are the only vocabulary we can assume without being told.
        return AU_NAMES if num_aus == len(AU_NAMES) else None
    if isinstance(au_names, str) or not all(isinstance(n, str) and n for n in au_names):
        raise ValueError(f"au_names={au_names!r} must be a sequence of non-empty strings, e.g. ['AU01', 'AU12']")
    names = tuple(au_names)
    if len(names) != num_aus:
        raise ValueError(
            f"au_names has {len(names)} names but the model takes {num_aus} AUs (config.num_aus); "
            "pass one name per AU, in the order of the AU vector"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"au_names={list(names)} contains duplicates; each AU must be named once")
    return names


def _shape(shape: Sequence[int]) -> str:
    return str(tuple(int(s) for s in shape))


def _describe(value: object) -> str:
    return f"shape {_shape(value.shape)}" if isinstance(value, Tensor) else f"a {type(value).__name__}"


def state_dict_mismatches(expected: Mapping[str, Sequence[int]], found: Mapping[str, object]) -> list[str]:
    """Describe, key by key and in plain words, how ``found`` differs from the ``expected`` shapes.

    Returns an empty list when every expected key is present with its shape and nothing else is.

    Examples:
        >>> import torch
        >>> state_dict_mismatches({"a": (2, 3), "b": (4,)}, {"a": torch.zeros(3, 2), "c": torch.zeros(1)})
        ['missing: b (expected shape (4,))', 'unexpected: c (shape (1,))', 'wrong shape: a is (3, 2), expected (2, 3)']
    """
    problems = [f"missing: {k} (expected shape {_shape(s)})" for k, s in expected.items() if k not in found]
    problems += [f"unexpected: {k} ({_describe(v)})" for k, v in found.items() if k not in expected]
    for key, shape in expected.items():
        tensor = found.get(key)
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            problems.append(f"not a tensor: {key} is a {type(tensor).__name__}")
        elif tuple(tensor.shape) != tuple(shape):
            problems.append(f"wrong shape: {key} is {_shape(tensor.shape)}, expected {_shape(shape)}")
        elif not tensor.is_floating_point():
            problems.append(f"wrong dtype: {key} is {tensor.dtype}, expected a floating-point tensor")
    return problems


def _mismatch_error(source: str, model: nn.Module, problems: list[str], hint: str) -> CheckpointError:
    shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
    lines = "\n".join(f"  - {p}" for p in shown)
    config = getattr(model, "config", None)
    built = type(model).__name__ + ("" if config is None else f"({config})")
    return CheckpointError(f"the weights in {source} do not fit {built}:\n{lines}\n{hint}")


def first_non_finite(state_dict: Mapping[str, object]) -> tuple[str, int, int] | None:
    """The first floating-point tensor of ``state_dict`` (in its order) holding NaN or inf, or ``None``.

    Returns:
        ``(key, number of non-finite values, number of values)`` of that tensor, or ``None`` when every
        floating-point tensor is finite (other entries are not looked at).

    Examples:
        >>> import torch
        >>> first_non_finite({"a": torch.zeros(2), "b": torch.tensor([1.0, float("nan"), float("inf")])})
        ('b', 2, 3)
        >>> first_non_finite({"a": torch.zeros(2)}) is None
        True
    """
    for key, value in state_dict.items():
        if isinstance(value, Tensor) and value.is_floating_point():
            finite = torch.isfinite(value.detach())
            if not bool(finite.all()):
                return key, int(finite.numel() - int(finite.sum())), int(finite.numel())
    return None


def check_finite_weights(state_dict: Mapping[str, object], *, source: str) -> None:
    """Raise a :class:`CheckpointError` naming ``source`` and the first tensor holding NaN or inf.

    A network with a single NaN weight outputs NaN everywhere (a black image), so such weights are refused
    when they are loaded instead of giving a silently wrong result.

    Examples:
        >>> import torch
        >>> check_finite_weights({"w": torch.tensor([0.0, float("inf")])}, source="x.pth")
        Traceback (most recent call last):
        ...
        ganimation_lib.models.pretrained.CheckpointError: the weights in x.pth are not finite: w holds 1 NaN/inf \
value(s) of 2 (the first such tensor); a model with them outputs NaN (black images). The run that wrote them \
had diverged: use an earlier checkpoint or retrain
    """
    bad = first_non_finite(state_dict)
    if bad is not None:
        name, count, total = bad
        raise CheckpointError(
            f"the weights in {source} are not finite: {name} holds {count} NaN/inf value(s) of {total} (the first "
            "such tensor); a model with them outputs NaN (black images). The run that wrote them had diverged: "
            "use an earlier checkpoint or retrain"
        )


def load_state_dict_checked(
    model: nn.Module,
    state_dict: Mapping[str, object],
    *,
    source: str,
    hint: str = "the weights were saved for a different architecture or sizes",
) -> None:
    """Load ``state_dict`` into ``model`` strictly, as float32, raising a readable :class:`CheckpointError`.

    ``model`` may live on the ``meta`` device (then its tensors are replaced by the loaded ones). Unlike
    ``load_state_dict``, a mismatch is reported key by key ("missing", "unexpected", "wrong shape") with
    ``source`` and ``hint`` in the message, never as a raw traceback; NaN/inf values are refused too
    (:func:`check_finite_weights`).

    Examples:
        >>> import torch
        >>> load_state_dict_checked(torch.nn.Linear(2, 3), {"weight": torch.zeros(3, 2)}, source="demo")
        Traceback (most recent call last):
        ...
        ganimation_lib.models.pretrained.CheckpointError: the weights in demo do not fit Linear:
          - missing: bias (expected shape (3,))
        the weights were saved for a different architecture or sizes
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = state_dict_mismatches(expected, state_dict)
    if problems:
        raise _mismatch_error(source, model, problems, hint)
    check_finite_weights(state_dict, source=source)
    on_meta = any(p.is_meta for p in model.parameters())
    converted = {k: v.detach().to(torch.float32) for k, v in state_dict.items() if isinstance(v, Tensor)}
    model.load_state_dict(converted, strict=True, assign=on_meta)


def write_pretrained(
    directory: str | os.PathLike[str],
    config: AnyConfig,
    state_dict: Mapping[str, Tensor],
    *,
    au_names: Sequence[str] | None = None,
) -> Path:
    """Write a saved-model directory from a ``config`` and a matching ``state_dict`` (our key names).

    This is what :func:`save_pretrained` does with a live model; a trainer can call it directly with the
    state dict it keeps (an EMA copy, say). Tensors are stored as contiguous float32 on CPU. If
    ``directory`` does not exist it appears in one ``os.replace``; if it does, ``model.safetensors`` and
    ``config.json`` are each replaced atomically (other files in it are left alone), and the shared
    save id makes a half-finished overwrite detectable on load.

    Args:
        directory: The directory to write (created with its parents if needed).
        config: A :class:`GeneratorConfig` or :class:`CriticConfig`.
        state_dict: Weights whose keys and shapes match ``Generator(config)`` / ``Critic(config)``.
        au_names: One name per AU; ``None`` means the 17 OpenFace AUs when ``num_aus == 17``, else unknown.

    Returns:
        The directory.

    Raises:
        CheckpointError: when ``state_dict`` does not fit ``config`` (key by key).
        FileExistsError: when ``directory`` exists and is not a directory.
        OutputWriteError: when the disk is full or the folder is not writable (an ``OSError`` naming the
            path and the cause; a model already in ``directory`` is left as it was).
    """
    model_class = _model_class_for(config)
    names = _resolve_au_names(au_names, config.num_aus)
    meta = build_on_meta(config)
    problems = state_dict_mismatches({k: tuple(v.shape) for k, v in meta.state_dict().items()}, state_dict)
    if problems:
        raise _mismatch_error("the state dict", meta, problems, "save the state dict of a model built from config")
    tensors = {k: v.detach().to(device="cpu", dtype=torch.float32).contiguous() for k, v in state_dict.items()}
    save_id = uuid.uuid4().hex
    document = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": model_class,
        "library_version": __version__,
        "au_names": None if names is None else list(names),
        "save_id": save_id,
        "config": config.to_dict(),
    }
    metadata = {"format": "pt", "model_class": model_class, "save_id": save_id, "library_version": __version__}

    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a directory; choose another path for the saved model")
    with writing(target, "the model"):  # a full disk or a read-only folder: the library's error
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(target)
        # A sibling temp dir keeps everything on one file system, so os.replace is a rename.
        staging = target.parent / f".{target.name}.tmp-{save_id[:12]}"
        staging.mkdir()
        try:
            # Not save_file: it creates the file with mode 0600 (see _atomic: one permission policy for all files).
            write_new_file(staging / WEIGHTS_NAME, safetensors_bytes(tensors, metadata=metadata))
            with open(staging / CONFIG_NAME, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            if not target.exists():
                os.replace(staging, target)
            else:
                # Weights first, config last: the config names the save id the weights must carry.
                for name in (WEIGHTS_NAME, CONFIG_NAME):
                    os.replace(staging / name, target / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_stale_staging(target: Path) -> None:
    """Remove the staging folders (``.NAME.tmp-<12 hex>``) a save of ``target`` killed mid-way left behind."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-[0-9a-f]{{12}}$")
    for path in target.parent.iterdir():
        if pattern.match(path.name) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _unwrap(model: object) -> object:
    # DataParallel / DistributedDataParallel keep the network in .module, torch.compile in ._orig_mod;
    # saving the wrapper's state dict would bake their prefixes into the keys. Look in _modules, because
    # torch.compile's wrapper forwards attribute lookups (even .config) to the model it wraps.
    for _ in range(4):
        if not isinstance(model, nn.Module):
            break
        inner = model._modules.get("module", model._modules.get("_orig_mod"))
        if inner is None:
            break
        model = inner
    return model


def save_pretrained(
    model: AnyModel, directory: str | os.PathLike[str], *, au_names: Sequence[str] | None = None
) -> Path:
    """Write ``model`` (a :class:`Generator` or :class:`Critic`) to ``directory``.

    Args:
        model: The model; its ``config`` and ``state_dict()`` are saved (as float32, from any device).
            A ``DistributedDataParallel``/``DataParallel`` or ``torch.compile`` wrapper is unwrapped at run
            time (type checkers see only the two model classes).
        directory: Where to write ``config.json`` and ``model.safetensors``.
        au_names: AU names to record; ``None`` uses ``model.au_names`` if set, else the 17 OpenFace AUs
            when the model takes 17 AUs, else records none.

    Returns:
        The directory.
    """
    inner = _unwrap(model)
    config = getattr(inner, "config", None)
    if not isinstance(inner, nn.Module) or config is None:
        raise TypeError(f"save_pretrained expects a Generator or a Critic, got {type(model).__name__}")
    names = au_names if au_names is not None else getattr(inner, "au_names", None)
    return write_pretrained(directory, config, inner.state_dict(), au_names=names)


def _as_device(map_location: str | torch.device) -> torch.device:
    try:
        return torch.device(map_location)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"map_location={map_location!r} is not a device; use e.g. 'cpu' or 'cuda:0'") from error


def read_pretrained_info(directory: str | os.PathLike[str]) -> PretrainedInfo:
    """Read and check ``config.json`` of a saved-model directory.

    Raises:
        FileNotFoundError: when ``directory`` or its ``config.json`` is missing.
        CheckpointError: when ``config.json`` is corrupt, not ours, or from a newer library version.
    """
    folder = Path(directory)
    if not folder.exists():
        raise FileNotFoundError(
            f"{folder} does not exist; pass a directory written by save_pretrained "
            f"(it holds {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is a file, but a saved model is a directory with {CONFIG_NAME} and {WEIGHTS_NAME}; "
            "to import a .pth checkpoint use ganimation_lib.load_checkpoint (or `ganimation convert`)"
        )
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing, so {folder} is not a complete saved model (it needs {CONFIG_NAME} and "
            f"{WEIGHTS_NAME}); save the model again with save_pretrained"
        )
    document = read_json(path, error=CheckpointError, fix="the file is corrupt: save the model again")
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise CheckpointError(
            f'{path} is not a ganimation_lib model config (it lacks "format": "{_FORMAT}"); '
            "pass a directory written by save_pretrained"
        )
    written_by = str(document.get("library_version", "unknown"))
    newer = f"it was written by ganimation_lib {written_by} and this is {__version__}: upgrade ganimation_lib"
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path} has format_version={version!r}; expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses format_version {version}, newer than the {FORMAT_VERSION} this library reads; {newer}"
        )
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise CheckpointError(f"{path} has unknown entries {unknown}; {newer}")
    model_class = document.get("model_class")
    if model_class not in _MODEL_CLASSES:
        raise CheckpointError(f"{path} has model_class={model_class!r}; expected one of {list(_MODEL_CLASSES)}")
    _, config_cls = _model_classes()[model_class]
    try:
        config = config_cls.from_dict(document.get("config"))
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path}: {error} (written by ganimation_lib {written_by}; this is {__version__})"
        ) from error
    raw_names = document.get("au_names")
    try:
        names = None if raw_names is None else _resolve_au_names(raw_names, config.num_aus)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from error
    save_id = document.get("save_id")
    return PretrainedInfo(
        model_class=model_class,
        config=config,
        library_version=written_by,
        au_names=names,
        save_id=save_id if isinstance(save_id, str) else None,
    )


def from_pretrained(directory: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> AnyModel:
    """Rebuild the :class:`Generator` or :class:`Critic` saved in ``directory``, in float32 and eval mode.

    No random initialisation happens (the model is built on the ``meta`` device and the weights are
    assigned), so loading neither costs time nor moves the global RNG.

    Args:
        directory: A directory written by :func:`save_pretrained` / :func:`write_pretrained`.
        map_location: Device to put the model on.

    Raises:
        FileNotFoundError: when the directory, ``config.json`` or ``model.safetensors`` is missing.
        CheckpointError: when a file is corrupt, comes from a newer library version, the weights do not
            fit the config, or a weight is NaN/inf (the message names the first such tensor).
    """
    device = _as_device(map_location)
    info = read_pretrained_info(directory)
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing, so {directory} is not a complete saved model; save the model again"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} cannot be read as safetensors ({error}); the file is corrupt or truncated: save the model again"
        ) from error
    stored_id = metadata.get("save_id")
    if info.save_id is not None and stored_id is not None and stored_id != info.save_id:
        raise CheckpointError(
            f"{CONFIG_NAME} and {WEIGHTS_NAME} in {directory} come from different saves (save ids "
            f"{info.save_id[:8]} and {stored_id[:8]}), e.g. an interrupted overwrite; save the model again"
        )
    model = build_on_meta(info.config)
    load_state_dict_checked(
        model,
        tensors,
        source=str(path),
        hint=f"{CONFIG_NAME} describes another architecture than the weights; save the model again",
    )
    model = model.to(device).eval()
    model.au_names = info.au_names
    return model
