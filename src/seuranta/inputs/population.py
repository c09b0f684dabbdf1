"""population.csv: the denominators (docs/data-contract.md, section 1). The one reader.

Strict schema (issue 15): every error is one :class:`InputError` line naming the file and
the data row (1 = the first row after the header) or the municipality and year:

* columns municipality_code, year, age_group, population (extra columns ignored);
* municipality_code of 1-3 digits (zero-padded to 3), year and population whole numbers,
  population not negative;
* age_group ``A-B``, ``A+`` or ``A``;
* unique key municipality_code × year × age_group (a duplicate row would be summed);
* complete bands: each municipality × year covers every age from 0 upwards exactly once,
  ending with an open band ``A+`` (a missing band would silently shrink a base).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core.errors import InputError
from seuranta.core.reference import band_bounds

POPULATION_FILE = "population.csv"
COLUMNS = ["municipality_code", "year", "age_group", "population"]
_WHOLE = re.compile(r"\s*\d+\s*")
_SIGNED = re.compile(r"\s*-\s*\d+\s*")


def population_path(data_dir: Path) -> Path:
    return Path(data_dir) / POPULATION_FILE


def _first_bad(mask: pd.Series) -> int | None:
    """Position of the first True of a boolean Series, or None."""
    hits = mask.to_numpy().nonzero()[0]
    return int(hits[0]) if len(hits) else None


def _check_whole(path: Path, pop: pd.DataFrame, col: str) -> None:
    text = pop[col]
    ok = text.str.fullmatch(_WHOLE.pattern)
    i = _first_bad(~ok)
    if i is not None:
        v = text.iloc[i]
        what = ("must not be negative" if col == "population" and _SIGNED.fullmatch(v)
                else "is not a whole number")
        raise InputError(f"{path}: row {i + 1}: {col} {v!r} {what}")


def _check_bands(path: Path, pop: pd.DataFrame) -> None:
    bounds = {}
    for i, label in enumerate(pop["age_group"]):
        if label in bounds:
            continue
        try:
            bounds[label] = band_bounds(label)
        except ValueError as e:
            raise InputError(f"{path}: row {i + 1}: {e}") from None
    lo = pop["age_group"].map(lambda b: bounds[b][0])
    hi = pop["age_group"].map(lambda b: bounds[b][1])
    frame = pd.DataFrame({"m": pop["municipality_code"], "y": pop["year"], "lo": lo,
                          "hi": hi.astype("float64")}).sort_values(["m", "y", "lo"])
    # each municipality × year in turn, its bands from the lowest: a band must start where
    # the one before ended (the first at 0), and the last must be open (A+); the first
    # fault in that order is reported
    m, y = frame["m"].to_numpy(), frame["y"].to_numpy()
    a, b = frame["lo"].to_numpy().astype("int64"), frame["hi"].to_numpy()
    first = np.r_[True, (m[1:] != m[:-1]) | (y[1:] != y[:-1])]
    last = np.r_[first[1:], True]
    before = np.r_[np.nan, b[:-1]]                     # the previous band's end
    expect = np.where(first, 0.0, before + 1)          # NaN: the previous band was open
    overlap = np.isnan(expect) | (a < expect)
    gap = ~overlap & (a > expect)
    no_open = last & ~np.isnan(b)
    # a row's own fault comes before the end-of-group check after it
    faults = np.flatnonzero(np.r_[overlap | gap, no_open].reshape(2, -1).T.ravel())
    if not len(faults):
        return
    r, after = divmod(int(faults[0]), 2)
    where = f"{path}: municipality {m[r]} year {y[r]}"
    if after:
        raise InputError(f"{where}: no open age band ({int(b[r]) + 1}+) ends the bands")
    if overlap[r]:
        raise InputError(f"{where}: age bands overlap at age {a[r]}")
    raise InputError(f"{where}: no age band covers ages {int(expect[r])}-{a[r] - 1}")


def read_population(path: Path) -> pd.DataFrame:
    """A population.csv: municipality_code (3 digits), year, age_group, population."""
    path = Path(path)
    try:
        pop = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"population file not found: {path}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    pop.columns = [str(c).strip().lstrip("\ufeff") for c in pop.columns]
    missing = [c for c in COLUMNS if c not in pop.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if pop.empty:
        raise InputError(f"{path}: no data rows")
    pop = pop[COLUMNS].copy()
    for c in COLUMNS:
        pop[c] = pop[c].str.strip()
    i = _first_bad(~pop["municipality_code"].str.fullmatch(r"\d{1,3}"))
    if i is not None:
        raise InputError(f"{path}: row {i + 1}: municipality_code "
                         f"{pop['municipality_code'].iloc[i]!r} is not a 3-digit code")
    _check_whole(path, pop, "year")
    _check_whole(path, pop, "population")
    pop["municipality_code"] = pop["municipality_code"].str.zfill(3)
    pop["year"] = pop["year"].astype("int64")
    pop["population"] = pop["population"].astype("int64")
    dup = pop.duplicated(["municipality_code", "year", "age_group"], keep=False)
    i = _first_bad(dup)
    if i is not None:
        r = pop.iloc[i]
        same = pop.index[dup & (pop["municipality_code"] == r["municipality_code"])
                         & (pop["year"] == r["year"]) & (pop["age_group"] == r["age_group"])]
        rows = ", ".join(str(pop.index.get_loc(j) + 1) for j in same[:3])
        raise InputError(f"{path}: row {i + 1}: municipality {r['municipality_code']} year "
                         f"{r['year']} age group {r['age_group']} appears more than once "
                         f"(rows {rows})")
    _check_bands(path, pop)
    return pop[COLUMNS].reset_index(drop=True)
