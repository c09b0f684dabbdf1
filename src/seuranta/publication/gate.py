"""The disclosure gate: the one way from a quarter's exact tables to published numbers.

``publish_quarter(quarter, tables_dir, published_dir, params, priors)`` reads the exact
internal tables of ``OUT/<Q>/tables/`` and writes the quarter's *published tables* to
``OUT/<Q>/published/*.csv``. Every published artefact (book notebooks, county pages, PDFs,
annexes, open data) reads numbers only from these; nothing published is computed from the
exact tables. The protection itself is :func:`seuranta.statistics.disclosure.protect_linked`
run once over all the tables below together (they share cells), with the earlier
publications (``priors``: other quarters' published folders and every earlier release)
as fixed constraints.

Representation: a numeric column holds the value or is empty; ``<column>_symbol`` is empty
when a number is shown, else the symbol of :mod:`seuranta.core.symbols`:
``..`` suppressed (small count, or a cell/total from which one could be derived),
``.`` not available (no data, or the municipality's data not comprehensive),
``x`` not applicable (no population base, no estimate made). **Zeros are shown** (as 0):
a zero reveals no person, and the gate's model accounts for what a shown zero tells (that
every ``..`` cell is at least 1).

Published tables (columns):

``municipal.csv``: quarter (every quarter of the series up to Q), service_task (the seven
    tasks and ``lastensuojelulaki``), county_code, municipality_code, quality
    (comprehensive/partial/none; ``lastensuojelulaki`` takes ``lastensuojelu``'s), sources,
    population_base, clients, clients_symbol, share_pct, share_pct_symbol. A number only for
    comprehensive cells. Shares (per cent, 4 decimals) are suppressed with their count.
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
``estimates.csv``: quarter, service_task, age_group, method, published,
    municipalities_used, population_used, national_base, clients_used, share_pct,
    estimate_rounded, ci_low, ci_high (rounded to ``estimate.rounding``), difference_pct,
    range_low, range_high, publish_as, rule_reason (the publication rule), note, each
    numeric with its ``_symbol``. Suppressed ``clients_used`` suppresses the figures
    derived from it (share, estimate, interval, range).
``county_estimates.csv``: quarter, service_task, county_code, method, municipalities,
    municipalities_comprehensive, population_base, base_coverage_pct, comprehensive,
    publish_as, clients_observed, estimate_rounded, ci_low, ci_high, range_low, range_high,
    share_pct (each figure with its ``_symbol``): ``clients_observed`` is suppressed with the
    ``county_used`` total it equals, and a comprehensive county's figures with it.
``extremes.csv``: quarter, service_task, n (comprehensive municipalities), n_shown, q1,
    median, q3, min, min_municipality_code, max, max_municipality_code: quartiles, smallest
    and largest share over the n_shown comprehensive municipalities whose count is *shown*
    (empty when none), so that no quartile can be solved for a hidden share.
``tasks_per_client.csv``: county_code ('' = whole country), n_tasks, clients,
    clients_symbol: the whole country's clients by number of tasks (county rows are not
    published; their totals are in ``totals.csv``).
``multi_task.csv``: task_a, task_b, clients, clients_symbol (whole country).
``year.csv``: whole-year distinct clients of the newest calendar year: year,
    service_task (the tasks and ``kaikki``), clients, municipalities_full_year (comprehensive
    in all four quarters), clients_full_year, base_full_year, share_full_year_pct,
    national_base (counts with primary suppression: a person-year is no sum of cells).
``calibration.csv`` (:func:`published_calibration`): the out-of-sample check of the model
    (statistics stage ``calibration``): quarter (of the prediction), service_task (``kaikki``
    = over the tasks), n (municipalities predicted then and comprehensive later), mean_z,
    sd_z, within_196_pct, each figure with its ``_symbol``. Aggregates of z-scores only (a
    municipality's own z with its prediction would reveal its count): a row of fewer than
    ``disclosure.min_count`` municipalities is shown as ``..``. It shares no cell with the
    other tables.
``loss.csv``: information loss per task of quarter Q: service_task, cells (comprehensive
    municipal cells), primary, suppressed_before (primary + the earlier per-table secondary
    suppression), suppressed_after (this gate), share_before_pct, share_after_pct.

Linked groups (the equations a reader can form): municipal cells with ``used``,
``county_used``, ``registered`` and ``county_registered``; the age groups of
``kaikki`` (0–17 + 18–64 + 65+ = all ages) in ``estimates``; the county × number-of-tasks
cells (never shown) with their county totals, multi-task subtotals and whole-country rows.
Counts by source (SHA / ET) are not published, so they link nothing. ``registered_all``
sums every task's cells of every municipality (hundreds of not-shown cells): left out of
the linear programs, with a primary check only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.core.params import as_params
from seuranta.core.quarters import Quarter
from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED
from seuranta.core.tables import write_csv
from seuranta.publication.published import PUBLISHED, RELEASES, read
from seuranta.statistics import disclosure

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
    key = list(zip(cells["quarter"], cells["service_task"], cells["municipality_code"]))
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

class Priors:
    """What earlier publications already told a reader about the municipal cells."""

    def __init__(self):
        self.known: dict = {}        # cell → value shown earlier (equal to today's value)
        self.forced: set = set()     # cells suppressed earlier
        self.fixed: list = []        # earlier equations (cells or own variables, residual)
        self.fixed_bounds: dict = {}
        self.sensitive: set = set()  # cells whose earlier value differs by a small count


def load_priors(dirs: list[Path], values: dict, upper: dict,
                min_count: int = disclosure.DEFAULT_MIN_COUNT) -> Priors:
    """Earlier published folders (``<dir>/municipal.csv`` and ``totals.csv``) as
    constraints on today's cells: a cell shown earlier with today's value is known; a
    cell suppressed earlier is suppressed again; every earlier total whose hidden cells
    still add up to its residual is an equation over today's cells, and one that does
    not (a revised value) an equation over variables of its own. The national age-group
    cells (``estimates.csv``, all tasks) likewise, by :func:`_age_priors`."""
    pr = Priors()
    _age_priors(dirs, values, pr, min_count)
    for n, d in enumerate(dirs):
        m, tot = read(d, "municipal", False), read(d, "totals", False)
        if m is None or tot is None:
            continue
        m = m.assign(_key=list(zip(m["quarter"], m["service_task"], m["municipality_code"])))
        shown = m["clients_symbol"] == ""
        old = dict(zip(m.loc[shown, "_key"], m.loc[shown, "clients"].astype(float)))
        sym = dict(zip(m["_key"], m["clients_symbol"]))
        for k, v in old.items():
            if k in values and values[k] == v:
                pr.known[k] = v
        pr.forced |= {k for k, s in sym.items() if s == SUPPRESSED}
        q_pub = max(m["quarter"]) if len(m) else ""
        groups = municipal_groups(m, q_pub, set(m["service_task"]) - set(
            tot.loc[tot["kind"].isin(["registered", "county_registered"]), "service_task"]))
        for r in tot[tot["kind"].isin(MUNICIPAL_KINDS) & (tot["clients_symbol"] == "")
                     ].itertuples():
            cells = groups.get((r.kind, r.quarter, r.service_task, r.county_code or ""))
            if cells is None:
                continue
            b = float(r.clients) - sum(old.get(k, 0.0) for k in cells if k in old)
            hid = [k for k in cells if k not in old]
            if not hid:
                continue
            same = all(k in values for k in cells) and all(
                values[k] == old[k] for k in cells if k in old) and \
                sum(values[k] for k in hid) == b
            if same:
                pr.fixed.append((hid, b))
            else:
                own = [("prior", n, k) for k in hid]
                for k, o in zip(hid, own):
                    pr.fixed_bounds[o] = (1.0 if sym.get(k) == SUPPRESSED else 0.0,
                                          float(upper.get(k, math.inf)))
                pr.fixed.append((own, b))
    return pr


def _age_priors(dirs: list[Path], values: dict, pr: Priors, min_count: int) -> None:
    """The age-group cells ("age", Q, group: the comprehensive municipalities' clients of
    all tasks aged 0–17, 18–64 or 65+) of earlier publications: shown with today's value →
    known; suppressed → suppressed again; shown with a value that differs from today's by
    1 … min_count − 1 → suppressed now. A revised past quarter (a municipality added to the
    comprehensive set) would otherwise give by difference that municipality's clients of
    an age group, a count no table shows (issue 13: "suppress the difference")."""
    for d in dirs:
        e = read(d, "estimates", False)
        if e is None or "age_group" not in e.columns:
            continue
        e = e[(e["service_task"] == "kaikki") & (e["age_group"].isin(AGE_PARTS))]
        for r in e.itertuples():
            k = ("age", str(r.quarter), r.age_group)
            if k not in values:
                continue
            if r.clients_used_symbol == SUPPRESSED:
                pr.forced.add(k)
            elif r.clients_used_symbol == "" and pd.notna(r.clients_used):
                diff = abs(values[k] - float(r.clients_used))
                if diff == 0:
                    pr.known[k] = values[k]
                elif disclosure.is_small(diff, min_count):
                    pr.forced.add(k)
                    pr.sensitive.add(k)


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

def _sym_frame(values: pd.Series, symbols: pd.Series) -> tuple[pd.Series, pd.Series]:
    v = values.where(symbols == "", np.nan)
    return v, symbols


def publish_quarter(quarter: Quarter | str, tables_dir: Path, published_dir: Path | None,
                    params: dict, priors: list[Path] | None = None, secondary: bool = True,
                    lp_audit: bool = True) -> dict[str, pd.DataFrame]:
    """The published tables of a quarter (written to ``published_dir`` when given).

    ``priors``: earlier published folders (see :func:`prior_dirs`). ``secondary=False``
    gives primary suppression only (for measuring, and for the attacker test's bypass).
    """
    quarter = str(quarter)
    tables_dir = Path(tables_dir)
    min_count, rounding = disclosure_settings(params)
    cells = municipal_cells(tables_dir, quarter)
    estimated = _estimated_tasks(cells)
    keys = list(zip(cells["quarter"], cells["service_task"], cells["municipality_code"]))
    values = dict(zip(keys, cells["clients"].astype(float)))
    upper = dict(zip(keys, cells["population_base"].fillna(np.inf).astype(float)))
    shown = {k for k, q in zip(keys, cells["quality"]) if q == "comprehensive"}
    groups = municipal_groups(cells, quarter, estimated)

    # national families that share no cell with the municipal grid
    est = _series(tables_dir, "estimates", quarter)
    tpc = read(tables_dir, "tasks_per_client", False)
    mt = read(tables_dir, "multi_task", False)
    if est is not None:
        e = est[(est["service_task"] == "kaikki") & (est["method"] == "ratio")]
        for q, g in e.groupby("quarter"):
            used = dict(zip(g["age_group"], g["clients_used"]))
            for a, v in used.items():
                if a != "kaikki" and pd.notna(v):
                    values[("age", q, a)] = float(v)
                    shown.add(("age", q, a))
            if all(pd.notna(used.get(a)) for a in AGE_PARTS + ("kaikki",)) and \
                    sum(used[a] for a in AGE_PARTS) == used["kaikki"]:
                groups[("agesum", q, "kaikki", "")] = [("age", q, a) for a in AGE_PARTS]
    if tpc is not None:
        t = tpc[tpc["quarter"].astype(str) == quarter] if "quarter" in tpc else tpc
        t = t[t["county_code"] != "ALL"]
        for r in t.itertuples():
            values[("tpc", r.county_code, str(r.n_tasks))] = float(r.clients)
        for c, g in t.groupby("county_code"):
            groups[("tpc_total", quarter, "kaikki", c)] = [
                ("tpc", c, str(n)) for n in g["n_tasks"]]
            groups[("tpc_multi", quarter, "kaikki", c)] = [
                ("tpc", c, str(n)) for n in g["n_tasks"] if int(n) >= 2]
        for n, g in t.groupby("n_tasks"):
            groups[("tpc_n", quarter, "kaikki", str(n))] = [
                ("tpc", c, str(n)) for c in g["county_code"]]
        groups[("tpc_total", quarter, "kaikki", "")] = [
            ("tpc", r.county_code, str(r.n_tasks)) for r in t.itertuples()]
        groups[("tpc_multi", quarter, "kaikki", "")] = [
            ("tpc", r.county_code, str(r.n_tasks)) for r in t.itertuples()
            if int(r.n_tasks) >= 2]
    pairs = []
    if mt is not None:
        m = mt[mt["county_code"] == "ALL"]
        for r in m.itertuples():
            k = ("pair", r.task_a, r.task_b)
            values[k] = float(r.clients)
            shown.add(k)
            pairs.append((r.task_a, r.task_b, k))

    pr = load_priors(priors or [], values, upper, min_count)
    res = disclosure.protect_linked(
        values, groups, shown, upper=upper, known=pr.known, forced=pr.forced & shown,
        sensitive=pr.sensitive & shown,
        fixed=pr.fixed, fixed_bounds=pr.fixed_bounds, min_count=min_count,
        lp_audit=lp_audit, secondary=secondary, hierarchy=hierarchy(groups))

    out: dict[str, pd.DataFrame] = {}
    # municipal
    sym = []
    for k, qual in zip(keys, cells["quality"]):
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
    share = (100.0 * cells["clients"] / base.where(base > 0)).round(4)
    ssym = np.where(mun["clients_symbol"] != "", mun["clients_symbol"],
                    np.where(base.fillna(0) > 0, "", NOT_APPLICABLE))
    mun["share_pct_symbol"] = ssym
    mun["share_pct"] = share.where(mun["share_pct_symbol"] == "")
    mun["population_base"] = base.astype("Int64")
    out["municipal"] = mun[["quarter", "service_task", "county_code", "municipality_code",
                            "quality", "sources", "population_base", "clients",
                            "clients_symbol", "share_pct", "share_pct_symbol"]]

    # totals
    mref = reference.mainland_municipalities()
    per_county = mref.groupby("county_code")["municipality_code"].nunique().to_dict()
    rows = []
    for g, members in groups.items():
        kind, q, task, county = g
        if kind not in MUNICIPAL_KINDS and kind not in ("tpc_total", "tpc_multi"):
            continue
        total = sum(values[c] for c in members)
        s = SUPPRESSED if g in res.dropped else ""
        whole = int(bool(county) and kind in MUNICIPAL_KINDS
                    and len(members) == per_county.get(county, -1))
        rows.append([kind, q, task, county, len(members), whole,
                     None if s else int(total), s])
    allsrc = cells[(cells["quarter"] == quarter) & (cells["service_task"] != CWA)]
    counted = int(allsrc["clients"].sum())
    rows.append(["registered_all", quarter, "kaikki", "", int(allsrc["municipality_code"]
                 .nunique()), 0, None if disclosure.is_small(counted, min_count) else counted,
                 SUPPRESSED if disclosure.is_small(counted, min_count) else ""])
    age = read(tables_dir, "age_counts", False)
    if age is not None:
        k = age[(age["service_task"] == "kaikki") & age["age_group"].isin(AGE_PARTS)]
        distinct = int(k["clients"].sum())
        small = disclosure.is_small(distinct, min_count)
        rows.append(["distinct_all", quarter, "kaikki", "", int(k["municipality_code"]
                     .nunique()), 0, None if small else distinct, SUPPRESSED if small else ""])
    tot = pd.DataFrame(rows, columns=["kind", "quarter", "service_task", "county_code",
                                      "municipalities", "whole_county", "clients",
                                      "clients_symbol"])
    tot["clients"] = tot["clients"].astype("Int64")
    out["totals"] = tot.sort_values(["kind", "quarter", "service_task", "county_code"],
                                    kind="mergesort").reset_index(drop=True)

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
    if tpc is not None:
        rows = []
        for g, members in groups.items():
            if g[0] == "tpc_n":
                total = sum(values[c] for c in members)
                s = SUPPRESSED if g in res.dropped else ""
                rows.append(["", g[3], None if s else int(total), s])
        t = pd.DataFrame(rows, columns=["county_code", "n_tasks", "clients", "clients_symbol"])
        t["clients"] = t["clients"].astype("Int64")
        out["tasks_per_client"] = t.sort_values("n_tasks", key=lambda s: s.astype(int),
                                                kind="mergesort").reset_index(drop=True)
    if mt is not None:
        t = pd.DataFrame([[a, b, None if k in res.hidden else int(values[k]),
                           SUPPRESSED if k in res.hidden else ""] for a, b, k in pairs],
                         columns=["task_a", "task_b", "clients", "clients_symbol"])
        t["clients"] = t["clients"].astype("Int64")
        out["multi_task"] = t

    year = _year(tables_dir, min_count)
    if year is not None:
        out["year"] = year

    out["loss"] = _loss(cells, keys, shown, values, groups, res, quarter, min_count)
    calibration = published_calibration(tables_dir, quarter, min_count)
    if calibration is not None:
        out["calibration"] = calibration

    if published_dir is not None:
        published_dir = Path(published_dir)
        published_dir.mkdir(parents=True, exist_ok=True)
        for name, df in out.items():
            write_csv(df, published_dir / f"{name}.csv")
    return out


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
        out[col] = cal[col].where(~few).round(2 if col != "within_196_pct" else 1)
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
    for r in e.itertuples():
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
    for col, v in (("share_pct", e["share_pct"]),
                   ("estimate_rounded", est_r),
                   ("ci_low", e["ci_low"].map(lambda x: _round_to(x, rounding))),
                   ("ci_high", e["ci_high"].map(lambda x: _round_to(x, rounding)))):
        pub[col] = v
        pub[f"{col}_symbol"] = derived_sym
    pub["difference_pct"] = e["difference_pct"] if "difference_pct" in e else np.nan
    pub["difference_pct_symbol"] = derived_sym
    rule = [c for c in ("range_low", "range_high") if c in e]
    for col in rule:
        pub[col] = e[col]
        pub[f"{col}_symbol"] = np.where(derived_sym == SUPPRESSED, SUPPRESSED,
                                        np.where(e[col].isna(), NOT_APPLICABLE, ""))
    if "publish_as" in e:
        pub["publish_as"] = e["publish_as"]
        pub["rule_reason"] = e["rule_reason"].fillna("") if "rule_reason" in e else ""
    pub["note"] = e["note"] if "note" in e else ""
    for col in ["clients_used", "share_pct", "estimate_rounded", "ci_low", "ci_high",
                "difference_pct"] + rule:
        pub[col] = pub[col].where(pub[f"{col}_symbol"] == "")
    for col in ["clients_used", "estimate_rounded", "ci_low", "ci_high",
                "municipalities_used", "population_used", "national_base", "published"] + rule:
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
    for r in ce.itertuples():
        g = ("county_used", str(r.quarter), r.service_task, r.county_code)
        obs_sym.append(SUPPRESSED if g in res.dropped
                       or disclosure.is_small(r.clients_observed, min_count) else "")
    obs_sym = np.array(obs_sym, dtype=object)
    out["clients_observed"] = ce["clients_observed"]
    out["clients_observed_symbol"] = obs_sym
    tied = (ce["comprehensive"].fillna(0).astype(int) == 1).to_numpy() & (obs_sym != "")
    for col in ("estimate_rounded", "ci_low", "ci_high", "range_low", "range_high",
                "share_pct"):
        v = ce[col]
        if col in ("ci_low", "ci_high"):
            v = v.map(lambda x: _round_to(x, rounding))
        out[col] = v
        out[f"{col}_symbol"] = np.where(tied, SUPPRESSED, np.where(v.isna(), NOT_APPLICABLE, ""))
    for col in ("clients_observed", "estimate_rounded", "ci_low", "ci_high", "range_low",
                "range_high", "share_pct"):
        out[col] = out[col].where(out[f"{col}_symbol"] == "")
    for col in ("clients_observed", "estimate_rounded", "ci_low", "ci_high", "range_low",
                "range_high", "population_base"):
        out[col] = pd.to_numeric(out[col]).round().astype("Int64")
    return out.reset_index(drop=True)


def _year(tables_dir: Path, min_count: int) -> pd.DataFrame | None:
    """Whole-year distinct clients per task of the newest calendar year in ``year_counts``
    (source ALL): registered clients, the municipalities comprehensive in all four quarters
    of the year (for ``kaikki``: in all six estimated tasks), their clients and base. A
    person-year is no sum of published cells, so these link to nothing: primary
    suppression, and the share with its count."""
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
        small, small_f = disclosure.is_small(n, min_count), disclosure.is_small(nf, min_count)
        rows.append([year, t, None if small else n, SUPPRESSED if small else "",
                     len(full.get(t, set())), None if small_f else nf,
                     SUPPRESSED if small_f else "", bf,
                     None if small_f or bf <= 0 else round(100 * nf / bf, 4),
                     SUPPRESSED if small_f else (NOT_APPLICABLE if bf <= 0 else ""),
                     int(d["population_base"].sum())])
    out = pd.DataFrame(rows, columns=[
        "year", "service_task", "clients", "clients_symbol", "municipalities_full_year",
        "clients_full_year", "clients_full_year_symbol", "base_full_year",
        "share_full_year_pct", "share_full_year_pct_symbol", "national_base"])
    for c in ("clients", "clients_full_year"):
        out[c] = out[c].astype("Int64")
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
    for r in quart.itertuples():
        v = now[now["service_task"] == r.service_task].sort_values(
            ["share_pct", "municipality_code"], kind="mergesort")
        s = v["share_pct"].astype(float)
        lo, hi = (v.iloc[0], v.iloc[-1]) if len(v) else (None, None)
        qs = [float(s.quantile(p)) if len(v) else None for p in (0.25, 0.5, 0.75)]
        rows.append([quarter, r.service_task, int(r.n), len(v), *qs,
                     None if lo is None else lo["share_pct"],
                     "" if lo is None else lo["municipality_code"],
                     None if hi is None else hi["share_pct"],
                     "" if hi is None else hi["municipality_code"]])
    return pd.DataFrame(rows, columns=["quarter", "service_task", "n", "n_shown", "q1",
                                       "median", "q3", "min", "min_municipality_code", "max",
                                       "max_municipality_code"])


def _loss(cells, keys, shown, values, groups, res, quarter: str, min_count: int
          ) -> pd.DataFrame:
    """Suppressed municipal cells of quarter Q per task: before (each quarter's "clients
    used" protected alone, as the annex did) and after (this gate)."""
    rows = []
    for task in sorted(set(cells["service_task"]), key=lambda t: (t == CWA, t)):
        ks = [k for k in keys if k[0] == quarter and k[1] == task and k in shown]
        g_used = {g: m for g, m in groups.items()
                  if g[0] == "used" and g[1] == quarter and g[2] == task}
        vals = {k: values[k] for k in ks}
        before = disclosure.protect_linked(vals, {g: [k for k in m if k in vals]
                                                  for g, m in g_used.items()},
                                           set(ks), min_count=min_count)
        n = len(ks)
        b = len(before.hidden)
        a = sum(1 for k in ks if k in res.hidden)
        p = sum(1 for k in ks if disclosure.is_small(values[k], min_count))
        rows.append([quarter, task, n, p, b, a, round(100 * b / n, 1) if n else np.nan,
                     round(100 * a / n, 1) if n else np.nan])
    return pd.DataFrame(rows, columns=["quarter", "service_task", "cells", "primary",
                                       "suppressed_before", "suppressed_after",
                                       "share_before_pct", "share_after_pct"])
