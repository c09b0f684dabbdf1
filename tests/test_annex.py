"""Tests of the Excel annex (seuranta.annex): accessibility structure, values against the
tables, disclosure control, and a LibreOffice round trip."""

from __future__ import annotations

import csv
import importlib
import os
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.core.symbols import SUPPRESSED, SYMBOLS
from seuranta.publication import annex, gate
from seuranta.statistics.quarter import quarter_tables

# the module fixtures made once: its tests on one xdist worker
pytestmark = pytest.mark.xdist_group("annex")

Q = Quarter.parse("2023Q1")
QUARTERS = quarter_range("2022Q3", "2023Q1")
PARAMS = {"publication": {"first_quarter": "2022Q3", "synthetic_notice": "SYNTEETTINEN TESTI",
                          "date": "2024-03-01", "book_url": "https://julkaisu.example/kirja/"},
          "disclosure": {"min_count": 5}, "estimate": {"published_method": "ratio"}}
TASKS = reference.task_codes()
EST_TASKS = reference.task_codes(estimated_only=True)


def half_up(x: float, nd: int = 1) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-nd), rounding=ROUND_HALF_UP))


# Hand-picked cells (quarter, municipality, task) -> (quality, clients, base)
HAND = {
    ("2023Q1", "091", "iakkaat"): ("comprehensive", 10000, 100000),   # 10.0
    ("2023Q1", "005", "iakkaat"): ("comprehensive", 49, 2000),        # 2.45 -> 2.5
    ("2023Q1", "009", "iakkaat"): ("comprehensive", 3, 700),          # primary ..
    ("2023Q1", "010", "iakkaat"): ("comprehensive", 6, 1000),         # smallest other: secondary ..
    ("2023Q1", "016", "iakkaat"): ("partial", 40, 2000),              # o
    ("2023Q1", "018", "iakkaat"): ("comprehensive", 0, 1500),         # 0.0 (zero is published)
    ("2022Q4", "009", "iakkaat"): ("comprehensive", 2, 700),          # primary ..
    ("2022Q4", "010", "iakkaat"): ("comprehensive", 3, 1000),         # primary .. (sum 5 ok)
    ("2022Q4", "091", "iakkaat"): ("comprehensive", 9000, 100000),
}


def make_tables(tmp: Path) -> Path:
    """Small but complete internal tables: every mainland municipality × task × source."""
    rng = np.random.default_rng(7)
    mun = reference.mainland_municipalities()
    rows_c, rows_q = [], []
    for q in QUARTERS:
        for m in mun.itertuples():
            for t in TASKS:
                key = (str(q), m.municipality_code, t)
                if key in HAND:
                    qual, clients, base = HAND[key]
                else:
                    base = int(rng.integers(300, 20000))
                    qual = rng.choice(["comprehensive", "partial", "none"], p=[.4, .2, .4])
                    clients = 0 if qual == "none" else int(rng.integers(5, base // 10))
                sources = {"none": "", "partial": "ET"}.get(qual, rng.choice(["SHA", "SHA+ET"]))
                for s in ("SHA", "ET", "ALL"):
                    rows_c.append([str(q), m.municipality_code, m.county_code, t, s,
                                   clients, base, round(100 * clients / base, 4)])
                rows_q.append([str(q), m.municipality_code, m.county_code, t, qual, sources,
                               ""])
    counts = pd.DataFrame(rows_c, columns=["quarter", "municipality_code", "county_code",
                                           "service_task", "source", "clients",
                                           "population_base", "share_pct"])
    quality = pd.DataFrame(rows_q, columns=["quarter", "municipality_code", "county_code",
                                            "service_task", "quality", "sources", "reasons"])
    est = []
    for q in QUARTERS:
        for t in EST_TASKS + ["lastensuojelulaki"]:
            for method, pub in (("ratio", 1), ("model", 0)):
                e = 134351.0 if t == "vammaispalvelut" else 20049.9
                est.append([str(q), t, "kaikki", method, 57, 30512, 1_200_000, 2.449,
                            e, 2000.0, e - 3920, e + 3920, round(e, -2), pub,
                            0.0 if pub else (1.25 if t == "vammaispalvelut" else np.nan)])
        for ag in ("0-17", "18-64", "65+", "85+"):
            est.append([str(q), "kaikki", ag, "ratio", 40, 3, 900, 0.3, 3000.0, 100.0,
                        2804.0, 3196.0, 3000.0, 1, 0.0])
    estimates = pd.DataFrame(est, columns=[
        "quarter", "service_task", "age_group", "method", "municipalities_used",
        "clients_used", "population_used", "share_pct", "estimate", "se", "ci_low",
        "ci_high", "estimate_rounded", "published", "difference_pct"])
    td = tmp / "tables"
    td.mkdir(parents=True, exist_ok=True)
    for name, df, _series in (("counts", counts, True), ("quality", quality, True),
                             ("estimates", estimates, True)):
        df[df["quarter"] == str(Q)].to_csv(td / f"{name}.csv", index=False, lineterminator="\n")
        df.to_csv(td / f"series_{name}.csv", index=False, lineterminator="\n")
    return td


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("annex")
    td = make_tables(tmp)
    gate.publish_quarter(Q, td, tmp / "published", PARAMS)   # what the annex reads
    paths = annex.write_annexes(Q, td, tmp / "annex", True, PARAMS)
    return tmp, td, paths


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


# --------------------------------------------------------------------------- structure

def test_one_file_named_by_quarter(built):
    tmp, _, paths = built
    assert paths == [tmp / "annex" / "liite_2023Q1.xlsx"]
    assert paths[0].is_file()


def test_sheets_and_order(built):
    wb = openpyxl.load_workbook(built[2][0])
    names = wb.sheetnames
    assert names[0] == "Tietoja"
    assert names[-1] == "Arviot koko maa"
    assert names[1:-1] == ["Iäkkäiden palvelut", "Työikäisten palvelut",
                           "Lapsiperheiden palvelut", "Lastensuojelu", "Vammaispalvelut",
                           "Päihde- ja riippuvuustyö", "Perheoikeudelliset palvelut",
                           "Hyvinvointialueet VA1", "Ikäryhmät"]
    assert all(len(n) <= 31 for n in names)


def test_accessible_structure(built):
    wb = openpyxl.load_workbook(built[2][0])  # formulas kept as text if any
    for ws in wb.worksheets:
        assert not ws.merged_cells.ranges, ws.title
        assert len(ws.tables) == 1, ws.title
        table = next(iter(ws.tables.values()))
        # the table covers the whole used range, header at A1
        assert table.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
        assert ws.freeze_panes == "A2"
        rows = sheet_rows(ws)
        header = rows[0]
        assert all(isinstance(h, str) and h for h in header), ws.title
        assert len(set(header)) == len(header)
        # exactly one header row: no other row is all text equal to a header
        for r in rows[1:]:
            assert any(v is not None and v != "" for v in r), f"blank row in {ws.title}"
            assert r != header
            for v in r:
                assert not (isinstance(v, str) and v.startswith("=")), f"formula in {ws.title}"
        for j in range(1, ws.max_column + 1):
            assert ws.column_dimensions[openpyxl.utils.get_column_letter(j)].width >= 8


def test_task_sheet_layout(built):
    wb = openpyxl.load_workbook(built[2][0])
    ws = wb["Iäkkäiden palvelut"]
    header = sheet_rows(ws)[0]
    assert header == ["Hyvinvointialue", "Kunta", "Kuntakoodi",
                      "Heinä–syyskuu 2022, %", "Loka–joulukuu 2022, %",
                      "Tammi–maaliskuu 2023, %", "Tietojen laatu heinä–syyskuu 2022",
                      "Tietojen laatu loka–joulukuu 2022",
                      "Tietojen laatu tammi–maaliskuu 2023", "Lähdeaineisto (uusin neljännes)"]
    rows = sheet_rows(ws)[1:]
    assert len(rows) == 293
    assert sorted(r[2] for r in rows) == sorted(reference.mainland_municipalities()
                                                ["municipality_code"])
    for j in (6, 7, 8):
        assert {r[j] for r in rows} <= {"Kattavat", "Osittaiset", "Ei tietoja"}
    assert {r[-1] for r in rows} <= {"SHA", "ET", "SHA+ET", "ei tietoja"}
    # sorted by county code, then in Finnish order inside a county: Å/Ä/Ö after Z
    by_code = {r[2]: r for r in rows}
    assert by_code["091"][1] == "Helsinki"
    county = dict(zip(reference.mainland_municipalities()["municipality_code"],
                      reference.mainland_municipalities()["county_code"]))
    keys = [(county[r[2]], annex.fi_sort_key(r[1])) for r in rows]
    assert keys == sorted(keys)
    assert annex.fi_sort_key("Ähtäri") > annex.fi_sort_key("Ylöjärvi") > \
        annex.fi_sort_key("Vaasa")
    assert annex.fi_sort_key("Öö") > annex.fi_sort_key("Ää") > annex.fi_sort_key("Åå")


def test_hand_cells(built):
    wb = openpyxl.load_workbook(built[2][0])
    rows = {r[2]: r for r in sheet_rows(wb["Iäkkäiden palvelut"])[1:]}
    col = {h: i for i, h in enumerate(sheet_rows(wb["Iäkkäiden palvelut"])[0])}
    q1, q4 = "Tammi–maaliskuu 2023, %", "Loka–joulukuu 2022, %"
    assert rows["091"][col[q1]] == 10.0 and is_num(rows["091"][col[q1]])
    assert rows["091"][col[q4]] == 9.0
    assert rows["005"][col[q1]] == 2.5          # 2.45 rounded half up
    assert rows["009"][col[q1]] == ".."         # 3 clients
    # the county's published total would give 009 alone: the gate hides at least one other
    # comprehensive cell of its county (which one is the gate's least-cost choice)
    q1_quality = "Tietojen laatu tammi–maaliskuu 2023"
    hidden = [r for r in rows.values() if r[0] == rows["009"][0]
              and r[col[q1_quality]] == "Kattavat" and r[col[q1]] == ".."]
    assert len(hidden) >= 2
    assert rows["010"][col[q1]] == 0.6          # 6 clients of 1 000 (≥ min_count 5)
    assert rows["009"][col[q4]] == ".." and rows["010"][col[q4]] == ".."  # 2 + 3
    assert rows["016"][col[q1]] == "."          # partial: not published
    assert rows["016"][col["Tietojen laatu tammi–maaliskuu 2023"]] == "Osittaiset"
    assert rows["016"][col["Lähdeaineisto (uusin neljännes)"]] == "ET"
    assert rows["018"][col[q1]] == 0.0          # zero clients is not a small count
    # every share cell that holds a number shows one decimal (10.0 is stored as 10)
    ws = wb["Iäkkäiden palvelut"]
    for j in range(5, 8):
        for c in ws.iter_cols(min_col=j, max_col=j, min_row=2).__next__():
            assert c.number_format == ("0.0" if is_num(c.value) else "General")


def _expected_cells(td: Path, task: str, min_count: int = 5):
    counts = pd.read_csv(td / "series_counts.csv", dtype={"municipality_code": str})
    quality = pd.read_csv(td / "series_quality.csv", dtype={"municipality_code": str},
                          keep_default_na=False)
    c = counts[(counts["service_task"] == task) & (counts["source"] == "ALL")]
    return c.merge(quality[quality["service_task"] == task],
                   on=["quarter", "municipality_code", "county_code", "service_task"])


def test_values_against_tables(built):
    """Every share cell equals 100·clients/base rounded half up, or the right symbol."""
    _, td, paths = built
    wb = openpyxl.load_workbook(paths[0])
    tasks = reference.service_tasks().set_index("service_task")
    for task in EST_TASKS:
        ws = wb[annex.sheet_name(task, tasks.loc[task, "name_fi"])]
        rows = sheet_rows(ws)
        col = {h: i for i, h in enumerate(rows[0])}
        by_code = {r[2]: r for r in rows[1:]}
        exp = _expected_cells(td, task)
        n_sup = 0
        for r in exp.itertuples():
            got = by_code[r.municipality_code][col[annex.quarter_header(Quarter.parse(r.quarter))]]
            if r.quality in ("none", "partial"):
                assert got == "."
                assert by_code[r.municipality_code][col[annex.quality_header(
                    Quarter.parse(r.quarter))]] == {"none": "Ei tietoja",
                                                    "partial": "Osittaiset"}[r.quality]
            elif 1 <= r.clients <= 4:
                assert got == ".."
            elif got == "..":
                n_sup += 1   # secondary suppression
            else:
                assert got == half_up(100 * r.clients / r.population_base), (task, r)
        # secondary suppressions are few (at most one per quarter here)
        assert n_sup <= len(QUARTERS)
        now = exp[exp["quarter"] == str(Q)].set_index("municipality_code")
        fi = {"comprehensive": "Kattavat", "partial": "Osittaiset", "none": "Ei tietoja"}
        for code, row in by_code.items():
            assert row[col[annex.quality_header(Q)]] == fi[now.at[code, "quality"]]
            assert row[col["Lähdeaineisto (uusin neljännes)"]] == (
                now.at[code, "sources"] or "ei tietoja")


def test_no_suppressed_value_derivable(built):
    """In each quarter × task the suppressed comprehensive cells are none, or ≥ 2 cells
    adding up to ≥ 5 clients, so that 'clients used' minus the others never gives a small
    count; no published share comes from 1–4 clients."""
    _, td, paths = built
    wb = openpyxl.load_workbook(paths[0])
    tasks = reference.service_tasks().set_index("service_task")
    for task in EST_TASKS:
        rows = sheet_rows(wb[annex.sheet_name(task, tasks.loc[task, "name_fi"])])
        col = {h: i for i, h in enumerate(rows[0])}
        by_code = {r[2]: r for r in rows[1:]}
        exp = _expected_cells(td, task)
        exp = exp[exp["quality"] == "comprehensive"]
        for q, g in exp.groupby("quarter"):
            h = col[annex.quarter_header(Quarter.parse(q))]
            sup = g[[by_code[c][h] == ".." for c in g["municipality_code"]]]
            pub = g[[is_num(by_code[c][h]) for c in g["municipality_code"]]]
            assert len(sup) + len(pub) == len(g)
            assert not ((pub["clients"] >= 1) & (pub["clients"] <= 4)).any()
            # a reader knows hidden cells are ≥ 1: one hidden cell, or hidden cells adding
            # up to their number, would be pinned by the total
            assert len(sup) == 0 or (len(sup) >= 2 and sup["clients"].sum() > len(sup)), \
                (task, q)
            try:  # and the statistics helper's audit (LP bounds of every hidden cell)
                from seuranta.statistics.disclosure import assert_no_disclosure
            except ImportError:
                continue
            exact = g[["clients"]].reset_index(drop=True)
            published = exact.astype(object)
            for k, c in enumerate(g["municipality_code"]):
                if by_code[c][h] == "..":
                    published.at[k, "clients"] = ".."
            assert_no_disclosure(published, exact, ["clients"], row_groups="all")


def test_county_sheet_va1(built):
    """Taulukko VA1 of the quarter from the gate's totals: Helsinki's county (091 alone,
    10 000 clients), and every county row equal to the sum of its comprehensive
    municipalities (computed here from the test tables) unless the gate suppressed it."""
    _, td, paths = built
    wb = openpyxl.load_workbook(paths[0])
    rows = sheet_rows(wb["Hyvinvointialueet VA1"])
    assert rows[0] == ["Neljännes", "Palvelutehtävä", "Aluekoodi", "Alue",
                       "Kaikki alueen kunnat mukana", "Kattavia kuntia",
                       "Asiakkaat kattavissa kunnissa"]
    assert {r[0] for r in rows[1:]} == {"Tammi–maaliskuu 2023"}
    hel = [r for r in rows[1:] if r[1] == "Iäkkäiden palvelut" and r[2] == "90"]
    assert hel == [["Tammi–maaliskuu 2023", "Iäkkäiden palvelut", "90",
                    "Helsingin kaupunki", "Kyllä", 1, 10000]]
    counts = pd.read_csv(td / "series_counts.csv", dtype={"municipality_code": str,
                                                           "county_code": str})
    quality = pd.read_csv(td / "series_quality.csv", dtype={"municipality_code": str},
                          keep_default_na=False)
    c = counts[(counts["source"] == "ALL") & (counts["service_task"] == "tyoikaiset")
               & (counts["quarter"] == "2023Q1")]
    q = quality[(quality["service_task"] == "tyoikaiset") & (quality["quarter"] == "2023Q1")
                & (quality["quality"] == "comprehensive")]
    used = c[c["municipality_code"].isin(q["municipality_code"])]
    exp = used.groupby("county_code")["clients"].sum()
    got = {r[2]: r[6] for r in rows[1:] if r[1] == "Työikäisten palvelut"}
    assert set(got) == set(exp.index) | {"koko maa"}
    assert got["koko maa"] in (int(used["clients"].sum()), "..")
    shown = [k for k, v in got.items() if v != ".." and k != "koko maa"]
    assert len(shown) >= len(exp) // 2
    for code in shown:
        assert got[code] == int(exp[code]), code


def test_estimates_sheet(built):
    _, td, paths = built
    wb = openpyxl.load_workbook(paths[0])
    rows = sheet_rows(wb["Arviot koko maa"])
    assert rows[0] == annex.ESTIMATE_HEADER
    body = rows[1:]
    est = pd.read_csv(td / "series_estimates.csv")
    # the published method only: the comparison method is not public
    assert len(body) == len(est[est["method"] == "ratio"])
    vam = [r for r in body if r[0] == "Tammi–maaliskuu 2023" and r[1] == "Vammaispalvelut"]
    assert [r[3:5] for r in vam] == [["suhdemenetelmä", "pistearvio"]]
    # 134 351 -> 134 400; CI 130 431 .. 138 271 rounded outward -> 130 400 .. 138 300;
    # share 2.449 -> 2.4; no range beside a point estimate (x)
    assert vam[0][5:] == [134400, 2.4, 130400, 138300] + ["x"] * 4 + [None, 57, 30512]
    assert "Ero julkaistuun arvioon, %" not in rows[0]
    age = [r for r in body if r[1].startswith("Kaikki palvelutehtävät")]
    assert len(age) == 4 * len(QUARTERS)
    assert all(r[-1] == ".." for r in age)     # clients_used 3 < 5
    # ... and so are the figures derived from it (share × population used would give it)
    assert all(r[5:9] == [".."] * 4 for r in age)
    assert any(r[1] == "Lastensuojelulain mukainen asiakkuus" for r in body)
    for r in body:
        if r not in age:
            assert isinstance(r[5], int) and r[5] % 100 == 0


def test_notes_sheet(built):
    wb = openpyxl.load_workbook(built[2][0])
    rows = sheet_rows(wb["Tietoja"])
    assert rows[0] == ["Kohta", "Tieto"]
    text = "\n".join(f"{a}\t{b}" for a, b in rows[1:])
    assert "SYNTEETTINEN TESTI" in text
    assert "Sosiaalihuollon seurantarekisteri, THL" in text
    assert "1.3.2024" in text
    # every symbol used anywhere in the workbook is explained
    used = set()
    for ws in wb.worksheets[1:]:
        for r in sheet_rows(ws)[1:]:
            used |= {v for v in r if isinstance(v, str) and v in SYMBOLS}
    assert used == {".", "..", "x"}
    for sym in used:
        assert f"Symboli {sym}\t{SYMBOLS[sym][0]}" in text
    assert "Symboli -" not in text
    assert "1–4" in text
    # every data sheet is listed; methods link is the book's public URL (a parameter)
    for name in wb.sheetnames[1:]:
        assert f"Taulukko: {name}\t" in text
    link = [r for r in wb["Tietoja"].iter_rows(min_row=2) if r[0].value == "Menetelmäkuvaus"]
    assert link and link[0][1].hyperlink is not None
    assert link[0][1].hyperlink.target == "https://julkaisu.example/kirja/book/menetelmat.html"
    assert "synteettinen" in wb.properties.title
    assert "SYNTEETTINEN TESTI" in wb.properties.description


def test_real_data_has_no_notice_and_threshold_parameter(tmp_path, built):
    _, td, _ = built
    params = {**PARAMS, "disclosure": {"min_count": 11}}
    shutil.copytree(td, tmp_path / "tables")            # the gate at this threshold
    td = tmp_path / "tables"
    gate.publish_quarter(Q, td, tmp_path / "published", params)
    path = annex.write_annexes(Q, td, tmp_path / "annex", False, params)[0]
    wb = openpyxl.load_workbook(path)
    text = " ".join(str(v) for r in sheet_rows(wb["Tietoja"]) for v in r)
    assert "SYNTEETTINEN" not in text and "synteettinen" not in (wb.properties.title or "")
    assert "1–10" in text
    rows = {r[2]: r for r in sheet_rows(wb["Iäkkäiden palvelut"])[1:]}
    assert rows["010"][5] == ".."               # 6 clients < 11
    assert rows["091"][5] == 10.0


def test_reproducible_bytes(tmp_path, built):
    """Same tables and parameters → byte-identical workbook (no save time inside)."""
    a = annex.write_annexes(Q, built[1], tmp_path / "a", True, PARAMS)[0]
    b = annex.write_annexes(Q, built[1], tmp_path / "b", True, PARAMS)[0]
    assert a.read_bytes() == b.read_bytes() == built[2][0].read_bytes()
    wb = openpyxl.load_workbook(a)
    assert wb.properties.modified.date().isoformat() == "2024-03-01"


def test_bad_threshold_is_input_error(tmp_path, built):
    from seuranta.core.errors import InputError
    with pytest.raises(InputError, match="min_count"):
        annex.write_annexes(Q, built[1], tmp_path, False, {**PARAMS,
                                                           "disclosure": {"min_count": "x"}})


def test_missing_table_is_input_error(tmp_path):
    """The annex reads the gate's published tables only: without them it refuses (it
    never computes them from the exact tables)."""
    from seuranta.core.errors import InputError
    (tmp_path / "tables").mkdir()
    with pytest.raises(InputError, match=r"published.*municipal\.csv"):
        annex.write_annexes(Q, tmp_path / "tables", tmp_path / "a", False, PARAMS)


def test_annex_suppression_is_the_gates(built):
    """The annex hides exactly the cells the gate's published municipal table hides (one
    disclosure implementation), and its estimates sheet shows the gate's symbols."""
    tmp, td, paths = built
    pub = gate.publish_quarter(Q, td, None, PARAMS)
    m = pub["municipal"]
    wb = openpyxl.load_workbook(paths[0])
    tasks = reference.service_tasks().set_index("service_task")
    n = 0
    for task in EST_TASKS:
        rows = sheet_rows(wb[annex.sheet_name(task, tasks.loc[task, "name_fi"])])
        col = {h: i for i, h in enumerate(rows[0])}
        by_code = {r[2]: r for r in rows[1:]}
        for r in m[m["service_task"] == task].itertuples():
            got = by_code[r.municipality_code][col[annex.quarter_header(
                Quarter.parse(r.quarter))]]
            assert (got == SUPPRESSED) == (r.clients_symbol == SUPPRESSED), (task, r)
            n += got == SUPPRESSED
    assert n > 0
    e = pub["estimates"].copy()
    e.loc[0, "clients_used_symbol"] = SUPPRESSED
    e.loc[0, "clients_used"] = pd.NA
    frame = annex.estimates_frame(e, reference.service_tasks())
    assert frame["Asiakkaat arviossa käytetyissä kunnissa"].iloc[0] == SUPPRESSED


def test_rounding_helpers():
    assert annex.round_half_up(2.45, 1) == 2.5
    assert annex.round_half_up(0.05, 1) == 0.1
    assert annex.round_to(134350, 100) == 134400
    assert annex.round_to(134349.9, 100) == 134300
    assert annex.quarter_header(Quarter.parse("2023Q1")) == "Tammi–maaliskuu 2023, %"
    assert annex.sheet_name("paihdetyo", "Päihde- ja riippuvuustyön erityiset palvelut") \
        == "Päihde- ja riippuvuustyö"


# --------------------------------------------------------------------------- LibreOffice

def soffice_csv(xlsx: Path, outdir: Path, profile: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``xlsx`` as rows of text, converted by LibreOffice headless."""
    soffice = shutil.which("soffice")
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                    "--convert-to",
                    'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1',
                    "--outdir", str(outdir), str(xlsx)],
                   check=True, capture_output=True, timeout=180,
                   env={**os.environ, "HOME": str(profile)})
    out = {}
    for p in outdir.glob(f"{xlsx.stem}-*.csv"):
        with open(p, encoding="utf-8", newline="") as f:
            out[p.stem[len(xlsx.stem) + 1:]] = list(csv.reader(f))
    return out


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_round_trip(built, tmp_path):
    _, td, paths = built
    sheets = soffice_csv(paths[0], tmp_path / "csv", tmp_path / "lo-profile")
    wb = openpyxl.load_workbook(paths[0])
    assert set(sheets) == set(wb.sheetnames)
    tasks = reference.service_tasks().set_index("service_task")
    # task sheets: LibreOffice's values equal the tables' shares
    for task in EST_TASKS:
        name = annex.sheet_name(task, tasks.loc[task, "name_fi"])
        rows = sheets[name]
        assert rows[0][:3] == ["Hyvinvointialue", "Kunta", "Kuntakoodi"]
        assert len(rows) == 294
        col = {h: i for i, h in enumerate(rows[0])}
        by_code = {r[2]: r for r in rows[1:]}
        assert len(by_code) == 293
        exp = _expected_cells(td, task)
        for r in exp.itertuples():
            got = by_code[r.municipality_code][col[annex.quarter_header(Quarter.parse(r.quarter))]]
            if r.quality == "comprehensive" and r.clients >= 5 and got != "..":
                assert float(got) == half_up(100 * r.clients / r.population_base)
            elif r.quality == "comprehensive" and r.clients >= 1:
                assert got == ".."
            else:
                assert got in (".", "0")
    # estimates sheet: numbers as numbers, same as openpyxl reads
    est = sheets["Arviot koko maa"]
    assert est[0] == annex.ESTIMATE_HEADER
    ref = sheet_rows(wb["Arviot koko maa"])
    for a, b in zip(est[1:], ref[1:], strict=True):
        assert a[:5] == b[:5]
        for x, y in zip(a[5:], b[5:]):
            assert (x == y) if isinstance(y, str) else (x == "" if y is None
                                                        else float(x) == y)
    assert "SYNTEETTINEN TESTI" in "\n".join(",".join(r) for r in sheets["Tietoja"])


# --------------------------------------------------------------------------- demo end to end

@pytest.fixture(scope="module")
def demo_annex(tmp_path_factory):
    demo = importlib.import_module("seuranta.demo.generator")
    from seuranta import pipeline
    from seuranta.core.params import load_params

    tmp = tmp_path_factory.mktemp("annex-demo")
    data = demo.generate(tmp / "data", scale=0.02)
    params = load_params()
    q = Quarter.parse("2023Q1")
    tables = quarter_tables(q, data, params)
    pipeline.write_tables(tables, tmp / "tables")
    gate.publish_quarter(q, tmp / "tables", tmp / "published", params)
    paths = annex.write_annexes(q, tmp / "tables", tmp / "annex", pipeline.is_synthetic(data),
                                params)
    return tmp, q, params, paths[0]


def _check_against_tables(rows_by_sheet: dict, td: Path, q: Quarter, params: dict,
                          parse=lambda v: v) -> int:
    """Compare the task sheets (rows of cells) with the tables; returns cells checked."""
    min_count = params["disclosure"]["min_count"]
    symbol = SUPPRESSED
    counts = pd.read_csv(td / "series_counts.csv", dtype={"municipality_code": str})
    quality = pd.read_csv(td / "series_quality.csv", dtype={"municipality_code": str},
                          keep_default_na=False)
    tasks = reference.service_tasks().set_index("service_task")
    checked = 0
    for task in EST_TASKS:
        rows = rows_by_sheet[annex.sheet_name(task, tasks.loc[task, "name_fi"])]
        col = {h: i for i, h in enumerate(rows[0])}
        by_code = {r[2]: r for r in rows[1:]}
        assert len(by_code) == 293 == len(rows) - 1
        c = counts[(counts["service_task"] == task) & (counts["source"] == "ALL")]
        e = c.merge(quality[quality["service_task"] == task][
            ["quarter", "municipality_code", "quality", "sources"]],
            on=["quarter", "municipality_code"], how="left", validate="one_to_one")
        assert set(e["quarter"]) == {str(x) for x in quarter_range(
            params["publication"]["first_quarter"], q)}
        for r in e.itertuples():
            got = parse(by_code[r.municipality_code][
                col[annex.quarter_header(Quarter.parse(r.quarter))]])
            if r.quality == "comprehensive":
                if 1 <= r.clients < min_count:
                    assert got == symbol
                elif got != symbol:
                    assert got == half_up(100 * r.clients / r.population_base), (task, r)
                    checked += 1
            else:
                assert got == ".", (task, r)
        # no suppressed count derivable from the group total ("clients used")
        # (unless the estimates sheet suppresses that total)
        total_hidden = {(r[0], r[1]) for r in rows_by_sheet["Arviot koko maa"][1:]
                        if r[-1] == symbol}
        for qq, g in e[e["quality"] == "comprehensive"].groupby("quarter"):
            h = col[annex.quarter_header(Quarter.parse(qq))]
            if (annex.quarter_header(Quarter.parse(qq))[:-3], tasks.loc[task, "name_fi"]) \
                    in total_hidden:
                continue
            hidden = [parse(by_code[m][h]) == symbol for m in g["municipality_code"]]
            exact = g[["clients"]].reset_index(drop=True)
            published = exact.astype(object)
            published.loc[hidden, "clients"] = symbol
            disclosure = importlib.import_module("seuranta.statistics.disclosure")
            disclosure.assert_no_disclosure(published, exact, ["clients"], row_groups="all",
                                            min_count=min_count, symbol=symbol)
        now = e[e["quarter"] == str(q)].set_index("municipality_code")
        fi = {"comprehensive": "Kattavat", "partial": "Osittaiset", "none": "Ei tietoja"}
        for code, row in by_code.items():
            assert row[col[annex.quality_header(Q)]] == fi[now.at[code, "quality"]]
            assert row[col["Lähdeaineisto (uusin neljännes)"]] == (
                now.at[code, "sources"] or "ei tietoja")
    return checked


@pytest.mark.slow   # demo_annex: a whole quarter's statistics and gate
def test_demo_annex_against_tables(demo_annex):
    tmp, q, params, path = demo_annex
    wb = openpyxl.load_workbook(path)
    rows = {ws.title: sheet_rows(ws) for ws in wb.worksheets}
    assert _check_against_tables(rows, tmp / "tables", q, params) > 50
    # the estimates sheet has one row per published estimates row (series + this
    # quarter's extras), the published method's only
    est = pd.read_csv(tmp / "tables" / "estimates.csv")
    ser = pd.read_csv(tmp / "tables" / "series_estimates.csv")
    keys = ["quarter", "service_task", "age_group", "method"]
    both = pd.concat([ser, est]).drop_duplicates(subset=keys)
    assert len(rows["Arviot koko maa"]) == (both["published"] == 1).sum() + 1
    head = rows["Arviot koko maa"][0]
    col = {h: i for i, h in enumerate(head)}
    names = dict(zip(reference.service_tasks()["service_task"],
                     reference.service_tasks()["name_fi"]))
    names.update({k: v[0] for k, v in annex.EXTRA_TASK_FI.items()})
    for _, pub in est[est["published"] == 1].iterrows():
        name = names[pub["service_task"]] + (
            "" if pub["age_group"] == "kaikki"
            else f", {annex.AGE_GROUP_FI.get(pub['age_group'], pub['age_group'])}")
        row = [r for r in rows["Arviot koko maa"] if r[0] == "Tammi–maaliskuu 2023"
               and r[1] == name]
        assert len(row) == 1, name
        row = row[0]
        assert row[col["Arviossa käytetyt kunnat"]] == int(pub["municipalities_used"])
        got = row[col["Arvioitu asiakasmäärä"]]
        # the publication rule: a number only for a point estimate
        if pub["publish_as"] == "point":
            assert got == int(pub["estimate_rounded"])
        else:
            assert got in (".", ".."), (pub["service_task"], pub["publish_as"], got)
            assert row[col["Osuus väestöpohjasta, %"]] in (".", "..")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
@pytest.mark.slow   # demo_annex: a whole quarter's statistics and gate
def test_demo_annex_libreoffice(demo_annex, tmp_path):
    tmp, q, params, path = demo_annex
    sheets = soffice_csv(path, tmp_path / "csv", tmp_path / "lo-profile")

    def parse(v: str):
        try:
            return float(v)
        except ValueError:
            return v
    assert _check_against_tables(sheets, tmp / "tables", q, params, parse) > 50
