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
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from seuranta.core.errors import InputError

#: Columns of the register (CONTRACT.md section 1), in order.
REGISTER_COLUMNS = ["client_id", "birth_year", "municipality_code", "service_task",
                    "start_date", "end_date", "source", "child_welfare_act"]

#: Columns that may be absent from a file (then read as empty).
OPTIONAL_COLUMNS = {"child_welfare_act"}

#: Accepted names of --encoding and the DuckDB reader option each one selects.
_CSV_READERS = {
    "utf-8": "read_csv(?, header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
             "auto_detect=false, columns=?, encoding='utf-8')",
    "latin-1": "read_csv(?, header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
               "auto_detect=false, columns=?, encoding='latin-1')",
}
ENCODING_ALIASES = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
                    "iso-8859-1": "latin-1", "iso8859-1": "latin-1"}

_RAW_DDL = ("CREATE TABLE raw (file_idx INTEGER, "
            + ", ".join(f'"{c}" VARCHAR' for c in REGISTER_COLUMNS) + ")")

DEFAULT_DUCKDB = {"memory_limit": "1500MB", "threads": 2, "temp_directory": None}


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
        yield con
    finally:
        con.close()
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def register_files(data_dir: Path) -> list[Path]:
    """The register files (CSV and Parquet) under DATA/register/, sorted by name."""
    reg = Path(data_dir) / "register"
    if not reg.is_dir():
        raise InputError(f"no register folder: {reg}")
    files = sorted(p for p in reg.rglob("*")
                   if p.is_file() and p.suffix.lower() in (".csv", ".parquet"))
    if not files:
        raise InputError(f"no register files (*.csv, *.parquet) in {reg}")
    return files


def _csv_header(path: Path, encoding: str) -> list[str]:
    try:
        with open(path, encoding=encoding, newline="") as f:
            line = f.readline()
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


def _parquet_select(schema: dict[str, str]) -> str:
    parts = []
    for c in REGISTER_COLUMNS:
        if c not in schema:
            parts.append(f'CAST(NULL AS VARCHAR) AS "{c}"')
        elif schema[c] == "BOOLEAN":
            parts.append(f'CAST(CAST("{c}" AS INTEGER) AS VARCHAR) AS "{c}"')
        else:
            parts.append(f'CAST("{c}" AS VARCHAR) AS "{c}"')
    return ", ".join(parts)


def load_register(con: duckdb.DuckDBPyConnection, data_dir: Path,
                  encoding: str = "utf-8") -> list[dict]:
    """Append every register file to table ``raw``; returns [{file, first_rowid, rows}].

    Also creates table ``files(file_idx, source_file, first_rowid, rows)``; the row
    number of a raw row is ``rowid - first_rowid + 1``.
    """
    enc = normalise_encoding(encoding)
    files = register_files(data_dir)
    base = Path(data_dir)
    con.execute(_RAW_DDL)
    info: list[dict] = []
    total = 0
    for idx, path in enumerate(files):
        try:
            rel = str(path.relative_to(base))
        except ValueError:
            rel = str(path)
        if path.suffix.lower() == ".csv":
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
            sql = f"INSERT INTO raw SELECT ?, {_parquet_select(schema)} FROM read_parquet(?)"
            args = [idx, str(path)]
        try:
            con.execute(sql, args)
        except duckdb.Error as e:
            msg = _one_line(e)
            if "unicode" in str(e).lower() or "utf-8" in str(e).lower():
                raise InputError(f"{path}: not {enc} text (try --encoding latin-1)") from None
            raise InputError(f"{path}: unreadable register file ({msg})") from None
        n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0] - total
        info.append({"file_idx": idx, "source_file": rel, "first_rowid": total, "rows": n})
        total += n
    if total == 0:
        raise InputError(f"the register is empty: no data rows in {base / 'register'}")
    con.execute("CREATE TABLE files (file_idx INTEGER, source_file VARCHAR, "
                "first_rowid BIGINT, rows BIGINT)")
    con.executemany("INSERT INTO files VALUES (?, ?, ?, ?)",
                    [[d["file_idx"], d["source_file"], d["first_rowid"], d["rows"]] for d in info])
    return info
