"""Simulated registers with known truth, drawn by a process that shares no code and no
functional form with the estimators (``seuranta.statistics``) or the demo generator.

The coverage study (:mod:`seuranta.statistics.coverage`, ``make coverage``) runs the
statistics stage's own code (quality classes, comprehensive sets, estimates, county
estimates, publication rule) on what :func:`draw_register` returns and compares the
published figures with the truth. The estimators never see a scenario's parameters.

**What is real.** The mainland municipalities, their counties and their populations by age
band (``data/reference``, public facts): every task's population base is the reference
base of the municipality.

**The shares** (per service task) are a product of factors, none of them log-linear in a
covariate the estimators use:

* *age mix*: the share of a municipality is the base-weighted mean of age-band rates
  (Σ_b pop_b r_b / Σ_b pop_b; additive in the band populations), the band rates drawn per
  register around a task profile (each × U(0.8, 1.25));
* *size steps*: a step function of the total population (seven classes, bounds
  ``SIZE_BOUNDS``) whose heights follow a drawn tilt (smaller or larger municipalities
  higher, up to ±25 % across the classes) with independent noise per class;
* *county*: 1 + c with c uniform on ±√3·``county_sd`` (a flat, bounded county effect);
* *municipality*: a gamma factor with mean 1 whose log has sd ``spread`` (skewed: a long
  low tail), shared between tasks with weight ½, times, with probability 4 %, an outlier
  factor U(1.6, 2.6) (a municipality that buys or runs a service for others);
* *quarter*: a trend of +1 % a quarter and a gamma factor per municipality and quarter
  (coefficient of variation 5 %).

Clients are Poisson counts of base × share; a pair with a *true zero* (scenario
``zeros``: a third of the pairs of municipalities under 6 000 inhabitants in child welfare,
disability and substance abuse services) has none.

**Joining.** Municipalities join Kanta (source SHA) in the order of a key; the key is the
scenario's mechanism (random; size: the largest first; county: whole counties at once;
share: those with a high municipal factor first). The base share joined by the last quarter
is drawn per register (``observed``) and the earlier quarters have a growing part of it.
A pair that joined declares SHA coverage from the first day of its quarter (one in five
from mid-quarter: that quarter is partial); 15 % of pairs join one quarter later than
their municipality. Before joining, a pair delivers with probability 0.6 an undeclared
20–80 % of its clients (partial data), else nothing. In scenario ``under`` 5 % of the
declared pairs deliver only 30–40 % of their clients in every declared quarter.

:func:`draw_register` returns what the register stage would give the statistics stage
(``counts``: quarter, municipality_code, county_code, service_task, source (SHA, ET, ALL),
clients, population_base, share_pct; ``deliveries``: the declared coverage, as
:func:`seuranta.inputs.deliveries.read_deliveries` reads it; ``population``: population.csv)
and the truth (``truth``: quarter, municipality_code, county_code, service_task,
true_clients).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range

#: The simulated series (population year 2022: the reference population).
QUARTERS = [str(q) for q in quarter_range("2023Q1", "2023Q4")]

#: Age-band rates per task (clients per inhabitant of the band; bands of the reference
#: population; a band outside the task's base has no clients).
BAND_RATES = {
    "iakkaat": {"65-74": 0.07, "75-84": 0.25, "85+": 0.62},
    "tyoikaiset": {"18-24": 0.10, "25-34": 0.085, "35-44": 0.065, "45-54": 0.06,
                   "55-64": 0.065},
    "lapsiperheet": {"0-17": 0.15, "18-24": 0.04, "25-34": 0.075, "35-44": 0.085,
                     "45-54": 0.035, "55-64": 0.01},
    "lastensuojelu": {"0-17": 0.05},
    "vammaispalvelut": {"0-17": 0.02, "18-24": 0.017, "25-34": 0.016, "35-44": 0.017,
                        "45-54": 0.02, "55-64": 0.024, "65-74": 0.03, "75-84": 0.045,
                        "85+": 0.07},
    "paihdetyo": {"0-17": 0.0005, "18-24": 0.006, "25-34": 0.008, "35-44": 0.007,
                  "45-54": 0.006, "55-64": 0.004, "65-74": 0.002, "75-84": 0.001,
                  "85+": 0.0005},
}
TASKS = list(BAND_RATES)

#: Lower bounds of the size classes of the step function (total population).
SIZE_BOUNDS = [0, 2000, 5000, 10000, 20000, 50000, 100000]
#: Tasks and the size limit of scenario ``zeros`` (pairs with truly no clients).
ZERO_TASKS = ("lastensuojelu", "vammaispalvelut", "paihdetyo")
ZERO_MAX_POPULATION = 6000
ZERO_PROBABILITY = 1 / 3


@dataclass(frozen=True)
class Scenario:
    """One mechanism of the study (see the module docstring)."""

    name: str
    spread: float = 0.35                 # sd of the log municipal factor
    county_sd: float = 0.10              # sd of the county factor
    joining: str = "random"              # random | size | county | share
    observed: tuple[float, float] = (0.25, 0.75)   # base share joined by the last quarter
    under_delivering: float = 0.0        # share of declared pairs delivering 30–40 %
    zeros: bool = False                  # true zeros among small municipalities
    targeted: bool = True                # the targets apply (share-related joining: reported)


SCENARIOS = {
    "spread35": Scenario("spread35"),
    "spread60": Scenario("spread60", spread=0.60),
    "size": Scenario("size", joining="size", observed=(0.83, 0.89)),
    "county": Scenario("county", joining="county", county_sd=0.20),
    "under": Scenario("under", under_delivering=0.05),
    "zeros": Scenario("zeros", zeros=True),
    "share": Scenario("share", joining="share", targeted=False),
}

#: Share of the last quarter's joined base already joined in each quarter of the series.
JOIN_PROFILE = (0.6, 0.75, 0.9, 1.0)


def _gamma_shape(sd_log: float) -> float:
    """Shape k of a Gamma(k, 1/k) variable whose log has sd ``sd_log`` (trigamma(k) =
    sd², by bisection on the series 1/k + 1/(2k²) + 1/(6k³) − 1/(30k⁵), exact enough)."""
    def trigamma(k):
        return 1 / k + 1 / (2 * k * k) + 1 / (6 * k ** 3) - 1 / (30 * k ** 5)
    lo, hi = 0.5, 1e4
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if trigamma(mid) > sd_log ** 2:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def _municipalities() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mainland municipalities (code, county_code, total population) and the reference
    population by age band."""
    m = reference.mainland_municipalities()[["municipality_code", "county_code"]].copy()
    pop = reference.reference_population()
    pop = pop[pop["municipality_code"].isin(set(m["municipality_code"]))].reset_index(drop=True)
    tot = pop.groupby("municipality_code")["population"].sum()
    m["population"] = m["municipality_code"].map(tot).astype(float)
    return m.reset_index(drop=True), pop


def _bands(pop: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Municipality × age band population (rows in ``codes`` order)."""
    w = pop.pivot_table(index="municipality_code", columns="age_group", values="population",
                        aggfunc="sum", fill_value=0)
    return w.reindex(codes).fillna(0.0)


def _shares(rng, m: pd.DataFrame, bands: pd.DataFrame, sc: Scenario) -> tuple[dict, np.ndarray]:
    """True share per task (array over municipalities) and the log municipal factor
    averaged over the tasks (what scenario ``share`` joins on)."""
    n = len(m)
    popn = m["population"].to_numpy(float)
    size_class = np.searchsorted(SIZE_BOUNDS, popn, side="right") - 1
    counties = sorted(m["county_code"].unique())
    half = math.sqrt(3) * sc.county_sd
    k = _gamma_shape(sc.spread)
    shared = rng.gamma(k, 1 / k, n)
    shares, logs = {}, []
    for task, rates in BAND_RATES.items():
        r = {b: v * rng.uniform(0.8, 1.25) for b, v in rates.items()}
        cols = list(r)
        num = (bands[cols].to_numpy(float) * np.array([r[c] for c in cols])).sum(axis=1)
        den = bands[cols].to_numpy(float).sum(axis=1)
        age_mix = np.where(den > 0, num / np.maximum(den, 1), 0.0)
        tilt = rng.uniform(-0.25, 0.25)
        steps = np.clip(1 + tilt * (np.arange(len(SIZE_BOUNDS)) - 3) / 3
                        + rng.normal(0, 0.06, len(SIZE_BOUNDS)), 0.5, None)
        cf = dict(zip(counties, 1 + rng.uniform(-half, half, len(counties))))
        county = m["county_code"].map(cf).to_numpy(float)
        own = np.sqrt(shared * rng.gamma(k, 1 / k, n))        # geometric mean: shared half
        own = own / own.mean()
        outlier = np.where(rng.random(n) < 0.04, rng.uniform(1.6, 2.6, n), 1.0)
        factor = own * outlier
        logs.append(np.log(factor))
        share = age_mix * steps[size_class] * county * factor
        if sc.zeros and task in ZERO_TASKS:
            share = np.where((popn < ZERO_MAX_POPULATION) & (rng.random(n) < ZERO_PROBABILITY),
                             0.0, share)
        shares[task] = np.clip(share, 0.0, 0.95)
    return shares, np.mean(logs, axis=0)


def _join_quarters(rng, m: pd.DataFrame, sc: Scenario, resid: np.ndarray) -> np.ndarray:
    """The quarter index (0..len(QUARTERS)-1; len = never) in which each municipality joins."""
    n = len(m)
    popn = m["population"].to_numpy(float)
    if sc.joining == "random":
        key = rng.random(n)
    elif sc.joining == "size":
        key = -np.log(popn) + rng.normal(0, 0.5, n)
    elif sc.joining == "county":
        order = dict(zip(sorted(m["county_code"].unique()), rng.permutation(
            m["county_code"].nunique())))
        key = m["county_code"].map(order).to_numpy(float) + rng.random(n) * 0.01
    elif sc.joining == "share":
        z = (resid - resid.mean()) / resid.std()
        key = -z + rng.normal(0, 1.0, n)
    else:
        raise ValueError(f"unknown joining {sc.joining!r}")
    target = rng.uniform(*sc.observed)
    order = np.argsort(key, kind="stable")
    cum = np.cumsum(popn[order]) / popn.sum()
    join = np.full(n, len(QUARTERS))
    for qi in reversed(range(len(QUARTERS))):
        reach = int(np.searchsorted(cum, target * JOIN_PROFILE[qi])) + 1
        if sc.joining == "county":          # whole counties: up to the county boundary
            c = m["county_code"].to_numpy()[order]
            last = c[min(reach, n) - 1]
            reach = int(np.flatnonzero(c == last).max()) + 1
        join[order[:reach]] = qi
    return join


def draw_register(scenario: Scenario | str, seed: int) -> dict[str, pd.DataFrame]:
    """One simulated register of the series ``QUARTERS`` (see the module docstring)."""
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    rng = np.random.default_rng(seed)
    m, pop = _municipalities()
    codes = m["municipality_code"].tolist()
    n, nq = len(m), len(QUARTERS)
    bands = _bands(pop, codes)
    base = reference.base_population(pop)
    shares, resid = _shares(rng, m, bands, sc)
    join_m = _join_quarters(rng, m, sc, resid)
    quarters = [Quarter.parse(q) for q in QUARTERS]
    counts, truth, deliveries = [], [], []
    for task in TASKS:
        b = (base[base["service_task"] == task].set_index("municipality_code")["population_base"]
             .reindex(codes).fillna(0).to_numpy(float))
        join = np.minimum(join_m + (rng.random(n) < 0.15), nq)
        mid = rng.random(n) < 0.2                       # declared from mid-quarter
        under = np.where(rng.random(n) < sc.under_delivering, rng.uniform(0.3, 0.4, n), 1.0)
        pre = np.where(rng.random(n) < 0.6, rng.uniform(0.2, 0.8, n), 0.0)
        for i in np.flatnonzero(join < nq):
            q = quarters[join[i]]
            start = q.start + dt.timedelta(days=45) if mid[i] else q.start
            deliveries.append((codes[i], task, "SHA", start, None))
        for qi, q in enumerate(quarters):
            lam = b * shares[task] * (1 + 0.01 * qi) * rng.gamma(1 / 0.05 ** 2, 0.05 ** 2, n)
            y = rng.poisson(lam).astype(np.int64)
            declared = join <= qi
            full = declared & ~((join == qi) & mid)
            keep = np.where(full, under, np.where(declared, 0.5 + 0.5 * rng.random(n), pre))
            sha = rng.binomial(y, np.clip(keep, 0, 1))
            truth.append(pd.DataFrame({"quarter": str(q), "municipality_code": codes,
                                       "county_code": m["county_code"].to_numpy(),
                                       "service_task": task, "true_clients": y}))
            for source, c in (("SHA", sha), ("ET", np.zeros(n, np.int64)), ("ALL", sha)):
                counts.append(pd.DataFrame({
                    "quarter": str(q), "municipality_code": codes,
                    "county_code": m["county_code"].to_numpy(), "service_task": task,
                    "source": source, "clients": c, "population_base": b.astype(np.int64),
                    "share_pct": np.where(b > 0, 100 * c / np.maximum(b, 1), 0.0)}))
    dcols = ["municipality_code", "service_task", "source", "covered_from", "covered_to"]
    return {"counts": pd.concat(counts, ignore_index=True),
            "truth": pd.concat(truth, ignore_index=True),
            "deliveries": pd.DataFrame(deliveries, columns=dcols),
            "population": pop.assign(year=pop["year"].astype(int))}
