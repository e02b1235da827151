"""The interactive editor: a browser page with a slider per AU, built with Gradio (the ``app`` extra).

``ganimation app MODEL`` serves it; in Python, [`build_app`][ganimation_lib.app.page.build_app] returns the page as
a Gradio ``Blocks`` and [`launch_app`][ganimation_lib.app.serve.launch_app] serves it offline. The model logic
(slider values → AU vector → edited images) is [`Editor`][ganimation_lib.app.editor.Editor] and
[`controls`][ganimation_lib.app.controls], which work without Gradio; importing this package does not import
Gradio either (building the page does, and raises
[`AppExtraMissingError`][ganimation_lib.app.extra.AppExtraMissingError] without it).

Examples:
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> from ganimation_lib.app import Editor
    >>> Editor(Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0)), finder=None).face_modes
    ('whole image', 'box')
"""

from .controls import AUSlider as AUSlider
from .controls import au_argument as au_argument
from .controls import au_sliders as au_sliders
from .controls import au_vector as au_vector
from .controls import preset_values as preset_values
from .editor import Editor as Editor
from .editor import EditorViews as EditorViews
from .extra import APP_INSTALL_HINT as APP_INSTALL_HINT
from .extra import AppExtraMissingError as AppExtraMissingError
from .page import build_app as build_app
from .serve import launch_app as launch_app
from .serve import offline_theme as offline_theme

__all__ = [
    "APP_INSTALL_HINT",
    "AUSlider",
    "AppExtraMissingError",
    "Editor",
    "EditorViews",
    "au_argument",
    "au_sliders",
    "au_vector",
    "build_app",
    "launch_app",
    "offline_theme",
    "preset_values",
]
