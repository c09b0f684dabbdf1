"""Backtests: the tables of a small fixed demo run equal the committed goldens.

A refactor must change no number: this test re-runs the fixed run of
:mod:`backtest_run` (demo scale 0.02, seed 20240101, quarter 2023Q4, the project's
``parameters.yml``; register, statistics and the disclosure gate, no notebooks) and compares
every kept table of ``tables/`` and ``published/`` with its golden
(``tests/backtests/golden/<kind>/<name>.csv``) by ``pandas.testing.assert_frame_equal``, as
text, rows in a canonical order.

A DELIBERATE change of a method, of the demo or of a table's columns changes the goldens:
regenerate them with ``make backtests-update`` (``scripts/update_backtests.py``) IN THE SAME
COMMIT as the change, and say in the commit message why the numbers changed. Never regenerate
to make a refactor pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtest_run as bt  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("backtests")]  # one fixture build

GOLDENS = sorted(f"{p.parent.name}/{p.stem}" for p in bt.GOLDEN_DIR.glob("*/*.csv"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return bt.tables(bt.run(tmp_path_factory.mktemp("backtest")))


def test_goldens_are_small_and_present():
    assert len(GOLDENS) >= 20
    size = sum(p.stat().st_size for p in bt.GOLDEN_DIR.glob("*/*.csv"))
    assert size < 2_000_000, size


def test_same_tables(run):
    """No table appears or disappears without a deliberate update of the goldens."""
    assert sorted(run) == GOLDENS


@pytest.mark.parametrize("key", GOLDENS)
def test_table_equals_golden(run, key):
    if key not in run:
        pytest.fail(f"{key}: not produced by the run")
    golden = bt.read(bt.GOLDEN_DIR / f"{key}.csv")
    pd.testing.assert_frame_equal(bt.read(run[key]), golden, check_exact=True, obj=key)


def test_comparison_catches_a_changed_value(tmp_path):
    """The comparison is not blind: one changed digit in one cell fails it."""
    key = "published/estimates"
    golden = bt.read(bt.GOLDEN_DIR / f"{key}.csv")
    changed = golden.copy()
    col = next(c for c in changed.columns if changed[c].str.fullmatch(r"\d+").any())
    i = changed.index[changed[col].str.fullmatch(r"\d+")][0]
    changed.loc[i, col] = str(int(changed.loc[i, col]) + 1)
    f = tmp_path / "estimates.csv"
    f.write_text(bt.canonical(changed), encoding="utf-8")
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(bt.read(f), golden, check_exact=True)
