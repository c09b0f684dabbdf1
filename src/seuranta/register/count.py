"""Counting distinct clients from the validated periods: every count table of the register stage.

Input is the DuckDB table ``periods`` (accepted rows, see :mod:`seuranta.validate`).
A period counts in a time window [first, last] when ``start_date <= last`` and
(``end_date`` empty or ``end_date >= first``). A client counts once per window ×
municipality × service task whatever the number of periods or sources; source ``ALL`` is
the distinct union of ``SHA`` and ``ET``.

Every quarter, month and calendar year is computed in one scan of the periods: each
period gets bit masks of the windows it overlaps, the masks are OR-ed per client ×
municipality × task × source, and bit sums give the distinct clients (see "windows as
bits" below). DuckDB does this row-level work; the results are municipal-level and
small, and pandas completes them to full grids (every mainland municipality × task ×
source, zeros included) and adds the population bases. A client's age uses the smallest
birth year among its accepted periods, so that each client has exactly one age.

Measures (docs/data-contract.md section 3 and the shared spec):
``counts``, ``cwa_counts`` (child-welfare-act clients, task ``lastensuojelulaki``),
``age_counts`` (source ALL, age groups at the quarter's end, plus task ``kaikki``),
``multi_task`` (pairs of tasks per county and ``ALL``), ``tasks_per_client``,
``year_counts`` (complete calendar years), ``monthly`` (active clients per month).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter

SOURCES = ["SHA", "ET", "ALL"]
CWA_TASK = "lastensuojelulaki"
ALL_TASKS = "kaikki"
AGE_GROUPS = [g for g, _, _ in reference.CLIENT_AGE_GROUPS]


# --------------------------------------------------------------------------- windows as bits
#
# Windows of one kind (months, quarters, calendar years) are consecutive, so a period
# covers the windows with index lo..hi, where the index of a date is a simple function of
# its year and month. Each period gets one bit mask per run of windows ("mask column"):
# bit i is set when the period overlaps window i. OR-ing the masks of a client's periods
# (per municipality × task × source) and summing bit i over clients gives the distinct
# clients of window i. Every kind of window is computed in the same single scan of the
# periods; a mask column holds at most _CHUNK windows (BIGINT), longer series get more
# columns.

_CHUNK = 60

#: SQL index of a date column for each kind of window (constants, not input).
_INDEX_SQL = {
    "month": "(year({d}) * 12 + month({d}) - 1)",
    "quarter": "(year({d}) * 4 + (month({d}) - 1) // 3)",
    "year": "year({d})",
}


def _index_of(unit: str, label) -> int:
    if unit == "month":
        return int(label[:4]) * 12 + int(label[5:7]) - 1
    if unit == "quarter":
        q = label if isinstance(label, Quarter) else Quarter.parse(label)
        return q.year * 4 + q.q - 1
    return int(label)


def _mask_specs(windows: dict[str, list[str]]) -> list[dict]:
    """Mask columns for each kind of window: [{col, unit, base, labels}]."""
    specs: list[dict] = []
    for unit, labels in windows.items():
        runs: list[tuple[int, list]] = []
        for lab in sorted(labels, key=lambda x: _index_of(unit, x)):
            i = _index_of(unit, lab)
            if runs and i == runs[-1][0] + len(runs[-1][1]) and len(runs[-1][1]) < _CHUNK:
                runs[-1][1].append(lab)
            else:
                runs.append((i, [lab]))
        for k, (base, labs) in enumerate(runs):
            specs.append({"col": f"{unit[0]}{k}", "unit": unit, "base": base, "labels": labs})
    return specs


def _mask_expr(spec: dict, params: dict) -> str:
    col = spec["col"]
    params[f"b_{col}"] = spec["base"]
    params[f"n_{col}"] = len(spec["labels"])
    # the window indices of the start and end dates (i0_<u>, i1_<u>) are computed once
    # per period in _scan, for every mask column of that unit
    lo = f"(i0_{spec['unit'][0]} - $b_{col})"
    hi = f"(i1_{spec['unit'][0]} - $b_{col})"
    return (f"CASE WHEN {lo} <= $n_{col} - 1 AND {hi} >= 0 THEN "
            f"(CAST(1 AS BIGINT) << (least({hi}, $n_{col} - 1) + 1)) "
            f"- (CAST(1 AS BIGINT) << greatest({lo}, 0)) ELSE 0 END AS {col}")


def _sums(col: str, n: int) -> str:
    return ", ".join(f"CAST(sum(({col} >> {i}) & 1) AS BIGINT) AS {col}_{i}" for i in range(n))


def _melt(df: pd.DataFrame, keys: list[str], spec: dict, prefix: str = "") -> pd.DataFrame:
    """Long form of the sums of one mask column: keys + window label + clients (> 0)."""
    col = prefix + spec["col"]
    vals = df[[f"{col}_{i}" for i in range(len(spec["labels"]))]].to_numpy().T   # window × row
    w, r = np.nonzero(vals > 0)        # window by window, rows in order (as DataFrame.melt)
    long = df[keys].iloc[r].reset_index(drop=True)
    long["clients"] = vals[w, r]
    long[spec["unit"]] = np.array(spec["labels"], dtype=object)[w]
    return long


def _lookup(values: pd.Series, mapping: dict) -> np.ndarray:
    """``values.map(mapping)`` for values that are all keys of ``mapping``, by position."""
    pos = pd.Index(list(mapping)).get_indexer(values)
    if (pos < 0).any():
        raise KeyError(f"unexpected value {values[pos < 0].iloc[0]!r}")
    return np.array(list(mapping.values()), dtype=object)[pos]


def _task_names(df: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    names = np.array(tasks + [ALL_TASKS], dtype=object)   # ti -1 (all tasks) is the last
    df = df.copy()
    df["service_task"] = names[df["ti"].to_numpy().astype(int)]
    return df.drop(columns="ti")


#: SQL of a client's key in the count tables: a 64-bit hash of the id (grouping and joining
#: integers is several times cheaper than grouping the id strings). Two ids with the same
#: hash would be one client; :func:`_scan` checks that no two accepted ids share a hash and
#: otherwise keys the clients by the ids themselves.
CLIENT_HASH_SQL = "hash(client_id)"


@dataclass(frozen=True)
class _Keys:
    """Compact integer keys of the count tables.

    ``kt = (((ci << mb) | mi) << tb) | ti`` packs a period's county, municipality and task
    indexes (columns of ``periods``, from tables ``ref_mun`` and ``ref_task``) into one
    integer: one integer column to group by instead of three strings; ``kt >> tb`` is the
    municipality's key (``cm``). ``mun`` and ``county`` turn the indexes back into codes."""

    tb: int
    mb: int
    mun: np.ndarray
    county: np.ndarray

    @classmethod
    def of(cls, con, n_tasks: int) -> _Keys:
        mun = con.execute("SELECT municipality_code FROM ref_mun ORDER BY mi").fetchall()
        county = con.execute("SELECT DISTINCT ci, county_code FROM ref_mun ORDER BY ci").fetchall()
        if [c for c, _ in county] != list(range(len(county))):
            raise AssertionError("ref_mun: county indexes are not 0..n-1")
        return cls(tb=max(1, (n_tasks - 1).bit_length()), mb=max(1, (len(mun) - 1).bit_length()),
                   mun=np.array([m for (m,) in mun], dtype=object),
                   county=np.array([c for _, c in county] + ["ALL"], dtype=object))

    def kt(self) -> str:
        """SQL: kt of a row of ``periods``."""
        return f"((((ci << {self.mb}) | mi) << {self.tb}) | ti)"

    def cm(self, kt: str = "kt") -> str:
        """SQL: county and municipality of a kt (a municipality's key)."""
        return f"({kt} >> {self.tb})"

    def ci(self, kt: str = "kt") -> str:
        return f"({kt} >> {self.tb + self.mb})"

    def ti(self, kt: str = "kt") -> str:
        return f"({kt} & {(1 << self.tb) - 1})"

    def municipality(self, cm: pd.Series) -> np.ndarray:
        """Municipality codes of municipality keys (``cm``)."""
        return self.mun[cm.to_numpy().astype(np.int64) & ((1 << self.mb) - 1)]


#: Bits of one packed mask word (``w<j>`` of table ma): a BIGINT's bits 0-62, so that
#: every word stays positive.
_WORD_BITS = 63


def _layout(specs: list[dict]) -> dict[str, tuple[int, int, int]]:
    """Where each source's masks lie in the packed words of table ma: ``{name: (word,
    offset, bits)}`` for the names ``s_<m>`` (SHA) and ``e_<m>`` (ET) of every mask ``m``
    of :func:`_source_windows` (the window masks and the child-welfare-act quarter masks
    ``c_<col>``), packed in that order, a mask never split between two words."""
    out: dict[str, tuple[int, int, int]] = {}
    word, used = 0, 0
    for m, n in _source_windows(specs).items():
        for k in ("s", "e"):
            if used + n > _WORD_BITS:
                word, used = word + 1, 0
            out[f"{k}_{m}"] = (word, used, n)
            used += n
    return out


def _words(layout: dict[str, tuple[int, int, int]]) -> list[str]:
    """The packed word columns of table ma: w0, w1, ..."""
    return [f"w{j}" for j in range(max(w for w, _, _ in layout.values()) + 1)]


def _field(layout: dict, name: str, both: bool = False) -> str:
    """SQL: mask ``name`` (``s_<m>`` or ``e_<m>``) out of the packed words; ``both``:
    mask ``<m>`` over both sources (SHA | ET)."""
    w, o, n = layout[name]
    if not both:
        return f"((w{w} >> {o}) & {(1 << n) - 1})"
    w2, o2, _ = layout["e_" + name[2:]]
    return f"(((w{w} >> {o}) | (w{w2} >> {o2})) & {(1 << n) - 1})"


def _bit(layout: dict, prefix: str, m: str, i: int) -> str:
    """SQL: bit ``i`` (0/1) of mask ``m`` of source prefix ``s_``, ``e_`` or ``""`` (both
    sources)."""
    if prefix:
        w, o, _ = layout[prefix + m]
        return f"((w{w} >> {o + i}) & 1)"
    (w, o, _), (w2, o2, _) = layout["s_" + m], layout["e_" + m]
    return f"(((w{w} >> {o + i}) | (w{w2} >> {o2 + i})) & 1)"


def _scan(con, specs: list[dict], keys: _Keys, n_tasks: int, release_periods: bool = False
          ) -> dict[str, tuple[int, int, int]]:
    """Temp tables of the windows' masks, in one aggregation of the periods; returns the
    layout of the packed masks (:func:`_layout`):

    * cb: each client's key ``cid`` and birth year (the smallest one among its accepted
      periods);
    * ma: client × kt, the masks of each source (``s_<col>`` SHA, ``e_<col>`` ET, with
      the child-welfare-act quarter masks ``s_c_<col>``, ``e_c_<col>``), packed into a few
      BIGINT words ``w<j>`` (one OR per word and period instead of one per mask), and the
      client's birth year; view mka unpacks the masks over both sources (``<col>``,
      ``c_<col>``);
    * pc: each client's smallest and largest municipality key (``cm``, ``cm_max``), birth
      year, quarter and year masks over every task and its sets of tasks in each quarter
      (:func:`_task_words`, of ``n_tasks`` tasks);
    * mc: client × municipality (kt without the task), birth year and the quarter and
      year masks over every task.

    Table cb is dropped once ma is made, and with ``release_periods`` table ``checked``
    and view ``periods`` too (:func:`compute_counts`).
    """
    params: dict = {}
    masks = ",\n       ".join(_mask_expr(s, params) for s in specs)
    qcols = [s["col"] for s in specs if s["unit"] == "quarter"]
    cols = [s["col"] for s in specs]
    params["wfirst"] = min(_window_start(s) for s in specs)
    params["wlast"] = max(_window_end(s) for s in specs)
    layout = _layout(specs)
    # a period has one source: its word is its source's masks shifted to their places
    value = {c: c for c in cols} | {f"c_{c}": f"(CASE WHEN cwa THEN {c} ELSE 0 END)"
                                    for c in qcols}
    words = []
    for j, w in enumerate(_words(layout)):
        side = {k: " | ".join(f"({value[name[2:]]} << {o})" for name, (wj, o, _) in
                              layout.items() if wj == j and name[0] == k) or "0"
                for k in ("s", "e")}
        words.append(f"bit_or(CASE WHEN et THEN {side['e']} ELSE {side['s']} END) AS {w}")
    idx = ", ".join(f"{_INDEX_SQL[u].format(d='start_date')} AS i0_{u[0]}, "
                    f"{_INDEX_SQL[u].format(d='e')} AS i1_{u[0]}"
                    for u in sorted({s["unit"] for s in specs}))
    cid = _client_key(con)
    # the client's birth year is joined after the periods are grouped (fewer rows)
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE ma AS
SELECT a.*, b.birth_year
FROM (
  SELECT cid, kt, {", ".join(words)}
  FROM (
    SELECT {cid} AS cid, {keys.kt()} AS kt, et, cwa,
           {masks}
    FROM (SELECT *, {idx}
          FROM (SELECT *, coalesce(end_date, DATE '9999-12-31') AS e FROM periods
                WHERE start_date <= $wlast AND coalesce(end_date, DATE '9999-12-31') >= $wfirst)
         )
  )
  GROUP BY cid, kt) a
JOIN cb b USING (cid)""", params)
    both = ", ".join(f"{_field(layout, 's_' + m, both=True)} AS {m}"
                     for m in _source_windows(specs))
    con.execute(f"CREATE OR REPLACE TEMP VIEW mka AS SELECT cid, kt, birth_year, {both} FROM ma")
    con.execute("DROP TABLE cb")   # joined into ma
    if release_periods:
        con.execute("DROP VIEW periods")
        con.execute("DROP TABLE checked")
    ycols = qcols + [s["col"] for s in specs if s["unit"] == "year"]
    ors_c = "".join(f", bit_or({c}) AS {c}" for c in ycols)
    cs = "".join(f", {c}" for c in ycols)
    # one aggregation per client (nearly every client has one municipality: its row of mc
    # is its row of pc), grouped again by municipality only for the others
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE pc AS
SELECT cid, min({keys.cm()}) AS cm, max({keys.cm()}) AS cm_max, min(birth_year) AS birth_year
       {ors_c}, {", ".join(_task_words(specs, n_tasks, keys)[0])}
FROM mka GROUP BY cid""")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE mc AS
SELECT cid, cm, birth_year{cs} FROM pc WHERE cm = cm_max
UNION ALL
SELECT cid, {keys.cm()} AS cm, min(birth_year) AS birth_year{ors_c}
FROM mka WHERE cid IN (SELECT cid FROM pc WHERE cm <> cm_max) GROUP BY cid, cm""")
    return layout


def _client_key(con) -> str:
    """Create table cb (cid, birth_year) and return the SQL of a client's key: the hash of
    its id (:data:`CLIENT_HASH_SQL`) unless two accepted ids share a hash, then the id."""
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE cb AS
SELECT {CLIENT_HASH_SQL} AS cid, min(birth_year) AS birth_year
FROM periods GROUP BY client_id""")
    if not _hash_clashes(con):
        return CLIENT_HASH_SQL
    con.execute("CREATE OR REPLACE TEMP TABLE cb AS SELECT client_id AS cid, "
                "min(birth_year) AS birth_year FROM periods GROUP BY client_id")
    return "client_id"


def _hash_clashes(con) -> bool:
    """Whether two different client ids of table cb (one row per id) share a hash."""
    return bool(con.execute("SELECT count(*) <> count(DISTINCT cid) FROM cb").fetchall()[0][0])


def _window_start(spec: dict) -> dt.date:
    lab = spec["labels"][0]
    if spec["unit"] == "month":
        return dt.date(int(lab[:4]), int(lab[5:7]), 1)
    if spec["unit"] == "quarter":
        return Quarter.parse(lab).start
    return dt.date(int(lab), 1, 1)


def _window_end(spec: dict) -> dt.date:
    lab = spec["labels"][-1]
    if spec["unit"] == "month":
        y, m = int(lab[:4]), int(lab[5:7])
        return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    if spec["unit"] == "quarter":
        return Quarter.parse(lab).end
    return dt.date(int(lab), 12, 31)


#: Prefixes of the source sums of :func:`_source_counts` and their positions in SOURCES.
_SOURCE_PREFIXES = {"s_": 0, "e_": 1, "": 2}


def _source_windows(specs: list[dict]) -> dict[str, int]:
    """The mask columns of :func:`_source_counts` and their number of windows."""
    qspecs = [s for s in specs if s["unit"] == "quarter"]
    names = [s["col"] for s in specs] + ["c_" + s["col"] for s in qspecs]
    return dict(zip(names, [len(s["labels"]) for s in specs + qspecs]))


def _source_counts(con, specs: list[dict], layout: dict) -> pd.DataFrame:
    """The DuckDB part of :func:`_source_long`: per kt, the clients of every window of
    each source (columns ``<prefix><col>_<i>``, :data:`_SOURCE_PREFIXES`), from the packed
    masks of table ma (``layout``, :func:`_layout`)."""
    counts = _source_windows(specs)
    # the clients of each combination of masks first (few distinct rows), then the bit sums
    # of those rows weighted by their clients
    sums = ", ".join(f"CAST(sum({_bit(layout, p, c, i)} * n) AS BIGINT) AS {p}{c}_{i}"
                     for p in _SOURCE_PREFIXES for c, k in counts.items() for i in range(k))
    words = ", ".join(_words(layout))
    return con.execute(f"SELECT kt, {sums} FROM (SELECT kt, {words}, count(*) AS n FROM ma "
                       "GROUP BY ALL) GROUP BY kt").fetchdf()


def _source_long(wide: pd.DataFrame, specs: list[dict], tasks: list[str], keys: _Keys
                 ) -> dict[str, pd.DataFrame]:
    """Per kind of window: clients per window × municipality × task × source (SHA/ET/ALL);
    key 'cwa' for the child-welfare-act clients per quarter (from :func:`_source_counts`)."""
    qspecs = [s for s in specs if s["unit"] == "quarter"]
    counts = _source_windows(specs)
    parts = []
    for p, src in _SOURCE_PREFIXES.items():
        part = wide[["kt"] + [f"{p}{c}_{i}" for c, n in counts.items() for i in range(n)]]
        parts.append(part.set_axis(["kt"] + [f"{c}_{i}" for c, n in counts.items()
                                             for i in range(n)], axis=1).assign(src=src))
    df = pd.concat(parts, ignore_index=True)
    kt = df["kt"].to_numpy().astype(np.int64)
    df["municipality_code"] = keys.municipality(pd.Series(kt >> keys.tb))
    df["ti"] = kt & ((1 << keys.tb) - 1)
    df["source"] = np.array(SOURCES, dtype=object)[df["src"].to_numpy()]
    cols = ["municipality_code", "ti", "source"]
    out: dict[str, list] = {}
    for s in specs:
        out.setdefault(s["unit"], []).append(_task_names(_melt(df, cols, s), tasks))
    lsu = tasks.index("lastensuojelu")
    for s in qspecs:
        out.setdefault("cwa", []).append(
            _task_names(_melt(df[df["ti"] == lsu], cols, s, "c_"), tasks))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def _age_group_counts(con, specs: list[dict], keys: _Keys) -> tuple[pd.DataFrame, dict]:
    """The DuckDB part of :func:`_age_long`: per municipality × task (``ti`` -1: every
    task), one sum column per quarter × age group (the second item names them).

    A client's age in a quarter is the quarter's end year minus its birth year; the age
    groups overlap (65+ and 85+), so each quarter × group is a sum column of its own."""
    qspecs = [s for s in specs if s["unit"] == "quarter"]
    sums, wcols = [], {}
    for s in qspecs:
        for i, lab in enumerate(s["labels"]):
            age = f"({Quarter.parse(lab).end.year} - birth_year)"
            for k, (g, lo, hi) in enumerate(reference.CLIENT_AGE_GROUPS):
                cond = f"{age} >= {int(lo)}" + (f" AND {age} <= {int(hi)}" if hi is not None
                                                 else "")
                name = f"{s['col']}_{i}_{k}"
                sums.append(f"CAST(sum(CASE WHEN {cond} THEN {s['col']}_{i} ELSE 0 END)"
                            f" AS BIGINT) AS {name}")
                wcols[name] = (lab, g)
    sql_sums = ", ".join(sums)
    by_year = ", ".join(f"CAST(sum(({s['col']} >> {i}) & 1) AS BIGINT) AS {s['col']}_{i}"
                        for s in qspecs for i in range(len(s["labels"])))
    # clients per municipality × task × birth year first (few rows), then the age groups;
    # a bit sum of those rows stands for the quarter's mask bit ("q0_1" as "q0 >> 1")
    df = con.execute(f"""
WITH b AS (
  SELECT {keys.cm()} AS cm, {keys.ti()} AS ti, birth_year, {by_year}
  FROM mka GROUP BY kt, birth_year
  UNION ALL
  SELECT cm, -1 AS ti, birth_year, {by_year} FROM mc GROUP BY cm, birth_year)
SELECT cm, ti, {sql_sums}
FROM b GROUP BY cm, ti""").fetchdf()
    return df, wcols


def _age_long(df: pd.DataFrame, wcols: dict, tasks: list[str], keys: _Keys) -> pd.DataFrame:
    """Clients per quarter × municipality × task (and 'kaikki') × age group (> 0)."""
    df["municipality_code"] = keys.municipality(df["cm"])
    cols = ["municipality_code", "ti"]
    long = df[cols + list(wcols)].melt(id_vars=cols, var_name="_w", value_name="clients")
    w = pd.Index(list(wcols)).get_indexer(long["_w"])
    long["quarter"] = np.array([v[0] for v in wcols.values()], dtype=object)[w]
    long["age_group"] = np.array([v[1] for v in wcols.values()], dtype=object)[w]
    long = long[long["clients"] > 0].drop(columns="_w").reset_index(drop=True)
    return _task_names(long, tasks)


#: service_task of the whole-year rows that count a client of any task once.
ALL_TASKS = "kaikki"


def _year_all_tasks(con, specs: list[dict], keys: _Keys) -> pd.DataFrame:
    """Distinct clients of any task per calendar year × municipality (source ALL)."""
    ys = [s for s in specs if s["unit"] == "year"]
    if not ys:
        return pd.DataFrame({"municipality_code": pd.Series(dtype=str),
                             "year": pd.Series(dtype=str), "clients": pd.Series(dtype="int64")})
    sums = ", ".join(_sums(s["col"], len(s["labels"])) for s in ys)
    df = con.execute(f"""
SELECT cm, {sums} FROM mc GROUP BY cm""").fetchdf()
    df["municipality_code"] = keys.municipality(df["cm"])
    return pd.concat([_melt(df, ["municipality_code"], s) for s in ys], ignore_index=True)


def _task_words(specs: list[dict], n_tasks: int, keys: _Keys) -> tuple[list[str], int, int]:
    """A client's sets of tasks as bits: SQL aggregates ``bit_or(...) AS tp<j>`` of the
    rows of view mka (in a quarter, one bit per task; the sets of ``per_col`` quarters side
    by side in one BIGINT ``tp<j>``), the number of quarters and ``per_col``."""
    qspecs = [s for s in specs if s["unit"] == "quarter"]
    per_col = 63 // n_tasks
    terms: dict[int, list[str]] = {}
    for pos, (col, i) in enumerate((s["col"], i) for s in qspecs for i in range(len(s["labels"]))):
        terms.setdefault(pos // per_col, []).append(
            f"((({col} >> {i}) & 1) << ({(pos % per_col) * n_tasks} + {keys.ti()}))")
    return ([f"bit_or({' | '.join(t)}) AS tp{j}" for j, t in terms.items()],
            sum(len(s["labels"]) for s in qspecs), per_col)


def _task_sets(con, specs: list[dict], tasks: list[str], keys: _Keys) -> pd.DataFrame:
    """The DuckDB part of :func:`_task_set_frames`: clients per county (``ci`` -1: ALL) ×
    quarter (``i``) × number of tasks, with the clients of each pair of tasks (from each
    client's sets of tasks in table pc, :func:`_task_words`)."""
    width = len(tasks)
    tm, n, per_col = _task_words(specs, width, keys)
    tms = ", ".join(f"tp{j}" for j in range(len(tm)))
    quarter_sets = ", ".join(f"(tp{pos // per_col} >> {(pos % per_col) * width}) & {(1 << width) - 1}"
                             for pos in range(n))
    # each client's sets of tasks over the whole country (ci -1), and per county: the same
    # sets for a client of one county (nearly all), grouped again only for the others (a
    # county is the high bits of a municipality key: the smallest and largest county of a
    # client are those of its smallest and largest municipality key)
    ci, ci_max = f"(cm >> {keys.mb})", f"(cm_max >> {keys.mb})"
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE tw AS
SELECT -1 AS ci, cid, {tms} FROM pc
UNION ALL
SELECT {ci} AS ci, cid, {tms} FROM pc WHERE {ci} = {ci_max}
UNION ALL
SELECT {keys.ci()} AS ci, cid, {", ".join(tm)}
FROM mka WHERE cid IN (SELECT cid FROM pc WHERE {ci} <> {ci_max}) GROUP BY ci, cid""")
    pair_idx = _task_pairs(tasks)
    pair_sql = ", ".join(f"CAST(sum(((tm >> {a}) & (tm >> {b}) & 1) * c) AS BIGINT) AS p{a}_{b}"
                         for a, b in pair_idx)
    # clients per county × the client's sets of tasks in every quarter first (few distinct
    # rows), then per county × quarter × set of tasks (at most 2^tasks sets), and the
    # number of tasks and the pairs from those few rows
    df = con.execute(f"""
WITH s0 AS (SELECT ci, {tms}, count(*) AS c FROM tw GROUP BY ci, {tms}),
s AS (SELECT ci, i, tm, sum(c) AS c
      FROM (SELECT ci, unnest(range({n})) AS i, unnest([{quarter_sets}]) AS tm, c FROM s0)
      WHERE tm <> 0 GROUP BY ci, i, tm)
SELECT ci, CAST(i AS INTEGER) AS i, bit_count(tm) AS n_tasks,
       CAST(sum(c) AS BIGINT) AS clients, {pair_sql}
FROM s GROUP BY ci, i, n_tasks""").fetchdf()
    con.execute("DROP TABLE IF EXISTS tw")
    return df


def _task_pairs(tasks: list[str]) -> list[tuple[int, int]]:
    """Pairs of task indexes (a, b), tasks[a] < tasks[b], in the order of the names."""
    order = sorted(range(len(tasks)), key=lambda k: tasks[k])
    return [(a, b) for x, a in enumerate(order) for b in order[x + 1:]]


def _task_set_frames(df: pd.DataFrame, specs: list[dict], tasks: list[str], keys: _Keys
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairs of tasks and the number of tasks per client, per quarter × county and ALL
    (from :func:`_task_sets`)."""
    labels = [lab for s in specs if s["unit"] == "quarter" for lab in s["labels"]]
    pair_idx = _task_pairs(tasks)
    df["county_code"] = keys.county[df["ci"].to_numpy().astype(int)]   # -1: ALL (the last)
    df["quarter"] = np.array(labels, dtype=object)[df["i"].to_numpy().astype(int)]
    per_client = (df.groupby(["quarter", "county_code", "n_tasks"], as_index=False)["clients"]
                  .sum())
    pcols = [f"p{a}_{b}" for a, b in pair_idx]
    pairs = df.groupby(["quarter", "county_code"], as_index=False)[pcols].sum().melt(
        id_vars=["quarter", "county_code"], var_name="_p", value_name="clients")
    names = {f"p{a}_{b}": (tasks[a], tasks[b]) for a, b in pair_idx}
    pairs["task_a"] = _lookup(pairs["_p"], {p: ab[0] for p, ab in names.items()})
    pairs["task_b"] = _lookup(pairs["_p"], {p: ab[1] for p, ab in names.items()})
    return pairs.drop(columns="_p"), per_client


# --------------------------------------------------------------------------- population

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
            mask = reference.bands_in_base(pop["age_group"], lo, hi)
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


def _positions(axes: dict[str, list], found: pd.DataFrame) -> np.ndarray:
    """Each row of ``found``: its position in the product of ``axes`` (the first axis
    slowest), -1 when a value is not on its axis."""
    codes = [pd.Index(labels).get_indexer(found[k].astype(str) if not isinstance(
        labels[0], (int, np.integer)) else found[k]) for k, labels in axes.items()]
    ok = np.logical_and.reduce([c >= 0 for c in codes])
    pos = np.full(len(found), -1, dtype=np.int64)
    if ok.any():
        pos[ok] = np.ravel_multi_index(tuple(c[ok] for c in codes),
                                       [len(v) for v in axes.values()])
    return pos


def _filled(axes: dict[str, list], found: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray]:
    """The full grid of ``axes`` (every combination; each axis sorted, so the rows are in
    the order of sorting by the axes) as index arrays into each axis, and the clients of
    ``found`` on it (0 where absent): what a left merge of the grid with ``found``, then a
    sort by the axes, gives."""
    shape = [len(v) for v in axes.values()]
    if any(list(v) != sorted(v) for v in axes.values()):
        raise AssertionError("grid axes must be sorted")
    n = int(np.prod(shape))
    pos = _positions(axes, found)
    pos, vals = pos[pos >= 0], found["clients"].to_numpy(dtype=np.int64)[pos >= 0]
    if len(np.unique(pos)) != len(pos):
        raise AssertionError("counts: a grid cell found twice")
    clients = np.zeros(n, dtype=np.int64)
    clients[pos] = vals
    return list(np.unravel_index(np.arange(n), shape)), clients


#: pandas' text dtype (``dtype=str``): Arrow-backed strings in pandas 3.
_STR = pd.Series([], dtype=str).dtype


def _text(labels: list, idx: np.ndarray) -> pd.Series:
    """A text column: ``labels[idx]`` (taken by Arrow when the text dtype is Arrow's: the
    same column as from the Python strings, without converting each of them)."""
    if getattr(_STR, "storage", None) == "pyarrow" and all(isinstance(v, str) for v in labels):
        taken = pa.array(labels, pa.large_string()).take(pa.array(np.asarray(idx)))
        return pd.Series(pd.array(taken, dtype=_STR))
    return pd.Series(np.array(labels, dtype=object)[idx], dtype=str)


def _base_of(bases: pd.DataFrame, keys: dict[str, tuple[list, np.ndarray]]) -> pd.Series:
    """The population base of each grid row: ``bases`` looked up by the key columns, each
    given as (axis labels, the rows' indexes into them); NA where ``bases`` has none (a
    left merge)."""
    arr = np.full([len(labels) for labels, _ in keys.values()], np.nan)
    pos = _positions({k: labels for k, (labels, _) in keys.items()}, bases)
    ok = pos >= 0
    if len(np.unique(pos[ok])) != int(ok.sum()):
        raise AssertionError("population bases: a key found twice")
    arr.flat[pos[ok]] = bases["population_base"].to_numpy(dtype="float64")[ok]
    vals = arr[tuple(idx for _, idx in keys.values())]
    return pd.Series(vals).astype("Int64")


def _complete(grid: pd.DataFrame, found: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    found = found.astype({k: str for k in keys})
    out = grid.merge(found[keys + ["clients"]], on=keys, how="left")
    out["clients"] = out["clients"].fillna(0).astype("int64")
    return out


# --------------------------------------------------------------------------- main

def compute_counts(con: duckdb.DuckDBPyConnection, quarters: list[Quarter], years: list[int],
                   population: pd.DataFrame | Future, population_path="population.csv",
                   pool: Executor | None = None, release_periods: bool = False
                   ) -> dict[str, pd.DataFrame]:
    """Every count table for ``quarters`` (and calendar ``years``) from table ``periods``.

    ``population``: population.csv as read, or a Future of it. The pandas work (the
    population bases, completing each table to its grid) runs in ``pool`` (one worker; its
    own when None) while DuckDB runs the next query: DuckDB releases the GIL, so the two
    cores are busy while the single-threaded completion runs.

    ``release_periods``: drop table ``checked`` (and view ``periods``) once the client
    masks are made, so that the later aggregations reuse its memory."""
    if pool is None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="counts") as own:
            return compute_counts(con, quarters, years, population, population_path, own,
                                  release_periods)
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]].astype(str)
    tasks = reference.task_codes()
    qs = sorted(quarters)
    grids = _Grids(qnames=[str(q) for q in qs], codes=list(mun["municipality_code"]),
                   counties=sorted(mun["county_code"].unique()), tasks=tasks, mun=mun,
                   qyear=pd.DataFrame({"quarter": [str(q) for q in qs],
                                       "year": [q.population_year for q in qs]}))
    # FIFO with one worker: the bases are made before any table that reads them
    bases = pool.submit(_population_bases, population, qs, years, grids.codes, population_path)

    months = [m for q in qs for m in q.months]
    specs = _mask_specs({"quarter": grids.qnames, "month": months,
                         **({"year": [str(y) for y in years]} if years else {})})
    keys = _Keys.of(con, len(tasks))
    layout = _scan(con, specs, keys, len(tasks), release_periods)
    wide = _source_counts(con, specs, layout)
    year_all = _year_all_tasks(con, specs, keys)
    by_source = pool.submit(_source_tables, wide, year_all, specs, keys, qs, years, grids,
                            bases)
    age = pool.submit(_age_table, *_age_group_counts(con, specs, keys), keys, grids, bases)
    sets = pool.submit(_task_set_tables, _task_sets(con, specs, tasks, keys), specs, keys,
                       grids)
    con.execute("DROP VIEW IF EXISTS mka")
    for t in ("ma", "mc", "pc"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    out = by_source.result()
    out["age_counts"] = age.result()
    out["multi_task"], out["tasks_per_client"] = sets.result()
    return {k: out[k] for k in COUNT_TABLES}


#: The tables of :func:`compute_counts`, in order.
COUNT_TABLES = ["counts", "cwa_counts", "age_counts", "multi_task", "tasks_per_client",
                "year_counts", "monthly"]


@dataclass(frozen=True)
class _Grids:
    """The axes every count table is completed to (zeros included)."""

    qnames: list[str]
    codes: list[str]
    counties: list[str]
    tasks: list[str]
    mun: pd.DataFrame       # municipality_code, county_code
    qyear: pd.DataFrame     # quarter, year (of the population base)


def _population_bases(population: pd.DataFrame | Future, qs: list[Quarter], years: list[int],
                      codes: list[str], population_path) -> dict[str, pd.DataFrame]:
    """The population (``pop``), its bases per task (``task``) and per age group (``age``),
    after checking that every needed year has every mainland municipality."""
    if isinstance(population, Future):
        population = population.result()
    need = {q.population_year: f"quarter {q}" for q in reversed(qs)}
    need.update({y - 1: f"year {y}" for y in years if y - 1 not in need})
    _check_years(population, need, codes, population_path)
    return {"pop": population, "task": task_bases(population),
            "age": age_group_bases(population)}


_COLS = ["quarter", "municipality_code", "county_code", "service_task", "source", "clients",
         "population_base", "share_pct"]


def _source_tables(wide: pd.DataFrame, year_all: pd.DataFrame, specs: list[dict],
                   keys: _Keys, qs: list[Quarter], years: list[int], grids: _Grids,
                   bases: Future) -> dict[str, pd.DataFrame]:
    """counts, cwa_counts, year_counts and monthly from :func:`_source_counts`."""
    res = _source_long(wide, specs, grids.tasks, keys)
    b = bases.result()
    codes, tasks, mun = grids.codes, grids.tasks, grids.mun
    out = {"counts": _quarter_table(res["quarter"], sorted(tasks), "source", sorted(SOURCES),
                                    grids, b["task"]),
           "cwa_counts": _quarter_table(res["cwa"].assign(service_task=CWA_TASK), [CWA_TASK],
                                        "source", sorted(SOURCES), grids, b["task"])}

    out["year_counts"] = _year_table(res.get("year"), year_all, years, b["pop"], mun,
                                     b["task"], tasks)
    out["monthly"] = _monthly_table(res["month"], qs, codes, tasks)
    return out


def _age_table(df: pd.DataFrame, wcols: dict, keys: _Keys, grids: _Grids, bases: Future
               ) -> pd.DataFrame:
    """age_counts (source ALL) from :func:`_age_group_counts`, complete."""
    return _quarter_table(_age_long(df, wcols, grids.tasks, keys),
                          sorted(grids.tasks + [ALL_TASKS]), "age_group", sorted(AGE_GROUPS),
                          grids, bases.result()["age"])


def _quarter_table(found: pd.DataFrame, tasks: list[str], kind: str, kinds: list[str],
                   grids: _Grids, bases: pd.DataFrame) -> pd.DataFrame:
    """A quarter table (counts, cwa_counts, age_counts) complete: every quarter ×
    municipality × task × ``kind`` (source or age group), with the county, the population
    base (of the task for a source, of the age group for an age group) and the share,
    sorted by quarter, municipality, task and ``kind``."""
    qnames, codes = grids.qnames, sorted(grids.codes)
    idx, clients = _filled({"quarter": qnames, "municipality_code": codes,
                            "service_task": tasks, kind: kinds}, found)
    qi, mi, ti, ki = idx
    county = grids.mun.set_index("municipality_code")["county_code"]
    years = sorted(set(grids.qyear["year"]))
    qy = pd.Index(years).get_indexer(grids.qyear.set_index("quarter")["year"][qnames])
    by = {"municipality_code": (codes, mi), "year": (years, qy[qi])}
    by.update({"service_task": (tasks, ti)} if kind == "source" else {kind: (kinds, ki)})
    out = pd.DataFrame({"quarter": _text(qnames, qi), "municipality_code": _text(codes, mi),
                        "county_code": _text(list(county[codes]), mi),
                        "service_task": _text(tasks, ti), kind: _text(kinds, ki),
                        "clients": clients})
    out["population_base"] = _base_of(bases, by)
    out["share_pct"] = _share(out["clients"], out["population_base"])
    return out


def _with_base(df: pd.DataFrame, bases: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``df`` with its population base (from ``bases``, joined on ``on``) and share."""
    out = df.merge(bases, on=on, how="left")
    out["population_base"] = out["population_base"].astype("Int64")
    out["share_pct"] = _share(out["clients"], out["population_base"])
    return out


def _task_set_tables(df: pd.DataFrame, specs: list[dict], keys: _Keys, grids: _Grids
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """multi_task (clients of both tasks of every pair) and tasks_per_client (clients by
    their number of tasks), by quarter and county (and the whole country, ALL), complete
    (from :func:`_task_sets`)."""
    qnames, counties, tasks = grids.qnames, grids.counties, grids.tasks
    pairs, per_client = _task_set_frames(df, specs, tasks, keys)
    pair_list = [(a, b) for a, b in combinations(sorted(tasks), 2)]
    g = pd.DataFrame([(q, k, a, b) for q in qnames for k in counties + ["ALL"]
                      for a, b in pair_list], columns=["quarter", "county_code", "task_a", "task_b"])
    c = _complete(g, pairs, ["quarter", "county_code", "task_a", "task_b"])
    multi = c.sort_values(["quarter", "county_code", "task_a", "task_b"]).reset_index(drop=True)
    per_client["n_tasks"] = per_client["n_tasks"].astype("int64")
    g = _grid(quarter=qnames, county_code=counties + ["ALL"])
    g = g.merge(pd.DataFrame({"n_tasks": np.arange(1, len(tasks) + 1, dtype="int64")}),
                how="cross")
    c = g.merge(per_client.astype({"quarter": str, "county_code": str}),
                on=["quarter", "county_code", "n_tasks"], how="left")
    c["clients"] = c["clients"].fillna(0).astype("int64")
    return multi, c.sort_values(["quarter", "county_code", "n_tasks"]).reset_index(drop=True)


def _year_table(found: pd.DataFrame | None, year_all: pd.DataFrame, years: list[int],
                population: pd.DataFrame, mun: pd.DataFrame, tb: pd.DataFrame,
                tasks: list[str]) -> pd.DataFrame:
    """year_counts: clients by calendar year, municipality, task and source, with the
    distinct clients of any task over the year (task 'kaikki', source ALL); empty (typed)
    without ``years``."""
    codes = list(mun["municipality_code"])
    ycols = ["year", "municipality_code", "county_code", "service_task", "source", "clients",
             "population_base", "share_pct"]
    if years:
        g = _grid(year=[str(y) for y in years], municipality_code=codes, service_task=tasks,
                  source=SOURCES)
        c = _complete(g, found, ["year", "municipality_code", "service_task", "source"])
        c["year"] = c["year"].astype("int64")
        c = c.merge(mun, on="municipality_code")
        c["pop_year"] = c["year"] - 1
        c = _with_base(c, tb.rename(columns={"year": "pop_year"}),
                      ["municipality_code", "pop_year", "service_task"])
        # distinct clients of any task over the year (service_task 'kaikki', source ALL),
        # base: the whole population of the year before
        tot = population.groupby(["municipality_code", "year"], as_index=False)[
            "population"].sum().rename(columns={"population": "population_base",
                                                "year": "pop_year"})
        g = _grid(year=[str(y) for y in years], municipality_code=codes)
        a = _complete(g, year_all, ["year", "municipality_code"])
        a["year"] = a["year"].astype("int64")
        a = a.merge(mun, on="municipality_code").assign(service_task=ALL_TASKS, source="ALL")
        a["pop_year"] = a["year"] - 1
        a = _with_base(a, tot, ["municipality_code", "pop_year"])
        c = pd.concat([c[ycols], a[ycols]], ignore_index=True)
        return c[ycols].sort_values(ycols[:5]).reset_index(drop=True)
    return pd.DataFrame({k: pd.Series(dtype="int64" if k in (
        "year", "clients", "population_base") else "float64" if k == "share_pct" else str)
        for k in ycols})


def _monthly_table(found: pd.DataFrame, qs: list[Quarter], codes: list[str],
                   tasks: list[str]) -> pd.DataFrame:
    """monthly: active clients by month, municipality, task and source, complete, sorted
    by quarter, municipality, task, source and month."""
    qnames, codes, tasks = [str(q) for q in qs], sorted(codes), sorted(tasks)
    months = [m for q in qs for m in q.months]
    # the month as its quarter and its place in the quarter (0-2): a quarter's months are
    # the last axis of the grid, so the rows come sorted
    m = pd.Index(months).get_indexer(found["month"].astype(str))
    if (m < 0).any():
        raise KeyError(f"unexpected value {found['month'][m < 0].iloc[0]!r}")
    found = found.assign(quarter=np.array(qnames, dtype=object)[m // 3], m3=m % 3)
    idx, clients = _filled({"quarter": qnames, "municipality_code": codes,
                            "service_task": tasks, "source": sorted(SOURCES), "m3": [0, 1, 2]},
                           found)
    qi, mi, ti, si, k = idx
    return pd.DataFrame({"quarter": _text(qnames, qi), "municipality_code": _text(codes, mi),
                         "service_task": _text(tasks, ti), "source": _text(sorted(SOURCES), si),
                         "month": _text(months, qi * 3 + k), "clients": clients})
