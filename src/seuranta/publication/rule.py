"""What each public estimate cell shows: the publication rule and the declared precision,
the gate's last steps (:func:`apply_rule` and :func:`apply_precision`, called by
:func:`seuranta.publication.gate.publish_quarter` after disclosure control).

The publication rule (:func:`seuranta.statistics.estimate.publication_rule` and the county
rule of :mod:`seuranta.statistics.smallarea`) gives every estimate row ``publish_as``:

``point``
    ``estimate_rounded`` (half up to ``estimate.rounding``), ``ci_low`` / ``ci_high``
    (rounded *outward* to the same step) and ``share_pct`` are shown; the range columns
    are empty with ``x`` (not applicable: a point estimate has no published range), and
    so is the interval of a county whose every municipality is comprehensive (a count);
``range``
    only ``range_low`` / ``range_high`` (rounded outward to ``estimate.rounding``) and
    their shares ``range_low_pct`` / ``range_high_pct`` (of the population base, rounded
    outward to one decimal) are shown; the point estimate, its interval and share are
    empty with ``.`` ("not available or too uncertain to be presented");
``none``
    every figure of the estimate is empty with ``.``; ``rule_reason`` says why.

A figure that disclosure control suppressed keeps ``..``. Counts that are not estimates
(``clients_used``, ``clients_observed``, bases, municipalities) are shown as disclosure
control allows, whatever the rule.

Only the published method (``estimate.published_method``) is public: the national
estimates table holds its rows only. The other method is compared with it in the methods
chapter through the coverage study (simulated data with a known truth), not through this
release's figures, so no comparison estimate reaches an artefact. The county estimates are
the model's county totals with the county rule.

Then :func:`apply_precision` (:mod:`seuranta.core.precision`): every share (a column ending in ``_pct``, and
the quartiles and extremes of municipal shares) to one decimal, every estimate a multiple
of ``estimate.rounding``, every other figure a whole number. :func:`check_precision`
refuses a published table with a figure of more precision or with a numeric column whose
precision is not declared here; every artefact then shows the figures as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seuranta.core import precision
from seuranta.core.params import as_params
from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED

POINT, RANGE, NONE = "point", "range", "none"
#: Published figures that are estimates of clients: multiples of ``estimate.rounding``.
ESTIMATE_FIGURES = ("estimate_rounded", "ci_low", "ci_high", "range_low", "range_high",
                    "estimate_before", "estimate_after")
#: Published shares that do not end in ``_pct``: the quartiles and extremes of the
#: municipal shares (``extremes.csv``).
OTHER_SHARES = {"extremes": ("q1", "median", "q3", "min", "max")}
#: The fewest comprehensive municipalities with a shown share over which the quartiles
#: (``q1``, ``median``, ``q3``) of ``extremes.csv`` are published: a quarter of fewer than
#: four municipalities is not a municipality, and with one municipality every quartile is
#: its share ("alakvartiili 12,7 % … yläkvartiili 12,7 %").
MIN_QUARTILE_MUNICIPALITIES = 4
#: The fewest over which the smallest and largest share (``min``, ``max``) are published:
#: with one municipality the smallest and the largest are the same municipality.
MIN_EXTREME_MUNICIPALITIES = 2
#: Published aggregates of z-scores (:data:`seuranta.core.precision.Z_DECIMALS`).
Z_FIGURES = {"calibration": ("mean_z", "sd_z")}
#: Figures of a point estimate and of a range.
POINT_FIGURES = ("estimate_rounded", "ci_low", "ci_high", "share_pct")
RANGE_FIGURES = ("range_low", "range_high", "range_low_pct", "range_high_pct")
#: Columns of the national estimates that the published tables do not carry: with the
#: comparison method not public, whether a row is the published one (always) and its
#: difference from the published one (always 0).
DROPPED = ("published", "difference_pct", "difference_pct_symbol")


class PublicationRuleError(ValueError):
    """The estimate tables and the parameters disagree on the published method."""


class PrecisionError(ValueError):
    """A published table would show a figure with more precision than declared."""


def settings(params) -> tuple[str, int]:
    """(published method, rounding step) of the run's parameters."""
    e = as_params(params)["estimate"]
    return str(e["published_method"]), int(e["rounding"])


def _symbol(df: pd.DataFrame, col: str) -> pd.Series:
    s = f"{col}_symbol"
    return df[s].fillna("").astype(str) if s in df.columns else pd.Series("", index=df.index)


def _set(df: pd.DataFrame, col: str, values: pd.Series, symbol: pd.Series) -> None:
    """Column ``col`` = values where symbol is '' (else empty), with its symbol column."""
    df[col] = pd.to_numeric(values, errors="coerce").where(symbol == "")
    df[f"{col}_symbol"] = symbol


def rule_estimates(df: pd.DataFrame, step: int, base_col: str) -> pd.DataFrame:
    """The rule and the precision on a table of estimate rows (national or county) whose
    figures disclosure control has already blanked (``..``). ``base_col``: the population
    base of a row's share (``national_base`` / ``population_base``)."""
    d = df.copy()
    kind = d["publish_as"].fillna(NONE).astype(str) if "publish_as" in d.columns else \
        pd.Series(POINT, index=d.index)
    d["publish_as"] = kind
    point, ranged = kind == POINT, kind == RANGE

    def value(col):   # float (NA → NaN)
        return pd.to_numeric(d[col], errors="coerce").astype("float64") if col in d.columns \
            else pd.Series(np.nan, index=d.index)

    base = value(base_col)
    est, lo, hi, share = (value(c) for c in ("estimate_rounded", "ci_low", "ci_high",
                                             "share_pct"))
    rlo, rhi = value("range_low"), value("range_high")
    shown = {
        "estimate_rounded": est.map(lambda x: precision.round_estimate(x, step)),
        "ci_low": lo.map(lambda x: precision.round_down(x, step)),
        "ci_high": hi.map(lambda x: precision.round_up(x, step)),
        "share_pct": share.map(precision.round_share),
        "range_low": rlo.map(lambda x: precision.round_down(x, step)),
        "range_high": rhi.map(lambda x: precision.round_up(x, step)),
    }
    pct_step = precision.share_step()
    ok_base = base > 0
    shown["range_low_pct"] = (100 * shown["range_low"] / base.where(ok_base)).map(
        lambda x: precision.round_down(x, pct_step))
    shown["range_high_pct"] = (100 * shown["range_high"] / base.where(ok_base)).map(
        lambda x: precision.round_up(x, pct_step))
    source = {"range_low_pct": "range_low", "range_high_pct": "range_high"}
    for col, v in shown.items():
        suppressed = _symbol(d, source.get(col, col)) == SUPPRESSED
        mine = ranged if col in RANGE_FIGURES else point
        other = point if col in RANGE_FIGURES else pd.Series(False, index=d.index)
        sym = np.where(suppressed, SUPPRESSED,
                       np.where(mine & v.notna(), "",
                                np.where(other, NOT_APPLICABLE, NOT_AVAILABLE)))
        _set(d, col, v, pd.Series(sym, index=d.index, dtype=object))
    if "base_coverage_pct" in d.columns:
        d["base_coverage_pct"] = value("base_coverage_pct").map(precision.round_share)
    for col in ESTIMATE_FIGURES:
        if col in d.columns:
            d[col] = d[col].round().astype("Int64")
    if "rule_reason" in d.columns:
        d["rule_reason"] = d["rule_reason"].fillna("").astype(str)
    return d


def _ordered(d: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """Columns: the keys and counts as they were, then the rule's figures in one order."""
    figs = [c for f in POINT_FIGURES[:3] + ("share_pct",) + RANGE_FIGURES
            for c in (f, f"{f}_symbol")]
    rest = [c for c in d.columns if c not in figs and c not in first]
    tail = [c for c in ("publish_as", "rule_reason", "note") if c in rest]
    return d[first + [c for c in rest if c not in tail] + figs + tail]


def national(est: pd.DataFrame, params) -> pd.DataFrame:
    """The published national estimates: the published method's rows under the rule."""
    method, step = settings(params)
    if "published" in est.columns and "method" in est.columns:
        marked = set(est.loc[pd.to_numeric(est["published"], errors="coerce") == 1, "method"])
        if marked and marked != {method}:
            raise PublicationRuleError(
                f"estimates: the statistics stage published method {sorted(marked)}, the "
                f"parameters say estimate.published_method = {method!r}: tables and "
                "parameters are of different runs")
    e = est[est["method"] == method] if "method" in est.columns else est
    d = rule_estimates(e, step, "national_base")
    d = d.drop(columns=[c for c in DROPPED if c in d.columns])
    keys = [c for c in ("quarter", "service_task", "age_group", "method") if c in d.columns]
    return _ordered(d, keys).reset_index(drop=True)


def county(ce: pd.DataFrame, params) -> pd.DataFrame:
    """The published county estimates under the county rule."""
    _, step = settings(params)
    d = rule_estimates(ce, step, "population_base")
    if "comprehensive" in d.columns:   # a full count: no interval
        full = (pd.to_numeric(d["comprehensive"], errors="coerce").fillna(0) == 1) & \
            (d["ci_low_symbol"] == "")
        for col in ("ci_low", "ci_high"):
            d.loc[full, col] = pd.NA
            d.loc[full, f"{col}_symbol"] = NOT_APPLICABLE
    keys = [c for c in ("quarter", "service_task", "county_code", "method") if c in d.columns]
    return _ordered(d, keys).reset_index(drop=True)


def round_shares(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Every share of a published table to the declared decimals."""
    d = df.copy()
    for c in share_columns(d, name):
        d[c] = pd.to_numeric(d[c], errors="coerce").astype("float64").map(precision.round_share)
    return d


def share_columns(df: pd.DataFrame, name: str) -> list[str]:
    return [c for c in df.columns if c.endswith("_pct") or c in OTHER_SHARES.get(name, ())]


def apply_rule(out: dict[str, pd.DataFrame], params) -> dict[str, pd.DataFrame]:
    """The rule on the national and county estimates of the gate's tables."""
    res = dict(out)
    if res.get("estimates") is not None:
        res["estimates"] = national(res["estimates"], params)
    if res.get("county_estimates") is not None:
        res["county_estimates"] = county(res["county_estimates"], params)
    return res


def apply_precision(out: dict[str, pd.DataFrame], params) -> dict[str, pd.DataFrame]:
    """Every share of every table to the declared decimals, then :func:`check_precision`."""
    res = {name: (df if df is None else round_shares(df, name)) for name, df in out.items()}
    check_precision(res, params)
    return res


def check_precision(tables: dict[str, pd.DataFrame], params) -> None:
    """Refuse a published table that shows more than the declared precision: a share with
    more decimals, an estimate that is not a multiple of the rounding step, any other
    figure that is not a whole number (a numeric column whose precision is undeclared)."""
    _, step = settings(params)
    bad = []
    for name, df in tables.items():
        if df is None:
            continue
        shares = set(share_columns(df, name))
        for c in df.columns:
            if c.endswith("_symbol") or not pd.api.types.is_numeric_dtype(df[c]):
                continue
            v = pd.to_numeric(df[c], errors="coerce").dropna()
            if c in shares:
                wrong = v[~v.map(precision.has_share_precision)]
            elif c in Z_FIGURES.get(name, ()):
                wrong = v[~v.map(lambda x: precision.has_share_precision(x, precision.Z_DECIMALS))]
            elif c in ESTIMATE_FIGURES:
                wrong = v[~v.map(lambda x: precision.is_multiple(x, step))]
            else:
                wrong = v[v != v.round()]
            if len(wrong):
                bad.append(f"{name}.{c} = {wrong.iloc[0]!r}")
    if bad:
        raise PrecisionError("published tables beyond the declared precision "
                             "(publication.rule): " + "; ".join(bad))
