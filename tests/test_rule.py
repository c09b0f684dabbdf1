"""The gate's last step (seuranta.publication.rule): what each public estimate cell shows
under the publication rule, and the declared precision of every published table. Values
below are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seuranta.core import precision
from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED
from seuranta.publication import rule

PARAMS = {"estimate": {"published_method": "model", "rounding": 100}}


def _row(task, kind, method="model", **kw):
    """An estimates row as the gate hands it to the rule: exact figures (interval not
    rounded, share not rounded), disclosure symbols only."""
    row = {"quarter": "2023Q4", "service_task": task, "age_group": "kaikki", "method": method,
           "published": int(method == "model"), "municipalities_used": 30,
           "population_used": 50_000, "national_base": 1_000_000, "clients_used": 2_345,
           "clients_used_symbol": "", "estimate_rounded": 46_900,
           "estimate_rounded_symbol": "", "ci_low": 41_234.5, "ci_low_symbol": "",
           "ci_high": 52_301.2, "ci_high_symbol": "", "share_pct": 4.6949,
           "share_pct_symbol": "", "difference_pct": 0.0, "difference_pct_symbol": "",
           "range_low": np.nan, "range_low_symbol": NOT_APPLICABLE, "range_high": np.nan,
           "range_high_symbol": NOT_APPLICABLE, "publish_as": kind, "rule_reason": "",
           "note": ""}
    row.update(kw)
    return row


def test_point_range_none_and_the_comparison_method():
    est = pd.DataFrame([
        _row("iakkaat", "point"),
        _row("iakkaat", "point", method="ratio", estimate_rounded=51_000),
        _row("tyoikaiset", "range", range_low=30_000.0, range_high=60_000.0,
             range_low_symbol="", range_high_symbol="", rule_reason="municipalities<20"),
        _row("lapsiperheet", "none", rule_reason="base_share<5"),
        _row("lastensuojelu", "point", clients_used=np.nan, clients_used_symbol=SUPPRESSED,
             **{f"{c}_symbol": SUPPRESSED for c in ("estimate_rounded", "ci_low", "ci_high",
                                                   "share_pct")}),
    ])
    out = rule.national(est, PARAMS).set_index("service_task")
    # only the published method: no comparison row, no difference from it
    assert list(out["method"].unique()) == ["model"] and len(out) == 4
    assert "published" not in out.columns and "difference_pct" not in out.columns
    p = out.loc["iakkaat"]
    # 41 234.5 → 41 200 (down), 52 301.2 → 52 400 (up); share 4.6949 → 4.7
    assert (p["estimate_rounded"], p["ci_low"], p["ci_high"], p["share_pct"]) == (
        46_900, 41_200, 52_400, 4.7)
    assert (p["range_low_symbol"], p["range_low_pct_symbol"]) == (NOT_APPLICABLE,) * 2
    r = out.loc["tyoikaiset"]
    assert [r[f"{c}_symbol"] for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct")] \
        == [NOT_AVAILABLE] * 4
    assert all(pd.isna(r[c]) for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct"))
    # the range and its share of the base, rounded outward: 3.0 % and 6.0 %
    assert (r["range_low"], r["range_high"], r["range_low_pct"], r["range_high_pct"]) == (
        30_000, 60_000, 3.0, 6.0)
    assert r["rule_reason"] == "municipalities<20"
    n = out.loc["lapsiperheet"]
    for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct", "range_low", "range_high",
              "range_low_pct", "range_high_pct"):
        assert pd.isna(n[c]) and n[f"{c}_symbol"] == NOT_AVAILABLE, c
    assert n["clients_used"] == 2_345 and n["rule_reason"] == "base_share<5"
    # disclosure control comes first: a suppressed figure keeps ..
    s = out.loc["lastensuojelu"]
    assert s["estimate_rounded_symbol"] == SUPPRESSED and s["share_pct_symbol"] == SUPPRESSED


def test_a_range_is_rounded_outward_to_the_step_and_its_share_outward_to_a_decimal():
    est = pd.DataFrame([_row("iakkaat", "range", range_low=4_450.0, range_high=6_550.0,
                             range_low_symbol="", range_high_symbol="", national_base=38_597)])
    r = rule.national(est, PARAMS).iloc[0]
    assert (r["range_low"], r["range_high"]) == (4_400, 6_600)
    # 100·4 400/38 597 = 11.399… → 11.3; 100·6 600/38 597 = 17.099… → 17.1
    assert (r["range_low_pct"], r["range_high_pct"]) == (11.3, 17.1)


def test_tables_and_parameters_of_different_runs_are_refused():
    est = pd.DataFrame([_row("iakkaat", "point", method="ratio", published=1),
                        _row("iakkaat", "point", method="model", published=0)])
    with pytest.raises(rule.PublicationRuleError, match="published_method"):
        rule.national(est, PARAMS)


def test_county_rule_and_a_full_count_has_no_interval():
    ce = pd.DataFrame([
        {"quarter": "2023Q4", "service_task": "iakkaat", "county_code": "02", "method": "m",
         "population_base": 1_495, "base_coverage_pct": 100.0, "comprehensive": 1,
         "clients_observed": 276, "clients_observed_symbol": "", "estimate_rounded": 300,
         "ci_low": 276.0, "ci_high": 276.0, "share_pct": 18.4615, "range_low": np.nan,
         "range_high": np.nan, "publish_as": "point"},
        {"quarter": "2023Q4", "service_task": "iakkaat", "county_code": "03", "method": "m",
         "population_base": 3_097, "base_coverage_pct": 12.3456, "comprehensive": 0,
         "clients_observed": 0, "clients_observed_symbol": "", "estimate_rounded": 500,
         "ci_low": 300.2, "ci_high": 800.9, "share_pct": 16.1, "range_low": 300.0,
         "range_high": 800.0, "publish_as": "range"}])
    for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct", "range_low", "range_high"):
        ce[f"{c}_symbol"] = ""
    out = rule.county(ce, PARAMS).set_index("county_code")
    full = out.loc["02"]
    assert full["estimate_rounded"] == 300 and full["share_pct"] == 18.5
    assert full["ci_low_symbol"] == full["ci_high_symbol"] == NOT_APPLICABLE
    rng = out.loc["03"]
    assert rng["share_pct_symbol"] == NOT_AVAILABLE and pd.isna(rng["share_pct"])
    assert (rng["range_low_pct"], rng["range_high_pct"]) == (9.6, 25.9)   # 9.68…↓, 25.83…↑
    assert rng["base_coverage_pct"] == 12.3


def test_precision_check_refuses_more_than_declared():
    ok = {"municipal": pd.DataFrame({"clients": [3, 4], "share_pct": [2.4, 10.0]}),
          "extremes": pd.DataFrame({"q1": [1.2], "n": [4]})}
    rule.check_precision(ok, PARAMS)
    for bad, what in (
            ({"municipal": pd.DataFrame({"share_pct": [2.45]})}, "municipal.share_pct"),
            ({"extremes": pd.DataFrame({"median": [5.25]})}, "extremes.median"),
            ({"estimates": pd.DataFrame({"ci_low": [41_234]})}, "estimates.ci_low"),
            ({"year": pd.DataFrame({"ratio": [0.5]})}, "year.ratio")):   # undeclared
        with pytest.raises(rule.PrecisionError, match=what.replace(".", r"\.")):
            rule.check_precision(bad, PARAMS)


def test_the_gate_cannot_publish_beyond_the_precision(monkeypatch):
    """The safeguard catches the fault: with the share rounding of apply_precision switched
    off, the exact municipal shares would be published, and check_precision refuses them."""
    tables = {"municipal": pd.DataFrame({"clients": [84], "share_pct": [100 * 84 / 3907]})}
    assert rule.apply_precision(tables, PARAMS)["municipal"]["share_pct"].iloc[0] == 2.1
    monkeypatch.setattr(rule, "round_shares", lambda df, name: df)
    with pytest.raises(rule.PrecisionError):
        rule.apply_precision(tables, PARAMS)


def test_precision_helpers():
    assert precision.round_share(2.45) == 2.5 and precision.round_share(100 * 84 / 3907) == 2.1
    assert precision.round_down(41_299.9, 100) == 41_200 and precision.round_up(41_200.1, 100) == 41_300
    assert precision.round_down(0.30000000000000004, 0.1) == 0.3
    assert precision.round_estimate(134_350, 100) == 134_400
    assert precision.has_share_precision(2.4) and not precision.has_share_precision(2.45)


def test_a_published_interval_always_contains_its_point_and_the_exact_interval():
    """Issue 25 saw "9 200–9 200" beside an observed 9 202: rounded outward, an interval
    always contains the rounded point and the exact interval (2 000 random rows, with ends
    on and between the step's multiples)."""
    rng = np.random.default_rng(25)
    lo = rng.integers(0, 20000, 2000).astype(float) + rng.choice([0.0, 0.4, 0.5, 0.6], 2000)
    est = lo + rng.integers(0, 300, 2000) * rng.random(2000)
    hi = est + rng.integers(0, 300, 2000) * rng.random(2000)
    d = pd.DataFrame({"estimate_rounded": est, "ci_low": lo, "ci_high": hi,
                      "share_pct": 1.0, "population_base": 1e6, "publish_as": "point"})
    out = rule.rule_estimates(d, 100, "population_base")
    assert (out["ci_low"] <= out["estimate_rounded"]).all()
    assert (out["estimate_rounded"] <= out["ci_high"]).all()
    assert (out["ci_low"] <= lo).all() and (out["ci_high"] >= hi).all()
