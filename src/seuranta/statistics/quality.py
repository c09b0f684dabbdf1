"""Quality class of every quarter × municipality × service task.

``comprehensive`` / ``partial`` / ``none``, with every reason as a stable code
(``'; '``-joined in ``reasons``; ``REASONS`` below has the Finnish description of each for
the book), and ``flags``: the codes that mark a comprehensive row *tarkistettava* (to be
checked in the review round). The rules, each with a named parameter in
``parameters.yml`` ``quality:``.

Exclusion (``partial``) rests on evidence about the *delivery*, and on the level of the
count only where the genuine differences between municipalities cannot explain it (the
model check): where municipalities genuinely differ, excluding the ones whose share is
merely low against the others selects the comprehensive set on the outcome and pushes the
estimate up, while counting an under-delivering municipality as comprehensive pulls it
down twice (its own count, and the others' prediction through the fit).

none
    ``no_rows`` — no clients from any source (ALL = 0) and no source declares the whole
    quarter.
partial (any blocking code: delivery evidence)
    Declared coverage (deliveries.csv), taken as the union of the declared intervals of
    the sources that delivered rows in the quarter:
    ``coverage_not_declared`` (no delivering source declares any coverage of the quarter),
    ``coverage_starts_in_quarter``, ``coverage_ends_in_quarter``, ``coverage_gap``.
    Monthly profile (monthly.csv, source ALL): ``monthly_ramp_up`` when the first month's
    clients < ``ramp_min_ratio`` × the last month's (and the last month has at least
    ``ramp_min_clients``), ``monthly_ramp_down`` the other way round.
    Sources: ``source_disagreement`` when both sources delivered rows, both declare the
    whole quarter, and the smaller one has fewer than ``source_min_ratio`` × the larger
    one's clients (the larger at least ``ramp_min_clients``): one of them is incomplete.
    Own history: ``own_drop`` when the share is below ``drop_ratio`` × the median share of
    the municipality's own earlier quarters (up to ``drop_quarters``) that had declared
    coverage and no delivery code, and the drop is beyond the noise of a quarter's count
    ((y − E) / √(E + τ² E²) < −``robust_z_max``, E the count expected at the earlier
    share, τ² the genuine quarter-to-quarter variance, :func:`own_history`). The limit is
    the strict one: the rule tests thousands of rows every quarter and excludes what it
    catches, so a lenient limit would exclude genuinely complete municipalities whose
    count happened to dip — selection on the outcome.
    Model check (per quarter × task, :func:`model_check`): ``share_low_model`` when the
    count is implausibly low against the leave-one-out prediction of a weighted
    log-share regression on the model's covariates over the other clean rows, whose
    predictive spread includes the genuine between-municipality variance τ² (robust) and
    Poisson noise — the rows the Benjamini–Hochberg procedure selects at false discovery
    rate ``model_check_fdr`` — *and* the comparison below flags it low too
    (``share_low_comparable`` / ``share_low_z``; :func:`_model_checks` says why both).
    ``model_check: false`` turns it off, only to measure it.
    Review decisions (corrections.csv): ``review_exclude``.
flag (quality stays ``comprehensive``; ``flags`` lists the codes; in the estimate)
    Plausibility of the share against comparable municipalities, i.e. the "clean"
    municipalities of the same task (clients, full declared coverage, no delivery code;
    pooled over the quarters of the series, see :func:`plausibility`) of the same county
    when there are at least ``comparison_min_group`` of them, else of the same size class,
    else of the whole mainland. With ratio = share / the group's median, E the count
    expected at that median, z_noise = log(ratio)·√E (Poisson noise only) and z the log
    ratio over its full standard deviation (genuine between-municipality spread + Poisson
    noise): ``share_low_comparable`` when ratio < ``low_ratio`` and z_noise <
    −``comparison_z``; ``share_low_z`` when instead z < −``robust_z_max``;
    ``share_high_comparable`` / ``share_high_z`` the same upwards (``high_ratio``). A
    flagged municipality goes into its county's review workbook for confirmation; the
    statistics stage also gives the estimate without the flagged municipalities
    (``estimates_sensitivity``). ``plausibility_excludes: true`` restores the earlier rule
    (a flag excludes: ``partial``), only to measure what it did.
comprehensive
    Rows, declared full coverage and no delivery code. ``declared_zero``: no clients from
    any source while a source declares the whole quarter (a municipality may truly have no
    clients of a task): comprehensive with 0 clients, counted as 0 in the estimate rather
    than predicted; flagged ``share_low_comparable`` when the comparison group's share
    would expect so many clients (E > ``comparison_z``², so P(0) < e^{−comparison_z²})
    that Poisson noise cannot explain the zero; and a zero where the municipality's own
    earlier share expects clients beyond noise is an ``own_drop`` (partial). ``review_include`` turns the
    overridable codes (monthly, sources, own history) into remarks and clears the flags
    (confirmed); ``review_note`` and ``declared_source_empty`` (a source declared coverage
    but delivered nothing while another one did) are remarks that never change the class.

``sources`` tells which sources delivered rows: ``SHA``, ``ET``, ``SHA+ET`` or ``''``.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core.errors import InputError
from seuranta.core.params import defaults
from seuranta.core.quarters import Quarter
from seuranta.core.tables import itertuples
from seuranta.inputs import corrections as corrections_input
from seuranta.inputs.corrections import CORRECTIONS_FILE
from seuranta.inputs.deliveries import read_deliveries  # noqa: F401  (the one reader, re-exported)

QUALITY_COLUMNS = ["quarter", "municipality_code", "county_code", "service_task", "quality",
                   "sources", "reasons", "flags", "clients", "share_pct",
                   "comparison_median_pct", "comparison_group", "plausibility_z",
                   "own_reference_pct", "review_reason"]

#: Finnish label of a flagged (comprehensive, to be checked) row.
FLAG_FI = "tarkistettava"

#: Reason codes: code → (effect: none/partial/flag/remark, overridable by 'include',
#: Finnish description for the book). 'partial' excludes from the estimate (delivery
#: evidence only); 'flag' keeps the row comprehensive and in the estimate, marked
#: tarkistettava for the review round.
REASONS: dict[str, tuple[str, bool, str]] = {
    "no_rows": ("none", False, "Miltään lähteeltä ei ollut yhtään asiakkuutta."),
    "declared_zero": ("remark", False,
                      "Yhtään asiakkuutta ei ollut, vaikka lähde ilmoitti kattavansa koko "
                      "neljänneksen: asiakasmääräksi tulkitaan nolla."),
    "coverage_not_declared": ("partial", False,
                              "Yksikään aineistoa toimittanut lähde ei ilmoittanut kattavansa "
                              "neljännestä (toimitustiedot puuttuvat)."),
    "coverage_starts_in_quarter": ("partial", False,
                                   "Ilmoitettu kattavuus alkaa vasta neljänneksen aikana."),
    "coverage_ends_in_quarter": ("partial", False,
                                 "Ilmoitettu kattavuus päättyy jo neljänneksen aikana."),
    "coverage_gap": ("partial", False, "Ilmoitetussa kattavuudessa on aukko neljänneksen aikana."),
    "monthly_ramp_up": ("partial", True,
                        "Kuukausittainen asiakasmäärä kasvaa neljänneksen aikana jyrkästi "
                        "(lähde on todennäköisesti alkanut kesken neljänneksen)."),
    "monthly_ramp_down": ("partial", True,
                          "Kuukausittainen asiakasmäärä laskee neljänneksen aikana jyrkästi "
                          "(toimitus on todennäköisesti katkennut kesken neljänneksen)."),
    "source_disagreement": ("partial", True,
                            "Kaksi koko neljänneksen kattavaksi ilmoitettua lähdettä (Kanta ja "
                            "erillistoimitus) eroavat selvästi toisistaan: toinen on vajaa."),
    "own_drop": ("partial", True,
                 "Osuus on pudonnut selvästi kunnan omista aiemmista neljänneksistä "
                 "(toimitus on todennäköisesti vajaa)."),
    "share_low_comparable": ("flag", True,
                             "Tarkistettava: osuus väestöstä on selvästi pienempi kuin "
                             "vertailukuntien (sama hyvinvointialue tai kokoluokka) mediaani. "
                             "Kunta on mukana arviossa, ellei tarkastuskierros päätä toisin."),
    "share_high_comparable": ("flag", True,
                              "Tarkistettava: osuus väestöstä on selvästi suurempi kuin "
                              "vertailukuntien (sama hyvinvointialue tai kokoluokka) mediaani. "
                              "Kunta on mukana arviossa, ellei tarkastuskierros päätä toisin."),
    "share_low_z": ("flag", True,
                    "Tarkistettava: osuus on tilastollisesti merkitsevästi pienempi kuin "
                    "vertailukuntien mediaani (z-luku). Kunta on mukana arviossa, ellei "
                    "tarkastuskierros päätä toisin."),
    "share_high_z": ("flag", True,
                     "Tarkistettava: osuus on tilastollisesti merkitsevästi suurempi kuin "
                     "vertailukuntien mediaani (z-luku). Kunta on mukana arviossa, ellei "
                     "tarkastuskierros päätä toisin."),
    "share_low_model": ("partial", True,
                        "Tarkistettava: asiakasmäärä on niin paljon pienempi kuin malli muiden "
                        "kuntien perusteella ennustaa (väestöpohja, ikärakenne ja kuntien "
                        "tavallinen vaihtelu huomioiden) ja osuus selvästi pienempi kuin "
                        "vertailukuntien, että toimitus on todennäköisesti vajaa. Kunnan "
                        "asiakasmäärä ennustetaan arviossa, ellei tarkastuskierros päätä "
                        "toisin."),
    "review_exclude": ("partial", False,
                       "Tarkastuskierroksen päätös: tiedot eivät ole edustavia, jätetään pois "
                       "arviosta."),
    "review_include": ("remark", False,
                       "Tarkastuskierroksen päätös: tiedot hyväksytään, vaikka tarkistus "
                       "merkitsi ne (tarkistettava-merkintä poistuu)."),
    "review_note": ("remark", False, "Tarkastuskierroksen huomautus."),
    "declared_source_empty": ("remark", False,
                              "Kattavaksi ilmoitettu lähde ei toimittanut yhtään asiakkuutta."),
}


#: The quality section's defaults (declared in core.params.SCHEMA).
DEFAULTS = dict(defaults("quality"))


def reason_table() -> pd.DataFrame:
    """The reason codes with their effect and Finnish description (for the book)."""
    return pd.DataFrame([{"code": k, "effect": v[0], "overridable": int(v[1]),
                          "description_fi": v[2]} for k, v in REASONS.items()])


# --------------------------------------------------------------------------- inputs

def read_corrections(data_dir: Path, known_municipalities: set[str] | None = None,
                     latest: Quarter | None = None) -> pd.DataFrame:
    """corrections.csv (optional) → quarter, municipality_code, service_task, decision,
    reason (read and checked by :func:`seuranta.inputs.corrections.read_corrections`)."""
    cols = ["quarter", "municipality_code", "service_task", "decision", "reason"]
    d = corrections_input.read_corrections(Path(data_dir) / CORRECTIONS_FILE, latest,
                                           known_municipalities)
    d = d[cols].astype(str)
    d["reason"] = d["reason"].str.strip()
    return d.reset_index(drop=True)


# --------------------------------------------------------------------------- rules

def coverage_codes(intervals: list[tuple[dt.date, dt.date | None]], quarter: Quarter
                   ) -> list[str]:
    """Codes for the union of declared intervals (from, to-or-None) against a quarter."""
    qs, qe = quarter.start, quarter.end
    clipped = []
    for a, b in intervals:
        b = qe if b is None else min(b, qe)
        a = max(a, qs)
        if a <= b:
            clipped.append((a, b))
    if not clipped:
        return ["coverage_not_declared"]
    clipped.sort()
    merged = [list(clipped[0])]
    for a, b in clipped[1:]:
        if a <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    codes = []
    if merged[0][0] > qs:
        codes.append("coverage_starts_in_quarter")
    if merged[-1][1] < qe:
        codes.append("coverage_ends_in_quarter")
    if len(merged) > 1:
        codes.append("coverage_gap")
    return codes


def ramp_codes(m1: float, m3: float, min_ratio: float, min_clients: float) -> list[str]:
    """Monthly profile codes from the first and last month's clients."""
    codes = []
    if m3 >= min_clients and m1 < min_ratio * m3:
        codes.append("monthly_ramp_up")
    if m1 >= min_clients and m3 < min_ratio * m1:
        codes.append("monthly_ramp_down")
    return codes


def source_codes(sha: float, et: float, min_ratio: float, min_clients: float) -> list[str]:
    """``source_disagreement`` when two sources that both declare the whole quarter differ:
    the smaller has fewer than ``min_ratio`` × the larger's clients (larger ≥ min_clients)."""
    lo, hi = min(sha, et), max(sha, et)
    if hi >= min_clients and lo < min_ratio * hi:
        return ["source_disagreement"]
    return []


def drop_code(share: float, base: float, reference_pct: float, drop_ratio: float,
              z_max: float, tau2: float = 0.0) -> list[str]:
    """``own_drop`` when ``share`` (%) is below ``drop_ratio`` × the municipality's own
    earlier ``reference_pct`` and beyond the noise of a quarter's count:
    (y − E) / √(E + τ² E²) < −z_max, y the count, E the count expected at the earlier share
    on this quarter's base (Poisson variance E) and ``tau2`` the genuine quarter-to-quarter
    relative variance of a municipality's share (:func:`own_history`). On the count scale,
    not the log scale: a count of 1 where 6.7 were expected is a 1 % event, which the log
    ratio over its delta-method sd would make a 5-sigma one."""
    if not (reference_pct > 0 and base > 0) or math.isnan(reference_pct):
        return []
    ratio = share / reference_pct
    if ratio >= drop_ratio:
        return []
    expected = reference_pct / 100 * base
    y = share / 100 * base
    z = (y - expected) / math.sqrt(expected + tau2 * expected * expected)
    return ["own_drop"] if z < -z_max else []


def own_history(f: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Add ``own_drop`` to ``codes`` (and the reference share to ``own_reference_pct``) by
    comparing each row with the same municipality's own earlier quarters.

    The reference is the median share of up to ``drop_quarters`` earlier quarters whose row
    had clients and no delivery code (coverage, ramp, sources, own drop) — so a drop that
    persists is caught in every quarter it lasts, and the quarters before a source joined
    (partial, lower) never serve as reference. Shares also move from quarter to quarter
    beyond Poisson noise (seasons, a closing unit): τ², that genuine variance of
    log(share / reference), is estimated robustly (:func:`robust_tau2`) from every row with
    a reference and no delivery code (a first pass without the drop rule; 0 from fewer
    than 8 rows) and enters the drop rule's noise (:func:`drop_code`).
    """
    f = f.copy()
    first = _history_pass(f, p, None)
    r, v = first[2], first[3]
    tau2 = robust_tau2(r - np.median(r), v) if len(r) >= 8 else 0.0
    codes, ref_col, _, _ = _history_pass(f, p, tau2)
    f["codes"] = codes
    f["own_reference_pct"] = ref_col
    return f


def _history_pass(f: pd.DataFrame, p: dict, tau2: float | None):
    """One pass of :func:`own_history`: the codes with ``own_drop`` (none when ``tau2`` is
    None), the reference shares, and the log ratios and Poisson variances 1/E of the rows
    with a reference and no delivery code."""
    n_back = int(p["drop_quarters"])
    codes = list(f["codes"])
    ref_col = np.full(len(f), np.nan)
    lr, pv = [], []
    order = f.sort_values(["service_task", "municipality_code", "quarter"]).index
    # plain columns: one lookup per row instead of a DataFrame access per value
    task, muni = f["service_task"].tolist(), f["municipality_code"].tolist()
    shares = f["share_pct"].astype(float).tolist()
    bases = f["population_base"].astype(float).tolist()
    prev_key, history = None, []
    for i in order:
        key = (task[i], muni[i])
        if key != prev_key:
            prev_key, history = key, []
        cc = codes[i]
        share, base = shares[i], bases[i]
        if "no_rows" not in cc and history:
            ref = float(np.median(history[-n_back:]))
            ref_col[i] = ref
            clean = all(REASONS[x][0] == "remark" for x in cc)
            if clean and share > 0 and ref > 0 and base > 0:
                lr.append(math.log(share / ref))
                pv.append(1.0 / (ref / 100 * base))
            if tau2 is not None:
                cc = cc + drop_code(share, base, ref, float(p["drop_ratio"]),
                                    float(p["robust_z_max"]), tau2)
                codes[i] = cc
        if "no_rows" not in cc and all(REASONS[x][0] == "remark" for x in cc):
            history.append(share)
    return codes, ref_col, np.asarray(lr, float), np.asarray(pv, float)


def robust_tau2(dev: np.ndarray, poisson_var: np.ndarray) -> float:
    """Between-unit variance τ² such that the median of |dev| / sqrt(τ² + v) is 0.6745
    (the median absolute value of a standard normal): a robust, heteroscedastic
    version of the MAD. 0 when the Poisson noise alone explains the spread."""
    dev = np.abs(np.asarray(dev, float))
    v = np.asarray(poisson_var, float)
    target = 0.674489750196

    def med(t2):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.median(dev / np.sqrt(t2 + v)))

    if len(dev) == 0 or med(0.0) <= target:
        return 0.0
    lo, hi = 0.0, max(1.0, float(dev.max()) ** 2 * 10)
    for _ in range(100):
        mid = (lo + hi) / 2
        if med(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def plausibility(frame: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Plausibility codes for one task (all quarters of the series together).

    ``frame``: quarter, municipality_code, county_code, size_class, clients,
    population_base, share_pct, clean (bool: a candidate for the comparison), declared_zero
    (bool, optional: no clients under declared coverage; flagged when the group's median
    share would expect more than ``comparison_z``² clients).

    The comparison set pools the quarters: each municipality that is clean in at least
    one quarter enters once, with the median of its clean shares, so that a quarter with few
    covered municipalities (where an under-delivering one could drag a same-quarter
    median down) is judged against the whole series. Each row is compared with the median
    m of its group (county if it has ``comparison_min_group`` members, else size class,
    else mainland): ratio = share / m, expected E = m × base and

        z = log(ratio) / sqrt(τ² + 1/E)

    where 1/E is the Poisson variance of a log count and τ² the genuine between-municipality
    variance of the log ratio, estimated robustly by :func:`robust_tau2` from the
    comparison municipalities with an expected count of at least ``tau_min_expected``
    (all of them when fewer than 8 have), and at least ``tau_min`` — municipalities
    genuinely differ, and where nearly all counts are small the spread cannot be told
    apart from Poisson noise. Returns the frame with
    comparison_median_pct, comparison_group, plausibility_z and a list column ``codes``.
    """
    f = frame.copy()
    if "declared_zero" not in f.columns:
        f["declared_zero"] = False
    ok = f["clean"] & (f["clients"] > 0) & (f["population_base"] > 0)
    cand = (f[ok].groupby("municipality_code")
            .agg(share_pct=("share_pct", "median"), county_code=("county_code", "first"),
                 size_class=("size_class", "first"), base=("population_base", "median")))
    nmin = int(p["comparison_min_group"])
    county_med = cand.groupby("county_code")["share_pct"].agg(["median", "size"])
    size_med = cand.groupby("size_class")["share_pct"].agg(["median", "size"])
    nat_med = float(cand["share_pct"].median()) if len(cand) else math.nan

    def reference(county: pd.Series, size: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """The comparison median and group of each (county, size class): the county's
        median if it has ``nmin`` members, else the size class's, else the mainland's."""
        cm = county_med[county_med["size"] >= nmin]["median"]
        sm = size_med[size_med["size"] >= nmin]["median"]
        in_c = county.isin(cm.index).to_numpy()
        in_s = size.isin(sm.index).to_numpy()
        med = np.where(in_c, county.map(cm).to_numpy(float),
                       np.where(in_s, size.map(sm).to_numpy(float), nat_med))
        group = np.where(in_c, "county", np.where(in_s, "size_class", "mainland"))
        return med.astype(float), group.astype(object)

    f["comparison_median_pct"], f["comparison_group"] = reference(f["county_code"],
                                                                  f["size_class"])
    # tau² from the comparison set against its own group medians
    tau2 = 0.0
    if len(cand) >= 3:
        cr = reference(cand["county_code"], cand["size_class"])[0]
        lr = np.log(cand["share_pct"].to_numpy(float) / cr)
        inv_e = 1.0 / np.maximum(cr / 100 * cand["base"].to_numpy(float), 1e-9)
        big = inv_e <= 1.0 / float(p["tau_min_expected"])
        use = big if big.sum() >= 8 else np.ones(len(lr), bool)
        tau2 = robust_tau2(lr[use] - float(np.median(lr[use])), inv_e[use])
    tau2 = max(tau2, float(p["tau_min"]) ** 2)
    med = f["comparison_median_pct"].to_numpy(float)
    clients = f["clients"].to_numpy(float)
    base = f["population_base"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a zero Poisson noise cannot explain
        zero_low = ((clients == 0) & f["declared_zero"].to_numpy(bool) & (base > 0) & (med > 0)
                    & (med / 100 * base > p["comparison_z"] ** 2))
        valid = (clients > 0) & (base > 0) & (med > 0) & ~np.isnan(med)
        ratio = f["share_pct"].to_numpy(float)[valid] / med[valid]
        expected = med[valid] / 100 * base[valid]
        log_ratio = np.array([math.log(x) for x in ratio], float)   # as math.log, bit for bit
        z_valid = log_ratio / np.sqrt(tau2 + 1.0 / expected)
        z_noise = log_ratio * np.sqrt(expected)                       # Poisson noise only
    zs = np.full(len(f), math.nan)
    zs[valid] = z_valid
    flags = {name: np.zeros(len(f), bool) for name in
             ("low_comparable", "low_z", "high_comparable", "high_z")}
    low = (ratio < p["low_ratio"]) & (z_noise < -p["comparison_z"])
    high = (ratio > p["high_ratio"]) & (z_noise > p["comparison_z"])
    flags["low_comparable"][valid] = low
    flags["low_z"][valid] = ~low & (z_valid < -p["robust_z_max"])
    flags["high_comparable"][valid] = high
    flags["high_z"][valid] = ~high & (z_valid > p["robust_z_max"])
    names = ("share_low_comparable", "share_low_comparable", "share_low_z",
             "share_high_comparable", "share_high_z")
    codes = [[n for n, on in zip(names, row) if on]
             for row in zip(zero_low, flags["low_comparable"], flags["low_z"],
                            flags["high_comparable"], flags["high_z"])]
    f["plausibility_z"] = zs
    f["codes"] = codes
    return f


# --------------------------------------------------------------------------- model check

#: Gauss–Hermite nodes and weights (probabilists': ∫ f(z) φ(z) dz ≈ Σ w f(x)) and the
#: grid over log G of the Poisson-lognormal distribution function
#: (:func:`poisson_lognormal_cdf`).
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)
_GH_W = _GH_W / _GH_W.sum()
_LOG_GAMMA_GRID = np.linspace(-10.0, 10.0, 401)      # in sd of log G around its mean


def poisson_lognormal_cdf(y: np.ndarray, log_mu: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """P(Y ≤ y) for Y ~ Poisson(exp(log_mu + s·Z)), Z standard normal: the count of a
    municipality whose expected count is known up to a log-normal factor of variance s².

    Two exact forms of the same integral, each used where its integrand is smooth: over Z,
    Σ w F_Poisson(y; μ e^{s x}) at Gauss–Hermite nodes, when the log-normal factor is the
    narrower one (s < 1 / √(y + 1)); otherwise over G ~ Gamma(y + 1), since
    P(Y ≤ y | λ) = P(G > λ): P(Y ≤ y) = E Φ((log G − log μ) / s), by the trapezoid rule
    over ±10 sd of log G with its exact density (a Poisson count's spread narrower than the
    log-normal's, as for large municipalities, would make the first form a step
    function)."""
    from scipy.special import gammaln, polygamma, psi
    from scipy.stats import norm, poisson
    y = np.asarray(y, float)
    log_mu = np.asarray(log_mu, float)
    s = np.sqrt(np.asarray(s2, float))
    out = np.empty(len(y))
    narrow = s * np.sqrt(y + 1) < 1
    if narrow.any():
        lam = np.exp(log_mu[narrow, None] + s[narrow, None] * _GH_X[None, :])
        out[narrow] = (poisson.cdf(y[narrow, None], lam) * _GH_W[None, :]).sum(axis=1)
    wide = ~narrow
    if wide.any():
        a = y[wide, None] + 1
        u = psi(a) + np.sqrt(polygamma(1, a)) * _LOG_GAMMA_GRID[None, :]    # log G
        dens = np.exp(a * u - np.exp(u) - gammaln(a))
        h = norm.cdf((u - log_mu[wide, None]) / s[wide, None])
        out[wide] = np.trapezoid(dens * h, u, axis=1) / np.trapezoid(dens, u, axis=1)
    return out


def model_check(frame: pd.DataFrame, covariates: list[str], p: dict) -> pd.DataFrame:
    """The cross-sectional check of one quarter × task: each clean row with clients
    against what the other municipalities predict for it (``share_low_model``).

    ``frame``: municipality_code, clients, population_base, clean (bool: declared full
    coverage and no delivery code) and the ``covariates`` columns (the model's,
    ``estimate.model_covariates``). Among the clean rows with clients, the log share
    log((y + ½) / b) is regressed on the covariates by weighted least squares, weight
    w = 1 / (τ² + 1/μ), μ the fitted count: 1/μ the Poisson variance of a log count, τ² the
    genuine variance between municipalities that the covariates do not explain (county
    differences included), estimated robustly (:func:`robust_tau2`, at least ``tau_min``²)
    so that a few under-delivering rows do not widen it. Each row's prediction η₍₋ᵢ₎ leaves
    the row out (exact for weighted least squares: the residual r / (1 − h), h its
    leverage) and has the variance v = (h / w) / (1 − h); the row's count is then Poisson
    with a log-normal mean, and its one-sided p-value is

        p = P(Y ≤ y),  Y ~ Poisson(b · exp(η₍₋ᵢ₎ + √(τ² + v) · Z)),  Z ~ N(0, 1)

    (:func:`poisson_lognormal_cdf`; on the count scale, so that a small count is judged by
    its Poisson noise, not by a log ratio). The rows caught are those the Benjamini–Hochberg
    procedure at false discovery rate ``model_check_fdr`` selects among the rows tested
    (the m smallest p with p₍ₘ₎ ≤ m · q / n): of the rows excluded, the expected share of
    honest ones is at most q, and when every row is honest the chance that any row of the
    quarter × task is excluded is at most q. The rows caught are left out of the fit and
    the check is repeated (at most ``_MAX_PASSES`` passes), so that under-delivering rows
    do not pull the others' predictions down. None are tested with fewer than
    ``model_check_min_rows`` clean rows with clients (or fewer than the covariates + 4).
    Returns ``frame`` with ``model_expected`` (b · exp(η₍₋ᵢ₎), NaN when not tested),
    ``model_p`` and a list column ``codes``.
    """
    f = frame.reset_index(drop=True)
    y = f["clients"].to_numpy(float)
    b = f["population_base"].to_numpy(float)
    idx = np.flatnonzero(f["clean"].to_numpy(bool) & (y > 0) & (b > 0))
    expected = np.full(len(f), np.nan)
    pval = np.full(len(f), np.nan)
    caught = np.zeros(len(f), bool)
    if len(idx) >= max(int(p["model_check_min_rows"]), len(covariates) + 4):
        missing = [c for c in covariates if c not in f.columns]
        if missing:
            raise InputError(f"quality: the model check needs the covariates "
                             f"{', '.join(missing)} of the municipalities")
        x = f.loc[idx, list(covariates)].to_numpy(float)
        sd = x.std(axis=0)
        xm = np.column_stack([np.ones(len(idx)), (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)])
        ly = np.log((y[idx] + 0.5) / b[idx])
        fit = np.ones(len(idx), bool)
        for _ in range(_MAX_PASSES):
            eta, var, _ = _loo_log_share(xm, ly, b[idx], fit, float(p["tau_min"]) ** 2)
            pv = np.ones(len(idx))
            ok = np.isfinite(var)
            pv[ok] = poisson_lognormal_cdf(y[idx][ok], np.log(b[idx][ok]) + eta[ok], var[ok])
            low = benjamini_hochberg(pv, float(p["model_check_fdr"]))
            if np.array_equal(~low, fit) or low.sum() > len(idx) - (len(covariates) + 4):
                break
            fit = ~low
        expected[idx] = b[idx] * np.exp(eta)
        pval[idx] = pv
        caught[idx] = low
    out = f.copy()
    out["model_expected"] = expected
    out["model_p"] = pval
    out["codes"] = [["share_low_model"] if c else [] for c in caught]
    return out


def benjamini_hochberg(pvalues: np.ndarray, q: float) -> np.ndarray:
    """The rows the Benjamini–Hochberg step-up procedure rejects at false discovery rate
    ``q``: the m smallest p-values, m the largest rank with p₍ₘ₎ ≤ m · q / n."""
    pv = np.asarray(pvalues, float)
    n = len(pv)
    order = np.argsort(pv, kind="stable")
    below = np.flatnonzero(pv[order] <= q * np.arange(1, n + 1) / n)
    out = np.zeros(n, bool)
    if len(below):
        out[order[:below[-1] + 1]] = True
    return out


_MAX_PASSES = 4


def _loo_log_share(xm: np.ndarray, ly: np.ndarray, base: np.ndarray, fit: np.ndarray,
                   tau2_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leave-one-out prediction η of every row's log share from the rows ``fit`` (the
    row itself left out when it is one of them), its predictive variance τ² + v, and the
    weights of the rows ``fit`` (:func:`model_check`)."""
    xf, yf, bf = xm[fit], ly[fit], base[fit]
    mu = np.exp(yf) * bf                            # start: the observed counts (+ ½)
    tau2 = tau2_min
    for _ in range(_TAU_PASSES):                    # τ² and the weights together
        w = 1.0 / (tau2 + 1.0 / mu)
        beta = _wls(xf, yf, w)
        mu = bf * np.exp(xf @ beta)
        r = yf - xf @ beta
        tau2 = max(robust_tau2(r - np.median(r), 1.0 / mu), tau2_min)
    w = 1.0 / (tau2 + 1.0 / mu)
    beta = _wls(xf, yf, w)
    cov = np.linalg.inv((xf * w[:, None]).T @ xf)
    q = np.einsum("ij,jk,ik->i", xm, cov, xm)       # x' (X'WX)⁻¹ x of every row
    eta = xm @ beta
    w_all = np.zeros(len(ly))
    w_all[fit] = w
    h = w_all * q                                   # leverage (0 for rows not fitted)
    inner = fit & (h < 1)
    eta[inner] = ly[inner] - (ly[inner] - eta[inner]) / (1 - h[inner])
    v = q.copy()
    v[inner] = q[inner] / (1 - h[inner])
    v[fit & ~inner] = np.inf
    return eta, tau2 + v, w


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares coefficients."""
    sw = np.sqrt(w)
    return np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]


_TAU_PASSES = 5


def _params(params: dict | None) -> dict:
    p = dict(DEFAULTS)
    p.update({k: v for k, v in (params or {}).items() if v is not None})
    return p


def classify(counts: pd.DataFrame, deliveries: pd.DataFrame, monthly: pd.DataFrame | None,
             corrections: pd.DataFrame | None, covariates: pd.DataFrame,
             params: dict | None = None, model_covariates: list[str] | None = None
             ) -> pd.DataFrame:
    """quality.csv rows for every quarter × municipality × task of ``counts``.

    ``counts``: counts.csv / series_counts.csv rows (sources SHA, ET, ALL);
    ``deliveries``: from :func:`read_deliveries`; ``monthly``: monthly.csv rows (may be
    None or lack quarters: then no monthly check for them); ``corrections``: from
    :func:`read_corrections` or None; ``covariates``: municipality_code, size_class
    and the ``model_covariates`` (from :func:`seuranta.represent.municipal_covariates`);
    ``model_covariates``: the covariates of the model check (:func:`model_check`; None:
    the default of ``estimate.model_covariates``).

    The steps: the delivery codes of each row (declared coverage, sources, the months'
    ramp), the municipality's own history, the comparison with similar municipalities
    (per task), the model check (per quarter × task), then the review round's decisions
    and the quality class.
    """
    return decide(screen(counts, deliveries, monthly, covariates, params, model_covariates),
                  corrections, params)


def screen(counts: pd.DataFrame, deliveries: pd.DataFrame, monthly: pd.DataFrame | None,
           covariates: pd.DataFrame, params: dict | None = None,
           model_covariates: list[str] | None = None, workers: cf.Executor | None = None
           ) -> pd.DataFrame:
    """:func:`classify` up to the review round's decisions: one row per quarter ×
    municipality × task with its codes (list column ``codes``) and the checks' columns, what
    :func:`decide` reads. ``workers``: processes (:func:`seuranta.statistics.memo.worker_pool`)
    for the model checks of the quarter × task groups, side by side."""
    p = _params(params)
    f = _by_source(counts, covariates)
    f["sources"], f["codes"] = _delivery_codes(f, _declared(deliveries), _ramp(monthly, p), p)
    f["own_reference_pct"] = np.nan
    f = own_history(f, p)
    f["clean"] = [all(REASONS[x][0] == "remark" for x in cc) and "no_rows" not in cc
                  for cc in f["codes"]]
    f = _compare(f, p)
    if p["model_check"]:
        covs = list(defaults("estimate")["model_covariates"] if model_covariates is None
                    else model_covariates)
        f = _model_checks(f, covariates, covs, p, workers)
    return f


def decide(screened: pd.DataFrame, corrections: pd.DataFrame | None,
           params: dict | None = None) -> pd.DataFrame:
    """quality.csv rows from :func:`screen`'s rows and the review round's decisions."""
    f = screened.copy()
    f["quality"], f["reasons"], f["flags"], f["review_reason"] = _decide(
        f, corrections, _params(params))
    f["clients"] = f["ALL"].astype(int)
    out = f[QUALITY_COLUMNS].sort_values(["quarter", "service_task", "municipality_code"])
    return out.reset_index(drop=True)


_KEYS = ["quarter", "municipality_code", "service_task"]


def _by_source(counts: pd.DataFrame, covariates: pd.DataFrame) -> pd.DataFrame:
    """One row per quarter × municipality × task: clients by source (SHA, ET, ALL), the
    county, the population base, the share and the size class."""
    c = counts.copy()
    c["quarter"] = c["quarter"].astype(str)
    wide = c.pivot_table(index=_KEYS, columns="source", values="clients", aggfunc="sum",
                         fill_value=0)
    for s in ("SHA", "ET", "ALL"):
        if s not in wide.columns:
            wide[s] = 0
    base = (c[c["source"] == "ALL"].set_index(_KEYS)[["county_code", "population_base",
                                                       "share_pct"]])
    f = wide[["SHA", "ET", "ALL"]].join(base, how="left").reset_index()
    if f["population_base"].isna().any():
        raise InputError("counts: source ALL rows missing for some municipality × task")
    f = f.merge(covariates[["municipality_code", "size_class"]], on="municipality_code",
                how="left")
    f["size_class"] = f["size_class"].fillna("")
    return f


def _declared(deliveries: pd.DataFrame) -> dict[tuple[str, str, str], list]:
    """Declared coverage intervals per (municipality, task, source)."""
    dl: dict[tuple[str, str, str], list] = {}
    for r in itertuples(deliveries, index=False):
        dl.setdefault((r.municipality_code, r.service_task, r.source), []).append(
            (r.covered_from, r.covered_to))
    return dl


def _ramp(monthly: pd.DataFrame | None, p: dict) -> dict[tuple[str, str, str], list[str]]:
    """The ramp codes per (quarter, municipality, task) from the monthly ALL counts (the sum
    of the sources as a stand-in when ALL is absent)."""
    ramp: dict[tuple[str, str, str], list[str]] = {}
    if monthly is None or not len(monthly):
        return ramp
    mo = monthly.copy()
    mo["quarter"] = mo["quarter"].astype(str)
    if "source" in mo.columns:
        mo = (mo[mo["source"] == "ALL"] if (mo["source"] == "ALL").any()
              else mo.groupby(_KEYS + ["month"], as_index=False)["clients"].sum())
    mw = mo.pivot_table(index=_KEYS, columns="month", values="clients", aggfunc="sum")
    # each row's first and last month of its quarter (0 when the month has no count)
    first_last = {q: (m[0], m[2]) for q in mw.index.get_level_values(0).unique()
                  for m in [Quarter.parse(q).months]}
    cols = {c: i for i, c in enumerate(mw.columns)}
    values = mw.to_numpy(float)
    ratio, least = float(p["ramp_min_ratio"]), float(p["ramp_min_clients"])
    for i, idx in enumerate(mw.index):
        m1, m3 = (values[i, cols[m]] if m in cols else 0.0 for m in first_last[idx[0]])
        ramp[idx] = ramp_codes(0.0 if math.isnan(m1) else float(m1),
                               0.0 if math.isnan(m3) else float(m3), ratio, least)
    return ramp


def _delivery_codes(f: pd.DataFrame, dl: dict, ramp: dict, p: dict
                    ) -> tuple[list[str], list[list[str]]]:
    """The delivered sources ("SHA+ET") and the delivery codes of every row of ``f``."""
    pre_codes, sources_col = [], []
    quarters = {q: Quarter.parse(q) for q in f["quarter"].unique()}   # once each, not per row
    for r in itertuples(f, index=False):
        q = quarters[r.quarter]
        delivered = [s for s in ("SHA", "ET") if getattr(r, s) > 0]
        sources_col.append("+".join(delivered))
        cc = []
        if r.ALL <= 0:
            declared = [iv for x in ("SHA", "ET")
                        for iv in dl.get((r.municipality_code, r.service_task, x), [])]
            cc.append("declared_zero" if declared and coverage_codes(declared, q) == []
                      else "no_rows")
        else:
            intervals = []
            for s in delivered:
                intervals += dl.get((r.municipality_code, r.service_task, s), [])
            cc += coverage_codes(intervals, q)
            for s in ("SHA", "ET"):
                if s not in delivered and any(
                        coverage_codes([iv], q) != ["coverage_not_declared"]
                        for iv in dl.get((r.municipality_code, r.service_task, s), [])):
                    cc.append("declared_source_empty")
                    break
            cc += ramp.get((r.quarter, r.municipality_code, r.service_task), [])
            if len(delivered) == 2 and all(
                    coverage_codes(dl.get((r.municipality_code, r.service_task, x), []), q) == []
                    for x in delivered):
                cc += source_codes(r.SHA, r.ET, float(p["source_min_ratio"]),
                                   float(p["ramp_min_clients"]))
        pre_codes.append(cc)
    return sources_col, pre_codes


def _compare(f: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Each task's rows with the comparison with similar municipalities
    (:func:`plausibility`): its median, group, z and codes added."""
    parts = []
    for _task, g in f.groupby("service_task", sort=True):
        pl = plausibility(g.rename(columns={"ALL": "clients"}).assign(
            declared_zero=["declared_zero" in c for c in g["codes"]])[
            ["quarter", "municipality_code", "county_code", "size_class", "clients",
             "population_base", "share_pct", "clean", "declared_zero"]], p)
        g = g.copy()
        g["comparison_median_pct"] = pl["comparison_median_pct"].to_numpy()
        g["comparison_group"] = pl["comparison_group"].to_numpy()
        g["plausibility_z"] = pl["plausibility_z"].to_numpy()
        g["codes"] = [a + b for a, b in zip(g["codes"], pl["codes"])]
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def _model_checks(f: pd.DataFrame, covariates: pd.DataFrame, covs: list[str], p: dict,
                  workers: cf.Executor | None = None) -> pd.DataFrame:
    """Each quarter × task's rows with the model check's code (:func:`model_check`) added
    where the comparison with similar municipalities (:func:`plausibility`) also flags the
    row low (``LOW_FLAGS``). Two references that share no form must both find the count
    implausibly low: an under-delivery is low against both, while a genuine difference
    that the regression cannot follow — the largest cities, at the edge of the
    covariates, predicted by a line fitted on smaller municipalities — is rarely low also
    against the median of its own county or size class."""
    have = [c for c in covs if c in covariates.columns]
    g = f.rename(columns={"ALL": "clients"})[["quarter", "service_task", "municipality_code",
                                               "clients", "population_base", "clean"]]
    g = g.merge(covariates[["municipality_code", *have]], on="municipality_code", how="left")
    codes = list(f["codes"])
    groups = list(g.groupby(["quarter", "service_task"], sort=True).indices.values())
    frames = [g.iloc[rows] for rows in groups]
    checks = (workers.map(model_check, frames, [covs] * len(frames), [p] * len(frames))
              if workers is not None else (model_check(x, covs, p) for x in frames))
    for rows, chk in zip(groups, checks):
        for i, extra in zip(rows, chk["codes"]):
            if extra and any(c in LOW_FLAGS for c in codes[i]):
                codes[i] = codes[i] + extra
    return f.assign(codes=codes)


#: The comparison's low flags (:func:`plausibility`): the model check excludes a row only
#: when one of them also finds it low.
LOW_FLAGS = ("share_low_comparable", "share_low_z")


def _decide(f: pd.DataFrame, corrections: pd.DataFrame | None, p: dict
            ) -> tuple[list[str], list[str], list[str], list[str]]:
    """The quality class, the reasons, the flags and the review reasons of every row, the
    review round's decisions applied."""
    dec: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    if corrections is not None:
        for r in itertuples(corrections, index=False):
            dec.setdefault((r.quarter, r.municipality_code, r.service_task), []).append(
                (r.decision, r.reason))
    # plausibility_excludes: the earlier rule (a flag excludes), kept to measure its effect
    excluding = ("none", "partial") + (("flag",) if p["plausibility_excludes"] else ())
    qualities, reasons, flags, review = [], [], [], []
    for r in itertuples(f, index=False):
        cc = list(r.codes)
        ds = dec.get((r.quarter, r.municipality_code, r.service_task), [])
        decisions = {d for d, _ in ds}
        for d in ("exclude", "include", "note"):
            if d in decisions:
                cc.append(f"review_{d}")
        include = "include" in decisions and "exclude" not in decisions
        blocking = [x for x in cc if REASONS[x][0] in excluding
                    and not (include and REASONS[x][1])]
        if "no_rows" in cc:
            ql = "none"
        elif blocking:
            ql = "partial"
        else:
            ql = "comprehensive"
        qualities.append(ql)
        reasons.append("; ".join(dict.fromkeys(cc)))
        flags.append("; ".join(dict.fromkeys(
            x for x in cc if REASONS[x][0] == "flag" and not include)) if ql == "comprehensive"
            else "")
        review.append("; ".join(reason for _, reason in ds if reason))
    return qualities, reasons, flags, review
