"""Atomic file writing, shared by every module that writes files: a crash or an exception never leaves a
half-written file under the final name (temporary file in the same folder, flushed to disk, ``os.replace``).
A full disk or a read-only folder raises `OutputWriteError` naming the path.

**Permissions.** Every file the library writes is created here (or by ``open``) with mode ``0o666``, so it
gets ``0o666 & ~umask`` like any file a program creates: 0644 under the usual umask 022, group-writable
under 002. Writers that would pick their own mode (``tempfile.mkstemp``, safetensors' ``save_file``: 0600,
unreadable by the rest of a team on a shared server) are not used; their bytes go through
`write_new_file` or `atomic_binary` instead."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from .errors import writing

__all__ = [
    "PATH_TEMPORARY_PATTERN",
    "TEMPORARY_PATTERN",
    "append_whole",
    "atomic_binary",
    "atomic_path",
    "atomic_text",
    "create_temporary",
    "fsync_folder",
    "remove_stale_temporaries",
    "write_new_file",
]

#: Names of the temporary files `atomic_text` / `atomic_binary` create: ``.NAME.<12 hex>.tmp``.
TEMPORARY_PATTERN = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.tmp$")
#: Names of those `atomic_path` creates: ``.STEM.<12 hex>SUFFIX`` (the suffix kept for Pillow).
PATH_TEMPORARY_PATTERN = re.compile(r"^\.(?P<stem>.+)\.[0-9a-f]{12}(?P<suffix>(?:\.[^.]*)?)$")


def create_temporary(directory: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """Create a new, uniquely named file in ``directory`` and return its open descriptor and path.

    Unlike ``tempfile.mkstemp`` (which creates files with mode 0600), the file gets the permissions any
    new file would get (0666 less the umask), so what is moved onto the final name is as readable as a file
    written directly there.

    Examples:
        >>> import tempfile, pathlib
        >>> fd, path = create_temporary(pathlib.Path(tempfile.mkdtemp()), ".x.", ".tmp")
        >>> os.close(fd); path.name.startswith(".x.") and path.suffix == ".tmp"
        True
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = directory / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory}")  # pragma: no cover


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with the library's permissions, write ``data`` and fsync it.

    Not atomic by itself (write into a staging folder, or wrap it in `atomic_path`); the caller turns an
    ``OSError`` into the library's error with `writing`.

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "w.bin"
        >>> write_new_file(target, b"abc"); target.read_bytes()
        b'abc'
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _replace_on_success(target: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """Yield a new temporary path next to ``target``; move it onto ``target`` if the block succeeds, else
    remove it (``target`` is then left as it was). A full disk or a read-only folder, here or in the block,
    raises an `OutputWriteError` naming ``target``."""
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = create_temporary(target.parent, prefix, suffix)
        os.close(descriptor)
        try:
            yield temporary
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


@contextlib.contextmanager
def atomic_text(path: str | Path, newline: str | None = "") -> Iterator[TextIO]:
    """Open a temporary file next to ``path`` for writing text; move it onto ``path`` on success.

    The data is flushed to disk before the name points at it. On an exception the temporary file is removed
    and ``path`` is left as it was.

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_text(target) as handle:
        ...     _ = handle.write("hello")
        >>> target.read_text()
        'hello'
    """
    target = Path(path)
    with (
        _replace_on_success(target, f".{target.name}.", ".tmp") as temporary,
        open(temporary, "w", encoding="utf-8", newline=newline) as handle,
    ):
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_binary(path: str | Path) -> Iterator[BinaryIO]:
    """Like `atomic_text`, for bytes (``torch.save``, ``safetensors``...).

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
        >>> with atomic_binary(target) as handle:
        ...     _ = handle.write(b"abc")
        >>> target.read_bytes()
        b'abc'
    """
    target = Path(path)
    with _replace_on_success(target, f".{target.name}.", ".tmp") as temporary, open(temporary, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` with the same suffix, for writers that take a file name
    (Pillow picks the format from the suffix); it is moved onto ``path`` when the block succeeds and
    removed when it fails.

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_path(target) as temporary:
        ...     _ = temporary.write_text("hi")
        >>> target.read_text(), temporary.exists()
        ('hi', False)
    """
    target = Path(path)
    with _replace_on_success(target, f".{target.stem}.", target.suffix) as temporary:
        yield temporary


def append_whole(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created with the library's permissions if new): all of it, or none.

    A full disk can stop a write part-way; the file is then cut back to its previous length before the
    error is raised, so a log never ends in half a line. The caller turns the ``OSError`` into the library's
    error with `writing`.

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
        >>> append_whole(target, b"{}\\n"); append_whole(target, b"[]\\n"); target.read_bytes()
        b'{}\\n[]\\n'
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        start = os.fstat(descriptor).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, start)
            raise
    finally:
        os.close(descriptor)


def remove_stale_temporaries(folder: Path, final_names: re.Pattern[str]) -> list[Path]:
    """Delete the temporary files an interrupted write left in ``folder`` for final names ``final_names`` matches.

    A ``SIGKILL`` between creating the temporary file and ``os.replace`` leaves ``.NAME.<12 hex>.tmp``
    (`atomic_text`, `atomic_binary`) or ``.STEM.<12 hex>SUFFIX`` (`atomic_path`) behind
    (nothing else can: an exception removes it). Only files of exactly those forms whose final name
    (``NAME``, or ``STEM`` + ``SUFFIX``) fully matches ``final_names`` are removed, so nobody else's files
    are touched. Call it where no write of this process is under way (before a save, when a run starts).

    Returns:
        The removed paths.

    Examples:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in (".step-1.pt.0123456789ab.tmp", ".other.txt.0123456789ab.tmp", "step-1.pt"):
        ...     _ = (folder / name).write_text("")
        >>> [p.name for p in remove_stale_temporaries(folder, re.compile(r"step-\\d+\\.pt"))]
        ['.step-1.pt.0123456789ab.tmp']
        >>> sorted(p.name for p in folder.iterdir())
        ['.other.txt.0123456789ab.tmp', 'step-1.pt']
        >>> _ = (folder / ".step-2.0123456789ab.png").write_text("")  # what atomic_path("step-2.png") leaves
        >>> [p.name for p in remove_stale_temporaries(folder, re.compile(r"step-\\d+\\.png"))]
        ['.step-2.0123456789ab.png']
    """
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if not _is_temporary_for(path.name, final_names) or not path.is_file() or path.is_symlink():
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _is_temporary_for(name: str, final_names: re.Pattern[str]) -> bool:
    """Whether ``name`` is a temporary file of one of our atomic writers for a name ``final_names`` matches."""
    match = TEMPORARY_PATTERN.match(name)
    if match and final_names.fullmatch(match.group("name")):
        return True
    match = PATH_TEMPORARY_PATTERN.match(name)
    return bool(match and final_names.fullmatch(match.group("stem") + match.group("suffix")))


def fsync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
