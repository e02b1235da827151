"""The ``app`` extra: Gradio is imported only when the editor is built, and its absence is said clearly.

``import ganimation_lib`` and every ``ganimation`` command other than ``ganimation app`` run without Gradio (and
without paying the seconds its import takes); [`require_gradio`][ganimation_lib.app.extra.require_gradio] is the
one place that imports it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["APP_INSTALL_HINT", "AppExtraMissingError", "require_gradio"]

#: The command that installs the interactive editor's dependencies.
APP_INSTALL_HINT = "pip install 'ganimation_lib[app]'"


class AppExtraMissingError(ImportError):
    """The optional extra of the interactive editor (Gradio) is not installed; the message says what to install."""


def require_gradio() -> ModuleType:
    """Import and return ``gradio``, with its telemetry and version check switched off first.

    ``GRADIO_ANALYTICS_ENABLED`` is set to ``False`` before the import, because Gradio reads it while importing
    and while building every ``Blocks`` (its version check runs only with analytics on); the editor also passes
    ``analytics_enabled=False`` itself, so nothing is sent anywhere.

    Raises:
        AppExtraMissingError: If Gradio is not installed (the message names the extra to install).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        return importlib.import_module("gradio")
    except ImportError as error:
        raise AppExtraMissingError(
            f"the interactive editor needs the optional extra: {APP_INSTALL_HINT} (it installs Gradio); "
            f"'gradio' could not be imported ({error})"
        ) from error
