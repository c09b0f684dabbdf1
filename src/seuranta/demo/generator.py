"""Synthetic demo register (``seuranta demo-data``): the docs/data-contract.md inputs for 2022Q4–2023Q4.

Nothing here describes real people: every client, period and delivery is simulated. The
generator is deterministic for a seed (numpy ``Generator(PCG64)`` streams spawned from one
``SeedSequence(seed)``) and vectorised, so that ``scale=1`` (national size: about 5.5 million
residents, 1.8 million true periods, about 1 million register rows) runs in seconds. It
writes into ``out_dir``:

* ``register/sha_part{1,2,3}.csv`` and ``register/et_part1.csv`` — client periods
  (client_id, birth_year, municipality_code, service_task, start_date, end_date, source,
  child_welfare_act), rows shuffled, with a small share of faulty rows;
* ``deliveries.csv`` — declared coverage per municipality × task × source;
* ``population.csv`` — ``data/reference/population.csv`` (31.12.2022: real municipal totals,
  synthetic age bands) times ``scale``, rounded per band, Åland included. **Demo
  simplification:** year 2021 (the denominator of 2022Q4) repeats the 2022 figures;
* ``metadata.json`` — synthetic flag, seed, scale, extract date, quarters, injected faults,
  flagged rows and the coverage story (under-delivering pairs, undeclared data, ended coverage);
* ``truth_factors.csv`` — the generator's municipal factor parts and joining order;
* ``truth.csv`` / ``truth_municipal.csv`` — what complete data would show: distinct true
  clients per quarter × task (also ``lastensuojelulaki`` = child-welfare-act clients and
  ``kaikki`` = distinct over all tasks, by age group), nationally (mainland) and per
  municipality. Faulty rows are not clients; the unusual-age rows are.

Model (all numbers are module constants below):

1. **Targets.** Per mainland municipality × task × age band the number of active clients in
   a quarter is ``rate[task, band] × factor[municipality, task] × population[band] ×
   trend[quarter]``. Band rates follow an age profile scaled so that the national share of
   the task's population base hits THL's published figure (older people 19 % of 65+, working
   age 7 % of 18–64, families 6 % of under-65, child welfare 5 % of under-18 of which 78 %
   under the Child Welfare Act = 3.9 %, disability 2.4 % of everyone rising with age,
   substance services 0.4 %, a few family-law periods). Municipal factors are log-normal
   and differ at every size, as real municipalities do (the seed: Pirkkala 1.3 % and Tampere
   2.4 % disability, both tens of thousands of inhabitants): log factor = a county effect
   (sd ``COUNTY_SIGMA``) + ``SIZE_SLOPE[task]`` × standardised log population (the parts
   the project can observe) + a residual of variance ``STRUCTURAL_SIGMA² + SIGMA[task]² ×
   min(median population / population, SMALL_CAP)`` (:func:`factor_sd`: a structural 0.25
   at every size, the largest cities included, plus a count-like part for small
   municipalities). The factors are normalised to a population-weighted mean of 1 and
   clipped. Calibration (disability, scale 1, averaged over 30 seeds): the municipal shares'
   quartiles are 1.60 % and 3.11 % (seed: 1.6 % and 3.1 %). Disability shares are kept
   inside (0.6, 4.2) %; Hailuoto (072) is pinned to 0.5 %, Pomarkku (608) to 4.3 %, and the
   eleven Pirkanmaa municipalities of the seed's Liite VA1 to their published quarterly
   shares (2023Q4 = 2023Q3); for those the client count is exactly ``round(share ×
   population)``. Nothing tilts the comprehensive municipalities towards the national
   share: whether the ratio estimate is biased depends on the joining scenario (4.) and on
   chance, as in reality. ``truth_factors.csv`` keeps each municipality's parts. Municipal
   totals are split over age bands by largest remainder. The trend is +1 % a quarter.
2. **Dynamics.** Each municipality × age band has a pool of residents (person ids unique
   nationally; birth year fixed per person). A task draws its clients from a window at
   the front of the pool (``WINDOW`` × the largest target), so tasks that share a pool
   overlap (older people with disability services, working age with substance services,
   families with child welfare). In quarter q+1 each client continues with the task's
   persistence probability (capped by the target); newcomers are drawn from the window's
   inactive persons, so earlier clients may come back (a re-opened period).
3. **Periods.** Each run of active quarters becomes a period: it may have started before
   2022Q4 (left-censored, with the task's persistence probability), starts and ends on
   random days of its first and last quarter (some exactly on a quarter's first or last
   day), stays open (empty end_date) or ends before the extract date when it continues past
   2023Q4, and 10 % of multi-quarter runs are split into two periods (closed, then re-opened
   in the next quarter). Child-welfare-act status is fixed per client.
4. **Coverage.** Per task the municipalities join in the order of :func:`joining_keys`
   (a county part and a municipal part; for disability the seed's counties first), by the
   scenario ``joining``: (a) unrelated to the share (default), (b) related to the covariates
   the project observes (larger, younger municipalities and counties first), (c) related to
   the share beyond the covariates (municipalities with a high residual first). Each joins
   in the first quarter whose target is not yet reached, whatever its size (a large city
   early in the order overshoots), so that the base population of the municipalities fully
   covered from a quarter on follows ``COVER_Q1[task] × COVER_GROWTH`` (2023Q1: disability
   24 %, child welfare 23 %, working
   age 14 %, families 11 %, substance 2 %, older people 4 %). Kanta (SHA) joins on a quarter's
   first day or mid-quarter (that quarter partial; a source yields only the periods active
   on or after its start, with start_date clipped to it). Separate deliveries (ET) for a few
   counties from 2023-01-01, some of them later also in Kanta (same clients in both sources).
   Before its declared join, or with no declaration at all, Kanta often holds 20–80 % of a
   pair's clients from an earlier date (partial data; undeclared pairs are listed in
   ``coverage.undeclared``). A few pairs declare full coverage from before 2022Q4 but deliver
   only 30–40 % of the clients (``faults.under_delivering``: the "clearly odd" cases, at most
   two per task), and a few declare a coverage end in 2023Q3 (later periods missing, open
   ones left open).
5. **Faults.** About 0.3 % of rows are copies of valid rows with a fresh client id and one
   defect each (missing field, unknown task, unknown municipality, Åland municipality, bad
   source, bad date, end before start, start after the extract date, missing or impossible
   birth year, bad child-welfare-act value) or exact duplicates; counted in
   ``metadata.faults.rows``. A few valid rows have an age unusual for the task (a 35–44-year-
   old in child welfare, a 25–44-year-old in older people's services): ``metadata.flags``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.quarters import quarter_range
from seuranta.demo.costs import generate_costs
from seuranta.inputs.corrections import CORRECTIONS_FILE

FIRST_QUARTER = "2022Q4"
LAST_QUARTER = "2023Q4"
EXTRACT_DATE = dt.date(2024, 2, 15)
DEFAULT_OUT = Path("data") / "demo"
DEFAULT_SEED = 20240207
DEFAULT_SCALE = 0.05
DEFAULT_JOINING = "a"

TASKS = reference.task_codes()                      # 7 tasks in publication order
BANDS = [b[0] for b in reference.AGE_BANDS]          # 9 demo age bands
BAND_LO = np.array([b[1] for b in reference.AGE_BANDS])
BAND_HI = np.array([b[2] if b[2] is not None else 104 for b in reference.AGE_BANDS])
T = {t: i for i, t in enumerate(TASKS)}

#: Relative age profile of each task over BANDS (0-17 … 85+); scaled to TARGET_SHARE.
PROFILE = {
    "iakkaat":            [0, 0, 0, 0, 0, 0, 0.09, 0.225, 0.56],
    "tyoikaiset":         [0, 0.09, 0.08, 0.07, 0.062, 0.058, 0, 0, 0],
    "lapsiperheet":       [0.115, 0.03, 0.065, 0.075, 0.035, 0.004, 0, 0, 0],
    "lastensuojelu":      [1, 0, 0, 0, 0, 0, 0, 0, 0],
    "vammaispalvelut":    [1.3, 1.6, 1.7, 1.9, 2.1, 2.5, 3.0, 4.2, 8.5],
    "paihdetyo":          [0, 0.5, 0.8, 0.7, 0.6, 0.5, 0.2, 0.05, 0.02],
    "perheoikeudelliset": [0.003, 0.0002, 0.001, 0.0012, 0.0005, 0, 0, 0, 0],
}
#: National share of the task's population base (THL 2023Q1); None = profile is absolute.
TARGET_SHARE = {"iakkaat": 0.19, "tyoikaiset": 0.07, "lapsiperheet": 0.06,
                "lastensuojelu": 0.05, "vammaispalvelut": 0.0246, "paihdetyo": 0.004,
                "perheoikeudelliset": None}
#: Share of child-welfare clients under the Child Welfare Act (3.9 % / 5 %).
CWA_FRACTION = 0.78
#: Probability that a client of a quarter continues in the next one.
PERSISTENCE = {"iakkaat": 0.9, "tyoikaiset": 0.7, "lapsiperheet": 0.75, "lastensuojelu": 0.85,
               "vammaispalvelut": 0.93, "paihdetyo": 0.75, "perheoikeudelliset": 0.4}
#: Window of the pool a task draws from, as a multiple of its largest quarterly target.
WINDOW = {"iakkaat": 1.8, "tyoikaiset": 2.5, "lapsiperheet": 2.5, "lastensuojelu": 2.5,
          "vammaispalvelut": 2.5, "paihdetyo": 2.5, "perheoikeudelliset": 3.0}
#: Size-dependent part of the log municipal factor's spread, at a municipality of median
#: population (more for small ones, little for large cities: count-like scatter).
SIGMA = {"iakkaat": 0.12, "tyoikaiset": 0.2, "lapsiperheet": 0.2, "lastensuojelu": 0.25,
         "vammaispalvelut": 0.42, "paihdetyo": 0.3, "perheoikeudelliset": 0.3}
#: Structural spread of the log factor that does not shrink with size: municipalities of
#: every size differ (the seed: Pirkkala 1.3 % and Tampere 2.4 % disability, both large).
STRUCTURAL_SIGMA = 0.25
#: Spread of a county effect on the log factor (shared by the county's municipalities).
COUNTY_SIGMA = 0.1
#: Effect on the log factor of one standard deviation of log population (observable).
SIZE_SLOPE = {"iakkaat": 0.0, "tyoikaiset": 0.05, "lapsiperheet": 0.03, "lastensuojelu": 0.05,
              "vammaispalvelut": 0.0, "paihdetyo": 0.12, "perheoikeudelliset": 0.0}
#: Cap of (median population / population) in the count-like part of the spread.
SMALL_CAP = 4.0
#: Kanta joining scenarios (``generate(joining=...)``, ``demo-data --joining``):
#: a = unrelated to the share (county-clustered random order), b = related to covariates the
#: project observes (size, age structure, county), c = related to the share beyond them.
JOINING = ("a", "b", "c")
#: Correlation of the joining key with −(covariate score) in b, −(residual) in c.
JOIN_RHO = {"b": 0.7, "c": 0.7}
#: Spread of the county part and of the municipal part of the joining key.
JOIN_COUNTY_SD = 1.0
JOIN_MUNICIPAL_SD = 0.25
#: Weight of the municipal joining draw shared by all tasks (one information system).
JOIN_TASK_SHARED = 0.9
FACTOR_CLIP = {"iakkaat": (0.6, 1.5)}
FACTOR_CLIP_DEFAULT = (0.4, 2.5)
#: Quarterly trend multiplier, 2022Q4 … 2023Q4.
TREND = np.array([0.99, 1.0, 1.01, 1.02, 1.03])
#: Disability shares (%) kept strictly inside this range except the two pinned extremes.
DISABILITY_RANGE = (0.6, 4.2)
#: Pinned disability shares (%) per quarter 2022Q4 … 2023Q4 (seed: Liite VA1, quartile text).
PINNED_DISABILITY = {
    "108": [2.0, 2.0, 2.1, 2.1, 2.1],   # Hämeenkyrö
    "211": [1.6, 1.6, 1.7, 1.7, 1.7],   # Kangasala
    "291": [2.5, 2.5, 2.6, 2.6, 2.6],   # Kuhmoinen
    "418": [1.8, 1.8, 1.9, 1.9, 1.9],   # Lempäälä
    "536": [2.4, 2.4, 2.5, 2.5, 2.5],   # Nokia
    "562": [2.6, 2.7, 2.7, 2.7, 2.7],   # Orivesi
    "635": [2.4, 2.3, 2.4, 2.4, 2.4],   # Pälkäne
    "604": [1.3, 1.3, 1.4, 1.4, 1.4],   # Pirkkala
    "837": [2.3, 2.4, 2.4, 2.4, 2.4],   # Tampere
    "922": [1.5, 1.5, 1.6, 1.6, 1.6],   # Vesilahti
    "980": [1.9, 2.0, 2.1, 2.1, 2.1],   # Ylöjärvi
    "072": [0.5] * 5,                   # Hailuoto (smallest share)
    "608": [4.3] * 5,                   # Pomarkku (largest share)
}
PIRKANMAA = "08"
#: Counties whose disability data THL had in 2023Q1 (seed, Taulukko VA1); joined first.
DISABILITY_COUNTIES = ["09", "18", "19", "06", "05", "12", "13", "15"]
#: Share of each task's base population fully covered in 2023Q1, and its growth by quarter.
COVER_Q1 = {"iakkaat": 0.04, "tyoikaiset": 0.14, "lapsiperheet": 0.11, "lastensuojelu": 0.23,
            "vammaispalvelut": 0.24, "paihdetyo": 0.02, "perheoikeudelliset": 0.05}
COVER_GROWTH = np.array([0.75, 1.0, 1.3, 1.6, 2.0])
N_ET_COUNTIES = 4
N_UNDER_DELIVERING = 12
UNDER_PER_TASK = 2
#: Share of clients the under-delivering pairs deliver (chosen among pairs whose municipal
#: factor is near 1, so that the shortfall is clearly visible against comparable ones).
UNDER_FRACTION = (0.3, 0.4)
#: Share of not-yet-covered pairs with partial Kanta data, and its client fraction range.
PARTIAL_PROB = 0.7
PARTIAL_FRACTION = (0.2, 0.8)
N_COVERAGE_ENDS = 4
#: Rate of faulty rows per kind (share of valid rows); 13 kinds → about 0.3 %.
FAULT_RATE = 0.00025
FAULT_KINDS = ["missing_client_id", "missing_municipality_code", "missing_service_task",
               "missing_source", "missing_start_date", "unknown_service_task",
               "unknown_municipality", "aland_municipality", "bad_source", "bad_date",
               "end_before_start", "start_after_extract", "birth_year_missing",
               "birth_year_impossible", "bad_child_welfare_act", "duplicate_row"]
#: Unusual-age rows (valid, flagged): persons per 1 000 000 residents.
UNUSUAL_PER_MILLION = 20
#: Minimum age at a left-censored period's start, per task (keeps regular rows unflagged).
MIN_START_AGE = {"iakkaat": 62, "tyoikaiset": 18}
PERIOD_SPLIT = 0.10
REGISTER_COLUMNS = ["client_id", "birth_year", "municipality_code", "service_task",
                    "start_date", "end_date", "source", "child_welfare_act"]

_EPOCH = np.datetime64("1970-01-01", "D")
OPEN = np.iinfo(np.int32).max        # sentinel day number of an open period


def _day(d: dt.date | str) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))


QUARTERS = quarter_range(FIRST_QUARTER, LAST_QUARTER)
QS = np.array([_day(q.start) for q in QUARTERS])
QE = np.array([_day(q.end) for q in QUARTERS])
NQ = len(QUARTERS)


def _unif_day(rng, lo, hi):
    """Uniform integer day in [lo, hi] (arrays)."""
    lo = np.asarray(lo, np.int64)
    hi = np.maximum(np.asarray(hi, np.int64), lo)
    return lo + np.floor(rng.random(lo.shape) * (hi - lo + 1)).astype(np.int64)


def _largest_remainder(expected: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each row of ``expected`` (n × k) to integers adding up to ``totals`` (n)."""
    expected = np.asarray(expected, float)
    s = expected.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(s > 0, expected * (totals[:, None] / np.where(s > 0, s, 1)), 0.0)
    out = np.floor(scaled).astype(np.int64)
    short = totals - out.sum(axis=1)
    order = np.argsort(-(scaled - out), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(expected.shape[1])[None, :].repeat(len(out), 0), 1)
    out += rank < short[:, None]
    return out


def _select(cell_key: np.ndarray, cand: np.ndarray, k: np.ndarray, cell_start: np.ndarray,
            rng) -> np.ndarray:
    """Choose ``k[cell]`` rows uniformly among the candidate rows of each cell.

    Rows are grouped by cell (``cell_key`` ascending); returns a boolean mask.
    """
    u = rng.random(len(cell_key))
    key = cell_key * 2.0 + np.where(cand, u, 1.0 + u)
    order = np.argsort(key, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    rank -= cell_start[cell_key]
    return cand & (rank < k[cell_key])


def _hex_ids(values: np.ndarray, width: int = 10) -> np.ndarray:
    """Format non-negative integers as fixed-width lower-case hex strings (vectorised)."""
    v = np.asarray(values, np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    digits = ((v[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.uint8)
    lut = np.frombuffer(b"0123456789abcdef", np.uint8)
    return np.ascontiguousarray(lut[digits]).view(f"S{width}").ravel().astype(f"U{width}")


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based; faster here than numpy's hash-based unique)."""
    x = np.sort(a)
    if len(x) == 0:
        return x
    return x[np.concatenate([[True], x[1:] != x[:-1]])]


def _mix(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """A deterministic pseudo-uniform number in [0, 1) from two integers (splitmix64)."""
    with np.errstate(over="ignore"):
        x = (np.asarray(a, np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             + np.asarray(b, np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# --------------------------------------------------------------------------- population

def demo_population(scale: float) -> pd.DataFrame:
    """population.csv of the demo: reference bands × scale (rounded), 2021 = 2022 figures."""
    pop = reference.reference_population()
    pop = pop[pop["year"] == 2022].copy()
    pop["population"] = np.rint(pop["population"].to_numpy(float) * scale).astype(np.int64)
    other = pop.copy()
    other["year"] = 2021
    out = pd.concat([other, pop], ignore_index=True)
    out["_b"] = out["age_group"].map({b: i for i, b in enumerate(BANDS)})
    out = out.sort_values(["municipality_code", "year", "_b"]).drop(columns="_b")
    return out[["municipality_code", "year", "age_group", "population"]].reset_index(drop=True)


# --------------------------------------------------------------------------- targets

def _task_rates(pop_mb: np.ndarray) -> np.ndarray:
    """Band rates (tasks × bands) whose national share of each task's base hits the target."""
    nat = pop_mb.sum(axis=0)
    rates = np.zeros((len(TASKS), len(BANDS)))
    for t, task in enumerate(TASKS):
        prof = np.array(PROFILE[task], float)
        if TARGET_SHARE[task] is None:
            rates[t] = prof
            continue
        base = nat[_base_mask(task)].sum()
        rates[t] = prof * TARGET_SHARE[task] * base / (prof * nat).sum()
    return rates


def _base_mask(task: str) -> np.ndarray:
    row = next(r for r in reference.SERVICE_TASKS if r[0] == task)
    return np.array([reference.band_in_base(b, row[3], row[4]) for b in BANDS])


def factor_sd(population: np.ndarray, sigma: float,
              structural: float = STRUCTURAL_SIGMA, cap: float = SMALL_CAP) -> np.ndarray:
    """Standard deviation of the log municipal factor for each municipality's population.

    ``sqrt(structural² + sigma² × min(median / population, cap))``: ``sigma`` at the median
    municipality, more for small ones (count-like scatter), little for large cities.
    """
    p = np.maximum(np.asarray(population, dtype=float), 1.0)
    return np.sqrt(structural ** 2 + sigma ** 2 * np.minimum(np.median(p) / p, cap))


def _factors(rng, pop_mb: np.ndarray, county: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Band weights ``w`` (m × t × b, expected clients at factor 1), municipal factors, the
    standard deviations of their random part and their observable part (m × t).

    log factor = county effect (``COUNTY_SIGMA``) + ``SIZE_SLOPE`` × standardised log
    population (the observable part) + a residual with sd :func:`factor_sd` (structural +
    count-like); normalised to a population-weighted mean of 1 and clipped.
    """
    n_m = len(pop_mb)
    rates = _task_rates(pop_mb)
    w = pop_mb[:, None, :] * rates[None, :, :]
    raw = w.sum(axis=2)                                            # m × t
    pop_tot = pop_mb.sum(axis=1).astype(float)
    lp = np.log(np.maximum(pop_tot, 1.0))
    zsize = (lp - lp.mean()) / lp.std()
    ucounty, cidx = np.unique(county, return_inverse=True)
    factor = np.ones((n_m, len(TASKS)))
    sds = np.zeros((n_m, len(TASKS)))
    observable = np.zeros((n_m, len(TASKS)))
    for t, task in enumerate(TASKS):
        sd = factor_sd(pop_tot, SIGMA[task])
        obs = rng.normal(0.0, COUNTY_SIGMA, len(ucounty))[cidx] + SIZE_SLOPE[task] * zsize
        f = np.exp(obs + rng.normal(0.0, 1.0, n_m) * sd - sd ** 2 / 2)
        lo, hi = FACTOR_CLIP.get(task, FACTOR_CLIP_DEFAULT)
        for _ in range(4):
            f = f * raw[:, t].sum() / max((f * raw[:, t]).sum(), 1e-9)
            f = np.clip(f, lo, hi)
        factor[:, t] = f
        sds[:, t] = sd
        observable[:, t] = obs
    return w, factor, sds, observable


def _expected(w: np.ndarray, factor: np.ndarray, mun: pd.DataFrame,
              pop_mb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected clients per municipality × task in 2023Q1 (float) and the pinned mask.

    Disability is kept inside DISABILITY_RANGE; pinned municipalities get their share.
    """
    e = w.sum(axis=2) * factor
    v = T["vammaispalvelut"]
    pop_tot = pop_mb.sum(axis=1).astype(float)
    e[:, v] = np.clip(e[:, v], pop_tot * (DISABILITY_RANGE[0] + 0.05) / 100,
                      pop_tot * (DISABILITY_RANGE[1] - 0.05) / 100)
    pinned = np.zeros(e.shape, bool)
    codes = mun["municipality_code"].to_numpy()
    for code, shares in PINNED_DISABILITY.items():
        i = int(np.flatnonzero(codes == code)[0])
        e[i, v] = shares[1] / 100 * pop_tot[i]
        pinned[i, v] = True
    return e, pinned


def _targets(w: np.ndarray, e: np.ndarray, pinned: np.ndarray, mun: pd.DataFrame,
             pop_mb: np.ndarray) -> np.ndarray:
    """Active clients per municipality × task × band × quarter (int)."""
    n_m = len(mun)
    totals = np.rint(e[:, :, None] * TREND[None, None, :]).astype(np.int64)
    # disability: whole-municipality shares inside DISABILITY_RANGE, pinned ones exact
    v = T["vammaispalvelut"]
    pop_tot = pop_mb.sum(axis=1).astype(float)
    lo = np.ceil(pop_tot * DISABILITY_RANGE[0] / 100 + 1e-9).astype(np.int64)
    hi = np.floor(pop_tot * DISABILITY_RANGE[1] / 100 - 1e-9).astype(np.int64)
    ok = (lo <= hi) & ~pinned[:, v]
    totals[ok, v, :] = np.clip(totals[ok, v, :], lo[ok, None], hi[ok, None])
    codes = mun["municipality_code"].to_numpy()
    for code, shares in PINNED_DISABILITY.items():
        i = int(np.flatnonzero(codes == code)[0])
        totals[i, v, :] = np.rint(np.array(shares) / 100 * pop_tot[i]).astype(np.int64)
    # split municipal totals over bands (largest remainder), capped by the band's pool
    n = np.zeros((n_m, len(TASKS), len(BANDS), NQ), np.int64)
    for q in range(NQ):
        alloc = _largest_remainder(w.reshape(-1, len(BANDS)), totals[:, :, q].reshape(-1))
        n[:, :, :, q] = alloc.reshape(n_m, len(TASKS), len(BANDS))
    return np.minimum(n, np.floor(pop_mb * 0.95).astype(np.int64)[:, None, :, None])


# --------------------------------------------------------------------------- clients

def _simulate(rng, n: np.ndarray, pop_mb: np.ndarray, person_offset: np.ndarray):
    """Quarterly activity of window persons; returns per-row arrays and the activity matrix."""
    n_m, n_t, n_b, _ = n.shape
    maxn = n.max(axis=3)
    win = np.zeros_like(maxn)
    for t, task in enumerate(TASKS):
        win[:, t, :] = np.ceil(maxn[:, t, :] * WINDOW[task]).astype(np.int64)
    win = np.minimum(win, pop_mb[:, None, :])
    win = np.where(maxn > 0, np.maximum(win, maxn), 0)
    cells = np.flatnonzero(win.ravel() > 0)
    cw = win.ravel()[cells]
    cm, ct, cb = np.unravel_index(cells, (n_m, n_t, n_b))
    n_rows = int(cw.sum())
    cell_key = np.repeat(np.arange(len(cells)), cw)
    cell_start = np.concatenate([[0], np.cumsum(cw)[:-1]])
    idx = np.arange(n_rows) - cell_start[cell_key]
    person = person_offset[cm, cb][cell_key] + idx
    cn = n.reshape(-1, NQ)[cells]                                   # cells × quarters
    p_cont = np.array([PERSISTENCE[t] for t in TASKS])[ct]
    active = np.zeros((n_rows, NQ), bool)
    active[:, 0] = _select(cell_key, np.ones(n_rows, bool), cn[:, 0], cell_start, rng)
    for q in range(1, NQ):
        prev_n = cn[:, q - 1]
        cont = np.minimum(rng.binomial(prev_n, p_cont), cn[:, q])
        cont = np.maximum(cont, cn[:, q] - (cw - prev_n))          # not enough newcomers
        cont = np.minimum(cont, prev_n)
        new = cn[:, q] - cont
        prev = active[:, q - 1]
        stay = _select(cell_key, prev, cont, cell_start, rng)
        come = _select(cell_key, ~prev, new, cell_start, rng)
        active[:, q] = stay | come
    keep = active.any(axis=1)
    return {"person": person[keep], "m": cm[cell_key][keep], "t": ct[cell_key][keep],
            "b": cb[cell_key][keep], "active": active[keep]}


def _periods(rng, rows: dict, birth_year: np.ndarray) -> dict:
    """Turn runs of active quarters into dated periods (see the module docstring, 3)."""
    act = rows["active"]
    prev = np.zeros_like(act)
    prev[:, 1:] = act[:, :-1]
    nxt = np.zeros_like(act)
    nxt[:, :-1] = act[:, 1:]
    r_row, a = np.nonzero(act & ~prev)
    e_row, b = np.nonzero(act & ~nxt)
    assert np.array_equal(r_row, e_row)
    t = rows["t"][r_row]
    person = rows["person"][r_row]
    by = birth_year[person].astype(np.int64)
    pers = np.array([PERSISTENCE[x] for x in TASKS])[t]
    n = len(r_row)
    # start
    left = (a == 0) & (rng.random(n) < pers)
    min_age = np.array([MIN_START_AGE.get(x, 0) for x in TASKS])[t]
    jan1 = (np.array([f"{y}-01-01" for y in range(1850, 2071)], "datetime64[D]")
            - _EPOCH).astype(np.int64)
    lo_left = np.maximum(jan1[by + min_age - 1850], _day("2018-01-01"))
    lo_left = np.minimum(lo_left, QS[0] - 1)
    start = np.where(left, _unif_day(rng, lo_left, QS[0] - 1), _unif_day(rng, QS[a], QE[a]))
    u = rng.random(n)
    start = np.where(~left & (u < 0.04), QS[a], start)
    start = np.where(~left & (u >= 0.04) & (u < 0.07), QE[a], start)
    # end
    cont = (b == NQ - 1) & (rng.random(n) < pers)
    end = _unif_day(rng, np.maximum(start, QS[b]), QE[b])
    u = rng.random(n)
    end = np.where(u < 0.04, QE[b], end)
    end = np.where((u >= 0.04) & (u < 0.07) & (QS[b] >= start), QS[b], end)
    later = _unif_day(rng, np.full(n, _day("2024-01-01")), np.full(n, _day(EXTRACT_DATE) - 1))
    end = np.where(cont, np.where(rng.random(n) < 0.9, OPEN, later), end)
    # split some multi-quarter runs into two periods (closed, re-opened next quarter)
    split = (b > a) & (rng.random(n) < PERIOD_SPLIT)
    k = a + np.floor(rng.random(n) * np.maximum(b - a, 1)).astype(np.int64)
    k = np.minimum(k, NQ - 2)
    d1 = _unif_day(rng, np.maximum(start, QS[k]), QE[k])
    d2 = _unif_day(rng, QS[k + 1], np.minimum(QE[k + 1], end))
    src = np.concatenate([np.arange(n), np.flatnonzero(split)])
    p_start = np.concatenate([start, d2[split]])
    p_end = np.concatenate([np.where(split, d1, end), end[split]])
    cwa_u = _mix(person, 7 + 1000 * t)
    return {"person": person[src], "m": rows["m"][r_row][src], "t": t[src],
            "start": p_start, "end": p_end,
            "cwa": np.where(t[src] == T["lastensuojelu"], (cwa_u[src] < CWA_FRACTION), False),
            "unusual": np.zeros(len(src), bool)}


# --------------------------------------------------------------------------- coverage

def joining_keys(rng, scenario: str, county: np.ndarray, population: np.ndarray,
                 share_65plus: np.ndarray, residual_z: np.ndarray,
                 rho: float | None = None, county_normal: np.ndarray | None = None,
                 municipal_normal: np.ndarray | None = None) -> np.ndarray:
    """Kanta joining order of the municipalities for one task: the lower the key, the earlier.

    ``key = county part + municipal part``, the county part shared by a county's
    municipalities (sd ``JOIN_COUNTY_SD``: wellbeing services counties join largely as a
    whole), the municipal part sd ``JOIN_MUNICIPAL_SD``. By ``scenario``:

    ``a``  both parts random: joining unrelated to the share;
    ``b``  both parts correlated ``rho`` with −score, score = z(log population) −
           z(share 65+) (a county's part with its population-weighted mean score): larger and
           younger municipalities and counties join first — related only to covariates the
           project observes (size, age structure, county);
    ``c``  the municipal part correlated ``rho`` with −``residual_z`` (the municipality's
           share above what its covariates predict, in standard deviations), a county's
           part with its municipalities' mean residual: municipalities and counties with a
           high share join first, beyond anything the covariates tell.

    ``county_normal`` (standard normal per sorted distinct county) and ``municipal_normal``
    (per municipality): the random draws to use, so that several tasks share them (a county
    or municipality joins Kanta with one information system for all its tasks); drawn from
    ``rng`` when None. Also for the coverage study: call it
    repeatedly with fresh ``rng`` draws to get joining patterns of a scenario;
    :func:`covered_first` turns keys into a covered set.
    """
    if scenario not in JOINING:
        raise ValueError(f"joining scenario must be one of {', '.join(JOINING)}, "
                         f"got {scenario!r}")
    county = np.asarray(county)
    pop = np.maximum(np.asarray(population, float), 1.0)
    ucounty, cidx = np.unique(county, return_inverse=True)
    u = (rng.normal(0.0, 1.0, len(ucounty)) if county_normal is None
         else np.asarray(county_normal, float).copy())
    v = (rng.normal(0.0, 1.0, len(county)) if municipal_normal is None
         else np.asarray(municipal_normal, float).copy())
    r = JOIN_RHO.get(scenario, 0.0) if rho is None else float(rho)
    if scenario == "b":
        lp = np.log(pop)
        s65 = np.asarray(share_65plus, float)
        score = (lp - lp.mean()) / lp.std() - (s65 - s65.mean()) / s65.std()
        cs = np.bincount(cidx, pop * score) / np.bincount(cidx, pop)
        cs = (cs - cs.mean()) / max(cs.std(), 1e-12)
        zs = (score - score.mean()) / score.std()
        u = -r * cs + np.sqrt(1 - r ** 2) * u
        v = -r * zs + np.sqrt(1 - r ** 2) * v
    elif scenario == "c":
        rz = np.asarray(residual_z, float)
        rz = (rz - rz.mean()) / max(rz.std(), 1e-12)
        cr = np.bincount(cidx, rz) / np.bincount(cidx)
        cr = (cr - cr.mean()) / max(cr.std(), 1e-12)
        u = -r * cr + np.sqrt(1 - r ** 2) * u
        v = -r * rz + np.sqrt(1 - r ** 2) * v
    return JOIN_COUNTY_SD * u[cidx] + JOIN_MUNICIPAL_SD * v


def covered_first(keys: np.ndarray, base: np.ndarray, share: float) -> np.ndarray:
    """Mask of the municipalities that join first (lowest keys) until they hold ``share``
    (0–1) of the total ``base`` (the municipality crossing the line included)."""
    order = np.argsort(keys, kind="stable")
    cum = np.cumsum(np.asarray(base, float)[order])
    n = int(np.searchsorted(cum, share * cum[-1], side="left")) + 1
    out = np.zeros(len(keys), bool)
    out[order[:min(n, len(keys))]] = True
    return out


def _coverage(rng, mun: pd.DataFrame, base: np.ndarray, factor: np.ndarray,
              expected: np.ndarray, keys: np.ndarray) -> dict:
    """Declared and actual delivery per source for every municipality × task (see 4.).

    ``expected`` (clients per municipality × task) keeps the under-delivering pairs to
    cells large enough for the shortfall to be visible; ``keys`` (m × t, from
    :func:`joining_keys`) is the Kanta joining order of each task.
    """
    n_m, n_t = base.shape
    county = mun["county_code"].to_numpy()
    codes = mun["municipality_code"].to_numpy()
    pinned = np.isin(codes, list(PINNED_DISABILITY))
    stage, et, et_counties = _join_stages(rng, county, pinned, base, keys)
    sha_from, never, late = _sha_join_dates(rng, stage, et, county)
    sha_keep = np.ones((n_m, n_t))
    sha_to = np.full((n_m, n_t), -1, np.int64)
    declared = sha_from >= 0
    used, under = _under_delivering(rng, never & ~late, factor, expected, codes, sha_from,
                                    sha_keep, declared)
    pre_from, pre_keep, has_pre = _partial_data(rng, stage, et, used, county, sha_from)
    undeclared = [{"municipality_code": codes[i], "service_task": TASKS[t], "source": "SHA",
                   "data_from": _date_str(pre_from[i, t]),
                   "delivered_fraction": float(pre_keep[i, t])}
                  for i, t in np.argwhere(has_pre & ~declared)]
    ends = _coverage_ends(rng, (stage == 0) & ~et & declared & ~pinned[:, None], codes, sha_to)
    et_from = np.where(et, _day("2023-01-01"), -1)
    return {"sha_from": sha_from, "sha_to": sha_to, "sha_keep": sha_keep,
            "sha_declared": declared, "et_from": et_from, "stage": stage,
            "pre_from": pre_from, "pre_keep": pre_keep,
            "n_partial_before_declared": int((has_pre & declared).sum()),
            "et_counties": et_counties, "under_delivering": under, "undeclared": undeclared,
            "coverage_ends": ends}


def _join_stages(rng, county: np.ndarray, pinned: np.ndarray, base: np.ndarray,
                 keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """The first fully covered quarter of each municipality × task (``NQ`` = never), the
    pairs delivered separately (ET) and the counties that deliver so."""
    n_m, n_t = base.shape
    stage = np.full((n_m, n_t), -1)                 # first fully covered quarter; 5 = never
    v = T["vammaispalvelut"]
    stage[pinned, v] = 0
    stage[(county == PIRKANMAA) & ~pinned, v] = 5
    total = base.sum(axis=0)
    target = np.array([[min(COVER_Q1[x] * g, 0.85) for g in COVER_GROWTH] for x in TASKS])
    target = target * total[:, None]

    # room of each quarter's newly covered base population (pinned pairs already in)
    c = np.array([[base[(stage[:, t] >= 0) & (stage[:, t] <= j), t].sum()
                   for j in range(NQ)] for t in range(n_t)])
    room = np.diff(np.concatenate([np.zeros((n_t, 1)), target], axis=1), axis=1) * 1.02
    room -= np.diff(np.concatenate([np.zeros((n_t, 1)), c], axis=1), axis=1)
    # separate deliveries for a few counties from 2023-01-01 (not disability, not family
    # law); they fill 2023Q1's room first, then take from 2022Q4's (fewer early Kanta joins)
    ucounties = sorted(set(county) - {PIRKANMAA, "90"})
    et_counties = sorted(rng.choice(ucounties, N_ET_COUNTIES, replace=False).tolist())
    et = np.zeros((n_m, n_t), bool)
    for cc in et_counties:
        inc = county == cc
        for t, task in enumerate(TASKS):
            if task in ("vammaispalvelut", "perheoikeudelliset") or rng.random() > 0.6:
                continue
            sel = inc & (stage[:, t] < 0)
            add = base[sel, t].sum()
            if add <= room[t, 0] + room[t, 1]:
                et[sel, t] = True
                stage[sel, t] = 1
                from1 = min(add, max(room[t, 1], 0.0))
                room[t, 1] -= from1
                room[t, 0] -= add - from1
    # Kanta joins in the joining order, whatever a municipality's size: each joins in the
    # first quarter whose cumulative target is not yet reached before it (so a large city
    # early in the order overshoots the target; skipping it would select on size)
    for t, task in enumerate(TASKS):
        key = keys[:, t]
        if task == "vammaispalvelut":
            key = np.where(np.isin(county, DISABILITY_COUNTIES), key - 100, key)
        free = np.cumsum(room[t])
        taken = 0.0
        for i in np.argsort(key, kind="stable"):
            if stage[i, t] >= 0:
                continue
            below = taken < free
            j = int(np.argmax(below)) if below.any() else NQ
            stage[i, t] = j
            if j < NQ:
                taken += base[i, t]
    return stage, et, et_counties


def _sha_join_dates(rng, stage: np.ndarray, et: np.ndarray, county: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The declared Kanta (SHA) join day of each pair (-1: none), the never-covered pairs
    and those of them that join mid-2023Q4."""
    n_m, n_t = stage.shape
    sha_from = np.full((n_m, n_t), -1, np.int64)
    mid = rng.random((n_m, n_t)) < 0.4
    for j in range(NQ):
        sel = (stage == j) & ~et
        if j == 0:
            d = _unif_day(rng, np.full(sel.sum(), _day("2020-01-01")),
                          np.full(sel.sum(), QS[0] - 20))
        else:
            d = np.where(mid[sel], _unif_day(rng, np.full(sel.sum(), QS[j - 1] + 10),
                                             np.full(sel.sum(), QE[j - 1])), QS[j])
        sha_from[sel] = d
    # ET pairs: Kanta later (same clients in both sources) or never
    ids = np.argwhere(et)
    later = rng.integers(2, NQ + 2, len(ids))          # 2..4 → join quarter; 5..6 → never
    for (i, t), j in zip(ids, later):
        if j < NQ:
            sha_from[i, t] = QS[j]
    # never-covered pairs: some join mid-2023Q4 (a partial last quarter)
    v = T["vammaispalvelut"]
    never = (stage == NQ) & ~((county == PIRKANMAA)[:, None] & (np.arange(n_t) == v)[None, :])
    late = never & (rng.random((n_m, n_t)) < 0.25)
    sha_from[late] = _unif_day(rng, np.full(late.sum(), QS[NQ - 1] + 10),
                               np.full(late.sum(), QE[NQ - 1]))
    return sha_from, never, late


def _under_delivering(rng, never_joined: np.ndarray, factor: np.ndarray, expected: np.ndarray,
                      codes: np.ndarray, sha_from: np.ndarray, sha_keep: np.ndarray,
                      declared: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Pairs that declare Kanta from before 2022Q4 but deliver 30–50 % of their clients
    (chosen among ``never_joined``; ``sha_from``, ``sha_keep`` and ``declared`` are set in
    place): the mask of those pairs and their list."""
    n_t = never_joined.shape[1]
    ok = (never_joined & (factor >= 0.95) & (factor <= 1.25)
          & (np.arange(n_t) != T["perheoikeudelliset"])[None, :])
    big = ok & (expected >= 30)
    if big.sum() < N_UNDER_DELIVERING:                 # tiny scales: the largest cells
        big = ok & (expected >= np.sort(expected[ok])[-N_UNDER_DELIVERING])
    cand = np.argwhere(big)
    cand = cand[rng.permutation(len(cand))]
    # at most UNDER_PER_TASK per task: a few odd pairs among many, never the bulk of a task's
    # early coverage (the comparison medians of the quality rule must stay meaningful)
    rank = np.zeros(len(cand), np.int64)
    for t in np.unique(cand[:, 1]):
        rank[cand[:, 1] == t] = np.arange((cand[:, 1] == t).sum())
    pick = cand[rank < UNDER_PER_TASK][:N_UNDER_DELIVERING]
    pick = pick[np.lexsort((pick[:, 1], pick[:, 0]))]
    under = []
    for i, t in pick:
        sha_from[i, t] = _unif_day(rng, np.array([_day("2020-01-01")]), np.array([QS[0] - 20]))[0]
        sha_keep[i, t] = round(float(rng.uniform(*UNDER_FRACTION)), 2)
        declared[i, t] = True
        under.append({"municipality_code": codes[i], "service_task": TASKS[t],
                      "source": "SHA", "delivered_fraction": sha_keep[i, t]})
    used = np.zeros(never_joined.shape, bool)
    used[pick[:, 0], pick[:, 1]] = True
    return used, under


def _partial_data(rng, stage: np.ndarray, et: np.ndarray, used: np.ndarray,
                  county: np.ndarray, sha_from: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial data: before its declared join, or with no declaration at all, Kanta holds a
    share of the clients (pilots, gradual adoption) from an earlier date. Returns the first
    day (-1: none), the share kept and the mask of such pairs."""
    n_m, n_t = stage.shape
    pir_v = (county == PIRKANMAA)[:, None] & (np.arange(n_t) == T["vammaispalvelut"])[None, :]
    has_pre = ((stage >= 1) & ~et & ~used & ~pir_v
               & (rng.random((n_m, n_t)) < PARTIAL_PROB))
    join = np.where(sha_from >= 0, sha_from, _day("2023-12-01"))
    pre_from = np.where(has_pre, _unif_day(rng, np.full((n_m, n_t), _day("2021-06-01")),
                                           join - 30), -1)
    pre_keep = np.where(has_pre, np.round(rng.uniform(*PARTIAL_FRACTION, (n_m, n_t)), 2), 0.0)
    return pre_from, pre_keep, has_pre


def _coverage_ends(rng, eligible: np.ndarray, codes: np.ndarray, sha_to: np.ndarray
                   ) -> list[dict]:
    """Coverage ends inside 2023Q3 for a few SHA-only pairs covered from the start
    (``eligible``); ``sha_to`` is set in place. Returns the list of those pairs."""
    cand = np.argwhere(eligible)
    pick = cand[rng.choice(len(cand), min(N_COVERAGE_ENDS, len(cand)), replace=False)]
    pick = pick[np.lexsort((pick[:, 1], pick[:, 0]))]
    ends = []
    for i, t in pick:
        sha_to[i, t] = _unif_day(rng, np.array([QS[3] + 10]), np.array([QE[3] - 10]))[0]
        ends.append({"municipality_code": codes[i], "service_task": TASKS[t], "source": "SHA",
                     "covered_to": _date_str(sha_to[i, t])})
    return ends


def _date_str(day: int) -> str:
    return str(_EPOCH + np.timedelta64(int(day), "D"))


def _deliver(per: dict, cov: dict, n_t: int) -> dict:
    """Rows each source delivers of the true periods (start clipped to the source's start)."""
    out = []
    pair_m, pair_t = per["m"], per["t"]
    for s, (frm, to, keep) in enumerate([(cov["sha_from"], cov["sha_to"], cov["sha_keep"]),
                                         (cov["et_from"], None, None)]):
        f = frm[pair_m, pair_t]
        if s == 0:                                  # partial data before or without a join
            pid = pair_m * n_t + pair_t
            in_pre = ((cov["pre_from"][pair_m, pair_t] >= 0)
                      & (_mix(per["person"], 29 + pid) < cov["pre_keep"][pair_m, pair_t]))
            f = np.where(in_pre, cov["pre_from"][pair_m, pair_t], f)
        ok = (f >= 0) & (per["end"] >= f)
        end = per["end"].copy()
        if to is not None:
            e = to[pair_m, pair_t]
            has_to = e >= 0
            ok &= ~has_to | (per["start"] <= e)
            end = np.where(has_to & (end > e), OPEN, end)
        if keep is not None:
            k = keep[pair_m, pair_t]
            ok &= _mix(per["person"], 17 + pair_m * n_t + pair_t) < k
        sel = np.flatnonzero(ok)
        out.append({"i": sel, "start": np.maximum(per["start"][sel], f[sel]),
                    "end": end[sel], "source": np.full(len(sel), s)})
    return {k: np.concatenate([o[k] for o in out]) for k in out[0]}


# --------------------------------------------------------------------------- truth

def _truth(per: dict, birth_year: np.ndarray, person_m: np.ndarray, mun: pd.DataFrame,
           population: pd.DataFrame):
    """National and municipal true distinct clients per quarter (see module docstring)."""
    n_m = len(mun)
    codes = mun["municipality_code"].to_numpy()
    labels = TASKS + ["lastensuojelulaki"]
    bases = reference.base_population(population)
    bases = bases[bases["municipality_code"].isin(codes)]
    pop = population[population["municipality_code"].isin(codes)]
    nat_rows, mun_frames = [], []
    age_groups = reference.CLIENT_AGE_GROUPS
    for qi, q in enumerate(QUARTERS):
        ov = (per["start"] <= QE[qi]) & (per["end"] >= QS[qi])
        t = per["t"][ov].astype(np.int64)
        p = per["person"][ov].astype(np.int64)
        key = _distinct(p * 8 + t)
        kt = key % 8
        kp = key // 8
        cwa_key = _distinct(p[per["cwa"][ov]])
        kt = np.concatenate([kt, np.full(len(cwa_key), len(TASKS))])
        kp = np.concatenate([kp, cwa_key])
        counts = np.bincount(person_m[kp] * len(labels) + kt,
                             minlength=n_m * len(labels)).reshape(n_m, len(labels))
        everyone = _distinct(p)
        all_m = np.bincount(person_m[everyone], minlength=n_m)
        yb = bases[bases["year"] == q.population_year]
        for j, lab in enumerate(labels):
            task = "lastensuojelu" if lab == "lastensuojelulaki" else lab
            b = int(yb.loc[yb["service_task"] == task, "population_base"].sum())
            nat_rows.append((str(q), lab, "kaikki", int(counts[:, j].sum()), b))
        ypop = pop[pop["year"] == q.population_year]
        total = int(ypop["population"].sum())
        nat_rows.append((str(q), "kaikki", "kaikki", len(everyone), total))
        age = q.end.year - birth_year[everyone]
        for g, lo, hi in age_groups:
            in_g = (age >= lo) & ((age <= hi) if hi is not None else True)
            bm = ypop["age_group"].map(lambda x, lo=lo, hi=hi: reference.band_in_base(x, lo, hi))
            nat_rows.append((str(q), "kaikki", g, int(in_g.sum()),
                             int(ypop.loc[bm, "population"].sum())))
        mf = pd.DataFrame(counts, columns=labels)
        mf["kaikki"] = all_m
        mf.insert(0, "municipality_code", codes)
        mf = mf.melt(id_vars="municipality_code", var_name="service_task",
                     value_name="true_clients")
        mf.insert(0, "quarter", str(q))
        yb2 = yb.copy()
        extra = yb2[yb2["service_task"] == "lastensuojelu"].assign(service_task="lastensuojelulaki")
        tot = (ypop.groupby("municipality_code", as_index=False)["population"].sum()
               .rename(columns={"population": "population_base"}).assign(service_task="kaikki"))
        allb = pd.concat([yb2, extra, tot], ignore_index=True)[
            ["municipality_code", "service_task", "population_base"]]
        mf = mf.merge(allb, on=["municipality_code", "service_task"], how="left")
        mun_frames.append(mf)
    nat = pd.DataFrame(nat_rows, columns=["quarter", "service_task", "age_group",
                                          "true_clients", "population_base"])
    nat["share_pct"] = (100 * nat["true_clients"] / nat["population_base"]).round(4)
    order = {x: i for i, x in enumerate(labels + ["kaikki"])}
    gorder = {"kaikki": 0, **{g[0]: i + 1 for i, g in enumerate(age_groups)}}
    nat = nat.sort_values(["quarter", "service_task", "age_group"],
                          key=lambda s: s.map(order) if s.name == "service_task"
                          else (s.map(gorder) if s.name == "age_group" else s))
    mun_t = pd.concat(mun_frames, ignore_index=True)
    mun_t["population_base"] = mun_t["population_base"].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mun_t["share_pct"] = np.where(mun_t["population_base"] > 0,
                                      100 * mun_t["true_clients"] / mun_t["population_base"],
                                      np.nan).round(4)
    mun_t = mun_t.sort_values(["quarter", "municipality_code", "service_task"],
                              key=lambda s: s.map(order) if s.name == "service_task" else s)
    return nat.reset_index(drop=True), mun_t.reset_index(drop=True)


# --------------------------------------------------------------------------- faults

def _inject_faults(rng, reg: pd.DataFrame, flagged: np.ndarray, fresh_ids: np.ndarray,
                   aland_codes: list[str], free_codes: list[str]):
    """Append faulty rows (one defect each) and exact duplicates; returns frame and counts."""
    n_valid = len(reg)
    n_kind = max(2, int(round(FAULT_RATE * n_valid)))
    pool = np.flatnonzero(~flagged)
    kinds = FAULT_KINDS
    take = rng.choice(pool, n_kind * len(kinds), replace=False)
    rows = reg.iloc[take].reset_index(drop=True).copy()
    kind = np.repeat(np.array(kinds), n_kind)
    not_dup = kind != "duplicate_row"
    rows.loc[not_dup, "client_id"] = fresh_ids[: int(not_dup.sum())]

    def at(k):
        return np.flatnonzero(kind == k)

    def pick(values, size):
        return np.asarray(values)[rng.integers(0, len(values), size)]

    for field in ["client_id", "municipality_code", "service_task", "source", "start_date"]:
        rows.loc[at(f"missing_{field}"), field] = ""
    i = at("unknown_service_task")
    rows.loc[i, "service_task"] = pick(["sosiaalipaivystys", "kotihoito", "vammais",
                                         "lastensuojelu2", "tuntematon"], len(i))
    i = at("unknown_municipality")
    rows.loc[i, "municipality_code"] = pick(free_codes, len(i))
    i = at("aland_municipality")
    rows.loc[i, "municipality_code"] = pick(aland_codes, len(i))
    i = at("bad_source")
    rows.loc[i, "source"] = pick(["KANTA", "MUU", "ETX", "S"], len(i))
    i = at("bad_date")
    bad = pick(["2023-02-30", "2023-13-01", "tuntematon", "2023-1-32", "31.12.2022"], len(i))
    on_end = (rng.random(len(i)) < 0.5) & (rows.loc[i, "end_date"] != "").to_numpy()
    rows.loc[i[on_end], "end_date"] = bad[on_end]
    rows.loc[i[~on_end], "start_date"] = bad[~on_end]
    i = at("end_before_start")
    st = pd.to_datetime(rows.loc[i, "start_date"]).to_numpy("datetime64[D]")
    rows.loc[i, "end_date"] = np.datetime_as_string(
        st - rng.integers(1, 90, len(i)).astype("timedelta64[D]"))
    i = at("start_after_extract")
    d = np.datetime64(EXTRACT_DATE) + rng.integers(1, 120, len(i)).astype("timedelta64[D]")
    rows.loc[i, "start_date"] = np.datetime_as_string(d)
    rows.loc[i, "end_date"] = ""
    rows.loc[at("birth_year_missing"), "birth_year"] = ""
    i = at("birth_year_impossible")
    sy = rows.loc[i, "start_date"].str.slice(0, 4).astype(int).to_numpy()
    future = rng.random(len(i)) < 0.5
    rows.loc[i, "birth_year"] = np.where(future, sy + rng.integers(1, 4, len(i)),
                                         sy - rng.integers(125, 140, len(i))).astype(str)
    i = at("bad_child_welfare_act")
    rows.loc[i, "child_welfare_act"] = pick(["2", "K", "kyllä", "9"], len(i))
    # a faulty row that happens to equal another row would carry two defects: drop it
    both = pd.concat([reg, rows[not_dup]], ignore_index=True)
    dup = both.duplicated(keep="first").to_numpy()[n_valid:]
    keep = np.ones(len(rows), bool)
    keep[np.flatnonzero(not_dup)[dup]] = False
    rows, kind = rows[keep].reset_index(drop=True), kind[keep]
    counts = {k: int((kind == k).sum()) for k in kinds}
    return rows, counts


# --------------------------------------------------------------------------- main

def generate(out_dir: Path, scale: float = DEFAULT_SCALE, seed: int = DEFAULT_SEED,
             joining: str = DEFAULT_JOINING, review_round: bool = True) -> Path:
    """Write the demo data folder (docs/data-contract.md inputs + metadata + truth); returns out_dir.

    ``joining``: the Kanta joining scenario (``JOINING``, see :func:`joining_keys`); the
    municipalities' true shares are the same in every scenario for a seed, only who joins
    when differs. Existing ``register/*.csv|*.parquet`` files in ``out_dir`` are removed
    first, so that a re-run never leaves stale parts behind.

    ``review_round``: also write ``corrections.csv`` as a simulated review round
    (:func:`review_decisions`); without it the folder has no corrections.csv (the state
    before the counties' feedback).
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if joining not in JOINING:
        raise ValueError(f"joining scenario must be one of {', '.join(JOINING)}, "
                         f"got {joining!r}")
    out_dir = Path(out_dir)
    streams = [np.random.Generator(np.random.PCG64(s))
               for s in np.random.SeedSequence(int(seed)).spawn(7)]
    r_model, r_people, r_dyn, r_per, r_cov, r_fault, r_join = streams

    allmun = reference.municipalities().sort_values("municipality_code").reset_index(drop=True)
    mun = allmun[allmun["in_register"] == 1].reset_index(drop=True)
    population = demo_population(scale)
    p22 = population[population["year"] == 2022]
    pop_mb = (p22.pivot(index="municipality_code", columns="age_group", values="population")
              .reindex(index=mun["municipality_code"], columns=BANDS).to_numpy(np.int64))

    person_offset, person_m, birth_year, pseudo = _residents(r_people, pop_mb)
    n_persons = int(pop_mb.sum())

    county = mun["county_code"].to_numpy()
    w, factor, sds, observable = _factors(r_model, pop_mb, county)
    base = np.stack([pop_mb[:, _base_mask(t)].sum(axis=1) for t in TASKS], axis=1)
    e, pinned = _expected(w, factor, mun, pop_mb)
    # residual of the log share beyond the observable part, in its own standard deviations
    raw = w.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = np.where((e > 0) & (raw > 0), np.log(np.where(e > 0, e, 1.0)
                                                        / np.where(raw > 0, raw, 1.0)), 0.0)
    residual = residual - observable
    residual_z = residual / np.maximum(sds, 1e-9)
    pop_tot = pop_mb.sum(axis=1)
    s65 = 100 * pop_mb[:, BAND_LO >= 65].sum(axis=1) / np.maximum(pop_tot, 1)
    # one county draw for all tasks, municipal draws correlated JOIN_TASK_SHARED² between tasks
    u_county = r_join.normal(0.0, 1.0, len(np.unique(county)))
    v_common = r_join.normal(0.0, 1.0, len(county))
    keys = np.stack([joining_keys(
        r_join, joining, county, pop_tot, s65, residual_z[:, t], county_normal=u_county,
        municipal_normal=(JOIN_TASK_SHARED * v_common + np.sqrt(1 - JOIN_TASK_SHARED ** 2)
                          * r_join.normal(0.0, 1.0, len(county))))
        for t in range(len(TASKS))], axis=1)
    cov = _coverage(r_cov, mun, base, factor, e, keys)
    n = _targets(w, e, pinned, mun, pop_mb)
    rows = _simulate(r_dyn, n, pop_mb, person_offset)
    per = _periods(r_per, rows, birth_year)

    per = _with_unusual_ages(r_per, per, cov, pop_mb, person_offset, n_persons)
    codes = mun["municipality_code"].to_numpy()
    reg, flagged = _register_rows(per, _deliver(per, cov, len(TASKS)), codes, pseudo,
                                  birth_year)

    known = set(allmun["municipality_code"])
    free_codes = [f"{c:03d}" for c in range(1, 1000) if f"{c:03d}" not in known][::7]
    aland = allmun.loc[allmun["county_code"] == reference.ALAND_COUNTY,
                       "municipality_code"].tolist()
    fresh = _hex_ids(pseudo[n_persons:])
    faulty, fault_counts = _inject_faults(r_fault, reg, flagged, fresh, aland, free_codes)
    reg = pd.concat([reg, faulty], ignore_index=True)
    flagged = np.concatenate([flagged, np.zeros(len(faulty), bool)])

    reg, flagged, names = _write_register(r_fault, reg, flagged, out_dir)

    _write_deliveries(out_dir / "deliveries.csv", cov, codes)
    population.to_csv(out_dir / "population.csv", index=False, lineterminator="\n")
    # Sote-tietopaketit cost ledger (costs/), from the same population and seed
    generate_costs(out_dir, scale=scale, seed=seed)
    truth, truth_m = _truth(per, birth_year, person_m, mun,
                            population)
    truth.to_csv(out_dir / "truth.csv", index=False, lineterminator="\n")
    truth_m.to_csv(out_dir / "truth_municipal.csv", index=False, lineterminator="\n")
    _truth_factors(codes, county, e, observable, residual, residual_z, keys, cov["stage"]).to_csv(
        out_dir / "truth_factors.csv", index=False, lineterminator="\n")
    decisions = review_decisions(cov["under_delivering"])
    if review_round:
        decisions.to_csv(out_dir / CORRECTIONS_FILE, index=False, lineterminator="\n")
    else:
        (out_dir / CORRECTIONS_FILE).unlink(missing_ok=True)

    meta = _metadata(seed, scale, joining, per, reg, flagged, fault_counts, cov, names,
                     decisions if review_round else None)
    (out_dir / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    return out_dir


def _residents(r_people, pop_mb: np.ndarray):
    """The residents: each person's first index per municipality × band, municipality,
    birth year and pseudonymous id (persons beyond the residents are fresh ids for faults)."""
    n_m = pop_mb.shape[0]
    person_offset = np.concatenate([[0], np.cumsum(pop_mb.ravel())[:-1]]).reshape(pop_mb.shape)
    n_persons = int(pop_mb.sum())
    band_of = np.repeat(np.tile(np.arange(len(BANDS)), n_m), pop_mb.ravel())
    person_m = np.repeat(np.arange(n_m), pop_mb.sum(axis=1))
    age = BAND_LO[band_of] + np.floor(r_people.random(n_persons)
                                      * (BAND_HI[band_of] - BAND_LO[band_of] + 1)).astype(int)
    old = band_of == len(BANDS) - 1          # 85+: ages thin out exponentially
    age[old] = 85 + np.minimum(r_people.exponential(4.5, int(old.sum())).astype(int), 19)
    birth_year = (2022 - age).astype(np.int64)
    n_extra = n_persons // 20 + 5000
    salt = int(r_people.integers(0, 1 << 39))
    perm = r_people.permutation(n_persons + n_extra).astype(np.uint64)
    with np.errstate(over="ignore"):
        pseudo = (perm * np.uint64(0x5DEECE66D) + np.uint64(salt)) & np.uint64((1 << 40) - 1)
    return person_offset, person_m, birth_year, pseudo


def _with_unusual_ages(r_per, per: dict, cov: dict, pop_mb: np.ndarray,
                       person_offset: np.ndarray, n_persons: int) -> dict:
    """``per`` with periods of unusual ages added (valid rows, flagged): in pairs covered by
    Kanta from before 2022Q4."""
    n_unusual = max(4, int(round(UNUSUAL_PER_MILLION * n_persons / 1e6)))
    extra = []
    for task, bands in [("lastensuojelu", [3]), ("iakkaat", [2, 3])]:
        t = T[task]
        ok = np.flatnonzero((cov["sha_from"][:, t] >= 0) & (cov["sha_from"][:, t] < QS[0])
                            & (cov["sha_keep"][:, t] == 1) & (cov["sha_to"][:, t] < 0))
        k = n_unusual // 2
        if len(ok) == 0:                 # no such pair (possible in some seeds)
            continue
        mi = r_per.choice(ok, k)
        bi = r_per.choice(bands, k)
        pidx = np.floor(r_per.random(k) * pop_mb[mi, bi]).astype(np.int64)
        person = person_offset[mi, bi] + pidx
        person, first = np.unique(person, return_index=True)
        mi = mi[first]
        qi = r_per.integers(0, NQ, len(person))
        st = _unif_day(r_per, QS[qi], QE[qi])
        en = _unif_day(r_per, st, QE[qi])
        extra.append({"person": person, "m": mi, "t": np.full(len(person), t), "start": st,
                      "end": en, "cwa": np.full(len(person), task == "lastensuojelu"),
                      "unusual": np.ones(len(person), bool)})
    return {k: np.concatenate([per[k]] + [e[k] for e in extra]) for k in per}


def _register_rows(per: dict, dl: dict, codes: np.ndarray, pseudo: np.ndarray,
                   birth_year: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The delivered periods as register rows (text) and whether each is of an unusual age."""
    i = dl["i"]
    date_lo = _day("2010-01-01")
    date_lut = np.datetime_as_string(np.arange(np.datetime64("2010-01-01"),
                                               np.datetime64("2025-01-01")))

    def dates(d):
        d = np.asarray(d, np.int64)
        out = np.full(len(d), "", dtype=object)
        ok = d != OPEN
        out[ok] = date_lut[d[ok] - date_lo]
        return out

    is_ls = per["t"][i] == T["lastensuojelu"]
    reg = pd.DataFrame({
        "client_id": _hex_ids(pseudo[per["person"][i]]),
        "birth_year": birth_year[per["person"][i]].astype(str),
        "municipality_code": codes[per["m"][i]],
        "service_task": np.array(TASKS)[per["t"][i]],
        "start_date": dates(dl["start"]),
        "end_date": dates(dl["end"]),
        "source": np.array(["SHA", "ET"])[dl["source"]],
        "child_welfare_act": np.where(is_ls, np.where(per["cwa"][i], "1", "0"), ""),
    }).astype(str)
    if reg.duplicated().any():                     # cannot happen by construction
        raise AssertionError("demo generator produced accidental duplicate rows")
    return reg, per["unusual"][i]


def _write_register(r_fault, reg: pd.DataFrame, flagged: np.ndarray, out_dir: Path
                    ) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Shuffle the rows and write them: Kanta rows in three files, separate deliveries in
    one (bad sources anywhere); earlier register files removed first."""
    order = r_fault.permutation(len(reg))
    reg = reg.iloc[order].reset_index(drop=True)
    flagged = flagged[order]
    src = reg["source"].to_numpy()
    part = np.where(src == "ET", 3, r_fault.integers(0, 3, len(reg)))
    odd = ~np.isin(src, ["SHA", "ET"])
    part[odd] = r_fault.integers(0, 4, int(odd.sum()))

    out_dir.mkdir(parents=True, exist_ok=True)
    rdir = out_dir / "register"
    if rdir.exists():
        for p in list(rdir.glob("*.csv")) + list(rdir.glob("*.parquet")):
            p.unlink()
    rdir.mkdir(exist_ok=True)
    names = ["sha_part1.csv", "sha_part2.csv", "sha_part3.csv", "et_part1.csv"]
    for k, name in enumerate(names):
        reg[part == k].to_csv(rdir / name, index=False, lineterminator="\n")
    return reg, flagged, names


def _metadata(seed: int, scale: float, joining: str, per: dict, reg: pd.DataFrame,
              flagged: np.ndarray, fault_counts: dict, cov: dict, names: list[str],
              decisions: pd.DataFrame | None) -> dict:
    """metadata.json of the demo folder (``decisions``: the review round's, None without)."""
    n_fault = sum(fault_counts.values())
    return {
        "synthetic": True,
        "seed": int(seed),
        "scale": float(scale),
        "extract_date": EXTRACT_DATE.isoformat(),
        "first_quarter": FIRST_QUARTER,
        "last_quarter": LAST_QUARTER,
        "generator": (f"seuranta demo-data --scale {scale:g} --seed {int(seed)} "
                      f"--joining {joining}"),
        "joining": joining,
        "description": "Synteettinen harjoitusaineisto: asiakkaat, jaksot ja toimitukset on "
                       "simuloitu; väestön kuntasummat ovat todellisia (31.12.2022), "
                       "ikärakenne synteettinen.",
        "population_note": "population.csv: data/reference/population.csv (31.12.2022) x scale, "
                           "rounded per band; year 2021 repeats the 2022 figures "
                           "(demo simplification).",
        "rows": {"true_periods": int(len(per["start"])), "valid": int(len(reg) - n_fault),
                 "faulty": int(n_fault),
                 "total": int(len(reg)), "files": names},
        "faults": {"rows": fault_counts, "total": int(n_fault),
                   "share_pct": round(100 * n_fault / len(reg), 4),
                   "under_delivering": cov["under_delivering"]},
        "review_round": ({"file": CORRECTIONS_FILE, "decisions": int(len(decisions)),
                          "rule": REVIEW_RULE} if decisions is not None else None),
        "flags": {"age_unusual_for_task": int(flagged.sum()),
                  "rule": "lastensuojelu rows of persons aged 35-44 and iakkaat rows of "
                          "persons aged 25-44 (age at the period's start); every other row "
                          "has lastensuojelu age <= 20, iakkaat age >= 60, tyoikaiset 18-67"},
        "coverage": {"et_counties": cov["et_counties"], "et_from": "2023-01-01",
                     "undeclared": cov["undeclared"], "coverage_ends": cov["coverage_ends"],
                     "partial_before_declared": cov["n_partial_before_declared"],
                     "cover_q1_target": COVER_Q1},
        "truth": "truth.csv and truth_municipal.csv: distinct true clients (complete data, "
                 "faulty rows excluded, unusual-age rows included); mainland only. "
                 "truth_factors.csv: the generator's expected 2023Q1 clients and log-factor "
                 "parts per municipality x task, joining key and first fully covered quarter.",
    }


def _truth_factors(codes, county, e, observable, residual, residual_z, keys, stage
                   ) -> pd.DataFrame:
    """truth_factors.csv: per mainland municipality × task the expected 2023Q1 clients, the
    observable part of the log factor (county effect + size slope), the residual beyond it
    (and in its own standard deviations), the joining key and the first fully covered
    quarter index (0 = 2022Q4 … 4 = 2023Q4, 5 = never)."""
    n_m, n_t = e.shape
    return pd.DataFrame({
        "municipality_code": np.repeat(codes, n_t), "county_code": np.repeat(county, n_t),
        "service_task": np.tile(np.array(TASKS), n_m),
        "expected_2023Q1": e.ravel().round(3), "log_observable": observable.ravel().round(6),
        "log_residual": residual.ravel().round(6), "residual_z": residual_z.ravel().round(6),
        "joining_key": keys.ravel().round(6), "covered_stage": stage.ravel()})


#: How the simulated counties answer the review round (metadata.json, docs).
REVIEW_RULE = ("each county excludes its under-delivering pairs (faults.under_delivering) in "
               "every quarter: the county knows that its Kanta delivery of the task is "
               "incomplete although declared full; no other decision")


def review_decisions(under_delivering: list[dict]) -> pd.DataFrame:
    """The simulated review round's decisions (corrections.csv, docs/data-contract.md).

    In the real round each county checks its figures before publication, the flagged
    ("tarkistettava") ones first; a county knows whether its delivery was complete. The
    demo's counties answer for the pairs that declare full Kanta coverage but deliver
    30–40 % of their clients: exclude, in every quarter. Nothing in the delivery itself
    shows these pairs (no drop against their own history, one source), so without the
    round they stay in the estimate, flagged, and pull it down; with it the demo publishes
    what THL would publish after the round."""
    rows = [{"quarter": q, "municipality_code": u["municipality_code"],
             "service_task": u["service_task"], "decision": "exclude",
             "reason": "Alueen palaute: Kanta-toimitus vajaa, vaikka ilmoitettu kattavaksi",
             "comment": "synteettinen: simuloitu palautekierros"}
            for u in under_delivering for q in quarter_range(FIRST_QUARTER, LAST_QUARTER)]
    cols = ["quarter", "municipality_code", "service_task", "decision", "reason", "comment"]
    return (pd.DataFrame(rows, columns=cols)
            .sort_values(["quarter", "municipality_code", "service_task"], ignore_index=True)
            .astype(str))


def _write_deliveries(path: Path, cov: dict, codes: np.ndarray) -> None:
    rows = []
    n_m, n_t = cov["sha_from"].shape
    for i in range(n_m):
        for t in range(n_t):
            if cov["sha_declared"][i, t]:
                to = cov["sha_to"][i, t]
                rows.append((codes[i], TASKS[t], "SHA", _date_str(cov["sha_from"][i, t]),
                             _date_str(to) if to >= 0 else ""))
            if cov["et_from"][i, t] >= 0:
                rows.append((codes[i], TASKS[t], "ET", _date_str(cov["et_from"][i, t]), ""))
    df = pd.DataFrame(rows, columns=["municipality_code", "service_task", "source",
                                     "covered_from", "covered_to"])
    df.sort_values(["municipality_code", "service_task", "source"]).to_csv(
        path, index=False, lineterminator="\n")


# --------------------------------------------------------------------------- CLI

def _cmd_demo(args) -> int:
    out = generate(Path(args.out), scale=args.scale, seed=args.seed, joining=args.joining,
                   review_round=not args.no_review_round)
    print(out)
    return 0


def add_parser(sub) -> None:
    """Register ``demo-data [--out DIR] [--scale F] [--seed N] [--joining a|b|c]`` on an
    argparse subparsers."""
    p = sub.add_parser("demo-data", help="generate the synthetic demo register (data/demo)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default data/demo)")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help="population scale, 1 = national size (default 0.05)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--joining", choices=JOINING, default=DEFAULT_JOINING,
                   help="Kanta joining scenario: a = unrelated to the share (default), "
                        "b = related to observed covariates (size, age structure, county), "
                        "c = related to the share beyond the covariates")
    p.add_argument("--no-review-round", action="store_true",
                   help="no corrections.csv: the data before the counties' review round")
    p.set_defaults(func=_cmd_demo)
