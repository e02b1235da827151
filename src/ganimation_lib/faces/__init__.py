"""Finding faces in photos: a face with its box, score and five landmarks, and the finders that return them.

[`FaceFinder`][ganimation_lib.faces.face.FaceFinder] is the interface (any callable from a picture to a list of
[`Face`][ganimation_lib.faces.face.Face]); [`DlibFaceFinder`][ganimation_lib.faces.dlib_finder.DlibFaceFinder] is
the built-in one, which needs the optional extra ``pip install 'ganimation_lib[faces]'`` (dlib is imported only
when a finder is created, so this package imports without it); [`draw_faces`][ganimation_lib.faces.drawing.draw_faces]
draws what was found; [`select_faces`][ganimation_lib.faces.selection.select_faces] chooses among them.
[`ganimation_lib.faces.align`][ganimation_lib.faces.align] aligns a face to the model's crop the way the training
crops were made ([`alignment_transform`][ganimation_lib.faces.align.alignment_transform],
[`crop_face`][ganimation_lib.faces.align.crop_face]) and blends an edited crop back into the photo
([`paste_face`][ganimation_lib.faces.align.paste_face]).
[`align_folder`][ganimation_lib.faces.training_crops.align_folder] turns a folder of raw photos into training
crops with a manifest ([`crop_manifest`][ganimation_lib.faces.crop_manifest]). The guide, with the measurements
behind the choice of backend and the canonical crop: docs/faces.md.

Examples:
    >>> from PIL import Image
    >>> from ganimation_lib.faces import Face, draw_faces
    >>> face = Face((4, 4, 28, 28), 1.0, ((10, 12), (22, 12), (16, 18), (11, 23), (21, 23)))
    >>> draw_faces(Image.new("RGB", (32, 32)), [face]).size
    (32, 32)
"""

from .align import CANONICAL_FACE as CANONICAL_FACE
from .align import CanonicalFace as CanonicalFace
from .align import SimilarityTransform as SimilarityTransform
from .align import alignment_transform as alignment_transform
from .align import crop_face as crop_face
from .align import estimate_similarity as estimate_similarity
from .align import face_footprint as face_footprint
from .align import feather_mask as feather_mask
from .align import paste_face as paste_face
from .align import warp_to_photo as warp_to_photo
from .crop_manifest import CropRecord as CropRecord
from .crop_manifest import read_crop_manifest as read_crop_manifest
from .crop_manifest import write_crop_manifest as write_crop_manifest
from .dlib_finder import INSTALL_HINT as INSTALL_HINT
from .dlib_finder import DlibFaceFinder as DlibFaceFinder
from .dlib_finder import FacesExtraMissingError as FacesExtraMissingError
from .drawing import draw_faces as draw_faces
from .face import LANDMARK_NAMES as LANDMARK_NAMES
from .face import Face as Face
from .face import FaceFinder as FaceFinder
from .selection import NoFaceFoundError as NoFaceFoundError
from .selection import select_faces as select_faces
from .training_crops import AlignReport as AlignReport
from .training_crops import align_folder as align_folder
from .training_crops import list_photos as list_photos

__all__ = [
    "CANONICAL_FACE",
    "INSTALL_HINT",
    "LANDMARK_NAMES",
    "AlignReport",
    "CanonicalFace",
    "CropRecord",
    "DlibFaceFinder",
    "Face",
    "FaceFinder",
    "FacesExtraMissingError",
    "NoFaceFoundError",
    "SimilarityTransform",
    "align_folder",
    "alignment_transform",
    "crop_face",
    "draw_faces",
    "estimate_similarity",
    "face_footprint",
    "feather_mask",
    "list_photos",
    "paste_face",
    "read_crop_manifest",
    "select_faces",
    "warp_to_photo",
    "write_crop_manifest",
]
