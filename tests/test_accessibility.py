"""Accessibility of the built book (issue 25): axe-core, from the npm registry
(tests/js/package.json, pinned in package-lock.json; ``make setup`` runs ``npm ci``),
injected into the pages of the session's small release (tests/conftest.py) in headless
Chromium: no violation of impact "serious" or "critical" on the newest quarter's pages,
the landing page, the Swedish and English summaries and the comparison pages."""

from __future__ import annotations

import html as _html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from axe import AXE_JS, BLOCKING, axe_source, totals, violations
from cdp import Browser, chromium
from test_book_sandbox import _build

from seuranta.publication import book, bookfmt


def _pages(release) -> list[Path]:
    html = release["html"]
    newest = release["quarters"][-1]
    pages = sorted((html / newest).glob("*.html"))
    pages += [html / "index.html", html / "uusimmat.html", html / "svenska.html",
              html / "english.html", html / "vertailu" / "index.html",
              html / "vertailu" / "kunnat.html", html / "vertailu" / "08.html",
              html / "book" / "menetelmat.html"]
    return pages


#: Formula images (sphinx.ext.imgmath: inline ones have class math, display ones are in a
#: div.math), those followed by their MathML, and alt texts that read as LaTeX source.
FORMULAS = r"""(() => {
  const imgs = Array.from(document.querySelectorAll('img.math, div.math img'));
  return {
    images: imgs.length,
    mathml: imgs.filter(i => i.getAttribute('aria-hidden') === 'true' && i.alt === ''
                        && i.nextElementSibling && i.nextElementSibling.localName === 'math'
                        && i.nextElementSibling.textContent.trim() !== '').length,
    latex_alt: Array.from(document.images).map(i => i.alt).filter(a => /\\[a-zA-Z]+|[_^]\{/.test(a)),
  };
})()"""


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_axe_finds_no_serious_violation(release, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed")
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} missing: `make setup` (npm ci in tests/js) installs axe-core")
    source = axe_source()
    pages = _pages(release)
    assert len(pages) > 10, pages
    found, formulas = {}, {}
    b = Browser(tmp_path / "profile")
    try:
        for page in pages:
            assert page.is_file(), page
            where = str(page.relative_to(release["html"]))
            found[where] = violations(b, page.as_uri(), source)
            formulas[where] = b.js(FORMULAS)
    finally:
        b.close()
    bad = {(where, v["id"], v["impact"]): [n["target"] for n in v["nodes"][:3]]
           for where, vs in found.items() for v in vs if v["impact"] in BLOCKING}
    assert not bad, bad
    # the rules of issue 25's review, moderate ones too
    left = {rule: n for (_, rule), n in totals(found).items()
            if rule in ("region", "heading-order", "summary-name",
                        "label-content-name-mismatch")}
    assert not left, left
    # formulas: the image hidden from screen readers, MathML beside it, no LaTeX as text
    shown = formulas["book/menetelmat.html"]
    assert shown["images"] >= 10 and shown["images"] == shown["mathml"], shown
    for where, f in formulas.items():
        assert f["images"] == f["mathml"], (where, f)
        assert not f["latex_alt"], (where, f["latex_alt"][:3])


def test_axe_sees_a_violation_when_it_is_there(tmp_path):
    """The injection works: axe reports the violations of a page made to have them (a
    <summary> without a name, an image without alt, a duplicate id of an ARIA reference)."""
    if chromium() is None:
        pytest.skip("chromium not installed")
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} missing: `make setup` (npm ci in tests/js) installs axe-core")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html lang="fi"><head><title>t</title></head><body>'
                    '<main><h1>Otsikko</h1><details><summary><i class="x"></i></summary>'
                    '<p>x</p></details><img src="a.png"></main></body></html>',
                    encoding="utf-8")
    b = Browser(tmp_path / "profile")
    try:
        found = violations(b, page.as_uri(), axe_source())
    finally:
        b.close()
    ids = {v["id"]: v["impact"] for v in found}
    assert ids.get("summary-name") == "serious", ids
    assert ids.get("image-alt") == "critical", ids


def test_navigation_toggles_are_named():
    """The theme's icon-only <summary> of a navigation entry gets a Finnish name naming the
    entry; a nameless toggle of another shape is an error, not a silent pass."""
    theme = ('<li class="toctree-l1 has-children"><a class="reference internal" '
             'href="2023Q4/index.html">Loka&ndash;joulukuu &quot;2023&quot;</a><details><summary>'
             '<span class="toctree-toggle" role="presentation"><i class="fa-solid '
             'fa-chevron-down"></i></span></summary><ul>')
    got = book.accessible_html(theme)
    assert ('<summary aria-label="Näytä tai piilota alaluvut: Loka–joulukuu '
            '&quot;2023&quot;">') in got, got
    other = theme.replace('<a class="reference internal"', '<a class="other"')
    with pytest.raises(RuntimeError, match="without a name"):
        book.accessible_html(other)


def test_formulas_as_mathml():
    """imgmath's image (alt text = LaTeX source) is hidden from assistive technology and
    followed by the formula as MathML: sub- and superscripts, a hat, a fraction."""
    page = ('<p>missä <img class="math" src="data:image/svg+xml;base64,AAAA" '
            'alt="\\hat p = \\frac{y_k}{N^2} &lt; 1"/> on</p>')
    got = book.accessible_math(page)
    assert 'alt="" aria-hidden="true"' in got and "\\hat" not in got, got
    math = re.search(r"<math class=\"seuranta-mathml\"[^>]*>(.*)</math>", got).group(1)
    assert "<mfrac>" in math and "<msub><mi>y</mi><mi>k</mi></msub>" in math, math
    assert "<msup><mi>N</mi><mn>2</mn></msup>" in math, math
    assert "<mover" in math and "&#x0003C;" in math, math   # the hat; "<" unescaped once
    assert "xmlns" not in got   # HTML5: no namespace URL in the page
    assert book.accessible_math(got) == got   # once only
    display = ('<div class="math">\n<p><img src="data:image/svg+xml;base64,AAAA" '
               'alt="V = H^{-1}"/></p>\n</div>')
    got = book.accessible_math(display)
    assert 'alt="" aria-hidden="true"' in got and "<msup><mi>H</mi>" in got, got


TABLE = "| Tehtävä | Arvio |\n|---|--:|\n| Vammaispalvelut | 4 000 |\n"


def test_a_table_without_caption_stops_the_build(tmp_path):
    """The one caption rule: a Markdown table without a caption stops the build naming the
    page; the same table through bookfmt.caption_tables builds, its caption in HTML."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    r, _ = _build(tmp_path / "a", "Teksti.\n\n" + TABLE)
    assert r.returncode != 0, "built a table without a caption"
    assert "a table without a caption" in r.stderr + r.stdout, r.stderr[-2000:]
    r, out = _build(tmp_path / "b", "Teksti.\n\n" + bookfmt.caption_tables(
        TABLE, ["Taulukko X1. Arviot"]).replace("{", "{{").replace("}", "}}"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"<caption>.*Taulukko X1\. Arviot", (out / "index.html").read_text(), re.S)


def _squeeze(text: str) -> str:
    """Text without spaces, line breaks and hyphens (pdftotext breaks lines and LaTeX
    hyphenates words where the HTML does not)."""
    return re.sub(r"[\s\u00ad\u2010-]+", "", text)


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_every_figure_has_its_text_in_the_pdf(release):
    """The PDF is untagged (TeX Live 2022 cannot tag longtables with xelatex), so each
    chart's alt text of the HTML is printed under the chart in the PDF."""
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    q = release["quarters"][-1]
    alts = []
    for page in sorted((release["html"] / q).glob("*.html")):
        alts += [a for a in re.findall(r'<img [^>]*alt="([^"]+)"', page.read_text(encoding="utf-8"))
                 if a.startswith("Kuvio")]
    assert len(alts) >= 5, alts
    pdf = subprocess.run(["pdftotext", str(release["out"] / "pdf" / f"{q}.pdf"), "-"],
                         check=True, capture_output=True, text=True).stdout
    missing = [a for a in alts if _squeeze(_html.unescape(a)) not in _squeeze(pdf)]
    assert not missing, missing[:3]
