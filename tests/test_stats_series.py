"""The series of national estimates for the child-welfare-act clients (lastensuojelulaki)
and all clients by age group (kaikki): present for every quarter, equal to each quarter's
own run, and equal to the ratio estimator written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seuranta import pipeline
from seuranta.core import reference
from seuranta.core.params import load_params
from seuranta.demo import generator as demo
from seuranta.register import stage as register
from seuranta.statistics import stage as stats
from seuranta.statistics.memo import EstimationMemo
from seuranta.statistics.quarter import quarter_tables

AGE_GROUPS = ["kaikki", "0-17", "18-64", "65+", "85+"]
KEYS = ["quarter", "service_task", "age_group", "method"]

# the module fixture runs the register stage and every quarter's statistics: slow (issue 24)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stats_series")]   # one fixture build


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = tmp_path_factory.mktemp("series-demo")
    demo.generate(data, scale=0.02, seed=1)   # a seed whose early quarters have "kaikki" municipalities
    params = load_params()
    quarters = pipeline.publication_quarters(data, params)
    reg = register.run_register_stage(data, quarters, params)
    last = quarter_tables(quarters[-1], data, params, register_tables=reg)
    return data, params, quarters, reg, last


@pytest.fixture(scope="module")
def alone(run):
    """Each earlier quarter's tables from a run of that quarter alone (register and
    statistics for Q only), made once for the two tests that compare the series with them."""
    data, params, quarters, _, _ = run
    return {q: quarter_tables(q, data, params) for q in quarters[:-1]}


def _comprehensive(quality: pd.DataFrame, quarter: str, task: str, flagged: bool = False
                   ) -> set[str]:
    q = quality[(quality["quarter"] == quarter) & (quality["quality"] == "comprehensive")]
    if flagged:
        q = q[q["flags"].fillna("") != ""]
        if task == "kaikki":
            return set()
    if task == "lastensuojelulaki":
        return set(q.loc[q["service_task"] == "lastensuojelu", "municipality_code"])
    if task == "kaikki":
        return set.intersection(*[set(q.loc[q["service_task"] == t, "municipality_code"])
                                  for t in reference.task_codes(estimated_only=True)])
    return set(q.loc[q["service_task"] == task, "municipality_code"])


def test_series_has_cwa_and_age_rows_for_every_quarter(run):
    _, _, quarters, _, last = run
    se = last["series_estimates"]
    assert sorted(se["quarter"].unique()) == [str(q) for q in quarters]
    assert len(quarters) == 5                      # 2022Q4 .. 2023Q4 in the demo
    for q in quarters:
        s = se[se["quarter"] == str(q)]
        cwa = s[s["service_task"] == "lastensuojelulaki"]
        assert sorted(cwa["method"]) == ["model", "ratio"], q
        assert set(cwa["age_group"]) == {"kaikki"}
        k = s[s["service_task"] == "kaikki"]
        assert sorted(zip(k["age_group"], k["method"])) == sorted(
            (a, m) for a in AGE_GROUPS for m in ("ratio", "model")), q
        assert set(s["service_task"]) == set(reference.task_codes(estimated_only=True)) | {
            "lastensuojelulaki", "kaikki"}
        assert len(s) == 2 * (6 + 1 + 5)
    # the newest quarter's rows are its estimates table, row for row
    newest = se[se["quarter"] == str(quarters[-1])].reset_index(drop=True)
    pd.testing.assert_frame_equal(newest, last["estimates"])


def test_register_series_tables_cover_the_series(run):
    data, params, quarters, reg, _ = run
    # the register stage asked for the newest quarter only still gives the whole series
    one = register.run_register_stage(data, [quarters[-1]], params)
    for name in ("cwa_counts", "age_counts"):
        ser = one[f"series_{name}"]
        assert sorted(ser["quarter"].unique()) == [str(q) for q in quarters]
        assert sorted(one[name]["quarter"].unique()) == [str(quarters[-1])]
        # each earlier quarter's rows are that quarter's own table of a run asked for it
        own = reg[name]
        if name == "age_counts":                      # the series keeps all clients only
            assert set(ser["service_task"]) == {"kaikki"}
            own = own[own["service_task"] == "kaikki"].reset_index(drop=True)
        pd.testing.assert_frame_equal(ser.reset_index(drop=True), own)
    cut = register.tables_for_quarter(reg, quarters[1])
    assert sorted(cut["series_cwa_counts"]["quarter"].unique()) == [str(q) for q in quarters[:2]]
    assert sorted(cut["series_age_counts"]["quarter"].unique()) == [str(q) for q in quarters[:2]]
    assert list(cut["cwa_counts"]["quarter"].unique()) == [str(quarters[1])]


def test_series_rows_equal_each_quarter_run_alone(run, alone):
    data, params, quarters, _, last = run
    se = last["series_estimates"]
    compared_finite = {"lastensuojelulaki": 0, "kaikki": 0}
    for q in quarters[:-1]:
        own = alone[q]   # register + statistics for Q alone
        for task in ("lastensuojelulaki", "kaikki"):
            # the series classifies the quarter again with the whole series pooled in the
            # plausibility check; in this demo that leaves the comprehensive sets unchanged
            assert (_comprehensive(last["series_quality"], str(q), task)
                    == _comprehensive(own["quality"], str(q), task)), (q, task)
            # and the flagged ones (the model's interval holds the estimate without them)
            assert (_comprehensive(last["series_quality"], str(q), task, flagged=True)
                    == _comprehensive(own["quality"], str(q), task, flagged=True)), (q, task)
            a = se[(se["quarter"] == str(q)) & (se["service_task"] == task)]
            b = own["estimates"][own["estimates"]["service_task"] == task]
            assert len(a) == len(b) == (2 if task == "lastensuojelulaki" else 10)
            pd.testing.assert_frame_equal(a.sort_values(KEYS).reset_index(drop=True),
                                          b.sort_values(KEYS).reset_index(drop=True))
            compared_finite[task] += int(np.isfinite(a["estimate"]).all())
    # not a comparison of empty estimates only
    assert compared_finite["lastensuojelulaki"] == len(quarters) - 1
    assert compared_finite["kaikki"] >= 1


def test_quality_and_estimates_is_the_stages_own_cut(run):
    """What the review round's effect compares (statistics.corrections): the quality and
    the estimates of the quarter alone, without the series' other quarters' estimates and
    the stage's other tables, are the whole stage's tables (no memo: fitted anew), given the
    stage's widening of the model intervals (the factors of earlier predictions are the
    series' to know); with four times the variance only the model rows' SE and intervals
    change."""
    data, params, quarters, reg, last = run
    cut = register.tables_for_quarter(reg, quarters[-1])
    # fitted anew (an empty memo), the fits kept for the four-times-variance run below,
    # which only widens them (issue 24; a memo's key is the fit's whole content)
    memo = EstimationMemo()
    part = stats.quality_and_estimates(cut, data, params, memo=memo,
                                       factors=stats.factors_of(last["estimates"]))
    assert memo.hits == 0
    assert sorted(part) == ["estimates", "quality"]
    assert len(part["estimates"]) == 2 * (6 + 1 + 5)
    pd.testing.assert_frame_equal(part["quality"], last["quality"])
    pd.testing.assert_frame_equal(part["estimates"], last["estimates"])
    # four times the variance: twice the model rows' SE, the same estimates
    q = str(quarters[-1])
    factor = stats.factors_of(last["estimates"])[q]
    wide = stats.quality_and_estimates(cut, data, params, memo=memo, factors={q: 4.0})[
        "estimates"]
    assert memo.hits > 0
    model = (wide["method"] == "model").to_numpy()
    pd.testing.assert_frame_equal(wide[["estimate", "municipalities_used"]],
                                  part["estimates"][["estimate", "municipalities_used"]])
    assert (wide.loc[model, "variance_factor"] == 4).all()
    finite = model & np.isfinite(part["estimates"]["se"]).to_numpy()
    assert finite.sum() >= 6
    assert np.allclose(wide.loc[finite, "se"],
                       part["estimates"].loc[finite, "se"] * (4 / factor) ** 0.5)


def _by_hand(y: list[float], x: list[float], national: float, n_pop: int) -> dict:
    """Ratio estimate, its linearised and delete-one jackknife SE (SRSWOR + fpc), by loops."""
    n = len(y)
    ys, xs = sum(y), sum(x)
    r = ys / xs
    fpc = 1 - n / n_pop
    ss = sum((yi - r * xi) ** 2 for yi, xi in zip(y, x))
    se_lin = math.sqrt(fpc / (n * (xs / n) ** 2) * ss / (n - 1)) * national
    rj = [(ys - yi) / (xs - xi) for yi, xi in zip(y, x)]
    mean = sum(rj) / n
    se_jk = math.sqrt(fpc * (n - 1) / n * sum((v - mean) ** 2 for v in rj)) * national
    return {"estimate": r * national, "share_pct": 100 * r, "se_linearised": se_lin,
            "se_jackknife": se_jk, "clients_used": ys, "municipalities_used": n}


def test_series_ratio_rows_by_hand(run):
    _, params, quarters, reg, last = run
    se = last["series_estimates"]
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    cwa = reg["cwa_counts"]
    cwa = cwa[(cwa["source"] == "ALL") & cwa["municipality_code"].isin(mainland)]
    age = reg["age_counts"]
    age = age[(age["service_task"] == "kaikki") & age["municipality_code"].isin(mainland)]
    checked = 0
    for q in quarters:
        q = str(q)
        cases = [("lastensuojelulaki", "kaikki", cwa[cwa["quarter"] == q])]
        aq = age[age["quarter"] == q]
        total = (aq[aq["age_group"].isin(["0-17", "18-64", "65+"])]
                 .groupby("municipality_code", as_index=False)[["clients", "population_base"]]
                 .sum())
        cases.append(("kaikki", "kaikki", total))
        cases += [("kaikki", g, aq[aq["age_group"] == g]) for g in AGE_GROUPS[1:]]
        for task, group, rows in cases:
            assert len(rows) == len(mainland)
            comp = _comprehensive(last["series_quality"], q, task)
            used = rows[rows["municipality_code"].isin(comp)]
            got = se[(se["quarter"] == q) & (se["service_task"] == task)
                     & (se["age_group"] == group) & (se["method"] == "ratio")].iloc[0]
            assert got["municipalities_used"] == len(comp)
            assert got["national_base"] == rows["population_base"].sum()
            if len(used) < 2:
                ratio_published = params["estimate"]["published_method"] == "ratio"
                assert math.isnan(got["estimate"]) and got["published"] == int(ratio_published)
                continue
            exp = _by_hand(used["clients"].astype(float).tolist(),
                           used["population_base"].astype(float).tolist(),
                           float(rows["population_base"].sum()), len(mainland))
            for k, v in exp.items():
                assert got[k] == pytest.approx(v, rel=1e-5, abs=1e-4), (q, task, group, k)
            se_used = got["se_jackknife"] if got["variance"] == "jackknife" else got[
                "se_linearised"]
            assert got["ci_low"] == pytest.approx(exp["estimate"] - 1.96 * se_used, rel=1e-5)
            assert got["ci_high"] == pytest.approx(exp["estimate"] + 1.96 * se_used, rel=1e-5)
            assert got["estimate_rounded"] == 100 * math.floor(exp["estimate"] / 100 + 0.5)
            checked += 1
    assert checked >= len(quarters) + 5      # every CWA quarter and some all-clients rows


def test_series_quality_gets_each_quarters_monthly_check(run, alone, tmp_path):
    """Earlier quarters of the series are checked against their own monthly profile (the
    register stage's in-memory series_monthly): the mid-quarter ramp-ups the series finds in
    a quarter are exactly those of that quarter's own run; series_monthly is never written."""
    data, params, quarters, reg, last = run
    assert "series_monthly" in reg and "series_monthly" not in register.REGISTER_TABLES
    assert sorted(reg["series_monthly"]["quarter"].astype(str).unique()) == \
        [str(q) for q in quarters]
    sq = last["series_quality"]

    def ramps(quality, q):
        r = quality[(quality["quarter"] == q)
                    & quality["reasons"].fillna("").str.contains("monthly_ramp_up")]
        return set(zip(r["municipality_code"], r["service_task"]))

    found = 0
    for q in quarters[:-1]:
        own = alone[q]["quality"]
        assert ramps(sq, str(q)) == ramps(own, str(q)), q
        found += len(ramps(own, str(q)))
    assert found > 0                              # the demo has ramp-ups to find
    pipeline.write_tables(last, tmp_path)
    assert not (tmp_path / "series_monthly.csv").exists()
    assert (tmp_path / "series_quality.csv").exists()
