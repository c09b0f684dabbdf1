"""population.csv: the denominators (docs/data-contract.md, section 1). The one reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seuranta.core.errors import InputError

POPULATION_FILE = "population.csv"
COLUMNS = ["municipality_code", "year", "age_group", "population"]


def population_path(data_dir: Path) -> Path:
    return Path(data_dir) / POPULATION_FILE


def read_population(path: Path) -> pd.DataFrame:
    """A population.csv: municipality_code (3 digits), year, age_group, population."""
    path = Path(path)
    try:
        pop = pd.read_csv(path, dtype={"municipality_code": str, "age_group": str})
    except FileNotFoundError:
        raise InputError(f"population file not found: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise InputError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    missing = [c for c in COLUMNS if c not in pop.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        pop["year"] = pop["year"].astype("int64")
        pop["population"] = pop["population"].astype("int64")
    except (ValueError, TypeError):
        raise InputError(f"{path}: year and population must be whole numbers") from None
    pop["municipality_code"] = pop["municipality_code"].str.zfill(3)
    return pop[COLUMNS]
