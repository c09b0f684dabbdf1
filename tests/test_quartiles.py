"""Quartiles of municipal shares pinned by hand (type-7 interpolation), the seed's
Finnish sentence, and the Finnish number format."""

import math

import pandas as pd
import pytest

from seuranta.core import fmt
from seuranta.statistics import quartiles as qrt

NB = "\u00a0"


def test_fi_number_and_pct():
    assert fmt.fi_number(134400) == f"134{NB}400"
    assert fmt.fi_number(1234567.891, 2) == f"1{NB}234{NB}567,89"
    assert fmt.fi_number(999) == "999"
    assert fmt.fi_number(-1500) == f"\u22121{NB}500"
    assert fmt.fi_number(float("nan")) == "."
    assert fmt.fi_pct(2.4) == f"2,4{NB}%"
    assert fmt.fi_pct(2.45) == f"2,5{NB}%"  # half up, not to even
    assert fmt.fi_pct(0.35, 1) == f"0,4{NB}%"
    assert fmt.fi_round(134372) == 134400
    assert fmt.fi_round(134350) == 134400
    assert math.isnan(fmt.fi_round(float("nan")))


def test_quartile_row_by_hand():
    shares = pd.Series([4.3, 0.5, 1.8, 2.4, 3.3, 1.2])
    codes = pd.Series(["609", "072", "001", "002", "003", "004"])
    names = {"609": "Pomarkku", "072": "Hailuoto"}
    r = qrt.quartile_row(shares, codes, names)
    # sorted 0.5 1.2 1.8 2.4 3.3 4.3; type 7: h = (n-1)p
    # q1: h=1.25 -> 1.2 + 0.25*0.6 = 1.35; median: h=2.5 -> 2.1; q3: h=3.75 -> 2.4+0.75*0.9
    assert r["n"] == 6
    assert r["q1"] == pytest.approx(1.35)
    assert r["median"] == pytest.approx(2.1)
    assert r["q3"] == pytest.approx(3.075)
    assert (r["min"], r["min_municipality"]) == (0.5, "Hailuoto")
    assert (r["max"], r["max_municipality"]) == (4.3, "Pomarkku")


def test_quartile_table_uses_comprehensive_all_rows_only():
    counts = pd.DataFrame({
        "quarter": "2023Q1", "service_task": "vammaispalvelut",
        "municipality_code": ["001", "002", "003", "001", "002", "003"],
        "source": ["ALL"] * 3 + ["SHA"] * 3,
        "share_pct": [1.0, 2.0, 9.0, 0.1, 0.1, 0.1]})
    quality = pd.DataFrame({"quarter": "2023Q1", "service_task": "vammaispalvelut",
                            "municipality_code": ["001", "002", "003"],
                            "quality": ["comprehensive", "comprehensive", "partial"]})
    t = qrt.quartile_table(counts, quality, {"001": "A", "002": "B"})
    r = t.iloc[0]
    assert r["n"] == 2 and r["median"] == pytest.approx(1.5)
    assert r["q1"] == pytest.approx(1.25) and r["q3"] == pytest.approx(1.75)
    assert r["min_municipality"] == "A" and r["max_municipality"] == "B"


def test_quartile_row_empty_and_ties():
    r = qrt.quartile_row(pd.Series([], dtype=float), pd.Series([], dtype=str), {})
    assert r["n"] == 0 and math.isnan(r["q1"])
    r = qrt.quartile_row(pd.Series([1.0, 1.0]), pd.Series(["009", "005"]), {})
    assert r["min_municipality"] == "005" and r["max_municipality"] == "005"


def test_seed_sentence():
    row = {"n": 57, "q1": 1.6, "median": 2.4, "q3": 3.1, "min": 0.5,
           "min_municipality": "Hailuoto", "max": 4.3, "max_municipality": "Pomarkku"}
    s = qrt.quartile_sentence(row)
    assert s == (f"Neljänneksessä kuntia osuus oli 1,6{NB}% tai pienempi ja neljänneksessä "
                 f"3,1{NB}% tai suurempi. Pienin osuus oli 0,5{NB}% (Hailuoto) ja suurin "
                 f"4,3{NB}% (Pomarkku).")
    assert "vain 2" in qrt.quartile_sentence({**row, "n": 2})
