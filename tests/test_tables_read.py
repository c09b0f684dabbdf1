"""The one table reader: declared column types per table (core.tables)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from seuranta.core import tables
from seuranta.core.errors import InputError

GOLDEN = Path(__file__).resolve().parent / "backtests" / "golden" / "tables"


def test_every_column_of_every_table_has_a_declared_type():
    for p in GOLDEN.glob("*.csv"):
        head = p.open(encoding="utf-8").readline().strip().split(",")
        assert head == tables.TABLES[p.stem], p.stem
        missing = [c for c in head if c not in tables.COLUMN_TYPES]
        assert missing == [], (p.stem, missing)


def test_declared_types_are_applied(tmp_path):
    pd.DataFrame({"quarter": ["2023Q1"], "municipality_code": ["091"], "county_code": ["01"],
                  "service_task": ["iakkaat"], "source": ["ALL"], "clients": [12],
                  "population_base": [100], "share_pct": [12.0]}).to_csv(tmp_path / "counts.csv",
                                                                         index=False)
    df = tables.read_table(tmp_path, "counts")
    assert df.loc[0, "municipality_code"] == "091"          # a code keeps its leading zero
    assert df["clients"].dtype == "int64" and df["share_pct"].dtype == "float64"
    assert tables.read_table(tmp_path, "quality", required=False) is None
    with pytest.raises(FileNotFoundError):
        tables.read_table(tmp_path, "quality")


def test_a_value_of_the_wrong_type_is_a_one_line_error(tmp_path):
    (tmp_path / "counts.csv").write_text(
        "quarter,municipality_code,service_task,source,clients\n2023Q1,091,iakkaat,ALL,\n")
    with pytest.raises(InputError, match=r"counts.csv: column clients is not int") as e:
        tables.read_table(tmp_path, "counts")
    assert "\n" not in str(e.value)
