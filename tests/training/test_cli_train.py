"""``ganimation train`` on a tiny folder dataset (the layout ``ganimation prepare`` writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganimation_lib.cli import build_parser, main
from ganimation_lib.cli.train import build_configs
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.models.convert import from_pretrained
from ganimation_lib.training import load_training_state

TINY = [
    "--image-size",
    "32",
    "--generator-conv-dim",
    "8",
    "--generator-num-residual-blocks",
    "1",
    "--critic-conv-dim",
    "8",
    "--critic-depth",
    "4",
    "--batch-size",
    "2",
    "--device",
    "cpu",
    "--no-progress",
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return SyntheticFaces(num_identities=3, items_per_identity=2, image_size=32).write(tmp_path / "data")


def test_train_writes_everything_and_resumes(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"trainer": {"n_critic": 2, "checkpoint_every": 2, "loss_weights": {"cycle": 5.0}}}))
    args = [
        str(folder),
        "--output",
        str(out),
        "--config",
        str(config),
        "--max-steps",
        "2",
        "--val-fraction",
        "0.34",
        *TINY,
    ]
    assert main(["train", *args]) == 0
    assert (out / "generator" / "config.json").is_file() and (out / "generator" / "model.safetensors").is_file()
    assert (out / "checkpoints" / "step-000000002.pt").is_file()
    assert (out / "logs" / "metrics.jsonl").is_file() and any((out / "samples").iterdir())
    saved = json.loads((out / "run_config.json").read_text())
    assert saved["trainer"]["n_critic"] == 2 and saved["trainer"]["loss_weights"]["cycle"] == 5.0
    assert saved["generator"]["conv_dim"] == 8
    assert from_pretrained(out / "generator").config.image_size == 32
    assert "generator saved to" in capsys.readouterr().out

    assert main(["train", *args[: -len(TINY)], *TINY, "--max-steps", "4", "--resume"]) == 0
    state = load_training_state(out / "checkpoints")
    assert state["step"] == 4 and state["generator_step"] == 2


def test_resume_alone_reuses_the_run_settings(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    start = [str(folder), "--output", str(out), "--max-steps", "1", "--val-fraction", "0", "--n-critic", "1", *TINY]
    assert main(["train", *start]) == 0
    # Only the new limit: the network sizes and n_critic come from run_config.json, not the official defaults.
    resume = [str(folder), "--output", str(out), "--resume", "--max-steps", "2", "--val-fraction", "0"]
    assert main(["train", *resume, "--no-progress"]) == 0
    assert "settings from" in capsys.readouterr().out
    state = load_training_state(out / "checkpoints")
    assert state["step"] == 2 and state["generator_step"] == 2 and state["generator_config"]["conv_dim"] == 8


def test_flags_override_the_config_file_and_recipes(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"recipe": "fast", "trainer": {"n_critic": 3}, "generator": {"conv_dim": 12}}))
    args = build_parser().parse_args(
        [
            "train",
            "data",
            "--output",
            "o",
            "--config",
            str(config),
            "--n-critic",
            "4",
            "--weight-expression",
            "7",
            "--ema-decay",
            "none",
            "--betas",
            "0.0",
            "0.9",
            "--generator-attention-bias",
            "3.0",
            "--image-size",
            "64",
        ]
    )
    trainer, generator, critic = build_configs(args)
    assert trainer.n_critic == 4 and trainer.loss_weights.expression == 7.0 and trainer.ema_decay is None
    assert trainer.betas == (0.0, 0.9) and trainer.expression_form == "mean"  # from the fast recipe
    assert generator.conv_dim == 12 and generator.attention_bias == 3.0 and critic.image_size == 64


def test_bad_inputs_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "missing"), "--output", str(tmp_path / "o"), *TINY]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"trainer": {"n_critics": 3}}))
    assert main(["train", str(tmp_path), "--output", str(tmp_path / "o"), "--config", str(bad), *TINY]) == 2
    assert "n_critics" in capsys.readouterr().err


def test_non_finite_training_ends_with_a_message_not_a_traceback(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(folder), "--output", str(tmp_path / "o"), "--val-fraction", "0", "--max-steps", "5", *TINY]
    assert main(["train", *args, "--max-nonfinite-steps", "2", "--generator-lr", "1e30", "--critic-lr", "1e30"]) == 1
    assert "ganimation train: error: the loss was not finite" in capsys.readouterr().err


def test_resume_keeps_the_recorded_data_split_and_refuses_another(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, labels = tmp_path / "run", folder / "aus.csv"
    start = [str(folder), "--output", str(out), "--max-steps", "1", "--val-fraction", "0.34", "--flip", "0.5"]
    assert main(["train", *start, "--labels", str(labels), *TINY]) == 0
    first = capsys.readouterr().out
    recorded = json.loads((out / "run_config.json").read_text())["data_split"]
    assert recorded == {"val_fraction": 0.34, "flip": 0.5, "labels": str(labels), "split_seed": 0}

    # Another --config without a data split: the run's own split is kept, not the defaults (0.1, no flip).
    other = tmp_path / "other.json"
    other.write_text(json.dumps(json.loads((out / "run_config.json").read_text()) | {"data_split": None}))
    base = [str(folder), "--output", str(out), "--max-steps", "2", *TINY]
    assert main(["train", *base, "--config", str(other), "--resume"]) == 0
    assert json.loads((out / "run_config.json").read_text())["data_split"] == recorded
    assert "(2 held out)" in first and "(2 held out)" in capsys.readouterr().out

    assert main(["train", *base, "--resume", "--val-fraction", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--val-fraction 0.5 differs from the 0.34 the run was started with" in err
    assert main(["train", *base, "--resume", "--labels", str(tmp_path / "other.csv")]) == 2
    assert f"differs from the {labels}" in capsys.readouterr().err
    assert main(["train", *base, "--max-steps", "3", "--resume", "--flip", "0"]) == 0  # augmentation may change
    assert json.loads((out / "run_config.json").read_text())["data_split"]["flip"] == 0.0


def test_the_datasets_face_crop_is_recorded_with_the_generator(folder: Path, tmp_path: Path) -> None:
    from ganimation_lib import Generator
    from ganimation_lib.face_layout import CanonicalFace, write_face_crop

    loose = CanonicalFace(((0.35, 0.38), (0.65, 0.38), (0.5, 0.55), (0.375, 0.7), (0.625, 0.7)))
    write_face_crop(folder, loose)  # as `ganimation prepare --align` leaves beside imgs/
    out = tmp_path / "run"
    assert main(["train", str(folder), "--output", str(out), "--max-steps", "1", "--val-fraction", "0", *TINY]) == 0
    assert Generator.from_pretrained(out / "generator").face_crop == loose


def test_a_malformed_face_crop_file_stops_before_training(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "face_crop.json").write_text('{"landmarks": [[0.3, 0.3]]}')
    out = tmp_path / "run"
    assert main(["train", str(folder), "--output", str(out), "--max-steps", "1", *TINY]) == 2
    assert "face_crop.json: landmarks must be five" in capsys.readouterr().err
    assert not (out / "checkpoints").exists()
