"""The count model behind the ``model`` estimate and the county (small-area) estimates.

Fitted on the comprehensive municipalities of one quarter × task, it predicts the clients of
every other municipality. Municipalities genuinely differ (by tens of per cent, whatever
their size), so the model's variance must grow faster than its mean:

**Negative binomial (NB2) regression** with the log population base as exposure and the
municipal covariates (standardised over the mainland)::

    Y_i ~ NB(μ_i, α_i),  log μ_i = log base_i + x_iᵀβ,  Var(Y_i) = μ_i + α_i μ_i²

started by maximum likelihood (statsmodels ``NegativeBinomial``, ``nb2``), with a
dispersion that has a structural part and a part that shrinks with size,
α_i = a₀ + a₁ · median population / population_i (:func:`fit_nb_size`).

**County random effect.** Counties differ too, and Kanta joining is clustered by county.
The mean of municipality i of county c is μ_i e^{u_c}, u_c ~ N(0, σ_u²). The marginal
likelihood Π_c ∫ Π_{i∈c} NB(y_i; μ_i e^u, α_i) φ(u; σ_u) du is computed by *adaptive*
Gauss–Hermite quadrature (``GH_NODES`` nodes centred at each county's mode and scaled by its
curvature, :class:`CountyLikelihood`), so that a county whose own data pin its effect
down is integrated as accurately as one without data.

**σ_u is not treated as known.** From a few counties the data say little about how much
counties differ, and a plug-in σ̂_u (or a floor) understates the error of every prediction
that leans on it. The likelihood of σ_u is profiled (the intercept and the dispersion
re-fitted at each σ_u of the grid ``SD_GRID``, the covariates' coefficients held) and
combined with a uniform prior on [0, ``SD_PRIOR_MAX``]; the prediction is the mixture over
that posterior: for each grid value σ_s (weight w_s), β̂ and the county effects û are solved
jointly (:func:`joint_mode`, Henderson's mixed model equations, with a weak
collinearity-invariant prior on the covariates' coefficients, ``COEF_PRIOR_SD``) and
V_s = H_s⁻¹ is the error covariance of (β̂, û); a total's mean and variance are

    T̂ = Σ_s w_s T̂_s,   Var = Σ_s w_s (Var_s + T̂_s²) − T̂²

(the variance of the mixture: the uncertainty of σ_u is in it). When the marginal fit
fails, σ_u² comes from moments over the counties (:func:`county_variance`) as one point.

**The predictive variance of a total** over a set A of municipalities (the mainland for
the national estimate, a county for a county estimate), given σ_s: the estimate is
T̂_A = Σ_{A∩C} y_i + Σ_{A∩U} μ'_j (C comprehensive: observed; U the others: predicted,
μ'_j = base_j exp(x_jᵀβ̂ + û_c + ½ V_{u_c}), the mean over the effect's error). The
unobserved counts are independent of the fit given the county effects, so::

    Var_s(T_A − T̂_A) = Σ_{A∩U} (μ'_j + α_j μ'_j²)    NB noise of each predicted municipality
                     + gᵀ V_s g                       parameters and county effects (delta
                                                        method), g = (Σ_{A∩U} μ'_j x_j,
                                                        (Σ_{A∩U∩c} μ'_j)_c)

The covariates of a predicted municipality are clipped to the range of the fitted ones
(no extrapolation: when only large towns are comprehensive, the smallest municipalities
are predicted as the smallest of them would be; the publication rule gives a range then,
:mod:`seuranta.statistics.estimate`).

**The interval** (:func:`interval`) is on the log scale of the predicted part P = T − O
(O the observed clients): a total of skewed municipal counts is itself right-skewed, so the
interval is that of a log-normal P with the predicted mean and variance,
O + P̂ exp(−s²/2 ± z s), s² = log(1 + Var / P̂²) — its low end never below O.

With fewer than ``3 × (covariates + 1)`` comprehensive municipalities with clients the
covariates are dropped (intercept only; ``note`` says so: a handful of small counts among
many zeros cannot carry four coefficients); when the NB fit fails (e.g. no extra-Poisson
variance: the likelihood is maximised at α → 0) the model is a Poisson GLM with a robust
covariance and α by moments, then the same two with an intercept only. A fit that cannot
be made at all raises :class:`ModelFitError`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seuranta.core.errors import ModelFitError

NOTE_FALLBACK = "model_fallback_intercept_only"
NOTE_POISSON = "model_fallback_poisson"
NOTE_MOMENTS = "model_county_moments"

#: Prior sd of the covariates' coefficients in the joint fit, in units of the linear
#: predictor: the prior precision is (X_cᵀX_c / n) / ``COEF_PRIOR_SD``² over the centred,
#: standardised covariates of the fitted rows (Zellner's g-prior), so that a combination of
#: covariates that moves the log share by one of its own sd has prior sd 1 whatever the
#: collinearity of the covariates (age shares move together). Weak: it only keeps a few,
#: similar comprehensive municipalities from trading huge opposite coefficients.
COEF_PRIOR_SD = 1.0

#: Fewest counties for the moment estimate of σ_u² (:func:`county_variance`, the fallback
#: when the marginal fit fails). The publication rule's own limit is
#: ``estimate.publication_rule.point_min_counties``.
MIN_COUNTIES = 4

#: Grid of σ_u (between-county sd of the log share) over which the prediction is mixed, and
#: the upper end of its uniform prior (a factor e^1.5 ≈ 4.5 between counties: beyond any
#: plausible difference; the data decide within it).
SD_GRID = np.array([0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.65, 0.9, 1.2, 1.5])
SD_PRIOR_MAX = 1.5
#: Grid values whose posterior weight is below this are left out of the mixture.
SD_WEIGHT_MIN = 0.002

#: Nodes of the adaptive Gauss–Hermite quadrature of a county effect.
GH_NODES = 9
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(GH_NODES)
_GH_LOGW = np.log(_GH_W) + _GH_X ** 2

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
    # heavy dependency: loaded only when used (the module itself, not statsmodels.api's
    # import of every model; the same class)
    from statsmodels.discrete.discrete_model import NegativeBinomial

    k = X.shape[1]
    model = NegativeBinomial(y, X, exposure=exposure, loglike_method="nb2")
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
    from statsmodels.genmod import families  # heavy dependency: loaded only when used
    from statsmodels.genmod.generalized_linear_model import GLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = GLM(y, X, family=families.Poisson(), offset=np.log(exposure)).fit(
            cov_type="HC0")
    if not np.all(np.isfinite(res.params)):
        raise RuntimeError("Poisson fit failed")
    mu = np.asarray(res.fittedvalues, float)
    df = max(len(y) - X.shape[1], 1)
    ok = mu > 0
    alpha = max(0.0, float((((y - mu) ** 2 - mu)[ok] / mu[ok] ** 2).sum() / df))
    return np.asarray(res.params, float), np.asarray(res.cov_params(), float), alpha


@dataclass
class Component:
    """The prediction given one value σ_s of the county sd (weight ``weight``)."""

    weight: float
    mean: np.ndarray          # μ'_j of predicted rows, 0 on comprehensive rows
    noise_var: np.ndarray     # μ'_j + α_j μ'_j² of predicted rows, 0 elsewhere
    cov: np.ndarray           # joint Cov of (β̂, û) given σ_s
    sd: float                 # σ_s


@dataclass
class Prediction:
    """A fitted model's prediction for every municipality of a frame (row order kept): the
    mixture of its ``components`` over the posterior of σ_u (one component without a
    county effect). ``mean`` and ``noise_var`` are the mixture's; a total's mean and
    variance come from :meth:`group_totals`."""

    observed: np.ndarray      # y_i of comprehensive rows, 0 elsewhere
    X: np.ndarray             # design matrix (all rows, clipped to the fitted range)
    county: np.ndarray        # county code of each row
    county_keys: np.ndarray   # the counties of the effects in each component's cov
    alpha: np.ndarray         # α_i of every row (the most probable component's)
    note: str
    components: list[Component] = field(default_factory=list)
    #: what :func:`without` needs to re-solve the same model on fewer rows: the start β,
    #: the σ_u posterior as (σ, weight, α of every row), y, base, comprehensive
    fit: dict = field(default_factory=dict, repr=False)

    @property
    def mean(self) -> np.ndarray:
        return sum(c.weight * c.mean for c in self.components)

    @property
    def noise_var(self) -> np.ndarray:
        return sum(c.weight * c.noise_var for c in self.components)

    @property
    def sigma_u2(self) -> float:
        """Posterior mean of σ_u² (0 without a county effect)."""
        return float(sum(c.weight * c.sd ** 2 for c in self.components))

    @property
    def cov(self) -> np.ndarray:
        """The joint covariance of (β̂, û) of the most probable component."""
        return max(self.components, key=lambda c: c.weight).cov

    def _gradient(self, mean: np.ndarray, inv: np.ndarray, k: int) -> np.ndarray:
        """g of every group (rows: groups ``0..k-1`` given per row by ``inv``)."""
        G = np.zeros((k, self.X.shape[1] + len(self.county_keys)))
        np.add.at(G[:, :self.X.shape[1]], inv, mean[:, None] * self.X)
        if len(self.county_keys):
            ci = np.searchsorted(self.county_keys, self.county)
            np.add.at(G, (inv, self.X.shape[1] + ci), mean)
        return G

    def total(self, rows: np.ndarray | None = None) -> tuple[float, float, float]:
        """(estimate, variance, observed part) of the total over ``rows`` (bool mask; all)."""
        m = np.ones(len(self.observed), bool) if rows is None else np.asarray(rows, bool)
        t = self.group_totals(np.where(m, 1, 0)).set_index("group")
        if 1 not in t.index:
            return 0.0, 0.0, 0.0
        r = t.loc[1]
        return float(r["estimate"]), max(float(r["variance"]), 0.0), float(r["observed"])

    def group_totals(self, groups: np.ndarray) -> pd.DataFrame:
        """Estimate, variance and observed part per group (e.g. county) of a partition of
        the rows: the mixture over the components (module docstring)."""
        groups = np.asarray(groups)
        keys, inv = np.unique(groups, return_inverse=True)
        k = len(keys)
        obs = np.bincount(inv, weights=self.observed, minlength=k)
        m1, m2 = np.zeros(k), np.zeros(k)
        for c in self.components:
            est = np.bincount(inv, weights=c.mean, minlength=k)
            noise = np.bincount(inv, weights=c.noise_var, minlength=k)
            G = self._gradient(c.mean, inv, k)
            var = noise + np.einsum("ij,jk,ik->i", G, c.cov, G)
            m1 += c.weight * est
            m2 += c.weight * (var + est ** 2)
        return pd.DataFrame({"group": keys, "estimate": obs + m1,
                             "variance": np.maximum(m2 - m1 ** 2, 0.0), "observed": obs})


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
            dispersion: str = "size") -> Prediction:
    """Fit the NB model on the comprehensive rows of ``frame`` and predict the others.

    ``frame``: one row per mainland municipality with clients, population_base,
    comprehensive (bool), the covariates and (for the county effect) county_code. Requires
    at least one comprehensive row with a positive base; raises :class:`ModelFitError` when
    no model can be fitted.
    """
    comp = frame["comprehensive"].to_numpy(bool)
    base = frame["population_base"].to_numpy(float)
    y = frame["clients"].to_numpy(float)
    fit_rows = comp & (base > 0)
    # the covariates need information: municipalities with clients (zeros say little)
    n = int((fit_rows & (y > 0)).sum())
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
    other = ~comp & (base > 0)
    components: list[Component] = []
    keys = np.array([], dtype=str)
    if county_effect and "county_code" in frame.columns:
        post = (_sd_posterior(X, y, base, fit_rows, county, w, beta, alpha)
                if how != NOTE_POISSON else None)
        if post is None:            # the marginal fit failed: σ_u² by moments, one point
            mu0 = np.where(base > 0, np.exp(np.clip(X @ beta, -50, 50)) * base, 0.0)
            s2, a_within = county_variance(y, mu0, alpha, fit_rows, county)
            if s2 > 0:
                post = [(math.sqrt(s2), 1.0, a_within)]
                note = note or NOTE_MOMENTS
        if post:
            components, keys = _components(X, y, base, fit_rows, other, county, beta, post)
            alpha = max(post, key=lambda t: t[1])[2]
    if not components:
        keys = np.array([], dtype=str)
        mean = np.where(other, np.exp(np.clip(X @ beta, -50, 50)) * base, 0.0)
        components = [Component(1.0, mean, mean + alpha * mean ** 2, cov, 0.0)]
    return Prediction(observed=np.where(comp, y, 0.0), X=X, county=county, county_keys=keys,
                      alpha=alpha, note=note, components=components,
                      fit={"beta": beta, "post": post if components[0].sd > 0 else None,
                           "y": y, "base": base, "comprehensive": comp,
                           "covariates": covs, "county_effect": county_effect,
                           "dispersion": dispersion})


def _components(X, y, base, fit_rows, other, county, beta, post):
    """One :class:`Component` per (σ, weight, α) of ``post``: β̂ and û solved jointly given
    σ and α (:func:`joint_mode`), the predicted rows' means and variances."""
    out, keys = [], np.array([], dtype=str)
    for sd, weight, a in post:
        b, u, V, keys = joint_mode(X, y, base, fit_rows, county, a, beta, sd ** 2)
        ci = np.searchsorted(keys, county)
        # the mean of exp(u) over its error: exp(û + ½ Var(û − u))
        lin = np.clip(X @ b + u[ci] + 0.5 * np.diag(V)[X.shape[1] + ci], -50, 50)
        mean = np.where(other, np.exp(lin) * base, 0.0)
        out.append(Component(weight, mean, mean + a * mean ** 2, V, sd))
    return out, keys


def without(pred: Prediction, frame: pd.DataFrame, exclude: np.ndarray) -> Prediction:
    """The same model with the comprehensive rows of ``exclude`` treated as not
    comprehensive: neither counted nor fitted, but predicted. The design, the σ_u posterior
    and the dispersion are held (only β̂ and û are solved again), so the difference from
    ``pred`` is what those rows' counts do to the estimate. Without a county effect the
    model is fitted again on the remaining rows. Raises :class:`ModelFitError` when fewer
    than two comprehensive rows remain."""
    exclude = np.asarray(exclude, bool) & pred.fit["comprehensive"]
    if not exclude.any():
        return pred
    comp = pred.fit["comprehensive"] & ~exclude
    if (comp & (pred.fit["base"] > 0)).sum() < 2:
        raise ModelFitError("fewer than two comprehensive municipalities without the excluded")
    if pred.fit.get("post") is None:
        return predict(frame.assign(comprehensive=comp), pred.fit["covariates"],
                       county_effect=pred.fit["county_effect"],
                       dispersion=pred.fit["dispersion"])
    y, base = pred.fit["y"], pred.fit["base"]
    other = ~comp & (base > 0)
    comps, keys = _components(pred.X, y, base, comp & (base > 0), other, pred.county,
                              pred.fit["beta"], pred.fit["post"])
    return Prediction(observed=np.where(comp, y, 0.0), X=pred.X, county=pred.county,
                      county_keys=keys, alpha=pred.alpha, note=pred.note, components=comps,
                      fit={**pred.fit, "comprehensive": comp})


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
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        raise ModelFitError("the county effects could not be fitted") from None
    if not np.all(np.isfinite(theta)) or not np.all(np.isfinite(cov)):
        raise ModelFitError("the county effects could not be fitted")
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
    raise ModelFitError("no count model could be fitted")


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
    mean, which the same counties determine), and never below ``floor``; from fewer than
    ``MIN_COUNTIES`` counties the moments are not used (σ_u² = ``floor``). This is the
    fallback when the marginal fit fails (:func:`predict`). The α_i returned are within the
    county (:func:`within_county`)."""
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


def interval(estimate: float, variance: float, observed: float, z: float
             ) -> tuple[float, float, float]:
    """(se, low, high) of a total whose part ``estimate − observed`` is predicted: the
    interval of a log-normal predicted part with that mean and ``variance``,
    O + P̂ exp(−s²/2 ± z s), s² = log(1 + Var / P̂²) (right-skewed, never below O)."""
    se = math.sqrt(max(variance, 0.0))
    p = estimate - observed
    if p <= 0 or se == 0:
        return se, estimate, estimate
    s2 = math.log1p(se * se / (p * p))
    s = math.sqrt(s2)
    return se, observed + p * math.exp(-s2 / 2 - z * s), observed + p * math.exp(-s2 / 2 + z * s)


def _PHI(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def mixture_quantiles(parts: list[tuple[float, float, float]], z: float,
                      weights: list[float] | None = None) -> tuple[float, float]:
    """(low, high): the Φ(−z) and Φ(z) quantiles of the mixture (``weights``, default equal)
    of the totals of :func:`interval`, each given as (estimate, variance, observed part),
    by bisection of the mixture's distribution function between the components' own
    quantiles (a mixture's quantile lies between them) until the two ends are adjacent
    floats: the smallest float there at which the distribution function reaches the level.

    A component's distribution function is P(T ≤ t) of the total of :func:`interval`: O + P
    with P log-normal of mean P̂ = estimate − O and the variance, Φ((log(t − O) − log P̂ +
    s²/2) / s) for t > O (a point mass at the estimate when P̂ ≤ 0 or the variance is 0);
    its constants (:func:`_cdf_constants`) are computed once per call, not once per step
    of the bisection (about 120 steps per interval; issue 24)."""
    w = np.full(len(parts), 1.0 / len(parts)) if weights is None else np.asarray(weights, float)
    w = [float(x) for x in w / w.sum()]
    comps = [_cdf_constants(e, v, o) for e, v, o in parts]

    def cdf(t):
        total = 0
        for wi, (o, lp, half, s, point) in zip(w, comps):
            if s is None:                       # a point mass at the estimate
                c = 1.0 if t >= point else 0.0
            elif t <= o:
                c = 0.0
            else:
                c = _PHI((math.log(t - o) - lp + half) / s)
            total = total + wi * c
        return total

    out = []
    for q, k in ((_PHI(-z), 1), (_PHI(z), 2)):
        ends = [interval(e, v, o, z)[k] for e, v, o in parts]
        a, b = min(ends), max(ends)
        if cdf(a) >= q:
            out.append(a)
            continue
        for _ in range(200):           # F(a) < q ≤ F(b): halve until a and b meet
            m = (a + b) / 2
            if m <= a or m >= b:
                break
            if cdf(m) >= q:
                b = m
            else:
                a = m
        out.append(b)
    return out[0], out[1]


def _cdf_constants(estimate: float, variance: float, observed: float) -> tuple:
    """(O, log P̂, s²/2, s, estimate) of one component of :func:`mixture_quantiles`; s None
    for its point mass (P̂ ≤ 0 or no variance)."""
    p = estimate - observed
    if p <= 0 or variance <= 0:
        return observed, None, None, None, estimate
    s2 = math.log1p(variance / (p * p))
    return observed, math.log(p), s2 / 2, math.sqrt(s2), estimate


def flagged_bounds(kind: str, own: tuple[float, float, float],
                   without: tuple[float, float, float] | None, z: float
                   ) -> tuple[float, float]:
    """(low, high) of a total given its (estimate, variance, observed part) ``own`` and the
    same ``without`` the flagged municipalities (None: there are none, or no estimate
    could be made without them; then the own :func:`interval`): ``hull`` the hull of both
    intervals; ``average`` the quantiles of the equal-weight mixture of both predictive
    distributions (:func:`mixture_quantiles`: model averaging over "the flagged counts are
    right" and "they are not"; parameter ``estimate.flagged_interval``, whose ``mixture`` is
    :func:`mixture_totals`'s)."""
    if without is None:
        return interval(*own, z)[1:]
    if kind == "hull":
        a, b = interval(*own, z)[1:], interval(*without, z)[1:]
        return min(a[0], b[0]), max(a[1], b[1])
    if kind == "average":
        return mixture_quantiles([own, without], z)
    raise ValueError(f"flagged_interval must be hull or average here, got {kind!r}")


def mixture_interval(estimate: float, variance: float, observed: float, z: float,
                     point: float | None = None) -> tuple[float, float]:
    """(low, high) of the flagged mixture (:func:`mixture_totals`): :func:`interval` of its
    mean, variance and expected observed part, widened to hold ``point`` (the published
    estimate, which counts every flagged municipality) when it falls outside."""
    _, lo, hi = interval(estimate, variance, observed, z)
    if point is not None and math.isfinite(point):
        lo, hi = min(lo, point), max(hi, point)
    return lo, hi


# --------------------------------------------------------------------------- flagged counts

#: Largest NB dispersion used in the flagged counts' likelihoods (the closed forms of
#: :func:`flag_error_loglik` need 1/α > 1; α ≥ 1 only occurs for the tiniest expected
#: counts, where the evidence is nil anyway).
FLAG_ALPHA_MAX = 0.95


def _nb_logc(y, r):
    from scipy.special import gammaln  # heavy dependency: loaded only when used
    return gammaln(y + r) - gammaln(r) - gammaln(y + 1)


def nb_logpmf(y, mean, alpha) -> np.ndarray:
    """log NB2(y; mean, α) (Var = mean + α mean²)."""
    y, m, a = (np.asarray(v, float) for v in (y, mean, alpha))
    r = 1.0 / a
    with np.errstate(divide="ignore"):
        return (_nb_logc(y, r) + r * np.log(r / (r + m))
                + np.where(y > 0, y * np.log(m / (r + m)), 0.0))


def flag_error_loglik(y, mean, alpha) -> np.ndarray:
    """log of the likelihood of a count y that is *wrong*, given that its true count is
    NB(mean, α): an under-count (a delivered fraction f of the true clients) or an
    over-count (the count is the true one × 1/f), each with probability ½ and f uniform
    on (0, 1] — no form of the error is assumed beyond its direction.

    Binomial thinning keeps the NB form, y | f ~ NB(f·mean, α), so with
    q = μ / (r + μ), r = 1/α, C = Γ(y + r) / (Γ(r) y!) the two integrals are incomplete
    beta functions::

        ∫₀¹ NB(y; f m, α) df = C · r/m · B(y + 1, r − 1) · I_{q₁}(y + 1, r − 1)
        ∫₀¹ NB(y; m/f, α) df = C · m/r · B(y − 1, r + 1) · (1 − I_{q₁}(y − 1, r + 1))

    q₁ = m / (r + m); the over-count of a count below 2 is taken as impossible."""
    from scipy.special import betainc, betaincc, betaln  # heavy: loaded only when used

    y, m, a = (np.asarray(v, float) for v in (y, mean, alpha))
    r = 1.0 / a
    q1 = m / (r + m)
    logc = _nb_logc(y, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = (logc + np.log(r / m) + betaln(y + 1, r - 1)
               + np.log(betainc(y + 1, r - 1, q1)))
        yy = np.maximum(y, 2.0)
        high = np.where(y >= 2, logc + np.log(m / r) + betaln(yy - 1, r + 1)
                        + np.log(betaincc(yy - 1, r + 1, q1)), -np.inf)
    return np.logaddexp(low, high) - math.log(2.0)


def flag_error_posterior(y, mean, variance, prior: float) -> np.ndarray:
    """Posterior probability that each flagged count y is wrong: prior ``prior`` against
    the count's predictive distribution from the model fitted without it (NB with that mean
    and the dispersion α = (variance − mean) / mean², which holds the municipal spread and
    the parameters' uncertainty; at most ``FLAG_ALPHA_MAX``) as the count if right, and
    :func:`flag_error_loglik` if wrong."""
    y, m, v = (np.asarray(x, float) for x in (y, mean, variance))
    a = np.clip((v - m) / np.maximum(m, 1e-12) ** 2, 1e-6, FLAG_ALPHA_MAX)
    if not 0.0 < prior < 1.0:
        return np.full(len(y), float(prior))
    ok = math.log1p(-prior) + nb_logpmf(y, m, a)
    err = math.log(prior) + flag_error_loglik(y, m, a)
    out = np.exp(err - np.logaddexp(ok, err))
    return np.where(m > 0, out, prior)


@dataclass
class FlagMixture:
    """The flagged comprehensive municipalities of a fit as a mixture over "the count is
    right / wrong" (:func:`flag_mixture`): ``rows`` (indices), ``prob`` the posterior
    probability that each count is wrong, ``singles`` the model without each of them."""

    rows: np.ndarray
    prob: np.ndarray
    singles: list = field(default_factory=list, repr=False)


def flag_mixture(pred: Prediction, frame: pd.DataFrame, flagged: np.ndarray,
                 prior: float) -> FlagMixture:
    """For each flagged comprehensive row i: the model without it (:func:`without`, the
    rest held), its predictive mean and variance from that model (its leave-one-out
    prediction: the NB noise, the county effect's and the parameters' uncertainty) and the
    posterior probability that its count is wrong (:func:`flag_error_posterior`). A row
    whose removal leaves too few to fit is left out (its count taken as right)."""
    comp = pred.fit["comprehensive"]
    rows = np.flatnonzero(np.asarray(flagged, bool) & comp)
    keep, singles, mean, var = [], [], [], []
    for i in rows:
        one = np.zeros(len(comp), bool)
        one[i] = True
        try:
            s = without(pred, frame, one)
        except ModelFitError:
            continue
        e, v, _ = s.total(one)
        keep.append(i)
        singles.append(s)
        mean.append(e)
        var.append(v)
    keep = np.asarray(keep, int)
    prob = (flag_error_posterior(pred.fit["y"][keep], mean, var, prior) if len(keep)
            else np.zeros(0))
    return FlagMixture(keep, np.asarray(prob, float), singles)


def mixture_totals(pred: Prediction, fm: FlagMixture | None, groups: np.ndarray
                   ) -> pd.DataFrame:
    """Per group: :meth:`Prediction.group_totals` (``estimate``, ``variance``,
    ``observed``: the model's, every flagged count counted), and the mixture over the flagged counts being right (as
    counted) or wrong (predicted instead), each independently with its posterior
    probability p_i (:func:`flag_mixture`): with δ_i and ΔV_i the change of the group's
    estimate and variance when row i alone is predicted, to first order in the δ_i

        ``mean`` = T̂ + Σ p_i δ_i,
        ``mixture_variance`` = Var + Σ p_i ΔV_i + Σ p_i (1 − p_i) δ_i²

    and ``mixture_observed`` the expected observed part O − Σ p_i y_i (a wrong count is
    not observed). Without flagged rows the mixture is the model itself."""
    t = pred.group_totals(groups)
    mean, var, obs = (t[c].to_numpy(float).copy() for c in ("estimate", "variance",
                                                                   "observed"))
    if fm is not None:
        for p, s in zip(fm.prob, fm.singles):
            u = s.group_totals(groups)
            d = u["estimate"].to_numpy(float) - t["estimate"].to_numpy(float)
            mean += p * d
            var += p * (u["variance"].to_numpy(float) - t["variance"].to_numpy(float))
            var += p * (1 - p) * d * d
            obs -= p * (t["observed"].to_numpy(float) - u["observed"].to_numpy(float))
    return t.assign(mean=mean, mixture_variance=np.maximum(var, 0.0), mixture_observed=obs)


# --------------------------------------------------------------------------- county random effect

class CountyLikelihood:
    """The log marginal likelihood of NB2 counts with a normal county intercept,

        ℓ = Σ_c log ∫ Π_{i ∈ c} NB(y_i; e^{o_i + b₀ + u}, α_i) φ(u; 0, σ) du,

    by adaptive Gauss–Hermite quadrature: each county's integrand is centred at its mode
    û_c (Newton's method; the log integrand is concave in u) and scaled by its curvature, so
    a sharply determined county effect is integrated as accurately as a vague one.
    Parameters (:meth:`negloglike`): b₀, the dispersion logs θ₀ (θ₁ with the size term w:
    α_i = e^θ₀ + e^θ₁ w_i) and log σ unless σ is fixed. The gradient is that of the exact
    integral (the posterior mean of the integrand's score) evaluated at the same nodes."""

    def __init__(self, offset: np.ndarray, y: np.ndarray, w: np.ndarray | None,
                 county: np.ndarray):
        from scipy.special import gammaln  # heavy dependency: loaded only when used

        self.off, self.y = np.asarray(offset, float), np.asarray(y, float)
        self.w = None if w is None else np.asarray(w, float)
        self.keys, self.idx = np.unique(np.asarray(county).astype(str), return_inverse=True)
        self.K = len(self.keys)
        self.inv = np.zeros((self.K, len(self.y)))
        self.inv[self.idx, np.arange(len(self.y))] = 1.0
        self.lgy1 = gammaln(self.y + 1)
        self.u = np.zeros(self.K)
        self.nd = 1 if self.w is None else 2

    def _modes(self, eta, r, sd):
        y, idx, inv = self.y, self.idx, self.inv
        u = self.u.copy()
        for _ in range(60):
            m = np.exp(np.clip(eta + u[idx], -50, 50))
            g = inv @ (r * (y - m) / (r + m)) - u / sd ** 2
            h = -(inv @ ((r + y) * r * m / (r + m) ** 2)) - 1 / sd ** 2
            step = np.clip(-g / h, -1.0, 1.0)
            u = u + step
            if np.max(np.abs(step)) < 1e-10:
                break
        m = np.exp(np.clip(eta + u[idx], -50, 50))
        h = -(inv @ ((r + y) * r * m / (r + m) ** 2)) - 1 / sd ** 2
        self.u = u
        return u, 1.0 / np.sqrt(-h)

    def negloglike(self, params: np.ndarray, sd_fixed: float | None = None
                   ) -> tuple[float, np.ndarray]:
        """−ℓ and its gradient (b₀, θ, log σ unless ``sd_fixed``)."""
        from scipy.special import digamma, gammaln  # heavy: loaded only when used

        nd, y, idx = self.nd, self.y, self.idx
        b0 = params[0]
        th = np.clip(params[1:1 + nd], -30.0, 5.0)
        sd = sd_fixed if sd_fixed is not None else math.exp(min(max(params[1 + nd], -8.0), 2.0))
        ea = math.exp(th[0])
        eb = math.exp(th[1]) if nd == 2 else 0.0
        a = ea + (eb * self.w if nd == 2 else 0.0) * np.ones(len(y))
        r = 1.0 / a
        eta = self.off + b0
        u, s = self._modes(eta, r, sd)
        nodes = u[:, None] + math.sqrt(2.0) * s[:, None] * _GH_X[None, :]      # K × Q
        mm = np.clip(eta[:, None] + nodes[idx], -50, 50)                        # n × Q
        em = np.exp(mm)
        const = gammaln(y + r) - gammaln(r) - self.lgy1 + r * np.log(r)
        ll = const[:, None] + y[:, None] * mm - (r + y)[:, None] * np.log(r[:, None] + em)
        L = (self.inv @ ll - nodes ** 2 / (2 * sd * sd) - math.log(sd)
             - 0.5 * math.log(2 * math.pi) + _GH_LOGW[None, :]
             + np.log(math.sqrt(2.0) * s)[:, None])
        logL = logsumexp_rows(L)
        P = np.exp(L - logL[:, None])                                           # K × Q
        Pr = P[idx]
        d_eta = (y[:, None] - em) / (1 + a[:, None] * em)
        d_a = -(digamma(y + r)[:, None] - digamma(r)[:, None] + np.log(r[:, None] / (r[:, None] + em))
                + 1 - (r + y)[:, None] / (r[:, None] + em)) * (r * r)[:, None]
        pa = (Pr * d_a).sum(axis=1)
        g = [[(Pr * d_eta).sum()], [(pa * ea).sum()]]
        if nd == 2:
            g.append([(pa * eb * self.w).sum()])
        if sd_fixed is None:
            g.append([float((P * (nodes ** 2 / sd ** 2 - 1)).sum())])
        return -float(logL.sum()), -np.concatenate(g)

    def fit(self, start: np.ndarray, sd_fixed: float | None = None) -> tuple[np.ndarray, float]:
        """Maximum of ℓ from ``start`` (b₀, θ[, log σ]): (parameters, ℓ). Raises
        :class:`ModelFitError` when the optimiser fails."""
        from scipy.optimize import minimize  # heavy dependency: loaded only when used

        bounds = [(None, None)] + [(-30.0, 5.0)] * self.nd
        if sd_fixed is None:
            bounds.append((math.log(1e-3), math.log(SD_PRIOR_MAX)))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            res = minimize(self.negloglike, np.asarray(start, float), args=(sd_fixed,),
                           jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": 500, "gtol": 1e-6, "ftol": 1e-11})
        if not (res.success or res.status == 2) or not np.all(np.isfinite(res.x)):
            raise ModelFitError("NB fit with a county effect did not converge")
        return res.x, -float(res.fun)


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """``scipy.special.logsumexp(a, axis=1)`` of a real 2-D array: scipy's own operations in
    its order (the largest term of each row set apart, log1p of the rest's sum over it), so
    the same floats bit for bit, without its per-call overhead (array-API dispatch, copies);
    scipy itself when a row's result is not finite (its edge cases: infinities, NaN)."""
    a_max = a.max(axis=1, keepdims=True)
    top = a == a_max
    rest = np.where(top, -np.inf, a)
    m = np.sum(top.astype(a.dtype), axis=1, keepdims=True, dtype=a.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.sum(np.exp(rest - a_max), axis=1, keepdims=True, dtype=a.dtype)
        s = np.where(s == 0, s, s / m)
        out = (np.log1p(s) + np.log(m) + a_max)[:, 0]
    if not np.isfinite(out).all():
        from scipy.special import logsumexp  # heavy: loaded only when needed
        return logsumexp(a, axis=1)
    return out


@dataclass
class MixedFit:
    """The NB2 fit with a county random intercept (:func:`fit_nb_county`)."""

    beta: np.ndarray            # β̂ (the intercept at u = 0)
    dispersion: np.ndarray      # (exp θ0[, exp θ1]): α_i = exp θ0 (+ exp θ1 w_i), within county
    sd: float                   # σ̂_u
    loglike: float              # the maximised log marginal likelihood


def _offset(X, exposure, beta):
    """log exposure + the covariates' part of the linear predictor (β held)."""
    beta = np.asarray(beta, float)
    off = np.log(exposure)
    if X.shape[1] > 1:
        off = off + np.clip(X[:, 1:] @ beta[1:], -50, 50)
    return off


def _start(beta0: float, alpha: float, nd: int) -> list[float]:
    a0 = max(alpha, 1e-4)
    return [beta0] + ([math.log(a0 / 2)] * 2 if nd == 2 else [math.log(a0)])


def fit_nb_county(X: np.ndarray, y: np.ndarray, exposure: np.ndarray, w: np.ndarray | None,
                  county: np.ndarray, start: tuple[np.ndarray, float],
                  sd_fixed: float | None = None) -> MixedFit:
    """NB2 regression with a normal county random intercept u_c ~ N(0, σ_u²), by maximum
    of the marginal likelihood (:class:`CountyLikelihood`): the intercept, the within-county
    dispersion and σ_u (or σ_u fixed at ``sd_fixed``), the covariates' coefficients held
    at ``start``'s (an offset). Raises :class:`ModelFitError` when the fit fails."""
    cl = CountyLikelihood(_offset(X, exposure, start[0]), y, w, county)
    x0 = _start(float(start[0][0]), start[1], cl.nd)
    if sd_fixed is None:
        x0.append(math.log(0.1))
    x, ll = cl.fit(np.array(x0), sd_fixed)
    sd = sd_fixed if sd_fixed is not None else math.exp(x[1 + cl.nd])
    beta = np.concatenate([[x[0]], np.asarray(start[0], float)[1:]])
    return MixedFit(beta=beta, dispersion=np.exp(np.clip(x[1:1 + cl.nd], -30, 5)),
                    sd=float(sd), loglike=ll)


def sd_posterior(X: np.ndarray, y: np.ndarray, exposure: np.ndarray, w: np.ndarray | None,
                 county: np.ndarray, start: tuple[np.ndarray, float]
                 ) -> list[tuple[float, float, np.ndarray, float]]:
    """The posterior of σ_u on ``SD_GRID``: the profile likelihood (intercept and dispersion
    re-fitted at each σ, from the neighbouring grid value's solution) times a uniform prior
    on [0, ``SD_PRIOR_MAX``], trapezoid weights. Returns (σ, weight, dispersion, profile
    log-likelihood) for every grid value with weight ≥ ``SD_WEIGHT_MIN`` (renormalised)."""
    cl = CountyLikelihood(_offset(X, exposure, start[0]), y, w, county)
    x0 = np.array(_start(float(start[0][0]), start[1], cl.nd))
    mid = int(np.searchsorted(SD_GRID, 0.2))
    order = list(range(mid, len(SD_GRID))) + list(range(mid - 1, -1, -1))
    sol: dict[int, tuple[np.ndarray, float]] = {}
    for i in order:
        near = i - 1 if i > mid else i + 1
        x = sol[near][0] if near in sol else x0
        if i == mid - 1:
            cl.u = np.zeros(cl.K)
            x = sol[mid][0]
        sol[i] = cl.fit(x, float(SD_GRID[i]))
    ll = np.array([sol[i][1] for i in range(len(SD_GRID))])
    edges = np.concatenate([[0.0], (SD_GRID[1:] + SD_GRID[:-1]) / 2, [SD_PRIOR_MAX]])
    wt = np.exp(ll - ll.max()) * np.diff(edges)
    wt /= wt.sum()
    keep = wt >= SD_WEIGHT_MIN
    wk = wt[keep] / wt[keep].sum()
    return [(float(SD_GRID[i]), float(wk[j]), np.exp(np.clip(sol[i][0][1:1 + cl.nd], -30, 5)),
             float(ll[i])) for j, i in enumerate(np.flatnonzero(keep))]


def _sd_posterior(X, y, base, fit_rows, county, w, beta, alpha):
    """:func:`sd_posterior` on the fitted rows as (σ, weight, α of every row), or None when
    the marginal fit fails (the caller then uses the moment estimate)."""
    try:
        post = sd_posterior(X[fit_rows], y[fit_rows], base[fit_rows],
                            None if w is None else w[fit_rows], county[fit_rows],
                            (beta, float(np.median(alpha[fit_rows]))))
    except (ModelFitError, FloatingPointError, np.linalg.LinAlgError):
        return None
    out = []
    for sd, weight, disp, _ in post:
        a = np.full(len(y), disp[0]) + (disp[1] * w if len(disp) > 1 else 0.0)
        out.append((sd, weight, a))
    return out
