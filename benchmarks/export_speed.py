"""Frames per second of the generator on CPU: PyTorch eager, torch.compile, torch.jit.trace and onnxruntime.

The official-size generator (64 base channels, 6 residual blocks; random weights: speed does not depend on
training) at 128 px, on the same inputs, in one run, with the same number of threads for every engine. Each
engine is warmed up, then timed over ``--repeats`` rounds of at least ``--seconds`` each; the best round is kept
(the least disturbed by other work on the machine). Prints a table of frames per second and the ratio to eager,
and the largest difference of each engine's image from eager's. Needs the onnx extra for onnxruntime.

    python benchmarks/export_speed.py                          # 1 thread, batch 1 and 8
    python benchmarks/export_speed.py --threads 2 --batch 1 --skip-compile
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganimation_lib import Generator, GeneratorConfig

Run = Callable[[torch.Tensor, torch.Tensor], np.ndarray]


def _time(run: Run, faces: torch.Tensor, aus: torch.Tensor, seconds: float, repeats: int) -> float:
    """Frames per second: the best of ``repeats`` rounds, each at least ``seconds`` long."""
    run(faces, aus)  # warm-up: allocator, thread pool, lazily compiled kernels
    rates = []
    for _ in range(repeats):
        frames, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds or frames == 0:
            run(faces, aus)
            frames += faces.shape[0]
        rates.append(frames / elapsed)
    return max(rates)


def _engines(generator: Generator, args: argparse.Namespace, folder: Path) -> dict[str, Run | str]:
    """Each engine's run function, or why it is not available."""

    def eager(faces: torch.Tensor, aus: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return generator(faces, aus).image.numpy()

    engines: dict[str, Run | str] = {"PyTorch eager": eager}
    example = (torch.zeros(1, 3, args.size, args.size), torch.zeros(1, generator.num_aus))

    if args.skip_compile:
        engines["torch.compile"] = "skipped (--skip-compile)"
    else:
        try:
            compiled = torch.compile(generator, dynamic=False)
            started = time.perf_counter()
            with torch.inference_mode():
                for batch in args.batch:  # compile every batch size before timing
                    compiled(example[0].expand(batch, -1, -1, -1), example[1].expand(batch, -1))
            print(f"torch.compile: compiled in {time.perf_counter() - started:.0f} s")

            def run_compiled(faces: torch.Tensor, aus: torch.Tensor) -> np.ndarray:
                with torch.inference_mode():
                    return compiled(faces, aus).image.numpy()  # type: ignore[no-any-return]

            engines["torch.compile"] = run_compiled
        except Exception as error:  # no C++ compiler, an unsupported op, ...: say so in the table
            engines["torch.compile"] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:80]}"

    class Image(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.generator = generator

        def forward(self, faces: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
            return self.generator(faces, aus).image

    # Deprecated since torch 2.9 (FutureWarning) and it warns about the Python-side input checks it bakes in.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(Image().eval(), example, check_trace=False))

    def run_traced(faces: torch.Tensor, aus: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return traced(faces, aus).numpy()  # type: ignore[no-any-return]

    engines["torch.jit.trace + freeze"] = run_traced

    try:
        import onnxruntime
    except ImportError:
        engines["onnxruntime"] = "skipped: pip install 'ganimation_lib[onnx]'"
        return engines
    path = generator.export_onnx(folder / "generator.onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run_onnx(faces: torch.Tensor, aus: torch.Tensor) -> np.ndarray:
        image: np.ndarray = session.run(["image"], {"face": faces.numpy(), "aus": aus.numpy()})[0]
        return image

    engines[f"onnxruntime {onnxruntime.__version__}"] = run_onnx
    return engines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="model and image size in pixels")
    parser.add_argument("--conv-dim", type=int, default=64, help="generator base channels (official: 64)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes to time")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of every engine")
    parser.add_argument("--seconds", type=float, default=3.0, help="least duration of one timed round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per engine; the best is kept")
    parser.add_argument("--skip-compile", action="store_true", help="leave out torch.compile (slow to compile)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig.official(image_size=args.size, conv_dim=args.conv_dim)).eval()
    print(
        f"official generator ({sum(p.numel() for p in generator.parameters()):,} parameters) at {args.size} px, "
        f"{args.threads} thread(s), torch {torch.__version__}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as folder:
        engines = _engines(generator, args, Path(folder))
        rows: list[tuple[str, int, float | None, float | None, str]] = []
        for batch in args.batch:
            faces = torch.rand(batch, 3, args.size, args.size) * 2 - 1
            aus = torch.rand(batch, generator.num_aus)
            reference = engines["PyTorch eager"]
            assert callable(reference)
            expected = reference(faces, aus)
            base: float | None = None
            for name, run in engines.items():
                if isinstance(run, str):
                    rows.append((name, batch, None, None, run))
                    continue
                error = float(np.abs(run(faces, aus) - expected).max())
                fps = _time(run, faces, aus, args.seconds, args.repeats)
                base = fps if base is None else base
                rows.append((name, batch, fps, fps / base, f"largest difference from eager {error:.1e}"))
    print()
    print("| engine | batch | frames/s | vs eager | note |\n| --- | ---: | ---: | ---: | --- |")
    for name, batch, fps, ratio, note in rows:
        shown = ("—", "—") if fps is None or ratio is None else (f"{fps:.2f}", f"{ratio:.2f}×")
        print(f"| {name} | {batch} | {shown[0]} | {shown[1]} | {note} |")


if __name__ == "__main__":
    main()
