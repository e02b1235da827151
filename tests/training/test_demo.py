"""The demo end to end at a few iterations (the full demo is measured in docs/training.md)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.demo import CachedFaces, preset_table
from ganimation_lib.models.convert import from_pretrained


def test_demo_writes_grid_gif_and_generator(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--steps", "2", "--threads", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "start: true_error" in printed and "end:   true_error" in printed and str(out / "animation.gif") in printed
    gif = Image.open(out / "animation.gif")
    assert gif.n_frames > 10
    assert Image.open(out / "grid.png").size[0] > Image.open(out / "grid.png").size[1]
    assert (out / "comparison.png").is_file()
    # The strip: the six keyframes and the five halfway frames (4x-enlarged 32 px frames, 2 px padding),
    # under a white header that names them.
    strip = Image.open(out / "animation_strip.png").convert("RGB")
    assert strip.size[0] == 11 * (128 + 2) + 2
    assert strip.size[1] > 128 + 2 * 2
    header = strip.crop((0, 0, strip.size[0], strip.size[1] - 128 - 4))
    assert min(header.getextrema()[0]) < 128  # dark label text in the header, not only white padding
    assert from_pretrained(out / "generator").config.attention_bias == 3.0


def test_cached_faces_keep_the_renderer_truth() -> None:
    faces = SyntheticFaces(num_identities=2, items_per_identity=2, image_size=32)
    cached = CachedFaces(faces, preset_table(len(faces), seed=0))
    item = cached[1]
    assert item.image.shape == (3, 32, 32)
    truth = cached.render_tensor(cached.identity_of(1), item.aus)
    assert (truth - item.image).abs().max() == 0
