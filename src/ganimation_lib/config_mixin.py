"""What every frozen config dataclass of the library shares: dict round trip, bounded fields, safe JSON.

The model configs, [`LossWeights`][ganimation_lib.losses.objective.LossWeights] and
[`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] are frozen dataclasses that mix in
[`ConfigMixin`][ganimation_lib.config_mixin.ConfigMixin] and check their fields in ``__post_init__`` with the
``check_*`` helpers below, so that a value read from a ``config.json`` (data from anywhere) fails as a ``ValueError``
naming the field, never later and deeper.

Examples:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Blur(ConfigMixin):
    ...     radius: int = 1
    ...     def __post_init__(self) -> None:
    ...         check_int_range("Blur", "radius", self.radius, 0, 8)
    >>> Blur.from_dict({"radius": 3}).replace(radius=4).to_dict()
    {'radius': 4}
    >>> Blur(radius=99)
    Traceback (most recent call last):
    ...
    ValueError: Blur.radius=99 must be an integer from 0 to 8
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from typing_extensions import Self

__all__ = [
    "ConfigMixin",
    "check_bool",
    "check_choice",
    "check_int_range",
    "check_positive_int",
    "is_finite_number",
    "read_json",
    "short_repr",
]


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
        >>> check_int_range("GeneratorConfig", "conv_dim", 10**30, 1, 1024)
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


def check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise a ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}.{name}={value!r} is not supported; use one of {list(choices)}")


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
