"""The register stage's column-wise CSV writer gives exactly the bytes of pandas' to_csv
(the manifests hash these files; a reviewer's re-run must match byte for byte)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seuranta.core import tables
from seuranta.core.tables import write_csv


def _pandas_bytes(df: pd.DataFrame, tmp_path) -> bytes:
    p = tmp_path / "pandas.csv"
    df.to_csv(p, index=False, lineterminator="\n")
    return p.read_bytes()


def _ours(df: pd.DataFrame, tmp_path) -> bytes:
    p = tmp_path / "ours.csv"
    write_csv(df, p)
    return p.read_bytes()


EDGE = pd.DataFrame({
    "quarter": pd.array(["2023Q1", "2023Q1", None, "", "Ähtäri ÅÖ"], dtype="string"),
    "clients": np.array([0, -3, 12, 10**15, 7], dtype=np.int64),
    "share_pct": np.array([0.1 + 0.2, np.nan, -0.0, 1e-05, 1e16]),
    "maybe": pd.array([1, None, -2, 0, None], dtype="Int64"),
})


def test_edge_values_match_pandas(tmp_path):
    assert tables._csv_text(EDGE) is not None           # the fast path is taken
    assert _ours(EDGE, tmp_path) == _pandas_bytes(EDGE, tmp_path)


@pytest.mark.parametrize("df", [
    EDGE.assign(quarter=pd.array(["a,b", "x", "y", "z", "w"], dtype="string")),   # quoting
    EDGE.assign(flag=[True, False, True, False, True]),                          # bool
    EDGE.iloc[:0],                                                               # no rows
    EDGE[["clients"]],                                                           # one column
])
def test_other_tables_fall_back_to_pandas(df, tmp_path):
    assert tables._csv_text(df) is None
    assert _ours(df, tmp_path) == _pandas_bytes(df, tmp_path)


def test_random_tables_match_pandas(tmp_path):
    rng = np.random.default_rng(11)
    n = 500
    vals = rng.normal(0, 1e3, n) * rng.choice([1, 1e-7, 1e9], n)
    vals[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame({
        "code": pd.array(rng.choice(["005", "091", "837", None], n), dtype="string"),
        "x": rng.integers(-10**6, 10**6, n),
        "share": vals,
        "n": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 99, n)),
                      dtype="Int64"),
    })
    assert tables._csv_text(df) is not None
    assert _ours(df, tmp_path) == _pandas_bytes(df, tmp_path)
