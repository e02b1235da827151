"""Shared behaviour of the frozen model configs: dict round trip, bounded fields and safe JSON reading.

Every field of a config is bounded to what the architecture can build (a ``config.json`` is data from
anywhere: ``conv_dim`` 10**30 or ``image_size`` 400000 must be a clear error naming the field, not a
``TypeError`` from ``torch.empty`` or a 1.9 TB allocation). The limits:

* ``image_size`` up to :data:`MAX_IMAGE_SIZE` (2048 px);
* ``conv_dim`` (and the regressor's ``width``) up to :data:`MAX_CONV_DIM` (1024 channels);
* ``num_residual_blocks`` up to :data:`MAX_RESIDUAL_BLOCKS` (64); ``num_aus`` up to :data:`MAX_NUM_AUS` (128);
* kernel sizes up to :data:`MAX_KERNEL_SIZE` (7); a critic's ``depth`` up to 11 (2048 = 2**11).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, TypeVar

from typing_extensions import Self

__all__ = [
    "MAX_CONV_DIM",
    "MAX_IMAGE_SIZE",
    "MAX_KERNEL_SIZE",
    "MAX_NUM_AUS",
    "MAX_RESIDUAL_BLOCKS",
    "ConfigMixin",
    "check_bool",
    "check_choice",
    "check_int_range",
    "check_positive_int",
    "is_finite_number",
    "read_json",
    "short_repr",
]

#: The largest image side a config may describe (px).
MAX_IMAGE_SIZE = 2048
#: The most channels of a network's first convolution.
MAX_CONV_DIM = 1024
#: The most residual blocks of a generator's bottleneck.
MAX_RESIDUAL_BLOCKS = 64
#: The longest AU vector (OpenFace measures 17; FACS defines a few dozen).
MAX_NUM_AUS = 128
#: The largest convolution kernel a config may ask for.
MAX_KERNEL_SIZE = 7

_T = TypeVar("_T")


class ConfigMixin:
    """Mixin for frozen config dataclasses: ``to_dict``, ``from_dict`` and ``replace``.

    ``from_dict`` refuses unknown keys by name instead of silently dropping them: a config written by a
    newer library version may describe a model this version cannot build.
    """

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build the config from ``data``; unknown keys raise a ``ValueError`` that names them."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no field(s) {unknown}: the config was probably written by a newer "
                f"version of ganimation_lib; upgrade the library (known fields: {sorted(names)})"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> Self:
        """Return a copy with ``changes`` applied (validated like a new config)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)``, shortened to ``limit`` characters (a 4,000-digit number in a message helps nobody).

    Examples:
        >>> short_repr(10**50)
        '1000000000000000000000000000000000000...(51 characters)'
    """
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        return f"an integer of more than {limit} digits"
    return text if len(text) <= limit else f"{text[: limit - 3]}...({len(text)} characters)"


def is_finite_number(value: object) -> bool:
    """True for an ``int``/``float`` (not a bool) that is finite as a float (a huge int is not).

    Examples:
        >>> is_finite_number(1.5), is_finite_number(float("inf")), is_finite_number(10**400), is_finite_number(True)
        (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_positive_int(owner: str, name: str, value: object) -> None:
    """Raise a ``ValueError`` unless ``value`` is a positive ``int``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}.{name}={short_repr(value)} must be a positive integer")


def check_int_range(owner: str, name: str, value: object, minimum: int, maximum: int) -> None:
    """Raise a ``ValueError`` naming the field unless ``value`` is an ``int`` in ``[minimum, maximum]``.

    Examples:
        >>> check_int_range("GeneratorConfig", "conv_dim", 10**30, 1, MAX_CONV_DIM)
        Traceback (most recent call last):
        ...
        ValueError: GeneratorConfig.conv_dim=1000000000000000000000000000000 must be an integer from 1 to 1024
    """
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ValueError(f"{owner}.{name}={short_repr(value)} must be an integer from {minimum} to {maximum}")


def check_bool(owner: str, name: str, value: object) -> None:
    """Raise a ``ValueError`` unless ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner}.{name}={short_repr(value)} must be true or false")


def read_json(path: str | Path, *, error: type[ValueError] = ValueError, fix: str = "") -> Any:
    """Read the JSON file ``path``; a file that is not JSON raises ``error`` naming the file.

    Covers what ``json.loads`` raises for hostile input: invalid JSON, bytes that are not UTF-8, numbers
    beyond Python's digit limit (``ValueError``), and nesting deep enough to exhaust the stack
    (``RecursionError``).

    Args:
        path: The file.
        error: The exception class to raise (a ``ValueError`` subclass, e.g. ``CheckpointError``).
        fix: What to do about it, appended to the message.

    Raises:
        FileNotFoundError: when ``path`` does not exist (as ``open`` raises it).

    Examples:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "config.json"
        >>> _ = bad.write_text("[" * 100_000)
        >>> read_json(bad)
        Traceback (most recent call last):
        ...
        ValueError: .../config.json is not valid JSON (nested too deeply)
    """
    file = Path(path)
    text = file.read_bytes()
    try:
        return json.loads(text.decode("utf-8"))
    except RecursionError:
        reason = "nested too deeply"
    except UnicodeDecodeError as problem:
        reason = f"not UTF-8 text: {problem.reason} at byte {problem.start}"
    except ValueError as problem:  # json.JSONDecodeError, or an integer beyond the digit limit
        digits = "integer string conversion" in str(problem)
        reason = "a number with thousands of digits" if digits else short_repr(str(problem), 160).strip("'\"")
    raise error(f"{file} is not valid JSON ({reason}){'; ' + fix if fix else ''}")


def check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise a ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}.{name}={value!r} is not supported; use one of {list(choices)}")
