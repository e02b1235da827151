"""Data: the sample type, OpenFace reading, datasets and synthetic faces."""

from .sample import AUSample as AUSample
from .synthetic import SyntheticFaces as SyntheticFaces
from .synthetic import contact_sheet as contact_sheet
from .targets import RandomOtherTarget as RandomOtherTarget
from .targets import TargetSampler as TargetSampler

__all__ = ["AUSample", "RandomOtherTarget", "SyntheticFaces", "TargetSampler", "contact_sheet"]
