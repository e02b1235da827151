"""Errors about the files the library writes: a full disk or a read-only folder is said in plain words.

Every write goes through `writing`, which turns the operating system's ``OSError`` (``ENOSPC``,
``EACCES``, ``EROFS``, ...) into an `OutputWriteError` naming the path, the cause and what to do.
Writes are atomic (see ``ganimation_lib.atomic_files``), so when one fails nothing is half-written under the
final name: the previous checkpoint, model or log file is unchanged.

Examples:
    >>> import errno
    >>> with writing("/runs/a/checkpoints/step-000000010.pt"):
    ...     raise OSError(errno.ENOSPC, "No space left on device")
    Traceback (most recent call last):
    ...
    ganimation_lib.errors.OutputWriteError: cannot write /runs/a/checkpoints/step-000000010.pt: No space left on \
device (ENOSPC): the disk is full; free some space or write somewhere else. Nothing was half-written: files \
already there are unchanged
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OutputWriteError", "writing"]

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


class OutputWriteError(OSError):
    """Writing an output file failed (disk full, read-only folder, ...); nothing was half-written.

    It is an ``OSError`` (``errno`` is the cause's) whose message names the path, the cause and the fix.

    Attributes:
        path: The file (or folder) that could not be written.
    """

    def __init__(self, message: str, path: str | os.PathLike[str], cause: OSError) -> None:
        super().__init__(cause.errno, message)
        self.path = Path(path)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _advice(code: int | None) -> str:
    if code in _FULL:
        return ": the disk is full; free some space or write somewhere else"
    if code in _NOT_WRITABLE:
        return ": the folder is not writable; fix its permissions or write somewhere else"
    return ""


def _masked_os_error(error: RuntimeError) -> OSError | None:
    """The ``OSError`` (with an ``errno``) that ``error`` was raised while handling, if any.

    ``torch.save`` into a file reports a failed write this way: the ``OSError`` of the write (``ENOSPC``,
    ``EFBIG``) is raised inside its zip writer, whose clean-up then fails with a ``RuntimeError`` about file
    positions ("unexpected pos ..."), which replaces it.
    """
    seen: BaseException | None = error.__context__
    for _ in range(8):  # a short chain; cycles are impossible in practice but cost nothing to rule out
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen
        seen = seen.__context__
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], what: str = "") -> Iterator[None]:
    """Turn an operating-system error raised in the block into an `OutputWriteError` about ``path``.

    Only errors with an ``errno`` are converted (a full disk, a read-only folder, an I/O error), also when a
    writer masked one with its own ``RuntimeError`` while cleaning up (``torch.save``'s zip writer does);
    others, such as an encoder refusing an image mode, pass through unchanged.

    Args:
        path: The file being written (named in the message).
        what: What it is, for the message (``"the checkpoint"``); empty to name only the path.
    """
    try:
        yield
    except OutputWriteError:
        raise
    except (OSError, RuntimeError) as raised:
        error = raised if isinstance(raised, OSError) else _masked_os_error(raised)
        if error is None or error.errno is None:
            raise
        name = errno.errorcode.get(error.errno, str(error.errno))
        subject = f"{what} {path}" if what else str(path)
        message = (
            f"cannot write {subject}: {error.strerror or error} ({name}){_advice(error.errno)}. "
            "Nothing was half-written: files already there are unchanged"
        )
        raise OutputWriteError(message, path, error) from raised
