"""The non-finite guard: bad steps are skipped and reported; too many in a row stop training cleanly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import torch
from torch import Tensor

from ganimation_lib import Trainer
from ganimation_lib.training import Callback, CriticStep, GeneratorStep, NonFiniteLossError, load_training_state

from .helpers import RandomAUData, tiny_config, tiny_models


def test_isolated_nan_is_skipped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    def nan_once(step: CriticStep) -> Tensor:
        return torch.tensor(float("nan")) if trainer.step == 1 else torch.zeros(())

    class Snapshots(Callback):
        def __init__(self) -> None:
            self.critic: list[dict[str, Tensor]] = []

        def on_step_end(self, t: Trainer, metrics: Mapping[str, float]) -> None:
            self.critic.append({k: v.clone() for k, v in t.critic.state_dict().items()})

    snapshots = Snapshots()
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=3, n_critic=1),
        critic_losses={"bad": nan_once},
        callbacks=[snapshots],
        progress=False,
    )
    trainer.fit(RandomAUData(length=4))
    assert trainer.step == 3 and trainer.nonfinite_streak == 0
    assert "step 2 skipped: non-finite loss or gradient (critic/bad, critic/total" in caplog.text
    after_1, after_2, after_3 = snapshots.critic
    assert all(torch.equal(v, after_2[k]) for k, v in after_1.items()), "the critic step of step 2 was not skipped"
    assert any(not torch.equal(v, after_3[k]) for k, v in after_2.items()), "training did not go on after it"
    assert all(torch.isfinite(v).all() for v in after_3.values())


def test_too_many_in_a_row_stop_with_the_last_good_checkpoint_intact(tmp_path: Path) -> None:
    def nan_from_step_3(step: CriticStep) -> Tensor:
        return torch.tensor(float("inf")) if trainer.step >= 2 else torch.zeros(())

    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=10, checkpoint_every=1, max_nonfinite_steps=3),
        output_dir=tmp_path,
        critic_losses={"bad": nan_from_step_3},
        progress=False,
    )
    with pytest.raises(NonFiniteLossError, match=r"3 iterations in a row.*step-000000002\.pt"):
        trainer.fit(RandomAUData(length=4))
    # Steps 3-5 were skipped and not saved: the newest checkpoint is still the good one of step 2.
    files = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*.pt"))
    assert files[-1] == "step-000000002.pt"
    state = load_training_state(tmp_path / "checkpoints" / "step-000000002.pt")
    assert all(torch.isfinite(v).all() for v in state["critic"].values())


def test_after_a_resume_the_error_names_the_checkpoint_resumed_from(tmp_path: Path) -> None:
    Trainer(**tiny_models(), config=tiny_config(max_steps=2), output_dir=tmp_path, progress=False).fit(
        RandomAUData(length=4)
    )
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=10, max_nonfinite_steps=2),
        output_dir=tmp_path,
        critic_losses={"bad": lambda step: torch.tensor(float("nan"))},
        progress=False,
    )
    with pytest.raises(NonFiniteLossError, match=r"last good checkpoint is \S*step-000000002\.pt"):
        trainer.fit(RandomAUData(length=4), resume_from=tmp_path / "checkpoints")


def _nan_gradient(step: GeneratorStep) -> Tensor:
    """0 in value, NaN in gradient: sqrt's derivative at 0 is inf, times the 0 derivative of |x| at 0."""
    zero = (step.fake.image - step.fake.image.detach()).abs().sum()
    return torch.sqrt(zero)


class _GeneratorSnapshots(Callback):
    def __init__(self) -> None:
        self.states: list[dict[str, Tensor]] = []

    def on_step_end(self, t: Trainer, metrics: Mapping[str, float]) -> None:
        self.states.append({k: v.clone() for k, v in t.generator.state_dict().items()})


def test_a_finite_loss_with_a_nan_gradient_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def nan_gradient_once(step: GeneratorStep) -> Tensor:
        return _nan_gradient(step) if trainer.step == 1 else torch.zeros(())

    snapshots = _GeneratorSnapshots()
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=3, n_critic=1),
        generator_losses={"bad": nan_gradient_once},
        callbacks=[snapshots],
        progress=False,
    )
    trainer.fit(RandomAUData(length=4))
    assert trainer.step == 3 and trainer.generator_step == 2 and trainer.nonfinite_streak == 0
    assert "step 2 skipped: non-finite loss or gradient (generator/grad_norm)" in caplog.text
    after_1, after_2, after_3 = snapshots.states
    assert all(torch.equal(v, after_2[k]) for k, v in after_1.items()), "the NaN gradient was applied"
    assert any(not torch.equal(v, after_3[k]) for k, v in after_2.items()), "training did not go on after it"
    assert all(torch.isfinite(v).all() for v in after_3.values())
    assert all(torch.isfinite(v).all() for v in trainer.critic.state_dict().values())


def test_nan_gradients_in_a_row_stop_training_and_are_never_checkpointed(tmp_path: Path) -> None:
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=10, n_critic=1, checkpoint_every=1, max_nonfinite_steps=2),
        output_dir=tmp_path,
        generator_losses={"bad": lambda step: _nan_gradient(step) if trainer.step >= 1 else torch.zeros(())},
        progress=False,
    )
    with pytest.raises(NonFiniteLossError, match=r"2 iterations in a row.*step-000000001\.pt"):
        trainer.fit(RandomAUData(length=4))
    for path in (tmp_path / "checkpoints").glob("step-*.pt"):
        state = load_training_state(path)
        assert all(torch.isfinite(v).all() for v in state["generator"].values()), path.name
