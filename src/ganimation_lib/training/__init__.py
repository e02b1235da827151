"""Training: the [`Trainer`][ganimation_lib.training.trainer.Trainer], its config, callbacks, checkpoints and
validation."""

from ..losses import CriticStep as CriticStep
from ..losses import GeneratorStep as GeneratorStep
from .callbacks import Callback as Callback
from .callbacks import Checkpointing as Checkpointing
from .callbacks import MetricsLogger as MetricsLogger
from .callbacks import ProgressBar as ProgressBar
from .callbacks import SampleGrid as SampleGrid
from .checkpoint import load_training_state as load_training_state
from .checkpoint import save_training_state as save_training_state
from .config import TrainerConfig as TrainerConfig
from .ema import EMA as EMA
from .finite import NonFiniteLossError as NonFiniteLossError
from .sampling import ResumableSampler as ResumableSampler
from .trainer import Trainer as Trainer
from .validation import validate as validate

__all__ = [
    "EMA",
    "Callback",
    "Checkpointing",
    "CriticStep",
    "GeneratorStep",
    "MetricsLogger",
    "NonFiniteLossError",
    "ProgressBar",
    "ResumableSampler",
    "SampleGrid",
    "Trainer",
    "TrainerConfig",
    "load_training_state",
    "save_training_state",
    "validate",
]
