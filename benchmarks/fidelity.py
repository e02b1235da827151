"""Expression fidelity of a recipe, measured the way a user would: the three CLI commands, then the report.

Renders ``--identities`` synthetic faces (one identity each, ``--au-mix``, ``--style``), trains with
``ganimation train DATA --recipe RECIPE --image-size SIZE`` for ``--time`` seconds or ``--steps``
iterations, and evaluates on ``--num-faces`` unseen identities of the same style (``ganimation evaluate MODEL
synthetic``), which renders the true picture of each face with the expression asked for. Prints the figures
the fidelity target is stated in (docs/training.md):

* ``true_ratio``: L1 to the true picture divided by the unchanged input's (below 1: better than doing nothing);
* ``gap_closed``: the share of the gap between the unchanged input and the true picture that the outputs
  close, as an independent AU regressor (trained here on other synthetic faces) reads them;
* ``au_error_true``: the regressor's own error on the true pictures (small, or ``gap_closed`` means little);
* ``identity_error``: the stray change on faces asked for their own AUs.

    python benchmarks/fidelity.py --size 64 --time 600 [--style alternate] [--au-mix default] [--keep DIR]

Everything runs in a temporary folder unless ``--keep`` names one (then the run, its sample grids and the
evaluation grid stay there to be looked at).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ganimation(*args: str) -> None:
    """Run one ``ganimation`` command in a subprocess (as a user would), failing loudly."""
    command = [sys.executable, "-m", "ganimation_lib", *args]
    print("$ ganimation " + " ".join(args), flush=True)
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--identities", type=int, default=5000)
    parser.add_argument("--au-mix", default="presets", choices=("presets", "default"))
    parser.add_argument("--style", default="default", choices=("default", "alternate"))
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--time", type=float, default=600.0, help="training seconds (default 600)")
    limit.add_argument("--steps", type=int, default=None, help="training iterations instead of --time")
    parser.add_argument("--num-faces", type=int, default=500)
    parser.add_argument("--regressor", default=None, help="a saved AU regressor folder (default: evaluate trains one)")
    parser.add_argument("--regressor-steps", type=int, default=3000, help="steps of the regressor evaluate trains")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the data, run and evaluation in")
    parser.add_argument("train_args", nargs="*", help="extra 'ganimation train' flags, after '--'")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep if args.keep is not None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        data, run, report_dir = root / "data", root / "run", root / "evaluation"
        look = ["--style", args.style, "--au-mix", args.au_mix]
        if not (data / "aus.csv").exists():
            ganimation(
                "synthetic", "--write", str(data), "--size", str(args.size), "--identities", str(args.identities),
                "--items-per-identity", "1", *look,
            )  # fmt: skip
        limit = ["--max-steps", str(args.steps)] if args.steps is not None else ["--max-time", str(args.time)]
        started = time.perf_counter()
        ganimation(
            "train", str(data), "--output", str(run), "--recipe", args.recipe, "--image-size", str(args.size),
            *limit, *args.train_args,
        )  # fmt: skip
        train_seconds = time.perf_counter() - started
        ganimation(
            "evaluate", str(run / "generator"), "synthetic", *look, "--num-faces", str(args.num_faces),
            "--output", str(report_dir), "--regressor-steps", str(args.regressor_steps),
            *(["--regressor", args.regressor] if args.regressor else []),
        )  # fmt: skip
        report = json.loads((report_dir / "report.json").read_text())
        logged = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines() if line]
        steps = max((int(row["step"]) for row in logged if "step" in row), default=None)
        summary = {
            "size": args.size,
            "style": args.style,
            "au_mix": args.au_mix,
            "recipe": args.recipe,
            "train_seconds": round(train_seconds, 1),
            "iterations": steps,
            **{k: report.get(k) for k in ("true_ratio", "gap_closed", "au_error_true", "identity_error")},
        }
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
