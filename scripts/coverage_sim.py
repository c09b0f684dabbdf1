"""The coverage study (``make coverage``): the published national and county figures
against the truth on simulated registers that the model did not generate; see
:mod:`seuranta.statistics.coverage` and :mod:`seuranta.simulate.registers`.

    python scripts/coverage_sim.py [--registers 100] [--scenarios spread35 size ...]
        [--seed 22000] [--jobs 2] [--write]

Each register is four quarters, of which the second and the last are estimated, × six
tasks (12 national figures). Prints the tables;
``--write`` also writes ``docs/coverage.md`` (with the per-task detail, where the points'
interval width comes from, the rule's reasons and the calibration of earlier predictions),
``book/_generated/coverage_fi.md`` (the methods chapter includes it) and the README's table.
The raw rows of each scenario's latest run are kept in ``build/coverage/`` and the tables
are made from every scenario found there.
``--scenarios`` with no name rewrites the tables from the kept rows without simulating.
``--end-to-end DATA`` instead runs the register and statistics stages on a demo folder and
compares every quarter's estimates with its truth.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time
from pathlib import Path

import pandas as pd

from seuranta.core.params import load_params
from seuranta.statistics import coverage
from seuranta.statistics import stage as stats

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "coverage"          # raw rows of each scenario's latest run
#: registers per scenario (``make coverage``; ``REGISTERS=`` there overrides it): the
#: points' coverage has a standard error near 1 point at 100, near 2 at 30
REGISTERS = 100


def _one(job):
    scenario, seed, params = job
    return coverage.register_rows(scenario, seed, params)


def run(scenarios: list[str], registers: int, seed: int, jobs: int, params: dict
        ) -> dict[str, dict[str, pd.DataFrame]]:
    """Every scenario's rows (national, county, calibration), registers in ``jobs``
    processes."""
    work = [(s, seed + 1000 * coverage.SCENARIOS.index(s) + k, params)
            for s in scenarios for k in range(registers)]
    if jobs > 1:
        with cf.ProcessPoolExecutor(max_workers=jobs) as ex:
            parts = list(ex.map(_one, work, chunksize=1))
    else:
        parts = [_one(w) for w in work]
    out = {}
    for s in scenarios:
        mine = [p for (sc, _, _), p in zip(work, parts) if sc == s]
        out[s] = {k: pd.concat([p[k] for p in mine], ignore_index=True)
                  for k in ("national", "county", "calibration")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registers", type=int, default=REGISTERS, help="registers per scenario")
    ap.add_argument("--scenarios", nargs="*", default=list(coverage.SCENARIOS),
                    choices=coverage.SCENARIOS)
    ap.add_argument("--seed", type=int, default=22000)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--raw", default=str(OUT), help="folder of the raw rows per scenario")
    ap.add_argument("--write", action="store_true",
                    help="write docs/coverage.md, book/_generated/coverage_fi.md and the README table")
    ap.add_argument("--end-to-end", metavar="DATA",
                    help="instead: run the register and statistics stages on a demo folder "
                         "and compare every quarter's estimates with its truth and the oracle")
    a = ap.parse_args(argv)
    if a.end_to_end:
        return _end_to_end(Path(a.end_to_end))
    params = load_params()
    raw = Path(a.raw)
    raw.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = run(a.scenarios, a.registers, a.seed, a.jobs, params) if a.scenarios else {}
    for s, r in res.items():
        for k, d in r.items():
            d.to_csv(raw / f"{k}_{s}.csv", index=False)
    print(f"{len(a.scenarios)} scenario(s) × {a.registers} registers in "
          f"{time.time() - t0:.0f} s", file=sys.stderr)
    frames = {k: [] for k in ("national", "county", "calibration")}
    for s in coverage.SCENARIOS:        # this run's and earlier runs' scenarios
        if (raw / f"national_{s}.csv").is_file():
            for k in frames:
                frames[k].append(pd.read_csv(raw / f"{k}_{s}.csv",
                                             dtype={"county_code": str}))
    nat, cty, cal = (pd.concat(frames[k], ignore_index=True) for k in frames)
    regs = int(nat.groupby("scenario")["register"].nunique().min())
    meta = (f"{regs} simulated registers per scenario (2 of 4 quarters × 6 tasks each, seed "
            f"{a.seed}): {len(nat[nat['method'] == 'model'])} national and {len(cty)} county "
            "figures of the published method (model); `make coverage`.")
    # reader language: the seed is in the English meta line (docs), not in the book
    meta_fi = (f"{regs} simuloitua rekisteriä kutakin asetelmaa kohden (kustakin 2 neljännestä neljästä × "
               "6 palvelutehtävää). Simulointi on toistettavissa: samat lähtöarvot tuottavat samat "
               "rekisterit.")
    tg = coverage.targets(nat, cty)
    reasons = coverage.reasons_table(nat)
    calib = stats.calibration_table(cal.drop(columns=["scenario", "register"]).assign(
        quarter=cal["scenario"]))
    en = (coverage.markdown(nat, cty, meta)
          + "\nAgainst the targets of issue 22:\n\n" + coverage.targets_md(tg))
    print(en)
    print(reasons.to_string())
    print(calib[calib["service_task"] == stats.ALL_TASKS].to_string())
    if a.write:
        ratio = coverage.markdown(nat, cty.iloc[0:0], "The ratio method (THL's), for "
                                  "comparison (its ranges and points by the same rule):",
                                  method="ratio")
        (ROOT / "docs" / "coverage.md").write_text(
            "# Coverage study (generated by `make coverage`; do not edit)\n\n" + en
            + "\n" + ratio
            + "\n## Where the width of the points' intervals comes from\n\n"
            + "The published interval of a point (`estimate.flagged_interval: average`, "
            "`estimate.interval_calibration: true`) is the central interval of the "
            "equal-weight mixture of two predictive distributions: the model's own "
            "(its predictive variance: NB noise of the predicted municipalities, parameters "
            "and county effects, the uncertainty of σ_u) and the one of the estimate "
            "without the flagged (tarkistettava) municipalities, which guards against a "
            "flagged count being wrong; both variances are multiplied by the quarter's "
            "calibration factor, the mean z² of the earlier predictions tested by then "
            "(at least 1; section \"Calibration factors\" below). The flagged mixture (`estimate.flagged_interval: "
            "mixture`) instead mixes each flagged count being right or wrong with its "
            "posterior probability against the prediction made without it (prior "
            "`flagged_error_prior`); a study run that computed it (rows with `mixture_low`) "
            "shows its interval on the same points in the columns of the mixture. Per "
            "scenario, over the published points: how often each interval holds the truth, "
            "their mean half-widths, the mean shift of the estimate without the flagged "
            "municipalities, the mean squared error over the mean predictive variance of the "
            "model (1 when the variance is right) and the sd of z = (truth − estimate) / se "
            "(with the mixture's columns also the county points' coverage by the published "
            "and the mixture's intervals):\n\n"
            + coverage.width_md(nat, float(params["estimate"]["z"]), cty=cty)
            + _constructions(nat, cty, params)
            + "\n## Pairs the model check excluded (share_low_model)\n\n"
            + "Per national figure (quarter × task): the pairs declared comprehensive with "
            "clients, those the model check excluded, and of those the ones that delivered "
            "every true client (honest pairs excluded):\n\n" + coverage.model_check_md(nat)
            + "\n## How often each reason of the publication rule occurs (% of figures)\n\n"
            + reasons.to_markdown() + "\n"
            + "\n## Calibration of earlier predictions (municipalities that joined later)\n\n"
            + "z of each municipality predicted in the second quarter and comprehensive in the "
            "last (`calibration.csv`), over the scenario's registers and tasks:\n\n"
            + calib[calib["service_task"] == stats.ALL_TASKS].drop(columns="service_task")
            .rename(columns={"quarter": "scenario"}).round(3).to_markdown(index=False) + "\n"
            + "\n## Calibration factors\n\n"
            + "The factor each quarter's model intervals were widened by "
            "(`stage.variance_factors`: the mean z² of the earlier predictions tested by the "
            "quarter, at least 1). The study estimates the second and the last quarter; the "
            "second has no earlier prediction, so its factor is 1 (the start of a series), "
            "and the last quarter's comes from the second quarter's predictions of the "
            "municipalities that joined since. Per scenario, the last quarter's factor over "
            "the registers:\n\n" + _factors_md(nat) + "\n"
            + _factors_compared(nat, cty, cal, params)
            + "\n## Per task\n\n" + coverage.markdown_detail(nat), encoding="utf-8")
        gen = ROOT / "book" / "_generated"
        gen.mkdir(exist_ok=True)
        (gen / "coverage_fi.md").write_text(
            coverage.markdown(nat, cty, meta_fi, "fi")
            + "\nJulkaistu menetelmä tavoitteisiin verrattuna:\n\n"
            + coverage.targets_md(tg, "fi")
            + "\nMallitarkistuksen pois jättämät kattaviksi ilmoitetut tiedot kutakin "
            "arvioitua lukua (neljännes × palvelutehtävä) kohden; täydellisiä ovat ne, jotka "
            "toimittivat kaikki todelliset asiakkaansa:\n\n"
            + coverage.model_check_md(nat, "fi"), encoding="utf-8")
        readme = ROOT / "README.md"
        readme.write_text(coverage.replace_between(readme.read_text(encoding="utf-8"), en),
                          encoding="utf-8")
    return 0


def _constructions(nat: pd.DataFrame, cty: pd.DataFrame, params: dict) -> str:
    """The docs' section comparing interval constructions on the same rows, when the rows
    keep the interval's parts (``model_estimate``; rows of an earlier study do not)."""
    if "model_estimate" not in nat or nat["model_estimate"].isna().all():
        return ""
    return ("\n## Interval constructions compared\n\n"
            "Each construction recomputed from the parts kept in the raw rows (the model's "
            "estimate, predictive variance and observed part, and the same without the "
            "flagged municipalities), the publication rule applied again to its interval "
            "(`scripts/interval_candidates.py`, `coverage.constructions_table`); the "
            "published one is `estimate.flagged_interval`. Constructions: "
            + "; ".join(f"`{k}` {v}" for k, v in coverage.CONSTRUCTIONS.items())
            + ". Targeted scenarios with points:\n\n"
            + coverage.constructions_md(coverage.constructions_table(nat, cty, params)))


def _factors_compared(nat: pd.DataFrame, cty: pd.DataFrame, cal: pd.DataFrame,
                      params: dict) -> str:
    """The docs' section comparing definitions of the calibration factor on the same rows,
    when the calibration rows keep each prediction's variance (rows of an earlier study
    do not)."""
    if "variance" not in cal or cal["variance"].isna().all():
        return ""
    t, k = coverage.factors_table(nat, cty, cal, params)
    return ("\n### Definitions of the factor compared\n\n"
            "The published construction with each register's factors made again from its "
            "calibration rows by another definition (`coverage.factors_table`): "
            + "; ".join(f"`{n}` {d}" for n, (_, d) in coverage.FACTOR_DEFINITIONS.items())
            + ". Targeted scenarios with points:\n\n"
            + coverage.constructions_md(t, "factor")
            + "\nThe last quarter's factor per register:\n\n"
            + k.round(2).to_markdown(index=False) + "\n")


def _factors_md(nat: pd.DataFrame) -> str:
    """Per scenario: the last quarter's calibration factor over the registers (one per
    register: every task's model row of a quarter has the same)."""
    if "variance_factor" not in nat:
        return "(rows of an earlier study: no factor kept)\n"
    m = nat[(nat["method"] == "model") & (nat["quarter"] == nat["quarter"].max())]
    f = m.groupby(["scenario", "register"])["variance_factor"].first().groupby("scenario")
    t = pd.DataFrame({"registers": f.size(), "widened %": 100 * f.apply(lambda x: (x > 1).mean()),
                      "median": f.median(), "mean": f.mean(), "max": f.max()})
    t = t.reindex([s for s in coverage.SCENARIOS if s in t.index]).round(2).to_markdown()
    q = coverage.summary(nat, by=("scenario", "quarter")).reset_index()
    q = q[q["scenario"].isin(coverage.SCENARIOS)][
        ["scenario", "quarter", "point_pct", "point_coverage", "point_above", "point_below",
         "half_width"]].round(1)
    return (t + "\n\nPoints by quarter (the second without a factor, the last with "
            "its own):\n\n" + q.to_markdown(index=False))


def _end_to_end(data: Path) -> int:
    from seuranta.core.quarters import quarter_range
    from seuranta.demo import generator as demo
    from seuranta.register import stage as register

    params = load_params()
    quarters = quarter_range(demo.FIRST_QUARTER, demo.LAST_QUARTER)
    tables = register.run_register_stage(data, quarters, params)
    out = stats.run_statistics_stage(tables, data, params)
    e2e = coverage.end_to_end(out["series_estimates"], tables["series_counts"]
                              if "series_counts" in tables else tables["counts"],
                              pd.read_csv(data / "truth.csv"),
                              pd.read_csv(data / "truth_municipal.csv",
                                          dtype={"municipality_code": str}))
    OUT.mkdir(parents=True, exist_ok=True)
    e2e.to_csv(OUT / "end_to_end.csv", index=False)
    pd.set_option("display.width", 250)
    print(e2e.round(2).to_string())
    tab = e2e.groupby("method").agg(n=("covered", "size"), coverage=("covered", "mean"),
                                    mean_error=("error_pct", "mean"),
                                    rmse=("error_pct", lambda v: (v ** 2).mean() ** 0.5),
                                    oracle_mean_error=("oracle_error_pct", "mean"),
                                    oracle_rmse=("oracle_error_pct",
                                                 lambda v: (v ** 2).mean() ** 0.5))
    tab["coverage"] *= 100
    print(tab.round(2).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
