"""``ganimation animate``: animate the faces of a photo through expressions, or make them follow an AU sequence."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..aus import expression_names
from ..faces.dlib_finder import INSTALL_HINT
from ..faces.selection import NoFaceFoundError
from ..inference.animate import animate
from ..inference.expression_targets import EASINGS, Expression
from ..inference.video import DRIVE_FITS, edit_video
from ..inference.video_io import VIDEO_WRITE_SUFFIXES, VideoExtraMissingError, is_video_path, probe_video
from ..inference.video_tracking import TrackingOptions
from ..inference.writers import save_animation
from .common import add_common_arguments, face_options, load_generator, open_image

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``animate`` sub-command."""
    parser = subparsers.add_parser(
        "animate",
        help="animate the faces of a photo through expressions or along an AU sequence (GIF, MP4, PNG frames), "
        "or edit every frame of a video",
        description="Animate the faces of a photo: ganimation animate MODEL IMAGE --keyframes neutral,happy,surprise "
        "-o out.gif. Every face the built-in finder finds (pip install 'ganimation_lib[faces]') moves through the "
        "same expressions; without the extra, or with --whole-image, the whole image is one face; --box picks one. "
        "A video (IMAGE ending in .mp4, .mov, .mkv, ...; pip install 'ganimation_lib[video]') is edited frame by "
        "frame: ganimation animate MODEL clip.mp4 --expression happy -o out.mp4, or --drive AUS.csv; its faces are "
        "followed with smoothed boxes, and the output keeps its frame count, rate and size (not its audio).",
    )
    add_common_arguments(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--keyframes",
        metavar="NAME[:INTENSITY],...",
        help="expression presets to move through, e.g. neutral,happy:0.8,surprise",
    )
    what.add_argument(
        "--drive",
        metavar="FILE",
        help="an AU sequence to follow, one frame per row: an OpenFace sequence CSV or an attributes.txt",
    )
    what.add_argument("--expression", choices=expression_names(), help="a video: this expression preset in every frame")
    parser.add_argument("--frames", type=int, default=None, help="frames per transition between keyframes (16)")
    parser.add_argument(
        "--easing", choices=list(EASINGS), default=None, help="interpolation between keyframes (linear)"
    )
    parser.add_argument(
        "--intensity", type=float, default=None, help="intensity of --expression, or of keyframes given without one (1)"
    )
    parser.add_argument("--smooth", type=int, default=0, help="moving-average window over time, in frames")
    parser.add_argument(
        "--duration", type=float, default=None, help="milliseconds per frame (80; a video keeps its rate)"
    )
    parser.add_argument("--loop", type=int, default=0, help="GIF repeats: 0 forever")
    parser.add_argument("--batch-size", type=int, default=16, help="frames per generator forward")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    video = parser.add_argument_group("video input")
    video.add_argument(
        "--drive-fit",
        choices=DRIVE_FITS,
        default=None,
        help="a --drive of another length than the video: hold its last row (default; a longer one is cut), loop, "
        "stretch it to the video's length, or exact (refuse)",
    )
    video.add_argument("--detect-every", type=int, default=1, metavar="N", help="find faces in every N-th frame (1)")
    video.add_argument(
        "--track-smooth",
        type=float,
        default=2.0,
        metavar="FRAMES",
        help="smoothing of the faces' paths over time, a centred window's standard deviation in frames (2; 0 none)",
    )
    video.add_argument(
        "--max-gap",
        type=int,
        default=None,
        metavar="FRAMES",
        help="a face missed for at most this many frames in a row is still edited where its path says (6)",
    )
    video.add_argument("--crf", type=int, default=18, help="H.264 quality of the video written: 0 lossless ... 51 (18)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="out.gif, out.mp4 (needs PyAV) or a folder name for PNG frames; for a video input an .mp4, .mov or .mkv",
    )
    parser.set_defaults(func=run)


_VIDEO_OPTIONS = (("--drive-fit", None), ("--detect-every", 1), ("--track-smooth", 2.0), ("--max-gap", None),
                  ("--crf", 18))  # fmt: skip


def run_video(args: argparse.Namespace) -> int:
    """Edit every frame of the video IMAGE (``--expression`` or ``--drive``) and write a video."""
    output = Path(args.output)
    if output.suffix.lower() not in VIDEO_WRITE_SUFFIXES:
        raise ValueError(f"-o {args.output}: a video is written as a {', '.join(VIDEO_WRITE_SUFFIXES)} file")
    if args.keyframes is not None:
        raise ValueError("--keyframes animates a photo; for a video give --expression NAME or --drive FILE")
    ignored = [flag for flag, value in (("--frames", args.frames), ("--easing", args.easing),
                                        ("--duration", args.duration)) if value is not None]  # fmt: skip
    if args.drive is not None and args.intensity is not None:
        ignored.append("--intensity")
    if args.expression is not None and (args.drive_fit is not None or args.smooth):
        ignored.append("--drive-fit/--smooth")
    if ignored:
        raise ValueError(f"{', '.join(ignored)} cannot apply to this video edit (the video keeps its frame rate)")
    if args.drive is not None and not Path(args.drive).is_file():
        raise FileNotFoundError(f"--drive {args.drive} does not exist")
    try:
        probe_video(args.image)  # an unreadable video is said before the model loads
    except VideoExtraMissingError as error:
        raise ValueError(f"{args.image}: {error}") from None
    tracking = TrackingOptions(
        detect_every=args.detect_every,
        max_gap=max(6, args.detect_every - 1) if args.max_gap is None else args.max_gap,
        smooth=args.track_smooth,
    )
    where = face_options(args, "animate")
    if where.box is None and where.faces is None and not args.whole_image:
        raise ValueError(
            f"the faces of a video are found with the faces extra: {INSTALL_HINT} (or --box LEFT,TOP,RIGHT,BOTTOM "
            "for a fixed box, --whole-image for a video of aligned face crops)"
        )
    target = (
        None
        if args.expression is None
        else Expression(args.expression, 1.0 if args.intensity is None else args.intensity)
    )
    generator = load_generator(args)
    try:
        report = edit_video(
            generator,
            args.image,
            output,
            target,
            drive=args.drive,
            drive_fit="hold" if args.drive_fit is None else args.drive_fit,
            smooth=args.smooth,
            box=where.box,
            faces="auto" if where.faces is not None else None,
            **where.choice(),
            tracking=tracking,
            feather=args.feather,
            crf=args.crf,
            batch_size=args.batch_size,
            progress=not args.quiet,
        )
    except NoFaceFoundError as error:
        print(f"ganimation animate: {error}", file=sys.stderr)
        return 1
    print(f"wrote {report.path} ({report.summary()})")
    return 0


def run(args: argparse.Namespace) -> int:
    """Load the model, render the frames in batches and write them (a video input: `run_video`)."""
    if is_video_path(args.image):
        return run_video(args)
    video_options = [flag for flag, default in _VIDEO_OPTIONS if getattr(args, flag[2:].replace("-", "_")) != default]
    if args.expression is not None or video_options:
        given = ", ".join((["--expression"] if args.expression is not None else []) + video_options)
        raise ValueError(
            f"{given} edit the frames of a video (IMAGE ending in .mp4, .mov, .mkv, ...); to animate a photo give "
            "--keyframes or --drive (ganimation edit changes one photo's expression)"
        )
    output = Path(args.output)
    if output.suffix.lower() == ".mp4" and importlib.util.find_spec("av") is None:
        raise ValueError("MP4 output needs PyAV: pip install 'ganimation_lib[video]' (or write a .gif or a PNG folder)")
    if output.suffix.lower() not in ("", ".gif", ".mp4"):
        raise ValueError(f"-o {args.output}: use a .gif or .mp4 file, or a folder name (no suffix) for PNG frames")
    keyframes = None
    if args.keyframes is not None:
        names = [k.strip() for k in args.keyframes.split(",") if k.strip()]
        intensity = 1.0 if args.intensity is None else args.intensity
        keyframes = [Expression.parse(name, intensity=intensity) for name in names]
    else:
        ignored = [flag for flag, value in (("--frames", args.frames), ("--easing", args.easing),
                                            ("--intensity", args.intensity)) if value is not None]  # fmt: skip
        if ignored:
            raise ValueError(f"{', '.join(ignored)} shape keyframe animations; --drive plays one frame per row")
    drive = args.drive
    if drive is not None and not Path(drive).is_file():
        raise FileNotFoundError(f"--drive {drive} does not exist")
    image, where = open_image(args.image), face_options(args, "animate")  # cheap checks before the model loads
    generator = load_generator(args)
    try:
        frames = animate(
            generator,
            image,
            keyframes,
            frames_per_transition=16 if args.frames is None else args.frames,
            easing="linear" if args.easing is None else args.easing,
            drive=drive,
            smooth=args.smooth,
            box=where.box,
            faces=where.faces,
            **where.choice(),
            feather=args.feather,
            batch_size=args.batch_size,
            progress=not args.quiet,
        )
    except NoFaceFoundError as error:
        print(f"ganimation animate: {args.image}: {error}", file=sys.stderr)
        return 1
    duration = 80.0 if args.duration is None else args.duration
    path = save_animation(frames, output, duration=duration, loop=args.loop)
    print(f"wrote {path} ({len(frames)} frames, {frames[0].size[0]}x{frames[0].size[1]})")
    return 0
