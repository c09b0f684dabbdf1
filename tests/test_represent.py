"""Representativeness: standardised differences, size classes, covariates, the indirect
age standardisation and the Finnish verdict, on hand-computed examples."""

import math

import numpy as np
import pandas as pd
import pytest

from seuranta.statistics import represent as rep


def test_std_diff_by_hand():
    mc, ma, d = rep.std_diff(np.array([1, 2, 3.0]), np.array([1, 2, 3, 4, 5.0]))
    # means 2 and 3; variances (ddof 0) 2/3 and 2; pooled sd sqrt(4/3)
    assert (mc, ma) == (2.0, 3.0)
    assert d == pytest.approx(-1 / math.sqrt(4 / 3))
    # weights: comprehensive weighted mean (1*1 + 3*3) / 4 = 2.5
    mc, _, _ = rep.std_diff(np.array([1, 3.0]), np.array([1, 3.0]), [1, 3], [1, 1])
    assert mc == 2.5


def test_size_class():
    s = rep.size_class(pd.Series([4999, 5000, 19999, 20000, 100000]))
    nb = "\u00a0"
    assert s.tolist() == [f"alle 5{nb}000", f"5{nb}000–19{nb}999", f"5{nb}000–19{nb}999",
                          f"20{nb}000–99{nb}999", f"100{nb}000+"]


def test_municipal_covariates():
    pop = pd.DataFrame({"municipality_code": ["001"] * 4 + ["002"] * 4, "year": 2022,
                        "age_group": ["0-17", "18-64", "65-84", "85+"] * 2,
                        "population": [200, 500, 200, 100, 3000, 14000, 2500, 500]})
    mun = pd.DataFrame({"municipality_code": ["001", "002"], "county_code": ["06", "07"]})
    c = rep.municipal_covariates(pop, 2022, mun).set_index("municipality_code")
    assert c.at["001", "population"] == 1000
    assert c.at["001", "share_0_17"] == pytest.approx(20.0)
    assert c.at["001", "share_65plus"] == pytest.approx(30.0)
    assert c.at["001", "share_85plus"] == pytest.approx(10.0)
    assert c.at["002", "urban"] == 1 and c.at["001", "urban"] == 0
    with pytest.raises(ValueError, match="no rows for year 2021"):
        rep.municipal_covariates(pop, 2021, mun)


def test_strata_of_base():
    assert rep.strata_of_base(65, None) == ["65-84", "85+"]
    assert rep.strata_of_base(0, 64) == ["0-17", "18-64"]
    assert rep.strata_of_base(0, None) == ["0-17", "18-64", "65-84", "85+"]


def test_age_strata_counts_and_adjustment():
    age = pd.DataFrame({
        "quarter": "2023Q1", "service_task": "vammaispalvelut",
        "municipality_code": ["A"] * 4 + ["B"] * 4,
        "age_group": ["0-17", "18-64", "65+", "85+"] * 2,
        "clients": [0, 10, 60, 10, 0, 0, 0, 0],
        "population_base": [0, 1000, 600, 100, 0, 1000, 1600, 100]})
    st = rep.age_strata_counts(age)
    a = st[st.municipality_code == "A"].set_index("stratum")
    assert a.at["65-84", "clients"] == 50 and a.at["65-84", "population_base"] == 500
    crude, adj = rep.age_adjusted(st, {"A"}, ["18-64", "65-84", "85+"])
    # comprehensive A: rates 10/1000, 50/500, 10/100 over base 1600, 70 clients;
    # mainland base 2000 + 2000 + 200 = 4200
    assert crude == pytest.approx(70 / 1600 * 4200)
    assert adj == pytest.approx(0.01 * 2000 + 0.1 * 2000 + 0.1 * 200)


def test_verdict_directions():
    row = {"n_comprehensive": 57, "base_coverage_pct": 25.0, "age_adjusted_diff_pct": 5.0,
           "max_abs_wstd_diff": 0.1, "max_wstd_covariate_fi": "x"}
    v = rep.verdict_fi(row)
    assert "aliarvioi" in v and "25\u00a0%" in v
    assert "yliarvioi" in rep.verdict_fi({**row, "age_adjusted_diff_pct": -5.0})
    assert "ei todennäköisesti" in rep.verdict_fi({**row, "age_adjusted_diff_pct": 0.5})
    assert "liian vähän" in rep.verdict_fi({**row, "n_comprehensive": 1})
    assert "muuttujassa x" in rep.verdict_fi({**row, "max_abs_wstd_diff": 0.6})


def test_logistic_and_differences():
    rng = np.random.default_rng(1)
    n = 120
    cov = pd.DataFrame({"log_population": rng.normal(9, 1, n),
                        "share_0_17": rng.normal(18, 2, n), "share_65plus": rng.normal(25, 4, n),
                        "share_85plus": rng.normal(3, 1, n), "urban": rng.integers(0, 2, n),
                        "size_class": rng.choice(["a", "b"], n),
                        "county_code": rng.choice(["01", "02"], n)})
    p = 1 / (1 + np.exp(-(cov["log_population"] - 9)))
    comp = pd.Series(rng.random(n) < p)
    rows, note = rep.logistic_rows(cov, comp)
    assert note == "" and rows[1]["covariate"] == "log_population" and rows[1]["logit_coef"] > 0
    d = rep.difference_rows(cov, comp, pd.Series(np.ones(n)))
    assert {r["covariate"] for r in d} >= {"log_population", "size_class", "county_code"}
    lp = next(r for r in d if r["covariate"] == "log_population")
    assert lp["std_diff"] > 0 and lp["wstd_diff"] == pytest.approx(lp["std_diff"])
    assert rep.logistic_rows(cov, pd.Series([True] + [False] * (n - 1)))[1] == \
        "logit_not_estimable"
