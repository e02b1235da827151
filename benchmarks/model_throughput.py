"""Throughput of one GANimation training step's network work, by precision and memory format.

Measures forward + backward of the generator (G(x, y_f), the cycle G(G(x, y_f), y_o)) and of the critic on
real and fake images, the shape of work a Trainer step does, at the official preset. Prints images/s for
each variant and its ratio against the plain fp32 reference measured in the same run.

    python benchmarks/model_throughput.py                       # CPU, 64 px, batch 4 (fits 2 cores)
    python benchmarks/model_throughput.py --device cuda --size 128 --batch 25
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from ganimation_lib import Critic, CriticConfig, Generator, GeneratorConfig


def _step(
    generator: Generator, critic: Critic, images: torch.Tensor, aus: torch.Tensor, dtype: torch.dtype | None
) -> None:
    enabled = dtype is not None
    with torch.autocast(images.device.type, dtype=dtype or torch.float32, enabled=enabled):
        fake = generator(images, aus.flip(0))
        rec = generator(fake.image, aus)
        loss = critic(fake.image).score.float().mean() + (rec.image.float() - images.float()).abs().mean()
        loss = loss - critic(images).score.float().mean()
    loss.backward()


def _time(fn: Callable[[], None], steps: int, device: torch.device) -> float:
    for _ in range(2):  # warm-up (cuDNN autotuning, allocator)
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    depth = {32: 4, 64: 5}.get(args.size, 6)
    generator = Generator(GeneratorConfig.official(image_size=args.size)).to(device)
    critic = Critic(CriticConfig.official(image_size=args.size, depth=depth)).to(device)
    images = torch.rand(args.batch, 3, args.size, args.size, device=device) * 2 - 1
    aus = torch.rand(args.batch, 17, device=device)

    variants: list[tuple[str, torch.dtype | None, bool]] = [
        ("fp32", None, False),
        ("bf16 autocast", torch.bfloat16, False),
    ]
    if device.type == "cuda":
        variants += [("fp16 autocast", torch.float16, False), ("bf16 + channels_last", torch.bfloat16, True)]
    print(f"device={device} size={args.size} batch={args.batch} steps={args.steps} torch={torch.__version__}")
    reference: float | None = None
    for name, dtype, channels_last in variants:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        generator.to(memory_format=fmt)
        critic.to(memory_format=fmt)
        x = images.contiguous(memory_format=fmt)
        seconds = _time(lambda x=x, dtype=dtype: _step(generator, critic, x, aus, dtype), args.steps, device)
        rate = args.batch / seconds
        reference = reference or rate
        print(f"{name:>22}: {rate:9.1f} images/s  ({seconds * 1000:8.1f} ms/step)  x{rate / reference:.2f} vs fp32")


if __name__ == "__main__":
    main()
