"""The book is staged once per build (issue 24: the cold publish staged it twice, before
and after the PDFs, and drew every county page, chart and the open data twice).

The staging is real (published tables in the gate's format, every county's comparison
page and charts, the open data); the two external builds are replaced by recorders: the
LaTeX/latexmk step (``book.build_pdfs``) writes the PDFs it would make, and the HTML
build (``book._run``) records its command and the quarter page it would read. What is
checked: each county page is drawn once (on two cores: this process and a forked worker,
``bookfmt.drawn_side_by_side``) and its page and charts are the bytes an independent drawing
here gives; the LaTeX build (its own copy of the staging, removed afterwards) and the first
HTML build, side by side, see the pages without PDF links (the PDFs do not exist yet),
the second (incremental) HTML build sees them with the links, and its staging is, file for
file, the one a staging with the finished PDFs makes (what the second staging made)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from published_fixture import QUARTERS, write_published  # noqa: E402

from seuranta.core import reference  # noqa: E402
from seuranta.core.params import load_params  # noqa: E402
from seuranta.publication import book, compare, portal, published  # noqa: E402
from seuranta.publication.notebooks import notebook_plan  # noqa: E402
from seuranta.statistics.memo import forked_jobs  # noqa: E402

PARAMS = load_params()
# one worker builds the module's book (under xdist's loadgroup the tests of an ungrouped
# module go to both workers, and each built it: about 40 s of CPU twice)
pytestmark = pytest.mark.xdist_group("book_stage_once")


def _out(tmp: Path) -> Path:
    out = write_published(tmp / "out", QUARTERS)
    for q in QUARTERS:   # executed notebooks are copied as they are: their content is moot
        (out / q / "notebooks").mkdir(parents=True)
        for name, _, _ in notebook_plan(q):
            (out / q / "notebooks" / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    return out


def _staged_files(stage: Path) -> dict[str, bytes]:
    return {p.relative_to(stage).as_posix(): p.read_bytes()
            for p in sorted(stage.rglob("*")) if p.is_file() and "_build" not in p.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("once")
    out = _out(tmp)
    seen_by_latex, html_builds = {}, []
    drawn = tmp / "drawn.txt"   # a line per county page drawn, in whichever process drew it
    mp = pytest.MonkeyPatch()
    county_page = portal._county_page

    def counting_county_page(pdirs, quarter, code, *args, **kwargs):
        with open(drawn, "a", encoding="utf-8") as f:
            f.write(f"{code} {os.getpid()}\n")
        return county_page(pdirs, quarter, code, *args, **kwargs)

    def latex(stage, quarters, pdf_dir, params, cache_dir=None, reuse=True, dates=None):
        seen_by_latex.update(_staged_files(stage))   # what build_pdfs leaves behind
        seen_by_latex["stage"] = str(stage).encode()
        (stage / "_build" / "latex").mkdir(parents=True)
        pdf_dir.mkdir(parents=True, exist_ok=True)
        for name in [f"{q}.pdf" for q in quarters] + [book.COUNTY_PDF]:
            (pdf_dir / name).write_bytes(b"%PDF-1.5 " + name.encode())
        return [pdf_dir / f"{q}.pdf" for q in quarters]

    mp.setattr(portal, "_county_page", counting_county_page)
    mp.setattr(book, "build_pdfs", latex)
    def html(cmd, **kw):
        html_builds.append((cmd, (Path(cmd[-1]) / QUARTERS[-1] / "index.md").read_text()))
    mp.setattr(book, "_run", html)
    try:
        stage = book.build_book(out, QUARTERS, True, PARAMS, pdf=True, into=tmp / "into")
    finally:
        mp.undo()
    drawn = [line.split() for line in drawn.read_text(encoding="utf-8").splitlines()]
    return {"tmp": tmp, "out": out, "stage": stage.parent.parent, "drawn": drawn,
            "latex": seen_by_latex, "html": html_builds}


def test_each_county_page_is_drawn_once(built):
    codes = list(reference.counties()["county_code"])
    assert sorted(c for c, _ in built["drawn"]) == sorted(codes)   # the old double staging: twice
    assert [cmd[1] for cmd, _ in built["html"]] == ["build", "build"]   # the second: incremental
    if forked_jobs() > 1:   # drawn on two cores: this process and one worker
        assert len({pid for _, pid in built["drawn"]}) == 2


def test_each_county_picture_equals_an_independent_drawing(built):
    """The county pages and their charts, drawn side by side in two processes
    (``bookfmt.drawn_side_by_side``), are byte for byte what drawing each county's page
    here, one after another and from its own reading of the published tables, gives: no
    county's chart under another's name, none drawn differently in the worker."""
    out, stage, q = built["out"], built["stage"], max(QUARTERS)
    pdirs = {p: published.published_dir(out, p) for p in QUARTERS}
    cf, nf = compare.county_frame(pdirs[q], q), compare.national_frame(pdirs[q], q)
    img = built["tmp"] / "img-here"
    img.mkdir()
    for c in reference.counties().itertuples():
        page = portal._county_page(pdirs, q, c.county_code, c.county_name_fi, cf, nf, img,
                                   True, PARAMS)
        assert page == (stage / "vertailu" / f"{c.county_code}.md").read_text(encoding="utf-8")
    here = {p.name: p.read_bytes() for p in img.iterdir()}
    staged = {p.name: p.read_bytes() for p in (stage / "vertailu" / "img").iterdir()}
    assert len(here) >= len(reference.counties()) and staged == here


def test_latex_sees_no_pdf_links_and_html_gets_them(built):
    q = QUARTERS[-1]
    before = built["latex"][f"{q}/index.md"].decode()
    after = (built["stage"] / q / "index.md").read_text(encoding="utf-8")
    assert f"{q}.pdf" not in before and f"{q}.pdf <../{book.DOWNLOADS}/{q}.pdf>" in after
    first, second = (page for _, page in built["html"])
    assert first == before and second == after
    latex_stage = built["tmp"] / "into" / book.LATEX_STAGE
    assert built["latex"]["stage"] == str(latex_stage).encode()   # its own copy,
    assert not latex_stage.exists()                               # removed afterwards
    downloads = (built["stage"] / "lataukset.md").read_text(encoding="utf-8")
    assert f"{q}.pdf <{book.DOWNLOADS}/{q}.pdf>" in downloads
    assert downloads.count(portal.OPEN_DATA_HEADING) == 1     # the open data kept, once
    assert (built["stage"] / book.DOWNLOADS / book.COUNTY_PDF).is_file()
    assert book.COUNTY_PDF in (built["stage"] / "alueet" / "index.md").read_text()


def test_html_staging_equals_a_staging_with_the_pdfs(built):
    """What the old second staging (``stage_book(pdf=True)`` with the PDFs in place, then
    the county index's PDF line) made, file for file."""
    again = built["tmp"] / "again"
    shutil.copytree(built["tmp"] / "into" / "pdf", again / "pdf")
    stage = book.stage_book(built["out"], QUARTERS, True, PARAMS, pdf=True, into=again)
    with open(stage / "alueet" / "index.md", "a", encoding="utf-8") as f:
        f.write(f"\nKaikki alueet PDF-muodossa: "
                f"{{download}}`{book.COUNTY_PDF} <../{book.DOWNLOADS}/{book.COUNTY_PDF}>`.\n")
    once, twice = _staged_files(built["stage"]), _staged_files(stage)
    assert sorted(once) == sorted(twice)
    assert [f for f in once if once[f] != twice[f]] == []
