"""An exported generator gives PyTorch's colour, attention and image (within 1e-4) under onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.demo import demo_configs
from ganimation_lib.models.convert import import_checkpoint
from ganimation_lib.training.recipes import fast_networks
from tests.conftest import PROJECT_ROOT, tiny_generator_config

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4


def _session(path: Path) -> object:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _perturbed(generator: Generator, scale: float = 0.05) -> Generator:
    """Random weights everywhere, also in the zero-initialised FiLM and flow heads, so they matter."""
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)
    return generator.eval()


def _check_parity(generator: Generator, session: object, faces: torch.Tensor, aus: torch.Tensor) -> None:
    with torch.no_grad():
        expected = generator(faces, aus)
    outputs = session.run(None, {"face": faces.numpy(), "aus": aus.numpy()})  # type: ignore[attr-defined]
    names = [o.name for o in session.get_outputs()]  # type: ignore[attr-defined]
    got = dict(zip(names, outputs, strict=True))
    for name in ("image", "attention", "color"):
        reference = getattr(expected, name).numpy()
        assert got[name].shape == reference.shape, name
        error = float(np.abs(got[name] - reference).max())
        assert error < TOLERANCE, f"{name}: max |onnx - torch| = {error:.2e}"
    if expected.flow is not None:
        assert float(np.abs(got["flow"] - expected.flow.numpy()).max()) < TOLERANCE


def _inputs(batch: int, size: int, num_aus: int = 17, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    faces = torch.rand(batch, 3, size, size if width is None else width) * 2 - 1
    return faces, torch.rand(batch, num_aus) * 1.2


@pytest.mark.parametrize("preset", ["official", "replicate", "cyclegan"])
def test_tiny_presets_match_pytorch_at_any_batch_and_size(preset: str, tmp_path: Path) -> None:
    generator = _perturbed(Generator(tiny_generator_config(preset, conv_dim=4)))
    path = generator.export_onnx(tmp_path / "g.onnx")
    session = _session(path)
    _check_parity(generator, session, *_inputs(1, 32))
    _check_parity(generator, session, *_inputs(3, 32))  # exported with batch 1, run with 3
    _check_parity(generator, session, *_inputs(2, 48, width=64))  # another size, not square


def test_the_demos_generator_matches_pytorch(tmp_path: Path) -> None:
    trained = PROJECT_ROOT / "demo_output" / "generator"
    if (trained / "config.json").is_file():  # the model `make demo` trained, when it is there
        generator = Generator.from_pretrained(trained)
    else:  # its architecture, with random weights
        generator = _perturbed(Generator(demo_configs()[0]))
    session = _session(generator.export_onnx(tmp_path / "demo.onnx"))
    _check_parity(generator, session, *_inputs(3, 32))
    _check_parity(generator, session, *_inputs(1, 64))


def test_the_fast_recipes_64px_generator_matches_pytorch(tmp_path: Path) -> None:
    config = fast_networks(64)[0]
    assert config.au_modulation and config.warp_range is not None and config.draw_downsample == 2
    generator = _perturbed(Generator(config))
    path = generator.export_onnx(tmp_path / "fast.onnx")
    session = _session(path)
    assert [o.name for o in session.get_outputs()] == ["image", "attention", "color", "flow"]
    _check_parity(generator, session, *_inputs(1, 64))
    _check_parity(generator, session, *_inputs(3, 64))
    shape = session.get_inputs()[0].shape
    assert shape[1:] == [3, 64, 64] and isinstance(shape[0], str)  # dynamic batch, fixed size (the warp)


@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["official_net_G.pth", "replicate_net_gen.pth"])
def test_the_real_checkpoints_match_pytorch_and_their_recorded_outputs(
    fixtures_dir: Path, name: str, tmp_path: Path
) -> None:
    imported = import_checkpoint(fixtures_dir / "checkpoints" / name)
    generator = imported.model
    assert isinstance(generator, Generator)
    generator.eval()
    session = _session(generator.export_onnx(tmp_path / "g.onnx"))
    io = torch.load(fixtures_dir / "checkpoints" / "io.pt", weights_only=True)
    _check_parity(generator, session, io["images"], io["aus"])
    # and what the original codebase computed for these inputs
    color, attention = session.run(["color", "attention"], {"face": io["images"].numpy(), "aus": io["aus"].numpy()})
    prefix = imported.layout + "."
    assert float(np.abs(attention - io[prefix + "attention"].numpy()).max()) < TOLERANCE
    assert float(np.abs(color - io[prefix + "color"].numpy()).max()) < TOLERANCE


def test_a_fixed_batch_and_size_refuses_other_shapes(tmp_path: Path) -> None:
    generator = _perturbed(Generator(tiny_generator_config(conv_dim=4)))
    session = _session(generator.export_onnx(tmp_path / "g.onnx", dynamic_batch=False, dynamic_size=False))
    assert session.get_inputs()[0].shape == [1, 3, 32, 32]
    _check_parity(generator, session, *_inputs(1, 32))
    with pytest.raises(Exception, match=r"(?i)dimension"):
        session.run(None, {"face": np.zeros((2, 3, 32, 32), np.float32), "aus": np.zeros((2, 17), np.float32)})


def test_a_generator_on_another_dtype_or_in_training_mode_is_exported_as_float32_eval(tmp_path: Path) -> None:
    generator = _perturbed(Generator(tiny_generator_config(conv_dim=4)))
    reference = Generator(generator.config)
    reference.load_state_dict(generator.state_dict())
    generator.double().train()
    session = _session(generator.export_onnx(tmp_path / "g.onnx"))
    assert generator.training and next(generator.parameters()).dtype == torch.float64  # left as it was
    _check_parity(reference.eval(), session, *_inputs(2, 32))


def test_an_image_size_for_the_trace_of_a_warping_generator(tmp_path: Path) -> None:
    config = GeneratorConfig(image_size=32, conv_dim=4, num_residual_blocks=1, warp_range=0.2)
    generator = _perturbed(Generator(config))
    session = _session(generator.export_onnx(tmp_path / "g.onnx", image_size=48))
    assert session.get_inputs()[0].shape[1:] == [3, 48, 48]
    _check_parity(generator, session, *_inputs(2, 48))
