"""The public API is a promise: this test fails when a public name disappears."""

from __future__ import annotations

import ganimation_lib

# Every name users may import from the top-level package. Add to it when the API grows; removing a name
# is a breaking change.
EXPECTED_PUBLIC_NAMES = {
    "XK",
    "Critic",
    "CriticConfig",
    "CriticOutput",
    "Discriminator",
    "Generator",
    "GeneratorConfig",
    "GeneratorOutput",
    "LossWeights",
    "Residual",
    "__version__",
    "AUDataset",
    "AUSample",
    "AU_NAMES",
    "SyntheticFaces",
    "aus_for",
    "load_checkpoint",
    "edit",
    "animate",
    "Callback",
    "Trainer",
    "TrainerConfig",
    "AURegressor",
    "AURegressorConfig",
    "EvaluationReport",
    "evaluate",
    "train_au_regressor",
}


def test_every_promised_name_is_exported() -> None:
    missing = EXPECTED_PUBLIC_NAMES - set(ganimation_lib.__all__)
    assert not missing, f"public names disappeared from ganimation_lib.__all__: {sorted(missing)}"
    for name in EXPECTED_PUBLIC_NAMES:
        assert hasattr(ganimation_lib, name), name


def test_all_is_sorted_and_resolves() -> None:
    names = list(ganimation_lib.__all__)
    assert names == sorted(names), "keep __all__ sorted"
    assert len(names) == len(set(names)), "duplicate names in __all__"
    for name in names:
        assert getattr(ganimation_lib, name) is not None


def test_discriminator_is_the_critic() -> None:
    assert ganimation_lib.Discriminator is ganimation_lib.Critic


def test_version_is_a_release_string() -> None:
    parts = ganimation_lib.__version__.split(".")
    assert len(parts) >= 3 and all(p.isdigit() for p in parts[:3])


def test_losses_module_exports() -> None:
    from ganimation_lib import losses

    for name in (
        "attention_saturation_loss",
        "attention_smoothness_loss",
        "cycle_loss",
        "expression_loss",
        "gradient_penalty",
        "wgan_critic_loss",
        "wgan_generator_loss",
        "LossWeights",
    ):
        assert name in losses.__all__ and callable(getattr(losses, name)), name


def test_evaluation_module_exports() -> None:
    from ganimation_lib import evaluation

    for name in ("AURegressor", "EvaluationReport", "evaluate", "train_au_regressor", "write_evaluation"):
        assert name in evaluation.__all__ and getattr(evaluation, name) is not None, name


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("ganimation_lib").joinpath("py.typed").is_file()


def test_faces_module_exports() -> None:
    from ganimation_lib import faces, inference

    for name in (
        "CANONICAL_FACE",
        "CanonicalFace",
        "DlibFaceFinder",
        "Face",
        "FaceFinder",
        "FacesExtraMissingError",
        "NoFaceFoundError",
        "SimilarityTransform",
        "alignment_transform",
        "crop_face",
        "draw_faces",
        "estimate_similarity",
        "paste_face",
        "select_faces",
    ):
        assert name in faces.__all__ and getattr(faces, name) is not None, name
    assert "paste_results" in inference.__all__


def test_onnx_export_names() -> None:
    from ganimation_lib import Generator, models

    for name in ("OnnxContract", "OnnxExtraMissingError", "export_onnx"):
        assert name in models.__all__ and getattr(models, name) is not None, name
    assert callable(Generator.export_onnx)
