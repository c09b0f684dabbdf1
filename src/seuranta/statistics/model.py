"""The count model behind the ``model`` estimate and the county (small-area) estimates.

Fitted on the comprehensive municipalities of one quarter × task, it predicts the clients of
every other municipality. Municipalities genuinely differ (by tens of per cent, whatever
their size), so the model's variance must grow faster than its mean:

**Negative binomial (NB2) regression** with the log population base as exposure and the
municipal covariates (standardised over the mainland)::

    Y_i ~ NB(μ_i, α),  log μ_i = log base_i + x_iᵀβ,  Var(Y_i) = μ_i + α μ_i²

fitted by maximum likelihood (statsmodels ``NegativeBinomial``, ``nb2``; the start of the
county model below). α is the
between-municipality variance on the log scale (for a log-normal municipal effect of sd σ,
α = exp(σ²) − 1 ≈ σ²) plus nothing for count noise (that is the μ term).

**County random effect.** Counties differ too, and Kanta joining is clustered by county: the
comprehensive municipalities often come from four counties. The mean of municipality i of
county c is μ_i e^{u_c}, u_c ~ N(0, σ_u²). The within-county dispersion α_i and σ_u are
estimated by maximum of the marginal likelihood, u integrated out numerically
(:func:`fit_nb_county`; the intercept free, the covariates' coefficients held at the NB
fit's); σ_u is never below ``estimate.model_county_sd_min`` and is fixed
there when the comprehensive municipalities come from fewer than ``MIN_COUNTIES``
counties (a few counties cannot show that the others are alike). Given α and σ_u, β̂ and
the county effects û (every county; those without data stay at 0) are solved jointly
(:func:`joint_mode`, Henderson's mixed model equations, with a weak prior of sd
``COEF_PRIOR_SD`` on the covariates' coefficients), and V = H⁻¹, the inverse of the joint
information, is the error covariance of (β̂, û). Its cross terms matter: where a county has
data, an error in β̂ is offset by one in û_c. (When the marginal fit fails, σ_u² comes from
moments over the counties and α is made within-county, :func:`county_variance`.)

**The predictive variance of a total** over a set A of municipalities (the mainland for
the national estimate, a county for a county estimate): the estimate is
T̂_A = Σ_{A∩C} y_i + Σ_{A∩U} μ'_j (C comprehensive: observed; U the others: predicted,
μ'_j = base_j exp(x_jᵀβ̂ + û_c + ½ V_{u_c}), the mean over the effect's error). The
unobserved counts are independent of the fit given the county effects, so::

    Var(T_A − T̂_A) = Σ_{A∩U} (μ'_j + α_j μ'_j²)    NB noise of each predicted municipality
                   + gᵀ V g                         parameters and county effects (delta
                                                      method), g = (Σ_{A∩U} μ'_j x_j,
                                                      (Σ_{A∩U∩c} μ'_j)_c)

The covariates of a predicted municipality are clipped to the range of the fitted ones
(no extrapolation: when only large towns are comprehensive, the smallest municipalities
are predicted as the smallest of them would be). The uncertainty of α and σ_u is ignored.
The interval is T̂ ± z·SE, its lower end never below the observed Σ_{A∩C} y_i (the total
cannot be lower).

With fewer than ``3 × (covariates + 1)`` comprehensive municipalities the covariates are
dropped (intercept only; ``note`` says so); when the NB fit fails (e.g. no extra-Poisson
variance: the likelihood is maximised at α → 0) the model is a Poisson GLM with a robust
covariance and α by moments, then the same two with an intercept only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

NOTE_FALLBACK = "model_fallback_intercept_only"
NOTE_POISSON = "model_fallback_poisson"
NOTE_MOMENTS = "model_county_moments"

#: Prior sd of a covariate's coefficient (standardised covariate, log scale) in the joint
#: fit: weak (one sd of a covariate multiplying the share by e is far beyond what municipal
#: structure does), it only keeps collinear covariates of a few, similar comprehensive
#: municipalities from trading huge opposite coefficients that explode a prediction.
COEF_PRIOR_SD = 1.0

#: Fewest counties with comprehensive municipalities for a county effect.
MIN_COUNTIES = 4

#: Dispersion models (parameter ``estimate.model_dispersion``).
DISPERSIONS = ("size", "constant")


def design(frame: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    """Intercept + covariates standardised over all rows of ``frame`` (the mainland)."""
    cols = [np.ones(len(frame))]
    for c in covariates:
        v = frame[c].to_numpy(float)
        sd = v.std()
        cols.append((v - v.mean()) / sd if sd > 0 else v * 0.0)
    return np.column_stack(cols)


def fit_nb(X: np.ndarray, y: np.ndarray, exposure: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """NB2 maximum likelihood: (β, Cov(β̂), α). Raises RuntimeError when it fails."""
    import statsmodels.api as sm  # heavy dependency: loaded only when used

    k = X.shape[1]
    model = sm.NegativeBinomial(y, X, exposure=exposure, loglike_method="nb2")
    for method in ("newton", "bfgs", "nm"):        # Newton is fast; the others are sturdier
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = model.fit(disp=0, method=method, maxiter=100 if method == "newton"
                                else 2000)
            except Exception:  # noqa: BLE001 - numerical failure: the next method
                continue
        p = np.asarray(res.params, float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov = np.asarray(res.cov_params(), float)
        if (res.mle_retvals.get("converged", True) and np.all(np.isfinite(p))
                and np.all(np.isfinite(cov)) and p[-1] > 0 and np.all(np.diag(cov) >= 0)):
            break
    else:
        raise RuntimeError("negative binomial fit did not converge")
    return p[:k], cov[:k, :k], float(p[-1])


def _nb_loglike_grad(params, X, y, exposure, w):
    """−log-likelihood and its gradient of NB2 with α_i = exp(θ0) + exp(θ1) w_i."""
    from scipy.special import digamma, gammaln  # heavy dependency: loaded only when used

    k = X.shape[1]
    beta = params[:k]
    ea = math.exp(min(max(params[k], -30.0), 5.0))
    eb = math.exp(min(max(params[k + 1], -30.0), 5.0))
    mu = exposure * np.exp(np.clip(X @ beta, -50, 50))
    a = ea + eb * w
    r = 1.0 / a
    ll = (gammaln(y + r) - gammaln(r) - gammaln(y + 1) + r * np.log(r / (r + mu))
          + y * np.log(np.where(mu > 0, mu, 1e-300) / (r + mu)))
    d_eta = (y - mu) / (1 + a * mu)
    d_a = -(digamma(y + r) - digamma(r) + np.log(r / (r + mu)) + 1 - (r + y) / (r + mu)) * r * r
    g = np.concatenate([X.T @ d_eta, [(d_a * ea).sum(), (d_a * eb * w).sum()]])
    return -float(ll.sum()), -g


def fit_nb_size(X: np.ndarray, y: np.ndarray, exposure: np.ndarray, w: np.ndarray,
                start: tuple[np.ndarray, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NB2 whose dispersion has a structural part and a part that shrinks with size,
    α_i = exp(θ0) + exp(θ1) w_i, w_i = median population / population_i, by maximum
    likelihood (analytic gradient; the covariance from the numerical Hessian of the score,
    statsmodels' ``approx_fprime``): (β, Cov(β̂), (exp θ0, exp θ1)). θ1 → −∞ is the
    constant-α NB2 of :func:`fit_nb` (``start``)."""
    from scipy.optimize import minimize  # heavy dependency: loaded only when used
    from statsmodels.tools.numdiff import approx_fprime

    k = X.shape[1]
    a0 = max(start[1], 1e-6)
    best = None
    for split in (0.5,):                       # start: α shared between the two parts
        x0 = np.concatenate([start[0], [math.log(a0 * (1 - split)), math.log(a0 * split)]])
        res = minimize(_nb_loglike_grad, x0, args=(X, y, exposure, w), jac=True,
                       method="BFGS", options={"gtol": 1e-6, "maxiter": 500})
        if res.success and np.all(np.isfinite(res.x)) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise RuntimeError("size-dependent NB fit did not converge")
    h = approx_fprime(best.x[:k], lambda b: _nb_loglike_grad(
        np.concatenate([b, best.x[k:]]), X, y, exposure, w)[1][:k], centered=True)
    cov = np.linalg.inv((h + h.T) / 2)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
        raise RuntimeError("size-dependent NB fit: singular information")
    return best.x[:k], cov, np.exp(best.x[k:])


def fit_poisson(X: np.ndarray, y: np.ndarray, exposure: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """Poisson GLM with log exposure as offset, the fallback when the NB fit fails:
    (β, robust (HC0) Cov(β̂), α by moments = max(0, Σ ((y − μ)² − μ) / μ² / (n − k)))."""
    import statsmodels.api as sm  # heavy dependency: loaded only when used

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(exposure)).fit(
            cov_type="HC0")
    if not np.all(np.isfinite(res.params)):
        raise RuntimeError("Poisson fit failed")
    mu = np.asarray(res.fittedvalues, float)
    df = max(len(y) - X.shape[1], 1)
    ok = mu > 0
    alpha = max(0.0, float((((y - mu) ** 2 - mu)[ok] / mu[ok] ** 2).sum() / df))
    return np.asarray(res.params, float), np.asarray(res.cov_params(), float), alpha


@dataclass
class Prediction:
    """A fitted model's prediction for every municipality of a frame (row order kept).

    ``cov`` is the joint error covariance of (β̂, û) — β̂ first, then one county effect per
    ``county_keys`` (none without a county effect) — so that a total's variance is
    gᵀ cov g with g = (Σ μ'_j x_j, Σ_{j ∈ c} μ'_j per county)."""

    observed: np.ndarray      # y_i of comprehensive rows, 0 elsewhere
    mean: np.ndarray          # μ'_j of predicted rows, 0 on comprehensive rows
    noise_var: np.ndarray     # μ'_j + α μ'_j² of predicted rows, 0 elsewhere
    X: np.ndarray             # design matrix (all rows)
    cov: np.ndarray           # joint Cov of (β̂, û)
    county: np.ndarray        # county code of each row
    county_keys: np.ndarray   # the counties of the effects in ``cov`` (empty: none)
    alpha: np.ndarray         # α_i of every row
    sigma_u2: float
    note: str

    def _gradient(self, inv: np.ndarray, k: int) -> np.ndarray:
        """g of every group (rows: groups ``0..k-1`` given per row by ``inv``)."""
        G = np.zeros((k, self.X.shape[1] + len(self.county_keys)))
        np.add.at(G[:, :self.X.shape[1]], inv, self.mean[:, None] * self.X)
        if len(self.county_keys):
            ci = np.searchsorted(self.county_keys, self.county)
            np.add.at(G, (inv, self.X.shape[1] + ci), self.mean)
        return G

    def total(self, rows: np.ndarray | None = None) -> tuple[float, float, float]:
        """(estimate, variance, observed part) of the total over ``rows`` (bool mask; all)."""
        m = np.ones(len(self.mean), bool) if rows is None else np.asarray(rows, bool)
        t = self.group_totals(np.where(m, 1, 0)).set_index("group")
        if 1 not in t.index:
            return 0.0, 0.0, 0.0
        r = t.loc[1]
        return float(r["estimate"]), max(float(r["variance"]), 0.0), float(r["observed"])

    def group_totals(self, groups: np.ndarray) -> pd.DataFrame:
        """Estimate, variance and observed part per group (e.g. county) of a partition of
        the rows."""
        groups = np.asarray(groups)
        keys, inv = np.unique(groups, return_inverse=True)
        k = len(keys)
        est = np.bincount(inv, weights=self.mean, minlength=k)
        obs = np.bincount(inv, weights=self.observed, minlength=k)
        noise = np.bincount(inv, weights=self.noise_var, minlength=k)
        G = self._gradient(inv, k)
        par = np.einsum("ij,jk,ik->i", G, self.cov, G)
        return pd.DataFrame({"group": keys, "estimate": obs + est, "variance": noise + par,
                             "observed": obs})


def size_term(frame: pd.DataFrame) -> np.ndarray | None:
    """w_i = median population / population_i over the frame's rows (the mainland), or
    None without a positive ``population`` column."""
    if "population" not in frame.columns:
        return None
    p = frame["population"].to_numpy(float)
    if not np.all(p > 0):
        return None
    return np.median(p) / p


def predict(frame: pd.DataFrame, covariates: list[str], county_effect: bool = True,
            dispersion: str = "size", county_sd_min: float = 0.0) -> Prediction:
    """Fit the NB model on the comprehensive rows of ``frame`` and predict the others.

    ``frame``: one row per mainland municipality with clients, population_base,
    comprehensive (bool), the covariates and (for the county effect) county_code. Requires
    at least one comprehensive row with a positive base.
    """
    comp = frame["comprehensive"].to_numpy(bool)
    base = frame["population_base"].to_numpy(float)
    y = frame["clients"].to_numpy(float)
    fit_rows = comp & (base > 0)
    n = int(fit_rows.sum())
    covs = list(covariates)
    note = ""
    if n < 3 * (len(covs) + 1):
        covs, note = [], NOTE_FALLBACK
    if dispersion not in DISPERSIONS:
        raise ValueError(f"dispersion must be one of {', '.join(DISPERSIONS)}, got {dispersion!r}")
    size = size_term(frame) if dispersion == "size" else None
    X, beta, cov, alpha, how, w = _fit_chain(frame, covs, y, base, fit_rows, size)
    note = note or how
    # no extrapolation: a predicted municipality's covariates are clipped to the range of the
    # fitted ones (the comprehensive set may be, say, large towns only)
    X = np.clip(X, X[fit_rows].min(axis=0), X[fit_rows].max(axis=0))
    county = (frame["county_code"].astype(str).to_numpy() if "county_code" in frame.columns
              else np.full(len(frame), ""))
    keys = np.array([], dtype=str)
    sigma_u2 = 0.0
    lin = np.clip(X @ beta, -50, 50)
    if county_effect and "county_code" in frame.columns:
        mixed = (_fit_mixed(X, y, base, fit_rows, county, w, beta, alpha, county_sd_min)
                 if how != NOTE_POISSON else None)
        if mixed is not None:
            beta, sigma_u2 = mixed.beta, mixed.sd ** 2
            alpha = np.full(len(frame), mixed.dispersion[0]) + (
                mixed.dispersion[1] * w if len(mixed.dispersion) > 1 else 0.0)
        else:               # the marginal fit failed: σ_u² by moments, α made within-county
            mu0 = np.where(base > 0, np.exp(lin) * base, 0.0)
            sigma_u2, alpha = county_variance(y, mu0, alpha, fit_rows, county, county_sd_min ** 2)
            if sigma_u2 > 0:
                note = note or NOTE_MOMENTS
        if sigma_u2 > 0:
            beta, u, cov, keys = joint_mode(X, y, base, fit_rows, county, alpha, beta, sigma_u2)
            ci = np.searchsorted(keys, county)
            # the mean of exp(u) over its error: exp(û + ½ Var(û − u))
            lin = np.clip(X @ beta, -50, 50) + u[ci] + 0.5 * np.diag(cov)[X.shape[1] + ci]
    mu_hat = np.where(base > 0, np.exp(lin) * base, 0.0)
    other = ~comp & (base > 0)
    mean = np.where(other, mu_hat, 0.0)
    return Prediction(observed=np.where(comp, y, 0.0), mean=mean,
                      noise_var=mean + alpha * mean ** 2, X=X, cov=cov, county=county,
                      county_keys=keys, alpha=alpha, sigma_u2=sigma_u2, note=note)


def joint_mode(X, y, base, rows, county, alpha, beta, sigma_u2, coef_sd: float = COEF_PRIOR_SD,
               iters: int = 50):
    """β̂ and the county effects û (every county of ``county``; those without fitted rows
    stay at 0) at the joint mode of the NB log-likelihood of the fitted ``rows`` with the
    normal penalties Σ u_c² / (2σ_u²) and Σ β_j² / (2 ``coef_sd``²) over the covariates'
    coefficients (not the intercept; ``COEF_PRIOR_SD``; ∞: none), α fixed, by Fisher scoring
    with step halving from β; and the inverse of the joint information at the mode,

        H = [[Xᵀ W X + Π, Xᵀ W Z], [Zᵀ W X, Zᵀ W Z + I / σ_u²]],  W = diag(μ_i / (1 + α_i μ_i)),

    Z the rows' county indicators: the error covariance of (β̂, û) (Henderson's mixed model
    equations). Its off-diagonal blocks are what makes a prediction in a county with data
    honest: if β̂ is too high, û_c of that county is too low by about as much, and the two
    errors cancel in β̂ + û_c; a county without data has the error σ_u² of its effect."""
    keys, inv = np.unique(county, return_inverse=True)
    K, k = len(keys), X.shape[1]
    Xf, yf, bf, af, cf = X[rows], y[rows], base[rows], alpha[rows], inv[rows]
    Z = np.zeros((len(yf), K))
    Z[np.arange(len(yf)), cf] = 1.0
    D = np.hstack([Xf, Z])
    P = np.zeros((k + K, k + K))
    P[k:, k:] = np.eye(K) / sigma_u2
    if np.isfinite(coef_sd):
        P[1:k, 1:k] = np.eye(k - 1) / coef_sd ** 2       # Π
    theta = np.concatenate([np.asarray(beta, float), np.zeros(K)])
    r = 1.0 / af

    def objective(t):          # the penalised log-likelihood, up to terms free of θ
        eta = np.clip(D @ t, -50, 50)
        return float((yf * eta - (r + yf) * np.log(r + bf * np.exp(eta))).sum()
                     - 0.5 * t @ P @ t)

    cur = objective(theta)
    for _ in range(iters):
        mu = bf * np.exp(np.clip(D @ theta, -50, 50))
        W = mu / (1 + af * mu)
        H = D.T @ (W[:, None] * D) + P
        grad = D.T @ ((yf - mu) / (1 + af * mu)) - P @ theta
        step = np.linalg.solve(H, grad)
        for _half in range(30):                    # step halving: the objective must rise
            new = objective(theta + step)
            if new >= cur - 1e-12:
                break
            step = step / 2
        theta, cur = theta + step, new
        if np.max(np.abs(step)) < 1e-10:
            break
    mu = bf * np.exp(np.clip(D @ theta, -50, 50))
    H = D.T @ ((mu / (1 + af * mu))[:, None] * D) + P
    cov = np.linalg.inv(H)
    if not np.all(np.isfinite(theta)) or not np.all(np.isfinite(cov)):
        raise RuntimeError("the county effects could not be fitted")
    return theta[:k], theta[k:], cov, keys


def _fit_chain(frame, covs, y, base, rows, size):
    """NB with the covariates (size-dependent dispersion when ``size`` is given, else or
    when that fails constant α); else Poisson with them (no extra-Poisson variance found:
    the NB likelihood is maximised at α → 0); else the same with an intercept only.
    Returns X, β, Cov(β̂), α of every row, note and the size term of the dispersion (None
    when α is constant)."""
    n = len(frame)
    for cv in ([covs, []] if covs else [[]]):
        X = design(frame, cv)
        note = "" if cv == covs else NOTE_FALLBACK
        try:
            beta, cov, alpha = fit_nb(X[rows], y[rows], base[rows])
        except Exception:  # noqa: BLE001 - any numerical failure: the next model
            beta = None
        if beta is not None:
            if size is not None and rows.sum() >= 3 * (X.shape[1] + 2):
                try:
                    b2, c2, ab = fit_nb_size(X[rows], y[rows], base[rows], size[rows],
                                             (beta, alpha))
                    return X, b2, c2, ab[0] + ab[1] * size, note, size
                except Exception:  # noqa: BLE001 - keep the constant-α fit
                    pass
            return X, beta, cov, np.full(n, alpha), note, None
        try:
            beta, cov, alpha = fit_poisson(X[rows], y[rows], base[rows])
            return X, beta, cov, np.full(n, alpha), note or NOTE_POISSON, None
        except Exception:  # noqa: BLE001
            pass
    raise RuntimeError("no count model could be fitted")


def _fit_mixed(X, y, base, fit_rows, county, w, beta, alpha, sd_min):
    """The county random-effect fit (:func:`fit_nb_county`) started from the NB fit, or
    None when it fails (the caller then uses the moment estimates). From fewer than
    ``MIN_COUNTIES`` counties σ_u is not estimated but fixed at ``sd_min`` (none at 0)."""
    k = len(np.unique(county[fit_rows]))
    sd_fixed = None if k >= MIN_COUNTIES else float(sd_min)
    if sd_fixed is not None and sd_fixed <= 0:
        return None
    try:
        return fit_nb_county(X[fit_rows], y[fit_rows], base[fit_rows],
                             None if w is None else w[fit_rows], county[fit_rows],
                             (beta, float(np.median(alpha[fit_rows]))), sd_min, sd_fixed)
    except Exception:  # noqa: BLE001 - numerical failure: the moment estimates instead
        return None


def within_county(alpha: np.ndarray, sigma_u2: float) -> np.ndarray:
    """The municipal dispersion within a county: α of the fit without county effects holds
    the between-county variance too; for log-normal effects 1 + α = exp(σ_e² + σ_u²), so
    α_within = (1 + α) exp(−σ_u²) − 1 (never below 10⁻⁶)."""
    return np.maximum((1.0 + alpha) * math.exp(-sigma_u2) - 1.0, 1e-6)


def county_variance(y, mu_hat, alpha, fit_rows, county, floor: float = 0.0
                    ) -> tuple[float, np.ndarray]:
    """σ_u², the between-county variance of the log mean, and the within-county α_i.

    By moments: per county c with fitted rows, r_c = log((O_c + ½) / (E_c + ½)) (O observed,
    E = Σ μ̂_i of the fit without county effects) with sampling variance
    v_c = Σ (μ̂_i + α_i μ̂_i²) / E_c² (α of that fit, which holds the between-county variance
    too: v_c is on the large side, σ_u² on the small side); σ_u² = Σ (r_c² − v_c) / (k − 1)
    over the k counties (k − 1 degrees of freedom: the r_c are residuals around the fitted
    mean, which the same counties determine), and never below ``floor``
    (``estimate.model_county_sd_min``²): from fewer than ``MIN_COUNTIES`` counties the data
    cannot tell how much counties differ, and an estimate of 0 from four or five would claim
    that the unobserved counties are exactly like the observed ones. The α_i returned are
    within the county (:func:`within_county`)."""
    d = pd.DataFrame({"c": county[fit_rows], "o": y[fit_rows], "e": mu_hat[fit_rows],
                      "v": mu_hat[fit_rows] + alpha[fit_rows] * mu_hat[fit_rows] ** 2})
    g = d.groupby("c")[["o", "e", "v"]].sum()
    g = g[g["e"] > 0]
    r = np.log((g["o"] + 0.5) / (g["e"] + 0.5))
    v = g["v"] / g["e"] ** 2
    k = len(g)
    mom = max(0.0, float((r ** 2 - v).sum()) / (k - 1)) if k >= MIN_COUNTIES else 0.0
    s2 = max(mom, float(floor))
    return s2, (within_county(alpha, s2) if s2 > 0 else alpha)


def interval(estimate: float, variance: float, observed: float, z: float) -> tuple[float, float, float]:
    """(se, low, high): estimate ± z·se, the low end never below the observed part."""
    se = math.sqrt(variance)
    return se, max(estimate - z * se, observed), estimate + z * se


# --------------------------------------------------------------------------- county random effect

#: Quadrature grid of the county effect in sd units (trapezoid rule on the normal density:
#: for a near-Gaussian integrand of sd s (in σ_u units) the relative error is about
#: exp(−2π² s² / 0.2²): below 10⁻⁸ for s ≥ 0.2 and 10⁻⁴ for s ≥ 0.14, and s is below 0.1 only
#: for a county whose own data outweigh the prior a hundredfold).
_T = np.arange(-6.0, 6.0 + 1e-9, 0.2)
_LOGW = -0.5 * _T ** 2 - np.log(np.exp(-0.5 * _T ** 2).sum())


def _mixed_negloglike_grad(params, X, y, exposure, w, inv, sd_fixed):
    """−log marginal likelihood of the NB2 model with a county random intercept
    (:func:`fit_nb_county`) and its gradient (β, dispersion logs, log σ_u unless fixed);
    ``inv`` is the county × row indicator matrix."""
    from scipy.special import digamma, gammaln, logsumexp  # heavy: loaded only when used

    k = X.shape[1]
    nd = 2 if w is not None else 1
    sd = sd_fixed if sd_fixed is not None else math.exp(min(max(params[k + nd], -20.0), 2.0))
    theta = np.clip(params[k:k + nd], -30.0, 5.0)
    ea = math.exp(theta[0])
    eb = math.exp(theta[1]) if w is not None else 0.0
    a = ea + (eb * w if w is not None else np.zeros(len(y)))
    r = 1.0 / a
    u = sd * _T                                            # county effect at each node
    eta = np.clip(X @ params[:k], -50, 50)
    mu = (exposure * np.exp(eta))[:, None] * np.exp(u)[None, :]
    const = gammaln(y + r) - gammaln(r) - gammaln(y + 1) + r * np.log(r)
    ll = const[:, None] - (r + y)[:, None] * np.log(r[:, None] + mu) + (
        y * (np.log(exposure) + eta))[:, None] + y[:, None] * u[None, :]
    L = _LOGW[None, :] + inv @ ll                          # county × node
    logL = logsumexp(L, axis=1)
    P = inv.T @ np.exp(L - logL[:, None])                  # posterior node weights per row
    d_eta = (y[:, None] - mu) / (1 + a[:, None] * mu)
    d_a = -(digamma(y + r)[:, None] - digamma(r)[:, None] + np.log(r[:, None] / (r[:, None] + mu))
            + 1 - (r + y)[:, None] / (r[:, None] + mu)) * (r * r)[:, None]
    pe = (P * d_eta).sum(axis=1)
    pa = (P * d_a).sum(axis=1)
    g = [X.T @ pe, [(pa * ea).sum()]]
    if w is not None:
        g.append([(pa * eb * w).sum()])
    if sd_fixed is None:
        g.append([float((P * d_eta * u[None, :]).sum())])
    return -float(logL.sum()), -np.concatenate(g)


@dataclass
class MixedFit:
    """The NB2 fit with a county random intercept (:func:`fit_nb_county`)."""

    beta: np.ndarray            # β̂ (the intercept at u = 0)
    dispersion: np.ndarray      # (exp θ0[, exp θ1]): α_i = exp θ0 (+ exp θ1 w_i), within county
    sd: float                   # σ̂_u
    loglike: float              # the maximised log marginal likelihood


def fit_nb_county(X: np.ndarray, y: np.ndarray, exposure: np.ndarray, w: np.ndarray | None,
                  county: np.ndarray, start: tuple[np.ndarray, float], sd_min: float = 0.0,
                  sd_fixed: float | None = None) -> MixedFit:
    """NB2 regression with a normal county random intercept u_c ~ N(0, σ_u²), by maximum
    of the marginal likelihood Π_c ∫ Π_{i ∈ c} NB(y_i; μ_i e^u, α_i) φ(u; σ_u) du.

    The integral is the trapezoid rule on the grid ``_T`` (σ_u units, step 0.2 over ±6 sd;
    for the smooth, near-Gaussian integrands here the rule's error is far below the
    optimiser's tolerance); the gradient is analytic (of that sum, so the optimum is exact
    for it); L-BFGS-B keeps σ_u ≥ ``sd_min`` (or fixes it at ``sd_fixed``) and the
    dispersion logs in [−30, 5]. α_i = exp θ0 (+ exp θ1 w_i when ``w`` is given: the part
    that shrinks with size) is the municipal dispersion *within* a county, what the NB fit
    without county effects cannot separate from the county variance. The covariates'
    coefficients are held at ``start``'s (an offset) and only the intercept, the dispersion
    and σ_u are fitted: what the prediction takes
    from this fit is α and σ_u (β is solved again jointly with the county effects,
    :func:`joint_mode`), and four parameters instead of eight make it several times
    faster. Raises RuntimeError when the fit fails."""
    from scipy.optimize import minimize  # heavy dependency: loaded only when used

    beta_start = np.asarray(start[0], float)
    if X.shape[1] > 1:
        exposure = exposure * np.exp(np.clip(X[:, 1:] @ beta_start[1:], -50, 50))
        X, beta_start = X[:, :1], beta_start[:1]
    k = X.shape[1]
    keys, idx = np.unique(np.asarray(county).astype(str), return_inverse=True)
    inv = np.zeros((len(keys), len(y)))
    inv[idx, np.arange(len(y))] = 1.0
    a0 = max(start[1], 1e-4)
    theta0 = ([math.log(a0 / 2), math.log(a0 / 2)] if w is not None else [math.log(a0)])
    bounds = [(None, None)] * k + [(-30.0, 5.0)] * len(theta0)
    x0 = list(beta_start) + theta0
    if sd_fixed is None:
        lo = math.log(max(sd_min, 1e-3))
        x0.append(max(math.log(0.1), lo))
        bounds.append((lo, math.log(2.0)))
    args = (X, y, exposure, w, inv, sd_fixed)
    res = minimize(_mixed_negloglike_grad, np.array(x0, float), args=args, jac=True,
                   method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 1000, "gtol": 1e-6, "ftol": 1e-10})
    if not (res.success or res.status == 2) or not np.all(np.isfinite(res.x)):
        raise RuntimeError("NB fit with a county effect did not converge")
    nd = len(theta0)
    sd = sd_fixed if sd_fixed is not None else math.exp(res.x[k + nd])
    beta = np.concatenate([res.x[:k], np.asarray(start[0], float)[k:]])
    return MixedFit(beta=beta, dispersion=np.exp(np.clip(res.x[k:k + nd], -30, 5)),
                    sd=float(sd), loglike=-float(res.fun))
