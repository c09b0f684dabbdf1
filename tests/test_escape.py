"""Outside text escaped per format (seuranta.core.escape, issue 20), checked with the hostile
corpus by independent parsers: markdown-it with MyST's extensions (what the book uses),
Python's HTML parser, xelatex and pdftotext, openpyxl, pandas' CSV reader."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from html.parser import HTMLParser

import pandas as pd
import pytest
from hostile import CORPUS, MARK, corpus_items
from markdown_it.common.utils import escapeHtml

from seuranta.core import escape, excel, tables
from seuranta.publication import bookfmt

IDS = [k for k, _ in corpus_items()]
VALUES = [v for _, v in corpus_items()]


def _myst_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser
    exts = {"colon_fence", "deflist", "dollarmath", "substitution"}   # as _config.yml
    return create_md_parser(MdParserConfig(enable_extensions=exts), RendererHTML)


class _Collect(HTMLParser):
    """Tags and text of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("!--", [data]))


def _parse(fragment: str) -> _Collect:
    p = _Collect()
    p.feed(fragment)
    p.close()
    return p


def test_config_extensions_are_the_tested_ones():
    """The parser of these tests has the book's MyST extensions (a new one could add
    syntax that the escaping has not been tested against)."""
    import yaml

    from seuranta.core.params import PROJECT_DIR
    cfg = yaml.safe_load((PROJECT_DIR / "_config.yml").read_text(encoding="utf-8"))
    assert set(cfg["parse"]["myst_enable_extensions"]) == {"colon_fence", "deflist",
                                                             "dollarmath", "substitution"}


@pytest.mark.parametrize("text", VALUES, ids=IDS)
def test_myst_renders_as_the_text_itself(text):
    """Escaped text is one paragraph whose text is the (cleaned) text: no role, directive,
    tag, link, image, math, heading or list was made of it."""
    html = _myst_parser().render(escape.myst(text))
    expected = escape.plain(text).strip()
    assert html == f"<p>{escapeHtml(expected)}</p>\n"


@pytest.mark.parametrize("text", VALUES, ids=IDS)
def test_markdown_table_cell_holds_the_text(text):
    """A table with the text in a cell (and a caption) keeps its shape and shows the text."""
    df = pd.DataFrame({"Kunta": ["Helsinki", text], "Perustelu": [text, "ok"]})
    html = _myst_parser().render(bookfmt.md_table(df, right=[]))
    p = _parse(html)
    assert {t for t, _ in p.tags} <= {"table", "thead", "tbody", "tr", "th", "td"}
    assert sum(t == "td" for t, _ in p.tags) == 4
    assert sum(t == "tr" for t, _ in p.tags) == 3
    assert escape.plain(text).strip() in "".join(p.text)


def test_table_block_escapes_its_caption():
    block = bookfmt.table_block(f"Taulukko {CORPUS['download_key']}", pd.DataFrame({"a": [1]}))
    assert "{download}" not in block.replace("\\{download\\}", "")


def test_markup_is_passed_through():
    """Markup the code wrote itself (a download of its own file) stays markup."""
    own = escape.Markup("{download}`liite.xlsx <liite.xlsx>`")
    assert escape.myst(own) == own
    assert own in bookfmt.md_table(pd.DataFrame({"Lataa": [own]}), markup=("Lataa",))
    assert own not in bookfmt.md_table(pd.DataFrame({"Lataa": [own]}))


@pytest.mark.parametrize("text", VALUES, ids=IDS)
def test_html_is_text_alone_and_inside_markdown(text):
    expected = escape.plain(text)
    alone = _parse(f"<td>{escape.html(text)}</td>")
    assert alone.tags == [("td", [])] and "".join(alone.text) == expected
    attr = _parse(f'<a title="{escape.html(text)}">x</a>')
    assert attr.tags == [("a", [("title", expected)])]
    # inline HTML inside a Markdown list item: the text between tags is Markdown too
    inline = _parse(_myst_parser().render(f"- <span>{escape.html(text)}</span>\n"))
    assert [t for t, _ in inline.tags] == ["ul", "li", "span"]
    assert "".join(inline.text).strip() == expected.strip()


@pytest.mark.skipif(shutil.which("xelatex") is None or shutil.which("pdftotext") is None,
                    reason="xelatex and pdftotext needed")
def test_latex_prints_the_text(tmp_path):
    """Every corpus string escaped into one LaTeX table: it compiles, prints each string
    (\\input{/etc/passwd} as text, not the file) and runs no shell command."""
    rows = "\n".join(f"{escape.latex(k)} & {escape.latex(v)} \\\\ \\hline"
                     for k, v in corpus_items())
    # a table with narrow columns, as Sphinx writes the book's (a 1 000-character word in a
    # cell made xelatex hang, a 2 000-character one crash: escape.MAX_RUN)
    doc = (r"\documentclass{article}\usepackage{fontspec}\usepackage{longtable}"
           r"\begin{document}\begin{longtable}{|p{2.5cm}|p{8cm}|}\hline " + rows
           + r"\end{longtable}\end{document}")
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    r = subprocess.run(["xelatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]
    text = subprocess.run(["pdftotext", "-layout", "t.pdf", "-"], cwd=tmp_path,
                          capture_output=True, text=True).stdout
    assert text.count(MARK) >= len(CORPUS)
    assert "root:" not in text                         # /etc/passwd was not read
    assert "input{/etc/passwd}" in text.replace("\\", "")
    assert not (tmp_path / MARK).exists() and not list(tmp_path.glob("*SEURANTAX*"))


def test_latex_escapes_every_special_character():
    out = escape.latex(r"\ { } $ & # ^ _ % ~ < > | [ ]")
    for bare in "$&#_%":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == bare)
    assert "\\input" not in escape.latex(r"\input{x}")


@pytest.mark.parametrize("text", VALUES, ids=IDS)
def test_excel_cell_is_text(text, tmp_path):
    from openpyxl import Workbook, load_workbook
    wb = Workbook()
    excel.put(wb.active, 1, 1, text)
    wb.save(tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx").active["A1"]
    assert back.data_type == "s" and back.value == escape.cell(text).replace("\r\n", "\n")
    with zipfile.ZipFile(tmp_path / "t.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml
    assert len(back.value) <= escape.EXCEL_MAX_CHARS


def test_csv_guard_round_trip(tmp_path):
    """Written with the formula guard (no cell starts a formula), read back by the one
    reader as the text itself: the book shows "=HYPERLINK(…)", not "'=HYPERLINK(…)"."""
    texts = [v for v in VALUES if "\x00" not in v] + ["'", "''=x", "-", "-12", "+3.5", "'abc"]
    tables.write_csv(pd.DataFrame({"quarter": "2023Q1", "reason": texts}), tmp_path / "t.csv")
    raw = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)["reason"]
    for v in raw:
        assert v == "-" or escape._PLAIN_NUMBER.fullmatch(v) or v[0] not in "=+-@\t\r"
    back = tables.read_table(tmp_path, "t")["reason"].fillna("").tolist()
    assert back == texts


def test_reference_names_are_plain():
    """Names reach every format: the shipped reference passes, a name with markup, a control
    or an invisible character is refused with its file, row and column."""
    from seuranta.core import reference
    from seuranta.core.errors import InputError
    for f in ("municipalities.csv", "counties_sv.csv", "service_tasks.csv"):
        reference.check_names(pd.read_csv(reference.REFERENCE_DIR / f, dtype=str), f)
    for bad in (CORPUS["download_key"], CORPUS["img_onerror"], "Hel\u202esinki", "Espoo\n"):
        with pytest.raises(InputError, match=r"x\.csv: row 2: name_fi .* is not a plain name"):
            reference.check_names(pd.DataFrame({"name_fi": ["Helsinki", bad]}), "x.csv")
