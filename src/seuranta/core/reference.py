"""Reference data: municipalities, wellbeing services counties, service tasks, age bands
and population by age band.

Two jobs live here:

* ``build_reference(shared_dir, out_dir)`` turns the public facts in
  ``../shared/reference/`` (Statistics Finland classification 1.1.2023 and THL Sotkanet
  population 31.12.2022, CC BY 4.0) into the project's files in ``data/reference/``.
  The real data have municipal totals only; the age structure inside each municipality
  is synthesised (smaller municipalities older) and raked so that every municipality adds
  up to its real total and the country to Statistics Finland's 2022 age structure.
* ``load_*`` functions read those files back with the right dtypes for the pipeline.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "data" / "reference"

#: Municipal boundaries 1.1.2023 (GeoJSON, WGS84), National Land Survey of Finland, CC BY 4.0.
BOUNDARIES_FILE = "municipality_boundaries_2023.geojson"

#: Åland's class in the wellbeing region classification; outside the register.
ALAND_COUNTY = "91"

#: Age bands of the demo population (docs/data-contract.md section 1), with lower and upper age.
AGE_BANDS: list[tuple[str, int, int | None]] = [
    ("0-17", 0, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-54", 45, 54),
    ("55-64", 55, 64),
    ("65-74", 65, 74),
    ("75-84", 75, 84),
    ("85+", 85, None),
]

#: National age structure 31.12.2022 (shares of the whole population, per cent), rounded
#: from Statistics Finland's population structure statistics; used to rake the synthetic
#: municipal age structure.
NATIONAL_BAND_PCT = {
    "0-17": 18.6, "18-24": 7.6, "25-34": 12.8, "35-44": 12.9, "45-54": 11.6,
    "55-64": 13.2, "65-74": 12.9, "75-84": 7.5, "85+": 2.9,
}

#: The seven service tasks (docs/data-contract.md section 2) with their population bases.
SERVICE_TASKS = [
    # code, name_fi, base label, min age, max age (None = no bound), estimated
    ("iakkaat", "Iäkkäiden palvelut", "65 vuotta täyttäneet", 65, None, True),
    ("tyoikaiset", "Työikäisten palvelut", "18–64-vuotiaat", 18, 64, True),
    ("lapsiperheet", "Lapsiperheiden palvelut", "alle 65-vuotiaat", 0, 64, True),
    ("lastensuojelu", "Lastensuojelu", "alle 18-vuotiaat", 0, 17, True),
    ("vammaispalvelut", "Vammaispalvelut", "koko väestö", 0, None, True),
    ("paihdetyo", "Päihde- ja riippuvuustyön erityiset palvelut", "koko väestö", 0, None, True),
    ("perheoikeudelliset", "Perheoikeudelliset palvelut", "koko väestö", 0, None, False),
]

#: Client age groups of the publication (computed from birth year at the quarter's end).
CLIENT_AGE_GROUPS = [("0-17", 0, 17), ("18-64", 18, 64), ("65+", 65, None), ("85+", 85, None)]


#: An age band label: ``A-B``, ``A+`` or a single year ``A`` (the contract's forms).
AGE_BAND_PATTERN = re.compile(r"(\d{1,3})(?:-(\d{1,3})|(\+))?")


def band_bounds(label: str) -> tuple[int, int | None]:
    """(lowest age, highest age or None when open) of a band label."""
    m = AGE_BAND_PATTERN.fullmatch(str(label))
    if m is None:
        raise ValueError(f"age band {label!r} is not A-B, A+ or A")
    lo = int(m.group(1))
    if m.group(3):
        return lo, None
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if hi < lo:
        raise ValueError(f"age band {label!r} ends before it starts")
    return lo, hi


_band_bounds = band_bounds   # the name other modules used before it was public


def band_in_base(label: str, min_age: int, max_age: int | None) -> bool:
    """True when the whole age band lies inside [min_age, max_age]; raises if it straddles."""
    lo, hi = band_bounds(label)
    inside_lo = lo >= min_age
    inside_hi = max_age is None or (hi is not None and hi <= max_age)
    outside = (max_age is not None and lo > max_age) or (hi is not None and hi < min_age)
    if inside_lo and inside_hi:
        return True
    if outside:
        return False
    raise ValueError(f"age band {label} straddles the base {min_age}-{max_age}")


def bands_in_base(labels: pd.Series, min_age: int, max_age: int | None) -> np.ndarray:
    """:func:`band_in_base` of every label (each distinct label checked once, in order of
    appearance, so a straddling band raises the same error as a row-by-row check)."""
    codes, uniques = pd.factorize(labels, use_na_sentinel=False)
    return np.array([band_in_base(b, min_age, max_age) for b in uniques], dtype=bool)[codes]


# --------------------------------------------------------------------------- building

def _rake(seed: np.ndarray, row_totals: np.ndarray, col_totals: np.ndarray, iters=200):
    """Iterative proportional fitting of a positive matrix to row and column totals."""
    m = seed.astype(float).copy()
    for _ in range(iters):
        m *= (row_totals / m.sum(axis=1))[:, None]
        m *= (col_totals / m.sum(axis=0))[None, :]
    return m


def _round_rows(m: np.ndarray, row_totals: np.ndarray) -> np.ndarray:
    """Round each row to integers that add up exactly to its total (largest remainder)."""
    out = np.floor(m).astype(np.int64)
    for i in range(m.shape[0]):
        short = int(row_totals[i] - out[i].sum())
        if short > 0:
            order = np.argsort(-(m[i] - out[i]), kind="stable")[:short]
            out[i, order] += 1
    return out


def synthesise_age_structure(totals: pd.Series) -> pd.DataFrame:
    """Split municipal totals into AGE_BANDS: smaller municipalities older.

    The seed profile tilts each municipality by the logarithm of its size (the share of
    65+ grows by about 3 points for each e-fold fall in population); raking then makes
    every row add up to the real total and the whole country match NATIONAL_BAND_PCT.
    """
    labels = [b[0] for b in AGE_BANDS]
    z = np.log(totals.to_numpy(float)) - np.log(10_000)
    old = np.clip(0.30 - 0.03 * z, 0.12, 0.48)
    young = np.clip(0.17 + 0.012 * z, 0.10, 0.26)
    nat = np.array([NATIONAL_BAND_PCT[b] for b in labels]) / 100
    is_old = np.array([b in ("65-74", "75-84", "85+") for b in labels])
    is_young = np.array([b == "0-17" for b in labels])
    mid = ~is_old & ~is_young
    seed = np.empty((len(totals), len(labels)))
    seed[:, is_old] = old[:, None] * nat[is_old] / nat[is_old].sum()
    seed[:, is_young] = young[:, None]
    seed[:, mid] = (1 - old - young)[:, None] * nat[mid] / nat[mid].sum()
    row_tot = totals.to_numpy(float)
    col_tot = nat * row_tot.sum()
    raked = _rake(seed, row_tot, col_tot)
    ints = _round_rows(raked, totals.to_numpy(np.int64))
    df = pd.DataFrame(ints, index=totals.index, columns=labels)
    return df


def build_reference(shared_dir: Path, out_dir: Path = REFERENCE_DIR) -> list[Path]:
    """Write data/reference/ from ../shared/reference/; returns the files written."""
    shared_dir = Path(shared_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mun = pd.read_csv(shared_dir / "municipalities_2023.csv", dtype=str, keep_default_na=False)
    if len(mun) != 309 or mun["municipality_code"].duplicated().any():
        raise ValueError("municipalities_2023.csv: expected 309 unique municipalities")
    mun = mun.rename(columns={"wellbeing_region_code": "county_code",
                              "wellbeing_region_fi": "county_name_fi"})
    mun["in_register"] = (mun["county_code"] != ALAND_COUNTY).astype(int)
    pop = pd.read_csv(shared_dir / "population_2022.csv", dtype={"municipality_code": str})
    pop = pop[(pop["age_group"] == "total") & (pop["sex"] == "total")]
    totals = pop.set_index("municipality_code")["population"].astype(np.int64)
    if set(totals.index) != set(mun["municipality_code"]):
        raise ValueError("population_2022.csv and municipalities_2023.csv disagree on codes")
    mun["population_total_2022"] = mun["municipality_code"].map(totals)
    files = []
    p = out_dir / "municipalities.csv"
    mun.sort_values("municipality_code").to_csv(p, index=False, lineterminator="\n")
    files.append(p)

    bands = synthesise_age_structure(totals.sort_index())
    long = (bands.rename_axis("municipality_code").reset_index()
            .melt(id_vars="municipality_code", var_name="age_group", value_name="population"))
    long.insert(1, "year", 2022)
    long["age_group"] = pd.Categorical(long["age_group"], [b[0] for b in AGE_BANDS])
    long = long.sort_values(["municipality_code", "age_group"])
    p = out_dir / "population.csv"
    long.to_csv(p, index=False, lineterminator="\n")
    files.append(p)

    tasks = pd.DataFrame(SERVICE_TASKS, columns=["service_task", "name_fi", "base_fi",
                                                 "base_min_age", "base_max_age", "estimated"])
    tasks["base_max_age"] = tasks["base_max_age"].astype("Int64")
    tasks["estimated"] = tasks["estimated"].astype(int)
    p = out_dir / "service_tasks.csv"
    tasks.to_csv(p, index=False, lineterminator="\n")
    files.append(p)

    ab = pd.DataFrame([(b, lo, hi) for b, lo, hi in AGE_BANDS],
                      columns=["age_group", "min_age", "max_age"])
    ab["max_age"] = ab["max_age"].astype("Int64")
    p = out_dir / "age_bands.csv"
    ab.to_csv(p, index=False, lineterminator="\n")
    files.append(p)

    # Municipal boundaries (maps): copied byte for byte; small enough (6 016 vertices,
    # 329 kB) to need no simplification.
    p = out_dir / BOUNDARIES_FILE
    p.write_bytes((shared_dir / BOUNDARIES_FILE).read_bytes())
    files.append(p)
    return files


# --------------------------------------------------------------------------- loading

#: Name columns of the reference files: shown in every format (book, PDF, annexes, maps).
NAME_COLUMNS = ("name_fi", "name_sv", "county_name_fi", "county_name_sv", "base_fi")

#: A name: letters, digits, spaces and the punctuation of real names (Mänttä-Vilppula,
#: S:t Karins, Koski Tl., 18–64-vuotiaat). No markup character (< > { } [ ] ` $ | \\ * _ # ...) and no
#: control or invisible character can reach a page through a name.
NAME_PATTERN = re.compile(r"[^\W_]+(?:[ \-–.,:'’()/]*[^\W_]+)*[.)]?")


def check_names(df: pd.DataFrame, path: Path | str) -> None:
    """A one-line InputError naming the file, row and column of the first name that is
    not a plain name (:data:`NAME_PATTERN`)."""
    from seuranta.core.errors import InputError  # (core.errors imports nothing)
    for col in [c for c in NAME_COLUMNS if c in df.columns]:
        for i, v in enumerate(df[col].tolist(), start=1):
            if isinstance(v, str) and not NAME_PATTERN.fullmatch(v):
                raise InputError(f"{path}: row {i}: {col} {v[:60]!r} is not a plain name "
                                 "(letters, digits, spaces and - – . , : ' ( ) / only)")


@cache
def _read(name: str, ref_dir: str) -> pd.DataFrame:
    path = Path(ref_dir) / name
    df = pd.read_csv(path, dtype={"municipality_code": str, "county_code": str})
    check_names(df, path)
    return df


def municipalities(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """All 309 municipalities: code, names, county, in_register, population_total_2022."""
    return _read("municipalities.csv", str(ref_dir)).copy()


def mainland_municipalities(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """The 293 municipalities inside the register (Åland left out)."""
    m = municipalities(ref_dir)
    return m[m["in_register"] == 1].reset_index(drop=True)


def counties(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """The 22 areas of the register (21 counties + Helsinki), code and Finnish name."""
    m = mainland_municipalities(ref_dir)
    return (m[["county_code", "county_name_fi"]].drop_duplicates()
            .sort_values("county_code").reset_index(drop=True))


def counties_sv(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """The Swedish names of the counties (county_code, county_name_sv)."""
    return _read("counties_sv.csv", str(ref_dir)).copy()


def reference_population(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """Population by municipality and age band, 31.12.2022 (synthetic bands, real totals)."""
    return _read("population.csv", str(ref_dir)).copy()


def service_tasks(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """The seven service tasks with their population bases."""
    t = _read("service_tasks.csv", str(ref_dir)).copy()
    t["base_max_age"] = t["base_max_age"].astype("Int64")
    return t


def task_codes(estimated_only: bool = False) -> list[str]:
    """Codes of the service tasks in publication order."""
    return [t[0] for t in SERVICE_TASKS if t[5] or not estimated_only]


def base_population(population: pd.DataFrame, tasks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Population base per municipality × year × service task from a population table.

    ``population`` has municipality_code, year, age_group, population; returns
    municipality_code, year, service_task, population_base.
    """
    tasks = service_tasks() if tasks is None else tasks
    out = []
    for t in tasks.itertuples():
        max_age = None if pd.isna(t.base_max_age) else int(t.base_max_age)
        mask = bands_in_base(population["age_group"], int(t.base_min_age), max_age)
        g = (population[mask].groupby(["municipality_code", "year"], as_index=False)["population"]
             .sum().rename(columns={"population": "population_base"}))
        g["service_task"] = t.service_task
        out.append(g)
    return pd.concat(out, ignore_index=True)[
        ["municipality_code", "year", "service_task", "population_base"]]
