"""Train an [`AURegressor`][ganimation_lib.evaluation.regressor.AURegressor] on real faces and their own AUs.

The training images are read once and kept as 8-bit pixels (exact for images that come from 8-bit files
or the synthetic renderer), so each step costs only the network, not image decoding. Light augmentation
(a shift of a pixel or two, a mirror image, brightness and contrast, a little noise) makes it read the
expression rather than memorise one renderer's or camera's exact pixels.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from .regressor import AURegressor, AURegressorConfig

__all__ = ["augment_faces", "load_faces", "train_au_regressor"]


def load_faces(
    dataset: Dataset[AUSample], image_size: int, *, max_images: int | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Every item's image as (N, 3, S, S) uint8 and its own AUs as (N, num_aus) float32.

    With ``max_images``, a seeded sample of that many items (memory: 3·S² bytes per face, 49 kB at 128 px).

    Reading items draws target AUs (and flips) from the global RNG; that happens inside a forked RNG, so
    the caller's random stream is left as it was.

    Raises:
        ValueError: if the dataset is empty or its images are not ``image_size`` px.
    """
    length = len(dataset)  # type: ignore[arg-type]
    if length == 0:
        raise ValueError("the dataset is empty; the AU regressor needs real faces with their AUs to learn from")
    picks = list(range(length))
    if max_images is not None and max_images < length:
        picks = sorted(torch.randperm(length, generator=torch.Generator().manual_seed(seed))[:max_images].tolist())
    images: list[Tensor] = []
    aus: list[Tensor] = []
    with torch.random.fork_rng(devices=[]):
        for index in picks:
            item = dataset[index]
            if tuple(item.image.shape) != (3, image_size, image_size):
                raise ValueError(
                    f"the dataset's images are {tuple(item.image.shape)}, but the regressor reads (3, {image_size}, "
                    f"{image_size}); build the dataset with image_size={image_size}"
                )
            image = item.image  # kept as uint8: from a uint8 dataset as it is, from a float one rounded
            if image.dtype != torch.uint8:
                image = ((as_float_faces(image).float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            images.append(image)
            aus.append(item.aus.float())
    return torch.stack(images), torch.stack(aus)


def augment_faces(images: Tensor, *, max_shift: float, generator: torch.Generator | None = None) -> Tensor:
    """A lightly changed copy of ``images`` (B, 3, H, W) in [-1, 1].

    Per image: a sub-pixel shift of up to ``max_shift`` pixels each way (edges repeated), a mirror image
    with probability 0.5 (AUs are symmetric, so the labels stay valid), contrast ×[0.8, 1.2], brightness
    ±0.1 and Gaussian noise of standard deviation 0.03.

    Examples:
        >>> x = torch.zeros(2, 3, 16, 16)
        >>> augment_faces(x, max_shift=1.0, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3, 16, 16])
    """
    b, _, h, w = images.shape

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    if max_shift > 0:
        # Larger shifts (and rescaling) were measured to slow learning several-fold on 64 px faces.
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, :, 2] = uniform(b, 2) * (2 * max_shift / torch.tensor([w, h], dtype=torch.float32))
        grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    mirror = (torch.rand(b, generator=generator) < 0.5).to(images.device)[:, None, None, None]
    images = torch.where(mirror, images.flip(-1), images)
    contrast = (1 + 0.2 * uniform(b, 1, 1, 1)).to(images)
    brightness = (0.1 * uniform(b, 1, 1, 1)).to(images)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean + brightness
    noise = torch.randn(images.shape, generator=generator).to(images) * 0.03
    return images + noise


class _Progress:
    """A tqdm bar when tqdm is installed, else a printed line every tenth of the run."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None) -> None:
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.bar: Any = None
        self.started = time.perf_counter()
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, desc="AU regressor", unit="step", file=self.stream, dynamic_ncols=True)

    def update(self, step: int, loss: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            if step % 25 == 0 or step == self.total:
                self.bar.set_postfix(l1=f"{loss:.4f}", refresh=False)
        elif step % max(1, self.total // 10) == 0 or step == self.total:
            elapsed = time.perf_counter() - self.started
            print(f"AU regressor: step {step}/{self.total}, L1 {loss:.4f}, {elapsed:.0f} s", file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train_au_regressor(
    dataset: Dataset[AUSample],
    *,
    image_size: int,
    steps: int = 3000,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    augment: bool = True,
    config: AURegressorConfig | None = None,
    device: str | torch.device = "cpu",
    max_images: int | None = 10_000,
    stream: TextIO | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> AURegressor:
    """Train an AU regressor on ``dataset``'s real faces and their own AUs (``AUSample.image``, ``.aus``).

    Adam with a cosine-decayed learning rate and an L1 loss, on batches drawn with replacement. The
    defaults were measured on 64 px [`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] (4,500 images):
    about a minute on one CPU core, with a held-out error of about 0.06 (``docs/evaluation.md``).

    Args:
        dataset: The training faces (never generated ones, and never the held-out faces being evaluated).
        image_size: Side of the faces; the dataset's images must have it.
        steps: Optimiser steps.
        batch_size: Faces per step.
        lr: Peak learning rate.
        seed: Seed of the initialisation, the batches and the augmentation (the global RNG is not used).
        progress: Show a progress bar (tqdm when installed, else a line every tenth of the run).
        augment: Apply [`augment_faces`][ganimation_lib.evaluation.fit_regressor.augment_faces] to every batch.
        config: The architecture; ``None`` uses ``AURegressorConfig.for_image_size(image_size, num_aus=...)``.
        device: Where to train.
        max_images: Train on a seeded sample of at most this many faces (they are kept in memory as 8-bit
            pixels); ``None`` uses all.
        stream: Where the progress goes (default ``sys.stderr``).
        on_step: Called as ``on_step(step, loss)`` after every step (for logging).

    Returns:
        The trained regressor, in eval mode.

    Raises:
        ValueError: when an argument is out of range or the dataset does not fit ``image_size``/``config``.

    Examples:
        >>> from ganimation_lib import SyntheticFaces
        >>> faces = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32)
        >>> r = train_au_regressor(faces, image_size=32, steps=2, batch_size=2, progress=False)
        >>> r(faces[0].image[None]).shape
        torch.Size([1, 17])
    """
    for name, value in (("steps", steps), ("batch_size", batch_size), ("image_size", image_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number (e.g. 2e-3), got {lr}")
    images, aus = load_faces(dataset, image_size, max_images=max_images, seed=seed)
    if config is None:
        config = AURegressorConfig.for_image_size(image_size, num_aus=aus.shape[1])
    if config.image_size != image_size or config.num_aus != aus.shape[1]:
        raise ValueError(
            f"config reads {config.image_size} px faces with {config.num_aus} AUs, but the dataset has "
            f"{image_size} px faces with {aus.shape[1]} AUs; make them agree"
        )
    target = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AURegressor(config)
    model.au_names = getattr(dataset, "au_names", None)
    model = model.to(target).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    max_shift = max(1.0, image_size / 64)
    bar = _Progress(steps, progress, stream)
    try:
        for step in range(1, steps + 1):
            # Cosine decay to zero: the last steps refine instead of jumping around the minimum.
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
            picks = torch.randint(0, len(images), (batch_size,), generator=generator)
            batch = images[picks].to(target).float() * (2 / 255) - 1
            if augment:
                batch = augment_faces(batch, max_shift=max_shift, generator=generator)
            loss = F.l1_loss(model(batch), aus[picks].to(target))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            loss_value = float(loss.detach())
            bar.update(step, loss_value)
            if on_step is not None:
                on_step(step, loss_value)
    finally:
        bar.close()
    return model.eval()
