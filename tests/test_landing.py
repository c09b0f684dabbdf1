"""Landing page and Swedish summary: the key figures follow the publication rule and the
symbols of the published estimates, the next release comes from the calendar, Swedish
names and number format."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference, symbols
from seuranta.core.fmt import NBSP
from seuranta.core.params import load_params
from seuranta.core.tables import write_csv
from seuranta.publication import bookfmt, landing

# The run's parameters in this process, as the pipeline sets them (bookfmt.use_params).
bookfmt.use_params(load_params())

Q = "2023Q4"


def _est(task, kind, **kw):
    row = {"quarter": Q, "service_task": task, "age_group": "kaikki", "method": "ratio",
           "published": 1, "published_symbol": "", "publish_as": kind,
           "estimate_rounded": np.nan, "estimate_rounded_symbol": "", "ci_low": np.nan,
           "ci_low_symbol": "", "ci_high": np.nan, "ci_high_symbol": "", "share_pct": np.nan,
           "share_pct_symbol": "", "range_low": np.nan, "range_high": np.nan}
    row.update(kw)
    return row


@pytest.fixture()
def pdir(tmp_path):
    d = tmp_path / Q / "published"
    d.mkdir(parents=True)
    est = pd.DataFrame([
        _est("iakkaat", "point", estimate_rounded=12600, ci_low=12100, ci_high=13100, share_pct=19.6258),
        _est("iakkaat", "point", method="model", published=0, estimate_rounded=99900),
        _est("tyoikaiset", "range", range_low=30000, range_high=50000),
        _est("lapsiperheet", "none"),
        _est("lastensuojelu", "point", estimate_rounded_symbol=symbols.SUPPRESSED),
        _est("vammaispalvelut", "point", estimate_rounded=45200, ci_low=44000, ci_high=46400,
             share_pct=0.8123),
        _est("vammaispalvelut", "point", age_group="0-17", estimate_rounded=1),
    ])
    write_csv(est, d / "estimates.csv")
    write_csv(pd.DataFrame({"kind": ["registered", "registered"], "quarter": [Q, Q],
                            "service_task": ["perheoikeudelliset"] * 2, "county_code": ["", "90"],
                            "clients": [2345, 17], "clients_symbol": ["", ""]}), d / "totals.csv")
    hel = "091"
    vaasa = reference.municipalities().set_index("name_fi").loc["Vaasa", "municipality_code"]
    write_csv(pd.DataFrame({"quarter": [Q], "service_task": ["iakkaat"], "n": [40], "q1": [15.0],
                            "median": [18.0], "q3": [21.0], "min": [9.25], "min_municipality_code": [hel],
                            "max": [31.5], "max_municipality_code": [vaasa]}), d / "extremes.csv")
    write_csv(pd.DataFrame({"quarter": [Q, Q], "service_task": ["iakkaat"] * 2, "county_code": ["90", "17"],
                            "share_pct": [17.2, 21.456], "share_pct_symbol": ["", ""]}),
              d / "county_estimates.csv")
    return d


def test_key_figures_follow_the_publication_rule_and_symbols(pdir):
    f = landing.key_figures(pdir, Q).set_index("service_task")
    assert f.loc["iakkaat", "kind"] == "point" and f.loc["iakkaat", "estimate"] == 12600
    assert f.loc["tyoikaiset", "kind"] == "range"
    assert f.loc["lapsiperheet", "kind"] == "none"
    assert f.loc["lastensuojelu", "kind"] == "symbol" and np.isnan(f.loc["lastensuojelu", "estimate"])
    assert f.loc["paihdetyo", "kind"] == "none"              # no row at all
    assert f.loc["perheoikeudelliset", "kind"] == "registered"
    assert f.loc["perheoikeudelliset", "clients"] == 2345     # the whole country's row
    text = {r["service_task"]: landing.figure_text(r) for r in f.reset_index().to_dict("records")}
    assert text["iakkaat"] == (f"12{NBSP}600", f"20{NBSP}% 65 vuotta täyttäneistä; "
                                               f"95 %:n luottamusväli 12{NBSP}100–13{NBSP}100")
    assert text["tyoikaiset"][0] == f"30{NBSP}000–50{NBSP}000"
    assert text["lastensuojelu"][0] == symbols.SUPPRESSED
    assert text["vammaispalvelut"][1].startswith(f"0,8{NBSP}% väestöstä")
    assert text["perheoikeudelliset"][0] == f"2{NBSP}345"


def test_landing_page(pdir):
    md = landing.landing_md(pdir, Q, True, dt.date(2024, 3, 15), "2024-03-15",
                            ["2023-12-15", "2024-03-15", "2024-06-14"], "Aiemmin julkaistut luvut eivät muuttuneet.",
                            [("Data package", "avoindata/2024-03-15/datapackage.json")])
    assert "Julkaistu 15.3.2024" in md and "Seuraava julkaisu 14.6.2024." in md
    assert "loka–joulukuu 2023" in md and "synteettis" in md
    assert md.count('class="seuranta-tile"') == len(reference.task_codes())
    assert f"12{NBSP}600" in md and "99" + NBSP + "900" not in md    # only the published method
    assert 'href="avoindata/2024-03-15/datapackage.json"' in md
    assert "Aiemmin julkaistut luvut eivät muuttuneet." in md
    assert landing.next_release(["2024-03-15"], dt.date(2024, 3, 15)) is None


def test_swedish_summary_names_and_number_format(pdir):
    md = landing.swedish_md({Q: pdir}, synthetic=True)
    assert "## Oktober–december 2023" in md
    assert f"Tjänster för äldre: uppskattningsvis 20{NBSP}% av personer som fyllt 65 år, det vill säga " \
           f"cirka 12{NBSP}600 klienter." in md
    assert f"störst i Vasa (32{NBSP}%) och minst i Helsingfors (9,3{NBSP}%)" in md   # Swedish names
    assert f"störst i Österbottens välfärdsområde (21{NBSP}%)" in md
    assert f"mellan 30{NBSP}000 och 50{NBSP}000 klienter" in md
    assert "Syntetiska data" in md


def test_swedish_county_names_cover_every_county():
    sv = pd.read_csv(reference.REFERENCE_DIR / landing.SV_COUNTIES_FILE, dtype=str)
    m = reference.municipalities()
    assert set(sv["county_code"]) == set(m["county_code"])
    assert sv["county_name_sv"].str.strip().ne("").all()
