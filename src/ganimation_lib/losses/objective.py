"""The weighted GANimation objective: what the critic and the generator minimise in one iteration, by name.

The [`Trainer`][ganimation_lib.training.trainer.Trainer] runs the networks (the forward passes of a phase) and hands
what they produced to [`GANimationObjective`][ganimation_lib.losses.objective.GANimationObjective] as a
[`CriticStep`][ganimation_lib.losses.objective.CriticStep] or a
[`GeneratorStep`][ganimation_lib.losses.objective.GeneratorStep]; the objective returns the phase's weighted terms as
a ``{name: scalar}`` dict, whose sum the phase minimises. Custom terms (``f(step) -> scalar``) are added after the
built-in ones under their own names.

Examples:
    >>> import torch
    >>> from ganimation_lib import Critic, CriticConfig, Generator, GeneratorConfig
    >>> from ganimation_lib.data import AUSample
    >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
    >>> d = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
    >>> real, aus, target = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17), torch.rand(2, 17)
    >>> fake = g(real, target).image.detach()
    >>> step = CriticStep(AUSample(real, aus, target, ["", ""], ["a", "b"]), real, aus, target, fake, d(real), d(fake))
    >>> list(GANimationObjective(gradient_penalty_mode="critic_step").critic_terms(step, d))
    ['wgan', 'aus', 'gradient_penalty']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from ..config_mixin import ConfigMixin, is_finite_number, short_repr
from ..data.sample import AUSample
from ..models.critic import CriticOutput
from ..models.generator import GeneratorOutput
from .functional import (
    ExpressionLossForm,
    SmoothnessForm,
    attention_saturation_loss,
    attention_smoothness_loss,
    au_gradient_penalty,
    color_smoothness_loss,
    cycle_loss,
    expression_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)

__all__ = [
    "CriticLossTerm",
    "CriticStep",
    "GANimationObjective",
    "GeneratorLossTerm",
    "GeneratorStep",
    "GradientPenaltyMode",
    "LossWeights",
]

#: Where the gradient penalty goes: in the critic's loss (``"critic_step"``), or its own optimizer step after
#: the critic's (``"separate_step"``, the official code).
GradientPenaltyMode = Literal["critic_step", "separate_step"]


@dataclass(frozen=True)
class LossWeights(ConfigMixin):
    """Weights of the GANimation objective; the defaults are the official ones.

    Attributes:
        adversarial: Weight of the WGAN terms (official ``lambda_D_prob`` = 1).
        expression: Weight of the conditional expression loss (official ``lambda_D_cond`` = 4000,
            paired with ``expression_loss(form="official")``).
        cycle: Weight of the cycle/identity loss (official ``lambda_cyc`` = 10).
        attention_saturation: Weight of ``mean(A)`` (official ``lambda_mask`` = 0.1).
        attention_smoothness: Weight of the attention total variation (official ``lambda_mask_smooth`` = 1e-5,
            paired with the ``"l1_sum"`` form).
        gradient_penalty: Weight of WGAN-GP (official ``lambda_D_gp`` = 10).
        color_smoothness: Weight of [`color_smoothness_loss`][ganimation_lib.losses.functional.color_smoothness_loss]
            on the generated face's colour (not in the official objective: 0).
        au_gradient_penalty: Weight of [`au_gradient_penalty`][ganimation_lib.losses.functional.au_gradient_penalty]
            on the critic's AU reading of the real faces (not in the official objective: 0).

    Examples:
        >>> LossWeights().expression
        4000.0
        >>> LossWeights(cycle=5.0).cycle
        5.0
    """

    adversarial: float = 1.0
    expression: float = 4000.0
    cycle: float = 10.0
    attention_saturation: float = 0.1
    attention_smoothness: float = 1e-5
    gradient_penalty: float = 10.0
    color_smoothness: float = 0.0
    au_gradient_penalty: float = 0.0

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if not is_finite_number(value) or value < 0:
                raise ValueError(f"LossWeights.{name}={short_repr(value)} must be a finite number >= 0")


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


@dataclass(frozen=True, eq=False)
class GANimationObjective:
    """The weighted terms of each phase: the official objective, its variants, and custom terms.

    Attributes:
        weights: The weight of each built-in term (official [`LossWeights`][ganimation_lib.losses.objective.LossWeights]
            by default).
        expression_form: Form of the expression loss (see
            [`expression_loss`][ganimation_lib.losses.functional.expression_loss]).
        smoothness_form: Form of the attention smoothness loss (see
            [`attention_smoothness_loss`][ganimation_lib.losses.functional.attention_smoothness_loss]).
        gradient_penalty_mode: ``"critic_step"``: the penalty is one of
            [`critic_terms`][ganimation_lib.losses.objective.GANimationObjective.critic_terms]; ``"separate_step"``: it
            is not, and the trainer takes a second critic step on
            [`gradient_penalty_term`][ganimation_lib.losses.objective.GANimationObjective.gradient_penalty_term].
        critic_losses: Extra critic terms by name, each ``f(CriticStep) -> scalar``.
        generator_losses: Extra generator terms by name, each ``f(GeneratorStep) -> scalar``.

    Examples:
        >>> import torch
        >>> objective = GANimationObjective(critic_losses={"zero": lambda step: torch.zeros(())})
        >>> objective.separate_gradient_penalty, list(objective.critic_losses)
        (True, ['zero'])
    """

    weights: LossWeights = field(default_factory=LossWeights)
    expression_form: ExpressionLossForm = "official"
    smoothness_form: SmoothnessForm = "l1_sum"
    gradient_penalty_mode: GradientPenaltyMode = "separate_step"
    critic_losses: Mapping[str, CriticLossTerm] = field(default_factory=dict)
    generator_losses: Mapping[str, GeneratorLossTerm] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Own copies: a caller's dict changed later must not change the objective.
        object.__setattr__(self, "critic_losses", dict(self.critic_losses))
        object.__setattr__(self, "generator_losses", dict(self.generator_losses))
        for name, term in [*self.generator_losses.items(), *self.critic_losses.items()]:
            if not callable(term):
                raise TypeError(
                    f"loss term {name!r} must be callable (step -> scalar tensor), got {type(term).__name__}"
                )

    @property
    def separate_gradient_penalty(self) -> bool:
        """Whether the gradient penalty takes its own critic step (not one of
        [`critic_terms`][ganimation_lib.losses.objective.GANimationObjective.critic_terms])."""
        return self.gradient_penalty_mode == "separate_step"

    def gradient_penalty_term(self, critic: Callable[[Tensor], CriticOutput], real: Tensor, fake: Tensor) -> Tensor:
        """The weighted WGAN-GP of ``critic``'s scores between ``real`` and ``fake`` (see
        [`gradient_penalty`][ganimation_lib.losses.functional.gradient_penalty])."""

        def score(x: Tensor) -> Tensor:
            return critic(x).score

        return self.weights.gradient_penalty * gradient_penalty(score, real, fake)

    def critic_terms(
        self,
        step: CriticStep,
        critic: Callable[[Tensor], CriticOutput],
        *,
        gradient_penalty_scale: float = 1.0,
        au_penalty_scale: float = 1.0,
    ) -> dict[str, Tensor]:
        """The critic phase's weighted terms: ``wgan``, ``aus``, ``gradient_penalty`` (in ``"critic_step"``
        mode), ``au_gradient_penalty`` (when weighted), then the custom critic terms.

        Args:
            step: The critic's outputs on real and generated faces (``step.fake`` in float32).
            critic: The critic the penalties differentiate twice (the trainer passes it without ``torch.compile``
                wrappers: compiled code has no double backward).
            gradient_penalty_scale: Multiplies the gradient penalty's weight; 0 leaves the term out (not
                computed). Lazy regularisation passes the interval on the steps where it is due
                ([`TrainerConfig.penalty_scales`][ganimation_lib.training.config.TrainerConfig.penalty_scales]).
            au_penalty_scale: The same for the AU gradient penalty.
        """
        w = self.weights
        terms: dict[str, Tensor] = {
            "wgan": w.adversarial * wgan_critic_loss(step.real_judged.score, step.fake_judged.score),
            "aus": w.expression * expression_loss(step.real_judged.aus, step.aus, self.expression_form),
        }
        if not self.separate_gradient_penalty and gradient_penalty_scale:
            terms["gradient_penalty"] = gradient_penalty_scale * self.gradient_penalty_term(
                critic, step.real, step.fake
            )
        if w.au_gradient_penalty and au_penalty_scale:

            def regress(x: Tensor) -> Tensor:
                return critic(x).aus

            weight = w.au_gradient_penalty * au_penalty_scale
            terms["au_gradient_penalty"] = weight * au_gradient_penalty(regress, step.real)
        for name, term in self.critic_losses.items():
            terms[name] = term(step).float()
        return terms

    def generator_terms(self, step: GeneratorStep) -> dict[str, Tensor]:
        """The generator phase's weighted terms: ``adversarial``, ``expression``, ``cycle``,
        ``attention_saturation``, ``attention_smoothness`` (on the fake and the reconstruction),
        ``color_smoothness`` (when weighted), then the custom generator terms."""
        w, smooth = self.weights, self.smoothness_form
        fake, rec = step.fake, step.reconstruction
        terms: dict[str, Tensor] = {
            "adversarial": w.adversarial * wgan_generator_loss(step.judged.score),
            "expression": w.expression * expression_loss(step.judged.aus, step.target_aus, self.expression_form),
            "cycle": w.cycle * cycle_loss(rec.image, step.real),
            "attention_saturation": w.attention_saturation
            * (attention_saturation_loss(fake.attention) + attention_saturation_loss(rec.attention)),
            "attention_smoothness": w.attention_smoothness
            * (attention_smoothness_loss(fake.attention, smooth) + attention_smoothness_loss(rec.attention, smooth)),
        }
        if w.color_smoothness:  # on the change where the colour is painted around the warped face, not its edges
            painted = fake.color if fake.color_change is None else fake.color_change
            terms["color_smoothness"] = w.color_smoothness * color_smoothness_loss(painted, fake.attention)
        for name, term in self.generator_losses.items():
            terms[name] = term(step).float()
        return terms
