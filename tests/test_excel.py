"""Tests of the one accessible Excel writer (seuranta.core.excel)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from seuranta.core import excel
from seuranta.core.symbols import NOT_AVAILABLE, SUPPRESSED, SYMBOLS

DATE = dt.date(2024, 3, 1)


def _frame():
    return pd.DataFrame({"Kunta": ["Alavus", "=SUM(A1)", "Ähtäri"],
                         "Asiakkaat": [np.int64(1234), SUPPRESSED, 7],
                         "Osuus, %": [2.0, 12.345, NOT_AVAILABLE]})


def _write(tmp_path, frame=None, **kw):
    sheets = [excel.Sheet("Taulu", "Testitaulukko", _frame() if frame is None else frame,
                          formats={"Osuus, %": "0.0"})]
    return excel.write_workbook(tmp_path / "t.xlsx", sheets, title="Testi",
                                notes=[("Lähde", "THL")], date=DATE, **kw)


def test_cells_numbers_texts_and_formats(tmp_path):
    wb = openpyxl.load_workbook(_write(tmp_path))
    assert wb.sheetnames == ["Tietoja", "Taulu"]
    ws = wb["Taulu"]
    assert [c.value for c in ws[1]] == ["Kunta", "Asiakkaat", "Osuus, %"]
    assert ws["B2"].value == 1234 and ws["B2"].data_type == "n" and ws["B2"].number_format == "#,##0"
    assert ws["C2"].value == 2.0 and ws["C2"].number_format == "0.0"
    # a text starting with "=" stays text, never a formula
    assert ws["A3"].value == "=SUM(A1)" and ws["A3"].data_type == "s"
    assert ws["B3"].value == SUPPRESSED and ws["B3"].alignment.horizontal == "right"
    # one Excel table over the whole range, frozen header, no merged cells
    assert list(ws.tables.values())[0].ref == "A1:C4"
    assert ws.freeze_panes == "A2" and not ws.merged_cells.ranges


def test_notes_explain_the_symbols_used_and_sheets(tmp_path):
    wb = openpyxl.load_workbook(_write(tmp_path))
    notes = {r[0]: r[1] for r in wb["Tietoja"].iter_rows(min_row=2, values_only=True)}
    assert notes["Julkaisu"] == "Testi" and notes["Taulukko: Taulu"] == "Testitaulukko"
    assert notes[f"Symboli {SUPPRESSED}"] == SYMBOLS[SUPPRESSED][0]
    assert f"Symboli {NOT_AVAILABLE}" in notes
    assert "Symboli x" not in notes          # not used, not listed
    assert wb.properties.title == "Testi" and wb.properties.language == "fi-FI"


def test_unexplained_text_in_a_numeric_column_is_refused(tmp_path):
    f = _frame()
    f.loc[1, "Asiakkaat"] = "o"
    with pytest.raises(ValueError, match="Asiakkaat"):
        _write(tmp_path, f)


def test_missing_value_is_refused(tmp_path):
    f = _frame()
    f.loc[0, "Osuus, %"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        _write(tmp_path, f)


def test_same_content_same_bytes(tmp_path):
    a = _write(tmp_path).read_bytes()
    b = _write(tmp_path).read_bytes()
    assert a == b


def test_hyperlink_on_notes(tmp_path):
    p = _write(tmp_path, links={"Lähde": "https://thl.fi/"})
    ws = openpyxl.load_workbook(p)["Tietoja"]
    cell = [r[1] for r in ws.iter_rows(min_row=2) if r[0].value == "Lähde"][0]
    assert cell.hyperlink.target == "https://thl.fi/"
