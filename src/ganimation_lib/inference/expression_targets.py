"""Target expressions: AU vectors, ``{AU: intensity}`` dicts and presets, keyframe paths and smoothing.

A **target** says what expression to animate a face towards. It can be

* an AU vector (tensor, array or list) on the **normalised** scale (OpenFace intensity / 5), one value per
  AU of the generator;
* a ``{AU name: intensity}`` dict on the **raw** OpenFace scale (0-5), as in OpenFace output; AUs it does
  not name are taken from the source AUs (the face's own expression; neutral when not given);
* an expression preset from `ganimation_lib.aus.EXPRESSIONS`: a name (``"happy"``, or
  ``"happy:0.8"`` for intensity 0.8) or an [`Expression`][ganimation_lib.inference.expression_targets.Expression].

**Accepted range.** Every AU of a target must be finite and within ``[0, MAX_AU]`` on the normalised
scale, ``MAX_AU = 2.0`` (raw 10, twice OpenFace's maximum of 5). Above 1 is legitimate: GANimation
extrapolates, and presets at intensities above 1 exaggerate an expression (a preset reaches 2.0 at an
intensity of about 2.9). Negative, NaN or infinite values, and values above ``MAX_AU`` (far outside anything
the generator saw in training; usually a raw 0-5 row that was not divided by 5), are refused with a
``ValueError`` naming the value and the maximum. ``{AU: intensity}`` dicts take raw values in [0, 5].

(The targets a *training* item is animated towards are sampled in
[`ganimation_lib.data.target_sampling`][ganimation_lib.data.target_sampling] instead.)

Examples:
    >>> v = resolve_target({"AU12": 5.0}, num_aus=17)
    >>> float(v.max()), int(v.argmax())
    (1.0, 8)
    >>> path = keyframe_path(torch.stack([torch.zeros(2), torch.ones(2)]), frames_per_transition=4)
    >>> path[:, 0].tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

import numpy as np
import torch
from torch import Tensor

from ..aus import AU_NAMES, AU_SCALE, EXPRESSIONS, aus_for, aus_from_dict

#: The largest normalised AU value a target may hold: raw 10, twice OpenFace's maximum (see the module doc).
MAX_AU = 2.0

__all__ = [
    "EASINGS",
    "Easing",
    "Expression",
    "Target",
    "MAX_AU",
    "check_au_range",
    "keyframe_path",
    "parse_au_assignments",
    "resolve_target",
    "resolve_targets",
    "smooth_aus",
]


@dataclass(frozen=True)
class Expression:
    """An expression preset at an intensity.

    Attributes:
        name: One of `ganimation_lib.aus.EXPRESSIONS` (happy, sad, surprise, fear, anger, disgust,
            contempt, neutral).
        intensity: Scale of the preset: 0 is neutral, 1 the preset, above 1 exaggerates it, up to where an
            AU of the preset reaches `MAX_AU` (about 2.9 for the strongest presets).

    Examples:
        >>> Expression.parse("surprise:0.5")
        Expression(name='surprise', intensity=0.5)
    """

    name: str
    intensity: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name.strip().lower() not in EXPRESSIONS:
            raise ValueError(f"unknown expression {self.name!r}; choose one of {list(EXPRESSIONS)}")
        bad = isinstance(self.intensity, bool) or not isinstance(self.intensity, (int, float))
        if bad or not math.isfinite(self.intensity) or self.intensity < 0:
            raise ValueError(f"expression intensity must be a finite number >= 0, got {self.intensity!r}")
        strongest = max(EXPRESSIONS[self.name.strip().lower()].values(), default=0.0) / AU_SCALE
        if strongest * self.intensity > MAX_AU:
            raise ValueError(
                f"expression intensity {self.intensity:g} is too strong for {self.name.strip().lower()!r}: its "
                f"strongest AU would reach {strongest * self.intensity:.3g}, above the maximum {MAX_AU:g} "
                f"(normalised; raw {MAX_AU * AU_SCALE:g}); use an intensity up to {MAX_AU / strongest:.3g}"
            )

    @classmethod
    def parse(cls, text: str, intensity: float = 1.0) -> Expression:
        """Parse ``"happy"`` (at ``intensity``) or ``"happy:0.8"`` (at 0.8)."""
        name, sep, value = text.partition(":")
        if not sep:
            return cls(name.strip(), intensity)
        try:
            parsed = float(value)
        except ValueError:
            raise ValueError(
                f"cannot read the intensity in {text!r}; write a preset as 'happy' or 'happy:0.8'"
            ) from None
        return cls(name.strip(), parsed)

    def aus(self, au_names: Sequence[str] = AU_NAMES) -> Tensor:
        """The preset's normalised AU vector laid out as ``au_names``."""
        return aus_for(self.name, intensity=float(self.intensity), au_names=au_names)


#: Anything [`resolve_target`][ganimation_lib.inference.expression_targets.resolve_target] accepts as one target
#: expression.
Target: TypeAlias = "Tensor | np.ndarray[Any, Any] | Sequence[float] | Mapping[str, float] | str | Expression"

Easing = Literal["linear", "ease"]
#: Interpolation curves for [`keyframe_path`][ganimation_lib.inference.expression_targets.keyframe_path]:
#: ``t -> eased t`` on [0, 1].
EASINGS: Mapping[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda t: t,
    # Cosine ease-in-out: zero velocity at each keyframe, so the face pauses on every expression.
    "ease": lambda t: (1 - torch.cos(math.pi * t)) / 2,
}


def _check_layout(num_aus: int, au_names: Sequence[str], what: str) -> None:
    if len(au_names) != num_aus:
        raise ValueError(
            f"{what} is laid out by {len(au_names)} AU names, but this Generator was built for {num_aus} AUs "
            f"(GeneratorConfig.num_aus); pass au_names= with the model's {num_aus} AU names, or give the "
            "target as a vector of that length"
        )


def _is_vector_like(value: object) -> bool:
    if isinstance(value, (Tensor, np.ndarray)):
        return True
    if isinstance(value, (str, bytes, Mapping, Expression)) or not isinstance(value, Sequence):
        return False
    return len(value) > 0 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _vector(value: Any, num_aus: int, what: str) -> Tensor:
    if isinstance(value, Tensor):
        vector = value.detach().to(device="cpu", dtype=torch.float32)
    else:
        try:
            vector = torch.from_numpy(np.array(value, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{what} must be a vector of {num_aus} numbers, got {value!r}") from error
    if vector.dim() != 1 or vector.numel() != num_aus:
        raise ValueError(
            f"{what} has shape {tuple(vector.shape)}, but this Generator was built for {num_aus} AUs "
            f"(GeneratorConfig.num_aus); give one normalised value (OpenFace intensity / 5) per AU"
        )
    check_au_range(vector, what)
    return vector.clone()


def check_au_range(aus: Tensor, what: str) -> None:
    """Raise a ``ValueError`` unless every value of ``aus`` is finite and in ``[0, MAX_AU]`` (normalised).

    Args:
        aus: Normalised AU values, any shape (a vector, or one row per frame).
        what: How the message names them, e.g. ``"the target AU vector"``.

    Examples:
        >>> check_au_range(torch.tensor([0.0, 1.4, 2.0]), "the target")
        >>> check_au_range(torch.tensor([0.0, 3.5]), "the target")
        Traceback (most recent call last):
        ...
        ValueError: the target has 3.5 (position 1), above the maximum 2 of the normalised scale (OpenFace \
intensity / 5; 2 is raw 10): divide raw OpenFace values by 5, or give them as an {AU: intensity} dict
    """
    flat = aus.detach().reshape(-1).float().cpu()
    if flat.numel() == 0:
        return
    bad = ~torch.isfinite(flat)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(f"{what} contains NaN or infinite values ({flat[i].item()} at position {i}); replace them")
    low, high = int(flat.argmin()), int(flat.argmax())
    if float(flat[low]) < 0:
        raise ValueError(
            f"{what} has {float(flat[low]):.3g} (position {low}): AU intensities cannot be negative (0 = absent)"
        )
    if float(flat[high]) > MAX_AU:
        raise ValueError(
            f"{what} has {float(flat[high]):.3g} (position {high}), above the maximum {MAX_AU:g} of the normalised "
            f"scale (OpenFace intensity / 5; {MAX_AU:g} is raw {MAX_AU * AU_SCALE:g}): divide raw OpenFace values "
            "by 5, or give them as an {AU: intensity} dict"
        )


def resolve_target(
    target: Target,
    num_aus: int,
    *,
    source: Target | None = None,
    au_names: Sequence[str] = AU_NAMES,
) -> Tensor:
    """Turn one target (vector, dict or preset) into a normalised float32 AU vector of length ``num_aus``.

    Args:
        target: The expression to reach, in any form of this module's docstring.
        num_aus: The generator's AU count (``generator.num_aus``).
        source: The face's own AUs (a vector, preset or dict), used for the AUs a dict target does not
            name. ``None`` means neutral (all zeros).
        au_names: The generator's AU layout, needed for dicts and presets (default: the 17 OpenFace AUs).

    Raises:
        ValueError: For an unknown AU name or preset, a vector of the wrong length, a value outside the
            accepted range (negative, not finite, above `MAX_AU`), or a dict/preset target when
            ``au_names`` does not match ``num_aus``.

    Examples:
        >>> v = resolve_target({"AU26": 5.0}, 17, source="happy")  # happy with the jaw dropped
        >>> round(float(v[8]), 2), float(v[15])
        (0.7, 1.0)
        >>> resolve_target([0.5] * 3, 3).tolist()
        [0.5, 0.5, 0.5]
    """
    if isinstance(target, Expression):
        _check_layout(num_aus, au_names, f"the preset {target.name!r}")
        return target.aus(au_names)
    if isinstance(target, str):
        expression = Expression.parse(target)
        _check_layout(num_aus, au_names, f"the preset {expression.name!r}")
        return expression.aus(au_names)
    if isinstance(target, Mapping):
        _check_layout(num_aus, au_names, "an {AU: intensity} target")
        base = None if source is None else resolve_target(source, num_aus, au_names=au_names)
        values: dict[str | int, float] = {key: value for key, value in target.items()}
        return aus_from_dict(values, base=base, au_names=au_names)
    if _is_vector_like(target):
        return _vector(target, num_aus, "the target AU vector")
    raise ValueError(
        f"cannot use {target!r} as a target; give an AU vector, an {{AU: intensity}} dict, "
        f"a preset name such as 'happy' or an Expression"
    )


def resolve_targets(
    targets: Target | Sequence[Target],
    num_aus: int,
    *,
    source: Target | None = None,
    au_names: Sequence[str] = AU_NAMES,
) -> Tensor:
    """Turn one target or a sequence of targets into an (N, num_aus) float32 tensor.

    A 2-D tensor or array is N vectors; a single vector, dict or preset is one target (N = 1); any other
    sequence is a list of targets.

    Examples:
        >>> resolve_targets(["neutral", "happy:0.5", {"AU45": 5}], 17).shape
        torch.Size([3, 17])
        >>> resolve_targets(torch.zeros(4, 2), 2).shape
        torch.Size([4, 2])
    """
    if isinstance(targets, (Tensor, np.ndarray)) and targets.ndim == 2:
        return torch.stack([_vector(row, num_aus, f"target row {i}") for i, row in enumerate(targets)])
    if isinstance(targets, (str, Mapping, Expression)) or _is_vector_like(targets):
        one = cast("Target", targets)
        return resolve_target(one, num_aus, source=source, au_names=au_names)[None]
    if not isinstance(targets, Sequence) or len(targets) == 0:
        raise ValueError(f"targets must be a target or a non-empty sequence of targets, got {targets!r}")
    many = cast("Sequence[Target]", targets)
    return torch.stack([resolve_target(t, num_aus, source=source, au_names=au_names) for t in many])


def keyframe_path(keyframes: Tensor, frames_per_transition: int, easing: Easing = "linear") -> Tensor:
    """Interpolate AU keyframes (K, A) into a path of ``(K - 1) * frames_per_transition + 1`` AU vectors.

    Each transition contributes ``frames_per_transition`` frames starting at its first keyframe; the last
    keyframe closes the path, so the first and last rows are exactly the first and last keyframes.

    Args:
        keyframes: (K, A) AU vectors, K >= 1 (one keyframe gives one frame).
        frames_per_transition: Frames from one keyframe to the next, >= 1.
        easing: ``"linear"`` or ``"ease"`` (cosine ease-in-out: the motion slows into each keyframe).

    Examples:
        >>> [round(v, 3) for v in keyframe_path(torch.tensor([[0.0], [1.0]]), 4, easing="ease").flatten().tolist()]
        [0.0, 0.146, 0.5, 0.854, 1.0]
    """
    if keyframes.dim() != 2 or keyframes.shape[0] < 1:
        raise ValueError(f"keyframes must have shape (K, num_aus) with K >= 1, got {tuple(keyframes.shape)}")
    n = frames_per_transition
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"frames_per_transition must be an integer >= 1, got {n!r}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}; choose one of {list(EASINGS)}")
    t = EASINGS[easing](torch.arange(n, dtype=torch.float32) / n)[:, None]
    steps = [start + t * (end - start) for start, end in itertools.pairwise(keyframes)]
    return torch.cat([*steps, keyframes[-1:]], dim=0)


def smooth_aus(aus: Tensor, window: int) -> Tensor:
    """Smooth an AU sequence (N, A) over time with a centred moving average of ``window`` frames.

    The ends are padded by repeating the first and last rows, so the length is unchanged; ``window`` <= 1
    returns the sequence as it is. Smoothing removes the frame-to-frame jitter of AU detectors.

    Examples:
        >>> smooth_aus(torch.tensor([[0.0], [3.0], [0.0]]), 3).flatten().tolist()
        [1.0, 1.0, 1.0]
    """
    if aus.dim() != 2:
        raise ValueError(f"aus must have shape (frames, num_aus), got {tuple(aus.shape)}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"smoothing window must be an integer >= 0 (frames), got {window!r}")
    if window <= 1 or aus.shape[0] < 2:
        return aus.clone()
    left, right = (window - 1) // 2, window // 2
    padded = torch.cat([aus[:1].expand(left, -1), aus, aus[-1:].expand(right, -1)], dim=0)
    return padded.unfold(0, window, 1).mean(dim=-1)


def parse_au_assignments(items: Sequence[str]) -> dict[str, float]:
    """Parse ``["AU12=3.5", "AU06=2"]`` (also comma-separated) into a raw-intensity dict.

    Examples:
        >>> parse_au_assignments(["AU12=3.5,au6=2"])
        {'AU12': 3.5, 'AU06': 2.0}
    """
    from ..aus import canonical_au_name

    values: dict[str, float] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, raw = part.partition("=")
            if not sep:
                raise ValueError(f"cannot read {part!r}; write AU intensities as AU12=3.5 (raw OpenFace scale 0-5)")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"cannot read the intensity in {part!r}; write it as AU12=3.5") from None
            values[canonical_au_name(name.strip())] = value
    return values
