"""How fast the training data loader alone delivers images: by worker count, decoding JPEGs or reading the
decoded-image cache, with fresh or persistent workers (issue 13, data path).

Writes ``--count`` synthetic faces (``SyntheticFaces``, ``--source-size`` px, saved as JPEG quality 90 as the
official 128 px crops are) to a temporary folder, then iterates ``--epochs`` epochs of batches of
``--batch-size`` exactly as ``Trainer.fit`` does (``EpochLoader``: a fresh ``DataLoader`` per epoch over the
epoch-seeded sampler, ``pin_memory`` on CUDA) and, for comparison, one ``DataLoader`` kept across epochs with
``persistent_workers``. Each line gives images/s over all epochs, the steady images/s of the last epoch after
its first batch, and the wait for an epoch's first batch (worker start-up). The cache is built first; its
build time is printed. "cache uint8" reads the cache with ``uint8_images=True``: batches of uint8 pixels, which
the trainer scales on its device. Nothing else consumes the batches, so the figures are what the loader can
feed.

    python benchmarks/loader_speed.py [--count 2000] [--source-size 128] [--image-size 128] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ganimation_lib.data import AUDataset, AUSample, SyntheticFaces, write_au_table
from ganimation_lib.training.sampling import EpochLoader, ResumableSampler


def write_jpeg_faces(root: Path, count: int, source_size: int, distinct: int = 100) -> Path:
    """``count`` JPEG faces with AU labels under ``root`` (``distinct`` rendered faces, repeated: a file's
    decoding cost depends on its content, not on its name)."""
    faces = SyntheticFaces(num_identities=10, items_per_identity=distinct // 10, image_size=source_size, seed=1)
    images = root / "imgs"
    images.mkdir(parents=True)
    table = faces.aus_table
    rows: dict[str, list[float]] = {}
    for i in range(count):
        item = i % len(faces)
        name = f"{i:06d}.jpg"
        if i < len(faces):
            faces.render(faces.identity_of(item), table[item]).save(images / name, quality=90)
        else:
            (images / name).write_bytes((images / f"{item:06d}.jpg").read_bytes())
        rows[name] = [5 * float(v) for v in table[item]]
    write_au_table(root / "aus.csv", rows, au_names=faces.au_names)
    return root


def timed_epochs(epochs: Callable[[int], Iterator[AUSample]], count: int) -> tuple[float, float, float]:
    """(images/s over all epochs, images/s of the last epoch after its first batch, mean first-batch wait)."""
    started = time.perf_counter()
    images, waits, steady = 0, [], 0.0
    for epoch in range(count):
        epoch_start = time.perf_counter()
        first_at, epoch_images, first_images = epoch_start, 0, 0
        for i, batch in enumerate(epochs(epoch)):
            if i == 0:
                first_at, first_images = time.perf_counter(), len(batch.image)
                waits.append(first_at - epoch_start)
            epoch_images += len(batch.image)
        steady = (epoch_images - first_images) / max(time.perf_counter() - first_at, 1e-9)
        images += epoch_images
    return images / (time.perf_counter() - started), steady, sum(waits) / len(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="images in the dataset")
    parser.add_argument("--source-size", type=int, default=128, help="side of the JPEG files")
    parser.add_argument("--image-size", type=int, default=128, help="training size the loader delivers")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    print(
        f"{args.count} JPEG faces of {args.source_size} px -> {args.image_size} px, batch {args.batch_size}, "
        f"{args.epochs} epochs; {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.cuda.get_device_name() if cuda else 'no CUDA (pin_memory off)'}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        root = write_jpeg_faces(Path(temporary) / "data", args.count, args.source_size)
        plain = AUDataset(root, image_size=args.image_size, check_images=False)
        started = time.perf_counter()
        cached = AUDataset(root, image_size=args.image_size, check_images=False, decoded_cache=Path(temporary) / "c")
        built = time.perf_counter() - started
        started = time.perf_counter()
        AUDataset(root, image_size=args.image_size, check_images=False, decoded_cache=Path(temporary) / "c")
        reopened = time.perf_counter() - started
        as_uint8 = AUDataset(
            root, image_size=args.image_size, check_images=False, decoded_cache=Path(temporary) / "c", uint8_images=True
        )
        rate = args.count / built
        print(f"decoded cache: built in {built:.2f} s ({rate:.0f} images/s), opened again in {reopened:.3f} s")
        header = f"{'images':11} {'workers':>7} {'loader':22} {'images/s':>9} {'steady/s':>9} {'first batch':>12}"
        print(header + "\n" + "-" * len(header))
        for source, data in (("decoded", plain), ("cache", cached), ("cache uint8", as_uint8)):
            for workers in args.workers:
                loader = EpochLoader(data, batch_size=args.batch_size, num_workers=workers, pin_memory=cuda)
                rate, steady, wait = timed_epochs(loader.batches, args.epochs)
                print(f"{source:11} {workers:7d} {'fresh per epoch':22} {rate:9.0f} {steady:9.0f} {wait:10.3f} s")
                if workers == 0:
                    continue
                sampler = ResumableSampler(len(data), seed=0)
                kept = DataLoader(
                    data,
                    batch_size=args.batch_size,
                    sampler=sampler,
                    drop_last=True,
                    num_workers=workers,
                    pin_memory=cuda,
                    persistent_workers=True,
                )

                def persistent(epoch: int, sampler: ResumableSampler = sampler, kept: DataLoader = kept) -> Iterator:
                    sampler.set_epoch(epoch)
                    return iter(kept)

                rate, steady, wait = timed_epochs(persistent, args.epochs)
                print(f"{source:11} {workers:7d} {'persistent workers':22} {rate:9.0f} {steady:9.0f} {wait:10.3f} s")
                del kept


if __name__ == "__main__":
    main()
