"""Coverage of the ratio intervals over random coverage patterns (issue 4, done-when):
the simulation itself, its synthetic population, the script, and the figure on the
national-size demo."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seuranta.demo import generator as demo
from seuranta.statistics import coverage


def test_equal_sizes_hit_nominal():
    """With equal-sized municipalities (where the SRS linearisation holds) both 95 %
    intervals cover the true total close to 95 % of the time."""
    rng = np.random.default_rng(5)
    x = np.full(293, 10000.0)
    y = rng.poisson(0.02 * x * np.exp(rng.normal(0, 0.3, 293)))
    pop = pd.DataFrame({"service_task": "t", "municipality_code": range(293), "y": y, "x": x})
    res = coverage.simulate(pop, [40], 400, seed=9)
    assert len(res) == 2 * 400
    tab = coverage.summary(res)
    assert 90 <= tab.loc["linearised", "overall"] <= 98
    assert 90 <= tab.loc["jackknife", "overall"] <= 98


def test_simulate_checks_each_interval_against_the_total():
    # two municipalities out of three, every pattern by hand: a census has no error
    pop = pd.DataFrame({"service_task": "t", "municipality_code": ["a", "b", "c"],
                        "y": [10.0, 20.0, 30.0], "x": [1000.0, 1000.0, 1000.0]})
    res = coverage.simulate(pop, [3], 5, seed=1)
    assert (res["estimate"] == 60).all() and (res["se"] == 0).all() and res["covered"].all()
    res = coverage.simulate(pop, [2], 50, seed=1)
    # n = 2 of 3: estimates 45 (a, b), 60 (a, c), 75 (b, c); the linearised SE by hand:
    # R = (ya + yb) / 2000, residuals ±5, ss = 50, var(R) = (1/3)/(2·1000²)·50 = 8.33e-6
    lin = res[res["variance"] == "linearised"]
    ab = lin[lin["estimate"].round(6) == 45]
    assert len(ab) > 0
    assert ab["se"].iloc[0] == pytest.approx(3000 * np.sqrt(1 / 3 / 2e6 * 50))
    assert ab["covered"].iloc[0] == (15 <= 1.96 * ab["se"].iloc[0])
    with pytest.raises(ValueError, match="pattern size"):
        coverage.simulate(pop, [4], 1, seed=1)


def test_synthetic_population_follows_the_spread_model():
    pop = coverage.synthetic_population(structural_sd=0.0, seed=3)
    assert set(pop["service_task"]) == set(coverage.SYNTHETIC_RATES)
    assert pop.groupby("service_task").size().eq(293).all()
    share = pop.groupby("service_task").apply(lambda g: g["y"].sum() / g["x"].sum(),
                                              include_groups=False)
    for task, rate in coverage.SYNTHETIC_RATES.items():
        assert share[task] == pytest.approx(rate, rel=0.1)
    # a big city scatters less than the median municipality (demo.factor_sd)
    sd = demo.factor_sd(np.array([650_000.0, 6_000.0, 6_400.0, 700.0]), 0.3, structural=0.0)
    assert sd[0] < 0.05 < 0.25 < sd[1] and sd[3] == pytest.approx(0.6)   # capped at 2σ


def _script():
    spec = importlib.util.spec_from_file_location(
        "coverage_sim", Path(__file__).resolve().parents[1] / "scripts" / "coverage_sim.py")
    cs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cs)
    return cs


def test_script_runs_on_a_synthetic_population(capsys):
    assert _script().main(["--synthetic", "--patterns", "10", "--sizes", "30"]) == 0
    out = capsys.readouterr().out
    assert "jackknife" in out and "linearised" in out and "overall" in out


@pytest.mark.slow
def test_ratio_intervals_cover_the_demo_truth(national_demo):
    """The done-when of issue 4: over ≥ 100 patterns per task and size (2 400 intervals),
    the published (jackknife) 95 % ratio interval covers the demo's true national count in
    90–98 % of patterns; the linearised one covers less often."""
    pop = coverage.demo_population(national_demo, "2023Q4")
    res = coverage.simulate(pop, [20, 40, 80, 150], 100, seed=demo.DEFAULT_SEED)
    assert res.groupby("variance").size().eq(6 * 4 * 100).all()
    tab = coverage.summary(res)
    assert 90 <= tab.loc["jackknife", "overall"] <= 98
    assert tab.loc["linearised", "overall"] < tab.loc["jackknife", "overall"]


@pytest.mark.slow
def test_published_estimates_cover_the_demo_truth(tmp_path):
    """The other half of the done-when: on the published demo (scale 0.05, default seed)
    every national estimate of every quarter (tasks, child-welfare-act clients, all clients
    by age group) lies within its published 95 % interval of the known truth."""
    from seuranta.core.params import load_params
    from seuranta.core.quarters import quarter_range
    from seuranta.register import stage as register
    from seuranta.statistics import stage as stats

    d = demo.generate(tmp_path / "demo", scale=0.05)
    params = load_params()
    tables = register.run_register_stage(d, quarter_range("2022Q4", "2023Q4"), params)
    out = stats.run_statistics_stage(tables, d, params)["estimates"]
    pub = out[(out["published"] == 1) & out["estimate"].notna()]
    truth = pd.read_csv(d / "truth.csv")
    m = pub.merge(truth, on=["quarter", "service_task", "age_group"], how="left",
                  validate="one_to_one")
    assert m["true_clients"].notna().all()
    assert len(m) >= 5 * 7                   # every quarter × task and the CWA estimate
    assert (m["variance"] == "jackknife").all()
    inside = (m["ci_low"] <= m["true_clients"]) & (m["true_clients"] <= m["ci_high"])
    assert inside.all(), m.loc[~inside, ["quarter", "service_task", "age_group", "estimate",
                                         "ci_low", "ci_high", "true_clients"]].to_string()
