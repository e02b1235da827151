"""``ganimation edit`` and ``ganimation animate`` end to end on a tiny saved model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from ganimation_lib import Generator
from ganimation_lib.cli import main
from tests.conftest import tiny_generator_config


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return Generator(tiny_generator_config()).save_pretrained(tmp_path / "model")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    array = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(array).save(path)
    return path


def test_edit_with_a_preset_and_a_box(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    out, view = tmp_path / "out.png", tmp_path / "view.png"
    argv = [
        "edit", str(model_dir), str(photo), "--expression", "happy", "--intensity", "0.8",
        "--box", "20,10,50,40", "-o", str(out), "--side-by-side", str(view), "--device", "cpu",
    ]  # fmt: skip
    assert main(argv) == 0
    original, edited = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    assert edited.shape == original.shape
    assert np.array_equal(edited[:, 50:], original[:, 50:]) and np.array_equal(edited[:10], original[:10])
    assert not np.array_equal(edited, original)
    assert Image.open(view).size == (4 * 256 + 3 * 4, 256)


def test_edit_runs_the_generator_once_and_matches_the_library(
    model_dir: Path, photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ganimation_lib.inference import edit

    calls: list[int] = []
    forward = Generator.forward

    def counting(self: Generator, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return forward(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Generator, "forward", counting)
    out, view = tmp_path / "out.png", tmp_path / "view.png"
    argv = ["edit", str(model_dir), str(photo), "--expression", "sad", "--box", "20.6,10,50,40", "--device", "cpu"]
    assert main([*argv, "-o", str(out), "--side-by-side", str(view)]) == 0
    assert len(calls) == 1  # the side-by-side view reuses the edit's maps
    expected = edit(Generator.from_pretrained(model_dir), Image.open(photo), "sad", box=(20.6, 10, 50, 40))
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))


def test_edit_with_au_values_from_a_checkpoint_file(photo: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "net_G.pth"
    torch.save(Generator(tiny_generator_config()).state_dict(), checkpoint)
    out = tmp_path / "out.jpg"
    argv = ["edit", str(checkpoint), str(photo), "--au", "AU12=3.5", "--au", "AU06=2,AU25=1", "--image-size", "32"]
    assert main([*argv, "--whole-image", "-o", str(out)]) == 0
    assert Image.open(out).size == (80, 60)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "say what to change"),
        (["--au", "AU99=1"], "AU99 is not in this AU layout"),
        (["--au", "smile=1"], "not an AU name"),
        (["--expression", "happy", "--box", "200,200,300,300"], "lies outside the 80x60 image"),
        (["--expression", "happy", "--box", "1,2,3"], "LEFT,TOP,RIGHT,BOTTOM"),
        (["--expression", "happy", "--source-au", "AU06=1"], "--source-au has no effect with --expression"),
        (["--au", "AU12=3", "--intensity", "0.5"], "--intensity scales an --expression preset"),
        (["--expression", "happy", "--box", "0,0,inf,40"], "LEFT,TOP,RIGHT,BOTTOM"),  # was an OverflowError
        (["--expression", "happy", "--box", "0,0,nan,40"], "LEFT,TOP,RIGHT,BOTTOM"),
    ],
)
def test_edit_errors_are_reported_not_raised(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["edit", str(model_dir), str(photo), *extra, "-o", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_edit_refuses_a_model_with_another_number_of_aus(
    photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Generator(tiny_generator_config(num_aus=5)).save_pretrained(tmp_path / "five", au_names=None)
    assert main(["edit", str(model), str(photo), "--expression", "happy", "-o", str(tmp_path / "x.png")]) == 2
    assert "built for 5 AUs" in capsys.readouterr().err


def test_expression_with_au_overrides_uses_the_models_au_layout(photo: Path, tmp_path: Path) -> None:
    # The preset was resolved in the 17-AU layout before it met the model, so a 5-AU model refused it.
    from ganimation_lib.inference import edit

    names = ("AU01", "AU04", "AU06", "AU12", "AU25")
    model = Generator(tiny_generator_config(num_aus=5)).save_pretrained(tmp_path / "five", au_names=names)
    out = tmp_path / "x.png"
    argv = ["edit", str(model), str(photo), "--expression", "happy", "--intensity", "0.5", "--au", "AU12=4"]
    assert main([*argv, "--whole-image", "-o", str(out)]) == 0
    generator = Generator.from_pretrained(model)
    expected = edit(generator, Image.open(photo), [0.0, 0.0, 0.25, 0.8, 0.15])  # happy x 0.5, then AU12 = 4 / 5
    assert np.abs(np.asarray(Image.open(out)).astype(int) - np.asarray(expected).astype(int)).max() <= 1


def test_unknown_preset_is_an_argparse_error(model_dir: Path, photo: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["edit", str(model_dir), str(photo), "--expression", "jolly", "-o", "x.png"])
    assert exit_info.value.code == 2


def test_animate_keyframes_to_gif(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gif"
    argv = ["animate", str(model_dir), str(photo), "--keyframes", "neutral,happy:0.8,surprise", "--frames", "3"]
    assert main([*argv, "--easing", "ease", "--box", "10,5,60,55", "--quiet", "-o", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 2 * 3 + 1 and gif.size == (80, 60)


def test_animate_drive_to_png_frames(model_dir: Path, photo: Path, fixtures_dir: Path, tmp_path: Path) -> None:
    drive = fixtures_dir / "attributes_txt" / "attributes.txt"
    out = tmp_path / "frames"
    argv = ["animate", str(model_dir), str(photo), "--drive", str(drive), "--smooth", "3", "--whole-image"]
    assert main([*argv, "-o", str(out)]) == 0
    assert len(list(out.glob("frame_*.png"))) == 41


def test_animate_errors(model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["animate", str(model_dir), str(photo)]
    assert main([*base, "--keyframes", "happy,jolly", "-o", str(tmp_path / "a.gif")]) == 2
    assert "unknown expression 'jolly'" in capsys.readouterr().err
    assert main([*base, "--drive", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "a.gif")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--keyframes", "happy", "-o", str(tmp_path / "a.avi")]) == 2
    assert ".gif or .mp4" in capsys.readouterr().err
    (tmp_path / "drive.txt").write_text("1.jpg " + " ".join(["1"] * 17) + "\n")
    assert main([*base, "--drive", str(tmp_path / "drive.txt"), "--easing", "ease", "-o", str(tmp_path / "a.gif")]) == 2
    assert "--easing shape keyframe animations" in capsys.readouterr().err  # was silently ignored
    with pytest.raises(SystemExit):
        main([*base, "-o", str(tmp_path / "a.gif")])  # neither --keyframes nor --drive


def test_animate_mp4_without_pyav(
    model_dir: Path, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed: importing it fails
    argv = ["animate", str(model_dir), str(photo), "--keyframes", "happy,sad", "-o", str(tmp_path / "a.mp4")]
    assert main(argv) == 2
    assert "pip install 'ganimation_lib[video]'" in capsys.readouterr().err


def test_edit_uses_the_ema_weights_of_a_training_checkpoint(photo: Path, tmp_path: Path) -> None:
    from ganimation_lib import AUSample, Trainer, TrainerConfig
    from ganimation_lib.inference import edit
    from tests.conftest import tiny_critic_config

    data = [AUSample(torch.rand(3, 32, 32) * 2 - 1, torch.rand(17), torch.rand(17), "", f"{i}") for i in range(4)]
    config = TrainerConfig(batch_size=2, n_critic=1, max_steps=2, device="cpu", ema_decay=0.5, checkpoint_every=0)
    trainer = Trainer(
        generator=tiny_generator_config(),
        critic=tiny_critic_config(),
        config=config,
        output_dir=tmp_path / "run",
        progress=False,
    )
    trainer.fit(data)
    (checkpoint,) = (tmp_path / "run" / "checkpoints").glob("*.pt")
    out = tmp_path / "out.png"
    assert (
        main(
            [
                "edit",
                str(checkpoint),
                str(photo),
                "--expression",
                "happy",
                "--image-size",
                "32",
                "--whole-image",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert trainer.ema is not None
    expected = edit(trainer.ema.shadow, Image.open(photo), "happy")
    raw = edit(trainer.generator, Image.open(photo), "happy")
    edited = np.asarray(Image.open(out)).astype(int)
    assert np.abs(edited - np.asarray(expected).astype(int)).max() <= 1
    assert np.abs(edited - np.asarray(raw).astype(int)).max() > 1  # the raw weights would give another image


def test_edit_applies_the_exif_orientation_of_a_camera_photo(model_dir: Path, photo: Path, tmp_path: Path) -> None:
    # Orientation 6: stored 80x60, shown (and boxed by the user) as 60x80, rotated 90 degrees clockwise.
    rotated = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.open(photo).save(rotated, exif=exif, quality=100)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(rotated)))
    out = tmp_path / "out.png"
    argv = ["edit", str(model_dir), str(rotated), "--expression", "happy", "--box", "10,20,50,60", "--device", "cpu"]
    assert main([*argv, "-o", str(out)]) == 0
    edited = np.asarray(Image.open(out))
    assert edited.shape == shown.shape == (80, 60, 3)
    assert np.array_equal(edited[60:], shown[60:]) and np.array_equal(edited[:, 50:], shown[:, 50:])
