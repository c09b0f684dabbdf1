"""The data-quality tables the gate publishes beside the figures, so that the data chapter
and the task chapters read nothing from the exact ``tables/`` (they hold no count of
clients; every share in them is rounded by :mod:`seuranta.publication.rule`):

``ledger.csv`` (of the extract, not of a quarter: :func:`published_ledger`, published
    once per release in ``OUT/register/published/``): item (read / accepted / rejected /
    flagged), reason (rule or flag code), rows: register rows, not clients (the file rows
    of the internal ledger are left out).
``quality_reasons.csv``: quarter, service_task, code, description_fi, municipalities: how
    many municipalities of quarter Q have each reason for their quality class.
``representativeness.csv``: quarter, service_task, n_comprehensive, base_coverage_pct,
    age_adjusted_diff_pct, size_differs (1 when the comprehensive municipalities differ
    from the whole country by at least ``quality.verdict_std_diff`` standardised
    difference in a covariate), covariate_fi (that covariate).
``review_decisions.csv``: the review round's decisions of quarter Q: quarter,
    municipality_code, name_fi, county_code, service_task, decision, reason,
    quality_before, quality_after.
``review_effect.csv``: per task (published method, all ages) with a decision: quarter,
    service_task, n_include, n_exclude, n_note, municipalities_used_before/_after,
    estimate_before/_after, range_low/_high (of the estimate after), estimate_change_pct,
    publish_as (of the published estimate), each figure with its ``_symbol``. The figures
    follow the published estimate's rule: a point estimate shows the estimate after (the
    published one) and before (rounded as it) and the change; a range shows the range
    after and nothing of the estimate before; no estimate shows nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import precision
from seuranta.core.params import as_params
from seuranta.core.symbols import NOT_AVAILABLE, SUPPRESSED
from seuranta.publication.published import read

#: Internal ledger items that the data chapter shows (not the per-file rows).
LEDGER_ITEMS = ("read", "accepted", "rejected", "flagged")


def published_ledger(extract_tables_dir: Path) -> dict[str, pd.DataFrame]:
    """The extract's data-quality table (``ledger``, see the module docstring) from the
    extract-wide tables (``OUT/register/tables``); empty when there is no ledger."""
    led = read(Path(extract_tables_dir), "ledger", False)
    if led is None:
        return {}
    led = led[led["item"].isin(LEDGER_ITEMS)]
    return {"ledger": led[["item", "reason", "rows"]].reset_index(drop=True)}


def published_quality(tables_dir: Path, quarter: str, estimates: pd.DataFrame | None,
                      params) -> dict[str, pd.DataFrame]:
    """The data-quality tables of the quarter (see the module docstring; a table without
    rows, e.g. no review decisions, is left out); ``estimates``: the published national
    estimates (after the rule)."""
    tables_dir = Path(tables_dir)
    out: dict[str, pd.DataFrame] = {}
    q = read(tables_dir, "quality", False)
    codes = read(tables_dir, "quality_reasons", False)
    if q is not None:
        out["quality_reasons"] = _reasons(q, codes, quarter)
    rs = read(tables_dir, "representativeness_summary", False)
    if rs is not None:
        out["representativeness"] = _representativeness(rs, params)
    dec = read(tables_dir, "corrections_decisions", False)
    if dec is not None:
        out["review_decisions"] = dec.reindex(columns=[
            "quarter", "municipality_code", "name_fi", "county_code", "service_task",
            "decision", "reason", "quality_before", "quality_after"]).fillna("")
    eff = read(tables_dir, "corrections_effect", False)
    if eff is not None and estimates is not None:
        out["review_effect"] = _effect(eff, estimates, quarter, params)
    return {k: v for k, v in out.items() if len(v)}   # an empty table is not published


def _reasons(q: pd.DataFrame, codes: pd.DataFrame | None, quarter: str) -> pd.DataFrame:
    q = q[q["quarter"].astype(str) == str(quarter)]
    desc = {} if codes is None else dict(zip(codes["code"], codes["description_fi"]))
    rows = []
    for t, g in q.groupby("service_task", sort=True):
        flat = [y.strip() for v in g["reasons"].astype("string").fillna("") for y in str(v).split(";")
                if y.strip()]
        for code, n in pd.Series(flat, dtype=object).value_counts().sort_index().items():
            rows.append([str(quarter), t, code, desc.get(code, ""), int(n)])
    return pd.DataFrame(rows, columns=["quarter", "service_task", "code", "description_fi",
                                       "municipalities"])


def _representativeness(rs: pd.DataFrame, params) -> pd.DataFrame:
    smd = float(as_params(params)["quality"]["verdict_std_diff"])
    d = pd.to_numeric(rs["max_abs_wstd_diff"], errors="coerce")
    return pd.DataFrame({
        "quarter": rs["quarter"].astype(str), "service_task": rs["service_task"],
        "n_comprehensive": rs["n_comprehensive"].astype("Int64"),
        "base_coverage_pct": rs["base_coverage_pct"],
        "age_adjusted_diff_pct": rs["age_adjusted_diff_pct"],
        "size_differs": np.where(d.isna(), pd.NA, (d >= smd).astype(int)),
        "covariate_fi": rs["max_wstd_covariate_fi"].fillna("").astype(str),
    }).astype({"size_differs": "Int64"})


def _effect(eff: pd.DataFrame, est: pd.DataFrame, quarter: str, params) -> pd.DataFrame:
    p = as_params(params)["estimate"]
    method, step = str(p["published_method"]), int(p["rounding"])
    e = eff[(eff["method"] == method) & (eff["age_group"] == "kaikki")
            & (eff[["n_include", "n_exclude", "n_note"]].sum(axis=1) > 0)]
    pub = est[(est["quarter"].astype(str) == str(quarter)) & (est["age_group"] == "kaikki")
              ].set_index("service_task")
    rows = []
    for r in e.itertuples():
        row = {"quarter": str(quarter), "service_task": r.service_task,
               "n_include": int(r.n_include), "n_exclude": int(r.n_exclude),
               "n_note": int(r.n_note),
               "municipalities_used_before": int(r.municipalities_used_before),
               "municipalities_used_after": int(r.municipalities_used_after)}
        a = pub.loc[r.service_task] if r.service_task in pub.index else None
        kind = "none" if a is None else str(a["publish_as"])
        sym_after = "" if a is None else str(a["estimate_rounded_symbol"])
        figs = {"estimate_before": np.nan, "estimate_after": np.nan, "range_low": np.nan,
                "range_high": np.nan, "estimate_change_pct": np.nan}
        syms = dict.fromkeys(figs, NOT_AVAILABLE)
        if kind == "point" and sym_after == "":
            figs.update(estimate_after=float(a["estimate_rounded"]),
                        estimate_before=precision.round_estimate(r.estimate_before, step),
                        estimate_change_pct=precision.round_share(r.estimate_change_pct))
            syms.update(estimate_after="", estimate_before="", estimate_change_pct="")
            for k in ("estimate_before", "estimate_change_pct"):
                if pd.isna(figs[k]):
                    syms[k] = NOT_AVAILABLE
        elif kind == "range" and str(a["range_low_symbol"]) == "":
            figs.update(range_low=float(a["range_low"]), range_high=float(a["range_high"]))
            syms.update(range_low="", range_high="")
        elif SUPPRESSED in (sym_after, "" if a is None else str(a["range_low_symbol"])):
            syms = dict.fromkeys(figs, SUPPRESSED)
        for k, v in figs.items():
            row[k] = v if syms[k] == "" else np.nan
            row[f"{k}_symbol"] = syms[k]
        row["publish_as"] = kind
        rows.append(row)
    cols = ["quarter", "service_task", "n_include", "n_exclude", "n_note",
            "municipalities_used_before", "municipalities_used_after"]
    for k in ("estimate_before", "estimate_after", "range_low", "range_high",
              "estimate_change_pct"):
        cols += [k, f"{k}_symbol"]
    out = pd.DataFrame(rows, columns=cols + ["publish_as"])
    for k in ("estimate_before", "estimate_after", "range_low", "range_high"):
        out[k] = pd.to_numeric(out[k]).round().astype("Int64")
    return out
