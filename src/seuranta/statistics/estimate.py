"""National estimates of clients per service task from the comprehensive municipalities.

Two methods, both reported in ``estimates.csv``; ``estimate.published_method`` chooses the
one the publication prints:

``ratio`` (THL's method)
    R = Σ clients / Σ base over the comprehensive municipalities; estimate = R × the
    mainland's base. The standard error treats the comprehensive municipalities as a simple
    random sample without replacement of n out of the N mainland municipalities, exactly as
    R's ``survey::svyratio`` with a finite-population correction::

        var(R) = (1 − n/N) / (n · x̄²) · Σ (y_i − R x_i)² / (n − 1),   x̄ = Σ x_i / n

    SE(estimate) = national base × SE(R); the interval is ± z·SE (z = 1.96 for 95 %).

    That is the *linearised* variance. ``ratio_variance: jackknife`` (the default of
    parameters.yml) uses instead the delete-one jackknife of the same SRSWOR + fpc design,
    as ``svyratio`` gives on ``as.svrepdesign(design, type = "JK1")`` with the fpc::

        var(R) = (1 − n/N) · (n − 1)/n · Σ (R_(j) − R̄_(·))²,
        R_(j) = (Σ y − y_j) / (Σ x − x_j),   R̄_(·) = mean of the R_(j)

    Municipal sizes are very skewed (Helsinki alone is about a tenth of every base), and
    with few comprehensive municipalities the linearised variance is too small more often
    than the nominal 5 % (``scripts/coverage_sim.py`` measures it); the jackknife, which
    recomputes the ratio without each municipality, keeps the coverage nearer 95 %. Both
    standard errors are reported (``se_linearised``, ``se_jackknife``); ``se`` and the
    interval use the chosen one (``variance``).
``model``
    A Poisson GLM (log link, log base as offset, covariates of the municipality, e.g. log
    population and age structure) fitted on the comprehensive municipalities with a
    quasi-likelihood dispersion φ = max(1, Pearson χ²/df). The total is the observed count
    of the comprehensive municipalities + the predicted count of all the others. Its
    variance by the delta method: gᵀ Cov(β) g + φ Σ μ_j over the predicted municipalities,
    where g = Σ μ_j x_j (parameter uncertainty + the Poisson-type noise of the unobserved
    counts).

With fewer than ``min_municipalities`` comprehensive municipalities the estimate is NaN
and ``note`` says why; nothing raises.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from seuranta.core.errors import InputError
from seuranta.core.fmt import fi_round

#: Columns of one estimate row (estimates.csv), in order.
ESTIMATE_COLUMNS = [
    "method", "municipalities_used", "clients_used", "population_used", "share_pct",
    "estimate", "se", "ci_low", "ci_high", "estimate_rounded", "national_base", "variance",
    "se_linearised", "se_jackknife", "note",
]

#: Variance estimators of the ratio method (parameter ``estimate.ratio_variance``).
RATIO_VARIANCES = ("linearised", "jackknife")

NOTE_NO_MUNICIPALITIES = "no_comprehensive_municipalities"
NOTE_TOO_FEW = "too_few_municipalities"
NOTE_NO_BASE = "zero_base_population"
NOTE_MODEL_FALLBACK = "model_fallback_intercept_only"
NOTE_MODEL_FAILED = "model_failed"


def _empty(method: str, n: int, y: float, x: float, national_base: float, note: str) -> dict:
    return {"method": method, "municipalities_used": n, "clients_used": y, "population_used": x,
            "share_pct": math.nan, "estimate": math.nan, "se": math.nan, "ci_low": math.nan,
            "ci_high": math.nan, "estimate_rounded": math.nan,
            "national_base": national_base, "variance": "", "se_linearised": math.nan,
            "se_jackknife": math.nan, "note": note}


def _unusable(method: str, n: int, ysum: float, xsum: float, national_base: float,
              min_municipalities: int) -> dict | None:
    """The empty result (with its note) when the estimate cannot be made, else None."""
    if n == 0:
        return _empty(method, 0, 0.0, 0.0, national_base, NOTE_NO_MUNICIPALITIES)
    if n < max(2, min_municipalities):
        return _empty(method, n, ysum, xsum, national_base, NOTE_TOO_FEW)
    if xsum <= 0:
        return _empty(method, n, ysum, xsum, national_base, NOTE_NO_BASE)
    return None


def ratio_variances(clients, base, n_population: int) -> tuple[float, float]:
    """Linearised and delete-one jackknife variances of R = Σ y / Σ x (SRSWOR + fpc)."""
    y = np.asarray(clients, dtype=float)
    x = np.asarray(base, dtype=float)
    n = len(y)
    ysum, xsum = float(y.sum()), float(x.sum())
    r = ysum / xsum
    fpc = max(0.0, 1.0 - n / n_population)
    resid_ss = float(((y - r * x) ** 2).sum())
    var_lin = fpc / (n * (xsum / n) ** 2) * resid_ss / (n - 1)
    rest = xsum - x
    if np.any(rest <= 0):                    # one municipality holds the whole base
        return var_lin, math.nan
    r_j = (ysum - y) / rest
    var_jk = fpc * (n - 1) / n * float(((r_j - r_j.mean()) ** 2).sum())
    return var_lin, var_jk


def ratio_estimate(clients, base, national_base: float, n_population: int, z: float = 1.96,
                   min_municipalities: int = 2, rounding: int = 100,
                   variance: str = "linearised") -> dict:
    """Ratio estimate of the national count with its SRSWOR + fpc standard error.

    ``clients``, ``base``: the comprehensive municipalities' counts and population bases;
    ``national_base``: the base of the whole mainland; ``n_population``: N municipalities;
    ``variance``: ``linearised`` (svyratio on the SRS design) or ``jackknife`` (svyratio
    on its JK1 replicate design).
    """
    if variance not in RATIO_VARIANCES:
        raise ValueError(f"ratio variance must be one of {', '.join(RATIO_VARIANCES)}, "
                         f"got {variance!r}")
    y = np.asarray(clients, dtype=float)
    x = np.asarray(base, dtype=float)
    n = len(y)
    ysum, xsum = float(y.sum()), float(x.sum())
    unusable = _unusable("ratio", n, ysum, xsum, national_base, min_municipalities)
    if unusable is not None:
        return unusable
    r = ysum / xsum
    var_lin, var_jk = ratio_variances(y, x, n_population)
    se_lin = math.sqrt(var_lin) * national_base
    se_jk = math.sqrt(var_jk) * national_base if math.isfinite(var_jk) else math.nan
    used = "jackknife" if variance == "jackknife" and math.isfinite(se_jk) else "linearised"
    se = se_jk if used == "jackknife" else se_lin
    est = r * national_base
    return {"method": "ratio", "municipalities_used": n, "clients_used": ysum,
            "population_used": xsum, "share_pct": 100 * r, "estimate": est, "se": se,
            "ci_low": est - z * se, "ci_high": est + z * se,
            "estimate_rounded": fi_round(est, rounding), "national_base": national_base,
            "variance": used, "se_linearised": se_lin, "se_jackknife": se_jk, "note": ""}


def _design(frame: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    """Intercept + covariates standardised over all rows of ``frame`` (the mainland)."""
    cols = [np.ones(len(frame))]
    for c in covariates:
        v = frame[c].to_numpy(float)
        sd = v.std()
        cols.append((v - v.mean()) / sd if sd > 0 else v * 0.0)
    return np.column_stack(cols)


def _fit_poisson(X, y, offset):
    import statsmodels.api as sm  # heavy dependency: loaded only when used

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset)
        res = model.fit()
    if not getattr(res, "converged", True) or not np.all(np.isfinite(res.params)):
        raise RuntimeError("GLM did not converge")
    mu = res.fittedvalues
    df = len(y) - X.shape[1]
    phi = float(((y - mu) ** 2 / np.where(mu > 0, mu, 1)).sum() / df) if df > 0 else 1.0
    phi = max(1.0, phi)
    cov = np.asarray(res.cov_params()) * phi
    return np.asarray(res.params), cov, phi


def model_estimate(frame: pd.DataFrame, covariates: list[str], z: float = 1.96,
                   min_municipalities: int = 2, rounding: int = 100) -> dict:
    """Poisson GLM estimate of the national count (delta-method interval).

    ``frame`` has one row per mainland municipality: clients, population_base,
    comprehensive (bool) and the covariate columns. Clients of non-comprehensive rows are
    ignored (predicted instead). Covariates are dropped to intercept only when there are
    fewer than 3 comprehensive municipalities per parameter or the fit fails.
    """
    comp = frame["comprehensive"].to_numpy(bool)
    base = frame["population_base"].to_numpy(float)
    y_all = frame["clients"].to_numpy(float)
    national_base = float(base.sum())
    n = int(comp.sum())
    ysum, xsum = float(y_all[comp].sum()), float(base[comp].sum())
    unusable = _unusable("model", n, ysum, xsum, national_base, min_municipalities)
    if unusable is not None:
        return unusable
    fit_rows = comp & (base > 0)
    note = ""
    covs = list(covariates)
    if n < 3 * (len(covs) + 1):
        covs, note = [], NOTE_MODEL_FALLBACK
    X_all = _design(frame, covs)
    try:
        beta, cov, phi = _fit_poisson(X_all[fit_rows], y_all[fit_rows], np.log(base[fit_rows]))
    except Exception:  # noqa: BLE001 - any numerical failure falls back to the ratio model
        X_all = _design(frame, [])
        beta, cov, phi = _fit_poisson(X_all[fit_rows], y_all[fit_rows], np.log(base[fit_rows]))
        note = NOTE_MODEL_FALLBACK
    other = ~comp & (base > 0)
    eta = X_all[other] @ beta + np.log(base[other])
    mu = np.exp(eta)
    predicted = float(mu.sum())
    est = ysum + predicted
    g = (mu[:, None] * X_all[other]).sum(axis=0)
    var = float(g @ cov @ g) + phi * predicted
    se = math.sqrt(max(var, 0.0))
    return {"method": "model", "municipalities_used": n, "clients_used": ysum,
            "population_used": xsum, "share_pct": 100 * est / national_base if national_base else math.nan,
            "estimate": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se,
            "estimate_rounded": fi_round(est, rounding), "national_base": national_base,
            "variance": "delta", "se_linearised": math.nan, "se_jackknife": math.nan,
            "note": note}


def estimate_both(frame: pd.DataFrame, covariates: list[str], params: dict | None = None
                  ) -> list[dict]:
    """Ratio and model rows for one quarter × task (× age group), ``published`` set by
    ``params['published_method']`` (default ratio).

    ``frame``: one row per mainland municipality with clients, population_base,
    comprehensive and the covariates.
    """
    p = params or {}
    z = float(p.get("z", 1.96))
    nmin = int(p.get("min_municipalities", 2))
    step = int(p.get("rounding", 100))
    published = p.get("published_method", "ratio")
    variance = p.get("ratio_variance", "linearised")
    if variance not in RATIO_VARIANCES:
        raise InputError(f"parameters: estimate.ratio_variance must be one of "
                         f"{', '.join(RATIO_VARIANCES)}, got {variance!r}")
    comp = frame["comprehensive"].to_numpy(bool)
    r = ratio_estimate(frame.loc[comp, "clients"], frame.loc[comp, "population_base"],
                       float(frame["population_base"].sum()), len(frame), z=z,
                       min_municipalities=nmin, rounding=step,
                       variance=variance)
    m = model_estimate(frame, covariates, z=z, min_municipalities=nmin, rounding=step)
    for row in (r, m):
        row["published"] = int(row["method"] == published)
    return [r, m]
