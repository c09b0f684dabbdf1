"""Representativeness of the comprehensive municipalities.

Are the municipalities whose data are comprehensive like the whole mainland on the
things that drive the shares of clients? Covariates per municipality (from the data
folder's population.csv, 31 Dec of the year before the quarter, and the reference
classification):

* ``log_population`` (log of the total population), ``share_0_17``, ``share_65plus``,
  ``share_85plus`` (per cent of the total population);
* ``size_class`` (``quality.size_class_bounds``; labels like "5 000–19 999");
* ``urban`` — a proxy for urban/rural: population ≥ ``quality.urban_min_population``
  (20 000). The reference data have no land area or Statistics Finland's urban–rural
  classification, so size stands in for density; the book says so;
* ``county_code`` (wellbeing services county).

Three pieces of evidence per quarter × task, in ``representativeness.csv`` (one row per
covariate / level) and ``representativeness_summary.csv`` (one row per quarter × task):

1. standardised differences of the comprehensive municipalities vs all mainland
   municipalities, unweighted and weighted by the population base (the ratio estimate is
   base-weighted, so the weighted difference is what biases it);
2. a logistic model (statsmodels GLM Binomial) of being comprehensive on the continuous
   covariates (coefficients per one standard deviation, their SE and p-value);
3. an indirect age standardisation: the age-specific shares among the comprehensive
   municipalities applied to the mainland's age structure give an age-adjusted national
   estimate; its relative difference from the (crude) ratio estimate says whether the age
   structure of the comprehensive municipalities pushes the estimate up or down.

``verdict_fi`` turns the summary row into a plain Finnish sentence for the book.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from seuranta.core.fmt import fi_number, fi_pct
from seuranta.core.labels_fi import COVARIATE_FI
from seuranta.core.params import complete, defaults

DEFAULT_SIZE_BOUNDS = defaults("quality")["size_class_bounds"]

#: Continuous covariates used in the logistic model and the GLM estimate, with Finnish labels
#: (the one list, core.labels_fi.COVARIATE_FI; the parameters are checked against it).
CONTINUOUS = COVARIATE_FI


#: Age strata for the indirect standardisation (client age groups of age_counts).
STRATA = [("0-17", 0, 17), ("18-64", 18, 64), ("65-84", 65, 84), ("85+", 85, None)]


def size_class_label(lo: int, hi: int | None) -> str:
    if lo == 0:
        return f"alle {fi_number(hi)}"
    if hi is None:
        return f"{fi_number(lo)}+"
    return f"{fi_number(lo)}–{fi_number(hi - 1)}"


def size_class(population: pd.Series, bounds: list[int] | None = None) -> pd.Series:
    """Size class label of each municipality from its total population."""
    b = sorted(bounds or DEFAULT_SIZE_BOUNDS)
    labels = [size_class_label(lo, b[i + 1] if i + 1 < len(b) else None) for i, lo in enumerate(b)]
    idx = np.searchsorted(np.asarray(b), population.to_numpy(float), side="right") - 1
    idx = np.clip(idx, 0, len(b) - 1)
    return pd.Series([labels[i] for i in idx], index=population.index, dtype="string")


def _band_lo_hi(label: str) -> tuple[int, int | None]:
    label = str(label)
    if label.endswith("+"):
        return int(label[:-1]), None
    if "-" in label:
        lo, hi = label.split("-")
        return int(lo), int(hi)
    return int(label), int(label)


def municipal_covariates(population: pd.DataFrame, year: int, municipalities: pd.DataFrame,
                         params: dict | None = None) -> pd.DataFrame:
    """Covariates of every municipality in ``municipalities`` (code, county_code) for
    population year ``year``; population is docs/data-contract.md's population.csv (age bands)."""
    p = complete("quality", params)
    pop = population[population["year"].astype(int) == int(year)]
    if pop.empty:
        raise ValueError(f"population.csv has no rows for year {year}")
    lohi = pop["age_group"].astype(str).map(_band_lo_hi)
    lo = lohi.map(lambda t: t[0])
    hi = lohi.map(lambda t: t[1])
    n = pop["population"].astype(float)
    d = pd.DataFrame({"municipality_code": pop["municipality_code"].astype(str).to_numpy(),
                      "total": n.to_numpy(),
                      "u18": np.where(hi.notna() & (hi.fillna(999) <= 17), n, 0.0),
                      "o65": np.where(lo >= 65, n, 0.0),
                      "o85": np.where(lo >= 85, n, 0.0)})
    g = d.groupby("municipality_code").sum()
    m = municipalities[["municipality_code", "county_code"]].copy()
    m["municipality_code"] = m["municipality_code"].astype(str)
    m = m.merge(g, left_on="municipality_code", right_index=True, how="left")
    if m["total"].isna().any():
        missing = m.loc[m["total"].isna(), "municipality_code"].tolist()[:5]
        raise ValueError(f"population.csv {year}: no population for municipalities {missing}")
    tot = m["total"].where(m["total"] > 0, np.nan)
    out = pd.DataFrame({
        "municipality_code": m["municipality_code"], "county_code": m["county_code"].astype(str),
        "population": m["total"].astype(int),
        "log_population": np.log(m["total"].clip(lower=1)),
        "share_0_17": 100 * m["u18"] / tot, "share_65plus": 100 * m["o65"] / tot,
        "share_85plus": 100 * m["o85"] / tot,
    })
    out["size_class"] = size_class(out["population"], p["size_class_bounds"])
    out["urban"] = (out["population"] >= int(p["urban_min_population"])
                    ).astype(int)
    return out.fillna({"share_0_17": 0.0, "share_65plus": 0.0, "share_85plus": 0.0}
                      ).reset_index(drop=True)


# --------------------------------------------------------------------------- differences

def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    if w.sum() <= 0 or len(x) == 0:
        return math.nan, math.nan
    m = float(np.average(x, weights=w))
    v = float(np.average((x - m) ** 2, weights=w))
    return m, v


def std_diff(x_c: np.ndarray, x_a: np.ndarray, w_c=None, w_a=None) -> tuple[float, float, float]:
    """Means of the comprehensive (c) and all (a) municipalities and the standardised
    difference (m_c − m_a) / sqrt((s²_c + s²_a) / 2); optional weights."""
    w_c = np.ones(len(x_c)) if w_c is None else np.asarray(w_c, float)
    w_a = np.ones(len(x_a)) if w_a is None else np.asarray(w_a, float)
    mc, vc = _wmean_var(np.asarray(x_c, float), w_c)
    ma, va = _wmean_var(np.asarray(x_a, float), w_a)
    if math.isnan(mc) or math.isnan(ma):
        return mc, ma, math.nan
    s = math.sqrt((vc + va) / 2)
    return mc, ma, (mc - ma) / s if s > 0 else 0.0


def difference_rows(cov: pd.DataFrame, comprehensive: pd.Series, base: pd.Series) -> list[dict]:
    """Standardised differences of every covariate (continuous and each level of size
    class and county) between the comprehensive and all municipalities."""
    comp = comprehensive.to_numpy(bool)
    w = base.to_numpy(float)
    rows = []
    variables = [(c, None, cov[c].to_numpy(float)) for c in CONTINUOUS]
    for col in ("size_class", "county_code"):
        for level in sorted(cov[col].astype(str).unique()):
            variables.append((col, level, (cov[col].astype(str) == level).to_numpy(float)))
    for name, level, x in variables:
        mc, ma, d = std_diff(x[comp], x)
        wmc, wma, wd = std_diff(x[comp], x, w[comp], w)
        scale = 100.0 if level is not None else 1.0  # levels as per cent of municipalities
        rows.append({"covariate": name, "level": level or "",
                     "mean_comprehensive": mc * scale, "mean_all": ma * scale, "std_diff": d,
                     "wmean_comprehensive": wmc * scale, "wmean_all": wma * scale,
                     "wstd_diff": wd})
    return rows


# --------------------------------------------------------------------------- logistic model

def logistic_rows(cov: pd.DataFrame, comprehensive: pd.Series,
                  covariates: list[str] | None = None) -> tuple[list[dict], str]:
    """GLM Binomial of comprehensive on standardised covariates; rows per coefficient and a
    note ('' when the fit worked)."""
    from statsmodels.genmod import families  # heavy dependency: loaded only when used
    from statsmodels.genmod.generalized_linear_model import GLM

    covariates = list(covariates or ["log_population", "share_65plus", "share_0_17"])
    y = comprehensive.to_numpy(float)
    n1 = int(y.sum())
    if n1 < 2 or n1 > len(y) - 2:
        return [], "logit_not_estimable"
    X = [np.ones(len(y))]
    for c in covariates:
        v = cov[c].to_numpy(float)
        sd = v.std()
        X.append((v - v.mean()) / sd if sd > 0 else v * 0)
    X = np.column_stack(X)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = GLM(y, X, family=families.Binomial()).fit()
        params, bse, pv = np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues)
        if not np.all(np.isfinite(bse)):
            raise ValueError("non-finite SE")
    except Exception:  # noqa: BLE001 - separation or singular fit: reported, not raised
        return [], "logit_failed"
    rows = []
    for i, name in enumerate(["(vakio)"] + covariates):
        rows.append({"covariate": name, "logit_coef": float(params[i]),
                     "logit_se": float(bse[i]), "logit_p": float(pv[i])})
    return rows, ""


# --------------------------------------------------------------------------- age standardisation

def strata_of_base(min_age: int, max_age: int | None) -> list[str]:
    """The age strata (STRATA) that lie inside a task's base."""
    out = []
    for label, lo, hi in STRATA:
        inside = lo >= min_age and (max_age is None or (hi is not None and hi <= max_age))
        if inside:
            out.append(label)
    return out


def age_strata_counts(age_counts: pd.DataFrame) -> pd.DataFrame:
    """age_counts (groups 0-17, 18-64, 65+, 85+) → strata 0-17, 18-64, 65-84, 85+ by
    subtracting 85+ from 65+ (clients and base)."""
    a = age_counts[["quarter", "municipality_code", "service_task", "age_group", "clients",
                    "population_base"]].copy()
    keys = ["quarter", "municipality_code", "service_task"]
    w = a.pivot_table(index=keys, columns="age_group", values=["clients", "population_base"],
                      aggfunc="sum", fill_value=0)
    out = []
    for label in ("0-17", "18-64", "65-84", "85+"):
        if label == "65-84":
            if ("clients", "65+") not in w.columns or ("clients", "85+") not in w.columns:
                continue
            cl = w[("clients", "65+")] - w[("clients", "85+")]
            pb = w[("population_base", "65+")] - w[("population_base", "85+")]
        else:
            if ("clients", label) not in w.columns:
                continue
            cl = w[("clients", label)]
            pb = w[("population_base", label)]
        out.append(pd.DataFrame({"stratum": label, "clients": cl.to_numpy(),
                                 "population_base": pb.to_numpy()}, index=w.index))
    if not out:
        return pd.DataFrame(columns=keys + ["stratum", "clients", "population_base"])
    return pd.concat(out).reset_index()


def age_adjusted(strata: pd.DataFrame, comprehensive_codes: set[str], strata_in_base: list[str]
                 ) -> tuple[float, float]:
    """(crude ratio estimate, age-adjusted estimate) of the national count from the
    strata of one quarter × task; NaN when not computable."""
    s = strata[strata["stratum"].isin(strata_in_base)]
    if s.empty or len(strata_in_base) < 2:
        return math.nan, math.nan
    c = s[s["municipality_code"].isin(comprehensive_codes)]
    if c.empty:
        return math.nan, math.nan
    cb = c.groupby("stratum")[["clients", "population_base"]].sum()
    nb = s.groupby("stratum")["population_base"].sum()
    if (cb["population_base"] <= 0).any():
        return math.nan, math.nan
    rate = cb["clients"] / cb["population_base"]
    crude = cb["clients"].sum() / cb["population_base"].sum() * nb.sum()
    adjusted = float((rate * nb.reindex(rate.index)).sum())
    return float(crude), adjusted


# --------------------------------------------------------------------------- verdict

def verdict_fi(row, threshold_pct: float = 2.0, smd_threshold: float = 0.25) -> str:
    """A plain Finnish sentence: is the estimate likely biased, and which way.

    ``row``: a representativeness_summary row with n_comprehensive, n_all,
    base_coverage_pct, age_adjusted_diff_pct, max_abs_wstd_diff, max_wstd_covariate_fi.
    """
    get = row.get if hasattr(row, "get") else (lambda k: getattr(row, k))
    n = int(get("n_comprehensive") or 0)
    if n < 2:
        return "Kattavia kuntia oli liian vähän, joten edustavuutta ei voitu arvioida."
    parts = [f"Kattavat {n} kuntaa kattoivat {fi_pct(get('base_coverage_pct'), 0)} "
             f"koko maan perusväestöstä."]
    diff = get("age_adjusted_diff_pct")
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        parts.append("Ikärakenteen vaikutusta ei voitu arvioida ikäryhmittäin.")
    elif abs(diff) < threshold_pct:
        parts.append("Kun kattavien kuntien ikäryhmittäiset osuudet yleistetään koko maan "
                     "ikärakenteeseen, arvio muuttuu alle "
                     f"{fi_number(threshold_pct)} %, joten ikärakenne ei todennäköisesti "
                     "vääristä arviota.")
    else:
        way = "aliarvioi" if diff > 0 else "yliarvioi"
        parts.append("Kattavien kuntien ikärakenne poikkeaa koko maasta: ikävakioitu arvio on "
                     f"{fi_pct(abs(diff), 1)} {'suurempi' if diff > 0 else 'pienempi'}, joten "
                     f"suhdelukuun perustuva arvio todennäköisesti {way} asiakasmäärää.")
    smd = get("max_abs_wstd_diff")
    if smd is not None and not (isinstance(smd, float) and math.isnan(smd)):
        if smd >= smd_threshold:
            parts.append(f"Suurin ero koko maahan oli muuttujassa {get('max_wstd_covariate_fi')} "
                         f"(standardoitu ero {fi_number(smd, 2)}), joten arvioon voi liittyä "
                         "harhaa, jota ikävakiointi ei poista.")
        else:
            parts.append("Väkiluvulla painotettuna kattavat kunnat eivät eronneet koko maasta "
                         "merkittävästi (standardoidut erot alle "
                         f"{fi_number(smd_threshold, 2)}).")
    return " ".join(parts)
