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
and ``note`` says why. When no count model can be fitted (:class:`ModelFitError`, logged
with its reason) the model's estimate is NaN with the note ``model_failed``; any other
error (a configuration error such as an unknown covariate) stops the run.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from seuranta.core.errors import InputError, ModelFitError
from seuranta.core.fmt import fi_round
from seuranta.core.params import COVARIATES, defaults, over_defaults
from seuranta.statistics import model as mdl
from seuranta.statistics import represent as rep

log = logging.getLogger(__name__)

#: Columns of one estimate row (estimates.csv), in order.
ESTIMATE_COLUMNS = [
    "method", "municipalities_used", "clients_used", "population_used", "share_pct",
    "estimate", "se", "ci_low", "ci_high", "estimate_rounded", "national_base", "variance",
    "variance_factor", "se_linearised", "se_jackknife", "note",
]

#: Variance estimators of the ratio method (parameter ``estimate.ratio_variance``).
RATIO_VARIANCES = ("linearised", "jackknife")

NOTE_NO_MUNICIPALITIES = "no_comprehensive_municipalities"
NOTE_TOO_FEW = "too_few_municipalities"
NOTE_NO_BASE = "zero_base_population"
NOTE_MODEL_FALLBACK = mdl.NOTE_FALLBACK
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


def model_estimate(frame: pd.DataFrame, covariates: list[str], z: float = 1.96,
                   min_municipalities: int = 2, rounding: int = 100,
                   county_effect: bool = True, prediction: mdl.Prediction | None = None,
                   dispersion: str = "size",
                   without_flagged: mdl.Prediction | None = None,
                   flags: mdl.FlagMixture | None = None, flagged_interval: str = "hull"
                   ) -> dict:
    """Negative binomial prediction of the national count (:mod:`seuranta.statistics.model`).

    ``frame`` has one row per mainland municipality: clients, population_base,
    comprehensive (bool), the covariate columns and county_code. Clients of
    non-comprehensive rows are ignored (predicted instead). ``prediction``: an already
    fitted :func:`~seuranta.statistics.model.predict` of the same frame (fit once, use for
    the national and the county totals). ``without_flagged``: the same model with the
    flagged (tarkistettava) comprehensive municipalities predicted instead of counted
    (:func:`~seuranta.statistics.model.without`): whether a flagged count is an error the
    data cannot tell, so with ``flagged_interval`` ``hull`` the interval is the hull of both
    intervals, with ``average`` the central interval of the equal-weight mixture of both
    predictions (:func:`~seuranta.statistics.model.flagged_bounds`); ``flagged_shift`` is
    the difference of the two estimates (the publication rule's model risk). ``flags``:
    the same municipalities as a mixture over "the count is right / wrong"
    (:func:`~seuranta.statistics.model.flag_mixture`): its interval
    (:func:`~seuranta.statistics.model.mixture_totals`) is ``mixture_low`` /
    ``mixture_high`` (``flagged_expected_shift`` its mean less the estimate), and the
    published one with ``flagged_interval`` ``mixture``. The estimate counts them.
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
    try:
        pred = prediction or fit_model(frame, covariates, county_effect=county_effect,
                                       dispersion=dispersion)
    except ModelFitError:   # logged by fit_model: no estimate, and the note says why
        return _empty("model", n, ysum, xsum, national_base, NOTE_MODEL_FAILED)
    est, var, obs = pred.total()
    se, lo, hi = mdl.interval(est, var, obs, z)
    shift = expected = 0.0
    mixed = (lo, hi)
    if flags is not None and len(flags.rows):
        t = mdl.mixture_totals(pred, flags, np.ones(len(frame), int)).iloc[0]
        mixed = mdl.mixture_interval(float(t["mean"]), float(t["mixture_variance"]),
                                     float(t["mixture_observed"]), z, point=est)
        expected = float(t["mean"]) - est
    if without_flagged is not None and without_flagged is not pred:
        alt = without_flagged.total()
        shift = alt[0] - est
        if flagged_interval != "mixture":
            lo, hi = mdl.flagged_bounds(flagged_interval, (est, var, obs), alt, z)
    if flagged_interval == "mixture":
        lo, hi = mixed
    extra = ({"mixture_low": mixed[0], "mixture_high": mixed[1],
              "flagged_expected_shift": expected} if flags is not None else {})
    return {"method": "model", "municipalities_used": n, "clients_used": ysum,
            "population_used": xsum,
            "share_pct": 100 * est / national_base if national_base else math.nan,
            "estimate": est, "se": se, "ci_low": lo, "ci_high": hi,
            "estimate_rounded": fi_round(est, rounding), "national_base": national_base,
            "variance": "nb_predictive", "se_linearised": math.nan, "se_jackknife": math.nan,
            "note": pred.note, "flagged_shift": shift, **extra}


def fit_model(frame: pd.DataFrame, covariates: list[str], **options) -> mdl.Prediction:
    """:func:`seuranta.statistics.model.predict`, with its numerical failure (every model of
    the chain failed) raised as :class:`ModelFitError` and logged with its reason. A
    covariate the frame lacks is a configuration error (InputError), never a failed fit."""
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise InputError(f"parameters: estimate.model_covariates: {', '.join(missing)} is not a "
                         f"covariate of the municipalities (known: {', '.join(COVARIATES)})")
    try:
        return mdl.predict(frame, covariates, **options)
    except (RuntimeError, np.linalg.LinAlgError, FloatingPointError) as e:
        log.warning("model estimate not made (%s): %s: %s", NOTE_MODEL_FAILED,
                    type(e).__name__, e)
        raise ModelFitError(f"{type(e).__name__}: {e}") from e


def estimate_both(frame: pd.DataFrame, covariates: list[str], params: dict | None = None
                  ) -> list[dict]:
    """Ratio and model rows for one quarter × task (× age group), ``published`` set by
    ``params['published_method']`` (default ratio), each with the publication rule's
    columns (:func:`publication_rule`, ``params['publication_rule']``).

    ``frame``: one row per mainland municipality with clients, population_base,
    comprehensive, the covariates and county_code.
    """
    return estimate_with_prediction(frame, covariates, params)[0]


def estimate_with_prediction(frame: pd.DataFrame, covariates: list[str],
                             params: dict | None = None, diagnose: bool = False
                             ) -> tuple[list[dict], mdl.Prediction | None]:
    """:func:`estimate_both` and the fitted model's prediction (None when the estimate
    cannot be made or no model could be fitted), for the county estimates of the same fit.

    A boolean ``flagged`` column of ``frame`` marks the comprehensive municipalities
    flagged tarkistettava (quality.csv ``flags``): the model row's interval then also holds
    the estimate without them (``params['flagged_interval']`` ``hull``), or is that of the
    mixture over their counts being right or wrong (``mixture``; ``flagged_error_prior``
    the prior probability of a wrong count; :func:`model_estimate`). The prediction without
    them is ``pred.fit["without_flagged"]`` and the mixture ``pred.fit["flag_mixture"]``
    (for the county intervals). ``diagnose``: the mixture is computed (``mixture_low`` /
    ``mixture_high``) even when the hull is published (the coverage study)."""
    p = over_defaults("estimate", params)
    z = float(p["z"])
    nmin = int(p["min_municipalities"])
    step = int(p["rounding"])
    published = p["published_method"]
    variance = p["ratio_variance"]
    county_effect = bool(p["model_county_effect"])
    dispersion = str(p["model_dispersion"])
    if variance not in RATIO_VARIANCES:
        raise InputError(f"parameters: estimate.ratio_variance must be one of "
                         f"{', '.join(RATIO_VARIANCES)}, got {variance!r}")
    comp = frame["comprehensive"].to_numpy(bool)
    r = ratio_estimate(frame.loc[comp, "clients"], frame.loc[comp, "population_base"],
                       float(frame["population_base"].sum()), len(frame), z=z,
                       min_municipalities=nmin, rounding=step,
                       variance=variance)
    pred = nf = fm = None
    if not r["note"]:
        try:
            pred = fit_model(frame, covariates, county_effect=county_effect,
                             dispersion=dispersion)
        except ModelFitError:   # logged by fit_model; reported as model_failed below
            pred = None
    if pred is not None:
        flagged = (frame["flagged"].to_numpy(bool) if "flagged" in frame.columns
                   else np.zeros(len(frame), bool))
        try:
            nf = mdl.without(pred, frame, flagged & comp)
        except ModelFitError:          # too few left without them: a range (flagged_shift)
            nf = None
        if p["flagged_interval"] == "mixture" or diagnose:
            fm = mdl.flag_mixture(pred, frame, flagged & comp,
                                  float(p["flagged_error_prior"]))
        pred.fit["without_flagged"] = nf
        pred.fit["flag_mixture"] = fm
    if r["note"]:
        m = model_estimate(frame, covariates, z=z, min_municipalities=nmin, rounding=step)
    elif pred is None:
        m = _empty("model", r["municipalities_used"], r["clients_used"], r["population_used"],
                   r["national_base"], NOTE_MODEL_FAILED)
    else:
        m = model_estimate(frame, covariates, z=z, min_municipalities=nmin, rounding=step,
                           prediction=pred, without_flagged=nf, flags=fm,
                           flagged_interval=str(p["flagged_interval"]))
        if nf is None and (flagged & comp).any():
            m["flagged_shift"] = math.inf     # no estimate without them: the rule's range
        # the parts its interval is made of: widened later by the calibration of earlier
        # predictions (:func:`widened`), kept by the coverage study
        m.update(interval_parts(pred, nf, frame, flagged & comp, z))
    risk = model_risk(frame, covariates)
    for row in (r, m):
        row.update(risk)
        row.setdefault("flagged_shift", math.nan)
        row["variance_factor"] = 1.0 if row["method"] == "model" else math.nan
        row["published"] = int(row["method"] == published)
        row.update(publication_rule(row, p.get("publication_rule")))
    return [r, m], pred


def interval_parts(pred: mdl.Prediction, without_flagged: mdl.Prediction | None,
                   frame: pd.DataFrame, flagged: np.ndarray, z: float) -> dict:
    """What an interval construction is made of (the coverage study keeps it to compare
    constructions offline): the model's estimate, predictive variance and observed part
    (``model_*``) and its own interval (``own_low`` / ``own_high``); the same of the model
    without the flagged municipalities (``nf_*``; NaN when there are none or it could not
    be made); the
    posterior mean of σ_u (``sigma_u``), the posterior weight of σ_u ≤ 0.1
    (``sigma_u_low_weight``), the flagged municipalities' number and share of the base
    (``flagged_n``, ``flagged_base_pct``)."""
    e, v, o = pred.total()
    _, lo, hi = mdl.interval(e, v, o, z)
    nf = (math.nan,) * 3
    if without_flagged is not None and without_flagged is not pred:
        nf = without_flagged.total()
    comps = pred.components
    base = frame["population_base"].to_numpy(float)
    return {"model_estimate": e, "model_variance": v, "model_observed": o,
            "own_low": lo, "own_high": hi, "nf_estimate": nf[0], "nf_variance": nf[1],
            "nf_observed": nf[2], "sigma_u": math.sqrt(pred.sigma_u2),
            "sigma_u_low_weight": float(sum(c.weight for c in comps if c.sd <= 0.1)),
            "flagged_n": int(np.asarray(flagged, bool).sum()),
            "flagged_base_pct": 100 * float(base[np.asarray(flagged, bool)].sum() / base.sum())}


def widened(row: dict, factor: float, params: dict | None = None) -> dict:
    """A model row whose interval is made again with both predictive variances (the
    model's and the one without the flagged municipalities, :func:`interval_parts`)
    multiplied by ``factor``, its ``se`` likewise, and the publication rule applied again
    (``variance_factor`` says by what). ``factor`` is the calibration of the model's
    earlier predictions (:func:`seuranta.statistics.stage.variance_factors`): what the
    model's own variance lacks, measured on municipalities it did not see. The estimate
    itself does not change. Other rows, a factor of 1 and a row without an estimate come
    back as they are (with ``variance_factor`` set)."""
    out = {**row, "variance_factor": factor if row["method"] == "model" else math.nan}
    if (row["method"] != "model" or factor == 1.0
            or not np.isfinite(row.get("model_estimate", math.nan))):
        return out
    p = over_defaults("estimate", params)
    z = float(p["z"])
    kind = str(p["flagged_interval"])
    if kind == "mixture":
        raise InputError("parameters: estimate.interval_calibration needs "
                         "estimate.flagged_interval hull or average, not mixture")
    own = (row["model_estimate"], factor * row["model_variance"], row["model_observed"])
    nf = ((row["nf_estimate"], factor * row["nf_variance"], row["nf_observed"])
          if np.isfinite(row.get("nf_estimate", math.nan)) else None)
    se, lo, hi = mdl.interval(*own, z)
    if nf is not None:
        lo, hi = mdl.flagged_bounds(kind, own, nf, z)
    out.update(se=se, ci_low=lo, ci_high=hi)
    out.update(publication_rule(out, p.get("publication_rule")))
    return out


def model_risk(frame: pd.DataFrame, covariates: list[str]) -> dict:
    """What the data cannot show, as the publication rule reads it: ``counties_used`` (the
    counties with comprehensive municipalities) and ``max_std_diff``, the largest absolute
    standardised difference (m_C − m_U) / √((s²_C + s²_U) / 2) over the model's covariates
    between the comprehensive municipalities (C) and the others (U), unweighted: how far
    the prediction of U reaches outside what C shows."""
    comp = frame["comprehensive"].to_numpy(bool)
    counties = (int(frame.loc[comp, "county_code"].nunique()) if "county_code" in frame
                else 0)
    worst = 0.0
    if comp.sum() >= 2 and (~comp).sum() >= 2:
        for c in covariates:
            x = frame[c].to_numpy(float)
            _, _, d = rep.std_diff(x[comp], x[~comp])
            if np.isfinite(d):
                worst = max(worst, abs(d))
    elif comp.sum() < 2:
        worst = math.nan
    return {"counties_used": counties, "max_std_diff": worst}


# --------------------------------------------------------------------------- publication rule

#: Columns the publication rule adds to an estimate row, and the model-risk columns it
#: reads (:func:`model_risk`; ``flagged_shift`` of the model row, :func:`model_estimate`).
RULE_COLUMNS = ["publish_as", "range_low", "range_high", "rule_reason"]
RISK_COLUMNS = ["counties_used", "max_std_diff", "flagged_shift"]

#: Defaults of ``estimate.publication_rule`` in parameters.yml.
#: Defaults of estimate.publication_rule (declared in core.params.SCHEMA).
RULE_DEFAULTS = dict(defaults("estimate")["publication_rule"])

#: Reason codes of the rule, in the order they are tested (level, quantity, parameter key).
_RULE_TESTS = [("base_share", "point_min_base_pct"), ("municipalities", "point_min_municipalities"),
               ("clients", "point_min_clients")]


def nice_step(x: float) -> float:
    """The smallest 1, 2 or 5 × 10^k that is at least ``x`` (> 0)."""
    k = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10 ** k >= x * (1 - 1e-12):
            return float(m * 10 ** k)
    return float(10 ** (k + 1))


def rounded_range(estimate: float, low: float, high: float, observed: float,
                  step_pct: float) -> tuple[float, float]:
    """The interval [low, high] rounded outwards to a 1-2-5 step of at least ``step_pct`` %
    of the estimate, its low end not below the observed clients rounded down."""
    step = nice_step(max(estimate, 1.0) * step_pct / 100)
    lo = max(math.floor(max(low, 0.0) / step), math.floor(observed / step)) * step
    return float(lo), float(math.ceil(high / step) * step)


def publication_rule(row: dict, rule: dict | None = None) -> dict:
    """How an estimate row may be published: ``publish_as`` point / range / none.

    A point estimate needs the comprehensive municipalities to cover at least
    ``point_min_base_pct`` % of the population base, ``point_min_municipalities``
    municipalities and ``point_min_clients`` clients, and a relative standard error of at
    most ``point_max_rse_pct`` % (data volume), and no sign of *model risk* — what the
    interval cannot hold because the data cannot show it:

    * ``counties<k``: the comprehensive municipalities come from fewer than
      ``point_min_counties`` counties (a few counties cannot show how much the others
      differ);
    * ``std_diff>d``: they differ from the other municipalities by a standardised
      difference of at least ``point_max_std_diff`` on a model covariate (the prediction
      would reach outside the data: ``max_std_diff``, :func:`model_risk`);
    * ``flagged_shift``: the estimate without the flagged (tarkistettava) municipalities
      differs from it by more than the interval's half-width (``flagged_shift``).

    Otherwise, at or above the ``range_*`` limits of data volume, the interval is
    published as a range rounded outwards to a 1-2-5 step of at least ``range_step_pct`` %
    of the estimate (as THL's "30 000–50 000"), never below the observed clients; below
    those, no estimate. ``rule_reason``: the failed conditions as ``code<value`` (or a bare
    code) separated by ``;`` (Finnish texts: ``labels_fi.RULE_REASON_FI``).
    """
    p = {**RULE_DEFAULTS, **(rule or {})}
    base_pct = (100 * row["population_used"] / row["national_base"]
                if row.get("national_base") else 0.0)
    have = {"base_share": base_pct, "municipalities": row["municipalities_used"],
            "clients": row["clients_used"]}

    def failed(level: str) -> list[str]:
        out = []
        for what, key in _RULE_TESTS:
            limit = float(p[key.replace("point_", f"{level}_")])
            if have[what] < limit:
                out.append(f"{what}<{limit:g}")
        return out

    est, lo, hi = row.get("estimate"), row.get("ci_low"), row.get("ci_high")
    finite = all(v is not None and np.isfinite(v) for v in (est, lo, hi))
    if not finite:
        return {"publish_as": "none", "range_low": math.nan, "range_high": math.nan,
                "rule_reason": row.get("note") or "no_estimate"}
    point_fail, range_fail = failed("point"), failed("range")
    rse = 100 * row["se"] / est if est > 0 and np.isfinite(row.get("se", math.nan)) else math.inf
    if rse > float(p["point_max_rse_pct"]):
        point_fail.append(f"rse>{float(p['point_max_rse_pct']):g}")
    point_fail += model_risk_reasons(row, p)
    if not point_fail:
        return {"publish_as": "point", "range_low": math.nan, "range_high": math.nan,
                "rule_reason": ""}
    if range_fail:
        return {"publish_as": "none", "range_low": math.nan, "range_high": math.nan,
                "rule_reason": ";".join(range_fail)}
    low, high = rounded_range(est, lo, hi, row["clients_used"], float(p["range_step_pct"]))
    return {"publish_as": "range", "range_low": low, "range_high": high,
            "rule_reason": ";".join(point_fail)}


def model_risk_reasons(row: dict, p: dict) -> list[str]:
    """The model-risk codes of :func:`publication_rule` that ``row`` fails."""
    out = []
    k = int(p["point_min_counties"])
    if row.get("counties_used") is not None and row["counties_used"] < k:
        out.append(f"counties<{k}")
    d = float(p["point_max_std_diff"])
    sd = row.get("max_std_diff")
    if sd is not None and np.isfinite(sd) and sd >= d:
        out.append(f"std_diff>{d:g}")
    shift = row.get("flagged_shift")
    half = (row["ci_high"] - row["ci_low"]) / 2
    if shift is not None and not math.isnan(shift) and abs(shift) > half:
        out.append("flagged_shift")
    return out
