"""The Trainer end to end: synthetic faces, phases, options, custom parts, input checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ganimation_lib import CriticConfig, Generator, GeneratorConfig, GeneratorOutput, Trainer, TrainerConfig
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.models.convert import from_pretrained
from ganimation_lib.training import Callback, GeneratorStep

from .helpers import RandomAUData, tiny_config, tiny_models


def test_tiny_end_to_end_fit_on_synthetic_faces(tmp_path: Path) -> None:
    train = SyntheticFaces(num_identities=4, items_per_identity=2, image_size=32, seed=0)
    val = SyntheticFaces(num_identities=2, items_per_identity=1, image_size=32, seed=1, identity_seed=50)
    config = tiny_config(batch_size=4, max_steps=4, ema_decay=0.9, checkpoint_every=2, validate_every=2, sample_every=2)
    trainer = Trainer(**tiny_models(), config=config, output_dir=tmp_path, progress=False)
    figures = trainer.fit(train, val_data=val)
    for name in (
        "critic_au_error",
        "expression_error",
        "cycle_error",
        "attention_mean",
        "true_error",
        "identity_error",
    ):
        assert name in figures and figures[name] == figures[name], name
    assert (trainer.step, trainer.generator_step, trainer.epoch, trainer.batch_in_epoch) == (4, 2, 1, 2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-000000002.pt", "step-000000004.pt"]
    assert (tmp_path / "samples" / "step-000000004.png").is_file()
    lines = (tmp_path / "logs" / "metrics.jsonl").read_text().splitlines()
    assert any('"kind": "validation"' in line and '"true_error"' in line for line in lines)
    assert (tmp_path / "logs" / "train.csv").read_text().startswith("kind,step,epoch")
    export = trainer.export(tmp_path / "generator")
    loaded = from_pretrained(export)
    assert isinstance(loaded, Generator)
    for key, value in trainer.sampling_generator.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def _grads(module: torch.nn.Module) -> list[Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in module.parameters()]


def _same(a: list[Tensor | None], b: list[Tensor | None]) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
        for x, y in zip(a, b, strict=True)
    )


def test_phases_toggle_requires_grad_and_follow_n_critic() -> None:
    seen: list[tuple[str, bool, bool]] = []
    leaks: list[str] = []

    class Phases(Callback):
        critic_grads: list[Tensor | None] | None = None
        generator_grads: list[Tensor | None] | None = None

        def on_phase_end(self, t: Trainer, phase: str, metrics: object) -> None:
            g_on = all(p.requires_grad for p in t.generator.parameters())
            d_on = all(p.requires_grad for p in t.critic.parameters())
            seen.append((phase, g_on, d_on))
            # Neither phase may touch the other network's gradients.
            if phase == "critic":
                if self.generator_grads is not None and not _same(self.generator_grads, _grads(t.generator)):
                    leaks.append(f"critic phase changed the generator's gradients at step {t.step}")
                self.critic_grads = _grads(t.critic)
            else:
                assert self.critic_grads is not None
                if not _same(self.critic_grads, _grads(t.critic)):
                    leaks.append(f"generator phase changed the critic's gradients at step {t.step}")
                self.generator_grads = _grads(t.generator)

    trainer = Trainer(
        **tiny_models(), config=tiny_config(n_critic=3, max_steps=6), callbacks=[Phases()], progress=False
    )
    trainer.fit(RandomAUData(length=4))
    assert [phase for phase, _, _ in seen] == ["critic", "critic", "critic", "generator"] * 2
    assert all((g, d) == (False, True) for phase, g, d in seen if phase == "critic")
    assert all((g, d) == (True, False) for phase, g, d in seen if phase == "generator")
    assert trainer.generator_step == 2 and not leaks, leaks
    # Both networks are trainable again once fit returns.
    assert all(p.requires_grad for p in [*trainer.generator.parameters(), *trainer.critic.parameters()])


def test_official_defaults() -> None:
    c = TrainerConfig()
    assert (c.generator_lr, c.critic_lr, c.betas, c.n_critic, c.batch_size) == (1e-4, 1e-4, (0.5, 0.999), 5, 25)
    assert (c.lr_constant, c.lr_decay, c.lr_unit) == (20, 10, "epoch")
    assert c.loss_weights.expression == 4000 and c.expression_form == "official"
    # The official code takes a second critic step for the gradient penalty; TrainerConfig.official() is exact.
    assert c.gradient_penalty_mode == "separate_step" and TrainerConfig.official() == c
    assert c.loss_weights.color_smoothness == 0.0
    assert TrainerConfig.from_dict(c.to_dict()) == c
    assert [c.lr_factor(e, 0) for e in (0, 20)] == [1.0, 1.0] and c.lr_factor(29, 0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("batch_size", 0, "batch_size=0"),
        ("precision", "fp8", "precision='fp8'"),
        ("ema_decay", 1.5, "ema_decay"),
        ("betas", (0.5,), "betas"),
        ("device", "", "device"),
    ],
)
def test_bad_config_values_are_named(field: str, value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        TrainerConfig(**{field: value})  # type: ignore[arg-type]


def test_unknown_config_key_is_named() -> None:
    with pytest.raises(ValueError, match="n_critics"):
        TrainerConfig.from_dict({"n_critics": 3})


def test_too_little_data_says_what_to_do() -> None:
    trainer = Trainer(**tiny_models(), config=tiny_config(batch_size=8), progress=False)
    with pytest.raises(ValueError, match="fewer than batch_size=8"):
        trainer.fit(RandomAUData(length=4))


def test_options_separate_gp_step_clipping_warmup_and_dataloader_input() -> None:
    config = tiny_config(
        gradient_penalty_mode="separate_step", grad_clip=1.0, critic_warmup_steps=2, n_critic=1, max_steps=4
    )
    trainer = Trainer(**tiny_models(), config=config, progress=False)
    loader = DataLoader(RandomAUData(length=4), batch_size=2, shuffle=False)
    trainer.fit(loader)
    assert trainer.step == 4 and trainer.generator_step == 2


def test_fast_dev_run_runs_both_phases_and_writes_no_checkpoint(tmp_path: Path) -> None:
    trainer = Trainer(
        **tiny_models(), config=tiny_config(fast_dev_run=True, max_steps=None), output_dir=tmp_path, progress=False
    )
    figures = trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2))
    assert trainer.step == 1 and trainer.generator_step == 1 and "cycle_error" in figures
    assert not (tmp_path / "checkpoints").exists()


def test_max_time_stops_cleanly_with_a_checkpoint(tmp_path: Path) -> None:
    trainer = Trainer(
        **tiny_models(), config=tiny_config(max_steps=None, max_time=1e-6), output_dir=tmp_path, progress=False
    )
    trainer.fit(RandomAUData(length=4))
    assert trainer.stop_reason == "max_time" and trainer.step == 1
    assert (tmp_path / "checkpoints" / "step-000000001.pt").is_file()


class GatedGenerator(Generator):
    """A user-defined generator: the colour is shifted by a learned per-AU offset (not in the library)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__(config)
        self.offset = torch.nn.Linear(config.num_aus, 3)

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        out = super().forward(images, aus)
        color = torch.tanh(out.color + self.offset(aus)[:, :, None, None])
        return GeneratorOutput(out.attention * images + (1 - out.attention) * color, color, out.attention)


def test_swapped_generator_and_custom_loss_term_train_without_editing_the_library() -> None:
    generator = GatedGenerator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1))
    calls: list[float] = []

    def colour_prior(step: GeneratorStep) -> Tensor:
        value = 0.5 * step.fake.color.float().abs().mean()
        calls.append(float(value.detach()))
        return value

    before = generator.offset.weight.detach().clone()
    trainer = Trainer(
        generator=generator,
        critic=CriticConfig(image_size=32, conv_dim=8, depth=4),
        config=tiny_config(n_critic=1, max_steps=2),
        generator_losses={"colour_prior": colour_prior},
        progress=False,
    )
    trainer.fit(RandomAUData(length=4))
    assert len(calls) == 2 and trainer.generator is generator
    assert not torch.equal(before, generator.offset.weight), "the custom module's weights did not train"


class EpochRecorder(torch.utils.data.Sampler[int]):
    """A sampler over the first ``count`` items that records the epochs it is set to (like DistributedSampler)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.count))

    def __len__(self) -> int:
        return self.count


def test_samplers_get_set_epoch_in_a_user_loader_and_their_length_counts() -> None:
    inner = EpochRecorder(4)
    trainer = Trainer(**tiny_models(), config=tiny_config(max_steps=None, max_epochs=2), progress=False)
    trainer.fit(DataLoader(RandomAUData(length=4), batch_size=2, sampler=inner))
    assert inner.epochs == [0, 1] and trainer.step == 4

    given = EpochRecorder(4)
    trainer = Trainer(**tiny_models(), config=tiny_config(max_steps=None, max_epochs=2), progress=False)
    trainer.fit(RandomAUData(length=8), sampler=given)  # the sampler's 4 items make an epoch, not the 8
    assert given.epochs == [0, 1] and trainer.step == trainer.planned_steps == 4

    with pytest.raises(ValueError, match=r"sampler=.*DataLoader"):
        trainer.fit(DataLoader(RandomAUData(length=4), batch_size=2), sampler=EpochRecorder(4))


def test_fast_dev_run_validates_once() -> None:
    class Count(Callback):
        validations = 0

        def on_validation_end(self, trainer: Trainer, metrics: object) -> None:
            Count.validations += 1

    trainer = Trainer(
        **tiny_models(), config=tiny_config(fast_dev_run=True, max_steps=None), callbacks=[Count()], progress=False
    )
    trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2))
    assert Count.validations == 1
