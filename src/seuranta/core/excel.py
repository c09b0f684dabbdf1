"""The one accessible Excel writer of every published or circulated workbook.

Follows the UK Analysis Function's gptables guidance (and THL's own accessibility rules):

* a first sheet ``Tietoja`` (notes) with the publication, source, date, one line per table
  sheet and one line per symbol of :mod:`seuranta.core.symbols` that the workbook uses;
* every table sheet has exactly one header row (row 1), an Excel table object over the whole
  data range, no merged cells, no blank rows, a frozen header row and set column widths;
* values, never formulas: a text that starts with ``=`` is stored as text;
* numbers are numeric cells with a number format: Excel's format codes are
  locale-independent, so ``#,##0`` shows ``1 234`` and ``0.0`` shows ``2,0`` in a Finnish
  Excel or LibreOffice (the stored code uses the invariant ``,`` and ``.``);
* a cell that shows no number holds one of the explained symbols; any other text in a
  numeric column is an error (:class:`ValueError` naming sheet, column and value);
* the same content and date give the same bytes (zip entry times fixed to the date).

Usage::

    write_workbook(path, [Sheet("Paketit", "Kustannukset …", df, formats={"€": INTEGER})],
                   title="…", notes=[("Lähde", "…")], date=dt.date(2024, 3, 1))
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from seuranta.core import escape
from seuranta.core.errors import writing
from seuranta.core.symbols import SYMBOLS

#: Number formats (invariant codes; shown with Finnish separators by a Finnish Excel).
INTEGER = "#,##0"
DECIMAL1 = "#,##0.0"
DECIMAL2 = "#,##0.00"

NOTES_SHEET = "Tietoja"
NOTES_HEADER = ["Kohta", "Tieto"]


@dataclass
class Sheet:
    """One table sheet: ``frame``'s columns become the header row.

    ``formats`` maps a column to its number format; numeric columns without one get
    ``INTEGER`` when every value is whole, else ``DECIMAL1``. ``widths`` caps or sets a
    column's width (characters); ``wrap`` wraps every cell's text.
    """

    name: str
    description: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    widths: dict[str, int] = field(default_factory=dict)
    wrap: bool = False


def put(ws, row: int, column: int, value):
    """Write ``value`` into a cell, never as a formula: the one rule of every workbook the
    project writes (annexes and review forms). Text is stored as text even when it starts
    with ``=``, cleaned by :func:`seuranta.core.escape.cell` (no character an XML cell cannot
    hold, at most 32 767 characters); numbers and None as they are. Returns the cell."""
    if isinstance(value, str):
        value = escape.cell(value)
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _plain(v):
    """A cell value as a Python scalar: None for missing, int/float for numbers, else str."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "Kyllä" if v else "Ei"
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (int, float)):
        return v
    return str(v)


def _column_kind(sheet: Sheet, col: str, values: list) -> str:
    """``number`` when the column holds numbers (and maybe symbols), else ``text``."""
    nums = [v for v in values if isinstance(v, (int, float))]
    texts = [v for v in values if isinstance(v, str)]
    if not nums and col not in sheet.formats:
        return "text"
    bad = sorted({t for t in texts if t not in SYMBOLS})
    if bad:
        raise ValueError(f"Excel sheet {sheet.name!r}, column {col!r}: numbers mixed with "
                         f"text that is not an explained symbol: {bad[:3]}")
    return "number"


def _table_name(sheet_name: str, used: set[str]) -> str:
    ascii_ = (sheet_name.translate(str.maketrans("åäöÅÄÖ", "aaoAAO")))
    base = "T_" + re.sub(r"[^0-9A-Za-z_]", "_", ascii_)
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


def _write_sheet(ws, sheet: Sheet, used_names: set[str]) -> set[str]:
    """Write one table sheet; returns the symbols it uses."""
    df = sheet.frame
    cols = [str(c) for c in df.columns]
    if not cols:
        raise ValueError(f"Excel sheet {sheet.name!r} has no columns")
    columns = {c: [_plain(v) for v in df.iloc[:, j]] for j, c in enumerate(cols)}
    kinds = {c: _column_kind(sheet, c, columns[c]) for c in cols}
    for c, vals in columns.items():
        if any(v is None for v in vals):
            raise ValueError(f"Excel sheet {sheet.name!r}, column {c!r}: a missing value; "
                             f"write an explained symbol instead")
    used_symbols: set[str] = set()
    bold = Font(bold=True)
    for j, c in enumerate(cols, start=1):
        cell = put(ws, 1, j, c)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    nrow = len(df)
    for j, c in enumerate(cols, start=1):
        vals = columns[c]
        fmt = sheet.formats.get(c)
        if kinds[c] == "number" and fmt is None:
            whole = all(float(v).is_integer() for v in vals if isinstance(v, (int, float)))
            fmt = INTEGER if whole else DECIMAL1
        right = Alignment(horizontal="right", wrap_text=sheet.wrap, vertical="top")
        left = Alignment(wrap_text=sheet.wrap, vertical="top") if sheet.wrap else None
        for i, v in enumerate(vals, start=2):
            cell = put(ws, i, j, v)           # values only: never a formula
            if isinstance(v, str):
                if kinds[c] == "number":
                    used_symbols.add(v)
                    cell.alignment = right
                elif left is not None:
                    cell.alignment = left
            else:
                cell.number_format = fmt
                if left is not None:
                    cell.alignment = right
    if nrow == 0:
        raise ValueError(f"Excel sheet {sheet.name!r} has no rows")
    ref = f"A1:{get_column_letter(len(cols))}{nrow + 1}"
    table = Table(displayName=_table_name(sheet.name, used_names), ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    for j, c in enumerate(cols, start=1):
        longest = max([len(c)] + [len(str(v)) for v in columns[c][:500]])
        cap = sheet.widths.get(c, 45)
        ws.column_dimensions[get_column_letter(j)].width = max(min(longest + 2, cap), 8)
    return used_symbols


def sheet_name(text: str) -> str:
    """A valid Excel sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    return re.sub(r"[\[\]:*?/\\]", " ", str(text)).strip()[:31]


def write_workbook(path: Path | str, sheets: list[Sheet], *, title: str,
                   notes: list[tuple[str, str]], date: dt.date, creator: str = "THL",
                   subject: str = "", description: str = "", language: str = "fi-FI",
                   links: dict[str, str] | None = None,
                   symbols: dict[str, tuple[str, str]] | None = None) -> Path:
    """Write an accessible workbook: the notes sheet, then ``sheets`` in order.

    ``notes`` are (Kohta, Tieto) rows of the notes sheet, after the title; each sheet's
    description and the meaning of each symbol used follow them. ``links`` maps a notes row
    (its Kohta) to a URL made into a hyperlink. ``symbols`` replaces the meanings of
    :data:`seuranta.core.symbols.SYMBOLS` (same keys) where a workbook needs a more
    specific sentence. The file is written atomically (``.tmp`` then rename).
    """
    path = Path(path)
    names = [s.name for s in sheets]
    if len(set(names)) != len(names) or NOTES_SHEET in names:
        raise ValueError(f"Excel sheet names must be unique and not {NOTES_SHEET!r}: {names}")
    for n in names:
        if n != sheet_name(n):
            raise ValueError(f"not a valid Excel sheet name: {n!r}")
    meanings = {k: v[0] for k, v in SYMBOLS.items()}
    meanings.update({k: v[0] for k, v in (symbols or {}).items()})

    wb = Workbook()
    notes_ws = wb.active
    notes_ws.title = NOTES_SHEET
    used_names: set[str] = set()
    used_symbols: set[str] = set()
    for s in sheets:
        used_symbols |= _write_sheet(wb.create_sheet(s.name), s, used_names)
    rows = [("Julkaisu", title)] + list(notes)
    rows += [(f"Taulukko: {s.name}", s.description) for s in sheets]
    rows += [(f"Symboli {k}", meanings[k]) for k in SYMBOLS if k in used_symbols]
    notes_sheet = Sheet(NOTES_SHEET, "", pd.DataFrame(rows, columns=NOTES_HEADER),
                        widths={"Kohta": 40, "Tieto": 100}, wrap=True)
    _write_sheet(notes_ws, notes_sheet, used_names)
    for row in notes_ws.iter_rows(min_row=2):
        url = (links or {}).get(row[0].value)
        if url:
            row[1].hyperlink = url
            row[1].style = "Hyperlink"
            row[1].alignment = Alignment(wrap_text=True, vertical="top")

    wb.properties.title = title
    wb.properties.creator = creator
    wb.properties.language = language
    wb.properties.subject = subject
    wb.properties.description = description
    stamp = dt.datetime.combine(date, dt.time(0, 0))
    wb.properties.created = stamp
    wb.properties.modified = stamp
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
        wb.save(tmp)
    _fix_times(tmp, stamp)
    tmp.replace(path)
    return path


def _fix_times(path: Path, stamp: dt.datetime) -> None:
    """Same content and date → the same bytes: openpyxl stamps the save time into
    docProps/core.xml and every zip entry; replace both with ``stamp``."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + iso.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
