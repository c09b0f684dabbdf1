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
quarter-independent rejected, ledger and flags.

``write_quarter_tables`` writes one quarter's cut of them into ``OUT/<Q>/tables/``
atomically; ``run_counts`` does both for the ``seuranta counts`` command.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import count, ingest, validate
from .errors import InputError
from .quarters import Quarter, quarter_range

#: Tables written by the register stage (file name = key + ".csv").
REGISTER_TABLES = ["counts", "cwa_counts", "age_counts", "multi_task", "tasks_per_client",
                   "year_counts", "monthly", "series_counts", "series_cwa_counts",
                   "series_age_counts", "rejected", "ledger", "flags"]
#: Tables the register stage returns for the statistics stage but never writes: the monthly
#: profile of every earlier quarter (so that the series gets the same mid-quarter check as
#: each quarter's own run) is an intermediate, and its result is in series_quality.
INTERNAL_TABLES = ["series_monthly"]


def _first_quarter(params: dict) -> Quarter:
    return Quarter.parse((params.get("publication") or {}).get("first_quarter", "2022Q4"))


def complete_years(first: Quarter, last: Quarter) -> list[int]:
    """Calendar years whose four quarters all lie in [first, last]."""
    return [y for y in range(first.year, last.year + 1)
            if Quarter(y, 1) >= first and Quarter(y, 4) <= last]


def run_register_stage(data_dir: Path, quarters: list[Quarter], params: dict,
                       encoding: str = "utf-8") -> dict[str, pd.DataFrame]:
    """Validate the register and compute every count table for ``quarters``."""
    from .pipeline import extract_date

    if not quarters:
        raise InputError("no quarters to count")
    data_dir = Path(data_dir)
    rp = params.get("register") or {}
    quarters = sorted(Quarter.parse(q) if isinstance(q, str) else q for q in quarters)
    first = min(_first_quarter(params), quarters[0])
    series = quarter_range(first, quarters[-1])
    years = complete_years(_first_quarter(params), quarters[-1])
    ed = extract_date(data_dir, params)
    population = count.read_population(data_dir / "population.csv")

    with ingest.connect(rp) as con:
        ingest.load_register(con, data_dir, encoding)
        validate.validate(con, ed, rp)
        rejected = validate.rejected(con)
        flags = validate.flags(con, rp)
        ledger = validate.ledger(con, flags)
        tables = count.compute_counts(con, series, years, population,
                                      data_dir / "population.csv")

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


#: Characters that make the csv module quote a field (QUOTE_MINIMAL, delimiter ",").
_NEEDS_QUOTES = (",", '"', "\r", "\n")


def _column_text(s: pd.Series) -> list[str] | None:
    """The column's values as the text ``DataFrame.to_csv`` writes for them (NA as empty),
    or None for a dtype (or a string needing quotes) that is left to pandas."""
    dtype = s.dtype
    if isinstance(dtype, pd.StringDtype):
        codes, uniques = pd.factorize(s, use_na_sentinel=False)   # few distinct values
        text = uniques.to_numpy(dtype=object, na_value="")   # uniques: an Index
        joined = "\0".join(text)
        if any(c in joined for c in _NEEDS_QUOTES):
            return None
        return text[codes].tolist()
    if dtype == np.int64:
        return list(map(str, s.to_numpy().tolist()))
    if dtype == np.float64:   # as pandas does it: numpy's str of each value, NaN as empty
        v = s.to_numpy()
        text = v.astype(str)
        text[np.isnan(v)] = ""
        return text.tolist()
    if isinstance(dtype, pd.Int64Dtype):
        text = list(map(str, s.to_numpy(dtype="int64", na_value=0).tolist()))
        for i in np.flatnonzero(s.isna().to_numpy()):
            text[i] = ""
        return text
    return None


def _csv_text(df: pd.DataFrame) -> str | None:
    """The bytes of ``df.to_csv(index=False, lineterminator="\\n")`` built column-wise
    (several times faster), or None when the table is left to pandas (no rows, one
    column, a field that needs quoting, another dtype)."""
    names = list(df.columns)
    if len(df) == 0 or len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        return None
    if any(c in n for n in names for c in _NEEDS_QUOTES):
        return None
    cols = []
    for n in names:
        text = _column_text(df[n])
        if text is None:
            return None
        cols.append(text)
    return ",".join(names) + "\n" + "\n".join(map(",".join, zip(*cols))) + "\n"


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """One table as CSV: the bytes of ``df.to_csv(index=False, lineterminator="\\n")``."""
    text = _csv_text(df)
    if text is None:
        df.to_csv(path, index=False, lineterminator="\n")
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def write_quarter_tables(tables: dict[str, pd.DataFrame], quarter: Quarter | str,
                         out_dir: Path) -> Path:
    """Write quarter Q's register tables into OUT/<Q>/tables/ atomically; returns that folder.

    The tables are written into a temporary folder beside ``tables/`` and swapped in by
    renaming; files of other stages already in ``tables/`` are carried over unchanged.
    An interrupted write leaves the previous ``tables/`` as it was.
    """
    from .pipeline import tables_for_quarter

    quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
    qdir = Path(out_dir) / str(quarter)
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / "tables"
    cut = tables_for_quarter({k: v for k, v in tables.items() if k in REGISTER_TABLES}, quarter)
    tmp = Path(tempfile.mkdtemp(prefix=".tables-tmp-", dir=qdir))
    old = qdir / f".tables-old-{os.getpid()}"
    try:
        for name, df in cut.items():
            _write_csv(df, tmp / f"{name}.csv")
        if target.is_dir():
            for p in target.iterdir():
                if p.is_file() and not (tmp / p.name).exists():
                    shutil.copy2(p, tmp / p.name)
            target.rename(old)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def run_counts(data_dir: Path, out_dir: Path, quarters: list[Quarter], params: dict,
               encoding: str = "utf-8") -> list[Path]:
    """The ``seuranta counts`` job: the register stage into OUT/<Q>/tables/ for each quarter."""
    tables = run_register_stage(Path(data_dir), quarters, params, encoding)
    return [write_quarter_tables(tables, q, Path(out_dir)) for q in sorted(quarters)]


# --------------------------------------------------------------------------- command line

def _cmd_counts(args) -> int:
    from .params import load_params
    from .pipeline import check_quarter, publication_quarters

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
