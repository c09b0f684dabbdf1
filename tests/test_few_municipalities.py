"""One comprehensive municipality (or two or three): quartiles and the smallest and
largest share say nothing then ("alakvartiili 12,7 % … yläkvartiili 12,7 %", "pienin 12,7 %
(Tuusula) ja suurin 12,7 % (Tuusula)", "störst i Tusby och minst i Tusby"). The gate leaves
them empty below its minimums (publication.rule) and the chapter and the Swedish summary
say why."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from published_fixture import write_published

from seuranta.core import reference, symbols
from seuranta.core.tables import write_csv
from seuranta.publication import chapters, gate, landing, rule
from seuranta.publication.notebooks import NOTEBOOK_DIR

Q = "2023Q4"
PARAMS = {"estimate": {"min_municipalities": 2}}


def _mun(shares: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"quarter": Q, "service_task": "t", "municipality_code": list(shares),
                         "quality": "comprehensive", "share_pct": list(shares.values()),
                         "share_pct_symbol": ""})


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_gate_publishes_quartiles_and_extremes_only_over_enough_shown_shares(n):
    shares = {f"00{i}": 10.0 + i for i in range(1, n + 1)}
    x = gate._extremes(pd.DataFrame({"service_task": ["t"], "n": [n]}), _mun(shares), Q).iloc[0]
    assert x["n_shown"] == n
    quartiles = [x["q1"], x["median"], x["q3"]]
    if n >= rule.MIN_QUARTILE_MUNICIPALITIES:
        assert quartiles == list(pd.Series(list(shares.values())).quantile([.25, .5, .75]))
    else:
        assert all(v is None or math.isnan(v) for v in quartiles)
    if n >= rule.MIN_EXTREME_MUNICIPALITIES:
        assert (x["min"], x["max"]) == (11.0, 10.0 + n)
        assert (x["min_municipality_code"], x["max_municipality_code"]) == ("001", f"00{n}")
    else:
        assert x["min"] is None and x["max"] is None
        assert x["min_municipality_code"] == x["max_municipality_code"] == ""


def _one_comprehensive(tmp_path):
    """The fixture's published tables with one comprehensive municipality of iakkaat."""
    out = write_published(tmp_path, quarters=[Q])
    pdir = out / Q / "published"
    mun = pd.read_csv(pdir / "municipal.csv", dtype={"municipality_code": str,
                                                     "county_code": str}, keep_default_na=False,
                      na_values=[""])
    tuusula = reference.municipalities().set_index("name_fi").loc["Tuusula", "municipality_code"]
    task = mun["service_task"] == "iakkaat"
    one = task & (mun["municipality_code"] == tuusula)
    mun.loc[task & ~one, ["quality", "clients_symbol", "share_pct_symbol"]] = [
        "partial", symbols.NOT_AVAILABLE, symbols.NOT_AVAILABLE]
    mun.loc[task & ~one, ["clients", "share_pct"]] = math.nan
    mun.loc[one, ["quality", "clients", "share_pct", "clients_symbol", "share_pct_symbol"]] = [
        "comprehensive", 1270, 12.7, "", ""]
    mun["clients"] = mun["clients"].astype("Int64")
    write_csv(mun, pdir / "municipal.csv")
    est = pd.read_csv(pdir / "estimates.csv", keep_default_na=False, na_values=[""])
    write_csv(est.assign(clients_used=1270, clients_used_symbol="", municipalities_used=1,
                         population_used=10000, national_base=1000000), pdir / "estimates.csv")
    quart = pd.DataFrame({"service_task": ["iakkaat"], "n": [1]})
    write_csv(gate._extremes(quart, mun, Q), pdir / "extremes.csv")
    return out, pdir


def test_one_comprehensive_municipality_chapter_says_why(tmp_path):
    out, _ = _one_comprehensive(tmp_path)
    ch = chapters.task_chapter(out / Q / "tables", Q, "iakkaat", PARAMS, synthetic=True)
    page = chapters.template_text(NOTEBOOK_DIR / "palvelutehtava.md", ch)
    text = re.sub(r"[ \n]+", " ", page.split("## Kuntien väliset erot")[1].split("\n## ")[0])
    assert "12,7" not in text and "Tuusula" not in text and "alakvartiili" not in text
    assert "Kvartiileja ei esitetä, koska ne edellyttävät vähintään 4 kuntaa" in text
    assert "Pienintä ja suurinta osuutta ei esitetä" in text
    assert "shares" not in ch.figures     # no chart with three lines on one bar


def test_one_comprehensive_municipality_swedish_summary_says_why(tmp_path):
    _, pdir = _one_comprehensive(tmp_path)
    sv = landing.swedish_md({Q: pdir}, True)
    assert "Tusby" not in sv
    assert "Skillnaderna mellan kommunerna beskrivs inte" in sv


def test_map_text_of_one_municipality_names_its_share_once():
    from seuranta.publication import maps
    codes = reference.mainland_municipalities()["municipality_code"].tolist()
    rows = pd.DataFrame({"municipality_code": codes, "quality": "partial",
                         "share_pct": math.nan, "share_pct_symbol": symbols.NOT_AVAILABLE,
                         "clients_symbol": symbols.NOT_AVAILABLE})
    rows.loc[0, ["quality", "share_pct", "share_pct_symbol", "clients_symbol"]] = [
        "comprehensive", 12.6, "", ""]
    text = maps.describe(rows, {codes[0]: "Tuusula"}, "x")
    assert text.count("Tuusula") == 1 and "Sen osuus on 12,6" in text
    assert "Pienin" not in text and "suurin" not in text
