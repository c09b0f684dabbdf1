"""Coverage of the 95 % ratio interval over random coverage patterns (issue 4, done-when).

Each pattern draws a simple random sample of n mainland municipalities (without
replacement) to play the comprehensive ones, computes the ratio estimate and its
SRSWOR + fpc interval (:func:`seuranta.estimate.ratio_estimate`) from their *true*
counts, and checks whether the interval covers the true national total Σ y_i. The
population of municipal counts comes from a demo's ``truth_municipal.csv`` (every
estimated task of the chosen quarter) or, without one, from a simple synthetic population
(real municipal base populations of data/reference, log-normal municipal factors,
Poisson counts).

    python scripts/coverage_sim.py [--data data/demo] [--quarter 2023Q4]
        [--patterns 200] [--sizes 20 40 80] [--seed 20240207]

Prints coverage per task × n and overall; the target is 90–98 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta import reference
from seuranta.estimate import ratio_estimate


def synthetic_population(seed: int = 1) -> pd.DataFrame:
    """service_task, municipality_code, y (true clients), x (base) for the mainland."""
    rng = np.random.default_rng(seed)
    bases = reference.base_population(reference.reference_population())
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    bases = bases[bases["municipality_code"].isin(mainland)]
    rates = {"iakkaat": .19, "tyoikaiset": .07, "lapsiperheet": .06, "lastensuojelu": .05,
             "vammaispalvelut": .024, "paihdetyo": .004}
    out = []
    for t, r in rates.items():
        b = bases[bases["service_task"] == t]
        f = np.exp(rng.normal(0, 0.3, len(b)))
        y = rng.poisson(r * f * b["population_base"].to_numpy())
        out.append(pd.DataFrame({"service_task": t, "municipality_code": b["municipality_code"],
                                 "y": y, "x": b["population_base"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def demo_population(data_dir: Path, quarter: str | None) -> pd.DataFrame:
    tm = pd.read_csv(data_dir / "truth_municipal.csv", dtype={"municipality_code": str})
    if "age_group" in tm.columns:
        tm = tm[tm["age_group"] == "kaikki"]
    quarter = quarter or tm["quarter"].max()
    tm = tm[(tm["quarter"] == quarter)
            & tm["service_task"].isin(reference.task_codes(estimated_only=True))]
    return tm.rename(columns={"true_clients": "y", "population_base": "x"})[
        ["service_task", "municipality_code", "y", "x"]]


def simulate(pop: pd.DataFrame, sizes: list[int], patterns: int, seed: int) -> pd.DataFrame:
    """One row per task × n × pattern: estimate, se, truth, covered."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, g in pop.groupby("service_task", sort=True):
        y = g["y"].to_numpy(float)
        x = g["x"].to_numpy(float)
        total, big_n = y.sum(), len(y)
        for n in sizes:
            for k in range(patterns):
                idx = rng.choice(big_n, size=n, replace=False)
                r = ratio_estimate(y[idx], x[idx], x.sum(), big_n)
                rows.append({"service_task": task, "n": n, "pattern": k,
                             "estimate": r["estimate"], "se": r["se"], "truth": total,
                             "covered": r["ci_low"] <= total <= r["ci_high"]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo", help="demo folder with truth_municipal.csv")
    ap.add_argument("--quarter", default=None, help="quarter of the demo (default: the last)")
    ap.add_argument("--patterns", type=int, default=200, help="patterns per task and size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 80])
    ap.add_argument("--seed", type=int, default=20240207)
    a = ap.parse_args(argv)
    data = Path(a.data)
    if (data / "truth_municipal.csv").is_file():
        pop, what = demo_population(data, a.quarter), f"{data}/truth_municipal.csv"
    else:
        pop, what = synthetic_population(a.seed), "synthetic population"
    res = simulate(pop, a.sizes, a.patterns, a.seed)
    print(f"population: {what}; {a.patterns} patterns per task and size "
          f"({len(res)} intervals)")
    tab = res.groupby(["service_task", "n"])["covered"].mean().unstack("n") * 100
    print(tab.round(1).to_string())
    by_n = res.groupby("n")["covered"].mean() * 100
    print("by n: " + ", ".join(f"n={n}: {v:.1f} %" for n, v in by_n.items()))
    overall = 100 * res["covered"].mean()
    print(f"overall coverage of the 95 % ratio interval: {overall:.1f} % (target 90–98 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
