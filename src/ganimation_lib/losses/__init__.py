"""GANimation's losses: the pure loss functions ([`functional`][ganimation_lib.losses.functional]) and the weighted
objective ([`objective`][ganimation_lib.losses.objective]).

Examples:
    >>> import torch
    >>> from ganimation_lib.losses import LossWeights, cycle_loss
    >>> LossWeights().cycle * cycle_loss(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5))
    tensor(5.)
"""

from .functional import ExpressionLossForm as ExpressionLossForm
from .functional import SmoothnessForm as SmoothnessForm
from .functional import attention_saturation_loss as attention_saturation_loss
from .functional import attention_smoothness_loss as attention_smoothness_loss
from .functional import au_gradient_penalty as au_gradient_penalty
from .functional import color_smoothness_loss as color_smoothness_loss
from .functional import cycle_loss as cycle_loss
from .functional import expression_loss as expression_loss
from .functional import gradient_penalty as gradient_penalty
from .functional import wgan_critic_loss as wgan_critic_loss
from .functional import wgan_generator_loss as wgan_generator_loss
from .objective import CriticLossTerm as CriticLossTerm
from .objective import CriticStep as CriticStep
from .objective import GANimationObjective as GANimationObjective
from .objective import GeneratorLossTerm as GeneratorLossTerm
from .objective import GeneratorStep as GeneratorStep
from .objective import GradientPenaltyMode as GradientPenaltyMode
from .objective import LossWeights as LossWeights

__all__ = [
    "CriticLossTerm",
    "CriticStep",
    "ExpressionLossForm",
    "GANimationObjective",
    "GeneratorLossTerm",
    "GeneratorStep",
    "GradientPenaltyMode",
    "LossWeights",
    "SmoothnessForm",
    "attention_saturation_loss",
    "attention_smoothness_loss",
    "au_gradient_penalty",
    "color_smoothness_loss",
    "cycle_loss",
    "expression_loss",
    "gradient_penalty",
    "wgan_critic_loss",
    "wgan_generator_loss",
]
