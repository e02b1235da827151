"""Validation figures on a fixed held-out batch.

* ``critic_au_error``: MSE of the critic's AU head on real held-out faces against their own AUs.
* ``expression_error``: MSE between the critic's AU head on the *generated* faces and the target AUs.
  This is a **biased, in-training signal**: the generator is trained against this very head, so it can
  fall without the face really showing the expression (an adversarial fit of the head). Use it to watch
  training, not to compare models.
* ``cycle_error``: L1 between ``G(G(x, target).image, source)`` and ``x``.
* ``attention_mean``: mean of the attention mask of ``G(x, target)`` (1 = input kept untouched).
* ``true_error`` (when the data can render the truth, as ``SyntheticFaces`` does): L1 between the
  generated face and the renderer's picture of the same identity with the target AUs; and
  ``identity_error``, the same distance for the unchanged input (the baseline a useful model beats).
* With an independent AU regressor (``Trainer(au_regressor=...)``, e.g. the one ``ganimation evaluate`` saves,
  which the generator is never trained against; see [`evaluation`][ganimation_lib.evaluation]), its mean
  absolute AU errors: ``regressor_expression_error`` (the generated faces against the target AUs),
  ``regressor_input_error`` (the unchanged inputs against the target AUs: the baseline) and
  ``regressor_au_error`` (the real faces against their own AUs: how well it reads at all). Unlike
  ``expression_error``, the first does not fall when the generator learns to fool the critic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from ..losses import cycle_loss
from .rng import capture_rng_state, restore_rng_state

__all__ = ["HeldOut", "TruthFn", "collect_fixed_batch", "prepare_au_regressor", "truth_for", "validate"]

#: ``truth(indices, target_aus) -> images``: the true pictures of the held-out items with the target AUs.
TruthFn = Callable[[list[int], Tensor], Tensor]


def truth_for(dataset: Any) -> TruthFn | None:
    """The ground-truth renderer of ``dataset`` when it has one (``SyntheticFaces``), else ``None``.

    A dataset qualifies when it has ``identity_of(index)`` and ``render_tensor(identity, aus)`` returning
    a (3, H, W) image in [-1, 1].
    """
    if not (callable(getattr(dataset, "identity_of", None)) and callable(getattr(dataset, "render_tensor", None))):
        return None

    def truth(indices: list[int], target_aus: Tensor) -> Tensor:
        pictures = [
            dataset.render_tensor(dataset.identity_of(i), target_aus[k].detach().cpu()) for k, i in enumerate(indices)
        ]
        return torch.stack(pictures)

    return truth


def collect_fixed_batch(dataset: Dataset[AUSample], count: int, seed: int) -> tuple[AUSample, list[int]]:
    """Collate the first ``count`` items of ``dataset`` without disturbing the global RNG states.

    Datasets that draw random targets would otherwise consume random numbers here, and a resumed run
    (which collects the batch again) would not repeat an uninterrupted one bit for bit.
    """
    length = len(dataset)  # type: ignore[arg-type]
    if length == 0:
        raise ValueError("the validation dataset is empty; pass val_data with at least one item")
    indices = list(range(min(count, length)))
    saved = capture_rng_state()
    try:
        torch.manual_seed(seed)
        batch = default_collate([dataset[i] for i in indices])
    finally:
        restore_rng_state(saved)
    if not isinstance(batch, AUSample):
        raise TypeError(f"the dataset must yield AUSample items, got {type(batch).__name__} after collation")
    return batch, indices


@dataclass
class HeldOut:
    """The fixed held-out faces validation runs on: the collated batch, the items' indices, their true pictures.

    Attributes:
        batch: The first items of the validation data, collated (see
            [`collect_fixed_batch`][ganimation_lib.training.validation.collect_fixed_batch]).
        indices: Their indices in the validation data.
        truth: The renderer of their true pictures ([`truth_for`][ganimation_lib.training.validation.truth_for]), or
            ``None``.

    Examples:
        >>> data = [AUSample(torch.zeros(3, 8, 8), torch.zeros(17), torch.zeros(17), "", str(i)) for i in range(5)]
        >>> held_out = HeldOut.collect(data, count=2, seed=0)
        >>> held_out.indices, held_out.batch.image.shape, held_out.truth
        ([0, 1], torch.Size([2, 3, 8, 8]), None)
    """

    batch: AUSample
    indices: list[int]
    truth: TruthFn | None = None

    @classmethod
    def collect(cls, dataset: Dataset[AUSample], count: int, seed: int) -> HeldOut:
        """The first ``count`` items of ``dataset`` (drawn under ``seed``) and its ground truth, if any."""
        batch, indices = collect_fixed_batch(dataset, count, seed)
        return cls(batch, indices, truth_for(dataset))


def prepare_au_regressor(regressor: nn.Module, image_size: int, num_aus: int, device: torch.device) -> nn.Module:
    """``regressor`` on ``device``, after checking that it reads the generator's faces: its ``config``'s
    ``image_size`` and ``num_aus`` (an ``AURegressor``'s) must be the generator's.

    Examples:
        >>> from ganimation_lib.evaluation import AURegressor, AURegressorConfig
        >>> regressor = AURegressor(AURegressorConfig(image_size=64))
        >>> prepare_au_regressor(regressor, 64, 17, torch.device("cpu")) is regressor
        True
        >>> try:
        ...     prepare_au_regressor(regressor, 32, 17, torch.device("cpu"))
        ... except ValueError as error:
        ...     print(str(error)[:80])
        au_regressor reads 64 px faces with 17 AUs, but the generator works at 32 px wit
    """
    if not isinstance(regressor, nn.Module):
        raise TypeError(f"au_regressor must be a torch module (e.g. an AURegressor), got {type(regressor).__name__}")
    config = getattr(regressor, "config", None)
    size, count = getattr(config, "image_size", image_size), getattr(config, "num_aus", num_aus)
    if (size, count) != (image_size, num_aus):
        raise ValueError(
            f"au_regressor reads {size} px faces with {count} AUs, but the generator works at {image_size} px "
            f"with {num_aus} AUs; pass a regressor trained on faces of the generator's size and AUs "
            "(ganimation evaluate saves one as OUTPUT/regressor)"
        )
    return regressor.to(device)


@torch.no_grad()
def validate(
    generator: nn.Module,
    critic: nn.Module,
    batch: AUSample,
    *,
    device: torch.device,
    truth: TruthFn | None = None,
    indices: list[int] | None = None,
    au_regressor: nn.Module | None = None,
) -> dict[str, float]:
    """Compute the validation figures (see the module docstring) on ``batch``.

    ``au_regressor`` (faces in [-1, 1] -> AUs, on ``device``) adds the three ``regressor_*`` figures.

    Examples:
        >>> from ganimation_lib import Critic, CriticConfig, Generator, GeneratorConfig
        >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0))
        >>> d = Critic(CriticConfig(image_size=32, conv_dim=8, depth=4))
        >>> b = AUSample(torch.zeros(2, 3, 32, 32), torch.zeros(2, 17), torch.ones(2, 17), ["", ""], ["a", "b"])
        >>> sorted(validate(g, d, b, device=torch.device("cpu")))
        ['attention_mean', 'critic_au_error', 'cycle_error', 'expression_error']
    """
    modes = (generator.training, critic.training)
    generator.eval()
    critic.eval()
    try:
        real = as_float_faces(batch.image.to(device))
        aus, target = batch.aus.to(device), batch.target_aus.to(device)
        fake = generator(real, target)
        rec = generator(fake.image, aus)
        out: dict[str, float] = {
            "critic_au_error": float(torch.mean((critic(real).aus.float() - aus.float()) ** 2)),
            "expression_error": float(torch.mean((critic(fake.image).aus.float() - target.float()) ** 2)),
            "cycle_error": float(cycle_loss(rec.image, real)),
            "attention_mean": float(fake.attention.float().mean()),
        }
        if au_regressor is not None:
            was_training = au_regressor.training
            au_regressor.eval()
            try:
                read_fake, read_real = au_regressor(fake.image.float()).float(), au_regressor(real.float()).float()
            finally:
                au_regressor.train(was_training)
            out["regressor_expression_error"] = float((read_fake - target.float()).abs().mean())
            out["regressor_input_error"] = float((read_real - target.float()).abs().mean())
            out["regressor_au_error"] = float((read_real - aus.float()).abs().mean())
        if truth is not None and indices is not None:
            expected = truth(indices, target).to(device).float()
            out["true_error"] = float((fake.image.float() - expected).abs().mean())
            out["identity_error"] = float((real.float() - expected).abs().mean())
        return out
    finally:
        generator.train(modes[0])
        critic.train(modes[1])
