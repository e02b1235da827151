"""OpenFace CSV reading: every flavour, by column name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ganimation_lib.aus import AU_NAMES
from ganimation_lib.data.errors import DataFormatError
from ganimation_lib.data.openface import read_openface_csv

from .openface_files import PRESENCE, Row, aus, openface_csv


@pytest.mark.parametrize("separator", [",", ", "])
@pytest.mark.parametrize("landmarks", [False, True])
def test_image_mode_either_separator_with_or_without_landmarks(tmp_path: Path, separator: str, landmarks: bool) -> None:
    row = aus(0.0, AU01=1.25, AU12=3.5, AU45=5.0)
    path = openface_csv(tmp_path / "a.csv", [Row(row, confidence=0.93)], separator=separator, landmarks=landmarks)
    if separator == ", ":
        assert ", AU01_r, " in path.read_text()
    parsed = read_openface_csv(path)
    assert parsed.mode == "image" and len(parsed.faces) == 1
    face = parsed.faces[0]
    np.testing.assert_allclose(face.intensities, row)
    assert face.confidence == pytest.approx(0.93) and face.frame is None and face.line == 2
    # Presence columns are kept, AU28 (presence only) included.
    assert parsed.presence_names == PRESENCE and face.presence.tolist() == [1.0] * len(PRESENCE)


@pytest.mark.parametrize("mode", ["sequence", "sequence_old"])
def test_sequence_modes_read_frames_and_drop_failed_rows(tmp_path: Path, mode: str) -> None:
    rows = [
        Row(aus(1.0), frame=1),
        Row(aus(2.0), frame=2, success=0),
        Row(aus(3.0), frame=3, confidence=0.4),
        Row(aus(4.0), frame=4),
    ]
    parsed = read_openface_csv(openface_csv(tmp_path / "v.csv", rows, mode=mode, landmarks=True), min_confidence=0.5)
    assert parsed.mode == "sequence"
    assert [f.frame for f in parsed.faces] == [1, 4]
    assert [f.timestamp for f in parsed.faces] == pytest.approx([0.0, 0.12])
    assert [r.line for r in parsed.failed] == [3]
    assert [f.frame for f in parsed.low_confidence] == [3]
    table = parsed.to_table()
    assert table.files == ("frame_det_00_000001.bmp", "frame_det_00_000004.bmp")
    np.testing.assert_allclose(table.values[:, 0], [1.0, 4.0])


def test_multi_face_first_or_most_confident(tmp_path: Path) -> None:
    rows = [Row(aus(1.0), face=0, confidence=0.6), Row(aus(2.0), face=1, confidence=0.95), Row(aus(3.0), face=2)]
    rows[2].confidence = 0.9
    parsed = read_openface_csv(openface_csv(tmp_path / "m.csv", rows))
    first, best = parsed.pick("first"), parsed.pick("most_confident")
    assert first is not None and best is not None
    assert first.face_id == 0 and float(first.intensities[0]) == 1.0
    assert best.face_id == 1 and float(best.intensities[0]) == 2.0
    with pytest.raises(ValueError, match="most_confident"):
        parsed.pick("largest")  # type: ignore[arg-type]


def test_multi_face_sequence_picks_one_face_per_frame(tmp_path: Path) -> None:
    rows = [
        Row(aus(1.0), frame=1, face=0, confidence=0.7),
        Row(aus(2.0), frame=1, face=1, confidence=0.9),
        Row(aus(3.0), frame=2, face=0, confidence=0.8),
    ]
    parsed = read_openface_csv(openface_csv(tmp_path / "s.csv", rows, mode="sequence"))
    table = parsed.to_table("most_confident")
    assert table.files == ("frame_det_01_000001.bmp", "frame_det_00_000002.bmp")
    np.testing.assert_allclose(table.values[:, 0], [2.0, 3.0])


def test_columns_are_found_by_name_not_position(tmp_path: Path) -> None:
    header = ["AU45_r", "confidence", *reversed([f"{a}_r" for a in AU_NAMES[:-1]]), "face", "note"]
    values = {f"{a}_r": f"{i / 10:.2f}" for i, a in enumerate(AU_NAMES)}
    values.update(confidence="0.9", face="0", note="x")
    path = tmp_path / "shuffled.csv"
    path.write_text(",".join(header) + "\n" + ",".join(values[h] for h in header) + "\n")
    face = read_openface_csv(path).faces[0]
    np.testing.assert_allclose(face.intensities, [i / 10 for i in range(17)])


def test_custom_au_subset(tmp_path: Path) -> None:
    path = openface_csv(tmp_path / "a.csv", [Row(aus(0.0, AU12=2.0, AU06=1.0))])
    face = read_openface_csv(path, au_names=("AU12", "AU06")).faces[0]
    assert face.intensities.tolist() == [2.0, 1.0]


def test_malformed_rows_are_skipped_with_reasons_or_raise_when_strict(tmp_path: Path) -> None:
    path = openface_csv(tmp_path / "a.csv", [Row(aus(1.0)), Row(aus(1.0)), Row(aus(1.0)), Row(aus(1.0))])
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("1.00", "abc", 1)
    lines[3] = lines[3].rsplit(",", 3)[0]  # too few fields
    lines[4] = lines[4].replace("1.00", "7.50", 1)  # above OpenFace's 0-5
    path.write_text("\n".join(lines) + "\n")
    parsed = read_openface_csv(path)
    assert len(parsed.faces) == 1
    reasons = [s.reason for s in parsed.skipped]
    assert [s.line for s in parsed.skipped] == [3, 4, 5]
    assert "text 'abc' in AU01_r" in reasons[0] and "fields" in reasons[1] and "outside" in reasons[2]
    with pytest.raises(DataFormatError, match="line 3"):
        read_openface_csv(path, strict=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("face,AU01_r\n0,1.0\n", "confidence"),
        ("face,confidence,pose_Tx\n0,0.9,1\n", "-aus"),
        ("face,confidence," + ",".join(f"{a}_r" for a in AU_NAMES[:-1]) + "\n", "AU45_r"),
    ],
)
def test_files_that_are_not_openface_csvs_raise(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        read_openface_csv(path)


def test_encoding_problems_raise_format_errors(tmp_path: Path) -> None:
    path = openface_csv(tmp_path / "a.csv", [Row(aus(1.0))])
    path.write_bytes(path.read_text().encode("utf-16"))
    with pytest.raises(DataFormatError, match=r"NUL|UTF-8"):
        read_openface_csv(path)
    path.write_bytes("\ufeff".encode() + openface_csv(tmp_path / "b.csv", [Row(aus(1.0))]).read_bytes())
    assert len(read_openface_csv(path).faces) == 1  # a UTF-8 BOM is fine


def test_threshold_is_checked(tmp_path: Path) -> None:
    path = openface_csv(tmp_path / "a.csv", [Row(aus(1.0))])
    with pytest.raises(ValueError, match="min_confidence"):
        read_openface_csv(path, min_confidence=1.5)


@pytest.mark.parametrize("column", ["AU12_r", "confidence", "AU06_c"])
def test_a_column_named_twice_is_refused_naming_it_and_the_file(tmp_path: Path, column: str) -> None:
    # The header's last AU12_r column (say) would silently win: refuse the ambiguous file instead.
    path = openface_csv(tmp_path / "twice.csv", [Row(aus(1.0))], separator=", ")
    header, row = path.read_text().splitlines()
    path.write_text(f"{header}, {column}\n{row}, 0\n")
    with pytest.raises(DataFormatError, match=rf"twice\.csv.*two columns named '{column}'"):
        read_openface_csv(path)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("AU12_r", "0_1", "text '0_1' in AU12_r"),  # float() reads 0_1 as 1.0
        ("confidence", "0_9", "text '0_9' in confidence"),
        ("confidence", "5.0001", "confidence = 5.0001 is outside OpenFace's range [0, 1]"),
        ("confidence", "-0.5", "confidence = -0.5 is outside OpenFace's range [0, 1]"),
        ("AU06_c", "3", "AU06_c = 3 is outside OpenFace's range [0, 1]"),
        ("AU12_r", "5.0001", "AU12_r = 5.0001 is outside the raw range [0, 5]"),
    ],
)
def test_malformed_and_out_of_range_numbers_skip_the_row(tmp_path: Path, column: str, value: str, reason: str) -> None:
    path = openface_csv(tmp_path / "a.csv", [Row(aus(1.0)), Row(aus(2.0))])
    header, first, second = path.read_text().splitlines()
    fields = first.split(",")
    fields[header.split(",").index(column)] = value
    path.write_text("\n".join([header, ",".join(fields), second]) + "\n")
    parsed = read_openface_csv(path)
    assert [f.line for f in parsed.faces] == [3]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(2, reason)]
    with pytest.raises(DataFormatError, match=rf"a\.csv, line 2: {re.escape(reason)}"):
        read_openface_csv(path, strict=True)
