"""The statistics stage: from the register stage's counts to quality classes,
representativeness, national estimates and quartiles.

``run_statistics_stage(tables, data_dir, params)`` takes the register stage's tables
(counts, cwa_counts, age_counts, monthly and their ``series_*`` versions for every quarter
of the series — series_counts, series_cwa_counts, series_age_counts, and series_monthly when
the register stage provides it, so that earlier quarters of the series get the monthly
check too; a missing series table falls back to the quarter's own table) plus, from the
data folder, deliveries.csv, population.csv and the optional corrections.csv, and returns:

quality, series_quality
    :mod:`seuranta.quality` for the quarters of ``counts`` / every quarter of the series.
estimates, series_estimates
    :mod:`seuranta.estimate`, ratio and model rows per quarter × task. ``estimates`` also
    has ``lastensuojelulaki`` (child-welfare-act clients; a municipality counts as
    comprehensive when its ``lastensuojelu`` task is) and ``kaikki`` by age group (kaikki,
    0-17, 18-64, 65+, 85+; comprehensive when comprehensive in all six estimated tasks).
    ``series_estimates`` has the same rows for every quarter of the series, each quarter's
    comprehensive sets taken from ``series_quality`` (the classification of the whole
    series, whose plausibility check pools the quarters: an earlier quarter's row may
    differ from that quarter's own run); ``estimates`` is its cut to the quarters of
    ``counts``.
county_estimates
    :mod:`seuranta.statistics.smallarea`: every county's model-based total per quarter ×
    task (the tasks and ``lastensuojelulaki``, all ages) from the fit of the ``model``
    estimate; counts of clients in it: ``clients_observed`` (and the estimate of a fully
    comprehensive county).
calibration
    :func:`calibration_table`: the model's predictions for municipalities that were not
    comprehensive in a quarter against what they delivered once comprehensive in a later
    quarter of the series (z-scores aggregated per quarter × task and per quarter; internal,
    the gate publishes the aggregates).
estimates_sensitivity
    :func:`sensitivity_estimates`: the quarter's estimates (tasks and ``lastensuojelulaki``,
    all ages, both methods) as ``variant`` ``kaikki_kattavat`` (= estimates.csv) and
    ``ilman_tarkistettavia`` (without the municipalities whose quality row is flagged
    tarkistettava), with ``municipalities_flagged`` and ``difference_pct`` against
    estimates.csv, for the book to show both.
quartiles
    :mod:`seuranta.quartiles` for the seven tasks and ``lastensuojelulaki``.
representativeness, representativeness_summary
    :mod:`seuranta.represent` per quarter × estimated task (+ lastensuojelulaki, kaikki).
quality_reasons
    The reason codes with their Finnish descriptions (for the book).

Parameters: ``quality:`` and ``estimate:`` sections of parameters.yml (see there).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.params import as_params, over_defaults
from seuranta.core.quarters import Quarter
from seuranta.inputs.corrections import CORRECTIONS_FILE
from seuranta.inputs.datafolder import publication_quarters
from seuranta.inputs.deliveries import deliveries_required, read_deliveries
from seuranta.inputs.population import population_path, read_population
from seuranta.statistics import estimate as est
from seuranta.statistics import quality as qual
from seuranta.statistics import quartiles as qrt
from seuranta.statistics import represent as rep
from seuranta.statistics import smallarea as sa
from seuranta.statistics.memo import EstimationMemo, content_key

log = logging.getLogger(__name__)

CWA_TASK = "lastensuojelulaki"
ALL_TASKS = "kaikki"
AGE_GROUPS = ["kaikki", "0-17", "18-64", "65+", "85+"]

ESTIMATE_COLUMNS = ["quarter", "service_task", "method", "municipalities_used", "clients_used",
                    "population_used", "share_pct", "estimate", "se", "ci_low", "ci_high",
                    "estimate_rounded", "published", "age_group", "national_base",
                    "difference_pct", "variance", "variance_factor", "se_linearised",
                    "se_jackknife", "note",
                    *est.RULE_COLUMNS, *est.RISK_COLUMNS]


def _base_ages(task: str) -> tuple[int, int | None]:
    if task in (CWA_TASK,):
        return 0, 17
    if task == ALL_TASKS:
        return 0, None
    for code, _, _, lo, hi, _ in reference.SERVICE_TASKS:
        if code == task:
            return lo, hi
    raise ValueError(f"unknown service task {task!r}")


def _round(df: pd.DataFrame) -> pd.DataFrame:
    d = df.copy()
    for c in d.columns:
        if pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].round(4 if c.endswith("_pct") else 6)
    return d


class _Context:
    """Shared inputs: covariates by population year, quality lookups."""

    def __init__(self, data_dir: Path | None, params: dict,
                 population: pd.DataFrame | None = None, memo: EstimationMemo | None = None):
        self.memo = memo        # estimation results by content, shared by the caller's runs
        # the coverage study: the flagged mixture's intervals beside the published ones
        self.diagnose = False
        self.params = as_params(params or {})   # a plain mapping is validated and completed
        self.qp = self.params["quality"]
        self.ep = self.params["estimate"]
        self.mainland = reference.mainland_municipalities()
        # population.csv of the data folder (the coverage study gives its own table)
        self.population = (read_population(population_path(data_dir)) if population is None
                           else population)
        self.names = dict(zip(self.mainland["municipality_code"], self.mainland["name_fi"]))
        self._cov: dict[int, pd.DataFrame] = {}
        self.county_rows: list[dict] = []      # filled by _estimate_rows (age group kaikki)
        # (quarter, task) → each municipality's prediction (code, predicted, variance,
        # comprehensive, population_base, national share) for the calibration table
        self.predictions: dict[tuple[str, str], pd.DataFrame] = {}

    def covariates(self, quarter: str) -> pd.DataFrame:
        year = Quarter.parse(quarter).population_year
        if year not in self._cov:
            try:
                self._cov[year] = rep.municipal_covariates(self.population, year,
                                                           self.mainland, self.qp)
            except ValueError as e:
                raise InputError(f"population.csv: {e}") from None
        return self._cov[year]


def _all_rows(counts: pd.DataFrame) -> pd.DataFrame:
    c = counts[counts["source"] == "ALL"] if "source" in counts.columns else counts
    c = c.copy()
    c["quarter"] = c["quarter"].astype(str)
    return c


def _latest_quarter(data_dir: Path, params: dict) -> Quarter | None:
    """The newest quarter a decision of corrections.csv may name: the newest publishable
    one (a later one, such as the typo 2032Q3, stops the run with the file and row)."""
    if ("first_quarter" not in (params.get("publication") or {})
            or not (Path(data_dir) / CORRECTIONS_FILE).is_file()):
        return None
    return publication_quarters(data_dir, params)[-1]


def _with_series(tables: dict[str, pd.DataFrame], name: str, keys: list[str]
                 ) -> pd.DataFrame | None:
    """``series_<name>`` and ``<name>`` together (quarter as text, one row per key), or None
    when the register stage gave neither."""
    parts = [t.assign(quarter=t["quarter"].astype(str))
             for t in (tables.get(f"series_{name}"), tables.get(name)) if t is not None]
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True).drop_duplicates(keys).reset_index(drop=True)


def _frame(ctx: _Context, quarter: str, rows: pd.DataFrame, comp_codes: set[str],
           flagged_codes: set[str] | None = None) -> pd.DataFrame:
    """One row per mainland municipality: clients, population_base, comprehensive, flagged
    (comprehensive and tarkistettava), covariates."""
    cov = ctx.covariates(quarter)
    f = cov.merge(rows[["municipality_code", "clients", "population_base"]],
                  on="municipality_code", how="left")
    if f["population_base"].isna().any():
        miss = f.loc[f["population_base"].isna(), "municipality_code"].tolist()[:3]
        raise InputError(f"counts {quarter}: no row for municipalities {miss}")
    f["clients"] = f["clients"].astype(float)
    f["population_base"] = f["population_base"].astype(float)
    # set lookups of the ~300 codes (Series.isin of a text column: 1 ms per call, issue 24)
    codes, flagged = f["municipality_code"].tolist(), flagged_codes or set()
    comprehensive = np.array([c in comp_codes for c in codes], bool)
    f["comprehensive"] = comprehensive
    f["flagged"] = comprehensive & np.array([c in flagged for c in codes], bool)
    return f


def estimate_parts(frame: pd.DataFrame, covariates: list[str], params: dict, county: bool,
                   diagnose: bool = False
                   ) -> tuple[list[dict], list[dict], pd.DataFrame | None]:
    """The estimate rows of one frame (:func:`seuranta.statistics.estimate.estimate_with_prediction`,
    ``diagnose`` passed on) and, when ``county`` and a model was fitted, its county rows and
    municipal predictions (else ``[]`` and None): a pure function of its arguments,
    memoised by content."""
    rows, pred = est.estimate_with_prediction(frame, covariates, params, diagnose=diagnose)
    if pred is None or not county:
        return rows, [], None
    counties = sa.county_rows(pred, frame, rows[1], params,
                              without_flagged=pred.fit.get("without_flagged"),
                              flags=pred.fit.get("flag_mixture"))
    return rows, counties, municipal_predictions(pred, frame)


def _estimate_job(ctx, age_group, frame) -> tuple[str, tuple]:
    """The memo key of one frame's :func:`estimate_parts` and its arguments."""
    covs = list(ctx.ep["model_covariates"])
    county = age_group == "kaikki"
    key = content_key(frame, covariates=covs, params=ctx.ep, county=county,
                      **({"diagnose": True} if ctx.diagnose else {}))
    return key, (frame, covs, ctx.ep, county, ctx.diagnose)


def _estimate_rows(ctx, quarter, task, age_group, frame) -> list[dict]:
    key, args = _estimate_job(ctx, age_group, frame)
    if ctx.memo is None:
        rows, counties, predictions = estimate_parts(*args)
    else:
        rows, counties, predictions = ctx.memo.get(key, lambda: estimate_parts(*args))
    if predictions is not None:
        for c in counties:
            ctx.county_rows.append({"quarter": quarter, "service_task": task, **c})
        ctx.predictions[(quarter, task)] = predictions
    pub = [r for r in rows if r["published"]]
    ref = pub[0]["estimate"] if pub else np.nan
    for r in rows:
        r.update({"quarter": quarter, "service_task": task, "age_group": age_group})
        r["difference_pct"] = (100 * (r["estimate"] / ref - 1)
                               if ref and np.isfinite(ref) and np.isfinite(r["estimate"])
                               else np.nan)
    return rows


def comprehensive_sets(quality: pd.DataFrame, flagged: bool = False
                       ) -> dict[tuple[str, str], set[str]]:
    """(quarter, task) → codes of comprehensive municipalities, incl. lastensuojelulaki
    (= lastensuojelu) and kaikki (comprehensive in all six estimated tasks). ``flagged``:
    instead the comprehensive municipalities flagged tarkistettava, for the tasks and
    lastensuojelulaki only (as estimates_sensitivity: a flag on one task's share says
    little about a municipality's clients of all tasks)."""
    out: dict[tuple[str, str], set[str]] = {}
    comp = quality[quality["quality"] == "comprehensive"]
    if flagged:
        comp = comp[comp["flags"].fillna("").astype(str) != ""]
    for (q, t), g in comp.groupby(["quarter", "service_task"]):
        out[(q, t)] = set(g["municipality_code"])
    est_tasks = reference.task_codes(estimated_only=True)
    for q in quality["quarter"].unique():
        out[(q, CWA_TASK)] = out.get((q, "lastensuojelu"), set())
        sets = [out.get((q, t), set()) for t in est_tasks]
        out[(q, ALL_TASKS)] = set.intersection(*sets) if sets and not flagged else set()
    return out


def _rows_of(ctx, frames: list[tuple[str, str, str, pd.DataFrame]]) -> list[dict]:
    """Estimate rows of ``frames`` (quarter, task, age group, frame), in their order; with
    the memo's workers, the fits not in the memo are made side by side first."""
    if ctx.memo is not None:
        jobs = (_estimate_job(ctx, ag, f) for _, _, ag, f in frames)
        ctx.memo.prefetch((key, estimate_parts, args) for key, args in jobs)
    rows = []
    for q, t, ag, f in frames:
        rows += _estimate_rows(ctx, q, t, ag, f)
    return rows


def _task_frames(ctx, counts: pd.DataFrame, comp: dict, tasks: list[str],
                 flagged: dict | None = None) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(quarter, task, "kaikki", frame) of every quarter × task of ``counts`` in ``tasks``."""
    c = _all_rows(counts)
    return [(q, t, "kaikki", _frame(ctx, q, g, comp.get((q, t), set()),
                                    (flagged or {}).get((q, t))))
            for (q, t), g in c.groupby(["quarter", "service_task"], sort=True) if t in tasks]


def estimates_for(ctx, counts: pd.DataFrame, comp: dict, tasks: list[str],
                  flagged: dict | None = None) -> list[dict]:
    """Estimate rows of every quarter × task of ``counts`` in ``tasks`` (all ages), from the
    comprehensive sets ``comp`` and the flagged sets ``flagged`` (:func:`comprehensive_sets`)."""
    return _rows_of(ctx, _task_frames(ctx, counts, comp, tasks, flagged))


SENSITIVITY_COLUMNS = ["quarter", "service_task", "age_group", "method", "variant",
                       "municipalities_used", "municipalities_flagged", "clients_used",
                       "population_used", "share_pct", "estimate", "se", "ci_low", "ci_high",
                       "estimate_rounded", "published", "difference_pct", "note"]
#: Variants of estimates_sensitivity: every comprehensive municipality (= estimates.csv)
#: and without the ones flagged tarkistettava (quality.csv ``flags``).
VARIANTS = ("kaikki_kattavat", "ilman_tarkistettavia")


def sensitivity_estimates(ctx, series: pd.DataFrame, series_cwa: pd.DataFrame | None,
                          series_quality: pd.DataFrame, estimates: pd.DataFrame,
                          quarters: set[str], factors: dict[str, float] | None = None
                          ) -> pd.DataFrame:
    """The estimates of ``quarters`` (tasks and lastensuojelulaki, all ages) with and without
    the flagged municipalities: one row per quarter × task × method × variant;
    ``difference_pct`` = the variant's estimate against estimates.csv's (same method).
    ``factors``: each quarter's widening of the model's intervals (:func:`variance_factors`;
    none when None), as ``estimates`` has it."""
    rows = sensitivity_rows(ctx, series, series_cwa, series_quality, quarters)
    return sensitivity_table(calibrated(rows, [], factors or {}, ctx.ep)[0], series_quality,
                             estimates)


def sensitivity_rows(ctx, series: pd.DataFrame, series_cwa: pd.DataFrame | None,
                     series_quality: pd.DataFrame, quarters: set[str]) -> list[dict]:
    """The estimate rows of :func:`sensitivity_estimates`' variant without the flagged
    municipalities (before the widening of :func:`calibrated`)."""
    flagged = series_quality["flags"].fillna("").astype(str) != ""
    reduced = comprehensive_sets(series_quality.assign(
        quality=series_quality["quality"].mask(flagged, "partial")))
    keep = len(ctx.county_rows)                  # no county rows from this variant
    kept_predictions = dict(ctx.predictions)
    sub = series[series["quarter"].astype(str).isin(quarters)]
    frames = _task_frames(ctx, sub, reduced, reference.task_codes(estimated_only=True))
    if series_cwa is not None and len(series_cwa):
        frames += _task_frames(ctx, series_cwa[series_cwa["quarter"].astype(str).isin(quarters)],
                               reduced, [CWA_TASK])
    rows = _rows_of(ctx, frames)
    del ctx.county_rows[keep:]
    ctx.predictions = kept_predictions
    return rows


def sensitivity_table(rows: list[dict], series_quality: pd.DataFrame,
                      estimates: pd.DataFrame) -> pd.DataFrame:
    """:func:`sensitivity_estimates`' table from its variant's (widened) rows."""
    flagged = series_quality["flags"].fillna("").astype(str) != ""
    n_flag = (series_quality[flagged].groupby(["quarter", "service_task"]).size().to_dict())
    main = estimates[(estimates["age_group"] == "kaikki")
                     & (estimates["service_task"] != ALL_TASKS)]
    if not rows:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    var = pd.DataFrame(rows).assign(variant=VARIANTS[1])
    both = pd.concat([main.assign(variant=VARIANTS[0]),
                      var[[c for c in main.columns if c in var.columns] + ["variant"]]],
                     ignore_index=True)
    ref = main.set_index(["quarter", "service_task", "method"])["estimate"]
    k = list(zip(both["quarter"], both["service_task"], both["method"]))
    both["difference_pct"] = 100 * (both["estimate"].to_numpy(float)
                                     / ref.reindex(k).to_numpy(float) - 1)
    src = both["service_task"].replace({CWA_TASK: "lastensuojelu"})
    both["municipalities_flagged"] = [n_flag.get((q, t), 0) for q, t in
                                      zip(both["quarter"], src)]
    both["published"] = both["published"].astype("int64")
    both["estimate_rounded"] = both["estimate_rounded"].astype("Int64")
    order = {t: i for i, t in enumerate(reference.task_codes() + [CWA_TASK])}
    both = (both.assign(_t=both["service_task"].map(order),
                        _v=both["variant"].map({v: i for i, v in enumerate(VARIANTS)}),
                        _m=both["method"].map({"ratio": 0, "model": 1}))
            .sort_values(["quarter", "_t", "_m", "_v"]).drop(columns=["_t", "_v", "_m"]))
    return _round(both[SENSITIVITY_COLUMNS].reset_index(drop=True))


def municipal_predictions(pred, frame: pd.DataFrame) -> pd.DataFrame:
    """Each municipality's model prediction of one quarter × task: predicted clients and
    predictive variance (0 for comprehensive rows, whose count is observed)."""
    per = pred.group_totals(np.arange(len(frame)))
    return pd.DataFrame({"municipality_code": frame["municipality_code"].to_numpy(),
                         "predicted": pred.mean, "variance": per["variance"].to_numpy(),
                         "comprehensive": frame["comprehensive"].to_numpy(bool),
                         "population_base": frame["population_base"].to_numpy(float)})


CALIBRATION_COLUMNS = ["quarter", "service_task", "n", "mean_z", "sd_z", "within_196_pct"]


def variance_factors(rows: pd.DataFrame, quarters, params: dict,
                     weight: str | None = None) -> dict[str, float]:
    """Each quarter Q's widening of the model's intervals, from the out-of-sample check of
    the model (:func:`calibration_rows`): the mean of z² over the earlier predictions of the
    estimated tasks that had been tested by Q (later quarter ≤ Q), at least 1; 1 when none
    has been, or when ``params['interval_calibration']`` is off. ``weight``: a column of
    ``rows`` to weigh the mean by (the coverage study compares ``variance``, Σ z²V / Σ V,
    :data:`seuranta.statistics.coverage.FACTOR_DEFINITIONS`); the publication's is None.

    z² has mean 1 when the model's predictive variance holds. A larger mean says that the
    municipalities the model had not seen differed from its predictions more than its
    variance allows (structural differences, joining related to size, too few counties
    for σ_u): what the data of one quarter cannot show. Multiplying the predictive variance
    by it (:func:`calibrated`) is the moment estimate of that factor; the floor of 1 keeps a
    lucky history from narrowing the interval. Only what was known at Q enters, so a later
    quarter never changes Q's factor."""
    p = over_defaults("estimate", params)
    out = dict.fromkeys((str(q) for q in quarters), 1.0)
    if not p["interval_calibration"] or rows.empty:
        return out
    r = rows[rows["service_task"].isin(reference.task_codes(estimated_only=True))]
    later = r["later_quarter"].astype(str).to_numpy()
    z2 = np.square(r["z"].to_numpy(float))
    w = None if weight is None else r[weight].to_numpy(float)
    for q in out:
        seen = later <= q
        if seen.any():
            k = (z2[seen].mean() if w is None
                 else (z2[seen] * w[seen]).sum() / w[seen].sum())
            out[q] = max(1.0, float(k))
    return out


def calibrated(rows: list[dict], county_rows: list[dict], factors: dict[str, float],
               params: dict) -> tuple[list[dict], list[dict]]:
    """Estimate rows and county rows with each quarter's model intervals widened by its
    factor (:func:`variance_factors`; :func:`seuranta.statistics.estimate.widened`,
    :func:`seuranta.statistics.smallarea.widened`) and their publication decided again (a
    county row follows its quarter × task's national model row)."""
    rows = [est.widened(r, factors.get(r["quarter"], 1.0), params) for r in rows]
    national = {(r["quarter"], r["service_task"]): r for r in rows
                if r["method"] == "model" and r["age_group"] == "kaikki"}
    county = [sa.widened(c, national[(c["quarter"], c["service_task"])],
                         factors.get(c["quarter"], 1.0), params) for c in county_rows]
    return rows, county


def factors_of(estimates: pd.DataFrame) -> dict[str, float]:
    """The quarters' factors (:func:`variance_factors`) an estimates table was made with."""
    m = estimates[estimates["method"] == "model"]
    return {str(q): float(f) for q, f in zip(m["quarter"], m["variance_factor"])}


def calibration_rows(predictions: dict[tuple[str, str], pd.DataFrame], counts: pd.DataFrame,
                     quality: pd.DataFrame) -> pd.DataFrame:
    """Out-of-sample check of the model: every municipality predicted in quarter q (not
    comprehensive) and comprehensive in a later quarter q' of the series gives

        z = (y_q' − E) / √V,   E = ŷ_q · (b_q' / b_q) · g,   V = Var_q · (E / ŷ_q)²

    (ŷ_q, Var_q its prediction and predictive variance in q, y_q' what it delivers in the
    first such q', b the base; g the change of the share from q to q' among the
    municipalities comprehensive in both quarters, Σ y_q' / Σ b_q' ÷ Σ y_q / Σ b_q, 1 when
    there are none: the prediction carried to q'). One row per municipality × task × q:
    quarter (q), later_quarter, service_task, municipality_code, z and variance (V).
    Internal: a z with its prediction would reveal a count; :func:`calibration_table`
    aggregates."""
    c = _all_rows(counts)
    compq = quality[quality["quality"] == "comprehensive"]
    first_comp = compq.groupby(["service_task", "municipality_code"])["quarter"].apply(sorted)
    members = compq.groupby(["quarter", "service_task"])["municipality_code"].apply(set)
    # plain lookups: each municipality's quarters as comprehensive, and its count and base
    comp_quarters = first_comp.to_dict()
    observed = dict(zip(zip(c["quarter"].tolist(), c["service_task"].tolist(),
                            c["municipality_code"].tolist()),
                        zip(c["clients"].to_numpy(float), c["population_base"].to_numpy(float))))

    def growth(t, q, q2):
        both = sorted(members.get((q, t), set()) & members.get((q2, t), set()))
        if not both:
            return 1.0
        # counts and bases are whole numbers: their sums are exact, in any order
        clients_a, base_a = map(sum, zip(*(observed[(q, t, m)] for m in both)))
        clients_b, base_b = map(sum, zip(*(observed[(q2, t, m)] for m in both)))
        if clients_a <= 0 or base_a <= 0 or base_b <= 0:
            return 1.0
        return float(clients_b / base_b / (clients_a / base_a))
    out, cache = [], {}
    for (q, t), p in predictions.items():
        p = p[~p["comprehensive"] & (p["predicted"] > 0) & (p["variance"] > 0)
              & (p["population_base"] > 0)]
        for r in p.itertuples(index=False):
            later = [x for x in comp_quarters.get((t, r.municipality_code), []) if x > q]
            if not later:
                continue
            q2 = later[0]
            clients2, base2 = observed[(q2, t, r.municipality_code)]
            if (t, q, q2) not in cache:
                cache[(t, q, q2)] = growth(t, q, q2)
            factor = float(base2) / r.population_base * cache[(t, q, q2)]
            if not factor > 0:
                continue
            e = r.predicted * factor
            z = (float(clients2) - e) / (math.sqrt(r.variance) * factor)
            out.append({"quarter": q, "later_quarter": q2, "service_task": t,
                        "municipality_code": r.municipality_code, "z": z,
                        "variance": r.variance * factor ** 2})
    return pd.DataFrame(out, columns=["quarter", "later_quarter", "service_task",
                                      "municipality_code", "z", "variance"])


def calibration_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The aggregates of :func:`calibration_rows` (calibration.csv): per quarter of the
    prediction × task and per quarter over the tasks (service_task ``kaikki``): n, mean and
    sd of z and the share (%) of |z| ≤ 1.96 (95 % when the predictive intervals hold)."""
    def agg(g):
        z = g["z"].to_numpy(float)
        return pd.Series({"n": len(z), "mean_z": z.mean(),
                          "sd_z": z.std(ddof=1) if len(z) > 1 else np.nan,
                          "within_196_pct": 100 * float((np.abs(z) <= 1.96).mean())})
    if rows.empty:
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    by_task = rows.groupby(["quarter", "service_task"]).apply(agg, include_groups=False)
    overall = rows.groupby("quarter").apply(agg, include_groups=False)
    overall.index = pd.MultiIndex.from_tuples([(q, ALL_TASKS) for q in overall.index],
                                              names=["quarter", "service_task"])
    d = pd.concat([by_task, overall]).reset_index()
    d["n"] = d["n"].astype("int64")
    order = {t: i for i, t in enumerate(reference.task_codes() + [ALL_TASKS])}
    d = (d.assign(_t=d["service_task"].map(order)).sort_values(["quarter", "_t"])
         .drop(columns="_t"))
    return _round(d[CALIBRATION_COLUMNS].reset_index(drop=True))


def _age_frames(ctx, age_counts: pd.DataFrame, comp: dict, flagged: dict | None = None
                ) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(quarter, "kaikki", age group, frame) of every quarter × age group of
    ``age_counts`` (its all-tasks rows; the age group kaikki summed when absent)."""
    a = age_counts[age_counts["service_task"] == ALL_TASKS].copy()
    a["quarter"] = a["quarter"].astype(str)
    frames = []
    for q, g in a.groupby("quarter", sort=True):
        codes = comp.get((q, ALL_TASKS), set())
        if "kaikki" not in set(g["age_group"]):
            tot = (g[g["age_group"].isin(["0-17", "18-64", "65+"])]
                   .groupby("municipality_code", as_index=False)[["clients", "population_base"]]
                   .sum().assign(age_group="kaikki"))
            g = pd.concat([g, tot], ignore_index=True)
        for ag in AGE_GROUPS:
            h = g[g["age_group"] == ag]
            if h.empty:
                continue
            frames.append((q, ALL_TASKS, ag, _frame(ctx, q, h, codes,
                                                    (flagged or {}).get((q, ALL_TASKS)))))
    return frames


def _estimates_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    d = pd.DataFrame(rows)[ESTIMATE_COLUMNS]
    d["clients_used"] = d["clients_used"].astype("int64")
    d["population_used"] = d["population_used"].astype("int64")
    d["national_base"] = d["national_base"].astype("int64")
    d["published"] = d["published"].astype("int64")
    d["estimate_rounded"] = d["estimate_rounded"].astype("Int64")
    order = {t: i for i, t in enumerate(reference.task_codes() + [CWA_TASK, ALL_TASKS])}
    d["_t"] = d["service_task"].map(order)
    d["_a"] = d["age_group"].map({a: i for i, a in enumerate(AGE_GROUPS)})
    d["_m"] = d["method"].map({"ratio": 0, "model": 1})
    d = d.sort_values(["quarter", "_t", "_a", "_m"]).drop(columns=["_t", "_a", "_m"])
    return _round(d.reset_index(drop=True))


def _county_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=sa.COUNTY_COLUMNS)
    d = pd.DataFrame(rows)[sa.COUNTY_COLUMNS]
    for c in ("clients_observed", "population_base"):
        d[c] = d[c].round().astype("int64")
    d["estimate_rounded"] = d["estimate_rounded"].astype("Int64")
    order = {t: i for i, t in enumerate(reference.task_codes() + [CWA_TASK, ALL_TASKS])}
    d = (d.assign(_t=d["service_task"].map(order))
         .sort_values(["quarter", "_t", "county_code"]).drop(columns="_t"))
    return _round(d.reset_index(drop=True))


def representativeness(ctx, counts, cwa_counts, age_counts, comp) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = pd.concat([_all_rows(counts)] + ([_all_rows(cwa_counts)] if cwa_counts is not None else []),
                  ignore_index=True)
    strata = (rep.age_strata_counts(age_counts.assign(quarter=age_counts["quarter"].astype(str)))
              if age_counts is not None and len(age_counts) else None)
    tasks = reference.task_codes(estimated_only=True) + [CWA_TASK, ALL_TASKS]
    detail, summary = [], []
    logit_covs = list(ctx.qp["logit_covariates"])
    for q in sorted(c["quarter"].unique()):
        cov = ctx.covariates(q)
        for t in tasks:
            if t == ALL_TASKS:
                g = c[(c["quarter"] == q) & (c["service_task"].isin(
                    reference.task_codes(estimated_only=True)))]
                # kaikki: weights = whole population (covariates' population)
                f = cov.assign(population_base=cov["population"].astype(float))
            else:
                g = c[(c["quarter"] == q) & (c["service_task"] == t)]
                if g.empty:
                    continue
                f = cov.merge(g[["municipality_code", "population_base"]], on="municipality_code",
                              how="left").fillna({"population_base": 0})
            codes = comp.get((q, t), set())
            compm = f["municipality_code"].isin(codes)
            drows = rep.difference_rows(f, compm, f["population_base"])
            lrows, lnote = rep.logistic_rows(f, compm, logit_covs)
            lmap = {r["covariate"]: r for r in lrows}
            for r in drows:
                lr = lmap.get(r["covariate"], {}) if not r["level"] else {}
                detail.append({"quarter": q, "service_task": t, **r,
                               "label_fi": rep.CONTINUOUS.get(r["covariate"], r["level"]),
                               "logit_coef": lr.get("logit_coef", np.nan),
                               "logit_se": lr.get("logit_se", np.nan),
                               "logit_p": lr.get("logit_p", np.nan)})
            if "(vakio)" in lmap:
                r = lmap["(vakio)"]
                detail.append({"quarter": q, "service_task": t, "covariate": "(vakio)",
                               "level": "", "label_fi": "vakio", "logit_coef": r["logit_coef"],
                               "logit_se": r["logit_se"], "logit_p": r["logit_p"]})
            crude, adj = np.nan, np.nan
            if strata is not None:
                st = strata[(strata["quarter"] == q) & (strata["service_task"] == t)]
                if not st.empty:
                    crude, adj = rep.age_adjusted(st, codes, rep.strata_of_base(*_base_ages(t)))
            cont = [r for r in drows if not r["level"]]
            best = max(cont, key=lambda r: abs(r["wstd_diff"]) if np.isfinite(r["wstd_diff"])
                       else -1)
            base_all = f["population_base"].sum()
            s = {"quarter": q, "service_task": t, "n_comprehensive": int(compm.sum()),
                 "n_all": len(f),
                 "base_coverage_pct": (100 * f.loc[compm, "population_base"].sum() / base_all
                                       if base_all else np.nan),
                 "crude_estimate": crude, "age_adjusted_estimate": adj,
                 "age_adjusted_diff_pct": (100 * (adj / crude - 1)
                                           if np.isfinite(crude) and crude else np.nan),
                 "max_abs_wstd_diff": abs(best["wstd_diff"]),
                 "max_wstd_covariate": best["covariate"],
                 "max_wstd_covariate_fi": rep.CONTINUOUS[best["covariate"]],
                 "logit_note": lnote}
            s["verdict_fi"] = rep.verdict_fi(s, float(ctx.qp["verdict_threshold_pct"]),
                                             float(ctx.qp["verdict_std_diff"]))
            summary.append(s)
    dcols = ["quarter", "service_task", "covariate", "level", "label_fi", "mean_comprehensive",
             "mean_all", "std_diff", "wmean_comprehensive", "wmean_all", "wstd_diff",
             "logit_coef", "logit_se", "logit_p"]
    d = pd.DataFrame(detail, columns=dcols)
    return _round(d), _round(pd.DataFrame(summary))


def screened_series(memo: EstimationMemo | None, series: pd.DataFrame,
                    deliveries: pd.DataFrame, monthly: pd.DataFrame | None,
                    covariates: pd.DataFrame, quality_params: dict, model_covariates: list[str]
                    ) -> pd.DataFrame:
    """:func:`seuranta.statistics.quality.screen` of the series (the model checks in the
    memo's workers), from ``memo`` when made before on the same content: the run without
    the review round's decisions screens the same rows (the decisions come after)."""
    args = (series, deliveries, monthly, covariates, quality_params, model_covariates)
    if memo is None:
        return qual.screen(*args)
    key = content_key(series, deliveries, monthly, covariates, quality=quality_params,
                      covariates=model_covariates)
    return memo.get(key, lambda: qual.screen(*args, workers=memo.workers))


def _classified(tables: dict[str, pd.DataFrame], data_dir: Path, params: dict,
                memo: EstimationMemo | None) -> dict:
    """The stage's shared first step: its context, the series tables and the quality
    classification of the series (with the comprehensive and flagged sets)."""
    if "counts" not in tables:
        raise InputError("statistics stage: the register stage gave no counts table")
    ctx = _Context(data_dir, params, memo=memo)
    counts = tables["counts"].copy()
    counts["quarter"] = counts["quarter"].astype(str)
    keys = ["quarter", "municipality_code", "service_task", "source"]
    series = _with_series(tables, "counts", keys)
    monthly = _with_series(tables, "monthly", keys + ["month"])
    series_cwa = _with_series(tables, "cwa_counts", keys)
    series_age = _with_series(tables, "age_counts", keys[:3] + ["age_group"])
    deliveries = read_deliveries(data_dir, required=deliveries_required(params))
    corrections = qual.read_corrections(data_dir, set(ctx.mainland["municipality_code"]),
                                        _latest_quarter(data_dir, params))
    # decisions on quarters before the series are past decisions of a longer series (the
    # demo's review round covers every demo quarter): not applied here, and said so
    series_quarters = series["quarter"].unique()     # each quarter once, not each row
    first = min(Quarter.parse(q) for q in series_quarters)
    earlier = sum(Quarter.parse(q) < first for q in corrections["quarter"])
    if earlier:
        log.info("%s: %d decision(s) on quarters before %s, not applied in this run",
                 CORRECTIONS_FILE, earlier, first)

    last_q = max(series_quarters)
    screened = screened_series(memo, series, deliveries, monthly, ctx.covariates(last_q),
                               ctx.qp, list(ctx.ep["model_covariates"]))
    series_quality = qual.decide(screened, corrections, ctx.qp)
    qs = set(counts["quarter"].unique())
    quality = series_quality[series_quality["quarter"].isin(qs)].reset_index(drop=True)
    return {"ctx": ctx, "counts": counts, "series": series, "series_cwa": series_cwa,
            "series_age": series_age, "series_quality": series_quality, "quality": quality,
            "qs": qs, "comp": comprehensive_sets(series_quality),
            "flagged": comprehensive_sets(series_quality, flagged=True)}


def _all_estimate_rows(s: dict, quarters: set[str] | None = None) -> list[dict]:
    """Estimate rows of the tasks, lastensuojelulaki and the age groups, for every quarter
    of the series or only ``quarters`` (a quarter's rows depend on its own frame only)."""
    def cut(t: pd.DataFrame | None) -> pd.DataFrame | None:
        if t is None or quarters is None:
            return t
        return t[t["quarter"].astype(str).isin(quarters)]

    ctx, comp, flagged = s["ctx"], s["comp"], s["flagged"]
    est_tasks = reference.task_codes(estimated_only=True)
    frames = _task_frames(ctx, cut(s["series"]), comp, est_tasks, flagged)
    series_cwa, series_age = cut(s["series_cwa"]), cut(s["series_age"])
    if series_cwa is not None and len(series_cwa):
        frames += _task_frames(ctx, series_cwa, comp, [CWA_TASK], flagged)
    if series_age is not None and len(series_age):
        frames += _age_frames(ctx, series_age, comp, flagged)
    return _rows_of(ctx, frames)


def quality_and_estimates(tables: dict[str, pd.DataFrame], data_dir: Path, params: dict,
                          memo: EstimationMemo | None = None,
                          factors: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
    """Only ``quality`` and ``estimates`` of :func:`run_statistics_stage` (the same tables),
    with the estimates made for the quarters of ``counts`` only: what the effect of the
    review round's decisions compares (:mod:`seuranta.statistics.corrections`).
    ``factors``: the widening of the model's intervals (:func:`factors_of` the run it is
    compared with: the decisions' effect alone), none when None."""
    s = _classified(tables, Path(data_dir), params, memo)
    rows = calibrated(_all_estimate_rows(s, s["qs"]), [], factors or {}, s["ctx"].ep)[0]
    return {"quality": _round(s["quality"]), "estimates": _estimates_frame(rows)}


def _aside(ctx, fn, *args):
    """``fn(*args)`` started in one of the memo's workers, when it has any; returns the
    function that gives its result (computed here, at that call, without workers)."""
    workers = ctx.memo.workers if ctx.memo is not None else None
    if workers is None:
        return lambda: fn(*args)
    return workers.submit(fn, *args).result


def run_statistics_stage(tables: dict[str, pd.DataFrame], data_dir: Path, params: dict,
                         memo: EstimationMemo | None = None) -> dict[str, pd.DataFrame]:
    """Quality, estimates, quartiles and representativeness (see the module docstring).
    ``memo``: estimation results by content, shared with the caller's other runs (the
    same tables with and without the review round's decisions, the quarters of a
    publication), or None."""
    data_dir = Path(data_dir)
    s = _classified(tables, data_dir, params, memo)
    ctx, counts, series, series_cwa = s["ctx"], s["counts"], s["series"], s["series_cwa"]
    series_quality, quality, qs, comp = s["series_quality"], s["quality"], s["qs"], s["comp"]
    rows = _all_estimate_rows(s)
    # the calibration in a worker while the sensitivity's fits are made (its own copy of
    # the predictions: sensitivity_rows replaces ctx.predictions' entries meanwhile); it
    # widens every quarter's model intervals (variance_factors)
    cal = _aside(ctx, calibration_rows, dict(ctx.predictions), series, series_quality)
    sens_rows = sensitivity_rows(ctx, series, series_cwa, series_quality, qs)
    cal_rows = cal()
    factors = variance_factors(cal_rows, sorted(series["quarter"].unique()), ctx.ep)
    rows, county_rows = calibrated(rows, ctx.county_rows, factors, ctx.ep)
    series_estimates = _estimates_frame(rows)
    estimates = series_estimates[series_estimates["quarter"].isin(qs)].reset_index(drop=True)
    county = _county_frame(county_rows)
    county_estimates = county[county["quarter"].isin(qs)].reset_index(drop=True)
    sensitivity = sensitivity_table(calibrated(sens_rows, [], factors, ctx.ep)[0],
                                    series_quality, estimates)
    calibration = calibration_table(cal_rows)
    cwa = tables.get("cwa_counts")
    age = tables.get("age_counts")

    qtab = quality.copy()
    if cwa is not None and len(cwa):
        cq = quality[quality["service_task"] == "lastensuojelu"].assign(service_task=CWA_TASK)
        qtab = pd.concat([qtab, cq], ignore_index=True)
        qcounts = pd.concat([_all_rows(counts), _all_rows(cwa)], ignore_index=True)
    else:
        qcounts = _all_rows(counts)
    quartiles = _round(qrt.quartile_table(qcounts, qtab, ctx.names))
    order = {t: i for i, t in enumerate(reference.task_codes() + [CWA_TASK])}
    quartiles = (quartiles.assign(_t=quartiles["service_task"].map(order))
                 .sort_values(["quarter", "_t"]).drop(columns="_t").reset_index(drop=True))

    rdetail, rsummary = representativeness(ctx, counts, cwa, age, comp)
    return {
        "quality": _round(quality),
        "series_quality": _round(series_quality),
        "estimates": estimates,
        "series_estimates": series_estimates,
        "county_estimates": county_estimates,
        "estimates_sensitivity": sensitivity,
        "calibration": calibration,
        "quartiles": quartiles,
        "representativeness": rdetail,
        "representativeness_summary": rsummary,
        "quality_reasons": qual.reason_table(),
    }
