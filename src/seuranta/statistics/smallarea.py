"""County estimates ("mallipohjainen arvio"): small-area prediction from the national model.

The same fit that gives the ``model`` estimate (:mod:`seuranta.statistics.model`: negative
binomial regression on the comprehensive municipalities, shrunk county effects) gives every
wellbeing services county a total: the observed clients of its comprehensive municipalities
plus the predicted clients of its other municipalities, with the predictive variance of
that sum (NB noise of each predicted municipality + parameter uncertainty + the posterior
variance of the county effect; the model module's docstring derives it). A county whose
municipalities are all comprehensive gets its observed count with no interval
(``comprehensive`` = 1).

``publish_as`` of a county row: ``none`` when the national model row may not be published
at all (:func:`seuranta.statistics.estimate.publication_rule`); ``point`` when the county is
comprehensive, or when the national model row is a point estimate and the county's relative
standard error is at most ``county_point_max_rse_pct``; otherwise ``range`` (the interval
rounded outwards as the national range).

Columns that are **counts of clients** (disclosure control applies to them):
``clients_observed`` (the comprehensive municipalities' clients) and, for a comprehensive
county, ``estimate`` / ``ci_low`` / ``ci_high`` (then equal to the observed count).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seuranta.core.fmt import fi_round
from seuranta.core.params import over_defaults
from seuranta.statistics import estimate as est
from seuranta.statistics import model as mdl

METHOD_FI = "mallipohjainen arvio"

COUNTY_COLUMNS = ["quarter", "service_task", "county_code", "method", "estimate", "se",
                  "ci_low", "ci_high", "estimate_rounded", "clients_observed",
                  "municipalities", "municipalities_comprehensive", "population_base",
                  "base_coverage_pct", "comprehensive", "publish_as", "range_low",
                  "range_high", "share_pct"]


def county_rows(pred: mdl.Prediction, frame: pd.DataFrame, national: dict,
                params: dict | None = None,
                without_flagged: mdl.Prediction | None = None,
                flags: mdl.FlagMixture | None = None) -> list[dict]:
    """One row per county of ``frame`` (see the module docstring). ``national``: the
    quarter × task's model row with its publication rule columns; ``without_flagged``: the
    same model with the flagged municipalities predicted (with ``flagged_interval`` ``hull``
    or ``average`` the county interval holds both as the national one does,
    :func:`~seuranta.statistics.model.flagged_bounds`); ``flags``: their mixture
    over "the count is right / wrong" (:func:`~seuranta.statistics.model.flag_mixture`;
    the same posterior probabilities, each county's shifts): its interval is
    ``mixture_low`` / ``mixture_high``, and the published one with ``mixture``.
    Each row also has the parts of its interval (:func:`widened`; the coverage study):
    ``variance`` and ``observed`` of the model, ``nf_estimate`` / ``nf_variance`` /
    ``nf_observed`` of the model without the flagged municipalities (NaN when its interval
    does not hold that one)."""
    p = over_defaults("estimate", params)
    z = float(p["z"])
    step = int(p["rounding"])
    rule = {**est.RULE_DEFAULTS, **(p.get("publication_rule") or {})}
    county = frame["county_code"].astype(str).to_numpy()
    kind = str(p["flagged_interval"])
    tot = mdl.mixture_totals(pred, flags, county)
    alt = (without_flagged.group_totals(county).set_index("group").to_dict("index")
           if kind != "mixture" and without_flagged is not None and without_flagged is not pred
           else None)
    comp = frame["comprehensive"].to_numpy(bool)
    base = frame["population_base"].to_numpy(float)
    info = pd.DataFrame({"c": county, "comp": comp, "base": base,
                         "cbase": np.where(comp, base, 0.0)}).groupby("c").agg(
        municipalities=("comp", "size"), municipalities_comprehensive=("comp", "sum"),
        population_base=("base", "sum"), cbase=("cbase", "sum")).to_dict("index")
    rows = []
    for r in tot.itertuples(index=False):
        i = info[r.group]
        full = int(i["municipalities_comprehensive"]) == int(i["municipalities"])
        se, lo, hi = mdl.interval(r.estimate, r.variance, r.observed, z)
        if alt is not None and not full:
            a = alt[r.group]
            lo, hi = mdl.flagged_bounds(kind, (r.estimate, r.variance, r.observed),
                                        (a["estimate"], a["variance"], a["observed"]), z)
        mixed = (lo, hi)
        if flags is not None and len(flags.rows) and not full:
            mixed = mdl.mixture_interval(r.mean, r.mixture_variance, r.mixture_observed, z,
                                         point=r.estimate)
            if kind == "mixture":
                lo, hi = mixed
        row = {"county_code": r.group, "method": METHOD_FI, "estimate": r.estimate, "se": se,
               "ci_low": lo, "ci_high": hi, "estimate_rounded": fi_round(r.estimate, step),
               "clients_observed": r.observed, "municipalities": int(i["municipalities"]),
               "municipalities_comprehensive": int(i["municipalities_comprehensive"]),
               "population_base": float(i["population_base"]),
               "base_coverage_pct": (100 * i["cbase"] / i["population_base"]
                                     if i["population_base"] else math.nan),
               "comprehensive": int(full),
               "share_pct": (100 * r.estimate / i["population_base"]
                             if i["population_base"] else math.nan),
               "range_low": math.nan, "range_high": math.nan}
        if flags is not None:
            row.update(mixture_low=mixed[0], mixture_high=mixed[1])
        # the parts of its interval: widened by the calibration of earlier predictions
        # (:func:`widened`), kept by the coverage study
        a = (alt[r.group] if alt is not None and not full
             else dict.fromkeys(("estimate", "variance", "observed"), math.nan))
        row.update(variance=r.variance, observed=r.observed, nf_estimate=a["estimate"],
                   nf_variance=a["variance"], nf_observed=a["observed"])
        row.update(_published_as(row, national, rule))
        rows.append(row)
    return rows


def _published_as(row: dict, national: dict, rule: dict) -> dict:
    """``publish_as`` of a county row (point, range or none) and its range: a fully
    comprehensive county is counted; else a point needs the national model row's point and
    a relative SE of at most ``county_point_max_rse_pct``, a range the national row
    published at all; the range is the interval rounded outwards."""
    full = bool(row["comprehensive"])
    if national.get("publish_as", "none") == "none" and not full:
        return {"publish_as": "none", "range_low": math.nan, "range_high": math.nan}
    e = row["estimate"]
    if full or (national.get("publish_as") == "point" and e > 0
                and 100 * row["se"] / e <= float(rule["county_point_max_rse_pct"])):
        return {"publish_as": "point", "range_low": math.nan, "range_high": math.nan}
    low, high = est.rounded_range(e, row["ci_low"], row["ci_high"], row["clients_observed"],
                                  float(rule["range_step_pct"]))
    return {"publish_as": "range", "range_low": low, "range_high": high}


def widened(row: dict, national: dict, factor: float, params: dict | None = None) -> dict:
    """A county row of :func:`county_rows` with its interval made again from both
    predictive variances multiplied by ``factor`` (as the national row,
    :func:`seuranta.statistics.estimate.widened`, which ``national`` is already) and its
    publication decided again. A fully comprehensive county and a factor of 1 change
    nothing but the decision, which follows ``national``."""
    p = over_defaults("estimate", params)
    rule = {**est.RULE_DEFAULTS, **(p.get("publication_rule") or {})}
    out = dict(row)
    if factor != 1.0 and not row["comprehensive"]:
        z = float(p["z"])
        own = (row["estimate"], factor * row["variance"], row["observed"])
        se, lo, hi = mdl.interval(*own, z)
        if np.isfinite(row.get("nf_estimate", math.nan)):
            lo, hi = mdl.flagged_bounds(
                str(p["flagged_interval"]), own,
                (row["nf_estimate"], factor * row["nf_variance"], row["nf_observed"]), z)
        out.update(se=se, ci_low=lo, ci_high=hi)
    out.update(_published_as(out, national, rule))
    return out
