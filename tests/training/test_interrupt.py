"""Ctrl-C: the iteration under way completes, a checkpoint is saved, and the run resumes from it."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

import pytest

from ganimation_lib import Trainer
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.training import Callback, load_training_state
from ganimation_lib.training.interrupt import stop_on_interrupt

from .helpers import RandomAUData, tiny_config, tiny_models


class CtrlC(Callback):
    """Sends SIGINT to this process at the given steps, as a terminal's Ctrl-C would."""

    def __init__(self, *steps: int) -> None:
        self.steps = set(steps)

    def on_phase_end(self, trainer: Trainer, phase: str, metrics: Mapping[str, float]) -> None:
        if phase == "critic" and trainer.step + 1 in self.steps:  # in the middle of the iteration
            os.kill(os.getpid(), signal.SIGINT)


def _trainer(folder: Path, *callbacks: Callback) -> Trainer:
    config = tiny_config(max_steps=40, n_critic=1, checkpoint_every=1000, lr_unit="step")
    return Trainer(**tiny_models(), config=config, output_dir=folder, callbacks=callbacks, progress=False)


def test_ctrl_c_finishes_the_iteration_saves_a_checkpoint_and_resumes(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, CtrlC(3))
    with stop_on_interrupt(trainer):
        trainer.fit(RandomAUData(length=4))
    assert trainer.stop_reason == "stop_requested" and trainer.step == 3 and trainer.generator_step == 3
    assert not trainer.stop_requested  # answered; a later fit runs normally
    state = load_training_state(tmp_path / "checkpoints")
    assert state["step"] == 3 and state["generator_step"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler put back

    resumed = _trainer(tmp_path)
    resumed.fit(RandomAUData(length=4), resume_from=tmp_path / "checkpoints")
    assert resumed.step == 40


def test_a_second_ctrl_c_stops_at_once_without_saving(tmp_path: Path) -> None:
    class Twice(Callback):
        def on_phase_end(self, trainer: Trainer, phase: str, metrics: Mapping[str, float]) -> None:
            if trainer.step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    trainer = _trainer(tmp_path, Twice())
    with pytest.raises(KeyboardInterrupt), stop_on_interrupt(trainer):
        trainer.fit(RandomAUData(length=4))
    assert not list((tmp_path / "checkpoints").glob("step-*.pt"))


def test_ganimation_train_says_how_to_stop_and_resume_and_saves_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Trainer.train_step

    def train_step(self: Trainer, batch: object) -> dict[str, float]:
        if self.step >= 10:
            raise RuntimeError("Ctrl-C did not stop training")  # a guard: never run forever
        metrics = original(self, batch)  # type: ignore[arg-type]
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return metrics

    monkeypatch.setattr(Trainer, "train_step", train_step)
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    out = tmp_path / "run"
    argv = ["train", str(data), "--output", str(out), "--image-size", "32", "--lr-unit", "step"]
    argv += ["--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim", "8"]
    argv += ["--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert "no limit is set" in captured.out and "Ctrl-C stops after the current iteration" in captured.out
    assert "interrupted after 2 iterations; checkpoint" in captured.err and "--resume" in captured.err
    assert load_training_state(out / "checkpoints")["step"] == 2
