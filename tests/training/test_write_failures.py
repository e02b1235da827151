"""A full disk or a read-only folder while writing checkpoints, logs or a model: the library's error, naming
the path and the cause, with the previous files intact."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import torch

from ganimation_lib import Generator, OutputWriteError, Trainer
from ganimation_lib.atomic_files import append_whole
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.errors import writing
from ganimation_lib.models.convert import from_pretrained
from ganimation_lib.training import load_training_state, save_training_state

from .helpers import RandomAUData, tiny_config, tiny_models

as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")


def _trainer(folder: Path, max_steps: int) -> Trainer:
    config = tiny_config(max_steps=max_steps, checkpoint_every=1, log_every=1, keep_checkpoints=5)
    return Trainer(**tiny_models(), config=config, output_dir=folder, progress=False)


def _disk_full_after(limit: int) -> Any:
    """A torch.save that writes ``limit`` bytes and then finds the disk full, as ENOSPC does."""

    def save(obj: object, handle: BinaryIO, *args: object, **kwargs: object) -> None:
        handle.write(b"x" * limit)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return save


def test_a_full_disk_during_a_checkpoint_is_named_and_the_previous_checkpoint_is_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trainer(tmp_path, max_steps=2).fit(RandomAUData(length=4))
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    monkeypatch.setattr(torch, "save", _disk_full_after(1000))
    with pytest.raises(OutputWriteError, match=r"step-000000003\.pt: No space left on device \(ENOSPC\)") as info:
        _trainer(tmp_path, max_steps=4).fit(RandomAUData(length=4), resume_from=tmp_path / "checkpoints")
    assert info.value.errno == errno.ENOSPC and "the disk is full" in str(info.value)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before  # no temporary file left
    assert load_training_state(tmp_path / "checkpoints")["step"] == 2


def test_a_full_disk_while_logging_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganimation_lib.training.callbacks as callbacks

    real_append = callbacks.append_whole

    def full_append(path: Path, data: bytes) -> None:
        if path.name == "metrics.jsonl":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_append(path, data)

    monkeypatch.setattr(callbacks, "append_whole", full_append)
    with pytest.raises(OutputWriteError, match=r"training log .*metrics\.jsonl: No space left on device"):
        _trainer(tmp_path, max_steps=2).fit(RandomAUData(length=4))


def test_a_full_disk_while_exporting_keeps_the_previous_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganimation_lib.models.pretrained as pretrained

    first = Generator(tiny_models()["generator"])
    folder = first.save_pretrained(tmp_path / "generator")

    def full(path: Path, data: bytes) -> None:
        path.write_bytes(data[:100])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pretrained, "write_new_file", full)
    with pytest.raises(OutputWriteError, match=r"cannot write the model .*generator: No space left on device"):
        Generator(tiny_models()["generator"]).save_pretrained(folder)
    monkeypatch.undo()
    kept = from_pretrained(folder)
    assert all(torch.equal(v, first.state_dict()[k]) for k, v in kept.state_dict().items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"]


def test_ganimation_train_on_a_full_disk_exits_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    monkeypatch.setattr(torch, "save", _disk_full_after(10))
    argv = ["train", str(data), "--output", str(tmp_path / "run"), "--image-size", "32", "--max-steps", "1"]
    argv += ["--generator-conv-dim", "8", "--generator-num-residual-blocks", "1", "--critic-conv-dim", "8"]
    argv += ["--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress", "--val-fraction", "0"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "ganimation train: error: cannot write" in err and "step-000000001.pt: No space left on device" in err


@as_root
def test_a_read_only_checkpoint_folder_is_named_and_the_previous_checkpoint_is_intact(tmp_path: Path) -> None:
    _trainer(tmp_path, max_steps=2).fit(RandomAUData(length=4))
    folder = tmp_path / "checkpoints"
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputWriteError, match=r"step-000000003\.pt: Permission denied .*not writable"):
            _trainer(tmp_path, max_steps=4).fit(RandomAUData(length=4), resume_from=folder)
    finally:
        folder.chmod(0o755)
    assert load_training_state(folder)["step"] == 2


@as_root
def test_a_read_only_output_folder_is_a_clear_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tmp_path / "data")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        argv = ["train", str(data), "--output", str(locked / "run"), "--image-size", "32", "--max-steps", "1"]
        argv += ["--device", "cpu", "--no-progress"]
        assert main(argv) == 1
        with pytest.raises(OutputWriteError, match="Permission denied"):
            Generator(tiny_models()["generator"]).save_pretrained(locked / "generator")
    finally:
        locked.chmod(0o755)
    assert "cannot write the output folder" in capsys.readouterr().err


def test_an_os_error_that_a_writer_masks_with_a_runtime_error_is_still_the_librarys_error(tmp_path: Path) -> None:
    # torch.save's zip writer does this: the write's OSError, then "unexpected pos" while cleaning up.
    with (
        pytest.raises(OutputWriteError, match=r"x\.pt: No space left on device \(ENOSPC\)") as info,
        writing(tmp_path / "x.pt"),
    ):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 197952 vs 197840") from None
    assert info.value.errno == errno.ENOSPC
    with pytest.raises(RuntimeError, match="not a write"), writing(tmp_path / "x.pt"):
        raise RuntimeError("not a write")  # nothing masked: passes through unchanged


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG, as on a full disk (no monkeypatch: the real torch.save)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits")
def test_a_real_full_disk_during_torch_save_is_named_and_the_previous_checkpoint_is_intact(tmp_path: Path) -> None:
    target = tmp_path / "step-000000001.pt"
    save_training_state({"format": 1, "step": 1, "w": torch.ones(4)}, target)
    before = target.read_bytes()
    with (
        _file_size_limit(100_000),
        pytest.raises(OutputWriteError, match=r"step-000000001\.pt: File too large \(EFBIG\): the disk is full"),
    ):
        save_training_state({"format": 1, "step": 1, "w": torch.zeros(100_000)}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits")
def test_a_full_disk_in_the_middle_of_a_log_line_leaves_no_half_line(tmp_path: Path) -> None:
    # The logs are appended to, not replaced: a write that stops part-way is cut back, so the message's
    # "nothing was half-written" holds for them too (a half row of train.csv would survive a resume).
    log = tmp_path / "metrics.jsonl"
    append_whole(log, b'{"step": 1}\n')
    with _file_size_limit(log.stat().st_size + 5), pytest.raises(OSError) as info:
        append_whole(log, b'{"step": 2, "critic/total": 0.5}\n')
    assert info.value.errno == errno.EFBIG
    assert log.read_bytes() == b'{"step": 1}\n'
