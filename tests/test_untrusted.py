"""Untrusted text through the review round and the publication (issue 20).

* ``feedback import`` refuses markup, control characters and over-long texts in a reason or
  comment with one line naming the file, sheet and row, and leaves corrections.csv as it was;
  what it accepts (formula-looking text, Finnish, a URL as text) is stored exactly.
* The shared release of ``tests/conftest.py`` is built from a corrections.csv that carries
  the whole hostile corpus (as if edited by hand): its HTML has no live markup, no remote
  resource and no file from outside the build; no workbook has a formula; no PDF printed a
  file it was told to \\input.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hostile import CORPUS, MARK, corpus_items
from test_adversarial_inputs import _form, _form_data, _import

from seuranta import cli
from seuranta.core import escape, excel
from seuranta.core.tables import write_csv
from seuranta.inputs.corrections import free_text_problem
from seuranta.publication import published
from seuranta.review import workbooks as review

IDS = [k for k, _ in corpus_items()]


@pytest.mark.parametrize("key", IDS)
def test_published_text_reads_back_as_written(tmp_path, key):
    """The gate writes its tables with the CSV formula guard; the writers read them back as
    the text itself (the book showed ''=HYPERLINK… when the published reader kept the
    guard). Compared with the text, not with another reader's output."""
    text = CORPUS[key]
    df = pd.DataFrame({"quarter": ["2023Q1"], "reason": [text], "n": [1],
                       "n_symbol": [""]})
    write_csv(df, tmp_path / "review_decisions.csv")
    back = published.read(tmp_path, "review_decisions")
    assert back["reason"].iloc[0] == (text if text else "")


@pytest.fixture(scope="module")
def form_folder(tmp_path_factory):
    """A data folder with the review key and Helsinki's earlier decision, and a blank form."""
    tmp = tmp_path_factory.mktemp("forms")
    d = _form_data(tmp)
    return tmp, d, (d / "corrections.csv").read_bytes()


def _fill(tmp: Path, name: str, column: int, text: str) -> Path:
    def edit(wb):
        ws = wb[review.FEEDBACK_SHEET]
        for r in range(review.FEEDBACK_HEADER_ROW + 1, ws.max_row + 1):
            if ws.cell(r, 4).value == "iakkaat":
                ws.cell(r, review.DECISION_COL).value = "exclude"
                ws.cell(r, review.REASON_COL).value = "kaksoiskirjauksia"
                excel.put(ws, r, column, text)   # typed as text (Excel's leading ')
    return _form(tmp, name, edit=edit)


@pytest.mark.parametrize("column", [review.REASON_COL, review.COMMENT_COL],
                         ids=["reason", "comment"])
@pytest.mark.parametrize("key", IDS)
def test_form_text(key, column, form_folder, tmp_path, capsys):
    tmp, d, before = form_folder
    text = escape.cell(CORPUS[key])        # what an xlsx cell can hold at all
    form = _fill(tmp_path, f"f-{key}", column, text)
    (d / "corrections.csv").write_bytes(before)
    capsys.readouterr()
    code = cli.main(_import(d, form))
    err = capsys.readouterr().err
    stored = text.strip()
    why = free_text_problem(stored)
    if why is None:
        assert code == 0, err
        corr = pd.read_csv(d / "corrections.csv", dtype=str, keep_default_na=False)
        col = "reason" if column == review.REASON_COL else "comment"
        assert corr.loc[corr["service_task"] == "iakkaat", col].tolist() == [stored]
        return
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    label = "Perustelu" if column == review.REASON_COL else "Kommentti"
    assert len(lines) == 2 and "Traceback" not in err, err
    assert re.fullmatch(rf".*f-{key}\.xlsx: sheet Palaute, row \d+: {label}: .+", lines[0]), lines
    assert lines[1].startswith("seuranta: error: 1 problem in the feedback forms")
    assert (d / "corrections.csv").read_bytes() == before


def test_markup_is_refused_by_the_rule():
    """Every string with HTML, a role, a directive or a link is refused by the form rule
    (the writers' escaping is the second line)."""
    refused = {k for k, v in CORPUS.items() if free_text_problem(escape.cell(v).strip())}
    must = {"script", "img_onerror", "svg_onload", "iframe", "html_comment", "download_key",
            "download_key2", "download_register", "include", "literalinclude",
            "colon_directive", "raw_directive", "md_image_remote", "md_link", "autolink",
            "substitution", "latex_input", "latex_write18", "latex_specials", "control",
            "rtl", "zero_width", "long", "long_word", "newlines", "math"}
    assert must <= refused, must - refused
    assert "finnish" not in refused and "formula_eq" not in refused


# --------------------------------------------------------------------------- the release

class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def _pages(html_dir: Path) -> dict[Path, _Page]:
    out = {}
    for p in sorted(html_dir.rglob("*.html")):
        page = _Page()
        page.feed(p.read_text(encoding="utf-8"))
        out[p] = page
    return out


@pytest.fixture(scope="module")
def pages(release):
    return _pages(release["html"])


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_has_the_corpus_as_text(release, pages):
    """The hostile reasons are on the quality pages, as text: each quarter with decisions
    shows them, the {download} and <script> written out literally."""
    shown = "".join(t for p, page in pages.items() if "aineisto_laatu" in p.name
                    for t in page.text)
    # (Sphinx's typographic quotes, Finnish ’ and ”, are the book's typography, not markup)
    shown = shown.replace("’", "'").replace("”", '"').replace("“", '"')
    assert shown.count(MARK) >= len(CORPUS)
    assert "{download}`../.review_key`" in shown
    assert "<script>alert('SEURANTAX')</script>" in shown
    assert "=HYPERLINK(" in shown and "'=HYPERLINK" not in shown    # no CSV guard shown


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_no_live_markup(pages):
    """No element, attribute, script or URL of any page was made from the corpus."""
    for p, page in pages.items():
        for tag, attrs in page.elements:
            for name, value in attrs.items():
                assert MARK not in (value or ""), (p, tag, name)
                assert not name.startswith("on") or MARK not in (value or ""), (p, tag)
        assert not any(MARK in s for s in page.scripts), p


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_no_remote_resource(pages):
    """No page makes the browser fetch anything from another host."""
    remote = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
    for p, page in pages.items():
        for tag, attrs in page.elements:
            for name in ("src", "srcset", "poster", "data"):
                assert not remote.match(attrs.get(name) or ""), (p, tag, attrs)
            if tag == "link":
                assert not remote.match(attrs.get("href") or ""), (p, attrs)


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_no_file_from_outside(release):
    """_downloads/ holds only the build's own files; the review key and register extracts
    are nowhere in the HTML folder."""
    html = release["html"]
    names = sorted(p.name for p in (html / "_downloads").rglob("*") if p.is_file())
    allowed = re.compile(r"(\d{4}Q[1-4]\.pdf|liite_\d{4}Q[1-4]\.xlsx|hyvinvointialueet\.pdf|"
                         r"kustannukset\.pdf|avoindata_.+\.zip|.+\.xlsx)")
    assert names and all(allowed.fullmatch(n) for n in names), names
    key = (release["data"] / ".review_key").read_bytes().strip()
    extract = sorted((release["data"] / "register").glob("*.csv"))[0].read_bytes()
    line = extract.splitlines()[1]   # a register row
    for p in html.rglob("*"):
        if p.is_file():
            b = p.read_bytes()
            assert key not in b and line not in b, p


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_no_formula_anywhere(release):
    for x in release["out"].rglob("*.xlsx"):
        with zipfile.ZipFile(x) as z:
            for n in z.namelist():
                if n.startswith("xl/worksheets/"):
                    xml = z.read(n).decode("utf-8")
                    assert "<f>" not in xml and "<f " not in xml, (x, n)


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_release_pdf_prints_the_text(release):
    """The working paper prints the reasons as text: no file was \\input (no passwd line),
    and the corpus's marker is there."""
    pdf = release["out"] / "pdf" / f"{release['quarters'][-1]}.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert MARK in text
    assert "root:x:0:0" not in text
