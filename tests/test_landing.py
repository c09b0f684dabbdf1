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
from seuranta.publication import landing

Q = "2023Q4"


def _est(task, kind, **kw):
    """A published estimates row as the gate writes it (the published method only; a
    figure the rule withholds is empty with "."), figures given by ``kw``."""
    held = "." if kind != "point" else ""
    row = {"quarter": Q, "service_task": task, "age_group": "kaikki", "method": "ratio",
           "publish_as": kind,
           "estimate_rounded": np.nan, "estimate_rounded_symbol": held, "ci_low": np.nan,
           "ci_low_symbol": held, "ci_high": np.nan, "ci_high_symbol": held,
           "share_pct": np.nan, "share_pct_symbol": held, "range_low": np.nan,
           "range_low_symbol": "", "range_high": np.nan, "range_high_symbol": "",
           "range_low_pct": np.nan, "range_low_pct_symbol": "", "range_high_pct": np.nan,
           "range_high_pct_symbol": ""}
    row.update(kw)
    return row


@pytest.fixture()
def pdir(tmp_path):
    d = tmp_path / Q / "published"
    d.mkdir(parents=True)
    est = pd.DataFrame([
        _est("iakkaat", "point", estimate_rounded=12600, ci_low=12100, ci_high=13100, share_pct=19.6),
        _est("tyoikaiset", "range", range_low=30000, range_high=50000, range_low_pct=3.1,
             range_high_pct=5.2),
        _est("lapsiperheet", "none"),
        _est("lastensuojelu", "point", estimate_rounded_symbol=symbols.SUPPRESSED),
        _est("vammaispalvelut", "point", estimate_rounded=45200, ci_low=44000, ci_high=46400,
             share_pct=0.8),
        _est("vammaispalvelut", "point", age_group="0-17", estimate_rounded=1),
    ])
    write_csv(est, d / "estimates.csv")
    write_csv(pd.DataFrame({"kind": ["registered", "registered"], "quarter": [Q, Q],
                            "service_task": ["perheoikeudelliset"] * 2, "county_code": ["", "90"],
                            "clients": [2345, 17], "clients_symbol": ["", ""]}), d / "totals.csv")
    hel = "091"
    vaasa = reference.municipalities().set_index("name_fi").loc["Vaasa", "municipality_code"]
    write_csv(pd.DataFrame({"quarter": [Q], "service_task": ["iakkaat"], "n": [40], "q1": [15.0],
                            "median": [18.0], "q3": [21.0], "min": [9.3], "min_municipality_code": [hel],
                            "max": [31.5], "max_municipality_code": [vaasa]}), d / "extremes.csv")
    # every county of iakkaat with a point estimate (so one may be called the largest);
    # a range county of tyoikaiset (so none of that task may)
    write_csv(pd.DataFrame({"quarter": [Q] * 3, "service_task": ["iakkaat"] * 2 + ["tyoikaiset"],
                            "county_code": ["90", "17", "17"], "publish_as": ["point"] * 2 + ["range"],
                            "estimate_rounded": [800, 900, np.nan],
                            "estimate_rounded_symbol": ["", "", "."],
                            "share_pct": [17.2, 21.5, np.nan], "share_pct_symbol": ["", "", "."],
                            "range_low": [np.nan, np.nan, 1000], "range_low_symbol": ["x", "x", ""],
                            "range_high": [np.nan, np.nan, 2000], "range_high_symbol": ["x", "x", ""]}),
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
    assert text["iakkaat"] == (f"12{NBSP}600", f"19,6{NBSP}% 65 vuotta täyttäneistä; "
                                               f"95 %:n luottamusväli 12{NBSP}100–13{NBSP}100")
    assert text["tyoikaiset"][0] == f"30{NBSP}000–50{NBSP}000"
    assert text["tyoikaiset"][1].startswith(f"3,1–5,2{NBSP}% 18–64-vuotiaista; vaihteluväli")
    assert text["lastensuojelu"][0] == symbols.SUPPRESSED
    assert text["vammaispalvelut"][1].startswith(f"0,8{NBSP}% väestöstä")
    assert text["perheoikeudelliset"][0] == f"2{NBSP}345"
    # "ei arviota" is the symbol "." of the one symbol set, never a dash
    assert text["lapsiperheet"][0] == symbols.NOT_AVAILABLE


def test_landing_page(pdir):
    md = landing.landing_md(pdir, Q, True, dt.date(2024, 3, 15), "2024-03-15",
                            ["2023-12-15", "2024-03-15", "2024-06-14"], "Aiemmin julkaistut luvut eivät muuttuneet.",
                            [("Data package", "avoindata/2024-03-15/datapackage.json")],
                            params=load_params())
    assert "Julkaistu 15.3.2024" in md and "Seuraava julkaisu 14.6.2024." in md
    assert "loka–joulukuu 2023" in md and "synteettis" in md
    assert md.count('class="seuranta-tile"') == len(reference.task_codes())
    assert f"12{NBSP}600" in md
    assert 'href="avoindata/2024-03-15/datapackage.json"' in md
    assert "Aiemmin julkaistut luvut eivät muuttuneet." in md
    assert landing.next_release(["2024-03-15"], dt.date(2024, 3, 15)) is None


def test_swedish_summary_names_and_number_format(pdir):
    md = landing.swedish_md({Q: pdir}, synthetic=True)
    assert "## Oktober–december 2023" in md
    assert f"Tjänster för äldre: uppskattningsvis 19,6{NBSP}% av personer som fyllt 65 år, det vill säga " \
           f"cirka 12{NBSP}600 klienter." in md
    assert f"störst i Vasa (31,5{NBSP}%) och minst i Helsingfors (9,3{NBSP}%)" in md   # Swedish names
    assert f"störst i Österbottens välfärdsområde (21,5{NBSP}%)" in md
    assert f"mellan 30{NBSP}000 och 50{NBSP}000 klienter (3,1–5,2{NBSP}% av 18–64-åringarna)" in md
    assert "Syntetiska data" in md


def test_swedish_county_names_cover_every_county():
    sv = pd.read_csv(reference.REFERENCE_DIR / landing.SV_COUNTIES_FILE, dtype=str)
    m = reference.municipalities()
    assert set(sv["county_code"]) == set(m["county_code"])
    assert sv["county_name_sv"].str.strip().ne("").all()


def test_swedish_summary_ranks_no_county_beside_a_range(pdir):
    """A county whose estimate is a range could be the largest: with one range county in
    the task, no county is called the largest."""
    ce = pd.read_csv(pdir / "county_estimates.csv", dtype={"county_code": str})
    ce.loc[0, ["publish_as", "estimate_rounded", "estimate_rounded_symbol", "share_pct",
               "share_pct_symbol"]] = ["range", np.nan, ".", np.nan, "."]
    write_csv(ce, pdir / "county_estimates.csv")
    md = landing.swedish_md({Q: pdir}, synthetic=True)
    assert "välfärdsområdena var den skattade andelen" not in md


def test_english_summary_names_numbers_and_symbols(pdir):
    md = landing.english_md({Q: pdir}, synthetic=True)
    assert md.startswith("# English summary") and "## October–December 2023" in md
    assert (f"Services for older people: an estimated 19.6% of people aged 65 or over, that "
            f"is, about 12{NBSP}600 clients.") in md
    assert f"between 30{NBSP}000 and 50{NBSP}000 clients (3.1–5.2% of people aged 18–64)" in md
    assert "largest in Vaasa (31.5%) and smallest in Helsinki (9.3%)" in md
    assert "Synthetic data" in md
    for s in symbols.SYMBOLS:
        assert f"- `{s}` " in md                       # every symbol explained in English
    import re
    assert not re.search(r"\d,\d", md)                 # no decimal comma in figures


def test_figure_text_in_three_languages_says_no_estimate_with_the_symbol(pdir):
    f = landing.key_figures(pdir, Q)
    none = f[f["kind"] == "none"].iloc[0].to_dict()
    for lang, word in (("fi", "ei arviota"), ("sv", "ingen skattning"), ("en", "no estimate")):
        big, sub = landing.figure_text(none, lang)
        assert big == symbols.NOT_AVAILABLE and sub.startswith(word)
