"""Disclosure control for every published table (book, PDF, Excel annex).

Internal tables under ``build/<Q>/tables/`` stay exact; whatever is published goes
through :func:`protect` first and can be proven safe with :func:`assert_no_disclosure`.

Rules (threshold ``disclosure.min_count`` in parameters.yml, default 5; symbol
``disclosure.symbol``, default ``".."``):

* primary: a count 1 … min_count−1 is shown as the symbol; zeros are shown;
* secondary: a *group* is a set of count cells whose sum is published somewhere (a total
  row, a total column, the same figure in another table). A reader knows that every
  suppressed cell is ≥ 1 (zeros are shown), so a group leaks a suppressed value when it
  has exactly one suppressed cell, or when its suppressed cells add up to their number
  (all ones). In such a group the smallest visible non-zero cell is suppressed too, and
  the groups are re-checked until nothing changes. A group whose total is itself 1 …
  min_count−1 is assumed to be shown as the symbol where it is published, so it leaks
  nothing;
* shares: a share (or any derived figure) of a suppressed count is suppressed too.

API (all pure functions on pandas frames; the frame's rows keep their order and index):

``protect(df, count_cols, row_groups=None, col_groups=None, derived=None,
min_count=5, symbol="..", lp_audit=True) -> DataFrame``
    ``count_cols``: the columns holding counts (int). ``row_groups``: which rows add up
    to a published total in each count column — ``None`` (no totals), ``"all"`` (one
    column total over all rows) or a column name / list of names (rows with equal values
    form a group, e.g. ``"county_code"`` when the county totals are shown) or a list of
    lists of index labels. ``col_groups``: list of lists of count columns whose row sum is
    published (e.g. ``[["0-17", "18-64", "65+"]]`` when a "kaikki" column is shown).
    ``derived``: {column: count column} — e.g. ``{"share_pct": "clients"}``; suppressed
    with its count. Returns a copy with object dtype in those columns: the original
    value or the symbol. With ``lp_audit`` the result is also safe against joint
    inference across overlapping groups (see below): a cell the linear program pins down
    gets another secondary suppression in one of its groups.
``protect_value(x, min_count=5, symbol="..")``
    One stand-alone count (a total printed in text).
``suppressed_mask(published, columns, symbol="..")``
    Boolean frame: which cells carry the symbol.
``assert_no_disclosure(published, exact, count_cols, row_groups=None, col_groups=None,
derived=None, min_count=5, symbol="..", lp_audit=True)``
    Raises AssertionError naming the first problem: a small count visible, a visible
    value that differs from the exact one, a derived figure of a suppressed count
    visible, or a group whose published total minus its visible cells pins down a
    suppressed cell. With ``lp_audit`` (scipy's linprog) it also proves, for every
    suppressed cell, that the joint constraints of all groups (cells ≥ 1) leave it more
    than one possible value.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

DEFAULT_MIN_COUNT = 5
DEFAULT_SYMBOL = ".."

Cell = tuple[Hashable, str]


def is_small(x, min_count: int = DEFAULT_MIN_COUNT) -> bool:
    """True for a count 1 … min_count−1 (the values that must not be shown)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return False
    return 0 < float(x) < min_count


def protect_value(x, min_count: int = DEFAULT_MIN_COUNT, symbol: str = DEFAULT_SYMBOL):
    """A single count as published: the symbol for 1 … min_count−1, else the value."""
    return symbol if is_small(x, min_count) else x


def _groups(df: pd.DataFrame, count_cols: Sequence[str], row_groups, col_groups
            ) -> list[list[Cell]]:
    """Every group of cells whose sum is published."""
    out: list[list[Cell]] = []
    if row_groups is not None:
        if isinstance(row_groups, str) and row_groups == "all":
            idx_sets = [list(df.index)]
        elif isinstance(row_groups, str) or (
                isinstance(row_groups, (list, tuple)) and row_groups
                and all(isinstance(x, str) and x in df.columns for x in row_groups)):
            by = [row_groups] if isinstance(row_groups, str) else list(row_groups)
            key = by[0] if len(by) == 1 else by
            idx_sets = [list(ix) for ix in df.groupby(key, sort=True, dropna=False).groups.values()]
        else:
            idx_sets = [list(s) for s in row_groups]
        for ix in idx_sets:
            for c in count_cols:
                out.append([(i, c) for i in ix])
    for cols in col_groups or []:
        for i in df.index:
            out.append([(i, c) for c in cols])
    return out


def _leaks(values: list[float], hidden: list[bool], min_count: int) -> bool:
    """Does this group reveal a hidden cell? (total assumed published unless small)"""
    k = sum(hidden)
    if k == 0:
        return False
    total = sum(values)
    if is_small(total, min_count):
        return False
    residual = sum(v for v, h in zip(values, hidden) if h)
    return k == 1 or residual == k


def protect(df: pd.DataFrame, count_cols: Sequence[str], row_groups=None, col_groups=None,
            derived: dict[str, str] | None = None, min_count: int = DEFAULT_MIN_COUNT,
            symbol: str = DEFAULT_SYMBOL, lp_audit: bool = True) -> pd.DataFrame:
    """The publishable copy of ``df`` (see the module docstring)."""
    count_cols = list(count_cols)
    missing = [c for c in count_cols + list((derived or {}).keys()) if c not in df.columns]
    if missing:
        raise ValueError(f"protect: no column(s) {missing}")
    if not df.index.is_unique:
        raise ValueError("protect: the frame's index must be unique")
    val = {(i, c): float(df.at[i, c]) if pd.notna(df.at[i, c]) else 0.0
           for i in df.index for c in count_cols}
    hidden = {cell: is_small(v, min_count) for cell, v in val.items()}
    groups = _groups(df, count_cols, row_groups, col_groups)

    def suppress_next(g):
        cands = sorted((val[c], str(c[0]), c[1], c) for c in g if not hidden[c] and val[c] > 0)
        if not cands:
            raise ValueError(f"protect: cannot protect group {g[:3]}…: no visible non-zero "
                             "cell left for secondary suppression (use coarser groups)")
        hidden[cands[0][3]] = True

    changed = True
    while changed:
        changed = False
        for g in groups:
            if _leaks([val[c] for c in g], [hidden[c] for c in g], min_count):
                suppress_next(g)
                changed = True
        if not changed and lp_audit:
            # joint inference across overlapping groups: widen the first pinned cell's group
            for cell, (lo, hi) in _lp_ranges(groups, val, hidden, min_count).items():
                if _pinned(lo, hi):
                    g = next((g for g in groups if cell in g
                              and any(not hidden[c] and val[c] > 0 for c in g)), [cell])
                    suppress_next(g)
                    changed = True
                    break
    out = df.copy()
    for c in count_cols:
        out[c] = out[c].astype(object)
    for (i, c), h in hidden.items():
        if h:
            out.at[i, c] = symbol
    for dcol, ccol in (derived or {}).items():
        out[dcol] = out[dcol].astype(object)
        for i in df.index:
            if hidden[(i, ccol)]:
                out.at[i, dcol] = symbol
    return out


def suppressed_mask(published: pd.DataFrame, columns: Sequence[str],
                    symbol: str = DEFAULT_SYMBOL) -> pd.DataFrame:
    """Which cells of ``columns`` carry the symbol."""
    return pd.DataFrame({c: published[c].map(lambda v: isinstance(v, str) and v == symbol)
                         for c in columns}, index=published.index)


def _pinned(lo: float, hi: float) -> bool:
    """Only one whole number lies in [lo, hi]."""
    if math.isinf(hi):
        return False
    return math.floor(hi + 1e-9) - math.ceil(lo - 1e-9) < 1


def _lp_ranges(groups: list[list[Cell]], val: dict, hidden: dict, min_count: int
               ) -> dict[Cell, tuple[float, float]]:
    """Min and max of every hidden cell subject to all published group sums, cells ≥ 1."""
    from scipy.optimize import linprog  # heavy dependency: loaded only when used

    cells = sorted({c for g in groups for c in g if hidden[c]}, key=lambda c: (str(c[0]), c[1]))
    if not cells:
        return {}
    pos = {c: j for j, c in enumerate(cells)}
    a_eq, b_eq = [], []
    for g in groups:
        if is_small(sum(val[c] for c in g), min_count):
            continue
        hid = [c for c in g if hidden[c]]
        if not hid:
            continue
        row = np.zeros(len(cells))
        for c in hid:
            row[pos[c]] = 1.0
        a_eq.append(row)
        b_eq.append(sum(val[c] for c in hid))
    if not a_eq:
        return {}
    bounds = [(1, None)] * len(cells)
    out = {}
    for c, j in pos.items():
        obj = np.zeros(len(cells))
        obj[j] = 1.0
        lo = linprog(obj, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=bounds,
                     method="highs")
        hi = linprog(-obj, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=bounds,
                     method="highs")
        if lo.status == 0:
            out[c] = (lo.fun, -hi.fun if hi.status == 0 else math.inf)
    return out


def assert_no_disclosure(published: pd.DataFrame, exact: pd.DataFrame,
                         count_cols: Sequence[str], row_groups=None, col_groups=None,
                         derived: dict[str, str] | None = None,
                         min_count: int = DEFAULT_MIN_COUNT, symbol: str = DEFAULT_SYMBOL,
                         lp_audit: bool = True) -> None:
    """Prove that ``published`` neither shows nor lets a reader derive a small count."""
    count_cols = list(count_cols)
    if list(published.index) != list(exact.index):
        raise AssertionError("published and exact tables have different rows")
    val, hidden = {}, {}
    for i in exact.index:
        for c in count_cols:
            x = exact.at[i, c]
            x = 0.0 if pd.isna(x) else float(x)
            p = published.at[i, c]
            h = isinstance(p, str) and p == symbol
            if not h:
                if is_small(x, min_count):
                    raise AssertionError(f"small count visible: row {i!r}, column {c!r}")
                if pd.isna(p) or float(p) != x:
                    raise AssertionError(f"visible value differs from the exact one: row {i!r}, "
                                         f"column {c!r}: {p!r} vs {x!r}")
            val[(i, c)] = x
            hidden[(i, c)] = h
    for dcol, ccol in (derived or {}).items():
        for i in exact.index:
            if hidden[(i, ccol)] and not (isinstance(published.at[i, dcol], str)
                                          and published.at[i, dcol] == symbol):
                raise AssertionError(f"{dcol!r} of a suppressed count visible: row {i!r}")
    groups = _groups(exact, count_cols, row_groups, col_groups)
    for g in groups:
        if _leaks([val[c] for c in g], [hidden[c] for c in g], min_count):
            raise AssertionError(f"group total reveals a suppressed cell: {g[:4]}")
    if lp_audit:
        for cell, (lo, hi) in _lp_ranges(groups, val, hidden, min_count).items():
            if _pinned(lo, hi):
                raise AssertionError(f"suppressed cell {cell!r} is pinned to {lo:g} by the "
                                     "published totals")
