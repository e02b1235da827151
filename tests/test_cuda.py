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
