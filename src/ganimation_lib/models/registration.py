"""Registering faces to a template of their own mean: one similarity transform per face, found from the pixels.

Faces framed differently from one another (moved, tilted, zoomed by a few per cent each, with no landmarks to
align them by) cost the fast recipe most of what it draws: on the check-only synthetic faces, which are framed
that way, it ends at the unchanged input's error, and on the same faces unframed at 0.80 of it
(docs/fidelity-experiments.md, "Framing is what the grey change leaves"). A
[`FaceRegistration`][ganimation_lib.models.registration.FaceRegistration] finds each face's similarity transform
(scale, rotation, shift) to a template built from the training faces, so the generator trains and draws on faces
in one framing, and [`RegisteredGenerator`][ganimation_lib.models.registered.RegisteredGenerator] maps what it
draws back into each face's own framing.

How: the template is the mean, over the training faces, of the blurred gradient magnitude of their grey image
(edges, whatever the palette), rebuilt from the registered faces after each round (congealing, Learned-Miller
2006); each face's transform maximises the normalised cross-correlation of its own edge map with the template's
inside a centred Gaussian window, by Adam on four numbers, coarse to fine (blurs of 3, 1.5 and 1 px). Held-out
faces are registered to the stored template the same way. On 500 held-out check-only faces the transforms
explain the renderer's framing with correlations of 0.998 (rotation), 0.994 and 0.93 (shifts) and 0.77 (scale).

Maps are (B, 2, 3) affine matrices in ``torch.nn.functional.affine_grid``'s normalised coordinates, from the
template's frame into each face's (what a batched ``grid_sample`` needs); the photo-level
[`SimilarityTransform`][ganimation_lib.faces.align.SimilarityTransform] is fitted to landmarks in pixels instead.

Examples:
    >>> import torch
    >>> faces = torch.zeros(4, 3, 32, 32)
    >>> faces[:, :, 10:22, 8:24] = 1.0  # the same bright block on each face
    >>> faces[1] = faces[1].roll(2, dims=-1)  # one face moved 2 px right
    >>> registration = FaceRegistration(32)
    >>> spread = registration.build_template(faces)  # how much the framing varies (FramingSpread)
    >>> maps = registration.find(faces)
    >>> float(maps[1, 0, 2] - maps[0, 0, 2]) * 16 > 1.5  # its shift, in pixels (half a side is 1)
    True
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "REGISTRATION_BLURS",
    "FaceRegistration",
    "FramingSpread",
    "edge_map",
    "invert_maps",
    "similarity_maps",
    "warp_with_maps",
    "weighted_correlation",
]

#: The blur of each round's edge maps, coarse to fine, in pixels at 64 px (scaled with the image size).
REGISTRATION_BLURS: tuple[float, ...] = (3.0, 1.5, 1.0)
_MAX_LOG_SCALE_OR_ANGLE, _MAX_SHIFT = 0.4, 0.3  # ±49 % scale, ±23°, ±15 % of the side: framing, not another face
_CACHED_BATCHES = 16


@dataclass(frozen=True)
class FramingSpread:
    """How much the framing of a set of faces varies: the standard deviations of the transforms that register
    them (rotation in degrees, shifts in fractions of the side, log-scale).

    Rotation and horizontal shift are what decide [`varies`][ganimation_lib.models.registration.FramingSpread.varies]:
    a face's own proportions and its expression (an open mouth, raised brows) move its edges up and down and
    change their extent, so the vertical shift and the scale found vary a little even on faces framed alike (the
    tuned synthetic faces: 0.6 px and 2.6 %), while rotation and horizontal shift stay at what a registration's
    own noise is (0.2°, 0.05 px at 64 px) unless the framing moves.

    Examples:
        >>> FramingSpread(rotation=0.2, shift_x=0.0008, shift_y=0.0096, log_scale=0.026).varies  # tuned faces
        False
        >>> FramingSpread(rotation=4.6, shift_x=0.023, shift_y=0.025, log_scale=0.118).varies  # check-only
        True
    """

    rotation: float
    shift_x: float
    shift_y: float
    log_scale: float

    @property
    def varies(self) -> bool:
        """Whether registering is worth its cost: a rotation spread of 1° or more, or a horizontal shift of a
        hundredth of the side (0.6 px at 64 px) or more. Faces framed alike train better unregistered (the tuned
        synthetic faces: true ratio 0.870 registered against 0.727-0.794 as they are, docs/training.md)."""
        return self.rotation >= 1.0 or self.shift_x >= 0.01

    def __str__(self) -> str:
        return (
            f"rotation {self.rotation:.2f} deg, shift {self.shift_x:.4f} x / {self.shift_y:.4f} y of the side, "
            f"log-scale {self.log_scale:.3f} (standard deviations)"
        )


def similarity_maps(params: Tensor) -> Tensor:
    """(B, 4) log-scale, angle (radians), shift x, shift y (normalised) -> (B, 2, 3) maps.

    Examples:
        >>> similarity_maps(torch.zeros(1, 4)).tolist()
        [[[1.0, -0.0, 0.0], [0.0, 1.0, 0.0]]]
    """
    scale, angle = params[:, 0].exp(), params[:, 1]
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos, -sin, params[:, 2]], 1), torch.stack([sin, cos, params[:, 3]], 1)], 1)


def invert_maps(maps: Tensor) -> Tensor:
    """The inverse of each (2, 3) map of ``maps`` (B, 2, 3): from the face's frame into the template's.

    Examples:
        >>> maps = similarity_maps(torch.tensor([[0.1, 0.2, 0.05, -0.1]]))
        >>> back = invert_maps(maps)
        >>> bool(torch.allclose(back[:, :, :2] @ maps[:, :, :2], torch.eye(2), atol=1e-6))
        True
    """
    linear_inverse = torch.linalg.inv(maps[:, :, :2])
    return torch.cat([linear_inverse, -(linear_inverse @ maps[:, :, 2:])], 2)


def warp_with_maps(images: Tensor, maps: Tensor, padding: str = "border") -> Tensor:
    """``images`` (B, C, H, W) sampled bilinearly at each output pixel's place under ``maps`` (B, 2, 3).

    With the maps [`find`][ganimation_lib.models.registration.FaceRegistration.find] returns, this moves faces into
    the template's framing; with [`invert_maps`][ganimation_lib.models.registration.invert_maps] of them, back.
    ``padding`` is ``grid_sample``'s: "border" repeats the edge, "zeros" fills with 0 (for changes and flows).
    """
    grid = F.affine_grid(maps.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def edge_map(images: Tensor, blur: float) -> Tensor:
    """The gradient magnitude of the grey image of ``images`` (B, 3, H, W), blurred by a Gaussian of ``blur``
    pixels: (B, 1, H, W), edges whatever the palette (what registration compares).

    Examples:
        >>> step = torch.zeros(1, 3, 8, 8)
        >>> step[..., 4:] = 1.0
        >>> edges = edge_map(step, blur=1.0)[0, 0, 4]
        >>> int(edges.argmax()) in (3, 4), edges.shape
        (True, torch.Size([8]))
    """
    grey = images.mean(1, keepdim=True)
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=images.dtype, device=images.device) / 8
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, sobel[None, None]), F.conv2d(padded, sobel.t()[None, None])
    magnitude = (gx**2 + gy**2 + 1e-6).sqrt()
    radius = int(3 * blur) + 1
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    taps = torch.exp(-(offsets**2) / (2 * blur**2))
    taps = taps / taps.sum()
    magnitude = F.conv2d(F.pad(magnitude, (radius, radius, 0, 0), mode="replicate"), taps[None, None, None, :])
    return F.conv2d(F.pad(magnitude, (0, 0, radius, radius), mode="replicate"), taps[None, None, :, None])


def _window(size: int, device: torch.device) -> Tensor:
    """A centred Gaussian weight (sigma 0.45 of the half side, a little below the centre, where faces are): the
    correlation looks at the face, not at the backdrop or the edge repeated where a face was moved."""
    line = torch.linspace(-1, 1, size, device=device)
    ys, xs = torch.meshgrid(line, line, indexing="ij")
    return torch.exp(-(xs**2 + (ys - 0.06) ** 2) / (2 * 0.45**2))[None, None]


def weighted_correlation(a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
    """The normalised cross-correlation of each of ``a`` (B, 1, H, W) with ``b`` (1, 1, H, W), each pixel counted
    with ``weight`` (1, 1, H, W): (B,), 1 for the same image up to brightness and contrast.

    Examples:
        >>> a = torch.rand(2, 1, 4, 4)
        >>> weighted_correlation(a, 3 * a[:1] + 1, torch.ones(1, 1, 4, 4))[0].item() > 0.999
        True
    """
    total = weight.sum()
    a0 = a - (a * weight).sum((2, 3), keepdim=True) / total
    b0 = b - (b * weight).sum((2, 3), keepdim=True) / total
    covariance = (weight * a0 * b0).sum((1, 2, 3))
    return covariance / ((weight * a0**2).sum((1, 2, 3)) * (weight * b0**2).sum((1, 2, 3)) + 1e-8).sqrt()


class FaceRegistration(nn.Module):
    """A template of faces' edges and the search that registers a face to it.

    The template is a buffer (saved with the module's state dict, so with a generator built with
    ``GeneratorConfig(face_registration=True)``); ``num_faces`` says how many faces built it (0: not built yet).

    Args:
        image_size: The side of the faces it registers.
        steps: Adam steps per round and face (50 is as accurate as 150 on the check-only faces).
        lr: Adam's learning rate on the four numbers.
        batch_size: Faces optimised together (independent problems; a batch only shares the arithmetic).

    Raises:
        ValueError: If a setting is out of range.
    """

    templates: Tensor
    num_faces: Tensor

    def __init__(self, image_size: int, *, steps: int = 50, lr: float = 0.03, batch_size: int = 500) -> None:
        super().__init__()
        for name, value in (("image_size", image_size), ("steps", steps), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FaceRegistration {name} must be a positive integer, got {value!r}")
        if not 0 < lr <= 1:
            raise ValueError(f"FaceRegistration lr must be in (0, 1], got {lr!r}")
        self.image_size, self.steps, self.lr, self.batch_size = image_size, steps, lr, batch_size
        self.blurs = tuple(blur * image_size / 64 for blur in REGISTRATION_BLURS)
        self.register_buffer("templates", torch.zeros(len(self.blurs), 1, image_size, image_size))
        self.register_buffer("num_faces", torch.zeros(()))
        self._found: OrderedDict[str, Tensor] = OrderedDict()  # maps of recent batches, by their pixels

    @property
    def is_built(self) -> bool:
        """Whether a template was built (by ``build_template``, or loaded with the weights)."""
        return bool(self.num_faces > 0)

    def _faces(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (self.image_size,) * 2:
            raise ValueError(
                f"faces to register must be (B, 3, {self.image_size}, {self.image_size}), got {tuple(images.shape)}; "
                "resize them to the size the registration (the generator) was built for"
            )
        faces = images.detach()
        if faces.dtype == torch.uint8:  # AUDataset(uint8_images=True): scaled as data.image_io.as_float_faces does
            return faces.float().mul_(2 / 255).sub_(1.0)
        return faces.float().clone()  # an ordinary tensor even when the caller's was made in inference mode

    def build_template(self, images: Tensor) -> FramingSpread:
        """Build the template from ``images`` (N, 3, S, S), [-1, 1] or uint8: congealing, each round registering
        every face to the mean of the faces registered in the round before (the first: the faces as they are).
        The mean transform is kept at the identity, so the template stays where the faces are on average.
        Returns how much the faces' framing varies (by the transforms that registered them)."""
        with torch.inference_mode(False):  # a search needs ordinary tensors, whatever mode the caller is in
            return self._build_template(images)

    def _build_template(self, images: Tensor) -> FramingSpread:
        faces = self._faces(images)
        params = torch.zeros(len(faces), 4, device=faces.device)
        templates = []
        for blur in self.blurs:
            edges = edge_map(faces, blur)
            with torch.no_grad():
                template = torch.cat(
                    [
                        warp_with_maps(edges[i : i + self.batch_size], similarity_maps(params[i : i + self.batch_size]))
                        for i in range(0, len(faces), self.batch_size)
                    ]
                ).mean(0, keepdim=True)
            templates.append(template)
            params = self._search(self._reduced(edges, blur), self._reduced(template, blur), params)
            params = params - params.mean(0, keepdim=True)
        with torch.no_grad():
            self.templates.copy_(torch.cat(templates).to(self.templates))
            self.num_faces.fill_(len(faces))
        self._found.clear()
        spread = params.std(0) if len(params) > 1 else torch.zeros(4)
        return FramingSpread(
            rotation=math.degrees(float(spread[1])),
            shift_x=float(spread[2]) / 2,  # normalised coordinates span 2 per side
            shift_y=float(spread[3]) / 2,
            log_scale=float(spread[0]),
        )

    def reset(self) -> None:
        """Forget the template (``is_built`` becomes False): the faces are drawn on as they are."""
        with torch.no_grad():
            self.templates.zero_()
            self.num_faces.zero_()
        self._found.clear()

    def find(self, images: Tensor) -> Tensor:
        """The (B, 2, 3) maps from the template's framing into each of ``images``' (B, 3, S, S).

        The maps of the last few batches are remembered by their pixels, so drawing twice on the same faces
        searches once.

        Raises:
            RuntimeError: If no template was built.
            ValueError: If the images do not have the registration's size.
        """
        if not self.is_built:
            raise RuntimeError(
                "this FaceRegistration has no template yet; build it with build_template(training faces), or "
                "load a generator trained with face_registration=True"
            )
        with torch.inference_mode(False):  # pipelines draw in inference mode; the search needs ordinary tensors
            return self._find(images)

    def _find(self, images: Tensor) -> Tensor:
        faces = self._faces(images)
        key = hashlib.sha1(faces.cpu().numpy().tobytes()).hexdigest()
        if key in self._found:
            self._found.move_to_end(key)
            return self._found[key].to(images.device)
        params = torch.zeros(len(faces), 4, device=faces.device)
        for index, blur in enumerate(self.blurs):
            template = self._reduced(self.templates[index : index + 1].to(faces), blur)
            params = self._search(self._reduced(edge_map(faces, blur), blur), template, params)
        maps = similarity_maps(params)
        self._found[key] = maps
        if len(self._found) > _CACHED_BATCHES:
            self._found.popitem(last=False)
        return maps.to(images.device)

    def _reduction(self, blur: float) -> int:
        """Rounds with a blur of 1.5 px or more (at 64 px) search at half the size: on 500 held-out check-only faces
        this halves the time and explains the framing as well (rotation, shifts), the scale slightly less."""
        return 2 if blur >= 1.5 * self.image_size / 64 and self.image_size >= 16 else 1

    def _reduced(self, edges: Tensor, blur: float) -> Tensor:
        """Edge maps (or a template) at the size a round with ``blur`` searches at."""
        factor = self._reduction(blur)
        return edges if factor == 1 else F.avg_pool2d(edges, factor)

    def _search(self, edges: Tensor, template: Tensor, start: Tensor) -> Tensor:
        """Each face's parameters maximising its correlation with ``template``, from ``start`` (called outside
        inference mode by ``build_template`` and ``find``)."""
        weight = _window(edges.shape[-1], edges.device)
        found = start.clone()
        with torch.enable_grad():  # evaluate and the pipelines draw under no_grad
            for first in range(0, len(edges), self.batch_size):
                chunk = start[first : first + self.batch_size].clone().requires_grad_(True)
                optimiser = torch.optim.Adam([chunk], lr=self.lr)
                for _ in range(self.steps):
                    moved = warp_with_maps(edges[first : first + self.batch_size], similarity_maps(chunk))
                    loss = -weighted_correlation(moved, template, weight).sum()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimiser.step()
                    with torch.no_grad():
                        chunk[:, :2].clamp_(-_MAX_LOG_SCALE_OR_ANGLE, _MAX_LOG_SCALE_OR_ANGLE)
                        chunk[:, 2:].clamp_(-_MAX_SHIFT, _MAX_SHIFT)
                found[first : first + self.batch_size] = chunk.detach()
        return found
