"""National estimates: the ratio estimator and its SRSWOR + fpc SE pinned to hand-computed
values, graceful n < 2, the GLM estimate against closed forms."""

import math

import numpy as np
import pandas as pd
import pytest

from seuranta.core.params import defaults
from seuranta.statistics import estimate as est


def _svyratio_by_hand(y, x, N):
    """survey::svyratio with fpc, written out as a plain loop."""
    n = len(y)
    R = sum(y) / sum(x)
    xbar = sum(x) / n
    ss = 0.0
    for yi, xi in zip(y, x):
        ss += (yi - R * xi) ** 2
    var = (1 - n / N) / (n * xbar ** 2) * ss / (n - 1)
    return R, math.sqrt(var)


def test_ratio_estimate_pinned():
    y = [10, 20, 30]
    x = [1000, 1500, 2500]
    # R = 60/5000 = 0.012; residuals -2, 2, 0; ss = 8; xbar = 5000/3
    # var = (1 - 3/10) / (3 * (5000/3)^2) * 8 / 2 = 0.7 * 4 / (3 * 2777777.78) = 3.36e-7
    r = est.ratio_estimate(y, x, national_base=20000, n_population=10)
    assert r["share_pct"] == pytest.approx(1.2)
    assert r["estimate"] == pytest.approx(240.0)
    se_r = math.sqrt(0.7 * 4 / (3 * (5000 / 3) ** 2))
    assert se_r ** 2 == pytest.approx(3.36e-7, rel=1e-12)
    assert r["se"] == pytest.approx(20000 * se_r)
    assert r["se"] == pytest.approx(20000 * math.sqrt(3.36e-7), rel=1e-9)
    assert r["ci_low"] == pytest.approx(240 - 1.96 * r["se"])
    assert r["ci_high"] == pytest.approx(240 + 1.96 * r["se"])
    assert r["municipalities_used"] == 3 and r["clients_used"] == 60
    assert r["population_used"] == 5000
    assert r["estimate_rounded"] == 200


def test_ratio_jackknife_pinned():
    # the same three municipalities; leave one out at a time, exact fractions:
    # R_(1) = 50/4000 = 1/80, R_(2) = 40/3500 = 2/175, R_(3) = 30/2500 = 3/250
    from fractions import Fraction as F
    rj = [F(1, 80), F(2, 175), F(3, 250)]
    mean = sum(rj) / 3
    var = F(7, 10) * F(2, 3) * sum((r - mean) ** 2 for r in rj)     # (1 - 3/10)(n - 1)/n
    assert float(var) == pytest.approx(2.682e-7, rel=1e-3)          # 0.7·2/3·5.748e-7
    r = est.ratio_estimate([10, 20, 30], [1000, 1500, 2500], national_base=20000,
                           n_population=10, variance="jackknife")
    assert r["variance"] == "jackknife"
    assert r["estimate"] == pytest.approx(240.0)                    # the point is unchanged
    assert r["se"] == pytest.approx(20000 * math.sqrt(float(var)), rel=1e-12)
    assert r["se_jackknife"] == r["se"]
    assert r["se_linearised"] == pytest.approx(20000 * math.sqrt(3.36e-7), rel=1e-9)
    assert r["ci_low"] == pytest.approx(240 - 1.96 * r["se"])
    lin = est.ratio_estimate([10, 20, 30], [1000, 1500, 2500], 20000, 10)
    assert lin["variance"] == "linearised" and lin["se"] == lin["se_linearised"]
    assert lin["se_jackknife"] == pytest.approx(r["se"], rel=1e-12)


def test_ratio_jackknife_equals_replicate_loop_on_random_data():
    rng = np.random.default_rng(5)
    x = rng.integers(500, 50000, 30).astype(float)
    y = rng.poisson(0.05 * x).astype(float)
    reps = [(y.sum() - y[j]) / (x.sum() - x[j]) for j in range(30)]   # JK1 replicates
    var = (1 - 30 / 293) * 29 / 30 * float(np.var(reps) * 30)
    r = est.ratio_estimate(y, x, 1e6, 293, variance="jackknife")
    assert r["se"] == pytest.approx(1e6 * math.sqrt(var), rel=1e-10)


def test_ratio_unknown_variance_is_an_error():
    with pytest.raises(ValueError, match="ratio variance"):
        est.ratio_estimate([1, 2], [10, 20], 100, 5, variance="bootstrap")
    f = _frame([10, 20, 30], [1000, 1500, 2500], [True, True, True])
    from seuranta.core.errors import InputError
    with pytest.raises(InputError, match="estimate.ratio_variance"):
        est.estimate_both(f, [], {"ratio_variance": "bootstrap"})


def test_ratio_estimate_matches_loop_on_random_data():
    rng = np.random.default_rng(3)
    x = rng.integers(500, 50000, 40).astype(float)
    y = rng.poisson(0.024 * x).astype(float)
    R, se_r = _svyratio_by_hand(list(y), list(x), 293)
    r = est.ratio_estimate(y, x, national_base=5_500_000, n_population=293)
    assert r["estimate"] == pytest.approx(R * 5_500_000)
    assert r["se"] == pytest.approx(se_r * 5_500_000)


def test_ratio_census_has_zero_se():
    r = est.ratio_estimate([5, 7], [100, 200], national_base=300, n_population=2)
    assert r["estimate"] == pytest.approx(12.0)
    assert r["se"] == 0.0


@pytest.mark.parametrize("y,x,note", [([], [], est.NOTE_NO_MUNICIPALITIES),
                                      ([5], [100], est.NOTE_TOO_FEW)])
def test_ratio_too_few_municipalities(y, x, note):
    r = est.ratio_estimate(y, x, national_base=1000, n_population=10)
    assert math.isnan(r["estimate"]) and math.isnan(r["se"])
    assert r["note"] == note


def _frame(clients, base, comp, **cov):
    return pd.DataFrame({"municipality_code": [f"{i:03d}" for i in range(len(clients))],
                         "clients": clients, "population_base": base,
                         "comprehensive": comp, **cov})


def test_model_intercept_only_equals_ratio():
    """No covariates and no extra-Poisson spread (the shares 1.0, 1.33, 1.2 % scatter less
    than Poisson): the NB intercept is the ratio, α → 0, and the variance is the Poisson
    one, μ_U² var(b0) + μ_U with var(b0) = 1 / Σ μ_C (μ_U = 60, Σ μ_C = 60)."""
    f = _frame([10, 20, 30, 99, 0], [1000, 1500, 2500, 4000, 1000],
               [True, True, True, False, False])
    m = est.model_estimate(f, [])
    assert m["estimate"] == pytest.approx(120.0, rel=1e-5)
    r = est.ratio_estimate([10, 20, 30], [1000, 1500, 2500], 10000, 5)
    assert m["estimate"] == pytest.approx(r["estimate"], rel=1e-5)
    assert m["se"] == pytest.approx(math.sqrt(60.0 ** 2 / 60.0 + 60.0), rel=1e-3)


def test_model_with_covariate_recovers_truth():
    rng = np.random.default_rng(7)
    n = 200
    z = rng.normal(size=n)
    base = rng.integers(2000, 20000, n).astype(float)
    mu = base * 0.02 * np.exp(0.3 * z + rng.normal(0, 0.2, n))   # municipalities differ
    y = rng.poisson(mu).astype(float)
    comp = rng.random(n) < 0.4
    m = est.model_estimate(_frame(y, base, comp, z=z), ["z"])
    assert m["note"] == ""
    assert m["ci_low"] < y.sum() < m["ci_high"]
    assert m["clients_used"] == y[comp].sum()


def test_model_falls_back_with_few_municipalities():
    f = _frame([10, 20, 30, 5], [1000, 1500, 2500, 300], [True, True, True, False],
               z=[0.1, 0.5, 0.2, 0.0])
    m = est.model_estimate(f, ["z"])
    assert m["note"] == est.NOTE_MODEL_FALLBACK
    assert m["estimate"] == pytest.approx(60 + 0.012 * 300)


def test_estimate_both_published_flag():
    f = _frame([10, 20, 30, 99], [1000, 1500, 2500, 4000], [True, True, True, False])
    rows = est.estimate_both(f, [], {"published_method": "model"})
    assert [(r["method"], r["published"]) for r in rows] == [("ratio", 0), ("model", 1)]
    rows = est.estimate_both(f, [], {"published_method": "ratio"})
    assert [(r["method"], r["published"]) for r in rows] == [("ratio", 1), ("model", 0)]
    # without the key: the schema's default (core.params), the same as parameters.yml's
    default = defaults("estimate")["published_method"]
    assert [r["method"] for r in est.estimate_both(f, []) if r["published"]] == [default]


def _failing_fit(exc):
    def predict(*args, **kwargs):
        raise exc
    return predict


def test_failed_fit_is_a_named_error_logged_and_noted(monkeypatch, caplog):
    """Every model of the chain failing (statistics.model raises RuntimeError) is
    ModelFitError: logged with its reason, the model row has no estimate and the note
    model_failed, which the publication rule keeps as the reason."""
    from seuranta.core.errors import ModelFitError
    f = _frame([10, 20, 30, 99], [1000, 1500, 2500, 4000], [True, True, True, False])
    monkeypatch.setattr(est.mdl, "predict",
                        _failing_fit(RuntimeError("no count model could be fitted")))
    with pytest.raises(ModelFitError, match="no count model could be fitted"):
        est.fit_model(f, [])
    caplog.clear()
    rows = est.estimate_both(f, [], {"published_method": "model"})
    m = rows[1]
    assert m["method"] == "model" and math.isnan(m["estimate"])
    assert m["note"] == est.NOTE_MODEL_FAILED and m["rule_reason"] == est.NOTE_MODEL_FAILED
    assert m["publish_as"] == "none"
    assert any("model_failed" in r.message and "no count model could be fitted" in r.message
               for r in caplog.records)
    assert not math.isnan(rows[0]["estimate"])          # the ratio estimate still stands


@pytest.mark.parametrize("exc", [TypeError("a bug"), KeyError("log_population"),
                                 ValueError("bad option")], ids=["type", "key", "value"])
def test_other_errors_are_never_swallowed(exc, monkeypatch):
    """A programming or configuration error stops the run (it used to be reported as
    model_failed on all 8 published estimates, with exit 0)."""
    f = _frame([10, 20, 30, 99], [1000, 1500, 2500, 4000], [True, True, True, False])
    monkeypatch.setattr(est.mdl, "predict", _failing_fit(exc))
    with pytest.raises(type(exc)):
        est.estimate_both(f, [], {"published_method": "model"})


def test_unknown_covariate_is_a_configuration_error():
    from seuranta.core.errors import InputError
    f = _frame([10, 20, 30, 99], [1000, 1500, 2500, 4000], [True, True, True, False])
    with pytest.raises(InputError, match="estimate.model_covariates: log_populaton is not a "
                                         "covariate"):
        est.estimate_both(f, ["log_populaton"], {"published_method": "model"})


# --------------------------------------------------------------------------- the stage

def _stage_inputs(tmp_path):
    """Register-stage-like tables for every mainland municipality, one quarter."""
    from seuranta.core import reference
    rng = np.random.default_rng(11)
    pop = reference.reference_population()
    pop.to_csv(tmp_path / "population.csv", index=False)
    mun = reference.mainland_municipalities()
    bases = reference.base_population(pop)
    rates = {"iakkaat": .19, "tyoikaiset": .07, "lapsiperheet": .06, "lastensuojelu": .05,
             "vammaispalvelut": .024, "paihdetyo": .004, "perheoikeudelliset": .01}
    codes = mun["municipality_code"].tolist()
    late = set(rng.choice(codes, 150, replace=False))   # coverage from mid-February
    grid = mun[["municipality_code", "county_code"]].merge(
        pd.DataFrame({"service_task": list(rates)}), how="cross").assign(quarter="2023Q1")
    grid = grid.merge(bases[["municipality_code", "service_task", "population_base"]])
    grid["clients"] = rng.poisson(grid["service_task"].map(rates) * grid["population_base"])
    grid.loc[grid["municipality_code"].isin(late), "clients"] //= 2
    counts = pd.concat([grid.assign(source=s, clients=grid["clients"] * (s != "ET"))
                        for s in ("SHA", "ET", "ALL")], ignore_index=True)
    counts["share_pct"] = 100 * counts["clients"] / counts["population_base"]
    pd.DataFrame([(c, t, "SHA", "2023-02-15" if c in late else "2021-01-01", "")
                  for c in codes for t in rates],
                 columns=["municipality_code", "service_task", "source", "covered_from",
                          "covered_to"]).to_csv(tmp_path / "deliveries.csv", index=False)
    cwa = counts[counts["service_task"] == "lastensuojelu"].assign(
        service_task="lastensuojelulaki")
    cwa["clients"] = cwa["clients"] * 7 // 10
    age = []
    for g, lo, hi in reference.CLIENT_AGE_GROUPS:
        m = pop["age_group"].map(lambda b, lo=lo, hi=hi: reference.band_in_base(b, lo, hi))
        s = (pop[m].groupby("municipality_code", as_index=False)["population"].sum()
             .rename(columns={"population": "population_base"}))
        age.append(s.assign(age_group=g))
    age = pd.concat(age).merge(mun[["municipality_code", "county_code"]])
    age = age.assign(quarter="2023Q1", service_task="kaikki",
                     clients=rng.poisson(age["population_base"] * 0.1))
    age["share_pct"] = 100 * age["clients"] / age["population_base"]
    tables = {"counts": counts, "series_counts": counts, "cwa_counts": cwa, "age_counts": age}
    return tables, set(codes) - late


@pytest.mark.slow   # a whole quarter's statistics stage
def test_statistics_stage_end_to_end(tmp_path):
    from seuranta.core.params import load_params
    from seuranta.statistics import stage as stats

    tables, full = _stage_inputs(tmp_path)
    out = stats.run_statistics_stage(tables, tmp_path, load_params())
    q = out["quality"]
    assert list(q.columns[:7]) == ["quarter", "municipality_code", "county_code", "service_task",
                                   "quality", "sources", "reasons"]
    assert len(q) == 293 * 7
    vp = q[q["service_task"] == "vammaispalvelut"]
    comp = set(vp.loc[vp["quality"] == "comprehensive", "municipality_code"])
    assert comp <= full and len(comp) >= 0.9 * len(full)   # a few may be flagged implausible
    assert (vp.loc[~vp["municipality_code"].isin(full), "quality"] != "comprehensive").all()

    e = out["estimates"]
    assert list(e.columns[:13]) == ["quarter", "service_task", "method", "municipalities_used",
                                    "clients_used", "population_used", "share_pct", "estimate",
                                    "se", "ci_low", "ci_high", "estimate_rounded", "published"]
    r = e[(e["service_task"] == "vammaispalvelut") & (e["method"] == "ratio")].iloc[0]
    c = tables["counts"]
    c = c[(c["source"] == "ALL") & (c["service_task"] == "vammaispalvelut")]
    used = c[c["municipality_code"].isin(comp)]
    R, se_r = _svyratio_by_hand(used["clients"].tolist(), used["population_base"].tolist(), 293)
    assert r["estimate"] == pytest.approx(R * c["population_base"].sum(), abs=1e-6)
    assert r["se_linearised"] == pytest.approx(se_r * c["population_base"].sum(), abs=1e-6)
    assert r["variance"] == "jackknife" and r["se"] == r["se_jackknife"]
    assert r["published"] == int(load_params()["estimate"]["published_method"] == "ratio")
    assert r["estimate_rounded"] % 100 == 0
    assert set(e["service_task"]) == {"iakkaat", "tyoikaiset", "lapsiperheet", "lastensuojelu",
                                      "vammaispalvelut", "paihdetyo", "lastensuojelulaki",
                                      "kaikki"}
    kaikki = e[e["service_task"] == "kaikki"]
    assert set(kaikki["age_group"]) == {"kaikki", "0-17", "18-64", "65+", "85+"}
    comp_all = set.intersection(*[
        set(q.loc[(q["service_task"] == t) & (q["quality"] == "comprehensive"),
                  "municipality_code"])
        for t in ("iakkaat", "tyoikaiset", "lapsiperheet", "lastensuojelu", "vammaispalvelut",
                  "paihdetyo")])
    assert (kaikki["municipalities_used"] == len(comp_all)).all()
    # the county table: 22 areas per task, adding up to the model's national estimate
    ce = out["county_estimates"]
    mod = e[(e["method"] == "model") & (e["age_group"] == "kaikki")].set_index("service_task")
    assert ce.groupby("service_task").size().eq(22).all()
    for t, g in ce.groupby("service_task"):
        assert g["estimate"].sum() == pytest.approx(mod.loc[t, "estimate"], rel=1e-6)
    assert len(out["quartiles"]) == 8
    assert out["series_estimates"]["service_task"].nunique() == 8
    s = out["representativeness_summary"]
    assert s["verdict_fi"].str.startswith("Kattavat").all()
