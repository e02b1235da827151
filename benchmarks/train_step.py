"""Whole training iterations: the library's ``Trainer`` against a plain implementation of the official recipe.

Both train the same networks (the official preset at ``--size``) on the same in-memory batches, with the critic
and generator phases in their real ratio (the generator every ``n_critic`` = 5 iterations), and are timed in the
same run. The plain trainer below is written the way the official code (albertpumarola/GANimation) trains: fp32,
a critic step on the WGAN and AU terms, the gradient penalty as a step of its own, and the generator every 5
iterations recomputing the fake. The headline ratio is ``TrainerConfig.official()`` (which computes exactly what
the plain trainer computes) against it; each speed option that changes the computation has its own line.

Printed per variant: images per second (batch × iterations / seconds, data loading excluded: the batches are
already in memory), the ratio to the plain trainer, peak memory (CUDA) and, with ``--flops``, the achieved
FLOP/s counted by ``torch.utils.flop_counter`` (and the fraction of ``--peak-tflops`` on CUDA). On CPU,
``--cpu-memory`` reruns each variant in a fresh process and reports how far its training raised the process's
peak resident memory (Linux).

    python benchmarks/train_step.py                                  # CPU, 32 px, batch 8
    python benchmarks/train_step.py --cpu-memory                     # and each variant's peak memory
    python benchmarks/train_step.py --size 128 --batch 4 --iterations 10
    python benchmarks/train_step.py --device cuda --size 128 --batch 25 --flops --peak-tflops 67
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganimation_lib import AUSample, Critic, CriticConfig, Generator, GeneratorConfig, Trainer, TrainerConfig

N_CRITIC = 5  # the official train_G_every_n_iterations


@dataclass
class Batch:
    real: Tensor
    aus: Tensor
    target: Tensor


class PlainTrainer:
    """The official recipe, written out: what a user of the official code runs, nothing else."""

    def __init__(self, generator: Generator, critic: Critic) -> None:
        self.g, self.d = generator, critic
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.999))
        self.iteration = 0

    def step(self, batch: Batch) -> None:
        real, aus, target = batch.real, batch.aus, batch.target
        b = real.shape[0]
        # Critic: WGAN terms and the AU regression on real faces (official lambda_D_cond 4000, MSE / B).
        with torch.no_grad():
            fake = self.g(real, target).image
        d_real, d_fake = self.d(real), self.d(fake)
        loss_d = -d_real.score.mean() + d_fake.score.mean() + 4000 * F.mse_loss(d_real.aus, aus) / b
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        # The gradient penalty as its own step, on the critic just updated (lambda_D_gp 10).
        alpha = torch.rand(b, 1, 1, 1, device=real.device)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = self.d(mixed).score
        (grad,) = torch.autograd.grad(score, mixed, torch.ones_like(score), create_graph=True)
        loss_gp = 10 * ((grad.reshape(b, -1).norm(2, dim=1) - 1) ** 2).mean()
        self.opt_d.zero_grad()
        loss_gp.backward()
        self.opt_d.step()
        self.iteration += 1
        if self.iteration % N_CRITIC:
            return
        # Generator, recomputing the fake with its graph.
        for p in self.d.parameters():
            p.requires_grad_(False)
        out = self.g(real, target)
        judged = self.d(out.image)
        rec = self.g(out.image, aus)
        smooth = sum(
            (a[..., :, 1:] - a[..., :, :-1]).abs().sum() + (a[..., 1:, :] - a[..., :-1, :]).abs().sum()
            for a in (out.attention, rec.attention)
        )
        loss_g = (
            -judged.score.mean()
            + 4000 * F.mse_loss(judged.aus, target) / b
            + 10 * (rec.image - real).abs().mean()
            + 0.1 * (out.attention.mean() + rec.attention.mean())
            + 1e-5 * smooth
        )
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for p in self.d.parameters():
            p.requires_grad_(True)


def networks(size: int, device: torch.device, seed: int = 0) -> tuple[Generator, Critic]:
    torch.manual_seed(seed)
    depth = min(6, size.bit_length() - 3)  # a 2x2 score map at least: 6 at 128 px, 4 at 32 px
    generator = Generator(GeneratorConfig.official(image_size=size)).to(device)
    critic = Critic(CriticConfig.official(image_size=size, depth=depth)).to(device)
    return generator, critic


def batches(count: int, size: int, batch: int, device: torch.device) -> list[Batch]:
    g = torch.Generator().manual_seed(1)
    return [
        Batch(
            (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device),
            torch.rand(batch, 17, generator=g).to(device),
            torch.rand(batch, 17, generator=g).to(device),
        )
        for _ in range(count)
    ]


def trainer_for(size: int, batch: int, device: torch.device, **overrides: object) -> Trainer:
    generator, critic = networks(size, device)
    config = TrainerConfig.official(
        batch_size=batch, device=str(device), checkpoint_every=0, sample_every=0, validate_every=0, **overrides
    )
    return Trainer(generator=generator, critic=critic, config=config, progress=False, default_callbacks=False)


def as_sample(batch: Batch) -> AUSample:
    names = ("",) * batch.real.shape[0]  # what DataLoader collation makes of the items' names
    return AUSample(batch.real, batch.aus, batch.target, names, names)  # type: ignore[arg-type]


def timed(step: Callable[[Batch], None], data: Sequence[Batch], device: torch.device) -> tuple[float, float]:
    """Seconds for one pass over ``data`` after a warm-up cycle, and the peak CUDA memory in GiB (0 on CPU)."""
    for batch in data[:N_CRITIC]:  # warm-up: allocator, cuDNN autotuning, one generator phase
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for batch in data:
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
    return time.perf_counter() - start, peak


def count_flops(step: Callable[[Batch], None], data: Sequence[Batch]) -> int:
    """FLOPs of one generator cycle (``N_CRITIC`` iterations) as torch's counter sees them."""
    from torch.utils.flop_counter import FlopCounterMode

    class GlobalOnly:
        """Stands in for the counter's module tracker, whose backward hooks break ``autograd.grad`` (the penalty's
        double backward): every FLOP is counted under "Global", which is all this benchmark reads."""

        parents = ("Global",)

        def __enter__(self) -> None:
            return None

        def __exit__(self, *args: object) -> None:
            return None

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = GlobalOnly()  # type: ignore[assignment]
    with counter:
        for batch in data[:N_CRITIC]:
            step(batch)
    return int(counter.get_total_flops())


def resident_mib() -> float:
    """The process's resident memory now (Linux ``/proc/self/statm``), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_resident_mib() -> float:
    """The process's peak resident memory so far (``VmHWM`` of ``/proc/self/status``, in kB), in MiB.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over from the parent's memory image when a forked child
    execs, so in a child started by a large parent it reports the parent's size, not the child's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line: peak memory is measured on Linux only")


def cpu_peak_mib(index: int, argv: Sequence[str]) -> float:
    """How far variant ``index``'s warm-up and timed loop raise a fresh process's peak memory above what it held
    once the networks and batches were built: the CPU's counterpart of CUDA's peak allocated memory."""
    command = [sys.executable, __file__, *(a for a in argv if a not in {"--cpu-memory", "--check", "--flops"})]
    result = subprocess.run([*command, "--only", str(index)], capture_output=True, text=True, check=True)
    return float(result.stdout.split("peak ")[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations (a multiple of 5)")
    parser.add_argument("--flops", action="store_true", help="count FLOPs (one more generator cycle per variant)")
    parser.add_argument("--check", action="store_true", help="first compare the two trainers' weights")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for the fraction")
    parser.add_argument("--cpu-memory", action="store_true", help="on CPU, each variant's peak memory (a process each)")
    parser.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)  # the child of --cpu-memory
    args = parser.parse_args()
    if args.iterations % N_CRITIC:
        parser.error(f"--iterations must be a multiple of {N_CRITIC} (the generator's period)")
    device = torch.device(args.device)
    data = batches(args.iterations, args.size, args.batch, device)
    if args.only is None:
        print(
            f"{device} ({torch.get_num_threads()} threads), {args.size} px, batch {args.batch}, {args.iterations} "
            f"iterations (the generator every {N_CRITIC}), official networks; torch {torch.__version__}"
        )

    def plain_step() -> Callable[[Batch], None]:
        return PlainTrainer(*networks(args.size, device)).step

    def library_step(**overrides: object) -> Callable[[Batch], None]:
        trainer = trainer_for(args.size, args.batch, device, **overrides)

        def step(batch: Batch) -> None:
            trainer.train_step(as_sample(batch))

        return step

    variants: list[tuple[str, Callable[[], Callable[[Batch], None]]]] = [
        ("plain official trainer (reference)", plain_step),
        ("Trainer, TrainerConfig.official()", library_step),
        ("  + gradient penalty in the critic step", lambda: library_step(gradient_penalty_mode="critic_step")),
        ("  + lazy gradient penalty, every 4 steps", lambda: library_step(gradient_penalty_interval=4)),
        ("  + fused Adam (same update up to rounding)", lambda: library_step(adam_implementation="fused")),
    ]
    variants.append(("  + torch.compile (timed after its warm-up)", lambda: library_step(compile=True)))
    # bf16 runs on CPU too: where the CPU has bf16 instructions (AVX512-BF16, AMX) oneDNN's convolutions run in it.
    variants.append(("  + bf16 autocast", lambda: library_step(precision="bf16")))
    every_option = {
        "gradient_penalty_mode": "critic_step",
        "gradient_penalty_interval": 4,
        "adam_implementation": "fused",
        "precision": "bf16",
    }
    variants.append(("  all four options together", lambda: library_step(**every_option)))
    if args.only is not None:
        # A child of --cpu-memory: one variant's training loop, then how far it raised the process's memory.
        make = variants[args.only][1]
        step = make()
        before = resident_mib()
        timed(step, data, device)
        print(f"peak {peak_resident_mib() - before:.1f}")
        return
    if args.check:
        # The same start, batches and random draws, up to the first generator step: the critic's weights and the
        # generator's gradients should agree up to float rounding. (Weights after the generator's first Adam step
        # do not: Adam moves a weight by about the learning rate whatever its gradient's size, so a gradient
        # that is zero up to rounding can move it either way.)
        plain = PlainTrainer(*networks(args.size, device))
        trainer = trainer_for(args.size, args.batch, device)
        for run in (plain.step, lambda batch: trainer.train_step(as_sample(batch))):
            torch.manual_seed(2)
            for batch in data[:N_CRITIC]:
                run(batch)
        critic_gap = max(
            float((a - b).abs().max())
            for a, b in zip(trainer.critic.state_dict().values(), plain.d.state_dict().values(), strict=True)
        )
        grad_gap = max(
            float((a.grad - b.grad).abs().max() / b.grad.abs().max().clamp_min(1e-30))
            for a, b in zip(trainer.generator.parameters(), plain.g.parameters(), strict=True)
            if a.grad is not None and b.grad is not None
        )
        print(
            f"same start, {N_CRITIC} iterations: critic weights differ by at most {critic_gap:.1e}, the generator's "
            f"gradients by at most {grad_gap:.1e} of their largest value"
        )
    reference = 0.0
    for index, (name, make) in enumerate(variants):
        seconds, peak = timed(make(), data, device)
        rate = args.batch * args.iterations / seconds
        reference = reference or rate
        line = f"{name:44s} {rate:9.1f} img/s  {rate / reference:5.2f}x"
        if device.type == "cuda":
            line += f"  peak {peak:5.2f} GiB"
        elif args.cpu_memory:
            line += f"  peak +{cpu_peak_mib(index, sys.argv[1:]):6.1f} MiB"
        if args.flops:
            flops = count_flops(make(), data) / N_CRITIC  # per iteration
            achieved = flops * args.iterations / seconds
            line += f"  {flops / 1e9:6.1f} GFLOP/iteration  {achieved / 1e12:7.3f} TFLOP/s"
            if args.peak_tflops:
                line += f" ({achieved / 1e12 / args.peak_tflops:.1%} of peak)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
