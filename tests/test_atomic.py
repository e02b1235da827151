"""The shared atomic writers: all-or-nothing, no leftovers, ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ganimation_lib.atomic_files import atomic_binary, atomic_path, atomic_text
from ganimation_lib.training.checkpoint import save_training_state


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_get_the_umask_permissions_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_text(tmp_path / "a.txt") as handle:
            handle.write("x")
        with atomic_binary(tmp_path / "b.bin") as binary:
            binary.write(b"x")
        with atomic_path(tmp_path / "c.png") as temporary:
            temporary.write_bytes(b"x")
        save_training_state({"step": 1}, tmp_path / "step-000000001.pt")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.bin", "c.png", "step-000000001.pt"):
        assert _mode(tmp_path / name) == 0o644, name


@pytest.mark.parametrize("writer", ["text", "binary", "path"])
def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path, writer: str) -> None:
    target = tmp_path / "out.dat"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        if writer == "text":
            with atomic_text(target) as handle:
                handle.write("new")
                raise RuntimeError("boom")
        elif writer == "binary":
            with atomic_binary(target) as binary:
                binary.write(b"new")
                raise RuntimeError("boom")
        else:
            with atomic_path(target) as temporary:
                temporary.write_bytes(b"new")
                raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.dat"]
