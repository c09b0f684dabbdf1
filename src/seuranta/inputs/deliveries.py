"""deliveries.csv: the declared coverage of each source (docs/data-contract.md, section 1).

The one reader of the file. Strict schema (issue 15), each error one line naming the file
and the data row (1 = the first row after the header): columns municipality_code,
service_task, source, covered_from, covered_to; a known mainland municipality, a known
service task, source ``SHA`` or ``ET``, dates ``YYYY-MM-DD`` with covered_from given and
covered_to (empty = still) not before it.

The file is required: without it no municipality has declared coverage, so no estimate
could be made and the run would publish none with exit 0. When really nothing was
declared, ``inputs.no_deliveries_declared: true`` in parameters.yml says so, and an
absent file is read as no rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.params import section_of

DELIVERIES_FILE = "deliveries.csv"
COLUMNS = ["municipality_code", "service_task", "source", "covered_from", "covered_to"]
SOURCES = ("SHA", "ET")


def deliveries_required(params: dict | None) -> bool:
    """False only when parameters.yml says no deliveries were declared."""
    return not section_of(params, "inputs")["no_deliveries_declared"]


def _parse_date(text: str, where: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: not a date (YYYY-MM-DD): {text!r}") from None


def _first(mask: pd.Series) -> int | None:
    hits = np.flatnonzero(mask.to_numpy())
    return int(hits[0]) if len(hits) else None


def read_deliveries(data_dir: Path, required: bool = True) -> pd.DataFrame:
    """deliveries.csv with covered_from/covered_to as dates (None = open)."""
    p = Path(data_dir) / DELIVERIES_FILE
    if not p.is_file():
        if required:
            raise InputError(f"{p}: file not found (it declares what each source covers; "
                             "if nothing was declared set inputs.no_deliveries_declared: true)")
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    try:
        d = pd.read_csv(p, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{p}: empty file (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: unreadable ({str(e).splitlines()[0]})") from None
    d.columns = [str(c).strip().lstrip("\ufeff") for c in d.columns]
    missing = [c for c in COLUMNS if c not in d.columns]
    if missing:
        raise InputError(f"{p}: missing column(s) {', '.join(missing)}")
    d = d[COLUMNS].copy()
    d["municipality_code"] = d["municipality_code"].str.strip().str.zfill(3)
    d["service_task"] = d["service_task"].str.strip()
    d["source"] = d["source"].str.strip().str.upper()
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    tasks = set(reference.task_codes())
    checks = [
        (~d["municipality_code"].isin(mainland), "municipality_code", "is not a mainland "
         "municipality code"),
        (~d["service_task"].isin(tasks), "service_task", "is not a service task code ("
         + ", ".join(sorted(tasks)) + ")"),
        (~d["source"].isin(SOURCES), "source", "must be SHA or ET"),
    ]
    for mask, col, what in checks:
        i = _first(mask)
        if i is not None:
            raise InputError(f"{p}: row {i + 1}: {col} {d[col].iloc[i]!r} {what}")
    frm = [_parse_date(v, f"{p}: row {i + 1} covered_from") for i, v in enumerate(d["covered_from"])]
    to = [_parse_date(v, f"{p}: row {i + 1} covered_to") for i, v in enumerate(d["covered_to"])]
    for i, (a, b) in enumerate(zip(frm, to)):
        if a is None:
            raise InputError(f"{p}: row {i + 1}: covered_from is empty")
        if b is not None and b < a:
            raise InputError(f"{p}: row {i + 1}: covered_to {b} is before covered_from {a}")
    d["covered_from"] = pd.Series(frm, dtype=object)
    d["covered_to"] = pd.Series(to, dtype=object)
    return d
