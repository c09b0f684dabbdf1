"""The book build's faster steps give the bytes the slower ones gave (issue 24: the book
phase's CPU): the Finnish interface strings by one pattern instead of one per string, a
page's charts made files before the other steps read it, markdown-it's link destination
parsing and mdurl's encoding answered by one regular expression for a chart's data URI,
and one LaTeX template renderer per process. Each is compared with the former way
(written out here) on hand-made input and on many random strings."""

from __future__ import annotations

import base64
import random
import re
import struct
import zlib
from types import SimpleNamespace

import markdown_it.helpers
import mdurl
import pytest
from markdown_it import MarkdownIt
from markdown_it.helpers.parse_link_destination import parseLinkDestination

from seuranta.publication import book

# --------------------------------------------------------------------------- UI strings


def ui_one_by_one(html: str) -> str:
    """The former finnish_ui: one pattern per English string, the longest first, each
    applied to the whole page in turn."""
    for en in sorted(book.UI_FI, key=len, reverse=True):
        pat = re.compile(r'(?P<pre>(?:aria-label|title|placeholder|data-content|data-bs-title'
                         r'|alt)="|>\s*)' rf"(?P<en>{re.escape(en)})(?P<post>\s*<|\")")
        html = pat.sub(lambda m: m.group("pre") + book.UI_FI[m.group("en")] + m.group("post"),
                       html)
    return html


def test_ui_strings_cannot_overlap_or_make_new_matches():
    """What makes one pattern equal to the strings one by one (book._UI_PATTERN)."""
    for en, fi in book.UI_FI.items():
        assert not set('<>"=') & set(en + fi), en
        assert fi == en or fi not in book.UI_FI, fi


def _ui_fragments() -> list[str]:
    attrs = ["aria-label", "title", "placeholder", "data-content", "data-bs-title", "alt",
             "data-title", "href"]
    out = []
    for en in book.UI_FI:
        out += [f'<b {a}="{en}">' for a in attrs]
        out += [f">{en}<", f">  {en}\n <", f"> {en} ", f">{en}.<", f">{en}\"", f'="{en}"',
                f">{en}{en}<", f"<p>{en} of the page</p>", f'title="{en}s"']
    return out + ["<", ">", '"', " ", "\n", "=", "x", "Search", "this", "book...", "By",
                  "data-bs-", "</span>", "<span>", "ÄÖ"]


def test_one_pattern_replaces_what_the_strings_one_by_one_did():
    frags = _ui_fragments()
    page = "".join(frags)
    assert book.finnish_ui(page) == ui_one_by_one(page)
    assert book.finnish_ui(page) != page
    rng = random.Random(24)
    for _ in range(400):
        html = "".join(rng.choice(frags) for _ in range(rng.randint(1, 30)))
        assert book.finnish_ui(html) == ui_one_by_one(html), html


# --------------------------------------------------------------------------- pages


def _png(width: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\0" + bytes(range(width * 3)) for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def page_as_before(text, page, outdir):
    """The former order of _translate_pages: the charts made files last."""
    new = book.accessible_math(book.canonical_math(book.accessible_html(ui_one_by_one(text))))
    new = book.charts_as_files(book._FONTAWESOME_SCRIPT.sub("", new), page, outdir)
    lang = book.PAGE_LANG.get(page.relative_to(outdir).as_posix())
    return book.content_lang(new, lang) if lang else new


def _theme_page(charts: list[bytes]) -> str:
    svg = base64.b64encode(b"<svg><defs>\n<path d='b'/>\n<path d='a'/>\n</defs></svg>").decode()
    imgs = "".join(f'<p><img alt="Kuvio {i}: Main" src="data:image/png;base64,'
                   f'{base64.b64encode(c).decode()}" /></p>' for i, c in enumerate(charts))
    return ('<html lang="fi"><head><script defer src="../_static/scripts/fontawesome.js?v=1">'
            '</script>\n<title>Page</title></head><body>'
            '<a class="skip-link" href="#main">Skip to main content</a>'
            '<nav aria-label="Section Navigation"><a class="reference internal" href="a.html">'
            'Alue &amp; &quot;x&quot;</a><details><summary><span class="toctree-toggle" '
            'role="presentation"><i class="fa-solid fa-chevron-down"></i></span></summary>'
            '</details></nav><main id="main"><article class="bd-article" role="main">'
            f'<h1>Otsikko</h1>{imgs}<p>missä <img class="math" '
            f'src="data:image/svg+xml;base64,{svg}" alt="\\hat p = \\frac{{y}}{{N}}"/></p>'
            '<button title="Back to top">x</button><p>Previous</p>'
            '<div class="math">\n<p><img src="data:image/svg+xml;base64,' + svg
            + '" alt="V = H^{-1}"/></p>\n</div></article></main></body></html>')


@pytest.mark.parametrize("name", ["2023Q4/index.html", "svenska.html"])
def test_a_page_is_what_the_former_order_made(tmp_path, name):
    """Charts made files first, then the other steps: the same page and the same files."""
    text = _theme_page([_png(3), _png(4), _png(3)])
    got = {}
    for how, translate in (("before", page_as_before), ("now", book.translate_page)):
        out = tmp_path / how
        (out / name).parent.mkdir(parents=True)
        got[how] = translate(text, out / name, out)
        got[how + " files"] = {p.relative_to(out).as_posix(): p.read_bytes()
                               for p in sorted((out / book.CHARTS).iterdir())}
    assert got["now"] == got["before"]
    assert got["now files"] == got["before files"] and len(got["now files"]) == 2
    assert "base64,iVBOR" not in got["now"] and "fontawesome" not in got["now"]
    assert "Siirry pääsisältöön" in got["now"] and "aria-hidden" in got["now"]


# --------------------------------------------------------------------------- link parsing

#: The characters markdown-it's destination parser and mdurl's encoding treat apart.
_ALPHABET = ("abcXYZ019+/=;:,.-_~!*'#?@&$ ()\\<>\n\t\x7f\x00%%%AFaf0é€\U0001F600"
             + "A" * 20)


def _random_strings(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
            for _ in range(n)]


def _fields(r):
    return (r.ok, r.pos, r.lines, r.str)


def link_destination_mismatches(fast) -> list[tuple]:
    """Inputs where ``fast`` answers otherwise than markdown-it's own parser."""
    rng = random.Random(7)
    bad = []
    chart = "data:image/png;base64," + base64.b64encode(_png(40)).decode()
    cases = [(f"![k]({chart})", 4, len(chart) + 6), (f"({chart} 'x')", 1, len(chart) + 8)]
    for s in _random_strings(rng, 3000):
        for _ in range(3):
            pos = rng.randint(0, len(s) + 1)
            cases.append((s, pos, rng.randint(0, len(s) + 2)))
    for s, pos, maximum in cases:
        if _fields(fast(s, pos, maximum)) != _fields(parseLinkDestination(s, pos, maximum)):
            bad.append((s, pos, maximum))
    return bad


@pytest.fixture
def originals(monkeypatch):
    """The fast paths' originals as book._fast_link_parsing finds them (restored after)."""
    monkeypatch.setattr(book, "_ORIGINAL_LINK_DESTINATION", parseLinkDestination)
    monkeypatch.setattr(book, "_ORIGINAL_URL_ENCODE", mdurl._encode.encode)


@pytest.mark.usefixtures("originals")
def test_fast_link_destination_is_markdown_its():
    assert link_destination_mismatches(book.fast_link_destination) == []


@pytest.mark.usefixtures("originals")
def test_the_comparison_catches_a_fast_path_without_its_fallback(monkeypatch):
    """The fast path hands destinations with "(" or a backslash to markdown-it: without
    that, the comparison above finds inputs where it answers otherwise."""
    monkeypatch.setattr(book, "_LINK_DESTINATION_STOP", re.compile(r"[\x00-\x20\x7f)]"))
    assert link_destination_mismatches(book.fast_link_destination)


@pytest.mark.usefixtures("originals")
def test_fast_url_encode_is_mdurls():
    rng = random.Random(11)
    chart = "data:image/png;base64," + base64.b64encode(_png(40)).decode()
    strings = [chart, "", "a%2Fb", "a%zz", "%", "100%", *_random_strings(rng, 3000)]
    for exclude in (None, mdurl.ENCODE_COMPONENT_CHARS, "", ";/%"):
        for s in strings:
            want = mdurl._encode.encode(s) if exclude is None else mdurl._encode.encode(s, exclude)
            assert book.fast_url_encode(s, exclude) == want, (s, exclude)
        assert book.fast_url_encode("a b", exclude) != "a b"   # encoded by mdurl's own


def test_markdown_with_the_fast_paths_parses_as_before(monkeypatch):
    """markdown-it's tokens of images, links and a chart, with book's fast paths installed
    and without."""
    chart = "data:image/png;base64," + base64.b64encode(_png(40)).decode()
    text = (f"![Kuvio 1]({chart})\n\n[a (b)](x(y)z \"t\") ![c](<d e>) [f](g\\)h) "
            f"[ä](https://example.org/ä%20ö?q=(1)) ![k]({chart} 'otsikko')\n")
    md = MarkdownIt("commonmark")
    before = [t.as_dict() for t in md.parse(text)]
    monkeypatch.setattr(book, "_ORIGINAL_LINK_DESTINATION", None)
    monkeypatch.setattr(book, "_ORIGINAL_URL_ENCODE", None)
    monkeypatch.setattr(markdown_it.helpers, "parseLinkDestination", parseLinkDestination)
    monkeypatch.setattr(mdurl, "encode", mdurl._encode.encode)
    book._fast_link_parsing()
    assert markdown_it.helpers.parseLinkDestination is book.fast_link_destination
    assert mdurl.encode is book.fast_url_encode
    book._fast_link_parsing()   # once only: the originals stay markdown-it's own
    assert book._ORIGINAL_LINK_DESTINATION is parseLinkDestination
    assert [t.as_dict() for t in md.parse(text)] == before
    assert chart in str(before)


# --------------------------------------------------------------------------- LaTeX templates


def test_one_latex_renderer_renders_what_a_new_one_did(monkeypatch):
    """Sphinx's table template rendered by the renderer book.latex_renderer keeps gives
    the text a new renderer gives, call after call."""
    from sphinx.util.template import LaTeXRenderer
    monkeypatch.setattr(book, "_LATEX_RENDERERS", {})
    table = {"table": SimpleNamespace(
        caption=["Taulukko 1. Asiakkaat \\& kunnat"], styles=["booktabs"], align="center",
        colcount=2, get_colspec=lambda: "{ll}", header=["A & B\\\\\n"],
        body=["1 & 2\\\\\n"]), "labels": "\\label{t1}"}
    for engine in ("xelatex", "pdflatex"):
        first = book.latex_renderer(latex_engine=engine)
        for _ in range(3):
            assert book.latex_renderer(latex_engine=engine) is first
            assert first.render("longtable.tex.jinja", table) == \
                LaTeXRenderer(latex_engine=engine).render("longtable.tex.jinja", table)
    assert book.latex_renderer(latex_engine="xelatex") is not \
        book.latex_renderer(latex_engine="pdflatex")
    assert "Asiakkaat \\& kunnat" in book.latex_renderer(latex_engine="xelatex").render(
        "longtable.tex.jinja", table)


def test_the_book_extension_reuses_latex_renderers(monkeypatch):
    import sphinx.ext.imgmath
    import sphinx.writers.latex
    from sphinx.util.template import LaTeXRenderer
    for module in (sphinx.writers.latex, sphinx.ext.imgmath):
        monkeypatch.setattr(module, "LaTeXRenderer", LaTeXRenderer)
    book._reuse_latex_renderers()
    assert sphinx.writers.latex.LaTeXRenderer is book.latex_renderer
    assert sphinx.ext.imgmath.LaTeXRenderer is book.latex_renderer
