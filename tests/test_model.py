"""The negative binomial prediction (statistics/model.py), the publication rule and the county
estimates, checked against independent computations: statsmodels called directly with the
variance formula written out by hand, a simulation with known truth, hand arithmetic."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from seuranta.statistics import estimate as est
from seuranta.statistics import model as mdl
from seuranta.statistics import smallarea as sa


def _population(rng, n=120, sigma=0.3, beta=(-3.9, 0.25), county_sd=0.0, counties=8):
    z = rng.normal(size=n)
    base = np.exp(rng.normal(8.5, 1.2, n)).round() + 200
    county = np.array([f"{c:02d}" for c in rng.integers(1, counties + 1, n)])
    u = {c: rng.normal(0, county_sd) for c in np.unique(county)}
    lam = base * np.exp(beta[0] + beta[1] * z + rng.normal(0, sigma, n)
                        + np.array([u[c] for c in county]))
    return pd.DataFrame({"municipality_code": [f"{i:03d}" for i in range(n)],
                         "clients": rng.poisson(lam).astype(float), "population_base": base,
                         "z": z, "county_code": county})


def test_predictive_variance_by_hand():
    """Σ_U (μ_j + α μ_j²) + gᵀ Cov(β̂) g, g = Σ_U μ_j x_j, from statsmodels' own fit."""
    rng = np.random.default_rng(3)
    f = _population(rng)
    f["comprehensive"] = rng.random(len(f)) < 0.4
    c = f["comprehensive"].to_numpy()
    zs = (f["z"] - f["z"].mean()) / f["z"].std(ddof=0)
    X = np.column_stack([np.ones(len(f)), zs])
    res = sm.NegativeBinomial(f["clients"].to_numpy()[c], X[c],
                              exposure=f["population_base"].to_numpy()[c],
                              loglike_method="nb2").fit(disp=0, method="bfgs", maxiter=500)
    b, alpha = res.params[:2], res.params[2]
    cov = res.cov_params()[:2, :2]
    var, g, total = 0.0, np.zeros(2), f.loc[c, "clients"].sum()
    lo, hi = zs[c].min(), zs[c].max()        # predictions do not extrapolate the covariate
    for j in np.flatnonzero(~c):
        xj = np.array([1.0, min(max(zs.iloc[j], lo), hi)])
        mu = f["population_base"].iloc[j] * math.exp(xj @ b)
        total += mu
        var += mu + alpha * mu * mu
        g += mu * xj
    var += g @ cov @ g
    m = est.model_estimate(f, ["z"], county_effect=False)
    assert m["note"] == ""
    assert m["estimate"] == pytest.approx(total, rel=1e-5)
    assert m["se"] == pytest.approx(math.sqrt(var), rel=1e-4)
    assert m["ci_high"] == pytest.approx(m["estimate"] + 1.96 * m["se"])


def test_predictive_interval_covers_in_simulation():
    """Municipalities differing by 30 % (log-normal), random comprehensive sets: the NB
    predictive interval covers the true total near 95 % of the time; the old
    Poisson-noise-only variance (parameter + μ) covers far less."""
    rng = np.random.default_rng(11)
    hits, poisson_hits, reps = 0, 0, 150
    for _ in range(reps):
        f = _population(rng, n=100)
        f["comprehensive"] = rng.random(len(f)) < 0.35
        truth = f["clients"].sum()
        pred = mdl.predict(f, ["z"], county_effect=False)
        e, v, _ = pred.total()
        hits += abs(e - truth) <= 1.96 * math.sqrt(v)
        v_pois = v - float((pred.alpha * pred.mean ** 2).sum())
        poisson_hits += abs(e - truth) <= 1.96 * math.sqrt(v_pois)
    assert 0.89 <= hits / reps <= 0.99
    assert poisson_hits / reps < 0.8


def test_county_effect_shrinkage_by_hand():
    rng = np.random.default_rng(5)
    f = _population(rng, n=150, county_sd=0.3, sigma=0.15)
    f["comprehensive"] = rng.random(len(f)) < 0.5
    p0 = mdl.predict(f, ["z"], county_effect=False)
    p1 = mdl.predict(f, ["z"], county_effect=True)
    c = f["comprehensive"].to_numpy()
    base = f["population_base"].to_numpy()
    X = p0.X
    # refit to get μ̂ of the comprehensive rows (predict() keeps only the others')
    beta, _, alpha = mdl.fit_nb(X[c], f["clients"].to_numpy()[c], base[c])
    mu = base * np.exp(X @ beta)
    d = pd.DataFrame({"k": f["county_code"][c], "o": f["clients"][c], "e": mu[c],
                      "v": mu[c] + alpha * mu[c] ** 2}).groupby("k").sum()
    r = np.log((d["o"] + .5) / (d["e"] + .5))
    v = d["v"] / d["e"] ** 2
    # moments with k − 1 degrees of freedom (the r are residuals around the fitted mean)
    s2 = max(0.0, float((r ** 2 - v).sum()) / (len(r) - 1))
    assert s2 > 0 and p1.sigma_u2 == pytest.approx(s2, rel=1e-6)
    b = s2 / (s2 + v)
    j = int(np.flatnonzero(~c)[0])
    k = f["county_code"][j]
    assert p1.mean[j] == pytest.approx(p0.mean[j] * math.exp(b[k] * r[k]), rel=1e-6)
    assert p1.county_var[k] == pytest.approx(s2 * (1 - b[k]), rel=1e-6)


def test_county_sd_floor_applies_when_the_counties_are_few():
    """From fewer than MIN_COUNTIES counties σ_u² is not estimated: the floor is used (the
    old behaviour, no county variance at all, claimed the unobserved counties were exactly
    like the observed ones); with a floor of 0 there is none."""
    rng = np.random.default_rng(11)
    f = _population(rng, n=120, county_sd=0.3, sigma=0.15)
    counties = sorted(f["county_code"].unique())[:mdl.MIN_COUNTIES - 1]
    f["comprehensive"] = f["county_code"].isin(counties)
    p0 = mdl.predict(f, ["z"], county_sd_min=0.0)
    p1 = mdl.predict(f, ["z"], county_sd_min=0.2)
    assert p0.sigma_u2 == 0 and not p0.county_var
    assert p1.sigma_u2 == pytest.approx(0.04)
    # an unobserved county's effect has the whole σ_u² as its variance
    other = sorted(set(f["county_code"]) - set(counties))[0]
    assert p1.county_var[other] == pytest.approx(0.04)
    assert p1.total()[1] > p0.total()[1]


def test_cluster_term_by_hand_for_an_intercept_only_poisson_fit():
    """Intercept only and α = 0: β̂0 = log(Σy / Σbase), and a county effect u_c moves Σy by
    about E_c u_c, so Var(β̂0) gains σ_u² Σ_c E_c² / (Σ E)²: the formula of
    :func:`model.cluster_term` by hand."""
    X = np.ones((6, 1))
    mu = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    county = np.array(["a", "a", "b", "b", "c", "d"])
    rows = np.array([True, True, True, True, True, False])
    cov = np.array([[1.0 / mu[rows].sum()]])                 # inverse Poisson information
    got = mdl.cluster_term(X, mu, np.zeros(6), rows, county, cov)[0, 0]
    e = {"a": 30.0, "b": 70.0, "c": 50.0}
    assert got == pytest.approx(sum(v ** 2 for v in e.values()) / 150.0 ** 2)


def test_county_totals_add_up_to_the_national_one():
    rng = np.random.default_rng(8)
    f = _population(rng, n=90, county_sd=0.2)
    f["comprehensive"] = rng.random(len(f)) < 0.5
    full = f["county_code"] == "03"
    f.loc[full, "comprehensive"] = True
    rows, pred = est.estimate_with_prediction(f, ["z"], {"published_method": "model"})
    cty = pd.DataFrame(sa.county_rows(pred, f, rows[1], {}))
    assert cty["estimate"].sum() == pytest.approx(rows[1]["estimate"], rel=1e-9)
    r3 = cty.set_index("county_code").loc["03"]
    assert r3["comprehensive"] == 1 and r3["se"] == 0
    assert r3["estimate"] == r3["clients_observed"] == f.loc[full, "clients"].sum()
    # the county interval of a non-comprehensive county: the total of the same rows
    other = cty[cty["comprehensive"] == 0].iloc[0]
    e, v, o = pred.total(f["county_code"].to_numpy() == other["county_code"])
    assert other["estimate"] == pytest.approx(e) and other["se"] == pytest.approx(math.sqrt(v))
    assert other["clients_observed"] == pytest.approx(o)


def _row(n, clients, used, base=1_000_000, estimate=40_000.0, lo=33_000.0, hi=47_000.0):
    return {"municipalities_used": n, "clients_used": clients, "population_used": used,
            "national_base": base, "estimate": estimate, "ci_low": lo, "ci_high": hi,
            "se": (hi - lo) / 3.92, "note": ""}


def test_publication_rule():
    assert est.publication_rule(_row(40, 5000, 300_000))["publish_as"] == "point"
    # enough data, but too uncertain for a point (relative SE 12.8 % > 10 %)
    wide = est.publication_rule(_row(40, 5000, 300_000, lo=30_000, hi=50_000))
    assert (wide["publish_as"], wide["rule_reason"]) == ("range", "rse>10")
    r = est.publication_rule(_row(10, 3000, 100_000))
    # 10 % of 40 000 = 4 000 -> step 5 000: 30 000–50 000 (as THL's substance services)
    assert (r["publish_as"], r["range_low"], r["range_high"]) == ("range", 30_000, 50_000)
    assert r["rule_reason"] == "base_share<20;municipalities<20"
    # 2022Q4 older people: 31 clients in 4 municipalities
    r = est.publication_rule(_row(4, 31, 8_000, estimate=1800.0, lo=1600.0, hi=2000.0))
    assert r["publish_as"] == "none"
    assert r["rule_reason"] == "base_share<5;municipalities<5;clients<50"
    nan = _row(1, 3, 10, estimate=math.nan, lo=math.nan, hi=math.nan)
    nan["note"] = est.NOTE_TOO_FEW
    assert est.publication_rule(nan)["rule_reason"] == est.NOTE_TOO_FEW
    assert [est.nice_step(x) for x in (4000, 5000, 1.1, 0.03, 999)] == [5000, 5000, 2, .05, 1000]
    # the range never starts below the clients already observed
    r = est.publication_rule(_row(6, 31_000, 60_000))
    assert r["range_low"] == 30_000


def test_task_county_table_shows_the_published_rule_and_symbols(tmp_path):
    """The task chapter's county table reads the gate's published table: a point with its
    interval, a range, and a comprehensive county whose observed count is suppressed."""
    from seuranta.core import reference
    from seuranta.publication import compare

    codes = reference.counties()["county_code"].tolist()[:3]
    rows = []
    for c, kind, obs, sym, full in zip(codes, ["point", "range", "point"], [1200, 40, None],
                                       ["", "", ".."], [0, 0, 1]):
        rows.append({"quarter": "2023Q4", "service_task": "vammaispalvelut", "county_code": c,
                     "method": "mallipohjainen arvio", "municipalities": 10,
                     "municipalities_comprehensive": 10 if full else 4, "comprehensive": full,
                     "publish_as": kind, "clients_observed": obs,
                     "clients_observed_symbol": sym,
                     "estimate_rounded": None if full else 5300,
                     "estimate_rounded_symbol": ".." if full else "",
                     "ci_low": None if full else 4900, "ci_low_symbol": ".." if full else "",
                     "ci_high": None if full else 5700, "ci_high_symbol": ".." if full else "",
                     "range_low": 4000 if kind == "range" else None, "range_low_symbol": "",
                     "range_high": 7000 if kind == "range" else None, "range_high_symbol": "",
                     "share_pct": 2.0, "share_pct_symbol": ""})
    pd.DataFrame(rows).to_csv(tmp_path / "county_estimates.csv", index=False)
    md = compare.task_county_table_md(tmp_path, "2023Q4", "vammaispalvelut").replace(
        "\xa0", " ").splitlines()
    assert len(md) == 2 + 3
    assert "| 5 300 | 4 900–5 700 | 1 200 | 4/10 |" in md[2]
    assert "| 4 000–7 000 | vaihteluväli | 40 | 4/10 |" in md[3]
    assert md[4].endswith("| – | – | .. | 10/10 (kaikki) |")
    assert compare.task_county_table_md(tmp_path, "2023Q3", "vammaispalvelut") is None


def test_estimate_state_follows_the_rule():
    from seuranta.publication import bookfmt as bf

    e = pd.Series({"publish_as": "range", "national_base": 1e6, "range_low": 30000.0,
                   "range_high": 50000.0, "estimate_rounded": 40000, "share_pct": 4.0,
                   "rule_reason": "base_share<20;municipalities<20"})
    assert [s.replace("\xa0", " ") for s in bf.estimate_state(e)] == ["30 000–50 000",
                                                                       "3,0–5,0 %"]
    e["publish_as"] = "none"
    assert bf.estimate_state(e) == (
        "ei arviota", "kattavien kuntien osuus väestöpohjasta alle 20\xa0%; "
        "kattavien kuntien määrä alle 20")
    e["publish_as"] = "point"
    assert bf.estimate_state(e)[0].replace("\xa0", " ") == "40 000"
