"""The coverage study: the published national and county figures against the truth on
registers that the model did not generate (issue 22).

Each scenario of :mod:`seuranta.simulate.registers` (a generator that shares no code and
no functional form with the estimators: shares from age-band mixtures, size steps, flat
county effects, gamma and outlier municipal effects; the mechanisms of joining,
under-delivery and true zeros as scenarios) gives a number of simulated registers of four
quarters. On each, :func:`register_rows` runs the statistics stage's own code — the quality
classes (:func:`seuranta.statistics.quality.classify`), the comprehensive sets, the
national estimates with the publication rule and the county estimates
(:func:`seuranta.statistics.stage.estimates_for`), and the calibration of earlier
predictions (:func:`seuranta.statistics.stage.calibration_table`) — with the project's
``parameters.yml``; the estimators never see a scenario's parameters. The second and the last
quarter of each register are estimated (``STUDY_QUARTERS``); each quarter × task is one
national figure, each county not wholly comprehensive one county figure.

A published *point* covers the truth when the truth lies in its interval
[ci_low, ci_high]; a published *range* when it lies in [range_low, range_high]. Per
scenario (:func:`summary`): how often each outcome (point / range / none) occurs, the
coverage of points and of ranges, the misses above and below, the mean error and RMSE (% of
the truth) of the points and of all estimates, and the mean relative half-width of the
points' intervals; the same for the counties (:func:`county_summary`). The standard errors
of the points' coverage and mean error take the register as the cluster: a register's
tasks and quarters share its municipalities, so its figures are far from independent.

``make coverage`` (``scripts/coverage_sim.py``) writes ``docs/coverage.md``, the methods
chapter's tables (``book/_generated/coverage_fi.md``) and the README's table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.fmt import fi_number
from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE
from seuranta.simulate import registers as sim
from seuranta.statistics import estimate as est
from seuranta.statistics import model as mdl
from seuranta.statistics import quality as qual
from seuranta.statistics import stage

SCENARIOS = tuple(sim.SCENARIOS)
SCENARIO_EN = {
    "spread35": "municipalities differ (sd 0.35), random joining",
    "spread60": "municipalities differ strongly (sd 0.6), random joining",
    "size": "large municipalities join first (about 86 % of the base)",
    "county": "whole counties join, counties differ (sd 0.2)",
    "under": "5 % of declared pairs deliver 30–40 % of their clients",
    "zeros": "declared municipalities with truly no clients",
    "share": "joining related to the share beyond the covariates (reported)",
}
SCENARIO_FI = {
    "spread35": "kunnat eroavat (hajonta 0,35), satunnainen liittyminen",
    "spread60": "kunnat eroavat paljon (hajonta 0,6), satunnainen liittyminen",
    "size": "suuret kunnat liittyvät ensin (noin 86 % väestöpohjasta)",
    "county": "kokonaiset alueet liittyvät, alueet eroavat (hajonta 0,2)",
    "under": "5 % kattaviksi ilmoitetuista toimittaa 30–40 % asiakkaista",
    "zeros": "kattaviksi ilmoitetuissa kunnissa aidosti ei asiakkaita",
    "share": "liittyminen riippuu osuudesta myös selittäjien yli (raportoidaan)",
}

#: The targets of issue 22 for the published method in every targeted scenario: national
#: points' coverage, ranges' coverage, mean error of the points (% of the truth), county
#: points' coverage.
TARGETS = {"point_coverage": (92.0, 97.0), "range_coverage": (95.0, 100.0),
           "mean_error": (-1.5, 1.5), "county_point_coverage": (90.0, 98.0)}

NATIONAL_COLUMNS = ["scenario", "register", "quarter", "service_task", "method", "published",
                    "estimate", "se", "clients_used", "ci_low", "ci_high", "truth",
                    "publish_as", "range_low", "range_high", "rule_reason", "base_pct",
                    "municipalities", "counties_used", "max_std_diff", "flagged_shift",
                    "mixture_low", "mixture_high", "flagged_expected_shift", "pairs_declared",
                    "pairs_excluded", "pairs_excluded_complete",
                    # the parts of the interval (estimate.interval_parts)
                    "model_estimate", "model_variance", "model_observed", "own_low",
                    "own_high", "nf_estimate", "nf_variance", "nf_observed", "sigma_u",
                    "sigma_u_low_weight", "flagged_n", "flagged_base_pct", "national_base",
                    "population_used", "note", "variance_factor"]
COUNTY_COLUMNS = ["scenario", "register", "quarter", "service_task", "county_code",
                  "estimate", "se", "clients_observed", "ci_low", "ci_high", "truth",
                  "publish_as", "range_low", "range_high", "mixture_low", "mixture_high",
                  "variance", "observed", "nf_estimate", "nf_variance", "nf_observed",
                  "comprehensive", "municipalities", "municipalities_comprehensive",
                  "population_base", "variance_factor"]

#: The quarters of each register that are estimated (the second and the last: the first
#: quarters of a series are much alike, and the calibration compares the second quarter's
#: predictions with what the municipalities that joined since deliver in the last).
STUDY_QUARTERS = (sim.QUARTERS[1], sim.QUARTERS[-1])


def register_rows(scenario: str, seed: int, params: dict) -> dict[str, pd.DataFrame]:
    """National, county and calibration rows of one simulated register (module docstring).
    ``params``: the whole parameters mapping (``core.params.load_params``)."""
    reg = sim.draw_register(scenario, seed)
    ctx = stage._Context(None, params, population=reg["population"])
    ctx.diagnose = True            # the flagged mixture's intervals beside the published
    counts = reg["counts"]
    last = max(sim.QUARTERS)
    quality = qual.classify(counts, reg["deliveries"], None, None, ctx.covariates(last), ctx.qp,
                            list(ctx.ep["model_covariates"]))
    comp = stage.comprehensive_sets(quality)
    flagged = stage.comprehensive_sets(quality, flagged=True)
    rows = stage.estimates_for(ctx, counts[counts["quarter"].isin(STUDY_QUARTERS)], comp,
                               sim.TASKS, flagged)
    # the out-of-sample check widens the later quarter's intervals as the pipeline does
    cal = stage.calibration_rows(ctx.predictions, counts, quality)
    factors = stage.variance_factors(cal, STUDY_QUARTERS, ctx.ep)
    rows, county_rows = stage.calibrated(rows, ctx.county_rows, factors, ctx.ep)
    truth = reg["truth"]
    tn = truth.groupby(["quarter", "service_task"])["true_clients"].sum()
    tc = truth.groupby(["quarter", "service_task", "county_code"])["true_clients"].sum()
    nat = pd.DataFrame(rows)
    checked = model_check_counts(quality, truth)
    nat = nat.join(checked, on=["quarter", "service_task"])
    nat = nat.assign(scenario=scenario, register=seed,
                     truth=[float(tn[(q, t)]) for q, t in zip(nat["quarter"],
                                                               nat["service_task"])],
                     base_pct=100 * nat["population_used"] / nat["national_base"])
    cty = pd.DataFrame(county_rows)
    cty = cty[cty["comprehensive"] == 0]
    cty = cty.assign(scenario=scenario, register=seed,
                     variance_factor=cty["quarter"].map(factors),
                     truth=[float(tc[k]) for k in zip(cty["quarter"], cty["service_task"],
                                                       cty["county_code"])])
    return {"national": nat.rename(columns={"municipalities_used": "municipalities"}).reindex(
                columns=NATIONAL_COLUMNS),
            "county": cty.reindex(columns=COUNTY_COLUMNS),
            "calibration": cal.assign(scenario=scenario, register=seed)}


def model_check_counts(quality: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per quarter × task: ``pairs_declared``, the rows with clients that are
    comprehensive or excluded by the model check only (``share_low_model``: would be
    comprehensive without it), ``pairs_excluded``, those excluded by it, and
    ``pairs_excluded_complete``, the excluded ones that delivered every true client (an
    honest pair excluded)."""
    t = truth.set_index(["quarter", "municipality_code", "service_task"])["true_clients"]
    q = quality.assign(truth=t.reindex(list(zip(quality["quarter"], quality["municipality_code"],
                                                quality["service_task"]))).to_numpy())
    codes = q["reasons"].fillna("").astype(str).str.split("; ")
    ex = codes.map(lambda c: "share_low_model" in c)
    only = codes.map(lambda c: all(x == "share_low_model"
                                   or qual.REASONS[x][0] in ("remark", "flag") for x in c if x))
    declared = (q["clients"] > 0) & ((q["quality"] == "comprehensive") | (ex & only))
    g = q.assign(pairs_declared=declared, pairs_excluded=ex & declared,
                 pairs_excluded_complete=ex & declared & (q["clients"] == q["truth"]))
    return (g.groupby(["quarter", "service_task"])[
        ["pairs_declared", "pairs_excluded", "pairs_excluded_complete"]].sum().astype("int64"))


# --------------------------------------------------------------------------- summaries

def covered(d: pd.DataFrame) -> pd.Series:
    """Whether each row's published figure holds the truth: a point its interval, a range
    itself; NaN for "ei arviota"."""
    pt = (d["ci_low"] <= d["truth"]) & (d["truth"] <= d["ci_high"])
    rg = (d["range_low"] <= d["truth"]) & (d["truth"] <= d["range_high"])
    out = pd.Series(np.nan, index=d.index)
    out[d["publish_as"] == "point"] = pt[d["publish_as"] == "point"].astype(float)
    out[d["publish_as"] == "range"] = rg[d["publish_as"] == "range"].astype(float)
    return out


def _stats(d: pd.DataFrame) -> pd.Series:
    n = len(d)
    err = 100 * (d["estimate"] / d["truth"] - 1)
    ok = np.isfinite(err)
    pts = d["publish_as"] == "point"
    rgs = d["publish_as"] == "range"
    cov = covered(d)
    ep = err[pts & ok]
    half = 100 * (d["ci_high"] - d["ci_low"]) / 2 / d["estimate"]
    rwidth = 100 * (d["range_high"] - d["range_low"]) / d["estimate"]
    # standard errors with the register as the cluster (a register's tasks and quarters
    # share its municipalities' effects): the sd of the registers' means / √registers
    se_err = se_cov = math.nan
    if "register" in d.columns and pts.any():
        g = pd.DataFrame({"r": d["register"], "e": err, "c": cov})[pts & ok].groupby("r")
        if g.ngroups > 1:
            se_err = float(g["e"].mean().std(ddof=1) / math.sqrt(g.ngroups))
            se_cov = float(100 * g["c"].mean().std(ddof=1) / math.sqrt(g.ngroups))
    return pd.Series({
        "n": n,
        "point_pct": 100 * pts.mean() if n else math.nan,
        "range_pct": 100 * rgs.mean() if n else math.nan,
        "none_pct": 100 * (d["publish_as"] == "none").mean() if n else math.nan,
        "point_coverage": 100 * cov[pts].mean() if pts.any() else math.nan,
        "point_above": 100 * (d["truth"] > d["ci_high"])[pts].mean() if pts.any() else math.nan,
        "point_below": 100 * (d["truth"] < d["ci_low"])[pts].mean() if pts.any() else math.nan,
        "range_coverage": 100 * cov[rgs].mean() if rgs.any() else math.nan,
        "mean_error": ep.mean() if len(ep) else math.nan,
        "mean_error_se": se_err, "point_coverage_se": se_cov,
        "rmse": math.sqrt((ep ** 2).mean()) if len(ep) else math.nan,
        "mean_error_all": err[ok].mean() if ok.any() else math.nan,
        "rmse_all": math.sqrt((err[ok] ** 2).mean()) if ok.any() else math.nan,
        "half_width": half[pts].mean() if pts.any() else math.nan,
        "interval_coverage": 100 * ((d["ci_low"] <= d["truth"]) & (d["truth"] <= d["ci_high"]))[
            ok].mean() if ok.any() else math.nan,
        "range_width": rwidth[rgs].mean() if rgs.any() else math.nan,
    })


def summary(nat: pd.DataFrame, method: str = "model", by: tuple[str, ...] = ("scenario",)
            ) -> pd.DataFrame:
    """Per scenario (``by``): outcome frequencies, coverage of points and ranges, misses,
    mean error and RMSE (% of the truth; points, and every estimate), mean half-width of
    the points' intervals (% of the estimate) and of the ranges' width."""
    d = nat[nat["method"] == method]
    return d.groupby(list(by), sort=False).apply(_stats, include_groups=False)


def county_summary(cty: pd.DataFrame, by: tuple[str, ...] = ("scenario",)) -> pd.DataFrame:
    return cty.groupby(list(by), sort=False).apply(_stats, include_groups=False)


def targets(nat: pd.DataFrame, cty: pd.DataFrame, method: str = "model") -> pd.DataFrame:
    """Per scenario: the published method against ``TARGETS`` (``met``: all of them; a
    scenario with no range has nothing to miss there)."""
    s = summary(nat, method)
    c = county_summary(cty)
    rows = []
    for sc in [x for x in SCENARIOS if x in s.index]:
        r = {"scenario": sc, "targeted": sim.SCENARIOS[sc].targeted,
             "point_coverage": s.at[sc, "point_coverage"],
             "range_coverage": s.at[sc, "range_coverage"],
             "mean_error": s.at[sc, "mean_error"],
             "county_point_coverage": (c.at[sc, "point_coverage"] if sc in c.index
                                       else math.nan)}
        # a target on points (ranges) is empty when the rule published none: not missed
        vacuous = {k: not np.isfinite(r[k]) for k in TARGETS if k != "mean_error"}
        r["met"] = all(vacuous.get(k) or (np.isfinite(r[k]) and lo <= r[k] <= hi)
                       for k, (lo, hi) in TARGETS.items()
                       if not (k == "mean_error" and vacuous["point_coverage"]))
        r["points"] = not vacuous["point_coverage"]
        rows.append(r)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tables

def _f(x, d=1):
    return "–" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _fi(x, d=1):
    """Finnish: a missing value is the publication's symbol "." (core.symbols)."""
    return NOT_AVAILABLE if x is None or not np.isfinite(x) else fi_number(x, d)


_HEAD = {
    "en": ("| scenario | n | point / range / none % | points cover % ± se (above / below) "
           "| ranges cover % | mean error % ± se (points; all) | RMSE % | half-width % "
           "| county points cover % (n) | county ranges cover % |"),
    "fi": ("| asetelma | n | piste / väli / ei arviota % | pisteiden kattavuus % ± kv (yli / "
           "ali) | välien kattavuus % | keskim. virhe % ± kv (pisteet; kaikki) | RMSE % "
           "| puoliväli % | alueiden pisteet % (n) | alueiden välit % |"),
}


def markdown(nat: pd.DataFrame, cty: pd.DataFrame, meta: str, lang: str = "en",
             method: str = "model") -> str:
    """The scenario table: the README's and docs' (``en``) or the methods chapter's
    (``fi``)."""
    fmt = _fi if lang == "fi" else _f
    na = fmt(None)
    names = SCENARIO_FI if lang == "fi" else SCENARIO_EN
    s = summary(nat, method)
    c = county_summary(cty)
    lines = [meta, "", _HEAD[lang], "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for sc in [x for x in SCENARIOS if x in s.index]:
        a = s.loc[sc]
        k = c.loc[sc] if sc in c.index else None
        kp = (f"{fmt(k['point_coverage'])} ({int(round(k['n'] * k['point_pct'] / 100))})"
              if k is not None else na)
        lines.append(
            f"| {names[sc]} | {int(a['n'])} | {fmt(a['point_pct'], 0)} / {fmt(a['range_pct'], 0)}"
            f" / {fmt(a['none_pct'], 0)} | {fmt(a['point_coverage'])} ± "
            f"{fmt(a['point_coverage_se'])} ({fmt(a['point_above'])} / "
            f"{fmt(a['point_below'])}) | {fmt(a['range_coverage'])} | "
            f"{fmt(a['mean_error'], 2)} ± {fmt(a['mean_error_se'], 2)}; "
            f"{fmt(a['mean_error_all'], 2)} | {fmt(a['rmse'], 2)} | "
            f"{fmt(a['half_width'], 2)} | {kp} | "
            f"{fmt(k['range_coverage']) if k is not None else na} |")
    return "\n".join(lines) + "\n"


def targets_md(t: pd.DataFrame, lang: str = "en") -> str:
    """The targets table in English or Finnish."""
    if lang == "fi":
        head = ("| asetelma | pisteet % (92–97) | välit % (≥ 95) | keskim. virhe % (±1,5) "
                "| alueiden pisteet % (90–98) | tavoitteet täyttyvät |")
        names, yes, no, rep, fmt = SCENARIO_FI, "kyllä", "ei", "raportoidaan", _fi
        untargeted = NOT_APPLICABLE
        only = " (vain vaihteluvälejä)"
    else:
        head = ("| scenario | points % (92–97) | ranges % (≥ 95) | mean error % (±1.5) "
                "| county points % (90–98) | targets met |")
        names, yes, no, rep, fmt = SCENARIO_EN, "yes", "no", "reported", _f
        untargeted = "–"
        only = " (ranges only)"
    lines = [head, "|---|---:|---:|---:|---:|---|"]
    for r in t.itertuples(index=False):
        met = ((yes if r.met else no) + ("" if r.points else only) if r.targeted
               else f"{untargeted} ({rep})")
        lines.append(f"| {names[r.scenario]} | {fmt(r.point_coverage)} | "
                     f"{fmt(r.range_coverage)} | {fmt(r.mean_error, 2)} | "
                     f"{fmt(r.county_point_coverage)} | {met} |")
    return "\n".join(lines) + "\n"


def markdown_detail(nat: pd.DataFrame) -> str:
    """Per scenario × task (English): outcomes, coverage, mean error, half-width."""
    s = summary(nat, by=("scenario", "service_task"))
    lines = ["| scenario | task | n | point / range / none % | points cover % | "
             "ranges cover % | mean error % | half-width % |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (sc, t), a in s.iterrows():
        lines.append(f"| {sc} | {t} | {int(a['n'])} | {_f(a['point_pct'], 0)} / "
                     f"{_f(a['range_pct'], 0)} / {_f(a['none_pct'], 0)} | "
                     f"{_f(a['point_coverage'])} | {_f(a['range_coverage'])} | "
                     f"{_f(a['mean_error'], 2)} | {_f(a['half_width'], 2)} |")
    return "\n".join(lines) + "\n"


def model_check_md(nat: pd.DataFrame, lang: str = "en", method: str = "model") -> str:
    """Per scenario: how many declared-comprehensive pairs (with clients) a figure has, how
    many the model check excluded and how many of those delivered every true client
    (honest pairs excluded), per figure and as % of the declared pairs."""
    d = nat[nat["method"] == method]
    g = d.groupby("scenario", sort=False)[["pairs_declared", "pairs_excluded",
                                          "pairs_excluded_complete"]].agg(["mean", "sum"])
    fmt = _fi if lang == "fi" else _f
    names = SCENARIO_FI if lang == "fi" else SCENARIO_EN
    head = ("| asetelma | kattaviksi ilmoitettuja / luku | pois jätettyjä / luku | joista "
            "täydellisiä / luku | täydellisiä pois jätettyjä % ilmoitetuista |" if lang == "fi"
            else "| scenario | declared pairs / figure | excluded / figure | of which complete "
                 "/ figure | complete pairs excluded % of declared |")
    lines = [head, "|---|---:|---:|---:|---:|"]
    for sc in [x for x in SCENARIOS if x in g.index]:
        a = g.loc[sc]
        n = a[("pairs_declared", "sum")]
        lines.append(f"| {names[sc]} | {fmt(a[('pairs_declared', 'mean')], 1)} | "
                     f"{fmt(a[('pairs_excluded', 'mean')], 2)} | "
                     f"{fmt(a[('pairs_excluded_complete', 'mean')], 2)} | "
                     f"{fmt(100 * a[('pairs_excluded_complete', 'sum')] / n if n else None, 2)} |")
    return "\n".join(lines) + "\n"


def width_table(nat: pd.DataFrame, z: float, method: str = "model",
                cty: pd.DataFrame | None = None) -> pd.DataFrame:
    """Where the width of the published points' intervals comes from, per scenario (points
    only): the model's own interval (:func:`seuranta.statistics.model.interval` of the
    estimate, its predictive variance se² and its observed part ``clients_used``) and the
    flagged mixture's (``mixture_low`` / ``mixture_high``: each flagged count right or
    wrong with its posterior probability, :func:`seuranta.statistics.model.mixture_totals`;
    the own interval for a figure without flagged municipalities) against the published
    one. Columns: ``own_cover`` (%, misses ``own_above`` / ``own_below``),
    ``mixture_cover`` (misses ``mixture_above`` / ``mixture_below``), ``published_cover``
    (%), ``own_half_width``, ``mixture_half_width`` and ``published_half_width`` (mean, %
    of the estimate), ``shift`` (mean |estimate without the flagged − estimate|, % of the
    estimate), ``err2_over_var`` (mean squared error / mean se²: 1 when the predictive
    variance is the realised error variance) and ``sd_z`` (sd of (truth − estimate) / se);
    with ``cty`` also the county points' coverage by the published and the mixture's
    intervals (``county_published_cover``, ``county_mixture_cover``)."""
    d = nat[(nat["method"] == method) & (nat["publish_as"] == "point")]
    rows = []
    for sc in [x for x in SCENARIOS if x in set(d["scenario"])]:
        g = d[d["scenario"] == sc]
        own = np.array([mdl.interval(e, s * s, o, z)[1:] for e, s, o in
                        zip(g["estimate"], g["se"], g["clients_used"])]).reshape(-1, 2)
        t, e, se = g["truth"].to_numpy(float), g["estimate"].to_numpy(float), g["se"].to_numpy(float)
        shift = g["flagged_shift"].to_numpy(float)
        # the mixture's interval (a figure without flagged municipalities: the own one)
        mlo = (g["mixture_low"].to_numpy(float) if "mixture_low" in g else np.full(len(g), np.nan))
        mhi = (g["mixture_high"].to_numpy(float) if "mixture_high" in g else np.full(len(g), np.nan))
        has = np.isfinite(mlo) & np.isfinite(mhi)
        mlo, mhi = np.where(has, mlo, own[:, 0]), np.where(has, mhi, own[:, 1])
        rows.append({
            "scenario": sc, "n": len(g),
            "own_cover": 100 * float(((own[:, 0] <= t) & (t <= own[:, 1])).mean()),
            "own_above": 100 * float((t > own[:, 1]).mean()),
            "own_below": 100 * float((t < own[:, 0]).mean()),
            "published_cover": 100 * float(((g["ci_low"] <= t) & (t <= g["ci_high"])).mean()),
            "mixture_cover": (100 * float(((mlo <= t) & (t <= mhi)).mean())
                              if "mixture_low" in g else math.nan),
            "mixture_above": 100 * float((t > mhi).mean()) if "mixture_low" in g else math.nan,
            "mixture_below": 100 * float((t < mlo).mean()) if "mixture_low" in g else math.nan,
            "own_half_width": 100 * float(((own[:, 1] - own[:, 0]) / 2 / e).mean()),
            "published_half_width": 100 * float(((g["ci_high"] - g["ci_low"]) / 2 / e).mean()),
            "mixture_half_width": (100 * float(((mhi - mlo) / 2 / e).mean())
                                   if "mixture_low" in g else math.nan),
            "shift": 100 * float(np.nanmean(np.abs(np.where(np.isfinite(shift), shift, np.nan))
                                            / e)) if np.isfinite(shift).any() else math.nan,
            "err2_over_var": float(((t - e) ** 2).mean() / (se ** 2).mean()),
            "sd_z": float(((t - e) / se).std(ddof=1)) if len(g) > 1 else math.nan,
            **_county_mixture(cty, sc)})
    return pd.DataFrame(rows)


def _county_mixture(cty: pd.DataFrame | None, scenario: str) -> dict:
    """The county points' coverage (%) by their published and their mixture's intervals."""
    if cty is None or "mixture_low" not in cty:
        return {"county_published_cover": math.nan, "county_mixture_cover": math.nan}
    c = cty[(cty["scenario"] == scenario) & (cty["publish_as"] == "point")]
    t = c["truth"].to_numpy(float)
    has = c["mixture_low"].notna().to_numpy()
    lo = np.where(has, c["mixture_low"], c["ci_low"])
    hi = np.where(has, c["mixture_high"], c["ci_high"])
    pub = ((c["ci_low"] <= c["truth"]) & (c["truth"] <= c["ci_high"])).to_numpy()
    return {"county_published_cover": 100 * float(pub.mean()) if len(c) else math.nan,
            "county_mixture_cover": (100 * float(((lo <= t) & (t <= hi)).mean()) if len(c)
                                     else math.nan)}


def width_md(nat: pd.DataFrame, z: float, method: str = "model",
             cty: pd.DataFrame | None = None) -> str:
    """:func:`width_table` as the docs' Markdown table (English); without the flagged
    mixture's columns when the rows have none (rows of an earlier study)."""
    t = width_table(nat, z, method, cty)
    if not np.isfinite(t["mixture_cover"]).any():
        return _width_md_own(t)
    lines = ["| scenario | points | own interval covers % (above / below) | flagged mixture "
             "covers % (above / below) | published covers % | own / mixture / published "
             "half-width % | mean shift without flagged % | error² / variance | sd of z "
             "| county points: published / mixture covers % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in t.itertuples(index=False):
        lines.append(f"| {SCENARIO_EN[r.scenario]} | {r.n} | {_f(r.own_cover)} "
                     f"({_f(r.own_above)} / {_f(r.own_below)}) | {_f(r.mixture_cover)} "
                     f"({_f(r.mixture_above)} / {_f(r.mixture_below)}) | "
                     f"{_f(r.published_cover)} | {_f(r.own_half_width, 2)} / "
                     f"{_f(r.mixture_half_width, 2)} / {_f(r.published_half_width, 2)} | "
                     f"{_f(r.shift, 2)} | {_f(r.err2_over_var, 2)} | {_f(r.sd_z, 2)} | "
                     f"{_f(r.county_published_cover)} / {_f(r.county_mixture_cover)} |")
    return "\n".join(lines) + "\n"


def _width_md_own(t: pd.DataFrame) -> str:
    lines = ["| scenario | points | own interval covers % (above / below) | published covers % "
             "| own half-width % | published half-width % | mean shift without flagged % "
             "| error² / variance | sd of z |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in t.itertuples(index=False):
        lines.append(f"| {SCENARIO_EN[r.scenario]} | {r.n} | {_f(r.own_cover)} "
                     f"({_f(r.own_above)} / {_f(r.own_below)}) | {_f(r.published_cover)} | "
                     f"{_f(r.own_half_width, 2)} | {_f(r.published_half_width, 2)} | "
                     f"{_f(r.shift, 2)} | {_f(r.err2_over_var, 2)} | {_f(r.sd_z, 2)} |")
    return "\n".join(lines) + "\n"


def reasons_table(nat: pd.DataFrame, method: str = "model") -> pd.DataFrame:
    """How often each reason code of the rule occurs per scenario (% of the figures)."""
    d = nat[nat["method"] == method].reset_index(drop=True)
    codes = d["rule_reason"].fillna("").astype(str).str.split(";").explode()
    codes = codes[codes != ""].str.replace(r"[<>].*$", "", regex=True)
    tab = (pd.crosstab(d.loc[codes.index, "scenario"], codes.to_numpy())
           .reindex([s for s in SCENARIOS if s in set(d["scenario"])]).fillna(0))
    n = d.groupby("scenario").size().reindex(tab.index)
    return (100 * tab.div(n, axis=0)).round(1)


# --------------------------------------------------------------------------- constructions

#: Interval constructions of the model's points compared offline (:func:`constructions_table`)
#: from the parts the study keeps (:func:`seuranta.statistics.estimate.interval_parts`; T
#: the total, O its observed part, P = T − O the predicted part, log-normal in the model's
#: own interval, :func:`seuranta.statistics.model.interval`).
CONSTRUCTIONS = {
    "own": "the model's own interval",
    "hull": "hull of the own interval and the one without the flagged municipalities",
    "average": "quantiles of the equal-weight mixture of the two predictions",
    "shift2": "own interval, variance + shift²",
    "shift2h": "own interval, variance + shift² / 2",
    "logshift": "log scale of P: s² + log(1 + shift / P̂)²",
    "hull90": "hull of the two 90 % intervals",
    "hull_k": "hull, both variances times the calibration factor",
    "average_k": "average, both variances times the calibration factor (published)",
}
#: Constructions whose variances are multiplied by the quarter's calibration factor
#: (``variance_factor``: :func:`seuranta.statistics.stage.variance_factors`).
CALIBRATED = ("hull_k", "average_k")


def _lognormal(e, v, o, z):
    """Vectorised :func:`seuranta.statistics.model.interval` (low, high)."""
    e, v, o = (np.asarray(x, float) for x in (e, v, o))
    p = e - o
    ok = (p > 0) & (v > 0)
    pp = np.where(ok, p, 1.0)
    s2 = np.log1p(np.where(ok, v, 0.0) / pp ** 2)
    s = np.sqrt(s2)
    return (np.where(ok, o + pp * np.exp(-s2 / 2 - z * s), e),
            np.where(ok, o + pp * np.exp(-s2 / 2 + z * s), e))


def construct(kind: str, d: pd.DataFrame, z: float, national: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of every row of ``d`` by the construction ``kind`` (``CONSTRUCTIONS``):
    national rows (``model_*``, ``nf_*`` columns) or county rows (``estimate``,
    ``variance``, ``observed``, ``nf_*``); a row without an estimate without the flagged
    municipalities takes the model's own parts for it."""
    cols = (("model_estimate", "model_variance", "model_observed") if national
            else ("estimate", "variance", "observed"))
    e, v, o = (d[c].to_numpy(float) for c in cols)
    has = np.isfinite(d["nf_estimate"].to_numpy(float))
    e2, v2, o2 = (np.where(has, d[f"nf_{c}"].to_numpy(float), x)
                  for c, x in (("estimate", e), ("variance", v), ("observed", o)))
    if kind in CALIBRATED:
        f = factor_of(d)
        v, v2, kind = v * f, v2 * f, kind.removesuffix("_k")
    shift = e2 - e
    if kind == "own":
        return _lognormal(e, v, o, z)
    if kind in ("hull", "hull90"):
        zz = z if kind == "hull" else 1.6448536269514722      # Φ⁻¹(0.95)
        a, b = _lognormal(e, v, o, zz)
        c, f = _lognormal(e2, v2, o2, zz)
        return np.minimum(a, c), np.maximum(b, f)
    if kind == "average":
        q = [mdl.mixture_quantiles([(e[i], v[i], o[i]), (e2[i], v2[i], o2[i])], z)
             for i in range(len(e))]
        q = np.asarray(q, float).reshape(-1, 2)
        return q[:, 0], q[:, 1]
    if kind in ("shift2", "shift2h"):
        return _lognormal(e, v + shift ** 2 / (1 if kind == "shift2" else 2), o, z)
    if kind == "logshift":
        p = np.where(e - o > 0, e - o, 1.0)
        s2 = np.log1p(v / p ** 2) + np.log1p(np.clip(shift / p, -0.99, None)) ** 2
        s = np.sqrt(s2)
        return (np.where(e > o, o + p * np.exp(-s2 / 2 - z * s), e),
                np.where(e > o, o + p * np.exp(-s2 / 2 + z * s), e))
    raise ValueError(f"unknown interval construction {kind!r}")


def factor_of(d: pd.DataFrame) -> np.ndarray:
    """The rows' calibration factors (1 where a study kept none)."""
    f = (d["variance_factor"].to_numpy(float) if "variance_factor" in d.columns
         else np.ones(len(d)))
    return np.where(np.isfinite(f), f, 1.0)


def with_construction(kind: str, nat: pd.DataFrame, cty: pd.DataFrame, params: dict
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The national model rows and the county rows of a study with ``kind``'s intervals
    and the publication rule applied again (its ``flagged_shift`` test reads the
    interval's half-width; a county point needs a national point; a range is the interval
    rounded outwards). With the construction the study was made with (``average_k``
    under the defaults), the rows as published."""
    p = params["estimate"]
    z = float(p["z"])
    rule = {**est.RULE_DEFAULTS, **(p.get("publication_rule") or {})}
    m = nat[nat["method"] == "model"].copy()
    ok = m["model_estimate"].notna().to_numpy()
    m.loc[ok, "ci_low"], m.loc[ok, "ci_high"] = construct(kind, m[ok], z, True)
    # the rule's relative SE from the construction's own variance
    f = factor_of(m) if kind in CALIBRATED else 1.0
    m.loc[ok, "se"] = np.sqrt(np.maximum(m["model_variance"].to_numpy(float) * f, 0.0))[ok]
    out = [est.publication_rule({**r, "municipalities_used": r["municipalities"],
                                 "note": r["note"] if isinstance(r["note"], str) else ""}, rule)
           for r in m.to_dict("records")]
    m[est.RULE_COLUMNS] = pd.DataFrame(out, index=m.index)[est.RULE_COLUMNS]
    c = cty.copy()
    c["ci_low"], c["ci_high"] = construct(kind, c, z, False)
    c["se"] = np.sqrt(np.maximum(c["variance"].to_numpy(float)
                                 * (factor_of(c) if kind in CALIBRATED else 1.0), 0.0))
    n_as = (m.set_index(["register", "quarter", "service_task"])["publish_as"]
            .reindex(list(zip(c["register"], c["quarter"], c["service_task"]))).to_numpy())
    point = ((n_as == "point") & (c["estimate"] > 0)
             & (100 * c["se"] / c["estimate"] <= float(rule["county_point_max_rse_pct"])))
    c["publish_as"] = np.where(n_as == "none", "none", np.where(point, "point", "range"))
    rg = [est.rounded_range(r.estimate, r.ci_low, r.ci_high, r.clients_observed,
                            float(rule["range_step_pct"])) if r.publish_as == "range"
          else (math.nan, math.nan) for r in c.itertuples(index=False)]
    c["range_low"], c["range_high"] = (np.asarray(rg, float).reshape(-1, 2)[:, i]
                                       for i in (0, 1))
    return m, c


def constructions_table(nat: pd.DataFrame, cty: pd.DataFrame, params: dict,
                        kinds: list[str] | None = None) -> pd.DataFrame:
    """Per construction × targeted scenario: the targets of issue 22 (:func:`targets`)
    with the points' coverage se, misses above / below, point share and half-width."""
    rows = []
    for k in kinds or list(CONSTRUCTIONS):
        m, c = with_construction(k, nat, cty, params)
        s = summary(m)
        for r in targets(m, c).itertuples(index=False):
            if not r.targeted or not r.points:
                continue
            a = s.loc[r.scenario]
            rows.append({"construction": k, "scenario": r.scenario,
                         "point_pct": a["point_pct"], "point_coverage": r.point_coverage,
                         "point_coverage_se": a["point_coverage_se"],
                         "point_above": a["point_above"], "point_below": a["point_below"],
                         "range_coverage": r.range_coverage, "mean_error": r.mean_error,
                         "half_width": a["half_width"],
                         "county_point_coverage": r.county_point_coverage, "met": r.met})
    return pd.DataFrame(rows)


#: Definitions of the calibration factor the study compares (:func:`factors_table`): the
#: column each earlier prediction's z² is weighed by in the mean
#: (:func:`seuranta.statistics.stage.variance_factors`' ``weight``), and what it is.
FACTOR_DEFINITIONS = {
    "mean": (None, "mean z² (published)"),
    "weighted": ("variance", "Σ z²V / Σ V, each prediction weighed by its predictive "
                             "variance V, as a total's variance sums them"),
}


def factors_table(nat: pd.DataFrame, cty: pd.DataFrame, cal: pd.DataFrame, params: dict
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published construction (``average_k``) with each register's factors made again
    from its calibration rows (``cal``, with ``variance``) by each of
    ``FACTOR_DEFINITIONS``: (per definition × targeted scenario the targets as in
    :func:`constructions_table`, its ``construction`` column naming the definition; per
    definition × scenario the median, mean and largest factor of the last quarter)."""
    ep = params["estimate"]
    groups = list(cal.groupby(["scenario", "register"]))
    regs = nat[["scenario", "register"]].drop_duplicates().assign(quarter=max(STUDY_QUARTERS))
    tables, spread = [], []
    for name, (weight, _) in FACTOR_DEFINITIONS.items():
        f = {k: stage.variance_factors(g, STUDY_QUARTERS, ep, weight) for k, g in groups}
        t = constructions_table(nat.assign(variance_factor=_factor_column(nat, f)),
                                cty.assign(variance_factor=_factor_column(cty, f)), params,
                                ["average_k"])
        tables.append(t.assign(construction=name))
        g = pd.Series(_factor_column(regs, f)).groupby(regs["scenario"].to_numpy(), sort=False)
        spread.append(pd.DataFrame({"definition": name, "median": g.median(),
                                    "mean": g.mean(), "max": g.max()}))
    sp = pd.concat(spread).rename_axis("scenario").reset_index()
    return pd.concat(tables, ignore_index=True), sp[["definition", "scenario", "median",
                                                     "mean", "max"]]


def _factor_column(d: pd.DataFrame, f: dict) -> list[float]:
    """Each row's factor from ``f`` (scenario, register) → quarter → factor; 1 for a
    register with no calibration rows (as :func:`stage.variance_factors` gives it)."""
    return [f[(s, r)][q] if (s, r) in f else 1.0
            for s, r, q in zip(d["scenario"], d["register"], d["quarter"])]


def constructions_md(t: pd.DataFrame, label: str = "construction") -> str:
    """:func:`constructions_table` as Markdown (English), with whether every targeted
    scenario meets the targets under each construction (its first column headed
    ``label``)."""
    lines = [f"| {label} | scenario | points % | points cover % ± se (above / below) "
             "| ranges cover % | mean error % | half-width % | county points cover % "
             "| targets met |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in t.itertuples(index=False):
        lines.append(f"| {r.construction} | {r.scenario} | {_f(r.point_pct, 0)} | "
                     f"{_f(r.point_coverage)} ± {_f(r.point_coverage_se)} "
                     f"({_f(r.point_above)} / {_f(r.point_below)}) | {_f(r.range_coverage)} "
                     f"| {_f(r.mean_error, 2)} | {_f(r.half_width, 2)} | "
                     f"{_f(r.county_point_coverage)} | {'yes' if r.met else 'no'} |")
    every = t.groupby("construction", sort=False)["met"].all()
    lines += ["", "Every targeted scenario met: " + "; ".join(
        f"{k} {'yes' if v else 'no'}" for k, v in every.items()) + "."]
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


# --------------------------------------------------------------------------- end to end

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
                         & series_estimates["service_task"].isin(
                             reference.task_codes(estimated_only=True))]
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
