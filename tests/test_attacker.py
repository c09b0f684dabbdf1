"""An attacker with only the published files of two consecutive releases.

The demo publication (scale 0.02, quarters 2023Q3–2023Q4) is built twice into one output
folder, as two releases: the second has a later extract date and one added delivery (a
municipality with a small count in a past quarter becomes comprehensive, so that past
quarter's "clients used" grows by exactly that count: the issue's 1 882 − 1 879 = 3).
Then, reading only what a reader gets — each release's published CSVs, the Excel annexes
(openpyxl cell values) and the county pages (the Markdown that becomes their HTML and
PDF, generated from the same published tables) — plus the public population base, it
tries:

* ``direct``: a published count of 1 … min_count−1;
* ``share_x_base``: a share (annex, county page) times the public base;
* ``extremes``: the text extremes (extremes.csv: share and municipality) times the base;
* ``within``: a published total minus the cells it shows (one unknown cell left);
* ``artefacts``: a cell shown by one artefact and suppressed by another;
* ``releases``: the same total in two releases whose cells differ by one unknown cell;
* ``lp``: a linear program over every published cell and total of both releases together
  (cells shared between tables, artefacts and releases; suppressed ≥ 1, not available ≥ 0,
  ≤ the base), for every cell whose true count is small.

It must recover no count of 1 … min_count−1. The book's notebooks are not built here: the
chapter text and tables read the same published tables (``totals.csv``, ``estimates.csv``,
``extremes.csv``) that the attack reads directly.

Each bypass switches off one mechanism of the gate and shows that the attacker then
recovers small counts: ``secondary`` (primary suppression only), ``subtotals`` (the
county subtotals published but not declared to the gate's relation model), ``releases``
(no earlier publication linked), ``county`` (county pages with primary suppression only),
``extremes`` (text extremes chosen among all municipalities). A bypass within a release is
shown on the first release alone (the attacker knowing less than with both), ``releases``
on both; ``county`` reads the releases built without a bypass (it changes no published
table, only the pages).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from functools import partial
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from seuranta import pipeline
from seuranta.core import reference
from seuranta.core.params import as_params, load_params
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter
from seuranta.demo import generator as demo
from seuranta.inputs.datafolder import publication_quarters
from seuranta.publication import annex, book, gate, relations, releases
from seuranta.publication import bookfmt as bf
from seuranta.register import stage as register
from seuranta.statistics import disclosure
from seuranta.statistics.memo import EstimationMemo, worker_pool

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attacker")]   # one data build, statistics once

SCALE = 0.02
MIN = 5
SEEDS = [20240207, 7]
def _params():
    p = load_params()
    p["publication"]["first_quarter"] = "2023Q3"
    p["publication"]["release_id"] = None
    return p


# --------------------------------------------------------------------------- building

_DATA: dict = {}


def _data(tmp_root: Path, seed: int):
    """Two data folders of one seed (cached): the first release's and the second's (a later
    extract date and one added delivery), and the cell the delivery makes comprehensive."""
    if seed in _DATA:
        return _DATA[seed]
    d1, d2 = tmp_root / f"data1-{seed}", tmp_root / f"data2-{seed}"
    demo.generate(d1, scale=SCALE, seed=seed)
    params = _params()
    quarters = publication_quarters(d1, params)
    t1 = register.run_register_stage(d1, quarters, params)
    # the newest quarter's statistics (what its run_quarter computes), kept for the first
    # release's build (_statistics_once); its series quality written and read as a run
    # writes its tables/series_quality.csv
    with worker_pool() as workers, _MEMO.working(workers):   # as run_quarter fits them
        newest = _statistics(quarters[-1], d1, as_params(params), "utf-8", t1, memo=_MEMO)
    probe = tmp_root / f"probe-{seed}"
    pipeline.write_tables({"series_quality": newest["series_quality"]}, probe)
    q = pd.read_csv(probe / "series_quality.csv", dtype={"municipality_code": str})
    est = set(reference.task_codes(estimated_only=True))
    cand = q[(q["quarter"] == str(quarters[0])) & (q["quality"] == "partial")
             & (q["reasons"] == "coverage_not_declared") & q["clients"].between(1, MIN - 1)
             & q["service_task"].isin(est) & (q["sources"] == "SHA")]
    cand = cand.sort_values(["service_task", "municipality_code"]).iloc[0]
    shutil.copytree(d1, d2)
    meta = json.loads((d2 / "metadata.json").read_text(encoding="utf-8"))
    meta["extract_date"] = str(dt.date.fromisoformat(meta["extract_date"])
                               + dt.timedelta(days=1))
    (d2 / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with open(d2 / "deliveries.csv", "a", encoding="utf-8") as f:
        f.write(f"{cand.municipality_code},{cand.service_task},SHA,2022-01-01,\n")
    t2 = register.run_register_stage(d2, quarters, params)
    _DATA[seed] = (d1, d2, t1, t2, quarters,
                   (str(quarters[0]), cand.service_task, cand.municipality_code))
    return _DATA[seed]


def _release(data, tables, out, quarters, params):
    rid = f"{max(quarters)}-" + json.loads((data / "metadata.json").read_text())[
        "extract_date"].replace("-", "")
    for q in quarters:
        pipeline.run_quarter(q, data, out, params, notebooks=False, annex=True,
                             register_tables=tables, release_id=rid, memo=_MEMO)
    rel = releases.write_release(out, [str(q) for q in quarters], rid)
    exact = out / "exact" / rid
    for q in quarters:
        shutil.copytree(out / str(q) / "tables", exact / str(q))
    return rel, exact


def _pages(stage, rel, quarters):
    book._county_pages(stage, rel, quarters, True, _params())


def _pages_primary_only(stage, rel, quarters):
    """Bypass: the county pages' cells with primary suppression only (as before the gate)."""
    newest = max(quarters)
    tmp = stage.parent / f"primary-{rel.name}"
    shutil.copytree(rel, tmp)
    tables = rel.parent.parent / "exact" / rel.name / newest
    pub = tmp / newest / "published"
    pub.chmod(0o755)
    for p in pub.iterdir():
        p.chmod(0o644)
    gate.publish_quarter(newest, tables, pub, _params(), secondary=False)
    book._county_pages(stage, tmp, quarters, True, _params())


#: The statistics of each (data folder, quarter), computed once: every bypass switches off
#: a part of the gate or of the pages, none changes the statistics the gate reads, so each
#: build re-runs the gate, the annexes and the pages on the same tables.
_STATISTICS: dict = {}
#: The fits of every statistics run of the module (the two data folders of a seed differ
#: in one delivery: a fit is made again only on a frame it changed).
_MEMO = EstimationMemo()


def _statistics(quarter, data_dir, *args, real=pipeline.quarter_tables, **kwargs):
    """The statistics of (data folder, quarter), computed on the first call (``real``:
    :func:`seuranta.pipeline.quarter_tables`), a copy of each table returned."""
    key = (str(data_dir), str(quarter))
    if key not in _STATISTICS:
        _STATISTICS[key] = real(quarter, data_dir, *args, **kwargs)
    return {name: df.copy() for name, df in _STATISTICS[key].items()}


def _statistics_once(monkeypatch):
    monkeypatch.setattr(pipeline, "quarter_tables", _statistics)


#: The releases built in the module, by (seed, bypass of the gate): the county pages'
#: bypass changes no published table, so it reads the releases built without a bypass.
_BUILT: dict = {}


def build(tmp_root: Path, seed: int, bypass: str | None, monkeypatch, n: int = 2):
    """The first ``n`` releases (1 or 2) of ``seed`` with the gate's or the county pages'
    ``bypass``, each as (kept release, its county pages, its exact tables)."""
    d1, d2, t1, t2, quarters, changed = _data(tmp_root, seed)
    params = _params()
    gate_bypass = None if bypass == "county" else bypass
    key = (seed, gate_bypass)
    if len(_BUILT.get(key, [])) < n:
        with monkeypatch.context() as m:
            _bypass_gate(gate_bypass, m)
            out = tmp_root / f"out-{seed}-{gate_bypass}"
            built = _BUILT.setdefault(key, [])
            for data, tables in [(d1, t1), (d2, t2)][len(built):n]:
                built.append(_release(data, tables, out, quarters, params))
    pages_fn = _pages_primary_only if bypass == "county" else _pages
    rels = []
    for rel, exact in _BUILT[key][:n]:
        pages = exact.parent.parent / f"pages-{bypass}" / rel.name
        if not pages.exists():
            pages_fn(pages, rel, [str(q) for q in quarters])
        rels.append((rel, pages, exact))
    return rels, changed


def _bypass_gate(bypass: str | None, monkeypatch) -> None:
    """Switch off one mechanism of the gate (``None``: none); the statistics computed once."""
    _statistics_once(monkeypatch)
    orig = gate.publish_quarter
    if bypass == "secondary":
        monkeypatch.setattr(gate, "publish_quarter", partial(orig, secondary=False))
    elif bypass == "subtotals":
        # the county subtotals ("Osin …") published but not declared to the gate
        add = relations.Ctx.add

        def undeclared(self, terms, lo=-math.inf, hi=math.inf, tag=""):
            if not tag.startswith("total ('county_"):
                add(self, terms, lo, hi, tag)
        monkeypatch.setattr(relations.Ctx, "add", undeclared)
    elif bypass == "releases":
        monkeypatch.setattr(gate, "prior_dirs", lambda *a, **k: [])
    elif bypass == "extremes":
        orig_extremes = gate._extremes

        def all_extremes(quart, mun, quarter):
            """The text extremes as before: among every comprehensive municipality."""
            out = orig_extremes(quart, mun, quarter)
            for c in ("min", "max"):
                out[c] = quart[c].to_numpy()
                out[f"{c}_municipality_code"] = quart[f"{c}_municipality_code"].astype(
                    str).str.zfill(3).to_numpy()
            return out
        monkeypatch.setattr(gate, "_extremes", all_extremes)


# --------------------------------------------------------------------------- reading

def truth_counts(table_dirs) -> pd.Series:
    """Exact municipal counts (quarter, task, municipality) → clients (the test's key)."""
    parts = []
    for d in table_dirs:
        for name in ("counts", "cwa_counts", "series_counts", "series_cwa_counts"):
            p = Path(d) / f"{name}.csv"
            if p.is_file():
                parts.append(pd.read_csv(p, dtype={"municipality_code": str, "quarter": str}))
    c = pd.concat(parts)
    c = c[c["source"] == "ALL"].drop_duplicates(["quarter", "service_task",
                                                  "municipality_code"])
    return c.set_index(["quarter", "service_task", "municipality_code"])["clients"]


def _read_csv(p):
    return pd.read_csv(p, dtype=str, keep_default_na=False)


def read_annex(path: Path, quarters: list[str]) -> tuple[dict, dict]:
    """Share cells {(q, task, m): value or symbol} and clients used {(q, task): value}."""
    wb = openpyxl.load_workbook(path, read_only=True)
    tasks = reference.service_tasks()
    head = {annex.quarter_header(Quarter.parse(q)): q for q in quarters}
    cells = {}
    for t in tasks[tasks["estimated"] == 1].itertuples():
        rows = list(wb[annex.sheet_name(t.service_task, t.name_fi)].iter_rows(values_only=True))
        col = {h: i for i, h in enumerate(rows[0])}
        for r in rows[1:]:
            for h, q in head.items():
                if h in col:
                    cells[(q, t.service_task, r[col["Kuntakoodi"]])] = r[col[h]]
    names = dict(zip(tasks["name_fi"], tasks["service_task"]))
    names.update({v[0]: k for k, v in annex.EXTRA_TASK_FI.items()})
    qnames = {annex.quarter_header(Quarter.parse(q))[:-3]: q for q in quarters}
    used = {}
    rows = list(wb[annex.ESTIMATES_SHEET].iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    for r in rows[1:]:
        if r[col["Palvelutehtävä"]] in names and r[col["Neljännes"]] in qnames:
            used[(qnames[r[col["Neljännes"]]], names[r[col["Palvelutehtävä"]]])] = \
                r[col["Asiakkaat arviossa käytetyissä kunnissa"]]
    return cells, used


def read_pages(pages: Path, quarters: list[str]) -> dict:
    """County page cells {(q, task, m): text} (the Markdown tables of every county page)."""
    mun = reference.mainland_municipalities()
    code = dict(zip(mun["name_fi"], mun["municipality_code"]))
    tasks = reference.service_tasks()
    tnames = dict(zip(tasks["name_fi"], tasks["service_task"]))
    head = {bf.quarter_short(q): q for q in quarters}
    head.update({book._capital(Quarter.parse(q).name_fi): q for q in quarters})
    out = {}
    for p in sorted(pages.glob("alueet/[0-9]*.md")):
        task, cols = None, None
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                task, cols = tnames.get(line[3:].strip()), None
            elif line.startswith("|") and task:
                # the text a reader sees (cells are escaped MyST: "2\\,4 \\%")
                cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in
                         re.split(r"(?<!\\)\|", line.strip().strip("|"))]
                if cells[0] == "Kunta":
                    cols = cells
                elif cols and not set(cells[0]) <= set(":-"):
                    for h, v in zip(cols, cells):
                        if h in head:
                            out[(head[h], task, code[cells[0]])] = v
    return out


def fi_float(text: str) -> float | None:
    m = re.fullmatch(r"(-?[0-9\s\u00a0]+(?:,[0-9]+)?)\s*%?", str(text).strip())
    if not m:
        return None
    return float(m.group(1).replace("\u00a0", "").replace(" ", "").replace(",", "."))


def share_counts(share: float, base: float, decimals: int) -> list[int]:
    """Whole counts whose share of ``base`` rounds to ``share`` (per cent, ``decimals``)."""
    half = 0.5 * 10 ** -decimals
    lo, hi = (share - half) * base / 100, (share + half) * base / 100
    return list(range(max(0, math.ceil(lo - 1e-9)), math.floor(hi + 1e-9) + 1))


# --------------------------------------------------------------------------- attacking

class Attack:
    def __init__(self, truth: pd.Series):
        self.truth: dict = {}   # cell → its true counts (in either release)
        for k, v in truth.items():
            self.truth.setdefault(k, set()).add(int(v))
        self.checked: dict[str, int] = {}
        self.found: dict[str, list] = {}

    def check(self, attack: str, n: int = 1):
        self.checked[attack] = self.checked.get(attack, 0) + n

    def recovered(self, attack: str, cell, value: float):
        """A small count pinned: recorded when it is the true count of the cell (of either
        release) — a wrong guess reveals nothing."""
        v = int(round(value))
        if not 1 <= v < MIN or abs(v - value) > 1e-6:
            return
        if cell is None or v in self.truth.get(cell, set()):
            self.found.setdefault(attack, []).append((cell, v))


def attack(rels, changed) -> Attack:
    """Run every attack on the published files of the releases (oldest first)."""
    base_pub = {}
    truth = pd.concat([truth_counts(sorted(Path(exact).iterdir())) for _, _, exact in rels])
    a = Attack(truth)
    versions = []   # (name, municipal, totals, estimates, annex cells, annex used, pages)
    for rel, pages, _ in rels:
        quarters = json.loads((rel / "manifest.json").read_text())["quarters"]
        page_cells = read_pages(pages, quarters)
        for q in quarters:
            pd_ = rel / q / "published"
            m = _read_csv(pd_ / "municipal.csv")
            tot = _read_csv(pd_ / "totals.csv")
            est = _read_csv(pd_ / "estimates.csv")
            ext = _read_csv(pd_ / "extremes.csv")
            tpc = _read_csv(pd_ / "tasks_per_client.csv")
            pairs = _read_csv(pd_ / "multi_task.csv")
            ann, used = read_annex(rel / q / "annex" / f"liite_{q}.xlsx",
                                   sorted({x for x in m["quarter"]}))
            versions.append((f"{rel.name}/{q}", m, tot, est, ann, used,
                             page_cells if q == max(quarters) else {}, ext, tpc, pairs))
            for r in m.itertuples():
                base_pub[(r.quarter, r.service_task, r.municipality_code)] = \
                    float(r.population_base) if r.population_base else math.inf

    known: dict = {}
    hidden_somewhere: dict = {}
    lower: dict = {}

    # direct reading
    for name, m, tot, est, ann, used, pages, ext, tpc, pairs in versions:
        for r in m.itertuples():
            k = (r.quarter, r.service_task, r.municipality_code)
            a.check("direct")
            if r.clients_symbol == "" and r.clients != "":
                known[k] = float(r.clients)
                a.recovered("direct", k, float(r.clients))
            else:
                lower[k] = max(lower.get(k, 0.0), 1.0 if r.clients_symbol == ".." else 0.0)
                hidden_somewhere.setdefault(k, set()).add(f"{name}:csv:{r.clients_symbol}")
        for df, col in ((tot, "clients"), (est, "clients_used"), (tpc, "clients"),
                        (pairs, "clients")):
            for v in df[col]:
                a.check("direct")
                if v != "":
                    a.recovered("direct", None, float(v))
        for v in used.values():
            a.check("direct")
            if isinstance(v, (int, float)):
                a.recovered("direct", None, float(v))
        # share × base: annex (1 decimal) and county pages (1 decimal)
        for source, cells in (("annex", ann), ("pages", pages)):
            for k, v in cells.items():
                x = v if isinstance(v, (int, float)) else fi_float(v)
                base = base_pub.get(k, math.inf)
                if x is None or math.isinf(base):
                    hidden_somewhere.setdefault(k, set()).add(f"{name}:{source}:{v}")
                    if v == "..":
                        lower[k] = max(lower.get(k, 0.0), 1.0)
                    continue
                a.check("share_x_base")
                cands = share_counts(float(x), base, 1)
                if len(cands) == 1:
                    known.setdefault(k, float(cands[0]))
                    a.recovered("share_x_base", k, cands[0])
        # text extremes
        for r in ext.itertuples():
            for share, code in ((r.min, r.min_municipality_code), (r.max, r.max_municipality_code)):
                if share == "" or code == "":
                    continue
                k = (r.quarter, r.service_task, code)
                a.check("extremes")
                cands = share_counts(float(share), base_pub.get(k, math.inf), SHARE_DECIMALS)
                if len(cands) == 1:
                    a.recovered("extremes", k, cands[0])

    # between artefacts: a cell shown somewhere and suppressed elsewhere
    for k, where in hidden_somewhere.items():
        a.check("artefacts")
        if k in known and any(w.endswith(":..") for w in where):
            a.recovered("artefacts", k, known[k])

    # equations: every published total with its cells (membership from the same file)
    equations = []   # (version, group key, cells, total)
    for name, m, tot, _est, _ann, used, _pages, _ext, _tpc, _pairs in versions:
        mm = m.assign(key=list(zip(m["quarter"], m["service_task"], m["municipality_code"])))
        comp = mm[mm["quality"] == "comprehensive"]
        for r in tot[tot["clients_symbol"] == ""].itertuples():
            if r.kind == "used":
                cells = comp[(comp["quarter"] == r.quarter) & (comp["service_task"] == r.service_task)]
            elif r.kind == "county_used":
                cells = comp[(comp["quarter"] == r.quarter) & (comp["service_task"] == r.service_task)
                             & (comp["county_code"] == r.county_code)]
            elif r.kind == "registered":
                cells = mm[(mm["quarter"] == r.quarter) & (mm["service_task"] == r.service_task)]
            elif r.kind == "county_registered":
                cells = mm[(mm["quarter"] == r.quarter) & (mm["service_task"] == r.service_task)
                           & (mm["county_code"] == r.county_code)]
            else:
                continue
            equations.append((name, (r.kind, r.quarter, r.service_task, r.county_code),
                              list(cells["key"]), float(r.clients)))
        for (q, t), v in used.items():
            if isinstance(v, (int, float)) and t in set(comp["service_task"]):
                cells = comp[(comp["quarter"] == q) & (comp["service_task"] == t)]
                equations.append((name, ("used", q, t, ""), list(cells["key"]), float(v)))

    # differencing within a table
    for _, _, cells, total in equations:
        a.check("within")
        unknown = [c for c in cells if c not in known]
        if len(unknown) == 1:
            a.recovered("within", unknown[0], total - sum(known[c] for c in cells if c in known))

    # differencing between releases: the same total, cells differing by one unknown cell
    by_key: dict = {}
    for name, key, cells, total in equations:
        by_key.setdefault(key, []).append((name, set(cells), total))
    for vs in by_key.values():
        for i, (n1, s1, t1) in enumerate(vs):
            for n2, s2, t2 in vs[i + 1:]:
                if n1.split("/")[0] == n2.split("/")[0]:
                    continue
                a.check("releases")
                if s1 == s2:
                    continue
                big, small, tb, ts = (s2, s1, t2, t1) if len(s2) >= len(s1) else (s1, s2, t1, t2)
                if not small <= big:
                    continue
                extra = [c for c in big - small if c not in known]
                if len(extra) == 1:
                    a.recovered("releases", extra[0],
                                tb - ts - sum(known[c] for c in big - small if c in known))

    # the linear program over everything
    cons = []
    for _, _, cells, total in equations:
        unknown = [c for c in cells if c not in known]
        if unknown:
            cons.append((unknown, total - sum(known[c] for c in cells if c in known)))
    bounds = {c: (lower.get(c, 0.0), base_pub.get(c, math.inf))
              for cells, _ in cons for c in cells}
    targets = {c for cells, _ in cons for c in cells
               if any(1 <= v < MIN for v in a.truth.get(c, ()))}
    ranges = disclosure.linked_ranges(cons, bounds, targets)
    a.check("lp", len(ranges))
    for c, (lo, hi) in ranges.items():
        if disclosure._pinned(lo, hi):
            a.recovered("lp", c, math.ceil(lo - 1e-9))
    a.changed = changed
    a.versions = versions
    return a


# --------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("attacker")


@pytest.mark.parametrize("seed", SEEDS)
def test_attacker_recovers_nothing(root, seed, monkeypatch):
    rels, changed = build(root, seed, None, monkeypatch)
    a = attack(rels, changed)
    print(f"\nseed {seed}: cells checked per attack {a.checked}; recovered {a.found}")
    assert a.found == {}
    for attack_name in ("direct", "share_x_base", "within", "releases", "lp", "artefacts"):
        assert a.checked.get(attack_name, 0) > 0, attack_name
    # county pages and annexes agree cell by cell on what is suppressed
    n = 0
    for name, _m, _tot, _est, ann, _used, pages, *_ in a.versions:
        for k, v in pages.items():
            if k in ann:
                assert (v == "..") == (ann[k] == ".."), (name, k, v, ann[k])
                n += 1
    assert n > 0


@pytest.mark.parametrize("bypass", ["secondary", "subtotals", "releases", "county",
                                    "extremes"])
def test_attacker_catches_each_bypass(root, bypass, monkeypatch):
    """A bypass within a release is caught from the first release alone (the attacker
    knowing less); the one between releases from both."""
    rels, changed = build(root, SEEDS[0], bypass, monkeypatch,
                          n=2 if bypass == "releases" else 1)
    a = attack(rels, changed)
    print(f"\nbypass {bypass}: cells checked {a.checked}; recovered {a.found}")
    assert a.found, f"the attacker found nothing with the gate's {bypass} switched off"
