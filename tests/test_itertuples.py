"""core.tables.itertuples: the rows of DataFrame.itertuples, from whole columns."""

import math

import numpy as np
import pandas as pd
import pytest

from seuranta.core.tables import itertuples


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "code": pd.array(["091", None, "'=x"], dtype="str"),     # arrow-backed text
        "n": np.array([1, 2, 3], dtype="int64"),
        "share": [1.5, np.nan, 2.0],
        "obj": pd.Series(["x", 1, None], dtype=object).to_numpy(),
        "class": [True, False, True],                             # a keyword: renamed
        "cat": pd.Categorical(["u", "v", None]),
        "n2": pd.array([4, None, 6], dtype="Int64"),
    }, index=[7, 8, 9])


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if a is not pd.NA else b is pd.NA


@pytest.mark.parametrize("index", [True, False])
def test_itertuples_gives_pandas_rows(index):
    df = _frame()
    ours, theirs = list(itertuples(df, index=index)), list(df.itertuples(index=index))
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        assert a._fields == b._fields
        assert all(_same(x, y) for x, y in zip(a, b)), (a, b)
    assert ours[0].code == "091" and ours[2].n == 3
    assert (ours[0].Index == 7) if index else not hasattr(ours[0], "Index")


def test_itertuples_of_no_rows_and_plain_tuples():
    df = _frame()
    assert list(itertuples(df.iloc[:0])) == []
    assert list(itertuples(df[["code", "n"]], index=False, name=None)) == \
        list(df[["code", "n"]].itertuples(index=False, name=None))
