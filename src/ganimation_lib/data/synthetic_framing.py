"""The alternate style's staging: a patterned backdrop, and a similarity transform (framing) of the whole face.

`alternate_look` picks a `Backdrop` and a
`Framing` per identity; [`FaceRenderer`][ganimation_lib.data.face_renderer.FaceRenderer] draws the face
unframed on a transparent canvas, then `compose_framed` moves it over the backdrop. The default style
has neither. Lengths are fractions of the canvas side.

Examples:
    >>> [round(v, 6) + 0.0 for v in Framing(shift_x=0.1).inverse_affine(100)]  # output x - 10 px
    [1.0, 0.0, -10.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["FACE_CENTRE", "RGB", "Backdrop", "Framing", "compose_framed"]

RGB = tuple[int, int, int]

#: Centre of the head ellipse (canvas fractions): framing scales and rotates about it.
FACE_CENTRE: tuple[float, float] = (0.5, 0.53)


@dataclass(frozen=True)
class Framing:
    """A similarity transform of the whole face: scale and rotate about `FACE_CENTRE`, then shift.

    Attributes:
        scale: Size of the face relative to the default framing.
        shift_x: Horizontal shift, as a fraction of the image side (positive: right).
        shift_y: Vertical shift, as a fraction of the image side (positive: down).
        rotation: In-plane rotation in degrees (positive: counter-clockwise on screen).
    """

    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    rotation: float = 0.0

    def inverse_affine(self, size: int) -> tuple[float, float, float, float, float, float]:
        """PIL's ``AFFINE`` coefficients for a ``size``-pixel canvas: output pixel -> source pixel.

        Examples:
            >>> [round(v, 6) + 0.0 for v in Framing(scale=2.0).inverse_affine(100)]  # zoom 2x about (50, 53)
            [0.5, 0.0, 25.0, 0.0, 0.5, 26.5]
        """
        cx, cy = FACE_CENTRE[0] * size, FACE_CENTRE[1] * size
        tx, ty = cx + self.shift_x * size, cy + self.shift_y * size
        # Screen y points down, so a counter-clockwise turn on screen is a negative angle in these axes.
        angle = math.radians(-self.rotation)
        cos, sin = math.cos(angle) / self.scale, math.sin(angle) / self.scale
        # source = centre + R(-angle) (output - centre - shift) / scale
        return (cos, sin, cx - cos * tx - sin * ty, -sin, cos, cy + sin * tx - cos * ty)


@dataclass(frozen=True)
class Backdrop:
    """An alternate background: a two-colour gradient with a subtle pattern, drawn unframed.

    Attributes:
        start: Colour where the gradient starts.
        end: Colour where it ends.
        direction: Gradient direction in degrees (0: left to right, 90: top to bottom).
        pattern: ``"stripes"``, ``"texture"`` (smooth blotches and grain) or ``"vignette"``.
        strength: Contrast of the pattern (fraction of full scale).
        period: Stripe period, as a fraction of the image side.
        angle: Stripe angle in degrees.
        texture_seed: Seed of the texture noise.
    """

    start: RGB
    end: RGB
    direction: float
    pattern: Literal["stripes", "texture", "vignette"]
    strength: float
    period: float
    angle: float
    texture_seed: int

    def render(self, size: int) -> Image.Image:
        """The backdrop as a ``size`` × ``size`` RGB image (the same picture at every size, up to sampling).

        Examples:
            >>> Backdrop((200, 200, 220), (150, 150, 170), 90.0, "stripes", 0.05, 0.1, 30.0, 0).render(8).size
            (8, 8)
        """
        # Drawn at up to half the size (>= 128 px) and upsampled: the backdrop was the slowest part of a new
        # alternate identity, and its smooth gradient and subtle pattern lose nothing visible.
        detail = min(size, max(128, size // 2))
        coords = (np.arange(detail, dtype=np.float32) + 0.5) / detail - 0.5
        x, y = coords[None, :], coords[:, None]
        d = math.radians(self.direction)
        t = np.clip((x * math.cos(d) + y * math.sin(d)) / (abs(math.cos(d)) + abs(math.sin(d))) + 0.5, 0, 1)
        if self.pattern == "stripes":
            a = math.radians(self.angle)
            phase = (x * math.cos(a) + y * math.sin(a)) / self.period
            light = np.where(phase - np.floor(phase) < 0.5, np.float32(1), np.float32(-1))
        elif self.pattern == "texture":
            rng = np.random.default_rng(self.texture_seed)
            # Noise grids of fixed resolution, upsampled: the texture does not depend on the image size.
            coarse = _upsample(rng.standard_normal((10, 10)).astype(np.float32), detail)
            grain = _upsample(rng.standard_normal((40, 40)).astype(np.float32), detail)
            light = np.clip(0.4 * coarse + 0.27 * grain, -1.6, 1.6)
        else:
            light = 1 - 4 * (x * x + y * y)  # 1 in the middle, -1 in the corners
        start = np.array(self.start, np.float32)
        step = np.array(self.end, np.float32) - start
        picture = start + step * t[..., None] + (255 * self.strength) * light[..., None]
        image = Image.fromarray(np.clip(picture + 0.5, 0, 255).astype(np.uint8), "RGB")
        return image if detail == size else image.resize((size, size), Image.Resampling.BILINEAR)


def _upsample(grid: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    return np.asarray(Image.fromarray(grid, "F").resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)


def compose_framed(
    picture: Image.Image, alpha: Image.Image, backdrop: Image.Image, framing: Framing, size: int
) -> Image.Image:
    """Frame a drawn face and lay it over an unframed backdrop.

    Nearest-neighbour sampling is enough (and ~15x faster than bilinear in Pillow): the picture is
    supersampled and box-reduced afterwards, so the sampling error is at most half a canvas pixel, a fraction
    of an output pixel, and the face's edge stays crisp, without a fringe.

    Args:
        picture: The drawn face (RGB); it may be taller than ``size`` so that the shoulders continue below the
            image when the face is scaled down or turned.
        alpha: The face's coverage (``L``), the same size as ``picture``.
        backdrop: The ``size`` × ``size`` background (RGB).
        framing: The transform.
        size: The canvas side.

    Returns:
        The ``size`` × ``size`` RGB picture: where the transformed face does not reach, the backdrop shows,
        so there are no black corners.

    Examples:
        >>> face, cover = Image.new("RGB", (8, 10), (255, 0, 0)), Image.new("L", (8, 10), 255)
        >>> out = compose_framed(face, cover, Image.new("RGB", (8, 8), (0, 0, 255)), Framing(scale=0.5), 8)
        >>> out.getpixel((4, 4)), out.getpixel((0, 0))
        ((255, 0, 0), (0, 0, 255))
    """
    coefficients = framing.inverse_affine(size)
    moved = picture.transform((size, size), Image.Transform.AFFINE, coefficients, Image.Resampling.NEAREST)
    cover = alpha.transform((size, size), Image.Transform.AFFINE, coefficients, Image.Resampling.NEAREST)
    return Image.composite(moved, backdrop, cover)
