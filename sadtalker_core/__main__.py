"""``python -m sadtalker_core``: the command line of :mod:`sadtalker_core.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
