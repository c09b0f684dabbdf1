"""Helpers of the register-stage tests: small data folders written from rows in the test."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from seuranta.core import reference
from seuranta.register.ingest import REGISTER_COLUMNS

PARAMS = {
    "publication": {"first_quarter": "2022Q4"},
    "register": {"max_age": 120,
                 "unusual_age": {"lastensuojelu": {"min_age": None, "max_age": 20},
                                 "iakkaat": {"min_age": 60, "max_age": None},
                                 "tyoikaiset": {"min_age": 18, "max_age": 67}},
                 "duckdb": {"memory_limit": "500MB", "threads": 2},
                 # these tests reject most of their few rows on purpose: no quarantine stop
                 # (the shipped 0.05 is the schema's default; test_adversarial_inputs has it)
                 "max_rejected_share": None},
}

#: A valid row to start from (Helsinki, working-age services).
GOOD = {"client_id": "c1", "birth_year": "1980", "municipality_code": "091",
        "service_task": "tyoikaiset", "start_date": "2023-01-10", "end_date": "",
        "source": "SHA", "child_welfare_act": ""}


def population(years=(2021, 2022)) -> pd.DataFrame:
    """The reference population (31.12.2022) repeated for each year."""
    pop = reference.reference_population()
    return pd.concat([pop.assign(year=y) for y in years], ignore_index=True)


def write_folder(path: Path, rows, extract_date="2024-02-15", pop_years=(2021, 2022),
                 name="periods.csv") -> Path:
    """A data folder with register/<name> from ``rows`` (dicts or a DataFrame)."""
    path = Path(path)
    (path / "register").mkdir(parents=True, exist_ok=True)
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=REGISTER_COLUMNS)
    df = df.astype(str) if len(df) else df
    df.to_csv(path / "register" / name, index=False, lineterminator="\n")
    population(pop_years).to_csv(path / "population.csv", index=False, lineterminator="\n")
    if extract_date:
        (path / "metadata.json").write_text(json.dumps({"synthetic": True,
                                                        "extract_date": extract_date}))
    return path


def row(**changes) -> dict:
    r = dict(GOOD)
    r.update(changes)
    return r
