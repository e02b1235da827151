"""``ganimation train``: train on an image folder + AU table (the layout ``ganimation prepare`` writes).

Every `TrainerConfig` field is a flag (``--n-critic 5``), every loss weight
``--weight-<name>``, every generator/critic config field ``--generator-<field>`` / ``--critic-<field>``.
A ``--config`` JSON file gives the same settings as ``{"trainer": {...}, "generator": {...}, "critic":
{...}, "recipe": "official"}``; flags override the file. The run writes to ``--output``:
``checkpoints/``, ``logs/``, ``samples/``, ``run_config.json`` and ``generator/`` (``save_pretrained``
format, loadable by ``ganimation animate``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from ..atomic_files import atomic_text, remove_stale_temporaries
from ..data.dataset import AUDataset
from ..errors import writing
from ..evaluation import AURegressor
from ..losses import LossWeights
from ..models.config import read_json
from ..models.critic import CRITIC_PRESETS, CriticConfig
from ..models.generator import GENERATOR_PRESETS, GeneratorConfig
from ..training import Checkpointing, NonFiniteLossError, Trainer, TrainerConfig
from ..training.checkpoint import latest_checkpoint
from ..training.distributed import shutdown_distributed
from ..training.interrupt import stop_on_interrupt
from ..training.recipes import RECIPES, recipe_configs
from .help_text import UNSET_TRAINER_FIELDS, terminal_text

__all__ = ["DATA_SPLIT_KEYS", "build_configs", "register", "run"]


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


# "--ema-decay none" must differ from "flag not given" (None), so explicit nones travel as this marker.
_EXPLICIT_NONE = "__none__"


def _optional(kind: type) -> Any:
    def parse(text: str) -> Any:
        return _EXPLICIT_NONE if text.lower() == "none" else kind(text)

    parse.__name__ = f"{kind.__name__} or none"
    return parse


def _parser_for(annotation: str) -> Any:
    """An argparse ``type`` for a dataclass field annotation (they are strings under PEP 563)."""
    base = annotation.replace(" ", "")
    if base in {"int"}:
        return int
    if base in {"float"}:
        return float
    if base == "bool":
        return _parse_bool
    if base in {"int|None"}:
        return _optional(int)
    if base in {"float|None"}:
        return _optional(float)
    return str


def _add_fields(group: Any, cls: type, prefix: str, skip: set[str], unset: dict[str, str] | None = None) -> None:
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        default = f.default if f.default is not dataclasses.MISSING else "(see config)"
        help_text = (unset or {}).get(f.name, f"default: {default}")
        group.add_argument(
            flag,
            dest=f"{prefix.replace('-', '_')}{f.name}",
            type=_parser_for(str(f.type)),
            default=None,
            metavar=f.name.upper(),
            help=help_text,
        )


# The config groups' "default:" values are the dataclass defaults, which are the official recipe's at 128 px.
_RECIPE_NOTE = "Defaults shown: the official recipe at 128 px (--recipe, --image-size, --config, presets change them)."


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="train GANimation on a prepared dataset (imgs/ + aus.csv)",
        description=terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", help="dataset folder (imgs/ + aus.csv, as 'ganimation prepare' writes)")
    parser.add_argument("--output", required=True, help="folder for checkpoints, logs, samples and the generator")
    parser.add_argument("--config", default=None, help="JSON file with trainer/generator/critic settings")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        help="continue from a checkpoint file, or (no value) the newest one in OUTPUT/checkpoints; without "
        "--config the settings come from OUTPUT/run_config.json",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="networks and training settings sized for --image-size: 'official' (the paper's) or 'fast' "
        "(CPU-sized, measured on held-out faces; docs/training.md); flags and presets override it",
    )
    parser.add_argument("--image-size", type=int, default=None, help="image side for data and both networks")
    parser.add_argument("--labels", default=None, help="AU label file (default: found in the dataset folder)")
    # Defaults are applied in run(): None means "not given", so a resume can keep the run's recorded split.
    parser.add_argument("--val-fraction", type=float, default=None, help="held-out share (0 = none; default 0.1)")
    parser.add_argument(
        "--au-regressor",
        metavar="DIR",
        help="an AU regressor folder (ganimation evaluate saves OUTPUT/regressor): validation reports its reading",
    )
    parser.add_argument("--flip", type=float, default=None, help="horizontal flip probability (default 0)")
    parser.add_argument("--decoded-cache", metavar="DIR", help="decode images once into DIR; uint8 batches")
    parser.add_argument("--generator-preset", choices=GENERATOR_PRESETS, default=None)
    parser.add_argument("--critic-preset", choices=CRITIC_PRESETS, default=None)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    trainer_group = parser.add_argument_group("trainer (TrainerConfig)", _RECIPE_NOTE)
    _add_fields(trainer_group, TrainerConfig, "", {"loss_weights", "betas"}, UNSET_TRAINER_FIELDS)
    trainer_group.add_argument(
        "--betas", dest="betas", type=float, nargs=2, default=None, metavar=("B1", "B2"), help="default: 0.5 0.999"
    )
    _add_fields(parser.add_argument_group("loss weights (LossWeights)", _RECIPE_NOTE), LossWeights, "weight-", set())
    generator_group = parser.add_argument_group("generator (GeneratorConfig)", _RECIPE_NOTE)
    _add_fields(generator_group, GeneratorConfig, "generator-", {"image_size"})
    critic_group = parser.add_argument_group("critic (CriticConfig)", _RECIPE_NOTE)
    _add_fields(critic_group, CriticConfig, "critic-", {"image_size"})
    parser.set_defaults(func=run)


def _overrides(args: argparse.Namespace, cls: type, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f"{prefix}{f.name}", None)
        if value is not None:
            out[f.name] = None if value == _EXPLICIT_NONE else value
    return out


def _check_keys(section: str, settings: dict[str, Any], cls: type) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"--config section {section!r} has unknown key(s) {unknown}; known: {sorted(known)}")


#: The data-split settings run_config.json records under "data_split" (``ganimation evaluate --run`` reads them).
DATA_SPLIT_KEYS: tuple[str, ...] = ("val_fraction", "flip", "labels", "split_seed")


def _apply_data_split(args: argparse.Namespace, recorded: Any, path: Path) -> None:
    """Take --val-fraction/--flip/--labels from a recorded "data_split" where the command line did not give them."""
    if recorded is None:
        return
    if not isinstance(recorded, dict) or set(recorded) - set(DATA_SPLIT_KEYS):
        raise ValueError(f'--config {path}: "data_split" must be a dict with keys from {list(DATA_SPLIT_KEYS)}')
    for key in ("val_fraction", "flip", "labels"):
        if getattr(args, key, None) is None and recorded.get(key) is not None:
            setattr(args, key, recorded[key])


def _same_labels(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _keep_recorded_split(args: argparse.Namespace, run_config: Path) -> None:
    """On a resume, keep the data split that ``run_config`` (the run's own record) says the run trained on.

    Values not given (on the command line or in another ``--config``) are taken from the record; a
    ``--val-fraction`` or ``--labels`` that differs from it would silently move faces between the training
    and held-out sets, so it is an error naming both values. ``--flip`` (augmentation, not the split) may change.
    """
    document = read_json(run_config, fix="restore it, or pass --config with the run's settings")
    recorded = document.get("data_split") if isinstance(document, dict) else None
    if recorded is None:
        return  # written before the split was recorded
    if not isinstance(recorded, dict) or set(recorded) - set(DATA_SPLIT_KEYS):
        raise ValueError(f'{run_config}: "data_split" must be a dict with keys from {list(DATA_SPLIT_KEYS)}')
    for key, same in (("val_fraction", lambda a, b: a == b), ("labels", _same_labels)):
        given, kept = getattr(args, key, None), recorded.get(key)
        if given is None:
            setattr(args, key, kept)
        elif key in recorded and not same(given, kept):
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"--resume: {flag} {given} differs from the {kept} the run was started with ({run_config}); "
                f"a resumed run must keep its data split: drop {flag} (or start a new run in another --output)"
            )
    if getattr(args, "flip", None) is None:
        args.flip = recorded.get("flip")


def build_configs(args: argparse.Namespace) -> tuple[TrainerConfig, GeneratorConfig, CriticConfig]:
    """Combine ``--config`` (if any), the recipe/presets and the flags (flags win) into the three configs.

    Raises:
        ValueError: for an unreadable ``--config`` or a field out of its range (the message names the field,
            and the file when one was given).
    """
    try:
        return _build_configs(args)
    except (ValueError, TypeError) as error:
        if args.config is None or str(args.config) in str(error):
            raise
        raise ValueError(f"{error} (settings from --config {args.config} and the flags)") from None


def _build_configs(args: argparse.Namespace) -> tuple[TrainerConfig, GeneratorConfig, CriticConfig]:
    file: dict[str, Any] = {}
    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            raise FileNotFoundError(f"--config {path} does not exist")
        file = read_json(path)
        if not isinstance(file, dict):
            raise ValueError(f"--config {path} must hold a JSON object ({{...}}), not a {type(file).__name__}")
        # "data" and "data_split" are what run_config.json records besides the configs; only the split is reused.
        file.pop("data", None)
        _apply_data_split(args, file.pop("data_split", None), path)
        unknown = sorted(
            set(file) - {"trainer", "generator", "critic", "recipe", "generator_preset", "critic_preset", "image_size"}
        )
        if unknown:
            raise ValueError(
                f"--config {path}: unknown section(s) {unknown}; use trainer, generator, critic, "
                "recipe, generator_preset, critic_preset, image_size"
            )
    trainer_settings: dict[str, Any] = dict(file.get("trainer", {}))
    _check_keys("trainer", trainer_settings, TrainerConfig)
    _check_keys("trainer.loss_weights", dict(trainer_settings.get("loss_weights", {})), LossWeights)
    _check_keys("generator", dict(file.get("generator", {})), GeneratorConfig)
    _check_keys("critic", dict(file.get("critic", {})), CriticConfig)
    weights = dict(trainer_settings.pop("loss_weights", {}))
    weights.update(_overrides(args, LossWeights, "weight_"))
    trainer_settings.update(_overrides(args, TrainerConfig, ""))
    if args.betas is not None:
        trainer_settings["betas"] = tuple(args.betas)
    recipe = args.recipe or file.get("recipe", "official")
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r} is unknown; use one of {list(RECIPES)}")
    size = args.image_size or file.get("image_size")
    recipe_generator, recipe_critic, recipe_trainer = recipe_configs(recipe, int(size) if size is not None else 128)
    base = recipe_trainer.to_dict()
    trainer_settings["loss_weights"] = {**base["loss_weights"], **weights}
    trainer = TrainerConfig.from_dict({**base, **trainer_settings})

    # The recipe sizes the networks for the image size; a preset given explicitly replaces that base, and
    # explicit fields (--config sections, --generator-*/--critic-* flags) override either.
    generator_preset = args.generator_preset or file.get("generator_preset")
    critic_preset = args.critic_preset or file.get("critic_preset")
    generator_settings = {
        **({} if generator_preset else recipe_generator.to_dict()),
        **file.get("generator", {}),
        **_overrides(args, GeneratorConfig, "generator_"),
    }
    critic_settings = {
        **({} if critic_preset else recipe_critic.to_dict()),
        **file.get("critic", {}),
        **_overrides(args, CriticConfig, "critic_"),
    }
    if size is not None:
        generator_settings["image_size"] = critic_settings["image_size"] = int(size)
    generator = GeneratorConfig.from_preset(generator_preset or "official", **generator_settings)
    critic = CriticConfig.from_preset(critic_preset or "official", **critic_settings)
    if generator.image_size != critic.image_size:
        raise ValueError(
            f"generator image_size {generator.image_size} differs from critic image_size "
            f"{critic.image_size}; set --image-size"
        )
    return trainer, generator, critic


def _stop_hint(config: TrainerConfig, resume_command: str) -> str:
    """How to stop and resume, said at the start; and that nothing else will stop a run without a limit."""
    hint = f"Ctrl-C stops after the current iteration and saves a checkpoint; resume with: {resume_command}"
    limits = (config.max_steps, config.max_epochs, config.max_time)
    if all(limit is None for limit in limits) and config.lr_unit != "epoch" and not config.fast_dev_run:
        hint = (
            "no limit is set (--max-steps, --max-epochs or --max-time), so training runs until it is stopped. " + hint
        )
    return hint


def run(args: argparse.Namespace) -> int:
    """Train, then export the generator to ``OUTPUT/generator``."""
    output = Path(args.output)
    saved_run = output / "run_config.json"
    if args.resume is not None and args.config is None and saved_run.is_file():
        # Resume with the settings the run was started with (flags given now still override them).
        if os.environ.get("RANK", "0") == "0":  # said once under torchrun
            print(f"--resume: settings from {saved_run} (flags override them)")
        args.config = str(saved_run)
    trainer_config, generator_config, critic_config = build_configs(args)
    if args.resume is not None and saved_run.is_file():
        _keep_recorded_split(args, saved_run)
    resume: Path | None = None
    if args.resume == "latest":
        resume = latest_checkpoint(output / "checkpoints")
        if resume is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {output / 'checkpoints'}; start without --resume")
    elif args.resume is not None:
        resume = Path(args.resume)
    args.val_fraction = 0.1 if args.val_fraction is None else args.val_fraction
    args.flip = 0.0 if args.flip is None else args.flip
    size = generator_config.image_size
    common: dict[str, Any] = {"labels": args.labels, "image_size": size, "decoded_cache": args.decoded_cache}
    common["uint8_images"] = args.decoded_cache is not None  # uint8 until the training device (the same values)
    if args.val_fraction > 0:
        train = AUDataset(args.data, split="train", test_fraction=args.val_fraction, flip=args.flip, **common)
        val: AUDataset | None = AUDataset(args.data, split="test", test_fraction=args.val_fraction, **common)
    else:
        train, val = AUDataset(args.data, flip=args.flip, **common), None
    trainer = Trainer(
        generator=generator_config,
        critic=critic_config,
        config=trainer_config,
        output_dir=output,
        progress=not args.no_progress,
        au_regressor=None if args.au_regressor is None else AURegressor.from_pretrained(args.au_regressor),
    )
    # Under torchrun every process trains; rank 0 alone writes and speaks (training/distributed.py).
    try:
        return _train(args, trainer, train, val, resume)
    finally:
        shutdown_distributed(trainer.distributed)


def _train(
    args: argparse.Namespace, trainer: Trainer, train: AUDataset, val: AUDataset | None, resume: Path | None
) -> int:
    """Write the run's settings, train, export the generator (the files and messages on rank 0 only)."""
    output = Path(args.output)
    run_config = {
        "trainer": trainer.config.to_dict(),
        "generator": trainer.generator.config.to_dict(),
        "critic": trainer.critic.config.to_dict(),
        "data": str(args.data),
        # AUDataset's default split_seed (0): `ganimation evaluate --run` rebuilds the same held-out faces.
        "data_split": {"val_fraction": args.val_fraction, "flip": args.flip, "labels": args.labels, "split_seed": 0},
    }
    main = trainer.is_main_process
    resume_command = f"ganimation train {shlex.quote(str(args.data))} --output {shlex.quote(str(output))} --resume"
    if main:
        with writing(output, "the output folder"):
            output.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(output, re.compile(r"run_config\.json"))  # left by a run killed while writing it
        with atomic_text(output / "run_config.json", newline=None) as handle:
            handle.write(json.dumps(run_config, indent=2))
        processes = f" in {trainer.world_size} processes" if trainer.world_size > 1 else ""
        print(
            f"training on {len(train)} images ({len(val) if val is not None else 0} held out) on {trainer.device}"
            f"{processes}, precision {trainer.config.precision}; writing to {output}"
        )
        print(_stop_hint(trainer.config, resume_command), flush=True)
    try:
        with stop_on_interrupt(trainer):
            figures = trainer.fit(train, val_data=val, resume_from=resume)
    except NonFiniteLossError as error:  # a training outcome, not a crash: the message says what to do
        if main:
            print(f"ganimation train: error: {error}", file=sys.stderr)
        return 1
    if trainer.stop_reason == "stop_requested":
        if main:
            saved = next((cb.last_saved for cb in trainer.callbacks if isinstance(cb, Checkpointing)), None)
            print(
                f"ganimation train: interrupted after {trainer.step} iterations; checkpoint {saved} saved. "
                f"Resume with: {resume_command}",
                file=sys.stderr,
            )
        return 130
    if main:
        exported = trainer.export(output / "generator", face_crop=train.face_crop)
        print(f"stopped after {trainer.step} iterations ({trainer.stop_reason}); generator saved to {exported}")
        if figures:
            print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    trainer.distributed.barrier()  # every rank returns once the generator is exported
    return 0
