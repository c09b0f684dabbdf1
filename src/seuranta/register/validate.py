"""Validation of the register rows: declared rules, quarantine, flags and the rows ledger.

Every check is one :class:`Rule` with a stable reason code, a Finnish description (shown
in the book's data description) and an SQL predicate that is true when a row FAILS it.
A row gets the code of the first rule it fails, in the declared order of :data:`RULES`;
rows that fail none are accepted. The 2nd..nth copy of an exactly duplicated row (same
original values in every contract column, in any file) is rejected as ``duplicate_row``.

Unusual ages for a task (:data:`FLAGS`, thresholds in ``parameters.yml`` ``register:``)
do not reject a row: they are counted in the ledger and in the ``flags`` table.

Tables created in the DuckDB connection: ``checked`` (every raw row with its ``reason``,
NULL when accepted, and its typed values; municipality, county and task as the integer
indexes ``mi``, ``ci`` and ``ti`` of tables ``ref_mun`` and ``ref_task``, the source as
``et``, true for ET) and the view ``periods`` (the accepted rows). Everything that varies
(extract date, age limits, reference codes) reaches SQL as bound parameters or via small
tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.params import complete
from seuranta.register.ingest import REGISTER_COLUMNS


@dataclass(frozen=True)
class Rule:
    """One validation check: ``sql_predicate`` is true for a row that fails it."""

    code: str
    description_fi: str
    sql_predicate: str


def _blank(col: str) -> str:
    """SQL: the column is empty (NULL, '' or only spaces); the trim runs only when needed."""
    return f"({col} IS NULL OR {col} = '' OR (starts_with({col}, ' ') AND trim({col}) = ''))"


#: Columns that must not be empty (birth_year has its own rule).
REQUIRED = ["client_id", "municipality_code", "service_task", "start_date", "source"]

#: The checks in the order they are applied (first failing rule wins). Values are
#: compared as read (no trimming): " 091" is an unknown municipality, not Helsinki.
RULES: list[Rule] = [
    Rule("missing_field",
         "Pakollinen tieto puuttuu (asiakastunnus, kunta, palvelutehtävä, alkupäivä tai lähde)",
         " OR ".join(_blank(c) for c in REQUIRED)),
    Rule("bad_client_id",
         "Asiakastunnus on liian pitkä tai sisältää ohjaus- tai tyhjämerkkejä alussa tai lopussa",
         "NOT client_id_ok"),
    Rule("unknown_service_task", "Tuntematon palvelutehtävä", "NOT task_known"),
    Rule("unknown_municipality", "Tuntematon kuntakoodi", "ref_county IS NULL"),
    Rule("aland", "Ahvenanmaan kunta (ei rekisterin piirissä)", "ref_county = $aland"),
    Rule("bad_source", "Tuntematon lähde (sallitut SHA ja ET)", "source NOT IN ('SHA', 'ET')"),
    Rule("bad_date", "Alku- tai loppupäivä ei ole päivämäärä muodossa VVVV-KK-PP",
         "d_start IS NULL OR (NOT end_blank AND d_end IS NULL)"),
    Rule("end_before_start", "Jakso päättyy ennen alkamistaan", "d_end < d_start"),
    Rule("start_after_extract", "Jakso alkaa poiminnan päivämäärän jälkeen",
         "d_start > $extract_date"),
    Rule("start_before_min_year", "Jakso alkaa ennen rekisterin varhaisinta hyväksyttyä vuotta",
         "year(d_start) < $min_start_year"),
    Rule("birth_year_missing", "Syntymävuosi puuttuu", _blank("birth_year")),
    Rule("birth_year_impossible",
         "Syntymävuosi ei ole vuosiluku, on jakson alkamisvuoden jälkeen tai ikä yli enimmäisiän",
         "birth_y IS NULL OR birth_y > year(d_start) OR year(d_start) - birth_y > $max_age"),
    Rule("bad_child_welfare_act", "Lastensuojelulain mukaisuuden tieto ei ole 0, 1 tai tyhjä",
         f"NOT {_blank('child_welfare_act')} AND child_welfare_act NOT IN ('0', '1')"),
    Rule("duplicate_row", "Täsmälleen sama rivi toistamiseen", "is_dup"),
]

REASON_CODES = [r.code for r in RULES]

#: Flags on accepted rows (not rejections): code and Finnish description.
FLAGS = {"age_unusual_for_task": "Ikä jakson alkaessa epätavallinen palvelutehtävälle"}

#: A valid client id (RE2, full match): no control character (U+0000..U+001F, U+007F)
#: anywhere and no white space at either end. Ids are compared as given, never trimmed:
#: " a1" and "a1" would be two people, so an id with surrounding spaces is rejected
#: (bad_client_id) instead of being silently merged or split.
CLIENT_ID_PATTERN = r"[^\x00-\x20\x7f]([^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?"


def rules_table() -> pd.DataFrame:
    """The declared rules as a table (code, description_fi, order) for the book."""
    return pd.DataFrame({"order": range(1, len(RULES) + 1), "code": REASON_CODES,
                         "description_fi": [r.description_fi for r in RULES]})


def _reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Tables ref_mun(municipality_code, county_code, mi, ci) and ref_task(service_task, ti):
    the reference codes with their integer indexes (mi: position in
    :func:`reference.municipalities`, ci: position of the county code among the sorted
    county codes, ti: position in :func:`reference.task_codes`), which the counts use as
    compact keys."""
    mun = reference.municipalities()[["municipality_code", "county_code"]].astype(str)
    counties = sorted(mun["county_code"].unique())
    mun = mun.assign(mi=range(len(mun)), ci=pd.Index(counties).get_indexer(mun["county_code"]))
    mun = mun.astype({"mi": "int32", "ci": "int32"})
    codes = reference.task_codes()
    tasks = pd.DataFrame({"service_task": pd.Series(codes, dtype=str),
                          "ti": pd.Series(range(len(codes)), dtype="int32")})
    con.register("_ref_mun_df", mun)
    con.register("_ref_task_df", tasks)
    con.execute("CREATE OR REPLACE TABLE ref_mun AS SELECT * FROM _ref_mun_df")
    con.execute("CREATE OR REPLACE TABLE ref_task AS SELECT * FROM _ref_task_df")
    con.unregister("_ref_mun_df")
    con.unregister("_ref_task_df")


def _checked_sql() -> str:
    case = "\n".join(f"WHEN {r.sql_predicate} THEN '{r.code}'" for r in RULES)
    # GLOB with [0-9] classes = a full match of the regular expression [0-9]{4}-..., faster
    date_ok = ("length({c}) = 10 AND substr({c}, 5, 1) = '-' AND substr({c}, 8, 1) = '-' "
               "AND {c} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'")
    return f"""
CREATE TABLE checked AS
WITH t AS (
  SELECT r.rowid AS raw_id, r.file_idx, r.*, m.county_code AS ref_county, m.mi, m.ci, k.ti,
         (k.service_task IS NOT NULL) AS task_known,
         (length(r.client_id) <= $client_id_max_length
          AND regexp_full_match(r.client_id, '{CLIENT_ID_PATTERN}')) AS client_id_ok,
         {_blank('r.end_date')} AS end_blank,
         CASE WHEN {date_ok.format(c='r.start_date')} THEN try_cast(r.start_date AS DATE) END
           AS d_start,
         CASE WHEN {date_ok.format(c='r.end_date')} THEN try_cast(r.end_date AS DATE) END
           AS d_end,
         CASE WHEN length(r.birth_year) = 4 AND r.birth_year GLOB '[0-9][0-9][0-9][0-9]'
              THEN CAST(r.birth_year AS INTEGER) END AS birth_y,
         (d.raw_id IS NOT NULL) AS is_dup,
         coalesce(d.first_file_idx <> d.file_idx, false) AS cross_dup
  FROM raw r
  LEFT JOIN ref_mun m ON m.municipality_code = r.municipality_code
  LEFT JOIN ref_task k ON k.service_task = r.service_task
  LEFT JOIN dup d ON d.raw_id = r.rowid
)
SELECT raw_id, file_idx, client_id, birth_y, mi, ci, ti, source = 'ET' AS et, d_start, d_end,
       child_welfare_act = '1' AS cwa,
       cross_dup,
       CASE
{case}
       ELSE NULL END AS reason
FROM t
"""


def _duplicates_sql() -> str:
    """Table dup(raw_id, file_idx, first_file_idx): the 2nd..nth copy of exactly equal rows,
    with the file of the row and of its first copy.

    Rows are first grouped by a hash of all columns (cheap); only rows whose hash occurs
    more than once are compared exactly, so a hash collision cannot reject a row.
    """
    cols = ", ".join(f'"{c}"' for c in REGISTER_COLUMNS)
    return f"""
CREATE TABLE dup AS
WITH h AS (SELECT rowid AS raw_id, hash({cols}) AS h FROM raw),
cand AS (SELECT h FROM h GROUP BY h HAVING count(*) > 1),
cr AS (SELECT r.rowid AS raw_id, r.* FROM raw r
       WHERE r.rowid IN (SELECT raw_id FROM h WHERE h IN (SELECT h FROM cand)))
SELECT raw_id, file_idx, first_file_idx FROM (
  SELECT raw_id, file_idx,
         row_number() OVER (PARTITION BY {cols} ORDER BY raw_id) AS copy_no,
         first_value(file_idx) OVER (PARTITION BY {cols} ORDER BY raw_id) AS first_file_idx
  FROM cr)
WHERE copy_no > 1
"""


def validate(con: duckdb.DuckDBPyConnection, extract_date: dt.date,
             register_params: dict | None = None) -> None:
    """Create tables ``checked`` and ``periods`` from ``raw`` (see the module docstring)."""
    rp = complete("register", register_params)
    _reference_tables(con)
    con.execute(_duplicates_sql())
    con.execute(_checked_sql(), {
        "extract_date": extract_date, "aland": reference.ALAND_COUNTY,
        "max_age": int(rp["max_age"]), "min_start_year": int(rp["min_start_year"]),
        "client_id_max_length": int(rp["client_id_max_length"])})
    con.execute("""
CREATE VIEW periods AS
SELECT client_id, birth_y AS birth_year, mi, ci, ti, et, d_start AS start_date,
       d_end AS end_date, coalesce(cwa, false) AS cwa
FROM checked WHERE reason IS NULL
""")


#: Characters of a rejected value shown in the rejected table.
SHOWN_CHARS = 100


def rejected(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected rows: source_file, row_number, reason and the original values as text
    (a NUL shown as ``\\0`` and a value longer than :data:`SHOWN_CHARS` cut there with
    ``…``, so that one faulty field cannot make the table unreadable)."""
    def shown(c: str) -> str:
        v = f'replace(r."{c}", chr(0), \'\\0\')'
        return (f'CASE WHEN length(r."{c}") > {SHOWN_CHARS} THEN left({v}, {SHOWN_CHARS}) '
                f"|| '…' ELSE {v} END AS \"{c}\"")
    cols = ", ".join(shown(c) for c in REGISTER_COLUMNS)
    df = con.execute(f"""
SELECT f.source_file, c.raw_id - f.first_rowid + 1 AS row_number, c.reason, {cols}
FROM (SELECT raw_id, file_idx, reason FROM checked WHERE reason IS NOT NULL) c
JOIN files f USING (file_idx)
JOIN (SELECT rowid AS raw_id, * FROM raw) r USING (raw_id)
ORDER BY c.file_idx, row_number""").fetchdf()
    df["row_number"] = df["row_number"].astype("int64")
    return df


def flag_limits(register_params: dict | None = None) -> pd.DataFrame:
    """Age limits of the unusual-age flag: service_task, min_age, max_age (NA = none)."""
    limits = complete("register", register_params)["unusual_age"]
    rows = [(t, v.get("min_age"), v.get("max_age")) for t, v in limits.items()]
    return pd.DataFrame(rows, columns=["service_task", "min_age", "max_age"]).astype(
        {"service_task": str, "min_age": "Int64", "max_age": "Int64"})


def flags(con: duckdb.DuckDBPyConnection, register_params: dict | None = None) -> pd.DataFrame:
    """Flagged accepted rows by municipality_code, county_code, service_task, flag: rows.

    Age is taken at the period's start (start year - birth year). No client ids.
    """
    lim = flag_limits(register_params)
    con.register("_flag_limits", lim)
    try:
        df = con.execute("""
SELECT m.municipality_code, m.county_code, k.service_task, 'age_unusual_for_task' AS flag,
       count(*) AS rows
FROM periods p JOIN ref_mun m USING (mi) JOIN ref_task k USING (ti)
JOIN _flag_limits l ON l.service_task = k.service_task
WHERE year(p.start_date) - p.birth_year < coalesce(l.min_age, -1)
   OR year(p.start_date) - p.birth_year > coalesce(l.max_age, 100000)
GROUP BY ALL ORDER BY 1, 3, 4""").fetchdf()
    finally:
        con.unregister("_flag_limits")
    df["rows"] = df["rows"].astype("int64")
    return df


#: SQL (on ``checked``): the row is rejected only as a copy of a row of another file.
_REPEATED = "(reason = 'duplicate_row' AND cross_dup)"


def file_outcomes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows read and rejected per register file: source_file, read, rejected. Rows that only
    repeat a row of another file (a period in two yearly extracts, rejected as
    duplicate_row) are not counted as rejected here: the quarantine threshold is about
    faulty rows, and such a row is counted once (in its first file)."""
    df = con.execute(f"""
SELECT f.source_file, f.rows AS read, coalesce(c.rejected, 0) AS rejected
FROM files f LEFT JOIN (SELECT file_idx, count(*) AS rejected FROM checked
                        WHERE reason IS NOT NULL AND NOT {_REPEATED} GROUP BY file_idx) c
     USING (file_idx)
ORDER BY f.file_idx""").fetchdf()
    return df.astype({"read": "int64", "rejected": "int64"})


def duplicate_pairs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows of a file that repeat rows of an earlier file, per pair: first_file, file, rows
    (rejected as duplicate_row, counted once)."""
    return con.execute(f"""
SELECT f1.source_file AS first_file, f2.source_file AS file, count(*) AS rows
FROM checked c JOIN dup d USING (raw_id)
JOIN files f1 ON f1.file_idx = d.first_file_idx JOIN files f2 ON f2.file_idx = d.file_idx
WHERE {_REPEATED} GROUP BY ALL ORDER BY 1, 2""").fetchdf().astype({"rows": "int64"})


def _copy_rank(name: str) -> tuple:
    """Which of two files with the same rows is the copy: the longer name ("extract -
    kopio.csv", "extract (2).csv"), then the later one."""
    return (len(Path(name).name), name)


def check_copies(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame) -> None:
    """Refuse a register file all of whose rows repeat rows of one other file (a copy saved
    under another name, a stale older extract), naming the copy, not the original."""
    if pairs.empty:
        return
    read = dict(con.execute("SELECT source_file, rows FROM files").fetchall())
    for r in pairs.itertuples(index=False):
        a, b = r.first_file, r.file          # b's rows repeat a's
        if r.rows != read[b] or r.rows == 0:
            continue
        copy, original = (b, a)
        if read[a] == read[b] and _copy_rank(a) > _copy_rank(b):
            copy, original = a, b
        raise InputError(f"{copy}: every row ({read[copy]}) is also in {original}: a copy of "
                         "another register file (remove the copy; a file is read once)")



def check_quarantine(outcomes: pd.DataFrame, con: duckdb.DuckDBPyConnection,
                     register_params: dict | None = None) -> None:
    """Stop the run (InputError) when the rejected share of a file or of the whole register
    is above ``register.max_rejected_share``: a file whose columns were misread, typed
    values cast wrongly or a wrong extract would otherwise publish on a fraction of its
    rows. The message names the file, the share and the most common reason."""
    limit = complete("register", register_params)["max_rejected_share"]
    if limit is None:
        return
    limit = float(limit)

    def top_reason(file_idx=None) -> str:
        where = (f"reason IS NOT NULL AND NOT {_REPEATED}"
                 + ("" if file_idx is None else " AND file_idx = ?"))
        r = con.execute(f"SELECT reason, count(*) AS n FROM checked WHERE {where} "
                        "GROUP BY reason ORDER BY n DESC, reason LIMIT 1",
                        [] if file_idx is None else [file_idx]).fetchall()
        return f"{r[0][0]} {r[0][1]} rows" if r else ""

    def share(rej, read) -> float:
        return rej / read if read else 0.0

    for i, r in enumerate(outcomes.itertuples(index=False)):
        if share(r.rejected, r.read) > limit:
            raise InputError(
                f"{r.source_file}: {100 * share(r.rejected, r.read):.1f} % of rows rejected "
                f"({r.rejected} of {r.read}; most: {top_reason(i)}), above "
                f"register.max_rejected_share {100 * limit:g} %: nothing published")
    rej, read = int(outcomes["rejected"].sum()), int(outcomes["read"].sum())
    if share(rej, read) > limit:
        raise InputError(
            f"register: {100 * share(rej, read):.1f} % of rows rejected ({rej} of {read}; "
            f"most: {top_reason()}), above register.max_rejected_share {100 * limit:g} %: "
            "nothing published")


def ledger(con: duckdb.DuckDBPyConnection, flags_df: pd.DataFrame,
           files_info: list[dict] | None = None, pairs: pd.DataFrame | None = None
           ) -> pd.DataFrame:
    """Rows ledger: item (read/accepted/rejected/flagged/file/converted/repeated), reason,
    rows. ``pairs`` (:func:`duplicate_pairs`): one ``repeated`` row per file pair, "B
    repeats A", with the rows of B rejected as duplicate_row because A has them.

    Every declared reason code appears (0 when none); accepted + rejected = read. With
    ``files_info`` (from :func:`seuranta.register.ingest.load_register`) one ``file`` row
    per register file gives its rows read (they add up to read), and one ``converted``
    row per Parquet column whose values were turned into text by a rule.
    """
    n_read = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    by_reason = dict(con.execute(
        "SELECT reason, count(*) FROM checked WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall())
    n_acc = con.execute("SELECT count(*) FROM checked WHERE reason IS NULL").fetchall()[0][0]
    rows = [("read", "", n_read), ("accepted", "", n_acc)]
    rows += [("rejected", code, int(by_reason.get(code, 0))) for code in REASON_CODES]
    fl = flags_df.groupby("flag")["rows"].sum() if len(flags_df) else pd.Series(dtype="int64")
    rows += [("flagged", code, int(fl.get(code, 0))) for code in FLAGS]
    for f in files_info or []:
        rows.append(("file", f["source_file"], int(f["rows"])))
    for f in files_info or []:
        for col, (label, n) in sorted((f.get("converted") or {}).items()):
            rows.append(("converted", f"{f['source_file']}: {col} ({label})", int(n)))
    if pairs is not None:
        for p in pairs.itertuples(index=False):
            rows.append(("repeated", f"{p.file} repeats {p.first_file}", int(p.rows)))
    out = pd.DataFrame(rows, columns=["item", "reason", "rows"])
    out["rows"] = out["rows"].astype("int64")
    if n_acc + sum(by_reason.values()) != n_read:   # cannot happen: every row has one outcome
        raise AssertionError("rows ledger does not balance")
    if files_info is not None and sum(int(f["rows"]) for f in files_info) != n_read:
        raise AssertionError("rows ledger: the files' rows do not add up to the rows read")
    return out
