"""``TrainerConfig``: every choice of the training recipe, frozen, with the official recipe as default."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from typing_extensions import Self

from ..config_mixin import ConfigMixin, check_bool, check_choice, check_int_range, is_finite_number, short_repr
from ..devices import PRECISIONS, Precision
from ..losses import (
    CriticLossTerm,
    ExpressionLossForm,
    GANimationObjective,
    GeneratorLossTerm,
    GradientPenaltyMode,
    LossWeights,
    SmoothnessForm,
)

__all__ = [
    "ADAM_IMPLEMENTATIONS",
    "MAX_COUNT",
    "MAX_NUM_WORKERS",
    "AdamImplementation",
    "GradientPenaltyMode",
    "LRUnit",
    "TrainerConfig",
]

LRUnit = Literal["epoch", "step"]
AdamImplementation = Literal["auto", "foreach", "fused"]
#: The values ``TrainerConfig.adam_implementation`` takes.
ADAM_IMPLEMENTATIONS: tuple[str, ...] = get_args(AdamImplementation)

#: The largest count a TrainerConfig field may hold (steps, epochs, intervals, batch size): a billion.
MAX_COUNT = 10**9
#: The most DataLoader worker processes.
MAX_NUM_WORKERS = 256
#: Seeds must fit the 32 bits NumPy takes.
_MAX_SEED = 2**32 - 1


def _check_int(name: str, value: object, minimum: int, maximum: int = MAX_COUNT) -> None:
    check_int_range("TrainerConfig", name, value, minimum, maximum)


def _check_float(name: str, value: object, *, positive: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    ok = is_finite_number(value)
    if not ok or (positive and value <= 0) or (not positive and value < 0):  # type: ignore[operator]
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"TrainerConfig.{name}={short_repr(value)} must be a finite number {bound}"
            + (" or None" if optional else "")
        )


@dataclass(frozen=True)
class TrainerConfig(ConfigMixin):
    """The training recipe. The defaults reproduce the official GANimation recipe.

    Use [`official`][ganimation_lib.training.config.TrainerConfig.official] for real training at 128 px and
    [`fast`][ganimation_lib.training.config.TrainerConfig.fast] for the CPU-sized recipe measured on synthetic faces
    (see ``docs/training.md``). Counts (steps, epochs, intervals, batch size) are bounded by `MAX_COUNT` (a billion),
    ``num_workers`` by 256 and ``seed`` by 2**32 - 1; numbers must be finite. Anything else is a ``ValueError`` naming
    the field.

    Attributes:
        batch_size: Images per step (official 25).
        generator_lr: Adam learning rate of the generator (official 1e-4).
        critic_lr: Adam learning rate of the critic (official 1e-4).
        au_lr_scale: The critic's AU reading (its AU head, and its AU trunk when separate:
            ``Critic.au_parameters``) learns at ``critic_lr`` times this (official 1). The fast recipe uses 0.25
            from 64 px up, with a separate AU trunk (``docs/training.md``).
        betas: Adam betas of both optimizers (official (0.5, 0.999)).
        adam_implementation: PyTorch's Adam kernel: ``"auto"`` (PyTorch's choice, default), ``"foreach"`` or
            ``"fused"`` (one kernel per step; CUDA, and the CPU since PyTorch 2.4). The same update up to float
            rounding ([`optimizers`][ganimation_lib.training.optimizers]).
        cudnn_benchmark: On CUDA, let cuDNN time its convolution algorithms once and keep the fastest
            (``torch.backends.cudnn.benchmark``, set for the process when the trainer is built): the shapes never
            change during a run. The chosen algorithms may round differently from run to run.
        compile: Train through ``torch.compile``'d networks (default off): the first iterations compile
            (tens of seconds on a CPU, for each new batch shape and phase), later ones run the fused kernels. The
            gradient penalties differentiate the critic twice, which compiled code cannot, so they run through
            the eager critic (the same parameters): the same values up to float rounding.
        n_critic: A generator phase runs every ``n_critic`` iterations, counted over the whole run; the critic
            phase runs every iteration. (The official code counts within each epoch, which is the same when
            an epoch's batch count is a multiple of ``n_critic`` and never trains the generator when an
            epoch has fewer batches than ``n_critic``.)
        loss_weights: Weights of the objective (official
            [`LossWeights`][ganimation_lib.losses.objective.LossWeights]).
        expression_form: ``"official"`` (MSE / B, paired with weight 4000) or ``"mean"``.
        smoothness_form: ``"l1_sum"`` (official, weight 1e-5) or ``"squared_mean"``.
        lr_unit: Whether ``lr_constant``/``lr_decay`` count epochs (official) or optimizer steps.
        lr_constant: Epochs (or steps) at the full learning rate (official 20).
        lr_decay: Epochs (or steps) over which it then decays linearly to zero (official 10).
        gradient_penalty_mode: ``"separate_step"`` (official, default): after the critic's step on the WGAN
            and AU terms, the penalty is computed with the updated critic and takes a second optimizer step,
            as the official code does. ``"critic_step"`` adds the penalty to the critic loss (one forward
            pass and one step fewer; the fast recipe uses it).
        gradient_penalty_interval: Lazy regularisation (StyleGAN2's lazy R1): the gradient penalty is computed
            on every ``k``-th critic step only, with its weight multiplied by ``k``, so its expected weight is
            unchanged and its double backward costs ``1/k`` (official 1: every step). In ``"separate_step"`` mode
            the penalty's own optimizer step is skipped on the other steps.
        au_penalty_interval: The same for the AU gradient penalty
            (``LossWeights.au_gradient_penalty``), whose double backward through the AU trunk is the largest
            cost of the fast recipe's critic step at 64 px.
        critic_warmup_steps: Iterations at the start during which only the critic trains (its AU head then
            gives the generator a meaningful expression signal); 0 = none (official).
        ema_decay: Generator EMA decay (e.g. 0.999); ``None`` = no EMA. The EMA weights are the ones used
            for validation, sample grids and export.
        grad_clip: Maximum gradient norm of each network; ``None`` = no clipping (official).
        max_steps: Stop after this many iterations (critic steps); ``None`` = no limit.
        max_epochs: Stop after this many epochs; ``None`` = ``lr_constant + lr_decay`` when ``lr_unit`` is
            ``"epoch"`` and no other limit is set, else no limit.
        max_time: Wall-clock budget in seconds; when spent, training stops after the current step and
            writes a checkpoint. ``None`` = no limit.
        fast_dev_run: Run one critic and one generator step and one validation, write no checkpoint.
        device: ``"auto"`` (CUDA when available, else CPU) or a device string.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; fp16 adds a GradScaler).
        max_nonfinite_steps: Consecutive steps with a non-finite loss or gradient after which training stops
            with an error (each is skipped and reported).
        checkpoint_every: Save the training state every N iterations (0 = only at the end).
        keep_checkpoints: How many step checkpoints to keep (the newest).
        validate_every: Validate every N iterations (0 = only at the start and the end).
        sample_every: Write a sample grid every N iterations (0 = only at the end).
        log_every: Report metrics every N iterations.
        num_validation_samples: Held-out faces used by validation and sample grids.
        seed: Seed of the weights' initialisation, the data order and every random draw.
        num_workers: DataLoader worker processes (0 keeps resume bit-exact; see ``docs/training.md``).
    """

    batch_size: int = 25
    generator_lr: float = 1e-4
    critic_lr: float = 1e-4
    au_lr_scale: float = 1.0
    betas: tuple[float, float] = (0.5, 0.999)
    adam_implementation: AdamImplementation = "auto"
    cudnn_benchmark: bool = True
    compile: bool = False
    n_critic: int = 5
    loss_weights: LossWeights = field(default_factory=LossWeights)
    expression_form: ExpressionLossForm = "official"
    smoothness_form: SmoothnessForm = "l1_sum"
    lr_unit: LRUnit = "epoch"
    lr_constant: int = 20
    lr_decay: int = 10
    gradient_penalty_mode: GradientPenaltyMode = "separate_step"
    gradient_penalty_interval: int = 1
    au_penalty_interval: int = 1
    critic_warmup_steps: int = 0
    ema_decay: float | None = None
    grad_clip: float | None = None
    max_steps: int | None = None
    max_epochs: int | None = None
    max_time: float | None = None
    fast_dev_run: bool = False
    device: str = "auto"
    precision: Precision = "fp32"
    max_nonfinite_steps: int = 5
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    validate_every: int = 1000
    sample_every: int = 1000
    log_every: int = 50
    num_validation_samples: int = 8
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        # JSON gives lists and dicts: normalise so that from_dict(to_dict()) round-trips.
        betas: Any = self.betas
        if isinstance(betas, list):
            object.__setattr__(self, "betas", tuple(betas))
        weights: Any = self.loss_weights
        if isinstance(weights, dict):
            object.__setattr__(self, "loss_weights", LossWeights.from_dict(weights))
        elif not isinstance(weights, LossWeights):
            raise ValueError(
                f"TrainerConfig.loss_weights must be a LossWeights, got {type(self.loss_weights).__name__}"
            )
        b = self.betas
        if not (isinstance(b, tuple) and len(b) == 2 and all(isinstance(x, (int, float)) and 0 <= x < 1 for x in b)):
            raise ValueError(f"TrainerConfig.betas={short_repr(b)} must be two numbers in [0, 1), e.g. (0.5, 0.999)")
        for name in (
            "batch_size",
            "n_critic",
            "gradient_penalty_interval",
            "au_penalty_interval",
            "max_nonfinite_steps",
            "keep_checkpoints",
            "log_every",
            "num_validation_samples",
        ):
            _check_int(name, getattr(self, name), 1)
        for name in (
            "lr_constant",
            "lr_decay",
            "critic_warmup_steps",
            "checkpoint_every",
            "validate_every",
            "sample_every",
        ):
            _check_int(name, getattr(self, name), 0)
        _check_int("seed", self.seed, 0, _MAX_SEED)
        _check_int("num_workers", self.num_workers, 0, MAX_NUM_WORKERS)
        for name in ("max_steps", "max_epochs"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        _check_float("generator_lr", self.generator_lr, positive=True)
        _check_float("critic_lr", self.critic_lr, positive=True)
        _check_float("au_lr_scale", self.au_lr_scale, positive=True)
        _check_float("grad_clip", self.grad_clip, positive=True, optional=True)
        _check_float("max_time", self.max_time, positive=True, optional=True)
        if self.ema_decay is not None and not (isinstance(self.ema_decay, float) and 0 < self.ema_decay < 1):
            raise ValueError(
                f"TrainerConfig.ema_decay={short_repr(self.ema_decay)} must be in (0, 1) (e.g. 0.999) or None"
            )
        check_choice("TrainerConfig", "expression_form", self.expression_form, ("official", "mean"))
        check_choice("TrainerConfig", "smoothness_form", self.smoothness_form, ("l1_sum", "squared_mean"))
        check_choice("TrainerConfig", "lr_unit", self.lr_unit, ("epoch", "step"))
        check_choice("TrainerConfig", "adam_implementation", self.adam_implementation, ADAM_IMPLEMENTATIONS)
        check_bool("TrainerConfig", "cudnn_benchmark", self.cudnn_benchmark)
        check_bool("TrainerConfig", "compile", self.compile)
        check_choice(
            "TrainerConfig", "gradient_penalty_mode", self.gradient_penalty_mode, ("critic_step", "separate_step")
        )
        check_choice("TrainerConfig", "precision", self.precision, PRECISIONS)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"TrainerConfig.device={self.device!r} must be 'auto' or a device string like 'cpu'")

    @classmethod
    def official(cls, **overrides: Any) -> TrainerConfig:
        """The official recipe (the defaults): Adam 1e-4 (0.5, 0.999), n_critic 5, 20 + 10 epochs, batch 25.

        Examples:
            >>> TrainerConfig.official().n_critic
            5
        """
        return cls(**overrides)

    @classmethod
    def fast(cls, **overrides: Any) -> TrainerConfig:
        """The CPU-sized recipe measured on synthetic faces (``docs/training.md``); pair it with
        ``GeneratorConfig(attention_bias=...)`` so that the generator starts as the identity.

        Examples:
            >>> TrainerConfig.fast().expression_form
            'mean'
        """
        defaults: dict[str, Any] = {
            "batch_size": 16,
            "generator_lr": 1e-3,
            "critic_lr": 2e-3,
            "n_critic": 1,
            "expression_form": "mean",
            "smoothness_form": "squared_mean",
            "loss_weights": LossWeights(
                expression=30.0,
                cycle=10.0,
                attention_saturation=0.01,
                attention_smoothness=1.0,
                gradient_penalty=10.0,
            ),
            "lr_unit": "step",
            "lr_constant": 10**9,
            "lr_decay": 0,
            "critic_warmup_steps": 300,
            "ema_decay": 0.99,
            "gradient_penalty_mode": "critic_step",
        }
        return cls(**{**defaults, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (``loss_weights`` as a dict, ``betas`` as a list)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["loss_weights"] = self.loss_weights.to_dict()
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict such as [`to_dict`][ganimation_lib.training.config.TrainerConfig.to_dict] or a JSON file
        gives; unknown keys raise by name."""
        return super().from_dict(data)

    def lr_factor(self, epoch: int, step: int) -> float:
        """The learning-rate multiplier for 0-based ``epoch`` / ``step``: 1 for ``lr_constant``, then linear to 0.

        With ``lr_unit="epoch"`` the drop happens once per epoch, as in the official code (epoch 21 of 30
        trains at the full rate, epoch 22 at 0.9, ..., epoch 30 at 0.1).

        Examples:
            >>> c = TrainerConfig()
            >>> [round(c.lr_factor(e, 0), 2) for e in (0, 20, 21, 29)]
            [1.0, 1.0, 0.9, 0.1]
        """
        if self.lr_unit == "epoch":
            if epoch <= self.lr_constant:
                return 1.0
            if self.lr_decay == 0:
                return 0.0
            return max(0.0, 1.0 - (epoch - self.lr_constant) / self.lr_decay)
        if step < self.lr_constant:
            return 1.0
        if self.lr_decay == 0:
            return 0.0
        return max(0.0, 1.0 - (step - self.lr_constant) / self.lr_decay)

    def limits(self, batches_per_epoch: int | None) -> tuple[int | None, int | None]:
        """``(max_steps, max_epochs)`` for data of ``batches_per_epoch`` batches (``None``: unknown length).

        A ``fast_dev_run`` is one iteration. Without any limit and with ``lr_unit="epoch"`` the run lasts
        ``lr_constant + lr_decay`` epochs (the official schedule). On data of known length an epoch limit
        is also a step limit (the smaller one applies), which the progress bar shows as the total.

        Examples:
            >>> TrainerConfig(lr_constant=2, lr_decay=1).limits(10)
            (30, 3)
            >>> TrainerConfig(max_steps=5, lr_unit="step").limits(None)
            (5, None)
        """
        if self.fast_dev_run:
            return 1, None
        max_epochs = self.max_epochs
        if max_epochs is None and self.max_steps is None and self.max_time is None and self.lr_unit == "epoch":
            max_epochs = self.lr_constant + self.lr_decay
        max_steps = self.max_steps
        if max_epochs is not None and batches_per_epoch is not None:
            by_epochs = max_epochs * batches_per_epoch
            max_steps = by_epochs if max_steps is None else min(max_steps, by_epochs)
        return max_steps, max_epochs

    def penalty_scales(self, step: int) -> tuple[float, float]:
        """The multipliers of the gradient penalty and of the AU gradient penalty at 0-based critic ``step``:
        the interval on the steps where a penalty is due, 0 (not computed) on the others.

        Examples:
            >>> config = TrainerConfig(au_penalty_interval=4)
            >>> [config.penalty_scales(step) for step in range(3)]
            [(1.0, 4.0), (1.0, 0.0), (1.0, 0.0)]
        """

        def scale(interval: int) -> float:
            return float(interval) if step % interval == 0 else 0.0

        return scale(self.gradient_penalty_interval), scale(self.au_penalty_interval)

    def objective(
        self,
        *,
        critic_losses: Mapping[str, CriticLossTerm] | None = None,
        generator_losses: Mapping[str, GeneratorLossTerm] | None = None,
    ) -> GANimationObjective:
        """The objective this recipe trains (weights, loss forms, gradient-penalty mode), with extra terms.

        Examples:
            >>> TrainerConfig.fast().objective().gradient_penalty_mode
            'critic_step'
        """
        return GANimationObjective(
            self.loss_weights,
            self.expression_form,
            self.smoothness_form,
            self.gradient_penalty_mode,
            critic_losses=critic_losses or {},
            generator_losses=generator_losses or {},
        )
