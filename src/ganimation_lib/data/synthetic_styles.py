"""The looks of the synthetic faces: what an identity looks like in each style.

[`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] draws the *expression* from an AU vector; this module
decides everything else, per identity, from the identity's own seeded RNG:

* ``"default"`` (`default_look`): the looks every trained model and test has seen. Its sampler must
  keep drawing the same numbers in the same order, or every default face changes.
* ``"alternate"`` (`alternate_look`): a check-only distribution for judging a recipe tuned on the
  default one. Other background colours with stripes, texture or a vignette; other skin, hair, iris, lip
  and shirt palettes; other feature proportions (wider-set eyes, thin or heavy brows, narrow or wide
  mouths, thin or full lips); and a per-identity similarity transform (``Framing``: scale 0.8-1.1, shift
  up to 4 % of the image, rotation up to ±8°) of the whole face over an untransformed ``Backdrop``, both
  from `synthetic_framing`. The expression drawing is the same, so a ground-truth
  picture still exists for every identity and AU vector.

Lengths in a `FaceLook` are fractions of the canvas side, before framing.

Examples:
    >>> look = sample_look("alternate", identity_seed=0, identity=3)
    >>> look.framing is not None and 0.8 <= look.framing.scale <= 1.1
    True
    >>> sample_look("default", identity_seed=0, identity=3).framing is None
    True
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .synthetic_framing import FACE_CENTRE as FACE_CENTRE
from .synthetic_framing import RGB as RGB
from .synthetic_framing import Backdrop as Backdrop
from .synthetic_framing import Framing as Framing
from .synthetic_framing import compose_framed as compose_framed

# The alternate style's backdrop and framing live in synthetic_framing and stay importable from here.
__all__ = [
    "FACE_CENTRE",
    "STYLES",
    "Backdrop",
    "FaceLook",
    "Framing",
    "RGB",
    "Style",
    "alternate_look",
    "compose_framed",
    "default_look",
    "sample_look",
    "shade",
]

Style = Literal["default", "alternate"]

#: The styles `sample_look` knows.
STYLES: tuple[Style, ...] = ("default", "alternate")

# Default palettes (skin from light to dark; natural and a few dyed hair colours).
_SKIN_TONES: NDArray[np.float64] = np.array(
    [(255, 226, 200), (242, 198, 160), (226, 174, 132), (198, 138, 98), (160, 104, 70), (112, 72, 48)],
    dtype=np.float64,
)
_HAIR_COLOURS: tuple[RGB, ...] = (
    (30, 24, 20),
    (70, 45, 25),
    (120, 80, 40),
    (200, 160, 90),
    (150, 60, 30),
    (170, 170, 175),
    (60, 60, 90),
)
_IRIS_COLOURS: tuple[RGB, ...] = ((70, 45, 25), (40, 90, 150), (60, 110, 60), (110, 80, 40), (30, 30, 30))

# Alternate palettes: none of these colours is in the default ones.
_ALT_SKIN_TONES: NDArray[np.float64] = np.array(
    [(250, 218, 212), (236, 204, 168), (208, 174, 124), (180, 136, 100), (134, 92, 64), (84, 56, 42)],
    dtype=np.float64,
)
_ALT_HAIR_COLOURS: tuple[RGB, ...] = (
    (232, 218, 180),  # platinum
    (196, 92, 36),  # copper
    (18, 20, 40),  # blue-black
    (96, 36, 30),  # auburn
    (200, 90, 150),  # dyed pink
    (40, 120, 125),  # dyed teal
    (236, 236, 232),  # white
    (92, 84, 70),  # ash brown
)
_ALT_IRIS_COLOURS: tuple[RGB, ...] = ((120, 130, 140), (120, 100, 50), (160, 110, 40), (90, 70, 120), (20, 60, 70))
_ALT_LIP_TINTS: tuple[RGB, ...] = ((200, 60, 80), (170, 80, 100), (140, 60, 55), (210, 110, 110))


@dataclass(frozen=True)
class FaceLook:
    """Everything about a face that does not change with expression (canvas-relative units).

    ``backdrop`` and ``framing`` are ``None`` in the default style: a vertical ``background_top`` to
    ``background_bottom`` gradient and the face exactly where the drawing puts it.
    """

    background_top: RGB
    background_bottom: RGB
    skin: RGB
    hair: RGB
    hair_style: int
    shirt: RGB
    iris: RGB
    lips: RGB
    face_half_width: float
    face_half_height: float
    eye_dx: float
    eye_y: float
    eye_half_width: float
    eye_half_height: float
    brow_gap: float
    brow_thickness: float
    nose_length: float
    mouth_y: float
    mouth_half_width: float
    lip_thickness: float
    backdrop: Backdrop | None = None
    framing: Framing | None = None


def shade(colour: RGB, factor: float) -> RGB:
    """``colour`` darkened (factor < 1) or lightened towards white (factor > 1).

    Examples:
        >>> shade((100, 200, 50), 0.5), shade((100, 200, 50), 1.5)
        ((50, 100, 25), (177, 227, 152))
    """
    if factor <= 1:
        return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))
    t = min(factor - 1, 1.0)
    return (
        int(colour[0] + (255 - colour[0]) * t),
        int(colour[1] + (255 - colour[1]) * t),
        int(colour[2] + (255 - colour[2]) * t),
    )


def sample_look(style: Style, identity_seed: int, identity: int) -> FaceLook:
    """The look of ``identity`` in ``style``: a pure function of its arguments.

    Raises:
        ValueError: If ``style`` is not one of `STYLES`.
    """
    if style == "default":
        return default_look(np.random.default_rng([identity_seed, identity, 0x1D]))
    if style == "alternate":
        # Its own stream, so an alternate face is not a remapped copy of the default face's draws.
        return alternate_look(np.random.default_rng([identity_seed, identity, 0x1D, 0xA17]))
    raise ValueError(f"style must be 'default' or 'alternate', got {style!r}")


def _tone(rng: np.random.Generator, tones: NDArray[np.float64]) -> RGB:
    """A skin colour interpolated between neighbouring entries of ``tones``."""
    tone = rng.uniform(0, len(tones) - 1)
    i = int(tone)
    j = min(i + 1, len(tones) - 1)
    mix = tones[i] * (1 - (tone - i)) + tones[j] * (tone - i)
    return (int(mix[0]), int(mix[1]), int(mix[2]))


def default_look(rng: np.random.Generator) -> FaceLook:
    """A default-style look. The draws and their order are frozen: changing them changes every default face."""

    def pick(options: Sequence[RGB]) -> RGB:
        return options[int(rng.integers(len(options)))]

    def colour(low: int, high: int) -> RGB:
        r, g, b = rng.integers(low, high, 3)
        return (int(r), int(g), int(b))

    skin = _tone(rng, _SKIN_TONES)
    lips = (
        int(skin[0] * 0.75 + 190 * 0.25),
        int(skin[1] * 0.6),
        int(skin[2] * 0.6),
    )
    background_top = colour(40, 230)
    return FaceLook(
        background_top=background_top,
        background_bottom=shade(background_top, float(rng.uniform(0.55, 0.9))),
        skin=skin,
        hair=pick(_HAIR_COLOURS),
        hair_style=int(rng.integers(4)),
        shirt=colour(20, 220),
        iris=pick(_IRIS_COLOURS),
        lips=lips,
        face_half_width=float(rng.uniform(0.33, 0.37)),
        face_half_height=float(rng.uniform(0.41, 0.45)),
        eye_dx=float(rng.uniform(0.135, 0.15)),
        eye_y=float(rng.uniform(0.44, 0.47)),
        eye_half_width=float(rng.uniform(0.075, 0.085)),
        eye_half_height=float(rng.uniform(0.042, 0.05)),
        brow_gap=float(rng.uniform(0.08, 0.09)),
        brow_thickness=float(rng.uniform(0.036, 0.046)),
        nose_length=float(rng.uniform(0.12, 0.14)),
        mouth_y=float(rng.uniform(0.73, 0.75)),
        mouth_half_width=float(rng.uniform(0.13, 0.15)),
        lip_thickness=float(rng.uniform(0.026, 0.032)),
    )


def alternate_look(rng: np.random.Generator) -> FaceLook:
    """An alternate-style look: other palettes, proportions and framing (see the module docstring).

    Proportions stay where the expression drawing still reads: brows clear of the eyes and the hairline,
    the widest smile inside the cheeks.

    Examples:
        >>> look = alternate_look(np.random.default_rng(0))
        >>> look.backdrop is not None and 0.152 <= look.eye_dx <= 0.168
        True
    """

    def pick(options: Sequence[RGB]) -> RGB:
        return options[int(rng.integers(len(options)))]

    def hsv(h: float, s: float, v: float) -> RGB:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return (round(r * 255), round(g * 255), round(b * 255))

    def either(low: tuple[float, float], high: tuple[float, float]) -> float:
        """One of two ranges on either side of the default one, half the time each."""
        chosen = low if rng.random() < 0.5 else high
        return float(rng.uniform(*chosen))

    # Background: light, desaturated studio colours or dark ones, outside the default's mid-range channels.
    hue = float(rng.uniform())
    if rng.random() < 0.5:
        saturation, value = float(rng.uniform(0.05, 0.35)), float(rng.uniform(0.8, 0.97))
        end_value = value * float(rng.uniform(0.75, 0.9))
    else:
        saturation, value = float(rng.uniform(0.1, 0.6)), float(rng.uniform(0.1, 0.3))
        end_value = value * float(rng.uniform(1.3, 1.8))
    start = hsv(hue, saturation, value)
    end = hsv(hue + float(rng.uniform(-0.08, 0.08)), saturation, end_value)
    patterns: tuple[Literal["stripes", "texture", "vignette"], ...] = ("stripes", "texture", "vignette")
    backdrop = Backdrop(
        start=start,
        end=end,
        direction=float(rng.uniform(0, 360)),
        pattern=patterns[int(rng.integers(3))],
        strength=float(rng.uniform(0.025, 0.05)),
        period=float(rng.uniform(0.06, 0.14)),
        angle=float(rng.uniform(0, 180)),
        texture_seed=int(rng.integers(2**31)),
    )

    skin = _tone(rng, _ALT_SKIN_TONES)
    tint = _ALT_LIP_TINTS[int(rng.integers(len(_ALT_LIP_TINTS)))]
    lips = (
        int(skin[0] * 0.55 + tint[0] * 0.45),
        int(skin[1] * 0.55 + tint[1] * 0.45),
        int(skin[2] * 0.55 + tint[2] * 0.45),
    )
    # Shirts: vivid colours or near-greys, where the default draws uniform RGB.
    if rng.random() < 0.6:
        shirt = hsv(float(rng.uniform()), float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.45, 0.95)))
    else:
        grey = int(rng.integers(5, 35)) if rng.random() < 0.5 else int(rng.integers(225, 250))
        shirt = (grey, grey, grey)

    face_half_width = float(rng.uniform(0.31, 0.35))
    face_half_height = float(rng.uniform(0.4, 0.44))
    # Framing: shifts are clamped so the head ellipse stays in the picture even at the largest scale.
    scale = float(rng.uniform(0.8, 1.1))
    cx, cy = FACE_CENTRE

    def shift(centre: float, half: float) -> float:
        low, high = half * scale - centre, 1 - centre - half * scale
        value = float(rng.uniform(-0.04, 0.04))
        return min(max(value, low), high) if low <= high else (low + high) / 2

    shift_x = shift(cx, face_half_width)
    shift_y = shift(cy, face_half_height + 0.02)  # + the hair cap above the head
    framing = Framing(scale=scale, shift_x=shift_x, shift_y=shift_y, rotation=float(rng.uniform(-8, 8)))
    return FaceLook(
        background_top=start,
        background_bottom=end,
        skin=skin,
        hair=pick(_ALT_HAIR_COLOURS),
        hair_style=int(rng.integers(4)),
        shirt=shirt,
        iris=pick(_ALT_IRIS_COLOURS),
        lips=lips,
        face_half_width=face_half_width,
        face_half_height=face_half_height,
        eye_dx=float(rng.uniform(0.152, 0.168)),  # wider-set eyes (default 0.135-0.15)
        eye_y=float(rng.uniform(0.43, 0.47)),
        eye_half_width=float(rng.uniform(0.068, 0.08)),
        eye_half_height=float(rng.uniform(0.04, 0.052)),
        brow_gap=float(rng.uniform(0.08, 0.095)),
        brow_thickness=either((0.024, 0.032), (0.05, 0.058)),  # thin or heavy (default 0.036-0.046)
        nose_length=float(rng.uniform(0.11, 0.135)),
        mouth_y=float(rng.uniform(0.72, 0.76)),
        mouth_half_width=either((0.112, 0.125), (0.155, 0.165)),  # narrow or wide (default 0.13-0.15)
        lip_thickness=either((0.018, 0.023), (0.035, 0.042)),  # thin or full (default 0.026-0.032)
        backdrop=backdrop,
        framing=framing,
    )
