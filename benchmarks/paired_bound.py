"""The paired bound: the fast recipe's 64 px generator trained with the true pictures themselves.

``SyntheticFaces`` can render any identity with any AUs, so the generator can be trained with the L1 between
``G(x, y)`` and the true picture of the same face with the AUs ``y`` — a signal no real dataset offers. How
fast that learns bounds what the adversarial recipe can reach, and separates what is hard for the generator
from what is hard for the signal it learns from (docs/fidelity-experiments.md, "Where the check-only faces are
hard").
Prints the true ratio (L1 to the true pictures over the unchanged inputs') on 300 held-out faces every 250
steps; one thread, Adam 1e-3, batch 16.

    python benchmarks/paired_bound.py --style alternate
    python benchmarks/paired_bound.py --style alternate --keep-framing shift      # only the framing's shift
    python benchmarks/paired_bound.py --style alternate --skips add               # encoder-to-decoder skips
    python benchmarks/paired_bound.py --style alternate --align                   # a spatial transformer
    python benchmarks/paired_bound.py --style alternate --align --congeal 0.1     # + congealing its frame
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ganimation_lib.data.face_renderer as face_renderer
from ganimation_lib import SyntheticFaces
from ganimation_lib.models.fast_convs import conv_image_and_tiled_aus, fused_heads
from ganimation_lib.models.generator import Generator, GeneratorConfig, GeneratorOutput
from ganimation_lib.models.warp import warp_images
from ganimation_lib.training.recipes import recipe_configs

NEUTRAL_FRAMING = {"scale": 1.0, "shift_x": 0.0, "shift_y": 0.0, "rotation": 0.0}


def keep_framing(parts: set[str]) -> None:
    """From now on, alternate-style faces keep only these parts of their framing (scale, shift, rotation)."""
    original = face_renderer.sample_look

    def partly_framed(style, identity_seed, identity):  # type: ignore[no-untyped-def]
        look = original(style, identity_seed, identity)
        if look.framing is None:
            return look
        reset = {k: v for k, v in NEUTRAL_FRAMING.items() if k.split("_")[0] not in parts}
        return dataclasses.replace(look, framing=dataclasses.replace(look.framing, **reset))

    face_renderer.sample_look = partly_framed


class VariantGenerator(Generator):
    """The recipe's generator (with ``au_modulation``, ``warp_range``, ``draw_downsample``), optionally with
    zero-initialised skips from each encoder level to the decoder stage at its resolution, and optionally with
    the warp's gradient also taken through a box-blurred copy of the face (the same output, a longer reach)."""

    def __init__(self, config: GeneratorConfig, skips: str | None = None, blur_gradient: int = 0) -> None:
        super().__init__(config)
        self.blur_gradient = blur_gradient
        d, n = config.conv_dim, config.num_downsamplings
        kernel = 1 if skips == "add" else 3
        channels = [d << (n - 1 - i) for i in range(n)]
        self.skips = nn.ModuleList(nn.Conv2d(c, c, kernel, padding=kernel // 2) for c in channels) if skips else None
        for skip in self.skips or []:
            nn.init.zeros_(skip.weight)
            nn.init.zeros_(skip.bias)

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        assert self.modulation is not None and self.flow_head is not None, "needs the fast recipe's generator"
        full, scale = images, self.config.draw_downsample
        if scale > 1:
            images = F.interpolate(full, scale_factor=1 / scale, mode="bilinear", antialias=True, align_corners=False)
        first = self.encoder[0]
        features = first.act(first.norm(conv_image_and_tiled_aus(images, aus, first.conv)))
        levels = [features]
        for layer in self.encoder[1:]:
            features = layer(features)
            levels.append(features)
        n, blocks = self.config.num_downsamplings, len(self.bottleneck)
        flow_features = features
        for depth, (stage, film) in enumerate(zip([*self.bottleneck, *self.decoder], self.modulation, strict=True)):
            gamma, beta = film(aus).chunk(2, dim=1)
            features = stage(features) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
            if depth >= blocks and self.skips is not None:
                features = features + self.skips[depth - blocks](levels[n - 1 - (depth - blocks)])
            if depth == blocks:
                flow_features = features
        color_logits, attention_logits = fused_heads(features, self.color_head, self.attention_head)
        size = (full.shape[-2], full.shape[-1])
        color = F.interpolate(torch.tanh(color_logits), size=size, mode="bilinear", align_corners=False)
        attention = F.interpolate(torch.sigmoid(attention_logits), size=size, mode="bilinear", align_corners=False)
        flow = self.flow_head(flow_features, size=size)
        warped = warp_images(full, flow)
        if self.blur_gradient:
            k = self.blur_gradient
            blurred = warp_images(F.avg_pool2d(F.pad(full, [k // 2] * 4, mode="replicate"), k, 1), flow)
            warped = warped + blurred - blurred.detach()
        image = attention * warped + (1 - attention) * color
        return GeneratorOutput(image=image, color=color, attention=attention, flow=flow)


class AlignedGenerator(nn.Module):
    """The recipe's generator drawing in a frame of its own: a small localisation network (zero-initialised, so
    it starts as the identity) reads a similarity transform (scale, rotation, shift) from the face, the face is
    resampled into that frame, the generator draws there, and its attention, colour and flow are mapped back
    (the flow's vectors turned and scaled with it) and composed with the input as usual: a spatial transformer
    (Jaderberg et al., 2015), so that a face moved, scaled or turned can be drawn by a generator that has
    learnt faces where they usually are."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.generator = Generator(config)
        slope = 0.2
        self.locate = nn.Sequential(
            nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(16, 32, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(32, 32, 4, 2, 1), nn.LeakyReLU(slope),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 4),
        )  # fmt: skip
        last = self.locate[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.template: Tensor | None = None

    def similarity(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The 2×3 affine from frame to image coordinates, and its inverse."""
        small = F.interpolate(images, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        # Bounded to a little more than the framings a face crop has (scale ×0.78-1.28, ±14°, shift ±10 %):
        # unbounded, the frame runs away in the first steps, while the colour map is still noise.
        bounds = torch.tensor([0.25, 0.25, 0.2, 0.2], device=images.device)
        log_scale, angle, tx, ty = torch.tanh(self.locate(small)).mul(bounds).unbind(1)
        scale = log_scale.exp()
        cos, sin = scale * angle.cos(), scale * angle.sin()
        linear = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shift = torch.stack([tx, ty], 1)[:, :, None]
        inverse_linear = torch.linalg.inv(linear)
        forward = torch.cat([linear, shift], 2)
        inverse = torch.cat([inverse_linear, -inverse_linear @ shift], 2)
        return forward, inverse

    def congealing_loss(self, images: Tensor, forward: Tensor) -> Tensor:
        """How far the faces, resampled into their frames (``forward``, from `similarity`), are from the running
        mean of the framed faces (grey, standardised per face, at 32 px): congealing (Learned-Miller, 2006), which
        moves each frame towards where the data's faces usually are, with no labels. Trains only the frame."""
        small = F.interpolate(images, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        grid = F.affine_grid(forward, [small.shape[0], 1, 32, 32], align_corners=False)
        framed = F.grid_sample(small.mean(1, keepdim=True), grid, padding_mode="border", align_corners=False)
        framed = (framed - framed.mean((2, 3), keepdim=True)) / (framed.std((2, 3), keepdim=True) + 1e-3)
        batch_mean = framed.mean(0, keepdim=True).detach()
        self.template = batch_mean if self.template is None else 0.99 * self.template + 0.01 * batch_mean
        return (framed - self.template).abs().mean()

    def forward(self, images: Tensor, aus: Tensor, frame: tuple[Tensor, Tensor] | None = None) -> GeneratorOutput:
        """Draw ``images`` with ``aus``; ``frame`` is `similarity`'s result when the caller already has it."""
        forward, inverse = self.similarity(images) if frame is None else frame
        size = list(images.shape)
        to_frame = F.affine_grid(forward, size, align_corners=False)
        framed = F.grid_sample(images, to_frame, mode="bilinear", padding_mode="border", align_corners=False)
        drawn = self.generator(framed, aus)
        back = F.affine_grid(inverse, size, align_corners=False)

        def unframe(maps: Tensor) -> Tensor:
            return F.grid_sample(maps, back, mode="bilinear", padding_mode="border", align_corners=False)

        attention, color = unframe(drawn.attention), unframe(drawn.color)
        assert drawn.flow is not None
        flow = torch.einsum("bij,bjhw->bihw", forward[:, :, :2], unframe(drawn.flow))
        image = attention * warp_images(images, flow) + (1 - attention) * color
        return GeneratorOutput(image=image, color=color, attention=attention, flow=flow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="alternate", choices=("default", "alternate"))
    parser.add_argument("--keep-framing", default=None, help="comma list of scale, shift, rotation ('' = none)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--skips", default=None, choices=("add", "conv"), help="1x1 ('add') or 3x3 ('conv') skips")
    parser.add_argument("--blur-gradient", type=int, default=0, help="box size of the blurred copy (0: none)")
    parser.add_argument("--align", action="store_true", help="draw in a frame read by a spatial transformer")
    parser.add_argument("--align-lr-scale", type=float, default=0.1, help="the frame's learning rate, × 1e-3")
    parser.add_argument("--congeal", type=float, default=0.0, help="weight of the frame's congealing loss")
    args = parser.parse_args()
    if args.congeal and not args.align:
        parser.error("--congeal trains the frame of --align: pass both")
    if args.align and (args.skips or args.blur_gradient):
        parser.error("--align draws with the recipe's plain generator: leave out --skips and --blur-gradient")
    torch.set_num_threads(1)
    if args.keep_framing is not None:
        keep_framing({part for part in args.keep_framing.split(",") if part})
    config, _, _ = recipe_configs("fast", 64)
    torch.manual_seed(0)
    plain = args.skips is None and not args.blur_gradient
    generator: nn.Module
    if args.align:  # its generator is built first, so it starts from the same weights as the plain run's
        generator = AlignedGenerator(config)
    else:
        generator = Generator(config) if plain else VariantGenerator(config, args.skips, args.blur_gradient)
    groups: list[dict[str, object]] = [{"params": list(generator.parameters())}]
    if isinstance(generator, AlignedGenerator):  # the frame learns slower than what is drawn in it
        groups = [
            {"params": list(generator.generator.parameters())},
            {"params": list(generator.locate.parameters()), "lr": 1e-3 * args.align_lr_scale},
        ]
    optimiser = torch.optim.Adam(groups, lr=1e-3, betas=(0.5, 0.999))
    look = {"image_size": 64, "style": args.style, "au_mix": "presets", "items_per_identity": 1}
    train = SyntheticFaces(num_identities=4500, seed=0, cache_size=5000, **look)  # type: ignore[arg-type]
    held = SyntheticFaces(num_identities=300, seed=777, **look)  # type: ignore[arg-type]
    ids = list(range(300))
    targets = held.aus_table[[(i + 7) % 300 for i in ids]]
    inputs, truths = held.render_batch(ids, held.aus_table), held.render_batch(ids, targets)
    unchanged = float((inputs - truths).abs().mean())
    table, rng, start = train.aus_table, torch.Generator().manual_seed(0), time.perf_counter()
    for step in range(1, args.steps + 1):
        faces = torch.randint(0, 4500, (16,), generator=rng)
        wanted = table[torch.randint(0, 4500, (16,), generator=rng)]
        x, y = train.render_batch(faces.tolist(), table[faces]), train.render_batch(faces.tolist(), wanted)
        if isinstance(generator, AlignedGenerator):  # the frame read once, for the drawing and the congealing
            frame = generator.similarity(x)
            loss = (generator(x, wanted, frame).image - y).abs().mean()
            if args.congeal:
                loss = loss + args.congeal * generator.congealing_loss(x, frame[0])
        else:
            loss = (generator(x, wanted).image - y).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 250 == 0:
            generator.eval()
            with torch.no_grad():
                out = torch.cat([generator(inputs[i : i + 50], targets[i : i + 50]).image for i in range(0, 300, 50)])
            generator.train()
            ratio = float((out - truths).abs().mean()) / unchanged
            print(
                json.dumps({"step": step, "true_ratio": round(ratio, 4), "seconds": round(time.perf_counter() - start)})
            )


if __name__ == "__main__":
    main()
