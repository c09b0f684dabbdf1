"""Coverage of the 95 % ratio interval over random coverage patterns (issue 4, done-when).

Draws simple random samples of n mainland municipalities to play the comprehensive ones and
checks how often the ratio interval (linearised and jackknife standard error) covers the
true national total; see :mod:`seuranta.coverage`. The population comes from a demo's
``truth_municipal.csv`` or, with ``--synthetic``, from real base populations with the
demo's spread model and the chosen structural spread of the large cities.

    python scripts/coverage_sim.py [--data data/demo] [--quarter 2023Q4]
        [--patterns 200] [--sizes 20 40 80 150] [--seed 20240207]
    python scripts/coverage_sim.py --synthetic --structural-sd 0.1

Prints coverage per task × n and per variance estimator; the target is 90–98 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seuranta.demo import generator as demo
from seuranta.statistics import coverage


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo", help="demo folder with truth_municipal.csv")
    ap.add_argument("--quarter", default=None, help="quarter of the demo (default: the last)")
    ap.add_argument("--synthetic", action="store_true",
                    help="synthetic population instead of the demo's truth")
    ap.add_argument("--structural-sd", type=float, default=demo.STRUCTURAL_SIGMA,
                    help="structural spread of the log factor (synthetic population)")
    ap.add_argument("--patterns", type=int, default=200, help="patterns per task and size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 80, 150])
    ap.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    a = ap.parse_args(argv)
    data = Path(a.data)
    if a.synthetic or not (data / "truth_municipal.csv").is_file():
        pop = coverage.synthetic_population(a.structural_sd, a.seed)
        what = f"synthetic population (structural sd {a.structural_sd})"
    else:
        pop, what = coverage.demo_population(data, a.quarter), f"{data}/truth_municipal.csv"
    res = coverage.simulate(pop, a.sizes, a.patterns, a.seed)
    n_int = len(res) // res["variance"].nunique()
    print(f"population: {what}; {a.patterns} patterns per task and size ({n_int} intervals)")
    for v, g in res.groupby("variance"):
        print(f"\n{v} standard error: coverage (%) per task and n")
        tab = g.groupby(["service_task", "n"])["covered"].mean().unstack("n") * 100
        print(tab.round(1).to_string())
    tab = coverage.summary(res)
    print("\ncoverage of the 95 % ratio interval (%), target 90–98:")
    print(tab.round(1).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
