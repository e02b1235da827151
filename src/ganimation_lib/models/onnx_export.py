"""Export a generator to ONNX, to run it without Python or PyTorch (onnxruntime, C++, mobile, the browser).

The graph takes ``face`` (B, 3, H, W) in [-1, 1] and ``aus`` (B, num_aus) on the normalised scale (OpenFace
intensity / 5) and returns ``image``, ``attention`` and ``color`` (and ``flow``, the warp field, for a generator
with ``GeneratorConfig.warp_range``): the fields of
[`GeneratorOutput`][ganimation_lib.models.generator.GeneratorOutput]. What to feed it is written into the file's
metadata ([`OnnxContract`][ganimation_lib.models.onnx_contract.OnnxContract]).

**Exporter.** PyTorch's ``torch.export``-based exporter (``dynamo=True``, which needs ``onnxscript``), at opset
`DEFAULT_OPSET` (18). Measured with torch 2.14 and onnxruntime
1.32: the older TorchScript exporter (``dynamo=False``) is deprecated ("will be removed") and cannot export the
anti-aliased reduction of ``draw_downsample`` (``aten::_upsample_bilinear2d_aa``, at any opset), which the fast
recipe's generators use from 64 px up; the new one exports every kind (official, replicate, cyclegan, FiLM
``au_modulation``, the ``warp_range`` flow through ``GridSample``, ``draw_downsample`` through ``Resize`` with
``antialias``, which exists from opset 18: asking for 17 silently gave an opset 18 file for the fast generator,
so 18 is also the lowest accepted). The graph holds no input checks: the generator's check for NaN AUs reads
tensor values, which a graph cannot, so a NaN in ``aus`` gives a NaN image; check inputs before running it.

**Sizes.** The batch axis is dynamic by default. H and W are dynamic (multiples of
``2**num_downsamplings × draw_downsample``, named like ``4*h`` in the graph) for every generator without a warp;
with ``warp_range`` the exporter fixes the identity grid of ``affine_grid`` at the traced size, so the image size
is fixed (``image_size``, default the config's).

It needs the optional extra ``pip install 'ganimation_lib[onnx]'`` (onnx, onnxscript and onnxruntime); without it
[`OnnxExtraMissingError`][ganimation_lib.models.onnx_export.OnnxExtraMissingError] says so.

Examples:
    >>> import tempfile, onnxruntime, numpy as np
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> g = Generator(GeneratorConfig(image_size=32, conv_dim=4, num_residual_blocks=1))
    >>> path = export_onnx(g, tempfile.mkdtemp() + "/generator.onnx")
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> face, aus = np.zeros((3, 3, 64, 32), np.float32), np.full((3, 17), 0.2, np.float32)
    >>> image, attention, color = session.run(None, {"face": face, "aus": aus})
    >>> image.shape, attention.shape
    ((3, 3, 64, 32), (3, 1, 64, 32))
    >>> session.get_modelmeta().custom_metadata_map["ganimation.au_scale"]
    '5.0'
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from ..atomic_files import atomic_binary
from ..errors import writing
from .config import MAX_IMAGE_SIZE
from .generator import Generator, GeneratorConfig
from .onnx_contract import INPUT_NAMES, OnnxContract
from .unwrap import unwrap_model

__all__ = ["DEFAULT_OPSET", "ONNX_INSTALL_HINT", "OnnxExtraMissingError", "export_onnx"]

#: The command that installs what the export needs.
ONNX_INSTALL_HINT = "pip install 'ganimation_lib[onnx]'"
#: The ONNX opset written by default: the lowest that holds every generator (``Resize`` with ``antialias``).
DEFAULT_OPSET = 18
_MIN_OPSET = 18
# Protobuf cannot serialise a message over 2 GiB; no generator the configs allow at float32 comes near it
# except the very largest, which are refused with a clear message instead of a protobuf error.
_MAX_BYTES = 2**31 - 1


class OnnxExtraMissingError(ImportError):
    """The optional extra of the ONNX export is not installed; the message says what to install."""


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise OnnxExtraMissingError(
            f"exporting to ONNX needs the optional extra: {ONNX_INSTALL_HINT} (it installs onnx, onnxscript, "
            f"which torch's exporter uses, and onnxruntime to run the file); {module!r} is missing"
        ) from error


class _GraphGenerator(Generator):
    """The generator as the exported graph runs it: without the Python-side input checks.

    ``Generator.check_inputs`` reads the AUs' values (NaN check) and branches on sizes, which a traced graph
    cannot hold; the example inputs are built here from the config, and ONNX runtimes check shapes themselves.
    """

    def check_inputs(self, images: Tensor, aus: Tensor) -> None:
        return None


class _Outputs(nn.Module):
    """Return the generator's output fields as a tuple, in the graph's output order."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, face: Tensor, aus: Tensor) -> tuple[Tensor, ...]:
        out = self.generator(face, aus)
        fields = (out.image, out.attention, out.color)
        return fields if out.flow is None else (*fields, out.flow)


def _check_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".onnx":
        raise ValueError(f"the ONNX file {str(target)!r} must end with .onnx, e.g. {target.with_suffix('.onnx').name}")
    if target.is_dir():
        raise ValueError(f"{target} is a folder; give a file name inside it, e.g. {target / 'generator.onnx'}")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) or choose another path")
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"cannot write {target}: {parent} is a file, not a folder; choose another path")
    return target


def _graph_copy(generator: Generator) -> Generator:
    """A float32 CPU copy of ``generator`` in eval mode without input checks (the original is left as it is)."""
    graph = _GraphGenerator.build_on_meta(generator.config)
    weights = {k: v.detach().to(device="cpu", dtype=torch.float32) for k, v in generator.state_dict().items()}
    graph.load_state_dict(weights, assign=True)
    return graph.eval()


def _dynamic_shapes(config: GeneratorConfig, dynamic_batch: bool, dynamic_size: bool) -> dict[str, Any] | None:
    if not dynamic_batch and not dynamic_size:
        return None
    face: dict[int, Any] = {}
    aus: dict[int, Any] = {}
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1)
        face[0] = aus[0] = batch
    if dynamic_size:
        step = 2**config.num_downsamplings * config.draw_downsample
        face[2] = step * torch.export.Dim("h", min=2, max=MAX_IMAGE_SIZE // step)
        face[3] = step * torch.export.Dim("w", min=2, max=MAX_IMAGE_SIZE // step)
    return {"face": face, "aus": aus}


def export_onnx(
    generator: Generator,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
    dynamic_size: bool | None = None,
    image_size: int | None = None,
    au_names: Sequence[str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``generator`` as an ONNX file with its contract in the metadata, atomically.

    Args:
        generator: The generator (any device, dtype or mode; a ``DataParallel``/``DistributedDataParallel`` or
            ``torch.compile`` wrapper is unwrapped). It is not modified: a float32 CPU copy is exported.
        path: The file to write, ending in ``.onnx``; its folder is created if needed.
        opset: The ONNX opset; ``None`` means `DEFAULT_OPSET`
            (18, the lowest that holds every generator).
        dynamic_batch: Let the batch size vary (``False``: batch 1 only).
        dynamic_size: Let H and W vary (multiples of ``2**num_downsamplings × draw_downsample``). ``None``: where
            the exporter allows it, i.e. for every generator without ``warp_range``.
        image_size: The side of the traced example (and the fixed size when the size is not dynamic); ``None``
            means ``config.image_size``.
        au_names: The AU at each position of the AU vector, for the metadata; ``None`` means the generator's
            ``au_names`` (set by ``from_pretrained``), else the 17 OpenFace AUs when it takes 17, else unknown.
        overwrite: Replace an existing file (``False``: refuse it with a ``FileExistsError``).

    Returns:
        The path written.

    Raises:
        OnnxExtraMissingError: If onnx or onnxscript is not installed (an ``ImportError``).
        TypeError: If ``generator`` is not a [`Generator`][ganimation_lib.models.generator.Generator].
        ValueError: If the path does not end in ``.onnx``, is a folder or lies under a file; if ``opset`` is
            below 18; if the generator registers faces (a ``face_registration`` template); if
            ``dynamic_size=True`` is asked of a warping generator or ``image_size`` does not fit it.
        FileExistsError: If the file exists and ``overwrite`` is ``False``.
        OutputWriteError: If the disk is full or the folder is not writable (nothing is half-written).
    """
    model = unwrap_model(generator) if isinstance(generator, nn.Module) else generator
    if not isinstance(model, Generator):
        raise TypeError(
            f"export_onnx exports a Generator, got {type(generator).__name__}; load one with "
            "Generator.from_pretrained(folder) or load_checkpoint(path, kind='generator')"
        )
    config = model.config
    if model.registration is not None and model.registration.is_built:
        raise ValueError(
            "this generator draws on faces registered to its template (its training faces' framing varied), a "
            "search that ONNX cannot hold: the exported network would draw on unregistered faces. Use it in Python "
            "(ganimation edit/animate/evaluate register the faces), or train it on aligned faces"
        )
    target = _check_path(path, overwrite)
    opset = DEFAULT_OPSET if opset is None else opset
    if not isinstance(opset, int) or isinstance(opset, bool) or opset < _MIN_OPSET:
        raise ValueError(f"opset={opset!r} is too old: the generator needs opset {_MIN_OPSET} or later (default)")
    if dynamic_size is None:
        dynamic_size = config.warp_range is None
    if dynamic_size and config.warp_range is not None:
        raise ValueError(
            "dynamic_size=True cannot be exported for a generator with warp_range: the exporter fixes the warp's "
            "sampling grid at the traced size; leave dynamic_size at None and choose the size with image_size"
        )
    size = config.image_size if image_size is None else image_size
    step = 2**config.num_downsamplings * config.draw_downsample
    if not isinstance(size, int) or isinstance(size, bool) or size % step or not 2 * step <= size <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"image_size={size!r} cannot go through this generator: it must be a multiple of {step} from "
            f"{2 * step} to {MAX_IMAGE_SIZE} (the config's is {config.image_size})"
        )
    onnx = _require("onnx")
    _require("onnxscript")
    contract = OnnxContract.for_generator(
        config,
        au_names=au_names if au_names is not None else model.au_names,
        dynamic_batch=dynamic_batch,
        dynamic_size=dynamic_size,
    )
    example = (torch.zeros(1, 3, size, size), torch.zeros(1, config.num_aus))
    model.check_inputs(*example)  # the real checks, once, on the example the graph is traced with
    # The exporter reports its steps on stdout and warns about names it merges; the result says what matters.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Outputs(_graph_copy(model)).eval(),
            example,
            None,
            input_names=list(INPUT_NAMES),
            output_names=list(contract.output_names),
            opset_version=opset,
            dynamo=True,
            external_data=False,
            dynamic_shapes=_dynamic_shapes(config, dynamic_batch, dynamic_size),
            verbose=False,
        )
    if program is None:  # only the TorchScript exporter returns None
        raise RuntimeError("torch.onnx.export returned no program; upgrade torch to 2.5 or later")
    proto = program.model_proto
    for key, value in contract.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        f"GANimation generator exported by ganimation_lib {contract.library_version}: inputs face (B, 3, H, W) in "
        f"[-1, 1] and aus (B, {config.num_aus}) = OpenFace intensity / {contract.au_scale:g}; outputs "
        f"{', '.join(contract.output_names)}. The metadata_props keys ganimation.* hold the contract."
    )
    onnx.checker.check_model(proto)
    if proto.ByteSize() > _MAX_BYTES:
        raise ValueError(
            f"the generator is {proto.ByteSize() / 2**30:.1f} GiB, over ONNX's 2 GiB single-file limit; export a "
            "smaller conv_dim"
        )
    data: bytes = proto.SerializeToString()
    with writing(target, "the ONNX file"):
        target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_binary(target) as handle:
        handle.write(data)
    return target
