"""Checkpoints: bit-exact resume on CPU, and a SIGKILL during a save leaves the previous one intact."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ganimation_lib.training import Callback, Trainer, load_training_state
from ganimation_lib.training.checkpoint import latest_checkpoint, list_checkpoints

from .helpers import RandomAUData, tiny_config, tiny_models


def _trainer(tmp: Path, callbacks: Sequence[Callback] = (), **overrides: object) -> Trainer:
    settings: dict[str, object] = {"ema_decay": 0.9, "checkpoint_every": 3, "keep_checkpoints": 5, **overrides}
    config = tiny_config(**settings)
    return Trainer(**tiny_models(), config=config, output_dir=tmp, callbacks=callbacks, progress=False)


class DrawsAtStart(Callback):
    """A callback that uses the global RNGs when a fit starts (as a logger picking a run id might)."""

    def on_fit_start(self, trainer: Trainer) -> None:
        torch.rand(3)
        random.random()
        np.random.rand()


def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path: Path) -> None:
    data = RandomAUData(length=6)  # 3 batches per epoch: the break at step 5 falls mid-epoch
    full = _trainer(tmp_path / "full", max_steps=8, checkpoint_every=5, log_every=2)
    full.fit(data, val_data=RandomAUData(length=2, seed=1))

    first = _trainer(tmp_path / "parts", max_steps=5, checkpoint_every=5, log_every=2)
    first.fit(data, val_data=RandomAUData(length=2, seed=1))
    torch.manual_seed(1234)  # the resumed run must not depend on the RNG state it starts with
    second = _trainer(tmp_path / "parts2", max_steps=8, checkpoint_every=5, log_every=2, callbacks=[DrawsAtStart()])
    second.fit(data, val_data=RandomAUData(length=2, seed=1), resume_from=tmp_path / "parts" / "checkpoints")

    assert second.step == full.step == 8 and second.epoch == full.epoch
    for name in ("generator", "critic"):
        a, b = getattr(full, name).state_dict(), getattr(second, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"
    assert full.ema is not None and second.ema is not None
    for key, value in full.ema.state_dict().items():
        assert torch.equal(value, second.ema.state_dict()[key]), f"ema.{key} differs"

    # The metrics window open at the break (step 5 of 6) travels in the checkpoint: same averages logged.
    def train_records(run: str) -> list[dict[str, float]]:
        lines = (tmp_path / run / "logs" / "metrics.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if r["kind"] == "train" and r["step"] > 5]

    assert train_records("parts2") == train_records("full") and len(train_records("full")) == 2

    # Resumed in the folder of an interrupted run, the records it logged past its checkpoint are replaced.
    third = _trainer(tmp_path / "full", max_steps=8, checkpoint_every=5, log_every=2)
    third.fit(
        data,
        val_data=RandomAUData(length=2, seed=1),
        resume_from=tmp_path / "full" / "checkpoints" / "step-000000005.pt",
    )
    steps = [
        r["step"] for r in map(json.loads, (tmp_path / "full" / "logs" / "metrics.jsonl").read_text().splitlines())
    ]
    assert steps == sorted(steps), steps
    csv_steps = [line.split(",")[1] for line in (tmp_path / "full" / "logs" / "train.csv").read_text().splitlines()[1:]]
    assert csv_steps == ["2", "4", "6", "8"]
    for name in ("generator_optimizer", "critic_optimizer"):
        opt_a, opt_b = getattr(full, name).state_dict(), getattr(second, name).state_dict()
        for index, state in opt_a["state"].items():
            assert torch.equal(state["exp_avg"], opt_b["state"][index]["exp_avg"]), name
            assert torch.equal(state["exp_avg_sq"], opt_b["state"][index]["exp_avg_sq"]), name


def test_fit_gives_the_caller_its_rng_back(tmp_path: Path) -> None:
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    expected = (torch.rand(2), random.random(), np.random.rand())
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    trainer = _trainer(tmp_path, max_steps=2, checkpoint_every=0)
    trainer.fit(RandomAUData(length=4))
    trainer.fit(RandomAUData(length=4), resume_from=tmp_path / "checkpoints")
    assert torch.equal(torch.rand(2), expected[0])
    assert (random.random(), np.random.rand()) == expected[1:]


def test_building_a_trainer_leaves_the_cuda_generators_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without a GPU, watch the call that would reseed them (torch.manual_seed makes it on every machine).
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", calls.append)
    first = Trainer(**tiny_models(), config=tiny_config(seed=3), progress=False)
    assert calls == []
    torch.manual_seed(99)
    again = Trainer(**tiny_models(), config=tiny_config(seed=3), progress=False)
    for key, value in first.generator.state_dict().items():
        assert torch.equal(value, again.generator.state_dict()[key])  # still seeded by config.seed


def test_a_second_fit_on_the_same_trainer_continues_the_run(tmp_path: Path) -> None:
    data = RandomAUData(length=6)
    full = _trainer(tmp_path / "full", max_steps=8, checkpoint_every=0)
    full.fit(data)
    parts = _trainer(tmp_path / "parts", max_steps=5, checkpoint_every=0)
    parts.fit(data)
    parts.config = parts.config.replace(max_steps=8)  # as a max_time stop followed by another fit()
    parts.fit(data)
    assert parts.step == 8
    for key, value in full.generator.state_dict().items():
        assert torch.equal(value, parts.generator.state_dict()[key]), key


def test_resume_with_another_network_config_names_the_difference(tmp_path: Path) -> None:
    _trainer(tmp_path, max_steps=1).fit(RandomAUData(length=4))
    models = tiny_models()
    models["generator"] = dataclasses.replace(models["generator"], attention_bias=3.0)
    other = Trainer(**models, config=tiny_config(max_steps=2), progress=False)
    with pytest.raises(ValueError, match=r"generator was built with a different config.*attention_bias"):
        other.fit(RandomAUData(length=4), resume_from=tmp_path / "checkpoints")


def test_checkpoint_is_weights_only_and_complete(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, max_steps=3)
    trainer.fit(RandomAUData(length=4))
    path = latest_checkpoint(tmp_path / "checkpoints")
    assert path is not None and path.name == "step-000000003.pt"
    state = torch.load(path, weights_only=True)
    for key in (
        "generator",
        "critic",
        "ema",
        "generator_optimizer",
        "critic_optimizer",
        "generator_scaler",
        "critic_scaler",
        "rng",
        "trainer_config",
        "generator_config",
        "critic_config",
        "callbacks",
        "step",
        "epoch",
        "batch_in_epoch",
    ):
        assert key in state, key
    assert state["step"] == 3 and state["trainer_config"]["batch_size"] == 2


def test_keeps_only_the_last_k(tmp_path: Path) -> None:
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=6, checkpoint_every=1, keep_checkpoints=2),
        output_dir=tmp_path,
        progress=False,
    )
    trainer.fit(RandomAUData(length=4))
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["step-000000005.pt", "step-000000006.pt"]


def test_resuming_from_an_older_checkpoint_never_prunes_the_new_one(tmp_path: Path) -> None:
    _trainer(tmp_path, max_steps=2, checkpoint_every=1).fit(RandomAUData(length=4))
    folder = tmp_path / "checkpoints"
    shutil.copy(folder / "step-000000002.pt", folder / "step-000000010.pt")  # a later step of an abandoned run
    resumed = _trainer(tmp_path, max_steps=3, checkpoint_every=1, keep_checkpoints=1)
    resumed.fit(RandomAUData(length=4), resume_from=folder / "step-000000002.pt")
    assert [p.name for p in list_checkpoints(folder)] == ["step-000000003.pt"]


_CHILD = textwrap.dedent(
    """
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from ganimation_lib.training import Trainer, checkpoint
    from training.helpers import RandomAUData, tiny_config, tiny_models

    real_save = torch.save
    calls = []

    def slow_save(obj, handle, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            return real_save(obj, handle, *args, **kwargs)
        handle.write(b"PARTIAL" * 1000)  # half a checkpoint on disk, then hang until killed
        handle.flush()
        print("WRITING", flush=True)
        time.sleep(60)

    checkpoint.torch.save = slow_save
    trainer = Trainer(**tiny_models(), config=tiny_config(max_steps=4, checkpoint_every=2), output_dir={out!r},
                      progress=False)
    trainer.fit(RandomAUData(length=4))
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_while_saving_leaves_previous_checkpoint_intact(tmp_path: Path) -> None:
    tests_dir = str(Path(__file__).resolve().parents[1])
    script = _CHILD.format(tests=tests_dir, out=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == b"WRITING", (line, child.stderr.read() if child.stderr else b"")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    folder = tmp_path / "checkpoints"
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the interrupted save should have left its temporary file behind"
    assert [p.name for p in list_checkpoints(folder)] == ["step-000000002.pt"]
    state = load_training_state(folder)
    assert state["step"] == 2
    resumed = Trainer(**tiny_models(), config=tiny_config(max_steps=3), progress=False)
    resumed.fit(RandomAUData(length=4), resume_from=folder)
    assert resumed.step == 3


def test_resume_on_a_user_dataloader_is_exact(tmp_path: Path) -> None:
    # Replaying the loader to the saved position draws random targets (and the loader's base seed) from
    # the global RNG; the run's states must be the checkpoint's again once the replay is done.
    def loader() -> DataLoader[Any]:
        return DataLoader(RandomAUData(length=6), batch_size=2, shuffle=False)

    full = _trainer(tmp_path / "full", max_steps=7, checkpoint_every=0)
    full.fit(loader())
    _trainer(tmp_path / "part", max_steps=4, checkpoint_every=0).fit(loader())
    resumed = _trainer(tmp_path / "part", max_steps=7, checkpoint_every=0)
    resumed.fit(loader(), resume_from=tmp_path / "part" / "checkpoints")
    assert resumed.batch_in_epoch == full.batch_in_epoch and resumed.step == 7
    for key, value in full.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key


def test_resuming_mid_epoch_with_another_batch_size_warns(tmp_path: Path) -> None:
    _trainer(tmp_path, max_steps=1, checkpoint_every=0).fit(RandomAUData(length=8))  # batch 1 of 4
    other = _trainer(tmp_path, max_steps=2, batch_size=4)
    with pytest.warns(UserWarning, match="another batch_size"):
        other.fit(RandomAUData(length=8), resume_from=tmp_path / "checkpoints")
