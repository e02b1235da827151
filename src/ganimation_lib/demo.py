"""The demo: train a small GANimation on synthetic faces on CPU, then write a grid and an animated GIF.

``ganimation demo`` (and ``make demo``) call [`run_demo`][ganimation_lib.demo.run_demo]. The recipe is
[`demo_configs`][ganimation_lib.demo.demo_configs]: the measured CPU-sized recipe of ``docs/training.md``, not the
official one, which learns nothing useful in a few CPU minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from .aus import EXPRESSIONS, aus_for
from .data.sample import AUSample
from .data.synthetic import SyntheticFaces
from .data.target_sampling import RandomOtherTarget
from .inference import animate, save_gif, to_pil, to_tensor
from .inference.visuals import make_sample_grid, save_image, tile_columns, to_uint8
from .models.critic import CriticConfig
from .models.generator import GeneratorConfig
from .models.registered import drawing_model
from .training import Callback, Trainer, TrainerConfig
from .training.recipes import recipe_configs

__all__ = [
    "DEMO_EXPRESSIONS",
    "DEMO_STEPS",
    "CachedFaces",
    "DemoResult",
    "demo_configs",
    "describe",
    "preset_table",
    "run_demo",
]

#: Iterations the demo trains: a fixed count, so every machine gets the same model (a busy one just takes
#: longer). The documented curve (``docs/training.md``) reaches its figures here; ~3 minutes on 2 cores.
DEMO_STEPS = 1300

#: The expressions the demo's grid shows and its animation moves through.
DEMO_EXPRESSIONS: tuple[str, ...] = ("happy", "surprise", "sad", "anger")


def preset_table(count: int, seed: int, low: float = 0.5, high: float = 1.3) -> Tensor:
    """``count`` AU vectors, each an expression preset (neutral included) at a random intensity in [low, high].

    The demo trains on these rather than on [`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces]' default
    mix, whose sparse single AUs (a dimple, a chin raiser) are a pixel or two at 32 px: the critic's AU head cannot
    learn them in a few minutes, and targets it cannot judge only teach the generator to fool it (``docs/training.md``).

    Examples:
        >>> table = preset_table(4, seed=0)
        >>> table.shape, bool(table.min() >= 0 and table.max() <= 1)
        (torch.Size([4, 17]), True)
    """
    rng = np.random.default_rng(seed)
    presets = torch.stack([aus_for(name) for name in EXPRESSIONS])
    choice = torch.from_numpy(rng.integers(0, len(presets), count))
    intensity = torch.from_numpy(rng.uniform(low, high, count)).float()
    return (presets[choice] * intensity[:, None]).clamp(0, 1)


class CachedFaces(Dataset[AUSample]):
    """[`SyntheticFaces`][ganimation_lib.data.synthetic.SyntheticFaces] drawn once up front, optionally with another AU
    table; targets drawn per access.

    Drawing is cheap but not free; on a few CPU minutes every millisecond goes to training instead.
    ``identity_of`` and ``render_tensor`` pass through, so validation still measures the true error.

    Args:
        faces: The identities, renderer and target sampler.
        table: (len(faces), num_aus) AUs to draw the items with; ``None`` = ``faces.aus_table``.
    """

    def __init__(self, faces: SyntheticFaces, table: Tensor | None = None) -> None:
        self.faces = faces
        self.table = faces.aus_table if table is None else table.float()
        if self.table.shape[0] != len(faces):
            raise ValueError(f"table has {self.table.shape[0]} rows but there are {len(faces)} faces")
        self.images = torch.stack([faces.render_tensor(faces.identity_of(i), self.table[i]) for i in range(len(faces))])

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, index: int) -> AUSample:
        target, source = self.faces.target_sampler(index, self.table)
        source_name = "" if source is None else self.faces.name_of(source)
        return AUSample(self.images[index], self.table[index].clone(), target, source_name, self.faces.name_of(index))

    def identity_of(self, index: int) -> int:
        """The identity item ``index`` shows."""
        return self.faces.identity_of(index)

    def render_tensor(self, identity: int, aus: Tensor) -> Tensor:
        """The true picture of ``identity`` with ``aus`` (see
        [`SyntheticFaces.render_tensor`][ganimation_lib.data.synthetic.SyntheticFaces.render_tensor])."""
        return self.faces.render_tensor(identity, aus)


def demo_configs(
    image_size: int = 32, **trainer_overrides: object
) -> tuple[GeneratorConfig, CriticConfig, TrainerConfig]:
    """The demo's networks and recipe (see ``docs/training.md`` for how it was measured).

    Examples:
        >>> g, c, t = demo_configs()
        >>> g.attention_bias is not None, t.n_critic
        (True, 1)
    """
    overrides: dict[str, Any] = {"device": "cpu", **trainer_overrides}
    return recipe_configs("fast", image_size, **overrides)


@dataclass
class DemoResult:
    """What [`run_demo`][ganimation_lib.demo.run_demo] produced.

    Attributes:
        start: Validation figures before training. end: after training.
        steps: Iterations trained. seconds: Wall-clock time of the whole demo.
        files: Name → path of everything written.
    """

    start: dict[str, float]
    end: dict[str, float]
    steps: int
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


class _Curve(Callback):
    """Collects the validation figures (and prints them) during the demo."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.rows: list[dict[str, float]] = []

    def on_validation_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        self.rows.append({"step": float(trainer.step), **metrics})
        if "true_error" in metrics:
            self.log(
                f"  step {trainer.step:5d}: true error {metrics['true_error']:.4f} "
                f"(unchanged input {metrics['identity_error']:.4f}), expression error "
                f"{metrics['expression_error']:.4f}, attention {metrics['attention_mean']:.3f}"
            )


def _strip(frames: Sequence[Image.Image], keyframes: Sequence[str], frames_per_transition: int) -> Tensor:
    """The animation as one labelled row: every keyframe and the frame halfway to the next, named above them."""
    picks: list[int] = []
    labels: list[str] = []
    for index, name in enumerate(keyframes):
        picks.append(index * frames_per_transition)
        labels.append(name)
        if index + 1 < len(keyframes):
            picks.append(index * frames_per_transition + frames_per_transition // 2)
            labels.append("halfway")
    tiles = [to_uint8(to_tensor(frames[i])[None]) for i in picks]
    return tile_columns(tiles, pad=2, labels=labels)


@torch.no_grad()
def _comparison(generator: torch.nn.Module, data: CachedFaces, indices: Sequence[int]) -> Tensor:
    """Rows: faces. Columns: input, then per expression the generated face next to the true one; labelled."""
    images = torch.stack([data[i].image for i in indices])
    columns: list[Tensor] = [images]
    for name in DEMO_EXPRESSIONS:
        target = aus_for(name).expand(len(indices), -1)
        columns.append(generator(images, target).image)
        columns.append(torch.stack([data.render_tensor(data.identity_of(i), target[0]) for i in indices]))
    gaps = [6 if col % 2 else 0 for col in range(len(columns))]  # a wider gap before each (generated, true) pair
    labels = ["input", *(["output", "true"] * len(DEMO_EXPRESSIONS))]
    groups = [(name, 1 + 2 * i, 2) for i, name in enumerate(DEMO_EXPRESSIONS)]
    return tile_columns([to_uint8(tiles) for tiles in columns], pad=2, gaps=gaps, labels=labels, groups=groups)


def run_demo(
    output: str | Path = "demo_output",
    *,
    max_steps: int | None = DEMO_STEPS,
    max_time: float | None = None,
    image_size: int = 32,
    seed: int = 0,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> DemoResult:
    """Train on synthetic faces for ``max_steps`` iterations (or ``max_time`` seconds), then write the results.

    Writes to ``output``: ``grid.png`` (input | output | attention | colour per expression, held-out faces),
    ``comparison.png`` (generated next to the renderer's true face per expression), both with a header naming
    the expressions and the columns, ``animation.gif`` and ``animation_strip.png`` (one held-out face through
    the expressions: each keyframe and the frame halfway to the next, labelled), ``generator/``
    (``save_pretrained``, for ``ganimation animate``) and ``training/`` (checkpoint, logs, sample grids).
    """
    began = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    sampler = RandomOtherTarget(noise=0.0)
    train_faces = SyntheticFaces(
        num_identities=48, items_per_identity=16, image_size=image_size, seed=seed, target_sampler=sampler
    )
    val_faces = SyntheticFaces(
        num_identities=16,
        items_per_identity=1,
        image_size=image_size,
        seed=seed + 1,
        identity_seed=seed + 1000,
        target_sampler=sampler,
    )
    train = CachedFaces(train_faces, preset_table(len(train_faces), seed))
    val = CachedFaces(val_faces, preset_table(len(val_faces), seed + 1))
    overrides: dict[str, object] = {
        "max_time": max_time,
        "max_steps": max_steps,
        "seed": seed,
        "num_validation_samples": 16,
        "checkpoint_every": 0,
        "sample_every": 0,
        "validate_every": 100,
        "log_every": 25,
    }
    generator_config, critic_config, config = demo_configs(image_size, **overrides)
    curve = _Curve(log)
    targets = [aus_for(name) for name in DEMO_EXPRESSIONS]
    trainer = Trainer(
        generator=generator_config,
        critic=critic_config,
        config=config,
        output_dir=out / "training",
        callbacks=[curve],
        progress=progress,
        sample_targets=dict(zip(DEMO_EXPRESSIONS, targets, strict=True)),
    )
    limit = " and ".join(
        ([f"{max_steps} iterations (about {max_steps / 7.5 / 60:.0f} minutes on 2 CPU cores)"] if max_steps else [])
        + ([f"{max_time:.0f} s"] if max_time else [])
    )
    log(
        f"training a {image_size} px GANimation on {len(train)} synthetic faces for {limit or 'ever (no limit)'} "
        f"(torch threads: {torch.get_num_threads()})"
    )
    trainer.fit(train, val_data=val)
    start, end = curve.rows[0], curve.rows[-1]

    files: dict[str, Path] = {}
    model = drawing_model(trainer.sampling_generator.eval())
    faces = list(range(6))
    batch = torch.stack([val[i].image for i in faces])
    grid = make_sample_grid(model, batch, targets, names=DEMO_EXPRESSIONS, labelled=True)
    files["grid"] = save_image(grid, out / "grid.png")
    files["comparison"] = save_image(_comparison(model, val, faces), out / "comparison.png")
    # Animate a held-out face that shows no expression, so the GIF starts from the real face. It goes in as
    # a PIL image: animate() reads float tensors as [-1, 1], the dataset's own scale.
    neutral = [i for i in range(len(val)) if float(val.table[i].abs().sum()) == 0.0]
    face = to_pil(val[neutral[0] if neutral else 0].image)
    keyframes = ["neutral", *DEMO_EXPRESSIONS, "neutral"]
    frames = animate(model, face, keyframes, frames_per_transition=8, easing="ease")
    big = [f.resize((f.width * 4, f.height * 4), Image.Resampling.NEAREST) for f in frames]
    files["animation"] = save_gif(big, out / "animation.gif", duration=70)
    files["animation_strip"] = save_image(_strip(big, keyframes, 8), out / "animation_strip.png")
    files["generator"] = trainer.export(out / "generator")
    files["training"] = out / "training"
    return DemoResult(
        start={k: v for k, v in start.items() if k != "step"},
        end={k: v for k, v in end.items() if k != "step"},
        steps=trainer.step,
        seconds=time.perf_counter() - began,
        files=files,
    )


def _fmt(figures: Mapping[str, float]) -> str:
    keys = ("true_error", "identity_error", "expression_error", "critic_au_error", "cycle_error", "attention_mean")
    return ", ".join(f"{k} {figures[k]:.4f}" for k in keys if k in figures and math.isfinite(figures[k]))


def describe(result: DemoResult) -> str:
    """The demo's closing report: timings, the validation figures at the start and the end, the files."""
    lines = [
        f"trained {result.steps} iterations; the demo took {result.seconds:.0f} s",
        "validation on 16 held-out synthetic faces (true error: L1 to the renderer's picture of the same face",
        "with the target AUs; the unchanged input's distance is the baseline a useful model beats):",
        f"  start: {_fmt(result.start)}",
        f"  end:   {_fmt(result.end)}",
        "files:",
        *(f"  {name:16s} {path}" for name, path in result.files.items()),
        "animate another face with: ganimation animate --help (model: the 'generator' folder above)",
    ]
    return "\n".join(lines)
