"""``python -m sadtalker_core.conformance ...``: the old name of the conformance tool, kept so existing
scripts still work.  The tool is a development tool beside the library (``python -m conformance``
from a checkout of the repository); it is not part of the installed package."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from conformance.__main__ import main as run
    except ModuleNotFoundError as error:
        if error.name != "conformance":
            raise
        raise SystemExit("the conformance tool comes with the repository, not with the installed package: "
                         "run it from a checkout of ComfyUI-SadTalker (python -m conformance ...)") from None
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
