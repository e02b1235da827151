"""The GANimation training loop, written as phases.

One *iteration* ([`Trainer.train_step`][ganimation_lib.training.trainer.Trainer.train_step]) is a critic phase and,
every ``n_critic``-th iteration, a generator phase. Each phase switches which network collects gradients, runs the
forward passes, asks the objective ([`GANimationObjective`][ganimation_lib.losses.objective.GANimationObjective]) for
its weighted terms, and takes one guarded optimizer step
([`guarded_step`][ganimation_lib.training.finite.guarded_step]). ``Trainer.step`` counts iterations. Around the loop:
the checkpoint state ([`checkpoint`][ganimation_lib.training.checkpoint]), the data order and the resume position
([`sampling`][ganimation_lib.training.sampling]), what a ``fit`` does around the iterations
([`fit_loop`][ganimation_lib.training.fit_loop]), callbacks ([`hooks`][ganimation_lib.training.hooks],
[`callbacks`][ganimation_lib.training.callbacks]) and validation ([`validation`][ganimation_lib.training.validation]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Sampler

from ..data.sample import AUSample
from ..devices import resolve_device, resolve_precision
from ..face_layout import CanonicalFace
from ..losses import CriticLossTerm, CriticStep, GeneratorLossTerm, GeneratorStep
from ..models.critic import Critic, CriticConfig
from ..models.generator import Generator, GeneratorConfig, GeneratorOutput
from ..models.registered import drawing_model
from ..models.unwrap import unwrap_model, without_compile
from .callbacks import default_callbacks as built_in_callbacks
from .checkpoint import CHECKPOINT_FORMAT, restore_trainer_state, trainer_state
from .config import TrainerConfig
from .distributed import init_distributed, training_device
from .ema import EMA
from .finite import NonFiniteLossError, check_nonfinite_streak, guarded_step, report_skipped_step
from .fit_loop import run_fit
from .hooks import Callback, arrange_callbacks
from .optimizers import AU_GROUP, build_optimizers
from .rng import capture_rng_state, restore_rng_state
from .sampling import TrainingData, to_device
from .validation import HeldOut, prepare_au_regressor, validate

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

M = TypeVar("M", bound=nn.Module)


def _build(value: object, network: type[M], config_type: type[Any], name: str) -> tuple[M, nn.Module]:
    """The network ``value`` stands for, and the module to train it through (the caller's wrapper, if any).

    A wrapped network (``torch.compile``, data parallel) trains through its wrapper, while the trainer
    keeps, saves and averages the network inside, so checkpoint keys carry no wrapper prefix.
    """
    if value is None or isinstance(value, config_type):
        built = network(config_type() if value is None else value)
        return built, built
    if isinstance(value, nn.Module) and isinstance(inner := unwrap_model(value), network):
        return inner, value
    raise TypeError(
        f"{name} must be a {network.__name__}, a {config_type.__name__} or None, got {type(value).__name__}"
    )


class Trainer:
    """Trains a GANimation generator and critic.

    Construction is keyword-only. Launched by ``torchrun``, it joins the process group and trains with
    the others unchanged: each process on its share of every batch, gradients averaged, files written by
    rank 0 ([`distributed`][ganimation_lib.training.distributed], ``docs/training.md``).

    Args:
        generator: A [`Generator`][ganimation_lib.models.generator.Generator] (or subclass, possibly
            ``torch.compile``'d), a [`GeneratorConfig`][ganimation_lib.models.generator.GeneratorConfig], or ``None``
            (official 128 px).
        critic: A [`Critic`][ganimation_lib.models.critic.Critic] (or subclass), a
            [`CriticConfig`][ganimation_lib.models.critic.CriticConfig], or ``None`` (official 128 px).
        config: The recipe; ``None`` = [`TrainerConfig`][ganimation_lib.training.config.TrainerConfig] defaults (the
            official recipe).
        output_dir: Where checkpoints, metrics and sample grids go; ``None`` = write nothing (unless
            callbacks do). With a folder, the built-in callbacks are added unless ``default_callbacks=False``.
        callbacks: Extra [`Callback`][ganimation_lib.training.hooks.Callback] objects, called after the built-in ones of
            the same ``order`` (checkpointing callbacks have the highest, so a checkpoint holds the others' state).
        generator_losses: Extra generator loss terms by name, each ``f(GeneratorStep) -> scalar``.
        critic_losses: Extra critic loss terms by name, each ``f(CriticStep) -> scalar``.
        default_callbacks: Add checkpointing, metrics, sample grids (with ``output_dir``) and a progress bar.
        progress: Show the progress bar (with ``default_callbacks``).
        sample_targets: Target AU vectors for the sample grids, or name → AU vector to head their columns with
            the names (``None``: each face's own target).
        au_regressor: An independent AU regressor (e.g. ``AURegressor.from_pretrained``) for validation's
            ``regressor_*`` figures: the generator never trains against it, so it has not learnt to fool it.

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
        sample_targets: Sequence[Tensor] | Mapping[str, Tensor] | None = None,
        au_regressor: nn.Module | None = None,
    ) -> None:
        self.config = config = TrainerConfig() if config is None else config
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        # Under torchrun: join the process group (training/distributed.py); else rank 0 of 1, nothing changes.
        self.distributed = init_distributed(config.device)
        self.rank, self.world_size = self.distributed.rank, self.distributed.world_size
        self.device = resolve_device(training_device(config.device, self.distributed))
        self.precision = resolve_precision(config.precision, self.device)

        # Build networks from configs under the run's seed without touching the caller's RNG.
        # The networks are built on the CPU: only the CPU generator is seeded (torch.manual_seed would also
        # reseed every CUDA generator, which fork_rng(devices=[]) does not give back).
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(config.seed)
            self.generator, generator_view = _build(generator, Generator, GeneratorConfig, "generator")
            self.critic, critic_view = _build(critic, Critic, CriticConfig, "critic")
        for network in (self.generator, self.critic):
            network.to(self.device)
            self.distributed.broadcast_module(network)  # every rank starts from rank 0's weights
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay is not None else None
        g_config = self.generator.config
        self.au_regressor = (
            None
            if au_regressor is None
            else prepare_au_regressor(au_regressor, g_config.image_size, g_config.num_aus, self.device)
        )
        self._train_generator = self._wrap(generator_view)
        self._train_critic = self._wrap(critic_view)
        # The penalties differentiate the critic twice, which compiled code cannot (aot_autograd has no double
        # backward): they run through the critic without its torch.compile wrappers, on the same parameters.
        self._penalty_critic = without_compile(critic_view)

        self.generator_optimizer, self.critic_optimizer = build_optimizers(self.generator, self.critic, config)
        if self.device.type == "cuda" and config.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True  # the convolution shapes never change during a run
        use_scaler = self.precision.use_grad_scaler
        self.generator_scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.critic_scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.objective = config.objective(critic_losses=critic_losses, generator_losses=generator_losses)

        self.output_dir = None if output_dir is None else Path(output_dir)
        self.show_progress = progress
        built_in = built_in_callbacks(self.output_dir, config, progress=progress, sample_targets=sample_targets)
        self.callbacks: list[Callback] = arrange_callbacks([*(built_in if default_callbacks else []), *callbacks])

        # Training position.
        self.step = 0
        self.generator_step = 0
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of this process in the epoch
        self.epoch_items = 0  # items of the epoch's order consumed by all processes together
        self.nonfinite_streak = 0
        self.stop_reason = ""
        self.stop_requested = False
        #: The newest good checkpoint of this run: the last one saved (by a checkpointing callback), else the
        #: one it resumed from.
        self.last_checkpoint: Path | None = None
        #: The faces of the sample grids: the held-out batch, else the training data's first items.
        self.fixed_batch: AUSample | None = None
        #: What validation runs on (the ``val_data`` of a fit).
        self.held_out: HeldOut | None = None
        self.last_validation: dict[str, float] = {}
        self.planned_steps: int | None = None
        self._run_rng: dict[str, Any] | None = None  # where the last fit left the random states

    def _wrap(self, module: nn.Module) -> nn.Module:
        """The training-time view of a network: compiled with ``TrainerConfig.compile``. Not
        DistributedDataParallel: under several processes the gradients are averaged in each guarded step
        (``training/distributed.py``)."""
        if self.config.compile and module is without_compile(module):
            return cast(nn.Module, torch.compile(module))
        return module

    def request_stop(self) -> None:
        """Ask [`fit`][ganimation_lib.training.trainer.Trainer.fit] to stop after the current iteration, as if a limit
        were reached (``stop_reason`` ``"stop_requested"``): the end-of-fit callbacks run, so a checkpoint is saved.
        Safe to call from a signal handler or another thread (see `stop_on_interrupt`)."""
        self.stop_requested = True

    @property
    def is_main_process(self) -> bool:
        """True on rank 0 (the process that writes files)."""
        return self.rank == 0

    @property
    def sampling_generator(self) -> Generator:
        """The generator used for validation, sample grids and export: the EMA copy when enabled."""
        return self.ema.shadow if self.ema is not None else self.generator

    def state_dict(self) -> dict[str, Any]:
        """The full training state as ``weights_only``-safe values (see
        [`checkpoint.trainer_state`][ganimation_lib.training.checkpoint.trainer_state])."""
        return trainer_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore [`state_dict`][ganimation_lib.training.trainer.Trainer.state_dict] (see
        [`checkpoint.restore_trainer_state`][ganimation_lib.training.checkpoint.restore_trainer_state])."""
        restore_trainer_state(self, state)

    def _apply_lr(self) -> float:
        factor = self.config.lr_factor(self.epoch, self.step)
        for group in self.generator_optimizer.param_groups:
            group["lr"] = self.config.generator_lr * factor
        for group in self.critic_optimizer.param_groups:
            scale = self.config.au_lr_scale if group.get("name") == AU_GROUP else 1.0
            group["lr"] = self.config.critic_lr * factor * scale
        return factor

    def _optimize(
        self, phase: str, terms: Mapping[str, Tensor], *, total: bool = True
    ) -> tuple[dict[str, float], bool]:
        """One guarded optimizer step of ``phase`` on the sum of ``terms`` (reported with it as ``total``)."""
        loss = torch.stack(list(terms.values())).sum() if total else next(iter(terms.values()))
        values = {**terms, "total": loss} if total else terms
        network: nn.Module = self.critic if phase == "critic" else self.generator
        optimizer = self.critic_optimizer if phase == "critic" else self.generator_optimizer
        scaler = self.critic_scaler if phase == "critic" else self.generator_scaler
        clip = self.config.grad_clip
        return guarded_step(values, loss, phase, network, optimizer, scaler, clip, sync=self.distributed)

    def _critic_phase(
        self, batch: AUSample, real: Tensor, aus: Tensor, target: Tensor, translated: GeneratorOutput | None
    ) -> tuple[dict[str, float], bool]:
        self.generator.requires_grad_(False)
        self.critic.requires_grad_(True)
        if translated is None:
            with torch.no_grad(), self.precision.autocast():
                translated = self._train_generator(real, target)
        fake = translated.image.detach()
        with self.precision.autocast():
            real_out, fake_out = self._train_critic(real), self._train_critic(fake)
        step = CriticStep(batch, real, aus, target, fake.float(), real_out, fake_out)
        gp_scale, au_scale = self.config.penalty_scales(self.step)
        terms = self.objective.critic_terms(
            step, self._penalty_critic, gradient_penalty_scale=gp_scale, au_penalty_scale=au_scale
        )
        metrics, ok = self._optimize("critic", terms)
        if ok and self.objective.separate_gradient_penalty and gp_scale:
            penalty = gp_scale * self.objective.gradient_penalty_term(self._penalty_critic, real, step.fake)
            penalty_metrics, ok = self._optimize("critic", {"gradient_penalty": penalty}, total=False)
            metrics.update(penalty_metrics)
        return metrics, ok

    def _generator_phase(
        self, batch: AUSample, real: Tensor, aus: Tensor, target: Tensor, fake: GeneratorOutput
    ) -> tuple[dict[str, float], bool]:
        self.generator.requires_grad_(True)
        self.critic.requires_grad_(False)
        with self.precision.autocast():
            judged = self._train_critic(fake.image)
            reconstruction = self._train_generator(fake.image, aus)
        step = GeneratorStep(batch, real, aus, target, fake, judged, reconstruction)
        metrics, ok = self._optimize("generator", self.objective.generator_terms(step))
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
        real, aus, target = to_device(batch, self.device)
        lr_factor = self._apply_lr()
        translated = None
        if self._generator_due():
            # The critic phase does not change the generator, so G(real, target) is the same in both phases:
            # computed once, with its graph, it is the critic's fake (detached) and the generator phase's output.
            self.generator.requires_grad_(True)
            with self.precision.autocast():
                translated = self._train_generator(real, target)
        metrics, critic_ok = self._critic_phase(batch, real, aus, target, translated)
        for cb in self.callbacks:
            cb.on_phase_end(self, "critic", metrics)
        generator_ok = True
        if translated is not None:
            generator_metrics, generator_ok = self._generator_phase(batch, real, aus, target, translated)
            for cb in self.callbacks:
                cb.on_phase_end(self, "generator", generator_metrics)
            metrics.update(generator_metrics)
            self.generator_step += int(generator_ok)
        self.step += 1
        metrics["lr_factor"] = lr_factor
        if critic_ok and generator_ok:
            self.nonfinite_streak = 0
        else:
            self.nonfinite_streak += 1
            metrics["nonfinite"] = 1.0
            if self.is_main_process:  # every rank skipped it (the guard's flag is averaged): reported once
                report_skipped_step(self.step, metrics, self.nonfinite_streak, self.config.max_nonfinite_steps)
            check_nonfinite_streak(
                self.nonfinite_streak, self.config.max_nonfinite_steps, self.step, self.last_checkpoint
            )
        return metrics

    def validate(self) -> dict[str, float]:
        """Compute the validation figures on the fixed held-out batch (see
        [`validation`][ganimation_lib.training.validation]) and report them."""
        held_out = self.held_out
        if held_out is None:
            raise ValueError("no validation data: pass val_data to fit() before calling validate()")
        self.last_validation = validate(
            drawing_model(self.sampling_generator),  # faces in their own framing (face_registration)
            self.critic,
            held_out.batch,
            device=self.device,
            truth=held_out.truth,
            indices=held_out.indices,
            au_regressor=self.au_regressor,
        )
        for cb in self.callbacks:
            cb.on_validation_end(self, self.last_validation)
        return self.last_validation

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
            data: A dataset yielding [`AUSample`][ganimation_lib.data.sample.AUSample] (an ``AUDataset``,
                ``SyntheticFaces``, ...) or a ``DataLoader`` over one (then its own batch size and order
                are used, and a resume mid-epoch replays the loader up to the saved position).
            val_data: Held-out data for validation and sample grids (its first
                ``num_validation_samples`` items). When it can render the truth (``SyntheticFaces``),
                validation also reports the true error.
            resume_from: A checkpoint file, or a folder (its newest ``step-*.pt``), to continue from.
            sampler: Replaces the default seeded [`ResumableSampler`][ganimation_lib.training.sampling.ResumableSampler]
                (``set_epoch`` is called when present); e.g. a ``DistributedSampler``.

        Global random state: training draws from the global RNGs (torch CPU and CUDA, Python ``random``,
        NumPy; e.g. a dataset's random targets), so ``fit`` sets them for the run — seeded with
        ``config.seed``, or the checkpoint's states on a resume — right before the first iteration, and
        puts the caller's states back when it returns or raises. Code after ``fit`` sees the RNG as it
        was before the call. Calling ``fit`` again on the same trainer (e.g. after a ``max_time`` stop)
        continues with the run's states where it left off, as a resume from its last checkpoint would.
        What a fit does around the iterations, step by step, is
        [`fit_loop.run_fit`][ganimation_lib.training.fit_loop.run_fit].
        """
        caller_rng = capture_rng_state()
        try:
            return run_fit(
                self, data, val_data=val_data, resume_from=resume_from, sampler=sampler, run_rng=self._run_rng
            )
        finally:
            self.stop_requested = False  # a request is answered by the fit it was made in
            self._run_rng = capture_rng_state()
            restore_rng_state(caller_rng)

    def export(self, folder: str | Path, *, face_crop: CanonicalFace | None = None) -> Path:
        """Save the sampling generator (the EMA copy when enabled) with ``save_pretrained`` (config.json +
        model.safetensors), so ``Generator.from_pretrained(folder)`` and ``ganimation animate`` can load it;
        ``face_crop``, the training crops' layout (``AUDataset.face_crop``), is recorded with it when given."""
        self.sampling_generator.save_pretrained(folder, face_crop=face_crop)
        return Path(folder)
