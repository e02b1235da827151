"""``config.json`` of a saved-model directory: the document that says what to build, written and read back.

It names the format and its version, the model class, the library that wrote it, the AU names, the save id
shared with ``model.safetensors`` and the model's config.
[`config_document`][ganimation_lib.models.config_json.config_document] builds it for a save;
[`read_config_json`][ganimation_lib.models.config_json.read_config_json] reads it back with every check a file from
anywhere needs, and knows no model by name: the caller says which model classes (and so which config classes) it can
build.

Examples:
    >>> import json, tempfile, pathlib
    >>> from ganimation_lib import CriticConfig
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> document = config_document("Critic", CriticConfig(image_size=32, depth=4), au_names=None, save_id="0" * 32)
    >>> _ = (folder / CONFIG_NAME).write_text(json.dumps(document))
    >>> info = read_config_json(folder, {"Critic": CriticConfig})
    >>> info.model_class, info.config.depth, info.au_names[:2]
    ('Critic', 4, ('AU01', 'AU02'))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..aus import AU_NAMES
from ..config_mixin import ConfigMixin, read_json
from ..face_layout import CanonicalFace
from ..version import __version__
from .safe_load import CheckpointError

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "PretrainedInfo",
    "config_document",
    "read_config_json",
    "resolve_au_names",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Bumped when config.json gains a field whose meaning an older library could not honour.
FORMAT_VERSION = 1
_FORMAT = "ganimation_lib.pretrained"
_TOP_LEVEL_KEYS = frozenset(
    {"format", "format_version", "model_class", "library_version", "au_names", "face_crop", "save_id", "config"}
)


@dataclass(frozen=True)
class PretrainedInfo:
    """What ``config.json`` of a saved-model directory says (read without touching the weights).

    Attributes:
        model_class: The saved model's class name, e.g. ``"Generator"`` or ``"Critic"``.
        config: The config the model was built with (an instance of that class's ``config_class``).
        library_version: The ganimation_lib version that wrote the directory.
        au_names: Names of the AUs, in the order of the model's AU vector; ``None`` when not recorded.
        save_id: Random id shared by ``config.json`` and ``model.safetensors`` of one save.
        face_crop: Where the face sat in the crops the model was trained on, when recorded (``None``: not
            recorded; alignment then uses [`CANONICAL_FACE`][ganimation_lib.face_layout.CANONICAL_FACE]).
    """

    model_class: str
    config: Any
    library_version: str
    au_names: tuple[str, ...] | None
    save_id: str | None
    face_crop: CanonicalFace | None = None


def resolve_au_names(au_names: Sequence[str] | None, num_aus: int) -> tuple[str, ...] | None:
    """Check the AU names to record for a model taking ``num_aus`` AUs; ``None`` means the default.

    Raises:
        ValueError: when the names are not distinct non-empty strings, one per AU.

    Examples:
        >>> resolve_au_names(None, 17)[:2], resolve_au_names(None, 5), resolve_au_names(["AU06", "AU12"], 2)
        (('AU01', 'AU02'), None, ('AU06', 'AU12'))
    """
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


def config_document(
    model_class: str,
    config: ConfigMixin,
    *,
    au_names: Sequence[str] | None,
    save_id: str,
    face_crop: CanonicalFace | None = None,
) -> dict[str, Any]:
    """The ``config.json`` document of one save (``au_names`` checked with
    [`resolve_au_names`][ganimation_lib.models.config_json.resolve_au_names]; ``face_crop`` recorded when given)."""
    names = resolve_au_names(au_names, config.num_aus)  # type: ignore[attr-defined]
    if face_crop is not None and not isinstance(face_crop, CanonicalFace):
        raise TypeError(
            f"face_crop must be a CanonicalFace (ganimation_lib.faces.align), got {type(face_crop).__name__}"
        )
    document: dict[str, Any] = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": model_class,
        "library_version": __version__,
        "au_names": None if names is None else list(names),
        "save_id": save_id,
        "config": config.to_dict(),
    }
    if face_crop is not None:  # absent when not recorded, so files stay readable by libraries before it
        document["face_crop"] = face_crop.to_dict()
    return document


def _a(name: str) -> str:
    return f"{'an' if name[:1].upper() in 'AEIOU' else 'a'} {name}"


def read_config_json(
    directory: str | os.PathLike[str], config_classes: Mapping[str, type[ConfigMixin]]
) -> PretrainedInfo:
    """Read and check ``config.json`` of a saved-model directory.

    Args:
        directory: A directory written by ``save_pretrained``.
        config_classes: The config class of each model class the caller can build, by class name
            (``{"Generator": GeneratorConfig}``); a folder holding another model is refused.

    Raises:
        FileNotFoundError: when ``directory`` or its ``config.json`` is missing.
        CheckpointError: when ``config.json`` is corrupt, not ours, from a newer library version, or names
            another model class.
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
    if not isinstance(model_class, str) or model_class not in config_classes:
        if len(config_classes) == 1 and isinstance(model_class, str) and model_class:
            # A loader of one class (Generator.from_pretrained) was given another model's folder.
            wanted = next(iter(config_classes))
            raise CheckpointError(
                f"{folder} holds {_a(model_class)}, not {_a(wanted)}; use {model_class}.from_pretrained, or pass "
                f"a folder written by {wanted}.save_pretrained"
            )
        raise CheckpointError(f"{path} has model_class={model_class!r}; expected one of {list(config_classes)}")
    try:
        config = config_classes[model_class].from_dict(document.get("config"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path}: {error} (written by ganimation_lib {written_by}; this is {__version__})"
        ) from error
    raw_names = document.get("au_names")
    try:
        names = None if raw_names is None else resolve_au_names(raw_names, config.num_aus)  # type: ignore[attr-defined]
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from error
    raw_crop = document.get("face_crop")
    try:
        face_crop = None if raw_crop is None else CanonicalFace.from_dict(raw_crop)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from error
    save_id = document.get("save_id")
    return PretrainedInfo(
        model_class=model_class,
        config=config,
        library_version=written_by,
        au_names=names,
        save_id=save_id if isinstance(save_id, str) else None,
        face_crop=face_crop,
    )
