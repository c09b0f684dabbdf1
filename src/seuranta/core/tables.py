"""Tables as files: the one CSV writer, the canonical form used for hashes, atomic swap.

Every table of the pipeline is written by :func:`write_csv` (the bytes of
``DataFrame.to_csv(index=False, lineterminator="\\n")``, built column-wise) and compared by
:func:`table_hash` (a canonical text form, independent of dtypes and row order).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

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


#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV
#: injection"): such a text cell is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def neutralise_text(value: str) -> str:
    """OWASP's rule for CSV injection: a text starting with = + - @ tab or CR gets a leading
    ``'`` so that a spreadsheet shows it instead of evaluating it. A plain signed number
    (``-12``, ``+3.5``) and the symbol ``-`` (nil) are left as they are."""
    if (not value or value[0] not in FORMULA_STARTS or value == "-"
            or _PLAIN_NUMBER.fullmatch(value)):
        return value
    return "'" + value


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
               if isinstance(v, str) and v and v[0] in FORMULA_STARTS
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


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def table_hash(path: Path) -> str:
    return hashlib.sha256(canonical_csv(read_table(path))).hexdigest()


def atomic_swap(tmp: Path, target: Path) -> None:
    old = target.parent / f".old-{target.name}-{os.getpid()}"
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)

