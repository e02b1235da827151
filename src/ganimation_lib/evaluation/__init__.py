"""Evaluation: judge a generator on held-out faces with figures it was not trained against.

[`evaluate`][ganimation_lib.evaluation.metrics.evaluate] asks each held-out face for another held-out face's expression
and reports how far the result is from the input (identity keeping), from the truth (when the data can render it) and,
through an independent [`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor] trained only on real training
faces, how much of the expression it drew.
"""

from .fit_regressor import augment_faces as augment_faces
from .fit_regressor import load_faces as load_faces
from .fit_regressor import train_au_regressor as train_au_regressor
from .metrics import EvaluationReport as EvaluationReport
from .metrics import derangement as derangement
from .metrics import evaluate as evaluate
from .metrics import held_out_faces as held_out_faces
from .regressor import AURegressor as AURegressor
from .regressor import AURegressorConfig as AURegressorConfig
from .report import evaluation_grid as evaluation_grid
from .report import format_report as format_report
from .report import write_evaluation as write_evaluation

__all__ = [
    "AURegressor",
    "AURegressorConfig",
    "EvaluationReport",
    "augment_faces",
    "derangement",
    "evaluate",
    "evaluation_grid",
    "format_report",
    "held_out_faces",
    "load_faces",
    "train_au_regressor",
    "write_evaluation",
]
