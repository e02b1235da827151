"""The fault tour: the library and the ``ganimation`` command line used as a hostile user would use them.

Five kinds of faults, each tried for real (nothing is monkeypatched), each trial judged by an oracle:

1. **SIGKILL during writes**: a tiny ``ganimation train`` is killed with ``SIGKILL`` at seeded random
   moments, and at moments chosen to land inside a write (a checkpoint's temporary file, a sample grid,
   a log rewrite, the generator export). After each kill every checkpoint present must load and the
   exported generator (if any) too; the run is resumed with ``--resume`` until it finishes, and then no
   temporary file or staging folder may remain, and the generator must equal, bit for bit, that of the
   same training run straight through.
2. **Hostile files**: pickles whose ``__reduce__`` would create a marker file (it must never appear), NaN/inf
   weights, truncated, empty or garbage ``model.safetensors``/``config.json`` (deep nesting, 5,000-digit
   numbers, ``conv_dim`` 10**30, ``image_size`` 400000, wrong types), fed to ``Generator.from_pretrained``,
   ``load_checkpoint``, ``load_training_state``, the label readers, ``ganimation edit``, ``evaluate``,
   ``convert`` and ``train --resume/--config/--labels``. Each must be refused with the library's error.
3. **Fuzzed CSVs**: valid OpenFace CSVs (image and sequence mode) and AU tables, mutated (byte flips,
   truncation, duplicated columns, ``0_1``, huge numbers, NaN, non-ASCII digits, blank lines, BOMs, other
   separators and line ends, reordered and extra columns, ...) and read by ``read_openface_csv``,
   ``read_au_table``, ``prepare_openface`` and ``ganimation prepare``. The oracle is a strict reference
   reader written here from the documented format: every value the library returns must be one the file
   says (an intact row, or a damaged row that still reads as valid numbers); anything else is a silent
   wrong result. Rows the library refuses must be reported (``skipped``, ``failed``) or the file refused.
4. **Bad images**: truncated JPEG/PNG, empty and garbage files, a real 10000x10000 PNG and a JPEG header
   declaring that size, 16-bit grey and RGB PNGs (must equal the 8-bit picture within one level), EXIF
   orientations 2-8, CMYK/LA/P/1/RGBA modes, through ``to_tensor``, ``load_image``, ``edit``,
   ``AUDataset`` and ``ganimation edit``.
5. **Full disk / read-only folder**: commands run with ``RLIMIT_FSIZE`` set low (``SIGXFSZ`` ignored, so a
   write fails with ``EFBIG`` as on a full disk) and, as an unprivileged user (``setpriv``) when the tour runs
   as root, into folders they cannot write. The library must raise ``OutputWriteError`` / exit 1 with a
   message naming the path, leave no temporary file, and keep the previous checkpoint/model byte for byte.

A trial's outcome is one of: a *clear error* (the library's own exception type, or a deliberate
``ValueError``/``OSError`` raised in the library, naming the file or value; on the command line exit code 1
or 2 with a ``ganimation CMD: error:`` line naming it and no traceback), a *correct* result (accepted, and
the oracle agrees), a *traceback* (any other exception, a crash, an exit code other than 0-2), a *silent
wrong* result (accepted but wrong, a payload that ran, a corrupt checkpoint) or an *unclear* error (the
right kind, but naming neither the file nor the value). Files left behind are counted separately.

    python benchmarks/fault_tour.py            # the full tour, about 5 minutes on 2 cores
    python benchmarks/fault_tour.py --quick    # a shorter variant, under a minute
    python benchmarks/fault_tour.py --verbose  # also list every trial that is not a clear error or correct

Prints one table and exits 1 if any traceback, silent wrong result, unclear error or leftover file was
found. Everything happens in a temporary folder, which is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import pickle
import random
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CLEAR, CORRECT, TRACEBACK, SILENT, UNCLEAR = "clear", "correct", "traceback", "silent", "unclear"
Verdict = tuple[str, str, int]  # (outcome, detail, files left behind)

AU_LIST = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
           "AU20", "AU23", "AU25", "AU26", "AU45")  # fmt: skip
PRESENCE_LIST = (*AU_LIST[:16], "AU28", "AU45")
TINY_NETWORKS = [
    "--image-size", "32", "--generator-conv-dim", "8", "--generator-num-residual-blocks", "1",
    "--critic-conv-dim", "8", "--critic-depth", "4",
]  # fmt: skip
TRAIN_FLAGS = [
    *TINY_NETWORKS, "--batch-size", "4", "--checkpoint-every", "2", "--keep-checkpoints", "3", "--log-every", "1",
    "--sample-every", "4", "--validate-every", "4", "--no-progress", "--device", "cpu", "--seed", "0",
]  # fmt: skip
ENVIRONMENT = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONWARNINGS": "ignore",
}
NOBODY = 65534
# Runs a command with RLIMIT_FSIZE set and SIGXFSZ ignored, so a write past the limit fails with EFBIG
# (what a full disk looks like to the program) instead of killing it.
FSIZE_LAUNCHER = (
    "import os, resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


# ------------------------------------------------------------------------------------------------ the table


@dataclasses.dataclass
class Row:
    """The tally of one line of the table."""

    name: str
    trials: int = 0
    clear: int = 0
    correct: int = 0
    tracebacks: int = 0
    silent: int = 0
    unclear: int = 0
    leftovers: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def add(self, trial: str, verdict: Verdict) -> None:
        """Count one trial's verdict; keep the details of anything that is not fine."""
        outcome, detail, leftovers = verdict
        self.trials += 1
        field = {CLEAR: "clear", CORRECT: "correct", TRACEBACK: "tracebacks", SILENT: "silent", UNCLEAR: "unclear"}
        setattr(self, field[outcome], getattr(self, field[outcome]) + 1)
        self.leftovers += leftovers
        if outcome in (TRACEBACK, SILENT, UNCLEAR) or leftovers:
            self.problems.append(f"{trial}: {outcome}{f' ({leftovers} files left)' if leftovers else ''}: {detail}")

    @property
    def failed(self) -> bool:
        """Whether anything that must be zero is not."""
        return bool(self.tracebacks or self.silent or self.unclear or self.leftovers)


class Tally:
    """All rows, in the order they were first used; thread-safe."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self._lock = threading.Lock()

    def row(self, name: str) -> Row:
        """The row called ``name`` (created when new)."""
        with self._lock:
            return self.rows.setdefault(name, Row(name))

    def add(self, row: str, trial: str, verdict: Verdict) -> None:
        """Count one trial of ``row``."""
        with self._lock:
            self.rows.setdefault(row, Row(row)).add(trial, verdict)

    def leftover(self, row: str, text: str, count: int) -> None:
        """Count ``count`` files left behind, found after the trials of ``row`` that left them."""
        with self._lock:
            target = self.rows.setdefault(row, Row(row))
            target.leftovers += count
            target.problems.append(text)

    def note(self, row: str, text: str) -> None:
        """Attach an informational note to ``row`` (printed under the table)."""
        with self._lock:
            self.rows.setdefault(row, Row(row)).notes.append(text)

    def table(self) -> str:
        """The table as Markdown."""
        head = ["category", "trials", "clear errors", "correct", "tracebacks", "silent wrong", "unclear",
                "files left"]  # fmt: skip
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        total = Row("**total**")
        for row in self.rows.values():
            values = [row.trials, row.clear, row.correct, row.tracebacks, row.silent, row.unclear, row.leftovers]
            lines.append("| " + " | ".join([row.name, *map(str, values)]) + " |")
            for name in ("trials", "clear", "correct", "tracebacks", "silent", "unclear", "leftovers"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        values = [total.trials, total.clear, total.correct, total.tracebacks, total.silent, total.unclear,
                  total.leftovers]  # fmt: skip
        lines.append("| " + " | ".join([total.name, *(f"**{v}**" for v in values)]) + " |")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ helpers


def hidden_entries(folder: Path) -> list[Path]:
    """Every file or folder under ``folder`` whose name starts with a dot or ends in ``.tmp``: what an
    interrupted atomic write leaves (the library's temporary files and staging folders are all hidden)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp"))


def digest(folder_or_file: Path) -> dict[str, str]:
    """SHA-256 of every file under a folder (or of one file), by relative path."""
    paths = [folder_or_file] if folder_or_file.is_file() else sorted(folder_or_file.rglob("*"))
    base = folder_or_file.parent if folder_or_file.is_file() else folder_or_file
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: Iterator[bytes]) -> bytes:
    """A PNG written by hand (so any bit depth and colour type Pillow cannot write is possible).

    Args:
        width: Declared width.
        height: Declared height.
        bit_depth: 8 or 16.
        colour_type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA.
        rows: The raw rows (without filter bytes), streamed so a huge image needs no memory.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(6)
    idat = b"".join(compressor.compress(b"\x00" + row) for row in rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class Payload:
    """Pickles as a call to ``open(marker, "w")``: loading it unsafely creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


@dataclasses.dataclass
class Completed:
    """What a command-line run gave."""

    code: int
    stdout: str
    stderr: str
    seconds: float


def ganimation_command(args: Sequence[str], *, fsize: int | None = None, as_nobody: bool = False) -> list[str]:
    """The argv of ``ganimation ARGS`` (optionally with a file-size limit, or as the user nobody)."""
    command = [sys.executable, "-m", "ganimation_lib", *args]
    if fsize is not None:
        command = [sys.executable, "-c", FSIZE_LAUNCHER, str(fsize), *command]
    if as_nobody:
        command = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--", *command]
    return command


def run_cli(args: Sequence[str], *, fsize: int | None = None, as_nobody: bool = False, timeout: float = 300,
            env: dict[str, str] | None = None) -> Completed:  # fmt: skip
    """Run ``ganimation ARGS`` in a subprocess and collect its exit code and output."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            ganimation_command(args, fsize=fsize, as_nobody=as_nobody),
            capture_output=True,
            text=True,
            env=env or ENVIRONMENT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else ""
        return Completed(-1, "", f"timed out after {timeout} s\n{stderr}", time.perf_counter() - started)
    return Completed(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def judge_cli(result: Completed, names: Sequence[str]) -> Verdict | None:
    """Judge a command that should fail; ``None`` when it exited 0 (the caller decides what that means).

    A clear error is exit code 1 or 2, no traceback, and a ``ganimation CMD: error:`` line naming one of
    ``names`` (the file or value at fault).
    """
    err = result.stderr
    if "Traceback (most recent call last)" in err or result.code not in (0, 1, 2):
        tail = " | ".join(err.strip().splitlines()[-3:])[-400:]
        return TRACEBACK, f"exit {result.code}: {tail}", 0
    if result.code == 0:
        return None
    lines = [line for line in err.splitlines() if line.startswith("ganimation ") and ": error: " in line]
    if not lines:
        return UNCLEAR, f"exit {result.code} without an error line: {err.strip()[-300:]}", 0
    if names and not any(name in lines[0] for name in names):
        return UNCLEAR, f"exit {result.code}, the message names none of {list(names)}: {lines[0][:300]}", 0
    if "weights_only=False" in err:
        return UNCLEAR, f"advises weights_only=False: {lines[0][:200]}", 0
    return CLEAR, f"exit {result.code}: {lines[0][:160]}", 0


# ------------------------------------------------------------------------------------------ shared set-up


@dataclasses.dataclass
class Context:
    """Paths every category uses, built once."""

    scratch: Path
    data: Path
    reference: Path  # a straight training run
    steps: int
    seed: int
    quick: bool
    startup: float = 2.0  # seconds a ganimation command needs before it does anything
    run_seconds: float = 5.0  # the reference run's wall time

    @property
    def model(self) -> Path:
        """The reference run's exported generator."""
        return self.reference / "generator"

    @property
    def face(self) -> Path:
        """A face image of the data set."""
        return sorted((self.data / "imgs").iterdir())[0]

    def to_json(self) -> str:
        """For the worker process."""
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> Context:
        """The inverse of :meth:`to_json`."""
        raw = json.loads(text)
        for key in ("scratch", "data", "reference"):
            raw[key] = Path(raw[key])
        return cls(**raw)


def train_args(ctx: Context, output: Path, steps: int, *extra: str) -> list[str]:
    """``ganimation train`` arguments of the tour's tiny run."""
    return ["train", str(ctx.data), "--output", str(output), *TRAIN_FLAGS, "--max-steps", str(steps), *extra]


def set_up(scratch: Path, seed: int, quick: bool) -> Context:
    """Write the synthetic data set and train the reference run (through the command line)."""
    data = scratch / "data"
    started = time.perf_counter()
    result = run_cli(["synthetic", "--write", str(data), "--size", "32", "--identities", "8",
                      "--items-per-identity", "4"])  # fmt: skip
    startup = time.perf_counter() - started
    if result.code != 0:
        raise SystemExit(f"set-up failed: ganimation synthetic: {result.stderr}")
    ctx = Context(scratch, data, scratch / "reference", 12 if quick else 30, seed, quick, startup=startup)
    started = time.perf_counter()
    result = run_cli(train_args(ctx, ctx.reference, ctx.steps))
    ctx.run_seconds = time.perf_counter() - started
    if result.code != 0:
        raise SystemExit(f"set-up failed: the reference ganimation train: {result.stderr}")
    return ctx


# ---------------------------------------------------------------------------------- 1. SIGKILL during writes

# Where to wait for a write to begin before killing: (folder under the run, names of its temporary files).
KILL_TARGETS = {
    "checkpoint write": ("checkpoints", re.compile(r"^\.step-\d+\.pt\.[0-9a-f]{12}\.tmp$")),
    "sample grid write": ("samples", re.compile(r"^\.")),
    "log rewrite": ("logs", re.compile(r"^\.")),
    "generator export": (".", re.compile(r"^\.generator\.tmp-")),
}


def kill_during(process: subprocess.Popen[bytes], run: Path, mode: str, rng: random.Random, ctx: Context,
                remaining: float) -> str:  # fmt: skip
    """SIGKILL ``process`` at a random moment or as soon as a write of ``mode`` is under way.

    Returns:
        What happened: ``"killed ..."`` or ``"finished"`` (it ended before the moment came).
    """
    started = time.monotonic()
    if mode == "random moment":
        moment = rng.uniform(0.6 * ctx.startup, ctx.startup + max(remaining, 0.2) * (ctx.run_seconds - ctx.startup))
        while time.monotonic() - started < moment:
            if process.poll() is not None:
                return "finished"
            time.sleep(0.002)
        process.kill()
        process.wait()
        return f"killed at {moment:.2f} s"
    where, pattern = KILL_TARGETS[mode]
    folder = run / where
    skip = rng.randint(0, 2)  # kill in the first, second or third such write
    seen: set[str] = set()
    deadline = ctx.startup * 3 + ctx.run_seconds * 3
    while process.poll() is None:
        if time.monotonic() - started > deadline:
            process.kill()
            process.wait()
            return "killed at the deadline"
        try:
            names = [n for n in os.listdir(folder) if pattern.match(n) and n not in seen]
        except FileNotFoundError:
            names = []
        if names:
            if skip == 0:
                process.kill()
                process.wait()
                return f"killed during {mode} ({names[0]})"
            skip -= 1
            seen.update(names)
        time.sleep(0.0002)
    return "finished"


def check_after_kill(run: Path) -> list[str]:
    """Every checkpoint present must load, and the exported generator when there is one."""
    from ganimation_lib import Generator
    from ganimation_lib.training import load_training_state
    from ganimation_lib.training.checkpoint import list_checkpoints

    problems = []
    for checkpoint in list_checkpoints(run / "checkpoints"):
        try:
            state = load_training_state(checkpoint)
            if not isinstance(state.get("generator"), dict) or state.get("step") is None:
                problems.append(f"{checkpoint.name} lacks its generator or step")
        except Exception as error:
            problems.append(f"{checkpoint.name} does not load: {type(error).__name__}: {error}")
    generator = run / "generator"
    if generator.is_dir() and any(generator.iterdir()):
        try:
            Generator.from_pretrained(generator)
        except Exception as error:
            problems.append(f"generator/ does not load: {type(error).__name__}: {error}")
    return problems


def same_generator(a: Path, b: Path) -> str:
    """``""`` when the two exported generators hold identical tensors, else how they differ."""
    from safetensors.torch import load_file

    first, second = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    if first.keys() != second.keys():
        return f"different tensors: {sorted(set(first) ^ set(second))[:3]}"
    differ = [k for k in first if not bool((first[k] == second[k]).all())]
    return f"{len(differ)} tensors differ, e.g. {differ[:2]}" if differ else ""


def sigkill_tour(ctx: Context, tally: Tally, rng: random.Random) -> None:
    """Category 1: kill training runs at random moments and inside writes; resume until done."""
    from ganimation_lib.training.checkpoint import CHECKPOINT_PATTERN, latest_checkpoint

    kills_wanted = 2 if ctx.quick else 24
    per_chain = 2 if ctx.quick else 6
    modes = ["random moment", "checkpoint write", "checkpoint write", "sample grid write", "log rewrite",
             "generator export"]  # fmt: skip
    row, identical = "SIGKILL during writes", "resume after SIGKILL: bit-identical"
    kills = in_write = 0
    chain = 0
    by_mode: dict[str, list[int]] = {}
    while kills < kills_wanted:
        chain += 1
        run = ctx.scratch / "kills" / f"chain{chain}"
        last_step, chain_kills = -1, 0
        while chain_kills < per_chain and kills < kills_wanted:
            latest = latest_checkpoint(run / "checkpoints")
            step = -1 if latest is None else int(CHECKPOINT_PATTERN.match(latest.name).group(1))  # type: ignore[union-attr]
            remaining = 1.0 - max(step, 0) / ctx.steps
            mode = rng.choice(modes)
            already = set(hidden_entries(run))
            stderr_path = run.parent / f"chain{chain}-{chain_kills}.err"
            stderr_path.parent.mkdir(parents=True, exist_ok=True)
            with open(stderr_path, "wb") as stderr:
                extra = ["--resume"] if latest is not None else []
                process = subprocess.Popen(
                    ganimation_command(train_args(ctx, run, ctx.steps, *extra)),
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=ENVIRONMENT,
                )
                what = kill_during(process, run, mode, rng, ctx, remaining)
            if what == "finished":
                if process.returncode != 0:
                    text = stderr_path.read_text(errors="replace")
                    tally.add(row, f"chain {chain}", (TRACEBACK, f"a resumed run exited {process.returncode}: "
                                                      f"{text.strip()[-300:]}", 0))  # fmt: skip
                break
            kills += 1
            chain_kills += 1
            temporary = set(hidden_entries(run)) - already  # what this kill left (not an earlier one's)
            in_write += bool(temporary)
            counts = by_mode.setdefault(mode, [0, 0])
            counts[0] += 1
            counts[1] += bool(temporary)
            problems = check_after_kill(run)
            latest = latest_checkpoint(run / "checkpoints")
            now = -1 if latest is None else int(CHECKPOINT_PATTERN.match(latest.name).group(1))  # type: ignore[union-attr]
            if now < last_step:
                problems.append(f"the newest checkpoint went back from step {last_step} to {now}")
            last_step = now
            verdict = (SILENT, "; ".join(problems), 0) if problems else (CORRECT, what, 0)
            tally.add(row, f"chain {chain} kill {chain_kills} ({mode}, {what})", verdict)
        # Resume to the end as a user would, then nothing may be left behind and the model must be the same.
        latest = latest_checkpoint(run / "checkpoints")
        result = run_cli(train_args(ctx, run, ctx.steps, *(["--resume"] if latest is not None else [])))
        leftovers = hidden_entries(run)
        if result.code != 0:
            verdict = judge_cli(result, ()) or (TRACEBACK, "exit 0?", 0)
            tally.add(identical, f"chain {chain}", (TRACEBACK if verdict[0] != CLEAR else SILENT,
                                                    f"the final resume failed: {verdict[1]}", 0))  # fmt: skip
        else:
            difference = same_generator(run / "generator", ctx.model)
            tally.add(identical, f"chain {chain}", (SILENT, difference, 0) if difference else (CORRECT, "", 0))
        if leftovers:
            names = sorted({str(p.relative_to(run)) for p in leftovers})
            tally.leftover(row, f"chain {chain}: left behind after the final resume: {names}", len(leftovers))
    modes_seen = ", ".join(f"{mode} {n} ({hit} inside a write)" for mode, (n, hit) in sorted(by_mode.items()))
    tally.note(row, f"{in_write} of {kills} kills left a temporary file or staging folder behind at the kill "
                    f"(the kill landed inside a write); all must be gone after the next start. Kills by the "
                    f"moment chosen: {modes_seen}")  # fmt: skip


# ----------------------------------------------------------------------------------------- the worker side

LIBRARY_ROOT: Path | None = None


def library_error(error: BaseException) -> bool:
    """Whether ``error`` is one the library means to raise: its own type, or raised in its code."""
    global LIBRARY_ROOT
    if LIBRARY_ROOT is None:
        import ganimation_lib

        LIBRARY_ROOT = Path(ganimation_lib.__file__).resolve().parent
    if type(error).__module__.startswith("ganimation_lib"):
        return True
    frames = traceback.extract_tb(error.__traceback__)
    if not frames or not isinstance(error, (ValueError, OSError, TypeError)):
        return False
    return Path(frames[-1].filename).resolve().is_relative_to(LIBRARY_ROOT)


def judge_error(error: BaseException, names: Sequence[str]) -> Verdict:
    """Judge an exception from a library call that should refuse its input."""
    text = str(error)
    if not library_error(error):
        frames = traceback.extract_tb(error.__traceback__)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        return TRACEBACK, f"{type(error).__name__}{where}: {text[:300]}", 0
    if "weights_only=False" in text:
        return UNCLEAR, f"advises weights_only=False: {text[:200]}", 0
    if names and not any(name in text for name in names):
        return UNCLEAR, f"{type(error).__name__} names none of {list(names)}: {text[:300]}", 0
    return CLEAR, f"{type(error).__name__}: {text.splitlines()[0][:160] if text else ''}", 0


def refused(call: Callable[[], object], names: Sequence[str]) -> Verdict:
    """Call ``call``, which must raise the library's error naming one of ``names``; acceptance is silent wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except Exception as error:
        return judge_error(error, names)
    return SILENT, f"accepted: {type(result).__name__}", 0


Trial = tuple[str, str, Callable[[], Verdict]]  # (row, name, trial)


def worker(ctx: Context, skip: int) -> None:
    """Run the library trials of categories 2-5 in this process, one JSON line per trial on stdout."""
    rng = random.Random(ctx.seed + 1)
    trials: list[Trial] = []
    trials += hostile_file_trials(ctx)
    trials += csv_fuzz_trials(ctx, rng)
    trials += image_trials(ctx)
    trials += write_failure_trials(ctx)
    for index, (row, name, trial) in enumerate(trials):
        if index < skip:
            continue
        print("@@START " + json.dumps({"index": index, "row": row, "name": name}), flush=True)
        try:
            verdict = trial()
        except Exception as error:  # the trial's own checks crashed: report the library frame where it happened
            verdict = (TRACEBACK, "".join(traceback.format_exception_only(error)).strip()[-400:] + " | "
                       + " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in
                                    traceback.extract_tb(error.__traceback__)[-4:]), 0)  # fmt: skip
        print("@@DONE " + json.dumps({"index": index, "row": row, "name": name, "verdict": verdict}), flush=True)
    print("@@END " + json.dumps({"count": len(trials)}), flush=True)


def run_worker(ctx: Context, tally: Tally) -> None:
    """Run :func:`worker` in a subprocess under a memory limit; a crash counts as a traceback of its trial."""
    skip, restarts = 0, 0
    script = str(Path(__file__).resolve())

    def limit_memory() -> None:  # 10 GiB: an allocation bug raises instead of taking the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (10 * 2**30, 10 * 2**30))

    while True:
        command = [sys.executable, script, "--worker", ctx.to_json(), "--skip", str(skip)]
        done = subprocess.run(command, capture_output=True, text=True, env=ENVIRONMENT, preexec_fn=limit_memory)
        started: dict[str, Any] | None = None
        finished = False
        for line in done.stdout.splitlines():
            if line.startswith("@@START "):
                started = json.loads(line[8:])
            elif line.startswith("@@DONE "):
                record = json.loads(line[7:])
                tally.add(record["row"], record["name"], tuple(record["verdict"]))  # type: ignore[arg-type]
                started = None
                skip = record["index"] + 1
            elif line.startswith("@@END "):
                finished = True
        if finished:
            return
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])[-400:]
        if started is None or restarts > 20:
            tally.add("worker", "worker", (TRACEBACK, f"the worker exited {done.returncode}: {tail}", 0))
            return
        tally.add(started["row"], started["name"], (TRACEBACK, f"the process died (exit {done.returncode}): {tail}", 0))
        skip = started["index"] + 1
        restarts += 1


# ------------------------------------------------------------------------------------------ 2. hostile files

HOSTILE = "hostile files: library"
HOSTILE_CLI = "hostile files: CLI"


def hostile_folder(ctx: Context) -> Path:
    """Where the hostile files are written (shared with the command-line trials)."""
    return ctx.scratch / "hostile"


def marker(ctx: Context) -> Path:
    """The file a payload creates when it runs."""
    return ctx.scratch / "PAYLOAD-RAN"


def make_hostile_files(ctx: Context) -> dict[str, Path]:
    """Write every hostile model directory and file; return them by name."""
    import numpy as np
    import torch
    from safetensors.torch import load_file, save_file

    from ganimation_lib.training import load_training_state

    root = hostile_folder(ctx)
    shutil.rmtree(root, ignore_errors=True)  # a restarted worker writes them again
    root.mkdir(parents=True)
    made: dict[str, Path] = {}
    weights = load_file(str(ctx.model / "model.safetensors"))
    config = json.loads((ctx.model / "config.json").read_text())
    metadata = {"format": "pt", "model_class": "Generator", "save_id": config["save_id"], "library_version": "0.1.0"}

    def folder(name: str, config_text: str | bytes | None = None, weight_bytes: bytes | None = None) -> Path:
        path = root / name
        shutil.copytree(ctx.model, path)
        if config_text is not None:
            raw = config_text.encode() if isinstance(config_text, str) else config_text
            (path / "config.json").write_bytes(raw)
        if weight_bytes is not None:
            (path / "model.safetensors").write_bytes(weight_bytes)
        made[name] = path
        return path

    def with_config(**changes: Any) -> str:
        document = json.loads(json.dumps(config))
        document["config"].update(changes)
        return json.dumps(document)

    def top_level(**changes: Any) -> str:
        return json.dumps({**config, **changes})

    good_config = (ctx.model / "config.json").read_text()
    good_weights = (ctx.model / "model.safetensors").read_bytes()
    folder("config-empty", b"")
    folder("config-truncated", good_config[: len(good_config) // 2])
    folder("config-binary", bytes(random.Random(1).randrange(256) for _ in range(600)))
    folder("config-nested-200000", "[" * 200_000 + "]" * 200_000)
    folder("config-5000-digits", good_config.replace('"conv_dim": 8', '"conv_dim": ' + "9" * 5000))
    folder("config-conv_dim-1e30", with_config(conv_dim=10**30))
    folder("config-image_size-400000", with_config(image_size=400_000))
    folder("config-image_size-2049", with_config(image_size=2049))
    folder("config-conv_dim-string", with_config(conv_dim="8"))
    folder("config-conv_dim-true", with_config(conv_dim=True))
    folder("config-conv_dim-8.5", with_config(conv_dim=8.5))
    folder("config-conv_dim-null", with_config(conv_dim=None))
    folder("config-conv_dim-negative", with_config(conv_dim=-8))
    folder("config-num_aus-0", with_config(num_aus=0))
    folder("config-attention_bias-NaN", with_config(attention_bias=float("nan")))
    folder("config-conv_dim-16", with_config(conv_dim=16))
    folder("config-unknown-field", with_config(evil=1))
    folder("config-list", top_level(config=[1, 2]))
    folder("config-model_class", top_level(model_class="os.system"))
    folder("config-format_version-99", top_level(format_version=99))
    folder("config-au_names-3", top_level(au_names=["AU01", "AU02", "AU04"]))
    folder("config-utf16", good_config.encode("utf-16"))
    folder("weights-empty", weight_bytes=b"")
    folder("weights-truncated", weight_bytes=good_weights[: len(good_weights) // 2])
    folder("weights-garbage", weight_bytes=bytes(random.Random(2).randrange(256) for _ in range(4096)))
    folder("weights-header-2**60", weight_bytes=struct.pack("<Q", 2**60) + good_weights[8:])
    folder("weights-header-garbage", weight_bytes=struct.pack("<Q", 64) + b"{" * 64 + good_weights[72:])
    for name, value in (("nan", float("nan")), ("inf", float("inf"))):
        poisoned = {k: v.clone() for k, v in weights.items()}
        key = sorted(poisoned)[3]
        poisoned[key].view(-1)[0] = value
        save_file(poisoned, str(folder(f"weights-{name}") / "model.safetensors"), metadata=metadata)
    as_int = {k: (v * 100).to(torch.int32) if i == 0 else v for i, (k, v) in enumerate(sorted(weights.items()))}
    save_file(as_int, str(folder("weights-int32") / "model.safetensors"), metadata=metadata)
    missing = dict(sorted(weights.items())[1:])
    save_file(missing, str(folder("weights-missing-tensor") / "model.safetensors"), metadata=metadata)
    other_save = {**metadata, "save_id": "0" * 32}
    save_file(weights, str(folder("weights-other-save") / "model.safetensors"), metadata=other_save)
    payload_bytes = io.BytesIO()
    torch.save({"weights": weights, "x": Payload(marker(ctx))}, payload_bytes)
    folder("weights-pickle-payload", weight_bytes=payload_bytes.getvalue())

    def file(name: str, data: bytes) -> Path:
        path = root / name
        path.write_bytes(data)
        made[name] = path
        return path

    state_dict = {k: v.clone() for k, v in weights.items()}
    for name, legacy in (("payload-zip.pth", False), ("payload-legacy.pth", True)):
        buffer = io.BytesIO()
        torch.save({"state_dict": state_dict, "x": Payload(marker(ctx))}, buffer,
                   _use_new_zipfile_serialization=not legacy)  # fmt: skip
        file(name, buffer.getvalue())
    file("payload-raw-pickle.pth", pickle.dumps({"state_dict": Payload(marker(ctx))}, protocol=2))
    for name, value in (("nan.pth", float("nan")), ("inf.pth", float("-inf"))):
        poisoned = {k: v.clone() for k, v in state_dict.items()}
        poisoned[sorted(poisoned)[0]].view(-1)[5] = value
        buffer = io.BytesIO()
        torch.save(poisoned, buffer)
        file(name, buffer.getvalue())
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    good_pth = buffer.getvalue()
    file("truncated.pth", good_pth[: len(good_pth) // 2])
    file("empty.pth", b"")
    file("garbage.pth", bytes(random.Random(3).randrange(256) for _ in range(5000)))
    file("text.pth", b"this is not a checkpoint\n")
    poisoned = {k: v.clone() for k, v in weights.items()}
    poisoned[sorted(poisoned)[2]].view(-1)[0] = float("nan")
    save_file(poisoned, str(root / "nan.safetensors"))
    made["nan.safetensors"] = root / "nan.safetensors"
    file("truncated.safetensors", good_weights[: len(good_weights) // 3])
    shapes = {k: v.clone() for k, v in state_dict.items()}
    first = sorted(shapes)[0]
    shapes[first] = torch.zeros(3, 3)
    buffer = io.BytesIO()
    torch.save(shapes, buffer)
    file("wrong-shape.pth", buffer.getvalue())

    # Training checkpoints, for load_training_state and ganimation train --resume.
    reference = sorted((ctx.reference / "checkpoints").glob("step-*.pt"))[-1]
    state = load_training_state(reference)

    def checkpoint(name: str, value: Any) -> Path:
        buffer = io.BytesIO()
        torch.save(value, buffer)
        return file(name, buffer.getvalue())

    checkpoint("step-payload.pt", {**state, "evil": Payload(marker(ctx))})
    raw = reference.read_bytes()
    file("step-truncated.pt", raw[: len(raw) // 2])
    file("step-empty.pt", b"")
    file("step-garbage.pt", bytes(random.Random(4).randrange(256) for _ in range(20000)))
    nan_state = {**state, "generator": {k: v.clone() for k, v in state["generator"].items()}}
    nan_state["generator"][sorted(nan_state["generator"])[0]].view(-1)[0] = float("nan")
    checkpoint("step-nan-generator.pt", nan_state)
    checkpoint("step-format-only.pt", {"format": state["format"]})
    wrong = {**state, "generator": {k: v.clone() for k, v in state["generator"].items()}}
    wrong["generator"][sorted(wrong["generator"])[0]] = torch.zeros(2, 2)
    checkpoint("step-wrong-shape.pt", wrong)
    checkpoint("step-plain-state-dict.pt", state["generator"])
    checkpoint("step-step-is-text.pt", {**state, "step": "many"})
    checkpoint("step-optimizer-altered.pt", {**state, "generator_optimizer": {"state": {}, "param_groups": []}})
    checkpoint("step-callbacks-altered.pt", {**state, "callbacks": {"MetricsLogger": {"sums": "x", "counts": 3}}})

    # AU regressors (ganimation evaluate --regressor): the same format, its own loader.
    from ganimation_lib import AURegressor, AURegressorConfig

    regressor = AURegressor(AURegressorConfig(image_size=32, width=8)).save_pretrained(root / "regressor")
    reg_config = json.loads((regressor / "config.json").read_text())
    for name, change in (("regressor-nested", "[" * 100_000), ("regressor-width-1e30", None)):
        target = root / name
        shutil.copytree(regressor, target)
        text = change or json.dumps({**reg_config, "config": {**reg_config["config"], "width": 10**30}})
        (target / "config.json").write_text(text)
        made[name] = target
    target = root / "regressor-nan"
    shutil.copytree(regressor, target)
    reg_weights = load_file(str(regressor / "model.safetensors"))
    reg_weights[sorted(reg_weights)[0]].view(-1)[0] = float("nan")
    reg_meta = {"format": "pt", "save_id": reg_config["save_id"]}
    save_file(reg_weights, str(target / "model.safetensors"), metadata=reg_meta)
    made["regressor-nan"] = target

    # A labels pickle with a payload (the official aus_openface.pkl format).
    labels = root / "labels"
    labels.mkdir()
    file("labels/aus_openface.pkl", pickle.dumps({"a": np.zeros(17), "b": Payload(marker(ctx))}, protocol=2))
    (root / "config-directory.json").mkdir()
    made["config-directory.json"] = root / "config-directory.json"
    file("train-config-nested.json", ("[" * 200_000).encode())
    file("train-config-digits.json", b'{"trainer": {"batch_size": ' + b"9" * 5000 + b"}}")
    file("train-config-text-number.json", json.dumps({"trainer": {"n_critic": "5"}}).encode())
    file("train-config-1e30.json", json.dumps({"generator": {"num_downsamplings": 10**30}}).encode())
    file("train-config-unknown.json", json.dumps({"trainer": {"n_critics": 5}}).encode())
    return made


def hostile_file_trials(ctx: Context) -> list[Trial]:
    """Library trials of category 2 (the files are written by the first trial)."""
    made: dict[str, Path] = {}

    def files() -> dict[str, Path]:
        if not made:
            made.update(make_hostile_files(ctx))
        return made

    def build() -> Verdict:
        return CORRECT, f"{len(files())} hostile files written", 0

    def check_marker(verdict: Verdict) -> Verdict:
        if marker(ctx).exists():
            marker(ctx).unlink()
            return SILENT, "the pickle payload ran (the marker file was created)", 0
        return verdict

    def from_pretrained(name: str) -> Verdict:
        from ganimation_lib import Generator

        path = files()[name]
        return check_marker(refused(lambda: Generator.from_pretrained(path), [path.name]))

    def load_checkpoint_file(name: str) -> Verdict:
        from ganimation_lib import load_checkpoint

        path = files()[name]
        return check_marker(refused(lambda: load_checkpoint(path), [path.name]))

    def training_state(name: str) -> Verdict:
        from ganimation_lib.training import load_training_state

        path = files()[name]
        return check_marker(refused(lambda: load_training_state(path), [path.name]))

    def labels_pickle() -> Verdict:
        from ganimation_lib.data import read_labels

        path = files()["labels/aus_openface.pkl"]
        return check_marker(refused(lambda: read_labels(path), [path.name]))

    def regressor(name: str) -> Verdict:
        from ganimation_lib import AURegressor

        path = ctx.model if name == "a generator folder" else files()[name]
        return refused(lambda: AURegressor.from_pretrained(path), [path.name])

    def control() -> Verdict:
        from ganimation_lib import Generator

        Generator.from_pretrained(ctx.model)
        return CORRECT, "the untouched model loads", 0

    trials: list[Trial] = [(HOSTILE, "write the hostile files", build), (HOSTILE, "control: a good model", control)]
    folders = [
        "config-empty", "config-truncated", "config-binary", "config-nested-200000", "config-5000-digits",
        "config-conv_dim-1e30", "config-image_size-400000", "config-image_size-2049", "config-conv_dim-string",
        "config-conv_dim-true", "config-conv_dim-8.5", "config-conv_dim-null", "config-conv_dim-negative",
        "config-num_aus-0", "config-attention_bias-NaN", "config-conv_dim-16", "config-unknown-field", "config-list",
        "config-model_class", "config-format_version-99", "config-au_names-3", "config-utf16", "weights-empty",
        "weights-truncated", "weights-garbage", "weights-header-2**60", "weights-header-garbage", "weights-nan",
        "weights-inf", "weights-int32", "weights-missing-tensor", "weights-other-save", "weights-pickle-payload",
    ]  # fmt: skip
    pth = ["payload-zip.pth", "payload-legacy.pth", "payload-raw-pickle.pth", "nan.pth", "inf.pth", "truncated.pth",
           "empty.pth", "garbage.pth", "text.pth", "nan.safetensors", "truncated.safetensors", "wrong-shape.pth",
           "step-payload.pt"]  # fmt: skip
    steps = ["step-payload.pt", "step-truncated.pt", "step-empty.pt", "step-garbage.pt", "step-plain-state-dict.pt"]
    if ctx.quick:
        folders = ["config-nested-200000", "config-conv_dim-1e30", "weights-nan", "weights-pickle-payload"]
        pth, steps = ["payload-zip.pth", "nan.pth"], ["step-payload.pt"]
    trials += [(HOSTILE, f"Generator.from_pretrained({n})", lambda n=n: from_pretrained(n)) for n in folders]
    trials += [(HOSTILE, f"load_checkpoint({n})", lambda n=n: load_checkpoint_file(n)) for n in pth]
    trials += [(HOSTILE, f"load_training_state({n})", lambda n=n: training_state(n)) for n in steps]
    trials.append((HOSTILE, "read_labels(aus_openface.pkl with a payload)", labels_pickle))
    regressors = ["regressor-nested", "regressor-width-1e30", "regressor-nan", "a generator folder"]
    trials += [(HOSTILE, f"AURegressor.from_pretrained({n})", lambda n=n: regressor(n)) for n in regressors]
    return trials


def hostile_cli_trials(ctx: Context) -> list[tuple[str, Callable[[], Verdict]]]:
    """Command-line trials of category 2 (run after the worker wrote the files)."""
    root = hostile_folder(ctx)
    out = ctx.scratch / "hostile-out"

    def attempt(name: str, args: list[str], names: list[str], written: Path | None = None) -> Verdict:
        result = run_cli(args)
        verdict = judge_cli(result, names) or (SILENT, f"exit 0: {result.stdout.strip()[-200:]}", 0)
        if marker(ctx).exists():
            marker(ctx).unlink()
            verdict = (SILENT, "the pickle payload ran (the marker file was created)", 0)
        left = len(hidden_entries(written)) if written is not None else 0
        if written is not None and verdict[0] != SILENT and (written / "out.png").exists():
            left += 1
        return verdict[0], verdict[1], verdict[2] + left

    def edit(name: str) -> Verdict:
        target = out / f"edit-{name}"
        target.mkdir(parents=True, exist_ok=True)
        args = ["edit", str(root / name), str(ctx.face), "--expression", "happy", "-o", str(target / "out.png")]
        return attempt(name, args, [name], target)

    def convert(name: str) -> Verdict:
        target = out / f"convert-{name}"
        result = run_cli(["convert", str(root / name), str(target), "--quiet"])
        verdict = judge_cli(result, [name]) or (SILENT, "converted", 0)
        if marker(ctx).exists():
            marker(ctx).unlink()
            verdict = (SILENT, "the pickle payload ran", 0)
        left = len(hidden_entries(out)) + (1 if target.exists() and verdict[0] != SILENT else 0)
        return verdict[0], verdict[1], left

    def evaluate(name: str) -> Verdict:
        target = out / f"evaluate-{name}"
        args = ["evaluate", str(root / name), "synthetic", "--num-faces", "2", "--regressor-steps", "1",
                "--output", str(target), "--no-progress", "--device", "cpu"]  # fmt: skip
        return attempt(name, args, [name])

    def evaluate_with(name: str) -> Verdict:
        target = out / f"evaluate-regressor-{name}"
        args = ["evaluate", str(ctx.model), "synthetic", "--num-faces", "2", "--regressor", str(root / name),
                "--output", str(target), "--no-progress", "--device", "cpu"]  # fmt: skip
        return attempt(name, args, [name])

    def resume(name: str) -> Verdict:
        run = out / f"resume-{name}"
        args = train_args(ctx, run, ctx.steps + 2, "--resume", str(root / name))
        return attempt(name, args, [name])

    def train_with(flag: str, name: str) -> Verdict:
        run = out / f"train-{flag}-{Path(name).name}"
        return attempt(name, train_args(ctx, run, 2, flag, str(root / name)), [Path(name).name])

    trials: list[tuple[str, Callable[[], Verdict]]] = []
    edits = ["weights-pickle-payload", "weights-nan", "weights-truncated", "config-nested-200000",
             "config-conv_dim-1e30", "config-image_size-400000", "config-5000-digits", "payload-zip.pth",
             "payload-legacy.pth", "nan.safetensors", "wrong-shape.pth"]  # fmt: skip
    converts = ["payload-legacy.pth", "payload-raw-pickle.pth", "garbage.pth", "inf.pth", "weights-garbage",
                "config-utf16"]  # fmt: skip
    evaluates = ["payload-zip.pth", "weights-inf", "config-image_size-400000"]
    resumes = ["step-payload.pt", "step-truncated.pt", "step-garbage.pt", "step-nan-generator.pt",
               "step-format-only.pt", "step-wrong-shape.pt", "step-plain-state-dict.pt",
               "step-step-is-text.pt", "step-optimizer-altered.pt", "step-callbacks-altered.pt"]  # fmt: skip
    configs = ["config-directory.json", "train-config-nested.json", "train-config-digits.json",
               "train-config-text-number.json", "train-config-1e30.json", "train-config-unknown.json"]  # fmt: skip
    if ctx.quick:
        edits, converts, evaluates, resumes, configs = ["weights-pickle-payload"], [], [], ["step-payload.pt"], []
    trials += [(f"ganimation edit {n}", lambda n=n: edit(n)) for n in edits]
    trials += [(f"ganimation convert {n}", lambda n=n: convert(n)) for n in converts]
    trials += [(f"ganimation evaluate {n}", lambda n=n: evaluate(n)) for n in evaluates]
    if not ctx.quick:
        trials.append(("ganimation evaluate --regressor regressor-nan", lambda: evaluate_with("regressor-nan")))
    trials += [(f"ganimation train --resume {n}", lambda n=n: resume(n)) for n in resumes]
    trials += [(f"ganimation train --config {n}", lambda n=n: train_with("--config", n)) for n in configs]
    if not ctx.quick:
        trials.append(("ganimation train --labels aus_openface.pkl (payload)",
                       lambda: train_with("--labels", "labels/aus_openface.pkl")))  # fmt: skip
    return trials


# ------------------------------------------------------------------------------------------ 3. fuzzed CSVs

FUZZ = "fuzzed CSVs: readers"
FUZZ_PREPARE = "fuzzed CSVs: prepare"
_STRICT_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def strict_number(text: str) -> float | None:
    """The number ``text`` spells as a CSV writer writes one (ASCII digits, sign, point, exponent), else None."""
    stripped = text.strip()
    if not _STRICT_NUMBER.fullmatch(stripped):
        return None
    value = float(stripped)
    return value if math.isfinite(value) else None


@dataclasses.dataclass
class Expected:
    """What the reference reader makes of a file: refused (why), or its rows."""

    refused: str = ""
    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    dropped: int = 0  # rows left out (malformed, success 0): the library must report them


def csv_records(data: bytes) -> list[list[str]] | str:
    """The non-empty CSV records of ``data`` (UTF-8, optional BOM), or why it is not such a file."""
    if b"\x00" in data:
        return "NUL byte"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    except csv.Error as error:
        return f"csv error: {error}"
    return [r for r in records if r and any(f.strip() for f in r)]


def reference_openface(data: bytes, header: list[str] | None = None) -> Expected:
    """A strict reading of an OpenFace CSV: rows as (confidence, 17 raw intensities).

    ``header`` replaces the file's own first record (to judge a file whose header was damaged but read).
    """
    records = csv_records(data)
    if isinstance(records, str):
        return Expected(refused=records)
    if not records:
        return Expected(refused="empty")
    names = [h.strip().lower() for h in (header if header is not None else records[0])]
    used = [n for n in names if n in {"face", "face_id", "frame", "timestamp", "confidence", "success"}
            or re.fullmatch(r"au\d\d_[rc]", n)]  # fmt: skip
    if len(used) != len(set(used)):
        return Expected(refused="duplicate column")
    wanted = [f"{au.lower()}_r" for au in AU_LIST]
    if "confidence" not in names or any(w not in names for w in wanted):
        return Expected(refused="missing column")
    index = {n: i for i, n in enumerate(names)}
    presence = [i for i, n in enumerate(names) if re.fullmatch(r"au\d\d_c", n)]
    expected = Expected()
    for record in records[1:]:
        if len(record) != len(names):
            expected.dropped += 1
            continue
        if "success" in index:
            success = strict_number(record[index["success"]])
            if success is None or success == 0:
                expected.dropped += 1
                continue
        confidence = strict_number(record[index["confidence"]])
        whole = [strict_number(record[index[n]]) for n in ("face", "face_id", "frame") if n in index]
        stamp = [strict_number(record[index["timestamp"]])] if "timestamp" in index else []
        flags = [strict_number(record[i]) for i in presence]
        values = [strict_number(record[index[w]]) for w in wanted]
        if (
            confidence is None
            or not 0 <= confidence <= 1
            or any(v is None or v != int(v) for v in whole)
            or any(v is None for v in stamp)
            or any(v is None or not 0 <= v <= 1 for v in flags)
            or any(v is None or not 0 <= v <= 5 for v in values)
        ):
            expected.dropped += 1
            continue
        expected.rows.append((confidence, *values))  # type: ignore[arg-type]
    return expected


def reference_table(data: bytes, header: list[str] | None = None) -> Expected:
    """A strict reading of an AU table: rows as (file, 17 raw intensities); a file's first valid row wins."""
    records = csv_records(data)
    if isinstance(records, str):
        return Expected(refused=records)
    if not records:
        return Expected(refused="empty")
    names = [h.strip().lower() for h in (header if header is not None else records[0])]
    if "file" not in names:
        return Expected(refused="no file column")
    file_column = names.index("file")
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        match = re.fullmatch(r"au(\d\d)(?:_r)?", name)
        if match and i != file_column:
            if name[:4] in columns:
                return Expected(refused="duplicate column")
            columns[name[:4]] = i
    if any(au.lower() not in columns for au in AU_LIST):
        return Expected(refused="missing column")
    expected, seen = Expected(), set()
    for record in records[1:]:
        if len(record) != len(names) or not record[file_column].strip():
            expected.dropped += 1
            continue
        values = [strict_number(record[columns[au.lower()]]) for au in AU_LIST]
        name = record[file_column].strip()
        if any(v is None or not 0 <= v <= 5 for v in values) or name in seen:
            expected.dropped += 1
            continue
        seen.add(name)
        expected.rows.append((name, *values))  # type: ignore[arg-type]
    return expected


def base_file(kind: str, rng: random.Random) -> tuple[list[str], list[list[str]]]:
    """A valid file of ``kind`` (``image``, ``sequence`` OpenFace CSV, or ``table``) as header and rows."""

    def value() -> str:
        return f"{rng.uniform(0, 5):.2f}"

    rows: list[list[str]] = []
    if kind == "table":
        header = ["file", *AU_LIST]
        for i in range(6):
            rows.append([f"img_{i:03d}.png", *(value() for _ in AU_LIST)])
        return header, rows
    head = ["face", "confidence"] if kind == "image" else ["frame", "face_id", "timestamp", "confidence", "success"]
    header = [*head, *(f"{a}_r" for a in AU_LIST), *(f"{a}_c" for a in PRESENCE_LIST)]
    for i in range(6):
        confidence = f"{rng.uniform(0.55, 0.99):.2f}"
        book = [str(i), confidence] if kind == "image" else [str(i + 1), "0", f"{i * 0.04:.3f}", confidence, "1"]
        rows.append([*book, *(value() for _ in AU_LIST), *(str(rng.randint(0, 1)) for _ in PRESENCE_LIST)])
    return header, rows


def serialise(header: list[str], rows: list[list[str]], separator: str = ",", end: str = "\n",
              bom: bool = False, final_end: bool = True) -> bytes:  # fmt: skip
    """The CSV text of ``header`` and ``rows``."""
    text = end.join(separator.join(r) for r in [header, *rows]) + (end if final_end else "")
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


HOSTILE_VALUES = {
    "underscore": ["0_1", "1_5", "2__0", "_1", "1_"],
    "huge": ["1e308", "1e309", "9" * 400, "1" + "0" * 5000, "-0.5", "5.0001", "-1e-9", "1e6"],
    "nan": ["nan", "NaN", "inf", "-inf", "Infinity", "+nan"],
    "unicode digit": ["١.٥", "１.５", "1.５", "²", "𝟏", "٣"],
    "text": ["", " ", "abc", "1.5.2", "1,5", "0x1p0", "1e", "e5", ". ", "1 .5", "--1", "True", "None", "'1.5'"],
    "valid spelling": [" 1.5 ", "1.50e0", "+1.5", ".5", "5.", "0", "-0", "5", "2.500000000000000000001", "\t3.25"],
}
BYTES = [b"0", b"7", b"_", b".", b"-", b"+", b"e", b"a", b",", b'"', b" ", b"\t", b"\n", b"\r", b";", b"\x00", b"\xff",
         "١".encode(), "５".encode(), b"\x1c", "\u00a0".encode(), b"'", b"#", b"\xef\xbb\xbf"]  # fmt: skip


def mutate(kind: str, rng: random.Random) -> tuple[str, bytes, list[str], bool]:
    """A mutated file of ``kind``: (mutation, bytes, the original header, whether it must be refused)."""
    header, rows = base_file(kind, rng)
    value_columns = [i for i, h in enumerate(header) if h in AU_LIST or h.endswith("_r")]
    if kind != "table":
        value_columns += [header.index("confidence")] * 3 + [i for i, h in enumerate(header) if h.endswith("_c")][:3]
        if kind == "sequence":
            value_columns.append(header.index("success"))
    mutation = rng.choice(["flip", "flip", "flip", "truncate", "duplicate column", "value", "value", "value",
                           "blank lines", "bom", "separator", "line ends", "reorder", "extra columns", "header case",
                           "field count", "duplicate row", "degenerate", "encoding", "long field", "header again",
                           "quoted"])  # fmt: skip
    must_refuse = False
    original = list(header)
    if mutation == "flip":
        data = bytearray(serialise(header, rows))
        start = rng.randrange(len(data))
        replacement = rng.choice(BYTES)
        data[start : start + 1] = replacement
        return f"flip byte {start} to {bytes(replacement)!r}", bytes(data), original, False
    if mutation == "truncate":
        data = serialise(header, rows)
        cut = rng.randrange(len(data))
        return f"truncate at byte {cut} of {len(data)}", data[:cut], original, False
    if mutation == "duplicate column":
        column = rng.choice(value_columns if rng.random() < 0.8 else [0])
        header.append(header[column])
        for row in rows:
            row.append(f"{rng.uniform(0, 5):.2f}" if column else row[column])
        # Two columns of one name that the reader uses: which one holds the values is ambiguous.
        must_refuse = kind != "table" or column != 0
        return f"duplicate column {header[column]!r}", serialise(header, rows), original, must_refuse
    if mutation == "value":
        family = rng.choice(list(HOSTILE_VALUES))
        text = rng.choice(HOSTILE_VALUES[family])
        row, column = rng.randrange(len(rows)), rng.choice(value_columns)
        rows[row][column] = f'"{text}"' if "," in text else text
        return f"{family} {text[:20]!r} in {header[column]} of row {row}", serialise(header, rows), original, False
    if mutation == "blank lines":
        lines = serialise(header, rows).decode().split("\n")
        for _ in range(rng.randint(1, 4)):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(["", "   ", ",,,", "\t", ", , ,"]))
        return "blank lines", "\n".join(lines).encode(), original, False
    if mutation == "bom":
        twice = rng.random() < 0.3
        data = serialise(header, rows, bom=True)
        return "two BOMs" if twice else "BOM", ("\ufeff".encode() + data) if twice else data, original, False
    if mutation == "separator":
        separator = rng.choice([", ", ";", "\t", " ,", ",  "])
        return f"separator {separator!r}", serialise(header, rows, separator=separator), original, False
    if mutation == "line ends":
        end = rng.choice(["\r\n", "\r"])
        final = rng.random() < 0.5
        return f"line end {end!r}, final {final}", serialise(header, rows, end=end, final_end=final), original, False
    if mutation == "reorder":
        order = list(range(len(header)))
        rng.shuffle(order)
        shuffled = [[r[i] for i in order] for r in [header, *rows]]
        return "columns reordered", serialise(shuffled[0], shuffled[1:]), original, False
    if mutation == "extra columns":
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(header) + 1)
            header.insert(at, rng.choice(["gaze_0_x", "pose_Rx", "x_0", "AU99_x", "notes", "AU12_d"]))
            for row in rows:
                row.insert(at, rng.choice(["abc", "0_1", "nan", "1e999", "12.5"]))
        return "extra columns", serialise(header, rows), original, False
    if mutation == "header case":
        header = [h.upper() if rng.random() < 0.5 else h.lower() for h in header]
        return "header case changed", serialise(header, rows), original, False
    if mutation == "field count":
        row = rng.randrange(len(rows))
        if rng.random() < 0.5:
            del rows[row][rng.randrange(len(rows[row]))]
        else:
            rows[row].insert(rng.randrange(len(rows[row])), "1.0")
        return f"field count of row {row}", serialise(header, rows), original, False
    if mutation == "duplicate row":
        row = rng.randrange(1, len(rows))
        copy = list(rows[rng.randrange(row)])
        copy[1 if kind == "table" else value_columns[0]] = f"{rng.uniform(0, 5):.2f}"
        rows.insert(row, copy)
        return f"duplicate row at {row}", serialise(header, rows), original, False
    if mutation == "degenerate":
        choice = rng.choice(["empty", "bom only", "blank", "header only", "header without end"])
        data = {"empty": b"", "bom only": b"\xef\xbb\xbf", "blank": b"\n\n  \n", "header only": serialise(header, []),
                "header without end": ",".join(header).encode()}[choice]  # fmt: skip
        return choice, data, original, False
    if mutation == "encoding":
        text = serialise(header, rows).decode()
        if rng.random() < 0.5:
            return "latin-1 text", (text.replace("confidence", "confidencé").replace("file", "filé")
                                    + "é\n").encode("latin-1"), original, False  # fmt: skip
        at = rng.randrange(len(text))
        return "NUL byte", (text[:at] + "\x00" + text[at:]).encode(), original, False
    if mutation == "long field":
        row, column = rng.randrange(len(rows)), rng.choice(value_columns)
        rows[row][column] = "1" * rng.choice([100_000, 200_000])
        return "long field", serialise(header, rows), original, False
    if mutation == "header again":
        rows.insert(rng.randrange(len(rows)), list(header))
        return "header repeated in the rows", serialise(header, rows), original, False
    row = rng.randrange(len(rows))
    rows[row] = [f'"{field}"' for field in rows[row]]
    return "quoted fields", serialise(header, rows), original, False


def judge_read(kind: str, data: bytes, header: list[str], must_refuse: bool, path: Path,
               read: Callable[[Path], Any]) -> Verdict:  # fmt: skip
    """Read ``data`` with the library and judge the rows it returns against the reference reader."""
    from ganimation_lib.data import DataFormatError

    reference = reference_table if kind == "table" else reference_openface
    expected = reference(data)
    path.write_bytes(data)
    try:
        result = read(path)
    except DataFormatError as error:
        if path.name not in str(error):
            return UNCLEAR, f"DataFormatError not naming the file: {error}", 0
        note = "" if expected.refused or must_refuse else " (the reference reads it)"
        return CLEAR, f"refused{note}: {str(error)[:120]}", 0
    except Exception as error:
        return judge_error(error, [path.name])
    if kind == "table":
        got = [(f, *map(float, v)) for f, v in zip(result.files, result.values, strict=True)]
        reported = len(result.skipped)
    else:
        got = [(face.confidence, *map(float, face.intensities)) for face in result.faces]
        reported = len(result.skipped) + len(result.failed) + len(result.low_confidence)
    if must_refuse and got:
        return SILENT, f"read {len(got)} rows of a file with two columns of one name", 0
    allowed = set(expected.rows)
    if expected.refused:  # the header is damaged for the reference: judge the rows as the original header says
        allowed |= set(reference(data, header).rows)
    wrong = [row for row in got if row not in allowed]
    if wrong:
        return SILENT, f"returned {wrong[0]!r}, which the file does not say (reference: {expected.refused or 'ok'})", 0
    missing = len(set(expected.rows) - set(got))
    if missing and not reported:
        return SILENT, f"{missing} valid rows left out without a report", 0
    return (CLEAR, f"{reported} rows reported", 0) if reported else (CORRECT, f"{len(got)} rows", 0)


def csv_fuzz_trials(ctx: Context, rng: random.Random) -> list[Trial]:
    """Library trials of category 3: fuzzed reads, and prepare_openface on folders of fuzzed CSVs."""
    from ganimation_lib.data import read_au_table, read_openface_csv

    folder = ctx.scratch / "fuzz"
    count = 120 if ctx.quick else 600
    trials: list[Trial] = []
    for i in range(count):
        kind = ("image", "sequence", "table")[i % 3]
        mutation, data, header, must_refuse = mutate(kind, rng)
        path = folder / f"{kind}-{i:04d}.csv"

        def read(p: Path, kind: str = kind) -> Any:
            return read_au_table(p, AU_LIST) if kind == "table" else read_openface_csv(p)

        def trial(kind: str = kind, data: bytes = data, header: list[str] = header, must: bool = must_refuse,
                  path: Path = path, read: Callable[[Path], Any] = read) -> Verdict:  # fmt: skip
            path.parent.mkdir(parents=True, exist_ok=True)
            return judge_read(kind, data, header, must, path, read)

        trials.append((FUZZ, f"{kind} #{i}: {mutation}", trial))
    for j in range(1 if ctx.quick else 4):
        images = ctx.scratch / "prepare" / f"set{j}" / "imgs"
        cases = [mutate("image", rng) for _ in range(25)]
        trials += prepare_trials(images, cases)
    return trials


def write_prepare_folder(images: Path, cases: list[tuple[str, bytes, list[str], bool]]) -> None:
    """Images ``face_NNN.png`` with their mutated OpenFace CSVs ``face_NNN.csv``."""
    from PIL import Image

    images.mkdir(parents=True, exist_ok=True)
    for n, (_, data, _, _) in enumerate(cases):
        Image.new("RGB", (8, 8), (n, 100, 200)).save(images / f"face_{n:03d}.png")
        (images / f"face_{n:03d}.csv").write_bytes(data)


def judge_prepared(table_path: Path, cases: list[tuple[str, bytes, list[str], bool]]) -> list[Verdict]:
    """One verdict per image: its row in the written AU table against the reference (first face, conf >= 0.5)."""
    from ganimation_lib.data import read_au_table

    table = read_au_table(table_path, AU_LIST).as_dict() if table_path.exists() else {}
    verdicts = []
    for n, (_, data, header, must_refuse) in enumerate(cases):
        name = f"face_{n:03d}.png"
        expected = reference_openface(data)
        options = [r for r in expected.rows if r[0] >= 0.5][:1]
        if expected.refused:
            options += [r for r in reference_openface(data, header).rows if r[0] >= 0.5][:1]
        row = table.get(name)
        if row is None:
            verdicts.append((CLEAR, "not in the table (counted in the summary)", 0))
        elif must_refuse:
            verdicts.append((SILENT, "a file with two columns of one name was used", 0))
        elif not any(all(abs(a - b) <= 5e-5 for a, b in zip(row, o[1:], strict=True)) for o in options):
            verdicts.append((SILENT, f"wrote {list(row)[:3]}..., the file says {[o[1:4] for o in options]}", 0))
        else:
            verdicts.append((CORRECT, "", 0))
    return verdicts


def prepare_trials(images: Path, cases: list[tuple[str, bytes, list[str], bool]]) -> list[Trial]:
    """prepare_openface over a folder of fuzzed CSVs: one trial per image (the first trial runs it)."""
    from ganimation_lib.data import prepare_openface

    verdicts: list[Verdict] = []

    def run_all() -> None:
        write_prepare_folder(images, cases)
        table = images.parent / "aus.csv"
        try:
            summary = prepare_openface(images, output=table, progress=False)
        except Exception as error:
            verdicts.extend([judge_error(error, [images.name])] * len(cases))
            return
        verdicts.extend(judge_prepared(table, cases))
        if summary.total != len(cases):
            verdicts[0] = (SILENT, f"the summary counts {summary.total} images of {len(cases)}", 0)

    def trial(n: int) -> Verdict:
        if not verdicts:
            run_all()
        return verdicts[n]

    return [(FUZZ_PREPARE, f"prepare_openface {images.parent.name} face {n} ({cases[n][0]})", lambda n=n: trial(n))
            for n in range(len(cases))]  # fmt: skip


def prepare_cli_trials(ctx: Context) -> list[tuple[str, Callable[[], list[Verdict]]]]:
    """``ganimation prepare`` (and ``animate --drive``) on fuzzed CSVs; each returns one verdict per CSV."""
    rng = random.Random(ctx.seed + 3)
    out: list[tuple[str, Callable[[], list[Verdict]]]] = []
    for j in range(1 if ctx.quick else 2):
        images = ctx.scratch / "prepare-cli" / f"set{j}" / "imgs"
        cases = [mutate("image", rng) for _ in range(25)]

        def trial(images: Path = images, cases: list[tuple[str, bytes, list[str], bool]] = cases) -> list[Verdict]:
            write_prepare_folder(images, cases)
            table = images.parent / "aus.csv"
            result = run_cli(["prepare", str(images), "--output", str(table), "--quiet"])
            verdict = judge_cli(result, [images.name])
            if verdict is not None:
                return [verdict] * len(cases)
            return judge_prepared(table, cases)

        out.append((f"ganimation prepare set{j}", trial))
    drives = [] if ctx.quick else [mutate("sequence", rng) for _ in range(6)]
    for k, (mutation, data, _, _) in enumerate(drives):

        def drive(k: int = k, data: bytes = data) -> list[Verdict]:
            folder = ctx.scratch / "drive" / str(k)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "drive.csv").write_bytes(data)
            result = run_cli(["animate", str(ctx.model), str(ctx.face), "--drive", str(folder / "drive.csv"),
                              "-o", str(folder / "out.gif"), "--quiet"])  # fmt: skip
            verdict = judge_cli(result, ["drive.csv"])
            return [verdict if verdict is not None else (CORRECT, "animated", 0)]

        out.append((f"ganimation animate --drive ({mutation})", drive))
    return out


# -------------------------------------------------------------------------------------------- 4. bad images

IMAGES = "bad images"


def image_folder(ctx: Context) -> Path:
    """Where the image files are written (shared with the command-line trials)."""
    return ctx.scratch / "images"


def make_images(ctx: Context) -> dict[str, Path]:
    """Write the good, odd and broken image files; return them by name."""
    import numpy as np
    from PIL import Image

    folder = image_folder(ctx)
    shutil.rmtree(folder, ignore_errors=True)  # a restarted worker writes them again
    folder.mkdir(parents=True)
    rng = np.random.default_rng(ctx.seed)
    ys, xs = np.mgrid[0:40, 0:48]
    picture = np.stack([xs * 5, ys * 6, (xs + ys) * 3], axis=2).astype(np.uint8)
    picture[5:12, 30:40] = rng.integers(0, 255, (7, 10, 3), dtype=np.uint8)  # an asymmetric mark
    made: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **options: Any) -> None:
        image.save(folder / name, **options)
        made[name] = folder / name

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        made[name] = folder / name

    good = Image.fromarray(picture)
    save("good.png", good)
    save("good.jpg", good, quality=95)
    jpeg, png = (folder / "good.jpg").read_bytes(), (folder / "good.png").read_bytes()
    write("truncated-half.jpg", jpeg[: len(jpeg) // 2])
    write("truncated-90.jpg", jpeg[: int(len(jpeg) * 0.9)])
    write("truncated-header.jpg", jpeg[:300])
    write("truncated.png", png[: len(png) * 2 // 3])
    write("empty.png", b"")
    write("empty.jpg", b"")
    write("garbage.png", bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
    write("text.jpg", b"not an image at all\n")
    broken = bytearray(png)
    broken[29] ^= 0xFF  # the IHDR checksum
    write("bad-crc.png", bytes(broken))
    write("huge-10000x10000.png", png_bytes(10_000, 10_000, 8, 0, (bytes(10_000) for _ in range(10_000))))
    sof = jpeg.index(b"\xff\xc0")
    write("huge-header.jpg", jpeg[: sof + 5] + struct.pack(">HH", 10_000, 10_000) + jpeg[sof + 9 :])
    save("cmyk.jpg", good.convert("CMYK"), quality=95)
    save("la.png", Image.merge("LA", [good.convert("L"), Image.new("L", good.size, 90)]))
    save("p.png", good.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    save("p-transparent.png", good.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), transparency=3)
    save("one-bit.png", good.convert("1"))
    save("rgba.png", Image.merge("RGBA", [*good.split(), Image.new("L", good.size, 0)]))
    grey = np.asarray(good.convert("L"))
    save("grey8.png", Image.fromarray(grey))
    save("grey16.png", Image.fromarray(grey.astype(np.uint16) * 257))
    deep = rng.integers(0, 65536, grey.shape, dtype=np.uint16)
    np.save(folder / "deep.npy", deep)
    save("grey16-random.png", Image.fromarray(deep))
    rgb16 = rng.integers(0, 65536, (*grey.shape, 3), dtype=np.uint16)
    np.save(folder / "rgb16.npy", rgb16)
    write("rgb16.png", png_bytes(48, 40, 16, 2, (r.astype(">u2").tobytes() for r in rgb16)))
    la16 = np.stack([deep, np.full_like(deep, 40000)], axis=2)
    write("la16.png", png_bytes(48, 40, 16, 4, (r.astype(">u2").tobytes() for r in la16)))
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}  # fmt: skip
    for orientation, method in inverse.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(f"exif-{orientation}.png", good.transpose(method), exif=exif)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif-6.jpg", good.transpose(Image.Transpose.ROTATE_90), exif=exif, quality=95)
    return made


def image_trials(ctx: Context) -> list[Trial]:
    """Library trials of category 4."""
    made: dict[str, Path] = {}

    def paths() -> dict[str, Path]:
        if not made:
            made.update(make_images(ctx))
        return made

    def build() -> Verdict:
        return CORRECT, f"{len(paths())} image files written", 0

    def tensor(name: str) -> Any:
        from PIL import Image

        from ganimation_lib.inference import to_tensor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return to_tensor(Image.open(paths()[name]))

    def generator() -> Any:
        from ganimation_lib import Generator

        return Generator.from_pretrained(ctx.model)

    def broken(name: str, how: str) -> Verdict:
        from PIL import Image

        from ganimation_lib.data import load_image
        from ganimation_lib.inference import edit

        path = paths()[name]
        if how == "load_image":
            return refused(lambda: load_image(path, 32), [name])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opened = Image.open(path)
        except Exception:
            return CLEAR, "Pillow itself cannot open it (the user's own Image.open)", 0
        if how == "to_tensor":
            return refused(lambda: tensor(name), [name])
        return refused(lambda: edit(generator(), opened, "happy"), [name])

    def equal(name: str, reference: Callable[[], Any], tolerance: float = 0.0) -> Verdict:
        got, want = tensor(name), reference()
        if got.shape != want.shape:
            return SILENT, f"shape {tuple(got.shape)}, expected {tuple(want.shape)}", 0
        error = float((got - want).abs().max())
        if error > tolerance + 1e-6:
            return SILENT, f"differs by {error * 127.5:.2f} levels (allowed {tolerance * 127.5:.1f})", 0
        return CORRECT, f"max difference {error * 127.5:.2f} levels", 0

    def converted(name: str, mode_reference: Callable[[Any], Any]) -> Callable[[], Any]:
        def reference() -> Any:
            from PIL import Image

            from ganimation_lib.inference import to_tensor

            return to_tensor(mode_reference(Image.open(paths()[name])))

        return reference

    def plain(name: str) -> Callable[[], Any]:
        def reference() -> Any:
            from PIL import Image

            from ganimation_lib.inference import to_tensor

            return to_tensor(Image.open(paths()[name]).convert("RGB"))

        return reference

    def of_array(load: Callable[[], Any]) -> Callable[[], Any]:
        def reference() -> Any:
            from ganimation_lib.inference import to_tensor

            return to_tensor(load())

        return reference

    def deep_grey() -> Any:
        import numpy as np

        deep = np.load(image_folder(ctx) / "deep.npy").astype(np.float64)
        return np.rint(deep / 257).astype(np.uint8)

    def deep_rgb() -> Any:
        import numpy as np

        return np.rint(np.load(image_folder(ctx) / "rgb16.npy").astype(np.float64) / 257).astype(np.uint8)

    def same_edit(name: str, reference: str) -> Verdict:
        import numpy as np
        from PIL import Image

        from ganimation_lib.inference import edit

        model = generator()
        first = np.asarray(edit(model, Image.open(paths()[name]), "happy"))
        second = np.asarray(edit(model, Image.open(paths()[reference]), "happy"))
        if first.shape != second.shape or not np.array_equal(first, second):
            return SILENT, f"edit differs from that of {reference}", 0
        return CORRECT, f"edit equals that of {reference}", 0

    def same_load(name: str, reference: str) -> Verdict:
        import torch

        from ganimation_lib.data import load_image

        if not torch.equal(load_image(paths()[name], 32), load_image(paths()[reference], 32)):
            return SILENT, f"load_image differs from that of {reference}", 0
        return CORRECT, "", 0

    def exif_jpeg() -> Verdict:
        from PIL import Image

        from ganimation_lib.inference import to_tensor

        got, want = tensor("exif-6.jpg"), to_tensor(Image.open(paths()["good.png"]))
        if got.shape != want.shape:
            return SILENT, f"shape {tuple(got.shape)}, expected {tuple(want.shape)} (orientation not applied)", 0
        error = float((got - want).abs().mean())
        return (CORRECT, f"mean difference {error:.3f}", 0) if error < 0.05 else (SILENT, f"mean diff {error:.3f}", 0)

    trials: list[Trial] = [(IMAGES, "write the image files", build)]
    bad = ["truncated-half.jpg", "truncated-90.jpg", "truncated-header.jpg", "truncated.png", "empty.png", "empty.jpg",
           "garbage.png", "text.jpg", "bad-crc.png", "huge-10000x10000.png", "huge-header.jpg"]  # fmt: skip
    for name in bad:
        trials.append((IMAGES, f"load_image({name})", lambda n=name: broken(n, "load_image")))
    for name in ["truncated-half.jpg", "truncated-90.jpg", "truncated.png", "huge-10000x10000.png", "huge-header.jpg"]:
        trials.append((IMAGES, f"to_tensor(Image.open({name}))", lambda n=name: broken(n, "to_tensor")))
        trials.append((IMAGES, f"edit(Image.open({name}))", lambda n=name: broken(n, "edit")))
    trials += [
        (IMAGES, "to_tensor(cmyk.jpg)", lambda: equal("cmyk.jpg", plain("cmyk.jpg"))),
        (IMAGES, "to_tensor(la.png)", lambda: equal("la.png", converted("la.png", lambda i: i.getchannel(0)))),
        (IMAGES, "to_tensor(p.png)", lambda: equal("p.png", plain("p.png"))),
        (IMAGES, "to_tensor(p-transparent.png)", lambda: equal("p-transparent.png", plain("p-transparent.png"))),
        (IMAGES, "to_tensor(one-bit.png)", lambda: equal("one-bit.png", plain("one-bit.png"))),
        (IMAGES, "to_tensor(rgba.png) drops alpha", lambda: equal("rgba.png", plain("good.png"))),
        (IMAGES, "to_tensor(grey16.png) = 8-bit", lambda: equal("grey16.png", plain("grey8.png"))),
        (
            IMAGES,
            "to_tensor(grey16-random.png) within 1 level",
            lambda: equal("grey16-random.png", of_array(deep_grey), 2 / 255),
        ),
        (IMAGES, "to_tensor(rgb16.png) within 1 level", lambda: equal("rgb16.png", of_array(deep_rgb), 2 / 255)),
        (IMAGES, "to_tensor(la16.png) within 1 level", lambda: equal("la16.png", of_array(deep_grey), 2 / 255)),
        (IMAGES, "load_image(grey16.png) = 8-bit", lambda: same_load("grey16.png", "grey8.png")),
        (IMAGES, "edit(grey16.png) = 8-bit", lambda: same_edit("grey16.png", "grey8.png")),
        (IMAGES, "to_tensor(exif-6.jpg) upright", exif_jpeg),
    ]
    for orientation in range(2, 9):
        name = f"exif-{orientation}.png"
        trials.append((IMAGES, f"to_tensor({name}) upright", lambda n=name: equal(n, plain("good.png"))))
    trials.append((IMAGES, "load_image(exif-6.png) upright", lambda: same_load("exif-6.png", "good.png")))
    trials.append((IMAGES, "edit(exif-8.png) upright", lambda: same_edit("exif-8.png", "good.png")))
    trials += dataset_trials(ctx, paths)
    return trials


def dataset_trials(ctx: Context, paths: Callable[[], dict[str, Path]]) -> list[Trial]:
    """AUDataset over a folder of every image file: good ones kept with the right pixels, bad ones counted."""
    verdicts: dict[str, Verdict] = {}
    names = ["good.png", "good.jpg", "truncated-half.jpg", "truncated-90.jpg", "truncated.png", "empty.png",
             "garbage.png", "bad-crc.png", "huge-10000x10000.png", "huge-header.jpg", "cmyk.jpg", "la.png", "p.png",
             "grey16.png", "rgb16.png", "exif-6.png", "exif-5.png"]  # fmt: skip
    unreadable = {"truncated-half.jpg", "truncated-90.jpg", "truncated.png", "empty.png", "garbage.png", "bad-crc.png",
                  "huge-10000x10000.png", "huge-header.jpg"}  # fmt: skip
    same_as = {"grey16.png": "grey8.png", "exif-6.png": "good.png", "exif-5.png": "good.png"}

    def run_all() -> None:
        import torch

        from ganimation_lib.data import AUDataset, load_image

        files = paths()
        root = ctx.scratch / "image-dataset"
        shutil.rmtree(root, ignore_errors=True)
        (root / "imgs").mkdir(parents=True)
        rows = []
        for n, name in enumerate(names):
            shutil.copy(files[name], root / "imgs" / name)
            rows.append(",".join([name, *(f"{(n * 0.1 + i * 0.01) % 5:.2f}" for i in range(17))]))
        (root / "aus.csv").write_text("file," + ",".join(AU_LIST) + "\n" + "\n".join(rows) + "\n")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = AUDataset(root, image_size=32)
        except Exception as error:
            verdicts.update({n: judge_error(error, []) for n in names})
            return
        counted = dataset.report.unreadable_images == len(unreadable)
        kept = list(dataset.files)
        for name in names:
            if name in unreadable:
                ok = name not in kept and counted
                verdicts[name] = (CLEAR, "skipped and counted", 0) if ok else (SILENT, f"kept={name in kept}, "
                                  f"{dataset.report.unreadable_images} counted unreadable", 0)  # fmt: skip
            elif name not in kept:
                verdicts[name] = (SILENT, "a readable image was dropped", 0)
            else:
                item = dataset[kept.index(name)].image
                want = load_image(files[same_as.get(name, name)], 32)
                differ = (SILENT, f"pixels differ from {same_as.get(name, name)}", 0)
                verdicts[name] = (CORRECT, "", 0) if torch.equal(item, want) else differ

    def trial(name: str) -> Verdict:
        if not verdicts:
            run_all()
        return verdicts[name]

    return [(IMAGES, f"AUDataset with {name}", lambda n=name: trial(n)) for name in names]


def image_cli_trials(ctx: Context) -> list[tuple[str, Callable[[], Verdict]]]:
    """``ganimation edit`` on bad and odd image files."""
    folder = image_folder(ctx)
    out = ctx.scratch / "image-out"

    def edit(name: str) -> Completed:
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        return run_cli(["edit", str(ctx.model), str(folder / name), "--expression", "happy", "-o",
                        str(target / "out.png")])  # fmt: skip

    def bad(name: str) -> Verdict:
        result = edit(name)
        verdict = judge_cli(result, [name]) or (SILENT, "edited", 0)
        left = len(hidden_entries(out / name)) + (1 if (out / name / "out.png").exists() else 0)
        return verdict[0], verdict[1], left

    def same(name: str, reference: str) -> Verdict:
        first, second = edit(name), edit(reference)
        for result in (first, second):
            verdict = judge_cli(result, [])
            if verdict is not None:
                return (TRACEBACK if verdict[0] == TRACEBACK else SILENT), f"refused: {verdict[1]}", 0
        a, b = (out / name / "out.png").read_bytes(), (out / reference / "out.png").read_bytes()
        return (CORRECT, "same output", 0) if a == b else (SILENT, f"output differs from {reference}'s", 0)

    names = ["truncated-half.jpg", "empty.png", "huge-10000x10000.png", "garbage.png", "huge-header.jpg"]
    trials: list[tuple[str, Callable[[], Verdict]]] = [(f"ganimation edit {n}", lambda n=n: bad(n)) for n in names]
    trials.append(("ganimation edit grey16.png = grey8.png", lambda: same("grey16.png", "grey8.png")))
    trials.append(("ganimation edit exif-6.png = good.png", lambda: same("exif-6.png", "good.png")))
    return trials[:1] if ctx.quick else trials


# --------------------------------------------------------------------------------- 5. full disk, read-only

DISK = "full disk / read-only folder"


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Make writes past ``limit`` bytes fail with EFBIG in this process (SIGXFSZ ignored) for the block."""
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def write_failure_trials(ctx: Context) -> list[Trial]:
    """Library trials of category 5 (in-process file-size limits)."""
    folder = ctx.scratch / "disk-library"

    def expect_write_error(call: Callable[[], object], names: list[str]) -> Verdict:
        from ganimation_lib import OutputWriteError

        try:
            call()
        except OutputWriteError as error:
            return judge_error(error, names)
        except Exception as error:
            verdict = judge_error(error, names)
            return (TRACEBACK if verdict[0] == CLEAR else verdict[0]), f"not OutputWriteError: {verdict[1]}", 0
        return SILENT, "the write succeeded past the limit", 0

    def save_pretrained_over() -> Verdict:
        import torch

        from ganimation_lib import Generator

        model = Generator.from_pretrained(ctx.model)
        target = folder / "model"
        model.save_pretrained(target)
        before = digest(target)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        with file_size_limit(50_000):
            verdict = expect_write_error(lambda: model.save_pretrained(target), ["model"])
        left = len(hidden_entries(folder))
        if digest(target) != before:
            return SILENT, "the previous model was changed", left
        Generator.from_pretrained(target)
        return verdict[0], verdict[1], left

    def au_table() -> Verdict:
        from ganimation_lib.data import write_au_table

        target = folder / "aus.csv"
        rows = {f"img_{i}.png": [1.0] * 17 for i in range(200)}
        with file_size_limit(2000):
            verdict = expect_write_error(lambda: write_au_table(target, rows), ["aus.csv"])
        left = len(hidden_entries(folder)) + (1 if target.exists() else 0)
        return verdict[0], verdict[1], left

    def training_state() -> Verdict:
        import torch

        from ganimation_lib.training import load_training_state, save_training_state

        target = folder / "step-000000001.pt"
        save_training_state({"format": "tour", "step": 1, "w": torch.ones(10)}, target)
        before = digest(target)
        with file_size_limit(100_000):
            state = {"format": "tour", "step": 1, "w": torch.zeros(100_000)}
            verdict = expect_write_error(lambda: save_training_state(state, target), ["step-000000001.pt"])
        left = len(hidden_entries(folder))
        if digest(target) != before or load_training_state(target)["w"].numel() != 10:
            return SILENT, "the previous checkpoint was changed", left
        return verdict[0], verdict[1], left

    def image() -> Verdict:
        from PIL import Image

        from ganimation_lib.inference import save_image

        target = folder / "edited.png"
        picture = Image.effect_noise((256, 256), 50).convert("RGB")
        with file_size_limit(1000):
            verdict = expect_write_error(lambda: save_image(picture, target), ["edited.png"])
        return verdict[0], verdict[1], len(hidden_entries(folder)) + (1 if target.exists() else 0)

    def build() -> Verdict:
        folder.mkdir(parents=True, exist_ok=True)
        return CORRECT, "", 0

    trials: list[Trial] = [
        (DISK, "library: save_pretrained over a saved model, disk full", save_pretrained_over),
        (DISK, "library: write_au_table, disk full", au_table),
        (DISK, "library: save_training_state over a checkpoint, disk full", training_state),
        (DISK, "library: save_image, disk full", image),
    ]
    build()
    return trials if not ctx.quick else trials[:2]


def disk_cli_trials(ctx: Context) -> list[tuple[str, Callable[[], Verdict]]]:
    """Command-line trials of category 5: RLIMIT_FSIZE, and folders an unprivileged user cannot write."""
    root = ctx.scratch / "disk"
    checkpoint_size = max(p.stat().st_size for p in (ctx.reference / "checkpoints").glob("step-*.pt"))

    def copy_run(name: str) -> Path:
        run = root / name
        shutil.copytree(ctx.reference, run)
        return run

    def judged(result: Completed, names: list[str], intact: dict[Path, dict[str, str]], watch: Path,
               absent: Sequence[Path] = ()) -> Verdict:  # fmt: skip
        verdict = judge_cli(result, names) or (SILENT, "exit 0: the write succeeded past the limit", 0)
        if result.code == 2:  # a full disk is exit 1 (OutputWriteError); 2 is a usage or data error
            verdict = (UNCLEAR, f"exit 2, not 1: {verdict[1]}", 0)
        changed = [str(p) for p, before in intact.items() if digest(p) != before]
        if changed:
            verdict = (SILENT, f"changed what was there before: {changed}", 0)
        left = len(hidden_entries(watch)) + sum(1 for p in absent if p.exists())
        return verdict[0], verdict[1], left

    def checkpoints(run: Path) -> dict[Path, dict[str, str]]:
        return {p: digest(p) for p in (run / "checkpoints").glob("step-*.pt")}

    def train_fresh(limit: int) -> Verdict:
        run = root / f"fresh-{limit}"
        result = run_cli(train_args(ctx, run, 4), fsize=limit)
        return judged(result, ["run_config.json", str(run)], {}, root)

    def train_resume(limit: int, what: str) -> Verdict:
        run = copy_run(f"resume-{limit}")
        intact = checkpoints(run)
        result = run_cli(train_args(ctx, run, ctx.steps + 4, "--resume"), fsize=limit)
        return judged(result, [what], intact, run)

    def train_logs() -> Verdict:
        run = copy_run("logs")
        intact = checkpoints(run)
        size = (run / "logs" / "metrics.jsonl").stat().st_size
        result = run_cli(train_args(ctx, run, ctx.steps + 4, "--resume"), fsize=size + 300)
        verdict = judged(result, ["metrics.jsonl", "train.csv", "validation.csv", "logs"], intact, run)
        half = [p.name for p in (run / "logs").iterdir() if p.is_file() and not p.read_bytes().endswith(b"\n")]
        if half:  # "nothing was half-written" holds for appended logs too
            verdict = (SILENT, f"half a line left at the end of {half}", verdict[2])
        again = run_cli(train_args(ctx, run, ctx.steps + 4, "--resume"))  # space freed: the run goes on
        if again.code != 0:
            return (judge_cli(again, []) or (SILENT, "", 0))[0], f"the resume after freeing space failed: " \
                   f"{again.stderr.strip()[-200:]}", verdict[2]  # fmt: skip
        return verdict

    def prepare() -> Verdict:
        images = root / "prepare" / "imgs"
        write_prepare_folder(images, [mutate("image", random.Random(n)) for n in range(5)])
        table = images.parent / "aus.csv"
        return judged(run_cli(["prepare", str(images), "--output", str(table), "--quiet"], fsize=0), ["aus.csv"], {},
                      images.parent, [table])  # fmt: skip

    def edit(limit: int) -> Verdict:
        target = root / f"edit-{limit}" / "out.png"
        target.parent.mkdir(parents=True)
        args = ["edit", str(ctx.model), str(ctx.face), "--expression", "happy", "-o", str(target)]
        return judged(run_cli(args, fsize=limit), ["out.png"], {}, target.parent, [target])

    def animate() -> Verdict:
        target = root / "animate" / "out.gif"
        target.parent.mkdir(parents=True)
        args = ["animate", str(ctx.model), str(ctx.face), "--keyframes", "neutral,happy", "-o", str(target), "--quiet"]
        return judged(run_cli(args, fsize=500), ["out.gif"], {}, target.parent, [target])

    def convert(overwrite: bool) -> Verdict:
        target = root / f"convert-{overwrite}" / "model"
        intact: dict[Path, dict[str, str]] = {}
        if overwrite:
            shutil.copytree(ctx.model, target)
            intact = {target: digest(target)}
        source = ctx.reference / "checkpoints" / sorted(p.name for p in (ctx.reference / "checkpoints").iterdir())[0]
        args = ["convert", str(source), str(target), "--kind", "generator", "--quiet"]
        args += ["--overwrite"] if overwrite else []
        return judged(run_cli(args, fsize=20_000), ["model"], intact, target.parent, [] if overwrite else [target])

    def synthetic() -> Verdict:
        target = root / "synthetic"
        args = ["synthetic", "--write", str(target), "--size", "32", "--identities", "2", "--items-per-identity", "1"]
        return judged(run_cli(args, fsize=100), ["synthetic"], {}, target)

    def evaluate() -> Verdict:
        target = root / "evaluate"
        args = ["evaluate", str(ctx.model), "synthetic", "--num-faces", "2", "--regressor-steps", "2", "--output",
                str(target), "--no-progress", "--device", "cpu"]  # fmt: skip
        return judged(run_cli(args, fsize=1000), ["evaluate"], {}, target)

    trials: list[tuple[str, Callable[[], Verdict]]] = [
        ("ganimation train, disk full from the start (RLIMIT_FSIZE 0)", lambda: train_fresh(0)),
        ("ganimation train --resume, disk full at a checkpoint (200 kB)", lambda: train_resume(200_000, "step-")),
        (
            "ganimation train --resume, disk full at a checkpoint's end",
            lambda: train_resume(checkpoint_size - 16, "step-"),
        ),
        ("ganimation train --resume, disk full at a log line, then resumed", train_logs),
        ("ganimation prepare, disk full", prepare),
        ("ganimation edit, disk full", lambda: edit(200)),
        ("ganimation animate, disk full", animate),
        ("ganimation convert, disk full", lambda: convert(False)),
        ("ganimation convert --overwrite, disk full", lambda: convert(True)),
        ("ganimation synthetic --write, disk full", synthetic),
        ("ganimation evaluate, disk full", evaluate),
    ]
    if ctx.quick:
        trials = trials[1:2]
    return trials + read_only_trials(ctx, root)


def read_only_trials(ctx: Context, root: Path) -> list[tuple[str, Callable[[], Verdict]]]:
    """Folders the user cannot write: as ``nobody`` via setpriv when running as root, else with chmod."""
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        return []
    nobody = as_root

    def owned(path: Path, by_user: bool) -> None:
        """Give ``path`` (recursively) to the trial's user, or make it read-only for them."""
        for p in [path, *path.rglob("*")]:
            if nobody:
                os.chown(p, NOBODY if by_user else 0, NOBODY if by_user else 0)
            elif p.is_dir():
                p.chmod(0o755 if by_user else 0o555)

    def judged(result: Completed, names: list[str], intact: dict[Path, dict[str, str]], watch: Path) -> Verdict:
        verdict = judge_cli(result, names) or (SILENT, "exit 0: wrote into a read-only folder?", 0)
        if result.code == 2:
            verdict = (UNCLEAR, f"exit 2, not 1: {verdict[1]}", 0)
        changed = [str(p) for p, before in intact.items() if digest(p) != before]
        if changed:
            verdict = (SILENT, f"changed what was there before: {changed}", 0)
        return verdict[0], verdict[1], len(hidden_entries(watch))

    def prepared(name: str) -> Path:
        run = root / f"ro-{name}"
        shutil.copytree(ctx.reference, run)
        owned(run, True)
        return run

    def checkpoints() -> Verdict:
        run = prepared("checkpoints")
        owned(run / "checkpoints", False)
        intact = {p: digest(p) for p in (run / "checkpoints").glob("step-*.pt")}
        result = run_cli(train_args(ctx, run, ctx.steps + 4, "--resume"), as_nobody=nobody)
        return judged(result, ["checkpoints"], intact, run)

    def export() -> Verdict:
        run = prepared("export")
        owned(run / "generator", False)
        intact = {run / "generator": digest(run / "generator")}
        result = run_cli(train_args(ctx, run, ctx.steps + 2, "--resume"), as_nobody=nobody)
        return judged(result, ["generator"], intact, run)

    def locked_folder(name: str) -> Path:
        folder = root / f"ro-{name}"
        folder.mkdir()
        owned(folder, False)
        return folder

    def train_output() -> Verdict:
        folder = locked_folder("output")
        result = run_cli(train_args(ctx, folder / "run", 4), as_nobody=nobody)
        return judged(result, [str(folder / "run")], {}, folder)

    def edit_output() -> Verdict:
        folder = locked_folder("edit")
        args = ["edit", str(ctx.model), str(ctx.face), "--expression", "happy", "-o", str(folder / "out.png")]
        return judged(run_cli(args, as_nobody=nobody), ["out.png"], {}, folder)

    def convert_output() -> Verdict:
        folder = locked_folder("convert")
        args = ["convert", str(ctx.model), str(folder / "model"), "--quiet"]
        return judged(run_cli(args, as_nobody=nobody), ["model"], {}, folder)

    how = "as nobody" if nobody else "chmod"
    trials: list[tuple[str, Callable[[], Verdict]]] = [
        (f"read-only checkpoints/ ({how}): ganimation train --resume", checkpoints),
        (f"read-only generator/ ({how}): the export of ganimation train", export),
        (f"read-only folder ({how}): ganimation train --output", train_output),
        (f"read-only folder ({how}): ganimation edit -o", edit_output),
        (f"read-only folder ({how}): ganimation convert", convert_output),
    ]
    return trials[:1] if ctx.quick else trials


# ------------------------------------------------------------------------------------------------ main


def run_cli_trials(tally: Tally, row: str, trials: Sequence[tuple[str, Callable[[], Verdict]]], jobs: int) -> None:
    """Run independent command-line trials, ``jobs`` at a time."""

    def one(trial: tuple[str, Callable[[], Verdict]]) -> tuple[str, Verdict]:
        name, call = trial
        try:
            return name, call()
        except Exception as error:
            return name, (TRACEBACK, f"the trial itself failed: {type(error).__name__}: {error}", 0)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, verdict in pool.map(one, trials):
            tally.add(row, name, verdict)


def main() -> int:
    """Run the tour and print the table; the exit code is 1 when anything that must be zero is not."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer trials of each kind (under a minute)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (kill moments, mutations)")
    parser.add_argument("--jobs", type=int, default=2, help="command-line trials run at once (default 2)")
    parser.add_argument("--verbose", action="store_true", help="list every trial that was not fine")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(Context.from_json(args.worker), args.skip)
        return 0

    started = time.perf_counter()
    tally = Tally()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="fault-tour-") as temporary:
        scratch = Path(temporary)
        scratch.chmod(0o755)  # the read-only trials run as another user, who must reach the data and the model
        ctx = set_up(scratch, args.seed, args.quick)
        print(f"set-up: data and a {ctx.steps}-step reference run in {time.perf_counter() - started:.0f} s", flush=True)
        for name in ("SIGKILL during writes", "resume after SIGKILL: bit-identical", HOSTILE, HOSTILE_CLI, FUZZ,
                     FUZZ_PREPARE, IMAGES, DISK):  # fmt: skip
            tally.row(name)
        sigkill_tour(ctx, tally, rng)
        print(f"1. SIGKILL: done at {time.perf_counter() - started:.0f} s", flush=True)
        run_worker(ctx, tally)
        print(f"2-5. library trials: done at {time.perf_counter() - started:.0f} s", flush=True)
        run_cli_trials(tally, HOSTILE_CLI, hostile_cli_trials(ctx), args.jobs)
        for name, call in prepare_cli_trials(ctx):
            for n, verdict in enumerate(call()):
                tally.add(FUZZ_PREPARE, f"{name} #{n}", verdict)
        run_cli_trials(tally, IMAGES, image_cli_trials(ctx), args.jobs)
        run_cli_trials(tally, DISK, disk_cli_trials(ctx), args.jobs)
        print(f"2-5. command-line trials: done at {time.perf_counter() - started:.0f} s", flush=True)
        if os.geteuid() == 0:
            for path in scratch.rglob("*"):  # files the unprivileged user wrote: make sure they can be removed
                with contextlib.suppress(OSError):
                    os.chown(path, 0, 0, follow_symlinks=False)
    elapsed = time.perf_counter() - started
    mode = "--quick" if args.quick else "full"
    print(f"\nfault tour ({mode}, seed {args.seed}): {elapsed:.0f} s\n")
    print(tally.table())
    for row in tally.rows.values():
        for note in row.notes:
            print(f"\n{row.name}: {note}")
    failed = [row for row in tally.rows.values() if row.failed]
    for row in tally.rows.values() if args.verbose else failed:
        for problem in row.problems[:25]:
            print(f"  {row.name}: {problem}")
        if len(row.problems) > 25:
            print(f"  {row.name}: ... and {len(row.problems) - 25} more")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
