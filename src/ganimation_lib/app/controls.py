"""The editor's controls as plain data: one slider per AU, the expression presets, and the ``--au`` text.

The sliders hold **raw** OpenFace intensities (0-5), as ``ganimation edit --au`` and OpenFace's CSVs do; the
generator takes them divided by `AU_SCALE` ([`au_vector`][ganimation_lib.app.controls.au_vector]). Nothing here
imports Gradio: the page ([`ganimation_lib.app.page`][ganimation_lib.app.page]) only lays these out.

Examples:
    >>> from ganimation_lib.aus import AU_NAMES
    >>> au_sliders(AU_NAMES)[8].label
    'AU12 · lip corner puller'
    >>> values = preset_values("happy", 1.0, AU_NAMES)
    >>> au_argument(values, AU_NAMES)
    '--au AU06=2.5,AU12=3.5,AU25=1.5'
    >>> round(float(au_vector(values, AU_NAMES)[8]), 4)  # AU12: 3.5 / 5
    0.7
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..aus import AU_DESCRIPTIONS, AU_SCALE, EXPRESSIONS, check_au_names
from ..inference.expression_targets import Expression

__all__ = [
    "INTENSITY_MAX",
    "SLIDER_STEP",
    "AUSlider",
    "au_argument",
    "au_sliders",
    "au_vector",
    "preset_values",
]

#: Resolution of the AU sliders (raw scale).
SLIDER_STEP = 0.05
#: The intensity slider's maximum: the strongest preset AU (3.5) then stays within the sliders' 0-5.
INTENSITY_MAX = 1.4


@dataclass(frozen=True)
class AUSlider:
    """One AU's slider.

    Attributes:
        name: The AU (``"AU12"``), as ``--au`` names it.
        description: Its FACS name (``"lip corner puller"``); empty for an AU without one.
        maximum: The slider's top, on the raw OpenFace scale.
    """

    name: str
    description: str
    maximum: float = AU_SCALE

    @property
    def label(self) -> str:
        """``"AU12 · lip corner puller"`` (the name alone without a description)."""
        return f"{self.name} · {self.description}" if self.description else self.name


def au_sliders(au_names: Sequence[str]) -> list[AUSlider]:
    """One slider per AU of the model, in the order of its AU vector.

    Raises:
        ValueError: For a name that is not an AU or a repeated one.
    """
    return [AUSlider(name, AU_DESCRIPTIONS.get(name, "")) for name in check_au_names(au_names)]


def _snap(value: float) -> float:
    """``value`` on the sliders' grid, clamped to 0-5."""
    return round(min(max(value, 0.0), AU_SCALE) / SLIDER_STEP) * SLIDER_STEP


def preset_values(expression: str, intensity: float, au_names: Sequence[str]) -> list[float]:
    """The raw slider values of an expression preset at ``intensity`` (0 neutral, 1 the preset).

    Values are snapped to the sliders' step and clamped to 0-5, so they are exactly what the sliders show.

    Raises:
        ValueError: For an unknown preset, or an intensity that is negative or too strong for the preset.

    Examples:
        >>> preset_values("surprise", 0.5, ["AU01", "AU12"])
        [1.75, 0.0]
    """
    if expression.strip().lower() not in EXPRESSIONS:
        raise ValueError(f"unknown expression {expression!r}; choose one of {list(EXPRESSIONS)}")
    vector = Expression(expression, float(intensity)).aus(check_au_names(au_names)) * AU_SCALE
    return [round(_snap(float(v)), 2) for v in vector]


def _checked(values: Sequence[float], au_names: Sequence[str]) -> list[float]:
    names = check_au_names(au_names)
    if len(values) != len(names):
        raise ValueError(f"got {len(values)} AU values for {len(names)} AUs ({', '.join(names)})")
    checked = []
    for name, value in zip(names, values, strict=True):
        number = float(value)
        if not math.isfinite(number) or not 0 <= number <= AU_SCALE:
            raise ValueError(f"{name}={value!r} is outside the OpenFace scale 0-{AU_SCALE:g}")
        checked.append(number)
    return checked


def au_vector(values: Sequence[float], au_names: Sequence[str]) -> Tensor:
    """The generator's target: the raw slider values divided by `AU_SCALE`, as a float32 vector.

    Raises:
        ValueError: When the count does not match ``au_names`` or a value is not in 0-5.
    """
    return torch.tensor(_checked(values, au_names), dtype=torch.float32) / AU_SCALE


def au_argument(values: Sequence[float], au_names: Sequence[str]) -> str:
    """The slider values as ``ganimation edit`` takes them: ``--au AU06=2.5,AU12=3.5``.

    AUs at 0 are left out (``--au`` alone starts from neutral); when every AU is 0 the first one is written
    as ``=0``, so the text is still a valid, neutral ``--au``.

    Raises:
        ValueError: When the count does not match ``au_names`` or a value is not in 0-5.

    Examples:
        >>> au_argument([0.0, 0.0], ["AU01", "AU02"]), au_argument([1.25, 0.1], ["AU01", "AU02"])
        ('--au AU01=0', '--au AU01=1.25,AU02=0.1')
    """
    names = check_au_names(au_names)
    checked = _checked(values, names)
    parts = [f"{name}={round(value, 2):g}" for name, value in zip(names, checked, strict=True) if value != 0]
    return "--au " + ",".join(parts or [f"{names[0]}=0"])
