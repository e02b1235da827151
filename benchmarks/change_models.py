"""Unpaired models of the expression change, screened against the true change on held-out faces: could a signal
other than the critic's AU reading tell the generator which pixels an expression moves?

Both models learn from the training folder alone (one face per identity, no pairs), and both predict, for a
held-out face ``x`` with AUs ``s`` asked for another face's AUs ``t``, a change ``Δ``. Printed: the cosine between
``Δ`` and the true change ``y − x`` to the renderer's true picture (the direction the paired bound learns from; the
critic's reading scores 0.38 on the tuned faces and 0.20 on the check-only ones,
docs/fidelity-experiments.md), and the true ratio of ``x + αΔ`` (L1 to the true picture over the unchanged
input's), on 500 held-out identities of another seed:

* ``linear``: each pixel regressed on the AUs over the training faces (ridge, with an intercept), ``Δ = B(t − s)``:
  the average change an AU makes at each pixel, the same for every face.
* ``fader``: an AU-conditioned autoencoder in the manner of Fader networks (Lample et al., NeurIPS 2017): an
  encoder to an 8×8 code from which a latent critic is trained to read the AUs and the encoder to hide them, and a
  decoder that reconstructs the face from the code and its AUs; ``Δ = D(E(x), t) − D(E(x), s)``, a change made
  for this face (its position, palette and features) from reconstruction alone.

    python benchmarks/change_models.py data_alternate --style alternate --model linear
    python benchmarks/change_models.py data_alternate --style alternate --model fader --steps 1500
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from fidelity_steps import held_out  # this folder's harness: the same held-out faces as its tables
from torch import Tensor, nn

from ganimation_lib.data import AUDataset, as_float_faces
from ganimation_lib.evaluation.metrics import derangement
from ganimation_lib.training.validation import truth_for


def held_out_pairs(style: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The harness's held-out faces ``x`` and AUs ``s`` (`fidelity_steps.held_out`), other faces' AUs ``t`` and
    the true pictures ``y``."""
    faces, images, aus = held_out(style)
    x, s = images.float(), aus.float()
    t = s[derangement(len(s), 0)]
    truth = truth_for(faces)
    assert truth is not None
    return x, s, t, truth(list(range(len(s))), t).float()


def report(step: int, delta: Tensor, x: Tensor, y: Tensor, **extra: float) -> None:
    """The cosine of ``delta`` with the true change and the true ratio of ``x + α·delta``."""
    cosine = F.cosine_similarity(delta.flatten(1), (y - x).flatten(1), eps=1e-12).mean()
    base = (x - y).abs().mean()
    ratios = {
        str(a): round(float(((x + a * delta).clamp(-1, 1) - y).abs().mean() / base), 4) for a in (0.1, 0.25, 0.5, 1.0)
    }
    row = {"step": step, "cosine": round(float(cosine), 4), "true_ratio_at_alpha": ratios}
    print(json.dumps({**row, **{k: round(v, 4) for k, v in extra.items()}}), flush=True)


def linear(data: AUDataset, x: Tensor, s: Tensor, t: Tensor, y: Tensor, ridge: float) -> None:
    """Fit pixels = a·B + c by ridge regression over the training faces; ``Δ = (t − s)·B``."""
    images = torch.stack([as_float_faces(data[i].image).float() for i in range(len(data))]).flatten(1)
    aus = torch.stack([data[i].aus for i in range(len(data))]).float()
    design = torch.cat([aus, torch.ones(len(aus), 1)], 1)
    gram = design.T @ design + ridge * torch.eye(design.shape[1])
    coefficients = torch.linalg.solve(gram, design.T @ images)
    explained = 1 - (images - design @ coefficients).var(0).sum() / images.var(0).sum()
    report(0, ((t - s) @ coefficients[:-1]).view_as(x), x, y, pixel_variance_explained=float(explained))


def unit(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class Up(nn.Module):
    """Upsample ×2, then a 3×3 convolution of the features and the AUs tiled as channels."""

    def __init__(self, cin: int, cout: int, num_aus: int) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(cin + num_aus, cout, 3, 1, 1), nn.BatchNorm2d(cout)

    def forward(self, h: Tensor, aus: Tensor) -> Tensor:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return F.relu(self.norm(self.conv(tiled(h, aus))))


def tiled(h: Tensor, aus: Tensor) -> Tensor:
    return torch.cat([h, aus[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)


class Fader(nn.Module):
    """Encoder (64 px → 8×8×``code``, tanh), decoder from the code and the AUs, latent AU critic."""

    def __init__(self, num_aus: int, width: int = 32, code: int = 16) -> None:
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            unit(3, w), unit(w, 2 * w), unit(2 * w, 4 * w), nn.Conv2d(4 * w, code, 1), nn.Tanh()
        )
        self.start = nn.Conv2d(code + num_aus, 4 * w, 3, 1, 1)
        self.ups = nn.ModuleList([Up(4 * w, 2 * w, num_aus), Up(2 * w, w, num_aus), Up(w, w, num_aus)])
        self.out = nn.Conv2d(w + num_aus, 3, 3, 1, 1)
        self.latent = nn.Sequential(nn.Conv2d(code, 64, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 64, 4, 2, 1),
                                    nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64 * 16, num_aus))  # fmt: skip

    def decode(self, code: Tensor, aus: Tensor) -> Tensor:
        aus = aus * 5  # OpenFace's 0-5 scale: inputs of order one
        h = F.relu(self.start(tiled(code, aus)))
        for up in self.ups:
            h = up(h, aus)
        return torch.tanh(self.out(tiled(h, aus)))


def fader(args: argparse.Namespace, data: AUDataset, x: Tensor, s: Tensor, t: Tensor, y: Tensor) -> None:
    """Reconstruction (L1) with the code's AUs hidden from a latent critic (the encoder pushes its reading towards
    other faces' AUs, weight ramped to ``--hide`` over ``--ramp`` steps)."""
    torch.manual_seed(args.seed)
    model = Fader(s.shape[1])
    autoencoder = [p for name, p in model.named_parameters() if not name.startswith("latent.")]
    optimiser = torch.optim.Adam(autoencoder, lr=1e-3, betas=(0.5, 0.999))
    latent_optimiser = torch.optim.Adam(model.latent.parameters(), lr=1e-3, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, drop_last=True)
    step, start = 0, time.perf_counter()
    while step < args.steps:
        for batch in loader:
            images, aus = as_float_faces(batch.image).float(), batch.aus.float()
            code = model.encoder(images)
            latent_loss = F.mse_loss(model.latent(code.detach()), aus)
            latent_optimiser.zero_grad()
            latent_loss.backward()
            latent_optimiser.step()
            hide = args.hide * min(1.0, (step + 1) / args.ramp)
            reconstruction = (model.decode(code, aus) - images).abs().mean()
            hidden = F.mse_loss(model.latent(code), aus[torch.randperm(len(aus))])
            optimiser.zero_grad()
            (reconstruction + hide * hidden).backward()
            optimiser.step()
            step += 1
            if step % args.eval_every == 0:
                model.eval()
                with torch.no_grad():
                    code = model.encoder(x)
                    own = model.decode(code, s)
                    delta = model.decode(code, t) - own
                    extra = {
                        "reconstruction": float((own - x).abs().mean()),
                        "latent_au_error": float((model.latent(code) - s).abs().mean()),
                        "seconds": time.perf_counter() - start,
                    }
                report(step, delta, x, y, **extra)
                model.train()
            if step >= args.steps:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="a folder written by 'ganimation synthetic' (64 px)")
    parser.add_argument("--style", default="alternate", choices=("default", "alternate"))
    parser.add_argument("--model", default="linear", choices=("linear", "fader"))
    parser.add_argument("--ridge", type=float, default=1.0, help="linear: the ridge of the regression")
    parser.add_argument("--steps", type=int, default=1500, help="fader: training steps (batch 32)")
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--hide", type=float, default=1.0, help="fader: weight of hiding the AUs from the code")
    parser.add_argument("--ramp", type=int, default=1000, help="fader: steps over which that weight ramps up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = AUDataset(args.data, image_size=64)
    x, s, t, y = held_out_pairs(args.style)
    if args.model == "linear":
        linear(data, x, s, t, y, args.ridge)
    else:
        fader(args, data, x, s, t, y)


if __name__ == "__main__":
    main()
