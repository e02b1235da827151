"""Procedurally drawn faces whose expression follows an AU vector: the built-in data for demos and tests.

Every face is drawn with Pillow at a supersampled size and reduced with a box filter, so the features move
continuously (sub-pixel) as the AUs change. An *identity* (background, skin, face shape, hair, eye colour,
feature sizes) comes from ``identity_seed``; the *expression* comes only from the AU vector, so the same AUs
give the same expression on every identity, and :meth:`SyntheticFaces.render` gives the exact picture of
any identity with any AUs: a ground truth that real data cannot provide. ``style="alternate"`` draws the
identities from a second, check-only distribution of looks and framings
(:mod:`~ganimation_lib.data.synthetic_styles`) with the same expression drawing.

What each AU does to the drawing (intensities normalised to [0, 1]; values outside are clipped):

============  ==============================================================================
AU01 / AU02   inner / outer end of both brows rise
AU04          brows lower and pull together; vertical frown lines between them
AU05 / AU07   eyes open wider (white shows above the iris) / narrow
AU06          cheeks raise: blush, lower-lid creases, eyes narrow
AU09 / AU10   nose wrinkles and nostrils rise / upper lip rises
AU12 / AU15   lip corners up (smile, nasolabial folds) / down
AU14 / AU17   dimples at the corners / chin raiser pushes the lower lip up
AU20 / AU23   lips stretch wider / lips tighten and thin
AU25 / AU26   lips part / jaw drops (mouth opens wide, teeth show)
AU45          eyes close
============  ==============================================================================

Examples:
    >>> from ganimation_lib.aus import aus_for
    >>> faces = SyntheticFaces(num_identities=4, items_per_identity=2, image_size=32, seed=0)
    >>> len(faces), faces[0].image.shape, faces[0].name
    (8, torch.Size([3, 32, 32]), 'synthetic/0')
    >>> faces.render(1, aus_for("happy")).size
    (32, 32)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.data import Dataset

from .._atomic import atomic_path
from ..aus import AU_NAMES, AU_SCALE, EXPRESSIONS, aus_for, check_au_names
from .sample import AUSample
from .synthetic_styles import FACE_CENTRE, RGB, STYLES, FaceLook, Style, compose_framed, sample_look, shade
from .target_sampling import RandomOtherTarget, TargetSampler

__all__ = ["AUMix", "AU_MIXES", "SyntheticFaces", "contact_sheet", "identity_from_name"]

_Point = tuple[float, float]
AUMix = Literal["default", "presets"]

#: The AU mixes :class:`SyntheticFaces` can draw item AUs from.
AU_MIXES: tuple[AUMix, ...] = ("default", "presets")


@dataclass(frozen=True)
class _Layers:
    """An identity's static drawing, cached: the picture the expression is drawn on, and its look.

    Framed (alternate) looks also keep the face's coverage and the unframed backdrop, which
    :func:`~ganimation_lib.data.synthetic_styles.compose_framed` combines after the expression is drawn.
    """

    picture: Image.Image
    look: FaceLook
    alpha: Image.Image | None = None
    backdrop: Image.Image | None = None


def _rgba(colour: RGB, alpha: float) -> tuple[int, int, int, int]:
    return (colour[0], colour[1], colour[2], round(255 * min(max(alpha, 0.0), 1.0)))


def _bezier(p0: _Point, middle: _Point, p2: _Point, steps: int = 12) -> list[_Point]:
    """Quadratic Bézier from ``p0`` to ``p2`` that passes through ``middle`` at t = 0.5."""
    cx = 2 * middle[0] - (p0[0] + p2[0]) / 2
    cy = 2 * middle[1] - (p0[1] + p2[1]) / 2
    points = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t * t
        points.append((a * p0[0] + b * cx + c * p2[0], a * p0[1] + b * cy + c * p2[1]))
    return points


def identity_from_name(name: str) -> int:
    """Return the identity encoded in a synthetic item's name (``"synthetic/<identity>"``).

    Raises:
        ValueError: If ``name`` is not a synthetic item's name.

    Examples:
        >>> identity_from_name("synthetic/12")
        12
    """
    prefix, _, number = name.partition("/")
    if prefix != "synthetic" or not number.isdigit():
        raise ValueError(f"{name!r} is not a synthetic item's name; expected 'synthetic/<identity>'")
    return int(number)


class SyntheticFaces(Dataset[AUSample]):
    """A dataset of procedurally drawn faces with known AUs; also a renderer of any identity with any AUs.

    Item ``i`` shows identity ``identity_of(i) = i % num_identities`` with the AUs ``aus_table[i]``, drawn
    (seeded by ``seed``) from one of two mixes:

    * ``au_mix="default"``: a mix that a GAN can learn from: 70 % an expression preset at a random
      intensity (0.4-1.4 ×), plus, for every item, each AU switched on with probability 0.12 at a random
      level (sparse single AUs).
    * ``au_mix="presets"``: what real expression data looks like: every item is one preset of
      :data:`~ganimation_lib.aus.EXPRESSIONS` (neutral included, all equally likely) at an intensity
      U(0.25, 1), each of the preset's AUs times its own jitter U(0.7, 1.3), plus |N(0, 0.03)| on every AU,
      clipped to [0, 1]; so no AU is ever exactly 0.

    Targets follow the official recipe (another item's AUs + U(-0.1, 0.1)) unless ``target_sampler`` says
    otherwise.

    The looks come in two styles (:mod:`~ganimation_lib.data.synthetic_styles`): ``"default"``, the faces
    every model and test has been tuned on, and ``"alternate"``, a check-only distribution (other palettes,
    patterned backgrounds, other feature proportions, per-identity scale, shift and tilt) with the same
    AU → drawing mapping, for judging a recipe on faces it was not tuned on.

    Args:
        num_identities: Number of different faces.
        items_per_identity: Items per face; ``len(dataset) = num_identities * items_per_identity``.
        image_size: Side of the square images, in pixels (>= 16).
        seed: Seed of the per-item AUs (the expressions).
        identity_seed: Seed of the identities' looks; ``None`` uses ``seed``. Changing it changes every face
            but no expression.
        au_names: AU layout of the vectors (default: the 17 OpenFace AUs). AUs outside the default 17 are
            carried but do not change the drawing; AUs missing from a custom layout are drawn at 0.
        target_sampler: Chooses target AUs (default :class:`~ganimation_lib.data.target_sampling.RandomOtherTarget`).
        cache_size: How many identities' static layers to keep (each is a supersampled RGB image).
        style: ``"default"`` or ``"alternate"`` looks (see above). The default style renders exactly what it
            always has.
        au_mix: ``"default"`` or ``"presets"`` item AUs (see above).

    Raises:
        ValueError: If a count, size, seed, style or mix is out of range.

    Examples:
        >>> faces = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=16, style="alternate",
        ...                        au_mix="presets")
        >>> faces.render(0, aus_for("happy")).size, bool(faces.aus_table.min() > 0)
        ((16, 16), True)
    """

    def __init__(
        self,
        num_identities: int = 16,
        items_per_identity: int = 64,
        image_size: int = 64,
        seed: int = 0,
        identity_seed: int | None = None,
        au_names: Sequence[str] = AU_NAMES,
        target_sampler: TargetSampler | None = None,
        cache_size: int = 256,
        style: Style = "default",
        au_mix: AUMix = "default",
    ) -> None:
        for label, value, low in (
            ("num_identities", num_identities, 1),
            ("items_per_identity", items_per_identity, 1),
            ("image_size", image_size, 16),
            ("seed", seed, 0),
            ("cache_size", cache_size, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
        if identity_seed is not None and (
            isinstance(identity_seed, bool) or not isinstance(identity_seed, int) or identity_seed < 0
        ):
            raise ValueError(f"identity_seed must be an integer >= 0 or None, got {identity_seed!r}")
        if style not in STYLES:
            raise ValueError(f"style must be 'default' or 'alternate', got {style!r}")
        if au_mix not in AU_MIXES:
            raise ValueError(f"au_mix must be 'default' or 'presets', got {au_mix!r}")
        self.num_identities = num_identities
        self.items_per_identity = items_per_identity
        self.image_size = image_size
        self.seed = seed
        self.identity_seed = seed if identity_seed is None else identity_seed
        self.au_names: tuple[str, ...] = check_au_names(au_names)
        self.target_sampler: TargetSampler = target_sampler if target_sampler is not None else RandomOtherTarget()
        self.cache_size = cache_size
        self.style: Style = style
        self.au_mix: AUMix = au_mix
        # Supersampling: draw at >= 256 px (integer factor 2-8) so a 1-pixel move at the output is 4+ steps.
        self._factor = max(2, min(8, math.ceil(256 / image_size)))
        self._canvas = image_size * self._factor
        self._cache: OrderedDict[int, _Layers] = OrderedDict()
        self._aus_table = self._sample_aus(num_identities * items_per_identity)

    # ----------------------------------------------------------------------------------------------- dataset

    def __len__(self) -> int:
        return self.num_identities * self.items_per_identity

    def __getitem__(self, index: int) -> AUSample:
        index = self._check_index(index)
        aus = self._aus_table[index]
        target, source = self.target_sampler(index, self._aus_table)
        image = self.render_tensor(self.identity_of(index), aus)
        source_name = "" if source is None else self.name_of(source)
        return AUSample(image, aus.clone(), target, source_name, self.name_of(index))

    @property
    def aus_table(self) -> Tensor:
        """(len, num_aus) float32 normalised AUs of every item (a copy)."""
        return self._aus_table.clone()

    def identity_of(self, index: int) -> int:
        """Return the identity item ``index`` shows.

        Examples:
            >>> SyntheticFaces(num_identities=3, items_per_identity=2, image_size=16).identity_of(4)
            1
        """
        return self._check_index(index) % self.num_identities

    def name_of(self, index: int) -> str:
        """Return item ``index``'s name, ``"synthetic/<identity>"``."""
        return f"synthetic/{self.identity_of(index)}"

    def _check_index(self, index: int) -> int:
        length = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        index = int(index)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"index {index} is out of range for {length} synthetic faces")
        return index

    def _sample_aus(self, count: int) -> Tensor:
        names = self.au_names
        presets = np.stack([aus_for(p, au_names=names).numpy() for p in EXPRESSIONS]).astype(np.float64)
        if self.au_mix == "presets":
            rng = np.random.default_rng([self.seed, 0x5EED, 0x9E5])
            choice = rng.integers(0, len(presets), count)
            intensity = rng.uniform(0.25, 1.0, count)
            jitter = rng.uniform(0.7, 1.3, (count, len(names)))
            noise = np.abs(rng.normal(0.0, 0.03, (count, len(names))))
            table = np.clip(presets[choice] * intensity[:, None] * jitter + noise, 0.0, 1.0)
            return torch.from_numpy(table.astype(np.float32))
        rng = np.random.default_rng([self.seed, 0x5EED])
        choice = rng.integers(0, len(presets), count)
        intensity = rng.uniform(0.4, 1.4, count) * (rng.random(count) < 0.7)
        table = presets[choice] * intensity[:, None]
        sparse = (rng.random((count, len(names))) < 0.12) * rng.uniform(0.15, 1.0, (count, len(names)))
        table = np.clip(np.maximum(table, sparse), 0.0, 1.0)
        return torch.from_numpy(table.astype(np.float32))

    # ----------------------------------------------------------------------------------------------- drawing

    def render(self, identity: int, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> Image.Image:
        """Draw ``identity`` with the normalised AU vector ``aus`` (layout ``au_names``).

        Args:
            identity: Which face, ``0 <= identity`` (any identity can be drawn, not only the dataset's).
            aus: (num_aus,) normalised AUs; values are clipped to [0, 1] for drawing.

        Returns:
            An RGB image of ``image_size`` × ``image_size``.

        Raises:
            ValueError: If ``identity`` is negative or ``aus`` has the wrong length or non-finite values.
        """
        levels = self._levels(aus)
        layers = self._layers(identity)
        canvas = layers.picture.copy()
        self._draw_expression(canvas, layers.look, levels)
        if layers.look.framing is not None and layers.alpha is not None and layers.backdrop is not None:
            canvas = compose_framed(canvas, layers.alpha, layers.backdrop, layers.look.framing, self._canvas)
        return canvas.reduce(self._factor)

    def render_tensor(self, identity: int, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> Tensor:
        """:meth:`render` as a (3, H, W) float32 tensor in [-1, 1], ready for a model.

        Examples:
            >>> faces = SyntheticFaces(num_identities=1, items_per_identity=1, image_size=32)
            >>> t = faces.render_tensor(0, torch.zeros(17))
            >>> t.shape, bool(t.min() >= -1 and t.max() <= 1)
            (torch.Size([3, 32, 32]), True)
        """
        array = np.asarray(self.render(identity, aus), dtype=np.float32)
        # Scaled in NumPy: on a busy CPU, torch spreads even a 128 px op over its thread pool and ran ~50x slower.
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1) * np.float32(2 / 255) - np.float32(1)))

    def render_batch(self, identities: Sequence[int] | Tensor, aus: Tensor) -> Tensor:
        """Ground-truth pictures of a batch: ``identities[i]`` with ``aus[i]``, as (B, 3, H, W) in [-1, 1].

        The result is on ``aus``'s device, so it can be compared with a generator's output directly.

        Args:
            identities: B identities (e.g. ``[identity_from_name(n) for n in batch.name]``).
            aus: (B, num_aus) normalised AUs.

        Raises:
            ValueError: If the counts differ or ``aus`` is not (B, num_aus).

        Examples:
            >>> faces = SyntheticFaces(num_identities=2, items_per_identity=1, image_size=16)
            >>> faces.render_batch([0, 1], torch.zeros(2, 17)).shape
            torch.Size([2, 3, 16, 16])
        """
        ids = identities.tolist() if isinstance(identities, Tensor) else list(identities)
        if aus.dim() != 2 or aus.shape[0] != len(ids):
            raise ValueError(
                f"aus must be (B, {len(self.au_names)}) with one row per identity; got {tuple(aus.shape)} "
                f"for {len(ids)} identities"
            )
        rows = aus.detach().to("cpu", torch.float64)
        images = [self.render_tensor(int(i), row) for i, row in zip(ids, rows, strict=True)]
        return torch.stack(images).to(aus.device)

    def _levels(self, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> dict[str, float]:
        if isinstance(aus, Tensor):
            values = aus.detach().to("cpu", torch.float64).numpy()
        else:
            values = np.asarray(aus, dtype=np.float64)
        if values.shape != (len(self.au_names),):
            raise ValueError(
                f"aus must have shape ({len(self.au_names)},) (one normalised value per AU of "
                f"{list(self.au_names)}), got {tuple(values.shape)}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"aus contains NaN or infinite values: {values.tolist()}")
        clipped = np.clip(values, 0.0, 1.0)
        levels = dict.fromkeys(AU_NAMES, 0.0)
        levels.update({name: float(v) for name, v in zip(self.au_names, clipped, strict=True)})
        return levels

    def look(self, identity: int) -> FaceLook:
        """Return the static look of ``identity`` in this dataset's ``style`` (colours, proportions, framing).

        Raises:
            ValueError: If ``identity`` is negative.

        Examples:
            >>> SyntheticFaces(1, 1, image_size=16, style="alternate").look(0).framing is not None
            True
        """
        if isinstance(identity, bool) or not isinstance(identity, (int, np.integer)) or identity < 0:
            raise ValueError(f"identity must be an integer >= 0, got {identity!r}")
        return sample_look(self.style, self.identity_seed, int(identity))

    def _layers(self, identity: int) -> _Layers:
        """The identity's static layers (background, hair, head, neck), cached in LRU order."""
        if isinstance(identity, bool) or not isinstance(identity, (int, np.integer)) or identity < 0:
            raise ValueError(f"identity must be an integer >= 0, got {identity!r}")
        identity = int(identity)
        cached = self._cache.get(identity)
        if cached is not None:
            self._cache.move_to_end(identity)
            return cached
        look = self.look(identity)
        size = self._canvas
        if look.framing is None:
            gradient = np.linspace(0.0, 1.0, size)[:, None, None]
            top = np.array(look.background_top, dtype=np.float64)
            bottom = np.array(look.background_bottom, dtype=np.float64)
            rows = (top * (1 - gradient) + bottom * gradient).astype(np.uint8)
            image = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows, (size, size, 3))), "RGB")
            self._draw_static(image, look)
            layers = _Layers(image, look)
        else:
            # The face is drawn on its own, on a transparent canvas 1.3x as tall so the shoulders continue below
            # the image when framing shrinks or turns it; the backdrop stays unframed (no black corners).
            face = Image.new("RGBA", (size, round(1.3 * size)), (0, 0, 0, 0))
            self._draw_static(face, look)
            backdrop = look.backdrop.render(size) if look.backdrop is not None else Image.new("RGB", (size, size))
            layers = _Layers(face.convert("RGB"), look, alpha=face.getchannel("A"), backdrop=backdrop)
        if self.cache_size > 0:
            self._cache[identity] = layers
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return layers

    def _draw_static(self, image: Image.Image, look: FaceLook) -> None:
        """Shoulders, neck, hair, ears, head and nose bridge: everything the AUs do not move (opaque fills)."""
        size = self._canvas
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

    def _draw_expression(self, image: Image.Image, look: FaceLook, au: dict[str, float]) -> None:
        size = self._canvas
        draw = ImageDraw.Draw(image, "RGBA")

        def p(x: float, y: float) -> _Point:
            return (x * size, y * size)

        def w(value: float) -> int:
            return max(1, round(value * size))

        cx = 0.5
        dark = shade(look.skin, 0.45)
        crease = shade(look.skin, 0.6)

        # Cheeks (AU06): blush under the eyes, drawn first so the eyes sit on top.
        if au["AU06"] > 0:
            for side in (-1, 1):
                bx, by = cx + side * (look.eye_dx + 0.03), look.eye_y + 0.1 - 0.02 * au["AU06"]
                draw.ellipse(
                    p(bx - 0.06, by - 0.04) + p(bx + 0.06, by + 0.04), fill=_rgba((225, 80, 90), 0.6 * au["AU06"])
                )

        # Eyes: openness from AU05 (wider), AU07 and AU06 (narrower), AU45 (closed).
        openness = (1 + 0.9 * au["AU05"] - 0.45 * au["AU07"] - 0.35 * au["AU06"]) * (1 - au["AU45"])
        eh = look.eye_half_height * max(openness, 0.0)
        ew = look.eye_half_width
        lid = w(0.016)
        iris_r = look.eye_half_height * 0.95
        for side in (-1, 1):
            ex, ey = cx + side * look.eye_dx, look.eye_y
            if eh * size > lid:
                draw.ellipse(p(ex - ew, ey - eh) + p(ex + ew, ey + eh), fill=(250, 250, 250))
                ih = min(iris_r, eh)
                draw.ellipse(p(ex - iris_r, ey - ih) + p(ex + iris_r, ey + ih), fill=look.iris)
                ph = min(iris_r * 0.45, eh)
                draw.ellipse(p(ex - iris_r * 0.45, ey - ph) + p(ex + iris_r * 0.45, ey + ph), fill=(15, 15, 15))
                draw.ellipse(p(ex - ew, ey - eh) + p(ex + ew, ey + eh), outline=dark, width=lid)
            else:
                # Closed (or nearly): the lids meet in a slightly downward-curved line.
                draw.line(_bezier(p(ex - ew, ey), p(ex, ey + 0.012 + eh), p(ex + ew, ey), 6), fill=dark, width=lid)
            if au["AU06"] > 0:
                draw.line(
                    _bezier(
                        p(ex - ew * 0.9, ey + eh + 0.02), p(ex, ey + eh + 0.035), p(ex + ew * 0.9, ey + eh + 0.02), 6
                    ),
                    fill=_rgba(crease, au["AU06"]),
                    width=w(0.012),
                )

        # Brows: AU01 raises the inner ends, AU02 the outer ends, AU04 lowers and pulls them together.
        lower = 0.045 * au["AU04"] + 0.015 * au["AU09"]
        for side in (-1, 1):
            base_y = look.eye_y - look.brow_gap
            inner_x = cx + side * (look.eye_dx - look.eye_half_width * 0.9 - 0.02 * au["AU04"])
            outer_x = cx + side * (look.eye_dx + look.eye_half_width * 1.15)
            inner = p(inner_x, base_y - 0.085 * au["AU01"] + lower + 0.035 * au["AU04"])
            outer = p(outer_x, base_y + 0.006 - 0.085 * au["AU02"] + lower)
            middle = p((inner_x + outer_x) / 2, base_y - 0.014 - 0.03 * au["AU01"] - 0.035 * au["AU02"] + lower)
            draw.line(
                _bezier(inner, middle, outer, 8),
                fill=shade(look.hair, 0.7),
                width=w(look.brow_thickness),
                joint="curve",
            )
        if au["AU04"] > 0:
            for side in (-1, 1):
                x = cx + side * 0.018
                top_y = look.eye_y - look.brow_gap + 0.01
                draw.line(
                    p(x, top_y) + p(x + side * 0.004, top_y + 0.045), fill=_rgba(dark, au["AU04"]), width=w(0.012)
                )

        # Nose: AU09 wrinkles the bridge and lifts the nostrils.
        tip_y = look.eye_y + look.nose_length - 0.012 * au["AU09"] - 0.006 * au["AU10"]
        if au["AU09"] > 0:
            for k in range(3):
                y = look.eye_y + 0.01 + 0.018 * k
                draw.line(
                    _bezier(p(cx - 0.035, y + 0.005), p(cx, y - 0.004), p(cx + 0.035, y + 0.005), 4),
                    fill=_rgba(dark, au["AU09"]),
                    width=w(0.011),
                )
        nostril_w = 0.018 + 0.01 * au["AU09"]
        for side in (-1, 1):
            nx = cx + side * 0.028
            draw.ellipse(p(nx - nostril_w / 2, tip_y - 0.008) + p(nx + nostril_w / 2, tip_y + 0.008), fill=crease)
        draw.line(
            _bezier(p(cx - 0.045, tip_y - 0.012), p(cx, tip_y + 0.01), p(cx + 0.045, tip_y - 0.012), 6),
            fill=crease,
            width=w(0.012),
        )

        # Mouth. Corners: AU12 up and out, AU15 down, AU20 out, AU23 in, AU14 slightly in and back.
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
        left, right = p(cx - half_width, corner_y), p(cx + half_width, corner_y)

        # Nasolabial folds (AU12) and dimples (AU14), behind the lips.
        if au["AU12"] > 0:
            for side in (-1, 1):
                draw.line(
                    _bezier(
                        p(cx + side * 0.055, tip_y + 0.005),
                        p(cx + side * (half_width + 0.02), (tip_y + corner_y) / 2),
                        p(cx + side * (half_width + 0.03), corner_y + 0.02),
                        6,
                    ),
                    fill=_rgba(crease, au["AU12"]),
                    width=w(0.012),
                )
        if au["AU14"] > 0:
            for side in (-1, 1):
                x = cx + side * (half_width + 0.012)
                draw.line(
                    p(x, corner_y - 0.015) + p(x + side * 0.004, corner_y + 0.015),
                    fill=_rgba(dark, au["AU14"]),
                    width=w(0.012),
                )

        upper_outer = _bezier(left, p(cx, upper_outer_y), right)
        lower_outer = _bezier(right, p(cx, lower_outer_y), left)
        draw.polygon(upper_outer + lower_outer, fill=look.lips)
        upper_inner = _bezier(left, p(cx, upper_inner_y), right)
        lower_inner = _bezier(left, p(cx, lower_inner_y), right)
        if opening > 0:
            draw.polygon(upper_inner + lower_inner[::-1], fill=(60, 20, 25))
            # Upper teeth: a band below the upper lip, never deeper than the opening.
            teeth_bottom = [
                (x, min(y + 0.025 * size, (y + y2) / 2 + 0.004 * size))
                for (x, y), (_, y2) in zip(upper_inner, lower_inner, strict=True)
            ]
            draw.polygon(upper_inner + teeth_bottom[::-1], fill=(245, 245, 240))
        draw.line(upper_inner, fill=shade(look.lips, 0.55), width=w(0.012), joint="curve")
        # Chin raiser (AU17): a crease under the pushed-up lower lip.
        if au["AU17"] > 0:
            chin_y = lower_outer_y + 0.04
            draw.line(
                _bezier(p(cx - 0.04, chin_y), p(cx, chin_y + 0.012), p(cx + 0.04, chin_y), 4),
                fill=_rgba(crease, au["AU17"]),
                width=w(0.012),
            )

    def write(self, folder: str | Path) -> Path:
        """Write every item as ``folder/imgs/<index>.png`` plus the AU table ``folder/aus.csv`` (raw 0-5).

        The layout is the one :func:`~ganimation_lib.data.prepare.prepare_openface` produces for real data,
        so :class:`~ganimation_lib.data.dataset.AUDataset` reads it back. Returns ``folder``.
        """
        from .labels import write_au_table

        root = Path(folder)
        images = root / "imgs"
        images.mkdir(parents=True, exist_ok=True)
        rows: dict[str, list[float]] = {}
        for index in range(len(self)):
            file_name = f"{index:06d}_id{self.identity_of(index)}.png"
            aus = self._aus_table[index]
            target = images / file_name
            with atomic_path(target) as temporary:
                self.render(self.identity_of(index), aus).save(temporary, format="PNG")
            rows[file_name] = [float(v) * AU_SCALE for v in aus.tolist()]
        write_au_table(root / "aus.csv", rows, au_names=self.au_names)
        return root

    def __repr__(self) -> str:
        return (
            f"SyntheticFaces(num_identities={self.num_identities}, items_per_identity={self.items_per_identity}, "
            f"image_size={self.image_size}, seed={self.seed}, identity_seed={self.identity_seed}"
            + (f", style={self.style!r}" if self.style != "default" else "")
            + (f", au_mix={self.au_mix!r}" if self.au_mix != "default" else "")
            + ")"
        )


def contact_sheet(
    faces: SyntheticFaces,
    identities: Sequence[int] = (0, 1, 2, 3, 4, 5),
    expressions: Sequence[str] | None = None,
    intensity: float = 1.0,
    padding: int = 2,
) -> Image.Image:
    """A grid of rendered faces: one row per expression preset, one column per identity.

    Args:
        faces: The renderer (its ``image_size``, ``identity_seed`` and ``au_names`` are used).
        identities: The columns.
        expressions: The rows (default: every preset in :data:`~ganimation_lib.aus.EXPRESSIONS`).
        intensity: Scale of the presets (see :func:`~ganimation_lib.aus.aus_for`).
        padding: Pixels of white between cells.

    Examples:
        >>> sheet = contact_sheet(SyntheticFaces(1, 1, image_size=16), identities=(0, 1), expressions=("happy",))
        >>> sheet.size
        (38, 20)
    """
    rows = list(EXPRESSIONS) if expressions is None else list(expressions)
    if not rows or not identities:
        raise ValueError("contact_sheet needs at least one expression and one identity")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    cell = faces.image_size + padding
    sheet = Image.new("RGB", (padding + cell * len(identities), padding + cell * len(rows)), "white")
    for r, expression in enumerate(rows):
        aus = aus_for(expression, intensity, au_names=faces.au_names)
        for c, identity in enumerate(identities):
            sheet.paste(faces.render(identity, aus), (padding + c * cell, padding + r * cell))
    return sheet
