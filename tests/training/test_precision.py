"""Devices and precision: every mode that runs on CPU trains; bad requests fail with a clear message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ganimation_lib import Trainer
from ganimation_lib.devices import resolve_device, resolve_precision

from .helpers import RandomAUData, tiny_config, tiny_models


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_each_precision_trains_on_cpu(precision: str) -> None:
    try:
        resolve_precision(precision, torch.device("cpu"))
    except ValueError as error:
        pytest.skip(f"{precision} does not run on this CPU build: {error}")
    trainer = Trainer(**tiny_models(), config=tiny_config(precision=precision, max_steps=2, n_critic=1), progress=False)
    trainer.fit(RandomAUData(length=4))
    assert trainer.step == 2 and trainer.nonfinite_streak == 0
    # Weights stay float32 (autocast only changes the compute dtype).
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())
    assert trainer.generator_scaler.is_enabled() == (precision == "fp16")
    if precision == "fp16":
        assert trainer.state_dict()["generator_scaler"]["scale"] > 0


def test_auto_device_and_explicit_strings() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA, which is not available"):
            resolve_device("cuda")


def test_unknown_precision_is_named() -> None:
    with pytest.raises(ValueError, match="precision='half'"):
        resolve_precision("half", torch.device("cpu"))


def _first_step(precision: str) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """The metrics and each network's flattened gradient of one iteration (critic and generator phase)."""
    torch.manual_seed(0)
    trainer = Trainer(
        **tiny_models(), config=tiny_config(precision=precision, n_critic=1), progress=False, default_callbacks=False
    )
    batch = next(iter(DataLoader(RandomAUData(length=4), batch_size=4)))
    torch.manual_seed(1)
    metrics = trainer.train_step(batch)
    grads = {
        name: torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
        for name, net in (("generator", trainer.generator), ("critic", trainer.critic))
    }
    return metrics, grads


def test_bf16_computes_the_fp32_step_up_to_its_rounding() -> None:
    """bf16 autocast is a speed option: from the same start and batch it takes the fp32 step, up to bf16's 8-bit
    mantissa (relative rounding 4e-3 per operation), which is the tolerance documented in docs/performance.md."""
    try:
        resolve_precision("bf16", torch.device("cpu"))
    except ValueError as error:
        pytest.skip(f"bf16 does not run on this CPU build: {error}")
    reference, reference_grads = _first_step("fp32")
    metrics, grads = _first_step("bf16")
    # (The WGAN terms are left out: at initialisation they are differences of near-equal scores, around 1e-5.)
    names = ("critic/aus", "critic/gradient_penalty", "critic/total", "generator/expression", "generator/cycle")
    for name in (*names, "generator/total"):
        assert metrics[name] == pytest.approx(reference[name], rel=0.05), name
    for name, grad in grads.items():
        cosine = F.cosine_similarity(grad, reference_grads[name], dim=0)
        assert cosine > 0.95, f"{name}: bf16 gradient at cosine {cosine:.3f} to fp32's"
