"""FaceRegistration: it finds a face's framing from the pixels, remembers recent batches and says what is wrong."""

from __future__ import annotations

import pytest
import torch

from ganimation_lib import SyntheticFaces
from ganimation_lib.data import as_float_faces
from ganimation_lib.models.registration import FaceRegistration, invert_maps, similarity_maps, warp_with_maps


def _faces(count: int = 12, size: int = 32) -> torch.Tensor:
    data = SyntheticFaces(num_identities=count, items_per_identity=1, image_size=size, seed=3)
    return torch.stack([data[i].image for i in range(count)])


def _compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """The map p -> outer(inner(p)), both (B, 2, 3)."""
    linear = outer[:, :, :2] @ inner[:, :, :2]
    return torch.cat([linear, outer[:, :, :2] @ inner[:, :, 2:] + outer[:, :, 2:]], 2)


def test_a_moved_face_is_found_where_it_was_moved_to() -> None:
    faces = _faces()
    registration = FaceRegistration(32)
    registration.build_template(faces)
    assert registration.is_built and int(registration.num_faces) == len(faces)
    known = similarity_maps(torch.tensor([[0.06, 0.12, 0.12, -0.08]]))  # 6 % zoom, 7 degrees, a few pixels
    moved = warp_with_maps(faces[:1], known)  # moved(p) = face(known · p)
    own, found = registration.find(faces[:1]), registration.find(moved)
    # The moved face registered, moved(found · p) = face(known · found · p), must land where the face itself did.
    recovered = _compose(known, found)
    assert torch.allclose(recovered, own, atol=0.03), (recovered, own)
    unmoved_error = (known - own).abs().max()
    assert unmoved_error > 0.1  # the test would not notice a registration that found nothing


def test_the_faces_that_built_the_template_are_moved_little_on_average() -> None:
    faces = _faces()
    registration = FaceRegistration(32)
    registration.build_template(faces)
    maps = registration.find(faces)
    mean_shift = maps[:, :, 2].mean(0)
    assert mean_shift.abs().max() < 0.03  # the gauge: the template sits where the faces are on average


def test_maps_invert_and_the_identity_map_returns_the_faces() -> None:
    faces = _faces(2)
    identity = similarity_maps(torch.zeros(2, 4))
    assert torch.allclose(warp_with_maps(faces, identity), faces, atol=1e-5)
    maps = similarity_maps(torch.tensor([[0.1, -0.2, 0.05, 0.02], [-0.05, 0.3, -0.1, 0.0]]))
    assert torch.allclose(_compose(maps, invert_maps(maps)), identity, atol=1e-5)


def test_find_remembers_a_batch_by_its_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    faces = _faces(4)
    registration = FaceRegistration(32, steps=5)
    registration.build_template(faces)
    first = registration.find(faces)
    searches = []
    monkeypatch.setattr(registration, "_search", lambda *args: searches.append(1) or args[2])
    assert torch.equal(registration.find(faces.clone()), first) and not searches
    registration.find(faces.flip(-1))
    assert searches  # other pixels are searched again


def test_it_says_what_is_wrong() -> None:
    registration = FaceRegistration(32)
    with pytest.raises(RuntimeError, match="no template yet"):
        registration.find(torch.zeros(1, 3, 32, 32))
    registration.build_template(_faces(2))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\), got \(1, 3, 64, 64\)"):
        registration.find(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        FaceRegistration(32, steps=0)
    with pytest.raises(ValueError, match="lr must be in"):
        FaceRegistration(32, lr=2.0)


def test_uint8_faces_register_like_float_ones() -> None:
    faces = _faces(4)
    as_bytes = ((faces + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    registration = FaceRegistration(32, steps=10)
    registration.build_template(as_bytes)
    fresh = FaceRegistration(32, steps=10)  # the same template, nothing remembered
    fresh.load_state_dict(registration.state_dict())
    float_maps = fresh.find(as_float_faces(as_bytes))
    assert torch.allclose(registration.find(as_bytes), float_maps, atol=1e-6)
    assert not torch.allclose(float_maps, torch.eye(2, 3).expand_as(float_maps), atol=1e-3)


def test_it_searches_inside_inference_mode() -> None:
    """Pipelines draw under torch.inference_mode; the search needs autograd all the same."""
    faces = _faces(4)
    registration = FaceRegistration(32, steps=5)
    with torch.inference_mode():
        registration.build_template(faces)
        maps = registration.find(faces.flip(-1))
    assert registration.is_built and maps.shape == (4, 2, 3) and not maps.is_inference()
