"""The register stage: read, validate and count the register extract (the `seuranta counts` job).

``run_register_stage`` reads ``DATA/register/`` into DuckDB (:mod:`seuranta.ingest`),
applies the declared rules (:mod:`seuranta.validate`) and computes every count
(:mod:`seuranta.count`) for all the requested quarters in one pass. It returns one
DataFrame per table, all quarters together (column ``quarter`` tells them apart):

counts, cwa_counts, age_counts, multi_task, tasks_per_client, monthly (requested
quarters); series_counts, series_cwa_counts and series_age_counts (the same as counts,
cwa_counts and age_counts — the last for all clients, ``kaikki``, only — for every quarter
from ``publication.first_quarter`` up to the newest requested one, so that the statistics
stage can estimate the whole series; series_monthly likewise, kept in memory only);
year_counts (calendar years whose four quarters all lie in that range), and the
extract-wide rejected, ledger and flags (:data:`EXTRACT_TABLES`).

``write_quarter_tables`` writes one quarter's cut of them into ``OUT/<Q>/tables/``
atomically, and ``write_extract_tables`` the extract-wide tables into
``OUT/register/tables/`` (once per extract, not in every quarter: a quarter's folder holds
only what depends on that quarter, so that a new extract whose earlier quarters' counts
are unchanged leaves those quarters as they were); ``run_counts`` does both for the
``seuranta counts`` command.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core.errors import InputError
from seuranta.core.params import load_params, section_of
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.core.tables import atomic_swap, csv_lines, write_csv, write_csv_lines
from seuranta.inputs.datafolder import check_quarter, extract_date, publication_quarters
from seuranta.inputs.population import population_path, read_population
from seuranta.register import count, ingest, validate

log = logging.getLogger(__name__)

#: Tables written by the register stage (file name = key + ".csv").
REGISTER_TABLES = ["counts", "cwa_counts", "age_counts", "multi_task", "tasks_per_client",
                   "year_counts", "monthly", "series_counts", "series_cwa_counts",
                   "series_age_counts", "rejected", "ledger", "flags"]
#: Tables the register stage returns for the statistics stage but never writes: the monthly
#: profile of every earlier quarter (so that the series gets the same mid-quarter check as
#: each quarter's own run) is an intermediate, and its result is in series_quality.
INTERNAL_TABLES = ["series_monthly"]


def _first_quarter(params: dict) -> Quarter:
    return Quarter.parse(section_of(params, "publication")["first_quarter"])


def complete_years(first: Quarter, last: Quarter) -> list[int]:
    """Calendar years whose four quarters all lie in [first, last]."""
    return [y for y in range(first.year, last.year + 1)
            if Quarter(y, 1) >= first and Quarter(y, 4) <= last]


def run_register_stage(data_dir: Path, quarters: list[Quarter], params: dict,
                       encoding: str = "utf-8") -> dict[str, pd.DataFrame]:
    """Validate the register and compute every count table for ``quarters``."""

    if not quarters:
        raise InputError("no quarters to count")
    data_dir = Path(data_dir)
    rp = section_of(params, "register")
    quarters = sorted(Quarter.parse(q) if isinstance(q, str) else q for q in quarters)
    first = min(_first_quarter(params), quarters[0])
    series = quarter_range(first, quarters[-1])
    years = complete_years(_first_quarter(params), quarters[-1])
    ed = extract_date(data_dir, params)
    # population.csv is read by a worker thread while DuckDB reads and validates the
    # register (DuckDB releases the GIL); the pandas work of the counts runs there too
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="register") as pool:
        population = pool.submit(read_population, population_path(data_dir))
        try:
            tables, rejected, flags, ledger = _stage_in_duckdb(
                data_dir, rp, ed, encoding, series, years, population, pool)
        except BaseException:
            # an error in population.csv is reported first, as when it was read first
            pop_error = population.exception()
            pool.shutdown(wait=False, cancel_futures=True)   # no table is wanted now
            if pop_error is not None:
                raise pop_error from None
            raise

    wanted = {str(q) for q in quarters}
    out: dict[str, pd.DataFrame] = {}
    for name, df in tables.items():
        if "quarter" in df.columns:
            df = df[df["quarter"].isin(wanted)].reset_index(drop=True)
        out[name] = df
    for name in ("counts", "cwa_counts"):
        out[f"series_{name}"] = tables[name]
    # the series estimates by age group are for all clients (kaikki) only: the rows of the
    # single tasks would make every quarter's folder eight times larger for nothing
    age = tables["age_counts"]
    out["series_age_counts"] = age[age["service_task"] == count.ALL_TASKS].reset_index(drop=True)
    out["series_monthly"] = tables["monthly"]
    out["rejected"] = rejected
    out["ledger"] = ledger
    out["flags"] = flags
    return {k: out[k] for k in REGISTER_TABLES + INTERNAL_TABLES}


def _stage_in_duckdb(data_dir: Path, rp: dict, ed, encoding: str, series: list[Quarter],
                     years: list[int], population, pool) -> tuple:
    """The register stage's DuckDB part: count tables, rejected rows, flags and ledger."""
    with ingest.connect(rp) as con:
        files_info = ingest.load_register(con, data_dir, encoding,
                                          subfolders=bool(rp["subfolders"]))
        validate.validate(con, ed, rp)
        pairs = validate.duplicate_pairs(con)
        validate.check_copies(con, pairs)
        for p in pairs.itertuples(index=False):
            log.warning("%s: %d rows repeat rows of %s (each counted once; rejected as "
                        "duplicate_row, not counted toward the quarantine)", p.file, p.rows,
                        p.first_file)
        validate.check_quarantine(validate.file_outcomes(con), con, rp)
        rejected = validate.rejected(con)
        flags = validate.flags(con, rp)
        ledger = validate.ledger(con, flags, files_info, pairs)
        # the rows as read are not needed any more: their memory goes to the counts
        con.execute("DROP TABLE dup")
        con.execute("DROP TABLE raw")
        tables = count.compute_counts(con, series, years, population,
                                      data_dir / "population.csv", pool, release_periods=True)
    return tables, rejected, flags, ledger


def write_quarter_tables(tables: dict[str, pd.DataFrame], quarter: Quarter | str,
                         out_dir: Path, rendered: dict | None = None) -> Path:
    """Write quarter Q's register tables into OUT/<Q>/tables/ atomically; returns that folder.

    The tables are written into a temporary folder beside ``tables/`` and swapped in by
    renaming; files of other stages already in ``tables/`` are carried over unchanged.
    An interrupted write leaves the previous ``tables/`` as it was.

    ``rendered``: a dict shared by the calls for several quarters of the same ``tables``
    (:func:`write_all_quarters`): each table's CSV lines are made once and every quarter
    writes its rows' lines (the same bytes as writing the quarter's cut).
    """

    quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
    qdir = Path(out_dir) / str(quarter)
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / "tables"
    tmp = Path(tempfile.mkdtemp(prefix=f".tables-tmp-{os.getpid()}-", dir=qdir))
    try:
        quarterly = per_quarter(tables)
        for name in (n for n in REGISTER_TABLES if n in quarterly):
            if rendered is not None and name not in rendered and _twin_rendered(
                    tables, name, rendered):
                rendered[name] = rendered[_TWINS[name]]
            _write_cut(tables[name], name, quarter, tmp / f"{name}.csv", rendered)
        tmp.chmod(0o755)   # mkdtemp's 0700 would be published with the folder
        if target.is_dir():
            for p in target.iterdir():
                if p.is_file() and not (tmp / p.name).exists():
                    shutil.copy2(p, tmp / p.name)
        atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


#: Tables that hold the same rows as another table when every quarter of the series is
#: requested (``seuranta counts --all``): their CSV lines are then made once.
_TWINS = {"series_counts": "counts", "series_cwa_counts": "cwa_counts"}


def _twin_rendered(tables: dict[str, pd.DataFrame], name: str, rendered: dict) -> bool:
    """Whether table ``name`` equals its twin (:data:`_TWINS`), whose lines are made."""
    twin = _TWINS.get(name)
    return twin in rendered and twin in tables and tables[twin].equals(tables[name])


def _write_cut(df: pd.DataFrame, name: str, quarter: Quarter, path: Path,
               rendered: dict | None) -> None:
    """Write quarter Q's rows of one register table (:func:`quarter_rows`)."""
    rows = quarter_rows(name, df, quarter)
    if rendered is None or (rows is not None and not rows.any()):
        write_csv(df if rows is None else df[rows].reset_index(drop=True), path)
        return
    if name not in rendered:
        rendered[name] = csv_lines(df)
    if rendered[name] is None:   # left to pandas
        write_csv(df if rows is None else df[rows].reset_index(drop=True), path)
        return
    header, lines = rendered[name]
    write_csv_lines(path, header, lines, rows)


def write_all_quarters(tables: dict[str, pd.DataFrame], quarters: list[Quarter],
                       out_dir: Path) -> list[Path]:
    """:func:`write_quarter_tables` for each quarter; for several quarters each table's
    lines are made once."""
    rendered: dict | None = {} if len(quarters) > 1 else None
    return [write_quarter_tables(tables, q, Path(out_dir), rendered) for q in sorted(quarters)]


def run_counts(data_dir: Path, out_dir: Path, quarters: list[Quarter], params: dict,
               encoding: str = "utf-8") -> list[Path]:
    """The ``seuranta counts`` job: the register stage into OUT/<Q>/tables/ for each quarter."""
    tables = run_register_stage(Path(data_dir), quarters, params, encoding)
    written = write_all_quarters(tables, quarters, Path(out_dir))
    write_extract_tables(tables, Path(out_dir))
    return written


# --------------------------------------------------------------------------- command line

def _cmd_counts(args) -> int:

    params = load_params(args.params)
    data = Path(args.data)
    if args.quarter:
        try:
            q = Quarter.parse(args.quarter)
        except ValueError as e:
            raise InputError(str(e)) from None
        check_quarter(q, data, params)
        quarters = [q]
    else:
        if not (data / "register").is_dir():
            raise InputError(f"no register folder: {data / 'register'}")
        quarters = publication_quarters(data, params)
    for p in run_counts(data, Path(args.out), quarters, params, args.encoding):
        print(p)
    return 0


def add_parser(sub) -> None:
    """Register the ``counts`` sub-command on an argparse sub-parsers object."""
    p = sub.add_parser("counts", help="the register stage alone: validation and every count "
                                      "into OUT/<quarter>/tables/")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quarter", help="one quarter, e.g. 2023Q1")
    g.add_argument("--all", action="store_true",
                   help="every quarter of the publication (the default)")
    p.add_argument("--data", default="data/demo", help="data folder (default: %(default)s)")
    p.add_argument("--out", default="build", help="output folder (default: %(default)s)")
    p.add_argument("--encoding", default="utf-8",
                   help="encoding of register CSV files: utf-8 (default) or latin-1")
    p.add_argument("--params", default=None, help="parameters file (default: parameters.yml)")
    p.set_defaults(func=_cmd_counts)


#: Tables that describe the whole extract, not one quarter (every row read, accepted,
#: rejected and flagged): written once per extract into ``OUT/register/tables/``
#: (:func:`write_extract_tables`), never into a quarter's folder.
EXTRACT_TABLES = ("ledger", "rejected", "flags")
#: The folder of OUT that holds the extract-wide tables (``tables/``, exact and internal)
#: and what the gate publishes of them (``published/``).
EXTRACT_DIR = "register"


def extract_dir(out_dir: Path) -> Path:
    """``OUT/register``: the extract-wide tables of the publication in OUT."""
    return Path(out_dir) / EXTRACT_DIR


def extract_tables_dir(quarter_tables_dir: Path) -> Path:
    """The extract-wide ``tables/`` beside a quarter's ``OUT/<Q>/tables`` folder."""
    return extract_dir(Path(quarter_tables_dir).parent.parent) / "tables"


def write_extract_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> Path:
    """The extract-wide tables (:data:`EXTRACT_TABLES`) into ``OUT/register/tables/``,
    replaced atomically; returns that folder."""
    target = extract_dir(out_dir) / "tables"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tables-tmp-{os.getpid()}-", dir=target.parent))
    try:
        for name in EXTRACT_TABLES:
            write_csv(tables[name], tmp / f"{name}.csv")
        tmp.chmod(0o755)
        atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def per_quarter(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables of which each quarter publishes a cut (:func:`quarter_rows`): all but the
    extract-wide ones (:data:`EXTRACT_TABLES`)."""
    return {n: df for n, df in tables.items() if n not in EXTRACT_TABLES}


def quarter_rows(name: str, df: pd.DataFrame, quarter: Quarter) -> np.ndarray | None:
    """Which rows of the all-quarter table ``name`` quarter Q publishes (None: all).

    Quarter tables keep the rows of Q; ``series_*`` tables keep every quarter up to Q;
    ``year_counts`` keeps the calendar years complete by Q; ledger, rejected rows and
    flags describe the whole extract and are left out (:data:`EXTRACT_TABLES`).
    """
    q = str(quarter)
    if name.startswith("series_"):
        return (df["quarter"].astype(str) <= q).to_numpy()
    if name == "year_counts":
        last_full_year = quarter.year if quarter.q == 4 else quarter.year - 1
        return (df["year"].astype(int) <= last_full_year).to_numpy()
    if "quarter" in df.columns:
        return (df["quarter"].astype(str) == q).to_numpy()
    return None


def tables_for_quarter(all_tables: dict[str, pd.DataFrame], quarter: Quarter
                       ) -> dict[str, pd.DataFrame]:
    """Cut the register stage's all-quarter frames down to what quarter Q publishes
    (:func:`quarter_rows`)."""
    out = {}
    for name, df in per_quarter(all_tables).items():
        rows = quarter_rows(name, df, quarter)
        out[name] = df if rows is None else df[rows].reset_index(drop=True)
    return out
