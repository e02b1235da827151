"""Shared behaviour of the frozen model configs: dict round trip with clear errors."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from typing_extensions import Self

__all__ = ["ConfigMixin"]

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


def check_positive_int(owner: str, name: str, value: object) -> None:
    """Raise a ``ValueError`` unless ``value`` is a positive ``int``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}.{name}={value!r} must be a positive integer")


def check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise a ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}.{name}={value!r} is not supported; use one of {list(choices)}")
