"""Procedurally drawn faces whose expression follows an AU vector: the built-in data for demos and tests.

Every face is drawn by a [`FaceRenderer`][ganimation_lib.data.face_renderer.FaceRenderer], with Pillow at a
supersampled size and reduced with a box filter, so the features move continuously (sub-pixel) as the AUs
change (`face_parts` draws each part of the face). An *identity* (background,
skin, face shape, hair, eye colour, feature sizes) comes from ``identity_seed``; the *expression* comes only
from the AU vector, so the same AUs give the same expression on every identity, and
[`SyntheticFaces.render`][ganimation_lib.data.synthetic.SyntheticFaces.render] gives the exact picture of any identity
with any AUs: a ground truth that real data cannot provide. ``style="alternate"`` draws the identities from a second,
check-only distribution of looks and framings (`synthetic_styles`) with the same expression drawing.

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

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ..atomic_files import atomic_path
from ..aus import AU_NAMES, AU_SCALE, EXPRESSIONS, aus_for, check_au_names
from .au_table import write_au_table
from .face_renderer import FaceRenderer
from .sample import AUSample
from .synthetic_styles import STYLES, FaceLook, Style
from .target_sampling import RandomOtherTarget, TargetSampler

__all__ = ["AUMix", "AU_MIXES", "SyntheticFaces", "contact_sheet", "identity_from_name"]

AUMix = Literal["default", "presets"]

#: The AU mixes [`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] can draw item AUs from.
AU_MIXES: tuple[AUMix, ...] = ("default", "presets")


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
      `EXPRESSIONS` (neutral included, all equally likely) at an intensity
      U(0.25, 1), each of the preset's AUs times its own jitter U(0.7, 1.3), plus |N(0, 0.03)| on every AU,
      clipped to [0, 1]; so no AU is ever exactly 0.

    Targets follow the official recipe (another item's AUs + U(-0.1, 0.1)) unless ``target_sampler`` says
    otherwise.

    Drawing is delegated to `renderer`, a [`FaceRenderer`][ganimation_lib.data.face_renderer.FaceRenderer].
    The looks come in two styles (`synthetic_styles`): ``"default"``, the faces
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
        target_sampler: Chooses target AUs (default
            [`RandomOtherTarget`][ganimation_lib.data.target_sampling.RandomOtherTarget]).
        cache_size: How many identities' static layers to keep (each is a supersampled RGB image).
        style: ``"default"`` or ``"alternate"`` looks (see above). The default style renders exactly what it
            always has.
        au_mix: ``"default"`` or ``"presets"`` item AUs (see above).

    Attributes:
        renderer: The [`FaceRenderer`][ganimation_lib.data.face_renderer.FaceRenderer] that draws the faces; it can
            render any identity with any AUs on its own.

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
        self.renderer = FaceRenderer(image_size, self.identity_seed, style, self.au_names, cache_size)
        self._cache = self.renderer.cache  # the same LRU dict of identities' static layers
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
        """Draw ``identity`` with the normalised AU vector ``aus`` (layout ``au_names``), as an RGB image.

        Any identity can be drawn, not only the dataset's; see
        [`FaceRenderer.render`][ganimation_lib.data.face_renderer.FaceRenderer.render].
        """
        return self.renderer.render(identity, aus)

    def render_tensor(self, identity: int, aus: Tensor | Sequence[float] | NDArray[np.floating]) -> Tensor:
        """[`render`][ganimation_lib.data.synthetic.SyntheticFaces.render] as a (3, H, W) float32 tensor in [-1, 1],
        ready for a model.

        Examples:
            >>> faces = SyntheticFaces(num_identities=1, items_per_identity=1, image_size=32)
            >>> t = faces.render_tensor(0, torch.zeros(17))
            >>> t.shape, bool(t.min() >= -1 and t.max() <= 1)
            (torch.Size([3, 32, 32]), True)
        """
        return self.renderer.render_tensor(identity, aus)

    def render_batch(self, identities: Sequence[int] | Tensor, aus: Tensor) -> Tensor:
        """Ground-truth pictures of a batch, ``identities[i]`` with ``aus[i]``, on ``aus``'s device.

        See [`FaceRenderer.render_batch`][ganimation_lib.data.face_renderer.FaceRenderer.render_batch].

        Examples:
            >>> faces = SyntheticFaces(num_identities=2, items_per_identity=1, image_size=16)
            >>> faces.render_batch([identity_from_name(n) for n in ("synthetic/0", "synthetic/1")],
            ...                    torch.zeros(2, 17)).shape
            torch.Size([2, 3, 16, 16])
        """
        return self.renderer.render_batch(identities, aus)

    def look(self, identity: int) -> FaceLook:
        """Return the static look of ``identity`` in this dataset's ``style`` (colours, proportions, framing).

        Raises:
            ValueError: If ``identity`` is negative.

        Examples:
            >>> SyntheticFaces(1, 1, image_size=16, style="alternate").look(0).framing is not None
            True
        """
        return self.renderer.look(identity)

    def write(self, folder: str | Path) -> Path:
        """Write every item as ``folder/imgs/<index>.png`` plus the AU table ``folder/aus.csv`` (raw 0-5).

        The layout is the one [`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] produces for real data,
        so [`AUDataset`][ganimation_lib.data.dataset.AUDataset] reads it back. Returns ``folder``.
        """
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
    faces: SyntheticFaces | FaceRenderer,
    identities: Sequence[int] = (0, 1, 2, 3, 4, 5),
    expressions: Sequence[str] | None = None,
    intensity: float = 1.0,
    padding: int = 2,
) -> Image.Image:
    """A grid of rendered faces: one row per expression preset, one column per identity.

    Args:
        faces: The renderer (its ``image_size``, ``identity_seed`` and ``au_names`` are used).
        identities: The columns.
        expressions: The rows (default: every preset in `EXPRESSIONS`).
        intensity: Scale of the presets (see [`aus_for`][ganimation_lib.aus.aus_for]).
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
