"""save_pretrained / from_pretrained: exact round trips and clear errors for every broken directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from ganimation_lib import Critic, Generator, __version__
from ganimation_lib.aus import AU_NAMES
from ganimation_lib.models.convert import from_pretrained
from ganimation_lib.models.kinds import read_pretrained_info, write_pretrained
from ganimation_lib.models.pretrained import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, save_pretrained
from tests.conftest import tiny_critic_config, tiny_generator_config

PRESETS = ("official", "replicate", "cyclegan")


def _edit_config(directory: Path, edit: dict[str, object], config_edit: dict[str, object] | None = None) -> None:
    path = directory / CONFIG_NAME
    document = json.loads(path.read_text())
    document.update(edit)
    document["config"].update(config_edit or {})
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("preset", PRESETS)
def test_generator_round_trip_is_exact(preset: str, tmp_path: Path) -> None:
    model = Generator(tiny_generator_config(preset)).eval()
    # Perturb the norm parameters too, so that an ignored key could not go unnoticed.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    folder = model.save_pretrained(tmp_path / "g")
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = Generator.from_pretrained(folder)
    assert loaded.config == model.config
    assert not loaded.training
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in loaded.state_dict().values())
    images, aus = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 17)
    with torch.no_grad():
        expected, got = model(images, aus), loaded(images, aus)
    for name in ("image", "color", "attention"):
        assert torch.equal(getattr(expected, name), getattr(got, name)), name


@pytest.mark.parametrize("preset", PRESETS)
def test_critic_round_trip_is_exact(preset: str, tmp_path: Path) -> None:
    model = Critic(tiny_critic_config(preset)).eval()
    folder = save_pretrained(model, tmp_path / "c")
    loaded = Critic.from_pretrained(folder)
    assert loaded.config == model.config
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected, got = model(images), loaded(images)
    assert torch.equal(expected.score, got.score) and torch.equal(expected.aus, got.aus)


def test_generator_with_attention_bias_round_trips(tmp_path: Path) -> None:
    model = Generator(tiny_generator_config("official", attention_bias=3.0))
    loaded = from_pretrained(model.save_pretrained(tmp_path / "g"))
    assert isinstance(loaded, Generator) and loaded.config.attention_bias == 3.0
    assert loaded.attention_head.bias is not None and model.attention_head.bias is not None
    assert torch.equal(loaded.attention_head.bias, model.attention_head.bias)


def test_config_json_records_class_version_and_au_names(tmp_path: Path) -> None:
    Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    document = json.loads((tmp_path / "g" / CONFIG_NAME).read_text())
    assert document["model_class"] == "Generator"
    assert document["library_version"] == __version__
    assert document["au_names"] == list(AU_NAMES)
    assert document["config"]["conv_dim"] == 8
    info = read_pretrained_info(tmp_path / "g")
    assert info.au_names == AU_NAMES and info.model_class == "Generator"


def test_custom_au_names_are_kept_and_reused(tmp_path: Path) -> None:
    names = [f"X{i}" for i in range(5)]
    model = Critic(tiny_critic_config(num_aus=5))
    loaded = Critic.from_pretrained(model.save_pretrained(tmp_path / "a", au_names=names))
    assert loaded.au_names == tuple(names)
    # A loaded model remembers its names and writes them again without being told.
    again = Critic.from_pretrained(loaded.save_pretrained(tmp_path / "b"))
    assert again.au_names == tuple(names)


def test_no_au_names_are_invented_for_a_non_default_au_count(tmp_path: Path) -> None:
    loaded = Critic.from_pretrained(Critic(tiny_critic_config(num_aus=5)).save_pretrained(tmp_path / "c"))
    assert loaded.au_names is None


def test_au_names_of_the_wrong_length_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="au_names has 2 names but the model takes 17"):
        Generator(tiny_generator_config()).save_pretrained(tmp_path / "g", au_names=["AU01", "AU02"])
    assert not (tmp_path / "g").exists()


def test_half_precision_models_are_saved_and_loaded_as_float32(tmp_path: Path) -> None:
    model = Critic(tiny_critic_config()).half()
    loaded = Critic.from_pretrained(model.save_pretrained(tmp_path / "c"))
    for name, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32
        assert torch.equal(tensor, model.state_dict()[name].float())


def test_write_pretrained_from_a_state_dict_is_what_a_trainer_calls(tmp_path: Path) -> None:
    config = tiny_generator_config("replicate")
    model = Generator(config)
    write_pretrained(tmp_path / "g", config, model.state_dict())
    loaded = Generator.from_pretrained(tmp_path / "g")
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)


def test_write_pretrained_refuses_a_state_dict_that_does_not_fit(tmp_path: Path) -> None:
    state = Generator(tiny_generator_config(conv_dim=4)).state_dict()
    with pytest.raises(CheckpointError, match=r"wrong shape: encoder\.0\.conv\.weight is \(4, 20, 7, 7\)"):
        write_pretrained(tmp_path / "g", tiny_generator_config(conv_dim=8), state)
    assert not (tmp_path / "g").exists()


def test_wrappers_are_unwrapped_before_saving(tmp_path: Path) -> None:
    model = Critic(tiny_critic_config())
    compiled: nn.Module = torch.compile(model)  # type: ignore[assignment]
    for i, wrapped in enumerate([nn.DataParallel(model), compiled, nn.DataParallel(compiled)]):
        loaded = Critic.from_pretrained(save_pretrained(wrapped, tmp_path / str(i)))  # type: ignore[arg-type]
        assert set(loaded.state_dict()) == set(model.state_dict())


def test_saving_something_else_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="expects a Generator or a Critic, got Linear"):
        save_pretrained(nn.Linear(2, 2), tmp_path / "x")  # type: ignore[arg-type]


def test_loading_does_not_touch_the_global_rng(tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    before = torch.get_rng_state()
    Generator.from_pretrained(folder)
    assert torch.equal(before, torch.get_rng_state())


def test_overwriting_replaces_weights_and_keeps_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    Generator(tiny_generator_config()).save_pretrained(folder)
    (folder / "README.md").write_text("notes")
    second = Generator(tiny_generator_config())
    second.save_pretrained(folder)
    loaded = Generator.from_pretrained(folder)
    assert torch.equal(loaded.color_head.weight, second.color_head.weight)
    assert (folder / "README.md").read_text() == "notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"], "a temporary directory was left behind"


def test_a_failed_save_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganimation_lib.models.pretrained as pretrained

    def broken_write(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pretrained, "write_new_file", broken_write)
    with pytest.raises(OSError, match="disk full"):
        Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    assert list(tmp_path.iterdir()) == []


def test_saving_onto_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "g").write_text("not a directory")
    with pytest.raises(FileExistsError, match="is not a directory"):
        Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")


def test_loading_the_other_model_class_is_refused(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    with pytest.raises(CheckpointError, match=r"holds a Critic, not a Generator; use Critic.from_pretrained"):
        Generator.from_pretrained(folder)


@pytest.mark.parametrize("missing", [CONFIG_NAME, WEIGHTS_NAME])
def test_a_missing_file_is_named(missing: str, tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    (folder / missing).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{missing} is missing.*save the model again"):
        Generator.from_pretrained(folder)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; pass a directory written by save_pretrained"):
        from_pretrained(tmp_path / "nowhere")


def test_a_file_instead_of_a_directory_points_to_load_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "net_G.pth").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="load_checkpoint"):
        from_pretrained(tmp_path / "net_G.pth")


def test_corrupt_json_is_reported(tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    (folder / CONFIG_NAME).write_text('{"format": "ganimation_lib.pretrained", ')
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        from_pretrained(folder)


def test_a_foreign_json_is_reported(tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    (folder / CONFIG_NAME).write_text('{"_class_name": "UNet2DModel"}')
    with pytest.raises(CheckpointError, match="is not a ganimation_lib model config"):
        from_pretrained(folder)


@pytest.mark.parametrize("damage", ["truncated data", "truncated header", "garbage"])
def test_corrupt_safetensors_is_reported(damage: str, tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    weights = folder / WEIGHTS_NAME
    data = weights.read_bytes()
    damaged = {"truncated data": data[:-100], "truncated header": data[:200], "garbage": b"\x00garbage" * 10}
    weights.write_bytes(damaged[damage])
    with pytest.raises(CheckpointError, match=r"model\.safetensors cannot be read as safetensors.*corrupt"):
        from_pretrained(folder)


def test_a_config_from_a_newer_version_with_unknown_fields_is_refused(tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    _edit_config(folder, {"library_version": "9.0.0"}, {"style_dim": 64})
    with pytest.raises(
        CheckpointError, match=r"no field\(s\) \['style_dim'\].*upgrade.*written by ganimation_lib 9\.0\.0"
    ):
        from_pretrained(folder)


def test_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    _edit_config(folder, {"format_version": 2, "library_version": "2.0.0"})
    with pytest.raises(CheckpointError, match=r"format_version 2.*written by ganimation_lib 2\.0\.0.*upgrade"):
        from_pretrained(folder)


def test_unknown_top_level_entries_are_refused(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    _edit_config(folder, {"ema_decay": 0.999})
    with pytest.raises(CheckpointError, match=r"unknown entries \['ema_decay'\]"):
        from_pretrained(folder)


def test_an_unknown_model_class_is_refused(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    _edit_config(folder, {"model_class": "StyleGAN"})
    with pytest.raises(CheckpointError, match="model_class='StyleGAN'"):
        from_pretrained(folder)


def test_weights_for_another_shape_are_listed_key_by_key(tmp_path: Path) -> None:
    folder = Generator(tiny_generator_config()).save_pretrained(tmp_path / "g")
    _edit_config(folder, {}, {"conv_dim": 16, "num_residual_blocks": 3})
    with pytest.raises(CheckpointError) as caught:
        from_pretrained(folder)
    message = str(caught.value)
    assert r"wrong shape: encoder.0.conv.weight is (8, 20, 7, 7), expected (16, 20, 7, 7)" in message
    assert "missing: bottleneck.2.first.conv.weight" in message
    assert "Error(s) in loading state_dict" not in message  # never PyTorch's raw report


def test_weights_and_config_from_different_saves_are_detected(tmp_path: Path) -> None:
    first = Generator(tiny_generator_config()).save_pretrained(tmp_path / "a")
    second = Generator(tiny_generator_config()).save_pretrained(tmp_path / "b")
    (first / WEIGHTS_NAME).write_bytes((second / WEIGHTS_NAME).read_bytes())
    with pytest.raises(CheckpointError, match="come from different saves"):
        from_pretrained(first)


def test_a_bad_map_location_is_named(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    with pytest.raises(ValueError, match="map_location='gpu0' is not a device"):
        from_pretrained(folder, map_location="gpu0")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_map_location_puts_the_model_on_the_device(tmp_path: Path) -> None:
    folder = Critic(tiny_critic_config()).save_pretrained(tmp_path / "c")
    model = Critic.from_pretrained(folder, map_location="cuda")
    assert all(p.device.type == "cuda" for p in model.parameters())
