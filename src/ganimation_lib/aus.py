"""The Action Unit vocabulary: the 17 OpenFace AUs, their FACS descriptions and named expression presets.

Two scales appear throughout the library, and this module is where they meet:

* **raw** OpenFace intensities, 0 (absent) to 5 (maximum), as written in OpenFace CSVs, AU tables,
  ``aus_openface.pkl`` and ``attributes.txt``;
* **normalised** values, raw / `AU_SCALE`, in [0, 1]: what models, datasets and the Trainer use.

`EXPRESSIONS` stores presets on the **raw** scale (so they read like OpenFace output); every function
that returns a tensor ([`aus_for`][ganimation_lib.aus.aus_for], [`aus_from_dict`][ganimation_lib.aus.aus_from_dict])
returns the **normalised** scale.

Examples:
    >>> from ganimation_lib.aus import AU_NAMES, aus_for, aus_from_dict
    >>> len(AU_NAMES), AU_NAMES[8]
    (17, 'AU12')
    >>> smile = aus_for("happy")
    >>> smile.shape, round(float(smile[AU_NAMES.index("AU12")]), 2)
    (torch.Size([17]), 0.7)
    >>> round(float(aus_from_dict({"AU26": 2.5})[15]), 2)
    0.5
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
from torch import Tensor

__all__ = [
    "AU_DESCRIPTIONS",
    "AU_NAMES",
    "AU_SCALE",
    "EXPRESSIONS",
    "au_index",
    "aus_for",
    "aus_from_dict",
    "canonical_au_name",
    "check_au_names",
    "expression_names",
]

#: The 17 AUs whose intensity OpenFace estimates (``AUxx_r`` columns), in the order GANimation uses.
AU_NAMES: tuple[str, ...] = (
    "AU01",
    "AU02",
    "AU04",
    "AU05",
    "AU06",
    "AU07",
    "AU09",
    "AU10",
    "AU12",
    "AU14",
    "AU15",
    "AU17",
    "AU20",
    "AU23",
    "AU25",
    "AU26",
    "AU45",
)

#: Maximum OpenFace intensity: raw values are divided by this to give the normalised [0, 1] scale.
AU_SCALE: float = 5.0

#: FACS names (Ekman, Friesen & Hager 2002) of the OpenFace AUs, plus AU28, which OpenFace reports only as
#: presence (``AU28_c``).
AU_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "AU01": "inner brow raiser",
        "AU02": "outer brow raiser",
        "AU04": "brow lowerer",
        "AU05": "upper lid raiser",
        "AU06": "cheek raiser",
        "AU07": "lid tightener",
        "AU09": "nose wrinkler",
        "AU10": "upper lip raiser",
        "AU12": "lip corner puller",
        "AU14": "dimpler",
        "AU15": "lip corner depressor",
        "AU17": "chin raiser",
        "AU20": "lip stretcher",
        "AU23": "lip tightener",
        "AU25": "lips part",
        "AU26": "jaw drop",
        "AU28": "lip suck",
        "AU45": "blink",
    }
)

#: Named expressions on the **raw** OpenFace scale (0-5), AUs not listed are 0.
#:
#: Built from the EMFACS emotion prototypes (Friesen & Ekman 1983; the FACS Investigator's Guide, Ekman,
#: Friesen & Hager 2002), restricted to the AUs OpenFace measures:
#:
#: * happy: 6 + 12 (Duchenne smile), with 25 because a broad smile usually parts the lips;
#: * sad: 1 + 4 + 15, with 17 (the chin raiser that commonly accompanies it);
#: * surprise: 1 + 2 + 5 + 26 (with 25: the jaw drop parts the lips);
#: * fear: 1 + 2 + 4 + 5 + 7 + 20 + 26 (with 25);
#: * anger: 4 + 5 + 7 + 23 (the prototype's 17/24 variants: 24 is not measured, 17 is added lightly);
#: * disgust: 9 + 15 + 16 (16 is not measured; its prototype alternative 10 and the frequent 17 stand in);
#: * contempt: unilateral 12 + 14 at low intensity (OpenFace has no side, so both are bilateral here);
#: * neutral: nothing.
#:
#: Intensities sit at the "clear but not extreme" level (about 2-3.5) at which OpenFace scores posed
#: expressions; [`aus_for`][ganimation_lib.aus.aus_for] can scale them.
EXPRESSIONS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "happy": MappingProxyType({"AU06": 2.5, "AU12": 3.5, "AU25": 1.5}),
        "sad": MappingProxyType({"AU01": 3.0, "AU04": 2.5, "AU15": 3.0, "AU17": 1.5}),
        "surprise": MappingProxyType({"AU01": 3.5, "AU02": 3.5, "AU05": 3.0, "AU25": 2.5, "AU26": 3.5}),
        "fear": MappingProxyType(
            {"AU01": 3.0, "AU02": 2.5, "AU04": 2.0, "AU05": 3.0, "AU07": 1.5, "AU20": 3.0, "AU25": 2.0, "AU26": 2.0}
        ),
        "anger": MappingProxyType({"AU04": 3.5, "AU05": 1.5, "AU07": 3.0, "AU17": 1.0, "AU23": 3.0}),
        "disgust": MappingProxyType({"AU09": 3.5, "AU10": 2.5, "AU15": 2.0, "AU17": 1.5}),
        "contempt": MappingProxyType({"AU12": 1.5, "AU14": 2.5}),
        "neutral": MappingProxyType({}),
    }
)

_AU_PATTERN = re.compile(r"^\s*(?:au)?\s*0*(\d{1,2})(?:_[rc])?\s*$", re.IGNORECASE)


def canonical_au_name(name: str | int) -> str:
    """Return the canonical ``AUxx`` spelling of an AU given as ``"AU12"``, ``"au12_r"``, ``"12"`` or ``12``.

    Args:
        name: An AU name in any of the spellings above (OpenFace ``_r``/``_c`` suffixes are accepted).

    Raises:
        ValueError: If ``name`` is not an AU name.

    Examples:
        >>> canonical_au_name("au1_r"), canonical_au_name(45), canonical_au_name("AU12")
        ('AU01', 'AU45', 'AU12')
    """
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise ValueError(f"AU name must be a string such as 'AU12' or an integer, got {name!r}")
    match = _AU_PATTERN.match(str(name))
    if match is None:
        raise ValueError(f"{name!r} is not an AU name; use the form 'AU12' (also accepted: 'AU12_r', '12', 12)")
    return f"AU{int(match.group(1)):02d}"


def check_au_names(au_names: Sequence[str]) -> tuple[str, ...]:
    """``au_names`` as a tuple of canonical names (``"AU6"`` → ``"AU06"``), or a ``ValueError`` naming the
    bad or repeated name. Readers and datasets call it on every list of AU names they accept.

    Examples:
        >>> check_au_names(["AU6", "AU12"])
        ('AU06', 'AU12')
    """
    if isinstance(au_names, tuple) and all(isinstance(n, str) for n in au_names):
        return _check_au_name_tuple(au_names)  # cached: readers call this once per file
    return _check_au_name_tuple.__wrapped__(tuple(au_names))


@functools.lru_cache(maxsize=64)
def _check_au_name_tuple(au_names: tuple[str, ...]) -> tuple[str, ...]:
    canonical = tuple(canonical_au_name(n) for n in au_names)
    if not canonical:
        raise ValueError("au_names is empty; pass at least one AU name (default: AU_NAMES)")
    if len(set(canonical)) != len(canonical):
        duplicates = sorted({n for n in canonical if canonical.count(n) > 1})
        raise ValueError(f"au_names lists {duplicates} more than once; each AU may appear only once")
    return canonical


def au_index(name: str | int, au_names: Sequence[str] = AU_NAMES) -> int:
    """Return the position of an AU in an AU vector laid out as ``au_names``.

    Args:
        name: The AU, in any spelling [`canonical_au_name`][ganimation_lib.aus.canonical_au_name] accepts.
        au_names: The vector's layout (default: the 17 OpenFace AUs).

    Raises:
        ValueError: If ``name`` is not an AU or not part of ``au_names``.

    Examples:
        >>> au_index("AU12"), au_index("au45_r"), au_index(12, au_names=("AU06", "AU12"))
        (8, 16, 1)
    """
    canonical = canonical_au_name(name)
    names = check_au_names(au_names)
    if canonical not in names:
        raise ValueError(f"{canonical} is not in this AU layout; it has {list(names)}")
    return names.index(canonical)


def expression_names() -> tuple[str, ...]:
    """Return the names of the expression presets, in `EXPRESSIONS` order.

    Examples:
        >>> expression_names()[:3]
        ('happy', 'sad', 'surprise')
    """
    return tuple(EXPRESSIONS)


def aus_for(name: str, intensity: float = 1.0, au_names: Sequence[str] = AU_NAMES) -> Tensor:
    """Return the **normalised** AU vector of a named expression preset.

    Args:
        name: One of `EXPRESSIONS` (case-insensitive): happy, sad, surprise, fear, anger, disgust,
            contempt, neutral.
        intensity: Scale applied to the preset: 0 gives neutral, 1 the preset, values above 1 exaggerate it
            (results may then exceed 1, which GANimation extrapolates to; clip yourself if you need [0, 1]).
        au_names: Layout of the returned vector. Preset AUs missing from the layout are dropped.

    Returns:
        float32 tensor of shape ``(len(au_names),)``: the preset's raw intensities × ``intensity`` / 5.

    Raises:
        ValueError: If ``name`` is not a preset (the message lists them) or ``intensity`` is negative or not
            finite.

    Examples:
        >>> v = aus_for("surprise", intensity=0.5)
        >>> round(float(v[au_index("AU26")]), 2)
        0.35
        >>> aus_for("happy", au_names=("AU12", "AU45")).tolist()
        [0.699999988079071, 0.0]
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key is None or key not in EXPRESSIONS:
        raise ValueError(f"unknown expression {name!r}; choose one of {list(EXPRESSIONS)}")
    if isinstance(intensity, bool) or not isinstance(intensity, (int, float)) or not math.isfinite(intensity):
        raise ValueError(f"intensity must be a finite number, got {intensity!r}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0 (0 = neutral, 1 = the preset), got {intensity}")
    names = check_au_names(au_names)
    vector = torch.zeros(len(names), dtype=torch.float32)
    for au, raw in EXPRESSIONS[key].items():
        if au in names:
            vector[names.index(au)] = raw * intensity / AU_SCALE
    return vector


def aus_from_dict(
    values: Mapping[str | int, float],
    base: Tensor | None = None,
    au_names: Sequence[str] = AU_NAMES,
) -> Tensor:
    """Build a **normalised** AU vector from **raw** OpenFace intensities given by name.

    Args:
        values: ``{"AU12": 3.5, ...}``: raw intensities in [0, 5], keyed by any spelling
            [`canonical_au_name`][ganimation_lib.aus.canonical_au_name] accepts.
        base: Optional normalised vector (shape ``(len(au_names),)``) to start from, e.g. a face's own AUs
            or [`aus_for`][ganimation_lib.aus.aus_for] output; AUs not in ``values`` keep its value. Default: all zeros.
            Not modified.
        au_names: Layout of ``base`` and of the returned vector.

    Returns:
        float32 tensor of shape ``(len(au_names),)`` in the normalised scale (raw / 5).

    Raises:
        ValueError: If a key is not an AU of ``au_names``, a value is outside [0, 5] or not finite, or
            ``base`` has the wrong shape.

    Examples:
        >>> v = aus_from_dict({"AU12": 5.0}, base=aus_for("sad"))
        >>> round(float(v[au_index("AU12")]), 2), round(float(v[au_index("AU15")]), 2)
        (1.0, 0.6)
    """
    names = check_au_names(au_names)
    if base is None:
        vector = torch.zeros(len(names), dtype=torch.float32)
    else:
        if not isinstance(base, Tensor) or base.shape != (len(names),):
            shape = tuple(base.shape) if isinstance(base, Tensor) else type(base).__name__
            raise ValueError(f"base must be a tensor of shape ({len(names)},) (one value per AU), got {shape}")
        vector = base.detach().to(dtype=torch.float32, device="cpu").clone()
    for key, raw in values.items():
        index = au_index(key, names)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise ValueError(f"{key}: raw intensity must be a finite number in [0, 5], got {raw!r}")
        if not 0.0 <= raw <= AU_SCALE:
            raise ValueError(
                f"{key}: raw intensity {raw} is outside OpenFace's 0-5 range; pass raw values "
                f"(normalised value × 5), e.g. 3.5 rather than 0.7"
            )
        vector[index] = float(raw) / AU_SCALE
    return vector
