"""Callback hooks: their order, their state in checkpoints, the built-in writers."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Trainer
from ganimation_lib.training import Callback, ProgressBar
from ganimation_lib.training.callbacks import SampleGrid

from .helpers import RandomAUData, tiny_config, tiny_models


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.steps_seen = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.events.append("fit_start")

    def on_phase_end(self, trainer: Trainer, phase: str, metrics: Mapping[str, float]) -> None:
        self.events.append(f"phase:{phase}")

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        self.events.append(f"step:{trainer.step}")
        self.steps_seen += 1

    def on_validation_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        self.events.append(f"validation:{trainer.step}")

    def on_fit_end(self, trainer: Trainer) -> None:
        self.events.append("fit_end")

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.events.append(f"exception:{type(error).__name__}")

    def state_dict(self) -> dict[str, Any]:
        return {"steps_seen": self.steps_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_seen = state["steps_seen"]


def test_hooks_are_called_in_order() -> None:
    recorder = Recorder()
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(n_critic=2, max_steps=2, validate_every=2),
        callbacks=[recorder],
        progress=False,
    )
    trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2))
    assert recorder.events == [
        "fit_start",
        "validation:0",
        "phase:critic",
        "step:1",
        "phase:critic",
        "phase:generator",
        "validation:2",
        "step:2",
        "fit_end",
    ]


def test_callback_state_travels_in_the_checkpoint(tmp_path: Path) -> None:
    first = Recorder()
    Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=3, checkpoint_every=3),
        output_dir=tmp_path,
        callbacks=[first],
        progress=False,
    ).fit(RandomAUData(length=4))
    second = Recorder()
    Trainer(**tiny_models(), config=tiny_config(max_steps=4), callbacks=[second], progress=False).fit(
        RandomAUData(length=4), resume_from=tmp_path / "checkpoints"
    )
    assert second.steps_seen == 4


def test_exception_hook_and_no_final_checkpoint(tmp_path: Path) -> None:
    class Boom(Callback):
        def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
            if trainer.step == 2:
                raise RuntimeError("boom")

    recorder = Recorder()
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=5, checkpoint_every=1),
        output_dir=tmp_path,
        callbacks=[Boom(), recorder],
        progress=False,
    )
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(RandomAUData(length=4))
    assert recorder.events[-1] == "exception:RuntimeError" and "fit_end" not in recorder.events
    # Checkpointing runs after the other callbacks, so the failing step 2 was never saved.
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*.pt")) == ["step-000000001.pt"]


def test_duplicate_state_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="state_key"):
        Trainer(**tiny_models(), config=tiny_config(), callbacks=[Recorder(), Recorder()], progress=False)


def test_metrics_files_and_text_progress(tmp_path: Path) -> None:
    stream = io.StringIO()
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=4, log_every=2),
        output_dir=tmp_path,
        callbacks=[ProgressBar(every=2, stream=stream, use_tqdm=False)],
        progress=False,
    )
    trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2))
    records = [json.loads(line) for line in (tmp_path / "logs" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [2, 4] and "generator/cycle" in train[-1]
    csv_lines = (tmp_path / "logs" / "train.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:3] == ["kind", "step", "epoch"] and len(csv_lines) == 3
    assert (tmp_path / "logs" / "validation.csv").is_file()
    text = stream.getvalue()
    assert "step 2:" in text and "img/s" in text and "critic=" in text


def test_progress_shows_a_skipped_step_only_while_it_is_the_last(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    nan_at_1 = {"bad": lambda step: torch.tensor(float("nan")) if trainer.step == 0 else torch.zeros(())}
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=2, n_critic=1),
        callbacks=[ProgressBar(every=1, stream=stream, use_tqdm=False)],
        critic_losses=nan_at_1,
        progress=False,
    )
    trainer.fit(RandomAUData(length=4))
    lines = stream.getvalue().splitlines()
    assert "nonfinite=1" in lines[0] and "nonfinite" not in lines[1], lines


def test_sample_grids_are_labelled_with_the_names_of_a_target_mapping(tmp_path: Path) -> None:
    targets = {"happy": torch.full((17,), 0.5), "sad": torch.zeros(17)}
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=1, sample_every=1),
        output_dir=tmp_path,
        progress=False,
        sample_targets=targets,
    )
    trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2))
    grid = SampleGrid(tmp_path / "again", targets=targets)
    assert grid.names == ["happy", "sad"] and len(grid.targets or []) == 2
    written = sorted((tmp_path / "samples").glob("step-*.png"))
    picture = np.asarray(Image.open(written[-1]))
    tiles = 2 * (32 + 2) + 2  # two validation faces of 32 px, 2 px apart
    assert picture.shape[0] > tiles and picture.shape[1] == 7 * (32 + 2) + 2  # a header above input + 2 × 3
    assert len(np.unique(picture[: picture.shape[0] - tiles])) > 2  # text in it
    with pytest.raises(ValueError, match="1 names for 2 targets"):
        SampleGrid(tmp_path, targets=list(targets.values()), names=["happy"])
