"""The model check of declared-comprehensive rows (quality.model_check, share_low_model):
the leave-one-out prediction and the p-value against brute force and numerical
integration, Benjamini–Hochberg by hand, the exclusion on a hand-made quarter, and the bias
that returns when the check is bypassed."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from seuranta.statistics import estimate as est
from seuranta.statistics import quality as ql

P = {**ql.DEFAULTS, "model_check_min_rows": 20}
COVS = ["log_population"]
#: A deterministic "genuine" spread of log shares (sd 0.14), cycled over the municipalities.
SPREAD = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])


def _frame(n=40, base=20000, low=None, slope=0.1, genuine=None):
    """n municipalities, log population 8 … 12, true share 2 % × exp(slope (lp − 10) +
    spread); ``low``: code → the part of its true clients delivered; ``genuine``: code →
    a factor of its true share (a genuine difference, delivered in full)."""
    lp = np.linspace(8, 12, n)
    share = 0.02 * np.exp(slope * (lp - 10) + SPREAD[np.arange(n) % len(SPREAD)])
    share = share * np.array([(genuine or {}).get(f"{i:03d}", 1.0) for i in range(1, n + 1)])
    truth = np.round(share * base)
    codes = [f"{i:03d}" for i in range(1, n + 1)]
    part = np.array([(low or {}).get(c, 1.0) for c in codes])
    return pd.DataFrame({"municipality_code": codes, "county_code": [f"{i % 4:02d}" for i in range(n)],
                         "clients": np.round(truth * part), "truth": truth,
                         "population_base": float(base), "clean": True, "log_population": lp})


def test_a_quarter_of_the_peers_is_excluded_and_an_honest_low_one_kept():
    """020 delivers a quarter of its clients: p far below the BH limit, excluded. 023
    delivers 80 % (log −0.22, within the genuine spread): kept; so is every other row."""
    f = _frame(low={"020": 0.25, "023": 0.8})
    out = ql.model_check(f, COVS, P).set_index("municipality_code")
    caught = [c for c, cc in out["codes"].items() if cc]
    assert caught == ["020"]
    assert out.at["020", "codes"] == ["share_low_model"]
    # its prediction (the others' fit, 020 left out) is the line the spread is around:
    # 2 % × exp(0.1 (lp − 10)) × 20 000, within 5 % (its own spread, +0.2, is not predictable)
    lp = out.at["020", "log_population"]
    assert out.at["020", "model_expected"] == pytest.approx(400 * math.exp(0.1 * (lp - 10)),
                                                            rel=0.05)
    assert out.at["020", "model_p"] < 1e-6
    assert out.at["023", "model_p"] > 0.01
    # bypassed (an FDR no p-value falls under): nothing is caught
    assert not ql.model_check(f, COVS, {**P, "model_check_fdr": 1e-12})["codes"].map(len).any()


def test_too_few_rows_no_check_and_missing_covariate_is_an_error():
    f = _frame(n=15, low={"010": 0.25})
    out = ql.model_check(f, COVS, P)
    assert out["model_p"].isna().all() and not out["codes"].map(len).any()
    with pytest.raises(ql.InputError, match="share_0_17"):
        ql.model_check(_frame(), ["log_population", "share_0_17"], P)


def test_leave_one_out_prediction_against_brute_force():
    """η₍₋ᵢ₎ and its variance from the closed form equal a weighted least squares refit
    without row i (the same weights), and the variance minus x'(X₋ᵢ'W X₋ᵢ)⁻¹x is one τ²."""
    f = _frame(n=30, low={"007": 0.5})
    y = f["clients"].to_numpy(float)
    b = f["population_base"].to_numpy(float)
    x = np.column_stack([np.ones(len(f)), f["log_population"] - 10])
    ly = np.log((y + 0.5) / b)
    fit = np.ones(len(f), bool)
    fit[[3, 11]] = False                                   # two rows not in the fit
    eta, var, w = ql._loo_log_share(x, ly, b, fit, 0.15 ** 2)
    wall = np.zeros(len(f))
    wall[fit] = w
    tau2 = []
    for i in range(len(f)):
        use = fit.copy()
        use[i] = False
        xtwx = (x[use] * wall[use][:, None]).T @ x[use]
        beta = np.linalg.solve(xtwx, (x[use] * wall[use][:, None]).T @ ly[use])
        assert eta[i] == pytest.approx(x[i] @ beta, abs=1e-10)
        tau2.append(var[i] - x[i] @ np.linalg.solve(xtwx, x[i]))
    assert np.ptp(tau2) < 1e-10 and tau2[0] >= 0.15 ** 2 - 1e-12


def test_poisson_lognormal_cdf_against_integration():
    # s² = 0: Poisson; P(Y ≤ 1 | λ = 2) = 3 e⁻² by hand
    assert ql.poisson_lognormal_cdf(np.array([1]), np.array([math.log(2)]), np.array([0.0]))[0] \
        == pytest.approx(3 * math.exp(-2), rel=1e-12)
    # both forms (small counts over Z, large ones over the gamma variable) against adaptive
    # quadrature over Z, told where the Poisson step lies
    for y, mu, s2 in ((30, 100.0, 0.09), (3, 12.0, 0.3), (250, 400.0, 0.04), (0, 3.0, 0.2),
                      (8000, 20000.0, 0.09), (20000, 30000.0, 0.09), (5, 6.0, 0.01)):
        step = [(math.log(y + 0.5) - math.log(mu)) / math.sqrt(s2)] if y else None
        def f(z, y=y, mu=mu, s2=s2):
            return stats.poisson.cdf(y, mu * math.exp(math.sqrt(s2) * z)) * stats.norm.pdf(z)
        exact = integrate.quad(f, -12, 12, epsabs=1e-15, limit=500, points=step)[0]
        got = ql.poisson_lognormal_cdf(np.array([y]), np.array([math.log(mu)]), np.array([s2]))[0]
        assert got == pytest.approx(exact, rel=1e-6)


def test_benjamini_hochberg_by_hand():
    # limits k · 0.05 / 8 = 0.00625, 0.0125, 0.01875, …: the two smallest pass, 0.039 not
    p = np.array([0.041, 0.001, 0.205, 0.039, 0.008, 0.06, 0.074, 0.042])
    assert ql.benjamini_hochberg(p, 0.05).tolist() == [False, True, False, False, True,
                                                       False, False, False]
    # step-up: 0.03 at rank 3 fails 0.0375·…, but rank 4's 0.04 ≤ 4 · 0.05 / 5 passes all four
    assert ql.benjamini_hochberg(np.array([0.01, 0.02, 0.03, 0.04, 0.9]), 0.05).tolist() == \
        [True, True, True, True, False]
    assert not ql.benjamini_hochberg(np.array([0.2, 0.5]), 0.05).any()


def _quarter(n=80, declared=60, low=None, **shares):
    """One quarter of one task: n municipalities in four counties; the first ``declared``
    declare full coverage (``low`` of them deliver part of their clients), the rest
    deliver nothing. Returns counts, deliveries, covariates and the truth."""
    f = _frame(n=n, base=20000, low=low, **shares)
    f.loc[declared:, "clients"] = 0
    rows = []
    for r in f.itertuples(index=False):
        for s in ("SHA", "ET", "ALL"):
            k = r.clients if s != "ET" else 0
            rows.append({"quarter": "2023Q1", "municipality_code": r.municipality_code,
                         "county_code": r.county_code, "service_task": "vammaispalvelut",
                         "source": s, "clients": int(k), "population_base": 20000,
                         "share_pct": k / 200})
    deliveries = pd.DataFrame([{"municipality_code": c, "service_task": "vammaispalvelut",
                                "source": "SHA", "covered_from": dt.date(2020, 1, 1),
                                "covered_to": None} for c in f["municipality_code"][:declared]])
    cov = f[["municipality_code", "county_code", "log_population"]].assign(size_class="x")
    return pd.DataFrame(rows), deliveries, cov, f


#: The under-delivering municipalities of the bias test: one of each place in the spread
#: (and one more at 0), so that their true counts lie on the line on average.
LOW = ("003", "009", "017", "025", "031", "043")


def _model_error(params):
    """The model estimate's error (% of the truth) on :func:`_quarter` with six
    declared municipalities delivering 30 %, classified with ``params``."""
    low = dict.fromkeys(LOW, 0.3)
    counts, deliveries, cov, f = _quarter(low=low)
    q = ql.classify(counts, deliveries, None, None, cov, params, COVS)
    comp = set(q.loc[q["quality"] == "comprehensive", "municipality_code"])
    frame = f.assign(comprehensive=f["municipality_code"].isin(comp))
    m = est.estimate_with_prediction(frame, COVS, {"model_county_effect": False})[0][1]
    return 100 * (m["estimate"] / f["truth"].sum() - 1), q


def test_the_bias_returns_when_the_check_is_bypassed():
    """Six of 60 declared municipalities deliver 30 %: the check excludes exactly those
    (partial, share_low_model) and the model estimate is near the truth; bypassed
    (model_check false) they count as comprehensive and the estimate misses low by about
    what they lost plus the pull on the others' prediction (0.7 × 6/60 of the observed
    clients ≈ 7 %, and the predicted part down with the fit)."""
    on, q = _model_error(P)
    off, q_off = _model_error({**P, "model_check": False})
    low = set(LOW)
    excl = q[q["reasons"].str.contains("share_low_model")]
    assert set(excl["municipality_code"]) == low
    assert (excl["quality"] == "partial").all()
    assert (q_off.loc[q_off["municipality_code"].isin(low), "quality"] == "comprehensive").all()
    assert abs(on) < 1.5
    assert off < -5.0


def test_a_genuinely_low_large_city_typical_of_its_county_is_kept():
    """The largest of 40 declared municipalities has a third of the share the steep line
    through the others (slope 0.5 in log population) predicts for it, and delivers all its
    clients; against its county's median it is unremarkable. The model check alone catches
    it (as it would a real under-delivery: the line cannot know the largest cities differ);
    classify keeps it comprehensive, since the comparison does not find it low. Where the
    line is flat (slope 0.1), a quarter of its clients delivered is low against both:
    excluded."""
    genuine = {"040": 1 / 3}
    counts, deliveries, cov, f = _quarter(n=40, declared=40, slope=0.5, genuine=genuine)
    alone = ql.model_check(f.assign(clean=True), COVS, P).set_index("municipality_code")
    assert alone.at["040", "codes"] == ["share_low_model"]                  # bypassed
    q = ql.classify(counts, deliveries, None, None, cov, P, COVS).set_index("municipality_code")
    assert q.at["040", "quality"] == "comprehensive"
    assert q.at["040", "comparison_group"] == "county"
    assert "share_low_model" not in q.at["040", "reasons"]
    assert (q["quality"] == "comprehensive").all()
    counts, deliveries, cov, f = _quarter(n=40, declared=40, low={"040": 0.25})
    q = ql.classify(counts, deliveries, None, None, cov, P, COVS).set_index("municipality_code")
    assert q.at["040", "quality"] == "partial"
    assert "share_low_model" in q.at["040", "reasons"].split("; ")


def test_the_review_round_can_include_a_row_the_check_excluded():
    """share_low_model is overridable: the county's 'include' decision makes the row
    comprehensive again (a remark), an 'exclude' keeps it out."""
    counts, deliveries, cov, _ = _quarter(n=40, declared=40, low={"040": 0.25})

    def decided(decision):
        corr = None if decision is None else pd.DataFrame([{
            "quarter": "2023Q1", "municipality_code": "040", "service_task": "vammaispalvelut",
            "decision": decision, "reason": "tarkistettu"}])
        return ql.classify(counts, deliveries, None, corr, cov, P, COVS).set_index(
            "municipality_code")
    assert decided(None).at["040", "quality"] == "partial"
    inc = decided("include")
    assert inc.at["040", "quality"] == "comprehensive" and inc.at["040", "flags"] == ""
    assert "share_low_model" in inc.at["040", "reasons"].split("; ")
    assert decided("exclude").at["040", "quality"] == "partial"
