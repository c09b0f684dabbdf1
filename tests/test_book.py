"""End-to-end test of the publication: small demo data → two quarters → book HTML and PDFs.

Read back as a reader would: the HTML pages and ``pdftotext`` of each working paper must
contain the quarter's figures (taken from the internal tables and formatted the Finnish
way), and headless Chromium must render the pages with their tables and figures without
console errors. Fast unit tests of the helpers run without the build.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from seuranta.core.params import PROJECT_DIR, load_params
from seuranta.publication import book as publish
from seuranta.publication import bookfmt, notebooks
from seuranta.publication import published as published_tables

#: The helpers' parameters in this process (a notebook sets them from params_file).
PARAMS = load_params()


def norm(text: str) -> str:
    """Collapse no-break and thin spaces so '134 400' matches in HTML and pdftotext."""
    return re.sub(r"[\u00a0\u202f\u2009 ]+", " ", text)


# --------------------------------------------------------------------------- fast


def test_finnish_wording():
    assert bookfmt.quarter_in("2023Q1") == "vuoden 2023 tammi–maaliskuussa"
    assert bookfmt.quarter_name("2022Q4") == "loka–joulukuu 2022"
    assert norm(bookfmt.fi_share(2.4)) == "2,4 %"
    assert norm(bookfmt.fi_share(19.04)) == "19,0 %"      # one decimal everywhere
    assert norm(bookfmt.fi_number(134400)) == "134 400"


def test_md_table():
    df = pd.DataFrame({"Alue": ["a|b"], "Asiakkaat": ["1 300"]})
    assert bookfmt.md_table(df).splitlines() == [
        "| Alue | Asiakkaat |", "|:---|---:|", "| a\\|b | 1 300 |"]


def test_top_level_toc_lists_written_chapters():
    toc = yaml.safe_load((PROJECT_DIR / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    for f in files:
        assert (PROJECT_DIR / f"{f}.md").is_file(), f


def test_notebook_templates_have_hidden_parameters():
    import jupytext

    for _name, template, extra in notebooks.notebook_plan("2023Q1"):
        nb = jupytext.read(PROJECT_DIR / "notebooks" / template)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, template
        assert "remove-cell" in tagged[0].metadata["tags"]
        for key in ("quarter", "tables_dir", "synthetic", "params_file", *extra):
            assert re.search(rf"^{key} = ", tagged[0].source, re.M), (template, key)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def published(release):
    """The session's one small release (tests/conftest.py): every quarter, book HTML + PDF."""
    return release


def _headline(out: Path, quarter: str, task: str) -> pd.Series:
    """The quarter's published row of a task (all ages), as the gate wrote it."""
    est = published_tables.read(out / quarter / "published", "estimates")
    row = est[(est["service_task"] == task) & (est["quarter"] == quarter)
              & (est["age_group"] == "kaikki")]
    assert len(row) == 1, f"no published estimate for {task} in {quarter}"
    return row.iloc[0]


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_html_pages_carry_the_quarters_figures(published):
    html, out = published["html"], published["out"]
    for q in published["quarters"]:
        for name, _, _ in notebooks.notebook_plan(q):
            assert (html / q / f"{name}.html").is_file(), (q, name)
        summary = norm((html / q / "yhteenveto.html").read_text(encoding="utf-8"))
        assert "Synteettinen aineisto" in summary
        for task in ("vammaispalvelut", "iakkaat"):
            # As the publication rule allows: a point, a range, or no estimate and its reason.
            e = _headline(out, q, task)
            clients, share = bookfmt.estimate_state(e)
            assert norm(share) in summary, (q, task, e["publish_as"])
            page = norm((html / q / f"tehtava_{task}.html").read_text(encoding="utf-8"))
            if bookfmt.estimate_kind(e) != "none":
                assert norm(clients) in page and "Arvio koko maa" in page, (q, task)
            assert "Edustavat kunnat yhteensä" in page
    counties = sorted((html / "alueet").glob("[0-9][0-9].html"))
    assert len(counties) == 22
    assert "Pirkanmaan hyvinvointialue" in (html / "alueet" / "08.html").read_text("utf-8")


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_pdf_working_papers(published):
    out = published["out"]
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    for q in published["quarters"]:
        pdf = out / "pdf" / f"{q}.pdf"
        assert pdf.is_file()
        text = " ".join(norm(subprocess.run(["pdftotext", "-layout", str(pdf), "-"],
                                            check=True, capture_output=True,
                                            text=True).stdout).split())   # lines joined
        assert f"Sosiaalihuollon asiakkaat {bookfmt.quarter_name(q)}" in text
        assert "synteettisestä harjoitusaineistosta" in text
        assert "Taulukko VA1" in text
        e = _headline(out, q, "vammaispalvelut")
        clients, share = bookfmt.estimate_state(e)
        assert " ".join(norm(share).split()) in text
        if bookfmt.estimate_kind(e) != "none":
            assert norm(clients) in text
        # The other quarter's title must not leak into this working paper.
        other = [x for x in published["quarters"] if x != q][0]
        assert f"Sosiaalihuollon asiakkaat {bookfmt.quarter_name(other)}" not in text


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_county_pages_as_one_pdf(published):
    """The 22 county drill-down pages are also one PDF, linked from their index page."""
    out, html = published["out"], published["html"]
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    pdf = out / "pdf" / publish.COUNTY_PDF
    assert pdf.is_file()
    text = norm(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                               capture_output=True, text=True).stdout)
    assert "synteettisestä harjoitusaineistosta" in text
    for name in bookfmt.reference.counties()["county_name_fi"]:
        assert name in text, name
    # Tampere's disability share of the newest quarter (pinned comprehensive in the demo)
    newest = max(published["quarters"])
    m = published_tables.read(out / newest / "published", "municipal")
    r = m[(m["quarter"] == newest) & (m["municipality_code"] == "837")
          & (m["service_task"] == "vammaispalvelut")].iloc[0]
    assert r["share_pct_symbol"] == ""
    assert norm(bookfmt.fi_share(float(r["share_pct"]))) in text
    index = (html / "alueet" / "index.html").read_text(encoding="utf-8")
    assert publish.COUNTY_PDF in index


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_pages_render_in_headless_chromium(published, tmp_path):
    exe = _chromium()
    if not exe:
        pytest.skip("chromium not installed")
    html = published["html"]
    q = published["quarters"][-1]
    for page in (html / q / "yhteenveto.html", html / q / "tehtava_vammaispalvelut.html",
                 html / "alueet" / "08.html"):
        r = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        dom = r.stdout
        assert "<table" in dom, page
        console = [ln for ln in r.stderr.splitlines()
                   if "CONSOLE" in ln and ("Uncaught" in ln or "rror" in ln)]
        assert not console, console
        imgs = re.findall(r'<img[^>]+src="([^"]+)"', dom)
        if page.name.startswith("tehtava_"):  # the summary's key figures are text, not a PNG
            assert any("png" in s for s in imgs), page
        for src in imgs:
            if src.startswith(("http", "data:")):
                continue
            assert (page.parent / src.split("?")[0]).resolve().is_file(), src


# ---- issue 16 (publication.portal): the reader's pages render offline -------------------

@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_portal_pages_render_offline_in_headless_chromium(published, tmp_path):
    """Landing page, Swedish summary and comparison pages: no script, style or image from
    another host; in headless Chromium with every host unresolvable the sortable tables'
    script runs (it marks the headers as buttons) and the console has no error."""
    html = published["html"]
    pages = [html / "uusimmat.html", html / "svenska.html", html / "vertailu" / "kunnat.html",
             html / "vertailu" / "08.html"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', text), page
    exe = _chromium()
    if not exe:
        pytest.skip("chromium not installed")
    for page in pages:
        r = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        console = [ln for ln in r.stderr.splitlines()
                   if "CONSOLE" in ln and ("Uncaught" in ln or "rror" in ln)]
        assert not console, console
        if "vertailu" in str(page):
            assert 'role="button"' in r.stdout, page      # the offline table script ran
    dp = html / "avoindata"
    assert list(dp.glob("*/datapackage.json")), "open data not copied into the HTML"
