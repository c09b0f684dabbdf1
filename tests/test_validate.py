"""Validation of register rows: every reason code quarantines a row of its kind, flags, ledger."""

from __future__ import annotations

import pandas as pd
import pytest
from register_helpers import PARAMS, row, write_folder

from seuranta.core.quarters import quarter_range
from seuranta.register import stage as register
from seuranta.register import validate

# (label, row, expected reason or None when accepted). Each faulty row has exactly one
# fault unless the label says otherwise; extract date 2024-02-15.
CASES = [
    ("good", row(), None),
    ("missing_client_id", row(client_id=""), "missing_field"),
    ("blank_municipality", row(client_id="x2", municipality_code="  "), "missing_field"),
    ("missing_task", row(client_id="x3", service_task=""), "missing_field"),
    ("missing_start", row(client_id="x4", start_date=""), "missing_field"),
    ("missing_source", row(client_id="x5", source=""), "missing_field"),
    ("unknown_task", row(client_id="x6", service_task="asumispalvelut"), "unknown_service_task"),
    ("unknown_municipality", row(client_id="x7", municipality_code="999"), "unknown_municipality"),
    ("municipality_not_3_digits", row(client_id="x8", municipality_code="91"),
     "unknown_municipality"),
    ("aland_mariehamn", row(client_id="x9", municipality_code="478"), "aland"),
    ("bad_source", row(client_id="x10", source="KANTA"), "bad_source"),
    ("source_lowercase", row(client_id="x11", source="sha"), "bad_source"),
    ("start_month_13", row(client_id="x12", start_date="2023-13-01"), "bad_date"),
    ("start_finnish_format", row(client_id="x13", start_date="1.2.2023"), "bad_date"),
    ("end_feb_30", row(client_id="x14", end_date="2023-02-30"), "bad_date"),
    ("end_before_start", row(client_id="x15", start_date="2023-03-01", end_date="2023-02-28"),
     "end_before_start"),
    ("start_after_extract", row(client_id="x16", start_date="2024-02-16"), "start_after_extract"),
    ("start_on_extract_date", row(client_id="x17", start_date="2024-02-15"), None),
    ("birth_year_missing", row(client_id="x18", birth_year=""), "birth_year_missing"),
    ("birth_year_after_start", row(client_id="x19", birth_year="2024"), "birth_year_impossible"),
    ("birth_year_start_year", row(client_id="x20", birth_year="2023",
                                  service_task="lapsiperheet"), None),
    ("age_121", row(client_id="x21", birth_year="1902", service_task="iakkaat"),
     "birth_year_impossible"),
    ("age_120", row(client_id="x22", birth_year="1903", service_task="iakkaat"), None),
    ("birth_year_text", row(client_id="x23", birth_year="19x0"), "birth_year_impossible"),
    ("cwa_value_2", row(client_id="x24", service_task="lastensuojelu", birth_year="2010",
                        child_welfare_act="2"), "bad_child_welfare_act"),
    ("first_rule_wins", row(client_id="x25", service_task="nope", start_date="bad"),
     "unknown_service_task"),
    ("flag_only_40y_child_welfare", row(client_id="x26", service_task="lastensuojelu",
                                        birth_year="1983"), None),
    # client ids are compared as given: never trimmed, so spaces or control characters
    # would split one person into several (issue 15)
    ("client_id_leading_space", row(client_id=" x27"), "bad_client_id"),
    ("client_id_trailing_space", row(client_id="x28 "), "bad_client_id"),
    ("client_id_newline", row(client_id="x2\n9"), "bad_client_id"),
    ("client_id_tab", row(client_id="x30\t"), "bad_client_id"),
    ("client_id_65_chars", row(client_id="y" * 65), "bad_client_id"),
    ("client_id_64_chars", row(client_id="z" * 64), None),
    ("client_id_inner_space", row(client_id="x 31"), None),
    ("client_id_one_char", row(client_id="q"), None),
    ("start_year_0001", row(client_id="x32", start_date="0001-01-01", birth_year="0001"),
     "start_before_min_year"),
    ("start_year_1959", row(client_id="x33", start_date="1959-12-31", birth_year="1950"),
     "start_before_min_year"),
    ("start_year_1960", row(client_id="x34", start_date="1960-01-01", birth_year="1930"), None),
]


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    rows = [c[1] for c in CASES]
    rows += [row(), row()]  # the 2nd and 3rd copy of the first ("good") row
    d = write_folder(tmp_path_factory.mktemp("validate"), rows)
    return register.run_register_stage(d, quarter_range("2022Q4", "2023Q4"), PARAMS)


def _reason(stage, row_number):
    rej = stage["rejected"]
    hit = rej[rej["row_number"] == row_number]
    assert len(hit) <= 1
    return None if hit.empty else hit["reason"].iloc[0]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_each_row_gets_its_reason(stage, i):
    assert _reason(stage, i + 1) == CASES[i][2]


def test_duplicates_second_and_later_copies_rejected(stage):
    n = len(CASES)
    assert _reason(stage, 1) is None
    assert _reason(stage, n + 1) == "duplicate_row"
    assert _reason(stage, n + 2) == "duplicate_row"


def test_every_reason_code_is_exercised(stage):
    assert set(stage["rejected"]["reason"]) == set(validate.REASON_CODES)


def test_rejected_keeps_original_text_and_file(stage):
    rej = stage["rejected"].set_index("row_number")
    assert rej.loc[13, "start_date"] == "2023-13-01"
    assert rej.loc[24, "birth_year"] == "19x0"
    assert rej.loc[11, "source"] == "KANTA"
    assert set(rej["source_file"]) == {"register/periods.csv"}
    assert list(stage["rejected"].columns[:3]) == ["source_file", "row_number", "reason"]


def test_ledger_balances_and_counts_reasons(stage):
    led = stage["ledger"]
    get = lambda item, reason="": int(led[(led["item"] == item) & (led["reason"] == reason)]["rows"].sum())  # noqa: E731
    n_rows = len(CASES) + 2
    assert get("read") == n_rows
    rejected = int(led[led["item"] == "rejected"]["rows"].sum())
    assert get("accepted") + rejected == get("read")
    expected = pd.Series([c[2] for c in CASES if c[2]] + ["duplicate_row"] * 2).value_counts()
    for code in validate.REASON_CODES:
        assert get("rejected", code) == expected.get(code, 0), code
    assert get("accepted") == sum(1 for c in CASES if c[2] is None)
    assert get("flagged", "age_unusual_for_task") == 1


def test_flag_is_counted_not_rejected(stage):
    fl = stage["flags"]
    assert fl.to_dict("records") == [{"municipality_code": "091", "county_code": "90",
                                      "service_task": "lastensuojelu",
                                      "flag": "age_unusual_for_task", "rows": 1}]
    c = stage["counts"]
    hel = c[(c["quarter"] == "2023Q1") & (c["municipality_code"] == "091")
            & (c["service_task"] == "lastensuojelu") & (c["source"] == "ALL")]
    assert int(hel["clients"].iloc[0]) == 1      # the 40-year-old is still counted
    assert "client_id" not in fl.columns


def test_flag_limits_from_parameters(tmp_path):
    params = {**PARAMS, "register": {**PARAMS["register"],
                                     "unusual_age": {"tyoikaiset": {"min_age": 50, "max_age": 60}}}}
    d = write_folder(tmp_path, [row(client_id="a", birth_year="1980"),     # 43: flagged
                                row(client_id="b", birth_year="1970"),     # 53: fine
                                row(client_id="c", birth_year="1960")])    # 63: flagged
    t = register.run_register_stage(d, quarter_range("2023Q1", "2023Q1"), params)
    assert int(t["flags"]["rows"].sum()) == 2
    assert t["rejected"].empty


def test_ledger_identity_on_messy_random_rows(tmp_path):
    import numpy as np
    rng = np.random.default_rng(7)
    choices = {
        "client_id": ["a", "b", "c", ""],
        "birth_year": ["1950", "2010", "1985", "", "3000", "x"],
        "municipality_code": ["091", "005", "478", "999", ""],
        "service_task": ["iakkaat", "tyoikaiset", "lastensuojelu", "muu", ""],
        "start_date": ["2023-01-05", "2022-11-30", "2023-02-31", "2025-01-01", ""],
        "end_date": ["", "2023-06-30", "2022-01-01", "31.12.2023"],
        "source": ["SHA", "ET", "XX", ""],
        "child_welfare_act": ["", "0", "1", "9"],
    }
    rows = [{k: v[rng.integers(len(v))] for k, v in choices.items()} for _ in range(400)]
    d = write_folder(tmp_path, rows)
    t = register.run_register_stage(d, quarter_range("2022Q4", "2023Q4"), PARAMS)
    led = t["ledger"].set_index(["item", "reason"])["rows"]
    assert led[("read", "")] == 400
    assert led[("accepted", "")] + led.loc["rejected"].sum() == 400
    assert led.loc["rejected"].sum() == len(t["rejected"])
    assert len(t["rejected"]) + led[("accepted", "")] == 400


def test_rules_are_declared_with_unique_codes():
    codes = [r.code for r in validate.RULES]
    assert len(codes) == len(set(codes))
    assert codes[-1] == "duplicate_row"
    assert all(r.description_fi for r in validate.RULES)
    assert list(validate.rules_table()["code"]) == codes


def test_demo_faults_are_all_quarantined(tmp_path):
    """The demo generator's injected faults (metadata.json) are found, kind by kind."""
    import json

    from seuranta.demo import generator as demo
    d = demo.generate(tmp_path / "demo", scale=0.02, seed=5)
    meta = json.loads((d / "metadata.json").read_text())
    t = register.run_register_stage(d, quarter_range("2022Q4", "2023Q4"), PARAMS)
    expected: dict[str, int] = {}
    for kind, n in meta["faults"]["rows"].items():
        code = ("missing_field" if kind.startswith("missing_") else
                "aland" if kind.startswith("aland") else kind)
        expected[code] = expected.get(code, 0) + n
    led = t["ledger"]
    got = led[led["item"] == "rejected"].set_index("reason")["rows"]
    assert {k: int(v) for k, v in got.items() if v} == expected
    acc = int(led[led["item"] == "accepted"]["rows"].iloc[0])
    assert acc == meta["rows"]["valid"]
    assert int(led[led["item"] == "flagged"]["rows"].sum()) == meta["flags"]["age_unusual_for_task"]
