"""Writing and reading out an [`EvaluationReport`][ganimation_lib.evaluation.metrics.EvaluationReport].

[`write_evaluation`][ganimation_lib.evaluation.report.write_evaluation] writes ``report.json`` (the figures) and
``grid.png`` (what the figures are about), each atomically;
[`format_report`][ganimation_lib.evaluation.report.format_report] is the short readable summary ``ganimation evaluate``
prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..atomic_files import atomic_text
from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from ..inference.visuals import save_image, tile_columns, to_uint8
from ..models.registered import drawing_model
from ..training.validation import truth_for
from .metrics import EvaluationReport

__all__ = ["GRID_COLUMNS", "evaluation_grid", "format_report", "write_evaluation"]

#: The grid's columns, left to right ("true picture" only when the data can draw it).
GRID_COLUMNS: tuple[str, ...] = ("input", "expression asked for", "output", "attention", "colour", "true picture")


@torch.no_grad()
def evaluation_grid(
    report: EvaluationReport,
    generator: nn.Module,
    data: Dataset[AUSample],
    *,
    rows: int = 8,
    device: str | torch.device = "cpu",
    pad: int = 2,
    labelled: bool = False,
) -> Tensor:
    """A (3, H', W') uint8 picture: one row per evaluated face (the first ``rows``), columns `GRID_COLUMNS`.

    "expression asked for" is the held-out face whose AUs were the target; "true picture" (the same identity
    with those AUs) appears only when ``data`` can draw it. ``labelled`` adds a header strip naming the columns
    (short forms such as "target" and "true" at small tiles); ``grid.png`` is written labelled.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig, SyntheticFaces
        >>> from ganimation_lib.evaluation import evaluate
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> faces = SyntheticFaces(num_identities=3, items_per_identity=1, image_size=32)
        >>> evaluation_grid(evaluate(g, faces), g, faces).shape
        torch.Size([3, 104, 206])
    """
    count = min(rows, report.num_faces)
    if count < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    picked, donors = report.indices[:count], report.targets_from[:count]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(report.seed)
        images = as_float_faces(torch.stack([data[i].image for i in picked])).float()
        asked = as_float_faces(torch.stack([data[i].image for i in donors])).float()
        targets = torch.stack([data[i].aus for i in donors]).float()
    target_device = torch.device(device)
    out = drawing_model(generator.to(target_device).eval())(images.to(target_device), targets.to(target_device))
    columns = [to_uint8(images), to_uint8(asked), to_uint8(out.image), to_uint8(out.attention), to_uint8(out.color)]
    truth = truth_for(data)
    if truth is not None:
        columns.append(to_uint8(truth(list(picked), targets)))
    return tile_columns(columns, pad, labels=GRID_COLUMNS[: len(columns)] if labelled else None)


def write_evaluation(
    report: EvaluationReport,
    generator: nn.Module,
    data: Dataset[AUSample],
    folder: str | Path,
    *,
    rows: int = 8,
    device: str | torch.device = "cpu",
    extra: dict[str, object] | None = None,
) -> dict[str, Path]:
    """Write ``folder/report.json`` (``report.to_dict()``, plus ``extra`` under ``"run"``) and ``folder/grid.png``.

    Each file is written atomically: an interrupted run never leaves a half-written one.

    Returns:
        ``{"report": path, "grid": path}``.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; choose another --output")
    out.mkdir(parents=True, exist_ok=True)
    document: dict[str, object] = report.to_dict()
    if extra:
        document["run"] = extra
    path = out / "report.json"
    with atomic_text(path, newline=None) as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
    picture = evaluation_grid(report, generator, data, rows=rows, device=device, labelled=True)
    grid = save_image(picture, out / "grid.png")
    return {"report": path, "grid": grid}


def _line(label: str, value: float | None, note: str) -> str | None:
    return None if value is None else f"  {label:20s} {value:8.4f}   {note}"


def _worst(per_au: dict[str, float] | None, count: int = 3) -> str:
    if not per_au:
        return ""
    ranked = sorted(per_au.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {value:.3f}" for name, value in ranked)


def format_report(report: EvaluationReport) -> str:
    """The figures of ``report`` with one line each on what they mean (lower is better unless said).

    Examples:
        >>> print(format_report(EvaluationReport(4, "shuffle", 0, 32, 0.01, 0.02, 0.9)).splitlines()[0])
        4 held-out faces at 32 px, each asked for another one's expression (pairing 'shuffle', seed 0):
    """
    r = report
    lines: list[str | None] = [
        f"{r.num_faces} held-out faces at {r.image_size} px, each asked for another one's expression "
        f"(pairing {r.pairing!r}, seed {r.seed}):",
        "  errors: lower is better, and the unchanged input is the baseline a useful model beats",
        _line("identity_error", r.identity_error, "|G(x, own AUs) - x|: asked for its own expression, keep the face"),
        _line("cycle_error", r.cycle_error, "|G(G(x, t), own AUs) - x|: there and back again"),
        _line("attention_mean", r.attention_mean, "share of each face kept from the input (1 = unchanged)"),
        _line("true_error", r.true_error, "|G(x, t) - true picture of the same face with AUs t|"),
        _line("unchanged_error", r.unchanged_error, "the same for the input left alone: the baseline"),
        _line("true_ratio", r.true_ratio, "true / unchanged: below 1 = closer to the truth than doing nothing"),
        _line("au_error_output", r.au_error_output, "|R(G(x, t)) - t|: the AUs the regressor R reads on the output"),
        _line("au_error_unchanged", r.au_error_unchanged, "|R(x) - t|: the baseline (nothing drawn)"),
        _line("au_error_true", r.au_error_true, "|R(true picture) - t|: the best a model can score"),
        _line("au_error_real", r.au_error_real, "|R(x) - own AUs|: the regressor's own error on real faces"),
        _line("gap_closed", r.gap_closed, "higher is better: 0 = drew nothing, 1 = as expressive as the truth"),
    ]
    if r.au_error_output is not None and r.au_error_true is None:
        lines.append("  (no true pictures: gap_closed is measured against au_error_real, a real face's error)")
    if r.au_error_output_per_au:
        lines.append(f"  hardest AUs on the output: {_worst(r.au_error_output_per_au)}")
    real, baseline = r.au_error_real, r.au_error_unchanged
    if real is not None and baseline is not None and real > 0.5 * baseline:
        lines.append(
            "  warning: the regressor's own error is large next to the baseline, so the AU figures say little; "
            "train it longer (--regressor-steps) or on more faces"
        )
    return "\n".join(line for line in lines if line is not None)
