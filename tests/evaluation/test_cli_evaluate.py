"""``ganimation evaluate`` end to end, the split ``ganimation train`` records for it, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganimation_lib import AUDataset, Generator, SyntheticFaces
from ganimation_lib.cli import main
from ganimation_lib.evaluation import AURegressor, AURegressorConfig
from tests.conftest import tiny_generator_config
from tests.training.test_cli_train import TINY

FAST = ["--regressor-steps", "20", "--no-progress", "--device", "cpu"]
FIGURES = ("identity_error", "cycle_error", "au_error_output", "au_error_unchanged", "au_error_real", "gap_closed")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny saved generator and a tiny written dataset (20 faces of 4 identities, 32 px)."""
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    model = Generator(tiny_generator_config(num_residual_blocks=1)).save_pretrained(root / "model" / "generator")
    data = SyntheticFaces(num_identities=4, items_per_identity=5, image_size=32).write(root / "data")
    return model, data


def test_evaluate_a_folder_dataset(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, data = saved
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "--output", str(out), "--val-fraction", "0.25", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "5 held-out faces at 32 px" in printed and "the baseline" in printed and "wrote" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["num_faces"] == 5 and all(isinstance(report[k], float) for k in FIGURES)
    assert report["true_error"] is None  # a folder cannot draw the truth
    held_out = AUDataset(data, split="test", test_fraction=0.25, image_size=32)
    assert sorted(report["names"]) == sorted(held_out.files)
    assert report["run"]["split_from"] == "--val-fraction" and report["run"]["regressor_steps"] == 20
    assert (out / "grid.png").is_file() and (out / "regressor" / "model.safetensors").is_file()

    # The saved regressor is reused as is, and the synthetic held-out faces come with their true pictures.
    again = tmp_path / "synthetic"
    argv = ["evaluate", str(model), "synthetic", "--output", str(again), "--num-faces", "6", "--au-mix", "presets"]
    assert main([*argv, "--regressor", str(out / "regressor"), "--no-progress", "--device", "cpu"]) == 0
    report = json.loads((again / "report.json").read_text())
    assert (
        report["num_faces"] == 6
        and isinstance(report["true_ratio"], float)
        and report["run"]["regressor_steps"] is None
    )
    assert report["run"]["au_mix"] == "presets" and not (again / "regressor").exists()


def test_train_records_the_split_and_evaluate_reuses_it(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = saved
    run = tmp_path / "run"
    assert main(["train", str(data), "--output", str(run), "--max-steps", "1", "--val-fraction", "0.3", *TINY]) == 0
    assert "(6 held out)" in capsys.readouterr().out
    split = {"val_fraction": 0.3, "flip": 0.0, "labels": None, "split_seed": 0}
    assert json.loads((run / "run_config.json").read_text())["data_split"] == split
    # A resume without the split flags keeps the recorded split (the flags' defaults would hold out 0.1).
    assert main(["train", str(data), "--output", str(run), "--resume", "--max-steps", "2", "--no-progress"]) == 0
    assert "(6 held out)" in capsys.readouterr().out
    assert json.loads((run / "run_config.json").read_text())["data_split"] == split

    # RUN/generator: the split comes from RUN/run_config.json without being asked for.
    out = tmp_path / "ev"
    assert main(["evaluate", str(run / "generator"), str(data), "--output", str(out), *FAST]) == 0
    report = json.loads((out / "report.json").read_text())
    held_out = AUDataset(data, split="test", test_fraction=0.3, image_size=32)
    assert sorted(report["names"]) == sorted(held_out.files) and report["run"]["val_fraction"] == 0.3
    assert report["run"]["split_from"].endswith("run_config.json")


def test_a_run_that_held_nothing_out_is_refused(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, data = saved
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_config.json").write_text(json.dumps({"data": str(data), "data_split": {"val_fraction": 0}}))
    assert main(["evaluate", str(model), str(data), "--run", str(run), *FAST]) == 2
    assert "holds out no faces" in capsys.readouterr().err


def test_bad_inputs_give_clear_errors(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, data = saved
    out = ["--output", str(tmp_path / "ev")]

    def error(*argv: str) -> str:
        assert main(["evaluate", *argv, *out, *FAST]) == 2
        return capsys.readouterr().err

    assert "does not exist" in error(str(tmp_path / "missing"), str(data))
    assert "is not a folder" in error(str(model), str(tmp_path / "nodata"))
    assert "holds a Generator, not an AURegressor" in error(str(model), str(data), "--regressor", str(model))
    wrong_size = AURegressor(AURegressorConfig.for_image_size(64, width=4)).save_pretrained(tmp_path / "r64")
    assert "reads 64 px faces" in error(str(model), str(data), "--regressor", str(wrong_size))
    assert "is an AU regressor, not a generator" in error(str(wrong_size), str(data))
    assert "--num-faces must be at least 2" in error(str(model), "synthetic", "--num-faces", "1")
    assert not (tmp_path / "ev").exists()  # nothing is written when the inputs are wrong


def test_a_model_with_its_own_aus_reads_those_columns(saved: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = saved
    names = ["AU06", "AU12", "AU25"]
    model = Generator(tiny_generator_config(num_aus=3)).save_pretrained(tmp_path / "g3", au_names=names)
    out = tmp_path / "ev"
    assert main(["evaluate", str(model), str(data), "--output", str(out), "--val-fraction", "0.25", *FAST]) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["au_error_output_per_au"]) == names and report["au_names"] == names
    assert AURegressor.from_pretrained(out / "regressor").au_names == tuple(names)
