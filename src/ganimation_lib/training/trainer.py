"""The GANimation training loop, written as phases.

One *iteration* is a critic phase (WGAN terms + AU regression on real faces + gradient penalty), and every
``n_critic``-th iteration also a generator phase (adversarial + expression on the critic's AU head + cycle
+ attention terms). ``requires_grad`` is switched per phase, so the critic's weights collect no gradient
in the generator phase and the generator's none in the critic phase. ``Trainer.step`` counts iterations.
"""

from __future__ import annotations

import itertools
import random
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from .._version import __version__
from ..data.sample import AUSample
from ..devices import resolve_device, resolve_precision
from ..losses import (
    attention_saturation_loss,
    attention_smoothness_loss,
    color_smoothness_loss,
    cycle_loss,
    expression_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)
from ..models.critic import Critic, CriticConfig, CriticOutput
from ..models.generator import Generator, GeneratorConfig, GeneratorOutput
from .callbacks import Callback, Checkpointing, MetricsLogger, ProgressBar, SampleGrid
from .checkpoint import capture_rng_state, latest_checkpoint, load_training_state, restore_rng_state
from .config import TrainerConfig
from .ema import EMA
from .finite import gradient_norm, read_phase, report_skipped_step
from .sampling import ResumableSampler
from .validation import TruthFn, collect_fixed_batch, truth_for, validate

__all__ = [
    "CHECKPOINT_FORMAT",
    "CriticLossTerm",
    "CriticStep",
    "GeneratorLossTerm",
    "GeneratorStep",
    "NonFiniteLossError",
    "Trainer",
    "TrainingData",
]

#: Version of the checkpoint layout written by :meth:`Trainer.state_dict`.
CHECKPOINT_FORMAT = 1

TrainingData = Dataset[AUSample] | DataLoader[AUSample]


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss or its gradient was NaN/inf for too many iterations in a row."""


@dataclass
class CriticStep:
    """What a custom critic loss term sees (all on the training device).

    Attributes:
        batch: The batch as the loader gave it.
        real: Real faces (B, 3, H, W). aus: their AUs. target_aus: the targets the fakes were made for.
        fake: Generated faces (detached). real_judged / fake_judged: the critic's outputs on each.
    """

    batch: AUSample
    real: Tensor
    aus: Tensor
    target_aus: Tensor
    fake: Tensor
    real_judged: CriticOutput
    fake_judged: CriticOutput


@dataclass
class GeneratorStep:
    """What a custom generator loss term sees: the forward passes of the generator phase.

    Attributes:
        batch: The batch as the loader gave it.
        real: Real faces. aus: their AUs. target_aus: the target AUs.
        fake: ``G(real, target_aus)``. judged: the critic on ``fake.image``.
        reconstruction: ``G(fake.image, aus)`` (the cycle).
    """

    batch: AUSample
    real: Tensor
    aus: Tensor
    target_aus: Tensor
    fake: GeneratorOutput
    judged: CriticOutput
    reconstruction: GeneratorOutput


#: A custom loss term: returns a scalar (already weighted) that is added to that phase's total.
CriticLossTerm = Callable[[CriticStep], Tensor]
GeneratorLossTerm = Callable[[GeneratorStep], Tensor]


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class _SkipSampler(Sampler[int]):
    """Yields ``sampler``'s indices after the first ``start`` (resuming mid-epoch)."""

    def __init__(self, sampler: Sampler[int], start: int) -> None:
        self.sampler = sampler
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.start, None)

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.start)  # type: ignore[arg-type]


def _check_same_config(name: str, config: Any, saved: Mapping[str, Any]) -> None:
    """Refuse to load a checkpoint whose network was built differently, naming the fields that differ."""
    if not saved or not hasattr(config, "to_dict"):
        return

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    current = config.to_dict()
    differ = [k for k in sorted(set(current) | set(saved)) if plain(current.get(k)) != plain(saved.get(k))]
    if differ:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r}, this trainer {current.get(k)!r}" for k in differ)
        raise ValueError(
            f"the checkpoint's {name} was built with a different config ({detail}); build the Trainer with the "
            f"checkpoint's {name}_config (ganimation train: the same --config/flags as the run that wrote it)"
        )


def _resolve_checkpoint(path: str | Path) -> Path | None:
    """The file ``resume_from`` names (a folder stands for its newest checkpoint)."""
    path = Path(path)
    return latest_checkpoint(path) if path.is_dir() else path


class Trainer:
    """Trains a GANimation generator and critic.

    Construction is keyword-only. The networks are wrapped for training in one place (:meth:`_wrap`), the
    only spot a multi-process data-parallel version needs to change; rank and world size come from
    ``torch.distributed`` when it is initialised.

    Args:
        generator: A :class:`Generator` (or subclass), a :class:`GeneratorConfig`, or ``None`` (official 128 px).
        critic: A :class:`Critic` (or subclass), a :class:`CriticConfig`, or ``None`` (official 128 px).
        config: The recipe; ``None`` = :class:`TrainerConfig` defaults (the official recipe).
        output_dir: Where checkpoints, metrics and sample grids go; ``None`` = write nothing (unless
            callbacks do). With a folder, the built-in callbacks are added unless ``default_callbacks=False``.
        callbacks: Extra :class:`Callback` objects, called after the built-in ones in this order
            (checkpointing callbacks always run last, so a checkpoint holds the others' state).
        generator_losses: Extra generator loss terms by name, each ``f(GeneratorStep) -> scalar``.
        critic_losses: Extra critic loss terms by name, each ``f(CriticStep) -> scalar``.
        default_callbacks: Add checkpointing, metrics, sample grids (with ``output_dir``) and a progress bar.
        progress: Show the progress bar (with ``default_callbacks``).
        sample_targets: Target AU vectors for the sample grids (``None``: each face's own target).

    Examples:
        >>> import torch
        >>> from ganimation_lib import AUSample, CriticConfig, GeneratorConfig, Trainer, TrainerConfig
        >>> data = [AUSample(torch.rand(3, 32, 32) * 2 - 1, torch.rand(17), torch.rand(17), "", f"{i}")
        ...         for i in range(4)]
        >>> trainer = Trainer(
        ...     generator=GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0),
        ...     critic=CriticConfig(image_size=32, conv_dim=8, depth=4),
        ...     config=TrainerConfig(batch_size=2, n_critic=1, max_steps=2, device="cpu"),
        ...     progress=False,
        ... )
        >>> _ = trainer.fit(data)
        >>> trainer.step, trainer.generator_step
        (2, 2)
    """

    def __init__(
        self,
        *,
        generator: Generator | GeneratorConfig | None = None,
        critic: Critic | CriticConfig | None = None,
        config: TrainerConfig | None = None,
        output_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        generator_losses: Mapping[str, GeneratorLossTerm] | None = None,
        critic_losses: Mapping[str, CriticLossTerm] | None = None,
        default_callbacks: bool = True,
        progress: bool = True,
        sample_targets: Sequence[Tensor] | None = None,
    ) -> None:
        self.config = config = TrainerConfig() if config is None else config
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.rank, self.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        else:
            self.rank, self.world_size = 0, 1

        # Build networks from configs under the run's seed without touching the caller's RNG.
        # The networks are built on the CPU: only the CPU generator is seeded (torch.manual_seed would also
        # reseed every CUDA generator, which fork_rng(devices=[]) does not give back).
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(config.seed)
            self.generator = self._build(generator, Generator, GeneratorConfig, "generator")
            self.critic = self._build(critic, Critic, CriticConfig, "critic")
        self.generator.to(self.device)
        self.critic.to(self.device)
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay is not None else None
        self._train_generator = self._wrap(self.generator)
        self._train_critic = self._wrap(self.critic)

        self.generator_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=config.generator_lr, betas=config.betas
        )
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, betas=config.betas)
        use_scaler = self.precision.use_grad_scaler
        self.generator_scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.critic_scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)

        self.generator_losses = dict(generator_losses or {})
        self.critic_losses = dict(critic_losses or {})
        for name, term in [*self.generator_losses.items(), *self.critic_losses.items()]:
            if not callable(term):
                raise TypeError(
                    f"loss term {name!r} must be callable (step -> scalar tensor), got {type(term).__name__}"
                )

        self.output_dir = None if output_dir is None else Path(output_dir)
        built_in: list[Callback] = []
        if default_callbacks:
            if self.output_dir is not None:
                built_in += [
                    Checkpointing(
                        self.output_dir / "checkpoints", every=config.checkpoint_every, keep=config.keep_checkpoints
                    ),
                    MetricsLogger(self.output_dir / "logs", every=config.log_every),
                    SampleGrid(self.output_dir / "samples", every=config.sample_every, targets=sample_targets),
                ]
            if progress:
                built_in.append(ProgressBar())
        # Checkpointing runs last so that a checkpoint holds every other callback's state after the step.
        ordered = [*built_in, *callbacks]
        self.callbacks: list[Callback] = [
            *(cb for cb in ordered if not isinstance(cb, Checkpointing)),
            *(cb for cb in ordered if isinstance(cb, Checkpointing)),
        ]
        keys = [cb.state_key for cb in self.callbacks]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"two callbacks share the state_key(s) {duplicates}; override state_key on one of them")

        # Training position.
        self.step = 0
        self.generator_step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.nonfinite_streak = 0
        self.stop_reason = ""
        self.stop_requested = False
        self.fixed_batch: AUSample | None = None
        self.last_validation: dict[str, float] = {}
        self.planned_steps: int | None = None
        self._val_indices: list[int] | None = None
        self._truth: TruthFn | None = None
        self._fit_start = 0.0
        self._resumed_from: Path | None = None
        self._run_rng: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------------------- building
    @staticmethod
    def _build(value: Any, module_type: type[Any], config_type: type[Any], name: str) -> Any:
        if value is None:
            return module_type(config_type())
        if isinstance(value, config_type):
            return module_type(value)
        if isinstance(value, nn.Module):
            return value
        raise TypeError(
            f"{name} must be a {module_type.__name__}, a {config_type.__name__} or None, got {type(value).__name__}"
        )

    def _wrap(self, module: nn.Module) -> nn.Module:
        """The training-time view of a network: the one place to add DistributedDataParallel (or compile)."""
        return module

    def request_stop(self) -> None:
        """Ask :meth:`fit` to stop after the current iteration, as if a limit were reached (``stop_reason``
        ``"stop_requested"``): the end-of-fit callbacks run, so a checkpoint is saved. Safe to call from a
        signal handler or another thread (see :func:`~ganimation_lib.training.interrupt.stop_on_interrupt`)."""
        self.stop_requested = True

    @property
    def is_main_process(self) -> bool:
        """True on rank 0 (the process that writes files)."""
        return self.rank == 0

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for validation, sample grids and export: the EMA copy when enabled."""
        return self.ema.shadow if self.ema is not None else self.generator

    # --------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The full training state as ``weights_only``-safe values (see ``docs/training.md``)."""
        gen_cfg: Any = getattr(self.generator, "config", None)
        crit_cfg: Any = getattr(self.critic, "config", None)
        return {
            "format": CHECKPOINT_FORMAT,
            "library_version": __version__,
            "step": self.step,
            "generator_step": self.generator_step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "nonfinite_streak": self.nonfinite_streak,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "generator_scaler": self.generator_scaler.state_dict(),
            "critic_scaler": self.critic_scaler.state_dict(),
            "rng": capture_rng_state(),
            "trainer_config": self.config.to_dict(),
            "generator_config": gen_cfg.to_dict() if hasattr(gen_cfg, "to_dict") else {},
            "critic_config": crit_cfg.to_dict() if hasattr(crit_cfg, "to_dict") else {},
            "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (networks, optimizers, scalers, EMA, position, RNG, callbacks)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}; it was written by "
                f"ganimation_lib {state.get('library_version', '?')} — use that version to resume it"
            )
        for name, module in (("generator", self.generator), ("critic", self.critic)):
            _check_same_config(name, getattr(module, "config", None), state.get(f"{name}_config") or {})
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        if self.ema is not None:
            if state["ema"] is None:
                self.ema.shadow.load_state_dict(state["generator"])  # EMA switched on at resume: start here
            else:
                self.ema.load_state_dict(state["ema"])
        self.generator_optimizer.load_state_dict(state["generator_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        if state["generator_scaler"]:
            self.generator_scaler.load_state_dict(state["generator_scaler"])
        if state["critic_scaler"]:
            self.critic_scaler.load_state_dict(state["critic_scaler"])
        self.step = int(state["step"])
        self.generator_step = int(state["generator_step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        saved_config = state.get("trainer_config") or {}
        changed = [
            k for k in ("batch_size", "seed") if k in saved_config and saved_config[k] != getattr(self.config, k)
        ]
        if changed and self.batch_in_epoch:
            warnings.warn(
                f"resuming mid-epoch (batch {self.batch_in_epoch}) with another {' and '.join(changed)} than the "
                "checkpoint's: the rest of this epoch's order no longer continues the interrupted one (some items "
                "are seen twice or not at all)",
                stacklevel=2,
            )
        self.nonfinite_streak = int(state["nonfinite_streak"])
        saved_callbacks = state.get("callbacks", {})
        for cb in self.callbacks:
            if cb.state_key in saved_callbacks:
                cb.load_state_dict(saved_callbacks[cb.state_key])
        restore_rng_state(state["rng"])

    # ------------------------------------------------------------------------------------------ phases
    def _to_device(self, batch: AUSample) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(batch, AUSample):
            raise TypeError(
                f"training batches must be AUSample (image, aus, target_aus, target_source, name), got "
                f"{type(batch).__name__}; make the dataset yield AUSample items and keep the default collate_fn"
            )
        nb = self.device.type == "cuda"
        return (
            batch.image.to(self.device, non_blocking=nb).float(),
            batch.aus.to(self.device, non_blocking=nb).float(),
            batch.target_aus.to(self.device, non_blocking=nb).float(),
        )

    def _apply_lr(self) -> float:
        factor = self.config.lr_factor(self.epoch, self.step)
        for group in self.generator_optimizer.param_groups:
            group["lr"] = self.config.generator_lr * factor
        for group in self.critic_optimizer.param_groups:
            group["lr"] = self.config.critic_lr * factor
        return factor

    def _optimize(
        self,
        values: Mapping[str, Tensor],
        loss: Tensor,
        prefix: str,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
    ) -> tuple[dict[str, float], bool]:
        """Back-propagate ``loss`` and step, unless a value or the gradient is not finite (see :mod:`.finite`).

        Returns ``values`` (losses by name) as ``PREFIX/name`` floats, read with the gradient norm in one
        transfer (one sync per phase), and whether the optimizer stepped.
        """
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        # Under a GradScaler the scaler itself skips steps with non-finite gradients.
        norm = None if scaler.is_enabled() else gradient_norm(module.parameters())
        metrics, finite = read_phase(values, prefix, norm)
        if not finite:
            optimizer.zero_grad(set_to_none=True)
            return metrics, False
        if self.config.grad_clip is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return metrics, True

    def _critic_phase(
        self, batch: AUSample, real: Tensor, aus: Tensor, target: Tensor, translated: GeneratorOutput | None
    ) -> tuple[dict[str, float], bool]:
        cfg, w = self.config, self.config.loss_weights
        _set_requires_grad(self.generator, False)
        _set_requires_grad(self.critic, True)
        if translated is not None:
            fake = translated.image.detach()
        else:
            with torch.no_grad(), self.precision.autocast():
                fake = self._train_generator(real, target).image.detach()
        with self.precision.autocast():
            real_out = self._train_critic(real)
            fake_out = self._train_critic(fake)
        fake = fake.float()
        terms: dict[str, Tensor] = {
            "wgan": w.adversarial * wgan_critic_loss(real_out.score, fake_out.score),
            "aus": w.expression * expression_loss(real_out.aus, aus, cfg.expression_form),
        }
        critic_fn = self._score_fn()
        if cfg.gradient_penalty_mode == "critic_step":
            terms["gradient_penalty"] = w.gradient_penalty * gradient_penalty(critic_fn, real, fake)
        if self.critic_losses:
            step = CriticStep(batch, real, aus, target, fake, real_out, fake_out)
            for name, term in self.critic_losses.items():
                terms[name] = term(step).float()
        total = torch.stack(list(terms.values())).sum()
        optimizer, scaler = self.critic_optimizer, self.critic_scaler
        metrics, ok = self._optimize({**terms, "total": total}, total, "critic", self.critic, optimizer, scaler)
        if ok and cfg.gradient_penalty_mode == "separate_step":
            gp = w.gradient_penalty * gradient_penalty(critic_fn, real, fake)
            gp_metrics, ok = self._optimize({"gradient_penalty": gp}, gp, "critic", self.critic, optimizer, scaler)
            metrics.update(gp_metrics)
        return metrics, ok

    def _score_fn(self) -> Callable[[Tensor], Tensor]:
        critic = self._train_critic

        def score(x: Tensor) -> Tensor:
            out: CriticOutput = critic(x)
            return out.score

        return score

    def _generator_phase(
        self, batch: AUSample, real: Tensor, aus: Tensor, target: Tensor, fake: GeneratorOutput
    ) -> tuple[dict[str, float], bool]:
        cfg, w = self.config, self.config.loss_weights
        _set_requires_grad(self.generator, True)
        _set_requires_grad(self.critic, False)
        with self.precision.autocast():
            judged: CriticOutput = self._train_critic(fake.image)
            rec: GeneratorOutput = self._train_generator(fake.image, aus)
        smooth = cfg.smoothness_form
        terms: dict[str, Tensor] = {
            "adversarial": w.adversarial * wgan_generator_loss(judged.score),
            "expression": w.expression * expression_loss(judged.aus, target, cfg.expression_form),
            "cycle": w.cycle * cycle_loss(rec.image, real),
            "attention_saturation": w.attention_saturation
            * (attention_saturation_loss(fake.attention) + attention_saturation_loss(rec.attention)),
            "attention_smoothness": w.attention_smoothness
            * (attention_smoothness_loss(fake.attention, smooth) + attention_smoothness_loss(rec.attention, smooth)),
        }
        if w.color_smoothness:
            terms["color_smoothness"] = w.color_smoothness * color_smoothness_loss(fake.color, fake.attention)
        if self.generator_losses:
            step = GeneratorStep(batch, real, aus, target, fake, judged, rec)
            for name, term in self.generator_losses.items():
                terms[name] = term(step).float()
        total = torch.stack(list(terms.values())).sum()
        optimizer, scaler = self.generator_optimizer, self.generator_scaler
        metrics, ok = self._optimize({**terms, "total": total}, total, "generator", self.generator, optimizer, scaler)
        if ok and self.ema is not None:
            self.ema.update(self.generator)
        return metrics, ok

    def _generator_due(self) -> bool:
        if self.config.fast_dev_run:
            return True
        i = self.step - self.config.critic_warmup_steps
        return i >= 0 and (i + 1) % self.config.n_critic == 0

    def train_step(self, batch: AUSample) -> dict[str, float]:
        """Run one iteration on ``batch`` (critic phase, and the generator phase when due); return its metrics."""
        real, aus, target = self._to_device(batch)
        lr_factor = self._apply_lr()
        translated = None
        if self._generator_due():
            # The critic phase does not change the generator, so G(real, target) is the same in both phases:
            # computed once, with its graph, it is the critic's fake (detached) and the generator phase's output.
            _set_requires_grad(self.generator, True)
            with self.precision.autocast():
                translated = self._train_generator(real, target)
        metrics, critic_ok = self._critic_phase(batch, real, aus, target, translated)
        for cb in self.callbacks:
            cb.on_phase_end(self, "critic", metrics)
        generator_ok = True
        if translated is not None:
            gen_metrics, generator_ok = self._generator_phase(batch, real, aus, target, translated)
            for cb in self.callbacks:
                cb.on_phase_end(self, "generator", gen_metrics)
            metrics.update(gen_metrics)
            if generator_ok:
                self.generator_step += 1
        self.step += 1
        metrics["lr_factor"] = lr_factor
        if critic_ok and generator_ok:
            self.nonfinite_streak = 0
        else:
            self.nonfinite_streak += 1
            metrics["nonfinite"] = 1.0
            report_skipped_step(self.step, metrics, self.nonfinite_streak, self.config.max_nonfinite_steps)
            if self.nonfinite_streak >= self.config.max_nonfinite_steps:
                last = self._last_checkpoint()
                raise NonFiniteLossError(
                    f"the loss was not finite (or its gradient) for {self.nonfinite_streak} iterations in a row "
                    f"(up to step {self.step}); training stopped. The last good checkpoint is "
                    f"{last or 'none (none was saved)'}. "
                    "Lower the learning rates, enable grad_clip, use precision='fp32', or check the data for NaNs."
                )
        return metrics

    def _last_checkpoint(self) -> Path | None:
        """The newest good checkpoint of this run: the last one saved, else the one it resumed from."""
        for cb in self.callbacks:
            if isinstance(cb, Checkpointing) and cb.last_saved is not None:
                return cb.last_saved
        return self._resumed_from

    # ------------------------------------------------------------------------------------- validation
    def validate(self) -> dict[str, float]:
        """Compute the validation figures on the fixed held-out batch (see :mod:`.validation`) and report them."""
        if self.fixed_batch is None or self._val_indices is None:
            raise ValueError("no validation data: pass val_data to fit() before calling validate()")
        metrics = validate(
            self.sampling_generator,
            self.critic,
            self.fixed_batch,
            device=self.device,
            truth=self._truth,
            indices=self._val_indices,
        )
        self.last_validation = metrics
        for cb in self.callbacks:
            cb.on_validation_end(self, metrics)
        return metrics

    # -------------------------------------------------------------------------------------------- fit
    def _loader_for_epoch(self, data: TrainingData, sampler: Sampler[int] | None, start: int) -> DataLoader[AUSample]:
        if isinstance(data, DataLoader):
            # A DistributedSampler (or any sampler with set_epoch) inside the user's loader gets the epoch too.
            for inner in (data.sampler, getattr(data.batch_sampler, "sampler", None)):
                set_inner_epoch = getattr(inner, "set_epoch", None)
                if callable(set_inner_epoch):
                    set_inner_epoch(self.epoch)
                    break
            return data
        if sampler is None:
            base: Sampler[int] = ResumableSampler(
                len(data),  # type: ignore[arg-type]
                seed=self.config.seed,
                rank=self.rank,
                world_size=self.world_size,
            )
        else:
            base = sampler
        set_epoch = getattr(base, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)
        return DataLoader(
            data,
            batch_size=self.config.batch_size,
            sampler=_SkipSampler(base, start * self.config.batch_size) if start else base,
            drop_last=True,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
            # Its own generator, so creating a loader never draws from the global RNG.
            generator=torch.Generator().manual_seed(self.config.seed * 7919 + self.epoch),
        )

    def _batches_per_epoch(self, data: TrainingData, sampler: Sampler[int] | None = None) -> int | None:
        if isinstance(data, DataLoader):
            try:
                return len(data)
            except TypeError:
                return None
        if sampler is not None:
            try:
                return len(sampler) // self.config.batch_size  # type: ignore[arg-type]
            except TypeError:
                return None
        return (len(data) // self.world_size) // self.config.batch_size  # type: ignore[arg-type]

    def _limits(self, per_epoch: int | None) -> tuple[int | None, int | None]:
        cfg = self.config
        if cfg.fast_dev_run:
            return 1, None
        max_epochs = cfg.max_epochs
        if max_epochs is None and cfg.max_steps is None and cfg.max_time is None and cfg.lr_unit == "epoch":
            max_epochs = cfg.lr_constant + cfg.lr_decay
        max_steps = cfg.max_steps
        if max_epochs is not None and per_epoch is not None:
            by_epochs = max_epochs * per_epoch
            max_steps = by_epochs if max_steps is None else min(max_steps, by_epochs)
        return max_steps, max_epochs

    def fit(
        self,
        data: TrainingData,
        *,
        val_data: Dataset[AUSample] | None = None,
        resume_from: str | Path | None = None,
        sampler: Sampler[int] | None = None,
    ) -> dict[str, float]:
        """Train on ``data`` until a limit of the config is reached; return the last validation figures.

        Args:
            data: A dataset yielding :class:`~ganimation_lib.data.AUSample` (an ``AUDataset``,
                ``SyntheticFaces``, ...) or a ``DataLoader`` over one (then its own batch size and order
                are used, and a resume mid-epoch replays the loader up to the saved position).
            val_data: Held-out data for validation and sample grids (its first
                ``num_validation_samples`` items). When it can render the truth (``SyntheticFaces``),
                validation also reports the true error.
            resume_from: A checkpoint file, or a folder (its newest ``step-*.pt``), to continue from.
            sampler: Replaces the default seeded :class:`ResumableSampler` (``set_epoch`` is called when
                present); e.g. a ``DistributedSampler``.

        Global random state: training draws from the global RNGs (torch CPU and CUDA, Python ``random``,
        NumPy; e.g. a dataset's random targets), so ``fit`` sets them for the run — seeded with
        ``config.seed``, or the checkpoint's states on a resume — right before the first iteration, and
        puts the caller's states back when it returns or raises. Code after ``fit`` sees the RNG as it
        was before the call. Calling ``fit`` again on the same trainer (e.g. after a ``max_time`` stop)
        continues with the run's states where it left off, as a resume from its last checkpoint would.
        """
        caller_rng = capture_rng_state()
        try:
            return self._fit(data, val_data, resume_from, sampler)
        finally:
            self.stop_requested = False  # a request is answered by the fit it was made in
            self._run_rng = capture_rng_state()
            restore_rng_state(caller_rng)

    def _fit(
        self,
        data: TrainingData,
        val_data: Dataset[AUSample] | None,
        resume_from: str | Path | None,
        sampler: Sampler[int] | None,
    ) -> dict[str, float]:
        cfg = self.config
        if sampler is not None and isinstance(data, DataLoader):
            raise ValueError(
                "fit(sampler=...) applies to a dataset; data is a DataLoader, which has its own sampler: pass the "
                "dataset instead, or build the DataLoader with that sampler"
            )
        if not isinstance(data, DataLoader):
            if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
                raise TypeError(f"data must be a map-style Dataset or a DataLoader, got {type(data).__name__}")
            if len(data) // self.world_size < cfg.batch_size:
                raise ValueError(
                    f"the training data has {len(data)} items, fewer than batch_size={cfg.batch_size} per process; "
                    "lower TrainerConfig.batch_size or add data"
                )
        if val_data is not None:
            self.fixed_batch, self._val_indices = collect_fixed_batch(val_data, cfg.num_validation_samples, cfg.seed)
            self._truth = truth_for(val_data)
        elif not isinstance(data, DataLoader):
            self.fixed_batch, _ = collect_fixed_batch(data, cfg.num_validation_samples, cfg.seed)

        run_rng: dict[str, Any] | None = None
        if resume_from is not None:
            # Loaded on the CPU: the RNG states must stay CPU byte tensors; the networks and optimizers
            # copy their tensors to the training device themselves.
            state = load_training_state(resume_from, map_location="cpu")
            self.load_state_dict(state)
            run_rng = state["rng"]
            self._resumed_from = _resolve_checkpoint(resume_from)

        per_epoch = self._batches_per_epoch(data, sampler)
        max_steps, max_epochs = self._limits(per_epoch)
        self.planned_steps = max_steps
        self.stop_reason = ""
        self._fit_start = time.monotonic()
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            if val_data is not None and self.step == 0 and not cfg.fast_dev_run:
                self.validate()
            # The run's RNG states are set last, so whatever on_fit_start or the first validation draws
            # cannot shift a resumed run against an uninterrupted one.
            if run_rng is None and self.step > 0 and self._run_rng is not None:
                run_rng = self._run_rng  # a second fit() on this trainer continues the run's random stream
            if run_rng is not None:
                restore_rng_state(run_rng)
            else:
                torch.manual_seed(cfg.seed)
                random.seed(cfg.seed)
                np.random.seed(cfg.seed % 2**32)
            self._loop(data, sampler, max_steps, max_epochs)
            if val_data is not None and (cfg.validate_every == 0 or self.step % cfg.validate_every or cfg.fast_dev_run):
                self.validate()
        except BaseException as error:
            for cb in self.callbacks:
                cb.on_exception(self, error)
            raise
        finally:
            _set_requires_grad(self.generator, True)
            _set_requires_grad(self.critic, True)
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self.last_validation

    def _should_stop(self, max_steps: int | None) -> bool:
        if max_steps is not None and self.step >= max_steps:
            self.stop_reason = "max_steps"
        elif self.config.max_time is not None and time.monotonic() - self._fit_start >= self.config.max_time:
            self.stop_reason = "max_time"
        elif self.stop_requested:
            self.stop_reason = "stop_requested"
        return bool(self.stop_reason)

    def _loop(
        self, data: TrainingData, sampler: Sampler[int] | None, max_steps: int | None, max_epochs: int | None
    ) -> None:
        cfg = self.config
        if max_steps is not None and self.step >= max_steps:  # e.g. resumed from the final checkpoint
            self.stop_reason = "max_steps"
            return
        while max_epochs is None or self.epoch < max_epochs:
            start = self.batch_in_epoch
            loader = self._loader_for_epoch(data, sampler, start)
            if isinstance(data, DataLoader) and start:
                # Replay a user loader to the saved position. Starting its iterator and loading the skipped
                # batches draw from the global RNG (base seed, random targets), which the uninterrupted run
                # did before the checkpoint: the checkpoint's states are put back once the replay is done.
                rng = capture_rng_state()
                batches: Iterator[AUSample] = iter(loader)
                for _ in itertools.islice(batches, start):
                    pass
                restore_rng_state(rng)
            else:
                batches = iter(loader)
            for batch in batches:
                metrics = self.train_step(batch)
                self.batch_in_epoch += 1
                if (
                    cfg.validate_every
                    and self.step % cfg.validate_every == 0
                    and self.fixed_batch is not None
                    and self._val_indices is not None
                    and not cfg.fast_dev_run
                ):
                    self.validate()
                for cb in self.callbacks:
                    cb.on_step_end(self, metrics)
                if self._should_stop(max_steps):
                    return
            if self.batch_in_epoch == 0:
                raise ValueError("the data gave no batch in a whole epoch; check the dataset and batch size")
            self.epoch += 1
            self.batch_in_epoch = 0
        self.stop_reason = "max_epochs"

    # ------------------------------------------------------------------------------------------ export
    def export(self, folder: str | Path) -> Path:
        """Save the sampling generator (the EMA copy when enabled) with ``save_pretrained`` (config.json +
        model.safetensors), so ``Generator.from_pretrained(folder)`` and ``ganimation animate`` can load it."""
        from ..models import pretrained

        model = self.sampling_generator
        folder = Path(folder)
        pretrained.save_pretrained(model, folder)  # type: ignore[arg-type]
        return folder
