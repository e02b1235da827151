"""evaluate(): the figures measure what they claim (a do-nothing model and a model that draws the truth)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from ganimation_lib import AUDataset, Generator, GeneratorOutput, SyntheticFaces, load_checkpoint
from ganimation_lib.evaluation import (
    AURegressor,
    AURegressorConfig,
    EvaluationReport,
    derangement,
    evaluate,
    format_report,
    held_out_faces,
    train_au_regressor,
    write_evaluation,
)
from tests.conftest import tiny_generator_config

SIZE = 32


class Unchanged(nn.Module):
    """A generator that changes nothing: the baseline every figure compares with."""

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        return GeneratorOutput(image=images, color=images, attention=torch.ones_like(images[:, :1]))


class DrawsTheTruth(nn.Module):
    """A "cheating" generator: it recognises each face and returns the renderer's true picture of it."""

    def __init__(self, faces: SyntheticFaces) -> None:
        super().__init__()
        self.faces = faces
        self.identity: dict[bytes, int] = {}
        for index in range(len(faces)):
            self.identity[faces[index].image.numpy().tobytes()] = faces.identity_of(index)

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        pictures = []
        for image, target in zip(images, aus, strict=True):
            identity = self.identity[image.numpy().tobytes()]
            picture = self.faces.render_tensor(identity, target)
            self.identity[picture.numpy().tobytes()] = identity  # so the cycle's second step knows it too
            pictures.append(picture)
        out = torch.stack(pictures)
        return GeneratorOutput(image=out, color=out, attention=torch.zeros_like(out[:, :1]))


@pytest.fixture(scope="module")
def held_out() -> SyntheticFaces:
    return SyntheticFaces(num_identities=12, items_per_identity=1, image_size=SIZE, seed=1, identity_seed=77)


@pytest.fixture(scope="module")
def regressor() -> AURegressor:
    train = SyntheticFaces(num_identities=20, items_per_identity=6, image_size=SIZE, au_mix="presets")
    config = AURegressorConfig.for_image_size(SIZE, width=8)
    return train_au_regressor(train, image_size=SIZE, steps=150, progress=False, config=config)


def test_a_generator_that_changes_nothing_scores_the_baseline(held_out: SyntheticFaces, regressor: AURegressor) -> None:
    report = evaluate(Unchanged(), held_out, regressor=regressor, batch_size=5)
    assert report.num_faces == 12 and report.identity_error == 0 and report.cycle_error == 0
    assert report.true_ratio == 1.0 and report.true_error == report.unchanged_error
    assert report.unchanged_error is not None and report.unchanged_error > 0
    assert report.au_error_output == report.au_error_unchanged and report.gap_closed == 0.0
    assert report.attention_mean == 1.0
    assert report.au_error_output_per_au == report.au_error_unchanged_per_au
    assert report.au_error_output_per_au is not None and list(report.au_error_output_per_au)[:2] == ["AU01", "AU02"]


def test_a_generator_that_draws_the_truth_closes_the_gap(held_out: SyntheticFaces, regressor: AURegressor) -> None:
    report = evaluate(DrawsTheTruth(held_out), held_out, regressor=regressor, batch_size=5)
    assert report.true_error == 0 and report.identity_error == 0 and report.cycle_error == 0
    assert report.true_ratio == 0 and report.au_error_output == report.au_error_true
    assert report.gap_closed == pytest.approx(1.0, abs=1e-9)
    assert report.attention_mean == 0.0


def test_every_face_is_asked_for_someone_elses_expression(held_out: SyntheticFaces) -> None:
    report = evaluate(Unchanged(), held_out, num_faces=5, seed=3)
    assert len(report.indices) == 5 and sorted(report.targets_from) == sorted(report.indices)
    assert all(a != b for a, b in zip(report.indices, report.targets_from, strict=True))
    assert report.au_error_output is None and report.gap_closed is None  # no regressor, no AU figures
    again = evaluate(Unchanged(), held_out, num_faces=5, seed=3)
    assert again.targets_from == report.targets_from and again.true_error == report.true_error


def test_derangements() -> None:
    for seed in range(20):
        order = derangement(7, seed)
        assert sorted(order) == list(range(7)) and all(k != order[k] for k in range(7))
    assert derangement(7, 0) == derangement(7, 0) and derangement(7, 0) != derangement(7, 1)
    assert derangement(2, 5) == [1, 0] and derangement(3, 0, "shift") == [1, 2, 0]
    with pytest.raises(ValueError, match="at least 2 held-out faces"):
        derangement(1, 0)
    with pytest.raises(ValueError, match="pairing='random' is unknown"):
        derangement(3, 0, "random")  # type: ignore[arg-type]
    assert held_out_faces(10, 4, 0) == held_out_faces(10, 4, 0) and len(held_out_faces(10, 4, 1)) == 4


def test_sizes_must_agree(held_out: SyntheticFaces, regressor: AURegressor) -> None:
    bigger = SyntheticFaces(num_identities=2, items_per_identity=1, image_size=64)
    generator = Generator(tiny_generator_config())
    with pytest.raises(ValueError, match="faces are 64 px but the model was trained at 32 px"):
        evaluate(generator, bigger)
    with pytest.raises(ValueError, match="regressor reads 64 px"):
        evaluate(generator, held_out, regressor=AURegressor(AURegressorConfig.for_image_size(64, width=4)))
    with pytest.raises(ValueError, match="at least 2 held-out faces"):
        evaluate(generator, SyntheticFaces(num_identities=1, items_per_identity=1, image_size=SIZE))


def test_evaluation_leaves_the_global_rng_alone(held_out: SyntheticFaces) -> None:
    generator = Generator(tiny_generator_config())
    state = torch.get_rng_state()
    evaluate(generator, held_out, num_faces=4)
    assert torch.equal(torch.get_rng_state(), state)


def test_report_and_grid_are_written(held_out: SyntheticFaces, regressor: AURegressor, tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config())
    report = evaluate(generator, held_out, regressor=regressor, num_faces=6)
    files = write_evaluation(report, generator, held_out, tmp_path / "ev", rows=4, extra={"model": "tiny"})
    document = json.loads(files["report"].read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert document["run"] == {"model": "tiny"} and document["num_faces"] == 6
    for key in (
        "identity_error",
        "cycle_error",
        "true_error",
        "unchanged_error",
        "true_ratio",
        "au_error_output",
        "au_error_unchanged",
        "au_error_real",
        "au_error_true",
        "gap_closed",
    ):
        assert isinstance(document[key], float) and math.isfinite(document[key]), key
    assert set(document["au_error_output_per_au"]) == set(report.au_names)
    with Image.open(files["grid"]) as grid:  # 4 rows; 6 columns with the true picture; 32 px tiles, 2 px gaps
        assert_labelled_grid(grid.size, (6 * 34 + 2, 4 * 34 + 2))
    summary = format_report(report)
    assert "gap_closed" in summary and "unchanged_error" in summary and "the baseline" in summary


def assert_labelled_grid(size: tuple[int, int], tiles: tuple[int, int]) -> None:
    """``grid.png`` is the tiles (width, height) under a header strip that names the columns."""
    assert size[0] == tiles[0], size
    assert tiles[1] + 8 <= size[1] <= tiles[1] + 48, size


def test_real_data_has_no_truth_and_gap_uses_the_regressors_own_error(regressor: AURegressor, tmp_path: Path) -> None:
    folder = SyntheticFaces(num_identities=3, items_per_identity=2, image_size=SIZE).write(tmp_path / "data")
    data = AUDataset(folder, image_size=SIZE)
    generator = Generator(tiny_generator_config())
    report = evaluate(generator, data, regressor=regressor)
    assert report.true_error is None and report.true_ratio is None and report.au_error_true is None
    assert report.au_error_real is not None and report.names[0].endswith(".png")
    expected = (report.au_error_unchanged - report.au_error_output) / (report.au_error_unchanged - report.au_error_real)
    assert report.gap_closed == pytest.approx(expected)
    files = write_evaluation(report, generator, data, tmp_path / "ev", rows=2)
    with Image.open(files["grid"]) as grid:  # no true-picture column
        assert_labelled_grid(grid.size, (5 * 34 + 2, 2 * 34 + 2))
    assert "no true pictures" in format_report(report)


def test_to_dict_is_plain_json() -> None:
    report = EvaluationReport(2, "shuffle", 0, 32, 0.0, 0.0, float("nan"), au_names=("AU01",))
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["au_names"] == ["AU01"]


@pytest.mark.fixtures
def test_the_official_checkpoint_on_the_official_sample(fixtures_dir: Path, tmp_path: Path) -> None:
    generator = load_checkpoint(fixtures_dir / "checkpoints" / "official_net_G.pth", kind="generator")
    sample = fixtures_dir / "official_sample"  # 4 faces: train_ids.csv and test_ids.csv name 2 each
    held_out = AUDataset(sample, split="test", image_size=generator.config.image_size)
    training = AUDataset(sample, split="train", image_size=generator.config.image_size)
    assert generator.config.image_size == 128 and len(held_out) == 2 and not set(held_out.files) & set(training.files)
    regressor = train_au_regressor(training, image_size=128, steps=5, batch_size=4, progress=False)
    report = evaluate(generator, held_out, regressor=regressor)
    document = report.to_dict()
    assert report.num_faces == 2 and report.targets_from == [report.indices[1], report.indices[0]]
    for key in (
        "identity_error",
        "cycle_error",
        "attention_mean",
        "au_error_output",
        "au_error_unchanged",
        "au_error_real",
    ):
        assert isinstance(document[key], float) and math.isfinite(document[key]), key
    assert document["true_error"] is None and len(document["au_error_output_per_au"]) == 17
    files = write_evaluation(report, generator, held_out, tmp_path / "ev")
    with Image.open(files["grid"]) as grid:
        assert_labelled_grid(grid.size, (5 * 130 + 2, 2 * 130 + 2))
