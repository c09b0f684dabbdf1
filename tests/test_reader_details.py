"""Small things a reader noticed (issue 25, defect 8): distinct page titles of a county's
comparison and municipal pages, the release id explained once, the zip's size as
downloaded, the whole-year sentence that depends on the quarter, and the named contact
and ISSN from the parameters."""

import re

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from published_fixture import QUARTERS, write_published  # noqa: E402
from undrawn import undraw_charts  # noqa: E402

from seuranta.core.errors import InputError  # noqa: E402
from seuranta.core.params import PROJECT_DIR, load_params  # noqa: E402
from seuranta.publication import book, chapters, landing, portal  # noqa: E402
from seuranta.publication import published as pub  # noqa: E402

# the module fixtures made once: its tests on one xdist worker
pytestmark = pytest.mark.xdist_group("reader_details")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    out = write_published(tmp_path_factory.mktemp("out"), QUARTERS)
    stage = out / "book"
    stage.mkdir()
    (stage / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "x",
                                                    "parts": []}))
    (stage / "_config.yml").write_text(yaml.safe_dump({"title": "t"}))
    params = load_params()
    with pytest.MonkeyPatch.context() as m:
        undraw_charts(m)   # no test here reads a chart
        # nor a comparison page's figures (only its title, made as before): its chart of
        # the newest quarter and its section of the quarters not made (issue 24)
        m.setattr(portal.compare, "county_chart", lambda *args, **kwargs: None)
        m.setattr(portal, "_county_series_md", lambda *args, **kwargs: [])
        portal.stage_pages(stage, out, QUARTERS, True, params)
    book._county_pages(stage, out, QUARTERS, True, params)
    return out, stage, params


def _title(path) -> str:
    return next(line for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("# "))


def test_a_countys_comparison_and_municipal_pages_have_distinct_titles(staged):
    _, stage, _ = staged
    pairs = [(_title(stage / "vertailu" / f"{c}.md"), _title(stage / "alueet" / f"{c}.md"))
             for c in ("01", "06", "21")]
    for comparison, municipal in pairs:
        assert comparison != municipal
        assert comparison.endswith(portal.COMPARISON_TITLE_FI)
        assert municipal.endswith(book.COUNTY_TABLES_TITLE_FI)
    titles = [t for p in pairs for t in p]
    assert len(set(titles)) == len(titles)


def test_the_release_id_is_explained_once_and_the_zip_size_is_its_own(staged):
    out, stage, params = staged
    md = (stage / "uusimmat.md").read_text(encoding="utf-8").replace("\\", "")   # unescaped
    rid = portal.current_release_id(out, QUARTERS[-1], params)
    assert md.count(f"Julkaisun tunnus {rid}") == 1
    assert f"julkaisu `{rid}`" not in md
    zipped = stage / f"avoindata_{rid}.zip"
    kb = max(zipped.stat().st_size // 1024, 1)
    m = re.search(r"avoindata_[^`]*\.zip>` \(([\d\u00a0 ]+) kt\)", md)
    assert m and int(re.sub(r"\D", "", m.group(1))) == kb
    assert "pakkaamattomana" not in md


def test_the_release_id_sentence_reads_its_parts():
    s = landing.release_id_fi("2023Q4-20240215")
    assert "loka–joulukuu 2023" in s and "15.2.2024" in s
    other = landing.release_id_fi("erikoisjulkaisu-1")
    assert "erikoisjulkaisu-1" in other and "poimittiin" not in other


def test_the_whole_year_sentence_depends_on_the_quarter():
    """The summary template's lead of "Koko vuosi" as the chapter chooses it."""
    from collections import defaultdict

    import jupytext

    from seuranta.publication.notebooks import NOTEBOOK_DIR
    template = NOTEBOOK_DIR / "yhteenveto.md"
    none = {c.metadata["if"]: False for c in jupytext.read(template).cells if "if" in c.metadata}
    m = pd.DataFrame({"quarter": ["2022Q4", "2023Q1"]})

    def year_lead(quarter):
        ch = chapters.Chapter(shown=dict(none), facts=defaultdict(str))   # other facts empty
        chapters.year_lead(ch, {"municipal": m}, quarter)
        text = chapters.template_text(template, ch).split("## Koko vuosi")[1]
        return " ".join(text.split())
    last_of_year = year_lead("2022Q4")
    assert last_of_year == ("Koko vuoden 2022 tietoja ei julkaista, koska vuoden kaikkien "
                            "neljännesten tietoja ei ole (sarjan ensimmäinen vuosineljännes on "
                            "loka–joulukuu 2022).")
    earlier = year_lead("2023Q1")
    assert earlier == ("Koko vuoden 2023 tiedot julkaistaan loka–joulukuun 2023 tietojen "
                       "yhteydessä, kun vuoden kaikkien neljännesten tiedot ovat koossa.")


def _params_with(tmp_path, **publication):
    data = yaml.safe_load((PROJECT_DIR / "parameters.yml").read_text(encoding="utf-8"))
    data["publication"].update(publication)
    p = tmp_path / "p.yml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_params(p)


def test_the_named_contact_and_issn_come_from_the_parameters(tmp_path, staged):
    out, _, _ = staged
    params = _params_with(tmp_path, contact_name="Liisa Testi", issn="1234-567X")
    info = book.publication_info(params)
    tex = book._titlepage_latex("", info)["preamble"]
    assert "ISSN 1234-567X" in tex and "Liisa Testi, tilastoinfo@thl.fi" in tex
    index = book._quarter_index_md(QUARTERS[-1], True, False, params).replace("\\", "")
    assert "- ISSN: 1234-567X" in index and "Liisa Testi, tilastoinfo@thl.fi" in index
    md = "\n".join(landing._publication_md("r", params)).replace("\\", "")
    assert "ISSN 1234-567X" in md and "Liisa Testi, tilastoinfo@thl.fi" in md
    # none given: neither is printed
    bare = _params_with(tmp_path, contact_name="", issn=None)
    assert "ISSN" not in book._titlepage_latex("", book.publication_info(bare))["preamble"]
    assert "ISSN" not in "\n".join(landing._publication_md("r", bare))
    with pytest.raises(InputError, match="issn"):
        _params_with(tmp_path, issn="ISBN 978")
    assert pub.published_dir(out, QUARTERS[-1]).is_dir()
