"""``evaluate``: the figures that say whether a generator does its job on faces it never saw.

Each held-out face ``x`` (own AUs ``a``) is asked for the expression ``t`` of another held-out face (a
seeded derangement: nobody is asked for their own expression). Lower is better for every error; the
unchanged input is the baseline a useful model must beat.

* ``identity_error`` = mean |G(x, a) − x|: asked for its own expression, the face should come back unchanged.
* ``cycle_error`` = mean |G(G(x, t), a) − x|: there and back again should give the input.
* ``true_error`` = mean |G(x, t) − truth|, when the data can draw the truth (the same identity with the
  AUs ``t``, as [`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] can); ``unchanged_error`` = mean
  |x − truth| is the same distance for the input left alone, and ``true_ratio`` = true / unchanged
  (below 1: the model moved the face towards the truth).
* With an independent [`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor] R (never the critic's AU
  head, which the generator was trained to satisfy): ``au_error_output`` = mean |R(G(x, t)) − t|,
  ``au_error_unchanged`` = mean |R(x) − t|, ``au_error_real`` = mean |R(x) − a| (the regressor's own
  error on real faces: a weak regressor makes every model look good), ``au_error_true`` = mean
  |R(truth) − t| when the truth exists, and ``gap_closed`` = (unchanged − output) / (unchanged − true),
  with ``au_error_real`` in place of ``au_error_true`` when there is no truth: 0 for a model that
  changes nothing, 1 for one that draws the expression as well as the truth (or a real face) shows it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..aus import AU_NAMES
from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from ..models.registered import drawing_model
from ..training.validation import truth_for
from .regressor import AURegressor

__all__ = ["EvaluationReport", "Pairing", "derangement", "evaluate", "held_out_faces"]

Pairing = Literal["shuffle", "shift"]
_PAIRINGS: tuple[str, ...] = ("shuffle", "shift")


@dataclass
class EvaluationReport:
    """What [`evaluate`][ganimation_lib.evaluation.metrics.evaluate] measured (see the module docstring for each figure;
    ``None`` = not measurable).

    Attributes:
        num_faces: Held-out faces evaluated. pairing, seed: How the target expressions were chosen.
        image_size: Side of the faces. au_names: Names of the AUs, in vector order.
        indices: Dataset index of each evaluated face; ``targets_from[k]``: the index whose AUs face k was
            asked for. names: The faces' names.
    """

    num_faces: int
    pairing: str
    seed: int
    image_size: int
    identity_error: float
    cycle_error: float
    attention_mean: float
    true_error: float | None = None
    unchanged_error: float | None = None
    true_ratio: float | None = None
    au_error_output: float | None = None
    au_error_unchanged: float | None = None
    au_error_real: float | None = None
    au_error_true: float | None = None
    gap_closed: float | None = None
    au_error_output_per_au: dict[str, float] | None = None
    au_error_unchanged_per_au: dict[str, float] | None = None
    au_names: tuple[str, ...] = ()
    indices: list[int] = field(default_factory=list)
    targets_from: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become ``None``, tuples lists).

        Examples:
            >>> EvaluationReport(2, "shuffle", 0, 32, 0.0, 0.1, float("nan")).to_dict()["attention_mean"] is None
            True
        """
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def derangement(count: int, seed: int, pairing: Pairing = "shuffle") -> list[int]:
    """A permutation of ``range(count)`` with no fixed point: ``result[k]`` is the face k takes its target from.

    ``"shuffle"`` draws one uniformly among all derangements (seeded); ``"shift"`` is ``k + 1`` (cyclic).

    Raises:
        ValueError: with fewer than 2 faces (one face cannot take another's expression) or an unknown pairing.

    Examples:
        >>> derangement(4, seed=0, pairing="shift")
        [1, 2, 3, 0]
        >>> d = derangement(5, seed=3)
        >>> sorted(d) == list(range(5)) and all(k != d[k] for k in range(5))
        True
    """
    if pairing not in _PAIRINGS:
        raise ValueError(f"pairing={pairing!r} is unknown; use one of {list(_PAIRINGS)}")
    if count < 2:
        raise ValueError(f"evaluation needs at least 2 held-out faces (each takes another's expression), got {count}")
    if pairing == "shift":
        return [(k + 1) % count for k in range(count)]
    generator = torch.Generator().manual_seed(seed)
    while True:  # rejection: about e (2.7) draws on average, and uniform over derangements
        order = torch.randperm(count, generator=generator).tolist()
        if all(k != order[k] for k in range(count)):
            return [int(i) for i in order]


def held_out_faces(length: int, num_faces: int | None, seed: int) -> list[int]:
    """The dataset indices to evaluate: all of them, or a seeded sample of ``num_faces`` (in index order).

    Examples:
        >>> held_out_faces(5, None, 0), len(held_out_faces(100, 10, 0))
        ([0, 1, 2, 3, 4], 10)
    """
    if num_faces is None or num_faces >= length:
        return list(range(length))
    if num_faces < 2:
        raise ValueError(f"num_faces must be at least 2 (each face takes another's expression), got {num_faces}")
    generator = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(length, generator=generator)[:num_faces].tolist())


def _au_names(generator: nn.Module, data: object, count: int) -> tuple[str, ...]:
    for names in (getattr(generator, "au_names", None), getattr(data, "au_names", None)):
        if names is not None and len(names) == count:
            return tuple(str(n) for n in names)
    return AU_NAMES if count == len(AU_NAMES) else tuple(f"AU[{i}]" for i in range(count))


class _Sums:
    """Running sums of absolute errors, so the means are over every value of every face."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.per_au: dict[str, Tensor] = {}

    def add(self, name: str, difference: Tensor, *, per_au: bool = False) -> None:
        values = difference.detach().float().abs()
        self.totals[name] = self.totals.get(name, 0.0) + float(values.sum(dtype=torch.float64))
        self.counts[name] = self.counts.get(name, 0) + values.numel()
        if per_au:
            column_sums = values.sum(dim=0, dtype=torch.float64).cpu()
            self.per_au[name] = self.per_au.get(name, torch.zeros_like(column_sums)) + column_sums

    def mean(self, name: str) -> float | None:
        return self.totals[name] / self.counts[name] if name in self.totals else None

    def total_mean(self, name: str) -> float:
        return self.totals[name] / self.counts[name]


def _own_aus(data: object, indices: list[int]) -> Tensor:
    """The faces' own AUs: from the dataset's ``aus_table`` when it has one (no image is read), else item by item."""
    table = getattr(data, "aus_table", None)
    if isinstance(table, Tensor) and table.dim() == 2 and table.shape[0] == len(data):  # type: ignore[arg-type]
        return table[indices].float()
    return torch.stack([data[i].aus for i in indices]).float()  # type: ignore[index]


def _check_sizes(generator: nn.Module, regressor: AURegressor | None, image: Tensor, num_aus: int) -> None:
    config = getattr(generator, "config", None)
    size = getattr(config, "image_size", None)
    if size is not None and tuple(image.shape[-2:]) != (size, size):
        raise ValueError(
            f"the held-out faces are {image.shape[-1]} px but the model was trained at {size} px; "
            f"load the data with image_size={size}"
        )
    if regressor is None:
        return
    if regressor.config.image_size != image.shape[-1]:
        raise ValueError(
            f"the AU regressor reads {regressor.config.image_size} px faces but the held-out faces are "
            f"{image.shape[-1]} px; train a regressor at {image.shape[-1]} px"
        )
    if regressor.config.num_aus != num_aus:
        raise ValueError(f"the AU regressor predicts {regressor.config.num_aus} AUs but the data has {num_aus}")


@torch.no_grad()
def evaluate(
    generator: nn.Module,
    data: Dataset[AUSample],
    *,
    regressor: AURegressor | None = None,
    num_faces: int | None = None,
    seed: int = 0,
    batch_size: int = 50,
    device: str | torch.device = "cpu",
    pairing: Pairing = "shuffle",
) -> EvaluationReport:
    """Evaluate ``generator`` on the held-out faces ``data`` (see the module docstring for the figures).

    Args:
        generator: Called as ``generator(images, aus)``, returning a ``GeneratorOutput``.
        data: Held-out faces: identities (or at least images) the generator was not trained on. When it has
            ``identity_of`` and ``render_tensor`` (as ``SyntheticFaces``), the true pictures are used.
        regressor: An [`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor] trained on the *training* faces;
            ``None`` skips the AU figures.
        num_faces: Evaluate a seeded sample of this many faces (``None``: all).
        seed: Seed of the sample and of the pairing.
        batch_size: Faces per generator call.
        device: Where the networks run (they are moved there and left there, in eval mode).
        pairing: ``"shuffle"`` (a seeded derangement) or ``"shift"`` (face k takes face k+1's AUs).

    Raises:
        ValueError: when there are fewer than 2 faces or the sizes of the model, regressor and data disagree.

    Examples:
        >>> from ganimation_lib import Generator, GeneratorConfig, SyntheticFaces
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> faces = SyntheticFaces(num_identities=3, items_per_identity=1, image_size=32)
        >>> report = evaluate(g, faces)
        >>> report.num_faces, report.true_ratio is not None, report.gap_closed is None
        (3, True, True)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    target_device = torch.device(device)
    indices = held_out_faces(len(data), num_faces, seed)  # type: ignore[arg-type]
    donors = derangement(len(indices), seed, pairing)
    truth = truth_for(data)
    generator = drawing_model(generator.to(target_device).eval())  # faces in their own framing
    if regressor is not None:
        regressor = regressor.to(target_device).eval()
    sums = _Sums()
    attention_sum = 0.0
    face_names: list[str] = []
    image_size = 0
    # Items may draw random targets or flips from the global RNG: read them in a forked, seeded stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        own = _own_aus(data, indices)
        targets = own[donors]
        for start in range(0, len(indices), batch_size):
            chunk = slice(start, start + batch_size)
            # One batch of images at a time, so a large held-out set never has to fit in memory.
            items = [data[i] for i in indices[chunk]]
            images = as_float_faces(torch.stack([item.image for item in items])).float()
            if start == 0:
                _check_sizes(generator, regressor, images, own.shape[1])
            face_names += [str(item.name) for item in items]
            image_size = int(images.shape[-1])
            x, a, t = images.to(target_device), own[chunk].to(target_device), targets[chunk].to(target_device)
            same = generator(x, a)
            moved = generator(x, t)
            back = generator(moved.image, a)
            sums.add("identity_error", same.image - x)
            sums.add("cycle_error", back.image - x)
            attention_sum += float(moved.attention.float().sum(dtype=torch.float64)) / moved.attention[0].numel()
            expected: Tensor | None = None
            if truth is not None:
                expected = truth(indices[chunk], t.cpu()).to(target_device).float()
                sums.add("true_error", moved.image - expected)
                sums.add("unchanged_error", x - expected)
            if regressor is not None:
                read_input = regressor(x)
                sums.add("au_error_output", regressor(moved.image) - t, per_au=True)
                sums.add("au_error_unchanged", read_input - t, per_au=True)
                sums.add("au_error_real", read_input - a)
                if expected is not None:
                    sums.add("au_error_true", regressor(expected) - t)

    names = _au_names(generator, data, own.shape[1])
    report = EvaluationReport(
        num_faces=len(indices),
        pairing=pairing,
        seed=seed,
        image_size=image_size,
        identity_error=sums.total_mean("identity_error"),
        cycle_error=sums.total_mean("cycle_error"),
        attention_mean=attention_sum / len(indices),
        au_names=names,
        indices=indices,
        targets_from=[indices[d] for d in donors],
        names=face_names,
    )
    for name in ("true_error", "unchanged_error", "au_error_output", "au_error_unchanged", "au_error_real"):
        setattr(report, name, sums.mean(name))
    report.au_error_true = sums.mean("au_error_true")
    if report.true_error is not None and report.unchanged_error is not None:
        report.true_ratio = _ratio(report.true_error, report.unchanged_error)
    if report.au_error_output is not None and report.au_error_unchanged is not None:
        best = report.au_error_true if report.au_error_true is not None else report.au_error_real
        assert best is not None  # measured together with au_error_output
        report.gap_closed = _ratio(report.au_error_unchanged - report.au_error_output, report.au_error_unchanged - best)
        report.au_error_output_per_au = _per_au(sums, "au_error_output", names, len(indices))
        report.au_error_unchanged_per_au = _per_au(sums, "au_error_unchanged", names, len(indices))
    return report


def _ratio(numerator: float, denominator: float) -> float | None:
    # A zero or negative gap (the regressor cannot tell the truth from the unchanged face) has no ratio.
    return numerator / denominator if denominator > 0 else None


def _per_au(sums: _Sums, name: str, names: Sequence[str], count: int) -> dict[str, float]:
    return {au: float(total) / count for au, total in zip(names, sums.per_au[name].tolist(), strict=True)}
