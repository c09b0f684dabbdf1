"""Staged reader's pages: landing page first in the toc, Swedish summary, county
comparison pages with charts and sortable tables, open data copied for the HTML build;
comparison figures are the published ones; nothing refers to another host."""

import re

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from published_fixture import QUARTERS, write_published  # noqa: E402
from undrawn import undraw_charts  # noqa: E402

from seuranta.core import reference, symbols  # noqa: E402
from seuranta.core.fmt import NBSP  # noqa: E402
from seuranta.core.params import load_params  # noqa: E402
from seuranta.publication import compare, portal  # noqa: E402
from seuranta.publication import published as pub  # noqa: E402

# the module fixtures made once: its tests on one xdist worker
pytestmark = pytest.mark.xdist_group("portal")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    out = write_published(tmp_path_factory.mktemp("out"), QUARTERS)
    stage = out / "book"
    stage.mkdir()
    (stage / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "book/johdanto",
                                                    "parts": [{"caption": "X", "chapters": [{"file": "a"}]}]}))
    (stage / "_config.yml").write_text(yaml.safe_dump({"title": "t"}))
    (stage / "lataukset.md").write_text("# Lataukset\n")
    with pytest.MonkeyPatch.context() as m:
        # no test here reads a chart's picture (one that it is there: its link and file)
        undraw_charts(m)
        docs = portal.stage_pages(stage, out, QUARTERS, True, load_params())
    return out, stage, docs


def test_pages_toc_config_and_open_data(staged):
    out, stage, docs = staged
    for d in docs:
        assert (stage / f"{d}.md").is_file(), d
    toc = yaml.safe_load((stage / "_toc.yml").read_text())
    assert toc["parts"][0]["chapters"][0]["file"] == "uusimmat"
    assert toc["parts"][1]["caption"] == "Vertailu" and toc["parts"][2]["caption"] == "X"
    cfg = yaml.safe_load((stage / "_config.yml").read_text())
    assert cfg["sphinx"]["config"]["html_extra_path"] == ["_extra"]
    rid = portal.current_release_id(out, QUARTERS[-1], load_params())
    assert rid.startswith(QUARTERS[-1])
    assert (out / "avoindata" / rid / "datapackage.json").is_file()
    assert (stage / "_extra" / "avoindata" / rid / "datapackage.json").is_file()
    assert (stage / f"avoindata_{rid}.zip").is_file()
    assert f"avoindata/{rid}/datapackage.json" in (stage / "lataukset.md").read_text()
    assert "Ensimmäinen julkaisu" in (stage / "uusimmat.md").read_text() or \
        "ensimmäinen julkaisu" in (stage / "uusimmat.md").read_text()


def test_no_page_refers_to_another_host(staged):
    _, stage, docs = staged
    for d in docs:
        text = (stage / f"{d}.md").read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), d


def test_county_page_shows_the_published_county_figures(staged):
    out, stage, _ = staged
    pdir = pub.published_dir(out, QUARTERS[-1])
    ce = pub.read(pdir, "county_estimates")
    ce = ce[(ce["county_code"] == "08") & (ce["service_task"] == "iakkaat")].iloc[0]
    page = (stage / "vertailu" / "08.md").read_text(encoding="utf-8")
    if ce["publish_as"] == "point":
        assert f"| Iäkkäät | {compare.fi_number(ce['estimate_rounded'])} |" in page
        assert "alueesta, joilla on pistearvio" in page
    else:   # a range: no point, no interval, no rank
        assert (f"| Iäkkäät | {compare.fi_number(ce['range_low'])}–"
                f"{compare.fi_number(ce['range_high'])} | . |") in page
        assert "Iäkkäät vaihteluväli" in page
    assert (stage / "vertailu" / "img" / "08.png").is_file()
    assert "![Pirkanmaan hyvinvointialue: Iäkkäät " in page


def test_municipal_table_values_and_sort_keys(staged):
    out, stage, _ = staged
    pdir = pub.published_dir(out, QUARTERS[-1])
    tab, num = compare.municipal_table(pdir, QUARTERS[-1])
    assert len(tab) == 293
    m = pub.read(pdir, "municipal")
    m = m[(m["quarter"] == QUARTERS[-1]) & (m["service_task"] == "iakkaat")]
    names = dict(zip(reference.municipalities()["municipality_code"], reference.municipalities()["name_fi"]))
    by_name = tab.set_index("Kunta")
    for r in m.itertuples():
        cell = by_name.loc[names[r.municipality_code], "Iäkkäät"]
        if r.share_pct_symbol:
            assert cell == r.share_pct_symbol
            assert pd.isna(by_name.loc[names[r.municipality_code], num["Iäkkäät"]])
        else:
            assert cell == f"{compare.fi_number(r.share_pct, 1)}{NBSP}%"
    html = compare.sortable_table_html(tab, "t", "c", num)
    assert html.count("<tr>") == 294 and 'id="t-filter"' in html
    suppressed_cell = f'data-v="" style="text-align:right">{symbols.SUPPRESSED}<'
    assert suppressed_cell in html or symbols.SUPPRESSED not in set(tab["Iäkkäät"])


def test_county_table_lists_service_tasks_only():
    cf = pd.DataFrame({"service_task": ["iakkaat", "kaikki"], "county_code": ["08", "08"],
                       "estimate_rounded": [1200.0, 5000.0], "ci_low": [1100.0, 1.0],
                       "ci_high": [1300.0, 1.0], "share_pct": [20.1, 15.0],
                       "range_low": [float("nan")] * 2, "range_high": [float("nan")] * 2,
                       "publish_as": ["point", "point"]})
    nf = pd.DataFrame({"service_task": ["iakkaat"], "share_pct": [19.6], "publish_as": ["point"],
                       "estimate_rounded": [60000.0]})
    md = compare.county_table_md(cf, nf, "08")
    assert f"| Iäkkäät | 1{NBSP}200 | 1{NBSP}100–1{NBSP}300 | 20,1{NBSP}% | 19,6{NBSP}% |" in md
    assert "kaikki" not in md


def test_a_range_county_shows_its_range_and_no_rank():
    """A county whose estimate is a range: the range and the share range in the table, no
    point, no interval and no rank in the alt text; the counties with a point estimate are
    ranked among themselves only."""
    held = {"estimate_rounded": float("nan"), "estimate_rounded_symbol": ".",
            "ci_low": float("nan"), "ci_low_symbol": ".", "ci_high": float("nan"),
            "ci_high_symbol": ".", "share_pct": float("nan"), "share_pct_symbol": ".",
            "range_low": 300.0, "range_high": 600.0, "range_low_pct": 12.0,
            "range_high_pct": 24.1, "publish_as": "range"}
    point = {"estimate_rounded": 900.0, "estimate_rounded_symbol": "", "ci_low": 800.0,
             "ci_low_symbol": "", "ci_high": 1000.0, "ci_high_symbol": "", "share_pct": 18.0,
             "share_pct_symbol": "", "range_low": float("nan"), "range_high": float("nan"),
             "range_low_pct": float("nan"), "range_high_pct": float("nan"), "publish_as": "point"}
    cf = pd.DataFrame([{"service_task": "iakkaat", "county_code": "08", **held},
                       {"service_task": "iakkaat", "county_code": "09", **point},
                       {"service_task": "iakkaat", "county_code": "10",
                        **{**point, "share_pct": 16.0}}])
    cf = cf.assign(kind=[compare.estimate_kind(r) for _, r in cf.iterrows()])
    nf = pd.DataFrame([{"service_task": "iakkaat", **point, "share_pct": 17.0}])
    nf = nf.assign(kind=["point"])
    md = compare.county_table_md(cf, nf, "08")
    assert f"| Iäkkäät | 300–600 | . | 12,0–24,1{NBSP}% | 17,0{NBSP}% |" in md
    alt = compare.chart_alt(cf, nf, "08", "Pirkanmaa")
    assert "suurin" not in alt and f"vaihteluväli 12,0–24,1{NBSP}%" in alt
    assert "1. suurin niistä 2 alueesta" in compare.chart_alt(cf, nf, "09", "x")
    fig = compare.county_chart(cf, nf, "08", "t", synthetic=True)
    assert fig is not None
    import matplotlib.pyplot as plt
    ax = fig.axes[0]
    # the range county is no point: the only red dot would be a point estimate
    red = [c for c in ax.collections if len(c.get_offsets()) == 1 and len(c.get_facecolor())
           and tuple(c.get_facecolor()[0][:3]) == matplotlib.colors.to_rgb("#b2182b")]
    assert red == []
    plt.close(fig)


def test_a_comprehensive_county_shows_its_count_without_an_interval():
    """A county whose every municipality is comprehensive has an exact count: the table
    shows the published count (179), not the estimate rounded to a hundred (200) beside an
    interval "200–200" that would exclude it; the interval is ``x`` (not applicable)."""
    full = {"estimate_rounded": 200.0, "estimate_rounded_symbol": "", "ci_low": float("nan"),
            "ci_low_symbol": symbols.NOT_APPLICABLE, "ci_high": float("nan"),
            "ci_high_symbol": symbols.NOT_APPLICABLE, "share_pct": 17.9, "share_pct_symbol": "",
            "range_low": float("nan"), "range_high": float("nan"), "publish_as": "point",
            "comprehensive": 1, "clients_observed": 179, "clients_observed_symbol": ""}
    cf = pd.DataFrame([{"service_task": "iakkaat", "county_code": "08", **full},
                       {"service_task": "vammaispalvelut", "county_code": "08", **full,
                        "clients_observed": float("nan"),
                        "clients_observed_symbol": symbols.SUPPRESSED}])
    nf = pd.DataFrame({"service_task": ["iakkaat"], "share_pct": [19.6], "publish_as": ["point"],
                       "estimate_rounded": [60000.0]})
    md = compare.county_table_md(cf, nf, "08")
    assert f"| Iäkkäät | 179 | {symbols.NOT_APPLICABLE} | 17,9{NBSP}% | 19,6{NBSP}% |" in md
    assert f"| {symbols.SUPPRESSED} | {symbols.NOT_APPLICABLE} |" in md
    assert "200" not in md
