"""``FaceRenderer``: the exact picture of any synthetic identity with any AU vector.

An identity's look comes from `synthetic_styles` (seeded by ``identity_seed``),
its static head is drawn once and cached, and the expression is drawn on a copy of it part by part
(`face_parts`). Everything is drawn at a supersampled size and reduced with a box
filter, so the features move continuously (sub-pixel) as the AUs change.
[`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] is the dataset built on it.

Examples:
    >>> from ganimation_lib.aus import aus_for
    >>> renderer = FaceRenderer(image_size=32)
    >>> renderer.render(3, aus_for("happy")).size
    (32, 32)
    >>> renderer.render_tensor(3, aus_for("happy")).shape
    torch.Size([3, 32, 32])
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image
from torch import Tensor

from ..aus import AU_NAMES, check_au_names
from .face_parts import draw_expression, draw_head
from .image_io import pil_to_tensor
from .synthetic_framing import compose_framed
from .synthetic_styles import STYLES, FaceLook, Style, sample_look

__all__ = ["FaceLayers", "FaceRenderer"]


@dataclass(frozen=True)
class FaceLayers:
    """An identity's static drawing, cached: the picture the expression is drawn on, and its look.

    Framed (alternate) looks also keep the face's coverage and the unframed backdrop, which
    `compose_framed` combines after the expression is drawn.
    """

    picture: Image.Image
    look: FaceLook
    alpha: Image.Image | None = None
    backdrop: Image.Image | None = None


def _check_identity(identity: int) -> int:
    if isinstance(identity, bool) or not isinstance(identity, (int, np.integer)) or identity < 0:
        raise ValueError(f"identity must be an integer >= 0, got {identity!r}")
    return int(identity)


class FaceRenderer:
    """Draws synthetic faces: ``render(identity, aus)`` is a pure function of its arguments and the settings.

    Args:
        image_size: Side of the square images, in pixels (>= 16).
        identity_seed: Seed of the identities' looks.
        style: ``"default"`` or ``"alternate"`` looks (`synthetic_styles`).
        au_names: AU layout of the vectors (default: the 17 OpenFace AUs). AUs outside the default 17 are
            carried but do not change the drawing; AUs missing from a custom layout are drawn at 0.
        cache_size: How many identities' static layers to keep (each is a supersampled RGB image).

    Attributes:
        cache: The cached identities' [`FaceLayers`][ganimation_lib.data.face_renderer.FaceLayers], least recently used
            first.

    Raises:
        ValueError: If a size, seed or style is out of range.
    """

    def __init__(
        self,
        image_size: int = 64,
        identity_seed: int = 0,
        style: Style = "default",
        au_names: Sequence[str] = AU_NAMES,
        cache_size: int = 256,
    ) -> None:
        for label, value, low in (("image_size", image_size, 16), ("identity_seed", identity_seed, 0),
                                  ("cache_size", cache_size, 0)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
        if style not in STYLES:
            raise ValueError(f"style must be 'default' or 'alternate', got {style!r}")
        self.image_size = image_size
        self.identity_seed = identity_seed
        self.style: Style = style
        self.au_names: tuple[str, ...] = check_au_names(au_names)
        self.cache_size = cache_size
        # Supersampling: draw at >= 256 px (integer factor 2-8) so a 1-pixel move at the output is 4+ steps.
        self.factor = max(2, min(8, math.ceil(256 / image_size)))
        self.canvas_size = image_size * self.factor
        self.cache: OrderedDict[int, FaceLayers] = OrderedDict()

    def render(self, identity: int, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> Image.Image:
        """Draw ``identity`` with the normalised AU vector ``aus`` (layout ``au_names``).

        Args:
            identity: Which face, ``0 <= identity`` (any identity can be drawn, not only a dataset's).
            aus: (num_aus,) normalised AUs; values are clipped to [0, 1] for drawing.

        Returns:
            An RGB image of ``image_size`` × ``image_size``.

        Raises:
            ValueError: If ``identity`` is negative or ``aus`` has the wrong length or non-finite values.
        """
        levels = self.levels(aus)
        layers = self.layers(identity)
        canvas = layers.picture.copy()
        draw_expression(canvas, layers.look, levels)
        if layers.look.framing is not None and layers.alpha is not None and layers.backdrop is not None:
            canvas = compose_framed(canvas, layers.alpha, layers.backdrop, layers.look.framing, self.canvas_size)
        return canvas.reduce(self.factor)

    def render_tensor(self, identity: int, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> Tensor:
        """[`render`][ganimation_lib.data.face_renderer.FaceRenderer.render] as a (3, H, W) float32 tensor in [-1, 1],
        ready for a model.

        Examples:
            >>> t = FaceRenderer(image_size=32).render_tensor(0, torch.zeros(17))
            >>> t.shape, bool(t.min() >= -1 and t.max() <= 1)
            (torch.Size([3, 32, 32]), True)
        """
        return pil_to_tensor(self.render(identity, aus))

    def render_batch(self, identities: Sequence[int] | Tensor, aus: Tensor) -> Tensor:
        """Ground-truth pictures of a batch: ``identities[i]`` with ``aus[i]``, as (B, 3, H, W) in [-1, 1].

        The result is on ``aus``'s device, so it can be compared with a generator's output directly.

        Args:
            identities: B identities (e.g. ``[identity_from_name(n) for n in batch.name]``).
            aus: (B, num_aus) normalised AUs.

        Raises:
            ValueError: If the counts differ or ``aus`` is not (B, num_aus).

        Examples:
            >>> FaceRenderer(image_size=16).render_batch([0, 1], torch.zeros(2, 17)).shape
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

    def levels(self, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> dict[str, float]:
        """Every AU of the default 17 at its drawing level: ``aus`` clipped to [0, 1], 0 for absent AUs.

        Raises:
            ValueError: If ``aus`` has the wrong length or non-finite values.

        Examples:
            >>> FaceRenderer(16, au_names=("AU12",)).levels([1.5])["AU12"]
            1.0
        """
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
        """Return the static look of ``identity`` in this renderer's ``style`` (colours, proportions, framing).

        Raises:
            ValueError: If ``identity`` is negative.

        Examples:
            >>> FaceRenderer(16, style="alternate").look(0).framing is not None
            True
        """
        return sample_look(self.style, self.identity_seed, _check_identity(identity))

    def layers(self, identity: int) -> FaceLayers:
        """The identity's static layers (background, hair, head, neck), cached in LRU order.

        Raises:
            ValueError: If ``identity`` is negative.
        """
        identity = _check_identity(identity)
        cached = self.cache.get(identity)
        if cached is not None:
            self.cache.move_to_end(identity)
            return cached
        look = self.look(identity)
        size = self.canvas_size
        if look.framing is None:
            gradient = np.linspace(0.0, 1.0, size)[:, None, None]
            top = np.array(look.background_top, dtype=np.float64)
            bottom = np.array(look.background_bottom, dtype=np.float64)
            rows = (top * (1 - gradient) + bottom * gradient).astype(np.uint8)
            image = Image.fromarray(np.ascontiguousarray(np.broadcast_to(rows, (size, size, 3))), "RGB")
            draw_head(image, look)
            layers = FaceLayers(image, look)
        else:
            # The face is drawn on its own, on a transparent canvas 1.3x as tall so the shoulders continue below
            # the image when framing shrinks or turns it; the backdrop stays unframed (no black corners).
            face = Image.new("RGBA", (size, round(1.3 * size)), (0, 0, 0, 0))
            draw_head(face, look)
            backdrop = look.backdrop.render(size) if look.backdrop is not None else Image.new("RGB", (size, size))
            layers = FaceLayers(face.convert("RGB"), look, alpha=face.getchannel("A"), backdrop=backdrop)
        if self.cache_size > 0:
            self.cache[identity] = layers
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return layers

    def __repr__(self) -> str:
        return f"FaceRenderer(image_size={self.image_size}, identity_seed={self.identity_seed}, style={self.style!r})"
