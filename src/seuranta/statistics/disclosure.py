"""Disclosure control for every published table (book, PDF, Excel annex).

Internal tables under ``build/<Q>/tables/`` stay exact; whatever is published goes
through :func:`protect` first and can be proven safe with :func:`assert_no_disclosure`.

Rules (threshold ``disclosure.min_count`` in parameters.yml, default 5; symbol ``..``, the
SVT set's of :mod:`seuranta.core.symbols`):

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

from seuranta.core.params import defaults
from seuranta.core.symbols import SUPPRESSED

#: Defaults of the disclosure section (declared in core.params.SCHEMA).
DEFAULT_MIN_COUNT = defaults("disclosure")["min_count"]
#: The symbol of a suppressed cell: the one of the SVT symbol set (core.symbols).
DEFAULT_SYMBOL = SUPPRESSED

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


# --------------------------------------------------------------------------- linked tables
#
# ``protect_linked`` protects a *set* of tables that a reader can combine: every cell that
# any of them shows (a municipality's count of a task in a quarter, a national age group…)
# is one variable, shared by every table, artefact and release that shows it; every
# published sum of cells (a county subtotal, "clients used", a national total) is one
# equation. Earlier publications enter as fixed equations and as values already known.
# The reader's knowledge is modelled as:
#   * a visible cell's value (exact: a share times a public base is treated as exact);
#   * a suppressed cell is ≥ 1 (zeros are shown), a cell without a number ("not
#     available", e.g. data not comprehensive) is ≥ 0, and no cell exceeds its public
#     upper bound (the municipality's population base);
#   * every published total, and every equation of an earlier publication.
# A cell whose exact value is 1 … min_count−1 must not be pinned to one whole number by
# these constraints together (proved with linear programs on each connected component).


class LinkedResult:
    """What :func:`protect_linked` decided: the cells to suppress, the group totals to
    suppress, and counts for the information-loss report."""

    def __init__(self, hidden: set, primary: set, dropped: set, lp_checked: int):
        self.hidden = hidden          # every suppressed cell (primary and secondary)
        self.primary = primary        # cells suppressed because they are small (or forced)
        self.dropped = dropped        # group ids whose published total is suppressed
        self.lp_checked = lp_checked  # small unknown cells proved unpinned by LP

    @property
    def secondary(self) -> set:
        return self.hidden - self.primary


def _components(constraints: list[tuple[tuple, float]]) -> list[list[int]]:
    """Indices of constraints that share variables, grouped (union-find)."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for j, (cells, _) in enumerate(constraints):
        for c in cells:
            a, b = find(("c", j)), find(("v", c))
            if a != b:
                parent[a] = b
    comp: dict = {}
    for j in range(len(constraints)):
        comp.setdefault(find(("c", j)), []).append(j)
    return list(comp.values())


def linked_ranges(constraints: list[tuple[Sequence, float]], bounds: dict,
                  targets: set | None = None, cache: dict | None = None
                  ) -> dict[Hashable, tuple[float, float]]:
    """Min and max of each target variable subject to every equation ``sum(cells) = b``
    and the variables' ``bounds`` {var: (lo, hi)} (hi may be inf). Variables of no equation
    are not returned. ``cache`` (a dict kept by the caller) reuses components solved before.
    """
    from scipy.optimize import linprog  # heavy dependency: loaded only when used

    cons = [(tuple(sorted(set(c), key=repr)), float(b)) for c, b in constraints if c]
    out: dict = {}
    for comp in _components(cons):
        cc = sorted({cons[j] for j in comp}, key=repr)
        vars_ = sorted({v for cells, _ in cc for v in cells}, key=repr)
        want = [v for v in vars_ if targets is None or v in targets]
        if not want:
            continue
        key = (tuple(cc), tuple((v, bounds.get(v, (0, math.inf))) for v in vars_),
               tuple(want))
        if cache is not None and key in cache:
            out.update(cache[key])
            continue
        pos = {v: j for j, v in enumerate(vars_)}
        a_eq = np.zeros((len(cc), len(vars_)))
        b_eq = np.array([b for _, b in cc])
        for i, (cells, _) in enumerate(cc):
            for v in cells:
                a_eq[i, pos[v]] = 1.0
        bnds = [(bounds.get(v, (0, math.inf))[0],
                 None if math.isinf(bounds.get(v, (0, math.inf))[1]) else
                 bounds.get(v, (0, math.inf))[1]) for v in vars_]
        res = {}
        for v in want:
            obj = np.zeros(len(vars_))
            obj[pos[v]] = 1.0
            lo = linprog(obj, A_eq=a_eq, b_eq=b_eq, bounds=bnds, method="highs")
            if lo.status != 0:
                continue  # infeasible: the equations contradict (a revised value)
            hi = linprog(-obj, A_eq=a_eq, b_eq=b_eq, bounds=bnds, method="highs")
            res[v] = (lo.fun, -hi.fun if hi.status == 0 else math.inf)
        if cache is not None:
            cache[key] = res
        out.update(res)
    return out


def _movable(cons: list, targets: set, values: dict, bounds: dict) -> set:
    """Targets proved unpinned without a linear program: another cell of exactly the same
    equations can give or take one unit within both cells' bounds (the true values are a
    feasible point, so the target can take two whole values)."""
    member: dict = {}
    for j, (cells, _) in enumerate(cons):
        for c in cells:
            member.setdefault(c, []).append(j)
    same: dict = {}
    for c, js in member.items():
        if c in values:
            same.setdefault(tuple(js), []).append(c)
    out = set()
    for t in targets:
        lo_t, hi_t = bounds[t]
        for u in same[tuple(member[t])]:
            if u == t:
                continue
            lo_u, hi_u = bounds[u]
            if (values[t] + 1 <= hi_t and values[u] - 1 >= lo_u) or (
                    values[t] - 1 >= lo_t and values[u] + 1 <= hi_u):
                out.add(t)
                break
    return out


def protect_linked(values: dict, groups: dict, shown: set, upper: dict | None = None,
                   known: dict | None = None, forced: set | frozenset = frozenset(),
                   fixed: Sequence[tuple[Sequence, float]] = (),
                   fixed_bounds: dict | None = None, min_count: int = DEFAULT_MIN_COUNT,
                   lp_audit: bool = True, secondary: bool = True,
                   hierarchy: dict | None = None,
                   sensitive: set | frozenset = frozenset()) -> LinkedResult:
    """Suppression of linked cells (see the comment above).

    ``values``: exact value of every cell; ``groups``: {group id: cells} whose sum is
    published; ``shown``: the cells that a table shows (the others are "not available");
    ``upper``: public upper bound of a cell (default none); ``known``: cells whose value an
    earlier publication showed (constants for the reader; never chosen for secondary
    suppression, as hiding them protects nothing); ``forced``: cells an earlier publication
    suppressed (suppressed again); ``fixed``: equations of earlier publications over cells
    (or over variables of their own, bounded by ``fixed_bounds``). ``secondary=False``
    applies primary suppression only (for measuring what the gate adds). ``hierarchy``:
    {parent group: [child groups]} whose cells partition the parent's (county subtotals of
    a national total): when one child's total is suppressed, a second one is too, since
    the parent minus the shown children would give it. ``sensitive``: cells (suppressed
    through ``forced``) that must not be pinned whatever their value, because an earlier
    publication showed a value that differs from theirs by a small count.

    Secondary suppression: while a group's total pins a small unknown cell (one unknown
    cell left, or the unknown cells' residual equal to the sum of their lower or upper
    bounds), its smallest visible non-zero cell is suppressed; when it has none, the
    group's total is suppressed. Then the linear programs check every small unknown cell
    against all equations together, and the same repair is applied to a group of the first
    pinned cell, until none is pinned.
    """
    primary = {c for c in shown if is_small(values[c], min_count) or
               (c in forced and values[c] > 0)}
    state = _Linked(values, groups, shown, upper or {}, dict(known or {}), min_count,
                    hierarchy or {}, sensitive, primary)
    if not secondary:
        return LinkedResult(state.hidden, primary, state.dropped, 0)
    cache: dict = {}
    lp_checked = 0
    while True:
        state.quick_repairs()
        if not lp_audit:
            break
        cons, bounds, targets = state.lp_problem(fixed, fixed_bounds or {})
        ranges = linked_ranges(cons, bounds, targets, cache)
        pinned = sorted((repr(c), c) for c, (lo, hi) in ranges.items() if _pinned(lo, hi))
        lp_checked = len(ranges)
        if not state.repair_pinned([c for _, c in pinned], cons):
            break   # pinned by earlier publications or bounds alone
    return LinkedResult(state.hidden, primary, state.dropped, lp_checked)


class _Linked:
    """The state of :func:`protect_linked`: the suppressed cells (``hidden``) and group
    totals (``dropped``), and the tests and repairs on them."""

    def __init__(self, values: dict, groups: dict, shown: set, upper: dict, known: dict,
                 min_count: int, hierarchy: dict, sensitive, primary: set):
        self.values, self.groups, self.shown = values, groups, shown
        self.upper, self.known, self.min_count = upper, known, min_count
        self.hierarchy, self.sensitive = hierarchy, sensitive
        self.hidden = set(primary)
        self.dropped = {g for g, cells in groups.items()
                        if is_small(sum(values[c] for c in cells), min_count)}
        self.member: dict = {}
        for g, cells in groups.items():
            for c in cells:
                self.member.setdefault(c, []).append(g)

    def is_known(self, c) -> bool:
        return (c in self.shown and c not in self.hidden) or c in self.known

    def lb(self, c) -> float:
        return 1.0 if c in self.hidden else 0.0

    def ub(self, c) -> float:
        return float(self.upper.get(c, math.inf))

    def small_unknown(self, c) -> bool:
        return not self.is_known(c) and (is_small(self.values[c], self.min_count)
                                         or c in self.sensitive)

    def visible(self, c) -> bool:
        """A shown, unsuppressed, not earlier-published non-zero cell: one to suppress."""
        return (c in self.shown and c not in self.hidden and c not in self.known
                and self.values[c] > 0)

    def unknown_in(self, g) -> list:
        return [c for c in self.groups[g] if not self.is_known(c)]

    def repair(self, g) -> None:
        """Suppress the smallest visible cell of group g, or its total when it has none."""
        cands = sorted((self.values[c], repr(c), c) for c in self.groups[g] if self.visible(c))
        if cands:
            self.hidden.add(cands[0][2])
        else:
            self.dropped.add(g)

    def quick_leak(self, g) -> bool:
        unknown = self.unknown_in(g)
        if not any(self.small_unknown(c) for c in unknown):
            return False
        if len(unknown) == 1:
            return True
        r = sum(self.values[c] for c in unknown)
        return (r == sum(self.lb(c) for c in unknown)
                or r == sum(self.ub(c) for c in unknown))

    def hierarchy_leak(self, parent) -> bool:
        """One child total suppressed under a shown parent: suppress a second child (the
        smallest holding an unknown cell), or the parent when there is none."""
        kids = self.hierarchy[parent]
        if parent in self.dropped or sum(k in self.dropped for k in kids) != 1:
            return False
        cand = sorted((sum(self.values[c] for c in self.groups[k]), repr(k), k) for k in kids
                      if k not in self.dropped and self.unknown_in(k))
        self.dropped.add(cand[0][2] if cand else parent)
        return True

    def quick_repairs(self) -> None:
        """Repair every group whose total pins a small cell, and every hierarchy with one
        child total suppressed, until none is left."""
        changed = True
        while changed:
            changed = False
            for g in self.groups:
                if g not in self.dropped and self.quick_leak(g):
                    self.repair(g)
                    changed = True
            for parent in self.hierarchy:
                changed = self.hierarchy_leak(parent) or changed

    def lp_problem(self, fixed, fixed_bounds: dict) -> tuple[list, dict, set]:
        """The equations over unknown cells (published group totals and ``fixed``), the
        bounds of their cells and the small unknown cells to check."""
        values = self.values
        cons = []
        for g in self.groups:
            if g in self.dropped:
                continue
            unknown = self.unknown_in(g)
            if unknown:
                cons.append((unknown, sum(values[c] for c in unknown)))
        for cells, b in fixed:
            unknown = [c for c in cells if not (c in values and self.is_known(c))]
            b = b - sum(values[c] for c in cells if c in values and self.is_known(c))
            if unknown:
                cons.append((unknown, b))
        bounds = {}
        for cells, _ in cons:
            for c in cells:
                bounds[c] = fixed_bounds.get(c, (0.0, math.inf)) if c not in values \
                    else (self.lb(c), self.ub(c))
        targets = {c for cells, _ in cons for c in cells if c in values
                   and self.small_unknown(c) and not _pinned(self.lb(c), self.ub(c))}
        targets -= _movable(cons, targets, values, bounds)
        return cons, bounds, targets

    def repair_pinned(self, pinned: list, cons: list) -> bool:
        """Repair a group of each pinned cell (one repair per group); whether any was."""
        done_groups: set = set()
        for c in pinned:
            gs = [g for g in self.member.get(c, []) if g not in self.dropped
                  and g not in done_groups]
            if not gs:   # pinned through an earlier equation: repair a neighbour's group
                near = {v for cells, _ in cons if c in cells for v in cells}
                gs = sorted({g for v in near for g in self.member.get(v, [])
                             if g not in self.dropped and g not in done_groups}, key=repr)
            if not gs:
                continue
            # prefer a group that still has a visible cell to suppress
            gs.sort(key=lambda g: (not any(self.visible(x) for x in self.groups[g]),
                                   len(self.groups[g]), repr(g)))
            self.repair(gs[0])
            done_groups.add(gs[0])
        return bool(done_groups)


# --------------------------------------------------------------------------- relation models
#
# The general form (issue 21): every published figure (a municipal cell, a total, an age
# group, a task pair, a year figure…) and every unpublished count that published figures
# add up from (a county × number-of-tasks cell, a municipality that is "not available") is
# one variable with its exact value; the relations a reader can form are linear rows
# ``lo ≤ Σ coef · operand ≤ hi`` (equalities and inequalities: totals, nested subsets,
# identities, earlier releases). A reader knows every shown figure, that a suppressed one
# is ≥ 1 (zeros are shown), that an unpublished one is ≥ 0, every public upper bound and
# every row. :func:`protect_model` chooses what to suppress so that every count of
# 1 … min_count−1 (cell, unpublished count or nested difference) can be 1 and min_count
# in whole numbers under all rows together (its protection interval [1, min_count]), and
# that no suppressed figure is pinned (a suppressed figure of min_count or more may be
# known to be above 1: that it is not small discloses no count of 1 … min_count−1).


class RelationModel:
    """Figures with exact values and the linear relations among them (see above)."""

    def __init__(self):
        self.value: dict = {}
        self.lb: dict = {}
        self.ub: dict = {}
        self.pub: set = set()       # figures a table shows (or suppresses)
        self.cost: dict = {}        # loss of suppressing one unit of the figure
        self.rows: list = []        # (terms {key: coef}, lo, hi, tag)
        self.nested: list = []      # (terms {key: coef}, name): counts no table shows
        self.known: set = set()     # published figures a reader already has (earlier release)
        self.forced: set = set()    # figures an earlier publication suppressed
        self.hide_with: dict = {}   # figure → figures suppressed whenever it is
        self.agg_members: dict = {}  # a sum of not-available cells → its cells

    def figure(self, key, value: float, lb: float = 0.0, ub: float = math.inf,
               pub: bool = True, cost: float = 1.0):
        """Declare a variable (again: bounds are intersected); returns its key."""
        if key in self.value:
            self.lb[key] = max(self.lb[key], lb)
            self.ub[key] = min(self.ub[key], ub)
            return key
        self.value[key] = float(value)
        self.lb[key], self.ub[key] = float(lb), float(ub)
        if pub:
            self.pub.add(key)
        self.cost[key] = float(cost)
        return key

    @staticmethod
    def _terms(terms) -> tuple[dict, float]:
        t: dict = {}
        const = 0.0
        for op, c in terms:
            if isinstance(op, tuple):
                t[op] = t.get(op, 0.0) + c
            else:
                const += c * float(op)
        return {k: c for k, c in t.items() if c != 0}, const

    def add(self, terms, lo: float = -math.inf, hi: float = math.inf, tag: str = "") -> None:
        """``lo ≤ Σ coef · operand ≤ hi``; an operand is a figure's key (a tuple) or a
        constant (a number: a figure an earlier publication showed)."""
        t, const = self._terms(terms)
        if t:
            self.rows.append((t, lo - const, hi - const, tag))

    def add_nested(self, terms, name: str) -> None:
        """A difference of figures that no table shows (e.g. lastensuojelu −
        lastensuojelulaki of a cell): protected like a count when it is small."""
        t, const = self._terms(terms)
        self.nested.append((t, const, name))

    def holds(self, row) -> bool:
        t, lo, hi, _ = row
        s = sum(c * self.value[k] for k, c in t.items())
        return lo - 1e-6 <= s <= hi + 1e-6


class ModelResult:
    """What :func:`protect_model` decided and what it cost."""

    def __init__(self, hidden: set, primary: set, rounds: int, solves: int, unresolved: list,
                 seconds: float):
        self.hidden = hidden
        self.primary = primary
        self.rounds = rounds
        self.solves = solves
        self.unresolved = unresolved
        self.seconds = seconds

    @property
    def secondary(self) -> set:
        return self.hidden - self.primary


class _State:
    """The reduced system for one set of suppressed figures."""

    def __init__(self, M: RelationModel, hidden: set):
        self.M = M
        self.unknown = {k for k in M.value if (k not in M.pub or k in hidden)
                        and k not in M.known}
        self.rows = []
        member: dict = {}
        for t, lo, hi, _ in M.rows:
            u = {k: c for k, c in t.items() if k in self.unknown}
            if not u:
                continue
            const = sum(c * M.value[k] for k, c in t.items() if k not in self.unknown)
            self.rows.append((u, lo - const, hi - const))
            for k in u:
                member.setdefault(k, []).append(len(self.rows) - 1)
        self.member = member
        self.lhs = [sum(c * M.value[k] for k, c in u.items()) for u, _, _ in self.rows]
        self.lb = {k: (max(M.lb[k], 1.0) if k in M.pub and M.value[k] > 0 else M.lb[k])
                   for k in self.unknown}
        sig: dict = {}
        for k in self.unknown:
            key = tuple(sorted((j, self.rows[j][0][k]) for j in member.get(k, [])
                               if self.rows[j][1] == self.rows[j][2]))
            sig.setdefault(key, []).append(k)
        # partners of the same equalities, the roomiest first: to go down, to go up
        self.same: dict = {}
        for g in sig.values():
            down = [u for _, _, u in sorted((-(M.value[u] - self.lb[u]), repr(u), u) for u in g)
                    if M.value[u] - self.lb[u] >= 1]
            up = [u for _, _, u in sorted((-(M.ub[u] - M.value[u]), repr(u), u) for u in g)
                  if M.ub[u] - M.value[u] >= 1]
            for k in g:
                self.same[k] = (down, up)

    def _compensate(self, k, d: float, moves: dict) -> bool:
        """Add to ``moves`` partners of ``k``'s equalities taking −d between them (the
        roomiest first); False when they cannot."""
        M = self.M
        need = abs(d)
        down, up = self.same.get(k, ((), ()))
        for u in (down if d > 0 else up):
            if u == k or u in moves:
                continue
            r = (M.value[u] - self.lb[u]) if d > 0 else (M.ub[u] - M.value[u])
            step = min(r, need)
            moves[u] = -step if d > 0 else step
            need -= step
            if need < 1e-9:
                return True
        return False

    def certify(self, terms: dict, goal: float, sense: int) -> bool:
        """Reach ``Σ terms ≤ goal`` (sense 1) or ``≥ goal`` (−1) by moving the true values
        so that every relation still holds: one term's figure by the amount needed, figures
        of the same equalities the opposite way, and the other figure of an inequality that
        the move would break (with its own partners)."""
        M = self.M
        now = sum(c * M.value[k] for k, c in terms.items())
        if (sense == 1 and now <= goal + 1e-9) or (sense == -1 and now >= goal - 1e-9):
            return True
        for k, c in terms.items():
            if k not in self.unknown:
                continue
            d = (goal - now) / c
            if abs(d - round(d)) > 1e-9:
                continue
            moves = {k: float(round(d))}
            if not self._compensate(k, moves[k], moves):
                continue
            for _ in range(3):
                bad = self._broken(moves)
                if bad is None:
                    return True
                if not self._mend(bad, moves, set(terms)):
                    break
        return False

    def _broken(self, moves: dict):
        for j in {j for k in moves for j in self.member.get(k, [])}:
            u, lo, hi = self.rows[j]
            s = self.lhs[j] + sum(u.get(k, 0.0) * d for k, d in moves.items())
            if s < lo - 1e-6 or s > hi + 1e-6:
                return j, s
        for k, d in moves.items():
            x = self.M.value[k] + d
            if x < self.lb[k] - 1e-9 or x > self.M.ub[k] + 1e-9:
                return -1, 0.0
        return None

    def _mend(self, bad, moves: dict, fixed: set) -> bool:
        """Move the one unmoved figure of a broken inequality just enough."""
        j, s = bad
        if j < 0:
            return False
        u, lo, hi = self.rows[j]
        free = [k for k in u if k not in moves and k not in fixed]
        if len(free) != 1:
            return False
        w = free[0]
        gap = (lo - s) if s < lo else (hi - s)
        d = gap / u[w]
        d = math.ceil(d - 1e-9) if d > 0 else math.floor(d + 1e-9)
        moves[w] = float(d)
        return self._compensate(w, d, moves)


def _whole_up(x: float) -> float:
    """The smallest whole number ≥ x (within rounding error); ±inf as is."""
    return x if math.isinf(x) else float(math.ceil(x - 1e-9))


def _whole_down(x: float) -> float:
    return x if math.isinf(x) else float(math.floor(x + 1e-9))


class _Bounds:
    """Can an expression of the figures reach a goal in whole numbers under every row of a
    :class:`RelationModel`, for one set of unknown figures? (The protection intervals.)

    One HiGHS linear program holds every figure as a column, a known one fixed at its value,
    and every row; a question only changes the objective and starts from the last optimal
    basis (a few pivots). Its answer decides alone when the LP optimum misses the goal (no
    whole-valued point does better) or when the optimal point is whole on the expression's
    component (then it is the whole-valued optimum too). Otherwise the integer program of that
    component alone decides, stopped as soon as a point reaches the goal. Making figures
    unknown (:meth:`unknow`) widens their bounds in place: answers "reachable" stay true.
    """

    def __init__(self, M: RelationModel, unknown: set, time_limit: float = 10.0):
        import highspy  # heavy dependency: loaded only when used
        from scipy.sparse import csr_array
        self.M = M
        self.keys = list(M.value)
        self.pos = {k: i for i, k in enumerate(self.keys)}
        self.unknown = set(unknown)
        self.time_limit = time_limit
        data, ri, ci, lo, hi = [], [], [], [], []
        for r, (t, a, b, _) in enumerate(M.rows):
            for k, c in t.items():
                data.append(c)
                ri.append(r)
                ci.append(self.pos[k])
            if all(float(c).is_integer() for c in t.values()):
                # whole coefficients of whole figures: whole bounds (a fractional bound,
                # e.g. an exact estimate, would only make the LP's optimum fractional)
                a, b = _whole_up(a), _whole_down(b)
            lo.append(a)
            hi.append(b)
        n = len(self.keys)
        self.A = csr_array((data, (ri, ci)), shape=(len(M.rows), n))
        self.row_lo = np.array(lo, float)
        self.row_hi = np.array(hi, float)
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, len(M.rows)
        lp.col_cost_ = np.zeros(n)
        lb, ub = zip(*(self._range(k) for k in self.keys)) if n else ((), ())
        # every figure's range now (:meth:`_range`), kept per column as figures become
        # unknown, and the unknown figures' columns: what each integer program reads
        self._lo, self._hi = np.array(lb, float), np.array(ub, float)
        self._unknown_cols = np.zeros(n, bool)
        self._unknown_cols[[self.pos[k] for k in self.unknown]] = True
        self._values = np.array([M.value[k] for k in self.keys])   # the true values
        lp.col_lower_ = self._lo.copy()
        lp.col_upper_ = np.minimum(self._hi, inf)
        lp.row_lower_ = np.maximum(self.row_lo, -inf)
        lp.row_upper_ = np.minimum(self.row_hi, inf)
        csc = self.A.tocsc()
        self._csc = csc
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        self.h = highspy.Highs()
        self.h.silent()
        self.h.setOptionValue("simplex_strategy", 4)   # primal: a new objective keeps the
        self.h.passModel(lp)                             # basis feasible (a few pivots)
        self._costed: np.ndarray = np.zeros(0, np.int32)
        self._comp: dict | None = None
        self._union: dict = {}
        self._forget_points()
        self._mip: dict = {}
        self.lp_solves = 0
        self.mip_solves = 0

    def lower(self, k) -> float:
        """A figure's lower bound as a reader knows it: a suppressed count is ≥ 1 (zeros are
        shown), an unpublished one ≥ its declared bound."""
        M = self.M
        return max(M.lb[k], 1.0) if k in M.pub and M.value[k] > 0 else M.lb[k]

    def _range(self, k) -> tuple[float, float]:
        v = self.M.value[k]
        if k not in self.unknown:
            return v, v
        return _whole_up(self.lower(k)), _whole_down(self.M.ub[k])

    def unknow(self, keys) -> None:
        """These figures are suppressed from now on."""
        import highspy
        new = [k for k in keys if k not in self.unknown and k not in self.M.known]
        if not new:
            return
        self.unknown |= set(new)
        idx = np.array([self.pos[k] for k in new], np.int32)
        lb, ub = zip(*(self._range(k) for k in new))
        self._lo[idx], self._hi[idx] = lb, ub
        self._unknown_cols[idx] = True
        self.h.changeColsBounds(len(idx), idx, np.array(lb, float),
                                np.minimum(np.array(ub, float), highspy.kHighsInf))
        self._comp = None
        self._mip = {}
        self._forget_points()   # whole on a component: the components change

    def _forget_points(self) -> None:
        """Every figure's smallest and largest value over the LP points found so far that
        are whole on its component (each the part of a whole-valued point of the model)."""
        self.seen_lo = np.full(len(self.keys), math.inf)
        self.seen_hi = np.full(len(self.keys), -math.inf)

    def _seen(self, x: np.ndarray) -> None:
        """Record an LP point on the components where it is whole."""
        self.components()
        lab = self._labels
        frac = np.abs(x[self._cols] - np.round(x[self._cols])) > 1e-6
        broken = np.zeros(int(lab.max(initial=-1)) + 1, bool)
        broken[lab[frac]] = True
        ok = self._cols[~broken[lab]]
        xr = np.round(x[ok])
        self.seen_lo[ok] = np.minimum(self.seen_lo[ok], xr)
        self.seen_hi[ok] = np.maximum(self.seen_hi[ok], xr)

    def components(self) -> dict:
        """{unknown figure: component number} (figures linked by rows through unknowns)."""
        if self._comp is None:
            from scipy.sparse import bmat, csr_array
            from scipy.sparse.csgraph import connected_components
            cols = np.array(sorted(self.pos[k] for k in self.unknown), dtype=np.int64)
            Au = csr_array(self.A[:, cols] != 0, dtype=np.int8)
            g = bmat([[None, Au], [Au.T, None]], format="csr")
            _, lab = connected_components(g, directed=False)
            lab = lab[Au.shape[0]:]
            self._cols, self._labels = cols, lab
            self._union = {}
            # plain ints and keys (not numpy scalars one by one: thousands per recount)
            keys, labels = [self.keys[c] for c in cols.tolist()], lab.tolist()
            self._comp = dict(zip(keys, labels))
            self._members: dict = {}
            for k, x in zip(keys, labels):
                self._members.setdefault(x, []).append(k)
        return self._comp

    def component(self, terms: dict) -> set:
        """The unknown figures of the components of ``terms``."""
        return self._component(terms)[0]

    def _component(self, terms: dict) -> tuple[set, np.ndarray]:
        """The unknown figures of the components of ``terms`` and their columns."""
        comps = self.components()
        ids = tuple(sorted({comps[k] for k in terms if k in comps}))
        if ids not in self._union:
            out: set = set()
            for x in ids:
                out |= set(self._members[x])
            self._union[ids] = (out, np.array(sorted(self.pos[k] for k in out), np.int64))
        return self._union[ids]

    def _lp(self, terms: dict, sense: int):
        """The LP optimum of Σ terms (sense 1: min, −1: max) and its point (None, None when
        the LP gives no answer)."""
        import highspy
        h = self.h
        # the last objective's columns back to 0 and this one's set, in one change
        idx = np.array([self.pos[k] for k in terms], np.int32)
        both = np.union1d(self._costed, idx).astype(np.int32)
        cost = np.zeros(len(both))
        cost[np.searchsorted(both, idx)] = [sense * c for c in terms.values()]
        h.changeColsCost(len(both), both, cost)
        self._costed = idx
        h.run()
        self.lp_solves += 1
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kUnbounded:
            return -sense * math.inf, None
        if st != highspy.HighsModelStatus.kOptimal:
            return None, None
        return sense * h.getInfo().objective_function_value, np.asarray(h.getSolution().col_value)

    def reach(self, terms: dict, goal: float, sense: int) -> bool | None:
        """Can Σ terms be ≤ goal (sense 1) or ≥ goal (−1) in whole numbers? None: the integer
        program found no answer within its time limit."""
        M = self.M
        now = sum(c * M.value[k] for k, c in terms.items())
        if (sense == 1 and now <= goal + 1e-9) or (sense == -1 and now >= goal - 1e-9):
            return True
        goal -= sum(c * M.value[k] for k, c in terms.items() if k not in self.unknown)
        terms = {k: c for k, c in terms.items() if k in self.unknown}
        if not terms:
            return False
        if len(terms) == 1:    # a whole-valued point found before reaches the goal
            (k, c), = terms.items()
            i = self.pos[k]
            if self.seen_lo[i] <= self.seen_hi[i]:
                lo, hi = sorted((c * self.seen_lo[i], c * self.seen_hi[i]))
                if (sense == 1 and lo <= goal + 1e-6) or (sense == -1 and hi >= goal - 1e-6):
                    return True
        opt, x = self._lp(terms, sense)
        if opt is not None:
            if (sense == 1 and opt > goal + 1e-6) or (sense == -1 and opt < goal - 1e-6):
                return False
            if x is not None:
                self._seen(x)
                xs = x[self._component(terms)[1]]
                if np.all(np.abs(xs - np.round(xs)) <= 1e-6):
                    return True
        return self._mip_reach(terms, goal, sense)

    def _mip_reach(self, terms: dict, goal: float, sense: int) -> bool | None:
        """The integer program: first of a neighbourhood of the expression (its figures and,
        ring by ring, the unknown figures of the rows that touch them; every other figure
        at its true value, so a point found there is a point of the whole model), then of
        the whole component when the neighbourhood reaches no point."""
        rows = self._csc
        near = np.array(sorted(self.pos[k] for k in terms))
        unknown = self._unknown_cols
        tried = 0
        for _ring in range(2):
            touched = np.unique(rows[:, near].indices)
            grown = np.union1d(near, np.flatnonzero(
                (abs(self.A[touched]).sum(axis=0) > 0) & unknown))
            if len(grown) == len(near) and _ring:
                break
            near = grown
            tried = len(near)
            r = self._solve_mip(("near",) + tuple(near), near, terms, goal, sense)
            if r:
                return True
        comp, cols = self._component(terms)
        if len(comp) <= tried:
            return r
        root = tuple(sorted({self.components()[k] for k in terms}))
        return self._solve_mip(root, cols, terms, goal, sense)

    def _solve_mip(self, key, cols: np.ndarray, terms: dict, goal: float, sense: int
                   ) -> bool | None:
        import highspy
        if key not in self._mip:
            self._mip = {k: v for k, v in self._mip.items() if k[0] != "near"} \
                if key[0] == "near" else self._mip
            self._mip[key] = self._column_mip(cols)
        h, pos = self._mip[key]
        n = len(pos)
        cost = np.zeros(n)
        for k, c in terms.items():
            cost[pos[k]] = sense * c
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        h.setOptionValue("objective_target", sense * goal + 1e-6)
        h.run()
        self.mip_solves += 1
        info = h.getInfo()
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kUnbounded:
            return True
        # the program minimises sense · Σ terms: the goal is sense · goal
        if info.primal_solution_status == 2 and info.objective_function_value <= \
                sense * goal + 1e-6:
            return True
        if st == highspy.HighsModelStatus.kOptimal or info.mip_dual_bound > sense * goal + 1e-6:
            return False
        return None

    def _column_mip(self, cols: np.ndarray):
        """The integer program of some unknown figures (column numbers): their rows, every
        other figure at its true value."""
        import highspy
        from scipy.sparse import csr_array
        keys = [self.keys[c] for c in cols]
        pos = {k: i for i, k in enumerate(keys)}
        sub = self.A[:, cols].tocsr()
        rows = np.flatnonzero(np.diff(sub.indptr))
        sub = sub[rows]
        x0 = self._values.copy()
        x0[cols] = 0.0
        const = self.A[rows] @ x0
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(keys), len(rows)
        lp.col_cost_ = np.zeros(len(keys))
        lp.col_lower_ = self._lo[cols]
        lp.col_upper_ = np.minimum(self._hi[cols], inf)
        lp.row_lower_ = np.maximum(self.row_lo[rows] - const, -inf)
        lp.row_upper_ = np.minimum(self.row_hi[rows] - const, inf)
        csc = csr_array(sub).tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * len(keys)
        h = highspy.Highs()
        h.silent()
        h.setOptionValue("time_limit", float(self.time_limit))
        h.passModel(lp)
        return h, pos


def _requirements(value: float, kind: str, min_count: int, cap: float = math.inf) -> list:
    """What a figure's interval must reach, as a list of requirements, each a list of
    alternatives (goal, sense): met when one of them is reachable in whole numbers (sense
    1: ``≤ goal``, −1: ``≥ goal``).

    * a count of 1 … min_count−1 (``kind`` cell, latent or nested): 1 and min_count (the
      protection interval: a reader cannot tell that it is small);
    * a suppressed total of k suppressed cells is ≥ k by the conventions alone: it must only
      reach min_count when small;
    * any other suppressed figure (min_count or more): not pinned (v − 1 or v + 1). Its lower
      bound may be above 1: that it is not small is no count of a person (and follows from
      the rule anyway: every small count's interval reaches 1).

    ``cap``: the figure's public upper bound (a cell's population base): below min_count,
    the figure is small whatever it is, and reaching the cap is all it can."""
    m = float(min(min_count, _whole_down(cap)))
    if is_small(value, min_count):
        if kind == "total":
            return [[(m, -1)]]
        return ([[(1.0, 1)]] if value > 1 else []) + [[(m, -1)]]
    if kind in ("cell", "total"):
        return [[(value - 1, 1), (value + 1, -1)]]
    return []


def _targets(M: RelationModel, unknown: set, min_count: int) -> list:
    """(terms, value, kind, label) of every figure whose interval is checked: suppressed
    figures, small unpublished counts (not an earlier folder's own variables: their values
    are only a fitting point), small nested differences."""
    out = []
    for k in sorted(unknown, key=repr):
        v = M.value[k]
        if k in M.pub:
            out.append(({k: 1.0}, v, "total" if k[0] == "T" else "cell", k))
        elif k[0] != "old" and is_small(v, min_count):
            out.append(({k: 1.0}, v, "latent", k))
    for t, const, name in M.nested:
        v = sum(c * M.value[k] for k, c in t.items()) + const
        if is_small(v, min_count):
            out.append((t, v, "nested", name))
    return out


def protect_model(M: RelationModel, min_count: int = DEFAULT_MIN_COUNT,
                  time_limit: float = 10.0, max_rounds: int = 50) -> ModelResult:
    """Primary and secondary suppression of a :class:`RelationModel` (see above).

    Primary: every published figure of 1 … min_count−1, and every figure an earlier
    publication suppressed (``forced``, unless it is 0 now). Then, round by round, every
    requirement (:func:`_requirements`) not yet proven is checked — first by a move of the
    true values that keeps every relation (a figure and a partner of the same equalities,
    opposite ways), else by :class:`_Bounds` — and every unmet one, in turn, is repaired by
    the cheapest set of further suppressions (an integer program: binary "suppress" per
    shown figure at its ``cost``, the figure's deviation allowed only when suppressed, the
    requirement met) unless an earlier repair of the round already met it. A round without
    an unmet requirement ends it. Suppressing more only widens intervals, so a requirement
    once met stays met.
    """
    import time as _time
    start = _time.monotonic()
    primary = {k for k in M.pub if is_small(M.value[k], min_count)}
    primary |= {k for k in M.forced & M.pub if M.value[k] > 0 and k not in M.known}
    hidden = set(primary)
    for k in list(hidden):
        hidden |= {x for x in M.hide_with.get(k, ()) if x in M.pub and M.value[x] > 0}
    proven: set = set()
    gave_up: set = set()
    unresolved: list = []
    rows_of: dict = {}     # figure → the rows it is in (for the repairs)
    for j, (t, _, _, _) in enumerate(M.rows):
        for k in t:
            rows_of.setdefault(k, []).append(j)
    solves = 0
    rounds = 0

    def met(B: _Bounds, st: _State | None, terms: dict, alts: list) -> bool | None:
        undecided = False
        for goal, sense in alts:
            if st is not None:
                u = {k: c for k, c in terms.items() if k in st.unknown}
                shift = sum(c * M.value[k] for k, c in terms.items() if k not in st.unknown)
                if u and st.certify(u, goal - shift, sense):
                    return True
            r = B.reach(terms, goal, sense)
            if r:
                return True
            undecided |= r is None
        return None if undecided else False

    while rounds < max_rounds:
        rounds += 1
        st = _State(M, hidden)
        B = _Bounds(M, st.unknown, time_limit)
        unmet = []
        for terms, v, kind, label in _targets(M, st.unknown, min_count):
            if not any(k in st.unknown for k in terms):
                if (label, "shown") not in gave_up:
                    unmet.append((terms, None, label))
                continue
            cap = M.ub[next(iter(terms))] if len(terms) == 1 else math.inf
            for alts in _requirements(v, kind, min_count, cap):
                rk = (label, tuple(alts))
                if rk in proven or rk in gave_up:
                    continue
                ok = met(B, st, terms, alts)
                if ok:
                    proven.add(rk)
                else:
                    unmet.append((terms, alts, label))
        if not unmet:
            solves += B.lp_solves + B.mip_solves
            break
        changed = False
        for terms, alts, label in unmet:
            if alts is None:       # a small difference of two shown figures
                if any(k in B.unknown for k in terms):
                    continue       # a repair of this round hid a term: checked next round
                add = _repair_shown(M, hidden, label, min_count)
                key = (label, "shown")
            else:
                key = (label, tuple(alts))
                if met(B, None, terms, alts):     # an earlier repair of this round did it
                    proven.add(key)
                    continue
                goal, sense = alts[0]
                add = _repair(M, B, terms, goal, sense, time_limit, rows_of)
                solves += 1
            if add:
                for k in list(add):
                    add |= {x for x in M.hide_with.get(k, ()) if x in M.pub and M.value[x] > 0}
                hidden |= add
                B.unknow(add)
                changed = True
            else:
                gave_up.add(key)
                unresolved.append(label)
        solves += B.lp_solves + B.mip_solves
        if not changed:
            break
    return ModelResult(hidden, primary, rounds, solves, unresolved, _time.monotonic() - start)


def _repair_shown(M: RelationModel, hidden: set, name, min_count: int) -> set:
    """A small nested difference of shown figures: suppress its cheapest suppressible
    term (the next rounds protect it)."""
    for t, _, n in M.nested:
        if n == name:
            cands = sorted((M.cost[k] * M.value[k], repr(k), k) for k in t
                           if k in M.pub and k not in hidden and k not in M.known
                           and M.value[k] > 0)
            return {cands[0][2]} if cands else set()
    return set()


def _repair(M: RelationModel, B: _Bounds, terms: dict, goal: float, sense: int,
            time_limit: float, rows_of: dict) -> set:
    """The cheapest set of shown figures whose suppression lets ``Σ terms`` reach the goal.

    An integer program over a neighbourhood of the expression: its figures, then ring by
    ring the figures of the rows that touch the neighbourhood (the unknown ones free, the
    shown ones candidates: binary "suppress" at their ``cost``, the figure's deviation
    allowed only when suppressed); every figure outside stays at its true value, so a
    suppression set found is enough for the whole model (the true values outside are a
    part of a feasible point), and a larger neighbourhood is tried only when a smaller one
    has none. The last try is the whole component. ``rows_of``: figure → its rows."""
    def suppressible(k) -> bool:
        return k in M.pub and k not in B.unknown and k not in M.known and M.value[k] > 0

    near = set(terms)
    whole = B.component({k: c for k, c in terms.items() if k in B.unknown})
    tries = []
    for _ring in range(3):
        near = near | {k for j in {j for x in near for j in rows_of.get(x, [])}
                       for k in M.rows[j][0]}
        tries.append(set(near))
    tries.append(whole | near)
    for region in tries:
        free = {k for k in region if k in B.unknown or suppressible(k)}
        add = _repair_in(M, B, free, {k for k in free if k not in B.unknown}, rows_of,
                         terms, goal, sense, time_limit)
        if add is not None:
            return add
    return set()


def restricted_rows(M: RelationModel, rows: list, pos: dict) -> tuple | None:
    """Relation rows ``(terms, lo, hi, tag)`` over the figures of ``pos`` (figure → column),
    every other figure at its value in ``M``: ``(data, row, column, lo, hi)`` of a sparse
    constraint matrix; None when a row with none of those figures does not hold."""
    data, ri, ci, lo, hi = [], [], [], [], []
    for t, a, b, _ in rows:
        const = sum(c * M.value[k] for k, c in t.items() if k not in pos)
        vs = [(k, c) for k, c in t.items() if k in pos]
        if not vs:
            if not (a - 1e-6 <= const <= b + 1e-6):
                return None
            continue
        for k, c in vs:
            data.append(c)
            ri.append(len(lo))
            ci.append(pos[k])
        lo.append(a - const)
        hi.append(b - const)
    return data, ri, ci, lo, hi


def _repair_in(M: RelationModel, B: _Bounds, free: set, cands: set, rows_of: dict,
               terms: dict, goal: float, sense: int, time_limit: float) -> set | None:
    """The repair's integer program over ``free`` figures (``cands`` among them shown);
    None when it has no solution."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    rows = sorted({j for x in free for j in rows_of.get(x, [])})
    keys = sorted(free, key=repr)
    pos = {k: i for i, k in enumerate(keys)}
    cand = [k for k in keys if k in cands]
    cpos = {k: len(keys) + i for i, k in enumerate(cand)}
    n = len(keys) + len(cand)
    data, ri, ci, lo, hi = restricted_rows(M, [M.rows[j] for j in rows], pos)
    r = len(lo)
    # |y_k − x_k| ≤ big · z_k for a candidate (z binary: suppress k)
    for k in cand:
        x = M.value[k]
        lbk = max(M.lb[k], 1.0)
        ubk = M.ub[k] if not math.isinf(M.ub[k]) else x + 10 * max(x, 10.0)
        data += [1.0, -(ubk - x)]
        ri += [r, r]
        ci += [pos[k], cpos[k]]
        lo.append(-math.inf)
        hi.append(x)
        r += 1
        data += [1.0, (x - lbk)]
        ri += [r, r]
        ci += [pos[k], cpos[k]]
        lo.append(x)
        hi.append(math.inf)
        r += 1
    g = goal - sum(c * M.value[k] for k, c in terms.items() if k not in pos)
    for k, c in terms.items():
        if k in pos:
            data.append(c)
            ri.append(r)
            ci.append(pos[k])
    lo.append(-math.inf if sense == 1 else g)
    hi.append(g if sense == 1 else math.inf)
    r += 1
    A = csr_array((data, (ri, ci)), shape=(r, n))
    lb = np.array([B.lower(k) if k in B.unknown else max(M.lb[k], 1.0) for k in keys]
                  + [0.0] * len(cand))
    ub = np.array([M.ub[k] for k in keys] + [1.0] * len(cand))
    c = np.zeros(n)
    for k in cand:
        c[cpos[k]] = M.cost[k] * (1.0 + M.value[k])
    res = milp(c, integrality=np.ones(n), bounds=Bounds(lb, ub),
               constraints=[LinearConstraint(A, np.array(lo), np.array(hi))],
               options={"time_limit": time_limit})
    if res.x is None:
        return None
    return {k for k in cand if res.x[cpos[k]] > 0.5}
