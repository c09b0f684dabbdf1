"""Reading the published tables: what the disclosure gate let through.

Every number of the open data, maps, revisions, landing page and Swedish summary comes
from ``OUT/<Q>/published/<name>.csv`` (the gate's output) or from a kept release
``OUT/releases/<release id>/<Q>/published/`` — never from the exact ``tables/``. A
published table has its numeric columns and, beside each, ``<column>_symbol``: empty when
the value is shown, else one of :mod:`seuranta.core.symbols` (the value is then empty).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from seuranta.core.tables import unguard

#: Folder of a quarter's published tables, beside ``tables/``.
PUBLISHED = "published"
#: Folder of the kept releases under OUT.
RELEASES = "releases"
#: Columns read as text whatever they hold.
TEXT_COLUMNS = {"quarter": str, "municipality_code": str, "county_code": str,
                "service_task": str, "source": str, "age_group": str, "quality": str,
                "sources": str, "method": str, "note": str, "kind": str,
                "min_municipality_code": str, "max_municipality_code": str,
                "task_a": str, "task_b": str, "n_tasks": str, "publish_as": str,
                "rule_reason": str, "package_code": str, "service_class": str,
                "service_tasks": str, "target_group": str, "dimension": str,
                "category": str}
SYMBOL_SUFFIX = "_symbol"


def published_dir(out_dir: Path, quarter: str) -> Path:
    return Path(out_dir) / str(quarter) / PUBLISHED


def extract_published_dir(out_dir: Path) -> Path:
    """The extract-wide published folder, ``OUT/register/published`` (the row ledger of
    the whole extract, published once per release, not in every quarter)."""
    # the register stage's module (DuckDB) only here: the notebooks' kernels import this
    # module to read the published tables and never need it
    from seuranta.register.stage import extract_dir

    return extract_dir(out_dir) / PUBLISHED


def published_dir_of(tables_dir: Path | str) -> Path:
    """The published folder beside a quarter's ``tables/`` (what notebooks are given)."""
    return Path(tables_dir).parent / PUBLISHED


def table_names(pdir: Path) -> list[str]:
    """Names of the published tables in a folder, sorted."""
    return sorted(p.stem for p in Path(pdir).glob("*.csv"))


def read(pdir: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    """One published table: codes as text, ``*_symbol`` columns as text ('' = shown)."""
    p = Path(pdir) / f"{name}.csv"
    if not p.is_file():
        if required:
            raise FileNotFoundError(f"published table missing: {p}")
        return None
    with p.open(encoding="utf-8", newline="") as f:
        head = next(csv.reader(f), [])
    dtype = {c: str for c in head if c in TEXT_COLUMNS or c.endswith(SYMBOL_SUFFIX)}
    # '' stays '' in text (e.g. county_code '' = the whole country); empty is NaN elsewhere
    df = pd.read_csv(p, dtype=dtype, keep_default_na=False,
                     na_values={c: [""] for c in head if c not in dtype})
    return unguard(df, [c for c in df.columns if pd.api.types.is_string_dtype(df[c])])


def value_columns(df: pd.DataFrame) -> list[str]:
    """The columns that have a ``_symbol`` companion (the published figures)."""
    return [c for c in df.columns if f"{c}{SYMBOL_SUFFIX}" in df.columns]


def municipal_rows(pdir: Path, task: str, quarter: str) -> pd.DataFrame:
    """Published municipal rows of one task and quarter (``municipal.csv``: shares and
    counts with their symbols, the quality class)."""
    m = read(pdir, "municipal")
    return m[(m["service_task"] == task) & (m["quarter"] == str(quarter))].reset_index(drop=True)
