"""The editor's page: Gradio components laid out around an [`Editor`][ganimation_lib.app.editor.Editor].

This module only wires components to the editor's methods; what an edit computes is
[`ganimation_lib.app.editor`][ganimation_lib.app.editor] and
[`ganimation_lib.app.controls`][ganimation_lib.app.controls], which do not import Gradio. Errors the user can fix
(no face found, a file that is not an image, a bad face box) are shown as a warning and in the status line, and
the last good picture stays; an upload that does not decode is a ``gradio.Error``. No traceback reaches the page.

Every component the browser test drives has an ``elem_id``: ``photo``, ``face-mode``, ``face-box``,
``expression``, ``intensity``, ``slider-AU12`` (one per AU), ``result``, ``attention``, ``colour``, ``au-text``,
``status``, ``frames``, ``animate``, ``animation``.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch import nn

from ..aus import expression_names
from ..data.synthetic import SyntheticFaces
from ..faces.dlib_finder import FacesExtraMissingError
from ..faces.face import FaceFinder
from .controls import INTENSITY_MAX, SLIDER_STEP, au_argument, au_sliders, preset_values
from .editor import BOX, FIND_FACES, WHOLE_IMAGE, Editor
from .extra import require_gradio

if TYPE_CHECKING:
    import gradio

__all__ = ["EXAMPLE_FACES", "build_app", "example_faces"]

_COLUMNS = 3  # columns of AU sliders
_PICTURE_HEIGHT = 280  # pixels of the photo, result and map panels
_ONE_AT_A_TIME: dict[str, Any] = {"concurrency_id": "edit", "concurrency_limit": 1}  # the events that run the model

#: How many synthetic faces the page offers as example pictures.
EXAMPLE_FACES = 6

_INTRO = (
    "Move a slider and let go: the face is edited towards those Action Units (OpenFace intensities, 0-5). "
    "The attention map is bright where the model paints and black where it keeps the photo."
)


def example_faces(folder: str | Path, count: int = EXAMPLE_FACES, size: int = 128) -> list[Path]:
    """Write ``count`` neutral synthetic faces (PNG, ``size`` px) to ``folder`` (made if missing); the page offers
    them as pictures.

    Examples:
        >>> import tempfile
        >>> [p.name for p in example_faces(tempfile.mkdtemp(), count=2, size=32)]
        ['synthetic-0.png', 'synthetic-1.png']
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    faces = SyntheticFaces(num_identities=count, items_per_identity=1, image_size=size)
    neutral = torch.zeros(len(faces.au_names))
    paths = []
    for identity in range(count):
        path = Path(folder) / f"synthetic-{identity}.png"
        faces.render(identity, neutral).save(path)
        paths.append(path)
    return paths


def _guarded(function: Callable[..., Any], kept: Callable[[str], Any] | None = None) -> Callable[..., Any]:
    """``function`` with the errors a user can fix said in the page, never as a traceback.

    With ``kept``, the error is a warning and the event returns ``kept(message)`` (``gradio.skip()`` keeps an
    output as it was, so the last good picture stays); without, it is a ``gradio.Error``.
    """
    gr = require_gradio()

    def run(*args: Any) -> Any:
        try:
            return function(*args)
        except (ValueError, FileNotFoundError, FacesExtraMissingError) as error:
            if kept is None:
                raise gr.Error(str(error), print_exception=False) from None
            gr.Warning(str(error))
            return kept(str(error))

    return run


def _refuse_unreadable(gr: Any, photo: Any) -> Any:
    """``photo`` (a Gradio ``Image``) with uploads that do not decode said in the page, not as a server traceback.

    Gradio refuses files that are not ``image/*`` in the browser, but a file named like an image that does not
    decode reaches ``Image.preprocess``, whose error Gradio reports as a bare "Error" (and logs a traceback). The
    instance's method is wrapped rather than the class subclassed: Gradio writes a ``.pyi`` file next to the
    module of every component subclass it sees.
    """
    original = photo.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except (OSError, ValueError, SyntaxError) as error:  # PIL.UnidentifiedImageError is an OSError
            name = getattr(payload, "orig_name", None) or "the file"
            message = f"{name} is not an image that can be read ({type(error).__name__})"
            raise gr.Error(message, print_exception=False) from None

    photo.preprocess = preprocess
    return photo


def build_app(
    generator: nn.Module,
    *,
    photo: str | Path | None = None,
    examples: Sequence[str | Path] | None = None,
    finder: FaceFinder | Literal["auto"] | None = "auto",
    title: str = "GANimation editor",
) -> gradio.Blocks:
    """Build the interactive editor for ``generator`` as a Gradio ``Blocks`` (launch it, or embed it).

    Launch it with [`launch_app`][ganimation_lib.app.serve.launch_app], which binds 127.0.0.1 and uses a theme with
    system fonts only, or call ``.launch(theme=offline_theme())`` yourself (in a notebook or a Space).

    Args:
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or an EMA copy), on any device.
        photo: A picture shown when the page opens (optional).
        examples: Pictures offered to click; default (and with an empty list too): synthetic faces written to a
            temporary folder, so the page works offline with any model.
        finder: The face finder (``"auto"``: the built-in one when the ``faces`` extra is installed).
        title: The page's heading and the browser tab's title.

    Raises:
        AppExtraMissingError: When Gradio is not installed (``pip install 'ganimation_lib[app]'``).
        ValueError: When the model's AUs cannot be labelled (see [`Editor`][ganimation_lib.app.editor.Editor]).
    """
    gr = require_gradio()
    editor = Editor(generator, finder=finder)
    names = editor.au_names
    output_folder = Path(tempfile.mkdtemp(prefix="ganimation-app-"))
    pictures = (
        [Path(p) for p in examples] if examples else example_faces(output_folder, size=max(128, editor.image_size))
    )
    counter = itertools.count()

    def render(photo_path: str | None, mode: str, box: str, *values: float) -> tuple[Any, ...]:
        text = au_argument(values, names)
        if photo_path is None:
            return None, None, None, text, "Upload a photo or pick a picture below."
        if mode == BOX and not box.strip():
            return gr.skip(), gr.skip(), gr.skip(), text, "Type the face box as LEFT,TOP,RIGHT,BOTTOM and press Enter."
        start = time.perf_counter()
        views = editor.views(photo_path, values, mode, box)
        took = (time.perf_counter() - start) * 1000
        faces = f"{views.faces} face{'s' if views.faces > 1 else ''}" if mode == FIND_FACES else mode
        return views.result, views.attention, views.colour, text, f"Edited {faces} in {took:.0f} ms."

    def preset(expression: str, intensity: float) -> list[float]:
        return preset_values(expression, intensity, names)

    def make_gif(photo_path: str | None, mode: str, box: str, frames: float, *values: float) -> str:
        if photo_path is None:
            raise ValueError("upload a photo or pick a picture first")
        path = output_folder / f"animation-{next(counter)}.gif"
        return str(editor.animation(photo_path, values, mode, box, path, frames=int(frames)))

    with gr.Blocks(analytics_enabled=False, title=title) as blocks:
        gr.Markdown(f"## {title}\n{_INTRO}")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                photo_input = gr.Image(
                    value=None if photo is None else str(photo),
                    type="filepath",
                    image_mode=None,
                    sources=["upload", "clipboard"],
                    label="Photo",
                    height=_PICTURE_HEIGHT,
                    elem_id="photo",
                )
                _refuse_unreadable(gr, photo_input)
                mode = gr.Radio(
                    list(editor.face_modes),
                    value=FIND_FACES if editor.finder is not None else WHOLE_IMAGE,
                    label="Edit",
                    info="every face found, the whole picture as one aligned face, or one box",
                    elem_id="face-mode",
                )
                box = gr.Textbox(label="Face box (LEFT,TOP,RIGHT,BOTTOM, pixels)", placeholder="120,80,280,240",
                                 elem_id="face-box")  # fmt: skip
                gr.Examples([[str(p), WHOLE_IMAGE] for p in pictures], inputs=[photo_input, mode], label="Pictures")
            with gr.Column(scale=2):
                with gr.Row():
                    result = gr.Image(
                        label="Result", interactive=False, format="png", height=_PICTURE_HEIGHT, elem_id="result"
                    )
                    attention = gr.Image(
                        label="Attention", interactive=False, format="png", height=_PICTURE_HEIGHT, elem_id="attention"
                    )
                    colour = gr.Image(
                        label="Colour", interactive=False, format="png", height=_PICTURE_HEIGHT, elem_id="colour"
                    )
                status = gr.Markdown(elem_id="status")
                au_text = gr.Textbox(
                    value=au_argument([0.0] * len(names), names),
                    label="The same edit on the command line: ganimation edit MODEL PHOTO ... -o out.png",
                    interactive=False,
                    buttons=["copy"],
                    elem_id="au-text",
                )
                with gr.Row():
                    expression = gr.Dropdown(
                        list(expression_names()), value="neutral", label="Expression preset", elem_id="expression"
                    )
                    intensity = gr.Slider(
                        0, INTENSITY_MAX, value=1.0, step=0.05, label="Intensity", elem_id="intensity"
                    )
                specs = au_sliders(names)
                per_column = -(-len(specs) // _COLUMNS)
                sliders = []
                with gr.Row():
                    for first in range(0, len(specs), per_column):
                        with gr.Column(min_width=200):
                            sliders += [
                                gr.Slider(
                                    0,
                                    spec.maximum,
                                    value=0.0,
                                    step=SLIDER_STEP,
                                    label=spec.label,
                                    elem_id=f"slider-{spec.name}",
                                )
                                for spec in specs[first : first + per_column]
                            ]
                with gr.Row():
                    frames = gr.Slider(2, 48, value=16, step=1, label="Frames (neutral → these AUs)", elem_id="frames")
                    animate_button = gr.Button("Animate", variant="primary", elem_id="animate")
                animation = gr.File(label="Animation (GIF)", interactive=False, elem_id="animation")

        inputs = [photo_input, mode, box, *sliders]
        outputs = [result, attention, colour, au_text, status]
        # One edit or animation at a time (the editor keeps the last photo), and a release during an edit is not
        # dropped: the last one runs when the edit before it ends.
        not_edited = _guarded(render, lambda message: (*[gr.skip()] * 3, gr.skip(), f"Not edited: {message}"))
        edit = {"fn": not_edited, "inputs": inputs, "outputs": outputs, **_ONE_AT_A_TIME}
        latest = {**edit, "trigger_mode": "always_last"}
        photo_input.change(**edit)
        mode.change(**edit)
        box.submit(**edit)
        for slider in sliders:
            slider.release(**latest)
        for event in (expression.input, intensity.release):
            event(_guarded(preset), [expression, intensity], sliders, trigger_mode="always_last").then(**edit)
        animate_button.click(
            _guarded(make_gif, lambda _message: gr.skip()),
            [photo_input, mode, box, frames, *sliders],
            animation,
            **_ONE_AT_A_TIME,
        )
        blocks.load(**edit)
    return cast("gradio.Blocks", blocks)
