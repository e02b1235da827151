"""What a killed run leaves behind does not stop the resume: partial log lines, temporary checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path

from ganimation_lib import Trainer
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.training import Checkpointing

from .helpers import RandomAUData, tiny_config, tiny_models


def _run(folder: Path, max_steps: int, resume: Path | None = None) -> Trainer:
    trainer = Trainer(
        **tiny_models(),
        config=tiny_config(max_steps=max_steps, checkpoint_every=2, log_every=1),
        output_dir=folder,
        progress=False,
    )
    trainer.fit(RandomAUData(length=4), resume_from=resume)
    return trainer


def test_a_partial_last_line_of_metrics_jsonl_is_dropped_on_resume(tmp_path: Path) -> None:
    _run(tmp_path, max_steps=4)
    log = tmp_path / "logs" / "metrics.jsonl"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "train", "step": 5, "critic/wg')  # SIGKILL in the middle of a write
    resumed = _run(tmp_path, max_steps=6, resume=tmp_path / "checkpoints")
    assert resumed.step == 6
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line is whole again
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]


def test_temporary_files_of_a_killed_save_are_removed_on_resume_and_on_the_next_save(tmp_path: Path) -> None:
    _run(tmp_path, max_steps=2)
    folder = tmp_path / "checkpoints"
    stale = folder / ".step-000000004.pt.0123456789ab.tmp"  # what SIGKILL during torch.save leaves
    others = [folder / ".notes.txt.0123456789ab.tmp", folder / "mine.tmp", folder / ".step-000000004.pt.x.tmp"]
    for path in [stale, *others]:
        path.write_bytes(b"partial")
    _run(tmp_path, max_steps=3, resume=folder)
    assert not stale.exists()
    assert all(path.exists() for path in others), "only our own temporary files may be removed"

    trainer = _run(tmp_path / "second", max_steps=2)
    stale = tmp_path / "second" / "checkpoints" / ".step-000000003.pt.abcdef012345.tmp"
    stale.write_bytes(b"")
    checkpointing = next(cb for cb in trainer.callbacks if isinstance(cb, Checkpointing))
    trainer.step = 3
    checkpointing.save(trainer)
    assert not stale.exists() and (tmp_path / "second" / "checkpoints" / "step-000000003.pt").is_file()


def test_a_staging_folder_of_a_killed_export_is_removed_by_the_next_one(tmp_path: Path) -> None:
    trainer = _run(tmp_path, max_steps=1)
    stale = tmp_path / ".generator.tmp-0123456789ab"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"partial")
    unrelated = tmp_path / ".other.tmp-0123456789ab"
    unrelated.mkdir()
    trainer.export(tmp_path / "generator")
    assert not stale.exists() and unrelated.exists() and (tmp_path / "generator" / "config.json").is_file()


def test_temporary_sample_grids_and_log_rewrites_of_a_killed_run_are_removed_on_resume(tmp_path: Path) -> None:
    _run(tmp_path, max_steps=2)
    # What SIGKILL leaves in the middle of atomic_path (a grid) and atomic_text (a CSV rewrite, a log trim).
    logs = [".train.csv.abcdef012345.tmp", ".metrics.jsonl.0a1b2c3d4e5f.tmp"]
    stale = [tmp_path / "samples" / ".step-000000004.0123456789ab.png", *(tmp_path / "logs" / n for n in logs)]
    others = [tmp_path / "samples" / ".mine.0123456789ab.png", tmp_path / "logs" / ".notes.txt.0123456789ab.tmp"]
    for path in [*stale, *others]:
        path.write_bytes(b"partial")
    _run(tmp_path, max_steps=3, resume=tmp_path / "checkpoints")
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others), "only our own temporary files may be removed"


def test_a_temporary_run_config_of_a_killed_cli_run_is_removed_by_the_next_start(tmp_path: Path) -> None:
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    stale = run / ".run_config.json.0123456789ab.tmp"
    stale.write_text('{"trainer": ')
    argv = ["train", str(data), "--output", str(run), "--image-size", "32", "--max-steps", "1", "--device", "cpu"]
    argv += ["--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim", "8"]
    argv += ["--critic-depth", "4", "--batch-size", "2", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 0
    assert not stale.exists() and (run / "run_config.json").is_file()
