"""Driving sequences from files: OpenFace sequence CSVs, attributes.txt and AU tables, in frame order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib.aus import AU_NAMES
from ganimation_lib.inference import read_drive


def _openface_csv(path: Path, rows: list[tuple[int, int, float, int, float]], sep: str = ", ") -> Path:
    """rows: (frame, face_id, confidence, success, AU12 intensity); the other AUs are 0."""
    header = ["frame", "face_id", "timestamp", "confidence", "success", "gaze_0_x", *(f"{a}_r" for a in AU_NAMES)]
    lines = [sep.join(header)]
    for frame, face_id, confidence, success, au12 in rows:
        values = [f"{au12:.2f}" if a == "AU12" else "0.00" for a in AU_NAMES]
        lines.append(
            sep.join([str(frame), str(face_id), f"{frame / 30:.3f}", f"{confidence}", str(success), "0.1", *values])
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_openface_sequence_csv_in_frame_order(tmp_path: Path) -> None:
    rows = [(2, 0, 0.9, 1, 2.0), (1, 0, 0.9, 1, 1.0), (3, 0, 0.0, 0, 5.0), (4, 0, 0.5, 1, 3.0), (4, 1, 0.95, 1, 4.0)]
    aus = read_drive(_openface_csv(tmp_path / "seq.csv", rows), 17)
    # Frame 3 failed (dropped); frame 4 has two faces: the more confident one is used.
    assert aus[:, AU_NAMES.index("AU12")].tolist() == pytest.approx([0.2, 0.4, 0.8])
    assert aus.shape == (3, 17) and float(aus.sum()) == pytest.approx(1.4)


def test_openface_csv_without_spaces_and_with_no_tracked_face(tmp_path: Path) -> None:
    assert read_drive(_openface_csv(tmp_path / "a.csv", [(1, 0, 0.9, 1, 1.0)], sep=","), 17).shape == (1, 17)
    with pytest.raises(ValueError, match="no frame where OpenFace tracked a face"):
        read_drive(_openface_csv(tmp_path / "b.csv", [(1, 0, 0.1, 0, 1.0)]), 17)


def test_attributes_txt_rows_follow_the_frame_numbers(tmp_path: Path) -> None:
    path = tmp_path / "attributes.txt"
    lines = [f"{n}.jpg " + " ".join([f"{n / 10:.2f}"] * 17) for n in (10, 2, 1)]
    path.write_text("\n".join(lines) + "\n")
    assert read_drive(path, 17)[:, 0].tolist() == pytest.approx([0.02, 0.04, 0.2])


def test_au_table_csv(tmp_path: Path) -> None:
    path = tmp_path / "aus.csv"
    path.write_text("file," + ",".join(AU_NAMES) + "\n" + "f1.png," + ",".join(["2.5"] * 17) + "\n")
    assert torch.allclose(read_drive(path, 17), torch.full((1, 17), 0.5))


def test_bad_drives(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_drive(tmp_path / "missing.csv", 17)
    (tmp_path / "seq.json").write_text("{}")
    with pytest.raises(ValueError, match="OpenFace sequence CSV"):
        read_drive(tmp_path / "seq.json", 17)
    (tmp_path / "empty.txt").write_text("a.jpg 1 2\n")
    with pytest.raises(ValueError, match="no usable AU rows"):
        read_drive(tmp_path / "empty.txt", 17)
    with pytest.raises(ValueError, match="built for 5"):
        read_drive(np.zeros((3, 17)), 5)
    with pytest.raises(ValueError, match="NaN"):
        read_drive(torch.full((2, 17), float("nan")), 17)
    with pytest.raises(ValueError, match="frames >= 1"):
        read_drive(torch.zeros(0, 17), 17)
