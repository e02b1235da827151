"""Drawing with a generator trained on registered faces: register each face, draw, map the drawing back.

A generator built with ``GeneratorConfig(face_registration=True)`` was trained on faces moved into the framing of
its template ([`FaceRegistration`][ganimation_lib.models.registration.FaceRegistration]). Fed a face in its own
framing, it must see it registered too;
[`RegisteredGenerator`][ganimation_lib.models.registered.RegisteredGenerator] does that and returns every map of the
[`GeneratorOutput`][ganimation_lib.models.generator.GeneratorOutput] in the face's own framing again: the attention
(shut outside the registered face), the warp field (its vectors turned and scaled with the face), the colour and its
change. The image is composed from those maps on the face as it came, so the pixels the generator keeps are returned
as they are, not resampled twice; and ``edit`` and ``animate``, which compose the maps on a photo, work unchanged.
[`drawing_model`][ganimation_lib.models.registered.drawing_model] is what the pipelines, ``evaluate`` and the
Trainer's validation call: the wrapper for such a generator, the generator itself otherwise.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=8, num_residual_blocks=0, face_registration=True))
    >>> faces = torch.rand(2, 3, 32, 32) * 2 - 1
    >>> _ = g.registration.build_template(faces)
    >>> out = drawing_model(g)(faces, torch.rand(2, 17))
    >>> out.image.shape, bool(out.attention.min() >= 0)
    (torch.Size([2, 3, 32, 32]), True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .generator import Generator, GeneratorConfig, GeneratorOutput
from .registration import invert_maps, warp_with_maps
from .unwrap import unwrap_model
from .warp import warp_images

__all__ = ["RegisteredGenerator", "drawing_model"]


class RegisteredGenerator(nn.Module):
    """``generator`` drawing on faces registered to its template, its output mapped back to each face's framing.

    Args:
        generator: A generator built with ``face_registration=True`` whose template is built (trained, or
            loaded with ``from_pretrained``).

    Raises:
        ValueError: If the generator does not register faces or its template was never built.
    """

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        registration = generator.registration
        if registration is None or not registration.is_built:
            state = "has no template yet (train it first)" if registration is not None else "does not register faces"
            raise ValueError(
                f"RegisteredGenerator needs a generator trained with GeneratorConfig(face_registration=True); this one "
                f"{state}. Call the generator itself, or drawing_model(generator), which picks the right one"
            )
        self.generator = generator  # its registration is reached through it, not registered here a second time
        # The maps of the last output drawn: the cycle feeds G(x, t).image straight back, in x's framing.
        self._last: tuple[Tensor, Tensor] | None = None

    @property
    def config(self) -> GeneratorConfig:
        """The wrapped generator's config."""
        return self.generator.config

    def forward(self, images: Tensor, aus: Tensor) -> GeneratorOutput:
        """Animate ``images`` (B, 3, S, S) in their own framing towards ``aus`` (B, num_aus)."""
        self.generator.check_inputs(images, aus)
        last = self._last
        same_faces = last is not None and last[0] is images
        registration = self.generator.registration
        assert registration is not None  # checked when wrapped
        maps = last[1] if last is not None and same_faces else registration.find(images).to(images.dtype)
        back = invert_maps(maps)
        registered = warp_with_maps(images, maps)
        out = self.generator(registered, aus)
        attention = 1 - warp_with_maps(1 - out.attention, back, padding="zeros")
        flow = None
        kept = images
        if out.flow is not None:
            turned = torch.einsum("bij,bjhw->bihw", maps[:, :, :2], out.flow)
            flow = warp_with_maps(turned, back, padding="zeros")
            kept = warp_images(images, flow)
        change = None if out.color_change is None else warp_with_maps(out.color_change, back, padding="zeros")
        if change is not None:
            color = (kept + change).clamp(-1, 1)
        elif self.generator.config.color_residual is not None:  # a colour around the input: move its change
            color = (images + warp_with_maps(out.color - registered, back, padding="zeros")).clamp(-1, 1)
        else:
            color = warp_with_maps(out.color, back)
        image = attention * kept + (1 - attention) * color
        self._last = (image, maps)
        return GeneratorOutput(image=image, color=color, attention=attention, flow=flow, color_change=change)


def drawing_model(generator: nn.Module) -> nn.Module:
    """What draws on faces in their own framing: a
    [`RegisteredGenerator`][ganimation_lib.models.registered.RegisteredGenerator] for a generator that registers
    faces (``face_registration=True``, template built; looked for through ``torch.compile`` and data-parallel
    wrappers, which the search does not go through), ``generator`` itself for any other module."""
    inner = unwrap_model(generator)
    if isinstance(inner, Generator) and inner.registration is not None and inner.registration.is_built:
        return RegisteredGenerator(inner)
    return generator
