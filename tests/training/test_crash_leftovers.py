"""What a killed run leaves behind does not stop the resume: partial log lines, temporary checkpoint files."""

from __future__ import annotations

import json
from pathlib import Path

from ganimation_lib import Trainer

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
