"""Tables as files: the one CSV writer, the canonical form used for hashes, atomic swap.

Every table of the pipeline is written by :func:`write_csv` (the bytes of
``DataFrame.to_csv(index=False, lineterminator="\\n")``, built column-wise) and compared by
:func:`table_hash` (a canonical text form, independent of dtypes and row order).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seuranta.core import escape
from seuranta.core.errors import InputError, writing

#: Characters that make the csv module quote a field (QUOTE_MINIMAL, delimiter ",").
_NEEDS_QUOTES = (",", '"', "\r", "\n")


def _values(s: pd.Series) -> list:
    """The values of ``s`` as iterating it gives them: ``tolist()`` where that is the same
    (numpy and text columns), else pandas' own iteration."""
    if isinstance(s.dtype, (np.dtype, pd.StringDtype)):
        return s.tolist()
    return list(s)


def itertuples(df: pd.DataFrame, index: bool = True, name: str = "Pandas"):
    """The rows of ``df`` as ``DataFrame.itertuples`` gives them (the same named tuples,
    the same Python values), from each column's ``tolist()``: pandas iterates an
    arrow-backed text column one element at a time, about 1 µs each."""
    fields = (["Index"] if index else []) + [str(c) for c in df.columns]
    cols = ([list(df.index)] if index else []) + [
        _values(df.iloc[:, k]) for k in range(df.shape[1])]
    if name is None:
        return zip(*cols)
    return map(namedtuple(name, fields, rename=True)._make, zip(*cols))


def _column_text(s: pd.Series, guard: bool = False) -> pa.Array | None:
    """The column's values as the text ``DataFrame.to_csv`` writes for them (NA as empty;
    an Arrow string array), or None for a dtype (or a string needing quotes) that is left
    to pandas. ``guard``: text cells neutralised as :func:`neutralise_frame` does (each
    distinct value once)."""
    dtype = s.dtype
    if isinstance(dtype, pd.StringDtype):
        codes, uniques = pd.factorize(s, use_na_sentinel=False)   # few distinct values
        text = uniques.to_numpy(dtype=object, na_value="")   # uniques: an Index
        if guard:
            text = np.array([neutralise_text(v) for v in text], dtype=object)
        joined = "\0".join(text)
        if any(c in joined for c in _NEEDS_QUOTES):
            return None
        return pa.array(text, type=pa.string()).take(pa.array(codes))
    if dtype == np.int64:   # Arrow's decimal text of an integer is Python's
        return pc.cast(pa.array(s.to_numpy()), pa.string())
    if dtype == np.float64:   # as pandas does it: numpy's str of each value, NaN as empty
        # each distinct value formatted once (by its bits: -0.0 is written as "-0.0")
        codes, bits = pd.factorize(s.to_numpy().view(np.int64))
        uniques = bits.view(np.float64)
        text = uniques.astype(str).astype(object)
        text[np.isnan(uniques)] = ""
        return pa.array(text, type=pa.string()).take(pa.array(codes))
    if isinstance(dtype, pd.Int64Dtype):
        text = pc.cast(pa.array(s.to_numpy(dtype="int64", na_value=0)), pa.string())
        return pc.if_else(pa.array(s.isna().to_numpy()), "", text)
    return None


def _csv_lines(df: pd.DataFrame, guard: bool = False) -> tuple[str, pa.Array] | None:
    """The header and the row lines (without line ends, an Arrow string array) of
    :func:`_csv_text`, or None; ``guard``: text cells neutralised (:func:`_column_text`)."""
    names = list(df.columns)
    if len(df) == 0 or len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        return None
    if any(c in n for n in names for c in _NEEDS_QUOTES):
        return None
    cols = []
    for n in names:
        text = _column_text(df[n], guard)
        if text is None:
            return None
        cols.append(text)
    return ",".join(names), pc.binary_join_element_wise(*cols, ",")


def _text(header: str, lines: pa.Array) -> str:
    """The file's text: the header and the lines, each ended by a newline (joined by
    Arrow, without a Python string per line)."""
    one_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    return header + "\n" + pc.binary_join(one_list, "\n")[0].as_py() + "\n"


def _csv_text(df: pd.DataFrame) -> str | None:
    """The bytes of ``df.to_csv(index=False, lineterminator="\\n")`` built column-wise
    (several times faster), or None when the table is left to pandas (no rows, one
    column, a field that needs quoting, another dtype)."""
    parts = _csv_lines(df)
    return None if parts is None else _text(*parts)


def csv_lines(df: pd.DataFrame) -> tuple[str, pa.Array] | None:
    """:func:`write_csv`'s header and row lines (one line per row of ``df``, without line
    ends), or None when that table is left to pandas. Each row's line depends on that row
    alone, so a subset of the rows is written as those lines (:func:`write_csv_lines`)."""
    return _csv_lines(df, guard=True)


def write_csv_lines(path: Path, header: str, lines: pa.Array, rows: np.ndarray | None = None
                    ) -> None:
    """Write a table from :func:`csv_lines`, the lines of ``rows`` (a boolean mask; None:
    all), at least one."""
    if rows is not None:
        lines = lines.filter(pa.array(rows))
    one_list = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
    body = pc.binary_join(one_list, "\n")[0].as_buffer()   # UTF-8, never a Python string
    with writing(path):
        with open(path, "wb") as f:   # the bytes of _text's text written as UTF-8
            f.write((header + "\n").encode("utf-8"))
            f.write(body)
            f.write(b"\n")


#: First characters of a formula (:data:`seuranta.core.escape.FORMULA_STARTS`).
FORMULA_STARTS = escape.FORMULA_STARTS
_GUARDED = escape._GUARDED_STARTS


def neutralise_text(value: str) -> str:
    """The CSV formula guard of one text cell (:func:`seuranta.core.escape.csv_cell`)."""
    return escape.csv_cell(value)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`neutralise_text` applied to every text cell (the same frame when
    no cell needs it). Each distinct value is tested once."""
    out = None
    for j in range(df.shape[1]):
        s = df.iloc[:, j]
        if not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
            continue
        uniques = pd.unique(s.dropna())
        bad = {v: neutralise_text(v) for v in uniques
               if isinstance(v, str) and v and v[0] in _GUARDED
               and neutralise_text(v) != v}
        if bad:
            if out is None:
                out = df.copy()
            out.iloc[:, j] = s.map(lambda v, b=bad: b.get(v, v) if isinstance(v, str) else v)
    return df if out is None else out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """One table as CSV: the bytes of ``df.to_csv(index=False, lineterminator="\\n")``,
    every text cell neutralised against spreadsheet formulas (:func:`neutralise_text`):
    free text (file names in the ledger, register values in rejected rows, review
    reasons) reaches the published tables."""
    df = neutralise_frame(df)
    text = _csv_text(df)
    with writing(path):   # a full disk names the table
        if text is None:
            df.to_csv(path, index=False, lineterminator="\n")
        else:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)


def canonical_csv(df: pd.DataFrame) -> bytes:
    """A canonical text form of a table: every value as text, rows sorted, LF endings."""
    d = df.astype("string").fillna("")
    d = d.sort_values(list(d.columns), kind="mergesort").reset_index(drop=True)
    buf = io.StringIO()
    d.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read_text(path: Path) -> pd.DataFrame:
    """A table with every value as the text written ('' for empty): for hashes and
    comparisons, and for readers that parse values themselves."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def table_hash(path: Path) -> str:
    return hashlib.sha256(canonical_csv(read_text(path))).hexdigest()


# --------------------------------------------------------------------------- declared types
# The tables of OUT/<quarter>/tables/ (docs/data-contract.md section 5) and the type of each
# column. A column name means the same in every table, so types are declared per name:
# "text" (codes keep their leading zeros; empty = NaN), "int" (complete integers), "float",
# "number" (integer or decimal as written, may be empty). A new column: one entry here.

COLUMN_TYPES: dict[str, str] = {
    # text
    "age_group": "text", "child_welfare_act": "text", "client_id": "text", "code": "text",
    "comparison_group": "text", "county_code": "text", "covariate": "text", "decision": "text",
    "description_fi": "text", "effect": "text", "end_date": "text", "flag": "text", "flags": "text",
    "imported_on": "text", "item": "text", "label_fi": "text", "level": "text",
    "logit_note": "text", "max_municipality": "text", "max_municipality_code": "text",
    "max_wstd_covariate": "text", "max_wstd_covariate_fi": "text", "method": "text",
    "min_municipality": "text", "min_municipality_code": "text", "month": "text",
    "municipality_code": "text", "name_fi": "text", "note": "text", "publish_as": "text",
    "quality": "text", "quality_after": "text", "quality_before": "text", "quarter": "text",
    "reason": "text", "reasons": "text", "reasons_after": "text", "reasons_before": "text",
    "review_reason": "text", "rule_reason": "text", "service_task": "text", "source": "text",
    "source_file": "text", "sources": "text", "start_date": "text", "task_a": "text",
    "task_b": "text", "variance": "text", "variant": "text", "verdict_fi": "text",
    # int
    "clients": "int", "clients_used": "int",
    "comprehensive": "int", "counties_used": "int",
    "municipalities": "int", "municipalities_comprehensive": "int", "municipalities_flagged": "int",
    "municipalities_used": "int",
    "n": "int", "n_all": "int", "n_comprehensive": "int", "n_shown": "int",
    "n_exclude": "int", "n_include": "int", "n_note": "int", "n_tasks": "int",
    "national_base": "int", "overridable": "int", "population_base": "int",
    "population_used": "int",
    "published": "int", "row_number": "int", "rows": "int", "year": "int",
    # float
    "age_adjusted_diff_pct": "float", "age_adjusted_estimate": "float",
    "base_coverage_pct": "float", "ci_high": "float", "ci_high_after": "float",
    "ci_high_before": "float", "ci_low": "float", "ci_low_after": "float",
    "ci_low_before": "float", "comparison_median_pct": "float", "crude_estimate": "float",
    "difference_pct": "float", "estimate": "float", "estimate_after": "float",
    "estimate_before": "float", "estimate_change": "float", "estimate_change_pct": "float",
    "flagged_shift": "float", "max_std_diff": "float", "mean_z": "float", "sd_z": "float",
    "within_196_pct": "float",
    "logit_coef": "float", "logit_p": "float", "logit_se": "float", "max": "float",
    "max_abs_wstd_diff": "float", "mean_all": "float", "mean_comprehensive": "float",
    "median": "float", "min": "float", "own_reference_pct": "float", "plausibility_z": "float",
    "q1": "float", "q3": "float",
    "range_high": "float", "range_low": "float", "se": "float", "se_jackknife": "float",
    "se_linearised": "float", "variance_factor": "float", "share_pct": "float", "share_pct_after": "float",
    "share_pct_before": "float", "std_diff": "float", "wmean_all": "float",
    "wmean_comprehensive": "float", "wstd_diff": "float",
    # number: integer or decimal as written (may be empty)
    "clients_observed": "number", "clients_used_after": "number", "clients_used_before": "number",
    "municipalities_used_after": "number", "municipalities_used_before": "number",
    "population_used_after": "number", "population_used_before": "number",
    "birth_year": "number", "estimate_rounded": "number",
}

TABLES: dict[str, list[str]] = {
    "age_counts": [
        "quarter", "municipality_code", "county_code", "service_task", "age_group", "clients",
        "population_base", "share_pct",
    ],
    "corrections_decisions": [
        "quarter", "municipality_code", "name_fi", "county_code", "service_task", "decision",
        "reason", "quality_before", "reasons_before", "quality_after", "reasons_after",
        "imported_on",
    ],
    "corrections_effect": [
        "quarter", "service_task", "age_group", "method", "n_include", "n_exclude", "n_note",
        "municipalities_used_before", "municipalities_used_after", "clients_used_before",
        "clients_used_after", "population_used_before", "population_used_after",
        "share_pct_before", "share_pct_after", "estimate_before", "estimate_after",
        "ci_low_before", "ci_low_after", "ci_high_before", "ci_high_after", "estimate_change",
        "estimate_change_pct",
    ],
    "counts": [
        "quarter", "municipality_code", "county_code", "service_task", "source", "clients",
        "population_base", "share_pct",
    ],
    "county_estimates": [
        "quarter", "service_task", "county_code", "method", "estimate", "se", "ci_low",
        "ci_high", "estimate_rounded", "clients_observed", "municipalities",
        "municipalities_comprehensive", "population_base", "base_coverage_pct", "comprehensive",
        "publish_as", "range_low", "range_high", "share_pct",
    ],
    "cwa_counts": [
        "quarter", "municipality_code", "county_code", "service_task", "source", "clients",
        "population_base", "share_pct",
    ],
    "estimates": [
        "quarter", "service_task", "method", "municipalities_used", "clients_used",
        "population_used", "share_pct", "estimate", "se", "ci_low", "ci_high",
        "estimate_rounded", "published", "age_group", "national_base", "difference_pct",
        "variance", "variance_factor", "se_linearised", "se_jackknife", "note", "publish_as",
        "range_low", "range_high", "rule_reason", "counties_used", "max_std_diff",
        "flagged_shift",
    ],
    "calibration": ["quarter", "service_task", "n", "mean_z", "sd_z", "within_196_pct"],
    "estimates_sensitivity": [
        "quarter", "service_task", "age_group", "method", "variant", "municipalities_used",
        "municipalities_flagged", "clients_used", "population_used", "share_pct", "estimate",
        "se", "ci_low", "ci_high", "estimate_rounded", "published", "difference_pct", "note",
    ],
    "flags": ["municipality_code", "county_code", "service_task", "flag", "rows"],
    "ledger": ["item", "reason", "rows"],
    "monthly": ["quarter", "municipality_code", "service_task", "source", "month", "clients"],
    "multi_task": ["quarter", "county_code", "task_a", "task_b", "clients"],
    "quality": [
        "quarter", "municipality_code", "county_code", "service_task", "quality", "sources",
        "reasons", "flags", "clients", "share_pct", "comparison_median_pct", "comparison_group",
        "plausibility_z", "own_reference_pct", "review_reason",
    ],
    "quality_reasons": ["code", "effect", "overridable", "description_fi"],
    "quartiles": [
        "quarter", "service_task", "n", "q1", "median", "q3", "min", "min_municipality", "max",
        "max_municipality", "min_municipality_code", "max_municipality_code",
    ],
    "rejected": [
        "source_file", "row_number", "reason", "client_id", "birth_year", "municipality_code",
        "service_task", "start_date", "end_date", "source", "child_welfare_act",
    ],
    "representativeness": [
        "quarter", "service_task", "covariate", "level", "label_fi", "mean_comprehensive",
        "mean_all", "std_diff", "wmean_comprehensive", "wmean_all", "wstd_diff", "logit_coef",
        "logit_se", "logit_p",
    ],
    "representativeness_summary": [
        "quarter", "service_task", "n_comprehensive", "n_all", "base_coverage_pct",
        "crude_estimate", "age_adjusted_estimate", "age_adjusted_diff_pct", "max_abs_wstd_diff",
        "max_wstd_covariate", "max_wstd_covariate_fi", "logit_note", "verdict_fi",
    ],
    "tasks_per_client": ["quarter", "county_code", "n_tasks", "clients"],
    "year_counts": [
        "year", "municipality_code", "county_code", "service_task", "source", "clients",
        "population_base", "share_pct",
    ],
}
#: A series table (every quarter up to Q) has the columns of its quarter's table.
TABLES.update({f"series_{name}": TABLES[name]
               for name in ("age_counts", "counts", "cwa_counts", "estimates", "quality")})

#: Text columns whose empty value is '' rather than NaN (lists of codes).
EMPTY_TEXT = ("reasons", "sources")

_PANDAS = {"text": str, "int": "int64", "float": "float64"}


def table_dtypes(name: str, columns: list[str] | None = None) -> dict[str, object]:
    """The declared pandas dtypes of a table's columns (of ``columns`` if given; a column
    without a declared type, or of type "number", is left to pandas)."""
    cols = columns if columns is not None else TABLES.get(name, [])
    return {c: _PANDAS[COLUMN_TYPES[c]] for c in cols if COLUMN_TYPES.get(c, "number") in _PANDAS}


def read_table(tables_dir: Path | str, name: str, required: bool = True) -> pd.DataFrame | None:
    """The one reader of a quarter's table ``<tables_dir>/<name>.csv`` with its declared
    column types; None when ``required`` is false and the file is absent. A value that does
    not fit its declared type is a one-line InputError naming the file and the column."""
    p = Path(tables_dir) / f"{name}.csv"
    if not p.is_file():
        if required:
            raise FileNotFoundError(f"table missing: {p}")
        return None
    head = list(pd.read_csv(p, nrows=0).columns)
    dtypes = table_dtypes(name, head)
    try:
        df = pd.read_csv(p, dtype=dtypes, keep_default_na=False, na_values=[""])
    except (ValueError, TypeError) as e:
        bad = next((c for c, t in dtypes.items() if t == "int64"
                    and pd.read_csv(p, usecols=[c], keep_default_na=False, na_values=[""])[c]
                    .pipe(lambda s: s.isna().any() or s.dtype.kind not in "iu")), None)
        raise InputError(f"{p}: column {bad or '?'} is not {COLUMN_TYPES.get(bad, 'typed')} "
                         f"({str(e).splitlines()[0]})") from None
    for c in EMPTY_TEXT:
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    return unguard(df, [c for c, t in dtypes.items() if t is str])


def unguard(df: pd.DataFrame, columns) -> pd.DataFrame:
    """The text of ``columns`` as it was before the writer's formula guard (the book shows
    the text, :func:`seuranta.core.escape.csv_unguard`); every reader of a written table."""
    for c in columns:
        s = df[c]
        if not isinstance(s.dtype, pd.StringDtype):   # (a text column is one already)
            s = s.astype("string")
        if s.str.startswith("'", na=False).any():
            df[c] = df[c].map(escape.csv_unguard, na_action="ignore")
    return df


def atomic_swap(tmp: Path, target: Path) -> None:
    """Replace the folder ``target`` by the complete folder ``tmp`` (same file system).

    The previous ``target`` is renamed aside first and put back if the swap fails, so a
    reader finds either the old folder or the new one, never a half-written one.
    """
    old = target.parent / f".old-{target.name}-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)

