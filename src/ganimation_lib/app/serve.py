"""Serving the editor offline: bound to 127.0.0.1, no share link, no telemetry, system fonts only.

Gradio's own themes name web fonts; `offline_theme` uses the fonts already on the user's machine, so the page
requests nothing from anywhere but the app itself (the browser test checks every request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .extra import require_gradio

if TYPE_CHECKING:
    import gradio

__all__ = ["APP_CSS", "MAX_UPLOAD", "launch_app", "offline_theme"]

#: The largest upload the server takes (the library refuses pictures above 50 megapixels anyway).
MAX_UPLOAD = "64mb"


#: Pictures fill their panels: a 32 px model's output is drawn as large as a photo's.
APP_CSS = """
#photo img, #result img, #attention img, #colour img { width: 100%; height: 100%; object-fit: contain; }
"""


def offline_theme() -> gradio.themes.Base:
    """Gradio's default theme with system fonts instead of web fonts."""
    gr = require_gradio()
    theme: gradio.themes.Base = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    return theme


def launch_app(
    blocks: gradio.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Serve ``blocks`` (from [`build_app`][ganimation_lib.app.page.build_app]) and return its local URL.

    Args:
        blocks: The editor.
        host: The address to bind: 127.0.0.1 (this machine only) unless you mean to expose it.
        port: The port; ``None`` takes the first free one from 7860.
        block: Serve until interrupted (``False``: return at once, the server runs in a thread).
        quiet: Print nothing.
    """
    options: dict[str, Any] = {
        "server_name": host,
        "server_port": port,
        "share": False,
        "inbrowser": False,
        "prevent_thread_lock": not block,
        "quiet": quiet,
        "theme": offline_theme(),
        "css": APP_CSS,
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "max_file_size": MAX_UPLOAD,
    }
    _app, local_url, _share_url = blocks.launch(**options)
    return str(local_url)
