"""``ganimation edit``: change the expression of every face in a photo (or of one box) and write the result."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from PIL import Image

from ..aus import expression_names
from ..faces.selection import NoFaceFoundError
from ..inference.edit import EditResult, edit_results
from ..inference.expression_targets import Expression, Target, parse_au_assignments
from ..inference.pasting import paste_results
from ..inference.writers import save_image, side_by_side
from .common import add_common_arguments, face_options, load_generator, open_image

__all__ = ["register", "run", "stacked_views", "target_from_args"]


def register(subparsers: Any) -> None:
    """Add the ``edit`` sub-command."""
    parser = subparsers.add_parser(
        "edit",
        help="change the expression of the faces in a photo (preset or AU intensities)",
        description="Edit the expression of every face in a photo: ganimation edit MODEL IMAGE --expression happy "
        "-o out.png. Each face the built-in finder finds (pip install 'ganimation_lib[faces]') is aligned like the "
        "training crops, edited and blended back; the rest of the photo is unchanged. Without the extra, or with "
        "--whole-image, the whole image is edited as one face; --box edits one box.",
    )
    add_common_arguments(parser)
    parser.add_argument("--expression", choices=expression_names(), help="an expression preset")
    parser.add_argument(
        "--intensity",
        type=float,
        default=None,
        help="scale of --expression's preset (0 neutral, 1 the preset, above 1 exaggerates it up to where an AU "
        "reaches 2.0 normalised = 10 raw: about 2.9 for the strongest presets)",
    )
    parser.add_argument(
        "--au",
        action="append",
        default=[],
        metavar="AU12=3.5",
        help="raw OpenFace intensity (0-5) for one AU; repeat or comma-separate. With --expression these "
        "override the preset; alone, the other AUs come from --source-au (default neutral)",
    )
    parser.add_argument(
        "--source-au",
        action="append",
        default=[],
        metavar="AU06=1.2",
        help="the face's own AU intensities (raw 0-5), kept for AUs --au does not set (without --expression)",
    )
    parser.add_argument("-o", "--output", required=True, help="the edited image (.png, .jpg, ...)")
    parser.add_argument(
        "--side-by-side",
        metavar="PATH",
        help="also write an inspection view: input | output | attention heat map | colour (a row per face)",
    )
    parser.set_defaults(func=run)


def target_from_args(args: argparse.Namespace) -> tuple[Target, Target | None]:
    """Return ``(target, source)`` from ``--expression/--intensity/--au/--source-au``.

    The preset and the ``--au`` dict are resolved later, in the model's own AU layout.

    Raises:
        ValueError: When neither ``--expression`` nor ``--au`` is given, or an option would be ignored.
    """
    values = parse_au_assignments(args.au)
    source = parse_au_assignments(args.source_au) or None
    if args.expression is not None:
        if source is not None:
            raise ValueError(
                "--source-au has no effect with --expression (the AUs --au does not set come from the preset); "
                "drop one of them"
            )
        preset = Expression(args.expression, 1.0 if args.intensity is None else args.intensity)
        return (values, preset) if values else (preset, None)  # --au values override the preset's
    if args.intensity is not None:
        raise ValueError("--intensity scales an --expression preset; with --au alone give raw values (AU12=3.5)")
    if not values:
        raise ValueError("say what to change: --expression happy [--intensity 0.8] and/or --au AU12=3.5")
    return values, source


def run(args: argparse.Namespace) -> int:
    """Load the model, edit the image, write the result (and the side-by-side view if asked)."""
    target, source = target_from_args(args)
    image = open_image(args.image)  # cheap checks first: a typo should not wait for the model to load
    where = face_options(args, "edit")
    generator = load_generator(args)
    # One generator run gives both the edited image and, if asked, the inspection view.
    try:
        results = edit_results(
            generator,
            [image],
            target,
            source=source,
            boxes=None if where.box is None else [where.box],
            faces=where.faces,
            **where.choice(),
            feather=args.feather,
        )
    except NoFaceFoundError as error:
        print(f"ganimation edit: {args.image}: {error}", file=sys.stderr)
        return 1
    edited = paste_results(image, results)
    path = save_image(edited, args.output)
    faces = f"; {len(results)} face{'s' if len(results) > 1 else ''} edited" if where.faces else ""
    print(f"wrote {path} ({edited.size[0]}x{edited.size[1]}{faces})")
    if args.side_by_side:
        view = save_image(stacked_views(results), args.side_by_side)
        print(f"wrote {view} (input | output | attention | colour{', a row per face' if len(results) > 1 else ''})")
    return 0


def stacked_views(results: Sequence[EditResult], gap: int = 4) -> Image.Image:
    """The [`side_by_side`][ganimation_lib.inference.writers.side_by_side] view of each result, one above the next."""
    views = [side_by_side(result) for result in results]
    if len(views) == 1:
        return views[0]
    width = max(view.size[0] for view in views)
    height = sum(view.size[1] for view in views) + gap * (len(views) - 1)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    top = 0
    for view in views:
        canvas.paste(view, (0, top))
        top += view.size[1] + gap
    return canvas
