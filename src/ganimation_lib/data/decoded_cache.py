"""The decoded-image cache: every image of a dataset decoded once, at the training size, into a memory-mapped
uint8 array that later runs (and every DataLoader worker) read instead of decoding JPEGs again.

Decoding a JPEG and resizing it costs about a millisecond of CPU per image, so a few loader workers deliver
a few thousand images per second at most, less than a GPU consumes at 128 px; reading the same image from
the cache is a copy of 49 KB (128 px) from the page cache. See "Feeding the GPU" in ``docs/data.md``.

Files, in the cache folder (one pair per image folder, image size and list of names):

    decoded-<size>px-<key>.npy    (N, size, size, 3) uint8, NumPy's .npy format, opened with mmap read-only
    decoded-<size>px-<key>.json   the index: format, image size, the names in order, the data's fingerprint

The fingerprint hashes every file's name, size and modification time with the image size and the version of
the decoding (crop and resize), so a changed, replaced or touched image, or another transform, makes the
cache stale: it is rebuilt. A missing, truncated or inconsistent pair is rebuilt with a warning naming the
reason; the array and the index are each written atomically, the index last, so an interrupted build
leaves no pair that passes the check with the wrong pixels.

Examples:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("a.png", "b.png"):
    ...     _ = (folder / name).write_bytes(b"stand-in")
    >>> decode = lambda path: np.full((4, 4, 3), len(path.name), dtype=np.uint8)
    >>> cache = DecodedCache.open_or_build(folder / "cache", folder, ["a.png", "b.png"], 4, decode)
    >>> len(cache), cache[1].shape, int(cache[1][0, 0, 0])
    (2, (4, 4, 3), 5)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_files import atomic_path, atomic_text

__all__ = ["DECODING_VERSION", "DecodedCache", "data_fingerprint", "known_readable"]

#: Version of the decoding the cache holds (``load_image``'s crop and bicubic resize before the conversion to
#: float). Raise it when that decoding changes: every cache then reads as stale and is rebuilt.
DECODING_VERSION = 1
_FORMAT = "ganimation-decoded-cache/1"


def data_fingerprint(folder: Path, names: Sequence[str], image_size: int) -> str:
    """A hash of what the cached pixels depend on: each file's name, size and modification time (ns), the
    image size and `DECODING_VERSION`.

    Raises:
        FileNotFoundError: If a named file does not exist.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{DECODING_VERSION}\0{image_size}\n".encode())
    for name in names:
        stat = os.stat(folder / name)
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _file_stats(folder: Path, names: Sequence[str]) -> list[list[Any]]:
    stats = [os.stat(folder / name) for name in names]
    return [[name, stat.st_size, stat.st_mtime_ns] for name, stat in zip(names, stats, strict=True)]


def known_readable(cache_dir: str | Path, folder: Path) -> set[tuple[str, int, int]]:
    """``(name, size, mtime_ns)`` of the images of ``folder`` that a cache in ``cache_dir`` decoded: files that
    still have that size and modification time need no readability check (``AUDataset(check_images=True)``
    skips them, so a dataset whose cache exists opens without decoding anything).

    Examples:
        >>> known_readable("/nonexistent", Path("."))
        set()
    """
    known: set[tuple[str, int, int]] = set()
    directory = Path(cache_dir)
    if not directory.is_dir():
        return known
    where = str(folder.resolve())
    for index_path in directory.glob("decoded-*px-*.json"):
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
            if index.get("format") == _FORMAT and index.get("folder") == where:
                known.update((str(name), int(size), int(mtime)) for name, size, mtime in index["files"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue  # an unreadable index vouches for nothing
    return known


def _cache_stem(folder: Path, names: Sequence[str], image_size: int) -> str:
    """The files' shared name: the image size and a hash of the image folder and the list of names (a train
    and a test split of one folder, or two folders, get their own pair)."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(str(folder.resolve()).encode("utf-8", "surrogatepass"))
    digest.update("\0".join(names).encode("utf-8", "surrogatepass"))
    return f"decoded-{image_size}px-{digest.hexdigest()}"


class DecodedCache:
    """Decoded images of one dataset, read from a memory-mapped uint8 array (see the module docs).

    Build or open it with [`open_or_build`][ganimation_lib.data.decoded_cache.DecodedCache.open_or_build]. The array
    is opened read-only on first access in each process, so a ``DataLoader`` worker maps the file itself
    (pickling the cache, as a spawned worker does, carries only its path).

    Attributes:
        array_path: The ``.npy`` file.
        index_path: The ``.json`` index next to it.
        count: Images in the cache.
        image_size: Their side in pixels.
    """

    def __init__(self, array_path: Path, index_path: Path, count: int, image_size: int) -> None:
        self.array_path = array_path
        self.index_path = index_path
        self.count = count
        self.image_size = image_size
        self._array: np.ndarray | None = None

    @classmethod
    def open_or_build(
        cls,
        cache_dir: str | Path,
        folder: Path,
        names: Sequence[str],
        image_size: int,
        decode: Callable[[Path], np.ndarray],
    ) -> DecodedCache:
        """The cache of ``names`` in ``folder`` at ``image_size``: opened when a valid one for the current files
        is in ``cache_dir``, else built by calling ``decode`` on each file (and then reused by later calls).

        Args:
            cache_dir: Folder of the cache files (created if needed; may hold caches of several datasets).
            folder: The image folder.
            names: The image names, in dataset order.
            image_size: Side of the decoded images.
            decode: Returns a file's (image_size, image_size, 3) uint8 pixels.

        Raises:
            OutputWriteError: If the cache cannot be written (read-only folder, full disk).
            ValueError: If ``decode`` returns an array of another shape or type.
        """
        directory = Path(cache_dir)
        stem = _cache_stem(folder, names, image_size)
        cache = cls(directory / f"{stem}.npy", directory / f"{stem}.json", len(names), image_size)
        fingerprint = data_fingerprint(folder, names, image_size)
        problem = cache._check(names, fingerprint)
        if problem is None:
            return cache
        if problem != "missing":
            warnings.warn(f"decoded cache {cache.array_path} is {problem}; rebuilding it", stacklevel=3)
        cache._build(folder, names, fingerprint, decode)
        problem = cache._check(names, fingerprint)
        if problem is not None:  # the files changed while they were decoded
            raise RuntimeError(
                f"decoded cache {cache.array_path} is {problem} right after it was built: were the images in "
                f"{folder} modified meanwhile? Build it again when the folder is no longer written to"
            )
        return cache

    def _expected_index(self, names: Sequence[str], fingerprint: str) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "image_size": self.image_size,
            "count": len(names),
            "fingerprint": fingerprint,
            "names": list(names),
        }

    def _check(self, names: Sequence[str], fingerprint: str) -> str | None:
        """``None`` when the pair on disk is valid for these files, else why not (``"missing"``: no index)."""
        try:
            index = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError) as error:
            return f"unreadable (index: {error})"
        if not isinstance(index, dict):
            return "unreadable (index is not a JSON object)"
        expected = self._expected_index(names, fingerprint)
        for key in ("format", "image_size", "count", "names"):
            if index.get(key) != expected[key]:
                return f"for other data (index field {key!r} differs)"
        if index.get("fingerprint") != fingerprint:
            return "stale (an image was added, changed or touched since it was built)"
        try:
            array = np.load(self.array_path, mmap_mode="r")
        except (OSError, ValueError) as error:
            return f"unreadable ({error})"
        shape = (len(names), self.image_size, self.image_size, 3)
        if not isinstance(array, np.memmap) or array.dtype != np.uint8 or array.shape != shape:
            return f"the wrong array ({getattr(array, 'shape', '?')}, expected {shape} uint8)"
        size = os.path.getsize(self.array_path)
        if size != index.get("array_bytes"):
            return f"truncated or replaced ({size} bytes, the index says {index.get('array_bytes')})"
        return None

    def _build(
        self, folder: Path, names: Sequence[str], fingerprint: str, decode: Callable[[Path], np.ndarray]
    ) -> None:
        """Decode every image into a new array file, then write the index (each atomically, the index last)."""
        # An old index stays until the new one replaces it: it names an older fingerprint (or describes an
        # array of the same content, for a damaged array rebuilt), so a build killed between the two renames
        # never leaves a pair that passes the check with other pixels. Processes building the same cache at
        # once (ranks under torchrun) write the same bytes, and each sees a valid pair when it is done.
        shape = (len(names), self.image_size, self.image_size, 3)
        with atomic_path(self.array_path) as temporary:
            array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
            try:
                for i, name in enumerate(names):
                    pixels = decode(folder / name)
                    if pixels.dtype != np.uint8 or pixels.shape != shape[1:]:
                        raise ValueError(
                            f"decoding {folder / name} gave a {pixels.dtype} array of shape {pixels.shape}; "
                            f"the cache holds {shape[1:]} uint8"
                        )
                    array[i] = pixels
                array.flush()
            finally:
                del array
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
        index = self._expected_index(names, fingerprint)
        index["array_bytes"] = os.path.getsize(self.array_path)
        index["folder"] = str(folder.resolve())
        index["files"] = _file_stats(folder, names)  # what known_readable reports
        with atomic_text(self.index_path) as handle:
            json.dump(index, handle)
        self._array = None

    # ------------------------------------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:
        """Image ``index`` as a read-only (size, size, 3) uint8 view of the mapped file."""
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
        return self._array[index]  # type: ignore[no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_array"] = None  # a worker maps the file itself; never pickle the pixels
        return state

    def __repr__(self) -> str:
        return f"DecodedCache({self.count} images of {self.image_size} px, {str(self.array_path)!r})"
