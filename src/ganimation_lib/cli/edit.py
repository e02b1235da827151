"""``ganimation edit``: change one face's expression and write the edited image."""

from __future__ import annotations

import argparse
from typing import Any

from ..aus import expression_names
from ..inference.edit import edit_results
from ..inference.expression_targets import Expression, Target, parse_au_assignments
from ..inference.pipeline import paste_result
from ..inference.writers import save_image, side_by_side
from .common import add_common_arguments, load_generator, open_image, parse_box

__all__ = ["register", "run", "target_from_args"]


def register(subparsers: Any) -> None:
    """Add the ``edit`` sub-command."""
    parser = subparsers.add_parser(
        "edit",
        help="change a face's expression (preset or AU intensities)",
        description="Edit the expression of a face: ganimation edit MODEL IMAGE --expression happy -o out.png",
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
        help="also write an inspection view: input | output | attention heat map | colour",
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
    box = parse_box(args.box)
    generator = load_generator(args)
    # One generator run gives both the edited image and, if asked, the inspection view.
    result = edit_results(generator, [image], target, source=source, boxes=[box], feather=args.feather)[0]
    edited = paste_result(image, result)
    path = save_image(edited, args.output)
    print(f"wrote {path} ({edited.size[0]}x{edited.size[1]})")
    if args.side_by_side:
        view = save_image(side_by_side(result), args.side_by_side)
        print(f"wrote {view} (input | output | attention | colour)")
    return 0
