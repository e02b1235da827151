"""Unpaired models of the expression change, screened against the true change on held-out faces: could a signal
other than the critic's AU reading tell the generator which pixels an expression moves?

The models learn from the training folder alone (one face per identity, no pairs), and each predicts, for a
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
* ``denoiser``: a U-Net denoiser conditioned on each face's own AUs and the noise level (denoising score matching,
  EDM preconditioning), ``Δ_σ = E_ε[D(x + σε, t, σ) − D(x + σε, s, σ)]``, printed per noise level σ and summed
  over them (σ = −1 in the output).

    python benchmarks/change_models.py data_alternate --style alternate --model linear
    python benchmarks/change_models.py data_alternate --style alternate --model fader --steps 1500
    python benchmarks/change_models.py data_alternate --style alternate --model denoiser --steps 1000 --eval-every 500
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


class FiLMBlock(nn.Module):
    """3×3 convolution, GroupNorm modulated by the conditioning (the AUs and the noise level), SiLU."""

    def __init__(self, cin: int, cout: int, cond: int) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(cin, cout, 3, 1, 1), nn.GroupNorm(8, cout, affine=False)
        self.film = nn.Linear(cond, 2 * cout)

    def forward(self, h: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.film(cond).chunk(2, dim=1)
        return F.silu(self.norm(self.conv(h)) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])


class ConditionalDenoiser(nn.Module):
    """A small U-Net (64 → 8 px and back, skips at every level) that denoises a face given its AUs and the noise
    level, with the preconditioning of Karras et al. (NeurIPS 2022, EDM): ``D(x + σε, a, σ) ≈ E[x | x + σε, a]``."""

    sigma_data = 0.5

    def __init__(self, num_aus: int, width: int = 32) -> None:
        super().__init__()
        w, cond = width, num_aus + 1
        self.enc = nn.ModuleList([FiLMBlock(3, w, cond), FiLMBlock(w, 2 * w, cond), FiLMBlock(2 * w, 4 * w, cond),
                                  FiLMBlock(4 * w, 4 * w, cond)])  # fmt: skip
        self.mid = FiLMBlock(4 * w, 4 * w, cond)
        self.dec = nn.ModuleList([FiLMBlock(8 * w, 4 * w, cond), FiLMBlock(8 * w, 2 * w, cond),
                                  FiLMBlock(4 * w, w, cond), FiLMBlock(2 * w, w, cond)])  # fmt: skip
        self.out = nn.Conv2d(w, 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, noisy: Tensor, aus: Tensor, sigma: Tensor) -> Tensor:
        sd = self.sigma_data
        s = sigma.view(-1, 1, 1, 1)
        c_skip, c_out, c_in = sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt(), 1 / (s**2 + sd**2).sqrt()
        cond = torch.cat([aus * 5, sigma.log().view(-1, 1)], 1)  # OpenFace's 0-5 scale: inputs of order one
        h, skips = c_in * noisy, []
        for i, block in enumerate(self.enc):
            h = block(h if i == 0 else F.avg_pool2d(h, 2), cond)
            skips.append(h)
        h = self.mid(h, cond)
        for i, block in enumerate(self.dec):
            h = block(torch.cat([h, skips[-1 - i]], 1), cond)
            if i < len(self.dec) - 1:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return c_skip * noisy + c_out * self.out(h)


def denoiser(args: argparse.Namespace, data: AUDataset, x: Tensor, s: Tensor, t: Tensor, y: Tensor) -> None:
    """Denoising score matching conditioned on each face's own AUs (σ log-normal, EDM's weighting); the change for
    a face is the difference of its conditional denoisings, ``Δ_σ = E_ε[D(x + σε, t, σ) − D(x + σε, s, σ)]``,
    the expected change of the clean face when its AUs change from ``s`` to ``t``, given what survives the noise
    of its identity, position and palette (the direction of delta denoising score, Hertz et al., ICCV 2023)."""
    torch.manual_seed(args.seed)
    model = ConditionalDenoiser(s.shape[1], args.width)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, drop_last=True)
    sd = model.sigma_data
    step, start = 0, time.perf_counter()
    while step < args.steps:
        for batch in loader:
            images, aus = as_float_faces(batch.image).float(), batch.aus.float()
            sigma = (torch.randn(len(images)) * 1.2 - 1.2).exp()
            noisy = images + sigma.view(-1, 1, 1, 1) * torch.randn_like(images)
            weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
            loss = (weight.view(-1, 1, 1, 1) * (model(noisy, aus, sigma) - images) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if step % args.eval_every == 0:
                seconds = time.perf_counter() - start
                evaluate_denoiser(model, step, x, s, t, y, loss=float(loss.detach()), seconds=seconds)
            if step >= args.steps:
                return


@torch.no_grad()
def evaluate_denoiser(model: ConditionalDenoiser, step: int, x: Tensor, s: Tensor, t: Tensor, y: Tensor,
                      **extra: float) -> None:  # fmt: skip
    """One report per noise level (and for the sum over them), each averaged over 4 noise draws."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    total = torch.zeros_like(x)
    for level in (0.05, 0.1, 0.2, 0.4, 0.8):
        delta = torch.zeros_like(x)
        for _ in range(4):
            noisy = x + level * torch.randn(x.shape, generator=generator)
            sigma = torch.full((len(x),), level)
            for i in range(0, len(x), 100):
                part = slice(i, i + 100)
                delta[part] += model(noisy[part], t[part], sigma[part]) - model(noisy[part], s[part], sigma[part])
        delta /= 4
        total += delta
        report(step, delta, x, y, sigma=level, **extra)
    report(step, total, x, y, sigma=-1.0, **extra)
    model.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="a folder written by 'ganimation synthetic' (64 px)")
    parser.add_argument("--style", default="alternate", choices=("default", "alternate"))
    parser.add_argument("--model", default="linear", choices=("linear", "fader", "denoiser"))
    parser.add_argument("--ridge", type=float, default=1.0, help="linear: the ridge of the regression")
    parser.add_argument("--steps", type=int, default=1500, help="fader, denoiser: training steps (batch 32)")
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--hide", type=float, default=1.0, help="fader: weight of hiding the AUs from the code")
    parser.add_argument("--ramp", type=int, default=1000, help="fader: steps over which that weight ramps up")
    parser.add_argument("--width", type=int, default=32, help="denoiser: base channels of the U-Net")
    parser.add_argument("--lr", type=float, default=1e-3, help="denoiser: Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = AUDataset(args.data, image_size=64)
    x, s, t, y = held_out_pairs(args.style)
    if args.model == "linear":
        linear(data, x, s, t, y, args.ridge)
    elif args.model == "fader":
        fader(args, data, x, s, t, y)
    else:
        denoiser(args, data, x, s, t, y)


if __name__ == "__main__":
    main()
