"""Coverage of the 95 % ratio interval over random coverage patterns (issue 4, done-when).

A *coverage pattern* is the set of municipalities whose data are comprehensive. Each pattern
here is a simple random sample of n mainland municipalities without replacement, the design
the ratio method's standard error assumes. For each pattern the ratio estimate and its
interval (:func:`seuranta.estimate.ratio_estimate`, both variance estimators) are computed
from the sampled municipalities' *true* counts, and the interval is checked against the
true national total Σ y_i. The population of municipal counts is either a demo's
``truth_municipal.csv`` (what complete data would show) or a synthetic one built from the
real municipal base populations with the demo's spread model
(:func:`seuranta.demo.generator.factor_sd`) and a chosen structural spread, to show how the coverage
depends on how far the large cities sit from the national share.

``scripts/coverage_sim.py`` is the command line; a slow test runs it on the national-size
demo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.demo import generator as demo
from seuranta.statistics.estimate import RATIO_VARIANCES, ratio_estimate

#: Rates of the synthetic population (national shares of the task's base).
SYNTHETIC_RATES = {"iakkaat": .19, "tyoikaiset": .07, "lapsiperheet": .06,
                   "lastensuojelu": .05, "vammaispalvelut": .024, "paihdetyo": .004}


def demo_population(data_dir: Path, quarter: str | None = None) -> pd.DataFrame:
    """service_task, municipality_code, y (true clients), x (base) of one demo quarter
    (default: the last), for the tasks with a national estimate."""
    tm = pd.read_csv(Path(data_dir) / "truth_municipal.csv", dtype={"municipality_code": str})
    if "age_group" in tm.columns:
        tm = tm[tm["age_group"] == "kaikki"]
    quarter = quarter or tm["quarter"].max()
    tm = tm[(tm["quarter"] == quarter)
            & tm["service_task"].isin(reference.task_codes(estimated_only=True))]
    if tm.empty:
        raise ValueError(f"{data_dir}/truth_municipal.csv has no rows for quarter {quarter}")
    return tm.rename(columns={"true_clients": "y", "population_base": "x"})[
        ["service_task", "municipality_code", "y", "x"]].reset_index(drop=True)


def synthetic_population(structural_sd: float = demo.STRUCTURAL_SIGMA,
                         seed: int = 1) -> pd.DataFrame:
    """Mainland municipalities with real base populations, log-normal municipal factors
    (mean 1, standard deviation :func:`seuranta.demo.generator.factor_sd` with ``structural_sd``)
    and Poisson counts."""
    rng = np.random.default_rng(seed)
    pop = reference.reference_population()
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    pop = pop[pop["municipality_code"].isin(mainland)]
    bases = reference.base_population(pop)
    total = pop.groupby("municipality_code")["population"].sum()
    out = []
    for task, rate in SYNTHETIC_RATES.items():
        b = bases[bases["service_task"] == task].sort_values("municipality_code")
        x = b["population_base"].to_numpy(float)
        sd = demo.factor_sd(total.reindex(b["municipality_code"]).to_numpy(float),
                            demo.SIGMA[task], structural=structural_sd)
        f = np.exp(rng.normal(0.0, 1.0, len(b)) * sd - sd ** 2 / 2)
        out.append(pd.DataFrame({"service_task": task,
                                 "municipality_code": b["municipality_code"].to_numpy(),
                                 "y": rng.poisson(rate * f * x).astype(float), "x": x}))
    return pd.concat(out, ignore_index=True)


def simulate(pop: pd.DataFrame, sizes: list[int], patterns: int, seed: int,
             z: float = 1.96) -> pd.DataFrame:
    """One row per task × n × pattern × variance estimator: estimate, se, truth, covered."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, g in pop.groupby("service_task", sort=True):
        y = g["y"].to_numpy(float)
        x = g["x"].to_numpy(float)
        total, big_n = float(y.sum()), len(y)
        for n in sizes:
            if not 2 <= n <= big_n:
                raise ValueError(f"pattern size must be 2…{big_n}, got {n}")
            for k in range(patterns):
                idx = rng.choice(big_n, size=n, replace=False)
                r = ratio_estimate(y[idx], x[idx], x.sum(), big_n, z=z)
                for v in RATIO_VARIANCES:
                    se = r[f"se_{v}"]
                    rows.append({"service_task": task, "n": n, "pattern": k, "variance": v,
                                 "estimate": r["estimate"], "se": se, "truth": total,
                                 "covered": abs(r["estimate"] - total) <= z * se})
    return pd.DataFrame(rows)


def summary(res: pd.DataFrame) -> pd.DataFrame:
    """Coverage (%) per variance estimator × n, with an ``overall`` column."""
    tab = res.groupby(["variance", "n"])["covered"].mean().unstack("n") * 100
    tab["overall"] = res.groupby("variance")["covered"].mean() * 100
    return tab
