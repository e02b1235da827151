"""Networks: the generator, the critic and the blocks they are built from."""

from .blocks import XK as XK
from .blocks import Residual as Residual
from .blocks import init_official_ as init_official_
from .critic import Critic as Critic
from .critic import CriticConfig as CriticConfig
from .critic import CriticOutput as CriticOutput
from .critic import Discriminator as Discriminator
from .generator import Generator as Generator
from .generator import GeneratorConfig as GeneratorConfig
from .generator import GeneratorOutput as GeneratorOutput
from .onnx_contract import OnnxContract as OnnxContract
from .onnx_export import OnnxExtraMissingError as OnnxExtraMissingError
from .onnx_export import export_onnx as export_onnx
from .registered import RegisteredGenerator as RegisteredGenerator
from .registered import drawing_model as drawing_model
from .registration import FaceRegistration as FaceRegistration

__all__ = [
    "XK",
    "Critic",
    "CriticConfig",
    "CriticOutput",
    "Discriminator",
    "FaceRegistration",
    "Generator",
    "GeneratorConfig",
    "GeneratorOutput",
    "OnnxContract",
    "OnnxExtraMissingError",
    "RegisteredGenerator",
    "Residual",
    "drawing_model",
    "export_onnx",
    "init_official_",
]
