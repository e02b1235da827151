"""Registering faces to their mean with a similarity transform each: a screen of what framing costs the recipe.

The check-only faces (``style="alternate"``) are each moved by a similarity transform (scale, rotation, shift), and
that framing is what keeps the fast recipe from drawing on them (docs/fidelity-experiments.md, "Framing is what is
left"). This registers every face to the mean of the registered faces (congealing with a mean template, Learned-Miller
2006, optimised per face rather than by a network): the similarity transform that maximises the normalised
cross-correlation of the blurred gradient magnitude of its grey image, inside a centred Gaussian window, with the
template's, coarse to fine (blur 3, 2, 1.5, 1, 1 px); the template is the mean of the registered faces after each
round. Per face it is an optimisation of four numbers, not a learnt network (a spatial transformer trained from the
paired loss, or by congealing, did not find the framing: same page, "Where the check-only faces are hard").

``python benchmarks/face_registration.py DATA OUT`` writes DATA's faces registered to OUT (``imgs/`` and a copy of
``aus.csv``) and the template to ``OUT/template.pt``; ``fidelity_steps.py OUT --register OUT/template.pt`` then trains
on the registered faces and measures on the held-out faces in their own framing (each registered to the template,
the generator's change mapped back: ``Registered``). ``--check`` prints how well the transforms found on 500 held-out
check-only faces agree with the renderer's framing; ``--rounds 3,1.5,1 --steps 50 --lr 0.03`` registers as well in a
fifth of the time. ``--oracle`` undoes the renderer's own framing instead (the folder of ``ganimation synthetic
--style alternate`` at seed 0), and ``fidelity_steps.py OUT --register-oracle`` measures through the held-out faces'
true framing: what registration could reach at best.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ganimation_lib import SyntheticFaces
from ganimation_lib.data import as_float_faces
from ganimation_lib.models.generator import GeneratorOutput
from ganimation_lib.models.registration import edge_map, invert_maps, similarity_maps, weighted_correlation

ROUNDS = (3.0, 2.0, 1.5, 1.0, 1.0)  # the blur of each round, coarse to fine
MODE = "bilinear"  # how faces are resampled into the template's frame and changes back (``--mode``)


def resample(images: Tensor, theta: Tensor, padding: str = "border") -> Tensor:
    """``images`` sampled at ``theta``'s map of each output pixel (``MODE``: bilinear or bicubic)."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode=MODE, padding_mode=padding, align_corners=False)
    return moved if MODE == "bilinear" else moved.clamp(-1, 1)  # bicubic overshoots at edges


def window(size: int) -> Tensor:
    """A centred Gaussian weight (sigma 0.45 of the half side), a little below the centre, where faces are."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    return torch.exp(-(xs**2 + (ys - 0.06) ** 2) / (2 * 0.45**2))[None, None]


def register(
    images: Tensor,
    template: Tensor | None = None,
    steps: int = 150,
    batch: int = 500,
    rounds: tuple[float, ...] = ROUNDS,
    lr: float = 0.01,
) -> tuple[Tensor, Tensor]:
    """Each face's similarity transform (B, 4) to the template (one (1, 1, H, W) per round of ``rounds``);
    without ``template`` the template of each round is the mean of the faces registered so far (congealing).
    Returns the transforms and the templates used."""
    x = as_float_faces(images).float()
    weight = window(x.shape[-1])
    params = torch.zeros(x.shape[0], 4)
    templates = []
    for index, sigma in enumerate(rounds):
        features = edge_map(x, sigma)
        if template is None:
            with torch.no_grad():
                moved = [
                    resample(features[i : i + batch], similarity_maps(params[i : i + batch]))
                    for i in range(0, len(x), batch)
                ]
                target = torch.cat(moved).mean(0, keepdim=True)
        else:
            target = template[index : index + 1]
        templates.append(target)
        for start in range(0, len(x), batch):
            chunk = params[start : start + batch].clone().requires_grad_(True)
            optimiser = torch.optim.Adam([chunk], lr=lr)
            for _ in range(steps):
                loss = -weighted_correlation(
                    resample(features[start : start + batch], similarity_maps(chunk)), target, weight
                ).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    chunk[:, :2].clamp_(-0.4, 0.4)
                    chunk[:, 2:].clamp_(-0.3, 0.3)
            params[start : start + batch] = chunk.detach()
        if template is None:  # the gauge: the mean transform is the identity, the mean face stays put
            params = params - params.mean(0, keepdim=True)
    return params, torch.cat(templates)


class Registered(nn.Module):
    """A generator that draws on faces registered to ``template`` and maps its change back: the output is the input
    plus the change ``G(R(x), t) − R(x)`` moved back into the face's own framing (zero outside), so pixels the
    generator keeps are returned as they are, unresampled. Transforms are cached per batch of images."""

    def __init__(self, generator: nn.Module, template: Tensor, cache: dict[str, Tensor] | None = None) -> None:
        super().__init__()
        self.generator = generator
        self.register_buffer("template", template)
        self.cache: dict[str, Tensor] = {} if cache is None else cache

    def transforms(self, images: Tensor) -> Tensor:
        """The (B, 2, 3) maps from the template's frame into each face's."""
        key = hashlib.sha1(images.detach().float().contiguous().numpy().tobytes()).hexdigest()
        if key not in self.cache:
            with torch.enable_grad():  # the registration optimises; evaluate() runs without gradients
                self.cache[key] = similarity_maps(register(images.detach(), self.template)[0])
        return self.cache[key]

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        theta = self.transforms(images)
        registered = resample(images, theta)
        out = self.generator(registered, aus)
        back = invert_maps(theta)
        change = resample(out.image - registered, back, padding="zeros")
        attention = 1 - resample(1 - out.attention, back, padding="zeros")
        color = resample(out.color, back)
        return GeneratorOutput(image=(images + change).clamp(-1, 1), color=color, attention=attention)


class OracleRegistered(Registered):
    """``Registered`` with each held-out face's true framing undone (the renderer's transform, not a registration's):
    what registration could reach at best. Faces are known by their pixels; an image that is not one of them is the
    generator's own output for the batch before (``evaluate`` passes ``G(x, t)`` straight after ``x``), which keeps
    that batch's framing."""

    def __init__(self, generator: nn.Module, faces: SyntheticFaces) -> None:
        super().__init__(generator, torch.zeros(1, 1, 1, 1))
        size = faces.image_size
        for i in range(len(faces)):
            image = as_float_faces(faces[i].image[None]).float()
            key = hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest()
            self.cache[key] = framing_theta(faces.look(faces.identity_of(i)).framing, size)[None]
        self.last: Tensor | None = None

    def transforms(self, images: Tensor) -> Tensor:
        rows = [hashlib.sha1(im[None].float().contiguous().numpy().tobytes()).hexdigest() for im in images]
        if all(row in self.cache for row in rows):
            self.last = torch.cat([self.cache[row] for row in rows])
        assert self.last is not None and len(self.last) == len(images), "a batch of unknown faces"
        return self.last


def framing_theta(framing: object, size: int) -> Tensor:
    """The (2, 3) map (normalised coordinates) from the unframed face's frame into the framed image: the renderer's
    framing, taken from PIL's affine coefficients of ``Framing.inverse_affine`` (framed pixel -> unframed pixel)."""
    if framing is None:
        return torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    a, b, c, d, e, f = framing.inverse_affine(size)  # type: ignore[attr-defined]
    forward = torch.linalg.inv(torch.tensor([[a, b, c], [d, e, f], [0.0, 0, 1]], dtype=torch.float64))
    matrix, shift = forward[:2, :2], forward[:2, 2]
    ones = torch.ones(2, dtype=torch.float64)
    return torch.cat([matrix, (matrix @ ones + 2 * shift / size - ones)[:, None]], 1).float()


def write_registered(data: Path, out: Path, oracle: bool = False, **settings: object) -> None:
    """DATA's faces registered to their mean, written to OUT (``imgs/``, ``aus.csv``, ``template.pt``)."""
    names = sorted(p.name for p in (data / "imgs").iterdir())
    images = torch.stack([torch.from_numpy(np.array(Image.open(data / "imgs" / n).convert("RGB"))) for n in names])
    x = images.permute(0, 3, 1, 2).float() / 127.5 - 1
    if oracle:  # the renderer's own framing undone (the folder of `ganimation synthetic --style alternate`, seed 0)
        faces = SyntheticFaces(num_identities=len(names), items_per_identity=1, image_size=x.shape[-1],
                               style="alternate")  # fmt: skip
        identities = [int(name.rsplit("_id", 1)[1].split(".")[0]) for name in names]
        thetas = torch.stack([framing_theta(faces.look(i).framing, x.shape[-1]) for i in identities])
        templates = torch.zeros(1, 1, 1, 1)
    else:
        params, templates = register(x, **settings)  # type: ignore[arg-type]
        thetas = similarity_maps(params)
    (out / "imgs").mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for start in range(0, len(x), 500):
            moved = resample(x[start : start + 500], thetas[start : start + 500])
            pixels = ((moved + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
            for name, picture in zip(names[start : start + 500], pixels, strict=True):
                Image.fromarray(picture).save(out / "imgs" / name)
    shutil.copy(data / "aus.csv", out / "aus.csv")
    torch.save(templates, out / "template.pt")
    print(f"wrote {len(names)} registered faces and the template to {out}")


def check(template: Tensor | None, **settings: object) -> None:
    """How well the transforms found on 500 held-out check-only faces agree with the renderer's framing: the
    correlation of each parameter with the truth and the truth's spread left unexplained (residual standard
    deviation after a linear fit; rotation in degrees, shifts in fractions of the side)."""
    faces = SyntheticFaces(num_identities=500, items_per_identity=1, image_size=64, seed=777, style="alternate",
                           au_mix="presets")  # fmt: skip
    images = torch.stack([faces[i].image for i in range(500)])
    framing = [faces.look(faces.identity_of(i)).framing for i in range(500)]
    truth = torch.tensor([[f.scale, f.rotation, f.shift_x, f.shift_y] for f in framing if f is not None])
    truth[:, 0] = truth[:, 0].log()
    start = time.perf_counter()
    params, _ = register(images, template, **settings)  # type: ignore[arg-type]
    print(f"registered 500 faces in {time.perf_counter() - start:.1f} s")
    for k, name in enumerate(("log scale", "rotation", "shift x", "shift y")):
        design = torch.stack([params[:, k], torch.ones(500)], 1)
        fit = design @ torch.linalg.lstsq(design, truth[:, k : k + 1]).solution
        r = float(torch.corrcoef(torch.stack([params[:, k], truth[:, k]]))[0, 1])
        left = float((truth[:, k] - fit[:, 0]).std())
        print(f"{name:9s}  r {r:+.3f}  spread {float(truth[:, k].std()):.4f} -> left {left:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", help="a folder written by 'ganimation synthetic'")
    parser.add_argument("out", type=Path, nargs="?", help="where to write the registered faces")
    parser.add_argument("--check", action="store_true", help="compare with the held-out faces' framing")
    parser.add_argument("--template", type=Path, default=None, help="with --check: register to this template")
    parser.add_argument("--oracle", action="store_true", help="undo the renderer's own framing instead")
    parser.add_argument("--rounds", default="3,2,1.5,1,1", help="the blur of each round (px), coarse to fine")
    parser.add_argument("--steps", type=int, default=150, help="Adam steps a round")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate")
    parser.add_argument("--mode", choices=("bilinear", "bicubic"), default="bilinear", help="the resampling")
    args = parser.parse_args()
    torch.set_num_threads(1)
    global MODE
    MODE = args.mode
    settings = {"rounds": tuple(float(v) for v in args.rounds.split(",")), "steps": args.steps, "lr": args.lr}
    if args.data is not None and args.out is not None and not args.check:
        write_registered(args.data, args.out, args.oracle, **settings)
    elif args.data is not None and not args.check:
        parser.error("give DATA and OUT, or --check")
    else:  # --check, and what `make benchmarks` runs without arguments
        check(None if args.template is None else torch.load(args.template, weights_only=True), **settings)


if __name__ == "__main__":
    main()
