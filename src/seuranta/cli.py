"""The ``seuranta`` command: one sub-command per job of CONTRACT.md section 4.

Bad input ends with a one-line message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import reference
from .errors import InputError


class UserError(Exception):
    """An error caused by input or arguments, reported as one line without a traceback."""


def _cmd_reference(args) -> int:
    files = reference.build_reference(Path(args.shared), Path(args.out))
    for f in files:
        print(f)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seuranta", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("reference", help="build data/reference/ from ../shared/reference/")
    r.add_argument("--shared", default=str(Path("..") / "shared" / "reference"),
                   help="folder with municipalities_2023.csv and population_2022.csv")
    r.add_argument("--out", default=str(reference.REFERENCE_DIR), help="output folder")
    r.set_defaults(func=_cmd_reference)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, InputError, FileNotFoundError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"seuranta: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
