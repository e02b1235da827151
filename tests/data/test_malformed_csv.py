"""Property tests: malformed CSVs end in a DataFormatError or a counted skip, never anything else."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganimation_lib.aus import AU_NAMES
from ganimation_lib.data.errors import DataFormatError
from ganimation_lib.data.labels import read_attributes_txt, read_au_table
from ganimation_lib.data.openface import read_openface_csv
from ganimation_lib.data.prepare import prepare_openface

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

OPENFACE_COLUMNS = ["frame", "face_id", "face", "timestamp", "confidence", "success", "gaze_0_x", "x_0",
                    *(f"{a}_r" for a in AU_NAMES), *(f"{a}_c" for a in AU_NAMES), "AU28_c"]  # fmt: skip
TABLE_COLUMNS = ["file", "name", "confidence", *AU_NAMES, *(f"{a}_r" for a in AU_NAMES[:3]), "AU12_c"]

fields = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),  # huge, tiny, nan, inf
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", " ", "0", "1", "0.98", "5.00", "-0", "1e309", "abc", "NaN", "nul\x00", '"', '"a,b"', "é"]),
    st.text(max_size=8),
)


@st.composite
def csv_text(draw: st.DrawFn, columns: list[str]) -> str:
    """A CSV whose header is a random subset/permutation of plausible columns plus junk, with random rows."""
    header = draw(st.lists(st.sampled_from(columns) | st.text(max_size=6), max_size=len(columns) + 3))
    if draw(st.booleans()):  # often the full valid header, so that rows get parsed
        header = list(columns)
    separator = draw(st.sampled_from([",", ", ", ";", "\t"]))
    rows = draw(st.lists(st.lists(fields, max_size=len(header) + 2), max_size=6))
    valid_width = [r + ["1"] * (len(header) - len(r)) if draw(st.booleans()) else r for r in rows]
    lines = [separator.join(header), *(separator.join(r) for r in valid_width)]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))


@st.composite
def encoded(draw: st.DrawFn, columns: list[str]) -> bytes:
    text = draw(csv_text(columns))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "raw"]))
    if encoding == "raw":
        return draw(st.binary(max_size=200))
    return text.encode(encoding, errors="replace")


def _write(data: bytes, name: str) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / name
    path.write_bytes(data)
    return folder, path


@SETTINGS
@given(encoded(OPENFACE_COLUMNS), st.floats(min_value=0, max_value=1))
def test_openface_reader_never_fails_unexpectedly(data: bytes, threshold: float) -> None:
    folder, path = _write(data, "x.csv")
    with folder:
        try:
            parsed = read_openface_csv(path, min_confidence=threshold)
        except DataFormatError:
            return
        for face in parsed.faces + parsed.low_confidence:
            assert face.intensities.shape == (17,)
            assert np.all(np.isfinite(face.intensities)) and face.intensities.min() >= 0
            assert face.intensities.max() <= 5 and math.isfinite(face.confidence)
        assert all(f.confidence >= threshold for f in parsed.faces)
        # Every non-empty data line is a face, a low-confidence face, a failed row or a counted skip.
        accounted = len(parsed.faces) + len(parsed.low_confidence) + len(parsed.failed) + len(parsed.skipped)
        assert accounted <= max(0, len(data.splitlines()) - 1)


@SETTINGS
@given(encoded(TABLE_COLUMNS))
def test_au_table_reader_never_fails_unexpectedly(data: bytes) -> None:
    folder, path = _write(data, "aus.csv")
    with folder:
        try:
            table = read_au_table(path)
        except DataFormatError:
            return
        assert table.values.shape == (len(table.files), len(table.au_names))
        assert np.all(np.isfinite(table.values)) and (table.values.size == 0 or table.values.max() <= 5)
        assert all(f for f in table.files) and len(set(table.files)) == len(table.files)


@SETTINGS
@given(st.lists(st.lists(fields, max_size=20), max_size=6), st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_attributes_reader_never_fails_unexpectedly(rows: list[list[str]], encoding: str) -> None:
    text = "\n".join(" ".join(r) for r in rows)
    folder, path = _write(text.encode(encoding, errors="replace"), "attributes.txt")
    with folder:
        try:
            table = read_attributes_txt(path)
        except DataFormatError:
            return
        assert np.all(np.isfinite(table.values)) and table.values.shape[1] == 17


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(encoded(OPENFACE_COLUMNS), min_size=1, max_size=3))
def test_prepare_counts_malformed_csvs_instead_of_crashing(csvs: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "imgs"
        folder.mkdir()
        for i, data in enumerate(csvs):
            Image.new("RGB", (4, 4)).save(folder / f"{i}.png")
            (folder / f"{i}.csv").write_bytes(data)
        summary = prepare_openface(folder, progress=False, min_confidence=0.0)
        parts = summary.kept + summary.no_face + summary.low_confidence + summary.bad_csv + summary.unreadable
        assert summary.total == len(csvs) == parts + summary.missing_crop
