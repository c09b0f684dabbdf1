"""The coverage study: how often the national and county intervals cover the truth, and how
far the estimates fall from it, when municipalities really differ (issue 12, item 5).

A *coverage pattern* is the set of municipalities whose data are truly complete. For one
population of municipalities with known true clients (per task) the study draws patterns
by a *joining mechanism* and, for each, computes every method from the complete
municipalities' true counts exactly as the pipeline does
(:func:`seuranta.statistics.estimate.estimate_with_prediction`, the county totals of
:mod:`seuranta.statistics.smallarea`), then compares with the true national and county
totals. Each pattern first draws the share of the population base that has joined,
uniformly in ``SHARE_RANGE``; municipalities join in the order of a random key until that
share is reached (the first to cross it included). The key is the scenario:

``demo``
    the realistic demo's own population (``truth_municipal.csv`` and ``population.csv`` of
    a demo folder at scale 1, the last quarter) and the demo generator's own joining
    (:func:`seuranta.demo.generator.joining_keys` of its default scenario: a county part
    and a municipal part, unrelated to the shares), redrawn for every pattern.
``a``
    synthetic population, joining unrelated to anything (a uniform key).
``b``
    synthetic population, joining related to what the project observes: larger
    municipalities, older populations and some counties join first
    (key = −0.8·z(log population) − 0.5·z(share 65+) + county effect N(0, 1) + N(0, 1)).
``c``
    as (b), and municipalities whose share is high *beyond* the covariates join first
    (key − 1.0·z(structural residual)): selection on the outcome, the hard case.

The *synthetic population* (:func:`synthetic_population`) has the real mainland
municipalities, bases and age structures, and shares that differ structurally: log share =
log rate + 0.10·z(log population) + 0.15·z(share 65+) + county effect (sd
``COUNTY_SD``) + municipal effect with sd √(``STRUCTURAL_SD``² + 0.3²·min(median population
/ population, 4)) (tens of per cent for municipalities of every size; small ones more),
Poisson counts.

In a simulated pattern the comprehensive set *is* the truly complete set, so the ratio
method is the oracle of the issue (the ratio from the truly complete municipalities); what
the study compares is the published method against it. How the pipeline's own quality
classes move the estimate away from the oracle is measured end to end on the demo
(``scripts/coverage_sim.py --end-to-end DATA``, :func:`end_to_end`).

Output: one row per scenario × task × pattern × method (:func:`simulate`), summaries
(:func:`summary`, :func:`county_summary`) and the Markdown tables of the README and the
methods chapter (:func:`markdown`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.fmt import fi_number
from seuranta.core.params import defaults
from seuranta.core.quarters import Quarter
from seuranta.demo import generator as gen
from seuranta.inputs.population import population_path, read_population
from seuranta.statistics import estimate as est
from seuranta.statistics import represent as rep

#: National shares of the synthetic population (of each task's base).
SYNTHETIC_RATES = {"iakkaat": .19, "tyoikaiset": .07, "lapsiperheet": .06,
                   "lastensuojelu": .05, "vammaispalvelut": .024, "paihdetyo": .004}
STRUCTURAL_SD = 0.25
SMALL_SD = 0.3
COUNTY_SD = 0.10
SHARE_RANGE = (0.10, 0.70)
SCENARIOS = ("demo", "a", "b", "c")
SCENARIO_EN = {"demo": "realistic demo (scale 1), its own joining",
               "a": "(a) joining unrelated to the share",
               "b": "(b) joining related to size, age structure, county",
               "c": "(c) joining related to the share beyond the covariates"}
SCENARIO_FI = {"demo": "realistinen demoaineisto, sen oma liittymistapa",
               "a": "(a) liittyminen ei riipu osuudesta",
               "b": "(b) liittyminen riippuu koosta, ikärakenteesta ja alueesta",
               "c": "(c) liittyminen riippuu osuudesta myös näiden yli"}
METHODS = ("ratio_jackknife", "ratio_linearised", "model")
METHOD_EN = {"ratio_jackknife": "ratio, jackknife SE", "ratio_linearised": "ratio, linearised SE",
             "model": "model (NB prediction)"}
METHOD_FI = {"ratio_jackknife": "suhde, jackknife", "ratio_linearised": "suhde, linearisoitu",
             "model": "malli (NB-ennuste)"}
COVARIATES = ["log_population", "share_0_17", "share_65plus", "share_85plus"]


def _z(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, float)
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else v * 0.0


def demo_population(data_dir: Path, quarter: str | None = None) -> pd.DataFrame:
    """One row per task × mainland municipality of a demo folder's last (or given) quarter:
    y (true clients), x (base), county_code, the covariates; ``resid`` = 0 (unknown)."""
    data_dir = Path(data_dir)
    tm = pd.read_csv(data_dir / "truth_municipal.csv", dtype={"municipality_code": str})
    if "age_group" in tm.columns:
        tm = tm[tm["age_group"] == "kaikki"]
    quarter = quarter or tm["quarter"].max()
    tm = tm[(tm["quarter"] == quarter)
            & tm["service_task"].isin(reference.task_codes(estimated_only=True))]
    if tm.empty:
        raise ValueError(f"{data_dir}/truth_municipal.csv has no rows for quarter {quarter}")
    cov = rep.municipal_covariates(read_population(population_path(data_dir)),
                                   Quarter.parse(quarter).population_year,
                                   reference.mainland_municipalities())
    d = tm.rename(columns={"true_clients": "y", "population_base": "x"})[
        ["service_task", "municipality_code", "y", "x"]].merge(cov, on="municipality_code")
    return d.assign(y=d["y"].astype(float), x=d["x"].astype(float), resid=0.0)


def synthetic_template() -> pd.DataFrame:
    """The fixed part of the synthetic population: one row per task × mainland municipality
    with x (base), county_code, the covariates and ``rate`` (the task's national share)."""
    pop = reference.reference_population()
    mainland = reference.mainland_municipalities()
    pop = pop[pop["municipality_code"].isin(set(mainland["municipality_code"]))]
    cov = rep.municipal_covariates(pop, int(pop["year"].max()), mainland)
    bases = reference.base_population(pop)
    out = []
    for task, rate in SYNTHETIC_RATES.items():
        f = cov.merge(bases.loc[bases["service_task"] == task,
                                ["municipality_code", "population_base"]], on="municipality_code")
        out.append(f.rename(columns={"population_base": "x"}).assign(
            service_task=task, x=lambda d: d["x"].astype(float), rate=rate))
    return pd.concat(out, ignore_index=True)


def draw_counts(rng, f: pd.DataFrame, structural_sd: float = STRUCTURAL_SD,
                county_sd: float = COUNTY_SD) -> pd.DataFrame:
    """One draw of the synthetic shares and counts for one task's rows of the template
    (``resid`` = the municipal structural effect in sd units, which scenario (c) selects
    on)."""
    p = f["population"].to_numpy(float)
    sd = np.sqrt(structural_sd ** 2 + SMALL_SD ** 2 * np.minimum(np.median(p) / p, 4.0))
    e = rng.normal(0.0, 1.0, len(f))
    counties = sorted(f["county_code"].unique())
    u = dict(zip(counties, rng.normal(0.0, county_sd, len(counties))))
    eta = (0.10 * _z(f["log_population"]) + 0.15 * _z(f["share_65plus"])
           + f["county_code"].map(u).to_numpy() + e * sd)
    x = f["x"].to_numpy(float)
    lam = x * np.exp(eta)
    lam *= float(f["rate"].iloc[0]) * x.sum() / lam.sum()   # national share = rate
    return f.assign(y=rng.poisson(lam).astype(float), resid=e)


def synthetic_population(seed: int = 1, structural_sd: float = STRUCTURAL_SD,
                         county_sd: float = COUNTY_SD) -> pd.DataFrame:
    """One draw of the whole synthetic population (every task)."""
    rng = np.random.default_rng(seed)
    return pd.concat([draw_counts(rng, g, structural_sd, county_sd)
                      for _, g in synthetic_template().groupby("service_task", sort=True)],
                     ignore_index=True)


def join_key(rng, f: pd.DataFrame, scenario: str) -> np.ndarray:
    """The joining order's key of each municipality (lowest joins first; docstring)."""
    n = len(f)
    county = f["county_code"].astype(str).to_numpy()
    cs = sorted(set(county))
    if scenario == "a":
        return rng.random(n)
    if scenario == "demo":     # the demo generator's own joining (its default scenario)
        return gen.joining_keys(rng, gen.DEFAULT_JOINING, county, f["population"].to_numpy(float),
                                f["share_65plus"].to_numpy(float), np.zeros(n))
    if scenario not in ("b", "c"):
        raise ValueError(f"unknown scenario {scenario!r}")
    ce = dict(zip(cs, rng.normal(0.0, 1.0, len(cs))))
    key = (-0.8 * _z(f["log_population"]) - 0.5 * _z(f["share_65plus"])
           + np.array([ce[c] for c in county]) + rng.normal(0.0, 1.0, n))
    if scenario == "c":
        key = key - 1.0 * _z(f["resid"])
    return key


def draw_pattern(rng, f: pd.DataFrame, scenario: str) -> np.ndarray:
    """Mask of the truly complete municipalities of one pattern."""
    share = rng.uniform(*SHARE_RANGE)
    x = f["x"].to_numpy(float)
    order = np.argsort(join_key(rng, f, scenario), kind="stable")
    cum = np.cumsum(x[order])
    k = int(np.searchsorted(cum, share * x.sum())) + 1
    comp = np.zeros(len(f), bool)
    comp[order[:k]] = True
    return comp


def simulate(pop: pd.DataFrame, scenario: str, patterns: int, seed: int,
             params: dict | None = None, redraw: bool = False
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """National rows (task × pattern × method: estimate, se, truth, covered, publish_as,
    base_pct) and county rows (task × pattern × county not fully complete: estimate, se,
    truth, covered). ``redraw``: a new draw of the synthetic shares and counts for every
    pattern (:func:`draw_counts`; ``pop`` is then :func:`synthetic_template`), so that the
    result does not hang on one draw of, say, Helsinki's share."""
    p = {**defaults("estimate"), **(params or {})}
    z = float(p["z"])
    covs = list(p.get("model_covariates") or COVARIATES)
    rng = np.random.default_rng(seed)
    nat, cty = [], []
    for task, f in pop.groupby("service_task", sort=True):
        f = f.reset_index(drop=True)
        county = f["county_code"].astype(str).to_numpy()
        for k in range(patterns):
            if redraw or k == 0:
                if redraw:
                    f = draw_counts(rng, f)
                y = f["y"].to_numpy(float)
                truth = float(y.sum())
                ctruth = pd.Series(y).groupby(county).sum()
            comp = draw_pattern(rng, f, scenario)
            frame = f.assign(clients=np.where(comp, y, np.nan), population_base=f["x"],
                             comprehensive=comp)
            rows, pred = est.estimate_with_prediction(frame, covs, p)
            r, m = rows
            base_pct = 100 * r["population_used"] / r["national_base"]
            for meth, e, se, pa in (
                    ("ratio_jackknife", r["estimate"], r["se_jackknife"], r["publish_as"]),
                    ("ratio_linearised", r["estimate"], r["se_linearised"], r["publish_as"]),
                    ("model", m["estimate"], m["se"], m["publish_as"])):
                lo = max(e - z * se, r["clients_used"]) if meth == "model" else e - z * se
                nat.append((scenario, task, k, meth, e, se, truth,
                            bool(lo <= truth <= e + z * se), pa, base_pct,
                            int(r["municipalities_used"])))
            if pred is None:
                continue
            g = pred.group_totals(county)
            full = pd.Series(comp).groupby(county).all()
            for row in g.itertuples(index=False):
                if full[row.group]:
                    continue
                se = math.sqrt(row.variance)
                t = float(ctruth[row.group])
                lo = max(row.estimate - z * se, row.observed)
                cty.append((scenario, task, k, row.group, row.estimate, se, t,
                            bool(lo <= t <= row.estimate + z * se)))
    ncols = ["scenario", "service_task", "pattern", "method", "estimate", "se", "truth",
             "covered", "publish_as", "base_pct", "municipalities"]
    ccols = ["scenario", "service_task", "pattern", "county_code", "estimate", "se", "truth",
             "covered"]
    return pd.DataFrame(nat, columns=ncols), pd.DataFrame(cty, columns=ccols)


def _stats(g: pd.DataFrame) -> pd.Series:
    err = 100 * (g["estimate"] / g["truth"] - 1)
    ok = err.notna()
    return pd.Series({"n": int(ok.sum()), "coverage": 100 * g.loc[ok, "covered"].mean(),
                      "mean_error": err[ok].mean(),
                      "rmse": math.sqrt((err[ok] ** 2).mean()) if ok.any() else math.nan})


def summary(nat: pd.DataFrame, by: tuple[str, ...] = ("scenario", "method"),
            point_only: bool = False) -> pd.DataFrame:
    """Coverage (%), mean error (%) and RMSE (% of the truth) per ``by``, with the RMSE
    relative to the oracle's (the ratio on the truly complete municipalities)."""
    d = nat[nat["publish_as"] == "point"] if point_only else nat
    tab = d.groupby(list(by)).apply(_stats, include_groups=False)
    keys = [b for b in by if b != "method"]
    orc = (d[d["method"] == "ratio_jackknife"].groupby(keys).apply(_stats, include_groups=False)
           if keys else None)
    if orc is not None:
        tab = tab.join(orc[["rmse"]].rename(columns={"rmse": "oracle_rmse"}), on=keys)
        tab["rmse_vs_oracle"] = tab["rmse"] / tab["oracle_rmse"]
    return tab


def county_summary(cty: pd.DataFrame, by: tuple[str, ...] = ("scenario",)) -> pd.DataFrame:
    return cty.groupby(list(by)).apply(_stats, include_groups=False)


def _f(x, d=1):
    return "–" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _fi(x, d=1):
    return "–" if x is None or not np.isfinite(x) else fi_number(x, d)


#: Header, scenario names, method names and number format of the summary table per language.
_SUMMARY = {
    "en": ("| scenario | method | coverage % | mean error % | RMSE % | RMSE / oracle "
           "| coverage %, point estimates only (n) | county coverage % |",
           SCENARIO_EN, METHOD_EN, _f),
    "fi": ("| asetelma | menetelmä | kattavuus % | keskim. virhe (harha) % | RMSE % "
           "| RMSE / oraakkeli | kattavuus %, vain piste-estimaatit (n) | alueiden kattavuus % |",
           SCENARIO_FI, METHOD_FI, _fi),
}


def markdown(nat: pd.DataFrame, cty: pd.DataFrame, published: str, meta: str,
             lang: str = "en") -> str:
    """The summary table: the README's (``en``) or the methods chapter's (``fi``)."""
    head, scen, meth, fmt = _SUMMARY[lang]
    allp = summary(nat)
    pt = summary(nat, point_only=True)
    cs = county_summary(cty)
    lines = [meta, "", head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in [s for s in SCENARIOS if s in set(nat["scenario"])]:
        for m in METHODS:
            if (s, m) not in allp.index:
                continue
            a = allp.loc[(s, m)]
            q = pt.loc[(s, m)] if (s, m) in pt.index else None
            name = f"**{meth[m]}**" if m == published else meth[m]
            ctext = fmt(cs.loc[s, "coverage"]) if m == "model" and s in cs.index else ""
            point = f"{fmt(q['coverage'])} ({int(q['n'])})" if q is not None else "–"
            lines.append(f"| {scen[s]} | {name} | {fmt(a['coverage'])} | "
                         f"{fmt(a['mean_error'], 2)} | {fmt(a['rmse'], 2)} | "
                         f"{fmt(a['rmse_vs_oracle'], 2)} | {point} | {ctext} |")
    return "\n".join(lines) + "\n"


def markdown_detail(nat: pd.DataFrame, cty: pd.DataFrame) -> str:
    """Per scenario × task × method (English): coverage, mean error, RMSE, county coverage."""
    tab = summary(nat, by=("scenario", "service_task", "method"))
    cs = county_summary(cty, by=("scenario", "service_task")) if len(cty) else None
    lines = ["| scenario | task | method | coverage % | mean error % | RMSE % | RMSE / oracle "
             "| county coverage % |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for (s, t, m), a in tab.iterrows():
        c = (_f(cs.loc[(s, t), "coverage"]) if m == "model" and cs is not None
             and (s, t) in cs.index else "")
        lines.append(f"| {s} | {t} | {METHOD_EN[m]} | {_f(a['coverage'])} "
                     f"| {_f(a['mean_error'], 2)} | {_f(a['rmse'], 2)} "
                     f"| {_f(a['rmse_vs_oracle'], 2)} | {c} |")
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- coverage table: generated by scripts/coverage_sim.py --write -->"
README_END = "<!-- end of coverage table -->"


def replace_between(text: str, block: str, begin: str = README_BEGIN,
                    end: str = README_END) -> str:
    """``text`` with what lies between the ``begin`` and ``end`` marker lines replaced."""
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError("the coverage table's markers are missing")
    return text[:i + len(begin)] + "\n" + block + text[j:]


#: The targets of issue 12 for the published method (coverage and county coverage in %,
#: mean error in % of the truth, RMSE relative to the oracle's); scenario (c) is reported
#: as it is.
TARGETS = {"coverage": (92.0, 97.0), "mean_error": (-1.0, 1.0), "rmse_vs_oracle": (0.0, 1.2),
           "county_coverage": (90.0, 98.0)}


def targets(nat: pd.DataFrame, cty: pd.DataFrame, published: str) -> pd.DataFrame:
    """Per scenario: the published method's coverage, mean error, RMSE / oracle and county
    coverage, and whether each lies in its ``TARGETS`` range (``met``: all four)."""
    s = summary(nat)
    cs = county_summary(cty) if len(cty) else pd.DataFrame(columns=["coverage"])
    rows = []
    for sc in [x for x in SCENARIOS if (x, published) in s.index]:
        a = s.loc[(sc, published)]
        r = {"scenario": sc, "coverage": a["coverage"], "mean_error": a["mean_error"],
             "rmse_vs_oracle": a["rmse_vs_oracle"],
             "county_coverage": cs["coverage"].get(sc, math.nan)}
        r["met"] = all(lo <= r[k] <= hi for k, (lo, hi) in TARGETS.items())
        rows.append(r)
    return pd.DataFrame(rows)


def targets_md(t: pd.DataFrame, fi: bool = False) -> str:
    """The targets table in English or Finnish."""
    if fi:
        head = ("| asetelma | kattavuus % (tavoite 92–97) | harha % (±1) | RMSE / oraakkeli "
                "(≤ 1,2) | alueiden kattavuus % (90–98) | tavoitteet täyttyvät |")
        names, yes, no, fmt = SCENARIO_FI, "kyllä", "ei", _fi
    else:
        head = ("| scenario | coverage % (target 92–97) | mean error % (±1) | RMSE / oracle "
                "(≤ 1.2) | county coverage % (90–98) | targets met |")
        names, yes, no, fmt = SCENARIO_EN, "yes", "no", _f
    lines = [head, "|---|---:|---:|---:|---:|---|"]
    for r in t.itertuples(index=False):
        met = (yes if r.met else no) if r.scenario != "c" else ("–" if fi else "– (reported as is)")
        lines.append(f"| {names[r.scenario]} | {fmt(r.coverage)} | {fmt(r.mean_error, 2)} | "
                     f"{fmt(r.rmse_vs_oracle, 2)} | {fmt(r.county_coverage)} | {met} |")
    return "\n".join(lines) + "\n"


def end_to_end(series_estimates: pd.DataFrame, counts: pd.DataFrame,
               truth: pd.DataFrame, truth_municipal: pd.DataFrame, z: float = 1.96
               ) -> pd.DataFrame:
    """The pipeline's own national estimates (every quarter × task of ``series_estimates``,
    all ages, both methods) against the truth, beside the oracle: the ratio from the
    municipalities whose observed clients (``counts``, source ALL) equal their true clients.
    One row per quarter × task × method: estimate, ci, truth, covered, error %, oracle
    estimate and error %, publish_as."""
    tm = truth_municipal.assign(municipality_code=truth_municipal["municipality_code"].astype(str))
    c = counts[counts["source"] == "ALL"].assign(
        quarter=lambda d: d["quarter"].astype(str),
        municipality_code=lambda d: d["municipality_code"].astype(str))
    m = tm.merge(c[["quarter", "municipality_code", "service_task", "clients"]],
                 on=["quarter", "municipality_code", "service_task"], how="left")
    m["complete"] = m["clients"].fillna(-1) == m["true_clients"]
    tr = truth[truth["age_group"] == "kaikki"].set_index(["quarter", "service_task"])[
        "true_clients"]
    e = series_estimates[(series_estimates["age_group"] == "kaikki")
                         & series_estimates["service_task"].isin(list(SYNTHETIC_RATES))]
    rows = []
    for r in e.itertuples(index=False):
        g = m[(m["quarter"] == r.quarter) & (m["service_task"] == r.service_task)]
        k = g["complete"].to_numpy()
        o = est.ratio_estimate(g.loc[k, "true_clients"], g.loc[k, "population_base"],
                               float(g["population_base"].sum()), len(g), z=z)
        t = float(tr[(r.quarter, r.service_task)])
        rows.append({"quarter": r.quarter, "service_task": r.service_task, "method": r.method,
                     "published": r.published, "publish_as": r.publish_as,
                     "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "truth": t, "covered": bool(r.ci_low <= t <= r.ci_high),
                     "error_pct": 100 * (r.estimate / t - 1),
                     "complete_municipalities": int(k.sum()),
                     "comprehensive_municipalities": r.municipalities_used,
                     "oracle": o["estimate"], "oracle_error_pct": 100 * (o["estimate"] / t - 1)})
    return pd.DataFrame(rows)
