"""What the editor computes, without Gradio: slider values → AU vector → the edited photo and its maps.

An [`Editor`][ganimation_lib.app.editor.Editor] holds one generator and answers the page's two questions: the
views of one edit ([`Editor.views`][ganimation_lib.app.editor.Editor.views]: the photo with its faces edited, the
attention and colour maps) and an animation from neutral to the chosen AUs
([`Editor.animation`][ganimation_lib.app.editor.Editor.animation]). Both go through the library's own
[`edit_results`][ganimation_lib.inference.edit.edit_results] and [`animate`][ganimation_lib.inference.animate.animate],
so the page shows exactly what ``ganimation edit`` and ``ganimation animate`` write.

The last photo opened and the faces found in it are kept, so moving a slider runs the generator only.

Examples:
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> from PIL import Image
    >>> editor = Editor(Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0)), finder=None)
    >>> views = editor.views(Image.new("RGB", (24, 20)), [0.0] * 17, WHOLE_IMAGE)
    >>> views.result.size, views.faces
    ((24, 20), 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image
from torch import nn

from ..data.image_io import open_image
from ..faces.dlib_finder import DlibFaceFinder, FacesExtraMissingError
from ..faces.face import Face, FaceFinder
from ..inference.aligned import find_faces
from ..inference.animate import animate
from ..inference.edit import edit_results
from ..inference.face_box import parse_box_text
from ..inference.images import to_pil
from ..inference.pasting import paste_results
from ..inference.pipeline import EditResult, as_generator, au_layout
from ..inference.writers import attention_heatmap, save_gif
from .controls import au_vector

__all__ = [
    "BOX",
    "FACE_MODES",
    "FIND_FACES",
    "WHOLE_IMAGE",
    "Editor",
    "EditorViews",
    "default_finder",
    "parse_face_box",
]

#: Where the edit applies: every face the finder finds (aligned like the training crops, pasted back) ...
FIND_FACES = "find faces"
#: ... the whole picture as one face (an aligned crop, like the synthetic faces) ...
WHOLE_IMAGE = "whole image"
#: ... or one box given by hand.
BOX = "box"
FACE_MODES: tuple[str, ...] = (FIND_FACES, WHOLE_IMAGE, BOX)

#: Smallest side of the map panels: a 32 px model's maps are scaled up (nearest neighbour) so pixels stay visible.
MAP_MIN_SIDE = 256


def default_finder() -> FaceFinder | None:
    """The built-in face finder when the ``faces`` extra is installed, else ``None``."""
    try:
        return DlibFaceFinder()
    except FacesExtraMissingError:
        return None


def parse_face_box(text: str) -> tuple[int, int, int, int]:
    """Read a face box typed as ``LEFT,TOP,RIGHT,BOTTOM`` (pixels; rounded like ``ganimation edit --box``).

    Raises:
        ValueError: When the text is not four finite numbers or the box is empty.

    Examples:
        >>> parse_face_box(" 10, 20,110.6,120 ")
        (10, 20, 111, 120)
    """
    message = f"face box {text!r}: write four pixel numbers LEFT,TOP,RIGHT,BOTTOM, e.g. 120,80,280,240"
    left, top, right, bottom = parse_box_text(text, message)
    if right <= left or bottom <= top:
        raise ValueError(f"face box {text!r}: RIGHT must be above LEFT and BOTTOM above TOP")
    return left, top, right, bottom


@dataclass(frozen=True)
class EditorViews:
    """What the page shows for one edit.

    Attributes:
        result: The photo with the edit pasted back, at its own size.
        attention: The attention heat maps of the edited faces, side by side (bright: painted, black: kept).
        colour: The colour maps of the edited faces, side by side.
        faces: How many faces were edited.
    """

    result: Image.Image
    attention: Image.Image
    colour: Image.Image
    faces: int


def _row(panels: Sequence[Image.Image], gap: int = 4) -> Image.Image:
    """``panels`` scaled to one height (at least `MAP_MIN_SIDE`, nearest neighbour) and laid side by side."""
    height = max(MAP_MIN_SIDE, *(panel.size[1] for panel in panels))
    scaled = [
        p.resize((max(1, round(p.size[0] * height / p.size[1])), height), Image.Resampling.NEAREST) for p in panels
    ]
    canvas = Image.new("RGB", (sum(p.size[0] for p in scaled) + gap * (len(scaled) - 1), height), (255, 255, 255))
    left = 0
    for panel in scaled:
        canvas.paste(panel, (left, 0))
        left += panel.size[0] + gap
    return canvas


class Editor:
    """The editor's model logic for one generator.

    Args:
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy of one).
        finder: The face finder of the `FIND_FACES` mode; ``"auto"`` (default) uses the built-in one when the
            ``faces`` extra is installed; ``None`` offers the whole image and a box only.

    Attributes:
        au_names: The model's AUs, one slider each: recorded with the saved model, else OpenFace's 17.

    Raises:
        TypeError: If ``generator`` is not a ganimation_lib generator.
        ValueError: If the model takes a number of AUs other than its recorded (or the default 17) names.
    """

    def __init__(self, generator: nn.Module, *, finder: FaceFinder | Literal["auto"] | None = "auto") -> None:
        model = as_generator(generator)
        self.generator = generator
        self.au_names: tuple[str, ...] = tuple(au_layout(model, None))
        if len(self.au_names) != model.num_aus:
            raise ValueError(
                f"the model takes {model.num_aus} AUs but no names for them were saved with it; save it with "
                "save_pretrained(folder, au_names=[...]) so the editor can label its sliders"
            )
        self.image_size = model.config.image_size
        self.finder: FaceFinder | None = default_finder() if finder == "auto" else finder
        self._photo: tuple[str, Image.Image] | None = None
        self._faces: tuple[str, list[Face]] | None = None

    @property
    def face_modes(self) -> tuple[str, ...]:
        """The modes this editor offers: `FIND_FACES` only with a finder."""
        return FACE_MODES if self.finder is not None else (WHOLE_IMAGE, BOX)

    def photo(self, path: str | Path) -> Image.Image:
        """Open the photo at ``path`` upright as RGB (the last one is kept).

        Raises:
            ValueError: When the file is not an image Pillow reads (the message names it).
            FileNotFoundError: When there is no such file.
        """
        key = str(path)
        if self._photo is None or self._photo[0] != key:
            self._photo = (key, open_image(key))
            self._faces = None
        return self._photo[1]

    def _where(self, photo: str | Path | Image.Image, mode: str, box: str) -> tuple[Image.Image, dict[str, Any]]:
        """The photo and the ``animate`` arguments that say which part of it to edit (``box`` or ``faces``)."""
        image = photo if isinstance(photo, Image.Image) else self.photo(photo)
        if mode == WHOLE_IMAGE:
            return image, {}
        if mode == BOX:
            if not box.strip():
                raise ValueError("type the face box as LEFT,TOP,RIGHT,BOTTOM (pixels), or choose another mode")
            return image, {"box": parse_face_box(box)}
        if mode != FIND_FACES:
            raise ValueError(f"unknown face mode {mode!r}; choose one of {list(self.face_modes)}")
        if self.finder is None:
            raise FacesExtraMissingError(
                "finding faces needs the optional extra: pip install 'ganimation_lib[faces]'; choose "
                f"{WHOLE_IMAGE!r} for an aligned face crop or {BOX!r} to give the face's box"
            )
        key = None if isinstance(photo, Image.Image) else str(photo)
        if key is None or self._faces is None or self._faces[0] != key:
            faces = find_faces([image], "auto", finder=self.finder)[0]  # NoFaceFoundError says what to try
            if key is None:
                return image, {"faces": faces}
            self._faces = (key, faces)
        return image, {"faces": self._faces[1]}

    def views(self, photo: str | Path | Image.Image, values: Sequence[float], mode: str, box: str = "") -> EditorViews:
        """Edit ``photo`` towards the raw AU ``values`` (one per slider); return the result and its maps.

        Args:
            photo: A file path (opened and kept, with the faces found in it) or a PIL image.
            values: Raw OpenFace intensities (0-5), one per AU of `au_names`.
            mode: `FIND_FACES`, `WHOLE_IMAGE` or `BOX`.
            box: ``LEFT,TOP,RIGHT,BOTTOM`` in pixels, for `BOX`.

        Raises:
            ValueError: For values out of 0-5, a bad box or mode, or a file that is not an image.
            NoFaceFoundError: When the finder finds no face (a ``ValueError``; the message says what to try).
            FacesExtraMissingError: For `FIND_FACES` without a finder.
        """
        target = au_vector(values, self.au_names)
        image, where = self._where(photo, mode, box)
        if "box" in where:  # edit_results takes a box per image
            where = {"boxes": [where.pop("box")]}
        results: list[EditResult] = edit_results(self.generator, [image], target, **where)
        edited = paste_results(image, results)
        attention = [to_pil(attention_heatmap(r.attention)) for r in results]
        colour = [to_pil(r.color.detach().float().cpu()) for r in results]
        return EditorViews(edited, _row(attention), _row(colour), len(results))

    def animation(
        self,
        photo: str | Path | Image.Image,
        values: Sequence[float],
        mode: str,
        box: str,
        path: str | Path,
        *,
        frames: int = 16,
        duration: float = 80.0,
    ) -> Path:
        """Animate ``photo`` from neutral to the raw AU ``values`` and write the frames to the GIF ``path``.

        Args:
            photo: As in [`views`][ganimation_lib.app.editor.Editor.views].
            values: The last keyframe's raw intensities (0-5), one per AU.
            mode: As in [`views`][ganimation_lib.app.editor.Editor.views].
            box: As in [`views`][ganimation_lib.app.editor.Editor.views].
            path: The ``.gif`` file to write.
            frames: Frames from neutral to the chosen AUs (the GIF has ``frames + 1``).
            duration: Milliseconds per frame.

        Raises:
            ValueError: As [`views`][ganimation_lib.app.editor.Editor.views] (and for ``frames`` < 1).
        """
        target = au_vector(values, self.au_names)
        image, where = self._where(photo, mode, box)
        keyframes = torch.stack([torch.zeros_like(target), target])
        movie = animate(self.generator, image, keyframes, frames_per_transition=frames, **where)
        return save_gif(movie, path, duration=duration)
