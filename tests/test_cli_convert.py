"""``ganimation convert``: the command-line face of load_checkpoint + save_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganimation_lib import Critic, Generator
from ganimation_lib.cli import main
from ganimation_lib.models.pretrained import CONFIG_NAME, WEIGHTS_NAME
from tests.conftest import tiny_critic_config, tiny_generator_config


@pytest.mark.fixtures
def test_convert_the_official_generator(fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = fixtures_dir / "checkpoints" / "official_net_G_legacy_dataparallel.pth"
    assert main(["convert", str(src), str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "official generator" in out and "'module.' prefix" in out and "assumed 128" in out
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    model = Generator.from_pretrained(tmp_path / "g")
    assert model.config.conv_dim == 16 and model.config.num_residual_blocks == 6
    io = torch.load(fixtures_dir / "checkpoints" / "io.pt", weights_only=True)
    with torch.no_grad():
        attention = model(io["images"], io["aus"]).attention
    torch.testing.assert_close(attention, io["official.attention"], atol=1e-5, rtol=0)


@pytest.mark.fixtures
def test_convert_the_replicate_critic(fixtures_dir: Path, tmp_path: Path) -> None:
    src = fixtures_dir / "checkpoints" / "replicate_net_dis.pth"
    assert main(["convert", str(src), str(tmp_path / "d"), "--kind", "critic", "--quiet"]) == 0
    assert Critic.from_pretrained(tmp_path / "d").config.image_size == 128


def test_image_size_and_au_names_options(tmp_path: Path) -> None:
    model = Generator(tiny_generator_config(num_aus=3))
    torch.save(model.state_dict(), tmp_path / "g.pth")
    argv = ["convert", str(tmp_path / "g.pth"), str(tmp_path / "out"), "--image-size", "32"]
    assert main([*argv, "--au-names", "AU06, AU12,AU25", "--quiet"]) == 0
    loaded = Generator.from_pretrained(tmp_path / "out")
    assert loaded.config == model.config and loaded.au_names == ("AU06", "AU12", "AU25")


def test_an_existing_destination_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(Critic(tiny_critic_config()).state_dict(), tmp_path / "d.pth")
    assert main(["convert", str(tmp_path / "d.pth"), str(tmp_path / "out"), "--quiet"]) == 0
    assert main(["convert", str(tmp_path / "d.pth"), str(tmp_path / "out"), "--quiet"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "d.pth"), str(tmp_path / "out"), "--quiet", "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"not a checkpoint", "is not a readable PyTorch checkpoint")],
)
def test_errors_are_one_line_and_exit_2(
    content: bytes | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if content is not None:
        (tmp_path / "x.pth").write_bytes(content)
    assert main(["convert", str(tmp_path / "x.pth"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganimation convert: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_convert_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "convert" in capsys.readouterr().out
