"""The out-of-sample check of the model (statistics/stage.py calibration_rows and
calibration_table), its publication by the gate (aggregates only) and its table in the data
chapter."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from seuranta.core.symbols import SUPPRESSED
from seuranta.publication import chapters, gate, published
from seuranta.statistics import stage


def _case():
    """Municipality 002 is predicted in Q1 (100 clients, variance 400, base 1000) and
    delivers 130 in Q3 as comprehensive (base 1100); 001, comprehensive in both, grows
    from 40 to 44 clients on the same base (the share grows by 10 %); 003 is predicted in Q1
    and never comprehensive."""
    def pred(rows):
        return pd.DataFrame(rows, columns=["municipality_code", "predicted", "variance",
                                           "comprehensive", "population_base"])
    predictions = {
        ("2023Q1", "paihdetyo"): pred([("001", 0.0, 0.0, True, 500), ("002", 100.0, 400.0, False, 1000),
                                       ("003", 50.0, 100.0, False, 800)]),
        ("2023Q3", "paihdetyo"): pred([("001", 0.0, 0.0, True, 500), ("002", 0.0, 0.0, True, 1100),
                                       ("003", 55.0, 110.0, False, 800)]),
    }
    counts = pd.DataFrame({"quarter": ["2023Q1", "2023Q3"] * 3, "source": "ALL",
                           "municipality_code": ["001", "001", "002", "002", "003", "003"],
                           "service_task": "paihdetyo", "clients": [40, 44, 60, 130, 20, 22],
                           "population_base": [500, 500, 1000, 1100, 800, 800]})
    quality = pd.DataFrame({"quarter": ["2023Q1", "2023Q3"] * 3,
                            "municipality_code": ["001", "001", "002", "002", "003", "003"],
                            "service_task": "paihdetyo",
                            "quality": ["comprehensive", "comprehensive", "partial",
                                        "comprehensive", "partial", "partial"]})
    return predictions, counts, quality


def test_calibration_rows_by_hand():
    rows = stage.calibration_rows(*_case())
    assert len(rows) == 1
    r = rows.iloc[0]
    factor = 1100 / 1000 * (44 / 500) / (40 / 500)
    assert (r["quarter"], r["later_quarter"], r["municipality_code"]) == ("2023Q1", "2023Q3", "002")
    assert r["z"] == pytest.approx((130 - 100 * factor) / (20 * factor))
    assert r["variance"] == pytest.approx(400 * factor ** 2)


def test_calibration_table_aggregates():
    rows = pd.DataFrame({"quarter": ["2023Q1"] * 4 + ["2023Q2"] * 2,
                         "service_task": ["iakkaat", "iakkaat", "paihdetyo", "paihdetyo",
                                          "iakkaat", "iakkaat"],
                         "z": [0.5, -2.5, 1.0, 3.0, 0.0, 1.0]})
    t = stage.calibration_table(rows).set_index(["quarter", "service_task"])
    a = t.loc[("2023Q1", "kaikki")]
    z = np.array([0.5, -2.5, 1.0, 3.0])
    assert a["n"] == 4 and a["mean_z"] == pytest.approx(z.mean())
    assert a["sd_z"] == pytest.approx(z.std(ddof=1)) and a["within_196_pct"] == 50.0
    assert t.loc[("2023Q1", "iakkaat"), "within_196_pct"] == 50.0
    assert t.loc[("2023Q2", "iakkaat"), "n"] == 2
    assert stage.calibration_table(rows.iloc[0:0]).empty


def test_the_gate_publishes_aggregates_only(tmp_path):
    """Rows of fewer than min_count municipalities are suppressed; no municipality code, no
    prediction and no single z reach the published table; the data chapter shows it."""
    rows = pd.DataFrame({"quarter": ["2023Q1"] * 6 + ["2023Q2"] * 2,
                         "service_task": ["iakkaat"] * 6 + ["paihdetyo"] * 2,
                         "z": [0.1, -0.4, 1.2, 0.3, -1.1, 2.5, 0.7, -0.2]})
    stage.calibration_table(rows).to_csv(tmp_path / "calibration.csv", index=False)
    pub = gate.published_calibration(tmp_path, "2023Q4", min_count=5)
    assert list(pub.columns) == ["quarter", "service_task", "n", "mean_z", "mean_z_symbol",
                                 "sd_z", "sd_z_symbol", "within_196_pct", "within_196_pct_symbol"]
    small = pub[pub["n"] < 5]
    assert len(small) == 2 and (small["mean_z_symbol"] == SUPPRESSED).all()
    assert small["mean_z"].isna().all() and small["sd_z"].isna().all()
    big = pub[(pub["quarter"] == "2023Q1") & (pub["service_task"] == "iakkaat")].iloc[0]
    assert big["mean_z"] == pytest.approx(round(np.mean([0.1, -0.4, 1.2, 0.3, -1.1, 2.5]), 2))
    assert gate.published_calibration(tmp_path, "2022Q4", min_count=5).empty
    (tmp_path / "published").mkdir()
    pub.to_csv(tmp_path / "published" / "calibration.csv", index=False)
    ch = chapters.Chapter()
    chapters.calibration_block(
        ch, {"calibration": published.read(tmp_path / "published", "calibration")})
    lead = _calibration_lead(ch)
    assert "Taulukossa on 8 tällaista vertailua." in lead and "Sarjassa ei vielä" not in lead
    table = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", ch.tables["calibration"])   # as a reader sees escaped cells
    assert "Taulukko AL5" in table and "0,43" in table and SUPPRESSED in table
    assert not math.isnan(big["sd_z"])
    # no comparison yet: the template's other lead, no table
    ch = chapters.Chapter()
    chapters.calibration_block(ch, {"calibration": pub.iloc[0:0]})
    assert ch.tables["calibration"] == "" and "calibration_n" not in ch.facts
    assert _calibration_lead(ch).startswith("Sarjassa ei vielä ole kuntia, joiden tiedot")


def _calibration_lead(ch):
    """The data chapter's section "Mallin ennusteiden osuvuus" as its template
    (notebooks/aineisto_laatu.md) reads for ``ch`` (the other sections' paragraphs not
    shown), on one line."""
    import jupytext

    from seuranta.publication.notebooks import NOTEBOOK_DIR
    template = NOTEBOOK_DIR / "aineisto_laatu.md"
    none = {c.metadata["if"]: False for c in jupytext.read(template).cells if "if" in c.metadata}
    ch = chapters.Chapter(facts=ch.facts, tables=ch.tables, shown={**none, **ch.shown})
    text = chapters.template_text(template, ch).split("## Mallin ennusteiden osuvuus")[1]
    return " ".join(text.replace("\xa0", " ").split())
