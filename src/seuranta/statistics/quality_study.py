"""What the quality rule does to the national estimate, measured on data with known truth.

``quality_errors(data_dir, params)`` runs the register stage once and the statistics stage
under each rule and compares every quarter's national estimates (all ages, both methods)
with the demo's ``truth.csv``:

``old``
    the earlier rule: a share low or high against comparable municipalities excludes
    (``quality.plausibility_excludes: true``);
``new``
    exclusion only on delivery evidence, the plausibility codes are flags (the published
    rule, ``estimates.csv``);
``new_without_flagged``
    the new rule's estimate without the flagged municipalities (``estimates_sensitivity``,
    variant ``ilman_tarkistettavia``);
``new_reviewed``
    the new rule after a review round that excludes exactly the flagged rows the demo made
    under-delivering (``metadata.json`` ``faults.under_delivering``) and confirms the other
    flagged ones (genuinely low or high): what the flag-and-review process aims at;
``oracle``
    the ratio from the municipalities whose delivered count (source ALL) equals their true
    count and that the new rule does not exclude — data truly complete (ratio method only).

One row per rule × quarter × task × method: estimate, truth, ``error_pct`` (100 × (estimate /
truth − 1)), municipalities_used. ``summary`` averages the errors per rule and method over
the chosen quarters and tasks. ``scripts/quality_bias.py`` (``make quality-bias``) prints
them for a demo at national scale; the coverage study can call :func:`quality_errors` on
any demo folder.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.register import stage as register
from seuranta.statistics import estimate as est
from seuranta.statistics import stage as stats

RULES = ("old", "new", "new_without_flagged", "new_reviewed", "oracle")


def _truth(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    nat = pd.read_csv(Path(data_dir) / "truth.csv")
    nat = nat[nat["age_group"] == "kaikki"][["quarter", "service_task", "true_clients"]]
    mun = pd.read_csv(Path(data_dir) / "truth_municipal.csv",
                      dtype={"municipality_code": str})
    return nat, mun


def quality_errors(data_dir: Path, params: dict, last_quarter: str | None = None,
                   register_tables: dict | None = None) -> pd.DataFrame:
    """Errors of the national estimates under each rule (see the module docstring)."""
    data_dir = Path(data_dir)
    meta_last = last_quarter or _last_quarter(data_dir)
    quarters = quarter_range(Quarter.parse(params["publication"]["first_quarter"]),
                             Quarter.parse(meta_last))
    reg = register_tables or register.run_register_stage(data_dir, quarters, params)
    tables = register.tables_for_quarter(reg, quarters[-1])
    nat, mun = _truth(data_dir)
    tasks = reference.task_codes(estimated_only=True) + [stats.CWA_TASK]
    rows = []
    runs = {}
    for rule, excludes in (("old", True), ("new", False)):
        p = copy.deepcopy(params)
        p.setdefault("quality", {})["plausibility_excludes"] = excludes
        out = stats.run_statistics_stage(tables, data_dir, p)
        runs[rule] = out
        e = out["series_estimates"]
        e = e[(e["age_group"] == "kaikki") & e["service_task"].isin(tasks)]
        rows.append(e.assign(rule=rule))
    # the estimate without the flagged municipalities, for every quarter of the series
    keys = ["quarter", "municipality_code", "service_task", "source"]
    series = stats._with_series(tables, "counts", keys)
    cwa = stats._with_series(tables, "cwa_counts", keys)
    sq = runs["new"]["series_quality"]
    sens = stats.sensitivity_estimates(stats._Context(data_dir, params), series, cwa, sq,
                                       runs["new"]["series_estimates"],
                                       set(sq["quarter"].astype(str)))
    rows.append(sens[sens["variant"] == stats.VARIANTS[1]].assign(rule="new_without_flagged"))
    # a review round that recognises the flagged rows the demo made under-delivering
    under = _under_delivering(data_dir)
    if under:
        key = list(zip(sq["municipality_code"], sq["service_task"]))
        out = (sq["flags"].fillna("").astype(str) != "") & np.array([k in under for k in key])
        comp = stats.comprehensive_sets(sq.assign(quality=sq["quality"].mask(out, "partial")))
        ctx = stats._Context(data_dir, params)
        r = stats.estimates_for(ctx, series, comp, reference.task_codes(estimated_only=True))
        if cwa is not None and len(cwa):
            r += stats.estimates_for(ctx, cwa, comp, [stats.CWA_TASK])
        rows.append(pd.DataFrame(r).assign(rule="new_reviewed"))
    rows.append(_oracle(series, cwa, sq, mun, nat, params).assign(rule="oracle"))
    d = pd.concat(rows, ignore_index=True)
    d = d.merge(nat, on=["quarter", "service_task"], how="left")
    d["error_pct"] = 100 * (d["estimate"] / d["true_clients"] - 1)
    cols = ["rule", "quarter", "service_task", "method", "municipalities_used", "estimate",
            "true_clients", "error_pct"]
    return d[cols].sort_values(["rule", "quarter", "service_task", "method"]).reset_index(
        drop=True)


def _under_delivering(data_dir: Path) -> set[tuple[str, str]]:
    p = Path(data_dir) / "metadata.json"
    if not p.is_file():
        return set()
    meta = json.loads(p.read_text())
    return {(u["municipality_code"], u["service_task"])
            for u in meta.get("faults", {}).get("under_delivering", [])}


def _last_quarter(data_dir: Path) -> str:
    return json.loads((Path(data_dir) / "metadata.json").read_text())["last_quarter"]


def _oracle(series, cwa, sq, mun, nat, params) -> pd.DataFrame:
    """Ratio from the municipalities with truly complete data (delivered = true count) that
    the new rule does not exclude."""
    ep = params["estimate"]
    rows = []
    frames = [series] + ([cwa] if cwa is not None and len(cwa) else [])
    allc = pd.concat(frames, ignore_index=True)
    allc = allc[allc["source"] == "ALL"].copy()
    allc["quarter"] = allc["quarter"].astype(str)
    m = allc.merge(mun[["quarter", "municipality_code", "service_task", "true_clients"]],
                   on=["quarter", "municipality_code", "service_task"], how="inner")
    ok = sq[sq["quality"] == "comprehensive"][["quarter", "municipality_code",
                                               "service_task"]]
    ok = pd.concat([ok, ok[ok["service_task"] == "lastensuojelu"].assign(
        service_task=stats.CWA_TASK)], ignore_index=True)
    m = m.merge(ok, on=["quarter", "municipality_code", "service_task"], how="left",
                indicator=True)
    tasks = set(reference.task_codes(estimated_only=True)) | {stats.CWA_TASK}
    for (q, t), g in m.groupby(["quarter", "service_task"]):
        if t not in tasks:
            continue
        use = (g["clients"] == g["true_clients"]) & (g["clients"] > 0) & (g["_merge"] == "both")
        r = est.ratio_estimate(g.loc[use, "clients"].to_numpy(float),
                               g.loc[use, "population_base"].to_numpy(float),
                               float(g["population_base"].sum()), len(g),
                               z=float(ep["z"]),
                               min_municipalities=int(ep["min_municipalities"]))
        rows.append({"quarter": q, "service_task": t, "method": "ratio",
                     "municipalities_used": int(use.sum()), "estimate": r["estimate"]})
    return pd.DataFrame(rows)


def summary(errors: pd.DataFrame, quarters: list[str] | None = None) -> pd.DataFrame:
    """Mean error, mean absolute error and RMSE (%) per rule × method over the quarters."""
    d = errors if quarters is None else errors[errors["quarter"].isin(quarters)]
    d = d[np.isfinite(d["error_pct"])]
    g = d.groupby(["rule", "method"])["error_pct"]
    out = pd.DataFrame({"mean_error_pct": g.mean(), "mean_abs_error_pct": g.apply(
        lambda x: x.abs().mean()), "rmse_pct": g.apply(lambda x: float(np.sqrt((x ** 2).mean()))),
        "n": g.size()})
    order = {r: i for i, r in enumerate(RULES)}
    return out.reset_index().sort_values(["method", "rule"], key=lambda s: s.map(order)
                                         if s.name == "rule" else s).reset_index(drop=True)
