"""Reading the register extract (``DATA/register/``) into DuckDB, every value as text.

The register is one or many CSV (UTF-8 by default, comma, header) or Parquet files. Each
file is appended to the DuckDB table ``raw`` with every contract column as VARCHAR, so
that a faulty value can be quarantined later with its original text, and with the file
it came from (``source_file``) and its 1-based data row number (``row_number``; the CSV
header is not counted).

Structural faults stop the run with :class:`seuranta.errors.InputError` and a one-line
message: no ``register/`` folder, no register files, an unreadable or wrongly encoded
file, a missing column, an empty register.

The row-level work runs in an embedded DuckDB (out-of-core: ``memory_limit`` and a
``temp_directory`` for spilling, from ``parameters.yml`` ``register.duckdb``). File paths
and every other value reach SQL as bound parameters; the few SQL fragments that vary
(reader options, column lists) are chosen from constants in this module, never built
from input text.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from seuranta.core.errors import InputError
from seuranta.core.params import defaults
from seuranta.core.quarters import TIME_ZONE

#: Columns of the register (docs/data-contract.md section 1), in order.
REGISTER_COLUMNS = ["client_id", "birth_year", "municipality_code", "service_task",
                    "start_date", "end_date", "source", "child_welfare_act"]

#: Columns that may be absent from a file (then read as empty).
OPTIONAL_COLUMNS = {"child_welfare_act"}

#: The longest line of a register CSV (bytes): DuckDB's default (2 MB) made a file unreadable
#: for one long value in a column the register ignores (a free-text note of the source).
#: DuckDB reserves 16 times this for a latin-1 file: 8 MB keeps that at 128 MB.
MAX_LINE_BYTES = 8 * 2**20

#: Accepted names of --encoding and the DuckDB reader option each one selects.
_CSV_READERS = {
    enc: ("read_csv(?, header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
          f"auto_detect=false, columns=?, encoding='{enc}', max_line_size={MAX_LINE_BYTES})")
    for enc in ("utf-8", "latin-1")
}
ENCODING_ALIASES = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
                    "iso-8859-1": "latin-1", "iso8859-1": "latin-1"}

_RAW_DDL = ("CREATE TABLE raw (file_idx INTEGER, "
            + ", ".join(f'"{c}" VARCHAR' for c in REGISTER_COLUMNS) + ")")

DEFAULT_DUCKDB = dict(defaults("register")["duckdb"])


def normalise_encoding(encoding: str) -> str:
    key = str(encoding).strip().lower()
    if key not in ENCODING_ALIASES:
        raise InputError(f"unsupported encoding {encoding!r} (use utf-8 or latin-1)")
    return ENCODING_ALIASES[key]


@contextlib.contextmanager
def connect(register_params: dict | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with bounded memory, 2 threads and a temporary spill folder."""
    conf = {**DEFAULT_DUCKDB, **((register_params or {}).get("duckdb") or {})}
    own_tmp = conf.get("temp_directory") is None
    tmp = Path(tempfile.mkdtemp(prefix="seuranta-duckdb-")) if own_tmp else Path(
        conf["temp_directory"])
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "memory_limit": str(conf["memory_limit"]),
        "threads": int(conf["threads"]),
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,   # row numbers come from insertion order
    })
    try:
        con.execute(f"SET TimeZone = '{TIME_ZONE}'")   # never the machine's zone
        yield con
    finally:
        con.close()
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


#: Suffixes of register files (lower case): plain CSV, gzip-compressed CSV, Parquet.
REGISTER_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def _kind(path: Path) -> str | None:
    """'csv', 'csv.gz' or 'parquet' from the file name, None for any other name."""
    name = path.name.lower()
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix[1:]
    return None


def _refusal(path: Path, reg: Path, subfolders: bool) -> str | None:
    """Why a directory entry under register/ cannot be read (None: it is a register file
    or a readable sub-folder)."""
    if path.name.startswith("."):
        return ("hidden file or folder (an editor's, a sync tool's or an old copy; hidden "
                "entries are never read: remove it, or rename it if it is part of the extract)")
    if path.is_symlink():
        if not path.exists():
            return "broken symbolic link (its target does not exist)"
        if path.is_dir():
            return ("symbolic link to a folder (copy the files into register/ instead; "
                    "linked folders are not read)")
    if path.is_dir():
        if not subfolders:
            return ("sub-folder (register files must lie directly in register/: move them "
                    "there, remove stale copies, or set register.subfolders: true)")
        return None
    if not path.is_file():
        return "not a regular file"
    if _kind(path) is None:
        return ("unknown file type (register files are " + ", ".join(REGISTER_SUFFIXES)
                + ")")
    return None


def register_files(data_dir: Path, subfolders: bool = False) -> list[Path]:
    """The register files under DATA/register/, sorted by path.

    Every entry is accounted for: a CSV (``.csv``, ``.csv.gz``) or Parquet file is read;
    any other entry (another suffix, a broken link, a linked folder, a sub-folder unless
    ``subfolders``) stops the run with a one-line :class:`InputError` naming it. With
    ``subfolders`` the files of sub-folders (not of linked folders) are read too.
    """
    reg = Path(data_dir) / "register"
    if not reg.is_dir():
        raise InputError(f"no register folder: {reg}")
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    stack = [reg]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError as e:
            raise InputError(f"{folder}: cannot list the folder ({e.strerror})") from None
        for p in entries:
            why = _refusal(p, reg, subfolders)
            if why is not None:
                refused.append((p, why))
            elif p.is_dir():
                stack.append(p)
            else:
                files.append(p)
    if refused:
        refused.sort()
        p, why = refused[0]
        more = f" (and {len(refused) - 1} more entries)" if len(refused) > 1 else ""
        raise InputError(f"{p}: {why}{more}")
    if not files:
        raise InputError(f"no register files ({', '.join('*' + s for s in REGISTER_SUFFIXES)})"
                         f" in {reg}")
    return sorted(files)


def _csv_header(path: Path, encoding: str) -> list[str]:
    try:
        if _kind(path) == "csv.gz":
            with gzip.open(path, "rt", encoding=encoding, newline="") as f:
                line = f.readline()
        else:
            with open(path, encoding=encoding, newline="") as f:
                line = f.readline()
    except (gzip.BadGzipFile, EOFError):
        raise InputError(f"{path}: not a gzip file (the name ends in .gz)") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not {encoding} text (try --encoding latin-1)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if not line.strip():
        raise InputError(f"{path}: empty file (no header line)")
    return [c.strip().strip('"').lstrip("\ufeff") for c in line.rstrip("\r\n").split(",")]


def _check_columns(path: Path, columns: list[str]) -> list[str]:
    missing = [c for c in REGISTER_COLUMNS if c not in columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        raise InputError(f"{path}: duplicate column(s) {', '.join(dups)}")
    return missing


def _one_line(e: Exception) -> str:
    first = str(e).strip().splitlines()
    return first[0] if first else type(e).__name__


def _csv_select(header: list[str]) -> str:
    parts = []
    for c in REGISTER_COLUMNS:
        parts.append(f'"{c}"' if c in header else f'CAST(NULL AS VARCHAR) AS "{c}"')
    return ", ".join(parts)


#: Code columns whose integer values are zero-padded (Parquet writers turn '005' into 5).
CODE_WIDTH = {"municipality_code": 3}

_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT", "UHUGEINT")


def _parquet_conversion(column: str, dtype: str) -> tuple[str, str | None]:
    """(SQL expression giving the column as text, conversion label or None when the
    column is text already). Only constants and contract column names reach the SQL."""
    q = f'"{column}"'
    width = CODE_WIDTH.get(column)
    if dtype == "VARCHAR":
        return q, None
    if dtype == "BOOLEAN":
        return f"CAST(CAST({q} AS INTEGER) AS VARCHAR)", "boolean as 0/1"
    is_int = dtype in _INT_TYPES
    if is_int or dtype.startswith(("DOUBLE", "FLOAT", "DECIMAL", "REAL")):
        # a whole number as its digits (1945.0 -> '1945'); any other number as DuckDB
        # writes it, so that the rules reject it with its text
        whole = (f"CAST({q} AS VARCHAR)" if is_int else
                 f"CASE WHEN {q} = floor({q}) AND abs({q}) < 1e15 "
                 f"THEN CAST(CAST({q} AS BIGINT) AS VARCHAR) ELSE CAST({q} AS VARCHAR) END")
        if width:
            return (f"CASE WHEN {q} >= 0 AND {q} < {10 ** width} AND {q} = floor({q}) "
                    f"THEN lpad(CAST(CAST({q} AS BIGINT) AS VARCHAR), {width}, '0') "
                    f"ELSE {whole} END",
                    f"{dtype.lower()} as a {width}-digit code")
        return whole, ("integer as text" if is_int else f"{dtype.lower()} as a whole number")
    if dtype == "TIMESTAMP WITH TIME ZONE":   # the date in Finland, whatever the machine's TZ
        return (f"strftime(CAST(timezone('{TIME_ZONE}', {q}) AS DATE), '%Y-%m-%d')",
                f"timestamp with time zone as YYYY-MM-DD in {TIME_ZONE}")
    if dtype == "DATE" or dtype.startswith("TIMESTAMP"):
        kind = "date" if dtype == "DATE" else "timestamp"   # any unit; local time of TIME_ZONE
        return f"strftime(CAST({q} AS DATE), '%Y-%m-%d')", f"{kind} as YYYY-MM-DD"
    return f"CAST({q} AS VARCHAR)", f"{dtype.lower()} as text"


def _parquet_select(schema: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The SELECT list of a Parquet file and {column: conversion label}."""
    parts, conversions = [], {}
    for c in REGISTER_COLUMNS:
        if c not in schema:
            parts.append(f'CAST(NULL AS VARCHAR) AS "{c}"')
            continue
        expr, label = _parquet_conversion(c, schema[c])
        parts.append(f'{expr} AS "{c}"')
        if label:
            conversions[c] = label
    return ", ".join(parts), conversions


def load_register(con: duckdb.DuckDBPyConnection, data_dir: Path,
                  encoding: str = "utf-8", subfolders: bool = False) -> list[dict]:
    """Append every register file to table ``raw``; returns one dict per file:
    file_idx, source_file, first_rowid, rows and converted ({column: (label, values)},
    the Parquet values turned into text by a rule).

    Also creates table ``files(file_idx, source_file, first_rowid, rows)``; the row
    number of a raw row is ``rowid - first_rowid + 1``.
    """
    enc = normalise_encoding(encoding)
    files = register_files(data_dir, subfolders)
    base = Path(data_dir)
    con.execute(_RAW_DDL)
    info = _load_csv_files_at_once(con, files, enc, base)
    if info is None:
        info = _load_each_file(con, files, enc, base)
    total = sum(d["rows"] for d in info)
    if total == 0:
        raise InputError(f"the register is empty: no data rows in {base / 'register'}")
    con.execute("CREATE TABLE files (file_idx INTEGER, source_file VARCHAR, "
                "first_rowid BIGINT, rows BIGINT)")
    con.executemany("INSERT INTO files VALUES (?, ?, ?, ?)",
                    [[d["file_idx"], d["source_file"], d["first_rowid"], d["rows"]] for d in info])
    return info


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _load_csv_files_at_once(con: duckdb.DuckDBPyConnection, files: list[Path], enc: str,
                            base: Path) -> list[dict] | None:
    """Plain CSV files with the same header, read into ``raw`` by one query (DuckDB parses
    several files at once: one file's rows are parsed by one thread); the rows keep the
    order of the files and of the rows in each, as when the files are read one by one.
    None (``raw`` left empty) when the files are not all such, or when a file is faulty:
    :func:`_load_each_file` then reads them one by one and names the faulty file."""
    if len(files) < 2 or any(_kind(p) != "csv" for p in files):
        return None
    try:
        headers = {tuple(_csv_header(p, enc)) for p in files}
    except InputError:   # reported by _load_each_file, after the faults of earlier files
        return None
    if len(headers) != 1:
        return None
    header = list(headers.pop())
    if "filename" in header or len(set(header)) != len(header) or any(
            c not in header for c in REGISTER_COLUMNS if c not in OPTIONAL_COLUMNS):
        return None
    names = [str(p) for p in files]
    reader = _CSV_READERS[enc].replace("max_line_size=", "filename=true, max_line_size=")
    try:
        con.execute(f"INSERT INTO raw SELECT CAST(list_position(?, filename) - 1 AS INTEGER), "
                    f"{_csv_select(header)} FROM {reader}",
                    [names, names, {c: "VARCHAR" for c in header}])
    except duckdb.Error:
        con.execute("DROP TABLE raw")   # a new table: row ids from 0 again
        con.execute(_RAW_DDL)
        return None
    rows = dict(con.execute("SELECT file_idx, count(*) FROM raw GROUP BY file_idx").fetchall())
    info, total = [], 0
    for idx, path in enumerate(files):
        n = int(rows.get(idx, 0))
        info.append({"file_idx": idx, "source_file": _relative(path, base),
                     "first_rowid": total, "rows": n, "converted": {}})
        total += n
    return info


def _load_each_file(con: duckdb.DuckDBPyConnection, files: list[Path], enc: str,
                    base: Path) -> list[dict]:
    """Append the register files to ``raw`` one by one (see :func:`load_register`)."""
    info: list[dict] = []
    total = 0
    for idx, path in enumerate(files):
        rel = _relative(path, base)
        conversions: dict[str, str] = {}
        if _kind(path) in ("csv", "csv.gz"):
            header = _csv_header(path, enc)
            _check_columns(path, header)
            colspec = {c: "VARCHAR" for c in header}
            if len(colspec) != len(header):
                raise InputError(f"{path}: duplicate column names in the header")
            sql = (f"INSERT INTO raw SELECT ?, {_csv_select(header)} "
                   f"FROM {_CSV_READERS[enc]}")
            args = [idx, str(path), colspec]
        else:
            try:
                desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
            except duckdb.Error as e:
                raise InputError(f"{path}: unreadable Parquet file ({_one_line(e)})") from None
            schema = {r[0]: r[1] for r in desc}
            _check_columns(path, list(schema))
            select, conversions = _parquet_select(schema)
            sql = f"INSERT INTO raw SELECT ?, {select} FROM read_parquet(?)"
            args = [idx, str(path)]
        try:
            con.execute(sql, args)
        except duckdb.Error as e:
            msg = _one_line(e)
            if "unicode" in str(e).lower() or "utf-8" in str(e).lower():
                raise InputError(f"{path}: not {enc} text (try --encoding latin-1)") from None
            raise InputError(f"{path}: unreadable register file ({msg})") from None
        n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0] - total
        converted = {}
        if conversions:   # values turned into text by a rule, counted per column
            cols = list(conversions)
            counts = con.execute("SELECT " + ", ".join(f'count("{c}")' for c in cols)
                                 + " FROM raw WHERE file_idx = ?", [idx]).fetchall()[0]
            converted = {c: (conversions[c], int(k)) for c, k in zip(cols, counts)}
        info.append({"file_idx": idx, "source_file": rel, "first_rowid": total, "rows": n,
                     "converted": converted})
        total += n
    return info
