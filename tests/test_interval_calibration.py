"""The widening of the model's intervals by the out-of-sample check of earlier predictions
(statistics/stage.py variance_factors and calibrated, estimate.widened, smallarea.widened),
computed by hand and by an independent root search of the mixture's quantiles."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from seuranta.statistics import estimate as est
from seuranta.statistics import smallarea as sa
from seuranta.statistics import stage

Z = 1.96


def _cal(rows):
    return pd.DataFrame(rows, columns=["quarter", "later_quarter", "service_task",
                                       "municipality_code", "z"])


def test_factors_by_hand():
    """k(Q) = mean z² of the estimated tasks' earlier predictions tested by Q (later
    quarter ≤ Q), at least 1; a task that is not estimated, and a test after Q, do not
    count; off, every factor is 1."""
    rows = _cal([("2023Q1", "2023Q2", "iakkaat", "001", 2.0),
                 ("2023Q1", "2023Q3", "paihdetyo", "002", 1.0),
                 ("2023Q2", "2023Q3", "iakkaat", "003", -3.0),
                 ("2023Q1", "2023Q2", "perheoikeudelliset", "004", 10.0),
                 ("2023Q3", "2023Q4", "lapsiperheet", "005", 0.5)])
    quarters = ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    on = {"interval_calibration": True}
    f = stage.variance_factors(rows, quarters, on)
    assert f["2023Q1"] == 1.0                       # nothing tested yet
    assert f["2023Q2"] == pytest.approx(4.0)        # only 2.0 (perheoikeudelliset not estimated)
    assert f["2023Q3"] == pytest.approx((4 + 1 + 9) / 3)
    assert f["2023Q4"] == pytest.approx((4 + 1 + 9 + 0.25) / 4)
    # a history that the model predicted well never narrows the interval
    low = stage.variance_factors(rows.assign(z=0.1), quarters, on)
    assert set(low.values()) == {1.0}
    off = stage.variance_factors(rows, quarters, {"interval_calibration": False})
    assert set(off.values()) == {1.0}
    assert set(stage.variance_factors(rows.iloc[:0], quarters, on).values()) == {1.0}


def test_weighted_factors_by_hand():
    """Weighed by a column (the coverage study's ``variance`` definition): Σ z²V / Σ V over
    the same predictions, at least 1; the weights move it away from the plain mean."""
    rows = _cal([("2023Q1", "2023Q2", "iakkaat", "001", 2.0),
                 ("2023Q1", "2023Q3", "paihdetyo", "002", 1.0),
                 ("2023Q2", "2023Q3", "iakkaat", "003", -3.0),
                 ("2023Q1", "2023Q2", "perheoikeudelliset", "004", 10.0)]
                ).assign(variance=[1.0, 30.0, 10.0, 500.0])
    quarters = ["2023Q2", "2023Q3"]
    on = {"interval_calibration": True}
    f = stage.variance_factors(rows, quarters, on, weight="variance")
    assert f["2023Q2"] == pytest.approx(4.0)
    assert f["2023Q3"] == pytest.approx((4 * 1 + 1 * 30 + 9 * 10) / 41)
    assert stage.variance_factors(rows, quarters, on)["2023Q3"] == pytest.approx(14 / 3)
    low = rows.assign(z=[0.5, 0.2, 0.1, 0.0])
    assert set(stage.variance_factors(low, quarters, on, weight="variance").values()) == {1.0}


def _row(**kw):
    """A model row as estimate_with_prediction makes it: point by every data-volume test."""
    r = {"method": "model", "municipalities_used": 120, "clients_used": 9000.0,
         "population_used": 600_000.0, "national_base": 1_000_000.0, "note": "",
         "counties_used": 12, "max_std_diff": 0.1, "flagged_shift": 0.0,
         "model_estimate": 13000.0, "model_variance": 500.0 ** 2, "model_observed": 9000.0,
         "nf_estimate": math.nan, "nf_variance": math.nan, "nf_observed": math.nan,
         "estimate": 13000.0, "se": 500.0, "variance_factor": 1.0}
    r.update(kw)
    return r


def _lognormal_interval(e, v, o, z=Z):
    p = e - o
    s2 = math.log(1 + v / p ** 2)
    return (o + p * math.exp(-s2 / 2 - z * math.sqrt(s2)),
            o + p * math.exp(-s2 / 2 + z * math.sqrt(s2)))


def test_widened_national_row_by_hand():
    """Factor 9 triples the SE (500 → 1 500: RSE 11.5 % > 10 %, so a range where the row
    was a point) and the interval is the log-normal one with 9 × the variance; the estimate
    does not move; factor 1 leaves the row as it is."""
    lo, hi = _lognormal_interval(13000.0, 500.0 ** 2, 9000.0)
    row = _row(ci_low=lo, ci_high=hi)
    row.update(est.publication_rule(row))
    assert row["publish_as"] == "point"
    assert est.widened(row, 1.0, {}) == row
    w = est.widened(row, 9.0, {"flagged_interval": "average"})
    assert w["se"] == pytest.approx(1500.0) and w["estimate"] == 13000.0
    assert (w["ci_low"], w["ci_high"]) == pytest.approx(
        _lognormal_interval(13000.0, 9 * 500.0 ** 2, 9000.0), rel=1e-12)
    assert w["variance_factor"] == 9.0
    assert w["publish_as"] == "range" and "rse>10" in w["rule_reason"]
    assert w["range_low"] <= w["ci_low"] and w["range_high"] >= w["ci_high"]
    # a ratio row is never widened
    r = {**row, "method": "ratio"}
    assert est.widened(r, 9.0, {})["ci_low"] == row["ci_low"]


def _mixture_quantiles_by_root(parts, z=Z):
    """Central quantiles of the equal mixture of O + log-normal P, by scipy's log-normal
    and a root search (independent of model.mixture_quantiles)."""
    def cdf(t):
        out = 0.0
        for e, v, o in parts:
            p = e - o
            s2 = math.log(1 + v / p ** 2)
            out += 0.5 * (stats.lognorm.cdf(t - o, math.sqrt(s2), scale=p * math.exp(-s2 / 2))
                          if t > o else 0.0)
        return out
    a = stats.norm.cdf(-z)
    lo_b, hi_b = min(o for _, _, o in parts) + 1e-9, max(e for e, _, _ in parts) * 3
    return (optimize.brentq(lambda t: cdf(t) - a, lo_b, hi_b, xtol=1e-9),
            optimize.brentq(lambda t: cdf(t) - (1 - a), lo_b, hi_b, xtol=1e-9))


@pytest.mark.parametrize("kind", ["average", "hull"])
def test_widened_row_with_flagged_municipalities(kind):
    """Both predictions' variances are multiplied: the average is the mixture of the two
    widened predictive distributions, the hull the hull of the two widened intervals."""
    row = _row(nf_estimate=14500.0, nf_variance=700.0 ** 2, nf_observed=8000.0,
               ci_low=0.0, ci_high=0.0)
    w = est.widened(row, 2.5, {"flagged_interval": kind})
    own, alt = (13000.0, 2.5 * 500.0 ** 2, 9000.0), (14500.0, 2.5 * 700.0 ** 2, 8000.0)
    if kind == "average":
        want = _mixture_quantiles_by_root([own, alt])
    else:
        a, b = _lognormal_interval(*own), _lognormal_interval(*alt)
        want = (min(a[0], b[0]), max(a[1], b[1]))
    assert (w["ci_low"], w["ci_high"]) == pytest.approx(want, rel=1e-7)


def _county(**kw):
    r = {"county_code": "06", "estimate": 2000.0, "se": 100.0, "variance": 100.0 ** 2,
         "observed": 500.0, "clients_observed": 500.0, "nf_estimate": math.nan,
         "nf_variance": math.nan, "nf_observed": math.nan, "comprehensive": 0,
         "ci_low": 0.0, "ci_high": 0.0}
    r.update(kw)
    return r


def test_widened_county_row_by_hand():
    """A county's SE and interval take the factor; its point needs the national point and
    an RSE of at most 10 %: 100 → 500 (25 %) makes it a range; a fully comprehensive county
    is counted and stays a point; a national range makes every other county a range."""
    point = {"publish_as": "point"}
    c = sa.widened(_county(), point, 1.0, {})
    assert c["publish_as"] == "point"
    w = sa.widened(_county(), point, 25.0, {})
    assert w["se"] == pytest.approx(500.0)
    assert (w["ci_low"], w["ci_high"]) == pytest.approx(
        _lognormal_interval(2000.0, 25 * 100.0 ** 2, 500.0), rel=1e-12)
    assert w["publish_as"] == "range" and w["range_low"] <= w["ci_low"]
    full = _county(comprehensive=1, se=0.0, variance=0.0, estimate=500.0, ci_low=500.0,
                   ci_high=500.0)
    f = sa.widened(full, point, 25.0, {})
    assert (f["publish_as"], f["ci_low"], f["ci_high"]) == ("point", 500.0, 500.0)
    assert sa.widened(_county(), {"publish_as": "range"}, 1.0, {})["publish_as"] == "range"
    assert sa.widened(_county(), {"publish_as": "none"}, 1.0, {})["publish_as"] == "none"


def test_calibrated_widens_by_quarter_and_counties_follow_their_national_row():
    """calibrated applies each quarter's own factor; a county row is decided against its
    quarter × task's widened national row (a national point that becomes a range makes the
    county a range though its own RSE would allow a point)."""
    lo, hi = _lognormal_interval(13000.0, 500.0 ** 2, 9000.0)
    rows = []
    for q in ("2023Q1", "2023Q2"):
        r = _row(ci_low=lo, ci_high=hi, quarter=q, service_task="iakkaat", age_group="kaikki")
        r.update(est.publication_rule(r))
        rows.append(r)
    county = [{**_county(se=10.0, variance=100.0), "quarter": q, "service_task": "iakkaat"}
              for q in ("2023Q1", "2023Q2")]
    out, cty = stage.calibrated(rows, county, {"2023Q1": 1.0, "2023Q2": 9.0},
                                {"flagged_interval": "average"})
    assert [r["publish_as"] for r in out] == ["point", "range"]
    assert [r["variance_factor"] for r in out] == [1.0, 9.0]
    assert out[0]["ci_low"] == rows[0]["ci_low"] and out[1]["ci_low"] < rows[1]["ci_low"]
    assert [c["publish_as"] for c in cty] == ["point", "range"]
    assert cty[1]["se"] == pytest.approx(30.0)


def test_mixture_interval_cannot_be_widened():
    from seuranta.core.errors import InputError
    with pytest.raises(InputError, match="interval_calibration"):
        est.widened(_row(ci_low=0.0, ci_high=1.0), 2.0, {"flagged_interval": "mixture"})
    assert np.isnan(est.widened({**_row(), "method": "ratio"}, 2.0, {})["variance_factor"])
