"""``ganimation evaluate``: judge a generator on held-out faces with figures it was not trained against.

MODEL is a saved generator (``save_pretrained`` folder, e.g. ``RUN/generator``, or what ``ganimation convert``
writes; checkpoint files work too). DATA is a dataset folder (imgs/ + aus.csv), read at the model's image
size, or the word ``synthetic``: built-in faces of identities no training recipe of this library uses.

The held-out faces are the test part of DATA's split: ``test_ids.csv`` when DATA has one, else the seeded
split by file name that ``ganimation train`` uses (``--val-fraction``; ``--run RUN`` or a ``run_config.json``
next to MODEL gives the run's own settings). An independent AU regressor is trained on the *training* part
(``--regressor-steps``) and saved as OUTPUT/regressor for reuse with ``--regressor``.

Writes OUTPUT/report.json, OUTPUT/grid.png (rows: held-out faces; columns: input | expression asked for |
output | attention | colour | true picture when known) and prints what the figures mean (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ..aus import AU_NAMES
from ..data.dataset import AUDataset
from ..data.sample import AUSample
from ..data.synthetic import AU_MIXES, SyntheticFaces
from ..data.synthetic_styles import STYLES
from ..devices import resolve_device
from ..evaluation import AURegressor, evaluate, format_report, train_au_regressor, write_evaluation
from ..models.config import read_json
from ..models.generator import Generator
from ..models.pretrained import CONFIG_NAME
from .common import load_generator
from .help_text import terminal_text
from .train import DATA_SPLIT_KEYS

__all__ = ["EVALUATION_IDENTITY_SEED", "held_out_and_training_data", "register", "run"]

#: Looks of the ``synthetic`` held-out faces: identity_seed = this + --seed, far from the seeds training uses.
EVALUATION_IDENTITY_SEED = 7_000_000
_SYNTHETIC_FACES = 200
_SYNTHETIC_TRAINING = (90, 50)  # identities x items: 4,500 faces for the regressor
_DEFAULT_SPLIT: dict[str, Any] = {"val_fraction": 0.1, "flip": 0.0, "labels": None, "split_seed": 0}


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a generator on held-out faces (true error, AU error by an independent regressor)",
        description=terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a saved generator folder (or a checkpoint file)")
    parser.add_argument("data", metavar="DATA", help="a dataset folder (imgs/ + aus.csv) or 'synthetic'")
    parser.add_argument(
        "--output", default=None, help="folder for report.json, grid.png and regressor/ (default: MODEL/../evaluation)"
    )
    parser.add_argument("--regressor", default=None, help="a saved AU regressor folder (default: train one)")
    parser.add_argument(
        "--regressor-steps", type=int, default=3000, help="training steps of a new regressor (default 3000)"
    )
    parser.add_argument("--run", default=None, help="a 'ganimation train' output folder: use its data split")
    parser.add_argument("--val-fraction", type=float, default=None, help="held-out share of DATA (default 0.1)")
    parser.add_argument("--labels", default=None, help="AU label file of DATA (default: found in the folder)")
    parser.add_argument(
        "--num-faces",
        type=int,
        default=None,
        help=f"faces to evaluate (default: all held out; synthetic: {_SYNTHETIC_FACES})",
    )
    parser.add_argument("--pairing", choices=("shuffle", "shift"), default="shuffle", help="how targets are paired")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pairing, the sample and the regressor")
    parser.add_argument("--style", choices=STYLES, default="default", help="looks of the synthetic faces")
    parser.add_argument("--au-mix", choices=AU_MIXES, default="default", help="AUs of the synthetic faces")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu' or 'cuda:N'")
    parser.add_argument(
        "--image-size", type=int, default=None, help="the model's size, for checkpoint files that do not record it"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _recorded_split(run_folder: Path) -> dict[str, Any]:
    path = run_folder / "run_config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"--run {run_folder}: {path} does not exist; pass the --output folder of ganimation train"
        )
    document = read_json(path, fix="pass the --output folder of ganimation train")
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a run_config.json written by ganimation train (not a JSON object)")
    recorded = document.get("data_split")
    if recorded is None:  # a run from before the split was recorded: it used train's defaults
        return dict(_DEFAULT_SPLIT)
    if not isinstance(recorded, dict) or set(recorded) - set(DATA_SPLIT_KEYS):
        raise ValueError(f'{path}: "data_split" must be a dict with keys from {list(DATA_SPLIT_KEYS)}')
    return {**_DEFAULT_SPLIT, **recorded}


def _split_settings(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The split to rebuild and where it came from (flags override a recorded split)."""
    run_folder = Path(args.run) if args.run is not None else None
    if run_folder is None and (Path(args.model).parent / "run_config.json").is_file():
        run_folder = Path(args.model).parent  # MODEL is RUN/generator: evaluate on that run's held-out faces
    settings, source = dict(_DEFAULT_SPLIT), "defaults"
    if run_folder is not None:
        settings, source = _recorded_split(run_folder), f"{run_folder / 'run_config.json'}"
    if args.val_fraction is not None:
        settings["val_fraction"], source = args.val_fraction, "--val-fraction"
    if args.labels is not None:
        settings["labels"] = args.labels
    return settings, source


def held_out_and_training_data(
    args: argparse.Namespace, image_size: int, au_names: Sequence[str] = AU_NAMES
) -> tuple[Dataset[AUSample], Dataset[AUSample], dict[str, Any]]:
    """The held-out faces, the regressor's training faces (both with ``au_names``, the model's AUs, in its
    order), and a record of how both were chosen."""
    if args.data == "synthetic":
        looks: dict[str, Any] = {
            "image_size": image_size,
            "style": args.style,
            "au_mix": args.au_mix,
            "au_names": tuple(au_names),
        }
        count = args.num_faces or _SYNTHETIC_FACES
        held_out: Dataset[AUSample] = SyntheticFaces(
            count, 1, seed=args.seed + 1, identity_seed=EVALUATION_IDENTITY_SEED + args.seed, **looks
        )
        identities, items = _SYNTHETIC_TRAINING
        training: Dataset[AUSample] = SyntheticFaces(identities, items, seed=args.seed, **looks)
        record = {
            "data": "synthetic",
            **{k: v for k, v in looks.items() if k != "au_names"},
            "identity_seed": EVALUATION_IDENTITY_SEED + args.seed,
            "regressor_training_faces": f"{identities} identities x {items} (identity_seed {args.seed})",
        }
        return held_out, training, record
    settings, source = _split_settings(args)
    fraction = float(settings["val_fraction"])
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"the split from {source} holds out no faces (val_fraction {fraction}): every face of DATA was used "
            "in training. Evaluate on other data, or pass --val-fraction (e.g. 0.1) to pick faces anyway"
        )
    common: dict[str, Any] = {
        "image_size": image_size,
        "au_names": tuple(au_names),
        "labels": settings["labels"],
        "test_fraction": fraction,
        "split_seed": int(settings["split_seed"]),
    }
    held_out = AUDataset(args.data, split="test", **common)
    training = AUDataset(args.data, split="train", **common)
    record = {"data": str(args.data), "split_from": source, **settings}
    return held_out, training, record


def _check_model_folder(model: str) -> None:
    """Say plainly when MODEL is missing or is a regressor (before anything slow happens)."""
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"MODEL {model} does not exist; pass a saved generator folder (e.g. RUN/generator)")
    config = path / CONFIG_NAME
    if path.is_dir() and config.is_file():
        try:
            document = read_json(config)
        except ValueError:
            return  # the loader reports a corrupt file in its own words
        kind = document.get("model_class") if isinstance(document, dict) else None
        if kind == "AURegressor":
            raise ValueError(f"MODEL {model} is an AU regressor, not a generator; pass it as --regressor {model}")


def _regressor(
    args: argparse.Namespace, training: Dataset[AUSample], size: int, num_aus: int, device: torch.device
) -> AURegressor:
    if args.regressor is not None:
        regressor = AURegressor.from_pretrained(args.regressor)
        if regressor.config.image_size != size or regressor.config.num_aus != num_aus:
            raise ValueError(
                f"--regressor {args.regressor} reads {regressor.config.image_size} px faces with "
                f"{regressor.config.num_aus} AUs, but the model works at {size} px with {num_aus} AUs; "
                "leave --regressor out to train a matching one"
            )
        return regressor
    if args.regressor_steps < 1:
        raise ValueError(f"--regressor-steps must be at least 1, got {args.regressor_steps}")
    print(f"training an AU regressor on {len(training)} training faces ({args.regressor_steps} steps)")  # type: ignore[arg-type]
    return train_au_regressor(
        training,
        image_size=size,
        steps=args.regressor_steps,
        seed=args.seed,
        progress=not args.no_progress,
        device=device,
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate MODEL on DATA's held-out faces; write report.json + grid.png; print the summary."""
    _check_model_folder(args.model)
    if args.data != "synthetic" and not Path(args.data).is_dir():
        raise FileNotFoundError(
            f"DATA {args.data} is not a folder; pass a dataset folder (imgs/ + aus.csv) or 'synthetic'"
        )
    if args.regressor is not None and not Path(args.regressor).is_dir():
        raise FileNotFoundError(f"--regressor {args.regressor} is not a folder; pass one that evaluate saved before")
    if args.num_faces is not None and args.num_faces < 2:
        raise ValueError(f"--num-faces must be at least 2 (each face takes another's expression), got {args.num_faces}")
    output = Path(args.output) if args.output is not None else Path(args.model).parent / "evaluation"
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"--output {output} is a file; pass a folder for report.json and grid.png")
    device = resolve_device(args.device)
    generator: Generator = load_generator(args)
    size, num_aus = generator.config.image_size, generator.config.num_aus
    names = generator.au_names if generator.au_names is not None else (AU_NAMES if num_aus == len(AU_NAMES) else None)
    if names is None:
        raise ValueError(
            f"MODEL takes {num_aus} AUs but does not record which; save it again with au_names "
            "(ganimation convert --au-names) so the data's AUs can be matched to it"
        )
    held_out, training, record = held_out_and_training_data(args, size, names)
    regressor = _regressor(args, training, size, num_aus, device)
    saved_regressor = (
        Path(args.regressor) if args.regressor is not None else regressor.save_pretrained(output / "regressor")
    )
    report = evaluate(
        generator,
        held_out,
        regressor=regressor,
        num_faces=args.num_faces,
        seed=args.seed,
        device=device,
        pairing=args.pairing,
    )
    extra = {
        "model": str(args.model),
        **record,
        "regressor": str(saved_regressor),
        "regressor_steps": None if args.regressor is not None else args.regressor_steps,
        "device": str(device),
        "torch_version": torch.__version__,
    }
    files = write_evaluation(report, generator, held_out, output, device=device, extra=extra)
    print(format_report(report))
    print(f"wrote {files['report']}, {files['grid']}; regressor: {saved_regressor} (reuse it with --regressor)")
    return 0
