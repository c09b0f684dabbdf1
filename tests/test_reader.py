"""What a reader meets, read back from the session's one small release (tests/conftest.py):
the book in headless Chromium at 1 400 and 420 px, each quarter's PDF with pdftotext, and
each Excel annex after a LibreOffice round trip."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from cdp import Browser, chromium
from test_annex import soffice_csv

from seuranta.core.symbols import SYMBOLS
from seuranta.publication import book as publish
from seuranta.publication import bookfmt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release")]

#: Interface strings of the themes that must not reach a Finnish reader.
ENGLISH_UI = ["Skip to main content", "Back to top", "Search this book", "Contents",
              "Print to PDF", "Download source", "Fullscreen mode", "Toggle navigation",
              "previous page", "next page", "Copy to clipboard", "Table ", "Figure ",
              "continued from previous page", "Continued on next page"]

PAGE_FACTS = r"""(() => {
  const attrs = [];
  document.querySelectorAll('[aria-label],[title],[placeholder],[alt]').forEach(e => {
    for (const a of ['aria-label', 'title', 'placeholder']) if (e.getAttribute(a)) attrs.push(e.getAttribute(a));
  });
  return {
    title: document.title,
    h1: (document.querySelector('main h1, article h1, h1') || {}).innerText || '',
    text: document.body.innerText,
    attrs: attrs,
    // a formula's image is hidden from assistive technology (its MathML follows it)
    images: Array.from(document.images).filter(i => i.getAttribute('aria-hidden') !== 'true')
      .map(i => ({alt: i.getAttribute('alt'), src: i.getAttribute('src') || ''})),
    tables: Array.from(document.querySelectorAll('main table, article table')).map(
      t => t.caption ? t.caption.innerText.trim() : ''),
    scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
  };
})()"""


def _is_path(alt: str, src: str) -> bool:
    return (alt == src or bool(re.search(r"\.(png|svg|jpe?g|gif|webp)$", alt, re.I))
            or bool(re.fullmatch(r"[\w./-]+/[\w.-]+", alt)))


def _pages(release) -> list[Path]:
    html = release["html"]
    pages = [html / "index.html", html / "book" / "menetelmat.html", html / "symbolit.html",
             html / "lataukset.html", html / "alueet" / "08.html"]
    for q in release["quarters"]:
        pages += [html / q / "index.html", html / q / "yhteenveto.html",
                  html / q / "tehtava_vammaispalvelut.html", html / q / "monipalvelu.html"]
    costs = sorted(html.glob("kustannukset/*.html"))
    return pages + costs


def test_book_in_headless_chromium(release, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed")
    b = Browser(tmp_path / "profile")
    titles: dict[str, list[str]] = {}
    try:
        for page in _pages(release):
            assert page.is_file(), page
            for width in (1400, 420):
                b.open(page.as_uri(), width)
                where = f"{page.relative_to(release['html'])} at {width} px"
                outside = [u for u in b.requests()
                           if not u.startswith(("file:", "data:", "about:", "blob:"))]
                assert not outside, (where, outside[:5])
                f = b.js(PAGE_FACTS)
                for img in f["images"]:
                    assert img["alt"], (where, img["src"][:60])
                    assert not _is_path(img["alt"], img["src"]), (where, img["alt"])
                assert all(f["tables"]), (where, f["tables"])
                shown = f["text"] + "\n" + "\n".join(f["attrs"])
                english = [s for s in ENGLISH_UI if s in shown]
                assert not english, (where, english)
                assert "IPython.core" not in shown and "<IPython" not in shown, where
                if width == 420:
                    assert f["scrollWidth"] <= f["width"] + 1, where
                    if page.name == "tehtava_vammaispalvelut.html":
                        b.screenshot(tmp_path / f"{page.parent.name}_{page.stem}_420.png")
                else:
                    titles.setdefault(page.name, []).append(f["title"])
                    q = page.parent.name
                    if q in release["quarters"]:
                        assert bookfmt.quarter_name(q) in f["h1"], (where, f["h1"])
    finally:
        b.close()
    for name in ("yhteenveto.html", "tehtava_vammaispalvelut.html", "index.html"):
        got = titles[name] if name != "index.html" else titles[name][1:]
        assert len(set(got)) == len(got) == len(release["quarters"]), (name, got)


def _pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def _pdfinfo(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                         text=True).stdout
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines())}


def test_working_papers_with_pdftotext(release):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    info = publish.publication_info(release["params"])
    for q in release["quarters"]:
        pdf = release["out"] / "pdf" / f"{q}.pdf"
        text = re.sub(r"[\u00a0\u202f\u2009 ]+", " ", _pdftext(pdf))
        number = info["numbers"].get(q)
        assert number and f"{info['series']} {number}" in text, q
        assert f"Julkaisupäivä {info['date_fi']}" in text, q
        assert "Suositeltava viittaus" in text
        assert re.search(r"^\s*(Liite \w+\s+)?Menetelmät\s*$", text, re.M), q
        assert "Koko maan arvio" in text          # a section of the methods chapter
        for bad in ("continued from previous page", "Continued on next page"):
            assert bad not in text, (q, bad)
        assert not re.search(r"\b(nan|NaN|None)\b", text), q
        assert "IPython" not in text and "Table " not in text, q
        meta = _pdfinfo(pdf)
        assert meta["Title"] == publish.paper_title(q)
        assert meta["Author"] == info["author"]
    county = release["out"] / "pdf" / publish.COUNTY_PDF
    meta = _pdfinfo(county)
    w, h = (float(x) for x in re.findall(r"[\d.]+", meta["Page size"])[:2])
    assert w > h, "county tables are printed in landscape"
    text = _pdftext(county)
    assert "continued from previous page" not in text.lower()


def test_annexes_after_libreoffice_round_trip(release, tmp_path):
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) not installed")
    out = release["out"]
    annexes = [out / q / "annex" / f"liite_{q}.xlsx" for q in release["quarters"]]
    annexes += sorted(out.glob("costs/*/annex/*.xlsx"))
    assert len(annexes) == len(release["quarters"]) + 1
    for k, path in enumerate(annexes):
        wb = openpyxl.load_workbook(path)
        sheets = soffice_csv(path, tmp_path / f"csv{k}", tmp_path / "lo-profile")
        assert set(sheets) == set(wb.sheetnames), path.name
        for ws in wb.worksheets[1:]:
            rows = list(ws.iter_rows(min_row=2))
            lo = sheets[ws.title][1:]
            assert len(lo) == len(rows), (path.name, ws.title)
            header = [c.value for c in ws[1]]
            numeric = {j for j in range(len(header))
                       if any(isinstance(r[j].value, (int, float)) for r in rows)}
            for r, lr in zip(rows, lo):
                for j, cell in enumerate(r):
                    where = (path.name, ws.title, header[j], cell.coordinate)
                    if isinstance(cell.value, (int, float)):
                        assert float(lr[j]) == pytest.approx(float(cell.value)), where
                    elif j in numeric:
                        assert cell.value in SYMBOLS, where     # only the explained symbols
                    elif isinstance(cell.value, str) and "koodi" not in str(header[j]).lower():
                        # text that reads as a number would be a number stored as text
                        assert not re.fullmatch(r"-?\d+([.,]\d+)?", cell.value), where


# ---- issue 13: the book's HTML shows exactly the gate's cells -------------------------

class _Tables(HTMLParser):
    """Every <table> of a page as (caption, rows of cell texts)."""

    def __init__(self):
        super().__init__()
        self.tables, self._t, self._row, self._cell, self._cap = [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._t = ["", []]
        elif tag == "caption" and self._t is not None:
            self._cap = []
        elif tag == "tr" and self._t is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._t is not None:
            self.tables.append((self._t[0], self._t[1]))
            self._t = None
        elif tag == "caption" and self._cap is not None:
            self._t[0] = " ".join("".join(self._cap).split())
            self._cap = None
        elif tag == "tr" and self._row is not None:
            self._t[1].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        for buf in (self._cell, self._cap):
            if buf is not None:
                buf.append(data)


def test_task_pages_show_exactly_the_gates_county_cells(release):
    """Every task chapter's county table (THL's VA1) in the built HTML, cell by cell, is the
    gate's published totals.csv: the comprehensive municipalities together and each county's
    ("Osin …") clients, or the suppression symbol where the gate hid them. A chapter that
    computed a subtotal from the exact tables (the leak of issue 13) would differ here."""
    out, html = release["out"], release["html"]
    names = bookfmt.county_names()
    checked = hidden = 0
    for q in release["quarters"]:
        tot = pd.read_csv(out / q / "published" / "totals.csv", dtype=str,
                          keep_default_na=False)
        for page in sorted((html / q).glob("tehtava_*.html")):
            task = page.stem.removeprefix("tehtava_")
            p = _Tables()
            p.feed(page.read_text(encoding="utf-8"))
            va1 = [rows for cap, rows in p.tables
                   if "hyvinvointialueittain" in cap and rows and rows[0] == ["Alue", "Asiakkaat"]]
            assert va1, (q, task)
            shown = {r[0]: r[1].replace("\u00a0", " ").replace("\u202f", " ")
                     for r in va1[0][1:]}
            kind = "used" if bookfmt.estimated(task) else "registered"
            t = tot[(tot["quarter"] == q) & (tot["service_task"] == task)]
            for r in t[t["kind"].isin([kind, f"county_{kind}"])].itertuples():
                if r.kind == kind:
                    label = ("Edustavat kunnat yhteensä" if kind == "used"
                             else "Rekisteriin kirjatut yhteensä")
                else:
                    label = names[r.county_code]
                    if kind == "used" and r.whole_county != "1":
                        label = "Osin " + label
                want = r.clients_symbol or bookfmt.fi_number(int(float(r.clients)))
                assert shown.get(label, "").replace("\u00a0", " ") == want.replace(
                    "\u00a0", " ").replace("\u202f", " "), (q, task, label)
                checked += 1
                hidden += bool(r.clients_symbol)
    assert checked > 100 and hidden > 0, (checked, hidden)
