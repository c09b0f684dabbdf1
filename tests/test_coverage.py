"""The coverage study (statistics/coverage.py, scripts/coverage_sim.py): its bookkeeping, one
simulated register through the script, and (slow) the published demo estimates against the
demo's truth. The study itself is `make coverage`, not a test; the generator's scenarios
are tested in test_simulate.py."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference
from seuranta.core.params import load_params
from seuranta.demo import generator as demo
from seuranta.statistics import coverage
from seuranta.statistics import model as mdl


def _rows(kinds, truth, lo, hi, est, rlo=None, rhi=None):
    n = len(kinds)
    return pd.DataFrame({"scenario": "spread35", "method": "model", "publish_as": kinds,
                         "truth": truth, "ci_low": lo, "ci_high": hi, "estimate": est,
                         "range_low": rlo if rlo is not None else [np.nan] * n,
                         "range_high": rhi if rhi is not None else [np.nan] * n})


def test_summary_by_hand():
    """Points cover when the truth is in [ci_low, ci_high], ranges when it is in the range;
    "ei arviota" is counted as an outcome only; errors are of the points."""
    d = _rows(["point", "point", "point", "range", "range", "none"],
              [100, 100, 100, 100, 100, 100],
              [90, 101, 80, 90, 90, np.nan], [110, 120, 99, 110, 110, np.nan],
              [100, 110, 90, 100, 100, np.nan],
              rlo=[np.nan, np.nan, np.nan, 50, 101, np.nan],
              rhi=[np.nan, np.nan, np.nan, 150, 200, np.nan])
    s = coverage.summary(d).loc["spread35"]
    assert s["n"] == 6
    assert s["point_pct"] == pytest.approx(50) and s["range_pct"] == pytest.approx(100 / 3)
    assert s["none_pct"] == pytest.approx(100 / 6)
    assert s["point_coverage"] == pytest.approx(100 / 3)
    assert s["point_below"] == pytest.approx(100 / 3)      # truth below the interval
    assert s["point_above"] == pytest.approx(100 / 3)
    assert s["range_coverage"] == pytest.approx(50)
    assert s["mean_error"] == pytest.approx((0 + 10 - 10) / 3)
    assert s["rmse"] == pytest.approx(math.sqrt((0 + 100 + 100) / 3))
    assert s["half_width"] == pytest.approx((10 + 9.5 / 110 * 100 + 9.5 / 90 * 100) / 3)


def test_targets_flags():
    """A scenario meets the targets only with points covering 92–97 %, ranges ≥ 95 %, mean
    error within ±1.5 % and county points 90–98 %."""
    hit = [True] * 95 + [False] * 5
    nat = _rows(["point"] * 100, [100.0] * 100, [90.0 if h else 101.0 for h in hit],
                [110.0] * 100, [100.5 if k % 2 else 99.5 for k in range(100)])
    cty = _rows(["point"] * 10, [10.0] * 10, [9.0] * 9 + [11.0], [11.0] * 10, [10.0] * 10)
    t = coverage.targets(nat, cty).iloc[0]
    assert t["point_coverage"] == 95.0 and t["county_point_coverage"] == 90.0
    assert t["met"]
    nat["estimate"] += 2.0                                # mean error 2 %: above 1.5 %
    t = coverage.targets(nat, cty).iloc[0]
    assert not t["met"]


def test_width_table_by_hand():
    """The own interval is the log-normal interval of the predicted part (observed 50,
    predicted 50 with se 10): s² = log(1 + 100 / 2500), 50 + 50·exp(−s²/2 ± 1.96 s); the
    published interval is given (the hull); the shift, error²/variance and sd of z by hand."""
    s2 = math.log(1 + 100 / 2500)
    lo = 50 + 50 * math.exp(-s2 / 2 - 1.96 * math.sqrt(s2))
    hi = 50 + 50 * math.exp(-s2 / 2 + 1.96 * math.sqrt(s2))
    d = _rows(["point", "point", "range"], [hi + 1, 100.0, 100.0], [70.0, 70.0, 70.0],
              [130.0, 130.0, 130.0], [100.0, 100.0, 100.0]).assign(
        se=10.0, clients_used=50.0, flagged_shift=[4.0, -2.0, 50.0])
    t = coverage.width_table(d, 1.96).iloc[0]
    assert t["n"] == 2                                    # points only
    assert t["own_cover"] == pytest.approx(50) and t["own_above"] == pytest.approx(50)
    assert t["published_cover"] == pytest.approx(100)
    assert t["own_half_width"] == pytest.approx(100 * (hi - lo) / 2 / 100)
    assert t["published_half_width"] == pytest.approx(30)
    assert t["shift"] == pytest.approx(3.0)
    e = hi + 1 - 100
    assert t["err2_over_var"] == pytest.approx((e * e + 0) / 2 / 100)
    assert t["sd_z"] == pytest.approx(np.std([e / 10, 0.0], ddof=1))
    assert math.isnan(t["mixture_cover"]) and math.isnan(t["county_mixture_cover"])
    # the flagged mixture's interval: given on the first point (it misses below), missing
    # on the second (no flagged municipality: the own interval, which holds 100)
    m = d.assign(mixture_low=[hi + 2, np.nan, 0.0], mixture_high=[hi + 9, np.nan, 1.0])
    t = coverage.width_table(m, 1.96).iloc[0]
    assert t["mixture_cover"] == pytest.approx(50) and t["mixture_below"] == pytest.approx(50)
    assert t["mixture_above"] == pytest.approx(0)
    assert t["mixture_half_width"] == pytest.approx((100 * 3.5 / 100
                                                    + 100 * (hi - lo) / 2 / 100) / 2)
    cty = pd.DataFrame({"scenario": "spread35", "publish_as": ["point", "point", "range"],
                        "truth": [10.0, 10.0, 10.0], "ci_low": [5.0, 11.0, 0.0],
                        "ci_high": [15.0, 20.0, 1.0], "mixture_low": [11.0, np.nan, 0.0],
                        "mixture_high": [20.0, np.nan, 1.0]})
    t = coverage.width_table(m, 1.96, cty=cty).iloc[0]
    assert t["county_published_cover"] == pytest.approx(50)
    assert t["county_mixture_cover"] == pytest.approx(0)
    # the docs' table has the mixture's columns only when the rows hold its interval
    assert "flagged mixture" in coverage.width_md(m, 1.96, cty=cty)
    assert "| 50.0 (0.0 / 50.0) |" in coverage.width_md(m, 1.96, cty=cty)
    assert "flagged mixture" not in coverage.width_md(d, 1.96)


def test_constructions_by_hand():
    """Two rows: one with an estimate without the flagged municipalities, one without
    (its own parts stand in). ``hull`` is the hull of the two log-normal intervals,
    ``average`` the mixture's quantiles (equal to the own interval when both are the
    same), ``shift2`` the own interval with the variance + shift²."""
    d = pd.DataFrame({"model_estimate": [1300.0, 900.0], "model_variance": [150.0 ** 2, 80.0 ** 2],
                      "model_observed": [300.0, 400.0], "nf_estimate": [1500.0, np.nan],
                      "nf_variance": [120.0 ** 2, np.nan], "nf_observed": [250.0, np.nan]})
    own = [mdl.interval(1300.0, 150.0 ** 2, 300.0, 1.96), mdl.interval(900.0, 80.0 ** 2, 400.0, 1.96)]
    alt = mdl.interval(1500.0, 120.0 ** 2, 250.0, 1.96)
    lo, hi = coverage.construct("hull", d, 1.96, True)
    assert lo == pytest.approx([min(own[0][1], alt[1]), own[1][1]])
    assert hi == pytest.approx([max(own[0][2], alt[2]), own[1][2]])
    lo, hi = coverage.construct("average", d, 1.96, True)
    assert (lo[0], hi[0]) == pytest.approx(mdl.mixture_quantiles(
        [(1300.0, 150.0 ** 2, 300.0), (1500.0, 120.0 ** 2, 250.0)], 1.96))
    assert (lo[1], hi[1]) == pytest.approx(own[1][1:])
    lo, hi = coverage.construct("shift2", d, 1.96, True)
    assert (lo[0], hi[0]) == pytest.approx(mdl.interval(1300.0, 150.0 ** 2 + 200.0 ** 2, 300.0,
                                                        1.96)[1:])


def test_replace_between():
    t = f"a\n{coverage.README_BEGIN}\nold\n{coverage.README_END}\nb\n"
    assert coverage.replace_between(t, "new\n") == (
        f"a\n{coverage.README_BEGIN}\nnew\n{coverage.README_END}\nb\n")
    with pytest.raises(ValueError):
        coverage.replace_between("no markers", "x")


def _script():
    spec = importlib.util.spec_from_file_location(
        "coverage_sim", Path(__file__).resolve().parents[1] / "scripts" / "coverage_sim.py")
    cs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cs)
    return cs


@pytest.mark.slow
def test_one_register_through_the_statistics_stage(capsys, tmp_path):
    """One simulated register through the script: the stage's quality classes, estimates
    with the rule, county estimates and calibration; the truths add up (national = the sum
    of the counties, comprehensive counties included), every point has its interval and
    every range its limits."""
    assert _script().main(["--scenarios", "zeros", "--registers", "1", "--jobs", "1",
                           "--raw", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert coverage.SCENARIO_EN["zeros"] in out
    nat = pd.read_csv(tmp_path / "national_zeros.csv")
    cty = pd.read_csv(tmp_path / "county_zeros.csv", dtype={"county_code": str})
    m = nat[nat["method"] == "model"]
    assert len(m) == len(coverage.STUDY_QUARTERS) * 6 and set(nat["method"]) == {"ratio", "model"}
    assert m["publish_as"].isin(["point", "range", "none"]).all()
    pts, rgs = m[m["publish_as"] == "point"], m[m["publish_as"] == "range"]
    assert (pts["ci_low"] <= pts["estimate"]).all() and (pts["estimate"] <= pts["ci_high"]).all()
    assert (rgs["range_low"] <= rgs["ci_low"]).all() and (rgs["range_high"] >= rgs["ci_high"]).all()
    tot = cty.groupby(["quarter", "service_task"])["truth"].sum()
    for r in m.itertuples():
        assert tot[(r.quarter, r.service_task)] <= r.truth
    cal = pd.read_csv(tmp_path / "calibration_zeros.csv")
    assert {"quarter", "later_quarter", "z"} <= set(cal.columns)
    # the parts the rows keep rebuild the published intervals, the rule's outcomes and the
    # county rows exactly (the offline comparison of constructions stands on this), and
    # the model's own interval
    hm, hc = coverage.with_construction("average_k", nat, cty, load_params())
    cols = ["ci_low", "ci_high", "range_low", "range_high"]
    assert np.allclose(hm[cols].to_numpy(float), m[cols].to_numpy(float), rtol=1e-12,
                       equal_nan=True)
    assert (hm["publish_as"] == m["publish_as"]).all()
    # the factor definitions compared: the published one (mean z²) gives the rows'
    # factors and the published construction's table; the weighted one Σ z²V / Σ V
    params = load_params()
    t, k = coverage.factors_table(nat, cty, cal, params)
    last = max(coverage.STUDY_QUARTERS)
    k = k.set_index("definition")
    assert k.loc["mean", "max"] == pytest.approx(m.loc[m["quarter"] == last,
                                                       "variance_factor"].iloc[0])
    est_tasks = reference.task_codes(estimated_only=True)
    c = cal[cal["service_task"].isin(est_tasks) & (cal["later_quarter"] <= last)]
    by_hand = max(1.0, float((c["z"] ** 2 * c["variance"]).sum() / c["variance"].sum()))
    assert k.loc["weighted", "max"] == pytest.approx(by_hand)
    pd.testing.assert_frame_equal(
        t[t["construction"] == "mean"].drop(columns="construction").reset_index(drop=True),
        coverage.constructions_table(nat, cty, params, ["average_k"])
        .drop(columns="construction"))
    assert np.allclose(hc[cols].to_numpy(float), cty[cols].to_numpy(float), rtol=1e-12,
                       equal_nan=True)
    assert (hc["publish_as"] == cty["publish_as"]).all()
    ok = m["model_estimate"].notna()
    own = coverage.construct("own", m[ok], 1.96, True)
    assert np.allclose(own, m.loc[ok, ["own_low", "own_high"]].to_numpy(float).T, rtol=1e-12)


@pytest.mark.slow
def test_after_the_review_round_the_comprehensive_set_is_the_truly_complete_set(tmp_path):
    """On the published demo (scale 0.05, default seed, with its simulated review round)
    every municipality × task the estimate uses delivered exactly its true clients, so the
    estimate is the oracle's data and its error is the coverage pattern's alone (measured
    by the coverage study); every under-delivering pair is excluded by the decision. Without
    the review round the same pairs stay in the estimate, flagged: the check that this test
    is not vacuous."""
    import json

    from seuranta.core.params import load_params
    from seuranta.core.quarters import quarter_range
    from seuranta.register import stage as register
    from seuranta.statistics import stage as stats

    params = load_params()
    quarters = quarter_range("2022Q4", "2023Q4")

    def used_vs_truth(d):
        tables = register.run_register_stage(d, quarters, params)
        # the stage's quality table, without the stage's tables no assertion reads (its
        # estimates, calibration, sensitivity, quartiles, representativeness: issue 24):
        # the stage's first step, the quality classification, as the stage returns it
        q = stats._round(stats._classified(tables, d, params, None)["quality"])
        c = tables["counts"]
        c = c[c["source"] == "ALL"][["quarter", "municipality_code", "service_task", "clients"]]
        tm = pd.read_csv(d / "truth_municipal.csv", dtype={"municipality_code": str})
        comp = q[q["quality"] == "comprehensive"][["quarter", "municipality_code",
                                                   "service_task", "flags"]]
        m = comp.merge(c, how="left").merge(tm, how="left", validate="one_to_one")
        return q, m.assign(clients=m["clients"].fillna(0))

    d = demo.generate(tmp_path / "demo", scale=0.05)
    under = {(u["municipality_code"], u["service_task"]) for u in
             json.loads((d / "metadata.json").read_text())["faults"]["under_delivering"]}
    q, m = used_vs_truth(d)
    assert len(m) > 500 and (m["clients"] == m["true_clients"]).all(), m[
        m["clients"] != m["true_clients"]].to_string()
    ud = q[[k in under for k in zip(q["municipality_code"], q["service_task"])]]
    assert len(ud) == 5 * len(under) and (ud["quality"] == "partial").all()

    (d / "corrections.csv").unlink()                   # the state before the round
    q, m = used_vs_truth(d)
    short = m[m["clients"] < m["true_clients"]]
    kept = set(zip(short["municipality_code"], short["service_task"]))
    assert kept and kept <= under
    assert short["flags"].str.contains("share_low").mean() > 0.5


def test_end_to_end_oracle_uses_the_truly_complete_municipalities():
    tm = pd.DataFrame({"quarter": "2023Q4", "municipality_code": ["001", "002", "003"],
                       "service_task": "paihdetyo", "true_clients": [10, 30, 40],
                       "population_base": [1000, 2000, 4000]})
    counts = tm.rename(columns={"true_clients": "clients"}).assign(source="ALL")
    counts.loc[2, "clients"] = 25                  # 003 delivered only part of its clients
    truth = pd.DataFrame({"quarter": ["2023Q4"], "service_task": ["paihdetyo"],
                          "age_group": ["kaikki"], "true_clients": [80]})
    se = pd.DataFrame({"quarter": ["2023Q4"], "service_task": ["paihdetyo"],
                       "age_group": ["kaikki"], "method": ["model"], "published": [1],
                       "publish_as": ["point"], "estimate": [88.0], "ci_low": [70.0],
                       "ci_high": [85.0], "municipalities_used": [2]})
    r = coverage.end_to_end(se, counts, truth, tm).iloc[0]
    assert r["complete_municipalities"] == 2
    assert r["oracle"] == pytest.approx(40 / 3000 * 7000)    # (10 + 30) / (1000 + 2000)
    assert r["covered"] and r["error_pct"] == pytest.approx(10.0)
