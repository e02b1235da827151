"""Turning a folder of face images and their OpenFace CSVs into an AU table, with an account of every image.

The expected layout is the one OpenFace produces when run as
``FaceLandmarkImg -fdir <images> -out_dir <csvs> -aus``: one CSV per image, named after the image's stem
(``imgs/0001.jpg`` → ``csvs/0001.csv``). OpenFace writes no CSV when it finds no face.

Examples:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from ganimation_lib.aus import AU_NAMES
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "imgs").mkdir()
    >>> Image.new("RGB", (8, 8)).save(root / "imgs" / "a.jpg")
    >>> Image.new("RGB", (8, 8)).save(root / "imgs" / "b.jpg")  # no CSV: OpenFace found no face
    >>> header = "face,confidence," + ",".join(f"{a}_r" for a in AU_NAMES)
    >>> _ = (root / "imgs" / "a.csv").write_text(header + "\\n0,0.9," + ",".join(["1"] * 17) + "\\n")
    >>> summary = prepare_openface(root / "imgs", progress=False)
    >>> summary.kept, summary.no_face, summary.output.name
    (1, 1, 'aus.csv')
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from ..aus import AU_NAMES, check_au_names
from .au_table import AUTableWriter
from .errors import DataFormatError
from .image_io import IMAGE_EXTENSIONS, list_images, readable_image
from .openface import FacePolicy, check_face_policy, read_openface_csv
from .tally import CountsWithExamples

# IMAGE_EXTENSIONS lives with the other image-file rules in image_io; it stays importable from here.
__all__ = ["IMAGE_EXTENSIONS", "PrepareSummary", "prepare_openface"]

_T = TypeVar("_T")

_CATEGORIES = (
    ("kept", "kept"),
    ("no_face", "no face (no CSV, or a CSV without a tracked face)"),
    ("missing_crop", "missing crop"),
    ("low_confidence", "low confidence"),
    ("bad_csv", "unreadable CSV"),
    ("unreadable", "unreadable or corrupt image"),
)


@dataclass
class PrepareSummary(CountsWithExamples):
    """What [`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] did with every input image.

    Every input image lands in exactly one of ``kept``, ``no_face``, ``missing_crop``, ``low_confidence``,
    ``bad_csv`` and ``unreadable``, so they add up to ``total``. ``multiple_faces`` counts the kept images whose
    CSV had more than one face (one was kept, chosen by the face policy).

    Attributes:
        total: Input images seen.
        kept: Images written to the AU table.
        no_face: No CSV, or a CSV with no tracked face (``success == 0`` or no rows).
        missing_crop: A CSV but no face crop in ``crops`` (only when ``crops`` is given).
        low_confidence: Every face was below ``min_confidence``.
        bad_csv: The CSV could not be read (not OpenFace, malformed values, wrong encoding).
        unreadable: The training image (crop or input) is corrupt or not an image.
        multiple_faces: Kept images whose CSV had several faces.
        output: The AU table written.
        examples: Up to 5 example file names (with the reason, for CSV problems) per category.
    """

    total: int = 0
    kept: int = 0
    no_face: int = 0
    missing_crop: int = 0
    low_confidence: int = 0
    bad_csv: int = 0
    unreadable: int = 0
    multiple_faces: int = 0
    output: Path = Path()
    examples: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.total} input images -> {self.kept} rows in {self.output}"]
        for key, label in _CATEGORIES:
            count = getattr(self, key)
            if count and key != "kept":
                shown = "; ".join(self.examples.get(key, []))
                lines.append(f"  {label}: {count}" + (f"  (e.g. {shown})" if shown else ""))
        if self.multiple_faces:
            lines.append(f"  of the kept, with several faces (one kept): {self.multiple_faces}")
        return "\n".join(lines)


def _progress(items: Iterable[_T], total: int, enabled: bool, stream: TextIO) -> Iterator[_T]:
    """``tqdm`` when installed, else a plain counter printed every 10 %."""
    if not enabled:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:
        step = max(1, math.ceil(total / 10))
        for done, item in enumerate(items, start=1):
            yield item
            if done % step == 0 or done == total:
                print(f"prepare: {done}/{total} images", file=stream, flush=True)
        return
    yield from tqdm(items, total=total, unit="img", desc="prepare", file=stream)


_CROP_PREFERENCE = (".jpg", ".png", ".bmp", ".jpeg", ".webp", ".tif", ".tiff")


def _crop_names(crops: Path) -> dict[str, str]:
    """``{stem: crop file name}`` of a crop folder, read once (not up to 7 look-ups per input image).

    Extensions match in any case (``.JPG``); of two crops with one stem the preferred extension wins.
    """
    found: dict[str, str] = {}
    for name in list_images(crops):
        stem, extension = os.path.splitext(name)
        rank = _CROP_PREFERENCE.index(extension.lower())
        current = found.get(stem)
        if current is None or rank < _CROP_PREFERENCE.index(os.path.splitext(current)[1].lower()):
            found[stem] = name
    return found


def prepare_openface(
    folder: str | Path,
    csv_dir: str | Path | None = None,
    crops: str | Path | None = None,
    output: str | Path | None = None,
    au_names: Sequence[str] = AU_NAMES,
    min_confidence: float = 0.5,
    face_policy: FacePolicy = "first",
    verify_images: bool = True,
    progress: bool = True,
    progress_stream: TextIO | None = None,
    on_image: Callable[[str, str], None] | None = None,
) -> PrepareSummary:
    """Write the AU table of a folder of face images from OpenFace's per-image CSVs.

    Streams: the table is written row by row (atomically: it appears only when complete), so 200,000 images
    need no more memory than their names.

    Args:
        folder: The input images (the ones OpenFace was run on).
        csv_dir: Where OpenFace wrote ``<stem>.csv`` (default: ``folder``).
        crops: Optional folder of face crops named ``<stem>.<ext>``; when given, the crops are the training
            images (and the table names them), and an image without a crop counts as ``missing_crop``.
        output: The AU table to write (default: ``aus.csv`` next to the training image folder, i.e. in its
            parent).
        au_names: AUs to write (default: the 17 OpenFace AUs).
        min_confidence: Faces below this OpenFace confidence are not used (0 keeps every face).
        face_policy: With several faces in one CSV: ``"first"`` (default) or ``"most_confident"``.
        verify_images: Check each training image decodes (a JPEG at 1/8 scale), is not truncated and is at
            most 50 megapixels (counted ``unreadable`` otherwise).
        progress: Show a progress bar (tqdm when installed, else a line every 10 %).
        progress_stream: Where progress goes (default: stderr).
        on_image: Called as ``on_image(name, category)`` for every input image, for custom logging.

    Returns:
        The summary (``str()`` of it is a readable report).

    Raises:
        FileNotFoundError: If ``folder``, ``csv_dir`` or ``crops`` does not exist.
        ValueError: If an argument is out of range or ``folder`` holds no images.
    """
    images = Path(folder)
    csvs = images if csv_dir is None else Path(csv_dir)
    crop_dir = None if crops is None else Path(crops)
    for label, path in (("folder", images), ("csv_dir", csvs), ("crops", crop_dir)):
        if path is not None and not path.is_dir():
            raise FileNotFoundError(f"{label} {str(path)!r} is not a folder")
    names = check_au_names(au_names)
    check_face_policy(face_policy)
    if not (math.isfinite(min_confidence) and 0 <= min_confidence <= 1):
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    training_dir = images if crop_dir is None else crop_dir
    table_path = training_dir.resolve().parent / "aus.csv" if output is None else Path(output)
    files = list_images(images)  # only names are held; images and rows are streamed
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {str(images)!r}")

    crop_names = None if crop_dir is None else _crop_names(crop_dir)

    summary = PrepareSummary(output=table_path)
    stream = sys.stderr if progress_stream is None else progress_stream
    with AUTableWriter(table_path, names) as writer:
        for name in _progress(files, len(files), progress, stream):
            summary.total += 1
            category = _prepare_one(name, images, csvs, crop_dir, crop_names, names, min_confidence, face_policy,
                                    verify_images, writer, summary)  # fmt: skip
            if on_image is not None:
                on_image(name, category)
    return summary


def _prepare_one(
    name: str,
    images: Path,
    csvs: Path,
    crop_dir: Path | None,
    crop_names: dict[str, str] | None,
    names: tuple[str, ...],
    min_confidence: float,
    face_policy: FacePolicy,
    verify_images: bool,
    writer: AUTableWriter,
    summary: PrepareSummary,
) -> str:
    """Handle one input image; count it in exactly one category and return that category."""
    stem = os.path.splitext(name)[0]
    try:
        parsed = read_openface_csv(csvs / f"{stem}.csv", names, min_confidence)
    except FileNotFoundError:
        summary.count("no_face", name)
        return "no_face"
    except (DataFormatError, OSError) as error:
        summary.count("bad_csv", f"{name}: {error}")
        return "bad_csv"
    if parsed.skipped and not parsed.faces and not parsed.low_confidence:
        summary.count("bad_csv", f"{name}: {parsed.skipped[0].reason}")
        return "bad_csv"
    face = parsed.pick(face_policy)
    if face is None:
        category = "low_confidence" if parsed.low_confidence else "no_face"
        summary.count(category, name)
        return category
    if crop_dir is None or crop_names is None:
        training = images / name
    else:
        crop = crop_names.get(stem)
        if crop is None:
            summary.count("missing_crop", name)
            return "missing_crop"
        training = crop_dir / crop
    if verify_images and readable_image(training, draft_size=1) is not None:  # a JPEG decoded at 1/8 scale
        summary.count("unreadable", training.name)
        return "unreadable"
    writer.write(training.name, face.intensities)
    summary.count("kept", training.name)
    if len(parsed.faces) + len(parsed.low_confidence) > 1:
        summary.multiple_faces += 1
    return "kept"
