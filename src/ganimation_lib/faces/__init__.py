"""Finding faces in photos: a face with its box, score and five landmarks, and the finders that return them.

[`FaceFinder`][ganimation_lib.faces.face.FaceFinder] is the interface (any callable from a picture to a list of
[`Face`][ganimation_lib.faces.face.Face]); [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder] is
the built-in one, which needs the optional extra ``pip install 'ganimation_lib[faces]'`` (dlib is imported only
when a finder is created, so this package imports without it); [`draw_faces`][ganimation_lib.faces.drawing.draw_faces]
draws what was found. The guide, with the measurements behind the choice of backend: docs/faces.md.

Examples:
    >>> from PIL import Image
    >>> from ganimation_lib.faces import Face, draw_faces
    >>> face = Face((4, 4, 28, 28), 1.0, ((10, 12), (22, 12), (16, 18), (11, 23), (21, 23)))
    >>> draw_faces(Image.new("RGB", (32, 32)), [face]).size
    (32, 32)
"""

from .dlib_finder import INSTALL_HINT as INSTALL_HINT
from .dlib_finder import DlibFaceFinder as DlibFaceFinder
from .dlib_finder import FacesExtraMissingError as FacesExtraMissingError
from .drawing import draw_faces as draw_faces
from .face import LANDMARK_NAMES as LANDMARK_NAMES
from .face import Face as Face
from .face import FaceFinder as FaceFinder

__all__ = [
    "INSTALL_HINT",
    "LANDMARK_NAMES",
    "DlibFaceFinder",
    "Face",
    "FaceFinder",
    "FacesExtraMissingError",
    "draw_faces",
]
