"""Sote-tietopaketit cost stage: allocation of a cost ledger to the 15 packages and comparisons.

Input (docs/data-contract.md §1 ``costs/``): ``DATA/costs/ledger*.csv`` with year, region_code,
service_class, client_group, funding_channel, producer, cost_eur, and a service class →
package mapping (``DATA/costs/package_mapping.csv`` when the data folder has one, else the
project's ``data/reference/service_class_mapping.csv``; ``costs.mapping_file`` in
parameters.yml overrides both).

What it computes for one year (``run_costs``):

* **Allocation.** Every accepted euro goes to exactly one package or to ``unallocated``
  with a reason (``no_mapping``: the class is not in the mapping; ``mapping_not_valid``:
  the class is mapped but not for this year; ``no_service_class``: empty class). A class
  mapped to two packages for overlapping validity is an error (``InputError``), never a
  double count. Rows whose cost is missing, not a number with at most two decimals, or
  negative, and rows of an unknown area, are quarantined with a reason. Euros are handled
  as integer cents, so allocated + unallocated equals the ledger to the cent.
* **Allocation rate** per area and nationally, beside the 2017 evaluation's 97.2 %.
* **€ per resident** per package and area (mainland population of the data folder's
  population.csv for the cost year, or the latest earlier year). For packages whose
  clients are age-bound (``costs.age_scope``) also € per resident of the target age group,
  crude and directly age-standardised to the national (mainland) age structure, with the
  client groups of the ledger as age bands.
* **€ per client** for packages matched to service tasks (``costs.package_tasks``), joining
  the register's whole-year distinct clients (year_counts.csv, source ALL, summed over the
  county's municipalities), flagged where the county's register coverage is partial.

Outputs: ``OUT/costs/<year>/tables/*.csv`` (euros as decimal strings with cents), the
accessible Excel annex ``OUT/costs/<year>/annex/kustannukset_<year>.xlsx`` and
``OUT/costs/<year>/manifest.json`` (every file read with its hash, parameters, versions, a
hash of every table), from which ``verify_costs`` (``seuranta verify --costs YEAR``) re-runs
the year and compares table by table.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import excel, provenance, reference, symbols
from seuranta.core.errors import InputError
from seuranta.core.fmt import fi_pct
from seuranta.core.params import PROJECT_DIR, as_params, defaults, load_params, section_of
from seuranta.core.quarters import today as helsinki_today
from seuranta.core.tables import atomic_swap
from seuranta.inputs.population import population_path, read_population
from seuranta.statistics.costclients import per_client_published

PACKAGES_FILE = reference.REFERENCE_DIR / "cost_packages.csv"
MAPPING_FILE = reference.REFERENCE_DIR / "service_class_mapping.csv"

LEDGER_COLUMNS = ["year", "region_code", "service_class", "client_group", "funding_channel",
                  "producer", "cost_eur"]
MAPPING_COLUMNS = ["mapping_version", "valid_from", "valid_to", "service_class",
                   "package_code"]

UNALLOCATED = "unallocated"
ALL = "ALL"

#: Defaults of the costs section (declared in core.params.SCHEMA).
DEFAULT_PARAMS = defaults("costs")

UNALLOCATED_REASONS_FI = {
    "no_mapping": "Palveluluokkaa ei ole kohdistustaulukossa",
    "mapping_not_valid": "Palveluluokan kohdistus ei ole voimassa tilastovuonna",
    "no_service_class": "Palveluluokka puuttuu",
}
KIND_FI = {"basic": "perustietopaketti", "extended": "laajennettu tietopaketti"}

_CENTS_RE = r"^(-?)(\d+)(?:\.(\d{1,2}))?$"


def cost_params(params: dict | None) -> dict:
    """The ``costs:`` section of parameters.yml over the defaults."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_PARAMS.items()}
    sec = (params or {}).get("costs") or {}
    if not isinstance(sec, dict):
        raise InputError("parameters.yml: section costs must be a mapping")
    out.update(sec)
    return out


# --------------------------------------------------------------------------- euros

def cents_to_str(cents: int) -> str:
    """Integer cents → ``"1234567.89"`` (``"-0.05"`` for negatives)."""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    c = abs(cents)
    return f"{sign}{c // 100}.{c % 100:02d}"


def parse_cents(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Cost strings → (integer cents or <NA>, reason code or '')."""
    s = values.fillna("").astype(str).str.strip()
    m = s.str.extract(_CENTS_RE)
    ok = m[1].notna()
    whole = pd.to_numeric(m[1].where(ok, "0")).astype("int64")
    frac = m[2].fillna("").str.ljust(2, "0").where(ok, "00").replace("", "00")
    cents = whole * 100 + pd.to_numeric(frac).astype("int64")
    neg = ok & (m[0] == "-")
    cents = cents.where(~neg, -cents)
    reason = pd.Series("", index=s.index, dtype=object)
    reason[~ok] = "cost_not_a_number"
    reason[s == ""] = "cost_missing"
    reason[neg & (cents != 0)] = "cost_negative"
    return cents.astype("Int64").where(ok), reason


# --------------------------------------------------------------------------- reference

def load_packages(path: Path = PACKAGES_FILE) -> pd.DataFrame:
    """The 15 packages: package_code, name_fi, kind (basic/extended), order."""
    p = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = {"package_code", "name_fi", "kind", "order"}
    if not need <= set(p.columns):
        raise InputError(f"{path}: columns {sorted(need - set(p.columns))} missing")
    if p["package_code"].duplicated().any() or not p["kind"].isin(["basic", "extended"]).all():
        raise InputError(f"{path}: package codes must be unique and kind basic or extended")
    p["order"] = p["order"].astype(int)
    return p.sort_values("order").reset_index(drop=True)


def _date(value: str, path, what: str) -> dt.date | None:
    value = str(value).strip()
    if value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{path}: {what} is not a date (YYYY-MM-DD): {value!r}") from None


def load_mapping(path: Path, packages: pd.DataFrame) -> pd.DataFrame:
    """Read and check a service class → package mapping file.

    Raises ``InputError`` for missing columns, bad dates, unknown package codes, and a
    class mapped to two different packages for overlapping validity periods.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"service class mapping not found: {path}")
    m = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MAPPING_COLUMNS if c not in m.columns]
    if missing:
        raise InputError(f"{path}: columns missing: {', '.join(missing)}")
    for c in m.columns:
        m[c] = m[c].astype(str).str.strip()
    if (m["service_class"] == "").any():
        raise InputError(f"{path}: a row has an empty service_class")
    unknown = sorted(set(m["package_code"]) - set(packages["package_code"]))
    if unknown:
        raise InputError(f"{path}: unknown package code(s): {', '.join(unknown)}")
    m["from_date"] = [_date(v, path, "valid_from") or dt.date.min for v in m["valid_from"]]
    m["to_date"] = [_date(v, path, "valid_to") or dt.date.max for v in m["valid_to"]]
    bad = m[m["to_date"] < m["from_date"]]
    if len(bad):
        raise InputError(f"{path}: service class {bad['service_class'].iloc[0]}: "
                         "valid_to before valid_from")
    for cls, g in m.groupby("service_class", sort=True):
        rows = list(g[["from_date", "to_date", "package_code"]].itertuples(index=False))
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i], rows[j]
                overlap = a.from_date <= b.to_date and b.from_date <= a.to_date
                if a.package_code != b.package_code and overlap:
                    raise InputError(
                        f"{path}: service class {cls} is mapped to two packages "
                        f"({a.package_code}, {b.package_code}) for the same validity")
    return m


def mapping_for_year(mapping: pd.DataFrame, year: int) -> tuple[dict[str, str], set[str]]:
    """(class → package valid in ``year``, classes in the mapping but not valid in it)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    valid = mapping[(mapping["from_date"] <= last) & (mapping["to_date"] >= first)]
    out: dict[str, str] = {}
    for cls, g in valid.groupby("service_class", sort=True):
        pk = sorted(set(g["package_code"]))
        if len(pk) > 1:
            raise InputError(f"service class {cls} is mapped to two packages in {year} "
                             f"({', '.join(pk)}): split its mapping at a year boundary")
        out[cls] = pk[0]
    return out, set(mapping["service_class"]) - set(out)


def mapping_path(data_dir: Path, cp: dict) -> Path:
    if cp.get("mapping_file"):
        return Path(cp["mapping_file"])
    own = Path(data_dir) / "costs" / "package_mapping.csv"
    return own if own.is_file() else MAPPING_FILE


#: Short Finnish (nominative) names of the 22 areas for charts and narrow tables.
REGION_SHORT_FI = {
    "01": "Itä-Uusimaa", "02": "Keski-Uusimaa", "03": "Länsi-Uusimaa", "04": "Vantaa-Kerava",
    "05": "Varsinais-Suomi", "06": "Satakunta", "07": "Kanta-Häme", "08": "Pirkanmaa",
    "09": "Päijät-Häme", "10": "Kymenlaakso", "11": "Etelä-Karjala", "12": "Etelä-Savo",
    "13": "Pohjois-Savo", "14": "Pohjois-Karjala", "15": "Keski-Suomi",
    "16": "Etelä-Pohjanmaa", "17": "Pohjanmaa", "18": "Keski-Pohjanmaa",
    "19": "Pohjois-Pohjanmaa", "20": "Kainuu", "21": "Lappi", "90": "Helsinki",
    ALL: "Koko maa",
}


def task_names(tasks: str) -> str:
    """The service tasks of a package (``lapsiperheet+lastensuojelu``, the tables' code
    form) by their Finnish names from the reference list (``Lapsiperheiden palvelut +
    Lastensuojelu``): no public table shows the project's task codes."""
    t = reference.service_tasks()
    names = dict(zip(t["service_task"], t["name_fi"]))
    return " + ".join(names[x] for x in str(tasks).split("+") if x)


#: Names of the annex's sheets (readable Finnish, at most 31 characters: Excel's limit).
SHEETS_FI = {"packages": "Paketit", "allocation": "Kohdentuminen",
             "unallocated": "Kohdentamattomat", "per_resident": "Euroa asukasta kohden",
             "per_client": "Euroa asiakasta kohden", "dimensions": "Näkökulmat"}


def region_names() -> dict[str, str]:
    c = reference.counties()
    return dict(zip(c["county_code"], c["county_name_fi"]))


# --------------------------------------------------------------------------- ledger

def ledger_files(data_dir: Path) -> list[Path]:
    """The cost ledger files of a data folder: ``costs/ledger*.csv``, sorted."""
    return sorted((Path(data_dir) / "costs").glob("ledger*.csv"))


def read_ledger(data_dir: Path) -> pd.DataFrame:
    """Every ``costs/ledger*.csv`` as strings, with source_file and row_number (1 = header)."""
    files = ledger_files(data_dir)
    if not files:
        raise InputError(f"no cost ledger: {Path(data_dir) / 'costs' / 'ledger.csv'}")
    frames = []
    for f in files:
        d = pd.read_csv(f, dtype=str, keep_default_na=False)
        missing = [c for c in LEDGER_COLUMNS if c not in d.columns]
        if missing:
            raise InputError(f"{f}: columns missing: {', '.join(missing)}")
        d.insert(0, "row_number", np.arange(2, len(d) + 2))
        d.insert(0, "source_file", f.name)
        frames.append(d)
    return pd.concat(frames, ignore_index=True)


def validate_ledger(raw: pd.DataFrame, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted rows of ``year`` with integer ``cents``, quarantined rows with reason).

    Rows of other (valid) years are left out of both; rows whose year is not a year are
    quarantined in every year's run so that none is lost silently.
    """
    d = raw.copy()
    for c in LEDGER_COLUMNS:
        d[c] = d[c].astype(str).str.strip()
    yr = pd.to_numeric(d["year"].where(d["year"].str.fullmatch(r"\d{4}"), None))
    reason = pd.Series("", index=d.index, dtype=object)
    reason[yr.isna()] = "year_invalid"
    mine = yr.isna() | (yr == year)
    d["region_code"] = d["region_code"].where(~d["region_code"].str.fullmatch(r"\d"),
                                              d["region_code"].str.zfill(2))
    regions = set(reference.counties()["county_code"])
    cents, creason = parse_cents(d["cost_eur"])
    reason[(reason == "") & (creason != "")] = creason
    reason[(reason == "") & ~d["region_code"].isin(regions)] = "region_unknown"
    quarantine = d[mine & (reason != "")].copy()
    quarantine.insert(2, "reason", reason[quarantine.index])
    acc = d[mine & (reason == "")].copy()
    acc["year"] = year
    acc["cents"] = cents[acc.index].astype("int64")
    return acc.reset_index(drop=True), quarantine.reset_index(drop=True)


def allocate(accepted: pd.DataFrame, by_class: dict[str, str], not_valid: set[str]
             ) -> pd.DataFrame:
    """Add package_code (a package or ``unallocated``) and reason ('' when allocated)."""
    d = accepted.copy()
    d["package_code"] = d["service_class"].map(by_class).fillna(UNALLOCATED)
    reason = pd.Series("", index=d.index, dtype=object)
    un = d["package_code"] == UNALLOCATED
    reason[un] = "no_mapping"
    reason[un & d["service_class"].isin(not_valid)] = "mapping_not_valid"
    reason[un & (d["service_class"] == "")] = "no_service_class"
    d["reason"] = reason
    return d


def _sum_cents(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return d.groupby(by, as_index=False, sort=True)["cents"].sum()


def allocation_table(alloc: pd.DataFrame, year: int, benchmark: float) -> pd.DataFrame:
    """Ledger, allocated and unallocated euros and the allocation rate per area and ALL."""
    names = region_names()
    d = alloc.assign(allocated=np.where(alloc["package_code"] != UNALLOCATED,
                                        alloc["cents"], 0).astype("int64"))
    g = d.groupby("region_code")[["cents", "allocated"]].sum()
    g = g.reindex(sorted(names), fill_value=0)
    g.loc[ALL] = g.sum()
    g["unallocated"] = g["cents"] - g["allocated"]
    out = pd.DataFrame({
        "year": year,
        "region_code": g.index,
        "region_name_fi": [names.get(c, "Koko maa") for c in g.index],
        "ledger_eur": [cents_to_str(v) for v in g["cents"]],
        "allocated_eur": [cents_to_str(v) for v in g["allocated"]],
        "unallocated_eur": [cents_to_str(v) for v in g["unallocated"]],
        "allocation_pct": [round(100 * a / t, 4) if t else np.nan
                           for a, t in zip(g["allocated"], g["cents"])],
        "benchmark_pct": benchmark,
    })
    out["difference_pct_points"] = (out["allocation_pct"] - benchmark).round(4)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- population

def load_population(data_dir: Path) -> tuple[pd.DataFrame, str]:
    """(population by municipality × year × age_group, source description)."""
    p = population_path(data_dir)
    if p.is_file():
        pop = read_population(p)
        src = str(p)
    else:
        pop = reference.reference_population()
        src = str(reference.REFERENCE_DIR / "population.csv")
    need = {"municipality_code", "year", "age_group", "population"}
    if not need <= set(pop.columns):
        raise InputError(f"{src}: columns missing: {', '.join(sorted(need - set(pop.columns)))}")
    pop["year"] = pop["year"].astype(int)
    return pop, src


def region_population(pop: pd.DataFrame, year: int) -> tuple[pd.DataFrame, int]:
    """Mainland population by region_code × age_group for the cost year (or latest before).

    Returns (frame with region_code, age_group, population; population year used).
    """
    years = sorted(set(pop["year"]))
    usable = [y for y in years if y <= year]
    if not usable:
        raise InputError(f"population.csv has no year up to {year} (years: {years})")
    py = usable[-1]
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]]
    p = pop[pop["year"] == py].merge(mun, on="municipality_code", how="inner")
    g = (p.groupby(["county_code", "age_group"], as_index=False)["population"].sum()
         .rename(columns={"county_code": "region_code"}))
    return g, py


def group_population(regpop: pd.DataFrame, group: str) -> pd.Series:
    """Population of a client group given as an age band (``65-74``, ``75+``) per region.

    Raises InputError when a population band straddles the group's edges.
    """
    lo, hi = reference._band_bounds(group)
    try:
        mask = regpop["age_group"].map(lambda b: reference.band_in_base(b, lo, hi))
    except ValueError as e:
        raise InputError(f"client group {group}: {e}") from None
    return regpop[mask.astype(bool)].groupby("region_code")["population"].sum()


def _is_age_group(label: str) -> bool:
    return bool(re.fullmatch(r"\d+(-\d+|\+)", str(label)))


# --------------------------------------------------------------------------- comparisons

def per_resident(alloc: pd.DataFrame, regpop: pd.DataFrame, year: int, pop_year: int,
                 age_scope: dict[str, list[str]], packages: pd.DataFrame) -> pd.DataFrame:
    """€ per resident per package × area (+ ALL), and for age-bound packages € per
    resident of the target group, crude and directly age-standardised.

    Standardised rate of area r for package p with target groups G:
    ``sum_g (C_rg / P_rg) * W_g`` with ``W_g = P_g / sum_{h in G} P_h`` (mainland P).
    Only the costs booked to client groups in G enter the target-group rates; the rest is
    shown in ``cost_outside_target_eur``.
    """
    regions = sorted(region_names())
    total_pop = regpop.groupby("region_code")["population"].sum().reindex(regions, fill_value=0)
    total_pop.loc[ALL] = total_pop.sum()
    codes = list(packages["package_code"]) + [UNALLOCATED, ALL]
    c = _sum_cents(alloc, ["region_code", "package_code"])
    cp = c.pivot(index="region_code", columns="package_code", values="cents")
    cp = cp.reindex(index=regions, columns=codes[:-1]).fillna(0).astype("int64")
    cp[ALL] = cp.sum(axis=1)
    cp.loc[ALL] = cp.sum(axis=0)
    rows = []
    for pk in codes:
        scope = list(age_scope.get(pk, []))
        if scope:
            gpop = {g: group_population(regpop, g).reindex(regions, fill_value=0) for g in scope}
            for g in scope:
                gpop[g].loc[ALL] = gpop[g].sum()
            nat = {g: float(gpop[g].loc[ALL]) for g in scope}
            weights = {g: nat[g] / sum(nat.values()) for g in scope}
            sub = alloc[(alloc["package_code"] == pk) & alloc["client_group"].isin(scope)]
            cg = _sum_cents(sub, ["region_code", "client_group"]).pivot(
                index="region_code", columns="client_group", values="cents")
            cg = cg.reindex(index=regions, columns=scope).fillna(0).astype("int64")
            cg.loc[ALL] = cg.sum(axis=0)
        for r in regions + [ALL]:
            cents = int(cp.loc[r, pk])
            pop = int(total_pop.loc[r])
            row = {"year": year, "region_code": r, "package_code": pk,
                   "cost_eur": cents_to_str(cents), "population_year": pop_year,
                   "population": pop,
                   "eur_per_resident": round(cents / 100 / pop, 6) if pop else np.nan,
                   "target_group": "+".join(scope) if scope else "",
                   "target_population": np.nan, "target_cost_eur": "",
                   "cost_outside_target_eur": "",
                   "eur_per_target_resident": np.nan, "eur_per_target_resident_std": np.nan}
            if scope:
                tc = int(cg.loc[r].sum())
                tp = int(sum(gpop[g].loc[r] for g in scope))
                row["target_population"] = tp
                row["target_cost_eur"] = cents_to_str(tc)
                row["cost_outside_target_eur"] = cents_to_str(cents - tc)
                row["eur_per_target_resident"] = round(tc / 100 / tp, 6) if tp else np.nan
                if all(gpop[g].loc[r] > 0 for g in scope):
                    std = sum(cg.loc[r, g] / 100 / gpop[g].loc[r] * weights[g] for g in scope)
                    row["eur_per_target_resident_std"] = round(float(std), 6)
            rows.append(row)
    out = pd.DataFrame(rows)
    out["target_population"] = out["target_population"].astype("Int64")
    return out


# --------------------------------------------------------------------------- register join

def _quarter_dirs(out_dir: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(Path(out_dir).glob("[0-9][0-9][0-9][0-9]Q[1-4]")):
        if (p / "tables").is_dir():
            out[p.name] = p / "tables"
    return out


def _read_codes(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"municipality_code": str, "county_code": str,
                                    "quarter": str, "source": str, "service_task": str},
                       keep_default_na=False)


def find_register_tables(year: int, out_dir: Path, register_dir: Path | None = None
                         ) -> dict:
    """Locate the register tables for ``year``: year_counts and the coverage inputs.

    Returns {"year_counts": DataFrame | None, "year_counts_file": str, "quality": list of
    four quarterly quality frames or None, "series": DataFrame | None, "files": every file
    read}. ``register_dir`` (a tables folder) wins; else OUT/<year>Q4/tables, else the
    latest OUT/<quarter>/tables whose year_counts.csv has the year.
    """
    found: dict = {"year_counts": None, "year_counts_file": "", "quality": None,
                   "series": None, "files": []}
    qdirs = _quarter_dirs(out_dir)
    cands = [Path(register_dir)] if register_dir else (
        ([qdirs[f"{year}Q4"]] if f"{year}Q4" in qdirs else []) + list(reversed(qdirs.values())))
    for tdir in cands:
        f = tdir / "year_counts.csv"
        if not f.is_file():
            continue
        yc = _read_codes(f)
        found["files"].append(f)
        need = {"year", "municipality_code", "county_code", "service_task", "source", "clients"}
        if not need <= set(yc.columns):
            raise InputError(f"{f}: columns missing: {', '.join(sorted(need - set(yc.columns)))}")
        yc = yc[yc["year"].astype(int) == year]
        if len(yc):
            found["year_counts"], found["year_counts_file"] = yc, str(f)
            s = tdir / "series_counts.csv"
            if s.is_file():
                found["series"] = _read_codes(s)
                found["files"].append(s)
            break
    quarters = [f"{year}Q{q}" for q in range(1, 5)]
    qual_dirs = ([Path(register_dir)] if register_dir else []) + [qdirs[q] for q in quarters
                                                                   if q in qdirs]
    frames = []
    for tdir in qual_dirs:
        f = tdir / "quality.csv"
        if f.is_file():
            frames.append(_read_codes(f))
            found["files"].append(f)
    if frames:
        q = pd.concat(frames, ignore_index=True).drop_duplicates(
            ["quarter", "municipality_code", "service_task"])
        q = q[q["quarter"].isin(quarters)]
        if q["quarter"].nunique() == 4:
            found["quality"] = q
    return found


def coverage(found: dict, tasks: list[str]) -> tuple[pd.DataFrame, str]:
    """Register coverage per county × task: share (%) of the population base living in
    municipalities with data for the whole year. Returns (county_code, service_task,
    coverage_pct; basis), basis one of ``quality`` (comprehensive in all four quarters of
    the year, from quality.csv), ``counts`` (clients > 0 in all four quarters, from
    series_counts.csv), or ``none`` (no basis: empty frame)."""
    yc = found["year_counts"]
    empty = pd.DataFrame(columns=["county_code", "service_task", "coverage_pct"])
    if yc is None or "population_base" not in yc.columns:
        return empty, "none"
    base = yc[(yc["source"] == "ALL") & yc["service_task"].isin(tasks)][
        ["municipality_code", "county_code", "service_task", "population_base"]].copy()
    base["population_base"] = pd.to_numeric(base["population_base"])
    year = int(yc["year"].iloc[0])
    quarters = {f"{year}Q{q}" for q in range(1, 5)}
    if found["quality"] is not None:
        q = found["quality"]
        good = (q[q["quality"] == "comprehensive"]
                .groupby(["municipality_code", "service_task"])["quarter"].nunique())
        basis = "quality"
    elif found["series"] is not None and quarters <= set(found["series"]["quarter"]):
        s = found["series"]
        s = s[(s["source"] == "ALL") & s["quarter"].isin(quarters)]
        s = s[pd.to_numeric(s["clients"]) > 0]
        good = s.groupby(["municipality_code", "service_task"])["quarter"].nunique()
        basis = "counts"
    else:
        return empty, "none"
    full = good[good == 4].reset_index()[["municipality_code", "service_task"]]
    full["covered"] = 1
    b = base.merge(full, on=["municipality_code", "service_task"], how="left")
    b["covered_base"] = b["population_base"] * b["covered"].fillna(0)
    g = b.groupby(["county_code", "service_task"])[["covered_base", "population_base"]].sum()
    n = b.groupby("service_task")[["covered_base", "population_base"]].sum()
    n.index = pd.MultiIndex.from_product([[ALL], n.index], names=g.index.names)
    g = pd.concat([g, n])
    g["coverage_pct"] = (100 * g["covered_base"] / g["population_base"]).round(4)
    return g.reset_index()[["county_code", "service_task", "coverage_pct"]], basis


def per_client(alloc: pd.DataFrame, found: dict, year: int, package_tasks: dict,
               full_coverage_pct: float) -> tuple[pd.DataFrame, str]:
    """€ per whole-year distinct client for the packages matched to service tasks."""
    regions = sorted(region_names()) + [ALL]
    tasks = sorted({t for ts in package_tasks.values() for t in ts})
    cov, basis = coverage(found, tasks)
    yc = found["year_counts"]
    clients = None
    if yc is not None:
        a = yc[(yc["source"] == "ALL") & yc["service_task"].isin(tasks)].copy()
        a["clients"] = pd.to_numeric(a["clients"]).astype("int64")
        clients = a.groupby(["county_code", "service_task"])["clients"].sum()
        nat = a.groupby("service_task")["clients"].sum()
        for t, v in nat.items():
            clients.loc[(ALL, t)] = v
    cs = _sum_cents(alloc, ["region_code", "package_code"])
    cents = {(r, k): int(v) for r, k, v in cs[["region_code", "package_code", "cents"]]
             .itertuples(index=False)}
    for k, v in cs.groupby("package_code")["cents"].sum().items():
        cents[(ALL, k)] = int(v)
    covi = cov.set_index(["county_code", "service_task"])["coverage_pct"]
    rows = []
    for pk in sorted(package_tasks):
        ts = list(package_tasks[pk])
        for r in regions:
            c = cents.get((r, pk), 0)
            n = (sum(int(clients.get((r, t), 0)) for t in ts) if clients is not None
                 else None)
            cv = [covi.get((r, t), np.nan) for t in ts]
            cvmin = float(np.min(cv)) if not any(pd.isna(cv)) else np.nan
            rows.append({
                "year": year, "region_code": r, "package_code": pk,
                "service_tasks": "+".join(ts), "cost_eur": cents_to_str(c),
                "clients": n if n is not None else pd.NA,
                "eur_per_client": round(c / 100 / n, 6) if n else np.nan,
                "coverage_pct": cvmin, "coverage_basis": basis,
                "coverage_partial": int(pd.isna(cvmin) or cvmin < full_coverage_pct),
            })
    out = pd.DataFrame(rows)
    out["clients"] = out["clients"].astype("Int64")
    return out, basis


# --------------------------------------------------------------------------- run

def _dimension_table(alloc: pd.DataFrame, mapping: pd.DataFrame, year: int) -> pd.DataFrame:
    """National costs by client group, funding channel, producer and sector, per package
    and for ALL; share_pct within the package."""
    d = alloc.copy()
    sector = dict(zip(mapping["service_class"], mapping.get("sector", pd.Series(dtype=str))))
    d["sector"] = d["service_class"].map(sector).fillna("")
    frames = []
    for dim in ["client_group", "funding_channel", "producer", "sector"]:
        for scope in ("package", ALL):
            keys = ["package_code", dim] if scope == "package" else [dim]
            g = d.groupby(keys, as_index=False)["cents"].sum()
            if scope == ALL:
                g.insert(0, "package_code", ALL)
            g = g.rename(columns={dim: "value"})
            g.insert(0, "dimension", dim)
            frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    tot = out.groupby(["dimension", "package_code"])["cents"].transform("sum")
    out["share_pct"] = (100 * out["cents"] / tot).round(4)
    out["cost_eur"] = [cents_to_str(v) for v in out["cents"]]
    out.insert(0, "year", year)
    out = out.sort_values(["dimension", "package_code", "value"], kind="mergesort")
    return out[["year", "dimension", "package_code", "value", "cost_eur", "share_pct"]
               ].reset_index(drop=True)


def run_costs(year: int, data_dir: Path, params: dict | None = None,
              out_dir: Path | None = None, register_dir: Path | None = None,
              inputs: dict[str, Path] | None = None) -> dict[str, pd.DataFrame]:
    """Every cost table of ``year`` (see the module docstring).

    ``inputs``, when given, receives every file the stage read (ledger, mapping,
    population, packages, municipalities, register tables) by its ``input_name``: what the
    manifest hashes.
    """
    year = int(year)
    data_dir = Path(data_dir)
    out_dir = Path(out_dir) if out_dir else Path("build")
    read = {} if inputs is None else inputs

    def name(path) -> str:  # record a file read; its name for the meta table
        key = input_name(path, data_dir, out_dir)
        read[key] = Path(path)
        return key

    for f in (PACKAGES_FILE, reference.REFERENCE_DIR / "municipalities.csv"):
        name(f)
    cp = cost_params(params)
    packages = load_packages()
    mpath = mapping_path(data_dir, cp)
    mapping = load_mapping(mpath, packages)
    by_class, not_valid = mapping_for_year(mapping, year)
    raw = read_ledger(data_dir)
    for f in ledger_files(data_dir):
        name(f)
    accepted, quarantine = validate_ledger(raw, year)
    if accepted.empty:
        raise InputError(f"cost ledger has no accepted rows for {year}")
    alloc = allocate(accepted, by_class, not_valid)
    total = int(alloc["cents"].sum())
    allocated = int(alloc.loc[alloc["package_code"] != UNALLOCATED, "cents"].sum())
    unallocated = int(alloc.loc[alloc["package_code"] == UNALLOCATED, "cents"].sum())
    if allocated + unallocated != total:  # cannot happen: each row has one package
        raise RuntimeError("allocation does not reconcile with the ledger")
    benchmark = float(cp["benchmark_allocation_pct"])

    tables: dict[str, pd.DataFrame] = {}
    tables["allocation"] = allocation_table(alloc, year, benchmark)

    pop, pop_src = load_population(data_dir)
    regpop, pop_year = region_population(pop, year)
    _check_age_scope(cp.get("age_scope") or {}, packages)
    res = per_resident(alloc, regpop, year, pop_year, cp.get("age_scope") or {}, packages)
    tables["per_resident"] = res
    tables["packages"] = _packages_table(alloc, res, packages, year)
    tables["unallocated"] = _unallocated_table(alloc, year)
    q = quarantine.drop(columns=[c for c in ("cents",) if c in quarantine.columns])
    tables["quarantine"] = q.sort_values(["source_file", "row_number"]).reset_index(drop=True)
    tables["ledger_rows"] = _ledger_rows_table(accepted, quarantine, alloc, year,
                                               (total, allocated, unallocated))
    tables["dimensions"] = _dimension_table(alloc, mapping, year)

    found = find_register_tables(year, out_dir, register_dir)
    for f in found["files"]:
        name(f)
    pc, basis = per_client(alloc, found, year, cp.get("package_tasks") or {},
                           float(cp["full_coverage_pct"]))
    tables["per_client"] = pc

    versions = sorted(set(mapping["mapping_version"]))
    tables["meta"] = pd.DataFrame({"key": [
        "year", "mapping_file", "mapping_version", "population_file", "population_year",
        "register_year_counts", "coverage_basis", "full_coverage_pct", "benchmark_pct",
        "ledger_files"], "value": [
        str(year), name(mpath), ", ".join(versions), name(pop_src), str(pop_year),
        name(found["year_counts_file"]) if found["year_counts_file"] else "", basis,
        str(cp["full_coverage_pct"]), str(benchmark),
        ", ".join(sorted(set(raw["source_file"])))]})
    return tables


def _check_age_scope(age_scope: dict, packages: pd.DataFrame) -> None:
    """``costs.age_scope`` names known packages and age groups like 65-74 or 75+."""
    for pk, groups in age_scope.items():
        if pk not in set(packages["package_code"]):
            raise InputError(f"parameters.yml costs.age_scope: unknown package {pk}")
        for g in groups:
            if not _is_age_group(g):
                raise InputError(f"parameters.yml costs.age_scope.{pk}: {g!r} is not an "
                                 "age group like 65-74 or 75+")


def _packages_table(alloc: pd.DataFrame, res: pd.DataFrame, packages: pd.DataFrame,
                    year: int) -> pd.DataFrame:
    """packages: cost, share and national euros per resident of every package, the
    unallocated costs and the total."""
    total = int(alloc["cents"].sum())
    nat = res[res["region_code"] == ALL].set_index("package_code")
    pk = packages.copy()
    extra = pd.DataFrame({"package_code": [UNALLOCATED, ALL],
                          "name_fi": ["Kohdentamaton", "Yhteensä"], "kind": ["", ""],
                          "order": [98, 99]})
    pk = pd.concat([pk, extra], ignore_index=True)
    cents_pk = alloc.groupby("package_code")["cents"].sum()
    pk_cents = [int(cents_pk.get(c, 0)) if c != ALL else total for c in pk["package_code"]]
    pk.insert(0, "year", year)
    pk["cost_eur"] = [cents_to_str(v) for v in pk_cents]
    pk["share_pct"] = [round(100 * v / total, 4) for v in pk_cents]
    pk["eur_per_resident"] = [nat.loc[c, "eur_per_resident"] for c in pk["package_code"]]
    return pk


def _unallocated_table(alloc: pd.DataFrame, year: int) -> pd.DataFrame:
    """unallocated: rows and cost by region, service class and reason (and ALL regions)."""
    un = alloc[alloc["package_code"] == UNALLOCATED]
    ug = un.groupby(["region_code", "service_class", "reason"], as_index=False).agg(
        rows=("cents", "size"), cents=("cents", "sum"))
    un_all = un.groupby(["service_class", "reason"], as_index=False).agg(
        rows=("cents", "size"), cents=("cents", "sum"))
    un_all.insert(0, "region_code", ALL)
    ug = pd.concat([ug, un_all], ignore_index=True)
    ug.insert(0, "year", year)
    ug["cost_eur"] = [cents_to_str(v) for v in ug.pop("cents")]
    return ug.sort_values(["region_code", "service_class", "reason"]).reset_index(drop=True)


def _ledger_rows_table(accepted: pd.DataFrame, quarantine: pd.DataFrame,
                       alloc: pd.DataFrame, year: int, cents: tuple[int, int, int]
                       ) -> pd.DataFrame:
    """ledger_rows: rows and cost read, quarantined, accepted, allocated, unallocated
    (``cents``: the total, allocated and unallocated cents)."""
    total, allocated, unallocated = cents
    q_cents, _ = parse_cents(quarantine["cost_eur"])
    return pd.DataFrame({
        "year": year,
        "item": ["read", "quarantined", "accepted", "allocated", "unallocated"],
        "rows": [len(accepted) + len(quarantine), len(quarantine), len(accepted),
                 int((alloc["package_code"] != UNALLOCATED).sum()),
                 int((alloc["package_code"] == UNALLOCATED).sum())],
        "cost_eur": ["", cents_to_str(int(q_cents.fillna(0).sum())), cents_to_str(total),
                     cents_to_str(allocated), cents_to_str(unallocated)],
    })


def input_name(path: Path, data_dir: Path, out_dir: Path) -> str:
    """A name of an input file that does not depend on where the folders lie or how their
    paths were written: ``DATA/<path>`` inside the data folder, ``OUT/<path>`` inside the
    output folder, the path from the project folder (``data/reference/...``), else the
    absolute path. Used in the meta table and as the manifest's input keys."""
    path = Path(path).resolve()
    for prefix, folder in (("DATA/", data_dir), ("OUT/", out_dir), ("", PROJECT_DIR)):
        folder = Path(folder).resolve()
        if path.is_relative_to(folder):
            return prefix + path.relative_to(folder).as_posix()
    return str(path)


def write_costs_tables(tables: dict[str, pd.DataFrame], tables_dir: Path) -> list[Path]:
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in sorted(tables.items()):
        p = tables_dir / f"{name}.csv"
        df.to_csv(p, index=False, lineterminator="\n")
        out.append(p)
    return out


_EUR_COLS = {"cost_eur", "ledger_eur", "allocated_eur", "unallocated_eur", "target_cost_eur",
             "cost_outside_target_eur"}


def read_tables(tables_dir: Path) -> dict[str, pd.DataFrame]:
    """Read a year's cost tables back (codes as strings, euro columns as float euros)."""
    out = {}
    for p in sorted(Path(tables_dir).glob("*.csv")):
        df = pd.read_csv(p, dtype={"region_code": str, "service_class": str, "value": str,
                                   "key": str, "package_code": str, "target_group": str,
                                   "reason": str},
                         keep_default_na=False, na_values=[""])
        if p.stem != "quarantine":  # quarantined costs stay as they were read
            for c in _EUR_COLS & set(df.columns):
                df[c] = pd.to_numeric(df[c])
        out[p.stem] = df
    return out


# --------------------------------------------------------------------------- annex

MISSING_SYMBOL = symbols.NOT_AVAILABLE


def _filled(df: pd.DataFrame) -> pd.DataFrame:
    """Missing numbers → the explained symbol ``.`` (not available); text cells as text."""
    out = df.astype(object)
    return out.where(out.notna(), MISSING_SYMBOL)


#: The published cost table of € per client (the disclosure gate's, publication.gate).
PUBLISHED_PER_CLIENT = "costs_per_client.csv"


def per_client_shown(c: pd.DataFrame, published: Path | None, min_pct: float,
                     min_count: int) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(clients, € per client, reason, suppressed) of the rows of ``per_client`` as the
    gate published them (``published``: the year's published folder); without one (a
    table computed on request) by the gate's rule itself
    (:func:`seuranta.statistics.costclients.per_client_published`)."""
    p = Path(published) / PUBLISHED_PER_CLIENT if published else None
    if p is None or not p.is_file():
        clients, eur, reason = per_client_published(c, min_pct, min_count)
        return clients, eur, reason, reason.str.startswith("Salattu")
    pub = pd.read_csv(p, dtype={"county_code": str, "package_code": str, "note": str,
                                "clients_symbol": str, "eur_per_client_symbol": str},
                      keep_default_na=False, na_values=[""])
    regions = c["region_code"].astype(str).replace({ALL: ""}).tolist()
    if pub["county_code"].fillna("").tolist() != regions or \
            pub["package_code"].tolist() != c["package_code"].astype(str).tolist():
        raise InputError(f"{p}: its rows are not the cost year's per_client rows")
    idx = c.index
    sym = pub["clients_symbol"].fillna("")
    return (pd.Series(pd.to_numeric(pub["clients"]).to_numpy(), index=idx),
            pd.Series(pd.to_numeric(pub["eur_per_client"]).to_numpy(), index=idx),
            pd.Series(pub["note"].fillna("").to_numpy(), index=idx, dtype=object),
            pd.Series((sym == symbols.SUPPRESSED).to_numpy(), index=idx))


def _annex_sheets(tables: dict[str, pd.DataFrame], min_pct: float = 0.0,
                  min_count: int = 1, published: Path | None = None
                  ) -> list[tuple[str, str, pd.DataFrame]]:
    """(sheet name, description, Finnish-headed frame) for each table sheet."""
    pk = load_packages()
    pname = dict(zip(pk["package_code"], pk["name_fi"]))
    pname.update({UNALLOCATED: "Kohdentamaton", ALL: "Yhteensä"})
    kind = dict(zip(pk["package_code"], pk["kind"].map(KIND_FI)))
    rname = region_names()
    rname[ALL] = "Koko maa"

    def num(s):
        return pd.to_numeric(s, errors="coerce")

    sheets = []
    p = tables["packages"]
    sheets.append((SHEETS_FI["packages"], "Kustannukset sote-tietopaketeittain, koko maa", pd.DataFrame({
        "Järjestys": p["order"].astype(int),
        "Tietopaketti": p["package_code"].map(pname),
        "Tyyppi": p["package_code"].map(kind).fillna(""),
        "Kustannukset (€)": num(p["cost_eur"]),
        "Osuus kustannuksista (%)": num(p["share_pct"]).round(1),
        "Euroa asukasta kohden": num(p["eur_per_resident"]).round(0),
    })))
    a = tables["allocation"]
    sheets.append((SHEETS_FI["allocation"], "Kustannusten kohdentuminen tietopaketteihin alueittain",
                   pd.DataFrame({
                       "Aluekoodi": a["region_code"],
                       "Alue": a["region_code"].map(rname),
                       "Kustannukset yhteensä (€)": num(a["ledger_eur"]),
                       "Kohdennettu (€)": num(a["allocated_eur"]),
                       "Kohdentamaton (€)": num(a["unallocated_eur"]),
                       "Kohdentumisaste (%)": num(a["allocation_pct"]).round(1),
                       "Vertailuarvo 2017 (%)": num(a["benchmark_pct"]),
                   })))
    u = tables["unallocated"]
    sheets.append((SHEETS_FI["unallocated"], "Kohdentamattomat kustannukset palveluluokittain ja syyn "
                   "mukaan", pd.DataFrame({
                       "Aluekoodi": u["region_code"],
                       "Alue": u["region_code"].map(rname),
                       "Palveluluokan koodi": u["service_class"].astype(str),
                       "Syy": u["reason"].map(UNALLOCATED_REASONS_FI),
                       "Rivejä": u["rows"].astype(int),
                       "Kustannukset (€)": num(u["cost_eur"]),
                   })))
    r = tables["per_resident"]
    sheets.append((SHEETS_FI["per_resident"], "Kustannukset asukasta kohden tietopaketeittain ja "
                   "alueittain; ikävakioitu ikäsidonnaisille paketeille", pd.DataFrame({
                       "Aluekoodi": r["region_code"],
                       "Alue": r["region_code"].map(rname),
                       "Tietopaketti": r["package_code"].map(pname),
                       "Kustannukset (€)": num(r["cost_eur"]),
                       "Väestövuosi": r["population_year"].astype(int),
                       "Väestö": num(r["population"]),
                       "Euroa asukasta kohden": num(r["eur_per_resident"]).round(2),
                       "Kohdeväestö (ikäryhmät)": r["target_group"].fillna("").astype(str),
                       "Kohdeväestö": num(r["target_population"]),
                       "Euroa kohdeväestön asukasta kohden": num(
                           r["eur_per_target_resident"]).round(2),
                       "Ikävakioitu, euroa kohdeväestön asukasta kohden": num(
                           r["eur_per_target_resident_std"]).round(2),
                   })))
    c = tables["per_client"]
    clients, eur, reason, hid = per_client_shown(c, published, min_pct, min_count)
    sheets.append((SHEETS_FI["per_client"], "Kustannukset asiakasta kohden (rekisterin "
                   "koko vuoden asiakkaat)", pd.DataFrame({
                       "Aluekoodi": c["region_code"],
                       "Alue": c["region_code"].map(rname),
                       "Tietopaketti": c["package_code"].map(pname),
                       "Palvelutehtävät": c["service_tasks"].map(task_names),
                       "Kustannukset (€)": num(c["cost_eur"]),
                       "Asiakkaat": clients.astype(object).where(~hid, symbols.SUPPRESSED),
                       "Euroa asiakasta kohden": eur.astype(object).where(
                           ~hid, symbols.SUPPRESSED),
                       "Rekisterin kattavuus (%)": num(c["coverage_pct"]).round(1),
                       "Kattavuus osittainen": np.where(num(c["coverage_partial"]) == 1,
                                                        "kyllä", "ei"),
                       "Huomautus": reason,
                   })))
    d = tables["dimensions"]
    dim_fi = {"client_group": "Asiakasryhmä", "funding_channel": "Rahoituskanava",
              "producer": "Tuottaja", "sector": "Toimiala"}
    sheets.append((SHEETS_FI["dimensions"], "Kustannukset asiakasryhmän, rahoituskanavan, tuottajan ja "
                   "toimialan mukaan, koko maa", pd.DataFrame({
                       "Näkökulma": d["dimension"].map(dim_fi),
                       "Luokka": d["value"].fillna("").astype(str).replace("", "(tyhjä)"),
                       "Tietopaketti": d["package_code"].map(pname),
                       "Kustannukset (€)": num(d["cost_eur"]),
                       "Osuus paketin kustannuksista (%)": num(d["share_pct"]).round(1),
                   })))
    return sheets


def write_costs_annex(tables: dict[str, pd.DataFrame], path: Path, synthetic: bool,
                      year: int | None = None, params: dict | None = None,
                      published: Path | None = None) -> Path:
    """The accessible Excel annex (:func:`seuranta.core.excel.write_workbook`): a notes
    sheet first, then one table per sheet; a missing value is the symbol ``.``; clients
    and € per client as the gate published them in ``published`` (:func:`per_client_shown`)."""
    params = params or {}
    pub = section_of(params, "publication")
    cp = cost_params(params)
    meta = dict(zip(tables["meta"]["key"], tables["meta"]["value"].astype(str)))
    year = year or int(meta.get("year", 0))
    min_pct = float(cp["per_client_min_coverage_pct"])
    sheets = _annex_sheets(tables, min_pct, int(as_params(params)["disclosure"]["min_count"]),
                           published)
    date = _publication_date(pub)
    notes = [
        ("Lähde", "Sote-tietopakettien kustannusaineisto (hyvinvointialueiden kustannukset "
                  "palveluluokittain); väestö: väestötiedot 31.12.; asiakkaat: "
                  "sosiaalihuollon seurantarekisteri"),
        ("Tekijä", str(pub["author"])),
        ("Tilastovuosi", str(year)),
        ("Julkaisupäivä", f"{date.day}.{date.month}.{date.year}"),
        ("Kohdistustaulukon versio", meta.get("mapping_version", "")),
        ("Väestön vuosi", meta.get("population_year", "")),
        ("Vertailuarvo", f"{fi_pct(float(cp['benchmark_allocation_pct']), 1)} "
                         "kustannuksista kohdentui tietopaketteihin vuoden 2017 "
                         "arvioinnissa (neljä maakuntaa)"),
        ("Palveluluokat", "Palveluluokkien koodit ja nimet ovat havainnollistavia (JHS-"
                          "palveluluokituksen tyyliin), eivät virallisia koodeja"),
        ("Ikävakiointi", "Suora vakiointi koko maan (manner-Suomi) ikärakenteeseen "
                         "asiakasryhmien ikäryhmillä"),
        ("Euroa asiakasta kohden", "Asiakkaat ovat rekisterin koko vuoden eri asiakkaita "
                                   "palvelutehtävittäin. Lukua ei julkaista, jos alueen "
                                   "rekisterin kattavuus on alle "
                                   f"{fi_pct(min_pct, 0)}: silloin asiakkaita puuttuisi ja "
                                   "euroa asiakasta kohden olisi liian suuri. Syy on "
                                   "Huomautus-sarakkeessa."),
    ]
    if synthetic:
        notes.insert(0, ("Synteettinen aineisto", "Luvut on laskettu synteettisestä "
                         "harjoitusaineistosta. Ne eivät kuvaa todellisia kustannuksia."))
    fmt = {}
    for _name, _desc, df in sheets:
        for col in df.columns:
            if str(col).endswith("(€)"):
                fmt[col] = excel.DECIMAL2
            elif str(col).endswith("(%)"):
                fmt[col] = excel.DECIMAL1
            elif col.startswith("Euroa ") and "asukasta" in col:
                fmt[col] = excel.DECIMAL2
    title = f"Sote-tietopaketit: kustannukset {year}"
    return excel.write_workbook(
        path, [excel.Sheet(name, desc, _filled(df),
                           formats={k: v for k, v in fmt.items() if k in df.columns})
               for name, desc, df in sheets],
        title=title + (" (synteettinen aineisto)" if synthetic else ""), notes=notes,
        date=date, creator=str(pub["author"]),
        subject="Sosiaali- ja terveydenhuollon kustannukset tietopaketeittain")


def _publication_date(pub: dict) -> dt.date:
    value = pub.get("date")
    if value:
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise InputError(f"parameters: publication.date is not a date: {value!r}") from None
    return helsinki_today()


# --------------------------------------------------------------------------- CLI

def run_and_write(year: int, data_dir: Path, out_dir: Path, params: dict,
                  register_dir: Path | None = None,
                  publish: Callable[[Path, Path], object] | None = None) -> Path:
    """Run the cost stage and write OUT/costs/<year>/{tables,published,annex,manifest.json};
    returns that folder. ``params``: the run's parameters (loaded once by the caller).
    ``publish(tables_dir, published_dir)``: the disclosure gate's cost step
    (:func:`seuranta.publication.gate.publish_costs`, given by the pipeline and the
    command line), whose published tables the annex reads."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    inputs: dict[str, Path] = {}
    tables = run_costs(year, data_dir, params, out_dir=out_dir, register_dir=register_dir,
                       inputs=inputs)
    target = out_dir / "costs" / str(year)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{year}-", dir=target.parent))
    try:  # written beside the target and swapped in only when complete
        write_costs_tables(tables, tmp / "tables")
        if publish is not None:
            publish(tmp / "tables", tmp / "published")
        write_costs_annex(tables, tmp / "annex" / f"kustannukset_{year}.xlsx",
                          _synthetic(data_dir), year, params,
                          tmp / "published" if publish is not None else None)
        write_costs_manifest(tmp, year, data_dir, register_dir, params, inputs)
        atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# --------------------------------------------------------------------------- manifest, verify

def _input_hashes(inputs: dict[str, Path]) -> dict[str, str]:
    return {name: provenance.file_sha256(p) for name, p in sorted(inputs.items())}


def write_costs_manifest(folder: Path, year: int, data_dir: Path,
                         register_dir: Path | None, params: dict,
                         inputs: dict[str, Path]) -> dict:
    """``folder/manifest.json``: the files the cost stage read (path, sha256), parameters,
    code and package versions, and the hash of every table in ``folder/tables``."""
    hashes = _input_hashes(inputs)
    manifest = {
        "costs_year": int(year),
        "data_dir": str(Path(data_dir).resolve()),
        "register_dir": str(Path(register_dir).resolve()) if register_dir else None,
        "synthetic": _synthetic(data_dir),
        "inputs": {name: {"path": str(Path(inputs[name]).resolve()), "sha256": h}
                   for name, h in hashes.items()},
        **provenance.provenance(params),
        "tables": provenance.table_hashes(Path(folder) / "tables"),
    }
    provenance.dump_manifest(Path(folder) / "manifest.json", manifest)
    return manifest


def verify_costs(year: int | str, out_dir: Path, stream=None) -> bool:
    """Re-run a cost year from OUT/costs/<year>/manifest.json into a temporary folder and
    compare its tables with the published ones, table by table (as ``pipeline.verify``).

    Register tables are looked up as in the run: the manifest's ``--register`` folder, else
    the quarters under ``out_dir``; any input read now whose hash (or name) differs from
    the manifest's is reported.
    """
    stream = stream or sys.stdout
    if not re.fullmatch(r"\d{4}", str(year).strip()):
        raise InputError(f"cost year is not a year (YYYY): {year!r}")
    year = int(str(year).strip())
    out_dir = Path(out_dir)
    target = out_dir / "costs" / str(year)
    manifest = provenance.load_manifest(target / "manifest.json", f"costs {year}",
                                      f"seuranta costs --year {year}")
    params, ok = provenance.manifest_params(manifest, stream)
    inputs: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="seuranta-verify-costs-") as tmp:
        tables = run_costs(year, Path(manifest["data_dir"]), params, out_dir=out_dir,
                           register_dir=manifest.get("register_dir"), inputs=inputs)
        then = {k: v["sha256"] for k, v in manifest["inputs"].items()}
        ok = provenance.report_inputs(_input_hashes(inputs), then, stream) and ok
        write_costs_tables(tables, Path(tmp))
        ok = provenance.compare_tables(manifest["tables"], Path(tmp), target / "tables",
                                     stream) and ok
    print(f"costs {year}: {'all tables identical' if ok else 'NOT identical'}", file=stream)
    return ok


def ledger_years(data_dir: Path) -> list[int]:
    """The years that the data folder's cost ledger has rows for ([] without costs/)."""
    years: set[int] = set()
    for f in ledger_files(data_dir):
        y = pd.read_csv(f, dtype=str, usecols=["year"], keep_default_na=False)["year"]
        years |= {int(v) for v in y.str.strip() if re.fullmatch(r"\d{4}", v.strip())}
    return sorted(years)


def _synthetic(data_dir: Path) -> bool:
    p = Path(data_dir) / "metadata.json"
    if not p.is_file():
        return False
    try:
        return bool(json.loads(p.read_text(encoding="utf-8")).get("synthetic", False))
    except json.JSONDecodeError:
        raise InputError(f"{p}: not valid JSON") from None


def _cmd_costs(args, publish: Callable | None = None) -> int:
    params = load_params(getattr(args, "params", None))
    step = None if publish is None else functools.partial(
        publish, params=params, year_published=Path(args.out) / f"{args.year}Q4" / "published")
    target = run_and_write(args.year, Path(args.data), Path(args.out), params,
                           Path(args.register) if args.register else None, publish=step)
    al = pd.read_csv(target / "tables" / "allocation.csv", dtype={"region_code": str})
    nat = al[al["region_code"] == ALL].iloc[0]
    print(f"{target}: ledger {nat['ledger_eur']} €, allocated {nat['allocation_pct']:.2f} % "
          f"(benchmark {nat['benchmark_pct']} %)")
    return 0


def add_parser(sub, publish: Callable | None = None) -> None:
    """Add ``seuranta costs --year YYYY [--data DIR] [--out DIR]`` to the CLI; ``publish``:
    the disclosure gate's cost step (:func:`seuranta.publication.gate.publish_costs`)."""
    r = sub.add_parser("costs", help="Sote-tietopaketit: allocate a year's cost ledger to the "
                                     "15 packages, € per resident and per client, Excel annex")
    r.add_argument("--year", type=int, required=True, help="cost year, e.g. 2022")
    r.add_argument("--data", default="data/demo", help="data folder (default: %(default)s)")
    r.add_argument("--out", default="build", help="output folder (default: %(default)s); "
                   "register tables are looked up in OUT/<quarter>/tables/")
    r.add_argument("--register", default=None,
                   help="a tables folder with year_counts.csv (default: OUT/<year>Q4/tables)")
    r.add_argument("--params", default=None, help="parameters file (default: parameters.yml)")
    r.set_defaults(func=functools.partial(_cmd_costs, publish=publish))
