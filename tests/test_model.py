"""The negative binomial prediction (statistics/model.py), the publication rule and the county
estimates, checked against independent computations: statsmodels called directly with the
variance formula written out by hand, a simulation with known truth, hand arithmetic."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, stats

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
    # the interval of a log-normal predicted part P with that mean and variance
    obs = f.loc[c, "clients"].sum()
    p = total - obs
    s = math.sqrt(math.log(1 + var / p ** 2))
    assert m["ci_low"] == pytest.approx(obs + p * math.exp(-s * s / 2 - 1.96 * s), rel=1e-4)
    assert m["ci_high"] == pytest.approx(obs + p * math.exp(-s * s / 2 + 1.96 * s), rel=1e-4)


def test_log_scale_interval_by_hand_and_its_skew():
    """O + P̂ exp(−s²/2 ± z s), s² = log(1 + V / P̂²): the predicted part's log-normal
    interval; its upper end lies further from the estimate than its lower end; with no
    predicted part the interval is the observed count."""
    se, lo, hi = mdl.interval(1300.0, 100.0 ** 2, 300.0, 1.96)
    s2 = math.log(1 + (100 / 1000) ** 2)
    assert se == 100.0
    assert lo == pytest.approx(300 + 1000 * math.exp(-s2 / 2 - 1.96 * math.sqrt(s2)))
    assert hi == pytest.approx(300 + 1000 * math.exp(-s2 / 2 + 1.96 * math.sqrt(s2)))
    assert hi - 1300 > 1300 - lo > 0
    assert mdl.interval(500.0, 0.0, 500.0, 1.96) == (0.0, 500.0, 500.0)
    assert mdl.interval(1300.0, 1e12, 300.0, 1.96)[1] > 300.0      # never below O


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


def _nb_start(seed, n, county_sd, sigma, counties):
    """A population, its design (intercept, z), counts, bases, counties and the NB fit
    without county effects: (X, y, base, county, β̂, α̂)."""
    f = _population(np.random.default_rng(seed), n=n, county_sd=county_sd, sigma=sigma,
                    counties=counties)
    X = np.column_stack([np.ones(len(f)), f["z"]])
    y, base = f["clients"].to_numpy(), f["population_base"].to_numpy()
    beta, _, alpha = mdl.fit_nb(X, y, base)
    return X, y, base, f["county_code"].to_numpy(), beta, alpha


def _nb_logpmf(y, mu, alpha):
    """NB2 log-pmf from scipy's parameterisation (n = 1/α, p = n / (n + μ))."""
    from scipy.stats import nbinom
    n = 1.0 / alpha
    return nbinom.logpmf(y, n, n / (n + mu))


def test_marginal_likelihood_of_the_county_model_by_numerical_integration():
    """The county random-effect fit's maximised log marginal likelihood equals
    Σ_c log ∫ Π_{i ∈ c} NB(y_i; μ_i e^u, α) φ(u; σ) du computed independently with scipy's
    adaptive quadrature and scipy's NB pmf at the fitted parameters."""
    from scipy.integrate import quad
    from scipy.stats import norm

    X, y, base, county, beta, alpha = _nb_start(4, 24, 0.3, 0.2, 5)
    m = mdl.fit_nb_county(X, y, base, None, county, (beta, alpha))
    a = float(m.dispersion[0])
    total = 0.0
    for c in np.unique(county):
        r = county == c
        yc, mu = y[r], base[r] * np.exp(X[r] @ m.beta)
        mode = math.log(yc.sum() / mu.sum())          # where the integrand peaks
        top = _nb_logpmf(yc, mu * math.exp(mode), a).sum()

        def integrand(u, yc=yc, mu=mu, top=top):
            return math.exp(_nb_logpmf(yc, mu * math.exp(u), a).sum() + norm.logpdf(u, 0, m.sd)
                            - top)

        val = quad(integrand, -8 * m.sd, 8 * m.sd, points=[mode], epsabs=0, epsrel=1e-10,
                   limit=200)[0]
        total += math.log(val) + top
    assert m.loglike == pytest.approx(total, rel=1e-7)
    # the fitted county sd is an interior maximum: the fixed-sd fits on either side are lower
    for sd in (m.sd * 0.7, m.sd * 1.4):
        assert mdl.fit_nb_county(X, y, base, None, county, (beta, alpha),
                                 sd_fixed=sd).loglike < m.loglike


def test_county_model_recovers_the_variances_of_a_simulation():
    """40 counties with effects of sd 0.3, municipalities 0.15 within them: the marginal fit
    finds both (the NB fit without county effects mixes them into one α)."""
    rng = np.random.default_rng(12)
    f = _population(rng, n=400, county_sd=0.3, sigma=0.15, counties=40)
    X = np.column_stack([np.ones(len(f)), f["z"]])
    y, base = f["clients"].to_numpy(), f["population_base"].to_numpy()
    beta, _, alpha = mdl.fit_nb(X, y, base)
    m = mdl.fit_nb_county(X, y, base, None, f["county_code"].to_numpy(), (beta, alpha))
    assert 0.22 < m.sd < 0.38
    assert 0.5 * (math.exp(0.15 ** 2) - 1) < m.dispersion[0] < 1.5 * (math.exp(0.15 ** 2) - 1)
    assert alpha > 2 * m.dispersion[0]          # without county effects: both in one α
    assert m.beta[1] == pytest.approx(0.25, abs=0.05)


def _penalised(theta, X, Z, y, base, s2, coef_sd):
    """Poisson log-likelihood (scipy's pmf) with the normal penalties of the joint mode."""
    from scipy.stats import poisson
    k = X.shape[1]
    eta = X @ theta[:k] + Z @ theta[k:]
    return (poisson.logpmf(y, base * np.exp(eta)).sum() - 0.5 * (theta[k:] ** 2).sum() / s2
            - 0.5 * (theta[1:k] ** 2).sum() / coef_sd ** 2)


def test_joint_mode_and_its_covariance_independently():
    """With α → 0 (Poisson), the joint mode of (β, u) maximises the penalised log-likelihood
    written with scipy's Poisson pmf (scipy's optimiser from another start), and the joint
    covariance is the inverse of that function's numerical Hessian (canonical link:
    observed = expected information). A county without fitted rows keeps its prior: variance
    σ_u², no covariance with anything."""
    from scipy.optimize import minimize
    from statsmodels.tools.numdiff import approx_hess

    rng = np.random.default_rng(6)
    f = _population(rng, n=40, county_sd=0.3, sigma=0.2, counties=6)
    county = f["county_code"].to_numpy().copy()
    county[:3] = "99"                                  # a county of rows that are not fitted
    rows = county != "99"
    X = np.column_stack([np.ones(len(f)), f["z"]])
    y, base = f["clients"].to_numpy(), f["population_base"].to_numpy()
    alpha, s2, csd = 1e-7, 0.09, 1.0
    b, u, cov, keys = mdl.joint_mode(X, y, base, rows, county, np.full(len(f), alpha),
                                     np.array([-3.0, 0.0]), s2, coef_sd=csd)
    keys_f = [c for c in keys if c != "99"]
    Z = (county[rows][:, None] == np.array(keys_f)[None, :]).astype(float)
    neg = lambda t: -_penalised(t, X[rows], Z, y[rows], base[rows], s2, csd)  # noqa: E731
    ref = minimize(neg, np.zeros(2 + len(keys_f)), method="BFGS", options={"gtol": 1e-9})
    fitted = np.array([k != "99" for k in keys])
    assert np.allclose(np.concatenate([b, u[fitted]]), ref.x, atol=1e-4)
    assert u[~fitted] == pytest.approx([0.0])
    hess = approx_hess(np.concatenate([b, u[fitted]]), neg)
    idx = np.concatenate([[0, 1], 2 + np.flatnonzero(fitted)])
    assert np.allclose(cov[np.ix_(idx, idx)], np.linalg.inv(hess), rtol=1e-3, atol=1e-9)
    j = 2 + int(np.flatnonzero(~fitted)[0])
    assert cov[j, j] == pytest.approx(s2)
    assert np.allclose(np.delete(cov[j], j), 0.0)


def test_county_variance_by_moments_by_hand():
    """The moment fallback: r_c = log((O + ½)/(E + ½)), v_c = Σ (μ + α μ²) / E², σ_u² =
    Σ (r² − v) / (k − 1); α returned within the county, (1 + α) e^{−σ_u²} − 1."""
    rng = np.random.default_rng(5)
    f = _population(rng, n=150, county_sd=0.3, sigma=0.15)
    c = rng.random(len(f)) < 0.5
    X = np.column_stack([np.ones(len(f)), f["z"]])
    y, base = f["clients"].to_numpy(), f["population_base"].to_numpy()
    beta, _, alpha = mdl.fit_nb(X[c], y[c], base[c])
    mu = base * np.exp(X @ beta)
    d = pd.DataFrame({"k": f["county_code"][c], "o": y[c], "e": mu[c],
                      "v": mu[c] + alpha * mu[c] ** 2}).groupby("k").sum()
    r = np.log((d["o"] + .5) / (d["e"] + .5))
    v = d["v"] / d["e"] ** 2
    s2 = max(0.0, float((r ** 2 - v).sum()) / (len(r) - 1))
    got, a = mdl.county_variance(y, mu, np.full(len(f), alpha), c, f["county_code"].to_numpy())
    assert s2 > 0 and got == pytest.approx(s2, rel=1e-9)
    assert a[0] == pytest.approx((1 + alpha) * math.exp(-s2) - 1, rel=1e-9)
    # the floor
    assert mdl.county_variance(y, mu, np.full(len(f), alpha), c, f["county_code"].to_numpy(),
                               floor=1.0)[0] == 1.0


def _trapezoid_loglike(yc, mu, a, sd):
    """The earlier fixed rule: trapezoid over ±6 sd in steps of 0.2 sd."""
    from scipy.special import logsumexp
    t = np.arange(-6.0, 6.0 + 1e-9, 0.2)
    logw = -0.5 * t ** 2 - np.log(np.exp(-0.5 * t ** 2).sum())
    return float(logsumexp([lw + _nb_logpmf(yc, mu * math.exp(sd * x), a).sum()
                            for x, lw in zip(t, logw)]))


def test_adaptive_quadrature_where_a_fixed_grid_aliases():
    """A county whose own large counts pin its effect down (posterior sd ≈ 0.01) under a
    wide prior (σ_u = 1): the adaptive Gauss–Hermite rule matches scipy's adaptive
    quadrature; the earlier fixed grid (±6σ, step 0.2σ = 0.2, fifty times the posterior
    sd) misses it by far — the aliasing of cause 6."""
    from scipy.integrate import quad
    from scipy.stats import norm

    rng = np.random.default_rng(2)
    mu = np.full(12, 2000.0)
    a = 0.002
    y = rng.negative_binomial(1 / a, 1 / (1 + a * mu * math.exp(0.37))).astype(float)
    cl = mdl.CountyLikelihood(np.log(mu), y, None, np.zeros(12, dtype=int))
    for sd in (1.0, 0.3):
        got = -cl.negloglike(np.array([0.0, math.log(a)]), sd_fixed=sd)[0]
        mode = math.log(y.sum() / mu.sum())
        top = _nb_logpmf(y, mu * math.exp(mode), a).sum()
        val = quad(lambda u, sd=sd, top=top: math.exp(_nb_logpmf(y, mu * math.exp(u), a).sum()
                                                      + norm.logpdf(u, 0, sd) - top),
                   mode - 0.5, mode + 0.5, epsabs=0, epsrel=1e-11, limit=200)[0]
        assert got == pytest.approx(math.log(val) + top, abs=1e-6)
    old = _trapezoid_loglike(y, mu, a, 1.0)
    ref = -cl.negloglike(np.array([0.0, math.log(a)]), sd_fixed=1.0)[0]
    assert abs(old - ref) > 0.5


def test_sd_posterior_is_the_normalised_profile_likelihood():
    """The weights of the σ_u grid are exp(profile log-likelihood) × the trapezoid widths of
    the uniform prior, renormalised; each profile value is the maximum over the intercept
    and the dispersion at that σ (scipy's Nelder–Mead from another start finds no higher
    value); with three counties the posterior of σ_u is wider than with thirty."""
    from scipy.optimize import minimize

    X, y, base, county, beta, alpha = _nb_start(7, 60, 0.25, 0.15, 6)
    post = mdl.sd_posterior(X, y, base, None, county, (beta, alpha))
    sds = np.array([p[0] for p in post])
    ll = np.array([p[3] for p in post])
    edges = np.concatenate([[0.0], (mdl.SD_GRID[1:] + mdl.SD_GRID[:-1]) / 2, [mdl.SD_PRIOR_MAX]])
    width = np.diff(edges)[np.searchsorted(mdl.SD_GRID, sds)]
    w = np.exp(ll - ll.max()) * width
    assert np.allclose([p[1] for p in post], w / w.sum(), rtol=1e-9)
    cl = mdl.CountyLikelihood(np.log(base) + X[:, 1] * beta[1], y, None, county)
    for sd, _, _disp, lv in post[::3]:
        other = minimize(lambda t, sd=sd: cl.negloglike(t, sd_fixed=sd)[0],
                         np.array([beta[0] + 0.3, math.log(alpha)]), method="Nelder-Mead",
                         options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
        assert -other.fun <= lv + 1e-6
        assert -other.fun == pytest.approx(lv, abs=1e-4)

    def spread(counties):
        Xg, yg, bg, cg, b, a = _nb_start(3, 150, 0.25, 0.15, counties)
        p = mdl.sd_posterior(Xg, yg, bg, None, cg, (b, a))
        m = sum(q[1] * q[0] for q in p)
        return math.sqrt(sum(q[1] * (q[0] - m) ** 2 for q in p))
    assert spread(3) > 2 * spread(30)


def _whole_counties(rng, county_sd, counties, joined):
    """A population whose comprehensive municipalities are ``joined`` whole counties of
    ``counties``, and its true total."""
    f = _population(rng, n=160, county_sd=county_sd, sigma=0.2, counties=counties)
    pick = rng.choice(sorted(f["county_code"].unique()), joined, replace=False)
    f["comprehensive"] = f["county_code"].isin(pick)
    return f, f["clients"].sum()


@pytest.mark.slow   # a simulation study of many fits
def test_unknown_county_sd_keeps_coverage_with_few_counties():
    """The project's own model family (log-normal municipalities, county sd 0.25), three
    counties of sixteen joined: the prediction mixed over the posterior of σ_u covers near
    95 %; with σ_u held at its most probable grid value (the plug-in, the safeguard off) it
    covers clearly less (issue 22, cause 2: 77 % with 3 counties). With six counties the
    two differ by one case in 70 here, too little for a test."""
    rng = np.random.default_rng(31)
    hits, plug, reps = 0, 0, 70
    for _ in range(reps):
        f, truth = _whole_counties(rng, 0.25, 16, 3)
        pred = mdl.predict(f, ["z"])
        e, v, o = pred.total()
        _, lo, hi = mdl.interval(e, v, o, 1.96)
        hits += lo <= truth <= hi
        top = max(pred.components, key=lambda c: c.weight)
        one = mdl.Prediction(observed=pred.observed, X=pred.X, county=pred.county,
                             county_keys=pred.county_keys, alpha=pred.alpha, note="",
                             components=[mdl.Component(1.0, top.mean, top.noise_var, top.cov,
                                                       top.sd)])
        e1, v1, o1 = one.total()
        _, lo1, hi1 = mdl.interval(e1, v1, o1, 1.96)
        plug += lo1 <= truth <= hi1
    assert 0.9 <= hits / reps <= 1.0
    assert plug < hits - 6


@pytest.mark.slow   # a simulation study of many fits (about a minute)
def test_county_model_covers_when_whole_counties_join():
    """Kanta joining by whole counties (four of twelve, as in the demo), counties differing
    by 12 %: the county model's intervals cover near 95 %; the same NB without county
    effects (the safeguard off) treats four counties' municipalities as independent and
    covers far less."""
    rng = np.random.default_rng(21)
    hits, plain, reps = 0, 0, 120
    for _ in range(reps):
        f, truth = _whole_counties(rng, 0.12, 12, 4)
        for cty_effect in (True, False):
            e, v, _ = mdl.predict(f, ["z"], county_effect=cty_effect).total()
            ok = abs(e - truth) <= 1.96 * math.sqrt(v)
            hits += ok and cty_effect
            plain += ok and not cty_effect
    assert 0.90 <= hits / reps <= 0.99
    assert plain / reps < 0.85


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


def test_model_risk_makes_a_range_with_its_reason():
    """Each model-risk condition alone turns a point into a range with its code; the
    data-volume conditions still decide between range and none."""
    ok = {**_row(40, 5000, 300_000), "counties_used": 8, "max_std_diff": 0.1,
          "flagged_shift": 500.0}
    assert est.publication_rule(ok)["publish_as"] == "point"
    for change, code in (({"counties_used": 3}, "counties<4"),
                         ({"max_std_diff": 0.25}, "std_diff>0.25"),
                         ({"flagged_shift": -7_100.0}, "flagged_shift")):
        r = est.publication_rule({**ok, **change})
        assert (r["publish_as"], r["rule_reason"]) == ("range", code)
        assert r["range_low"] <= 33_000 and r["range_high"] >= 47_000
    few = {**_row(4, 31, 8_000, estimate=1800.0, lo=1600.0, hi=2000.0), "counties_used": 1}
    assert est.publication_rule(few)["publish_as"] == "none"
    r = est.publication_rule({**ok, "counties_used": 2, "max_std_diff": 0.9})
    assert r["rule_reason"] == "counties<4;std_diff>0.25"
    from seuranta.publication import bookfmt as bf
    text = bf.rule_reason_fi(r["rule_reason"])
    assert "alle 4 hyvinvointialueelta" in text and "yli 0,25" in text and "{" not in text


def test_model_risk_by_hand():
    """Counties with comprehensive municipalities, and the largest |standardised difference|
    (m_C − m_U) / √((s²_C + s²_U) / 2) over the covariates between them and the others."""
    f = pd.DataFrame({"comprehensive": [True, True, True, False, False, False],
                      "county_code": ["01", "01", "02", "02", "03", "03"],
                      "a": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0], "b": [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]})
    r = est.model_risk(f, ["a", "b"])
    sc = np.var([1.0, 2.0, 3.0])
    assert r["counties_used"] == 2
    assert r["max_std_diff"] == pytest.approx(abs(2.0 - 3.0) / math.sqrt((sc + sc) / 2))


def _under_delivering():
    """A frame whose largest comprehensive municipality delivers a third of its clients and
    is flagged: (frame, its row, the true national total)."""
    rng = np.random.default_rng(5)
    f = _population(rng, n=120, sigma=0.15, county_sd=0.05)
    f["comprehensive"] = rng.random(len(f)) < 0.6
    big = int(f.loc[f["comprehensive"], "population_base"].idxmax())
    truth = f["clients"].sum()
    f.loc[big, "clients"] = round(f.loc[big, "clients"] / 3)
    f["flagged"] = False
    f.loc[big, "flagged"] = True
    return f, big, truth


def test_flagged_hull_covers_an_under_delivering_municipality():
    """A large comprehensive municipality delivers a third of its clients and is flagged:
    the interval of the model row holds the estimate without it (the hull), which covers
    the truth; the interval with it alone (the safeguard off) does not. The county rows
    take the hull too."""
    f, big, truth = _under_delivering()
    hull = {"published_method": "model", "flagged_interval": "hull"}
    rows, pred = est.estimate_with_prediction(f, ["z"], hull)
    m = rows[1]
    e, v, o = pred.total()
    _, lo, hi = mdl.interval(e, v, o, 1.96)
    assert not lo <= truth <= hi
    assert m["ci_low"] <= truth <= m["ci_high"]
    assert m["ci_low"] == pytest.approx(lo) and m["ci_high"] > hi
    assert m["flagged_shift"] > 0
    nf = pred.fit["without_flagged"]
    assert nf.observed[big] == 0 and nf.mean[big] > 0
    cty = pd.DataFrame(sa.county_rows(pred, f, m, hull, without_flagged=nf)).set_index(
        "county_code")
    c = f.loc[big, "county_code"]
    cmask = f["county_code"].to_numpy() == c
    ce, cv, co = pred.total(cmask)
    assert cty.loc[c, "ci_high"] > mdl.interval(ce, cv, co, 1.96)[2]
    # the coverage study's diagnostic computes the mixture beside the hull, which stays
    diag, _ = est.estimate_with_prediction(f, ["z"], hull, diagnose=True)
    assert (diag[1]["ci_low"], diag[1]["ci_high"]) == (m["ci_low"], m["ci_high"])
    assert "mixture_low" not in m and diag[1]["mixture_low"] <= truth <= diag[1]["mixture_high"]


MIXTURE = {"published_method": "model", "flagged_interval": "mixture"}


def test_flagged_mixture_covers_an_under_delivering_municipality():
    """A large comprehensive municipality delivers a third of its clients and is flagged:
    its count is almost surely wrong against the prediction made without it, so the
    mixture's interval moves up to the estimate without it and covers the truth; the
    interval with it alone (the safeguard off) does not. The county rows take the mixture
    too."""
    f, big, truth = _under_delivering()
    rows, pred = est.estimate_with_prediction(f, ["z"], MIXTURE)
    m = rows[1]
    e, v, o = pred.total()
    _, lo, hi = mdl.interval(e, v, o, 1.96)
    assert not lo <= truth <= hi
    assert m["ci_low"] <= truth <= m["ci_high"]
    assert (m["ci_low"], m["ci_high"]) == (m["mixture_low"], m["mixture_high"])
    assert m["ci_high"] > hi and m["flagged_shift"] > 0
    fm = pred.fit["flag_mixture"]
    assert list(fm.rows) == [big] and fm.prob[0] > 0.99
    assert m["flagged_expected_shift"] == pytest.approx(fm.prob[0] * m["flagged_shift"],
                                                        rel=1e-9)
    cty = pd.DataFrame(sa.county_rows(pred, f, m, MIXTURE, flags=fm)).set_index("county_code")
    c = f.loc[big, "county_code"]
    cmask = f["county_code"].to_numpy() == c
    ce, cv, co = pred.total(cmask)
    assert cty.loc[c, "ci_high"] > mdl.interval(ce, cv, co, 1.96)[2]


def _nb_pmf(y, m, a):
    r = 1 / a
    return stats.nbinom.pmf(y, r, r / (r + m))


@pytest.mark.parametrize("y,m,a", [(40, 100.0, 0.15), (0, 30.0, 0.4), (1, 5.0, 0.1),
                                   (900, 1000.0, 0.02), (350, 120.0, 0.3)])
def test_flag_error_likelihood_is_the_integral_over_the_delivered_fraction(y, m, a):
    """½ ∫₀¹ NB(y; f m, α) df + ½ ∫₀¹ NB(y; m/f, α) df by numerical integration of
    scipy's NB pmf (the code uses incomplete beta functions); an over-count of y < 2 is
    impossible."""
    low = integrate.quad(lambda f: _nb_pmf(y, f * m, a), 0, 1, points=[min(y / m, 1)],
                         limit=400, epsabs=0)[0]
    high = (integrate.quad(lambda f: _nb_pmf(y, m / f, a), 0, 1,
                           points=[min(m / y, 1)] if y else None, limit=400, epsabs=0)[0]
            if y >= 2 else 0.0)
    got = float(np.exp(mdl.flag_error_loglik(np.array([y]), np.array([m]), np.array([a]))[0]))
    assert got == pytest.approx((low + high) / 2, rel=1e-6)
    assert float(np.exp(mdl.nb_logpmf(np.array([y]), np.array([m]), np.array([a]))[0])) \
        == pytest.approx(_nb_pmf(y, m, a), rel=1e-9)


def test_flag_error_posterior_by_hand_and_it_rises_with_inconsistency():
    """p = π L_err / (π L_err + (1 − π) L_ok), L_ok the NB pmf with α = (V − m) / m²;
    a count far below (or above) its prediction is more probably wrong than one near it,
    and the prior 0 / 1 gives 0 / 1."""
    m, v, prior = 200.0, 200.0 + 0.12 * 200.0 ** 2, 0.3
    a = (v - m) / m ** 2
    ys = np.array([200.0, 120.0, 60.0, 500.0])
    p = mdl.flag_error_posterior(ys, np.full(4, m), np.full(4, v), prior)
    for y, got in zip(ys, p):
        low = integrate.quad(lambda f, y=y: _nb_pmf(y, f * m, a), 0, 1, points=[y / m],
                             limit=400)[0]
        high = integrate.quad(lambda f, y=y: _nb_pmf(y, m / f, a), 0, 1,
                              points=[min(m / y, 1)], limit=400)[0]
        err = prior * (low + high) / 2
        assert got == pytest.approx(err / (err + (1 - prior) * _nb_pmf(y, m, a)), rel=1e-6)
    assert p[0] < p[1] < p[2] and p[3] > p[0]
    assert list(mdl.flag_error_posterior(ys, np.full(4, m), np.full(4, v), 0.0)) == [0.0] * 4


def test_the_mixture_weight_rises_when_a_flagged_count_disagrees_with_the_model():
    """The same flagged municipality with its true count, and with a fifth of it: the
    posterior probability of a wrong count rises, and the interval reaches further up
    (a fixed weight would move neither)."""
    rng = np.random.default_rng(11)
    f = _population(rng, n=100, sigma=0.2, county_sd=0.05)
    f["comprehensive"] = rng.random(len(f)) < 0.6
    i = int(f.loc[f["comprehensive"], "population_base"].idxmax())
    f["flagged"] = f.index == i
    out = []
    for y in (f.loc[i, "clients"], round(f.loc[i, "clients"] / 5)):
        g = f.assign(clients=np.where(f.index == i, y, f["clients"]))
        rows, pred = est.estimate_with_prediction(g, ["z"], MIXTURE)
        out.append((pred.fit["flag_mixture"].prob[0], rows[1]))
    (p_true, m_true), (p_low, m_low) = out
    assert p_low > 0.9 > 0.6 > p_true
    assert (m_low["ci_high"] - m_low["estimate"]) > (m_true["ci_high"] - m_true["estimate"])


def test_mixture_totals_equal_the_enumeration_of_right_and_wrong_counts():
    """Two flagged municipalities: the mixture's mean, variance and expected observed
    part equal those of the four states (each count right or wrong, independently with its
    probability), each state's total the estimate plus the shifts δ_i of its wrong counts
    and its variance the model's plus their ΔV_i (law of total variance); p = 0 / 1 gives
    the model / the model without the municipality."""
    rng = np.random.default_rng(4)
    f = _population(rng, n=90, sigma=0.2, county_sd=0.1)
    f["comprehensive"] = rng.random(len(f)) < 0.6
    two = f.index[f["comprehensive"]][:2]
    flagged = f.index.isin(two)
    pred = mdl.predict(f, ["z"])
    fm = mdl.flag_mixture(pred, f, flagged, 0.5)
    fm.prob = np.array([0.3, 0.8])
    allrows = np.ones(len(f), int)
    got = mdl.mixture_totals(pred, fm, allrows).iloc[0]
    e0, v0, o0 = pred.total()
    sing = [s.total() for s in fm.singles]
    d = [s[0] - e0 for s in sing]
    dv = [s[1] - v0 for s in sing]
    do = [o0 - s[2] for s in sing]
    states = []
    for w1 in (0, 1):
        for w2 in (0, 1):
            pr = (fm.prob[0] if w1 else 1 - fm.prob[0]) * (fm.prob[1] if w2 else 1 - fm.prob[1])
            states.append((pr, e0 + w1 * d[0] + w2 * d[1], v0 + w1 * dv[0] + w2 * dv[1],
                           o0 - w1 * do[0] - w2 * do[1]))
    mean = sum(pr * t for pr, t, _, _ in states)
    var = sum(pr * (v + (t - mean) ** 2) for pr, t, v, _ in states)
    assert got["estimate"] == pytest.approx(e0) and got["mean"] == pytest.approx(mean)
    assert got["mixture_variance"] == pytest.approx(var)
    assert got["mixture_observed"] == pytest.approx(sum(pr * o for pr, _, _, o in states))
    fm.prob = np.array([1.0, 0.0])
    one = mdl.mixture_totals(pred, fm, allrows).iloc[0]
    assert (one["mean"], one["mixture_variance"], one["mixture_observed"]) == \
        pytest.approx(sing[0])


def test_mixture_interval_is_the_lognormal_of_the_mixture_moments():
    """O + P exp(−s²/2 ± z s) with s² = log(1 + V/P²), P = mean − O, checked against
    scipy's log-normal of that mean and variance (its quantiles at Φ(∓z)); widened to hold
    the published point when it lies outside."""
    mean, var, obs, z = 1300.0, 150.0 ** 2, 300.0, 1.96
    lo, hi = mdl.mixture_interval(mean, var, obs, z)
    s = math.sqrt(math.log(1 + var / (mean - obs) ** 2))
    ln = stats.lognorm(s, scale=(mean - obs) * math.exp(-s * s / 2))
    assert ln.mean() == pytest.approx(mean - obs) and ln.var() == pytest.approx(var)
    assert (lo, hi) == pytest.approx((obs + ln.ppf(stats.norm.cdf(-z)),
                                      obs + ln.ppf(stats.norm.cdf(z))))
    assert mdl.mixture_interval(mean, var, obs, z, point=2000.0) == pytest.approx((lo, 2000.0))
    assert mdl.mixture_interval(mean, var, obs, z, point=1200.0) == pytest.approx((lo, hi))


def test_without_every_comprehensive_municipality_the_rule_gives_a_range():
    """When (nearly) every comprehensive municipality is flagged there is no estimate
    without them: the model row keeps its own interval, and the rule publishes a range
    with the reason flagged_shift instead of a point."""
    rng = np.random.default_rng(9)
    f = _population(rng, n=80, sigma=0.15)
    f["comprehensive"] = rng.random(len(f)) < 0.5
    f["flagged"] = f["comprehensive"]
    with pytest.raises(mdl.ModelFitError):
        mdl.without(mdl.predict(f, ["z"]), f, f["flagged"].to_numpy())
    rows, _ = est.estimate_with_prediction(
        f, ["z"], {"published_method": "model",
                   "publication_rule": {**est.RULE_DEFAULTS, "point_min_base_pct": 0.0,
                                        "point_min_counties": 0}})
    m = rows[1]
    assert math.isinf(m["flagged_shift"]) and np.isfinite(m["estimate"])
    assert m["publish_as"] == "range" and "flagged_shift" in m["rule_reason"]


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
    assert "| 4 000–7 000 | . | 40 | 4/10 |" in md[3]      # a range: no interval
    assert md[4].endswith("| .. | .. | .. | 10/10 (kaikki) |")
    assert compare.task_county_table_md(tmp_path, "2023Q3", "vammaispalvelut") is None


def test_estimate_state_follows_the_rule():
    from seuranta.publication import bookfmt as bf

    # a range row as the gate publishes it: the share range is the gate's (no writer
    # divides the range by the base)
    e = pd.Series({"publish_as": "range", "national_base": 1e6, "range_low": 30000.0,
                   "range_high": 50000.0, "range_low_pct": 3.0, "range_high_pct": 5.0,
                   "estimate_rounded": 40000, "share_pct": 4.0,
                   "rule_reason": "base_share<20;municipalities<20"})
    assert [s.replace("\xa0", " ") for s in bf.estimate_state(e)] == ["30 000–50 000",
                                                                       "3,0–5,0 %"]
    e["publish_as"] = "none"
    assert bf.estimate_state(e) == (
        "ei arviota", "kattavien kuntien osuus väestöpohjasta alle 20\xa0%; "
        "kattavien kuntien määrä alle 20")
    e["publish_as"] = "point"
    assert bf.estimate_state(e)[0].replace("\xa0", " ") == "40 000"


def test_logsumexp_rows_is_scipys_bit_for_bit():
    """The likelihood's log-sum-exp over the quadrature nodes gives scipy's floats exactly
    (the fits, and every published estimate, unchanged), ties and edge cases included, and
    the log of the sum of the exponentials written out."""
    from scipy.special import logsumexp

    from seuranta.statistics.model import logsumexp_rows

    rng = np.random.default_rng(3)
    for i in range(500):
        k, q = rng.integers(1, 40), rng.integers(1, 25)
        a = rng.normal(scale=[1e-3, 1.0, 30.0, 300.0][i % 4], size=(k, q))
        a += rng.normal(scale=100.0, size=(k, 1))
        if i % 5 == 0 and q > 1:
            a[:, 1] = a[:, 0]                                # ties at the maximum
        got = logsumexp_rows(a)
        assert np.array_equal(got, logsumexp(a, axis=1))
        assert np.allclose(got, [math.log(sum(math.exp(v - r.max()) for v in r)) + r.max()
                                 for r in a], rtol=1e-13, atol=1e-13)
    edge = np.array([[1.0, -np.inf, 2.0], [np.inf, 1.0, 2.0], [np.nan, 1.0, 2.0],
                     [-np.inf, -np.inf, -np.inf]])
    np.testing.assert_array_equal(logsumexp_rows(edge), logsumexp(edge, axis=1))


def test_mixture_quantiles_against_scipys_lognormals():
    """The Φ(∓z) quantiles of the equal-weight mixture of two totals O_k + P_k (P_k
    log-normal with mean P̂_k and variance V_k) equal those found by scipy's root finder on
    the mixture of scipy's log-normals, and the mass between them (numerical integration of
    the mixture's density) is 1 − 2Φ(−z); one component alone gives :func:`interval`; a
    component with no variance is a point mass at its estimate."""
    z = 1.96
    a, b = (1300.0, 150.0 ** 2, 300.0), (1500.0, 120.0 ** 2, 250.0)

    def dist(e, v, o):
        s = math.sqrt(math.log(1 + v / (e - o) ** 2))
        return stats.lognorm(s, loc=o, scale=(e - o) * math.exp(-s * s / 2))

    da, db = dist(*a), dist(*b)
    lo, hi = mdl.mixture_quantiles([a, b], z)
    for q, x in ((stats.norm.cdf(-z), lo), (stats.norm.cdf(z), hi)):
        root = optimize.brentq(lambda t, q=q: (da.cdf(t) + db.cdf(t)) / 2 - q, 300.0, 5000.0,
                               xtol=1e-10)
        assert x == pytest.approx(root, rel=1e-9)
    mass, _ = integrate.quad(lambda t: (da.pdf(t) + db.pdf(t)) / 2, lo, hi)
    assert mass == pytest.approx(1 - 2 * stats.norm.cdf(-z), abs=1e-8)
    # each end lies between the components' own (narrower than their hull)
    ia, ib = mdl.interval(*a, z)[1:], mdl.interval(*b, z)[1:]
    assert ia[0] < lo < ib[0] and ia[1] < hi < ib[1]
    assert mdl.mixture_quantiles([a], z) == pytest.approx(ia, rel=1e-12)
    assert mdl.mixture_quantiles([a, a], z) == pytest.approx(ia, rel=1e-12)
    # a point mass at 1200 with weight ½: the low quantile is the lognormal's Φ(−z)·2
    # quantile, the high one the point (the mixture's cdf jumps over Φ(z) there)
    lo2, hi2 = mdl.mixture_quantiles([(1200.0, 0.0, 1200.0), a], z)
    assert lo2 == pytest.approx(da.ppf(2 * stats.norm.cdf(-z)), rel=1e-9)
    assert hi2 == pytest.approx(da.ppf(2 * stats.norm.cdf(z) - 1), rel=1e-9)


def _earlier_float(parts, z, q, k):
    """The float model.mixture_quantiles gave before issue 24 (05af1b1) for level ``q``:
    the smallest float t between the components' own ends (``interval``'s item ``k``) at
    which its distribution function, evaluated as it was then (log-normal parts by
    math.log1p, math.log and math.erfc, weighted by a numpy array, a point mass at the
    estimate), reaches ``q`` (the upper end when it never does): found by a search over
    the floats' bit patterns, not by halving the interval."""
    w = np.full(len(parts), 1.0 / len(parts))
    w = w / w.sum()

    def phi(x):
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    def one(t, e, v, o):
        p = e - o
        if p <= 0 or v <= 0:
            return 1.0 if t >= e else 0.0
        if t <= o:
            return 0.0
        s2 = math.log1p(v / (p * p))
        return phi((math.log(t - o) - math.log(p) + s2 / 2) / math.sqrt(s2))

    def cdf(t):
        return sum(wi * one(t, e, v, o) for wi, (e, v, o) in zip(w, parts))

    ends = [mdl.interval(e, v, o, z)[k] for e, v, o in parts]
    lo, hi = min(ends), max(ends)
    if cdf(lo) >= q:
        return lo
    # positive floats are ordered as their bit patterns: a search over the integers
    a, b = (int(np.float64(x).view(np.int64)) for x in (lo, hi))
    while b - a > 1:
        m = (a + b) // 2
        if cdf(float(np.int64(m).view(np.float64))) >= q:
            b = m
        else:
            a = m
    return float(np.int64(b).view(np.float64))


def test_mixture_quantiles_row_by_row_against_brentq_and_the_earlier_floats():
    """Many random pairs like the model's and county rows' (own, without the flagged), some
    with a point mass: each interval equals the one scipy's brentq finds on the mixture of
    scipy's log-normals (an independent computation), and is the same float as the
    implementation before issue 24 (the published tables' bytes)."""
    rng = np.random.default_rng(24)
    z = 1.959963984540054
    checked = 0
    for i in range(300):
        e1 = float(rng.uniform(50, 60000))
        o1 = float(e1 * rng.uniform(0.0, 0.95))
        v1 = float((e1 - o1) ** 2 * rng.uniform(0.001, 0.5))
        e2 = float(e1 * rng.uniform(0.8, 1.3))
        o2 = float(min(o1 * rng.uniform(0.7, 1.0), e2 * 0.99))
        v2 = float((e2 - o2) ** 2 * rng.uniform(0.001, 0.5))
        if i % 25 == 0:
            v2 = 0.0                      # a component without variance: a point mass
        parts = [(e1, v1, o1), (e2, v2, o2)]
        got = mdl.mixture_quantiles(parts, z)
        for j, k in enumerate((1, 2)):     # Φ(∓z) as the implementation computes it
            q = 0.5 * math.erfc((z if k == 1 else -z) / math.sqrt(2.0))
            assert got[j] == _earlier_float(parts, z, q, k)
        if v2 == 0.0:
            continue
        dists = [stats.lognorm(math.sqrt(math.log1p(v / (e - o) ** 2)), loc=o,
                               scale=(e - o) * math.exp(-math.log1p(v / (e - o) ** 2) / 2))
                 for e, v, o in parts]
        lo_b, hi_b = min(o1, o2), 20 * max(e1, e2)
        for q, x in ((stats.norm.cdf(-z), got[0]), (stats.norm.cdf(z), got[1])):
            root = optimize.brentq(lambda t, q=q, d=dists: (d[0].cdf(t) + d[1].cdf(t)) / 2 - q,
                                   lo_b, hi_b, xtol=1e-12, rtol=1e-14)
            assert x == pytest.approx(root, rel=1e-9)
        checked += 1
    assert checked >= 280


def _mixture_of_two(own, alt, z):
    """Φ(∓z) quantiles of ½ (O + LN) + ½ (O₂ + LN₂) by scipy (independent of the package)."""
    def dist(e, v, o):
        s = math.sqrt(math.log(1 + v / (e - o) ** 2))
        return stats.lognorm(s, loc=o, scale=(e - o) * math.exp(-s * s / 2))

    da, db = dist(*own), dist(*alt)
    lo_end, hi_end = min(own[2], alt[2]), 10 * max(own[0], alt[0])
    return tuple(optimize.brentq(lambda t, q=q: (da.cdf(t) + db.cdf(t)) / 2 - q, lo_end,
                                 hi_end,
                                 xtol=1e-9)
                 for q in (stats.norm.cdf(-z), stats.norm.cdf(z)))


def test_flagged_average_is_the_mixture_of_both_predictions_nationally_and_by_county():
    """With ``flagged_interval: average`` the model row's interval is the central 95 % of
    the equal-weight mixture of the prediction with the flagged municipality counted and
    with it predicted (scipy's quantiles of the two log-normal totals), as is each county's;
    its upper end lies between the own interval's and the hull's. Bypassing the
    construction (the hull, or the own interval) fails the equality."""
    f, big, truth = _under_delivering()
    av = {"published_method": "model", "flagged_interval": "average"}
    rows, pred = est.estimate_with_prediction(f, ["z"], av)
    hull, _ = est.estimate_with_prediction(f, ["z"], {**av, "flagged_interval": "hull"})
    m, nf = rows[1], pred.fit["without_flagged"]
    own, alt = pred.total(), nf.total()
    want = _mixture_of_two(own, alt, 1.96)
    assert (m["ci_low"], m["ci_high"]) == pytest.approx(want, rel=1e-7)
    _, _, own_hi = mdl.interval(*own, 1.96)
    assert own_hi < m["ci_high"] < hull[1]["ci_high"]
    assert m["estimate"] == hull[1]["estimate"] and m["se"] == hull[1]["se"]
    c = f.loc[big, "county_code"]
    cmask = f["county_code"].to_numpy() == c
    cty = pd.DataFrame(sa.county_rows(pred, f, m, av, without_flagged=nf)).set_index(
        "county_code")
    assert (cty.loc[c, "ci_low"], cty.loc[c, "ci_high"]) == pytest.approx(
        _mixture_of_two(pred.total(cmask), nf.total(cmask), 1.96), rel=1e-7)
    # a county without the flagged municipality: both predictions nearly agree, and its
    # interval is the mixture of the two all the same
    other = next(k for k in cty.index if k != c and not cty.loc[k, "comprehensive"])
    om = f["county_code"].to_numpy() == other
    assert (cty.loc[other, "ci_low"], cty.loc[other, "ci_high"]) == pytest.approx(
        _mixture_of_two(pred.total(om), nf.total(om), 1.96), rel=1e-7)
