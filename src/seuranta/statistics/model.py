"""The count model behind the ``model`` estimate and the county (small-area) estimates.

Fitted on the comprehensive municipalities of one quarter × task, it predicts the clients of
every other municipality. Municipalities genuinely differ (by tens of per cent, whatever
their size), so the model's variance must grow faster than its mean:

**Negative binomial (NB2) regression** with the log population base as exposure and the
municipal covariates (standardised over the mainland)::

    Y_i ~ NB(μ_i, α),  log μ_i = log base_i + x_iᵀβ,  Var(Y_i) = μ_i + α μ_i²

fitted by maximum likelihood (statsmodels ``NegativeBinomial``, ``nb2``). α is the
between-municipality variance on the log scale (for a log-normal municipal effect of sd σ,
α = exp(σ²) − 1 ≈ σ²) plus nothing for count noise (that is the μ term).

**County effect (empirical Bayes).** Joining Kanta is clustered by county, and counties
differ too. Per county c with comprehensive municipalities, O_c = Σ y_i and E_c = Σ μ̂_i over
them; r_c = log(O_c / E_c) has sampling variance v_c ≈ Σ (μ̂_i + α μ̂_i²) / E_c². The
between-county variance σ_u² = max(0, mean(r_c² − v_c)) (method of moments, over the
counties with comprehensive municipalities, at least ``MIN_COUNTIES``); the county effect is
shrunk, û_c = B_c r_c with B_c = σ_u² / (σ_u² + v_c), and its posterior variance is
σ_u² (1 − B_c) (σ_u² for a county with no comprehensive municipality, û_c = 0). The
predicted mean of an unobserved municipality j of county c is μ'_j = μ̂_j exp(û_c).

**The predictive variance of a total** over a set A of municipalities (the mainland for
the national estimate, a county for a county estimate): the estimate is
T̂_A = Σ_{A∩C} y_i + Σ_{A∩U} μ'_j (C comprehensive: observed; U the others: predicted). Its
error T_A − T̂_A = Σ_{A∩U} (Y_j − μ_j) − Σ_{A∩U} (μ̂_j − μ_j); the unobserved counts are
independent of the fit (it uses other municipalities), so::

    Var(T_A − T̂_A) = Σ_{A∩U} (μ'_j + α μ'_j²)        NB noise of each predicted municipality
                   + g_Aᵀ Cov(β̂) g_A                  parameter uncertainty (delta method),
                                                        g_A = Σ_{A∩U} μ'_j x_j
                   + Σ_c S_{A,c}² σ_u² (1 − B_c)        county-effect uncertainty,
                                                        S_{A,c} = Σ_{A∩U∩c} μ'_j

The covariates of a predicted municipality are clipped to the range of the fitted ones
(no extrapolation: when only large towns are comprehensive, the smallest municipalities
are predicted as the smallest of them would be). The uncertainty of α and the covariance
of û_c with β̂ are ignored (both small against the
terms kept); α, estimated without the county effect, contains the between-county variance
as well, so the first term is on the safe side. The interval is T̂ ± z·SE, its lower end
never below the observed Σ_{A∩C} y_i (the total cannot be lower).

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
    """A fitted model's prediction for every municipality of a frame (row order kept)."""

    observed: np.ndarray      # y_i of comprehensive rows, 0 elsewhere
    mean: np.ndarray          # μ'_j of predicted rows, 0 on comprehensive rows
    noise_var: np.ndarray     # μ'_j + α μ'_j² of predicted rows, 0 elsewhere
    X: np.ndarray             # design matrix (all rows)
    cov_beta: np.ndarray      # Cov(β̂)
    county: np.ndarray        # county code of each row
    county_var: dict          # county → posterior variance of its effect
    alpha: np.ndarray         # α_i of every row
    sigma_u2: float
    note: str

    def total(self, rows: np.ndarray | None = None) -> tuple[float, float, float]:
        """(estimate, variance, observed part) of the total over ``rows`` (bool mask; all)."""
        m = np.ones(len(self.mean), bool) if rows is None else np.asarray(rows, bool)
        mu = self.mean[m]
        g = (mu[:, None] * self.X[m]).sum(axis=0)
        var = float(self.noise_var[m].sum()) + float(g @ self.cov_beta @ g)
        if self.county_var:
            s = pd.Series(mu).groupby(self.county[m]).sum()
            var += float(sum(v ** 2 * self.county_var.get(c, 0.0) for c, v in s.items()))
        obs = float(self.observed[m].sum())
        return obs + float(mu.sum()), max(var, 0.0), obs

    def group_totals(self, groups: np.ndarray) -> pd.DataFrame:
        """Estimate, variance and observed part per group (e.g. county) — vectorised
        version of :meth:`total` for a partition of the rows."""
        groups = np.asarray(groups)
        keys, inv = np.unique(groups, return_inverse=True)
        k = len(keys)
        mu = self.mean
        est = np.bincount(inv, weights=mu, minlength=k)
        obs = np.bincount(inv, weights=self.observed, minlength=k)
        noise = np.bincount(inv, weights=self.noise_var, minlength=k)
        G = np.zeros((k, self.X.shape[1]))
        np.add.at(G, inv, mu[:, None] * self.X)
        par = np.einsum("ij,jk,ik->i", G, self.cov_beta, G)
        cvar = np.zeros(k)
        if self.county_var:
            # county effect: Σ over counties inside each group of S² × posterior variance
            pair = pd.DataFrame({"g": inv, "c": self.county, "mu": mu}).groupby(["g", "c"])["mu"].sum()
            for (gi, c), s in pair.items():
                cvar[gi] += s ** 2 * self.county_var.get(c, 0.0)
        return pd.DataFrame({"group": keys, "estimate": obs + est, "variance": noise + par + cvar,
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
    X, beta, cov, alpha, how = _fit_chain(frame, covs, y, base, fit_rows, size)
    note = note or how
    # no extrapolation: a predicted municipality's covariates are clipped to the range of the
    # fitted ones (the comprehensive set may be, say, large towns only)
    X = np.clip(X, X[fit_rows].min(axis=0), X[fit_rows].max(axis=0))
    mu_hat = np.where(base > 0, np.exp(np.clip(X @ beta, -50, 50)) * base, 0.0)
    county = (frame["county_code"].astype(str).to_numpy() if "county_code" in frame.columns
              else np.full(len(frame), ""))
    shift = np.zeros(len(frame))
    county_var: dict = {}
    sigma_u2 = 0.0
    if county_effect and "county_code" in frame.columns:
        shift, county_var, sigma_u2 = _county_effects(y, mu_hat, alpha, fit_rows, county,
                                                      county_sd_min ** 2)
        cov = cov + sigma_u2 * cluster_term(X, mu_hat, alpha, fit_rows, county, cov)
    other = ~comp & (base > 0)
    mean = np.where(other, mu_hat * np.exp(shift), 0.0)
    return Prediction(observed=np.where(comp, y, 0.0), mean=mean,
                      noise_var=mean + alpha * mean ** 2, X=X, cov_beta=cov, county=county,
                      county_var=county_var, alpha=alpha, sigma_u2=sigma_u2, note=note)


def _fit_chain(frame, covs, y, base, rows, size):
    """NB with the covariates (size-dependent dispersion when ``size`` is given, else or
    when that fails constant α); else Poisson with them (no extra-Poisson variance found:
    the NB likelihood is maximised at α → 0); else the same with an intercept only.
    Returns X, β, Cov(β̂), α of every row, note."""
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
                    return X, b2, c2, ab[0] + ab[1] * size, note
                except Exception:  # noqa: BLE001 - keep the constant-α fit
                    pass
            return X, beta, cov, np.full(n, alpha), note
        try:
            beta, cov, alpha = fit_poisson(X[rows], y[rows], base[rows])
            return X, beta, cov, np.full(n, alpha), note or NOTE_POISSON
        except Exception:  # noqa: BLE001
            pass
    raise RuntimeError("no count model could be fitted")


def _county_effects(y, mu_hat, alpha, fit_rows, county, floor: float = 0.0):
    """Shrunk county effects (per row), their posterior variances and σ_u² (docstring).

    σ_u² by moments over the k counties with comprehensive municipalities, with k − 1
    degrees of freedom (the r_c are residuals around the fitted mean, which the same
    counties determine), and never below ``floor`` (``estimate.model_county_sd_min``²):
    from fewer than ``MIN_COUNTIES`` counties the data cannot tell how much counties differ,
    and an estimate of 0 from four or five would claim that the unobserved counties are
    exactly like the observed ones."""
    d = pd.DataFrame({"c": county[fit_rows], "o": y[fit_rows], "e": mu_hat[fit_rows],
                      "v": mu_hat[fit_rows] + alpha[fit_rows] * mu_hat[fit_rows] ** 2})
    g = d.groupby("c")[["o", "e", "v"]].sum()
    g = g[g["e"] > 0]
    r = np.log((g["o"] + 0.5) / (g["e"] + 0.5))
    v = g["v"] / g["e"] ** 2
    k = len(g)
    mom = max(0.0, float((r ** 2 - v).sum()) / (k - 1)) if k >= MIN_COUNTIES else 0.0
    sigma_u2 = max(mom, float(floor))
    if sigma_u2 <= 0 or k == 0:
        return np.zeros(len(county)), {}, 0.0
    b = sigma_u2 / (sigma_u2 + v)
    u = (b * r).to_dict()
    post = (sigma_u2 * (1 - b)).to_dict()
    county_var = {c: post.get(c, sigma_u2) for c in np.unique(county)}
    shift = np.array([u.get(c, 0.0) for c in county])
    return shift, county_var, sigma_u2


def cluster_term(X, mu_hat, alpha, fit_rows, county, cov) -> np.ndarray:
    """Cov(β̂) per unit σ_u² that the county effects of the fitted municipalities add:
    C (Σ_c z_c z_cᵀ) C with C = Cov(β̂) (the inverse information) and
    z_c = Σ_{i ∈ c, fitted} x_i μ̂_i / (1 + α_i μ̂_i).

    A county effect u_c moves every y_i of county c by about μ̂_i u_c, so the NB score
    Σ x_i (y_i − μ̂_i) / (1 + α_i μ̂_i) gains u_c z_c; with u_c independent of variance
    σ_u², Var(score) gains σ_u² Σ_c z_c z_cᵀ and Cov(β̂) the sandwich above. This is what
    makes the prediction honest when Kanta joining is clustered by county: the
    municipalities of four counties carry the information of four counties, not of their
    number of municipalities."""
    w = np.where(fit_rows, mu_hat / (1.0 + alpha * mu_hat), 0.0)
    keys, inv = np.unique(county, return_inverse=True)
    Z = np.zeros((len(keys), X.shape[1]))
    np.add.at(Z, inv, w[:, None] * X)
    return cov @ (Z.T @ Z) @ cov


def interval(estimate: float, variance: float, observed: float, z: float) -> tuple[float, float, float]:
    """(se, low, high): estimate ± z·se, the low end never below the observed part."""
    se = math.sqrt(variance)
    return se, max(estimate - z * se, observed), estimate + z * se
