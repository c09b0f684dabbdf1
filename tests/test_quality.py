"""Quality classes: every rule on a hand-made quarter, and the reason codes."""

import datetime as dt

import pandas as pd
import pytest

from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter
from seuranta.statistics import quality as ql

Q = Quarter.parse("2023Q1")
D = dt.date


def test_coverage_codes():
    assert ql.coverage_codes([(D(2020, 1, 1), None)], Q) == []
    assert ql.coverage_codes([(D(2020, 1, 1), D(2023, 3, 31))], Q) == []
    assert ql.coverage_codes([], Q) == ["coverage_not_declared"]
    assert ql.coverage_codes([(D(2023, 4, 1), None)], Q) == ["coverage_not_declared"]
    assert ql.coverage_codes([(D(2023, 2, 15), None)], Q) == ["coverage_starts_in_quarter"]
    assert ql.coverage_codes([(D(2020, 1, 1), D(2023, 3, 30))], Q) == ["coverage_ends_in_quarter"]
    # two sources spliced without a gap cover the quarter; with a gap they do not
    assert ql.coverage_codes([(D(2020, 1, 1), D(2023, 2, 14)), (D(2023, 2, 15), None)], Q) == []
    assert ql.coverage_codes([(D(2020, 1, 1), D(2023, 2, 10)), (D(2023, 2, 15), None)],
                             Q) == ["coverage_gap"]


def test_ramp_codes():
    assert ql.ramp_codes(40, 100, 0.5, 10) == ["monthly_ramp_up"]
    assert ql.ramp_codes(60, 100, 0.5, 10) == []
    assert ql.ramp_codes(100, 40, 0.5, 10) == ["monthly_ramp_down"]
    assert ql.ramp_codes(1, 8, 0.5, 10) == []  # too few clients to judge


def _case():
    """Twelve municipalities of one county, shares about 2 %, one fault each for 001–009."""
    codes = [f"{i:03d}" for i in range(1, 13)]
    clients = dict(zip(codes, [0, 190, 210, 40, 200, 200, 600, 205, 195, 185, 215, 200]))
    rows = []
    for c in codes:
        for s, n in (("SHA", clients[c]), ("ET", 0), ("ALL", clients[c])):
            rows.append({"quarter": "2023Q1", "municipality_code": c, "county_code": "06",
                         "service_task": "vammaispalvelut", "source": s, "clients": n,
                         "population_base": 10000, "share_pct": n / 100})
    counts = pd.DataFrame(rows)
    counts.loc[(counts.municipality_code == "006") & (counts.source != "SHA"), "clients"] = 250
    counts.loc[(counts.municipality_code == "006") & (counts.source == "ET"), "clients"] = 50
    counts["share_pct"] = counts["clients"] / 100
    deliveries = pd.DataFrame(
        [{"municipality_code": c, "service_task": "vammaispalvelut", "source": "SHA",
          "covered_from": D(2023, 2, 1) if c == "002" else D(2020, 1, 1),
          "covered_to": None} for c in codes if c != "003"])
    monthly = pd.DataFrame([{"quarter": "2023Q1", "municipality_code": "005",
                             "service_task": "vammaispalvelut", "source": "ALL",
                             "month": m, "clients": n}
                            for m, n in zip(Q.months, (30, 120, 190))])
    corrections = pd.DataFrame([
        {"quarter": "2023Q1", "municipality_code": "008", "service_task": "vammaispalvelut",
         "decision": "exclude", "reason": "hyvinvointialue: ei edustava"},
        {"quarter": "2023Q1", "municipality_code": "007", "service_task": "vammaispalvelut",
         "decision": "include", "reason": "oikea luku"},
        {"quarter": "2023Q1", "municipality_code": "009", "service_task": "vammaispalvelut",
         "decision": "note", "reason": "huomautus"}])
    cov = pd.DataFrame({"municipality_code": codes, "size_class": "5 000–19 999"})
    return counts, deliveries, monthly, corrections, cov


def test_classify_every_rule():
    counts, deliveries, monthly, corrections, cov = _case()
    q = ql.classify(counts, deliveries, monthly, corrections, cov).set_index("municipality_code")
    assert list(q.columns[:6]) == ["quarter", "county_code", "service_task", "quality",
                                   "sources", "reasons"]
    expect = {
        "001": ("none", "no_rows"),
        "002": ("partial", "coverage_starts_in_quarter"),
        "003": ("partial", "coverage_not_declared"),
        "004": ("partial", "share_low_comparable"),
        "005": ("partial", "monthly_ramp_up"),
        "006": ("comprehensive", ""),
        "007": ("comprehensive", "share_high_z; review_include"),
        "008": ("partial", "review_exclude"),
        "009": ("comprehensive", "review_note"),
        "010": ("comprehensive", ""),
    }
    for code, (cls, reasons) in expect.items():
        assert (q.at[code, "quality"], q.at[code, "reasons"]) == (cls, reasons), code
    assert q.at["006", "sources"] == "SHA+ET"
    assert q.at["010", "sources"] == "SHA"
    assert q.at["001", "sources"] == ""
    # comparison median over the clean municipalities 004, 006–012 (shares 0.4, 2.5, 6.0,
    # 2.05, 1.95, 1.85, 2.15, 2.0): (2.0 + 2.05) / 2; 002, 003 and 005 are not clean
    assert q.at["010", "comparison_median_pct"] == pytest.approx(2.025)
    assert q.at["010", "comparison_group"] == "county"
    assert q.at["008", "review_reason"] == "hyvinvointialue: ei edustava"


def test_include_does_not_override_declared_coverage():
    counts, deliveries, monthly, _, cov = _case()
    corr = pd.DataFrame([{"quarter": "2023Q1", "municipality_code": "002",
                          "service_task": "vammaispalvelut", "decision": "include",
                          "reason": ""}])
    q = ql.classify(counts, deliveries, monthly, corr, cov).set_index("municipality_code")
    assert q.at["002", "quality"] == "partial"


def test_every_code_has_a_finnish_description():
    t = ql.reason_table()
    assert t["code"].is_unique and (t["description_fi"].str.len() > 10).all()
    assert set(t["effect"]) == {"none", "partial", "remark"}


def test_read_inputs(tmp_path):
    (tmp_path / "deliveries.csv").write_text(
        "municipality_code,service_task,source,covered_from,covered_to\n"
        "5,iakkaat,SHA,2022-01-01,\n", encoding="utf-8")
    d = ql.read_deliveries(tmp_path)
    assert d.iloc[0]["municipality_code"] == "005" and d.iloc[0]["covered_to"] is None
    (tmp_path / "deliveries.csv").write_text(
        "municipality_code,service_task,source,covered_from,covered_to\n"
        "005,iakkaat,SHA,2022-13-01,\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1 covered_from"):
        ql.read_deliveries(tmp_path)
    assert ql.read_corrections(tmp_path).empty
    (tmp_path / "corrections.csv").write_text(
        "quarter,municipality_code,service_task,decision,reason\n"
        "2023Q1,005,iakkaat,drop,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="decision must be"):
        ql.read_corrections(tmp_path)


def test_robust_tau2():
    one = 1 / 0.674489750196
    assert ql.robust_tau2([1, -1, 1], [0, 0, 0]) == pytest.approx(one ** 2, rel=1e-6)
    assert ql.robust_tau2([1, 1, -1], [0.5] * 3) == pytest.approx(one ** 2 - 0.5, rel=1e-6)
    assert ql.robust_tau2([0.1, -0.1, 0.1], [0.5] * 3) == 0.0


def test_plausibility_z_by_hand():
    import math

    counts, deliveries, monthly, corrections, cov = _case()
    q = ql.classify(counts, deliveries, monthly, corrections, cov).set_index("municipality_code")
    # E = 2.025 % x 10 000 = 202.5 >= tau_min_expected for all eight clean municipalities, so
    # tau comes from all of them; the floor tau_min = 0.15 applies when that is smaller
    lr = [math.log(s / 2.025) for s in (0.4, 2.5, 6.0, 2.05, 1.95, 1.85, 2.15, 2.0)]
    med = sorted(lr)[3:5]
    med = (med[0] + med[1]) / 2
    tau2 = max(ql.robust_tau2([x - med for x in lr], [1 / 202.5] * 8), 0.15 ** 2)
    z = math.log(6.0 / 2.025) / math.sqrt(tau2 + 1 / 202.5)
    assert q.at["007", "plausibility_z"] == pytest.approx(z)


@pytest.mark.slow
def test_demo_under_delivering_pairs_come_out_partial(tmp_path):
    """On a small demo every under-delivering pair (metadata.json) that the data can reveal
    is partial in the last quarter: enough true clients (≥ 20) and a true share not far
    above the comparison median, so that delivering 30–50 % of it is detectably low."""
    import json

    from seuranta.core.params import load_params
    from seuranta.core.quarters import quarter_range
    from seuranta.demo import generator as demo
    from seuranta.register import stage as register
    from seuranta.statistics import stage as stats

    d = demo.generate(tmp_path / "demo", scale=0.05)
    params = load_params()
    tables = register.run_register_stage(d, quarter_range("2022Q4", "2023Q4"), params)
    out = stats.run_statistics_stage(tables, d, params)
    q = out["quality"]
    q = q[q["quarter"] == "2023Q4"].set_index(["municipality_code", "service_task"])
    tm = pd.read_csv(d / "truth_municipal.csv", dtype={"municipality_code": str})
    if "age_group" in tm.columns:
        tm = tm[tm["age_group"] == "kaikki"]
    tm = tm[tm["quarter"] == "2023Q4"].set_index(["municipality_code", "service_task"])
    under = json.loads((d / "metadata.json").read_text())["faults"]["under_delivering"]
    checked = 0
    for u in under:
        key = (u["municipality_code"], u["service_task"])
        r, t = q.loc[key], tm.loc[key]
        if t["true_clients"] >= 20 and t["share_pct"] <= 1.3 * r["comparison_median_pct"]:
            assert r["quality"] == "partial", (key, r["reasons"])
            checked += 1
    assert checked >= 3
