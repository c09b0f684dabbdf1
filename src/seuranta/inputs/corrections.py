"""corrections.csv: the review round's decisions (docs/data-contract.md, section 1).

The one reader of the file; ``seuranta feedback import`` is its only writer.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter

#: Columns of corrections.csv (the first five are the contract's).
CORRECTION_COLUMNS = ["quarter", "municipality_code", "service_task", "decision", "reason",
                      "comment", "county_code", "source_file_sha256", "imported_on"]


CORRECTIONS_FILE = "corrections.csv"
#: Decisions of the review round (the contract's ``decision`` column).
DECISIONS = ("include", "exclude", "note")
KEY = ["quarter", "municipality_code", "service_task"]


def cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def cell_code(v) -> str:
    """A municipality code as 3 digits (Excel may have turned '005' into 5)."""
    t = cell_text(v)
    return t.zfill(3) if t.isdigit() and len(t) < 3 else t


def read_corrections(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="string") for c in CORRECTION_COLUMNS})
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CORRECTION_COLUMNS[:5] if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(missing)}")
    for c in CORRECTION_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df["municipality_code"] = df["municipality_code"].map(cell_code)
    extra = [c for c in df.columns if c not in CORRECTION_COLUMNS]
    return df[CORRECTION_COLUMNS + extra].astype("string")


def quarter_corrections(quarter: Quarter | str, data_dir: Path) -> pd.DataFrame:
    """The rows of DATA/corrections.csv for one quarter (empty frame when none)."""
    df = read_corrections(Path(data_dir) / CORRECTIONS_FILE)
    return df[df["quarter"] == str(quarter)].reset_index(drop=True)

