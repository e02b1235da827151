"""Drawing a synthetic face, one part at a time: the static head, then the cheeks, eyes, brows, nose and mouth.

[`FaceRenderer`][ganimation_lib.data.face_renderer.FaceRenderer] draws `draw_head` once per identity and
`draw_expression` on a copy of it for every AU vector. Each part reads only the AUs that move it (see
the table in [`ganimation_lib.data.synthetic`][ganimation_lib.data.synthetic]); lengths are fractions of the canvas
side, as in `FaceLook`.

The parts are drawn in a fixed order (later ones cover earlier ones), and every number here is part of the
pictures that trained models and the tests' digests depend on: change one and every face changes.

Examples:
    >>> from PIL import Image
    >>> from ganimation_lib.aus import AU_NAMES
    >>> from ganimation_lib.data.synthetic_styles import sample_look
    >>> look = sample_look("default", identity_seed=0, identity=0)
    >>> canvas = Image.new("RGB", (64, 64))
    >>> draw_head(canvas, look)
    >>> draw_expression(canvas, look, dict.fromkeys(AU_NAMES, 0.0) | {"AU12": 1.0})
    >>> canvas.size
    (64, 64)
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from .synthetic_framing import FACE_CENTRE, RGB
from .synthetic_styles import FaceLook, shade

__all__ = [
    "Pen",
    "draw_brows",
    "draw_cheeks",
    "draw_expression",
    "draw_eyes",
    "draw_head",
    "draw_mouth",
    "draw_nose",
    "nose_tip_y",
]

Point = tuple[float, float]

_CX = 0.5  # the face's vertical axis, as a fraction of the canvas side
_LINE = 0.012  # width of creases, folds and wrinkles


def _rgba(colour: RGB, alpha: float) -> tuple[int, int, int, int]:
    return (colour[0], colour[1], colour[2], round(255 * min(max(alpha, 0.0), 1.0)))


def _bezier(p0: Point, middle: Point, p2: Point, steps: int = 12) -> list[Point]:
    """Quadratic Bézier from ``p0`` to ``p2`` that passes through ``middle`` at t = 0.5."""
    cx = 2 * middle[0] - (p0[0] + p2[0]) / 2
    cy = 2 * middle[1] - (p0[1] + p2[1]) / 2
    points = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t * t
        points.append((a * p0[0] + b * cx + c * p2[0], a * p0[1] + b * cy + c * p2[1]))
    return points


@dataclass(frozen=True)
class Pen:
    """An ``ImageDraw`` (RGBA: translucent fills blend) on a square canvas, addressed in canvas fractions.

    Attributes:
        draw: The drawing context.
        size: The canvas side in pixels.

    Examples:
        >>> pen = Pen.on(Image.new("RGB", (200, 200)))
        >>> pen.p(0.5, 0.25), pen.w(0.012)
        ((100.0, 50.0), 2)
    """

    draw: ImageDraw.ImageDraw
    size: int

    @classmethod
    def on(cls, image: Image.Image) -> Pen:
        """A pen on ``image``, whose width is the canvas side (it may be taller, for the shoulders)."""
        return cls(ImageDraw.Draw(image, "RGBA"), image.width)

    def p(self, x: float, y: float) -> Point:
        """The pixel position of the canvas fractions ``(x, y)``."""
        return (x * self.size, y * self.size)

    def w(self, value: float) -> int:
        """A line width of ``value`` canvas sides, at least one pixel."""
        return max(1, round(value * self.size))


def draw_head(image: Image.Image, look: FaceLook) -> None:
    """Shoulders, neck, hair, ears, head and nose bridge: everything the AUs do not move (opaque fills)."""
    size = image.width
    draw = ImageDraw.Draw(image, "RGBA")

    def s(value: float) -> float:
        return value * size

    cx, cy = FACE_CENTRE
    fw, fh = look.face_half_width, look.face_half_height
    skin_shadow = shade(look.skin, 0.85)
    # Shoulders and neck.
    draw.ellipse((s(0.08), s(0.9), s(0.92), s(1.4)), fill=look.shirt)
    draw.rectangle((s(cx - 0.11), s(0.75), s(cx + 0.11), s(0.97)), fill=skin_shadow)
    # Long hair falls behind the head.
    if look.hair_style in (1, 3):
        draw.rounded_rectangle(
            (s(cx - fw - 0.05), s(cy - fh - 0.03), s(cx + fw + 0.05), s(cy + 0.3)),
            radius=s(0.15),
            fill=look.hair,
        )
    # Ears, then the head.
    for side in (-1, 1):
        ex = cx + side * (fw - 0.005)
        draw.ellipse((s(ex - 0.04), s(look.eye_y - 0.01), s(ex + 0.04), s(look.eye_y + 0.11)), fill=skin_shadow)
    draw.ellipse((s(cx - fw), s(cy - fh), s(cx + fw), s(cy + fh)), fill=look.skin)
    # Hair on top: a cap whose lower edge stays above the highest brow position.
    hairline = look.eye_y - look.brow_gap - 0.13
    if look.hair_style != 2:
        draw.chord(
            (s(cx - fw - 0.015), s(cy - fh - 0.04), s(cx + fw + 0.015), s(2 * hairline - (cy - fh) + 0.04)),
            start=180,
            end=360,
            fill=look.hair,
        )
    else:
        draw.arc(
            (s(cx - fw), s(cy - fh), s(cx + fw), s(cy + fh)),
            start=200,
            end=340,
            fill=shade(look.skin, 0.9),
            width=max(1, int(s(0.01))),
        )
    # Static nose bridge.
    bridge = shade(look.skin, 0.8)
    nose_tip = look.eye_y + look.nose_length
    draw.line(
        [(s(cx - 0.012), s(look.eye_y + 0.01)), (s(cx - 0.02), s(nose_tip - 0.01))],
        fill=bridge,
        width=max(1, int(s(0.008))),
    )


def draw_expression(image: Image.Image, look: FaceLook, au: dict[str, float]) -> None:
    """Draw the parts the AUs move, in order: cheeks, eyes, brows, nose, mouth.

    Args:
        image: The identity's static picture (a copy: it is drawn on).
        look: The identity's look.
        au: Every AU of `AU_NAMES` at its level in [0, 1].
    """
    pen = Pen.on(image)
    draw_cheeks(pen, look, au)
    draw_eyes(pen, look, au)
    draw_brows(pen, look, au)
    draw_nose(pen, look, au)
    draw_mouth(pen, look, au)


def draw_cheeks(pen: Pen, look: FaceLook, au: dict[str, float]) -> None:
    """AU06 (cheek raiser): blush under the eyes, drawn first so the eyes sit on top."""
    if au["AU06"] > 0:
        for side in (-1, 1):
            bx, by = _CX + side * (look.eye_dx + 0.03), look.eye_y + 0.1 - 0.02 * au["AU06"]
            pen.draw.ellipse(
                pen.p(bx - 0.06, by - 0.04) + pen.p(bx + 0.06, by + 0.04), fill=_rgba((225, 80, 90), 0.6 * au["AU06"])
            )


def draw_eyes(pen: Pen, look: FaceLook, au: dict[str, float]) -> None:
    """Openness from AU05 (wider), AU07 and AU06 (narrower), AU45 (closed); AU06 also creases the lower lids."""
    p, dark = pen.p, shade(look.skin, 0.45)
    openness = (1 + 0.9 * au["AU05"] - 0.45 * au["AU07"] - 0.35 * au["AU06"]) * (1 - au["AU45"])
    eh = look.eye_half_height * max(openness, 0.0)
    ew = look.eye_half_width
    lid = pen.w(0.016)
    iris_r = look.eye_half_height * 0.95
    for side in (-1, 1):
        ex, ey = _CX + side * look.eye_dx, look.eye_y
        if eh * pen.size > lid:
            pen.draw.ellipse(p(ex - ew, ey - eh) + p(ex + ew, ey + eh), fill=(250, 250, 250))
            ih = min(iris_r, eh)
            pen.draw.ellipse(p(ex - iris_r, ey - ih) + p(ex + iris_r, ey + ih), fill=look.iris)
            ph = min(iris_r * 0.45, eh)
            pen.draw.ellipse(p(ex - iris_r * 0.45, ey - ph) + p(ex + iris_r * 0.45, ey + ph), fill=(15, 15, 15))
            pen.draw.ellipse(p(ex - ew, ey - eh) + p(ex + ew, ey + eh), outline=dark, width=lid)
        else:
            # Closed (or nearly): the lids meet in a slightly downward-curved line.
            pen.draw.line(_bezier(p(ex - ew, ey), p(ex, ey + 0.012 + eh), p(ex + ew, ey), 6), fill=dark, width=lid)
        if au["AU06"] > 0:
            pen.draw.line(
                _bezier(p(ex - ew * 0.9, ey + eh + 0.02), p(ex, ey + eh + 0.035), p(ex + ew * 0.9, ey + eh + 0.02), 6),
                fill=_rgba(shade(look.skin, 0.6), au["AU06"]),
                width=pen.w(_LINE),
            )


def draw_brows(pen: Pen, look: FaceLook, au: dict[str, float]) -> None:
    """AU01 raises the inner ends, AU02 the outer ends, AU04 lowers them, pulls them together and frowns."""
    p = pen.p
    lower = 0.045 * au["AU04"] + 0.015 * au["AU09"]
    for side in (-1, 1):
        base_y = look.eye_y - look.brow_gap
        inner_x = _CX + side * (look.eye_dx - look.eye_half_width * 0.9 - 0.02 * au["AU04"])
        outer_x = _CX + side * (look.eye_dx + look.eye_half_width * 1.15)
        inner = p(inner_x, base_y - 0.085 * au["AU01"] + lower + 0.035 * au["AU04"])
        outer = p(outer_x, base_y + 0.006 - 0.085 * au["AU02"] + lower)
        middle = p((inner_x + outer_x) / 2, base_y - 0.014 - 0.03 * au["AU01"] - 0.035 * au["AU02"] + lower)
        pen.draw.line(
            _bezier(inner, middle, outer, 8),
            fill=shade(look.hair, 0.7),
            width=pen.w(look.brow_thickness),
            joint="curve",
        )
    if au["AU04"] > 0:  # vertical frown lines between the brows
        for side in (-1, 1):
            x = _CX + side * 0.018
            top_y = look.eye_y - look.brow_gap + 0.01
            pen.draw.line(
                p(x, top_y) + p(x + side * 0.004, top_y + 0.045),
                fill=_rgba(shade(look.skin, 0.45), au["AU04"]),
                width=pen.w(_LINE),
            )


def nose_tip_y(look: FaceLook, au: dict[str, float]) -> float:
    """Height of the nose tip: AU09 and AU10 lift it (the mouth's folds start beside it)."""
    return look.eye_y + look.nose_length - 0.012 * au["AU09"] - 0.006 * au["AU10"]


def draw_nose(pen: Pen, look: FaceLook, au: dict[str, float]) -> None:
    """AU09 wrinkles the bridge and lifts and widens the nostrils."""
    p, crease = pen.p, shade(look.skin, 0.6)
    tip_y = nose_tip_y(look, au)
    if au["AU09"] > 0:
        for k in range(3):
            y = look.eye_y + 0.01 + 0.018 * k
            pen.draw.line(
                _bezier(p(_CX - 0.035, y + 0.005), p(_CX, y - 0.004), p(_CX + 0.035, y + 0.005), 4),
                fill=_rgba(shade(look.skin, 0.45), au["AU09"]),
                width=pen.w(0.011),
            )
    nostril_w = 0.018 + 0.01 * au["AU09"]
    for side in (-1, 1):
        nx = _CX + side * 0.028
        pen.draw.ellipse(p(nx - nostril_w / 2, tip_y - 0.008) + p(nx + nostril_w / 2, tip_y + 0.008), fill=crease)
    pen.draw.line(
        _bezier(p(_CX - 0.045, tip_y - 0.012), p(_CX, tip_y + 0.01), p(_CX + 0.045, tip_y - 0.012), 6),
        fill=crease,
        width=pen.w(_LINE),
    )


def draw_mouth(pen: Pen, look: FaceLook, au: dict[str, float]) -> None:
    """The lips, their folds and the chin.

    Corners: AU12 up and out, AU15 down, AU20 out, AU23 in (and thinner lips), AU14 slightly in and back
    (dimples); AU25, AU26 and AU10 part the lips (teeth show), AU17 pushes the lower lip up (chin crease).
    """
    p, size = pen.p, pen.size
    dark, crease = shade(look.skin, 0.45), shade(look.skin, 0.6)
    tip_y = nose_tip_y(look, au)
    jaw = au["AU26"]
    half_width = look.mouth_half_width * (
        1 + 0.25 * au["AU12"] + 0.35 * au["AU20"] + 0.1 * au["AU14"] - 0.25 * au["AU23"] - 0.1 * jaw
    )
    corner_y = look.mouth_y - 0.075 * au["AU12"] + 0.065 * au["AU15"] + 0.012 * au["AU20"] + 0.012 * jaw
    opening = max(0.0, 0.05 * au["AU25"] + 0.11 * jaw + 0.02 * au["AU10"] - 0.015 * au["AU17"] - 0.01 * au["AU23"])
    opening *= 1 + 0.6 * au["AU12"]  # a broad smile parts the lips more at the centre
    upper_inner_y = look.mouth_y - 0.25 * opening - 0.02 * au["AU10"]
    lower_inner_y = max(upper_inner_y, look.mouth_y + 0.75 * opening - 0.012 * au["AU17"] + 0.008 * au["AU12"])
    thin = 1 - 0.55 * au["AU23"]
    upper_outer_y = upper_inner_y - look.lip_thickness * thin
    lower_outer_y = lower_inner_y + look.lip_thickness * 1.3 * thin * (1 + 0.3 * au["AU17"])
    left, right = p(_CX - half_width, corner_y), p(_CX + half_width, corner_y)

    # Nasolabial folds (AU12) and dimples (AU14), behind the lips.
    if au["AU12"] > 0:
        for side in (-1, 1):
            pen.draw.line(
                _bezier(
                    p(_CX + side * 0.055, tip_y + 0.005),
                    p(_CX + side * (half_width + 0.02), (tip_y + corner_y) / 2),
                    p(_CX + side * (half_width + 0.03), corner_y + 0.02),
                    6,
                ),
                fill=_rgba(crease, au["AU12"]),
                width=pen.w(_LINE),
            )
    if au["AU14"] > 0:
        for side in (-1, 1):
            x = _CX + side * (half_width + 0.012)
            pen.draw.line(
                p(x, corner_y - 0.015) + p(x + side * 0.004, corner_y + 0.015),
                fill=_rgba(dark, au["AU14"]),
                width=pen.w(_LINE),
            )

    upper_outer = _bezier(left, p(_CX, upper_outer_y), right)
    lower_outer = _bezier(right, p(_CX, lower_outer_y), left)
    pen.draw.polygon(upper_outer + lower_outer, fill=look.lips)
    upper_inner = _bezier(left, p(_CX, upper_inner_y), right)
    lower_inner = _bezier(left, p(_CX, lower_inner_y), right)
    if opening > 0:
        pen.draw.polygon(upper_inner + lower_inner[::-1], fill=(60, 20, 25))
        # Upper teeth: a band below the upper lip, never deeper than the opening.
        teeth_bottom = [
            (x, min(y + 0.025 * size, (y + y2) / 2 + 0.004 * size))
            for (x, y), (_, y2) in zip(upper_inner, lower_inner, strict=True)
        ]
        pen.draw.polygon(upper_inner + teeth_bottom[::-1], fill=(245, 245, 240))
    pen.draw.line(upper_inner, fill=shade(look.lips, 0.55), width=pen.w(_LINE), joint="curve")
    # Chin raiser (AU17): a crease under the pushed-up lower lip.
    if au["AU17"] > 0:
        chin_y = lower_outer_y + 0.04
        pen.draw.line(
            _bezier(p(_CX - 0.04, chin_y), p(_CX, chin_y + 0.012), p(_CX + 0.04, chin_y), 4),
            fill=_rgba(crease, au["AU17"]),
            width=pen.w(_LINE),
        )
