"""RegisteredGenerator: faces drawn in the template's framing and mapped back; kept pixels stay as they came."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganimation_lib import Generator, SyntheticFaces
from ganimation_lib.models.registered import RegisteredGenerator, drawing_model
from ganimation_lib.models.registration import invert_maps, similarity_maps, warp_with_maps
from tests.conftest import tiny_generator_config

WARPING = {"color_residual": 0.5, "color_residual_around": "warp", "warp_range": 0.15, "attention_bias": 0.0}


def _faces(count: int = 6) -> torch.Tensor:
    data = SyntheticFaces(num_identities=count, items_per_identity=1, image_size=32, seed=5)
    return torch.stack([data[i].image for i in range(count)])


def _registering(**overrides: object) -> Generator:
    generator = Generator(tiny_generator_config(face_registration=True, **overrides)).eval()
    assert generator.registration is not None
    generator.registration.build_template(_faces())
    return generator


def _perturb(generator: Generator, scale: float = 0.05) -> None:
    """Make the heads draw something (the warp and colour heads start at zero)."""
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)


def test_drawing_model_wraps_only_a_generator_with_a_template() -> None:
    plain = Generator(tiny_generator_config())
    assert drawing_model(plain) is plain
    unbuilt = Generator(tiny_generator_config(face_registration=True))
    assert drawing_model(unbuilt) is unbuilt
    with pytest.raises(ValueError, match="no template yet"):
        RegisteredGenerator(unbuilt)
    with pytest.raises(ValueError, match="does not register faces"):
        RegisteredGenerator(plain)
    registering = _registering()
    assert isinstance(drawing_model(registering), RegisteredGenerator)
    wrapped = drawing_model(torch.nn.DataParallel(registering))  # a wrapper is looked through, not trusted
    assert isinstance(wrapped, RegisteredGenerator) and wrapped.generator is registering


@pytest.mark.parametrize("overrides", [WARPING, {"color_residual": 0.5}, {}], ids=["warp", "residual", "absolute"])
def test_the_output_is_composed_from_its_maps_in_the_faces_framing(overrides: dict[str, object]) -> None:
    generator = _registering(**overrides)
    _perturb(generator)
    faces = _faces(3)
    with torch.no_grad():
        out = RegisteredGenerator(generator)(faces, torch.rand(3, 17))
    kept = faces if out.flow is None else warp_images_of(faces, out.flow)
    assert torch.allclose(out.image, out.attention * kept + (1 - out.attention) * out.color, atol=1e-6)
    assert (out.flow is None) == ("warp_range" not in overrides)
    assert out.attention.min() >= 0 and out.attention.max() <= 1


def warp_images_of(faces: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    from ganimation_lib.models.warp import warp_images

    return warp_images(faces, flow)


def test_pixels_outside_the_registered_face_are_returned_as_they_came(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = _registering(**WARPING)
    _perturb(generator)
    faces = _faces(2)
    assert generator.registration is not None
    shifted = similarity_maps(torch.tensor([[0.0, 0.0, 0.3, 0.0]] * 2))  # the template frame sits to the right
    monkeypatch.setattr(generator.registration, "find", lambda images: shifted)
    with torch.no_grad():
        out = RegisteredGenerator(generator)(faces, torch.rand(2, 17))
    left = slice(0, 3)  # 0.3 of the half side is 4.8 px: the first columns are outside the registered frame
    assert torch.equal(out.image[..., left], faces[..., left])
    assert not torch.allclose(out.image[..., 12:], faces[..., 12:], atol=1e-3)  # but inside it draws


def test_a_moved_face_gets_the_moved_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Equivariance: a face moved by a known map is drawn as the face's drawing moved by the same map."""
    generator = _registering(**WARPING)
    _perturb(generator, 0.02)
    assert generator.registration is not None
    # Smooth faces: resampling them twice changes them little, so what is left is the mapping's own error.
    faces = F.interpolate(F.interpolate(_faces(1), size=8, mode="area"), size=32, mode="bicubic").clamp(-1, 1)
    aus = torch.rand(1, 17)
    known = similarity_maps(torch.tensor([[0.0, 0.1, 0.06, 0.0]]))
    moved = warp_with_maps(faces, known)  # moved(p) = face(known · p)
    identity = similarity_maps(torch.zeros(1, 4))
    back = invert_maps(known)  # moved(back · p) = face(p): what a registration finds for the moved face
    monkeypatch.setattr(generator.registration, "find", lambda images: identity if images is faces else back)
    with torch.no_grad():
        own = RegisteredGenerator(generator)(faces, aus)
        drawn = RegisteredGenerator(generator)(moved, aus)
    expected = warp_with_maps(own.image, known)
    inner = (slice(None), slice(None), slice(8, 24), slice(8, 24))  # away from the edges the resampling repeats
    drawing = (own.image - faces)[inner].abs().mean()
    assert drawing > 0.02  # it did draw, so the comparison means something
    assert (drawn.image - expected)[inner].abs().mean() < 0.25 * drawing


def test_the_cycle_reuses_the_maps_of_the_faces_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = _registering()
    assert generator.registration is not None
    calls: list[int] = []
    find = generator.registration.find
    monkeypatch.setattr(generator.registration, "find", lambda images: calls.append(1) or find(images))
    drawer = RegisteredGenerator(generator)
    faces = _faces(2)
    with torch.no_grad():
        moved = drawer(faces, torch.rand(2, 17))
        drawer(moved.image, torch.rand(2, 17))
        drawer(moved.image.clone(), torch.rand(2, 17))
    assert len(calls) == 2  # the first faces, and a copy that is not the output itself


def test_the_template_is_saved_and_loaded_with_the_weights() -> None:
    generator = _registering(**WARPING)
    _perturb(generator)
    loaded = Generator.from_pretrained(generator.save_pretrained(tempfile.mkdtemp() + "/g"))
    assert loaded.registration is not None and loaded.registration.is_built
    assert generator.registration is not None
    assert torch.equal(loaded.registration.templates, generator.registration.templates)
    faces, aus = _faces(2), torch.rand(2, 17)
    with torch.no_grad():
        assert torch.equal(drawing_model(loaded)(faces, aus).image, drawing_model(generator)(faces, aus).image)


def test_the_flag_is_checked() -> None:
    with pytest.raises(ValueError, match="face_registration"):
        tiny_generator_config(face_registration="yes")


def test_onnx_export_refuses_a_generator_that_registers_faces(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="registered to its template"):
        _registering().export_onnx(tmp_path / "g.onnx")
    assert not (tmp_path / "g.onnx").exists()


def test_edit_and_evaluate_draw_through_the_registration() -> None:
    from ganimation_lib.aus import aus_for
    from ganimation_lib.evaluation import evaluate
    from ganimation_lib.inference import edit

    generator = _registering(**WARPING)
    _perturb(generator)
    face, target = _faces(1)[0], aus_for("surprise")
    edited = edit(generator, face, target)  # first: the search runs inside edit's inference mode
    with torch.no_grad():
        expected = RegisteredGenerator(generator)(face[None], target[None]).image[0]
        plain = generator(face[None], target[None]).image[0]
    assert torch.allclose(edited, expected, atol=1e-5)
    assert not torch.allclose(edited, plain, atol=1e-3)  # the registration did change what was drawn
    report = evaluate(generator, SyntheticFaces(num_identities=4, items_per_identity=1, image_size=32, seed=9))
    assert report.num_faces == 4 and report.true_ratio is not None and report.true_ratio > 0


def test_a_registering_generator_without_a_template_exports_as_the_network_it_is(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    generator = Generator(tiny_generator_config(face_registration=True))  # trained on faces framed alike
    assert generator.export_onnx(tmp_path / "g.onnx").is_file()
