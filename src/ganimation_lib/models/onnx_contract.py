"""What an exported generator expects and returns, written into the ONNX file's metadata.

An ONNX file carries a graph and its weights, but not how to feed it: the image range, which AU sits at which
position of the AU vector and on which scale. [`export_onnx`][ganimation_lib.models.onnx_export.export_onnx] writes
that contract into the model's ``metadata_props`` as plain strings (JSON where a value is structured), so a program
in any language can read it with its ONNX runtime (onnxruntime: ``session.get_modelmeta().custom_metadata_map``).
[`OnnxContract`][ganimation_lib.models.onnx_contract.OnnxContract] writes and reads those strings.

The keys (every one starts with ``ganimation.``):

| key | value |
| --- | --- |
| ``contract_version`` | ``"1"`` |
| ``library_version`` | the ``ganimation_lib`` version that exported it |
| ``model_class`` | ``"Generator"`` |
| ``input_names`` | JSON list: ``["face", "aus"]`` |
| ``output_names`` | JSON list: ``["image", "attention", "color"]``, plus ``"flow"`` for a warping generator |
| ``face_range`` | JSON ``[-1.0, 1.0]``: ``face``, ``image`` and ``color``, RGB, (B, 3, H, W) float32 |
| ``au_names`` | JSON list of the AU at each position of ``aus``, or ``null`` when unknown |
| ``au_scale`` | ``"5.0"``: ``aus`` holds OpenFace intensities (0-5) divided by this (0 absent, 1 OpenFace's maximum) |
| ``image_size`` | the side the generator was trained at |
| ``size_multiple`` | H and W must be multiples of this (and at least twice it) |
| ``dynamic_batch``, ``dynamic_size`` | ``"true"``/``"false"``: whether B, and H×W, may differ from the export's |
| ``config`` | the [`GeneratorConfig`][ganimation_lib.models.generator.GeneratorConfig] as JSON |

Examples:
    >>> from ganimation_lib import GeneratorConfig
    >>> contract = OnnxContract.for_generator(GeneratorConfig(image_size=32, conv_dim=8), au_names=None)
    >>> meta = contract.to_metadata()
    >>> meta["ganimation.au_names"][:17], meta["ganimation.au_scale"], meta["ganimation.output_names"]
    ('["AU01", "AU02", ', '5.0', '["image", "attention", "color"]')
    >>> OnnxContract.from_metadata(meta) == contract
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..aus import AU_SCALE
from ..version import __version__
from .config_json import resolve_au_names
from .generator import GeneratorConfig

__all__ = ["CONTRACT_VERSION", "INPUT_NAMES", "METADATA_PREFIX", "OnnxContract", "output_names_for"]

#: The version of the metadata layout below; a reader refuses a newer one.
CONTRACT_VERSION = 1
#: Every metadata key the library writes starts with this.
METADATA_PREFIX = "ganimation."
#: The graph's inputs: the face (B, 3, H, W) in [-1, 1] and the AU vector (B, num_aus), normalised.
INPUT_NAMES: tuple[str, str] = ("face", "aus")


def output_names_for(config: GeneratorConfig) -> tuple[str, ...]:
    """The graph's outputs for a generator built from ``config``: a warping generator also returns its flow.

    Examples:
        >>> output_names_for(GeneratorConfig(warp_range=0.15))
        ('image', 'attention', 'color', 'flow')
    """
    names = ("image", "attention", "color")
    return names if config.warp_range is None else (*names, "flow")


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class OnnxContract:
    """How to feed an exported generator and read what it returns.

    Attributes:
        config: The architecture that was exported.
        au_names: The AU at each position of the ``aus`` input, or ``None`` when the model does not know.
        input_names: The graph's input names, ``("face", "aus")``.
        output_names: The graph's output names, ``("image", "attention", "color")`` (and ``"flow"``).
        face_range: The range of the ``face`` input and of the ``image`` and ``color`` outputs.
        au_scale: ``aus`` holds raw OpenFace intensities (0-5) divided by this; ``edit`` accepts up to twice it.
        size_multiple: H and W must be multiples of it, and at least twice it.
        dynamic_batch: Whether the batch size may differ from the export's (1).
        dynamic_size: Whether H×W may differ from the export's (``config.image_size`` unless chosen).
        library_version: The ``ganimation_lib`` version that exported the file.
    """

    config: GeneratorConfig
    au_names: tuple[str, ...] | None
    input_names: tuple[str, ...] = INPUT_NAMES
    output_names: tuple[str, ...] = ("image", "attention", "color")
    face_range: tuple[float, float] = (-1.0, 1.0)
    au_scale: float = AU_SCALE
    size_multiple: int = 4
    dynamic_batch: bool = True
    dynamic_size: bool = True
    library_version: str = __version__

    @classmethod
    def for_generator(
        cls,
        config: GeneratorConfig,
        *,
        au_names: Sequence[str] | None,
        dynamic_batch: bool = True,
        dynamic_size: bool = True,
    ) -> OnnxContract:
        """The contract of a generator built from ``config`` (``au_names`` ``None``: the 17 OpenFace AUs when the
        generator takes 17, else unknown).

        Raises:
            ValueError: If ``au_names`` does not hold one distinct name per AU.
        """
        return cls(
            config=config,
            au_names=resolve_au_names(au_names, config.num_aus),
            output_names=output_names_for(config),
            size_multiple=2**config.num_downsamplings * config.draw_downsample,
            dynamic_batch=dynamic_batch,
            dynamic_size=dynamic_size,
        )

    def to_metadata(self) -> dict[str, str]:
        """The ``metadata_props`` entries, key to string value."""
        values: dict[str, str] = {
            "contract_version": str(CONTRACT_VERSION),
            "library_version": self.library_version,
            "model_class": "Generator",
            "input_names": json.dumps(list(self.input_names)),
            "output_names": json.dumps(list(self.output_names)),
            "face_range": json.dumps(list(self.face_range)),
            "au_names": json.dumps(None if self.au_names is None else list(self.au_names)),
            "au_scale": repr(float(self.au_scale)),
            "image_size": str(self.config.image_size),
            "size_multiple": str(self.size_multiple),
            "dynamic_batch": _flag(self.dynamic_batch),
            "dynamic_size": _flag(self.dynamic_size),
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
        }
        return {METADATA_PREFIX + key: value for key, value in values.items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> OnnxContract:
        """Read a contract back from an ONNX file's metadata (e.g. onnxruntime's ``custom_metadata_map``).

        Raises:
            ValueError: If the metadata holds no contract (the file was not exported by this library), a newer
                one, or a value that does not parse; the message names the key.
        """
        key = METADATA_PREFIX + "contract_version"
        if key not in metadata:
            raise ValueError(
                f"the ONNX metadata has no {key!r}: the file was not exported by ganimation_lib "
                "(export it with `ganimation export MODEL out.onnx`)"
            )

        def value(name: str) -> Any:
            text = metadata.get(METADATA_PREFIX + name)
            if text is None:
                raise ValueError(f"the ONNX metadata lacks {METADATA_PREFIX + name!r}; export the model again")
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(
                    f"the ONNX metadata's {METADATA_PREFIX + name!r} is not valid: {text[:80]!r}"
                ) from None

        version = value("contract_version")
        if not isinstance(version, int) or version > CONTRACT_VERSION:
            raise ValueError(
                f"the ONNX file's contract version {version!r} is newer than this library's ({CONTRACT_VERSION}); "
                "upgrade ganimation_lib"
            )
        names = value("au_names")
        return cls(
            config=GeneratorConfig.from_dict(value("config")),
            au_names=None if names is None else tuple(names),
            input_names=tuple(value("input_names")),
            output_names=tuple(value("output_names")),
            face_range=(float(value("face_range")[0]), float(value("face_range")[1])),
            au_scale=float(value("au_scale")),
            size_multiple=int(value("size_multiple")),
            dynamic_batch=value("dynamic_batch") is True,
            dynamic_size=value("dynamic_size") is True,
            library_version=metadata.get(METADATA_PREFIX + "library_version", "unknown"),
        )
