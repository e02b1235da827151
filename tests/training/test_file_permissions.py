"""One permission policy for every file the library writes: 0o666 less the umask, like any new file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganimation_lib import Trainer

from .helpers import RandomAUData, tiny_config, tiny_models

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_every_file_of_a_run_and_its_exported_model_gets_the_umask_mode(tmp_path: Path, umask: int) -> None:
    trainer = Trainer(
        **tiny_models(), config=tiny_config(max_steps=2, checkpoint_every=1), output_dir=tmp_path, progress=False
    )
    trainer.fit(RandomAUData(length=4), val_data=RandomAUData(length=2, seed=1))
    trainer.export(tmp_path / "generator")
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "tensorboard" not in p.parts]
    names = {p.name for p in files}
    assert {"model.safetensors", "config.json", "step-000000002.pt", "metrics.jsonl", "train.csv"} <= names
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes
