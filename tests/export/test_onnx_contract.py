"""The exported file says how to use it (metadata), and the export's errors say what to fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from ganimation_lib import AU_NAMES, Critic, Generator, __version__
from ganimation_lib.models.onnx_contract import METADATA_PREFIX, OnnxContract
from ganimation_lib.models.onnx_export import ONNX_INSTALL_HINT, OnnxExtraMissingError, export_onnx
from tests.conftest import tiny_critic_config, tiny_generator_config

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _metadata(path: Path) -> dict[str, str]:
    return {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}


def test_the_metadata_holds_the_contract(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config(conv_dim=4))
    meta = _metadata(generator.export_onnx(tmp_path / "g.onnx"))
    assert json.loads(meta["ganimation.face_range"]) == [-1.0, 1.0]
    assert json.loads(meta["ganimation.au_names"]) == list(AU_NAMES)
    assert float(meta["ganimation.au_scale"]) == 5.0
    assert json.loads(meta["ganimation.input_names"]) == ["face", "aus"]
    assert json.loads(meta["ganimation.output_names"]) == ["image", "attention", "color"]
    assert meta["ganimation.library_version"] == __version__
    assert json.loads(meta["ganimation.config"]) == generator.config.to_dict()
    assert meta["ganimation.size_multiple"] == "4" and meta["ganimation.image_size"] == "32"
    assert meta["ganimation.dynamic_batch"] == meta["ganimation.dynamic_size"] == "true"
    assert all(key.startswith(METADATA_PREFIX) for key in meta)
    contract = OnnxContract.from_metadata(meta)
    assert contract.config == generator.config and contract.au_names == AU_NAMES


def test_onnxruntime_reads_the_same_contract(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config(conv_dim=4, num_aus=3))
    path = generator.export_onnx(tmp_path / "g.onnx", au_names=["AU06", "AU12", "AU25"], dynamic_batch=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    contract = OnnxContract.from_metadata(session.get_modelmeta().custom_metadata_map)
    assert contract.au_names == ("AU06", "AU12", "AU25")
    assert not contract.dynamic_batch and contract.dynamic_size
    assert [i.name for i in session.get_inputs()] == list(contract.input_names)


def test_au_names_come_from_the_saved_model_and_unknown_ones_are_null(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config(conv_dim=4, num_aus=2))
    assert json.loads(_metadata(generator.export_onnx(tmp_path / "a.onnx"))["ganimation.au_names"]) is None
    folder = generator.save_pretrained(tmp_path / "saved", au_names=["AU12", "AU26"])
    loaded = Generator.from_pretrained(folder)
    assert json.loads(_metadata(loaded.export_onnx(tmp_path / "b.onnx"))["ganimation.au_names"]) == ["AU12", "AU26"]
    with pytest.raises(ValueError, match="2 AUs"):
        loaded.export_onnx(tmp_path / "c.onnx", au_names=["AU12"])


def test_a_warping_generator_records_its_flow_output_and_fixed_size(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config(conv_dim=4, warp_range=0.1))
    contract = OnnxContract.from_metadata(_metadata(generator.export_onnx(tmp_path / "g.onnx")))
    assert contract.output_names == ("image", "attention", "color", "flow")
    assert contract.dynamic_batch and not contract.dynamic_size
    with pytest.raises(ValueError, match="warp_range"):
        generator.export_onnx(tmp_path / "h.onnx", dynamic_size=True)


def test_metadata_from_another_exporter_or_a_newer_library_is_refused() -> None:
    with pytest.raises(ValueError, match="not exported by ganimation_lib"):
        OnnxContract.from_metadata({})
    meta = OnnxContract.for_generator(tiny_generator_config(), au_names=None).to_metadata()
    with pytest.raises(ValueError, match="upgrade ganimation_lib"):
        OnnxContract.from_metadata({**meta, "ganimation.contract_version": "99"})
    with pytest.raises(ValueError, match=r"ganimation\.config"):
        OnnxContract.from_metadata({**meta, "ganimation.config": "{not json"})


@pytest.mark.parametrize(
    ("name", "match"),
    [("g.pt", "must end with .onnx"), ("folder", "is a folder"), ("file.txt/g.onnx", "is a file, not a folder")],
)
def test_bad_output_paths_are_refused_before_exporting(tmp_path: Path, name: str, match: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "file.txt").write_text("x")
    generator = Generator(tiny_generator_config(conv_dim=4))
    target = tmp_path / ("folder.onnx" if name == "folder" else name)
    with pytest.raises(ValueError, match=match):
        generator.export_onnx(target)


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "g.onnx"
    generator = Generator(tiny_generator_config(conv_dim=4))
    assert export_onnx(generator, target) == target  # the folder is created
    with pytest.raises(FileExistsError, match="overwrite"):
        export_onnx(generator, target, overwrite=False)
    assert sorted(p.name for p in target.parent.iterdir()) == ["g.onnx"]  # no temporary left behind


def test_only_generators_and_known_opsets_are_exported(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="exports a Generator, got Critic"):
        export_onnx(Critic(tiny_critic_config()), tmp_path / "c.onnx")  # type: ignore[arg-type]
    generator = Generator(tiny_generator_config(conv_dim=4))
    with pytest.raises(ValueError, match="opset=17"):
        generator.export_onnx(tmp_path / "g.onnx", opset=17)
    with pytest.raises(ValueError, match="image_size=30"):
        generator.export_onnx(tmp_path / "g.onnx", image_size=30)


def test_without_the_extra_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # None in sys.modules blocks the import
    with pytest.raises(OnnxExtraMissingError) as raised:
        Generator(tiny_generator_config(conv_dim=4)).export_onnx(tmp_path / "g.onnx")
    assert isinstance(raised.value, ImportError)
    assert ONNX_INSTALL_HINT == "pip install 'ganimation_lib[onnx]'" and ONNX_INSTALL_HINT in str(raised.value)
    assert "onnxscript" in str(raised.value)
    assert not (tmp_path / "g.onnx").exists()


def test_a_wrapped_generator_is_unwrapped(tmp_path: Path) -> None:
    generator = Generator(tiny_generator_config(conv_dim=4)).eval()
    path = export_onnx(torch.nn.DataParallel(generator), tmp_path / "g.onnx")  # type: ignore[arg-type]
    assert path.is_file()
