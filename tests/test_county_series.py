"""County comparison over time (issue 25): a county's shares in every published quarter,
each quarter exactly as its own published folder has it (point, range or nothing), from
the published tables only."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from published_fixture import _rule_row  # noqa: E402

from seuranta.core.fmt import NBSP  # noqa: E402
from seuranta.core.tables import write_csv  # noqa: E402
from seuranta.publication import compare  # noqa: E402

Q = ["2023Q1", "2023Q2", "2023Q3"]


def _row(q, task, county, kind, est=1200, lo=1100, hi=1300, share=12.3, rlo=np.nan,
         rhi=np.nan, rlo_pct=np.nan, rhi_pct=np.nan):
    return {"quarter": q, "service_task": task, "county_code": county,
            "method": "mallipohjainen arvio", "municipalities": 10,
            "municipalities_comprehensive": 4, "comprehensive": 0, "clients_observed": 400,
            "clients_observed_symbol": "",
            **_rule_row(kind, est, lo, hi, share, rlo, rhi, rlo_pct, rhi_pct)}


def _folders(tmp_path):
    """Three quarters' published folders of county 06 (iakkaat: a point, a range, none;
    vammaispalvelut: suppressed in 2023Q2); county 07 beside it."""
    rows = {
        "2023Q1": [_row("2023Q1", "iakkaat", "06", "point"),
                   _row("2023Q1", "vammaispalvelut", "06", "point", 300, 250, 350, 2.1)],
        "2023Q2": [_row("2023Q2", "iakkaat", "06", "range", rlo=1000, rhi=1500, rlo_pct=10.4,
                        rhi_pct=15.6),
                   _row("2023Q2", "vammaispalvelut", "06", "point", 310, 260, 360, 2.2)],
        "2023Q3": [_row("2023Q3", "iakkaat", "06", "none"),
                   _row("2023Q3", "vammaispalvelut", "06", "point", 320, 270, 370, 2.3),
                   # an older quarter's row in the newest folder: not what 2023Q1 published
                   _row("2023Q1", "iakkaat", "06", "point", 9900, 9800, 9999, 77.7)],
    }
    # 2023Q2: the range quarter carries a share under its symbol (never to be shown), and
    # vammaispalvelut is suppressed (..) with its figures
    r = rows["2023Q2"][0]
    r["share_pct"] = 13.1
    s = rows["2023Q2"][1]
    for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct"):
        s[f"{c}_symbol"] = ".."
    for q in Q:
        rows[q] += [_row(q, "iakkaat", "07", "point", 800, 700, 900, 9.9)]
    pdirs = {}
    for q in Q:
        d = tmp_path / q / "published"
        d.mkdir(parents=True)
        write_csv(pd.DataFrame(rows[q]), d / "county_estimates.csv")
        write_csv(pd.DataFrame([{"quarter": q, "service_task": "iakkaat", "age_group": "kaikki",
                                 "method": "ratio", "note": "", "rule_reason": "",
                                 "municipalities_used": 50, "national_base": 1e6,
                                 **_rule_row("point", 110000, 100000, 120000, 11.0)}]),
                  d / "estimates.csv")
        pdirs[q] = d
    return pdirs


def test_every_quarter_is_shown_as_its_own_publication_shows_it(tmp_path):
    pdirs = _folders(tmp_path)
    s = compare.county_series(pdirs, "06")
    assert sorted(s["quarter"].unique()) == Q
    md = compare.county_series_table_md(s, "T").replace("\\", "")   # Markdown escapes off
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Vuosineljännes | Iäkkäät | Vammaispalvelut |"
    assert rows[1:] == [
        f"| tammi–maaliskuu 2023 | 12,3{NBSP}% | 2,1{NBSP}% |",
        f"| huhti–kesäkuu 2023 | 10,4–15,6{NBSP}% | .. |",
        f"| heinä–syyskuu 2023 | . | 2,3{NBSP}% |",
    ]
    # withheld (under a symbol) or another folder's version of a quarter: never shown
    assert "13,1" not in md and "77,7" not in md and "2,2" not in md
    alt = compare.county_series_alt(s, "Alue")
    assert "13,1" not in alt and "77,7" not in alt and "2,2" not in alt
    assert f"I/2023 12,3{NBSP}%; II/2023 10,4–15,6{NBSP}%" in alt


def test_the_chart_draws_only_the_published_figures(tmp_path):
    pdirs = _folders(tmp_path)
    s = compare.county_series(pdirs, "06")
    fig = compare.county_series_chart(s, compare.national_series(pdirs), "T", synthetic=True)
    try:
        ax = fig.axes[0]   # iakkaat
        dots = [c for c in ax.collections if hasattr(c, "get_offsets")
                and len(c.get_offsets()) and c.get_offsets().shape[1] == 2
                and type(c).__name__ == "PathCollection"]
        offsets = np.concatenate([c.get_offsets() for c in dots])
        assert offsets.tolist() == [[0.0, 12.3]]   # the point quarter only
        values = np.concatenate([np.asarray(seg).ravel() for c in ax.collections
                                 for seg in getattr(c, "get_segments", lambda: [])()])
        assert not np.isclose(values, 13.1).any() and not np.isclose(values, 77.7).any()
        assert any("synteettinen demoaineisto" in t.get_text() for t in fig.texts)
        vam = fig.axes[1]
        voff = np.concatenate([c.get_offsets() for c in vam.collections
                               if type(c).__name__ == "PathCollection"])
        assert sorted(voff[:, 0].tolist()) == [0.0, 2.0]   # 2023Q2 suppressed
    finally:
        plt.close(fig)


def test_a_county_without_published_rows_has_no_section(tmp_path):
    pdirs = _folders(tmp_path)
    s = compare.county_series(pdirs, "21")
    assert compare.county_series_table_md(s, "T") is None
    assert compare.county_series_chart(s, compare.national_series(pdirs), "T",
                                       synthetic=False) is None
