"""The fault tour (benchmarks/fault_tour.py) in its quick variant: kills, hostile files, fuzzed CSVs, bad images
and a full disk, run as a user would, with no traceback, silent wrong result or leftover file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_tour.py"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and RLIMIT_FSIZE are POSIX")
@pytest.mark.timeout(600)
def test_the_quick_fault_tour_finds_nothing() -> None:
    # About 45 s on 2 cores. The tour works in a fault-tour-* folder of the system's temporary folder (one
    # that an unprivileged user can reach, for the read-only trials) and removes it.
    before = set(Path(tempfile.gettempdir()).glob("fault-tour-*"))
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(TOUR), "--quick"], capture_output=True, text=True, env=environment, timeout=600
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "| **total** |" in done.stdout
    assert set(Path(tempfile.gettempdir()).glob("fault-tour-*")) <= before, "the tour must remove what it wrote"
