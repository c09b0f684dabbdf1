"""Counting distinct clients from the validated periods: every count table of the register stage.

Input is the DuckDB table ``periods`` (accepted rows, see :mod:`seuranta.validate`).
A period counts in a time window [first, last] when ``start_date <= last`` and
(``end_date`` empty or ``end_date >= first``). A client counts once per window ×
municipality × service task whatever the number of periods or sources; source ``ALL`` is
the distinct union of ``SHA`` and ``ET`` (one ``GROUPING SETS`` pass with
``count(DISTINCT client_id)``).

All quarters are computed in one pass: the periods are joined to a small table of
windows (quarters, months, calendar years). DuckDB does the row-level work; the results
are municipal-level and small, and pandas completes them to full grids (every mainland
municipality × task × source, zeros included) and adds the population bases.

Measures (CONTRACT.md section 3 and the shared spec):
``counts``, ``cwa_counts`` (child-welfare-act clients, task ``lastensuojelulaki``),
``age_counts`` (source ALL, age groups at the quarter's end, plus task ``kaikki``),
``multi_task`` (pairs of tasks per county and ``ALL``), ``tasks_per_client``,
``year_counts`` (complete calendar years), ``monthly`` (active clients per month).
"""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import duckdb
import numpy as np
import pandas as pd

from . import reference
from .errors import InputError
from .quarters import Quarter

SOURCES = ["SHA", "ET", "ALL"]
CWA_TASK = "lastensuojelulaki"
ALL_TASKS = "kaikki"
AGE_GROUPS = [g for g, _, _ in reference.CLIENT_AGE_GROUPS]

_FAR_FUTURE = dt.date(9999, 12, 31)


# --------------------------------------------------------------------------- windows

def _quarter_windows(quarters: list[Quarter]) -> pd.DataFrame:
    return pd.DataFrame({
        "quarter": [str(q) for q in quarters],
        "wstart": pd.to_datetime([q.start for q in quarters]),
        "wend": pd.to_datetime([q.end for q in quarters]),
        "end_year": np.array([q.end.year for q in quarters], dtype="int32"),
    }).astype({"quarter": str})


def _month_windows(quarters: list[Quarter]) -> pd.DataFrame:
    rows = []
    for q in quarters:
        for m in q.months:
            y, mm = int(m[:4]), int(m[5:])
            start = dt.date(y, mm, 1)
            nxt = dt.date(y + (mm == 12), mm % 12 + 1, 1)
            rows.append((str(q), m, start, nxt - dt.timedelta(days=1)))
    df = pd.DataFrame(rows, columns=["quarter", "month", "wstart", "wend"])
    df["wstart"] = pd.to_datetime(df["wstart"])
    df["wend"] = pd.to_datetime(df["wend"])
    return df.astype({"quarter": str, "month": str})


def _year_windows(years: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "year": np.array(years, dtype="int32"),
        "wstart": pd.to_datetime([dt.date(y, 1, 1) for y in years]),
        "wend": pd.to_datetime([dt.date(y, 12, 31) for y in years]),
    })


_OVERLAP = "p.start_date <= w.wend AND coalesce(p.end_date, DATE '9999-12-31') >= w.wstart"


# --------------------------------------------------------------------------- SQL passes

def _sql_counts(con, windows: pd.DataFrame, key: str, where: str = "") -> pd.DataFrame:
    """Distinct clients per window key × municipality × task × source (SHA, ET, ALL)."""
    con.register("_w", windows)
    try:
        return con.execute(f"""
SELECT w.{key}, p.municipality_code, p.service_task, coalesce(p.source, 'ALL') AS source,
       count(DISTINCT p.client_id) AS clients
FROM periods p JOIN _w w ON {_OVERLAP} {where}
GROUP BY GROUPING SETS ((w.{key}, p.municipality_code, p.service_task, p.source),
                        (w.{key}, p.municipality_code, p.service_task))""").fetchdf()
    finally:
        con.unregister("_w")


def _sql_quarter_clients(con, qwin: pd.DataFrame) -> None:
    """Temp table qtc: distinct quarter × municipality × county × task × client (+ end_year)."""
    con.register("_w", qwin)
    try:
        con.execute(f"""
CREATE OR REPLACE TEMP TABLE qtc AS
SELECT DISTINCT w.quarter, w.end_year, p.municipality_code, p.county_code, p.service_task,
       p.client_id
FROM periods p JOIN _w w ON {_OVERLAP}""")
        con.execute("""
CREATE OR REPLACE TEMP TABLE client_birth AS
SELECT client_id, min(birth_year) AS birth_year FROM periods GROUP BY client_id""")
    finally:
        con.unregister("_w")


def _sql_age_counts(con) -> pd.DataFrame:
    groups = pd.DataFrame(reference.CLIENT_AGE_GROUPS, columns=["age_group", "min_age", "max_age"])
    groups["max_age"] = groups["max_age"].fillna(100000).astype("int64")
    con.register("_ag", groups)
    try:
        return con.execute("""
WITH a AS (
  SELECT t.quarter, t.municipality_code, t.service_task, t.client_id,
         t.end_year - b.birth_year AS age
  FROM qtc t JOIN client_birth b USING (client_id)
)
SELECT k.quarter, k.municipality_code, k.service_task, g.age_group, count(*) AS clients
FROM (SELECT quarter, municipality_code, service_task, age FROM a
      UNION ALL
      SELECT quarter, municipality_code, 'kaikki' AS service_task, age
      FROM (SELECT DISTINCT quarter, municipality_code, client_id, age FROM a)) k
JOIN _ag g ON k.age BETWEEN g.min_age AND g.max_age
GROUP BY ALL""").fetchdf()
    finally:
        con.unregister("_ag")


def _sql_multi_task(con) -> tuple[pd.DataFrame, pd.DataFrame]:
    con.execute("""
CREATE OR REPLACE TEMP TABLE ctc AS
SELECT DISTINCT quarter, county_code, service_task, client_id FROM qtc
UNION ALL
SELECT DISTINCT quarter, 'ALL' AS county_code, service_task, client_id FROM qtc""")
    pairs = con.execute("""
SELECT a.quarter, a.county_code, a.service_task AS task_a, b.service_task AS task_b,
       count(*) AS clients
FROM ctc a JOIN ctc b ON a.quarter = b.quarter AND a.county_code = b.county_code
     AND a.client_id = b.client_id AND a.service_task < b.service_task
GROUP BY ALL""").fetchdf()
    per_client = con.execute("""
SELECT quarter, county_code, n_tasks, count(*) AS clients
FROM (SELECT quarter, county_code, client_id, count(*) AS n_tasks FROM ctc GROUP BY ALL)
GROUP BY ALL""").fetchdf()
    return pairs, per_client


def _sql_monthly(con, mwin: pd.DataFrame) -> pd.DataFrame:
    con.register("_w", mwin)
    try:
        return con.execute(f"""
SELECT w.quarter, w.month, p.municipality_code, p.service_task,
       coalesce(p.source, 'ALL') AS source, count(DISTINCT p.client_id) AS clients
FROM periods p JOIN _w w ON {_OVERLAP}
GROUP BY GROUPING SETS ((w.quarter, w.month, p.municipality_code, p.service_task, p.source),
                        (w.quarter, w.month, p.municipality_code, p.service_task))""").fetchdf()
    finally:
        con.unregister("_w")


# --------------------------------------------------------------------------- population

def read_population(path) -> pd.DataFrame:
    """The data folder's population.csv: municipality_code, year, age_group, population."""
    try:
        pop = pd.read_csv(path, dtype={"municipality_code": str, "age_group": str})
    except FileNotFoundError:
        raise InputError(f"population file not found: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise InputError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    need = ["municipality_code", "year", "age_group", "population"]
    missing = [c for c in need if c not in pop.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        pop["year"] = pop["year"].astype("int64")
        pop["population"] = pop["population"].astype("int64")
    except (ValueError, TypeError):
        raise InputError(f"{path}: year and population must be whole numbers") from None
    return pop[need]


def _check_years(pop: pd.DataFrame, years: dict[int, str], mainland: list[str], path) -> None:
    for year, why in sorted(years.items()):
        have = set(pop.loc[pop["year"] == year, "municipality_code"])
        if not have:
            raise InputError(f"{path}: no population for year {year} (needed for {why})")
        lacking = sorted(set(mainland) - have)
        if lacking:
            raise InputError(f"{path}: year {year} lacks {len(lacking)} municipalities "
                             f"(e.g. {lacking[0]}), needed for {why}")


def task_bases(pop: pd.DataFrame) -> pd.DataFrame:
    """municipality_code, year, service_task, population_base (incl. lastensuojelulaki)."""
    try:
        b = reference.base_population(pop)
    except ValueError as e:
        raise InputError(f"population.csv: {e}") from None
    cwa = b[b["service_task"] == "lastensuojelu"].assign(service_task=CWA_TASK)
    return pd.concat([b, cwa], ignore_index=True)


def age_group_bases(pop: pd.DataFrame) -> pd.DataFrame:
    """municipality_code, year, age_group, population_base for the client age groups."""
    out = []
    for g, lo, hi in reference.CLIENT_AGE_GROUPS:
        try:
            mask = pop["age_group"].map(lambda b: reference.band_in_base(b, lo, hi))
        except ValueError as e:
            raise InputError(f"population.csv: {e}") from None
        s = (pop[mask.astype(bool)].groupby(["municipality_code", "year"], as_index=False)
             ["population"].sum().rename(columns={"population": "population_base"}))
        s["age_group"] = g
        out.append(s)
    return pd.concat(out, ignore_index=True)


def _share(clients: pd.Series, base: pd.Series) -> pd.Series:
    b = base.astype("float64")
    return (100.0 * clients.astype("float64") / b.where(b > 0)).round(4)


# --------------------------------------------------------------------------- grids

def _grid(**axes) -> pd.DataFrame:
    idx = pd.MultiIndex.from_product(list(axes.values()), names=list(axes.keys()))
    return idx.to_frame(index=False).astype(str)


def _complete(grid: pd.DataFrame, found: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    found = found.astype({k: str for k in keys})
    out = grid.merge(found[keys + ["clients"]], on=keys, how="left")
    out["clients"] = out["clients"].fillna(0).astype("int64")
    return out


# --------------------------------------------------------------------------- main

def compute_counts(con: duckdb.DuckDBPyConnection, quarters: list[Quarter], years: list[int],
                   population: pd.DataFrame, population_path="population.csv"
                   ) -> dict[str, pd.DataFrame]:
    """Every count table for ``quarters`` (and calendar ``years``) from table ``periods``."""
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]].astype(str)
    codes = list(mun["municipality_code"])
    counties = sorted(mun["county_code"].unique())
    tasks = reference.task_codes()
    qs = sorted(quarters)
    qnames = [str(q) for q in qs]

    need = {q.population_year: f"quarter {q}" for q in reversed(qs)}
    need.update({y - 1: f"year {y}" for y in years if y - 1 not in need})
    _check_years(population, need, codes, population_path)
    tb = task_bases(population)
    ab = age_group_bases(population)
    qyear = pd.DataFrame({"quarter": qnames, "year": [q.population_year for q in qs]})

    def with_base(df, bases, on):
        out = df.merge(bases, on=on, how="left")
        out["population_base"] = out["population_base"].astype("Int64")
        out["share_pct"] = _share(out["clients"], out["population_base"])
        return out

    out: dict[str, pd.DataFrame] = {}
    qwin = _quarter_windows(qs)

    # counts and child-welfare-act counts
    found = _sql_counts(con, qwin, "quarter")
    g = _grid(quarter=qnames, municipality_code=codes, service_task=tasks, source=SOURCES)
    c = _complete(g, found, ["quarter", "municipality_code", "service_task", "source"])
    c = c.merge(mun, on="municipality_code").merge(qyear, on="quarter")
    c = with_base(c, tb, ["municipality_code", "year", "service_task"])
    cols = ["quarter", "municipality_code", "county_code", "service_task", "source", "clients",
            "population_base", "share_pct"]
    out["counts"] = c[cols].sort_values(cols[:5]).reset_index(drop=True)

    found = _sql_counts(con, qwin, "quarter", "AND p.service_task = 'lastensuojelu' AND p.cwa")
    found["service_task"] = CWA_TASK
    g = _grid(quarter=qnames, municipality_code=codes, service_task=[CWA_TASK], source=SOURCES)
    c = _complete(g, found, ["quarter", "municipality_code", "service_task", "source"])
    c = c.merge(mun, on="municipality_code").merge(qyear, on="quarter")
    c = with_base(c, tb, ["municipality_code", "year", "service_task"])
    out["cwa_counts"] = c[cols].sort_values(cols[:5]).reset_index(drop=True)

    # age groups (source ALL), multi-task, tasks per client
    _sql_quarter_clients(con, qwin)
    found = _sql_age_counts(con)
    g = _grid(quarter=qnames, municipality_code=codes, service_task=tasks + [ALL_TASKS],
              age_group=AGE_GROUPS)
    c = _complete(g, found, ["quarter", "municipality_code", "service_task", "age_group"])
    c = c.merge(mun, on="municipality_code").merge(qyear, on="quarter")
    c = with_base(c, ab, ["municipality_code", "year", "age_group"])
    acols = ["quarter", "municipality_code", "county_code", "service_task", "age_group",
             "clients", "population_base", "share_pct"]
    out["age_counts"] = c[acols].sort_values(acols[:5]).reset_index(drop=True)

    pairs, per_client = _sql_multi_task(con)
    pair_list = [(a, b) for a, b in combinations(sorted(tasks), 2)]
    g = pd.DataFrame([(q, k, a, b) for q in qnames for k in counties + ["ALL"]
                      for a, b in pair_list], columns=["quarter", "county_code", "task_a", "task_b"])
    c = _complete(g, pairs, ["quarter", "county_code", "task_a", "task_b"])
    out["multi_task"] = c.sort_values(["quarter", "county_code", "task_a", "task_b"]
                                      ).reset_index(drop=True)
    per_client["n_tasks"] = per_client["n_tasks"].astype("int64")
    g = _grid(quarter=qnames, county_code=counties + ["ALL"])
    g = g.merge(pd.DataFrame({"n_tasks": np.arange(1, len(tasks) + 1, dtype="int64")}),
                how="cross")
    c = g.merge(per_client.astype({"quarter": str, "county_code": str}),
                on=["quarter", "county_code", "n_tasks"], how="left")
    c["clients"] = c["clients"].fillna(0).astype("int64")
    out["tasks_per_client"] = c.sort_values(["quarter", "county_code", "n_tasks"]
                                            ).reset_index(drop=True)
    con.execute("DROP TABLE IF EXISTS ctc")
    con.execute("DROP TABLE IF EXISTS qtc")

    # calendar years
    ycols = ["year", "municipality_code", "county_code", "service_task", "source", "clients",
             "population_base", "share_pct"]
    if years:
        found = _sql_counts(con, _year_windows(years), "year")
        found["year"] = found["year"].astype(str)
        g = _grid(year=[str(y) for y in years], municipality_code=codes, service_task=tasks,
                  source=SOURCES)
        c = _complete(g, found, ["year", "municipality_code", "service_task", "source"])
        c["year"] = c["year"].astype("int64")
        c = c.merge(mun, on="municipality_code")
        c["pop_year"] = c["year"] - 1
        c = with_base(c, tb.rename(columns={"year": "pop_year"}),
                      ["municipality_code", "pop_year", "service_task"])
        out["year_counts"] = c[ycols].sort_values(ycols[:5]).reset_index(drop=True)
    else:
        out["year_counts"] = pd.DataFrame({k: pd.Series(dtype="int64" if k in (
            "year", "clients", "population_base") else "float64" if k == "share_pct" else str)
            for k in ycols})

    # monthly active clients
    found = _sql_monthly(con, _month_windows(qs))
    g = pd.DataFrame([(str(q), m) for q in qs for m in q.months], columns=["quarter", "month"])
    g = g.merge(_grid(municipality_code=codes, service_task=tasks, source=SOURCES), how="cross")
    keys = ["quarter", "municipality_code", "service_task", "source", "month"]
    c = _complete(g, found, keys)
    out["monthly"] = c[keys + ["clients"]].sort_values(keys).reset_index(drop=True)
    return out
