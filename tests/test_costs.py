"""Tests of the Sote-tietopaketit cost stage (src/seuranta/costs.py, demo_costs.py).

Hand-computed values on tiny ledgers; the demo ledger is reconciled with an independent
Decimal sum of the file's own strings.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from seuranta.core.errors import InputError
from seuranta.costs import model as costs
from seuranta.demo.costs import generate_costs

HEADER = "year,region_code,service_class,client_group,funding_channel,producer,cost_eur\n"
MAP_HEADER = ("mapping_version,valid_from,valid_to,service_class,service_class_name_fi,"
              "sector,package_code\n")

# Helsinki (091 → area 90) and Alajärvi (005 → area 16); bands nest into the client groups.
POPULATION = """municipality_code,year,age_group,population
091,2022,0-17,200
091,2022,18-64,600
091,2022,65-74,100
091,2022,75-84,80
091,2022,85+,20
005,2022,0-17,100
005,2022,18-64,250
005,2022,65-74,100
005,2022,75-84,40
005,2022,85+,10
"""

MAPPING = MAP_HEADER + """t1,2022-01-01,,A1,Kotihoito,sos,hoito_hoiva
t1,2022-01-01,,A2,Vastaanotto,ter,vastaanotto
t1,2022-01-01,,A3,Lastensuojelu,sos,lapset_perheet
t1,2023-01-01,,A4,Uusi luokka,sos,aikuiset_sos
"""

LEDGER = HEADER + """2022,90,A1,65-74,valtion_rahoitus,oma_tuotanto,1000.00
2022,90,A1,75+,valtion_rahoitus,oma_tuotanto,2999.99
2022,90,A1,75+,asiakasmaksut,oma_tuotanto,0.01
2022,16,A1,65-74,valtion_rahoitus,oma_tuotanto,500
2022,16,A1,75+,valtion_rahoitus,ostopalvelu,2000.0
2022,90,A2,18-64,valtion_rahoitus,oma_tuotanto,250.50
2022,90,A3,0-17,valtion_rahoitus,oma_tuotanto,800.00
2022,90,Z9,18-64,valtion_rahoitus,oma_tuotanto,100.25
2022,16,A4,18-64,valtion_rahoitus,oma_tuotanto,49.75
2022,16,,18-64,valtion_rahoitus,oma_tuotanto,10.00
2022,90,A1,75+,valtion_rahoitus,oma_tuotanto,
2022,90,A1,75+,valtion_rahoitus,oma_tuotanto,-5.00
2022,90,A1,75+,valtion_rahoitus,oma_tuotanto,"12,50"
2022,91,A1,75+,valtion_rahoitus,oma_tuotanto,7.00
20x2,90,A1,75+,valtion_rahoitus,oma_tuotanto,7.00
2023,90,A1,75+,valtion_rahoitus,oma_tuotanto,123.45
"""


def make_data(tmp_path: Path, ledger: str = LEDGER, mapping: str = MAPPING) -> Path:
    d = tmp_path / "data"
    (d / "costs").mkdir(parents=True)
    (d / "costs" / "ledger.csv").write_text(ledger, encoding="utf-8")
    (d / "costs" / "package_mapping.csv").write_text(mapping, encoding="utf-8")
    (d / "population.csv").write_text(POPULATION, encoding="utf-8")
    return d


def run(tmp_path, **kw):
    return costs.run_costs(2022, make_data(tmp_path, **kw), None, out_dir=tmp_path / "build")


def row(df, **where):
    m = pd.Series(True, index=df.index)
    for k, v in where.items():
        m &= df[k] == v
    assert m.sum() == 1, (where, m.sum())
    return df[m].iloc[0]


# --------------------------------------------------------------------------- allocation

def test_tiny_allocation_and_reasons(tmp_path):
    t = run(tmp_path)
    al = t["allocation"]
    # area 90: 1000 + 2999.99 + 0.01 + 250.50 + 800 allocated, 100.25 unallocated
    r90 = row(al, region_code="90")
    assert r90["allocated_eur"] == "5050.50"
    assert r90["unallocated_eur"] == "100.25"
    assert r90["ledger_eur"] == "5150.75"
    assert r90["allocation_pct"] == round(100 * 505050 / 515075, 4)
    # area 16: 500 + 2000 allocated; A4 (valid from 2023) 49.75 and empty class 10.00 not
    r16 = row(al, region_code="16")
    assert (r16["allocated_eur"], r16["unallocated_eur"]) == ("2500.00", "59.75")
    nat = row(al, region_code="ALL")
    assert (nat["ledger_eur"], nat["allocated_eur"], nat["unallocated_eur"]) == (
        "7710.50", "7550.50", "160.00")
    assert nat["benchmark_pct"] == 97.2
    # an area with no costs has no rate
    assert pd.isna(row(al, region_code="01")["allocation_pct"])

    un = t["unallocated"]
    un = un[un["region_code"] == "ALL"].set_index("service_class")
    assert un.loc["Z9", "reason"] == "no_mapping" and un.loc["Z9", "cost_eur"] == "100.25"
    assert un.loc["A4", "reason"] == "mapping_not_valid"
    assert un.loc["", "reason"] == "no_service_class"


def test_quarantine_with_reasons_and_row_ledger(tmp_path):
    t = run(tmp_path)
    q = t["quarantine"]
    assert dict(zip(q["row_number"], q["reason"])) == {
        12: "cost_missing", 13: "cost_negative", 14: "cost_not_a_number",
        15: "region_unknown", 16: "year_invalid"}
    lr = t["ledger_rows"].set_index("item")
    assert lr.loc["read", "rows"] == lr.loc["accepted", "rows"] + lr.loc["quarantined", "rows"]
    assert (lr.loc["read", "rows"], lr.loc["accepted", "rows"]) == (15, 10)
    assert lr.loc["allocated", "rows"] + lr.loc["unallocated", "rows"] == 10


def test_class_mapped_to_two_packages_raises(tmp_path):
    bad = MAPPING + "t1,2022-06-01,,A1,Kotihoito,sos,vammaiset\n"
    with pytest.raises(InputError, match="service class A1 is mapped to two packages"):
        run(tmp_path, mapping=bad)


def test_class_changing_package_within_year_raises(tmp_path):
    bad = MAP_HEADER + ("t1,2021-01-01,2022-06-30,A1,x,sos,hoito_hoiva\n"
                        "t1,2022-07-01,,A1,x,sos,vammaiset\n")
    with pytest.raises(InputError, match="A1 is mapped to two packages in 2022"):
        run(tmp_path, mapping=bad)


def test_same_package_twice_is_not_an_error_nor_a_double_count(tmp_path):
    t = run(tmp_path, mapping=MAPPING + "t1,2022-01-01,,A1,Kotihoito,sos,hoito_hoiva\n")
    assert row(t["allocation"], region_code="ALL")["allocated_eur"] == "7550.50"


def test_unknown_package_in_mapping_raises(tmp_path):
    with pytest.raises(InputError, match="unknown package code.*nope"):
        run(tmp_path, mapping=MAPPING + "t1,2022-01-01,,A9,x,sos,nope\n")


def test_demo_ledger_reconciles_to_the_cent(tmp_path):
    d = tmp_path / "demo"
    d.mkdir()
    generate_costs(d, scale=0.001, seed=3)
    for year in (2022, 2023):
        t = costs.run_costs(year, d, None, out_dir=tmp_path / "build")
        raw = pd.read_csv(d / "costs" / "ledger.csv", dtype=str, keep_default_na=False)
        raw = raw[raw["year"] == str(year)]
        q = t["quarantine"]
        good = raw.loc[[i for i in raw.index if i + 2 not in set(q["row_number"])]]
        ledger = sum((Decimal(v) for v in good["cost_eur"]), Decimal(0))
        al = t["allocation"]
        for r in al.itertuples():
            assert Decimal(r.allocated_eur) + Decimal(r.unallocated_eur) == Decimal(r.ledger_eur)
        areas = al[al["region_code"] != "ALL"]
        nat = row(al, region_code="ALL")
        assert Decimal(nat["ledger_eur"]) == ledger
        assert sum(Decimal(v) for v in areas["ledger_eur"]) == ledger
        assert sum(Decimal(v) for v in areas["allocated_eur"]) == Decimal(nat["allocated_eur"])
        pk = t["packages"]
        parts = pk[pk["package_code"] != "ALL"]
        assert sum(Decimal(v) for v in parts["cost_eur"]) == ledger
        assert Decimal(row(pk, package_code="unallocated")["cost_eur"]) == Decimal(
            nat["unallocated_eur"])
        # per area × package costs add up to the ledger too
        res = t["per_resident"]
        cells = res[(res["region_code"] != "ALL") & (res["package_code"] != "ALL")]
        assert sum(Decimal(v) for v in cells["cost_eur"]) == ledger
        assert 96.5 < nat["allocation_pct"] < 97.8


def test_demo_generator_is_deterministic_and_plausible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_costs(a, scale=0.01, seed=5)
    generate_costs(b, scale=0.01, seed=5)
    assert (a / "costs" / "ledger.csv").read_bytes() == (b / "costs" / "ledger.csv").read_bytes()
    led = pd.read_csv(a / "costs" / "ledger.csv", dtype=str, keep_default_na=False)
    assert set(led["region_code"]) >= {f"{i:02d}" for i in range(1, 22)} | {"90"}
    y22 = led[(led["year"] == "2022") & led["cost_eur"].str.fullmatch(r"\d+\.\d\d")]
    total = sum(Decimal(v) for v in y22["cost_eur"]) / Decimal("0.01")  # at scale 1
    assert Decimal("22.5e9") < total < Decimal("23.5e9")


# --------------------------------------------------------------------------- comparisons

def test_eur_per_resident_by_hand(tmp_path):
    res = run(tmp_path)["per_resident"]
    h90 = row(res, region_code="90", package_code="hoito_hoiva")
    assert h90["cost_eur"] == "4000.00" and h90["population"] == 1000
    assert h90["eur_per_resident"] == 4.0
    assert row(res, region_code="16", package_code="hoito_hoiva")["eur_per_resident"] == 5.0
    assert row(res, region_code="ALL", package_code="hoito_hoiva")["eur_per_resident"] == \
        round(6500 / 1500, 6)
    # whole ledger per resident in area 90: 5150.75 / 1000
    assert row(res, region_code="90", package_code="ALL")["eur_per_resident"] == 5.15075
    assert row(res, region_code="90", package_code="vastaanotto")["eur_per_resident"] == 0.2505
    # crude per target resident (65+): 4000 / 200, 2500 / 150
    assert h90["target_population"] == 200 and h90["eur_per_target_resident"] == 20.0
    assert row(res, region_code="16", package_code="hoito_hoiva")[
        "eur_per_target_resident"] == round(2500 / 150, 6)


def test_direct_age_standardisation_by_hand(tmp_path):
    res = run(tmp_path)["per_resident"]
    # national weights 65-74: 200/350, 75+: 150/350
    # area 90: 1000/100 * 4/7 + 3000/100 * 3/7 = 130/7
    # area 16:  500/100 * 4/7 + 2000/50  * 3/7 = 140/7 = 20
    assert row(res, region_code="90", package_code="hoito_hoiva")[
        "eur_per_target_resident_std"] == round(130 / 7, 6)
    assert row(res, region_code="16", package_code="hoito_hoiva")[
        "eur_per_target_resident_std"] == 20.0
    # the country standardised to itself is its crude rate: 6500 / 350
    nat = row(res, region_code="ALL", package_code="hoito_hoiva")
    assert nat["eur_per_target_resident_std"] == pytest.approx(nat["eur_per_target_resident"])
    assert nat["eur_per_target_resident"] == round(6500 / 350, 6)
    # lapset_perheet: 0-17 only, standardised = crude (one group)
    lp = row(res, region_code="90", package_code="lapset_perheet")
    assert lp["eur_per_target_resident_std"] == lp["eur_per_target_resident"] == 4.0
    # not age-bound: no standardised value
    assert pd.isna(row(res, region_code="90", package_code="vastaanotto")[
        "eur_per_target_resident_std"])


def _register_tables(folder: Path) -> Path:
    t = folder / "2022Q4" / "tables"
    t.mkdir(parents=True)
    yc = pd.DataFrame([
        (2022, "091", "90", "iakkaat", "ALL", 40, 200),
        (2022, "091", "90", "iakkaat", "SHA", 39, 200),
        (2022, "005", "16", "iakkaat", "ALL", 50, 150),
        (2022, "091", "90", "lapsiperheet", "ALL", 30, 800),
        (2022, "091", "90", "lastensuojelu", "ALL", 10, 200),
        (2021, "091", "90", "iakkaat", "ALL", 999, 200),
    ], columns=["year", "municipality_code", "county_code", "service_task", "source",
                "clients", "population_base"])
    yc["share_pct"] = 0.0
    yc.to_csv(t / "year_counts.csv", index=False)
    for q in range(1, 5):
        qd = folder / f"2022Q{q}" / "tables"
        qd.mkdir(parents=True, exist_ok=True)
        qual = pd.DataFrame([
            (f"2022Q{q}", "091", "90", "iakkaat", "comprehensive"),
            (f"2022Q{q}", "005", "16", "iakkaat", "partial" if q == 2 else "comprehensive"),
            (f"2022Q{q}", "091", "90", "lapsiperheet", "comprehensive"),
            (f"2022Q{q}", "091", "90", "lastensuojelu", "comprehensive"),
        ], columns=["quarter", "municipality_code", "county_code", "service_task", "quality"])
        qual.to_csv(qd / "quality.csv", index=False)
    return folder


def test_eur_per_client_and_coverage(tmp_path):
    build = _register_tables(tmp_path / "build")
    t = costs.run_costs(2022, make_data(tmp_path), None, out_dir=build)
    pc = t["per_client"]
    h90 = row(pc, region_code="90", package_code="hoito_hoiva")
    assert (h90["clients"], h90["eur_per_client"]) == (40, 100.0)
    assert (h90["coverage_pct"], h90["coverage_partial"], h90["coverage_basis"]) == (
        100.0, 0, "quality")
    h16 = row(pc, region_code="16", package_code="hoito_hoiva")
    assert (h16["clients"], h16["eur_per_client"]) == (50, 50.0)
    assert (h16["coverage_pct"], h16["coverage_partial"]) == (0.0, 1)
    nat = row(pc, region_code="ALL", package_code="hoito_hoiva")
    assert nat["eur_per_client"] == round(6500 / 90, 6)
    assert nat["coverage_pct"] == round(100 * 200 / 350, 4)
    # lapset_perheet ↔ lapsiperheet + lastensuojelu: 800 / (30 + 10)
    lp = row(pc, region_code="90", package_code="lapset_perheet")
    assert lp["service_tasks"] == "lapsiperheet+lastensuojelu"
    assert (lp["clients"], lp["eur_per_client"]) == (40, 20.0)


def test_per_client_without_register_is_flagged_not_invented(tmp_path):
    pc = run(tmp_path)["per_client"]
    assert pc["clients"].isna().all() and pc["eur_per_client"].isna().all()
    assert (pc["coverage_partial"] == 1).all() and (pc["coverage_basis"] == "none").all()


# --------------------------------------------------------------------------- annex and CLI

def test_annex_structure(tmp_path):
    from openpyxl import load_workbook

    t = run(tmp_path)
    p = costs.write_costs_annex(t, tmp_path / "annex.xlsx", synthetic=True, year=2022)
    wb = load_workbook(p)
    assert wb.sheetnames[0] == "Tietoja"
    notes = [c.value for c in wb["Tietoja"]["B"]]
    assert any("synteettisestä" in str(v) for v in notes)
    for ws in wb.worksheets:
        assert not ws.merged_cells.ranges, ws.title
        assert len(ws.tables) == 1, ws.title
        (table,) = ws.tables.values()
        assert table.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        header = [c.value for c in ws[1]]
        assert all(isinstance(h, str) and h for h in header) and len(set(header)) == len(header)
        for r in ws.iter_rows(min_row=2):
            values = [c.value for c in r]
            assert any(v not in (None, "") for v in values), f"blank row in {ws.title}"
            for c in r:
                assert c.data_type != "f", f"formula in {ws.title}!{c.coordinate}"
    pk = wb["Paketit"]
    rows = list(pk.iter_rows(min_row=2, values_only=True))
    hoito = [r for r in rows if r[1] == "Hoito- ja hoivapalvelut"][0]
    assert hoito[3] == 6500.0  # euros as numbers, not text
    assert len(rows) == 17


def test_cli_costs_writes_tables_and_annex(tmp_path, capsys):
    import argparse

    from seuranta.costs.model import add_parser

    data = make_data(tmp_path)
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["costs", "--year", "2022", "--data", str(data),
                         "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    target = tmp_path / "out" / "costs" / "2022"
    assert (target / "tables" / "allocation.csv").is_file()
    assert (target / "annex" / "kustannukset_2022.xlsx").is_file()
    back = costs.read_tables(target / "tables")
    assert back["allocation"]["region_code"].iloc[0] == "01"
    assert "97.2" in capsys.readouterr().out


def test_missing_ledger_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="no cost ledger"):
        costs.run_costs(2022, tmp_path, None)


def test_ledger_years(tmp_path):
    assert costs.ledger_years(make_data(tmp_path)) == [2022, 2023]
    assert costs.ledger_years(tmp_path / "nothing") == []


@pytest.mark.slow
def test_chapter_notebook_executes(tmp_path):
    from functools import partial

    import jupytext
    import nbformat
    import papermill as pm

    from seuranta.publication import gate

    build = _register_tables(tmp_path / "build")
    # as the pipeline runs it: the gate publishes the tables the chapter reads its figures from
    target = costs.run_and_write(2022, make_data(tmp_path), build, params={},
                                 publish=partial(gate.publish_costs, params={}))
    nb = jupytext.read(Path(__file__).resolve().parents[1] / "notebooks" / "costs.md")
    out = tmp_path / "costs.ipynb"
    pm.execute_notebook(nb, str(out), parameters={"year": 2022,
                        "tables_dir": str(target / "tables"), "synthetic": True},
                        kernel_name="python3", progress_bar=False)
    text = "\n".join(o["data"].get("text/markdown", "")
                     for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if "data" in o)
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)   # as a reader sees escaped cells
    assert "Synteettinen aineisto" in text
    assert "97,9\u00a0%" in text           # 7550.50 / 7710.50 allocated
    # area 16 (register coverage 0 %): € per client not published, the reason given
    t4 = text[text.index("Taulukko 4."):]
    assert "| . |" in t4 and "ei julkaista: rekisterin kattavuus alueella alle 80" in t4


@pytest.mark.skipif(__import__("shutil").which("soffice") is None,
                    reason="LibreOffice (soffice) not installed")
def test_annex_opens_in_libreoffice_with_the_table_values(tmp_path):
    from openpyxl import load_workbook
    from test_annex import soffice_csv

    t = run(tmp_path)
    p = costs.write_costs_annex(t, tmp_path / "annex.xlsx", synthetic=True, year=2022)
    sheets = soffice_csv(p, tmp_path / "csv", tmp_path / "lo-profile")
    wb = load_workbook(p)
    assert set(sheets) == set(wb.sheetnames)
    for ws in wb.worksheets:
        lo = sheets[ws.title]
        assert len(lo) == ws.max_row, ws.title
        assert lo[0] == [str(c.value) for c in ws[1]], ws.title
        for lo_row, row in zip(lo[1:], ws.iter_rows(min_row=2, values_only=True)):
            for text, value in zip(lo_row, row):
                if isinstance(value, (int, float)):
                    assert float(text) == pytest.approx(float(value)), ws.title
                else:
                    assert text == ("" if value is None else str(value)), ws.title


def test_per_client_suppressed_under_the_coverage_parameter(tmp_path):
    """Region 16 has 0 % register coverage: € per client (50 €, computed from too few
    clients) is not published; region 90 (100 %) is; the reason is in Finnish."""
    from openpyxl import load_workbook

    build = _register_tables(tmp_path / "build")
    t = costs.run_costs(2022, make_data(tmp_path), None, out_dir=build)
    params = {"costs": {"per_client_min_coverage_pct": 80.0},
              "publication": {"date": "2024-03-15", "author": "THL"}}
    p = costs.write_costs_annex(t, tmp_path / "a.xlsx", synthetic=True, year=2022,
                                params=params)
    ws = load_workbook(p)[costs.SHEETS_FI["per_client"]]
    rows = list(ws.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    by = {(r[col["Aluekoodi"]], r[col["Tietopaketti"]]): r for r in rows[1:]}
    h16 = by[("16", "Hoito- ja hoivapalvelut")]
    assert h16[col["Euroa asiakasta kohden"]] == "."
    assert h16[col["Huomautus"]] == "Ei julkaista: rekisterin kattavuus 0\u00a0%, alle 80\u00a0%"
    h90 = by[("90", "Hoito- ja hoivapalvelut")]
    assert h90[col["Euroa asiakasta kohden"]] == 100 and not h90[col["Huomautus"]]
    # the safeguard bypassed (threshold 0): the inflated figure would be published
    p0 = costs.write_costs_annex(t, tmp_path / "b.xlsx", synthetic=True, year=2022,
                                 params={"costs": {"per_client_min_coverage_pct": 0}})
    rows0 = list(load_workbook(p0)[costs.SHEETS_FI["per_client"]].iter_rows(values_only=True))
    assert [r for r in rows0 if r[0] == "16" and r[2] == "Hoito- ja hoivapalvelut"][0][
        col["Euroa asiakasta kohden"]] == 50


def test_small_regional_client_counts_are_hidden_with_their_eur_per_client():
    """A region with 3 whole-year clients: cost ÷ € per client would give 3 back, so both
    are suppressed ("..") and so is the next smallest region (else the country minus the
    shown regions gives it); a package without small counts is untouched. With the
    safeguard bypassed (min_count 1) the 3 is recovered from the published figures."""
    pc = pd.DataFrame({
        "region_code": ["01", "02", "03", "ALL", "01", "02", "03", "ALL"],
        "package_code": ["a"] * 4 + ["b"] * 4,
        "clients": [3, 40, 50, 93, 30, 40, 50, 120],
        "cost_eur": [300.0, 4000.0, 5000.0, 9300.0, 600.0, 800.0, 1000.0, 2400.0],
        "eur_per_client": [100.0, 100.0, 100.0, 100.0, 20.0, 20.0, 20.0, 20.0],
        "coverage_pct": [100.0] * 8})
    clients, eur, reason = costs.per_client_published(pc, 80.0, 5)
    assert clients.isna().tolist() == [True, True, False, False] + [False] * 4
    assert eur.isna().tolist() == clients.isna().tolist()
    assert reason[0].startswith("Salattu") and reason[1].startswith("Salattu")
    # no published figure gives the 3 back: neither cost ÷ € nor the country minus the rest
    shown = pc.assign(c=clients, e=eur)
    recovered = {round(r.cost_eur / r.e) for r in shown.itertuples() if pd.notna(r.e)}
    a = shown[shown["package_code"] == "a"]
    assert 3 not in recovered and a["c"].isna().sum() == 2
    # bypassed: every figure shown, and cost ÷ € per client is the count
    c0, e0, _ = costs.per_client_published(pc, 80.0, 1)
    assert c0.notna().all() and round(pc.loc[0, "cost_eur"] / e0[0]) == 3
