"""Devices and precision: every mode that runs on CPU trains; bad requests fail with a clear message."""

from __future__ import annotations

import pytest
import torch

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
