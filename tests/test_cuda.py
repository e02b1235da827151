"""CUDA checks for the networks and losses (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from ganimation_lib import Critic, Generator
from ganimation_lib.losses import gradient_penalty
from tests.conftest import tiny_critic_config, tiny_generator_config

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("preset", ["official", "replicate", "cyclegan"])
def test_cuda_forward_matches_cpu(preset: str) -> None:
    generator = Generator(tiny_generator_config(preset)).eval()
    critic = Critic(tiny_critic_config(preset)).eval()
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    with torch.no_grad():
        cpu_g, cpu_c = generator(images, aus), critic(images)
        generator.cuda()
        critic.cuda()
        gpu_g, gpu_c = generator(images.cuda(), aus.cuda()), critic(images.cuda())
    assert gpu_g.image.device.type == "cuda"
    # TF32 may be enabled for convolutions: compare loosely.
    torch.testing.assert_close(gpu_g.image.cpu(), cpu_g.image, atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(gpu_c.aus.cpu(), cpu_c.aus, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast_forward_backward_and_float32_penalty(dtype: torch.dtype) -> None:
    generator = Generator(tiny_generator_config()).cuda()
    critic = Critic(tiny_critic_config()).cuda()
    images, aus = torch.rand(2, 3, 32, 32, device="cuda") * 2 - 1, torch.rand(2, 17, device="cuda")
    with torch.autocast("cuda", dtype=dtype):
        out = generator(images, aus)
        judged = critic(out.image)
        penalty = gradient_penalty(lambda x: critic(x).score, images, out.image)
    assert out.image.dtype == dtype or out.image.dtype == torch.float32
    assert penalty.dtype == torch.float32 and torch.isfinite(penalty)
    (judged.score.float().mean() + penalty).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in generator.parameters())


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_trainer_fits_and_resumes_on_cuda(precision: str, tmp_path: object) -> None:
    from pathlib import Path

    from ganimation_lib import Trainer
    from tests.training.helpers import RandomAUData, tiny_config, tiny_models

    out = Path(str(tmp_path))
    config = tiny_config(device="cuda", precision=precision, max_steps=4, checkpoint_every=2, ema_decay=0.9)
    trainer = Trainer(**tiny_models(), config=config, output_dir=out, progress=False)
    trainer.fit(RandomAUData(length=8))
    assert trainer.step == 4 and trainer.nonfinite_streak == 0
    assert next(trainer.generator.parameters()).device.type == "cuda"
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())
    resumed = Trainer(**tiny_models(), config=config.replace(max_steps=6), output_dir=out, progress=False)
    resumed.fit(RandomAUData(length=8), resume_from=out / "checkpoints")
    assert resumed.step == 6
    exported = resumed.export(out / "generator")
    assert (exported / "model.safetensors").is_file()
