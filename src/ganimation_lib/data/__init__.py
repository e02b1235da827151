"""Data: the sample type, OpenFace reading, label files, datasets and synthetic faces."""

from .dataset import AUDataset as AUDataset
from .dataset import DatasetReport as DatasetReport
from .dataset import load_image as load_image
from .dataset import load_rgb as load_rgb
from .decoded_cache import DecodedCache as DecodedCache
from .errors import DataFormatError as DataFormatError
from .errors import UnsafePickleError as UnsafePickleError
from .image_io import as_float_faces as as_float_faces
from .labels import AUTable as AUTable
from .labels import AUTableWriter as AUTableWriter
from .labels import read_attributes_txt as read_attributes_txt
from .labels import read_au_table as read_au_table
from .labels import read_ids as read_ids
from .labels import read_labels as read_labels
from .labels import read_official_pickle as read_official_pickle
from .labels import write_attributes_txt as write_attributes_txt
from .labels import write_au_table as write_au_table
from .labels import write_ids as write_ids
from .openface import OpenFaceCSV as OpenFaceCSV
from .openface import OpenFaceFace as OpenFaceFace
from .openface import read_openface_csv as read_openface_csv
from .openface_runner import OpenFaceRunError as OpenFaceRunError
from .openface_runner import check_openface_binary as check_openface_binary
from .openface_runner import run_face_landmark_img as run_face_landmark_img
from .prepare import PrepareSummary as PrepareSummary
from .prepare import prepare_openface as prepare_openface
from .sample import AUSample as AUSample
from .synthetic import SyntheticFaces as SyntheticFaces
from .synthetic import contact_sheet as contact_sheet
from .synthetic import identity_from_name as identity_from_name
from .target_sampling import RandomOtherTarget as RandomOtherTarget
from .target_sampling import TargetSampler as TargetSampler

__all__ = [
    "AUDataset",
    "AUSample",
    "AUTable",
    "AUTableWriter",
    "DataFormatError",
    "DatasetReport",
    "DecodedCache",
    "OpenFaceCSV",
    "OpenFaceFace",
    "OpenFaceRunError",
    "PrepareSummary",
    "RandomOtherTarget",
    "SyntheticFaces",
    "TargetSampler",
    "UnsafePickleError",
    "as_float_faces",
    "check_openface_binary",
    "contact_sheet",
    "identity_from_name",
    "load_image",
    "load_rgb",
    "prepare_openface",
    "read_attributes_txt",
    "read_au_table",
    "read_ids",
    "read_labels",
    "read_official_pickle",
    "read_openface_csv",
    "run_face_landmark_img",
    "write_attributes_txt",
    "write_au_table",
    "write_ids",
]
