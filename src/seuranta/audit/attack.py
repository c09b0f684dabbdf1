"""The attacker: every suppressed figure of every release, bounded by integer programs.

What it reads (nothing else): the open data of each release, ``OUT/avoindata/<release>/
<table>_<quarter>.csv``, and for a kept release without open data its published tables
``OUT/releases/<release>/<quarter>/published/<table>.csv``; the publication's parameters
``disclosure.min_count`` and ``estimate.rounding`` (public in every manifest).

Every published file of a quarter (a *vintage*: release × quarter folder) gives a
variable per figure: a shown figure is a constant, a suppressed one (``..``) an integer
≥ 1 (zeros are shown), a cell "not available" (``.``) an integer ≥ 0; a municipal cell is
never above its public population base. The relations, built here from the published
files alone:

``totals``       ``used``/``county_used`` = Σ comprehensive cells of the quarter × task
                 (× county), ``registered``/``county_registered`` = Σ every cell,
                 ``registered_all`` = Σ every cell of the seven tasks, ``tpc_total`` and
                 ``tpc_multi`` = Σ of the county × number-of-tasks cells (unpublished
                 integers ≥ 0) over all and over n ≥ 2, ``distinct_all`` between
                 ``tpc_total`` of the whole country and ``registered_all``;
``nested``       lastensuojelulaki ≤ lastensuojelu per municipal cell and per total;
                 85+ ≤ 65+; ``tpc_multi`` ≤ ``tpc_total``; full-year municipalities ≤
                 all municipalities; each task pair ≤ the clients of two or more tasks;
``tpc``          whole-country clients by number of tasks = Σ of the county cells;
                 Σ n · tpc_n = ``registered_all`` and Σ C(n, 2) · tpc_n = Σ task pairs
                 (identities, relaxed to inequalities/dropped when the files contradict
                 them);
``ages``         0–17 + 18–64 + 65+ = all ages of ``kaikki``; the all-task clients of the
                 municipalities comprehensive in every estimated task lie between the
                 largest task's and the sum of the tasks' clients there;
``estimates``    clients used (national, county) = the ``used``/``county_used`` totals;
                 an estimate (point, interval or range) is never below its clients used;
                 a comprehensive county's estimate *is* its clients; a share × its base
                 (rounded share ⇒ an interval of counts);
``year``         the year's clients ≥ every quarter's (whole country and the municipalities
                 comprehensive all year), ≤ the sum of the quarters; ``kaikki`` ≥ each
                 task and ≤ their sum, ≥ the quarter's distinct clients;
``costs``        the Sote-tietopaketit's whole-year clients per package
                 (``costs_per_client_<year>.csv`` of the open data): the counties' counts
                 sum to the whole country's, which is the sum of the year table's
                 whole-year clients of the package's tasks (the release's ``<year>Q4``);
``revisions``    a cell in several vintages (quarters of a release, releases) is one
                 variable while its shown values agree; a cell shown in one vintage and
                 suppressed in another is taken as known. When the linked relations
                 contradict each other (a revised cell), the cells of that part get one
                 variable per release, then per vintage.

For every suppressed figure it solves the smallest and the largest whole value (HiGHS
through ``highspy``, per connected part of the relations: the linear relaxation from the
last basis, the integer program when its optimum is not whole; a whole-valued point that an
earlier solve of the part found answers a minimum at the figure's own bound, or a maximum
whose exact value no finding depends on, without a solve) and reports:

* ``pinned``: a suppressed figure with one possible value;
* ``narrowed``: a suppressed figure known to be small (its largest value < min_count; it
  is ≥ 1, zeros being shown);
* ``small``: an unpublished count (a county × number-of-tasks cell, the difference of
  nested figures) that is known to be 1 … min_count − 1;
* ``nested``: two shown nested figures whose difference is 1 … min_count − 1;
* ``floor`` (noted, not a failure): a suppressed cell known to be 2 … min_count − 1 or
  more. By the publication's rule every small count's interval reaches 1 and min_count,
  so such a cell is not small; a reader learns no count of a person.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

OPEN_DATA = "avoindata"
RELEASES = "releases"
PUBLISHED = "published"
HIDDEN = ".."
NOT_AVAILABLE = "."
CWA, CW_PARENT = "lastensuojelulaki", "lastensuojelu"
ALL = "kaikki"
AGE_PARTS = ("0-17", "18-64", "65+")
INF = math.inf
#: Finding kinds that are noted, not failures.
NOTED = frozenset({"floor"})
TABLES = ("municipal", "totals", "estimates", "county_estimates", "tasks_per_client",
          "multi_task", "year")


# --------------------------------------------------------------------------- reading

def releases_of(out_dir: Path) -> dict[str, dict[str, dict[str, Path]]]:
    """{release id: {quarter: {table: csv}}} of every release whose files are public:
    its open data (``avoindata/<release>/``), else its kept published tables."""
    out_dir = Path(out_dir)
    found: dict[str, dict[str, dict[str, Path]]] = {}
    od = out_dir / OPEN_DATA
    for d in sorted(od.iterdir()) if od.is_dir() else []:
        for p in sorted(d.glob("*.csv")):
            m = re.fullmatch(r"(.+)_(\d{4}Q[1-4])", p.stem)
            if m and m.group(1) in TABLES:
                found.setdefault(d.name, {}).setdefault(m.group(2), {})[m.group(1)] = p
    rd = out_dir / RELEASES
    for d in sorted(rd.iterdir()) if rd.is_dir() else []:
        if d.name in found or not d.is_dir():
            continue
        for p in sorted(d.glob(f"*/{PUBLISHED}/*.csv")):
            if p.stem in TABLES:
                found.setdefault(d.name, {}).setdefault(p.parent.parent.name, {})[p.stem] = p
    return dict(sorted(found.items()))


#: The open data's table of the Sote-tietopaketit's whole-year clients per package and
#: county (``costs_per_client_<year>.csv``): counts of persons linked to the year table.
COSTS = "costs_per_client"


def costs_of(out_dir: Path) -> dict[str, dict[str, Path]]:
    """{release id: {cost year: costs_per_client csv}} of every release's open data."""
    od = Path(out_dir) / OPEN_DATA
    found: dict[str, dict[str, Path]] = {}
    for d in sorted(od.iterdir()) if od.is_dir() else []:
        for p in sorted(d.glob(f"{COSTS}_[0-9][0-9][0-9][0-9].csv")):
            found.setdefault(d.name, {})[p.stem.rsplit("_", 1)[1]] = p
    return found


#: The open data's code of the whole country in an area column (THL's "SSS"; the published
#: tables leave it empty).
WHOLE_COUNTRY = "SSS"


def _read(p: Path) -> pd.DataFrame:
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    for c in ("county_code", "municipality_code"):
        if c in df.columns:
            df[c] = df[c].replace(WHOLE_COUNTRY, "")
    return df.drop(columns=["release_id", "indicator_id"], errors="ignore")


def _rows(df: pd.DataFrame):
    """``df.itertuples(index=False)`` from the columns as Python lists (iterating the text
    columns of pandas' Arrow strings element by element is several times slower)."""
    row = namedtuple("Row", df.columns, rename=True)
    return map(row._make, zip(*(df[c].tolist() for c in df.columns)))


def _num(s) -> float:
    return float(s) if s not in ("", None) else math.nan


def _decimals(values) -> int:
    """Decimals a published column is rounded to (the most seen in its values)."""
    d = [len(v.split(".")[1]) for v in values if isinstance(v, str) and "." in v]
    return max(d) if d else 0


# --------------------------------------------------------------------------- the problem

class V(int):
    """A variable's index (a constant is a float)."""


@dataclass
class Target:
    kind: str                 # cell, latent, nested
    what: str                 # readable
    terms: dict               # var index → coefficient
    const: float = 0.0


@dataclass
class Problem:
    lb: list = field(default_factory=list)
    ub: list = field(default_factory=list)
    names: list = field(default_factory=list)
    index: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)   # (terms {var: coef}, lo, hi, tag)
    targets: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    weak: set = field(default_factory=set)     # row numbers of identities that may be relaxed

    def var(self, key, lb=0.0, ub=INF) -> V:
        if key in self.index:
            i = self.index[key]
            self.lb[i], self.ub[i] = max(self.lb[i], lb), min(self.ub[i], ub)
            return V(i)
        self.index[key] = len(self.lb)
        self.lb.append(float(lb))
        self.ub.append(float(ub))
        self.names.append(key)
        return V(len(self.lb) - 1)

    @staticmethod
    def linear(terms) -> tuple[dict, float]:
        """Σ coef · operand as (variable → coefficient, constant), operands being variables
        or constants."""
        t: dict = {}
        const = 0.0
        for op, c in terms:
            if isinstance(op, V):
                t[int(op)] = t.get(int(op), 0.0) + c
            else:
                const += c * float(op)
        return {k: c for k, c in t.items() if c != 0}, const

    def add(self, terms, lo=-INF, hi=INF, tag="", weak=False) -> None:
        """lo ≤ Σ coef · operand ≤ hi, operands being variables or constants."""
        t, const = self.linear(terms)
        lo, hi = lo - const, hi - const
        if not t:
            if not weak and (lo > 1e-6 or hi < -1e-6):
                self.findings.append(Finding("inconsistent", tag, lo, hi, "shown figures "
                                             "contradict a relation"))
            return
        if weak:
            self.weak.add(len(self.rows))
        self.rows.append((t, lo, hi, tag))

    def target(self, kind: str, what: str, terms) -> None:
        t, const = self.linear(terms)
        self.targets.append(Target(kind, what, t, const))


@dataclass
class Finding:
    kind: str     # pinned, narrowed, small, nested, inconsistent
    what: str
    lo: float
    hi: float
    note: str = ""

    def line(self) -> str:
        rng = (f"[{self.lo:g}, {self.hi:g}]" if not (math.isnan(self.lo) or math.isnan(self.hi))
               else "")
        return f"{self.kind}: {self.what} {rng} {self.note}".rstrip()


# --------------------------------------------------------------------------- relations

@dataclass
class Vintage:
    rid: str
    quarter: str
    t: dict

    @property
    def name(self) -> str:
        return f"{self.rid}/{self.quarter}"


class Builder:
    """The relations of every vintage in one problem (see the module docstring)."""

    def __init__(self, vintages: list[Vintage], min_count: int, rounding: int,
                 split: dict | None = None, costs: list | None = None):
        self.v = vintages
        self.costs = costs or []        # (release id, cost year, costs_per_client)
        self.m = min_count
        self.r = rounding
        self.split = split or {}        # cell → "release" | "vintage": unlinked
        self.P = Problem()
        self._links()

    # ---- municipal cells and their links across vintages
    def _links(self) -> None:
        obs: dict = {}
        for v in self.v:
            mun = v.t.get("municipal")
            if mun is None:
                continue
            for r in _rows(mun):
                k = (r.quarter, r.service_task, r.municipality_code)
                obs.setdefault(k, []).append((v, r.clients_symbol, r.clients,
                                              _num(r.population_base)))
        self.obs = obs
        self.fixed: dict = {}
        for k, os in obs.items():
            shown = {float(c) for _, s, c, _ in os if s == "" and c != ""}
            if len(shown) == 1:
                self.fixed[k] = shown.pop()
            elif len(shown) > 1:
                self.split.setdefault(k, "vintage")

    def cell(self, v: Vintage, key, symbol: str, value: str, base: float):
        """The operand of a municipal cell in vintage v (None for an unlinked '.')."""
        if symbol == "" and value != "":
            return float(value)
        mode = self.split.get(key)
        if mode is None and key in self.fixed:
            return self.fixed[key]
        hidden_somewhere = any(s == HIDDEN for _, s, _, _ in self.obs[key])
        if symbol == NOT_AVAILABLE and not hidden_somewhere:
            return None
        owner = () if mode is None else (v.rid,) if mode == "release" else (v.rid, v.quarter)
        lb = 1.0 if symbol == HIDDEN else 0.0
        ub = base if not math.isnan(base) else INF
        i = self.P.var(("x",) + owner + key, 0.0, ub)
        if symbol == HIDDEN:
            self.P.lb[i] = max(self.P.lb[i], lb)
            self.P.target("cell", f"{v.name} {' '.join(key)}", [(i, 1.0)])
        return i

    def build(self) -> Problem:
        for v in self.v:
            self._vintage(v)
        for rid, year, df in self.costs:
            self._costs(rid, year, df)
        return self.P

    def _costs(self, rid: str, year: str, df: pd.DataFrame) -> None:
        """The cost year's whole-year clients per package: the counties' counts sum to the
        whole country's (weak: up to movers), and the whole country's is the sum of the year
        table's whole-year clients of the package's tasks (that release's ``<year>Q4``)."""
        P = self.P
        yv = next((v for v in self.v if v.rid == rid and v.quarter == f"{year}Q4"), None)
        ytab = yv.t.get("year") if yv is not None else None
        for pkg, g in df.groupby("package_code", sort=True):
            ops = {}
            for r in _rows(g):
                area = r.county_code or "koko maa"
                if r.clients_symbol == "" and r.clients != "":
                    ops[r.county_code] = float(r.clients)
                elif r.clients_symbol == HIDDEN:
                    op = P.var(("cc", rid, year, pkg, r.county_code), 1.0, INF)
                    P.target("cell", f"{rid} kustannukset {year} {pkg} {area}", [(op, 1.0)])
                    ops[r.county_code] = op
                else:
                    ops[r.county_code] = None
            nat = ops.get("")
            areas = [op for c, op in ops.items() if c != ""]
            name = f"{rid} costs {year} {pkg}"
            if nat is not None and areas and all(op is not None for op in areas):
                P.add([(op, 1.0) for op in areas] + [(nat, -1.0)], 0.0, 0.0,
                      tag=f"{name} Σ counties", weak=True)
            if ytab is None or nat is None:
                continue
            yops = []
            for task in str(g["service_tasks"].iloc[0]).split("+"):
                row = ytab[(ytab["year"].astype(str) == year) & (ytab["service_task"] == task)]
                if row.empty:
                    yops = []
                    break
                yops.append(self._fig(yv, ("Y", year, task), row.iloc[0]["clients_symbol"],
                                      row.iloc[0]["clients"]))
            if yops and all(op is not None for op in yops):
                P.add([(op, 1.0) for op in yops] + [(nat, -1.0)], 0.0, 0.0,
                      tag=f"{name} = year", weak=True)

    def _vintage(self, v: Vintage) -> None:
        P, t = self.P, v.t
        mun = t.get("municipal")
        if mun is None:
            return
        refs: dict = {}       # (q, task, m) → operand
        dots: dict = {}       # (q, task, county) → aggregated '.' variable
        members: dict = {}    # (q, task) → [(m, county, comprehensive)]
        for r in _rows(mun):
            key = (r.quarter, r.service_task, r.municipality_code)
            base = _num(r.population_base)
            op = self.cell(v, key, r.clients_symbol, r.clients, base)
            if op is None:
                d = (r.quarter, r.service_task, r.county_code)
                if d not in dots:
                    dots[d] = P.var(("dot", v.rid, v.quarter) + d, 0.0, 0.0)
                P.ub[dots[d]] += base if not math.isnan(base) else INF
                op = dots[d]
                refs[key] = ("dot", d)
            else:
                refs[key] = op
            members.setdefault((r.quarter, r.service_task), []).append(
                (r.municipality_code, r.county_code, r.quality == "comprehensive"))
            if r.clients_symbol == HIDDEN and r.share_pct_symbol == "" and r.share_pct != "":
                self._share(op, r.share_pct, mun["share_pct"], base, f"{v.name} share {key}")

        def op_of(key):
            x = refs.get(key)
            if isinstance(x, tuple):
                return dots[x[1]]
            return x

        def total(q, task, county=None, comprehensive=True):
            """Operands of the sum of cells (dots aggregated once)."""
            ops, seen = [], set()
            for m, c, comp in members.get((q, task), []):
                if (county is not None and c != county) or (comprehensive and not comp):
                    continue
                x = refs[(q, task, m)]
                if isinstance(x, tuple):
                    if x[1] in seen:
                        continue
                    seen.add(x[1])
                    ops.append(dots[x[1]])
                else:
                    ops.append(x)
            return ops

        self.refs = op_of
        # nested cells: lastensuojelulaki ≤ lastensuojelu
        for (q, task), ms in members.items():
            if task != CWA:
                continue
            for m, _, _comp in ms:
                a, b = refs.get((q, CWA, m)), refs.get((q, CW_PARENT, m))
                if a is None or b is None or isinstance(a, tuple) or isinstance(b, tuple):
                    continue
                P.add([(a, 1.0), (b, -1.0)], hi=0.0, tag=f"{v.name} nested {q} {m}")
                self._nested(b, a, f"{v.name} {q} lastensuojelu − lastensuojelulaki {m}")
        tot = self._totals(v, total)
        self._tpc(v, tot)
        self._estimates(v, tot, members, op_of)
        self._county_estimates(v, tot)
        self._year(v, tot, members, total)

    # ---- helpers
    def _fig(self, v: Vintage, key, symbol: str, value: str, lb_hidden=1.0):
        if symbol == "" and value != "":
            return float(value)
        if symbol == HIDDEN:
            return self.P.var((key[0], v.rid, v.quarter) + tuple(key[1:]), lb_hidden, INF)
        return None

    def _nested(self, big, small, what: str) -> None:
        if not isinstance(big, V) and not isinstance(small, V):
            d = float(big) - float(small)
            if 1 <= d < self.m:
                self.P.findings.append(Finding("nested", what, d, d,
                                               "difference of two shown figures"))
            return
        self.P.target("nested", what, [(big, 1.0), (small, -1.0)])

    def _share(self, op, share: str, column, base: float, tag: str) -> None:
        if math.isnan(base) or base <= 0 or not isinstance(op, V):
            return
        h = 0.5 * 10 ** -_decimals(column)
        s = float(share)
        self.P.add([(op, 1.0)], (s - h) * base / 100 - 1e-9, (s + h) * base / 100 + 1e-9,
                   tag)

    def _cap(self, op, row, tag: str) -> None:
        """A published estimate (point, interval, range) is never below its clients."""
        if not isinstance(op, V):
            return
        for col, slack in (("estimate_rounded", self.r / 2), ("ci_high", self.r / 2),
                           ("range_high", 0.0)):
            val = getattr(row, col, "")
            if getattr(row, f"{col}_symbol", "x") == "" and val != "":
                self.P.add([(op, 1.0)], hi=float(val) + slack, tag=f"{tag} ≤ {col}")

    # ---- totals and tasks per client
    def _totals(self, v: Vintage, total) -> dict:
        P = self.P
        tot: dict = {}
        df = v.t.get("totals")
        if df is None:
            return tot
        for r in _rows(df):
            key = (r.kind, r.quarter, r.service_task, r.county_code)
            op = self._fig(v, ("T",) + key, r.clients_symbol, r.clients)
            if op is None:
                continue
            tot[key] = op
            name = f"{v.name} {r.kind} {r.quarter} {r.service_task} {r.county_code or 'koko maa'}"
            if isinstance(op, V):
                P.target("total", name, [(op, 1.0)])
            ops = None
            if r.kind in ("used", "county_used"):
                ops = total(r.quarter, r.service_task, r.county_code or None, True)
            elif r.kind in ("registered", "county_registered"):
                ops = total(r.quarter, r.service_task, r.county_code or None, False)
            elif r.kind == "registered_all":
                ops = []
                for task in {k[1] for k in self._member_keys(v) if k[0] == r.quarter}:
                    if task != CWA:
                        ops += total(r.quarter, task, None, False)
            if ops is not None:
                P.add([(x, 1.0) for x in ops] + [(op, -1.0)], 0.0, 0.0, tag=name)
        # nested totals: lastensuojelulaki ≤ lastensuojelu
        for key, op in tot.items():
            if key[2] == CWA:
                par = tot.get((key[0], key[1], CW_PARENT, key[3]))
                if par is not None:
                    P.add([(op, 1.0), (par, -1.0)], hi=0.0, tag=f"{v.name} nested {key}")
                    self._nested(par, op, f"{v.name} {key[0]} {key[1]} lastensuojelu − "
                                 f"lastensuojelulaki {key[3] or 'koko maa'}")
        return tot

    def _member_keys(self, v: Vintage):
        mun = v.t["municipal"]
        return set(zip(mun["quarter"], mun["service_task"]))

    def _tpc(self, v: Vintage, tot: dict) -> None:
        P = self.P
        tpc = v.t.get("tasks_per_client")
        q = v.quarter
        counties = sorted({k[3] for k in tot if k[0] in ("tpc_total", "tpc_multi") and k[3]})
        if tpc is None or not counties:
            return
        ns = sorted({int(n) for n in tpc["n_tasks"]})
        cell = {(c, n): P.var(("tpc", v.rid, v.quarter, c, n), 0.0, INF)
                for c in counties for n in ns}
        for c in counties:
            for n in ns:
                P.target("latent", f"{v.name} tasks per client, county {c}, {n} tasks",
                         [(cell[(c, n)], 1.0)])
            for kind, sel in (("tpc_total", ns), ("tpc_multi", [n for n in ns if n >= 2])):
                t = tot.get((kind, q, ALL, c))
                if t is not None:
                    P.add([(cell[(c, n)], 1.0) for n in sel] + [(t, -1.0)], 0.0, 0.0,
                          tag=f"{v.name} {kind} {c}")
            t1, tm = tot.get(("tpc_total", q, ALL, c)), tot.get(("tpc_multi", q, ALL, c))
            if t1 is not None and tm is not None:
                self._nested(t1, tm, f"{v.name} clients of one task, county {c}")
        nat = {}
        for r in _rows(tpc[tpc["county_code"] == ""]):
            n = int(r.n_tasks)
            op = self._fig(v, ("tpcn", n), r.clients_symbol, r.clients)
            if op is None:
                continue
            nat[n] = op
            if isinstance(op, V):
                P.target("cell", f"{v.name} tasks per client, {n} tasks", [(op, 1.0)])
            P.add([(cell[(c, n)], 1.0) for c in counties] + [(op, -1.0)], 0.0, 0.0,
                  tag=f"{v.name} tpc_n {n}")
        for kind, sel in (("tpc_total", ns), ("tpc_multi", [n for n in ns if n >= 2])):
            t = tot.get((kind, q, ALL, ""))
            if t is not None and all(n in nat for n in sel):
                P.add([(nat[n], 1.0) for n in sel] + [(t, -1.0)], 0.0, 0.0,
                      tag=f"{v.name} {kind} koko maa")
        t1, tm = tot.get(("tpc_total", q, ALL, "")), tot.get(("tpc_multi", q, ALL, ""))
        if t1 is not None and tm is not None:
            self._nested(t1, tm, f"{v.name} clients of one task, koko maa")
        # Σ n·tpc_n = clients summed over tasks; distinct clients
        reg = tot.get(("registered_all", q, ALL, ""))
        if reg is not None and len(nat) == len(ns):
            P.add([(nat[n], float(n)) for n in ns] + [(reg, -1.0)], 0.0, 0.0,
                  tag=f"{v.name} Σ n·tpc_n = registered_all", weak=True)
        dist = tot.get(("distinct_all", q, ALL, ""))
        if dist is not None and t1 is not None:
            P.add([(dist, 1.0), (t1, -1.0)], lo=0.0, tag=f"{v.name} distinct_all ≥ tpc_total")
        if dist is not None and reg is not None:
            P.add([(dist, 1.0), (reg, -1.0)], hi=0.0, tag=f"{v.name} distinct_all ≤ registered_all")
        # task pairs
        mt = v.t.get("multi_task")
        if mt is None:
            return
        pairs = []
        for r in _rows(mt):
            op = self._fig(v, ("pair", r.task_a, r.task_b), r.clients_symbol, r.clients)
            if op is None:
                continue
            pairs.append(op)
            if isinstance(op, V):
                P.target("cell", f"{v.name} pair {r.task_a}–{r.task_b}", [(op, 1.0)])
            if tm is not None:
                P.add([(op, 1.0), (tm, -1.0)], hi=0.0, tag=f"{v.name} pair ≤ multi", weak=True)
        if len(nat) == len(ns) and len(pairs) == len(mt):
            P.add([(p, 1.0) for p in pairs] + [(nat[n], -n * (n - 1) / 2) for n in ns],
                  0.0, 0.0, tag=f"{v.name} Σ pairs = Σ C(n,2)·tpc_n", weak=True)

    # ---- estimates
    def _estimates(self, v: Vintage, tot: dict, members: dict, op_of) -> None:
        P = self.P
        e = v.t.get("estimates")
        if e is None:
            return
        mun = v.t["municipal"]
        est_tasks = sorted({t for (_, t) in members if t not in (CWA,)} &
                           set(e.loc[e["service_task"] != ALL, "service_task"]) - {CWA})
        ages: dict = {}
        for r in _rows(e):
            if r.clients_used_symbol == "x":
                continue
            if r.service_task == ALL:
                key = ("A", r.quarter, r.age_group)
                if key not in ages:
                    ages[key] = self._fig(v, key, r.clients_used_symbol, r.clients_used)
                    if isinstance(ages[key], V):
                        P.target("cell", f"{v.name} kaikki {r.quarter} {r.age_group}",
                                 [(ages[key], 1.0)])
                op = ages[key]
            else:
                if r.age_group != ALL:
                    continue
                op = tot.get(("used", r.quarter, r.service_task, ""))
                if op is None:
                    op = self._fig(v, ("T", "used", r.quarter, r.service_task, ""),
                                   r.clients_used_symbol, r.clients_used)
                elif r.clients_used_symbol == "" and r.clients_used != "":
                    P.add([(op, 1.0)], float(r.clients_used), float(r.clients_used),
                          tag=f"{v.name} clients_used {r.service_task}")
            if op is None:
                continue
            name = f"{v.name} estimate {r.quarter} {r.service_task} {r.age_group} {r.method}"
            self._cap(op, r, name)
            if r.method == "ratio" and r.share_pct_symbol == "" and r.share_pct != "":
                self._share(op, r.share_pct, e["share_pct"], _num(r.population_used), name)
        for q in sorted({k[1] for k in ages}):
            parts = [ages.get(("A", q, a)) for a in AGE_PARTS]
            whole = ages.get(("A", q, ALL))
            if whole is not None and all(p is not None for p in parts):
                P.add([(p, 1.0) for p in parts] + [(whole, -1.0)], 0.0, 0.0,
                      tag=f"{v.name} ages {q}")
            old, older = ages.get(("A", q, "65+")), ages.get(("A", q, "85+"))
            if old is not None and older is not None:
                P.add([(older, 1.0), (old, -1.0)], hi=0.0, tag=f"{v.name} 85+ ≤ 65+ {q}")
                self._nested(old, older, f"{v.name} kaikki {q} 65–84")
            if whole is None:
                continue
            # the municipalities comprehensive in every estimated task
            mq = mun[mun["quarter"] == q]
            comp = mq[mq["quality"] == "comprehensive"].groupby("municipality_code")[
                "service_task"].apply(set)
            f6 = sorted(m for m, ts in comp.items() if set(est_tasks) <= ts)
            row = e[(e["quarter"] == q) & (e["service_task"] == ALL) & (e["age_group"] == ALL)]
            if row.empty or str(len(f6)) != str(row["municipalities_used"].iloc[0]):
                continue
            sums = []
            for task in est_tasks:
                ops = [op_of((q, task, m)) for m in f6]
                sums += [(x, 1.0) for x in ops]
                P.add([(x, 1.0) for x in ops] + [(whole, -1.0)], hi=0.0,
                      tag=f"{v.name} {task} ≤ kaikki {q}")
            P.add(sums + [(whole, -1.0)], lo=0.0, tag=f"{v.name} kaikki ≤ Σ tasks {q}")

    def _county_estimates(self, v: Vintage, tot: dict) -> None:
        ce = v.t.get("county_estimates")
        if ce is None:
            return
        for r in _rows(ce):
            op = tot.get(("county_used", r.quarter, r.service_task, r.county_code))
            if op is None:
                op = self._fig(v, ("T", "county_used", r.quarter, r.service_task,
                                   r.county_code), r.clients_observed_symbol,
                               r.clients_observed)
            elif r.clients_observed_symbol == "" and r.clients_observed != "":
                self.P.add([(op, 1.0)], float(r.clients_observed), float(r.clients_observed),
                           tag=f"{v.name} clients_observed {r.county_code}")
            if op is None:
                continue
            name = f"{v.name} county estimate {r.quarter} {r.service_task} {r.county_code}"
            self._cap(op, r, name)
            if str(r.comprehensive) == "1":
                if r.estimate_rounded_symbol == "" and r.estimate_rounded != "":
                    self.P.add([(op, 1.0)], lo=float(r.estimate_rounded) - self.r / 2,
                               tag=f"{name} = estimate")
                if r.share_pct_symbol == "" and r.share_pct != "":
                    self._share(op, r.share_pct, ce["share_pct"], _num(r.population_base), name)

    # ---- the calendar year
    def _year(self, v: Vintage, tot: dict, members: dict, total) -> None:
        P = self.P
        y = v.t.get("year")
        if y is None or y.empty:
            return
        mun = v.t["municipal"]
        for r in _rows(y):
            year = str(r.year)
            qs = [f"{year}Q{i}" for i in range(1, 5)]
            task = r.service_task
            whole = self._fig(v, ("Y", year, task), r.clients_symbol, r.clients)
            full = self._fig(v, ("YF", year, task), r.clients_full_year_symbol,
                             r.clients_full_year, lb_hidden=1.0)
            name = f"{v.name} year {year} {task}"
            for op, what in ((whole, ""), (full, " full year")):
                if isinstance(op, V):
                    P.target("cell", name + what, [(op, 1.0)])
            if full is not None and r.share_full_year_pct_symbol == "" and \
                    r.share_full_year_pct != "":
                self._share(full, r.share_full_year_pct, y["share_full_year_pct"],
                            _num(r.base_full_year), name)
            if whole is not None and full is not None:
                P.add([(full, 1.0), (whole, -1.0)], hi=0.0, tag=f"{name} full ≤ all")
                self._nested(whole, full, f"{name}: not full-year municipalities")
            if task == ALL:
                continue
            if not all((q, task) in members for q in qs):
                continue
            if whole is not None:
                for q in qs:
                    P.add([(x, 1.0) for x in total(q, task, None, False)] + [(whole, -1.0)],
                          hi=0.0, tag=f"{name} ≥ {q}")
            if full is None:
                continue
            mq = mun[mun["quarter"].isin(qs) & (mun["service_task"] == task)
                     & (mun["quality"] == "comprehensive")]
            n = mq.groupby("municipality_code")["quarter"].nunique()
            f = sorted(n[n == 4].index)
            if str(len(f)) != str(r.municipalities_full_year):
                continue
            all_q = []
            for q in qs:
                ops = [self.refs((q, task, m)) for m in f]
                all_q += [(x, 1.0) for x in ops]
                P.add([(x, 1.0) for x in ops] + [(full, -1.0)], hi=0.0,
                      tag=f"{name} full ≥ {q}")
            P.add(all_q + [(full, -1.0)], lo=0.0, tag=f"{name} full ≤ Σ quarters")
        years = {str(r.year) for r in _rows(y)}
        for year in years:
            k = y[(y["year"].astype(str) == year)]
            allrow = k[k["service_task"] == ALL]
            if allrow.empty:
                continue
            a = allrow.iloc[0]
            whole = self._fig(v, ("Y", year, ALL), a.clients_symbol, a.clients)
            if whole is None:
                continue
            parts = []
            for r in _rows(k[k["service_task"] != ALL]):
                op = self._fig(v, ("Y", year, r.service_task), r.clients_symbol, r.clients)
                if op is None:
                    continue
                parts.append(op)
                P.add([(op, 1.0), (whole, -1.0)], hi=0.0, tag=f"{v.name} year {r.service_task} ≤ all")
            if parts:
                P.add([(p, 1.0) for p in parts] + [(whole, -1.0)], lo=0.0,
                      tag=f"{v.name} year all ≤ Σ tasks")
            for q in [f"{year}Q{i}" for i in range(1, 5)]:
                d = tot.get(("distinct_all", q, ALL, ""))
                if d is not None:
                    P.add([(d, 1.0), (whole, -1.0)], hi=0.0, tag=f"{v.name} year ≥ {q}")


# --------------------------------------------------------------------------- solving

def _components(P: Problem, rows: list[int]) -> list[tuple[list[int], list[int]]]:
    parent = list(range(len(P.lb)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for j in rows:
        vs = list(P.rows[j][0])
        for x in vs[1:]:
            a, b = find(vs[0]), find(x)
            if a != b:
                parent[a] = b
    comp_rows: dict = {}
    for j in rows:
        comp_rows.setdefault(find(next(iter(P.rows[j][0]))), []).append(j)
    comp_vars: dict = {}
    for i in range(len(P.lb)):
        comp_vars.setdefault(find(i), []).append(i)
    return [(comp_vars[r], comp_rows.get(r, [])) for r in comp_vars]


class Part:
    """One connected part of the relations, solved for the whole-valued min and max of
    targets (HiGHS through ``highspy``).

    The part's linear relaxation is kept in one solver and re-optimised from its last basis
    for each objective (primal simplex: a new objective leaves the basis feasible). When the
    relaxation's optimal point is whole, it is the whole-valued optimum; otherwise the
    part's integer program is solved for that objective (the bound it proves within the
    time limit: what a reader can prove)."""

    def __init__(self, P: Problem, vars_: list[int], rows: list[int], time_limit: float):
        import highspy  # heavy dependency: loaded only when used
        from scipy.sparse import csc_array
        self.pos = {v: i for i, v in enumerate(vars_)}
        self.vars = vars_
        vals, rix, cix, lo, hi = [], [], [], [], []
        for k, j in enumerate(rows):
            t, a, b, _ = P.rows[j]
            for v, c in t.items():
                vals.append(c)
                rix.append(k)
                cix.append(self.pos[v])
            lo.append(a)
            hi.append(b)
        A = csc_array((vals, (rix, cix)), shape=(len(rows), len(vars_)))
        A.sum_duplicates()
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = len(vars_), len(rows)
        model.col_cost_ = np.zeros(len(vars_))
        model.col_lower_ = np.array([P.lb[v] for v in vars_], float)
        model.col_upper_ = np.array([P.ub[v] for v in vars_], float)
        model.row_lower_ = np.array(lo, float)
        model.row_upper_ = np.array(hi, float)
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.start_ = A.indptr.astype(np.int32)
        model.a_matrix_.index_ = A.indices.astype(np.int32)
        model.a_matrix_.value_ = A.data.astype(float)
        self.model = model
        self.relaxed = self._solver(integer=False)
        self.integer = None
        self.time_limit = time_limit
        self.solves = 0
        self._costed = np.zeros(0, np.int32)   # columns of the relaxation's last objective
        # every variable's smallest and largest value over the whole-valued points that the
        # solves found (each a point of the part's integer program)
        self.seen_lo = np.full(len(vars_), INF)
        self.seen_hi = np.full(len(vars_), -INF)
        self.lb = np.asarray(model.col_lower_, float)
        self.ub = np.asarray(model.col_upper_, float)

    def _solver(self, integer: bool):
        import highspy
        h = highspy.Highs()
        h.silent()
        if integer:
            self.model.integrality_ = [highspy.HighsVarType.kInteger] * self.model.num_col_
            h.setOptionValue("time_limit", float(self.time_limit))
        else:
            h.setOptionValue("simplex_strategy", 4)
        h.passModel(self.model)
        return h

    def _objective(self, h, terms: dict, sense: int) -> None:
        c = np.zeros(len(self.vars))
        for v, k in terms.items():
            c[self.pos[v]] = sense * k
        h.changeColsCost(len(c), np.arange(len(c), dtype=np.int32), c)

    def _relaxed_objective(self, terms: dict, sense: int) -> None:
        """The relaxation's objective: only its last objective's columns and this one's
        change (the others stay 0)."""
        idx = np.array([self.pos[v] for v in terms], np.int32)
        both = np.union1d(self._costed, idx).astype(np.int32)
        c = np.zeros(len(both))
        c[np.searchsorted(both, idx)] = [sense * k for k in terms.values()]
        self.relaxed.changeColsCost(len(both), both, c)
        self._costed = idx

    def _seen(self, x: np.ndarray) -> None:
        """Record a whole-valued point of the part."""
        x = np.round(x)
        np.minimum(self.seen_lo, x, out=self.seen_lo)
        np.maximum(self.seen_hi, x, out=self.seen_hi)

    def known_range(self, terms: dict) -> tuple[float, float, float]:
        """For one term ``c · x``: the bound of its minimum that the variable's bounds
        prove, and the smallest and largest value of the whole-valued points found so far
        (±inf without a point); (−inf, inf, −inf) for more terms."""
        if len(terms) != 1:
            return -INF, INF, -INF
        (v, c), = terms.items()
        i = self.pos[v]
        lo, hi = sorted((c * self.seen_lo[i], c * self.seen_hi[i])) \
            if self.seen_lo[i] <= self.seen_hi[i] else (INF, -INF)
        bound = c * self.lb[i] if c > 0 else c * self.ub[i]
        return bound, lo, hi

    def optimum(self, terms: dict, sense: int) -> float | None:
        """min (sense 1) or max (sense −1) of Σ terms over whole values; None if none."""
        import highspy
        ok, unbounded = highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded
        self.solves += 1
        h = self.relaxed
        self._relaxed_objective(terms, sense)
        h.run()
        status = h.getModelStatus()
        if status == unbounded:
            return -sense * INF
        if status == ok:
            x = np.asarray(h.getSolution().col_value)
            if np.abs(x - np.round(x)).max(initial=0.0) <= 1e-6:
                self._seen(x)
                return sense * h.getInfo().objective_function_value
        if self.integer is None:
            self.integer = self._solver(integer=True)
        h = self.integer
        self._objective(h, terms, sense)
        h.run()
        status = h.getModelStatus()
        if status == unbounded:
            return -sense * INF
        info = h.getInfo()
        if status == ok:
            self._seen(np.asarray(h.getSolution().col_value))
            return sense * info.objective_function_value
        if info.primal_solution_status != 2:   # no answer in time
            return None
        # a time limit leaves the bound, not the incumbent: that is what a reader can prove
        return sense * info.mip_dual_bound

    def feasible(self) -> bool:
        import highspy
        if self.integer is None:
            self.integer = self._solver(integer=True)
        self._objective(self.integer, {}, 1)
        self.integer.run()
        return self.integer.getModelStatus() == highspy.HighsModelStatus.kOptimal


def _judge(t: Target, lo: float, hi: float, m: int, cap: float = INF) -> Finding | None:
    """``cap``: the figure's public upper bound (a cell's population base): a cell whose
    base is below min_count is small whatever it is; reaching the base is all it can."""
    lo, hi = lo + t.const, hi + t.const
    m = min(m, math.floor(cap + 1e-6)) if not math.isinf(cap) else m
    lo_i = math.ceil(lo - 1e-6)
    hi_i = math.floor(hi + 1e-6) if not math.isinf(hi) else INF
    if t.kind in ("cell", "total"):
        if hi_i == lo_i:
            return Finding("pinned", t.what, lo_i, hi_i)
        if hi_i < m:          # known to be small (it is ≥ 1: zeros are shown)
            return Finding("narrowed", t.what, lo_i, hi_i)
        # a cell known to be ≥ 2 … min_count − 1 but possibly larger: by the publication's
        # rule (a small count's interval reaches 1) not small; noted, no disclosure. A total
        # of k suppressed cells is ≥ k by the conventions alone.
        if t.kind == "cell" and 1 < lo_i < m:
            return Finding("floor", t.what, lo_i, hi_i, "not small by the publication's rule")
    elif 1 <= lo_i and hi_i <= m - 1:
        return Finding("small", t.what, lo_i, hi_i)
    return None


@dataclass
class Report:
    releases: list
    vintages: int
    targets: int
    solves: int
    seconds: float
    findings: list
    relaxed: list

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list:
        """The findings that disclose (a ``floor`` is only noted)."""
        return [f for f in self.findings if f.kind not in NOTED]

    def counts(self, noted: bool = False) -> dict:
        """Findings by kind: the failures (with ``noted``, every finding)."""
        out: dict = {}
        for f in self.findings if noted else self.failures:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def text(self) -> str:
        lines = [f"audit: {len(self.releases)} release(s) ({', '.join(self.releases)}), "
                 f"{self.vintages} quarter folders, {self.targets} suppressed or unpublished "
                 f"figures bounded with {self.solves} integer programs in {self.seconds:.1f} s"]
        for r in self.relaxed:
            lines.append(f"relaxed: {r}")
        lines += [f.line() for f in self.findings if f.kind in NOTED]
        if self.ok:
            lines.append("audit: OK — no figure pinned or known to be small, no small "
                         "unpublished count or nested difference")
        else:
            lines.append("audit: FAILED — " + ", ".join(
                f"{k} {n}" for k, n in sorted(self.counts().items())))
            lines += [f.line() for f in self.failures]
        return "\n".join(lines)


def bound_targets(P: Problem, rows: list[int], min_count: int, time_limit: float
                  ) -> tuple[list, int, int]:
    """Every target of ``P`` bounded under the relations ``rows`` and judged: (the
    findings, with those of building ``P``; the number of distinct targets; the
    solves)."""
    findings = list(P.findings)
    row_set = set(rows)
    parts = {}
    for vars_, rs in _components(P, sorted(row_set)):
        for v in vars_:
            parts[v] = (vars_, rs)
    built: dict = {}
    seen: set = set()
    n_targets = 0
    for t in P.targets:
        key = (t.kind, tuple(sorted(t.terms.items())))
        if key in seen or not t.terms:
            continue
        seen.add(key)
        n_targets += 1
        vars_, rs = parts[next(iter(t.terms))]
        ident = id(rs)
        if ident not in built:
            built[ident] = Part(P, vars_, rs, time_limit)
        part = built[ident]
        # a whole-valued point found by an earlier solve of the part that is at the bound
        # the variable's own bounds prove is the minimum; one whose value already clears
        # every finding makes the maximum's exact value immaterial (a larger one clears it too)
        bound, seen_lo, seen_hi = part.known_range(t.terms)
        lo = bound if seen_lo <= bound + 1e-9 else part.optimum(t.terms, 1)
        if lo is None:
            continue
        if t.kind not in ("cell", "total") and lo + t.const < 1 - 1e-6:
            continue          # may be zero: an unpublished count that may be 0 tells nothing
        cap = P.ub[next(iter(t.terms))] if len(t.terms) == 1 and t.const == 0 else INF
        if seen_hi > -INF and _judge(t, lo, seen_hi, min_count, cap) is None:
            continue
        hi = part.optimum(t.terms, -1)
        if hi is None:
            continue
        f = _judge(t, lo, hi, min_count, cap)
        if f is not None:
            findings.append(f)
    return findings, n_targets, sum(p.solves for p in built.values())


def load(out_dir: Path) -> list[Vintage]:
    vs = []
    for rid, quarters in releases_of(out_dir).items():
        for q, files in sorted(quarters.items()):
            vs.append(Vintage(rid, q, {name: _read(p) for name, p in files.items()}))
    return vs


def audit(out_dir: Path, min_count: int = 5, rounding: int = 100,
          time_limit: float = 20.0) -> Report:
    """Attack every release under ``out_dir`` (see the module docstring)."""
    start = time.monotonic()
    vs = load(out_dir)
    costs = [(rid, year, _read(p)) for rid, years in costs_of(out_dir).items()
             for year, p in sorted(years.items())]
    split: dict = {}
    relaxed: list = []
    solves = 0
    for stage in ("linked", "release", "vintage", "weak"):
        P = Builder(vs, min_count, rounding, dict(split), costs).build()
        rows = [j for j in range(len(P.rows)) if not (stage == "weak" and j in P.weak)]
        parts = _components(P, rows)
        bad = []
        for vars_, rs in parts:
            if not rs:
                continue
            part = Part(P, vars_, rs, time_limit)
            if not part.feasible():
                bad.append((vars_, rs))
            solves += 1
        if not bad:
            break
        if stage == "weak":
            for _, rs in bad:
                P.findings.append(Finding("inconsistent", P.rows[rs[0]][3], math.nan, math.nan,
                                          f"{len(rs)} relations without a solution"))
            break
        nxt = {"linked": "release", "release": "vintage", "vintage": None}[stage]
        cells = {P.names[v][-3:] for vars_, _ in bad for v in vars_ if P.names[v][0] == "x"}
        relaxed.append(f"{len(bad)} part(s) contradict each other when linked "
                       f"({stage}); {len(cells)} cells unlinked"
                       + ("" if nxt else "; identities relaxed"))
        if nxt:
            for c in cells:
                split[c] = nxt
    findings, n_targets, bound_solves = bound_targets(P, rows, min_count, time_limit)
    solves += bound_solves
    return Report(sorted({v.rid for v in vs} | {c[0] for c in costs}), len(vs), n_targets, solves,
                  time.monotonic() - start, findings, relaxed)
