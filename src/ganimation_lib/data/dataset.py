"""``AUDataset``: a folder of face images plus an AU label file, checked at construction.

Layout (what [`prepare_openface`][ganimation_lib.data.prepare.prepare_openface] and
[`write`][ganimation_lib.data.synthetic.SyntheticFaces.write] produce, and the official dataset's):

    root/
      imgs/                 face images (any of .jpg .png .bmp ...)
      aus.csv               AU table (or aus_openface.pkl, or attributes.txt)
      train_ids.csv         optional: the names of the training images, one per line
      test_ids.csv          optional: the names of the test images

Labels are matched to images by file name, or by stem when the labels have none (the official pickle's keys
are basenames without extension).

Examples:
    >>> import tempfile
    >>> from ganimation_lib.data.synthetic import SyntheticFaces
    >>> root = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32).write(tempfile.mkdtemp())
    >>> data = AUDataset(root, image_size=32)
    >>> len(data), data[0].image.shape, data[0].name
    (4, torch.Size([3, 32, 32]), '000000_id0.png')
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ..aus import AU_NAMES, AU_SCALE, check_au_names
from ..face_layout import read_face_crop
from .decoded_cache import DecodedCache, known_readable
from .errors import DataFormatError
from .image_io import list_images, open_image, pil_to_tensor, readable_image, uint8_to_tensor
from .labels import AUTable, read_ids, read_labels
from .sample import AUSample
from .tally import CountsWithExamples
from .target_sampling import RandomOtherTarget, TargetSampler

__all__ = ["AUDataset", "DatasetReport", "load_image", "load_rgb"]

Split = Literal["all", "train", "test"]
_LABEL_NAMES = ("aus.csv", "aus_openface.pkl", "attributes.txt")


@dataclass
class DatasetReport(CountsWithExamples):
    """What [`AUDataset`][ganimation_lib.data.dataset.AUDataset] found wrong at construction (each problem's items were
    skipped).

    Attributes:
        bad_rows: Label rows that could not be used (wrong value count, text, NaN, out of range, duplicates).
        rows_without_images: Label rows naming an image that is not in the folder.
        images_without_rows: Images in the folder with no label row.
        unreadable_images: Images that do not decode (not images, corrupt, truncated) or are above
            50 megapixels.
        examples: Up to 5 examples per problem.
    """

    bad_rows: int = 0
    rows_without_images: int = 0
    images_without_rows: int = 0
    unreadable_images: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not (self.bad_rows or self.rows_without_images or self.images_without_rows or self.unreadable_images)

    def __str__(self) -> str:
        if self.ok:
            return "no problems"
        parts = []
        for problem in ("bad_rows", "rows_without_images", "images_without_rows", "unreadable_images"):
            count = getattr(self, problem)
            if count:
                parts.append(f"{count} {problem.replace('_', ' ')} (e.g. {'; '.join(self.examples[problem])})")
        return ", ".join(parts)


def load_image(path: str | Path, image_size: int) -> Tensor:
    """Load an image as a (3, image_size, image_size) float32 tensor in [-1, 1].

    The image is scaled so its shorter side is ``image_size`` and centre-cropped: aspect is never distorted.
    It is opened as [`open_image`][ganimation_lib.data.image_io.open_image] does: an EXIF orientation (camera
    photos) is applied first, as OpenFace (OpenCV) does when it measures the AUs; 16-bit images are read on
    their 16-bit scale; a large JPEG is decoded already reduced (1/2 to 1/8 scale, never below
    ``image_size``).

    Raises:
        DataFormatError: If the file is not a readable image (corrupt, truncated) or is above
            `MAX_PIXELS` (50 megapixels).
    """
    return pil_to_tensor(load_rgb(path, image_size))


def load_rgb(path: str | Path, image_size: int) -> Image.Image:
    """The (image_size, image_size) RGB image `load_image` converts to a tensor (and the decoded cache stores).

    Raises:
        DataFormatError: As `load_image`.
    """
    try:
        rgb = open_image(path, draft_size=image_size)
    except FileNotFoundError as error:
        raise DataFormatError(f"is not a readable image ({error})", path) from None
    # Crop the centred square first, then resize: resizing with a box would blend in pixels from outside it.
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    image = rgb.crop((left, top, left + side, top + side))
    if side != image_size:
        image = image.resize((image_size, image_size), Image.Resampling.BICUBIC, reducing_gap=None)
    return image


def _split_rank(name: str, seed: int) -> bytes:
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8, key=str(seed).encode()).digest()


def _test_names(files: Sequence[str], test_fraction: float, seed: int) -> set[str]:
    """The test part of a seeded split: the ``round(n * test_fraction)`` names (at least 1) ranked first by a
    seeded hash of each name.

    Each name's rank depends only on the name and the seed, so adding, removing or losing an image (an
    unreadable file, say) moves at most the names at the boundary between the parts, never reshuffles
    them: a validation set stays a validation set as the folder grows.

    Examples:
        >>> names = [f"{i}.jpg" for i in range(10)]
        >>> len(_test_names(names, 0.3, seed=0)), _test_names(names, 0.3, 0) == _test_names(names[::-1], 0.3, 0)
        (3, True)
    """
    if len(files) < 2:
        return set()
    count = max(1, round(len(files) * test_fraction))
    return set(sorted(files, key=lambda name: _split_rank(name, seed))[:count])


class AUDataset(Dataset[AUSample]):
    """Face images with their AUs, yielding [`AUSample`][ganimation_lib.data.sample.AUSample].

    Args:
        root: Dataset folder (see the module docs); gives the defaults of ``images``, ``labels`` and the ids
            files. May be ``None`` when ``images`` and ``labels`` are given.
        images: Image folder (default: ``root/imgs`` if it exists, else ``root``).
        labels: AU label file: AU table ``.csv``, official ``.pkl`` or ``attributes.txt`` (default: the
            first of ``aus.csv``, ``aus_openface.pkl``, ``attributes.txt`` found in ``root``, then in the
            image folder).
        image_size: Side of the returned images (scaled and centre-cropped, never distorted).
        au_names: AUs to use, in this order (default: the 17 OpenFace AUs).
        au_scale: Raw values are divided by it (default 5: OpenFace 0-5 → [0, 1]; 1 keeps raw values).
        flip: Probability of a horizontal flip per item (0 = never; ``True`` means 0.5). AUs are symmetric,
            so the labels stay valid.
        target_sampler: Chooses target AUs (default: the official recipe,
            [`RandomOtherTarget`][ganimation_lib.data.target_sampling.RandomOtherTarget]).
        split: ``"all"``, or ``"train"`` / ``"test"``: from ``<split>_ids.csv`` in ``root`` when it exists,
            else a seeded random split with ``test_fraction`` of the items in the test part.
        ids: Explicit names to use (a list, or an ids file), instead of ``split``.
        test_fraction: Share of items in the test split when there are no ids files.
        split_seed: Seed of that random split (same seed, same split, on any machine).
        check_images: Decode every image at construction (a JPEG at reduced scale) to find unreadable ones:
            corrupt, truncated or above 50 megapixels.
        strict: Raise [`DataFormatError`][ganimation_lib.data.errors.DataFormatError] on any problem instead of skipping
            the item with a warning.
        decoded_cache: Folder of a decoded-image cache
            ([`DecodedCache`][ganimation_lib.data.decoded_cache.DecodedCache]): the items are decoded once, at
            ``image_size``, into a memory-mapped uint8 array there (built now if missing or stale, reused by later
            runs and by every loader worker) and read from it instead of the files: same tensors, no JPEG
            decoding per item. Flips still apply per item. ``None``: decode on every access.
        uint8_images: Yield each image as a (3, image_size, image_size) uint8 tensor (0-255) instead of float32
            in [-1, 1]: a quarter of the bytes through loader workers and onto the GPU, and no float conversion on
            the loading CPU. ``Trainer``, ``validate`` and ``evaluate`` convert them on their device
            (`as_float_faces`: the same values, bit for bit); your own code reading the items should too.

    Raises:
        FileNotFoundError: If a folder or label file does not exist.
        DataFormatError: If the label file is malformed, no item is left, or (``strict``) anything was skipped.
        ValueError: If an argument is out of range.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        images: str | Path | None = None,
        labels: str | Path | None = None,
        image_size: int = 128,
        au_names: Sequence[str] = AU_NAMES,
        au_scale: float = AU_SCALE,
        flip: float | bool = 0.0,
        target_sampler: TargetSampler | None = None,
        split: Split = "all",
        ids: str | Path | Sequence[str] | None = None,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        check_images: bool = True,
        strict: bool = False,
        decoded_cache: str | Path | None = None,
        uint8_images: bool = False,
    ) -> None:
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
        if not (math.isfinite(au_scale) and au_scale > 0):
            raise ValueError(f"au_scale must be a positive number (5 for OpenFace intensities), got {au_scale}")
        flip_probability = 0.5 if flip is True else float(flip)
        if not 0.0 <= flip_probability <= 1.0:
            raise ValueError(f"flip is a probability in [0, 1] (or True for 0.5), got {flip!r}")
        if split not in ("all", "train", "test"):
            raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
        self.root = None if root is None else Path(root)
        #: How the crops were aligned (``root/face_crop.json``, written by ``ganimation prepare --align``), or None.
        self.face_crop = None if self.root is None else read_face_crop(self.root)
        self.images_dir = self._resolve_images(images)
        self.labels_path = self._resolve_labels(labels)
        self.image_size = image_size
        self.au_names = check_au_names(au_names)
        self.au_scale = float(au_scale)
        self.flip = flip_probability
        self.target_sampler: TargetSampler = target_sampler if target_sampler is not None else RandomOtherTarget()
        self.strict = strict
        self.uint8_images = bool(uint8_images)
        self.report = DatasetReport()

        table = read_labels(self.labels_path, self.au_names, strict=strict)
        for row in table.skipped:
            self.report.count("bad_rows", f"line {row.line} {row.file}: {row.reason}".replace("  ", " "))
        checked = known_readable(decoded_cache, self.images_dir) if decoded_cache is not None else set()
        files, values = self._match(table, check_images, checked)
        files, values = self._select(files, values, split, ids, test_fraction, split_seed)
        if not self.report.ok:
            message = f"{self.labels_path} with {self.images_dir}: {self.report}"
            if strict:
                raise DataFormatError(f"dataset has problems: {message}")
            warnings.warn(f"AUDataset skipped items: {message}", stacklevel=2)
        if not files:
            raise DataFormatError(f"no usable items in {self.images_dir} with labels {self.labels_path}")
        self.files: tuple[str, ...] = tuple(files)
        self._table = torch.from_numpy((np.asarray(values, dtype=np.float64) / self.au_scale).astype(np.float32))
        self.decoded_cache: DecodedCache | None = None
        if decoded_cache is not None:
            self.decoded_cache = DecodedCache.open_or_build(
                decoded_cache, self.images_dir, self.files, image_size, self._decode_pixels
            )

    # ------------------------------------------------------------------------------------------ construction

    def _resolve_images(self, images: str | Path | None) -> Path:
        if images is not None:
            folder = Path(images)
        elif self.root is None:
            raise ValueError("give a dataset root, or both images= and labels=")
        else:
            folder = self.root / "imgs" if (self.root / "imgs").is_dir() else self.root
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder {str(folder)!r} does not exist")
        return folder

    def _resolve_labels(self, labels: str | Path | None) -> Path:
        if labels is not None:
            path = Path(labels)
            if not path.is_file():
                raise FileNotFoundError(f"label file {str(path)!r} does not exist")
            return path
        places = [p for p in (self.root, self.images_dir) if p is not None]
        tried = [place / name for place in places for name in _LABEL_NAMES]
        for candidate in tried:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"no AU labels found; tried {[str(t) for t in tried]}. Run 'ganimation prepare' or pass labels="
        )

    def _match(
        self, table: AUTable, check_images: bool, checked: set[tuple[str, int, int]]
    ) -> tuple[list[str], list[np.ndarray]]:
        """Pair label rows with image files (by name, else by stem) and record what does not pair; files in
        ``checked`` (name, size, mtime_ns: decoded into a cache) are known to be readable."""
        present = list_images(self.images_dir)
        by_name = set(present)
        by_stem: dict[str, str | None] = {}
        for present_name in present:
            stem = os.path.splitext(present_name)[0]
            by_stem[stem] = None if stem in by_stem else present_name  # None: ambiguous stem, match by full name only
        files: list[str] = []
        values: list[np.ndarray] = []
        used: set[str] = set()
        for label, row in zip(table.files, table.values, strict=True):
            name: str | None = label if label in by_name else by_stem.get(os.path.splitext(label)[0])
            if name is None:
                self.report.count("rows_without_images", label)
                continue
            if name in used:
                self.report.count("bad_rows", f"{label}: a second row for image {name}")
                continue
            used.add(name)
            if check_images and not self._known(name, checked) and self._unreadable(name):
                self.report.count("unreadable_images", name)
                continue
            files.append(name)
            values.append(row)
        for present_name in present:
            if present_name not in used:
                self.report.count("images_without_rows", present_name)
        return files, values

    def _unreadable(self, name: str) -> bool:
        return readable_image(self.images_dir / name, self.image_size) is not None

    def _known(self, name: str, checked: set[tuple[str, int, int]]) -> bool:
        if not checked:
            return False
        stat = os.stat(self.images_dir / name)
        return (name, stat.st_size, stat.st_mtime_ns) in checked

    def _select(
        self,
        files: list[str],
        values: list[np.ndarray],
        split: Split,
        ids: str | Path | Sequence[str] | None,
        test_fraction: float,
        split_seed: int,
    ) -> tuple[list[str], list[np.ndarray]]:
        wanted: set[str] | None = None
        if ids is not None:
            wanted = set(read_ids(ids)) if isinstance(ids, (str, Path)) else set(ids)
        elif split != "all":
            ids_file = None if self.root is None else self.root / f"{split}_ids.csv"
            if ids_file is not None and ids_file.is_file():
                wanted = set(read_ids(ids_file))
            else:
                test_names = _test_names(files, test_fraction, split_seed)
                keep = [i for i, f in enumerate(files) if (f in test_names) == (split == "test")]
                return [files[i] for i in keep], [values[i] for i in keep]
        if wanted is None:
            return files, values
        stems = {os.path.splitext(w)[0] for w in wanted}
        keep = [i for i, f in enumerate(files) if f in wanted or os.path.splitext(f)[0] in stems]
        return [files[i] for i in keep], [values[i] for i in keep]

    def _decode_pixels(self, path: Path) -> np.ndarray:
        return np.asarray(load_rgb(path, self.image_size))

    # ----------------------------------------------------------------------------------------------- dataset

    def __len__(self) -> int:
        return len(self.files)

    @property
    def aus_table(self) -> Tensor:
        """(len, num_aus) float32 AUs of every item, already divided by ``au_scale`` (a copy)."""
        return self._table.clone()

    def __getitem__(self, index: int) -> AUSample:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} items")
        index %= len(self)
        if self.decoded_cache is not None:
            pixels = self.decoded_cache[index]
        else:
            pixels = self._decode_pixels(self.images_dir / self.files[index])
        if self.uint8_images:
            image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        else:
            image = uint8_to_tensor(pixels)  # what load_image returns for the file
        if self.flip > 0 and float(torch.rand(())) < self.flip:
            image = image.flip(-1)
        target, source = self.target_sampler(index, self._table)
        source_name = "" if source is None else self.files[source]
        return AUSample(image, self._table[index].clone(), target, source_name, self.files[index])

    def __repr__(self) -> str:
        return (
            f"AUDataset({len(self)} items, images={str(self.images_dir)!r}, labels={str(self.labels_path)!r}, "
            f"image_size={self.image_size})"
        )
