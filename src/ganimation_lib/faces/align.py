"""Aligning a face to the model's crop like the training data, and warping the result back into the photo.

GANimation is trained on aligned crops: OpenFace's ``-simalign`` frames and the official sample crops put the eyes
about 0.29 of the side from the top, 0.4 of the side apart, centred (measured in docs/faces.md). A
[`SimilarityTransform`][ganimation_lib.faces.align.SimilarityTransform] (rotation, uniform scale, translation) fitted
by least squares to a face's eye centres and mouth corners maps it onto those positions
([`CANONICAL_FACE`][ganimation_lib.faces.align.CANONICAL_FACE], fractions of the side, so any model size works);
[`crop_face`][ganimation_lib.faces.align.crop_face] samples the crop and
[`paste_face`][ganimation_lib.faces.align.paste_face] warps a model-size result back and blends it into the
full-resolution photo with a feathered mask: pixels outside the crop's footprint are returned bit for bit.

Coordinates are pixels with the centre of pixel ``(i, j)`` at ``(i, j)`` (dlib's and OpenCV's convention), ``x``
to the right and ``y`` down; a fraction ``f`` of a crop of side ``S`` is the point ``f·S − 0.5``.

Examples:
    >>> import torch
    >>> from ganimation_lib.faces import Face
    >>> face = Face((20, 20, 80, 80), 1.0, ((38, 40), (62, 40), (50, 52), (40, 67), (60, 67)))
    >>> transform = alignment_transform(face, size=32)
    >>> transform.apply(face.landmarks[:2]).round(1).tolist()  # canonical: (9.1, 8.8) and (21.9, 8.8)
    [[9.0, 8.8], [22.0, 8.8]]
    >>> photo = torch.zeros(3, 100, 100)
    >>> crop_face(photo, transform, 32).shape
    torch.Size([3, 32, 32])
    >>> torch.equal(paste_face(photo, torch.zeros(3, 32, 32), transform), photo)  # an unchanged crop
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ..data.image_io import displayed_size, pil_to_tensor, to_rgb
from ..face_layout import CANONICAL_FACE, LANDMARK_NAMES, CanonicalFace
from .face import Face, Point

__all__ = [
    "CANONICAL_FACE",
    "CanonicalFace",
    "SimilarityTransform",
    "alignment_transform",
    "crop_face",
    "estimate_similarity",
    "face_footprint",
    "feather_mask",
    "paste_face",
    "warp_to_photo",
]

Region = tuple[int, int, int, int]
PhotoT = TypeVar("PhotoT", Image.Image, Tensor)
Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimilarityTransform:
    """The map ``x' = a·x − b·y + tx``, ``y' = b·x + a·y + ty``: rotation, uniform scale and translation.

    Raises:
        ValueError: If a number is not finite or the scale is zero.

    Examples:
        >>> t = SimilarityTransform.from_parts(scale=2.0, rotation=90.0, translation=(1.0, 0.0))
        >>> t.apply([(1.0, 0.0)]).round(6).tolist(), t.inverse().apply([(1.0, 2.0)]).round(6).tolist()
        ([[1.0, 2.0]], [[1.0, 0.0]])
    """

    a: float
    b: float
    tx: float
    ty: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.a, self.b, self.tx, self.ty)) or self.a == self.b == 0:
            raise ValueError(f"a similarity transform needs finite numbers and a scale above 0, got {self}")

    @classmethod
    def from_parts(
        cls, *, scale: float, rotation: float, translation: tuple[float, float] = (0.0, 0.0)
    ) -> SimilarityTransform:
        """Build a transform from its ``scale``, ``rotation`` (degrees, counter-clockwise as drawn with y up;
        clockwise on screen) and ``translation``."""
        angle = math.radians(rotation)
        return cls(scale * math.cos(angle), scale * math.sin(angle), translation[0], translation[1])

    @property
    def scale(self) -> float:
        """How many times longer a distance becomes."""
        return math.hypot(self.a, self.b)

    @property
    def rotation(self) -> float:
        """The rotation in degrees, in ``(-180, 180]``."""
        return math.degrees(math.atan2(self.b, self.a))

    def matrix(self) -> Points:
        """The 3×3 homogeneous matrix."""
        return np.array([[self.a, -self.b, self.tx], [self.b, self.a, self.ty], [0.0, 0.0, 1.0]])

    def apply(self, points: Sequence[Point] | Points) -> Points:
        """The (N, 2) images of ``points``."""
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.stack(
            [self.a * xy[:, 0] - self.b * xy[:, 1] + self.tx, self.b * xy[:, 0] + self.a * xy[:, 1] + self.ty], 1
        )

    def shifted(self, left: float, top: float) -> SimilarityTransform:
        """The same map for a crop of the photo whose corner pixel ``(0, 0)`` is the photo's ``(left, top)``."""
        return SimilarityTransform(
            self.a, self.b, self.tx + self.a * left - self.b * top, self.ty + self.b * left + self.a * top
        )

    def inverse(self) -> SimilarityTransform:
        """The transform that undoes this one."""
        norm = self.a**2 + self.b**2
        a, b = self.a / norm, -self.b / norm
        return SimilarityTransform(a, b, -(a * self.tx - b * self.ty), -(b * self.tx + a * self.ty))


def estimate_similarity(source: Sequence[Point] | Points, target: Sequence[Point] | Points) -> SimilarityTransform:
    """The similarity that maps ``source`` onto ``target`` with the least squared error (Umeyama, no reflection).

    Raises:
        ValueError: If the point lists differ in length, hold fewer than two points or a non-finite number, or
            the source points all coincide.

    Examples:
        >>> t = estimate_similarity([(0, 0), (1, 0)], [(5, 5), (5, 7)])
        >>> round(t.scale, 6), round(t.rotation, 6), (round(t.tx, 6), round(t.ty, 6))
        (2.0, 90.0, (5.0, 5.0))
    """
    src, dst = np.asarray(source, dtype=np.float64).reshape(-1, 2), np.asarray(target, dtype=np.float64).reshape(-1, 2)
    if len(src) != len(dst) or len(src) < 2:
        raise ValueError(f"need two or more matching points, got {len(src)} source and {len(dst)} target points")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError(f"points must be finite, got source {src.tolist()} and target {dst.tolist()}")
    # As complex numbers a similarity is z -> a·z + b; least squares has a closed form.
    zs, zt = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]
    cs, ct = zs - zs.mean(), zt - zt.mean()
    spread = float(np.sum(np.abs(cs) ** 2))
    if spread < 1e-12:
        raise ValueError(f"the source points all lie on one point {src[0].tolist()}: they fix no rotation or scale")
    a = complex(np.sum(np.conj(cs) * ct) / spread)
    if abs(a) < 1e-12:
        raise ValueError("the target points all lie on one point: no transform of positive scale maps onto them")
    b = complex(zt.mean() - a * zs.mean())
    return SimilarityTransform(a.real, a.imag, b.real, b.imag)


def alignment_transform(
    face: Face | Sequence[Point], size: int, canonical: CanonicalFace = CANONICAL_FACE
) -> SimilarityTransform:
    """The transform from photo pixels to a ``size`` × ``size`` crop that puts ``face`` where ``canonical`` says.

    Args:
        face: A [`Face`][ganimation_lib.faces.face.Face] or its five landmarks (order of `LANDMARK_NAMES`).
        size: The crop's side in pixels (the generator's ``image_size``).
        canonical: Where the landmarks go (default `CANONICAL_FACE`).

    Raises:
        ValueError: If there are not five finite landmarks, the eyes are less than a pixel apart (no face to
            align: check the finder's output), or ``size`` is not a positive whole number.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be the crop's side, a whole number of pixels >= 1, got {size!r}")
    landmarks = face.landmarks if isinstance(face, Face) else face
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (len(LANDMARK_NAMES), 2) or not np.isfinite(points).all():
        raise ValueError(f"a face needs five finite (x, y) landmarks {LANDMARK_NAMES}, got {landmarks!r}")
    eyes = float(np.linalg.norm(points[1] - points[0]))
    if eyes < 1.0:
        raise ValueError(
            f"the eyes are {eyes:.2g} px apart ({points[0].tolist()}, {points[1].tolist()}): the landmarks are "
            "degenerate, so the face cannot be aligned; give a box instead (box=..., --box)"
        )
    fit = list(canonical.fit)
    return estimate_similarity(points[fit], canonical.points(size)[fit])


def face_footprint(transform: SimilarityTransform, size: int, width: int, height: int) -> Region | None:
    """The pixels ``(left, top, right, bottom)`` of a ``width`` × ``height`` photo that the crop covers.

    The bounding box of the crop's (rotated) square in the photo, a pixel wider for bilinear sampling, clamped to
    the photo; ``None`` when the crop lies entirely outside it.
    """
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    photo = transform.inverse().apply(corners)
    left, top = (math.floor(v) - 1 for v in photo.min(axis=0))
    right, bottom = (math.ceil(v) + 2 for v in photo.max(axis=0))
    left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
    return (left, top, right, bottom) if right > left and bottom > top else None


def _normalised(width: int, height: int) -> Points:
    """Pixel coordinates to grid_sample's (align_corners=False): x -> (2x + 1) / width − 1."""
    return np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0, 0, 1.0]])


def _sample(image: Tensor, output_to_input: Points, out_size: tuple[int, int], padding: str) -> Tensor:
    """Sample ``image`` (C, h, w) bilinearly at ``output_to_input`` (3×3, pixels) of each output pixel (W, H)."""
    (width, height), (h, w) = out_size, image.shape[-2:]
    theta = _normalised(w, h) @ output_to_input @ np.linalg.inv(_normalised(width, height))
    matrix = torch.tensor(theta[:2], dtype=image.dtype, device=image.device)[None]
    grid = F.affine_grid(matrix, [1, 1, height, width], align_corners=False)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode=padding, align_corners=False)[0]


def _photo_tensor(photo: Image.Image | Tensor, region: Region) -> Tensor:
    left, top, right, bottom = region
    if isinstance(photo, Image.Image):
        return pil_to_tensor(to_rgb(photo).crop(region))
    if not isinstance(photo, Tensor) or photo.dim() != 3 or photo.shape[0] != 3 or not photo.is_floating_point():
        raise ValueError("the photo must be a PIL image or a float (3, H, W) tensor in [-1, 1]")
    return photo[:, top:bottom, left:right].float()


def _size(photo: Image.Image | Tensor) -> tuple[int, int]:
    if isinstance(photo, Image.Image):
        return displayed_size(photo)
    return int(photo.shape[-1]), int(photo.shape[-2])


def crop_face(photo: Image.Image | Tensor, transform: SimilarityTransform, size: int) -> Tensor:
    """The ``size`` × ``size`` crop ``transform`` maps ``photo`` to, as a float (3, size, size) tensor in [-1, 1].

    Bilinear; beyond the photo's edges its border pixels are repeated. Only the part of the photo under the crop
    is converted, and a face larger than the crop is first reduced with antialiasing (bilinear sampling alone
    would alias a 400 px face into 128 px).

    Args:
        photo: A PIL image (EXIF orientation applied) or a float (3, H, W) tensor in [-1, 1], on any device.
        transform: Photo pixels to crop pixels
            ([`alignment_transform`][ganimation_lib.faces.align.alignment_transform]).
        size: The crop's side.

    Raises:
        ValueError: If the crop does not overlap the photo, or the photo is not one of those types.
    """
    width, height = _size(photo)
    region = face_footprint(transform, size, width, height)
    if region is None:
        raise ValueError(f"the face's crop lies outside the {width}x{height} photo: check its landmarks")
    pixels = _photo_tensor(photo, region)
    h, w = pixels.shape[-2:]
    # Crop pixels -> region pixels.
    to_region = np.array([[1.0, 0, -region[0]], [0, 1.0, -region[1]], [0, 0, 1.0]]) @ transform.inverse().matrix()
    if transform.scale < 1.0:
        small = (max(1, round(h * transform.scale)), max(1, round(w * transform.scale)))
        pixels = F.interpolate(pixels[None], size=small, mode="bilinear", align_corners=False, antialias=True)[0]
        kx, ky = small[1] / w, small[0] / h
        to_region = np.array([[kx, 0, (kx - 1) / 2], [0, ky, (ky - 1) / 2], [0, 0, 1.0]]) @ to_region
    return _sample(pixels, to_region, (size, size), "border").clamp(-1, 1)


def warp_to_photo(maps: Tensor, transform: SimilarityTransform, region: Region, *, padding: str = "border") -> Tensor:
    """Warp crop-size ``maps`` (C, S, S) back onto ``region`` of the photo: (C, bottom − top, right − left).

    Args:
        maps: Anything in crop pixels: the edited face, attention, colour, a mask.
        transform: The photo-to-crop transform the crop was made with.
        region: ``(left, top, right, bottom)`` of the photo to fill (usually
            [`face_footprint`][ganimation_lib.faces.align.face_footprint]).
        padding: What photo pixels beyond the crop get: ``"border"`` (its edge repeated) or ``"zeros"``.
    """
    left, top, right, bottom = region
    to_crop = transform.matrix() @ np.array([[1.0, 0, left], [0, 1.0, top], [0, 0, 1.0]])
    return _sample(maps.float(), to_crop, (right - left, bottom - top), padding)


def feather_mask(size: int, feather: float, device: torch.device | None = None) -> Tensor:
    """(1, size, size) blend weights of a crop: 1 inside, easing to 0 over ``feather`` of the side at its edges.

    Examples:
        >>> [round(v, 3) for v in feather_mask(8, 0.25)[0, 4].tolist()]  # one row, left to right
        [0.156, 0.844, 1.0, 1.0, 1.0, 1.0, 0.844, 0.156]
    """
    if not isinstance(feather, (int, float)) or not 0 <= feather <= 0.5:
        raise ValueError(f"feather={feather!r} must be a fraction of the crop's side in [0, 0.5] (0 = hard edge)")
    pos = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    distance = torch.minimum(pos, size - pos)
    ramp = feather * size
    t = (distance / ramp).clamp(0, 1) if ramp > 0 else torch.ones_like(pos)
    t = torch.minimum(t[:, None], t[None, :])
    return (t * t * (3 - 2 * t))[None]  # smoothstep: no visible seam where the ramp meets the inside


def paste_face(photo: PhotoT, crop: Tensor, transform: SimilarityTransform, *, feather: float = 0.1) -> PhotoT:
    """``photo`` with ``crop`` (an edited, model-size face) warped back and blended in with a feathered edge.

    Pixels the crop does not cover, and those under its zero-weight edge, are returned bit for bit.

    Args:
        photo: The photo the crop was made from (a PIL image or a float (3, H, W) tensor in [-1, 1]).
        crop: (3, S, S) in [-1, 1].
        transform: The photo-to-crop transform it was made with.
        feather: Width of the blend at the crop's edges, as a fraction of its side (0 = hard edge).

    Returns:
        A photo of the same type and size (a PIL image comes back as RGB).
    """
    size = int(crop.shape[-1])
    width, height = _size(photo)
    region = face_footprint(transform, size, width, height)
    if region is None:
        return photo.copy() if isinstance(photo, Image.Image) else photo.clone()
    pixels = _photo_tensor(photo, region).to(crop.device)
    mask = warp_to_photo(feather_mask(size, feather, crop.device), transform, region, padding="zeros").clamp(0, 1)
    warped = warp_to_photo(crop, transform, region).clamp(-1, 1)
    blended = torch.where(mask > 0, mask * warped + (1 - mask) * pixels, pixels)
    left, top = region[0], region[1]
    if isinstance(photo, Image.Image):
        out = to_rgb(photo).copy()
        scaled = blended.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        out.paste(Image.fromarray(np.ascontiguousarray(scaled), mode="RGB"), (left, top))
        return out
    result = photo.clone()
    result[:, top : region[3], left : region[2]] = blended.to(device=photo.device, dtype=photo.dtype)
    return result
