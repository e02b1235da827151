"""Writers of OpenFace-style CSVs in every flavour the reader must handle (test helpers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ganimation_lib.aus import AU_NAMES

# AUs with a presence (_c) column in OpenFace 2: the 17 intensity AUs plus AU28.
PRESENCE = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
            "AU20", "AU23", "AU25", "AU26", "AU28", "AU45")  # fmt: skip


@dataclass
class Row:
    """One face row; ``aus`` are raw intensities in AU_NAMES order."""

    aus: Sequence[float]
    confidence: float = 0.98
    face: int = 0
    frame: int = 1
    success: int = 1
    presence: Sequence[int] = field(default_factory=lambda: [1] * len(PRESENCE))


def openface_csv(
    path: Path,
    rows: Sequence[Row],
    *,
    mode: str = "image",
    separator: str = ",",
    landmarks: bool = False,
) -> Path:
    """Write an OpenFace CSV: ``mode`` is ``image``, ``sequence`` (with face_id) or ``sequence_old``."""
    if mode == "image":
        head = ["face", "confidence"]
    elif mode == "sequence":
        head = ["frame", "face_id", "timestamp", "confidence", "success"]
    elif mode == "sequence_old":
        head = ["frame", "timestamp", "confidence", "success"]
    else:
        raise ValueError(mode)
    extra: list[str] = []
    if landmarks:
        extra = [f"gaze_0_{a}" for a in "xyz"] + ["gaze_angle_x", "pose_Tx", "pose_Rz"]
        extra += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)] + [f"p_{i}" for i in range(5)]
    header = head + extra + [f"{a}_r" for a in AU_NAMES] + [f"{a}_c" for a in PRESENCE]
    lines = [separator.join(header)]
    for row in rows:
        bookkeeping = {
            "face": str(row.face),
            "face_id": str(row.face),
            "frame": str(row.frame),
            "timestamp": f"{(row.frame - 1) * 0.04:.3f}",
            "confidence": f"{row.confidence:.2f}",
            "success": str(row.success),
        }
        values = [bookkeeping[h] for h in head] + ["12.5"] * len(extra)
        values += [f"{v:.2f}" for v in row.aus] + [str(c) for c in row.presence]
        lines.append(separator.join(values))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def aus(value: float, **overrides: float) -> list[float]:
    """A raw AU row: every AU at ``value``, with per-AU overrides (``AU12=3.5``)."""
    row = [value] * len(AU_NAMES)
    for name, v in overrides.items():
        row[AU_NAMES.index(name)] = v
    return row
