"""The HTML book's size (issue 24: ≤ 25 MB at national scale): what the build leaves out of
it (Sphinx's copies of the page sources, the theme's icon script, TrueType fonts and message
catalogues) and the charts stored once as files, without a page or stylesheet naming a
missing file."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from seuranta.publication import book

#: A local reference of a page (src, href) or of a stylesheet (url(...)).
_PAGE_REF = re.compile(r'\s(?:src|href)="([^"]*)"')
_CSS_REF = re.compile(r'url\(\s*["\']?([^"\')]+)["\']?\s*\)')


def _local(ref: str) -> str | None:
    """The file path of a reference, None when it names no local file."""
    if not ref or ref.startswith(("#", "data:", "mailto:", "javascript:", "http:", "https:",
                                  "//")):
        return None
    return unquote(ref.split("#")[0].split("?")[0]) or None


def missing_references(html_dir: Path) -> list[str]:
    """Every local file that a page (``src``, ``href``) or a stylesheet (``url()``) of the
    built HTML names and that is not there."""
    missing = []
    for f in sorted(html_dir.rglob("*")):
        if f.suffix not in (".html", ".css") or \
                f.suffix == ".html" and "_static" in f.relative_to(html_dir).parts:
            continue      # (the theme's Jinja macros in _static/ are no pages)
        text = f.read_text(encoding="utf-8", errors="replace")
        pattern = _PAGE_REF if f.suffix == ".html" else _CSS_REF
        for ref in pattern.findall(text):
            path = _local(ref)
            if path is not None and not (f.parent / path).exists():
                missing.append(f"{f.relative_to(html_dir)}: {ref[:80]}")
    return missing


def test_charts_become_one_file_each_named_by_content(tmp_path):
    """A chart inlined in two pages is one file of _images/ with the same bytes; each
    page points at it by a relative path and keeps its alternative text."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    out = tmp_path / "html"
    pages = [out / "a.html", out / "2023Q4" / "b.html"]
    texts = []
    for p in pages:
        p.parent.mkdir(parents=True, exist_ok=True)
        texts.append(book.charts_as_files(
            f'<p><img alt="Kuvio: osuus &gt; 5 %" src="{uri}" /></p>', p, out))
    files = sorted((out / book.CHARTS).iterdir())
    assert len(files) == 1 and files[0].read_bytes() == png
    assert f'src="{book.CHARTS}/{files[0].name}"' in texts[0]
    assert f'src="../{book.CHARTS}/{files[0].name}"' in texts[1]
    assert all('alt="Kuvio: osuus &gt; 5 %"' in t and "data:" not in t for t in texts)
    svg = '<img class="math" src="data:image/svg+xml;base64,AAAA" alt="x"/>'
    assert book.charts_as_files(svg, pages[0], out) == svg      # formulas stay in the page


def test_unused_theme_files_go_with_every_reference_to_them(tmp_path):
    """The icon script, the TrueType fonts and the message catalogues are removed; the
    stylesheet keeps its woff2 fonts and names no removed file; a page loses its script
    tag of the icon script."""
    static = tmp_path / "_static"
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    fonts.mkdir(parents=True)
    for name in ("fa-solid-900.woff2", "fa-solid-900.ttf"):
        (fonts / name).write_bytes(b"font")
    (static / "scripts").mkdir()
    (static / "scripts" / "fontawesome.js").write_text("x", encoding="utf-8")
    (static / "locales" / "fi" / "LC_MESSAGES").mkdir(parents=True)
    (static / "locales" / "fi" / "LC_MESSAGES" / "sphinx.mo").write_bytes(b"mo")
    (static / "styles").mkdir()
    css = static / "styles" / "theme.css"
    css.write_text('@font-face{src:url(../vendor/fontawesome/webfonts/fa-solid-900.woff2) '
                   'format("woff2"),url(../vendor/fontawesome/webfonts/fa-solid-900.ttf) '
                   'format("truetype")}', encoding="utf-8")
    page = tmp_path / "index.html"
    page.write_text('<head>\n  <script defer src="_static/scripts/fontawesome.js?digest=1">'
                    '</script>\n<link href="_static/styles/theme.css" rel="stylesheet"/>'
                    '</head>', encoding="utf-8")
    assert missing_references(tmp_path) == []
    book.drop_unused_theme_files(static)
    assert missing_references(tmp_path) == ["index.html: _static/scripts/fontawesome.js?digest=1"]
    page.write_text(book._FONTAWESOME_SCRIPT.sub("", page.read_text(encoding="utf-8")),
                    encoding="utf-8")
    assert missing_references(tmp_path) == []
    assert sorted(p.name for p in static.rglob("*") if p.is_file()) == [
        "fa-solid-900.woff2", "theme.css"]
    assert "woff2" in css.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_the_built_html_keeps_no_source_copies_and_names_no_missing_file(release):
    """The session's release: no _sources/, no icon script, no TrueType font, no message
    catalogue, no chart inlined as base64; every local file a page or stylesheet names is
    there (the download buttons that linked to _sources/ are gone with it)."""
    html = release["html"]
    assert not (html / "_sources").exists()
    assert not list(html.rglob("fontawesome.js")) and not list(html.rglob("*.ttf"))
    assert not (html / "_static" / "locales").exists()
    pages = sorted(html.rglob("*.html"))
    assert not [p for p in pages if "data:image/png" in p.read_text(encoding="utf-8")]
    assert list((html / book.CHARTS).glob("kuvio-*.png"))
    assert missing_references(html) == []
