"""Animation throughput: the batched path of ``animate`` against editing one frame at a time, same run.

Renders the same keyframe animation twice with the official generator (random weights: speed does not
depend on training): once with :func:`ganimation_lib.inference.animate` (the face is prepared once and frames
go through the generator ``--batch`` at a time), once as a loop calling
:func:`ganimation_lib.inference.edit` per frame (what a user without ``animate`` would write). Prints
frames/s for both and their ratio.

    python benchmarks/animation_benchmark.py                       # CPU, 128 px, 24 frames, batch 8
    python benchmarks/animation_benchmark.py --device cuda --frames 64 --batch 32
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.inference import animate, animation_aus, edit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=128, help="model and image size in pixels")
    parser.add_argument("--conv-dim", type=int, default=64, help="generator base channels (official: 64)")
    parser.add_argument("--frames", type=int, default=24, help="frames per animation (one transition)")
    parser.add_argument("--batch", type=int, default=8, help="frames per forward on the batched path")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each path; the best is kept")
    args = parser.parse_args()

    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig.official(image_size=args.size, conv_dim=args.conv_dim)).to(device).eval()
    image = torch.rand(3, args.size, args.size, device=device) * 2 - 1
    keyframes = ["neutral", "happy"]
    per_transition = args.frames - 1
    path = animation_aus(generator.num_aus, keyframes, frames_per_transition=per_transition)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def batched() -> int:
        frames = animate(generator, image, keyframes, frames_per_transition=per_transition, batch_size=args.batch)
        sync()
        return len(frames)

    def one_at_a_time() -> int:
        frames = [edit(generator, image, row) for row in path]
        sync()
        return len(frames)

    # Warm-up (allocator, kernels, thread pool) for both paths, kept short: one edit and a batch.
    edit(generator, image, path[0])
    animate(generator, image, keyframes, frames_per_transition=max(1, args.batch - 1), batch_size=args.batch)
    sync()

    def best_rate(run: Callable[[], int]) -> float:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            count = run()
            best = min(best, time.perf_counter() - start)
        return float(count) / best

    print(
        f"device={device} threads={torch.get_num_threads()} size={args.size} conv_dim={args.conv_dim} "
        f"frames={len(path)} batch={args.batch} torch={torch.__version__}"
    )
    loop_rate = best_rate(one_at_a_time)
    batch_rate = best_rate(batched)
    print(f"one frame at a time : {loop_rate:8.2f} frames/s")
    print(f"batched (animate)   : {batch_rate:8.2f} frames/s")
    print(f"ratio               : {batch_rate / loop_rate:8.2f}x")


if __name__ == "__main__":
    main()
