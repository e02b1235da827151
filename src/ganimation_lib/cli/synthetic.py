"""``ganimation synthetic``: look at the built-in synthetic faces, or write them out as a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from PIL import Image

from ..atomic_files import atomic_path
from ..aus import EXPRESSIONS
from ..data.synthetic import AU_MIXES, SyntheticFaces, contact_sheet
from ..data.synthetic_styles import STYLES

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``synthetic`` sub-command."""
    parser = subparsers.add_parser(
        "synthetic",
        help="draw a contact sheet of the synthetic faces, or write them as a dataset",
        description=(
            "Contact sheet: one row per expression preset, one column per identity. Dataset: imgs/ + aus.csv, "
            "the layout 'ganimation prepare' writes for real data."
        ),
    )
    parser.add_argument("--contact-sheet", metavar="PNG", default=None, help="write the contact sheet here")
    parser.add_argument("--write", metavar="FOLDER", default=None, help="write the dataset (imgs/ + aus.csv) here")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--identities", type=int, default=6, help="identities (sheet columns; default 6)")
    parser.add_argument("--items-per-identity", type=int, default=16, help="dataset items per identity (--write)")
    parser.add_argument("--intensity", type=float, default=1.0, help="scale of the presets on the sheet")
    parser.add_argument("--seed", type=int, default=0, help="seed of the expressions")
    parser.add_argument("--identity-seed", type=int, default=None, help="seed of the looks (default: --seed)")
    parser.add_argument("--zoom", type=int, default=1, help="enlarge the sheet by this factor (nearest neighbour)")
    parser.add_argument(
        "--style",
        choices=STYLES,
        default="default",
        help="looks: 'default' (what models are tuned on) or 'alternate' (a check-only distribution)",
    )
    parser.add_argument(
        "--au-mix",
        choices=AU_MIXES,
        default="default",
        help="dataset AUs (--write): 'default' (presets + sparse single AUs) or 'presets' (jittered presets only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``synthetic``."""
    if args.contact_sheet is None and args.write is None:
        raise ValueError("nothing to do: pass --contact-sheet out.png and/or --write folder")
    if args.zoom < 1:
        raise ValueError(f"--zoom must be >= 1, got {args.zoom}")
    faces = SyntheticFaces(
        num_identities=args.identities,
        items_per_identity=args.items_per_identity,
        image_size=args.size,
        seed=args.seed,
        identity_seed=args.identity_seed,
        style=args.style,
        au_mix=args.au_mix,
    )
    if args.contact_sheet is not None:
        sheet = contact_sheet(faces, identities=range(args.identities), intensity=args.intensity)
        if args.zoom > 1:
            sheet = sheet.resize((sheet.width * args.zoom, sheet.height * args.zoom), Image.Resampling.NEAREST)
        target = Path(args.contact_sheet)
        with atomic_path(target) as temporary:
            sheet.save(temporary, format="PNG")
        print(f"contact sheet: {target} (rows: {', '.join(EXPRESSIONS)}; columns: identities 0-{args.identities - 1})")
    if args.write is not None:
        root = faces.write(args.write)
        print(
            f"wrote {len(faces)} synthetic faces ({args.style} style, {args.au_mix} AUs) to {root / 'imgs'} "
            f"and their AUs to {root / 'aus.csv'}"
        )
    return 0
