"""The editor's model logic without Gradio: slider values → AU vector → the edited photo, its maps, a GIF."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganimation_lib import Generator, GeneratorConfig
from ganimation_lib.app.controls import au_argument, au_vector, preset_values
from ganimation_lib.app.editor import BOX, FIND_FACES, WHOLE_IMAGE, Editor, parse_face_box
from ganimation_lib.aus import AU_NAMES
from ganimation_lib.cli import main
from ganimation_lib.faces import Face, FacesExtraMissingError, NoFaceFoundError
from ganimation_lib.inference import edit

HAPPY = preset_values("happy", 1.0, AU_NAMES)
NEUTRAL = [0.0] * len(AU_NAMES)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _photo(size: tuple[int, int] = (80, 60)) -> Image.Image:
    generator = torch.Generator().manual_seed(1)
    array = (torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy()
    return Image.fromarray(array)


def test_the_result_is_the_librarys_own_edit(generator: Generator, face_png: Path) -> None:
    editor = Editor(generator, finder=None)
    views = editor.views(face_png, HAPPY, WHOLE_IMAGE)
    with Image.open(face_png) as image:
        expected = edit(generator, image.convert("RGB"), au_vector(HAPPY, AU_NAMES))
    assert views.result.size == (64, 64) and views.faces == 1
    assert np.array_equal(_pixels(views.result), _pixels(expected))


def test_moving_a_slider_changes_the_picture_and_the_maps(generator: Generator, face_png: Path) -> None:
    editor = Editor(generator, finder=None)
    neutral = editor.views(face_png, NEUTRAL, WHOLE_IMAGE)
    happy = editor.views(face_png, HAPPY, WHOLE_IMAGE)
    assert np.abs(_pixels(neutral.result) - _pixels(happy.result)).max() > 0
    assert np.abs(_pixels(neutral.attention) - _pixels(happy.attention)).max() > 0
    assert min(happy.attention.size) >= 256 and happy.attention.size == happy.colour.size  # scaled up to be seen


def test_the_au_text_gives_the_same_picture_on_the_command_line(
    generator: Generator, saved_model: Path, face_png: Path, tmp_path: Path
) -> None:
    values = preset_values("surprise", 0.8, AU_NAMES)
    in_page = Editor(generator, finder=None).views(face_png, values, WHOLE_IMAGE).result
    out = tmp_path / "out.png"
    argv = ["edit", str(saved_model), str(face_png), *shlex.split(au_argument(values, AU_NAMES))]
    assert main([*argv, "--whole-image", "-o", str(out), "--device", "cpu"]) == 0
    with Image.open(out) as written:
        assert np.array_equal(_pixels(written), _pixels(in_page))


def test_a_box_edits_inside_it_only(generator: Generator) -> None:
    photo = _photo()
    views = Editor(generator, finder=None).views(photo, HAPPY, BOX, "10,5,40,35")
    changed = np.abs(_pixels(views.result) - _pixels(photo)).max(axis=2) > 0
    assert changed[5:35, 10:40].any()
    changed[5:35, 10:40] = False
    assert not changed.any()


BAD_BOXES = [("", "type the face box"), ("1,2,3", "four pixel numbers"), ("a,b,c,d", "four pixel numbers"),
             ("40,5,10,35", "RIGHT must be")]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_BOXES)
def test_a_bad_box_is_said_plainly(generator: Generator, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Editor(generator, finder=None).views(_photo(), HAPPY, BOX, text)


def test_parse_face_box_rounds_like_the_command_line() -> None:
    assert parse_face_box("10.4, 20.6 ,30,40") == (10, 21, 30, 40)


def _face() -> Face:
    return Face(
        box=(20.0, 10.0, 60.0, 50.0),
        confidence=1.0,
        landmarks=((32.0, 25.0), (48.0, 25.0), (40.0, 33.0), (33.0, 41.0), (47.0, 41.0)),
    )


class CountingFinder:
    """A face finder that returns fixed faces and counts its calls."""

    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces
        self.calls = 0

    def __call__(self, image: Image.Image) -> list[Face]:
        self.calls += 1
        return list(self.faces)


def test_faces_are_found_once_per_photo_not_once_per_slider_move(
    generator: Generator, face_png: Path, tmp_path: Path
) -> None:
    finder = CountingFinder([_face()])
    editor = Editor(generator, finder=finder)
    assert editor.face_modes == (FIND_FACES, WHOLE_IMAGE, BOX)
    first = editor.views(face_png, HAPPY, FIND_FACES)
    second = editor.views(face_png, NEUTRAL, FIND_FACES)
    assert finder.calls == 1 and first.faces == second.faces == 1
    assert np.abs(_pixels(first.result) - _pixels(second.result)).max() > 0
    other = tmp_path / "other.png"
    _photo((64, 64)).save(other)
    editor.views(other, HAPPY, FIND_FACES)
    assert finder.calls == 2


def test_no_face_found_says_what_to_do(generator: Generator, face_png: Path) -> None:
    editor = Editor(generator, finder=CountingFinder([]))
    with pytest.raises(NoFaceFoundError, match="the 64x64 image"):
        editor.views(face_png, HAPPY, FIND_FACES)


def test_without_a_finder_only_the_whole_image_and_a_box_are_offered(generator: Generator, face_png: Path) -> None:
    editor = Editor(generator, finder=None)
    assert editor.face_modes == (WHOLE_IMAGE, BOX)
    with pytest.raises(FacesExtraMissingError, match=r"ganimation_lib\[faces\]"):
        editor.views(face_png, HAPPY, FIND_FACES)
    with pytest.raises(ValueError, match="unknown face mode"):
        editor.views(face_png, HAPPY, "every face")


def test_a_file_that_is_not_an_image_is_named(generator: Generator, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    with pytest.raises(ValueError, match=r"notes\.png"):
        Editor(generator, finder=None).views(fake, HAPPY, WHOLE_IMAGE)


def test_the_animation_goes_from_neutral_to_the_sliders(generator: Generator, face_png: Path, tmp_path: Path) -> None:
    editor = Editor(generator, finder=None)
    path = editor.animation(face_png, HAPPY, WHOLE_IMAGE, "", tmp_path / "a.gif", frames=4)
    with Image.open(path) as gif:
        assert gif.size == (64, 64) and gif.n_frames > 1
        gif.seek(0)
        first = _pixels(gif.copy())
        gif.seek(gif.n_frames - 1)
        last = _pixels(gif.copy())
    neutral = _pixels(editor.views(face_png, NEUTRAL, WHOLE_IMAGE).result)
    happy = _pixels(editor.views(face_png, HAPPY, WHOLE_IMAGE).result)
    # A GIF has a 256-colour palette: each end frame is close to its edit, and nearer to it than to the other end.
    assert np.abs(first - neutral).mean() < np.abs(first - happy).mean()
    assert np.abs(last - happy).mean() < np.abs(last - neutral).mean()


def test_a_model_whose_aus_have_no_names_is_refused() -> None:
    five = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0, num_aus=5))
    with pytest.raises(ValueError, match="takes 5 AUs"):
        Editor(five, finder=None)


def test_a_model_with_recorded_au_names_gets_those_sliders(tmp_path: Path) -> None:
    two = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0, num_aus=2))
    two.save_pretrained(tmp_path / "g", au_names=["AU06", "AU12"])
    editor = Editor(Generator.from_pretrained(tmp_path / "g"), finder=None)
    assert editor.au_names == ("AU06", "AU12")
    assert editor.views(_photo(), [2.5, 3.5], WHOLE_IMAGE).result.size == (80, 60)


@pytest.mark.fixtures
def test_find_faces_edits_the_face_of_a_real_photo_and_leaves_the_corners(
    generator: Generator, fixtures_dir: Path
) -> None:
    pytest.importorskip("dlib", reason="the faces extra is not installed")
    photo = fixtures_dir / "photos" / "single_face.jpg"
    editor = Editor(generator)  # the built-in finder
    assert FIND_FACES in editor.face_modes
    views = editor.views(photo, HAPPY, FIND_FACES)
    with Image.open(photo) as image:
        original = _pixels(image)
    changed = np.abs(_pixels(views.result) - original).max(axis=2) > 0
    assert views.faces == 1 and changed.any()
    assert not changed[:20, :20].any() and not changed[-20:, -20:].any()
