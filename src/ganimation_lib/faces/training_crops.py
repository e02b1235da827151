"""Training crops from raw photos: find every face in a folder of photos, align it and write model-size crops.

[`align_folder`][ganimation_lib.faces.training_crops.align_folder] is the first step from a folder of ordinary
photos to a training set (``ganimation prepare --align RAW OUT``): every face the finder sees is aligned to the
canonical crop ([`CANONICAL_FACE`][ganimation_lib.faces.align.CANONICAL_FACE], the layout of OpenFace's aligned
frames and the official crops, the same alignment ``ganimation edit`` uses) and written to ``OUT/imgs/`` as a PNG,
with a manifest (``OUT/manifest.csv``, [`crop_manifest`][ganimation_lib.faces.crop_manifest]) that records where
each crop came from and the transform that made it. OpenFace then measures the crops' AUs and
[`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] collects them into ``OUT/aus.csv``; the whole
pipeline is in docs/faces.md.

* **Which photos**: every file with an image extension (``.jpg``, ``.png``, ... any case) in the folder and,
  with ``recursive=True`` (the default), in its subfolders; names starting with ``.`` are skipped, and so is the
  output folder when it lies inside the folder of photos. A file that cannot be decoded is counted and skipped.
* **Names**: the crop of face ``i`` of ``photo.jpg`` is ``photo_i.png``, ``i`` being the face's number among all
  faces found in that photo (left to right for the built-in finder), whichever faces are kept. When several photos
  share a stem (``a/photo.jpg`` and ``b/photo.png``, or ``Photo.jpg`` and ``photo.jpg``), each of them gets eight
  hex digits of a hash of its relative path after the stem (``photo-1a2b3c4d_0.png``): a name depends only on the
  photo's own path and on whether its stem is shared, never on the order of the listing.

Examples:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from ganimation_lib.faces import Face
    >>> raw, out = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (100, 100), (90, 60, 40)).save(raw / "me.jpg")
    >>> Image.new("RGB", (100, 100)).save(raw / "wall.png")
    >>> def finder(image):  # a stand-in: a face in the brown photo, none in the black one
    ...     if image.getpixel((0, 0)) == (0, 0, 0):
    ...         return []
    ...     return [Face((20, 20, 80, 80), 1.0, ((38, 40), (62, 40), (50, 52), (40, 67), (60, 67)))]
    >>> report = align_folder(raw, out, size=64, finder=finder, progress=False)
    >>> report.photos, report.faces_written, report.no_face, sorted(p.name for p in (out / "imgs").iterdir())
    (2, 1, ['wall.png'], ['me_0.png'])
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

import numpy as np
from PIL import Image

from ..atomic_files import atomic_path
from ..data.errors import DataFormatError
from ..data.image_io import IMAGE_EXTENSIONS, list_images, open_image
from ..errors import writing
from ..face_layout import write_face_crop
from .align import CANONICAL_FACE, CanonicalFace, alignment_transform, crop_face
from .crop_manifest import MANIFEST_NAME, CropRecord, write_crop_manifest
from .dlib_finder import DlibFaceFinder
from .face import FaceFinder
from .selection import NoFaceFoundError, select_faces

__all__ = ["IMAGES_FOLDER", "AlignReport", "align_folder", "list_photos"]

#: The folder of crops inside the output folder: the ``imgs/`` that ``AUDataset`` and ``ganimation train`` read.
IMAGES_FOLDER = "imgs"
#: At most this many photos of each kind are named in the printed report (the report object holds them all).
SHOWN = 20
_T = TypeVar("_T")


@dataclass
class AlignReport:
    """What [`align_folder`][ganimation_lib.faces.training_crops.align_folder] did with every photo.

    Every photo file found is either unreadable or read (``photos``); a photo read is in ``no_face``, in
    ``none_chosen``, or gave crops. Paths are relative to the folder of photos, ``/``-separated.

    Attributes:
        found: Photo files found (by extension).
        photos: Photos read (decoded).
        faces_found: Faces the finder found in them.
        faces_written: Crops written.
        no_face: Photos in which no face was found.
        several_faces: ``(photo, faces found)`` for each photo with more than one face.
        none_chosen: ``(photo, why)`` for each photo whose faces the choice (``face_index``, ``min_face_size``)
            left out.
        unreadable: ``(file, why)`` for each file that could not be decoded (skipped).
        unaligned: ``(photo and face, why)`` for each face that could not be aligned (degenerate landmarks).
        choice: Which faces of a photo were written, in words.
        images: The folder of crops.
        manifest: The manifest written.
    """

    found: int = 0
    photos: int = 0
    faces_found: int = 0
    faces_written: int = 0
    no_face: list[str] = field(default_factory=list)
    several_faces: list[tuple[str, int]] = field(default_factory=list)
    none_chosen: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    unaligned: list[tuple[str, str]] = field(default_factory=list)
    choice: str = "every face"
    images: Path = Path()
    manifest: Path = Path()

    def __str__(self) -> str:
        lines = [
            f"{self.found} photo files, {self.photos} read: {self.faces_found} faces found, "
            f"{self.faces_written} crops written to {self.images} (manifest {self.manifest})"
        ]
        several = [f"{photo} ({count} faces)" for photo, count in self.several_faces]
        for label, items in (
            ("no face found", self.no_face),
            (f"several faces ({self.choice} written)", several),
            ("faces found but none chosen", [f"{photo}: {why}" for photo, why in self.none_chosen]),
            ("unreadable, skipped", [why for _, why in self.unreadable]),  # the reason names the file
            ("faces that could not be aligned", [f"{name}: {why}" for name, why in self.unaligned]),
        ):
            if items:
                lines.append(f"  {label}: {len(items)}")
                lines += [f"    {item}" for item in items[:SHOWN]]
                if len(items) > SHOWN:
                    lines.append(f"    ... and {len(items) - SHOWN} more")
        return "\n".join(lines)


def list_photos(folder: str | Path, *, recursive: bool = True, exclude: str | Path | None = None) -> list[str]:
    """The photo files of ``folder`` (by extension, any case), as sorted ``/``-separated relative paths.

    Names starting with ``.`` are skipped (files and folders), and so is the folder ``exclude`` (the output
    folder, when it lies inside ``folder``). Symbolic links to folders are not followed.

    Raises:
        FileNotFoundError: If ``folder`` is not a folder.

    Examples:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "trip").mkdir(); (root / ".cache").mkdir()
        >>> for name in ("b.JPG", "notes.txt", "trip/a.png", ".cache/c.jpg", ".hidden.jpg"):
        ...     _ = (root / name).write_bytes(b"")
        >>> list_photos(root), list_photos(root, recursive=False)
        (['b.JPG', 'trip/a.png'], ['b.JPG'])
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"the folder of photos {str(root)!r} is not a folder")
    if not recursive:
        return [name for name in list_images(root) if not name.startswith(".")]
    skip = None if exclude is None else Path(exclude).resolve()
    found = []
    for current, folders, files in os.walk(root):
        here = Path(current)
        folders[:] = sorted(d for d in folders if not d.startswith(".") and (here / d).resolve() != skip)
        relative = here.relative_to(root).as_posix()
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(name if relative == "." else f"{relative}/{name}")
    return sorted(found)


def _crop_stems(photos: Sequence[str]) -> dict[str, str]:
    """``{photo: crop stem}``: the photo's stem, with a hash of its path when another photo has the same stem."""
    stems = {photo: os.path.splitext(photo.rsplit("/", 1)[-1])[0] for photo in photos}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem.casefold()] = counts.get(stem.casefold(), 0) + 1
    return {
        photo: stem if counts[stem.casefold()] == 1 else f"{stem}-{hashlib.sha1(photo.encode()).hexdigest()[:8]}"
        for photo, stem in stems.items()
    }


def _progress(items: Sequence[_T], enabled: bool, stream: TextIO) -> Iterator[_T]:
    """``tqdm`` when installed, else a line every 10 %."""
    if not enabled:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:
        step = max(1, math.ceil(len(items) / 10))
        for done, item in enumerate(items, start=1):
            yield item
            if done % step == 0 or done == len(items):
                print(f"align: {done}/{len(items)} photos", file=stream, flush=True)
        return
    yield from tqdm(items, total=len(items), unit="photo", desc="align", file=stream)


def _check_output(output: Path, images: Path) -> None:
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"the output {str(output)!r} is a file; give a folder for the crops")
    leftovers = [images / name for name in list_images(images)] if images.is_dir() else []
    if leftovers or (output / MANIFEST_NAME).exists():
        first = leftovers[0] if leftovers else output / MANIFEST_NAME
        raise FileExistsError(
            f"{str(output)!r} already holds crops ({first}): give a new output folder, or remove its "
            f"{IMAGES_FOLDER}/ and {MANIFEST_NAME} first (the crops of an earlier run would mix with this one's)"
        )


def _save_png(crop: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temporary:  # a full disk or a read-only folder: OutputWriteError naming the path
        Image.fromarray(crop, mode="RGB").save(temporary, format="PNG")


def _choice(face_index: int | None, largest: bool, min_face_size: float) -> str:
    chosen = "the largest face" if largest else "every face" if face_index is None else f"face {face_index}"
    return chosen + (f" from {min_face_size:g} px wide" if min_face_size else "")


def align_folder(
    photos: str | Path,
    output: str | Path,
    *,
    size: int = 128,
    finder: FaceFinder | None = None,
    face_index: int | None = None,
    largest: bool = False,
    min_face_size: float = 0,
    canonical: CanonicalFace = CANONICAL_FACE,
    recursive: bool = True,
    progress: bool = True,
    progress_stream: TextIO | None = None,
) -> AlignReport:
    """Find, align and crop every face of a folder of photos into ``output/imgs/``, with ``output/manifest.csv``.

    Args:
        photos: The folder of photos (searched recursively unless ``recursive=False``).
        output: The output folder; created if needed. Its ``imgs/`` must hold no images and it no manifest yet.
        size: The crops' side in pixels (the model's ``image_size``; OpenFace measures AUs on 112 px and larger).
        finder: Any [`FaceFinder`][ganimation_lib.faces.face.FaceFinder] (default: the built-in
            [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder], which needs the ``faces`` extra).
        face_index: Write only face N of each photo (0 is the first in the finder's order).
        largest: Write only the largest face of each photo.
        min_face_size: Leave out faces narrower than this many pixels (applied first).
        canonical: Where the landmarks go in the crop (default: the training crops' layout).
        recursive: Also read the photos in subfolders.
        progress: Show a progress bar (tqdm when installed, else a line every 10 %).
        progress_stream: Where progress goes (default: stderr).

    Returns:
        The report (``str()`` of it is a readable summary).

    Raises:
        FileNotFoundError: If ``photos`` is not a folder.
        FileExistsError: If ``output`` already holds crops or a manifest.
        ValueError: If an option is out of range or ``photos`` holds no photo files.
        FacesExtraMissingError: If no ``finder`` is given and the ``faces`` extra is not installed.
        OutputWriteError: If a crop or the manifest cannot be written.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
        raise ValueError(f"size must be the crops' side, a whole number of pixels from 1 to 4096, got {size!r}")
    with contextlib.suppress(NoFaceFoundError):  # the face choice is checked before any photo is read
        select_faces([], index=face_index, largest=largest, min_size=min_face_size)
    root, out = Path(photos), Path(output)
    images = out / IMAGES_FOLDER
    names = list_photos(root, recursive=recursive, exclude=out)
    if not names:
        raise ValueError(
            f"no photos ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {str(root)!r}"
            + ("" if recursive else " (subfolders were not searched)")
        )
    _check_output(out, images)
    find = DlibFaceFinder() if finder is None else finder
    report = AlignReport(
        found=len(names),
        choice=_choice(face_index, largest, min_face_size),
        images=images,
        manifest=out / MANIFEST_NAME,
    )
    records: list[CropRecord] = []
    with writing(images):
        images.mkdir(parents=True, exist_ok=True)
    stems = _crop_stems(names)
    stream = sys.stderr if progress_stream is None else progress_stream
    for name in _progress(names, progress, stream):
        records += _align_photo(root, name, stems[name], images, size, find, canonical, report,
                                face_index, largest, min_face_size)  # fmt: skip
    write_crop_manifest(report.manifest, records)
    write_face_crop(out, canonical)  # so that `ganimation train OUT` records the layout with the model
    return report


def _align_photo(
    root: Path,
    name: str,
    stem: str,
    images: Path,
    size: int,
    finder: FaceFinder,
    canonical: CanonicalFace,
    report: AlignReport,
    face_index: int | None,
    largest: bool,
    min_face_size: float,
) -> list[CropRecord]:
    """Crop the chosen faces of one photo; count the photo in the report and return the manifest records."""
    try:
        photo = open_image(root / name)
    except (DataFormatError, OSError) as error:
        report.unreadable.append((name, str(error)))
        return []
    report.photos += 1
    faces = finder(photo)
    report.faces_found += len(faces)
    if not faces:
        report.no_face.append(name)
        return []
    if len(faces) > 1:
        report.several_faces.append((name, len(faces)))
    try:
        chosen = select_faces(faces, index=face_index, largest=largest, min_size=min_face_size)
    except NoFaceFoundError as error:
        report.none_chosen.append((name, str(error)))
        return []
    records: list[CropRecord] = []
    for index, face in enumerate(faces):
        if not any(face is kept for kept in chosen):
            continue
        try:
            transform = alignment_transform(face, size, canonical)
            crop = crop_face(photo, transform, size)
        except ValueError as error:
            report.unaligned.append((f"{name} face {index}", str(error)))
            continue
        pixels = crop.add(1).mul(127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
        crop_name = f"{stem}_{index}.png"
        _save_png(np.ascontiguousarray(pixels), images / crop_name)
        records.append(CropRecord(crop_name, name, index, len(faces), face, transform))
        report.faces_written += 1
    return records
