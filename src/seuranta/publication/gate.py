"""The disclosure gate: the one way from a quarter's exact tables to published numbers.

``publish_quarter(quarter, tables_dir, published_dir, params, priors)`` reads the exact
internal tables of ``OUT/<Q>/tables/`` and writes the quarter's *published tables* to
``OUT/<Q>/published/*.csv``. Every published artefact (book notebooks, county pages, PDFs,
annexes, open data) reads numbers only from these; nothing published is computed from the
exact tables. The protection itself is :func:`seuranta.statistics.disclosure.protect_model`
run once over the relation model of all the tables below together (they share figures):
each table's declared relations (:mod:`seuranta.publication.relations`; a table without a
declaration is refused), with the earlier publications (``priors``: other quarters'
published folders and every earlier release) linked to today's figures while their
relations fit. Every count of 1 … min_count−1 (a cell, an unpublished count, the
difference of nested figures) must be able to be 1 and min_count in whole numbers under
all relations, and no suppressed figure may be pinned; further suppressions are chosen at
least cost (a municipal cell costs its clients, county and national figures far more).
``publish`` then runs the independent audit (:mod:`seuranta.audit`) on the public files.

Representation: a numeric column holds the value or is empty; ``<column>_symbol`` is empty
when a number is shown, else the symbol of :mod:`seuranta.core.symbols`:
``..`` suppressed (small count, or a cell/total from which one could be derived),
``.`` not available or too uncertain (no data, the municipality's data not comprehensive,
or withheld by the publication rule), ``x`` not applicable (no population base, no
estimate made, no range beside a point estimate). **Zeros are shown** (as 0):
a zero reveals no person, and the gate's model accounts for what a shown zero tells (that
every ``..`` cell is at least 1).

Published tables (columns):

``municipal.csv``: quarter (every quarter of the series up to Q), service_task (the seven
    tasks and ``lastensuojelulaki``), county_code, municipality_code, quality
    (comprehensive/partial/none; ``lastensuojelulaki`` takes ``lastensuojelu``'s), sources,
    population_base, clients, clients_symbol, share_pct, share_pct_symbol. A number only for
    comprehensive cells. Shares (per cent, one decimal) are suppressed with their count.
``totals.csv``: every published sum of municipal cells: kind, quarter, service_task,
    county_code ('' = whole country), municipalities (how many cells the sum covers),
    whole_county (1 when every municipality of the county is in it; 0 → "Osin …"), clients,
    clients_symbol. Kinds: ``used`` (clients in the municipalities used = comprehensive;
    every quarter; the estimates' "clients used" and "Edustavat kunnat yhteensä"),
    ``county_used`` (county subtotals of ``used``, quarter Q), ``registered`` (all
    municipalities, tasks without an estimate, every quarter), ``county_registered``
    (quarter Q), ``registered_all`` (all tasks' client counts summed, quarter Q) and
    ``distinct_all`` (distinct clients, quarter Q), ``tpc_total``/``tpc_multi`` (clients,
    and clients of two or more tasks, by county_code incl. '' for the whole country).
``estimates.csv``: the published method's rows only (``estimate.published_method``):
    quarter, service_task, age_group, method, municipalities_used, population_used,
    national_base, clients_used, estimate_rounded, ci_low, ci_high, share_pct, range_low,
    range_high, range_low_pct, range_high_pct, publish_as, rule_reason, note, each numeric
    with its ``_symbol``. Suppressed ``clients_used`` suppresses the figures derived from it
    (share, estimate, interval, range); then :mod:`seuranta.publication.rule` shows what
    the publication rule allows (a point, a range or nothing) at the declared precision.
``county_estimates.csv``: quarter, service_task, county_code, method, municipalities,
    municipalities_comprehensive, population_base, base_coverage_pct, comprehensive,
    clients_observed, estimate_rounded, ci_low, ci_high, share_pct, range_low, range_high,
    range_low_pct, range_high_pct, publish_as (each figure with its ``_symbol``):
    ``clients_observed`` is suppressed with the ``county_used`` total it equals, and a
    comprehensive county's figures with it; the county rule as for the national rows.
``extremes.csv``: quarter, service_task, n (comprehensive municipalities), n_shown, q1,
    median, q3, min, min_municipality_code, max, max_municipality_code: quartiles, smallest
    and largest share over the n_shown comprehensive municipalities whose count is *shown*
    (empty when none), so that no quartile can be solved for a hidden share; the quartiles
    are empty when n_shown is below ``rule.MIN_QUARTILE_MUNICIPALITIES`` (4) and the
    extremes when it is below ``rule.MIN_EXTREME_MUNICIPALITIES`` (2): with one municipality
    every quartile and both extremes would be its share.
``tasks_per_client.csv``: county_code ('' = whole country), n_tasks, clients,
    clients_symbol: the whole country's clients by number of tasks (county rows are not
    published; their totals are in ``totals.csv``).
``multi_task.csv``: task_a, task_b, clients, clients_symbol (whole country).
``year.csv``: whole-year distinct clients of the newest calendar year: year,
    service_task (the tasks and ``kaikki``), clients, municipalities_full_year (comprehensive
    in all four quarters), clients_full_year, base_full_year, share_full_year_pct,
    national_base (related to the quarters' cells and totals by the year's relations).
``quality_reasons.csv``, ``representativeness.csv``, ``review_decisions.csv``,
    ``review_effect.csv``: the data-quality tables of the book
    (:mod:`seuranta.publication.quality`), so that no writer reads the exact tables
    (municipalities, shares of the base and rounded estimates: no count of persons;
    declared in :mod:`seuranta.publication.relations` as relating to none).

Extract-wide table (:func:`publish_extract`, once per release into
``OUT/register/published/``, not into every quarter: it describes the whole extract, and
a quarter's folder holds only what depends on that quarter): ``ledger.csv``, the register
rows read, accepted, rejected and flagged (register rows, no count of persons; declared as
relating to none).
``calibration.csv`` (:func:`published_calibration`): the out-of-sample check of the model
    (statistics stage ``calibration``): quarter (of the prediction), service_task (``kaikki``
    = over the tasks), n (municipalities predicted then and comprehensive later), mean_z,
    sd_z, within_196_pct, each figure with its ``_symbol``. Aggregates of z-scores only (a
    municipality's own z with its prediction would reveal its count): a row of fewer than
    ``disclosure.min_count`` municipalities is shown as ``..``. It shares no cell with the
    other tables.

Cost tables of the Sote-tietopaketit (:func:`publish_costs`, ``OUT/costs/<year>/published/``,
``county_code`` '' = the whole country): ``costs_packages``, ``costs_allocation``,
``costs_unallocated``, ``costs_per_resident``, ``costs_dimensions`` (euros, shares, euros
per resident, ledger rows: no count of persons, published at the annex's precision) and
``costs_per_client`` (county_code, package_code, service_tasks, cost_eur, clients,
clients_symbol, eur_per_client, eur_per_client_symbol, coverage_pct, note: the whole-year
clients are counts of persons, suppressed with their € per client).

Internal, never published: ``OUT/<Q>/disclosure/loss.csv``, the information loss per task
of quarter Q (cells, primary, secondary and their clients, totals suppressed): its count of
small cells per task would itself be a published figure about them.

Counts by source (SHA / ET) are not published, so they link nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import precision, reference
from seuranta.core.params import as_params
from seuranta.core.quarters import Quarter
from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED
from seuranta.core.tables import itertuples, write_csv
from seuranta.publication import quality, relations, rule
from seuranta.publication.published import PUBLISHED, RELEASES, read
from seuranta.statistics import disclosure

log = logging.getLogger(__name__)

#: The gate's internal folder beside ``published/`` (never published): ``loss.csv``.
INTERNAL = "disclosure"

CWA = "lastensuojelulaki"
MUNICIPAL_KINDS = ("used", "county_used", "registered", "county_registered")
AGE_PARTS = ("0-17", "18-64", "65+")

def _series(tables_dir: Path, name: str, quarter: str) -> pd.DataFrame | None:
    parts = [df for df in (read(tables_dir, f"series_{name}", False),
                           read(tables_dir, name, False)) if df is not None]
    if not parts:
        return None
    df = pd.concat(parts, ignore_index=True)
    df = df[df["quarter"] <= quarter]
    keys = [c for c in ("quarter", "municipality_code", "service_task", "source", "method",
                        "age_group") if c in df.columns]
    return df.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)


def disclosure_settings(params: dict) -> tuple[int, int]:
    """(min_count, rounding) of the parameters."""
    p = as_params(params)
    return int(p["disclosure"]["min_count"]), int(p["estimate"]["rounding"])


# --------------------------------------------------------------------------- cells

def municipal_cells(tables_dir: Path, quarter: str) -> pd.DataFrame:
    """The exact municipal grid: every quarter ≤ Q × task (+ lastensuojelulaki) × mainland
    municipality, with quality, sources, population_base and clients."""
    counts = _series(tables_dir, "counts", quarter)
    cwa = _series(tables_dir, "cwa_counts", quarter)
    quality = _series(tables_dir, "quality", quarter)
    c = pd.concat([x for x in (counts, cwa) if x is not None], ignore_index=True)
    c = c[c["source"] == "ALL"]
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]]
    tasks = reference.task_codes() + ([CWA] if cwa is not None else [])
    quarters = sorted(c["quarter"].unique())
    grid = pd.MultiIndex.from_product(
        [quarters, tasks, list(mun["municipality_code"])],
        names=["quarter", "service_task", "municipality_code"]).to_frame(index=False)
    grid = grid.merge(mun, on="municipality_code", how="left")
    grid = grid.merge(c[["quarter", "service_task", "municipality_code", "clients",
                         "population_base"]], how="left",
                      on=["quarter", "service_task", "municipality_code"])
    q = quality[["quarter", "service_task", "municipality_code", "quality", "sources"]]
    q_cwa = q[q["service_task"] == "lastensuojelu"].assign(service_task=CWA)
    grid = grid.merge(pd.concat([q, q_cwa], ignore_index=True), how="left",
                      on=["quarter", "service_task", "municipality_code"])
    grid["quality"] = grid["quality"].fillna("none")
    grid["sources"] = grid["sources"].fillna("").astype(str)
    grid["clients"] = grid["clients"].fillna(0).astype("int64")
    return grid


def municipal_groups(cells: pd.DataFrame, quarter: str, estimated: set[str]) -> dict:
    """Published sums over municipal cells: {(kind, quarter, task, county): [cell keys]}.

    The same rules give the groups of an earlier publication from its published table
    (membership follows from the published quality), so that earlier totals can be
    linked."""
    groups: dict = {}
    key = list(zip(cells["quarter"].tolist(), cells["service_task"].tolist(),
                   cells["municipality_code"].tolist()))
    d = cells.assign(_key=key)
    for (q, t), g in d.groupby(["quarter", "service_task"], sort=True):
        if t in estimated:
            comp = g[g["quality"] == "comprehensive"]
            groups[("used", q, t, "")] = list(comp["_key"])
            if q == quarter:
                for c, gc in comp.groupby("county_code", sort=True):
                    groups[("county_used", q, t, c)] = list(gc["_key"])
        else:
            groups[("registered", q, t, "")] = list(g["_key"])
            if q == quarter:
                for c, gc in g.groupby("county_code", sort=True):
                    groups[("county_registered", q, t, c)] = list(gc["_key"])
    return groups


def hierarchy(groups: dict) -> dict:
    """{national group: its county groups} (their cells partition the national one)."""
    out: dict = {}
    for g in groups:
        parent = {"county_used": "used", "county_registered": "registered",
                  "tpc_total": "tpc_total", "tpc_multi": "tpc_multi"}.get(g[0])
        if parent and g[3] != "" and (parent, g[1], g[2], "") in groups:
            out.setdefault((parent, g[1], g[2], ""), []).append(g)
    return out


def _estimated_tasks(cells: pd.DataFrame) -> set[str]:
    t = reference.service_tasks()
    return set(t.loc[t["estimated"] == 1, "service_task"]) | (
        {CWA} if (cells["service_task"] == CWA).any() else set())


# --------------------------------------------------------------------------- priors

class _ReadOnce:
    """Published tables read once by content: a kept release's quarter and the same
    quarter in OUT are often the same files. Each caller gets its own copy."""

    def __init__(self):
        self.frames: dict[bytes, pd.DataFrame | None] = {}

    def __call__(self, d: Path, name: str) -> pd.DataFrame | None:
        p = Path(d) / f"{name}.csv"
        if not p.is_file():
            return None
        key = hashlib.sha256(p.read_bytes()).digest()
        if key not in self.frames:
            self.frames[key] = read(d, name, False)
        return self.frames[key].copy()


def _prior_tables(d: Path, rounding: int, reader=None) -> dict | None:
    """An earlier published folder's tables, as the relation declarations read them (an
    estimate's published upper figures as its ``cap``). ``reader(d, name)``: how a table
    is read (default :func:`seuranta.publication.published.read`)."""
    reader = reader or (lambda d, name: read(d, name, False))
    T = {name: reader(d, name) for name in relations.DECLARED}
    if T["municipal"] is None or T["totals"] is None:
        return None
    T["quarter"] = max(T["municipal"]["quarter"]) if len(T["municipal"]) else ""
    for name in ("estimates", "county_estimates"):
        df = T.get(name)
        if df is None:
            continue
        df = df.copy()
        caps = []
        for r in df.to_dict("records"):
            c = math.inf
            for col, slack in (("estimate_rounded", rounding / 2), ("ci_high", rounding / 2),
                               ("range_high", 0.0)):
                if r.get(f"{col}_symbol", "x") == "" and pd.notna(r.get(col)):
                    c = min(c, float(r[col]) + slack)
            caps.append(c if not math.isinf(c) else np.nan)
        df["cap"] = caps
        if name == "county_estimates":
            df["floor"] = [float(r["estimate_rounded"]) - rounding / 2
                           if str(r.get("comprehensive")) == "1" and
                           r.get("estimate_rounded_symbol") == "" and
                           pd.notna(r.get("estimate_rounded")) else np.nan
                           for r in df.to_dict("records")]
        T[name] = df
    for name in ("tasks_per_client", "multi_task", "year"):
        if T.get(name) is not None and T[name].empty:
            T[name] = None
    return T


def _declare_prior(M: disclosure.RelationModel, n: int, T: dict, min_count: int) -> None:
    """An earlier folder's relations: its suppressed figures are today's while the
    relations still hold with today's exact values; figures of a part whose relations no
    longer hold (a revised cell) get variables of their own, found feasible by an integer
    program (any point that fits: a reader cannot tell which)."""
    link = "revisions" in relations.ACTIVE
    unlinked: set = set()
    mun = T["municipal"]
    na = mun[mun["clients_symbol"] == NOT_AVAILABLE]
    dots: dict = {}
    for r in itertuples(na, index=False):
        dots.setdefault((r.quarter, r.service_task, r.county_code), set()).add(
            (r.quarter, r.service_task, r.municipality_code))
    for attempt in range(3):
        start = len(M.rows)
        snapshot = (dict(M.lb), set(M.forced), set(M.known))
        ctx = relations.Earlier(M, min_count, n, frozenset(unlinked),
                                link_all=link and attempt < 2, dots=dots)
        relations.declare(ctx, dict(T))
        rows = M.rows[start:]
        if _fit_own(M, rows, ctx.own):
            return
        # undo and unlink the linked figures of the rows that do not fit
        del M.rows[start:]
        M.lb.clear()
        M.lb.update(snapshot[0])
        M.forced, M.known = snapshot[1], snapshot[2]
        for k in ctx.own:
            for d in (M.value, M.lb, M.ub, M.cost):
                d.pop(k, None)
        unlinked |= ctx.linked
    log.warning("gate: earlier publication %s contradicts today's figures; left out", n)


def _fit_own(M: disclosure.RelationModel, rows: list, own: set) -> bool:
    """Values for an earlier folder's own variables that satisfy its rows with today's
    figures (in M.value); False when there are none."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    own = sorted(own, key=repr)
    if not own:
        return all(M.holds(r) for r in rows)
    pos = {k: i for i, k in enumerate(own)}
    restricted = disclosure.restricted_rows(M, rows, pos)
    if restricted is None:
        return False
    data, ri, ci, lo, hi = restricted
    r = len(lo)
    lb = np.array([M.lb[k] for k in own])
    ub = np.array([M.ub[k] for k in own])
    cons = [LinearConstraint(csr_array((data, (ri, ci)), shape=(r, len(own))),
                             np.array(lo), np.array(hi))] if r else []
    res = milp(np.zeros(len(own)), integrality=np.ones(len(own)), bounds=Bounds(lb, ub),
               constraints=cons, options={"time_limit": 30})
    if res.x is None:
        return False
    for k, x in zip(own, res.x):
        M.value[k] = float(round(x))
    return True


def prior_dirs(out_dir: Path, quarter: str, release_id: str | None = None) -> list[Path]:
    """Published folders a reader already has: the other quarters' ``OUT/<Q'>/published``
    and every quarter of every release under ``OUT/releases/`` (but the release being
    made, ``release_id``, when it was kept before: re-running it changes nothing)."""
    out_dir = Path(out_dir)
    dirs = [p for p in sorted(out_dir.glob(f"*/{PUBLISHED}"))
            if p.parent.name != quarter and not p.parent.name.startswith(".")]
    dirs += [p for p in sorted(out_dir.glob(f"{RELEASES}/*/*/{PUBLISHED}"))
             if p.parent.parent.name != release_id]
    return dirs


# --------------------------------------------------------------------------- gate

class Decision:
    """What the gate suppresses: figures (``hidden``: municipal cells and the keys of
    :mod:`.relations`) and totals (``dropped``: group ids ``(kind, quarter, task,
    county)``, ``("agesum", quarter, "kaikki", "")`` for the all-ages clients used)."""

    def __init__(self, hidden: set, primary: set):
        self.hidden = hidden
        self.primary = primary
        self.dropped = {k[1:] for k in hidden if k[0] == "T"}
        self.dropped |= {("agesum", k[1], "kaikki", "") for k in hidden
                         if k[0] == "age" and k[2] == "kaikki"}


def _exact_tables(cells: pd.DataFrame, groups: dict, quarter: str, tables_dir: Path,
                  est, tpc, mt, min_count: int, rounding: int) -> dict:
    """Today's figures in the shape of the published tables, before suppression (what
    :func:`relations.declare` reads)."""
    T: dict = {"quarter": quarter}
    mun = cells[["quarter", "service_task", "county_code", "municipality_code", "quality",
                 "population_base", "clients"]].copy()
    mun["clients_symbol"] = np.where(mun["quality"] == "comprehensive", "", NOT_AVAILABLE)
    T["municipal"] = mun
    values = dict(zip(zip(cells["quarter"].tolist(), cells["service_task"].tolist(),
                          cells["municipality_code"].tolist()),
                      cells["clients"].astype(float).tolist()))
    rows = [[g[0], g[1], g[2], g[3], sum(values[c] for c in m), ""]
            for g, m in groups.items() if g[0] in MUNICIPAL_KINDS]
    now = cells[cells["quarter"] == quarter]
    rows.append(["registered_all", quarter, "kaikki", "",
                 float(now.loc[now["service_task"] != CWA, "clients"].sum()), ""])
    age = read(tables_dir, "age_counts", False)
    if age is not None:
        k = age[(age["service_task"] == "kaikki") & age["age_group"].isin(AGE_PARTS)]
        rows.append(["distinct_all", quarter, "kaikki", "", float(k["clients"].sum()), ""])
    if tpc is not None:
        t = tpc[tpc["quarter"].astype(str) == quarter] if "quarter" in tpc else tpc
        t = t[t["county_code"] != "ALL"]
        for c, g in list(t.groupby("county_code")) + [("", t)]:
            rows.append(["tpc_total", quarter, "kaikki", c, float(g["clients"].sum()), ""])
            rows.append(["tpc_multi", quarter, "kaikki", c,
                         float(g.loc[g["n_tasks"].astype(int) >= 2, "clients"].sum()), ""])
        nat = t.groupby("n_tasks")["clients"].sum()
        T["tasks_per_client"] = pd.DataFrame(
            [[r.county_code, str(r.n_tasks), float(r.clients), relations.LATENT]
             for r in itertuples(t)] + [["", str(n), float(v), ""] for n, v in nat.items()],
            columns=["county_code", "n_tasks", "clients", "clients_symbol"])
    T["totals"] = pd.DataFrame(rows, columns=["kind", "quarter", "service_task", "county_code",
                                              "clients", "clients_symbol"])
    if mt is not None:
        m = mt[mt["county_code"] == "ALL"]
        T["multi_task"] = pd.DataFrame({"task_a": m["task_a"], "task_b": m["task_b"],
                                        "clients": m["clients"].astype(float),
                                        "clients_symbol": ""})
    if est is not None:
        e = est[est["method"] == "ratio"].copy()
        e["age_group"] = e["age_group"].fillna("kaikki") if "age_group" in e else "kaikki"
        e["clients_used_symbol"] = np.where(e["clients_used"].isna(), NOT_APPLICABLE, "")
        T["estimates"] = e[["quarter", "service_task", "age_group", "method", "clients_used",
                            "clients_used_symbol"]]
        agem = _series(tables_dir, "age_counts", quarter)
        if agem is not None:
            a = agem[agem["service_task"] == "kaikki"]
            T["age_municipal"] = dict(zip(zip(a["quarter"].astype(str), a["municipality_code"],
                                              a["age_group"]), a["clients"].astype(float)))
    ce = read(tables_dir, "county_estimates", False)
    if ce is not None:
        c = ce[["quarter", "service_task", "county_code"]].copy()
        partial = ce["comprehensive"].fillna(0).astype(int) == 0
        # a partial county's estimate stays public when its clients are suppressed: the
        # published estimate (to ``rounding``) bounds them (a comprehensive county's is
        # suppressed with them)
        c["cap"] = (ce["estimate"].map(lambda x: _round_to(x, rounding)) + rounding / 2
                    ).where(partial)
        c["floor"] = np.nan
        T["county_estimates"] = c
    T["year"] = _year(tables_dir, min_count, exact=True)
    return T


def _decide(quarter: str, T: dict, priors: list[Path] | None, min_count: int,
            rounding: int, secondary: bool):
    """The quarter's relation model (today's tables and the earlier publications) and
    what it hides: ``(model, Decision)``; ``secondary=False``: primary suppression only."""
    M = disclosure.RelationModel()
    reader = _ReadOnce()
    earlier = [t for t in (_prior_tables(d, rounding, reader) for d in (priors or []))
               if t is not None]
    referenced = {(r.quarter, r.service_task, r.municipality_code)
                  for t in earlier for r in itertuples(t["municipal"])
                  if r.clients_symbol == SUPPRESSED}
    relations.declare(relations.Today(M, min_count, referenced), T)
    for n, t in enumerate(earlier):
        _declare_prior(M, n, t, min_count)
    if secondary:
        res = disclosure.protect_model(M, min_count)
        if res.unresolved:
            log.warning("gate %s: %d requirement(s) could not be met: %s", quarter,
                        len(res.unresolved), res.unresolved[:5])
        log.info("gate %s: %d suppressed (%d primary), %d integer programs, %.1f s", quarter,
                 len(res.hidden), len(res.primary), res.solves, res.seconds)
        res = Decision(res.hidden, res.primary)
    else:
        primary = {k for k in M.pub if disclosure.is_small(M.value[k], min_count)}
        primary |= {k for k in M.forced & M.pub if M.value[k] > 0}
        res = Decision(primary, primary)
    return M, res


def _published_municipal(cells: pd.DataFrame, keys: list, cell_quality: list,
                         res: Decision) -> pd.DataFrame:
    """The municipal table: a municipality's count shown when its data are comprehensive
    and the decision does not hide it; its share where it has a population base."""
    sym = []
    for k, qual in zip(keys, cell_quality):
        if qual != "comprehensive":
            sym.append(NOT_AVAILABLE)
        elif k in res.hidden:
            sym.append(SUPPRESSED)
        else:
            sym.append("")
    mun = cells[["quarter", "service_task", "county_code", "municipality_code", "quality",
                 "sources", "population_base"]].copy()
    mun["clients_symbol"] = sym
    mun["clients"] = cells["clients"].astype("Int64").where(mun["clients_symbol"] == "")
    base = cells["population_base"]
    share = 100.0 * cells["clients"] / base.where(base > 0)   # rounded by rule.apply_precision
    ssym = np.where(mun["clients_symbol"] != "", mun["clients_symbol"],
                    np.where(base.fillna(0) > 0, "", NOT_APPLICABLE))
    mun["share_pct_symbol"] = ssym
    mun["share_pct"] = share.where(mun["share_pct_symbol"] == "")
    mun["population_base"] = base.astype("Int64")
    return mun[["quarter", "service_task", "county_code", "municipality_code",
               "quality", "sources", "population_base", "clients",
               "clients_symbol", "share_pct", "share_pct_symbol"]]


def _published_totals(totals: pd.DataFrame, groups: dict, tpc_cells: pd.DataFrame | None,
                      cells: pd.DataFrame, quarter: str, res: Decision) -> pd.DataFrame:
    """The totals table: each total with the municipalities it covers, whether that is a
    whole county, and its count unless the decision hides it."""
    mref = reference.mainland_municipalities()
    per_county = mref.groupby("county_code")["municipality_code"].nunique().to_dict()
    rows = []
    for r in itertuples(totals, index=False):
        g = (r.kind, r.quarter, r.service_task, r.county_code)
        if r.kind in MUNICIPAL_KINDS:
            n = len(groups[g])
        elif r.kind in ("tpc_total", "tpc_multi") and tpc_cells is not None:
            c = tpc_cells[(tpc_cells["county_code"] != "") &
                          ((tpc_cells["county_code"] == r.county_code) | (r.county_code == ""))]
            n = int(len(c) if r.kind == "tpc_total" else (c["n_tasks"].astype(int) >= 2).sum())
        else:
            n = int(cells.loc[cells["quarter"] == quarter, "municipality_code"].nunique())
        whole = int(bool(r.county_code) and r.kind in MUNICIPAL_KINDS
                    and n == per_county.get(r.county_code, -1))
        s = SUPPRESSED if ("T",) + g in res.hidden else ""
        rows.append([r.kind, r.quarter, r.service_task, r.county_code, n, whole,
                     None if s else int(r.clients), s])
    tot = pd.DataFrame(rows, columns=["kind", "quarter", "service_task", "county_code",
                                      "municipalities", "whole_county", "clients",
                                      "clients_symbol"])
    tot["clients"] = tot["clients"].astype("Int64")
    return tot.sort_values(["kind", "quarter", "service_task", "county_code"],
                           kind="mergesort").reset_index(drop=True)


def _published_tpc(tpc_cells: pd.DataFrame, quarter: str, res: Decision) -> pd.DataFrame:
    """Clients of the whole country by their number of tasks."""
    t = tpc_cells[tpc_cells["county_code"] == ""].copy()
    sym = [SUPPRESSED if ("tpcn", quarter, int(n)) in res.hidden else "" for n in t["n_tasks"]]
    t = pd.DataFrame({"county_code": "", "n_tasks": t["n_tasks"].astype(str),
                      "clients": [None if s else int(v) for v, s in zip(t["clients"], sym)],
                      "clients_symbol": sym})
    t["clients"] = t["clients"].astype("Int64")
    return t.sort_values("n_tasks", key=lambda s: s.astype(int),
                         kind="mergesort").reset_index(drop=True)


def _published_pairs(m: pd.DataFrame, quarter: str, res: Decision) -> pd.DataFrame:
    """Clients of each pair of tasks."""
    sym = [SUPPRESSED if ("pair", quarter, a, b) in res.hidden else ""
           for a, b in zip(m["task_a"], m["task_b"])]
    t = pd.DataFrame({"task_a": m["task_a"].to_numpy(), "task_b": m["task_b"].to_numpy(),
                      "clients": [None if s else int(v) for v, s in zip(m["clients"], sym)],
                      "clients_symbol": sym})
    t["clients"] = t["clients"].astype("Int64")
    return t


def publish_quarter(quarter: Quarter | str, tables_dir: Path, published_dir: Path | None,
                    params: dict, priors: list[Path] | None = None, secondary: bool = True,
                    lp_audit: bool = True) -> dict[str, pd.DataFrame]:
    """The published tables of a quarter (written to ``published_dir`` when given, with
    the internal information-loss report in ``<published_dir>/../disclosure/loss.csv``).

    ``priors``: earlier published folders (see :func:`prior_dirs`). ``secondary=False``
    gives primary suppression only (for measuring, and for the attacker test's bypass).
    """
    quarter = str(quarter)
    tables_dir = Path(tables_dir)
    min_count, rounding = disclosure_settings(params)
    cells = municipal_cells(tables_dir, quarter)
    estimated = _estimated_tasks(cells)
    keys = list(zip(cells["quarter"].tolist(), cells["service_task"].tolist(),
                    cells["municipality_code"].tolist()))
    cell_quality = cells["quality"].tolist()
    values = dict(zip(keys, cells["clients"].astype(float).tolist()))
    shown = {k for k, q in zip(keys, cell_quality) if q == "comprehensive"}
    groups = municipal_groups(cells, quarter, estimated)

    est = _series(tables_dir, "estimates", quarter)
    tpc = read(tables_dir, "tasks_per_client", False)
    mt = read(tables_dir, "multi_task", False)
    T = _exact_tables(cells, groups, quarter, tables_dir, est, tpc, mt, min_count, rounding)

    M, res = _decide(quarter, T, priors, min_count, rounding, secondary)
    values.update({k: v for k, v in M.value.items() if k[0] in ("age",)})

    out: dict[str, pd.DataFrame] = {"municipal": _published_municipal(cells, keys,
                                                                     cell_quality, res)}

    tpc_cells = T.get("tasks_per_client")
    out["totals"] = _published_totals(T["totals"], groups, tpc_cells, cells, quarter, res)

    # estimates
    if est is not None:
        out["estimates"] = _published_estimates(est, groups, res, values, min_count, rounding)

    ce = read(tables_dir, "county_estimates", False)
    if ce is not None:
        out["county_estimates"] = _published_county_estimates(ce, groups, res, min_count,
                                                              rounding)

    # extremes
    quart = read(tables_dir, "quartiles", False)
    if quart is not None:
        out["extremes"] = _extremes(quart, out["municipal"], quarter)

    # tasks per client (whole country by number of tasks) and task pairs
    if tpc_cells is not None:
        out["tasks_per_client"] = _published_tpc(tpc_cells, quarter, res)
    if T.get("multi_task") is not None:
        out["multi_task"] = _published_pairs(T["multi_task"], quarter, res)

    if T.get("year") is not None:
        out["year"] = _published_year(T["year"], res)

    calibration = published_calibration(tables_dir, quarter, min_count)
    if calibration is not None:
        out["calibration"] = calibration

    # what each public cell shows: the publication rule, the data-quality tables of the
    # book, the declared precision (publication.rule, publication.quality)
    out = rule.apply_rule(out, params)
    out.update(quality.published_quality(tables_dir, quarter, out.get("estimates"), params))
    out = rule.apply_precision(out, params)

    relations.check_declared(out)
    loss = _loss(cells, keys, shown, values, M, res, quarter)
    if published_dir is not None:
        published_dir = Path(published_dir)
        published_dir.mkdir(parents=True, exist_ok=True)
        for name, df in out.items():
            write_csv(df, published_dir / f"{name}.csv")
        internal = published_dir.parent / INTERNAL
        internal.mkdir(parents=True, exist_ok=True)
        write_csv(loss, internal / "loss.csv")
    return out


def _write_published(out: dict[str, pd.DataFrame], published_dir: Path | None
                     ) -> dict[str, pd.DataFrame]:
    """Refuse an undeclared table, then write each table to ``published_dir`` (when
    given) as ``<name>.csv``; returns ``out``."""
    relations.check_declared(out)
    if published_dir is not None:
        published_dir = Path(published_dir)
        published_dir.mkdir(parents=True, exist_ok=True)
        for name, df in out.items():
            write_csv(df, published_dir / f"{name}.csv")
    return out


def publish_extract(extract_tables_dir: Path, published_dir: Path | None, params: dict
                    ) -> dict[str, pd.DataFrame]:
    """The extract-wide published table (``ledger``, see the module docstring) from the
    exact extract-wide tables (``OUT/register/tables``), written to ``published_dir``
    when given. It holds register rows, no count of persons (declared in
    :mod:`seuranta.publication.relations` as relating to none: no figure of a quarter's
    model), at the declared precision."""
    out = rule.apply_precision(quality.published_ledger(extract_tables_dir), params)
    return _write_published(out, published_dir)


def published_calibration(tables_dir: Path, quarter: str, min_count: int
                          ) -> pd.DataFrame | None:
    """The quarter's ``calibration`` table (aggregated z-scores of earlier predictions)
    with the rows of fewer than ``min_count`` municipalities suppressed; None without it."""
    cal = read(tables_dir, "calibration", False)
    if cal is None:
        return None
    cal = cal[cal["quarter"].astype(str) <= quarter].reset_index(drop=True)
    out = cal[["quarter", "service_task", "n"]].copy()
    few = cal["n"] < min_count
    for col in ("mean_z", "sd_z", "within_196_pct"):
        out[col] = cal[col].where(~few)
        if col in rule.Z_FIGURES["calibration"]:
            out[col] = out[col].map(lambda x: precision.round_share(x, precision.Z_DECIMALS))
        out[f"{col}_symbol"] = np.where(few, SUPPRESSED,
                                        np.where(cal[col].isna(), NOT_APPLICABLE, ""))
    return out


def _published_estimates(est: pd.DataFrame, groups: dict, res, values: dict,
                         min_count: int, rounding: int) -> pd.DataFrame:
    e = est.copy()
    if "age_group" not in e.columns:
        e["age_group"] = "kaikki"
    e["age_group"] = e["age_group"].fillna("kaikki")
    used_sym = []
    for r in itertuples(e):
        if pd.isna(r.clients_used):
            used_sym.append(NOT_APPLICABLE)
        elif r.service_task == "kaikki" and r.age_group != "kaikki":
            k = ("age", r.quarter, r.age_group)
            used_sym.append(SUPPRESSED if k in res.hidden else "")
        elif r.service_task == "kaikki":
            g = ("agesum", r.quarter, "kaikki", "")
            used_sym.append(SUPPRESSED if g in res.dropped or
                            disclosure.is_small(r.clients_used, min_count) else "")
        else:
            g = ("used", r.quarter, r.service_task, "")
            used_sym.append(SUPPRESSED if g in res.dropped or
                            disclosure.is_small(r.clients_used, min_count) else "")
    pub = e[["quarter", "service_task", "age_group", "method", "published",
             "municipalities_used", "population_used"]].copy()
    pub["national_base"] = e["national_base"] if "national_base" in e else np.nan
    pub["clients_used"] = e["clients_used"]
    pub["clients_used_symbol"] = used_sym
    none = e["estimate"].isna() if "estimate" in e else pd.Series(True, index=e.index)
    derived_sym = np.where(pub["clients_used_symbol"] == SUPPRESSED, SUPPRESSED,
                           np.where(none, NOT_APPLICABLE, ""))
    est_r = e["estimate_rounded"] if "estimate_rounded" in e else e["estimate"]
    # exact figures: rule.apply_rule rounds them (intervals outward) and applies the rule
    exact = pd.to_numeric(e["estimate"], errors="coerce") if "estimate" in e else est_r
    share = 100 * exact / pd.to_numeric(e["national_base"], errors="coerce").where(
        pd.to_numeric(e["national_base"], errors="coerce") > 0) \
        if "national_base" in e else e["share_pct"]
    for col, v in (("share_pct", share.fillna(e["share_pct"])),
                   ("estimate_rounded", est_r),
                   ("ci_low", e["ci_low"]),
                   ("ci_high", e["ci_high"])):
        pub[col] = v
        pub[f"{col}_symbol"] = derived_sym
    ranges = [c for c in ("range_low", "range_high") if c in e]
    for col in ranges:
        pub[col] = e[col]
        pub[f"{col}_symbol"] = np.where(derived_sym == SUPPRESSED, SUPPRESSED,
                                        np.where(e[col].isna(), NOT_APPLICABLE, ""))
    if "publish_as" in e:
        pub["publish_as"] = e["publish_as"]
        pub["rule_reason"] = e["rule_reason"].fillna("") if "rule_reason" in e else ""
    pub["note"] = e["note"] if "note" in e else ""
    for col in ["clients_used", "share_pct", "estimate_rounded", "ci_low", "ci_high"] + ranges:
        pub[col] = pub[col].where(pub[f"{col}_symbol"] == "")
    for col in ["clients_used", "estimate_rounded", "municipalities_used", "population_used",
                "national_base", "published"]:
        pub[col] = pd.to_numeric(pub[col]).round().astype("Int64")
    return pub.reset_index(drop=True)


def _published_county_estimates(ce: pd.DataFrame, groups: dict, res, min_count: int,
                                 rounding: int) -> pd.DataFrame:
    """County estimates: ``clients_observed`` is the county subtotal of the comprehensive
    municipalities (suppressed with ``county_used``); a comprehensive county's estimate is
    that same count, so its figures are suppressed with it."""
    out = ce[["quarter", "service_task", "county_code", "method", "municipalities",
              "municipalities_comprehensive", "population_base", "base_coverage_pct",
              "comprehensive", "publish_as"]].copy()
    obs_sym = []
    for r in itertuples(ce):
        g = ("county_used", str(r.quarter), r.service_task, r.county_code)
        obs_sym.append(SUPPRESSED if g in res.dropped
                       or disclosure.is_small(r.clients_observed, min_count) else "")
    obs_sym = np.array(obs_sym, dtype=object)
    out["clients_observed"] = ce["clients_observed"]
    out["clients_observed_symbol"] = obs_sym
    tied = (ce["comprehensive"].fillna(0).astype(int) == 1).to_numpy() & (obs_sym != "")
    # exact figures: rule.apply_rule rounds them (intervals outward) and applies the rule
    base = pd.to_numeric(ce["population_base"], errors="coerce")
    exact_share = (100 * pd.to_numeric(ce["estimate"], errors="coerce") / base.where(base > 0)
                   ).fillna(ce["share_pct"]) if "estimate" in ce else ce["share_pct"]
    for col in ("estimate_rounded", "ci_low", "ci_high", "range_low", "range_high",
                "share_pct"):
        v = exact_share if col == "share_pct" else ce[col]
        out[col] = v
        out[f"{col}_symbol"] = np.where(tied, SUPPRESSED, np.where(v.isna(), NOT_APPLICABLE, ""))
    for col in ("clients_observed", "estimate_rounded", "ci_low", "ci_high", "range_low",
                "range_high", "share_pct"):
        out[col] = out[col].where(out[f"{col}_symbol"] == "")
    for col in ("clients_observed", "estimate_rounded", "population_base"):
        out[col] = pd.to_numeric(out[col]).round().astype("Int64")
    return out.reset_index(drop=True)


def _year(tables_dir: Path, min_count: int, exact: bool = False) -> pd.DataFrame | None:
    """Whole-year distinct clients per task of the newest calendar year in ``year_counts``
    (source ALL): registered clients, the municipalities comprehensive in all four quarters
    of the year (for ``kaikki``: in all six estimated tasks), their clients and base
    (exact: every figure shown, for the relation model; else primary suppression only)."""
    yc = read(tables_dir, "year_counts", False)
    if yc is None or yc.empty:
        return None
    year = int(yc["year"].max())
    yc = yc[(yc["year"] == year) & (yc["source"] == "ALL")]
    sq = read(tables_dir, "series_quality", False)
    full: dict[str, set] = {}
    if sq is not None:
        y = sq[sq["quarter"].str.startswith(str(year))]
        good = y[y["quality"] == "comprehensive"].groupby(
            ["service_task", "municipality_code"])["quarter"].nunique()
        for (t, m), n in good.items():
            if n == 4:
                full.setdefault(t, set()).add(m)
    est_tasks = reference.task_codes(estimated_only=True)
    sets = [full.get(t, set()) for t in est_tasks]
    full["kaikki"] = set.intersection(*sets) if sets else set()
    rows = []
    for t in reference.task_codes() + ["kaikki"]:
        d = yc[yc["service_task"] == t]
        if d.empty:
            continue
        f = d[d["municipality_code"].isin(full.get(t, set()))]
        n, nf, bf = int(d["clients"].sum()), int(f["clients"].sum()), int(
            f["population_base"].sum())
        small = not exact and disclosure.is_small(n, min_count)
        small_f = not exact and disclosure.is_small(nf, min_count)
        rows.append([year, t, None if small else n, SUPPRESSED if small else "",
                     len(full.get(t, set())), None if small_f else nf,
                     SUPPRESSED if small_f else "", bf,
                     None if small_f or bf <= 0 else 100 * nf / bf,   # rounded by rule
                     SUPPRESSED if small_f else (NOT_APPLICABLE if bf <= 0 else ""),
                     int(d["population_base"].sum())])
    out = pd.DataFrame(rows, columns=[
        "year", "service_task", "clients", "clients_symbol", "municipalities_full_year",
        "clients_full_year", "clients_full_year_symbol", "base_full_year",
        "share_full_year_pct", "share_full_year_pct_symbol", "national_base"])
    for c in ("clients", "clients_full_year"):
        out[c] = out[c].astype("Int64")
    return out


def _published_year(exact: pd.DataFrame, res: Decision) -> pd.DataFrame:
    """The year table with the gate's suppression (the share with its count)."""
    out = exact.copy()
    for r in itertuples(out):
        y = str(r.year)
        if ("Y", y, r.service_task) in res.hidden:
            out.at[r.Index, "clients_symbol"] = SUPPRESSED
            out.at[r.Index, "clients"] = pd.NA
        if ("YF", y, r.service_task) in res.hidden:
            out.at[r.Index, "clients_full_year_symbol"] = SUPPRESSED
            out.at[r.Index, "clients_full_year"] = pd.NA
            out.at[r.Index, "share_full_year_pct_symbol"] = SUPPRESSED
            out.at[r.Index, "share_full_year_pct"] = np.nan
    return out


def _round_to(x, step: int):
    if pd.isna(x):
        return np.nan
    return step * math.floor(float(x) / step + 0.5)


def _extremes(quart: pd.DataFrame, mun: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """Per task: ``n`` comprehensive municipalities (from the quartiles table), and the
    quartiles, smallest and largest share over the ``n_shown`` of them whose share is
    *shown*. Quartiles over every comprehensive municipality would let a reader who sorts
    the shown shares solve an interpolated quartile for a suppressed municipality's share
    (and share × public base = its count) when one cell beside the quartile is hidden."""
    rows = []
    now = mun[(mun["quarter"] == quarter) & (mun["share_pct_symbol"] == "")
              & (mun["quality"] == "comprehensive")]
    for r in itertuples(quart):
        v = now[now["service_task"] == r.service_task].sort_values(
            ["share_pct", "municipality_code"], kind="mergesort")
        s = v["share_pct"].astype(float)
        lo, hi = ((v.iloc[0], v.iloc[-1]) if len(v) >= rule.MIN_EXTREME_MUNICIPALITIES
                  else (None, None))
        qs = [float(s.quantile(p)) if len(v) >= rule.MIN_QUARTILE_MUNICIPALITIES else None
              for p in (0.25, 0.5, 0.75)]
        rows.append([quarter, r.service_task, int(r.n), len(v), *qs,
                     None if lo is None else lo["share_pct"],
                     "" if lo is None else lo["municipality_code"],
                     None if hi is None else hi["share_pct"],
                     "" if hi is None else hi["municipality_code"]])
    return pd.DataFrame(rows, columns=["quarter", "service_task", "n", "n_shown", "q1",
                                       "median", "q3", "min", "min_municipality_code", "max",
                                       "max_municipality_code"])


def _loss(cells, keys, shown, values, M, res: Decision, quarter: str) -> pd.DataFrame:
    """The information loss of quarter Q per task (internal: ``disclosure/loss.csv``, never
    published, since the number of small cells per task follows from it): comprehensive
    cells, cells suppressed because they are small (or were suppressed earlier), cells and
    clients suppressed secondarily, and the task's totals (county or national) suppressed;
    a last row ``kaikki`` for the quarter's other figures (age groups, tasks per client,
    pairs, year)."""
    rows = []
    for task in sorted(set(cells["service_task"]), key=lambda t: (t == CWA, t)):
        ks = [k for k in keys if k[0] == quarter and k[1] == task and k in shown]
        prim = [k for k in ks if k in res.primary]
        sec = [k for k in ks if k in res.hidden and k not in res.primary]
        tot = [k for k in res.hidden if k[0] == "T" and k[2] == quarter and k[3] == task]
        rows.append([quarter, task, len(ks), len(prim), len(sec),
                     int(sum(values[k] for k in sec)), len(tot),
                     int(sum(M.value[k] for k in tot))])
    other = [k for k in res.hidden if k[0] in ("age", "tpcn", "pair", "Y", "YF")
             or (k[0] == "T" and k[3] == "kaikki" and k[2] == quarter)]
    rows.append([quarter, "kaikki", len(other), len([k for k in other if k in res.primary]),
                 len([k for k in other if k not in res.primary]),
                 int(sum(M.value[k] for k in other if k not in res.primary)), 0, 0])
    return pd.DataFrame(rows, columns=["quarter", "service_task", "cells", "primary",
                                       "secondary", "secondary_clients", "totals_suppressed",
                                       "totals_clients"])


# --------------------------------------------------------------------------- costs

#: The published cost tables (``OUT/costs/<year>/published/``) and the internal cost table
#: each is made from (``OUT/costs/<year>/tables/``).
COST_TABLES = {"costs_packages": "packages", "costs_allocation": "allocation",
               "costs_unallocated": "unallocated", "costs_per_resident": "per_resident",
               "costs_per_client": "per_client", "costs_dimensions": "dimensions"}
#: Decimals of the published cost figures (as the annex shows them): euros to the cent,
#: shares and rates to one decimal, euros per resident to the cent, per client whole.
COST_DECIMALS = {"share_pct": 1, "allocation_pct": 1, "benchmark_pct": 1,
                 "eur_per_resident": 2, "eur_per_target_resident": 2,
                 "eur_per_target_resident_std": 2, "coverage_pct": 1}


def _cost_region(codes: pd.Series) -> pd.Series:
    """The cost tables' area code as the other published tables write an area: the
    wellbeing services county's code, '' for the whole country."""
    return codes.astype(str).replace({"ALL": ""})


def _year_national(year_published: Path | None, year: int, package_tasks: dict
                   ) -> tuple[set, set]:
    """(forced, known): packages whose national client count the gate's year table
    suppressed (one of its tasks' whole-year clients is ``..``: the same count, so
    suppressed again), and packages whose national count it shows (every task's clients
    shown: their sum is public whatever the cost table shows)."""
    y = read(Path(year_published), "year", False) if year_published else None
    if y is None or y.empty:
        return set(), set()
    y = y[y["year"].astype(str) == str(year)]
    hidden = set(y.loc[y["clients_symbol"] == SUPPRESSED, "service_task"])
    shown = set(y.loc[(y["clients_symbol"].fillna("") == "")
                      & pd.to_numeric(y["clients"], errors="coerce").notna(), "service_task"])
    return ({p for p, ts in package_tasks.items() if hidden & set(ts)},
            {p for p, ts in package_tasks.items() if ts and set(ts) <= shown})


def publish_costs(tables_dir: Path, published_dir: Path | None, params: dict,
                  year_published: Path | None = None) -> dict[str, pd.DataFrame]:
    """The published tables of a cost year (written to ``published_dir`` when given), from
    its internal tables (``OUT/costs/<year>/tables``).

    Euros, shares, euros per resident and ledger rows are no counts of persons: they are
    published as computed (at the annex's precision, :data:`COST_DECIMALS`), declared as
    relating to no cell (:func:`relations.declare_euros`). The whole-year clients behind €
    per client are counts of persons: :func:`seuranta.statistics.costclients.per_client_published`
    suppresses them (``..``, with their € per client) and withholds € per client where the
    register's coverage is partial (``.``); ``year_published`` (the published folder whose
    ``year.csv`` has the cost year: its Q4) links the national counts to the year table's
    (:func:`relations.declare_cost_clients`)."""
    from seuranta.statistics.costclients import per_client_published

    tables_dir = Path(tables_dir)
    p = as_params(params)
    cp = dict(p.get("costs") or {})
    min_count = int(p["disclosure"]["min_count"])
    T = {name: pd.read_csv(tables_dir / f"{src}.csv",
                           dtype={"region_code": str, "service_class": str, "value": str,
                                  "package_code": str, "target_group": str, "reason": str,
                                  "service_tasks": str},
                           keep_default_na=False, na_values=[""])
         for name, src in COST_TABLES.items()}
    year = int(T["costs_packages"]["year"].iloc[0])
    out: dict[str, pd.DataFrame] = {}
    k = T["costs_packages"]
    out["costs_packages"] = k[["package_code", "kind", "cost_eur", "share_pct",
                               "eur_per_resident"]].assign(kind=k["kind"].fillna(""))
    a = T["costs_allocation"]
    out["costs_allocation"] = a.assign(county_code=_cost_region(a["region_code"]))[[
        "county_code", "ledger_eur", "allocated_eur", "unallocated_eur", "allocation_pct",
        "benchmark_pct"]]
    u = T["costs_unallocated"]
    out["costs_unallocated"] = u.assign(county_code=_cost_region(u["region_code"]),
                                        service_class=u["service_class"].fillna(""))[[
        "county_code", "service_class", "reason", "rows", "cost_eur"]]
    r = T["costs_per_resident"]
    out["costs_per_resident"] = r.assign(county_code=_cost_region(r["region_code"]),
                                         target_group=r["target_group"].fillna(""))[[
        "county_code", "package_code", "cost_eur", "population_year", "population",
        "eur_per_resident", "target_group", "target_population", "eur_per_target_resident",
        "eur_per_target_resident_std"]]
    d = T["costs_dimensions"]
    out["costs_dimensions"] = d.rename(columns={"value": "category"}).assign(
        category=d["value"].fillna(""))[["dimension", "package_code", "category", "cost_eur",
                                          "share_pct"]]
    c = T["costs_per_client"]
    forced, known = _year_national(year_published, year, cp.get("package_tasks") or {})
    clients, eur, note = per_client_published(c, float(cp.get("per_client_min_coverage_pct",
                                                              0)), min_count, forced, known)
    shown_clients = pd.to_numeric(c["clients"], errors="coerce")
    csym = np.where(clients.notna(), "", np.where(shown_clients.notna(), SUPPRESSED,
                                                   NOT_AVAILABLE))
    esym = np.where(eur.notna(), "", np.where(csym == SUPPRESSED, SUPPRESSED, NOT_AVAILABLE))
    out["costs_per_client"] = pd.DataFrame({
        "county_code": _cost_region(c["region_code"]), "package_code": c["package_code"],
        "service_tasks": c["service_tasks"], "cost_eur": c["cost_eur"],
        "clients": clients.astype("Int64"), "clients_symbol": csym,
        "eur_per_client": eur.astype("Int64"), "eur_per_client_symbol": esym,
        "coverage_pct": c["coverage_pct"], "note": note})
    for df in out.values():
        for col, dec in COST_DECIMALS.items():
            if col in df.columns:
                df[col] = pd.to_numeric(df[col]).round(dec)
    return _write_published(out, published_dir)
