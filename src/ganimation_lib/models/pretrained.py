"""Save and load models as a directory: ``config.json`` (what to build) + ``model.safetensors`` (weights).

The config a model was constructed with *is* the saved config, so loading rebuilds exactly the same
architecture, in float32, on CPU (or ``map_location``), and never runs code from the files: JSON and
safetensors cannot carry any. Both files are written atomically and tagged with a shared save id, so a
crash can never leave a directory whose weights and config silently disagree.

Any model class gets this by mixing in [`PretrainedMixin`][ganimation_lib.models.pretrained.PretrainedMixin] and naming
its config class (``config_class``); this module knows no model by name. Loading "whichever model a folder holds" needs
the list of models, so it lives with the converters
([`ganimation_lib.models.convert.from_pretrained`][ganimation_lib.models.convert.from_pretrained]).

``config.json`` looks like:

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torch
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn
from typing_extensions import Self

from ..atomic_files import write_new_file
from ..config_mixin import ConfigMixin
from ..errors import writing
from ..face_layout import CanonicalFace
from ..version import __version__
from .config_json import CONFIG_NAME as CONFIG_NAME
from .config_json import FORMAT_VERSION as FORMAT_VERSION
from .config_json import WEIGHTS_NAME as WEIGHTS_NAME
from .config_json import PretrainedInfo as PretrainedInfo
from .config_json import config_document, read_config_json
from .safe_load import CheckpointError as CheckpointError
from .safe_load import read_safetensors
from .unwrap import unwrap_model
from .weights import check_finite_weights as check_finite_weights
from .weights import first_non_finite as first_non_finite
from .weights import load_state_dict_checked as load_state_dict_checked
from .weights import mismatch_error
from .weights import state_dict_mismatches as state_dict_mismatches

# CheckpointError, the names and the weight checks are re-exported: callers import them from here.
__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "CheckpointError",
    "PretrainedInfo",
    "PretrainedMixin",
    "as_device",
    "check_finite_weights",
    "first_non_finite",
    "load_pretrained",
    "load_state_dict_checked",
    "save_pretrained",
    "state_dict_mismatches",
]

_Model = TypeVar("_Model", bound="PretrainedMixin")


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` built from one config dataclass.

    A model mixes it in after ``nn.Module``, sets ``config_class`` and takes that config in ``__init__``
    (and keeps it as ``self.config``). The class that sets ``config_class`` is the ``model_class`` recorded in
    ``config.json``, so a user's subclass of [`Generator`][ganimation_lib.models.generator.Generator] is checked and
    saved as the Generator it extends.

    Attributes:
        config_class: The config dataclass the model is built from.
        au_names: Names of the AUs this model's AU vector holds, in order, or ``None`` (unknown).
            [`from_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.from_pretrained] sets it from
            ``config.json``; [`save_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.save_pretrained]
            writes it.
        face_crop: Where the face sat in the crops the model was trained on (a
            [`CanonicalFace`][ganimation_lib.face_layout.CanonicalFace]), or ``None`` (not recorded: the default
            [`CANONICAL_FACE`][ganimation_lib.face_layout.CANONICAL_FACE], the official crops' layout). Saved and
            loaded like ``au_names``; editing a photo aligns its faces to it.

    Examples:
        >>> from dataclasses import dataclass
        >>> from torch import nn
        >>> from ganimation_lib.config_mixin import ConfigMixin
        >>> @dataclass(frozen=True)
        ... class TinyConfig(ConfigMixin):
        ...     num_aus: int = 2
        >>> class Tiny(nn.Module, PretrainedMixin):
        ...     config_class = TinyConfig
        ...     def __init__(self, config: TinyConfig) -> None:
        ...         super().__init__()
        ...         self.config, self.head = config, nn.Linear(3, config.num_aus)
        >>> import tempfile
        >>> Tiny.from_pretrained(Tiny(TinyConfig()).save_pretrained(tempfile.mkdtemp() + "/t")).config
        TinyConfig(num_aus=2)
    """

    config_class: ClassVar[type[ConfigMixin]]
    au_names: tuple[str, ...] | None = None
    face_crop: CanonicalFace | None = None

    if TYPE_CHECKING:

        def __init__(self, config: Any, /) -> None: ...

    @classmethod
    def saved_class(cls) -> type[PretrainedMixin]:
        """The class whose name ``config.json`` records: the first in the MRO that sets ``config_class``."""
        return next(k for k in cls.__mro__ if "config_class" in vars(k))

    @classmethod
    def build_on_meta(cls, config: Any) -> Self:
        """Build the model for ``config`` on the ``meta`` device: shapes without memory or RNG use."""
        with torch.device("meta"):
            return cls(config)

    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        *,
        au_names: Sequence[str] | None = None,
        face_crop: CanonicalFace | None = None,
    ) -> Path:
        """Write this model to ``directory`` (see [`save_pretrained`][ganimation_lib.models.pretrained.save_pretrained])
        and return its path."""
        return save_pretrained(self, directory, au_names=au_names, face_crop=face_crop)

    @classmethod
    def write_pretrained(
        cls,
        directory: str | os.PathLike[str],
        config: Any,
        state_dict: Mapping[str, Tensor],
        *,
        au_names: Sequence[str] | None = None,
        face_crop: CanonicalFace | None = None,
    ) -> Path:
        """Write a saved-model directory from a ``config`` and a matching ``state_dict`` (our key names).

        This is what [`save_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.save_pretrained] does with a
        live model; a trainer can call it directly with the state dict it keeps (an EMA copy, say). Tensors are stored
        as contiguous float32 on CPU. If ``directory`` does not exist it appears in one ``os.replace``; if it does,
        ``model.safetensors`` and ``config.json`` are each replaced atomically (other files in it are left alone), and
        the shared save id makes a half-finished overwrite detectable on load.

        Args:
            directory: The directory to write (created with its parents if needed).
            config: An instance of ``config_class``.
            state_dict: Weights whose keys and shapes match a model built from ``config``.
            au_names: One name per AU; ``None`` means the 17 OpenFace AUs when ``num_aus == 17``, else unknown.
            face_crop: The layout of the training crops to record; ``None`` records none.

        Returns:
            The directory.

        Raises:
            CheckpointError: when ``state_dict`` does not fit ``config`` (key by key).
            FileExistsError: when ``directory`` exists and is not a directory.
            OutputWriteError: when the disk is full or the folder is not writable (an ``OSError`` naming the
                path and the cause; a model already in ``directory`` is left as it was).
        """
        owner = cls.saved_class()
        if not isinstance(config, owner.config_class):
            raise TypeError(f"config must be a {owner.config_class.__name__}, got {type(config).__name__}")
        save_id = uuid.uuid4().hex
        document = config_document(owner.__name__, config, au_names=au_names, save_id=save_id, face_crop=face_crop)
        meta: Any = owner.build_on_meta(config)
        problems = state_dict_mismatches({k: tuple(v.shape) for k, v in meta.state_dict().items()}, state_dict)
        if problems:
            raise mismatch_error("the state dict", meta, problems, "save the state dict of a model built from config")
        tensors = {k: v.detach().to(device="cpu", dtype=torch.float32).contiguous() for k, v in state_dict.items()}
        metadata = {"format": "pt", "model_class": owner.__name__, "save_id": save_id, "library_version": __version__}
        return _write_directory(Path(directory), safetensors_bytes(tensors, metadata=metadata), document)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Self:
        """Rebuild the model saved in ``directory``, in float32 and eval mode.

        No random initialisation happens (the model is built on the ``meta`` device and the weights are
        assigned), so loading neither costs time nor moves the global RNG.

        Args:
            directory: A directory written by
                [`save_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.save_pretrained] /
                [`write_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.write_pretrained].
            map_location: Device to put the model on.

        Raises:
            FileNotFoundError: when the directory, ``config.json`` or ``model.safetensors`` is missing.
            CheckpointError: when a file is corrupt, comes from a newer library version, holds another kind
                of model, the weights do not fit the config, or a weight is NaN/inf (the message names the
                first such tensor).
        """
        as_device(map_location)  # a bad device fails before anything is read
        info = read_config_json(directory, {cls.__name__: cls.config_class})
        return load_pretrained(cls, directory, info, map_location=map_location)


def load_pretrained(
    model_cls: type[_Model],
    directory: str | os.PathLike[str],
    info: PretrainedInfo,
    *,
    map_location: str | torch.device = "cpu",
) -> _Model:
    """Build ``model_cls`` from ``info`` (what ``read_config_json`` read) and load the folder's weights.

    This is [`PretrainedMixin.from_pretrained`][ganimation_lib.models.pretrained.PretrainedMixin.from_pretrained] once
    the class is known; see it for the errors.
    """
    device = as_device(map_location)
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing, so {directory} is not a complete saved model; save the model again"
        )
    tensors, metadata = read_safetensors(path, fix="the file is corrupt or truncated: save the model again")
    stored_id = metadata.get("save_id")
    if info.save_id is not None and stored_id is not None and stored_id != info.save_id:
        raise CheckpointError(
            f"{CONFIG_NAME} and {WEIGHTS_NAME} in {directory} come from different saves (save ids "
            f"{info.save_id[:8]} and {stored_id[:8]}), e.g. an interrupted overwrite; save the model again"
        )
    model = model_cls.build_on_meta(info.config)
    module: object = model  # the same object, seen as the nn.Module the mixin is used with
    if not isinstance(module, nn.Module):
        raise TypeError(f"{model_cls.__name__} mixes in PretrainedMixin but is not an nn.Module")
    hint = f"{CONFIG_NAME} describes another architecture than the weights; save the model again"
    load_state_dict_checked(module, tensors, source=str(path), hint=hint)
    module.to(device).eval()
    model.au_names = info.au_names
    model.face_crop = info.face_crop
    return model


def _write_directory(target: Path, weights: bytes, document: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` then ``config.json`` into ``target``, each file atomically."""
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a directory; choose another path for the saved model")
    with writing(target, "the model"):  # a full disk or a read-only folder: the library's error
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(target)
        # A sibling temp dir keeps everything on one file system, so os.replace is a rename.
        staging = target.parent / f".{target.name}.tmp-{document['save_id'][:12]}"
        staging.mkdir()
        try:
            # Not save_file: it creates the file with mode 0600 (see atomic_files: one permission policy for all files).
            write_new_file(staging / WEIGHTS_NAME, weights)
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


def save_pretrained(
    model: PretrainedMixin,
    directory: str | os.PathLike[str],
    *,
    au_names: Sequence[str] | None = None,
    face_crop: CanonicalFace | None = None,
) -> Path:
    """Write ``model`` (a [`Generator`][ganimation_lib.models.generator.Generator], a
    [`Critic`][ganimation_lib.models.critic.Critic], any model with
    [`PretrainedMixin`][ganimation_lib.models.pretrained.PretrainedMixin]).

    Args:
        model: The model; its ``config`` and ``state_dict()`` are saved (as float32, from any device).
            A ``DistributedDataParallel``/``DataParallel`` or ``torch.compile`` wrapper is unwrapped at run
            time (type checkers see only models with
            [`PretrainedMixin`][ganimation_lib.models.pretrained.PretrainedMixin]).
        directory: Where to write ``config.json`` and ``model.safetensors``.
        au_names: AU names to record; ``None`` uses ``model.au_names`` if set, else the 17 OpenFace AUs
            when the model takes 17 AUs, else records none.
        face_crop: The training crops' layout to record; ``None`` uses ``model.face_crop`` (recorded when set).

    Returns:
        The directory.
    """
    inner: object = unwrap_model(model) if isinstance(model, nn.Module) else model
    config = getattr(inner, "config", None)
    if not isinstance(inner, nn.Module) or not isinstance(inner, PretrainedMixin) or config is None:
        raise TypeError(f"save_pretrained expects a Generator or a Critic, got {type(model).__name__}")
    names = au_names if au_names is not None else inner.au_names
    crop = face_crop if face_crop is not None else inner.face_crop
    return type(inner).write_pretrained(directory, config, inner.state_dict(), au_names=names, face_crop=crop)


def as_device(map_location: str | torch.device) -> torch.device:
    """``torch.device(map_location)``, or a ``ValueError`` that names the value and shows a valid one.

    Examples:
        >>> as_device("cpu")
        device(type='cpu')
    """
    try:
        return torch.device(map_location)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"map_location={map_location!r} is not a device; use e.g. 'cpu' or 'cuda:0'") from error
