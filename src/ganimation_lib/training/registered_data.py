"""Training a generator with ``face_registration=True``: build its template, train on registered faces.

At the start of a fit (inside its time budget)
[`register_training_data`][ganimation_lib.training.registered_data.register_training_data] builds the generator's
template (congealing:
[`FaceRegistration.build_template`][ganimation_lib.models.registration.FaceRegistration.build_template]) unless the
generator already has one (a resumed run, a second fit). A first template from 200 training faces spread over the
data tells whether their framing varies. When they are framed alike
([`FramingSpread.varies`][ganimation_lib.models.registration.FramingSpread.varies] is False: faces aligned by
landmarks, or rendered so) the template is dropped and the data returned as it is: registering such faces costs
fidelity (the tuned synthetic faces: true ratio 0.870 registered against 0.727-0.794 as they are), and the screen
takes a fifth to two fifths of a full template's time. Otherwise the template is built from up to 1,000 faces, and
it finds every training face's map to the template and returns the data as
[`RegisteredFaces`][ganimation_lib.training.registered_data.RegisteredFaces]: each item's face moved into the
template's framing. Held-out faces stay as they are: validation, sample grids, ``evaluate`` and the pipelines draw
on them through [`drawing_model`][ganimation_lib.models.registered.drawing_model], in their own framing. About 50 s
for 5,000 faces at 64 px on two CPU cores.
"""

from __future__ import annotations

import copy
import sys
import time
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..data.image_io import as_float_faces
from ..data.sample import AUSample
from ..models.registration import warp_with_maps
from .sampling import TrainingData

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["SCREEN_FACES", "TEMPLATE_FACES", "RegisteredFaces", "register_training_data"]

#: At most this many training faces build the template (more cost time and move it no further).
TEMPLATE_FACES = 1000
#: This many training faces first tell whether the framing varies: the answer is as clear as from a thousand
#: (rotation spread 0.2 deg on faces framed alike, 4.6 deg on framed ones, the line at 1 deg) in 2.5 s instead of
#: 6.3 s at 64 px and 7 s instead of 33 s at 128 px (two CPU cores); framed faces then pay the 2.5 s on top.
SCREEN_FACES = 200
_CHUNK = 500


class RegisteredFaces(Dataset[AUSample]):
    """``base``'s items with their face moved by its map (``maps``: (N, 2, 3), template -> face), as float.

    A flip is drawn here, after the registration, with ``flip``'s probability (``base`` itself must not flip:
    a map found on the face as it is does not fit its mirror image).
    """

    def __init__(self, base: Dataset[AUSample], maps: Tensor, flip: float = 0.0) -> None:
        if len(maps) != len(base):  # type: ignore[arg-type]
            raise ValueError(f"{len(maps)} maps for {len(base)} faces")  # type: ignore[arg-type]
        self.base, self.maps, self.flip = base, maps.detach().cpu().float(), flip

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, index: int) -> AUSample:
        item = self.base[index]
        face = as_float_faces(item.image[None]).float()
        moved = warp_with_maps(face, self.maps[index : index + 1])[0]
        if self.flip > 0 and float(torch.rand(())) < self.flip:
            moved = moved.flip(-1)
        return item._replace(image=moved)


def _unflipped(data: Dataset[AUSample]) -> tuple[Dataset[AUSample], float]:
    """``data`` with its random flip turned off (a copy), and the flip's probability."""
    flip = getattr(data, "flip", 0.0)
    if isinstance(flip, bool) or not isinstance(flip, (int, float)) or flip <= 0:
        return data, 0.0
    quiet = copy.copy(data)
    quiet.flip = 0.0  # type: ignore[attr-defined]
    return quiet, float(flip)


def _spread_over(count: int, wanted: int) -> list[int]:
    """Up to ``wanted`` indices of ``count`` items, evenly spread over them."""
    return sorted(set(torch.linspace(0, count - 1, min(count, wanted)).round().long().tolist()))


def _faces(data: Dataset[AUSample], indices: list[int], device: torch.device) -> Tensor:
    return as_float_faces(torch.stack([data[i].image for i in indices])).float().to(device)


def register_training_data(trainer: Trainer, data: TrainingData) -> TrainingData:
    """``data`` registered to the trainer's generator's template (built from ``data`` if it has none), or ``data``
    unchanged when the generator does not register faces.

    Raises:
        ValueError: If the generator registers faces and ``data`` is a ``DataLoader`` (pass the dataset).
    """
    generator = trainer.generator
    registration = generator.registration
    if registration is None:
        return data
    if isinstance(data, DataLoader):
        raise ValueError(
            "a generator with face_registration=True registers its training faces before the first iteration, "
            "which needs the dataset itself: pass the dataset to fit(), not a DataLoader"
        )
    base, flip = _unflipped(data)
    count = len(base)  # type: ignore[arg-type]
    started = time.monotonic()
    speak = trainer.is_main_process and trainer.show_progress
    # Items may draw random targets from the global RNG: read them in a forked stream, as if never read.
    with torch.random.fork_rng(devices=[]):
        if not registration.is_built:
            screened, picked = _spread_over(count, SCREEN_FACES), _spread_over(count, TEMPLATE_FACES)
            if speak:
                print(f"face registration: reading the framing of {len(screened)} training faces", file=sys.stderr)
            spread = registration.build_template(_faces(base, screened, trainer.device))
            if not spread.varies:
                registration.reset()
                if speak:
                    print(
                        f"face registration: the training faces are framed alike ({spread}), so they are drawn on "
                        f"as they are ({time.monotonic() - started:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
                return data
            if speak:
                print(f"face registration: the training faces' framing varies ({spread})", file=sys.stderr)
            if picked != screened:
                if speak:
                    print(f"face registration: building the template from {len(picked)} faces", file=sys.stderr)
                registration.build_template(_faces(base, picked, trainer.device))
            if trainer.ema is not None and trainer.ema.shadow.registration is not None:
                trainer.ema.shadow.registration.load_state_dict(registration.state_dict())
        maps = []
        for first in range(0, count, _CHUNK):
            chunk = list(range(first, min(first + _CHUNK, count)))
            maps.append(registration.find(_faces(base, chunk, trainer.device)).cpu())
            if speak:
                print(f"face registration: {chunk[-1] + 1}/{count} training faces registered", file=sys.stderr)
    if speak:
        print(f"face registration: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return RegisteredFaces(base, torch.cat(maps), flip)
