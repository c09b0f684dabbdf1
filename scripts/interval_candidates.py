"""Interval constructions of the model's published points compared offline on the raw rows
of a coverage study (issue 22; :func:`seuranta.statistics.coverage.constructions_table`:
each construction recomputed from the parts the study keeps, the publication rule applied
again, the targets per targeted scenario).

    python scripts/interval_candidates.py build/coverage [--only hull average ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from seuranta.core.params import load_params
from seuranta.statistics import coverage


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", help="folder of a coverage study's raw rows (its --raw)")
    ap.add_argument("--only", nargs="*", default=list(coverage.CONSTRUCTIONS),
                    choices=list(coverage.CONSTRUCTIONS))
    a = ap.parse_args(argv)
    raw = Path(a.raw)
    nat = pd.concat([pd.read_csv(f) for f in sorted(raw.glob("national_*.csv"))],
                    ignore_index=True)
    cty = pd.concat([pd.read_csv(f, dtype={"county_code": str})
                     for f in sorted(raw.glob("county_*.csv"))], ignore_index=True)
    print(coverage.constructions_md(coverage.constructions_table(nat, cty, load_params(),
                                                                 a.only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
