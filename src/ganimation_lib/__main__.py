"""``python -m ganimation_lib`` runs the ``ganimation`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
