"""The declared relation model: what each published table lets a reader combine.

Every table the gate publishes has a declaration here (:data:`DECLARED`); the gate refuses
to write a table without one. A declaration turns the table's figures into variables of a
:class:`~seuranta.statistics.disclosure.RelationModel` and adds the linear relations
among its cells, with the other published tables and with earlier publications. The same
declarations read the quarter's exact tables (today's figures, :class:`Today`) and every
earlier published folder (:class:`Earlier`: shown figures are constants, suppressed ones
are today's variables while they still fit, else variables of their own), so that the
relations a reader forms across releases are the ones the gate protects against.

Relation classes (variables in brackets are never published):

``municipal``          cells (quarter × task × municipality), ≤ the public population
                       base; lastensuojelulaki ≤ lastensuojelu per cell, and their
                       difference [a count no table shows] is protected like a cell;
``totals``             ``used``/``county_used`` = Σ comprehensive cells, ``registered``/
                       ``county_registered`` = Σ all cells [not-available cells ≥ 0],
                       ``registered_all`` = Σ all cells of the seven tasks,
                       ``tpc_total``/``tpc_multi`` = Σ [county × number-of-tasks cells],
                       ``distinct_all`` between ``tpc_total`` and ``registered_all``;
                       lastensuojelulaki ≤ lastensuojelu per total;
``tasks_per_client``   whole country = Σ counties per number of tasks, Σ = ``tpc_total``,
                       Σ n ≥ 2 = ``tpc_multi``, Σ n · tpc_n = ``registered_all`` and the
                       county's clients of one task (``tpc_total`` − ``tpc_multi``)
                       protected (when the identity holds in the data);
``multi_task``         Σ task pairs = Σ C(n, 2) · tpc_n (when it holds), each pair ≤
                       ``tpc_multi`` (when it holds);
``estimates``          clients used = the ``used`` total; ``kaikki`` by age: 0–17 + 18–64 +
                       65+ = all ages = Σ [municipal all-task clients by age] over the
                       municipalities comprehensive in every estimated task, 85+ ≤ 65+,
                       each task's cells there ≤ all ages ≤ their sum; an estimate is never
                       below its clients used (the published estimate bounds them);
``county_estimates``   clients observed = the ``county_used`` total, ≤ the estimate; a
                       comprehensive county's estimate and share × base *are* its count;
``year``               the year's clients ≥ each quarter's cells (whole country, and the
                       municipalities comprehensive all year), ≤ their sum; ``kaikki`` ≥
                       each task, ≤ their sum, ≥ ``distinct_all``; full year ≤ all;
``extremes``           quartiles and extremes over shown shares only: no relation to a
                       suppressed cell (nothing to declare).

Shares are published with their counts and suppressed with them, so a share × base adds
nothing beyond the count (a comprehensive county's share and estimate are declared).
"""

from __future__ import annotations

import math

from seuranta.core.tables import itertuples
from seuranta.statistics.disclosure import RelationModel, is_small

CWA, CW_PARENT = "lastensuojelulaki", "lastensuojelu"
ALL = "kaikki"
AGE_PARTS = ("0-17", "18-64", "65+")
HIDDEN, NOT_AVAILABLE = "..", "."
#: An unpublished count (a county × number-of-tasks cell, a municipality's all-task
#: clients of an age group): a variable, never shown.
LATENT = "~"
INF = math.inf

#: Loss of suppressing one unit of a figure, by what it is: a municipal cell costs its
#: clients (+1); a county figure far more, a national one (an estimate's clients used, an
#: age group, a national total) most: never a national figure when cells will do.
COST = {"cell": 1.0, "county": 1e3, "national": 1e6, "pair": 10.0, "year": 1e5}


def _num(x) -> float:
    if x is None or x == "" or (isinstance(x, float) and math.isnan(x)):
        return math.nan
    return float(x)


#: Figures whose revision by a small count is protected like a count (a national age group
#: of the municipalities comprehensive in every task: a municipality joining the set adds
#: its count of the age group, which no table shows).
REVISED = ("age",)

#: The relation classes the gate models (a test removes one to show that the audit then
#: finds what it protects).
ACTIVE = frozenset({"totals", "nested", "tpc", "pairs", "ages", "estimates", "year",
                    "revisions"})


def relation_class(tag: str) -> str:
    """The class of a relation, from its tag."""
    for prefix, cls in (("nested", "nested"), ("total", "totals"), ("tpc", "tpc"),
                        ("Σ n", "tpc"), ("distinct", "tpc"), ("pair", "pairs"),
                        ("Σ pairs", "pairs"), ("estimate", "estimates"),
                        ("county estimate", "estimates"), ("year", "year"),
                        ("ages", "ages"), ("age ", "ages"), ("85+", "ages"),
                        ("kaikki", "ages")):
        if tag.startswith(prefix):
            return cls
    return "ages" if "kaikki" in tag else "totals"


class Ctx:
    """How one published folder's figures enter the model."""

    today = False

    def __init__(self, M: RelationModel, min_count: int):
        self.M = M
        self.m = min_count

    def fig(self, key, value, symbol: str, lb=0.0, ub=INF, cost=1.0, agg=None):
        raise NotImplementedError

    def add(self, terms, lo=-INF, hi=INF, tag=""):
        if any(op is None for op, _ in terms) or relation_class(tag) not in ACTIVE:
            return
        self.M.add(terms, lo, hi, tag)

    def nested(self, big, small, name: str, cls: str = "nested") -> None:
        """The difference of two nested figures, a count no table shows (protected like
        one when it is small); ``cls``: the relation class it belongs to."""
        if self.today and big is not None and small is not None and cls in ACTIVE:
            self.M.add_nested([(big, 1.0), (small, -1.0)], name)


class Today(Ctx):
    """The quarter being published: exact figures, suppression to be decided.
    ``referenced``: not-available cells an earlier publication suppressed (kept as
    variables of their own, not summed with the others)."""

    today = True

    def __init__(self, M, min_count, referenced=frozenset()):
        super().__init__(M, min_count)
        self.referenced = referenced
        self.agg: dict = {}

    def fig(self, key, value, symbol, lb=0.0, ub=INF, cost=1.0, agg=None):
        v = _num(value)
        if symbol == "x" or math.isnan(v):
            return None
        if symbol == LATENT:
            return self.M.figure(key, v, lb, ub, pub=False)
        if symbol == NOT_AVAILABLE:
            if agg is not None and key not in self.referenced and not is_small(v, self.m):
                a = ("dots",) + tuple(agg)
                if a not in self.M.value:
                    self.M.figure(a, 0.0, 0.0, 0.0, pub=False)
                self.M.agg_members.setdefault(a, set()).add(key)
                self.M.value[a] += v
                self.M.ub[a] += ub
                return a
            return self.M.figure(key, v, lb, ub, pub=False)
        return self.M.figure(key, v, lb, ub, pub=True, cost=cost)


class Earlier(Ctx):
    """An earlier published folder ``n``: shown figures are constants; a suppressed
    figure is today's variable (when ``key`` is one and not in ``unlinked``), else a
    variable of its own; not-available cells are today's when today publishes them,
    else summed per ``agg``."""

    def __init__(self, M, min_count, n: int, unlinked=frozenset(), link_all=True,
                 dots: dict | None = None):
        super().__init__(M, min_count)
        self.dots = dots or {}      # agg → this folder's not-available cells
        self.n = n
        self.unlinked = unlinked
        self.link_all = link_all
        self.own: set = set()
        self.linked: set = set()

    def _own(self, key, lb, ub):
        k = ("old", self.n) + tuple(key)
        if k not in self.M.value:
            self.M.figure(k, math.nan, lb, ub, pub=False)
            self.own.add(k)
        else:
            self.M.lb[k], self.M.ub[k] = max(self.M.lb[k], lb), min(self.M.ub[k], ub)
        return k

    def fig(self, key, value, symbol, lb=0.0, ub=INF, cost=1.0, agg=None):
        if symbol == "" and str(value) != "" and not (isinstance(value, float)
                                                       and math.isnan(value)):
            v = float(value)
            M = self.M
            if key in M.pub and M.value.get(key) == v:
                M.known.add(key)
            elif key in M.pub and key[0] in REVISED and is_small(abs(M.value[key] - v), self.m) \
                    and "revisions" in ACTIVE:
                # a revised figure of a changed set of municipalities: the difference is the
                # added (or removed) municipalities' count, protected like one
                sign = 1.0 if M.value[key] > v else -1.0
                M.add_nested([(key, sign), (v, -sign)], f"revision of {' '.join(map(str, key))}:"
                             f" earlier {v:g}")
            return v
        M = self.M
        linkable = self.link_all and key in M.value and key not in self.unlinked
        if symbol == LATENT:
            if linkable:
                self.linked.add(key)
                return key
            return self._own(key, lb, ub)
        if symbol == HIDDEN:
            if linkable:
                self.linked.add(key)
                if M.value[key] >= 1:
                    M.lb[key] = max(M.lb[key], 1.0)
                if key in M.pub:
                    M.forced.add(key)
                return key
            return self._own(key, max(lb, 1.0), ub)
        if symbol == NOT_AVAILABLE:
            if linkable:
                self.linked.add(key)
                return key
            a = ("dots",) + tuple(agg) if agg is not None else None
            if self.link_all and a is not None and a not in self.unlinked and \
                    {k for k in self.dots.get(tuple(agg), ()) if k not in M.value} == \
                    M.agg_members.get(a):
                self.linked.add(a)
                return a
            if agg is None:
                return self._own(key, lb, ub)
            k = self._own(("dots",) + tuple(agg), 0.0, 0.0)
            M.ub[k] += ub
            return k
        return None


# --------------------------------------------------------------------------- declarations

def declare_municipal(ctx: Ctx, T: dict) -> None:
    """Cells, bounds, and lastensuojelulaki ≤ lastensuojelu per cell."""
    mun = T["municipal"]
    ref: dict = {}
    members: dict = {}
    for r in itertuples(mun, index=False):
        key = (r.quarter, r.service_task, r.municipality_code)
        base = _num(r.population_base)
        op = ctx.fig(key, r.clients, r.clients_symbol, 0.0, INF if math.isnan(base) else base,
                     COST["cell"], agg=(r.quarter, r.service_task, r.county_code))
        ref[key] = op
        members.setdefault((r.quarter, r.service_task), []).append(
            (r.municipality_code, r.county_code, r.quality == "comprehensive", op))
    T["_ref"], T["_members"] = ref, members
    for (q, task), ms in members.items():
        if task != CWA:
            continue
        for m, _, comp, op in ms:
            par = ref.get((q, CW_PARENT, m))
            if not comp or par is None or op is None:
                continue
            ctx.add([(op, 1.0), (par, -1.0)], hi=0.0, tag=f"nested {q} {m}")
            ctx.nested(par, op, f"{q} lastensuojelu − lastensuojelulaki {m}")


def _sum(T: dict, q: str, task: str, county: str | None, comprehensive: bool) -> list:
    ops, seen = [], set()
    for _m, c, comp, op in T["_members"].get((q, task), []):
        if (county and c != county) or (comprehensive and not comp) or op is None:
            continue
        if isinstance(op, tuple):
            if op[0] in ("dots", "old") and op in seen:
                continue
            seen.add(op)
        ops.append(op)
    return ops


def declare_totals(ctx: Ctx, T: dict) -> None:
    """Sums of cells and of the county × number-of-tasks cells."""
    tot: dict = {}
    quarters = sorted({q for q, _ in T["_members"]})
    for r in itertuples(T["totals"], index=False):
        key = (r.kind, r.quarter, r.service_task, r.county_code)
        scope = "national" if not r.county_code else "county"
        op = ctx.fig(("T",) + key, r.clients, r.clients_symbol, 0.0, INF, COST[scope])
        if op is None:
            continue
        tot[key] = op
        ops = None
        if r.kind in ("used", "county_used"):
            ops = _sum(T, r.quarter, r.service_task, r.county_code, True)
        elif r.kind in ("registered", "county_registered"):
            ops = _sum(T, r.quarter, r.service_task, r.county_code, False)
        elif r.kind == "registered_all":
            ops = [x for (q, t) in T["_members"] if q == r.quarter and t != CWA
                   for x in _sum(T, q, t, None, False)]
        if ops is not None:
            ctx.add([(x, 1.0) for x in ops] + [(op, -1.0)], 0.0, 0.0, tag=f"total {key}")
    for key, op in tot.items():
        if key[2] == CWA:
            par = tot.get((key[0], key[1], CW_PARENT, key[3]))
            if par is not None:
                ctx.add([(op, 1.0), (par, -1.0)], hi=0.0, tag=f"nested {key}")
                ctx.nested(par, op, f"{key[1]} lastensuojelu − lastensuojelulaki, {key[0]} "
                           f"{key[3] or 'koko maa'}")
    T["_tot"] = tot
    T["_quarters"] = quarters


def declare_tasks_per_client(ctx: Ctx, T: dict) -> None:
    tpc, tot, Q = T["tasks_per_client"], T["_tot"], T["quarter"]
    ns = sorted({int(n) for n in tpc["n_tasks"]})
    counties = sorted({c for c in tpc["county_code"] if c} |
                      {k[3] for k in tot if k[0] in ("tpc_total", "tpc_multi") and k[3]})
    given = {(r.county_code, int(r.n_tasks)): r.clients
             for r in itertuples(tpc, index=False) if r.county_code}
    cell = {(c, n): ctx.fig(("tpc", Q, c, n), given.get((c, n), ""), LATENT)
            for c in counties for n in ns}
    nat = {}
    for r in itertuples(tpc[tpc["county_code"] == ""], index=False):
        n = int(r.n_tasks)
        nat[n] = ctx.fig(("tpcn", Q, n), r.clients, r.clients_symbol, cost=COST["national"])
        if counties:
            ctx.add([(cell[(c, n)], 1.0) for c in counties] + [(nat[n], -1.0)], 0.0, 0.0,
                    tag=f"tpc_n {n}")
    for c in counties + [""]:
        parts = {n: (cell.get((c, n)) if c else nat.get(n)) for n in ns}
        for kind, sel in (("tpc_total", ns), ("tpc_multi", [n for n in ns if n >= 2])):
            t = tot.get((kind, Q, ALL, c))
            if t is not None and all(parts[n] is not None for n in sel):
                ctx.add([(parts[n], 1.0) for n in sel] + [(t, -1.0)], 0.0, 0.0,
                        tag=f"{kind} {c}")
        ctx.nested(tot.get(("tpc_total", Q, ALL, c)), tot.get(("tpc_multi", Q, ALL, c)),
                   f"clients of one task {c or 'koko maa'}", "tpc")
    reg, dist = tot.get(("registered_all", Q, ALL, "")), tot.get(("distinct_all", Q, ALL, ""))
    t1 = tot.get(("tpc_total", Q, ALL, ""))
    if reg is not None and len(nat) == len(ns):
        _identity(ctx, [(nat[n], float(n)) for n in ns] + [(reg, -1.0)], "Σ n·tpc_n")
    if dist is not None and t1 is not None:
        ctx.add([(dist, 1.0), (t1, -1.0)], lo=0.0, tag="distinct_all ≥ tpc_total")
    if dist is not None and reg is not None:
        ctx.add([(dist, 1.0), (reg, -1.0)], hi=0.0, tag="distinct_all ≤ registered_all")
    T["_tpcn"] = nat


def _identity(ctx: Ctx, terms, tag: str, lo=0.0, hi=0.0) -> None:
    """An identity that holds in the data (today: checked on the exact figures; earlier:
    declared as published)."""
    if ctx.today:
        M = ctx.M
        s = sum(c * (M.value[op] if isinstance(op, tuple) else float(op)) for op, c in terms)
        if not (lo - 1e-6 <= s <= hi + 1e-6):
            return
    ctx.add(terms, lo, hi, tag=tag)


def declare_multi_task(ctx: Ctx, T: dict) -> None:
    mt, Q, tot, nat = T["multi_task"], T["quarter"], T["_tot"], T.get("_tpcn", {})
    pairs = []
    multi = tot.get(("tpc_multi", Q, ALL, ""))
    for r in itertuples(mt, index=False):
        op = ctx.fig(("pair", Q, r.task_a, r.task_b), r.clients, r.clients_symbol,
                     cost=COST["pair"])
        pairs.append(op)
        if multi is not None:
            _identity(ctx, [(op, 1.0), (multi, -1.0)], "pair ≤ multi", lo=-INF)
    if nat and all(p is not None for p in pairs):
        _identity(ctx, [(p, 1.0) for p in pairs] +
                  [(nat[n], -n * (n - 1) / 2) for n in nat], "Σ pairs = Σ C(n,2)·tpc_n")


def declare_estimates(ctx: Ctx, T: dict) -> None:
    """Clients used (national totals and the all-task age groups), their caps."""
    e, tot = T["estimates"], T["_tot"]
    ages: dict = {}
    for r in itertuples(e, index=False):
        if r.clients_used_symbol == "x" or (r.clients_used_symbol == "" and
                                            math.isnan(_num(r.clients_used))):
            continue
        if r.service_task == ALL:
            key = ("age", r.quarter, r.age_group)
            if key not in ages:
                ages[key] = ctx.fig(key, r.clients_used, r.clients_used_symbol,
                                    cost=COST["national"])
            op = ages[key]
        elif r.age_group == ALL:
            op = tot.get(("used", r.quarter, r.service_task, ""))
            if op is None:
                continue
        else:
            continue
        cap = _num(getattr(r, "cap", math.nan))
        if op is not None and not math.isnan(cap):
            ctx.add([(op, 1.0)], hi=cap, tag=f"estimate ≥ clients used {r.quarter} "
                    f"{r.service_task} {r.age_group}")
    agem = T.get("age_municipal")
    mun = T["municipal"]
    est_tasks = sorted(set(e.loc[e["service_task"] != ALL, "service_task"]) - {CWA})
    for q in sorted({k[1] for k in ages}):
        parts = [ages.get(("age", q, a)) for a in AGE_PARTS]
        whole = ages.get(("age", q, ALL))
        if whole is not None and all(p is not None for p in parts):
            ctx.add([(p, 1.0) for p in parts] + [(whole, -1.0)], 0.0, 0.0, tag=f"ages {q}")
        old, older = ages.get(("age", q, "65+")), ages.get(("age", q, "85+"))
        if old is not None and older is not None:
            ctx.add([(older, 1.0), (old, -1.0)], hi=0.0, tag=f"85+ ≤ 65+ {q}")
            ctx.nested(old, older, f"kaikki {q} 65–84", "ages")
        mq = mun[(mun["quarter"] == q) & (mun["quality"] == "comprehensive")]
        comp = mq.groupby("municipality_code")["service_task"].apply(set)
        f6 = sorted(m for m, ts in comp.items() if set(est_tasks) <= ts)
        # all-task clients by age = Σ municipal [all-task clients by age] over f6
        for a in AGE_PARTS + ("85+",):
            op = ages.get(("age", q, a))
            if op is None:
                continue
            cells = [ctx.fig(("agem", q, m, a), _agem(agem, q, m, a, ctx), LATENT) for m in f6]
            if all(c is not None for c in cells):
                ctx.add([(c, 1.0) for c in cells] + [(op, -1.0)], 0.0, 0.0,
                        tag=f"age {a} {q}")
        if whole is None:
            continue
        sums = []
        for task in est_tasks:
            ops = [T["_ref"].get((q, task, m)) for m in f6]
            if any(o is None for o in ops):
                sums = None
                break
            sums += [(o, 1.0) for o in ops]
            ctx.add([(o, 1.0) for o in ops] + [(whole, -1.0)], hi=0.0, tag=f"{task} ≤ kaikki {q}")
        if sums:
            ctx.add(sums + [(whole, -1.0)], lo=0.0, tag=f"kaikki ≤ Σ tasks {q}")


def _agem(agem, q, m, a, ctx):
    """Today's municipal all-task clients of an age group (latent); unknown earlier."""
    if not ctx.today:
        return ""
    return float(agem.get((q, m, a), 0.0)) if agem is not None else math.nan


def declare_county_estimates(ctx: Ctx, T: dict) -> None:
    ce, tot = T["county_estimates"], T["_tot"]
    for r in itertuples(ce, index=False):
        op = tot.get(("county_used", r.quarter, r.service_task, r.county_code))
        if op is None:
            continue
        cap, floor = _num(getattr(r, "cap", math.nan)), _num(getattr(r, "floor", math.nan))
        if not math.isnan(cap):
            ctx.add([(op, 1.0)], hi=cap, tag=f"county estimate ≥ observed {r.county_code}")
        if not math.isnan(floor):
            ctx.add([(op, 1.0)], lo=floor, tag=f"county estimate = observed {r.county_code}")


def declare_year(ctx: Ctx, T: dict) -> None:
    y, tot = T["year"], T["_tot"]
    if y is None or y.empty:
        return
    mun = T["municipal"]
    figs: dict = {}
    for r in itertuples(y, index=False):
        year, task = str(r.year), r.service_task
        whole = ctx.fig(("Y", year, task), r.clients, r.clients_symbol, cost=COST["year"])
        full = ctx.fig(("YF", year, task), r.clients_full_year, r.clients_full_year_symbol,
                       cost=COST["year"])
        figs[(year, task)] = whole
        if whole is not None and full is not None:
            ctx.add([(full, 1.0), (whole, -1.0)], hi=0.0, tag=f"year {task} full ≤ all")
            ctx.nested(whole, full, f"year {year} {task}: municipalities not full-year", "year")
        qs = [f"{year}Q{i}" for i in range(1, 5)]
        if task == ALL or not all((q, task) in T["_members"] for q in qs):
            continue
        if whole is not None:
            for q in qs:
                ctx.add([(x, 1.0) for x in _sum(T, q, task, None, False)] + [(whole, -1.0)],
                        hi=0.0, tag=f"year {task} ≥ {q}")
        if full is None:
            continue
        mq = mun[mun["quarter"].isin(qs) & (mun["service_task"] == task)
                 & (mun["quality"] == "comprehensive")]
        cnt = mq.groupby("municipality_code")["quarter"].nunique()
        f = sorted(cnt[cnt == 4].index)
        if str(len(f)) != str(r.municipalities_full_year):
            continue
        every = []
        for q in qs:
            ops = [T["_ref"][(q, task, m)] for m in f]
            every += [(x, 1.0) for x in ops]
            ctx.add([(x, 1.0) for x in ops] + [(full, -1.0)], hi=0.0, tag=f"year {task} full ≥ {q}")
        ctx.add(every + [(full, -1.0)], lo=0.0, tag=f"year {task} full ≤ Σ quarters")
    for (year, task), whole in figs.items():
        if task != ALL or whole is None:
            continue
        parts = [op for (yy, t), op in figs.items() if yy == year and t != ALL]
        for p in parts:
            if p is not None:
                ctx.add([(p, 1.0), (whole, -1.0)], hi=0.0, tag=f"year {year} task ≤ all")
        if parts and all(p is not None for p in parts):
            ctx.add([(p, 1.0) for p in parts] + [(whole, -1.0)], lo=0.0,
                    tag=f"year {year} all ≤ Σ tasks")
        for q in [f"{year}Q{i}" for i in range(1, 5)]:
            d = tot.get(("distinct_all", q, ALL, ""))
            if d is not None:
                ctx.add([(d, 1.0), (whole, -1.0)], hi=0.0, tag=f"year {year} ≥ {q}")


def declare_extremes(ctx: Ctx, T: dict) -> None:
    """Quartiles and extremes are computed over shown shares only (gate._extremes): they
    are functions of shown figures and relate to no suppressed cell."""


def declare_no_counts(ctx: Ctx, T: dict) -> None:
    """The data-quality tables (publication.quality: ledger, quality_reasons,
    representativeness, review_decisions, review_effect) hold register rows, numbers of
    municipalities, shares of the population base, decisions and estimates rounded under the
    publication rule: no count of persons, so they relate to no cell."""


def declare_calibration(ctx: Ctx, T: dict) -> None:
    """The model's out-of-sample check (gate.published_calibration): numbers of
    municipalities and aggregates of their z-scores over at least ``min_count``
    municipalities, no count of persons, so it relates to no cell."""


def declare_euros(ctx: Ctx, T: dict) -> None:
    """The cost tables of euros (gate.publish_costs: costs_packages, costs_allocation,
    costs_unallocated, costs_per_resident, costs_dimensions): euros of the wellbeing
    services counties' accounts, their shares, euros per resident of the public population
    statistics and numbers of ledger rows. No count of persons, so they relate to no cell
    (a statistician's call: the organisers' costs are public accounts, not data on
    persons)."""


def declare_cost_clients(ctx: Ctx, T: dict) -> None:
    """``costs_per_client`` (gate.publish_costs): the whole-year clients of a package's
    tasks per county and for the whole country. Relations: the country = Σ counties per
    package (a linked group), and the country = Σ the year table's whole-year clients
    (``year``, ``Y``) of the package's tasks. They are protected where the table is made,
    by :func:`seuranta.statistics.costclients.per_client_published` (the areas and the
    country in a relation model of their own, every small count kept within its protection
    interval by :func:`seuranta.statistics.disclosure.protect_model`; a national count
    whose year figure the quarter's gate suppressed is suppressed again), and attacked by the
    audit with both relations; € per client = cost ÷ clients is suppressed with its count.
    The quarter's own model has no figure of this table (a cost year is published after
    its quarters), so nothing is added to it here."""


#: Every published table and its declaration, in the order they are declared (later ones
#: use what earlier ones declared).
DECLARED = {
    "municipal": declare_municipal,
    "totals": declare_totals,
    "tasks_per_client": declare_tasks_per_client,
    "multi_task": declare_multi_task,
    "estimates": declare_estimates,
    "county_estimates": declare_county_estimates,
    "year": declare_year,
    "extremes": declare_extremes,
    "ledger": declare_no_counts,
    "quality_reasons": declare_no_counts,
    "representativeness": declare_no_counts,
    "review_decisions": declare_no_counts,
    "review_effect": declare_no_counts,
    "calibration": declare_calibration,
    "costs_packages": declare_euros,
    "costs_allocation": declare_euros,
    "costs_unallocated": declare_euros,
    "costs_per_resident": declare_euros,
    "costs_dimensions": declare_euros,
    "costs_per_client": declare_cost_clients,
}


def declare(ctx: Ctx, T: dict) -> None:
    """Every declared table of ``T`` (a published folder's tables, or today's exact ones)."""
    for name, fn in DECLARED.items():
        if name in T and T[name] is not None and (name in ("municipal", "totals")
                                                  or "_tot" in T):
            fn(ctx, T)


def check_declared(names) -> None:
    """Refuse a table that has no declared relations."""
    missing = sorted(set(names) - set(DECLARED))
    if missing:
        raise ValueError(f"disclosure gate: table(s) {missing} have no declared relations "
                         "(publication.relations.DECLARED): not published")
