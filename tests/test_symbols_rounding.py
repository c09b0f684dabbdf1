"""One symbol set and one rounding rule in every text (issue 25, defect 5): "ei arviota"
is the symbol "." (never a dash), the set promises no symbol it does not use, every share
has one decimal, chart ticks never print the same label twice, and a map legend's class
edges have the text's decimals, rounded outward."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from published_fixture import write_published

from seuranta.core import symbols
from seuranta.core.fmt import NBSP
from seuranta.publication import book, chapters, compare, maps
from seuranta.publication import bookfmt as bf

Q = "2023Q4"
PARAMS = {"estimate": {"min_municipalities": 2}, "quality": {"verdict_threshold_pct": 2.0}}
DASHES = ("–", "—", "-")


def test_the_symbol_set_has_no_dash_and_zero_is_a_number():
    assert not set(symbols.SYMBOLS) & set(DASHES)
    page = book._symbols_md()
    assert "Nolla (0) on luku" in page


def test_a_county_without_comprehensive_municipalities_observed_nothing(tmp_path):
    row = {"quarter": Q, "service_task": "iakkaat", "county_code": "08",
           "method": "mallipohjainen arvio", "municipalities": 10,
           "municipalities_comprehensive": 0, "comprehensive": 0, "publish_as": "none",
           "clients_observed": None, "clients_observed_symbol": symbols.NOT_AVAILABLE,
           "estimate_rounded": None, "estimate_rounded_symbol": symbols.NOT_AVAILABLE}
    pd.DataFrame([row]).to_csv(tmp_path / "county_estimates.csv", index=False)
    md = compare.task_county_table_md(tmp_path, Q, "iakkaat")
    line = md.splitlines()[2]
    assert not any(f"| {d} |" in line for d in DASHES)
    assert f"| {symbols.NOT_APPLICABLE} | 0/10 |" in line


def test_every_share_of_a_task_chapter_has_one_decimal(tmp_path):
    out = write_published(tmp_path, quarters=[Q])
    pdir = out / Q / "published"
    est = pd.read_csv(pdir / "estimates.csv", keep_default_na=False, na_values=[""])
    est.assign(clients_used=1270, clients_used_symbol="", municipalities_used=40,
               population_used=250000, national_base=1000000).to_csv(
        pdir / "estimates.csv", index=False)
    ch = chapters.task_chapter(out / Q / "tables", Q, "iakkaat", PARAMS, synthetic=True)
    text = "\n".join([*ch.facts.values(), *ch.tables.values()]).replace("\\", "")  # MyST escapes
    shares = re.findall(rf"[\d{NBSP},]+{NBSP}%", text)
    assert len(shares) >= 20            # the county quality table and the lead at least
    bad = [s for s in shares if not re.fullmatch(rf"(\d{{1,3}}({NBSP}\d{{3}})*),\d{NBSP}%", s)]
    assert bad == []


@pytest.mark.parametrize("top,pct", [(0.3, True), (0.15, True), (1.5, False), (2.0, False),
                                     (25.0, True)])
def test_chart_ticks_never_print_the_same_label_twice(top, pct):
    plt = bf.setup_matplotlib()
    fig, ax = plt.subplots()
    try:
        ax.plot([0, 1], [0, top])
        (bf.fi_axis_pct if pct else bf.fi_axis_number)(ax)
        fig.canvas.draw()
        lo, hi = ax.get_ylim()
        labels = [t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks())
                  if lo <= v <= hi]
        assert len(labels) >= 2 and len(labels) == len(set(labels)), labels
    finally:
        plt.close(fig)


def test_map_legend_edges_have_the_text_decimals_rounded_outward():
    assert maps.class_label(11.75, 12.349) == f"11,7–12,4{NBSP}%"       # outward, one decimal
    assert maps.class_label(5.0, 10.0) == f"5,0–10,0{NBSP}%"            # never fewer decimals
    assert maps.class_label(0.123, 0.456) == f"0,1–0,5{NBSP}%"          # never more
