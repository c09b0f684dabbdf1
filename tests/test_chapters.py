"""Fast tests of the publication's wording and page helpers (no build)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from seuranta.publication import book, bookfmt, chapters
from seuranta.publication.notebooks import NOTEBOOK_DIR

PARAMS = {"estimate": {"min_municipalities": 2}}


def test_no_estimate_reason_in_finnish():
    row = pd.Series({"note": "no_comprehensive_municipalities", "municipalities_used": 0})
    assert chapters.no_estimate_reason(row, PARAMS) == \
        "yksikään kunta ei toimittanut kattavia tietoja"
    assert chapters.no_estimate_reason(row, PARAMS, "kaikki").startswith(
        "yksikään kunta ei ollut kattava kaikissa kuudessa")
    few = pd.Series({"note": "too_few_municipalities", "municipalities_used": 1})
    assert "vähintään 2" in chapters.no_estimate_reason(few, PARAMS)
    rule = pd.Series({"note": "", "publish_as": "none", "rule_reason": "base_share<5;clients<50"})
    assert chapters.no_estimate_reason(rule, PARAMS) == (
        "kattavien kuntien osuus väestöpohjasta alle 5\u00a0%; kattavien kuntien asiakasmäärä "
        "alle 50")
    # never an English code in the sentence
    for r in (row, few, rule):
        assert "_" not in chapters.no_estimate_reason(r, PARAMS)


TASK_TEMPLATE = NOTEBOOK_DIR / "palvelutehtava.md"


def _conditions(template) -> dict[str, bool]:
    """Every condition of a template's Markdown cells, none shown."""
    import jupytext
    return {c.metadata["if"]: False for c in jupytext.read(template).cells if "if" in c.metadata}


def test_no_estimate_sentence_has_no_dash_or_zero_municipalities():
    ch = chapters.Chapter(shown={**_conditions(TASK_TEMPLATE), "no_estimate": True},
                          facts={"Quarter_in": "Vuoden 2022 loka–joulukuussa",
                                 "reason": "yksikään kunta ei toimittanut kattavia tietoja"})
    text = " ".join(chapters.template_text(TASK_TEMPLATE, ch).split("## Asiakasmäärät")[1]
                    .split("## Kuntien")[0].split())
    assert "(0 kuntaa)" not in text and "–" not in text.split("loka–joulukuussa")[1]
    assert text.startswith("Vuoden 2022 loka–joulukuussa koko maan arviota ei laadittu, koska "
                           "yksikään kunta ei toimittanut kattavia tietoja. Alla olevassa")
    assert "Arviolta" not in text and "ensimmäiseen vaiheeseen" not in text   # other leads


def test_a_templates_paragraph_is_shown_only_when_its_chapter_says_so():
    """An executed notebook keeps a conditional Markdown cell when the chapter's output
    (chapters.SHOWN_MIME) says it is shown, drops it otherwise, and takes that output
    out. A condition the chapter does not know (a misspelt name would hide its paragraph
    in every quarter) or conditional cells without the chapter's output are errors."""
    import nbformat.v4 as v4
    import pytest

    from seuranta.core.errors import InputError

    def notebook(condition="a", said=True):
        said = [v4.new_output("display_data", data={chapters.SHOWN_MIME: {"a": True, "b": False}})
                ] if said else []
        return v4.new_notebook(cells=[
            v4.new_code_cell("chapters.glue_facts(ch)", outputs=said),
            v4.new_markdown_cell("Aina."),
            v4.new_markdown_cell("Kun a.", metadata={"if": condition}),
            v4.new_markdown_cell("Kun b.", metadata={"if": "b"})])
    nb = chapters.keep_shown(notebook(), "x.ipynb")
    assert [c.source for c in nb.cells] == ["chapters.glue_facts(ch)", "Aina.", "Kun a."]
    assert nb.cells[0].outputs == []
    with pytest.raises(InputError, match=r"^x.ipynb: a Markdown cell is shown if 'aa', a "
                                         r"condition the chapter does not know \(one of: a, b\)"):
        chapters.keep_shown(notebook("aa"), "x.ipynb")
    with pytest.raises(InputError, match=r"^x.ipynb: Markdown cells shown on a condition"):
        chapters.keep_shown(notebook(said=False), "x.ipynb")
    plain = v4.new_notebook(cells=[v4.new_markdown_cell("Aina.")])
    assert chapters.keep_shown(plain, "x.ipynb").cells == plain.cells


def test_a_fact_that_is_a_symbol_is_glued_as_text(tmp_path, monkeypatch):
    """IPython's Markdown(text) reads a file when the text names one: a suppressed figure
    ("..") was read as the working folder and the notebook failed. MarkdownText is text."""
    import pytest
    from IPython.core.formatters import DisplayFormatter
    from IPython.display import Markdown

    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError):
        Markdown("..")
    data, _ = DisplayFormatter().format(chapters.MarkdownText(".."))
    assert data["text/markdown"] == ".."


def test_estimate_text_point_and_range():
    assert chapters.estimate_text({"estimate_rounded": 2700, "publish_as": "point"}) == \
        "2\u00a0700"
    # a row without the rule's verdict shows nothing (the gate always gives one)
    assert chapters.estimate_text({"estimate_rounded": 2700}) == "ei arviota"
    r = {"estimate_rounded": None, "estimate_rounded_symbol": ".", "publish_as": "range",
         "range_low": 30000, "range_high": 50000, "range_low_pct": 2.9,
         "range_high_pct": 4.9, "share_pct": None, "share_pct_symbol": "."}
    assert chapters.estimate_text(r) == "30\u00a0000–50\u00a0000"
    # the share range as the gate published it (no share computed by the writer)
    assert chapters.share_text(r) == "2,9–4,9\u00a0%"
    # a point whose figures disclosure control suppressed shows no number
    sup = {"estimate_rounded": None, "estimate_rounded_symbol": "..", "publish_as": "point"}
    assert chapters.estimate_text(sup) == "ei arviota" and not chapters.has_estimate(sup)


def test_table_block_has_caption_and_right_aligned_numbers():
    df = pd.DataFrame({"Alue": ["a"], "Asiakkaat": ["1 300"]})
    md = bookfmt.table_block("Taulukko X1. Otsikko", df, note="Huom.")
    assert ":::{table} Taulukko X1\\. Otsikko" in md      # the caption is text (escaped)
    assert "|:---|---:|" in md
    assert r"\raggedleft" in md.split("\n")[0] and md.rstrip().endswith("Huom.")


def test_finnish_ui_replaces_interface_strings_only():
    html = ('<a class="skip-link" href="#main">Skip to main content</a>'
            '<button title="Back to top">x</button><input placeholder="Search this book...">'
            '<p>Skip to main content of the quarter</p>')
    out = book.finnish_ui(html)
    assert ">Siirry pääsisältöön<" in out and 'title="Takaisin ylös"' in out
    assert 'placeholder="Hae julkaisusta..."' in out
    assert "<p>Skip to main content of the quarter</p>" in out   # prose untouched


def test_data_statement_tells_the_scale():
    assert "koko maan kokoinen" in book.data_statement({"synthetic": True, "scale": 1.0})
    small = book.data_statement({"synthetic": True, "scale": 0.05})
    assert "5,0\u00a0%" in small and "pienennetty" in small
    assert "poiminta 15.2.2024" in book.data_statement({"synthetic": False,
                                                         "extract_date": "2024-02-15"})


def test_prepare_tex(tmp_path):
    p = tmp_path / "x.tex"
    p.write_text("\\documentclass{x}\n\\begin{document}\n\\sphinxtablecontinued{\\tablename\\ "
                 "\\thetable{} \\textendash{} continued from previous page}\n"
                 "\\sphinxtablecontinued{continues on next page}\n", encoding="utf-8")
    book.prepare_tex(p, "3/2024", landscape=True)
    tex = p.read_text(encoding="utf-8")
    assert "\\sphinxtablecontinued{Jatkoa edelliseltä sivulta}" in tex
    assert "{jatkuu seuraavalla sivulla}" in tex
    assert "continued from" not in tex and "continues on" not in tex
    assert "tablename" not in tex                                # no "Table 2 –"
    assert "\\renewcommand{\\seurantanumero}{3/2024}\n\\geometry{landscape}\n\\begin{document}" \
        in tex


def test_citation_from_parameters():
    info = book.publication_info({"publication": {
        "author": "THL", "series": "Tilastoraportti", "series_numbers": {"2023Q4": "5/2024"},
        "date": "2024-03-15", "book_url": "https://x.example/kirja"}})
    assert book.citation("2023Q4", info) == (
        "THL (2024). Sosiaalihuollon asiakkaat loka–joulukuu 2023. Tilastoraportti 5/2024. "
        "Julkaistu 15.3.2024. https://x.example/kirja/")


def test_generated_tables_get_captions():
    md = "Johdanto.\n\n| a | b |\n|---|--:|\n| x | 1 |\n\nVertailu:\n\n| c |\n|---|\n| y |\n"
    out = book.caption_tables(md, ["Taulukko M3. Eka"])
    assert ":::{table} Taulukko M3. Eka\n:width: 100%\n:class: longtable\n\n| a | b |" in out
    # wrapping columns in the PDF, the number column right-aligned
    assert "```{tabularcolumns} |>{\\raggedright" in out and "\\raggedleft" in out
    assert ":::{table} Vertailu\n" in out          # no caption given: the line before
    assert out.count(":::{table}") == 2 and out.count("\n:::") >= 2


def _line_shares(spec):
    """Each column's share of the PDF line (``\\X{a}{b}`` → a / b) of a tabularcolumns spec."""
    return [int(a) / int(b) for a, b in re.findall(r"\\X\{(\d+)\}\{(\d+)\}", spec)]


def test_pdf_number_columns_hold_their_longest_value():
    """A wide table's narrow number columns ("1200" under the header "n", "15,00" under
    "RMSE %") get their longest value and the cell's padding of a 90-character line (the
    A4 line at 10 pt: 451 pt, about 5 pt a digit; padding 12 pt and the rule); proportional
    shares alone gave "n" 4 / 85 of the line and cut "1200" to "120". A table that fits
    keeps its proportional shares."""
    wide = pd.DataFrame({
        "asetelma": ["kunnat eroavat (hajonta 0,35), satunnainen liittyminen"] * 3,
        "n": ["1200"] * 3, "piste / väli / ei arviota %": ["91 / 9 / 0"] * 3,
        "pisteiden kattavuus % ± kv (yli / ali)": ["95,8 ± 0,7 (2,7 / 1,6)"] * 3,
        "välien kattavuus %": ["100,0"] * 3, "keskim. virhe % ± kv (pisteet; kaikki)":
        ["0,40 ± 0,28; 0,30"] * 3, "RMSE %": ["15,00", "5,49", "6,94"],
        "puoliväli %": ["10,98"] * 3, "alueiden pisteet % (n)": ["94,7 (9338)"] * 3,
        "alueiden välit %": ["97,2"] * 3})
    shares = dict(zip(wide.columns, _line_shares(bookfmt.latex_columns(wide))))
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
    for col, longest in [("n", 4), ("RMSE %", 5), ("alueiden pisteet % (n)", 6),
                         ("välien kattavuus %", 5)]:
        assert shares[col] * 90 >= longest + 3 - 0.05, col
    # the text column keeps the largest share
    assert max(shares, key=shares.get) == "asetelma"
    # a range is one word, held by its no-break spaces: broken after the dash it read as
    # two numbers ("150 000–" above "300 000")
    rng = pd.DataFrame({"Palvelutehtävä": ["Iäkkäiden palvelut", "Työikäisten palvelut"],
                        "Asiakkaita": ["150\u00a0000–300\u00a0000", "214\u00a0000"],
                        "Osuus": ["11,6–23,4\u00a0%", "6,7\u00a0%"],
                        "Väestöpohja": ["65 vuotta täyttäneistä", "18–64-vuotiaista"],
                        "Kuntia arviossa": ["19", "102"]})
    shares = dict(zip(rng.columns, _line_shares(bookfmt.latex_columns(
        rng, ["Asiakkaita", "Osuus", "Kuntia arviossa"]))))
    assert shares["Asiakkaita"] * 90 >= 15 + 3 - 0.05
    small = pd.DataFrame({"Palvelutehtävä": ["Iäkkäiden palvelut"], "Asiakkaat": ["12 300"]})
    assert _line_shares(bookfmt.latex_columns(small)) == pytest.approx([14 / 23, 9 / 23])


def test_every_table_of_a_task_chapter_has_its_pdf_columns(tmp_path):
    """Each table of a task chapter carries its PDF column widths (a ``tabularcolumns`` spec
    right before its ``table`` directive): without one LaTeX justified the county model
    table's headers and cut "Pohjois-Pohjanmaan" against the next column. The county model
    table's number columns are right-aligned and its name column holds the longest name."""
    from published_fixture import write_published

    out = write_published(tmp_path, quarters=["2023Q4"])
    est = out / "2023Q4" / "published" / "estimates.csv"
    pd.read_csv(est, keep_default_na=False, na_values=[""]).assign(
        clients_used=1270, clients_used_symbol="", municipalities_used=40,
        population_used=250000, national_base=1000000).to_csv(est, index=False)
    ch = chapters.task_chapter(out / "2023Q4" / "tables", "2023Q4", "iakkaat",
                               PARAMS, synthetic=True)
    assert ch.tables["county_model"]
    for key, md in ch.tables.items():
        for m in re.finditer(r":::\{table\}", md):
            before = md[:m.start()].rstrip().splitlines()
            assert len(before) >= 2 and before[-2].startswith("```{tabularcolumns}"), key
    spec = re.search(r"```\{tabularcolumns\} (.*)", ch.tables["county_model"]).group(1)
    aligns = re.findall(r"\\raggedleft|\\raggedright", spec)
    assert aligns == ["\\raggedright"] + ["\\raggedleft"] * 4
    names = [r.split("|")[1].strip() for r in ch.tables["county_model"].splitlines()
             if r.startswith("| ") and "Hyvinvointialue" not in r]
    assert _line_shares(spec)[0] * 90 >= max(len(n) for n in names)


def test_published_tables_are_read_afresh_by_each_chapter(tmp_path):
    """No module cache (issue 24): a quarter's published tables changed between two
    chapters (a notebook executed again by ``seuranta notebooks`` in the same kernel, or a
    re-run in one process) are read as they are now. A cache keyed by the folder, as
    ``chapters._CACHE`` was, returns the first reading."""
    from published_fixture import write_published

    from seuranta.core.tables import write_csv
    out = write_published(tmp_path, ["2023Q3"])
    td = out / "2023Q3" / "tables"
    first = chapters.published_tables(td)["estimates"]
    changed = first.assign(estimate_rounded=first["estimate_rounded"].where(first.index != 0, -100))
    write_csv(changed, out / "2023Q3" / "published" / "estimates.csv")
    assert chapters.published_tables(td)["estimates"].loc[0, "estimate_rounded"] == -100
    assert first.loc[0, "estimate_rounded"] != -100


def test_the_notice_needs_the_runs_parameters():
    """No parameters held by bookfmt: the synthetic notice is the given run's."""
    import pytest

    from seuranta.core.params import load_params
    p = load_params()
    assert bookfmt.notice_text(True, p) == p["publication"]["synthetic_notice"].strip()
    assert bookfmt.notice_text(False, p) == ""
    with pytest.raises(TypeError):
        bookfmt.notice_text(True)   # the parameters are required
    assert not hasattr(bookfmt, "_PARAMS") and not hasattr(chapters, "_CACHE")


def test_alt_text_keeps_every_figure_and_sign():
    """MyST drops backslash-escaped characters from an image's alternative text: escaped,
    "2,0 %" was read "20" and "18–64-vuotiaista" "18–64vuotiaista". The alt text is
    markup-free by substitution instead; rendered by MyST it is the sentence itself."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from myst_parser.docutils_ import Parser

    sentence = ("Kuvio VA1. Vammaispalvelut: osuus 18–64-vuotiaista 100 kunnassa; "
                "alakvartiili 2,0\u00a0%, mediaani 2,5\u00a0% (Ii).")
    hostile = "*a* _b_ `c` [d](e) <f> {g} $h$ \\i"

    def rendered(alt):
        doc = publish_doctree(f"![{alt}](data:image/png;base64,AAAA)\n", parser=Parser(),
                              settings_overrides={"report_level": 5})
        return [n.get("alt") for n in doc.findall(nodes.image)]

    assert rendered(bookfmt.alt_text(sentence)) == [sentence.replace("\u00a0", " ")]
    got = rendered(bookfmt.alt_text(hostile))[0]
    assert not any(c in got for c in "*_`[]<>{}$\\") and all(c in got for c in "abcdefghi")


def test_theme_aria_labels_and_titles_are_finnish():
    html = ('<nav aria-label="On this page"><i class="x"></i> On this page</nav>'
            '<a class="headerlink" title="Link to this heading">#</a>'
            '<button aria-label="Color mode" data-bs-title="Color mode"></button>'
            '<span title="Light"></span><main aria-label="Main"></main>')
    out = book.finnish_ui(html)
    for en in ("On this page", "Link to this heading", "Color mode", '"Light"', '"Main"'):
        assert en not in out, en
    assert 'aria-label="Tällä sivulla"' in out and 'data-bs-title="Väritila"' in out


def test_summary_pages_mark_their_content_language():
    page = '<html lang="fi"><main><article class="bd-article"><h1>Svensk</h1></article></main>'
    out = book.content_lang(page, "sv")
    assert '<article class="bd-article" lang="sv">' in out and '<html lang="fi">' in out
    assert book.PAGE_LANG == {"svenska.html": "sv", "english.html": "en"}
    import pytest
    with pytest.raises(RuntimeError, match="bd-article"):
        book.content_lang("<html><main></main></html>", "sv")


def test_glossary_page_is_in_the_book_and_every_pdf():
    import yaml
    toc = yaml.safe_load((book.PROJECT_DIR / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for p in toc["parts"] for c in p["chapters"]]
    assert "book/kasitteet" in files and "book/kasitteet" in book.PDF_APPENDICES
    text = (book.BOOK_SRC_DIR / "kasitteet.md").read_text(encoding="utf-8")
    # a definition list, not Sphinx's glossary: its index entries would need xindy for the PDF
    assert text.startswith("# Käsitteet") and "{glossary}" not in text
    for term in ("Palvelutehtävä", "Asiakkuus", "Kattava kunta", "Hyvinvointialue",
                 "Väestöpohja", "Luottamusväli", "Vaihteluväli", "Ei arviota", "Tarkistettava"):
        assert f"\n{term}\n: " in text, term


def test_every_table_is_a_longtable_with_wrapping_columns():
    """A table taller than the rest of the page (AL5, the review decisions, with long
    reasons) must continue on the next page in the PDF: tabular/tabulary cannot, so every
    table is a longtable; its columns are p-columns (\\X) that wrap."""
    df = pd.DataFrame({"Kunta": ["Vantaa"] * 40, "Perustelu": ["pitkä perustelu " * 20] * 40})
    md = bookfmt.table_block("Taulukko AL5. Päätökset", df, right=[])
    assert ":class: longtable" in md.split(":::{table}")[1].split("\n\n")[0]
    assert md.split("\n")[0].count("\\X{") == 2


def test_long_reasons_are_shortened_in_the_table_and_said_so():
    """A hand-edited corrections.csv may carry a reason of 10 000 characters or one word of
    10 000 (tests/hostile.py): in the PDF one such row ran off the page whatever the column
    widths. The table shows at most REASON_SHOWN_CHARS characters and no word longer than
    REASON_WORD_CHARS; the open data keep the whole text."""
    from hostile import CORPUS, MARK

    for key in ("long", "long_word"):
        shown = chapters.shown_reason(CORPUS[key])
        assert MARK in shown and shown.endswith("…")
        assert len(shown) <= chapters.REASON_SHOWN_CHARS + 2
        assert max(len(w) for w in shown.split()) <= chapters.REASON_WORD_CHARS + 1
    ok = "Alueen palaute: Kanta-toimitus vajaa, vaikka ilmoitettu kattavaksi"
    assert chapters.shown_reason(ok) == ok
    assert chapters.shown_reason("rivi 1\nrivi 2") == "rivi 1 rivi 2"


DATA_TEMPLATE = NOTEBOOK_DIR / "aineisto_laatu.md"


def test_the_data_chapters_prose_is_its_templates(tmp_path):
    """The data chapter's text is notebooks/aineisto_laatu.md with the chapter's numbers
    glued (issue 24): the quality lead's share computed here by hand from the published
    municipal table, the review round's lead by whether the quarter has decisions, the
    calibration's lead without comparisons. No sentence of the chapter is in Python."""
    from published_fixture import write_published

    from seuranta.core import reference
    from seuranta.core.tables import write_csv
    q = "2023Q3"
    out = write_published(tmp_path, [q])
    mun = pd.read_csv(out / q / "published" / "municipal.csv", dtype=str)
    mun = mun[(mun["quarter"] == q)
              & mun["service_task"].isin(reference.task_codes(estimated_only=True))]
    share = bookfmt.fi_share(100 * (mun["quality"] == "comprehensive").sum() / len(mun))

    def text():
        ch = chapters.data_chapter(out / q / "tables", q)
        return " ".join(chapters.template_text(DATA_TEMPLATE, ch).replace("\u00a0", " ").split())
    t = text()
    assert ("Vuoden 2023 heinä–syyskuussa kuntien ja arvioitavien palvelutehtävien "
            f"yhdistelmistä {share.replace(chr(0xa0), ' ')} oli kattavia.") in t
    assert "Tälle vuosineljännekselle ei ollut tarkastuskierroksen päätöksiä." in t
    assert "Tarkastuskierroksella tehtiin" not in t
    assert "Sarjassa ei vielä ole kuntia" in t and "tällaista vertailua" not in t

    decisions = pd.DataFrame({"municipality_code": ["091", "049"], "name_fi": ["Helsinki", "Espoo"],
                              "service_task": ["iakkaat", "iakkaat"],
                              "decision": ["exclude", "note"], "reason": ["x", "y"],
                              "quality_before": ["comprehensive"] * 2,
                              "quality_after": ["none", "comprehensive"]})
    write_csv(decisions, out / q / "published" / "review_decisions.csv")
    t = text()
    assert "Tarkastuskierroksella tehtiin 2 päätöstä; kaikki on otettu huomioon" in t
    assert "ei ollut tarkastuskierroksen päätöksiä" not in t


def test_a_laid_out_chart_is_drawn_once_and_the_same_bytes(monkeypatch):
    """``chart_png`` of a figure laid out by ``tight_layout`` (then ``source_line``, which
    leaves matplotlib's placeholder layout engine): one draw, not savefig's extra layout
    pass, and the same PNG as matplotlib's own savefig of an identical figure."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    plt = bookfmt.setup_matplotlib()

    def chart():
        return bookfmt.series_chart(["2023Q1", "2023Q2", "2023Q3"], [1.25, 2.5, 1.75],
                                    title="Kuvio X. Osuus", synthetic=True)
    buf = io.BytesIO()
    theirs = chart()
    theirs.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(theirs)
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, r: (draws.append(1), draw(self, r))[1])
    assert bookfmt.chart_png(chart()) == bookfmt.compressed_png(buf.getvalue())
    assert len(draws) == 1
