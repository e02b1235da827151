"""Inference: edit a face's expression, animate it, and write the results.

Examples:
    >>> import torch
    >>> from ganimation_lib import Generator, GeneratorConfig
    >>> from ganimation_lib.inference import animate, edit
    >>> g = Generator(GeneratorConfig(image_size=16, conv_dim=4, num_residual_blocks=0))
    >>> edit(g, torch.zeros(3, 24, 24), "happy:0.8").shape
    torch.Size([3, 24, 24])
    >>> len(animate(g, torch.zeros(3, 16, 16), ["neutral", "sad"], frames_per_transition=3))
    4
"""

from .animate import animate as animate
from .animate import animation_aus as animation_aus
from .drive import DriveSource as DriveSource
from .drive import read_drive as read_drive
from .edit import Box as Box
from .edit import EditResult as EditResult
from .edit import edit as edit
from .edit import edit_batch as edit_batch
from .edit import edit_results as edit_results
from .edit import face_region as face_region
from .expression_targets import EASINGS as EASINGS
from .expression_targets import MAX_AU as MAX_AU
from .expression_targets import Easing as Easing
from .expression_targets import Expression as Expression
from .expression_targets import Target as Target
from .expression_targets import check_au_range as check_au_range
from .expression_targets import keyframe_path as keyframe_path
from .expression_targets import parse_au_assignments as parse_au_assignments
from .expression_targets import resolve_target as resolve_target
from .expression_targets import resolve_targets as resolve_targets
from .expression_targets import smooth_aus as smooth_aus
from .images import ImageLike as ImageLike
from .images import from_tensor as from_tensor
from .images import to_pil as to_pil
from .images import to_tensor as to_tensor
from .pasting import paste_results as paste_results
from .video import VideoReport as VideoReport
from .video import edit_video as edit_video
from .video import fit_drive as fit_drive
from .video_io import VideoExtraMissingError as VideoExtraMissingError
from .video_io import VideoInfo as VideoInfo
from .video_io import probe_video as probe_video
from .video_io import read_frames as read_frames
from .video_io import write_video as write_video
from .video_tracking import FaceTrack as FaceTrack
from .video_tracking import TrackingOptions as TrackingOptions
from .video_tracking import track_faces as track_faces
from .writers import attention_heatmap as attention_heatmap
from .writers import save_animation as save_animation
from .writers import save_frames as save_frames
from .writers import save_gif as save_gif
from .writers import save_image as save_image
from .writers import save_mp4 as save_mp4
from .writers import side_by_side as side_by_side

__all__ = [
    "EASINGS",
    "MAX_AU",
    "Box",
    "DriveSource",
    "Easing",
    "EditResult",
    "Expression",
    "FaceTrack",
    "ImageLike",
    "Target",
    "TrackingOptions",
    "VideoExtraMissingError",
    "VideoInfo",
    "VideoReport",
    "animate",
    "animation_aus",
    "attention_heatmap",
    "check_au_range",
    "edit",
    "edit_batch",
    "edit_results",
    "edit_video",
    "face_region",
    "fit_drive",
    "from_tensor",
    "keyframe_path",
    "parse_au_assignments",
    "paste_results",
    "probe_video",
    "read_drive",
    "read_frames",
    "resolve_target",
    "resolve_targets",
    "save_animation",
    "save_frames",
    "save_gif",
    "save_image",
    "save_mp4",
    "side_by_side",
    "smooth_aus",
    "to_pil",
    "to_tensor",
    "track_faces",
    "write_video",
]
