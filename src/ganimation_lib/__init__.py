"""ganimation_lib: GANimation (Pumarola et al., ECCV 2018) as a typed, pip-installable PyTorch library.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=1))
    >>> g(torch.zeros(1, 3, 32, 32), torch.zeros(1, 17)).image.shape
    torch.Size([1, 3, 32, 32])
"""

from .aus import AU_NAMES as AU_NAMES
from .aus import aus_for as aus_for
from .data import AUDataset as AUDataset
from .data import AUSample as AUSample
from .data import SyntheticFaces as SyntheticFaces
from .errors import OutputWriteError as OutputWriteError
from .evaluation import AURegressor as AURegressor
from .evaluation import AURegressorConfig as AURegressorConfig
from .evaluation import EvaluationReport as EvaluationReport
from .evaluation import evaluate as evaluate
from .evaluation import train_au_regressor as train_au_regressor
from .inference import animate as animate
from .inference import edit as edit
from .losses import LossWeights as LossWeights
from .models import XK as XK
from .models import Critic as Critic
from .models import CriticConfig as CriticConfig
from .models import CriticOutput as CriticOutput
from .models import Discriminator as Discriminator
from .models import Generator as Generator
from .models import GeneratorConfig as GeneratorConfig
from .models import GeneratorOutput as GeneratorOutput
from .models import Residual as Residual
from .models.convert import load_checkpoint as load_checkpoint
from .training import Callback as Callback
from .training import Trainer as Trainer
from .training import TrainerConfig as TrainerConfig
from .version import __version__ as __version__

__all__ = [
    "AUDataset",
    "AURegressor",
    "AURegressorConfig",
    "AUSample",
    "AU_NAMES",
    "Callback",
    "Critic",
    "CriticConfig",
    "CriticOutput",
    "Discriminator",
    "EvaluationReport",
    "Generator",
    "GeneratorConfig",
    "GeneratorOutput",
    "LossWeights",
    "OutputWriteError",
    "Residual",
    "SyntheticFaces",
    "Trainer",
    "TrainerConfig",
    "XK",
    "__version__",
    "animate",
    "aus_for",
    "edit",
    "evaluate",
    "load_checkpoint",
    "train_au_regressor",
]
