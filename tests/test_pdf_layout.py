"""The PDF working papers' layout, read back with ``pdftotext -bbox-layout`` (issue 25,
defect 1): no text outside the page's text area (a table that ran through the footer and
off the page, AL5, put its rows below the text area and its columns beyond the right
margin), and no English continuation line of a long table ("Table 2 – …", "continued")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release"),
              pytest.mark.skipif(shutil.which("pdftotext") is None,
                                 reason="pdftotext (poppler-utils) is not installed")]

#: Sphinx's LaTeX page: 1 inch margins on every side (sphinx.sty's hmargin and vmargin);
#: the running header and footer lie in the top and bottom margins, one line each.
MARGIN = 72.0
TOLERANCE = 3.0

_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
_LINE = re.compile(r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r"(.*?)</line>", re.S)
_WORD = re.compile(r"<word [^>]*>(.*?)</word>")


def layout_problems(pdf: Path) -> list[str]:
    """Lines of the PDF outside the text area: beyond a side margin, or in the top or
    bottom margin when that margin holds more than its one header or footer line."""
    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    out = []
    for n, (w, h, body) in enumerate(_PAGE.findall(xml), start=1):
        w, h = float(w), float(h)
        lines = [(float(a), float(b), float(c), float(d), " ".join(_WORD.findall(t)))
                 for a, b, c, d, t in _LINE.findall(body)]
        for x0, _, x1, _, text in lines:
            if x0 < MARGIN - TOLERANCE or x1 > w - MARGIN + TOLERANCE:
                out.append(f"{pdf.name} p. {n}: beyond the side margin: {text[:60]!r}")
        top = [(y0, t) for _, y0, _, y1, t in lines if y1 < MARGIN - TOLERANCE]
        bottom = [(y0, t) for _, y0, _, _, t in lines if y0 > h - MARGIN + TOLERANCE]
        for zone, found in (("top", top), ("bottom", bottom)):
            if len({round(y0) for y0, _ in found}) > 1:
                out.append(f"{pdf.name} p. {n}: {len(found)} lines in the {zone} margin: "
                           f"{[t for _, t in found][:3]!r}")
        # a line straddling the bottom edge of the text area: a row cut by the footer (a
        # long table's last line, "jatkuu seuraavalla sivulla", sits on the edge itself:
        # its descenders reach a few points below)
        for _, y0, _, y1, text in lines:
            if y0 < h - MARGIN - TOLERANCE and y1 > h - MARGIN + 2 * TOLERANCE:
                out.append(f"{pdf.name} p. {n}: across the bottom of the text area: "
                           f"{text[:60]!r}")
    return out


def test_no_text_outside_the_text_area_and_no_english_continuation(release):
    pdfs = sorted((release["out"] / "pdf").glob("*.pdf"))
    assert pdfs, "the release has no PDFs"
    # the Sote-tietopaketit working paper is one of them (issue 25): checked like the others
    assert "kustannukset.pdf" in {p.name for p in pdfs}
    problems = [p for pdf in pdfs for p in layout_problems(pdf)]
    assert problems == [], problems[:20]
    for pdf in pdfs:
        text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                              text=True).stdout
        assert not re.search(r"\bTable \d|continued from|continues on", text), pdf.name
