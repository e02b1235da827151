"""Data: the sample type, OpenFace reading, datasets and synthetic faces."""

from .sample import AUSample as AUSample

__all__ = ["AUSample"]
