"""Running OpenFace's ``FaceLandmarkImg`` over a folder of face images, to measure their AUs.

OpenFace (Baltrušaitis et al., github.com/TadasBaltrusaitis/OpenFace) is not a Python package: it is a C++ program
you build or download yourself (its licence allows academic and non-commercial use only). This module runs its
image tool as ``FaceLandmarkImg -fdir IMAGES -out_dir OUT -aus``, which writes one ``OUT/<image stem>.csv`` per image
in which it found a face (the layout [`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] reads). The
program is started with a list of arguments, never through a shell. What it prints goes to
``OUT/FaceLandmarkImg.log``; when it fails, the error says how it ended and shows the end of its error output.

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> openface_command(folder / "FaceLandmarkImg", folder / "imgs", folder / "openface")[1:]  # doctest: +ELLIPSIS
    ['-fdir', '.../imgs', '-out_dir', '.../openface', '-aus']
    >>> check_openface_binary(folder / "FaceLandmarkImg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ganimation_lib.data.openface_runner.OpenFaceRunError: the OpenFace binary ... does not exist; ...
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import writing

__all__ = ["LOG_NAME", "OpenFaceRunError", "check_openface_binary", "openface_command", "run_face_landmark_img"]

#: The file in the output folder that receives what ``FaceLandmarkImg`` prints.
LOG_NAME = "FaceLandmarkImg.log"
_TAIL_LINES = 20


class OpenFaceRunError(RuntimeError):
    """OpenFace could not be run, or it failed; the message says which and what to do."""


def check_openface_binary(binary: str | os.PathLike[str]) -> Path:
    """The path of the OpenFace program ``binary`` (a path, or a bare name found on ``PATH``), checked runnable.

    Raises:
        OpenFaceRunError: If it does not exist, is a folder, or is not executable.
    """
    text = os.fspath(binary)
    path = Path(text)
    if not path.exists() and os.sep not in text and (os.altsep is None or os.altsep not in text):
        found = shutil.which(text)
        path = Path(found) if found else path
    where = "give the path of FaceLandmarkImg in your OpenFace build (OpenFace/build/bin/FaceLandmarkImg)"
    if not path.exists():
        raise OpenFaceRunError(f"the OpenFace binary {text!r} does not exist; {where}")
    if path.is_dir():
        raise OpenFaceRunError(f"the OpenFace binary {text!r} is a folder; {where}")
    if not os.access(path, os.X_OK):
        raise OpenFaceRunError(
            f"the OpenFace binary {text!r} is not executable: make it so (chmod +x {text}), or {where}"
        )
    return path


def openface_command(
    binary: str | os.PathLike[str], images: str | Path, out_dir: str | Path, extra_args: Sequence[str] = ()
) -> list[str]:
    """The argument list that runs ``binary`` over ``images``, writing AU CSVs to ``out_dir``."""
    return [os.fspath(binary), "-fdir", os.fspath(images), "-out_dir", os.fspath(out_dir), "-aus", *extra_args]


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-_TAIL_LINES:])


def run_face_landmark_img(
    binary: str | os.PathLike[str],
    images: str | Path,
    out_dir: str | Path,
    *,
    extra_args: Sequence[str] = (),
    timeout: float | None = None,
) -> Path:
    """Run OpenFace's ``FaceLandmarkImg -fdir images -out_dir out_dir -aus`` and return ``out_dir``.

    Args:
        binary: The ``FaceLandmarkImg`` program (a path, or a name on ``PATH``).
        images: The folder of face images (OpenFace's ``-fdir`` reads its ``.jpg`` and ``.png`` files).
        out_dir: Where OpenFace writes ``<stem>.csv`` per image (created if needed), and the log.
        extra_args: More arguments for OpenFace (e.g. ``["-au_static"]``, ``["-wild"]``).
        timeout: Seconds after which OpenFace is stopped (default: none).

    Raises:
        FileNotFoundError: If ``images`` is not a folder.
        OpenFaceRunError: If the program is missing or not executable, cannot be started, runs past ``timeout``,
            or exits with a status other than 0 (the message shows the end of its error output).
        OutputWriteError: If ``out_dir`` or the log cannot be written.
    """
    program = check_openface_binary(binary)
    source, target = Path(images), Path(out_dir)
    if not source.is_dir():
        raise FileNotFoundError(f"the folder of images {str(source)!r} for OpenFace is not a folder")
    log = target / LOG_NAME
    command = openface_command(program, source, target, extra_args)
    failure = ""
    with writing(log):  # errors writing the log; those of starting the program are reported below, not as these
        target.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as output:
            try:
                result = subprocess.run(
                    command, stdout=output, stderr=subprocess.PIPE, timeout=timeout, check=False, shell=False
                )
            except subprocess.TimeoutExpired:
                failure = f"{program} ran past the timeout of {timeout:g} s and was stopped"
            except OSError as error:  # not a program this system can run (exec format error, ...)
                failure = f"could not run the OpenFace binary {str(program)!r}: {error}"
            else:
                output.write(result.stderr)
    if failure:
        raise OpenFaceRunError(failure)
    if result.returncode != 0:
        how = (
            f"was stopped by signal {-result.returncode}"
            if result.returncode < 0
            else f"exited with status {result.returncode}"
        )
        tail = _tail(result.stderr.decode("utf-8", "replace")) or _tail(log.read_text("utf-8", "replace"))
        shown = f"; the end of its output:\n{tail}" if tail else " without printing anything"
        raise OpenFaceRunError(f"OpenFace ({program}) {how}{shown}\n(the whole output: {log})")
    return target
