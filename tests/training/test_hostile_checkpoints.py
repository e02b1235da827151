"""Checkpoints holding pickled objects, or no checkpoint at all: the library's error, never torch's advice."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganimation_lib import Trainer, load_checkpoint
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.models.pretrained import CheckpointError
from ganimation_lib.training import load_training_state

from .helpers import RandomAUData, tiny_config, tiny_models


class Payload:
    """A pickled object of a class: the weights-only unpickler refuses to build it."""


def _pickled_checkpoint(path: Path) -> Path:
    trainer = Trainer(**tiny_models(), config=tiny_config(), progress=False)
    state = trainer.state_dict()
    state["extra"] = Payload()
    torch.save(state, path)
    return path


def test_resuming_from_a_pickle_names_the_refused_global_and_never_advises_unsafe_loading(tmp_path: Path) -> None:
    path = _pickled_checkpoint(tmp_path / "step-000000004.pt")
    trainer = Trainer(**tiny_models(), config=tiny_config(), progress=False)
    with pytest.raises(CheckpointError, match=r"refused to load .*call .*Payload.*nothing in it was executed") as info:
        trainer.fit(RandomAUData(length=4), resume_from=path)
    assert "weights_only" not in str(info.value) and "trust" not in str(info.value)
    with pytest.raises(CheckpointError, match="Payload"):
        load_training_state(path)
    with pytest.raises(CheckpointError, match="Payload") as info:
        load_checkpoint(path, kind="generator")
    assert "weights_only" not in str(info.value)


def test_unreadable_and_foreign_files_are_checkpoint_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "step-000000001.pt"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="not a readable training checkpoint") as info:
        load_training_state(garbage)
    assert "weights_only" not in str(info.value)
    plain = tmp_path / "plain.pt"
    torch.save(collections.OrderedDict(w=torch.ones(1)), plain)
    with pytest.raises(CheckpointError, match="not a ganimation_lib training checkpoint"):
        load_training_state(plain)


def test_ganimation_train_resume_on_a_pickle_exits_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    path = _pickled_checkpoint(tmp_path / "evil.pt")
    argv = ["train", str(data), "--output", str(tmp_path / "run"), "--resume", str(path), "--image-size", "32"]
    argv += ["--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim", "8"]
    argv += ["--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ganimation train: error: refused to load" in err and "Payload" in err and "weights_only" not in err


def _altered(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A real training checkpoint with ``change`` applied to it (what a damaged or edited file holds)."""
    state = Trainer(**tiny_models(), config=tiny_config(), progress=False).state_dict()
    change(state)
    torch.save(state, path)
    return path


def _poison(state: dict[str, Any]) -> None:
    state["generator"]["attention_head.weight"].view(-1)[0] = float("nan")


def _reshape(state: dict[str, Any]) -> None:
    state["critic"]["score_head.weight"] = torch.zeros(2, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda state: state.clear() or state.update(format=1), r"not a complete .*training checkpoint: it lacks \["),
        (lambda state: state.update(step="many"), r"'step' is 'many', not a whole number"),
        (lambda state: state.update(rng={}), r"RNG state is not torch's"),
        (_reshape, r"critic weights do not fit the CriticConfig .*\n  - wrong shape: score_head\.weight is \(2, 2\)"),
        (_poison, r"\(generator\) are not finite: attention_head\.weight holds 1 NaN/inf"),
        (
            lambda state: state.update(generator_optimizer={"state": {}, "param_groups": []}),
            r"the generator optimizer state is not one of the generator's parameters",
        ),
        (
            lambda state: state.update(callbacks={"MetricsLogger": {"sums": "x", "counts": {}}}),
            r"the MetricsLogger sums are not numbers",
        ),
    ],
    ids=["format only", "step is text", "no rng", "wrong shape", "nan weight", "optimizer", "callbacks"],
)
def test_an_altered_training_checkpoint_is_refused_by_name_before_anything_is_restored(
    change: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    # Resuming would otherwise stop with a KeyError or torch's RuntimeError halfway through the restore, or
    # (a NaN weight) train on and export a generator that outputs NaN, exiting 0.
    path = _altered(tmp_path / "step-000000004.pt", change)
    with pytest.raises(CheckpointError, match=message) as info:
        load_training_state(path)
    assert "step-000000004.pt" in str(info.value)
    trainer = Trainer(**tiny_models(), config=tiny_config(), output_dir=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match=message):
        trainer.fit(RandomAUData(length=4), resume_from=path)
    assert not (tmp_path / "run" / "generator").exists()


def test_ganimation_train_resume_from_a_nan_checkpoint_exits_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    path = _altered(tmp_path / "step-000000004.pt", _poison)
    argv = ["train", str(data), "--output", str(tmp_path / "run"), "--resume", str(path), "--image-size", "32"]
    argv += ["--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim", "8"]
    argv += ["--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 2
    assert "step-000000004.pt (generator) are not finite" in capsys.readouterr().err
    assert not (tmp_path / "run" / "generator").exists()
