"""The fast recipe at 64 px for a fixed number of iterations, with variants of the critic's AU reading: the
harness behind docs/fidelity-experiments.md's "Where the check-only faces are hard".

Trains on a folder written by ``ganimation synthetic`` (5,000 one-identity faces, ``--au-mix presets``) and
prints, every ``--eval-every`` iterations, the true ratio (L1 to the true picture over the unchanged input's)
on 500 held-out identities of another seed, each asked for another held-out face's AUs, the stray change
``|G(x, own AUs) − x|`` and the critic's AU error on 200 held-out real faces. One thread per run, so two runs
share a 2-core machine. ``--regress-only`` trains only the critic's AU reading (mean squared error) and prints
its error: can this reader learn these faces at all?

    ganimation synthetic --write data_alternate --size 64 --identities 5000 --items-per-identity 1 \\
        --au-mix presets --style alternate
    python benchmarks/fidelity_steps.py data_alternate --style alternate               # the recipe
    python benchmarks/fidelity_steps.py data_alternate --style alternate --reader contrast --score-contrast
    python benchmarks/fidelity_steps.py data_alternate --style alternate --regress-only --reader keypoints

``--grid DIR`` writes ``evaluate``'s picture grid at each measurement, to look at what the generator draws. The
variants of 2026-12-06 (docs/fidelity-experiments.md, "Against the exploitation itself"): ``--mark-augment``,
``--negatives``, ``--flow-grid``, ``--flow-bending``, ``--reader normalised``, ``--robust-reading``, and
``--generator``/``--critic`` config overrides:

    python benchmarks/fidelity_steps.py data_alternate --au-penalty 1 --flow-bending 3 \
        --generator attention_bias=20 --grid grids/warp_only

``--regress-only --alignment`` also prints how well the reading's gradient points at the true change (cosines
against the paired signal's; docs/fidelity-experiments.md, "The reading's gradient, measured"), for the readings
above, ``--reader grey`` and ``--ensemble K``; ``--regression-weight 30`` gives the regression the GAN's weight
against ``--au-penalty``:

    python benchmarks/fidelity_steps.py data_alternate --regress-only --alignment --steps 1500 --eval-every 500 \
        --au-penalty 10 --regression-weight 30

The screens of 2026-12-06 (fourth session; the same page, "Other signals, screened"): ``--reader pooled`` (the AU
head's map averaged, the same detector wherever a feature lies; ``--critic au_trunk_depth=3`` for an 8x8 map),
``--reader denoised`` (the reading reads a denoiser's output; ``--regress-only`` only) and, in the GAN,
``--colour-gradient 20`` (the colour map's gradient as if the attention were open):

    python benchmarks/fidelity_steps.py data_alternate --regress-only --alignment --steps 1500 --eval-every 500 \
        --au-penalty 10 --regression-weight 30 --reader denoised
    python benchmarks/fidelity_steps.py data_default --style default --seed 1 --colour-gradient 20

``--colour-around-warp S [--grey-change]`` (2026-12-06, fifth and sixth sessions; docs/fidelity-experiments.md, "A
colour painted around the warped face" and "A grey change around the warped face") set the generator's
``color_residual=S, color_residual_around="warp", color_residual_grey=...``: the colour a change of at most ``S``
around the warped input, in colour or grey. The grey change at 0.5 is the recipe from 64 px up, so without the
flags the harness runs it; the recipe before it is ``--generator color_residual=null --generator
'color_residual_around="input"' --generator color_residual_grey=false``:

    python benchmarks/fidelity_steps.py data_default --style default --seed 3 --colour-around-warp 0.5

The screens of the seventh session (docs/fidelity-experiments.md, "Framing is what the grey change leaves"):
``--penalty-norm l1`` and ``--mixup`` (readings alone), the ``framed`` row of ``--alignment``, ``--diff-augment``,
and ``--register``/``--register-oracle`` with a folder written by ``benchmarks/face_registration.py`` (trained on
registered faces, measured back in the faces' own framing):

    python benchmarks/face_registration.py data_alternate data_registered
    python benchmarks/fidelity_steps.py data_registered --register data_registered/template.pt --steps 3200

``--style alternate-unframed`` renders the check-only faces without their framing (scale, shift, rotation);
its training folder must be written by ``--write-unframed DIR`` (``ganimation synthetic`` has no such style).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

import ganimation_lib.data.face_renderer as face_renderer
from ganimation_lib import SyntheticFaces
from ganimation_lib.data import AUDataset, as_float_faces
from ganimation_lib.evaluation import AURegressor, AURegressorConfig
from ganimation_lib.evaluation.metrics import derangement, evaluate
from ganimation_lib.evaluation.report import evaluation_grid
from ganimation_lib.losses import CriticStep, GeneratorStep
from ganimation_lib.losses.functional import au_gradient_penalty, expression_loss, gradient_penalty
from ganimation_lib.losses.objective import LossWeights
from ganimation_lib.models.critic import Critic
from ganimation_lib.models.generator import Generator
from ganimation_lib.models.warp import FlowHead, warp_images
from ganimation_lib.training.callbacks import Callback
from ganimation_lib.training.config import TrainerConfig
from ganimation_lib.training.recipes import recipe_configs
from ganimation_lib.training.trainer import Trainer
from ganimation_lib.training.validation import truth_for


def render_unframed() -> None:
    """From now on, alternate-style faces are drawn without their framing (where the default style puts them)."""
    original = face_renderer.sample_look

    def unframed(style, identity_seed, identity):  # type: ignore[no-untyped-def]
        return dataclasses.replace(original(style, identity_seed, identity), framing=None)

    face_renderer.sample_look = unframed


class LocalContrast(nn.Module):
    """Each channel minus its local (k×k) mean, divided by its local standard deviation + ``eps``."""

    def __init__(self, k: int = 7, eps: float = 0.1) -> None:
        super().__init__()
        self.k, self.eps = k, eps

    def forward(self, x: Tensor) -> Tensor:
        pad = [self.k // 2] * 4
        mean = F.avg_pool2d(F.pad(x, pad, mode="replicate"), self.k, 1)
        var = F.avg_pool2d(F.pad((x - mean) ** 2, pad, mode="replicate"), self.k, 1)
        return (x - mean) / (var.add(1e-6).sqrt() + self.eps)


class Grey(nn.Module):
    """The image's luminance (the mean of its channels), repeated in each channel."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(1, keepdim=True).expand_as(x)


class KeypointReader(nn.Module):
    """AUs regressed from the coordinates of K soft-argmax keypoints: a reading of positions, not of colours."""

    def __init__(self, num_aus: int, keypoints: int = 16, channels: int = 32, contrast: bool = False) -> None:
        super().__init__()
        c, slope = channels, 0.2
        self.pre: nn.Module = LocalContrast() if contrast else nn.Identity()
        self.heatmaps = nn.Sequential(
            nn.Conv2d(3, c, 3, 1, 1), nn.LeakyReLU(slope),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.LeakyReLU(slope),
            nn.Conv2d(2 * c, 2 * c, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.LeakyReLU(slope),
            nn.Conv2d(2 * c, keypoints, 3, 1, 1),
        )  # fmt: skip
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))  # sharp enough to move at the start
        self.regress = nn.Sequential(
            nn.Linear(2 * keypoints, 128), nn.LeakyReLU(slope), nn.Linear(128, 128), nn.LeakyReLU(slope),
            nn.Linear(128, num_aus),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        h = self.heatmaps(self.pre(x)) * self.log_temperature.exp()
        b, k, rows, cols = h.shape
        p = torch.softmax(h.flatten(2), dim=2).view(b, k, rows, cols)
        xs = torch.linspace(-1, 1, cols, device=x.device)
        ys = torch.linspace(-1, 1, rows, device=x.device)
        points = torch.stack([(p.sum(2) * xs).sum(2), (p.sum(3) * ys).sum(2)], dim=2)
        return self.regress(points.flatten(1))[:, :, None, None]  # read by the critic's (identity) AU head


class Denoiser(nn.Module):
    """A small residual denoiser, trained (by ``denoising_loss`` alone, never by the reading) to remove Gaussian
    noise from real faces; the AU reading reads its output, so the generator's gradient reaches the face through
    the denoiser's Jacobian, which passes changes along the faces' manifold (moved edges, flat regions) and
    damps those off it (marks, speckles)."""

    def __init__(self, sigma: float = 0.2, channels: int = 32) -> None:
        super().__init__()
        c, self.sigma = channels, sigma
        self.down = nn.Sequential(nn.Conv2d(3, c, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, c, 4, 2, 1),
                                  nn.LeakyReLU(0.2), nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2))  # fmt: skip
        self.up = nn.Sequential(nn.Conv2d(c + 3, c, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, 3, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(self.down(x), scale_factor=2, mode="bilinear", align_corners=False)
        return x + self.up(torch.cat([h, x], 1))

    def denoising_loss(self, x: Tensor) -> Tensor:
        return (self(x + self.sigma * torch.randn_like(x)) - x).pow(2).mean()


class PooledHead(nn.Module):
    """AUs read at every cell of the AU trunk's final map (a 1x1 convolution) and averaged over the map: the
    same detector wherever a feature lies, so a brow moved or scaled by the framing is read by the same
    weights (the recipe's head has a weight per cell)."""

    def __init__(self, channels: int, num_aus: int) -> None:
        super().__init__()
        self.read = nn.Conv2d(channels, num_aus, 1, bias=False)

    def forward(self, features: Tensor) -> Tensor:
        return self.read(features).mean((2, 3), keepdim=True)


def normalised_penalty(critic: Critic, real: Tensor) -> Tensor:
    """The AU gradient penalty (unweighted) taken on the contrast-normalised face: the AU trunk's input after
    normalising, so that the normalisation's gain is not penalised with the reading."""
    normalise, trunk = critic.au_trunk[0], critic.au_trunk[1]
    return au_gradient_penalty(lambda z: torch.flatten(critic.au_head(trunk(z)), 1), normalise(real))


class NormalisedReader(nn.Module):
    """The independent regressor's architecture (``evaluation.AURegressor``: stride-2 convolutions with
    GroupNorm, a 4x4 pooled grid, a linear head) as the critic's AU reading: each layer normalises its
    features per face, so a face drawn in low contrast is read at the gain of a high-contrast one."""

    def __init__(self, num_aus: int, width: int = 16) -> None:
        super().__init__()
        self.reader = AURegressor(AURegressorConfig.for_image_size(64, num_aus=num_aus, width=width))

    def forward(self, x: Tensor) -> Tensor:
        return self.reader(x)[:, :, None, None]  # read by the critic's (identity) AU head


def coarse_flow(grid: int) -> None:
    """From now on, the generator's flow is averaged to a ``grid``×``grid`` field before it is upsampled: it can
    move whole features but cannot bend a line into a zig-zag finer than the grid."""
    original = FlowHead.forward

    def forward(self: FlowHead, features: Tensor, size: tuple[int, int]) -> Tensor:
        flow = original(self, features, size=features.shape[-2:])
        return F.interpolate(F.adaptive_avg_pool2d(flow, grid), size=size, mode="bilinear", align_corners=False)

    FlowHead.forward = forward  # type: ignore[method-assign]


def colour_gradient(most: float) -> None:
    """From now on, the colour map receives the output's gradient as if the attention were open (its gradient
    divided by ``1 - A``, at most ``most`` times; generators with a warp only, as the recipe's at 64 px): with the
    identity start (A about 0.95) the colour head gets a twentieth of the gradient and is still noise when the
    attention could open; this lets it learn what each pixel should become before the attention opens there. The
    terms on the colour map itself (its smoothness) keep their gradient; the forward values are unchanged."""
    original = Generator.forward

    def forward(self: Generator, images: Tensor, aus: Tensor) -> object:
        out = original(self, images, aus)
        if out.flow is None or not torch.is_grad_enabled():
            return out
        gain = (1 / (1 - out.attention.detach()).clamp_min(1 / most)) - 1
        # zero in value: the image is unchanged, and its gradient reaches the colour (1 - A)(1 + gain) times
        extra = (1 - out.attention) * (out.color - out.color.detach()) * gain
        return dataclasses.replace(out, image=out.image + extra)

    Generator.forward = forward  # type: ignore[method-assign,assignment]


def contrast_penalty(critic: Critic, weight: float) -> Callable[[CriticStep], Tensor]:
    """`normalised_penalty` on the real faces of each critic step, weighted."""

    def term(step: CriticStep) -> Tensor:
        return weight * normalised_penalty(critic, step.real)

    return term


def random_marks(x: Tensor, max_marks: int = 6) -> Tensor:
    """``x`` with up to ``max_marks`` random marks per face blended in, centred mostly on the face: soft blobs
    (σ 1-4 px) and thin strokes (width 0.5-1.5 px, up to a quarter of the face long), each of a random colour
    (a grey level, or a colour taken from elsewhere on the same face) at opacity 0.3-1: the kinds of patch a
    generator paints to move a reading."""
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=x.dtype).view(1, 1, w)
    out = x.clone()
    for _ in range(max_marks):
        present = (torch.rand(b) < 0.6).to(x.dtype).view(b, 1, 1)
        cx, cy = w / 2 + torch.randn(b, 1, 1) * w / 6, h / 2 + torch.randn(b, 1, 1) * h / 6  # mostly on the face
        angle = torch.rand(b, 1, 1) * math.pi
        half = torch.rand(b, 1, 1) * w / 8
        dx, dy = torch.cos(angle), torch.sin(angle)
        along = ((xs - cx) * dx + (ys - cy) * dy).clamp(-half, half)
        stroke_d2 = (xs - cx - along * dx) ** 2 + (ys - cy - along * dy) ** 2
        blob_d2 = (xs - cx) ** 2 + (ys - cy) ** 2
        is_stroke = (torch.rand(b, 1, 1) < 0.5).to(x.dtype)
        width = torch.where(is_stroke > 0, 0.5 + torch.rand(b, 1, 1), 1 + 3 * torch.rand(b, 1, 1))
        d2 = is_stroke * stroke_d2 + (1 - is_stroke) * blob_d2
        alpha = (present * (0.3 + 0.7 * torch.rand(b, 1, 1)) * torch.exp(-d2 / (2 * width**2))).unsqueeze(1)
        grey = (torch.rand(b, 1, 1, 1) * 2 - 1).expand(b, 3, 1, 1)
        px, py = torch.randint(0, w, (b,)), torch.randint(0, h, (b,))
        sampled = x[torch.arange(b), :, py, px].view(b, 3, 1, 1)
        colour = torch.where(torch.rand(b, 1, 1, 1) < 0.5, grey, sampled)
        out = out * (1 - alpha) + colour * alpha
    return out


def corrupted(x: Tensor) -> Tensor:
    """Each face spoilt in one of three ways a generator spoils faces to move a reading: `random_marks`;
    a local high-frequency warp (flow noise on a 16×16 grid, up to about 1.5 px, under a soft window
    around a point near the centre: wavy lines, bent features); or colour speckles under such a window."""
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=x.dtype).view(1, 1, 1, w)
    cx, cy = w / 2 + torch.randn(b, 1, 1, 1) * w / 6, h / 2 + torch.randn(b, 1, 1, 1) * h / 6
    radius = w / 16 + torch.rand(b, 1, 1, 1) * w / 8
    window = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))
    noise = torch.randn(b, 2, 16, 16, dtype=x.dtype) * (1.5 * 2 / w)
    wavy = warp_images(x, F.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False) * window)
    speckled = (x + window * torch.randn_like(x) * (0.1 + 0.4 * torch.rand(b, 1, 1, 1))).clamp(-1, 1)
    kind = torch.randint(0, 3, (b, 1, 1, 1))
    return torch.where(kind == 0, random_marks(x), torch.where(kind == 1, wavy, speckled))


def negatives(critic: Critic, weight: float) -> Callable[[CriticStep], Tensor]:
    """Negative data augmentation (Sinha et al., ICLR 2021): `corrupted` real faces scored as generated ones,
    with the WGAN gradient penalty between them and the real faces, so the critic knows these spoilings are
    not faces before the generator finds them."""

    def term(step: CriticStep) -> Tensor:
        real = step.real.detach().float()
        spoilt = corrupted(real)
        score = critic(spoilt).score.mean()
        penalty = gradient_penalty(lambda z: critic(z).score, real, spoilt)
        return weight * score + 10.0 * penalty

    return term


def random_framing(x: Tensor) -> Tensor:
    """Each face moved by a random similarity transform like the check-only faces' framing (scale 0.85-1.1,
    rotation ±8°, shift up to 5 % of the side), the border repeated."""
    b = x.shape[0]
    scale = 0.85 + 0.25 * torch.rand(b)
    angle = (torch.rand(b) * 2 - 1) * math.radians(8)
    shift = (torch.rand(b, 2) * 2 - 1) * 0.1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class TrainingFraming(nn.Module):
    """``random_framing`` while gradients are recorded (the critic's and the generator's steps), the identity
    when measuring: put before a critic trunk, it reads every real and generated face at a random framing, and
    the generator's gradient comes back through the framing (DiffAugment, Zhao et al. 2020, with a similarity
    transform as the augmentation). A change that moves the reading only at one framing then averages out over
    the steps (an expectation over transformations); one of the face's shapes, which moves with the face, does
    not."""

    def forward(self, x: Tensor) -> Tensor:
        return random_framing(x) if torch.is_grad_enabled() else x


def augmented_reading(
    critic: Critic, weight: float, augment: Callable[[Tensor], Tensor]
) -> Callable[[CriticStep], Tensor]:
    """The AU reading also trained on ``augment``-ed copies of the real faces, towards their own AUs
    (`random_framing`: the framing does not change what the face shows; `random_marks`: nor do marks)."""

    def term(step: CriticStep) -> Tensor:
        return weight * expression_loss(critic(augment(step.real.detach().float())).aus, step.aus, "mean")

    return term


def robust_reading(critic: Critic, weight: float, radius: float, steps: int = 3) -> Callable[[CriticStep], Tensor]:
    """The AU reading also trained on real faces moved, within an L2 ball of ``radius``, in the direction that
    moves its reading most (``steps`` projected gradient steps, PGD), towards their own AUs: adversarial
    training, whose readers have input gradients that point at changes a person would see (Santurkar et al.,
    NeurIPS 2019) — the gradient the generator follows."""

    config = critic.config
    reads_alone = config.separate_au_trunk and config.au_trunk_input_downsample == 1

    def read(x: Tensor) -> Tensor:  # the AU reading only: the score's trunk has no part in it
        return torch.flatten(critic.au_head(critic.au_trunk(x)) if reads_alone else critic(x).aus, 1)

    def term(step: CriticStep) -> Tensor:
        real, aus = step.real.detach().float(), step.aus.detach().float()
        delta = torch.zeros_like(real)
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = (read(real + delta) - aus).pow(2).sum()
            (grad,) = torch.autograd.grad(loss, delta)
            norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            delta = delta.detach() + (2.5 * radius / steps) * grad / norm
            delta = delta * (radius / delta.flatten(1).norm(dim=1).clamp_min(radius).view(-1, 1, 1, 1))
        return weight * expression_loss(read(real + delta.detach()), step.aus, "mean")

    return term


def flow_bending(weight: float) -> Callable[[GeneratorStep], Tensor]:
    """``weight ·`` the bending energy of the generator's flow on both passes (squared second differences on
    the 16×16 grid it is predicted on, summed): whole features may move, lines may not be bent into zig-zags."""

    def energy(flow: Tensor | None) -> Tensor:
        assert flow is not None, "needs the fast recipe's warp"
        grid = F.avg_pool2d(flow.float(), flow.shape[-1] // 16)
        dxx = grid[..., :, 2:] - 2 * grid[..., :, 1:-1] + grid[..., :, :-2]
        dyy = grid[..., 2:, :] - 2 * grid[..., 1:-1, :] + grid[..., :-2, :]
        dxy = grid[..., 1:, 1:] - grid[..., 1:, :-1] - grid[..., :-1, 1:] + grid[..., :-1, :-1]
        squares = dxx.pow(2).flatten(1).sum(1) + dyy.pow(2).flatten(1).sum(1) + 2 * dxy.pow(2).flatten(1).sum(1)
        return squares.mean()

    def term(step: GeneratorStep) -> Tensor:
        return weight * (energy(step.fake.flow) + energy(step.reconstruction.flow))

    return term


def relative_expression(critic: Critic, weight: float) -> Callable[[GeneratorStep], Tensor]:
    """The expression loss on the *change* the critic reads: ``R(G(x, t)) − R(x)`` against ``t − s``, so that
    what the reading gets wrong about a face (the same before and after) cancels out."""

    def term(step: GeneratorStep) -> Tensor:
        with torch.no_grad():
            before = critic(step.real).aus
        wanted = before + (step.target_aus - step.aus)
        return weight * expression_loss(step.judged.aus, wanted, "mean")

    return term


def name_values(settings: list[str]) -> dict[str, object]:
    """``NAME=JSON`` command-line settings as a dict."""
    return {name: json.loads(value) for name, _, value in (setting.partition("=") for setting in settings)}


def build(
    args: argparse.Namespace,
) -> tuple[
    Generator,
    Critic,
    TrainerConfig,
    dict[str, Callable[[CriticStep], Tensor]],
    dict[str, Callable[[GeneratorStep], Tensor]],
]:
    """The recipe's networks and settings at 64 px with the variant of ``args``."""
    over: dict[str, object] = dict(max_steps=args.steps, seed=args.seed, checkpoint_every=0, validate_every=0,
                                   sample_every=0)  # fmt: skip
    if args.ema is not None:
        over["ema_decay"] = args.ema
    over.update(name_values(args.trainer))
    networks = {"generator": name_values(args.generator), "critic": name_values(args.critic)}
    if args.colour_around_warp:  # the library's options; the recipe from 64 px up is 0.5 and grey
        colour = dict(color_residual=args.colour_around_warp, color_residual_around="warp",
                      color_residual_grey=args.grey_change)  # fmt: skip
        networks["generator"] = {**colour, **networks["generator"]}
    g_cfg, c_cfg, t_cfg = recipe_configs("fast", 64, **networks, **over)
    weights = t_cfg.loss_weights.to_dict()
    for name, value in name_values(args.weight).items():
        if name not in weights:
            raise SystemExit(f"--weight {name}: no such loss weight; known: {', '.join(weights)}")
        weights[name] = float(value)
    penalty = weights["au_gradient_penalty"] if args.au_penalty is None else args.au_penalty
    weights["au_gradient_penalty"] = 0.0 if args.reader == "contrast" else penalty
    torch.manual_seed(args.seed)
    generator, critic = Generator(g_cfg), Critic(c_cfg)
    extra: dict[str, Callable[[CriticStep], Tensor]] = {}
    if args.reader == "keypoints":
        critic.au_trunk = KeypointReader(c_cfg.num_aus, contrast=args.keypoint_contrast)
        critic.au_head = nn.Identity()  # type: ignore[assignment]
    elif args.reader == "normalised":
        critic.au_trunk = NormalisedReader(c_cfg.num_aus)  # type: ignore[assignment]
        critic.au_head = nn.Identity()  # type: ignore[assignment]
    elif args.reader == "contrast-raw":  # normalised input, the penalty on the raw face (through the normalising)
        critic.au_trunk = nn.Sequential(LocalContrast(), critic.au_trunk)
    elif args.reader == "contrast":
        critic.au_trunk = nn.Sequential(LocalContrast(), critic.au_trunk)
        extra["au_contrast_penalty"] = contrast_penalty(critic, penalty)
    elif args.reader == "denoised":
        critic.au_trunk = nn.Sequential(Denoiser(args.denoise_sigma), critic.au_trunk)
    elif args.reader == "pooled":
        critic.au_head = PooledHead(critic.au_head.in_channels, c_cfg.num_aus)  # type: ignore[assignment]
    elif args.reader == "grey":  # luminance only: the palettes, which differ between faces, cannot steer it
        critic.au_trunk = nn.Sequential(Grey(), critic.au_trunk)
    if args.negatives:
        extra["negatives"] = negatives(critic, args.negatives)
    if args.frame_augment:
        extra["framing_read"] = augmented_reading(critic, weights["expression"] * args.frame_augment, random_framing)
    if args.robust_reading:
        extra["robust_reading"] = robust_reading(critic, weights["expression"], args.robust_reading)
    if args.mark_augment:
        extra["marks_ignored"] = augmented_reading(critic, weights["expression"] * args.mark_augment, random_marks)
    if args.score_contrast:
        critic.trunk = nn.Sequential(LocalContrast(), critic.trunk)
    if args.diff_augment in ("au", "all"):
        critic.au_trunk = nn.Sequential(TrainingFraming(), critic.au_trunk)
    if args.diff_augment == "all":
        critic.trunk = nn.Sequential(TrainingFraming(), critic.trunk)
    generator_terms: dict[str, Callable[[GeneratorStep], Tensor]] = {}
    if args.flow_bending:
        generator_terms["flow_bending"] = flow_bending(args.flow_bending)
    if args.relative_expression:
        weight = weights["expression"]
        generator_terms["relative_expression"] = relative_expression(critic, weight)
        # The weight also scales the critic's AU regression: that term is kept as a custom one.
        extra["aus_kept"] = lambda step: weight * expression_loss(step.real_judged.aus, step.aus, "mean")
        weights["expression"] = 0.0
    t_cfg = TrainerConfig.from_dict({**t_cfg.to_dict(), "loss_weights": LossWeights(**weights).to_dict()})
    return generator, critic, t_cfg, extra, generator_terms


def held_out(style: str, count: int = 500) -> tuple[SyntheticFaces, Tensor, Tensor]:
    """Held-out identities (another identity seed than the training folder's) and their images and AUs."""
    faces = SyntheticFaces(num_identities=count, items_per_identity=1, image_size=64, seed=777, style=style,
                           au_mix="presets")  # type: ignore[arg-type]  # fmt: skip
    items = [faces[i] for i in range(count)]
    return faces, torch.stack([s.image for s in items]), torch.stack([s.aus for s in items])


def au_error(critic: Critic, images: Tensor, aus: Tensor) -> float:
    """The critic's mean absolute AU error on ``images``."""
    was = critic.training
    critic.eval()
    with torch.no_grad():
        error = float((critic(images).aus - aus).abs().mean())
    critic.train(was)
    return error


class Measure(Callback):
    """Prints the figures every ``every`` iterations."""

    def __init__(
        self,
        every: int,
        faces: SyntheticFaces,
        images: Tensor,
        aus: Tensor,
        grid: Path | None = None,
        wrap: Callable[[nn.Module], nn.Module] | None = None,
    ) -> None:
        self.every, self.faces, self.images, self.aus, self.grid = every, faces, images, aus, grid
        self.wrap = wrap
        self.start = time.perf_counter()

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        if trainer.step % self.every == 0:
            self.measure(trainer)

    def measure(self, trainer: Trainer) -> None:
        generator = trainer.sampling_generator
        was = generator.training
        if self.wrap is not None:
            generator = self.wrap(generator)
        report = evaluate(generator, self.faces, num_faces=len(self.faces), seed=0)
        if self.grid is not None:
            self.grid.mkdir(parents=True, exist_ok=True)
            picture = evaluation_grid(report, generator, self.faces, rows=10, labelled=True)
            Image.fromarray(picture.permute(1, 2, 0).numpy()).save(self.grid / f"step{trainer.step:05d}.png")
        generator.train(was)
        row = {
            "step": trainer.step,
            "true_ratio": round(report.true_ratio or float("nan"), 4),
            "stray": round(report.identity_error, 5),
            "critic_au_error": round(au_error(trainer.critic, self.images[:200], self.aus[:200]), 4),
            "seconds": round(time.perf_counter() - self.start),
        }
        print(json.dumps(row), flush=True)


def reliability(critic: Critic, images: Tensor, aus: Tensor) -> Tensor:
    """Each AU's R^2 of the reading on real faces (clamped to [0, 1]): how much of the AU it reads."""
    with torch.no_grad():
        read = critic(as_float_faces(images).float()).aus
    unexplained = (read - aus).pow(2).mean(0)
    spread = (aus - aus.mean(0)).pow(2).mean(0).clamp_min(1e-8)
    return (1 - unexplained / spread).clamp(0, 1)


def gradient_alignment(critic: Critic, faces: SyntheticFaces, images: Tensor, aus: Tensor, count: int = 200) -> dict:
    """How well the reading's gradient points at the true change, on ``count`` held-out faces each asked for
    another's AUs: the cosine between the descent direction of ``|R(x) - t|^2`` and the true change ``y - x``
    (the descent direction of the paired squared error, the signal the paired bound learns from), in the pixels
    and, for a flow that warps the face (at zero flow), against the paired L1's flow gradient averaged over 8x8
    cells (``flow8``: as smooth as the recipe's warp). Variants of the reading's gradient: ``smooth`` averages
    it over 8 noisy copies of the face (SmoothGrad, sigma 0.1 on the [-1, 1] scale); ``weighted`` weights each
    AU's error by the reading's R^2 for that AU on 200 other held-out faces (no gradient from AUs it cannot
    read); ``framed`` averages it over 8 randomly framed copies (``random_framing``; the gradient taken through
    the framing back to the face): a change that moves the reading only at one framing averages out, a change of
    the face's shapes, which moves with the face, does not."""
    truth = truth_for(faces)
    assert truth is not None
    x = as_float_faces(images[:count]).float()
    targets = aus[:count][derangement(count, 0)]
    y = truth(list(range(count)), targets).float()
    weights = reliability(critic, images[count : 2 * count], aus[count : 2 * count])

    def descent(loss_of: Callable[[Tensor], Tensor], shape: torch.Size) -> Tensor:
        variable = torch.zeros(shape, requires_grad=True)
        return -torch.autograd.grad(loss_of(variable), variable)[0]

    def reading(
        z: Tensor, au_weights: Tensor | None = None, noise: float = 0.0, copies: int = 1, framed: bool = False
    ) -> Tensor:
        total = z.new_zeros(())
        for _ in range(copies):
            seen = random_framing(z) if framed else z + noise * torch.randn_like(z)
            error = (critic(seen).aus - targets).pow(2)
            total = total + (error if au_weights is None else error * au_weights).sum() / copies
        return total

    def cosine(a: Tensor, b: Tensor) -> float:
        return round(float(F.cosine_similarity(a.flatten(1), b.flatten(1), eps=1e-12).mean()), 4)

    flow_shape = torch.Size([count, 2, *x.shape[2:]])
    flow_true = F.avg_pool2d(descent(lambda f: (warp_images(x, f) - y).abs().sum(), flow_shape), 8)
    row: dict[str, object] = {"reliability": [round(float(w), 2) for w in weights]}
    variants: dict[str, dict[str, object]] = {
        "plain": {},
        "smooth": {"noise": 0.1, "copies": 8},
        "weighted": {"au_weights": weights},
        "framed": {"framed": True, "copies": 8},
    }
    for name, options in variants.items():
        pixel = descent(lambda d: reading(x + d, **options), x.shape)  # noqa: B023  (called at once)
        flow = descent(lambda f: reading(warp_images(x, f), **options), flow_shape)  # noqa: B023
        row[name] = {"pixel": cosine(pixel, y - x), "flow8": cosine(F.avg_pool2d(flow, 8), flow_true)}
    return row


class EnsembleReading(nn.Module):
    """Readers trained side by side, each on its own loss; the reading is their mean, so its gradient is the
    mean of theirs (what the generator would follow)."""

    def __init__(self, members: list[Critic]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> types.SimpleNamespace:
        return types.SimpleNamespace(aus=torch.stack([member(x).aus for member in self.members]).mean(0))


def reading_loss(args: argparse.Namespace, critic: Critic, x: Tensor, aus: Tensor) -> Tensor:
    """One reader's training loss on a batch: the regression and the variant's terms."""
    loss = args.regression_weight * (critic(x).aus - aus).pow(2).mean()
    if args.frame_augment:
        framed = (critic(random_framing(x)).aus - aus).pow(2).mean()
        loss = loss + args.regression_weight * args.frame_augment * framed
    if args.robust_reading:  # weighted as the plain regression, as in the GAN (both x expression)
        robust = robust_reading(critic, args.regression_weight, args.robust_reading)
        loss = loss + robust(types.SimpleNamespace(real=x, aus=aus))  # type: ignore[arg-type]
    if args.mixup:  # pairs of faces blended, their AUs blended alike: the reading made linear between faces
        share = torch.distributions.Beta(args.mixup, args.mixup).sample((x.shape[0], 1))
        other = torch.randperm(x.shape[0])
        blended = share[:, :, None, None] * x + (1 - share[:, :, None, None]) * x[other]
        blended_aus = share * aus + (1 - share) * aus[other]
        loss = loss + args.regression_weight * (critic(blended).aus - blended_aus).pow(2).mean()
    weight = args.au_penalty
    if weight and args.reader == "contrast":  # on the normalised input, as in the GAN
        loss = loss + weight * normalised_penalty(critic, x)
    elif weight and args.penalty_norm == "l1":
        loss = loss + weight * sparse_gradient_penalty(lambda z: critic(z).aus, x)
    elif weight:
        loss = loss + weight * au_gradient_penalty(lambda z: critic(z).aus, x)
    return loss


def sparse_gradient_penalty(regress: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
    """``mean_i ‖∂(v_i · R(x_i)) / ∂x_i‖₁`` (``v_i ~ N(0, I)``): the L1 norm of the reading's input gradient
    rather than its square, which spends the reading's sensitivity on few pixels (a sparse gradient map, as the
    true change between two expressions of a face is sparse: brows, lids, mouth) instead of spreading it."""
    inputs = images.detach().float().requires_grad_(True)
    aus = regress(inputs)
    probe = torch.randn_like(aus)
    (gradient,) = torch.autograd.grad((aus * probe).sum(), inputs, create_graph=True)
    return gradient.abs().flatten(1).sum(1).mean()


def regress_only(
    args: argparse.Namespace, critic: Critic, data: AUDataset, faces: SyntheticFaces, images: Tensor, aus: Tensor
) -> None:
    """Train the AU reading alone (its penalty included) and print its error on held-out faces; with
    ``--ensemble K``, K readers of other initialisations side by side, read as their mean."""
    if args.au_penalty is None:  # the recipe's weight, resolved once for `reading_loss`
        args.au_penalty = recipe_configs("fast", 64)[2].loss_weights.au_gradient_penalty
    members = [critic]
    for k in range(1, args.ensemble):
        torch.manual_seed(args.seed + 1000 * k)
        members.append(Critic(critic.config))
    denoisers = [m for member in members for m in member.modules() if isinstance(m, Denoiser)]
    own = {id(p) for d in denoisers for p in d.parameters()}
    parameters = [p for member in members for p in member.au_parameters() if id(p) not in own]
    optimiser = torch.optim.Adam(parameters, lr=args.lr, betas=(0.5, 0.999))
    denoising = [torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999)) for d in denoisers]
    reading = EnsembleReading(members) if args.ensemble > 1 else critic
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, drop_last=True)
    step = 0
    while step < args.steps:
        for batch in loader:
            x = as_float_faces(batch.image)
            loss = sum((reading_loss(args, member, x, batch.aus) for member in members), x.new_zeros(()))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            for denoiser, denoiser_optimiser in zip(denoisers, denoising, strict=True):
                denoiser_optimiser.zero_grad()  # the reading's gradient is dropped: only denoising trains it
                denoiser.denoising_loss(x).backward()
                denoiser_optimiser.step()
            step += 1
            if step % args.eval_every == 0:
                error = au_error(reading, images[:300], aus[:300])  # type: ignore[arg-type]
                row: dict[str, object] = {"step": step, "au_error": round(error, 4)}
                if args.alignment:
                    row["alignment"] = gradient_alignment(reading, faces, images, aus)  # type: ignore[arg-type]
                print(json.dumps(row), flush=True)
            if step >= args.steps:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", help="a folder written by 'ganimation synthetic'")
    parser.add_argument("--write-unframed", type=Path, default=None, help="write unframed check-only faces here")
    parser.add_argument("--style", default="alternate", choices=("default", "alternate", "alternate-unframed"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reader",
        default="recipe",
        choices=("recipe", "contrast", "contrast-raw", "keypoints", "normalised", "grey", "pooled", "denoised"),
    )
    parser.add_argument("--denoise-sigma", type=float, default=0.2, help="noise of --reader denoised's training")
    parser.add_argument("--keypoint-contrast", action="store_true", help="the keypoint reader on normalised faces")
    parser.add_argument("--score-contrast", action="store_true", help="the adversarial trunk on normalised faces")
    parser.add_argument("--au-penalty", type=float, default=None, help="default: the recipe's 10")
    parser.add_argument("--relative-expression", action="store_true", help="the expression loss on the change")
    parser.add_argument("--weight", action="append", default=[], help="NAME=VALUE: a loss weight of the recipe")
    parser.add_argument("--trainer", action="append", default=[], help="NAME=JSON: a TrainerConfig field")
    parser.add_argument("--generator", action="append", default=[], help="NAME=JSON: a GeneratorConfig field")
    parser.add_argument("--critic", action="append", default=[], help="NAME=JSON: a CriticConfig field")
    parser.add_argument("--flip", type=float, default=0.0, help="probability of a horizontal flip per item")
    parser.add_argument("--frame-augment", type=float, default=0.0, help="weight (x expression): framed copies read")
    parser.add_argument("--mark-augment", type=float, default=0.0, help="weight (x expression): marked copies read")
    parser.add_argument("--robust-reading", type=float, default=0.0, help="L2 radius of the reading's PGD copies")
    parser.add_argument("--negatives", type=float, default=0.0, help="weight of the corrupted faces' score")
    parser.add_argument("--flow-bending", type=float, default=0.0, help="weight of the flow's bending energy")
    parser.add_argument("--flow-grid", type=int, default=0, help="average the flow to this grid (0: as it is)")
    parser.add_argument("--colour-gradient", type=float, default=0.0, help="most gain of the colour's gradient")
    parser.add_argument("--colour-around-warp", type=float, default=0.0, help="colour = warp(x) + this*tanh")
    parser.add_argument("--grey-change", action="store_true", help="with --colour-around-warp: a grey change")
    parser.add_argument(
        "--diff-augment", choices=("none", "au", "all"), default="none",
        help="read real and generated faces at random framings: the AU trunk's input ('au') or both trunks'",
    )  # fmt: skip
    parser.add_argument(
        "--register", type=Path, default=None,
        help="the template of a folder written by face_registration.py: measure through the registration",
    )  # fmt: skip
    parser.add_argument("--register-oracle", action="store_true", help="measure with the true framing undone")
    parser.add_argument("--register-mode", choices=("bilinear", "bicubic"), default="bilinear", help="resampling")
    parser.add_argument("--ema", type=float, default=None, help="default: the recipe's 0.99")
    parser.add_argument("--grid", type=Path, default=None, help="write evaluate's grid here at each measurement")
    parser.add_argument("--regress-only", action="store_true")
    parser.add_argument(
        "--regression-weight",
        type=float,
        default=1.0,
        help="with --regress-only: the weight of the AU regression "
        "against --au-penalty's; the GAN weights it by the expression weight (30 in the recipe), so 30 reproduces "
        "the GAN's balance (the default 1 is the one the documented --regress-only rows used: 30x more penalty)",
    )
    parser.add_argument("--ensemble", type=int, default=1, help="with --regress-only: K readers, read as their mean")
    parser.add_argument(
        "--alignment",
        action="store_true",
        help="with --regress-only: how well the reading's gradient points at "
        "the true change (cosines against the paired signal's)",
    )
    parser.add_argument("--lr", type=float, default=5e-4, help="learning rate of --regress-only")
    parser.add_argument(
        "--penalty-norm", choices=("l2", "l1"), default="l2", help="with --regress-only: the --au-penalty's norm"
    )
    parser.add_argument("--mixup", type=float, default=0.0, help="with --regress-only: Beta(a, a) blends also read")
    args = parser.parse_args()
    torch.set_num_threads(1)
    style = args.style
    if style == "alternate-unframed" or args.write_unframed is not None:
        render_unframed()
        style = "alternate"
    if args.write_unframed is not None:
        faces = SyntheticFaces(num_identities=5000, items_per_identity=1, image_size=64, style="alternate",
                               au_mix="presets")  # fmt: skip
        print(f"wrote {faces.write(args.write_unframed)}")
        return
    if args.data is None:
        parser.error("give the training folder")
    if args.ensemble > 1 and (not args.regress_only or args.reader != "recipe"):
        parser.error("--ensemble builds more of the recipe's readings: only with --regress-only and --reader recipe")
    if args.colour_gradient and args.colour_around_warp:
        parser.error("--colour-gradient and --colour-around-warp each rebuild the output: use one")
    if args.grey_change and not args.colour_around_warp:
        parser.error("--grey-change is a form of --colour-around-warp: give both")
    if args.reader == "denoised" and not args.regress_only:
        parser.error(
            "--reader denoised trains its denoiser in --regress-only only (in a GAN the critic would train it)"
        )
    if args.flow_grid:
        coarse_flow(args.flow_grid)
    if args.colour_gradient:
        colour_gradient(args.colour_gradient)
    generator, critic, config, extra, generator_terms = build(args)
    faces, images, aus = held_out(style)
    with tempfile.TemporaryDirectory() as scratch:
        data = AUDataset(
            args.data, image_size=64, uint8_images=True, decoded_cache=Path(scratch) / "cache", flip=args.flip
        )
        if args.regress_only:
            regress_only(args, critic, data, faces, images, aus)
            return
        wrap = None
        if args.register is not None or args.register_oracle:
            import face_registration  # the benchmark beside this one

            face_registration.MODE = args.register_mode
        if args.register is not None:  # trained on registered faces: measured on faces in their own framing
            template, cache = torch.load(args.register), {}
            wrap = lambda g: face_registration.Registered(g, template, cache)  # noqa: E731
        if args.register_oracle:  # the held-out faces' true framing undone (its lookup table built once)
            oracle = face_registration.OracleRegistered(nn.Identity(), faces)

            def wrap(generator: nn.Module) -> nn.Module:
                oracle.generator = generator
                return oracle

        measure = Measure(args.eval_every, faces, images, aus, args.grid, wrap)
        trainer = Trainer(generator=generator, critic=critic, config=config, output_dir=Path(scratch) / "run",
                          callbacks=[measure], progress=False, critic_losses=extra,
                          generator_losses=generator_terms)  # fmt: skip
        measure.measure(trainer)
        trainer.fit(data)


if __name__ == "__main__":
    main()
