"""The page (Gradio) and ``ganimation app``: what is built and wired, and the messages without Gradio or a model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ganimation_lib import Generator
from ganimation_lib.app import APP_INSTALL_HINT, AppExtraMissingError, build_app
from ganimation_lib.aus import AU_DESCRIPTIONS, AU_NAMES
from ganimation_lib.cli import main


@pytest.fixture
def no_gradio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradio cannot be imported (as without the app extra)."""
    monkeypatch.setitem(sys.modules, "gradio", None)


def _config(generator: Generator) -> dict[str, Any]:
    pytest.importorskip("gradio", reason="the app extra is not installed")
    config: dict[str, Any] = build_app(generator, finder=None).get_config_file()
    return config


def _elem_ids(config: dict[str, Any]) -> dict[int, str]:
    return {c["id"]: c.get("props", {}).get("elem_id") or "" for c in config["components"]}


def test_build_app_builds_a_slider_per_au_with_its_name_and_description(generator: Generator) -> None:
    config = _config(generator)
    sliders = {
        c["props"]["elem_id"]: c["props"]
        for c in config["components"]
        if c["type"] == "slider" and c["props"].get("elem_id", "").startswith("slider-")
    }
    assert list(sliders) == [f"slider-{name}" for name in AU_NAMES]
    for name in AU_NAMES:
        props = sliders[f"slider-{name}"]
        assert props["label"] == f"{name} · {AU_DESCRIPTIONS[name]}"
        assert (props["minimum"], props["maximum"], props["value"]) == (0, 5, 0)
    assert {"photo", "result", "attention", "colour", "au-text", "expression", "intensity", "animate"} <= set(
        _elem_ids(config).values()
    )


def test_sliders_edit_on_release_only_and_the_last_release_is_kept(generator: Generator) -> None:
    config = _config(generator)
    ids = _elem_ids(config)
    triggers: dict[str, list[tuple[str, str]]] = {}
    for dependency in config["dependencies"]:
        for target, event in dependency["targets"]:
            triggers.setdefault(ids.get(target, ""), []).append((event, dependency["trigger_mode"]))
    for name in AU_NAMES:
        assert triggers[f"slider-{name}"] == [("release", "always_last")]  # not every drag tick
    assert [event for event, _ in triggers["intensity"]] == ["release"]
    assert [event for event, _ in triggers["animate"]] == ["click"]


def test_the_page_sends_no_telemetry(generator: Generator) -> None:
    pytest.importorskip("gradio", reason="the app extra is not installed")
    import os

    blocks = build_app(generator, finder=None)
    assert blocks.analytics_enabled is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_without_gradio_build_app_says_what_to_install(generator: Generator, no_gradio: None) -> None:
    with pytest.raises(AppExtraMissingError, match=r"pip install 'ganimation_lib\[app\]'"):
        build_app(generator)
    assert APP_INSTALL_HINT == "pip install 'ganimation_lib[app]'"


def test_without_gradio_the_command_says_what_to_install(
    saved_model: Path, no_gradio: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["app", str(saved_model)]) == 2
    err = capsys.readouterr().err
    assert "ganimation app: error:" in err and "pip install 'ganimation_lib[app]'" in err
    assert "Traceback" not in err


def test_the_command_without_a_model_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ganimation app")
    assert "say which model to edit with: ganimation app MODEL" in err


def test_the_command_with_a_missing_model_or_photo_says_so(
    saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("gradio", reason="the app extra is not installed")
    assert main(["app", str(tmp_path / "nothing")]) == 2
    assert "nothing does not exist" in capsys.readouterr().err
    assert main(["app", str(saved_model), "--photo", str(tmp_path / "nope.jpg")]) == 2
    assert "nope.jpg does not exist" in capsys.readouterr().err


def test_a_bad_port_is_refused_by_the_parser(saved_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["app", str(saved_model), "--port", "70000"])
    assert stop.value.code == 2
    assert "--port 70000 must be from 1 to 65535" in capsys.readouterr().err


def test_importing_the_library_and_its_command_line_does_not_import_gradio() -> None:
    code = "import sys, ganimation_lib, ganimation_lib.cli, ganimation_lib.app; print('gradio' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_a_port_in_use_is_said_plainly(saved_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gradio", reason="the app extra is not installed")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", str(saved_model), "--port", str(port), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"ganimation app: error: cannot serve on 127.0.0.1:{port}" in err and "choose another --port" in err
    assert "Traceback" not in err


def test_edits_and_animations_run_one_at_a_time(generator: Generator) -> None:
    pytest.importorskip("gradio", reason="the app extra is not installed")
    blocks = build_app(generator, finder=None)
    ids = _elem_ids(blocks.get_config_file())
    uses_the_editor = {"photo", "face-mode", "face-box", "animate", *(f"slider-{name}" for name in AU_NAMES)}
    queues = {
        (function.concurrency_id, function.concurrency_limit)
        for function in blocks.fns.values()
        for target, _ in function.targets
        if ids.get(target) in uses_the_editor
    }
    assert queues == {("edit", 1)}
