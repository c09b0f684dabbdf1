"""Quarter arithmetic."""

import datetime as dt

import pytest

from seuranta.core.quarters import Quarter, last_complete_quarter, quarter_range


def test_bounds_and_neighbours():
    q = Quarter.parse("2022Q4")
    assert q.start == dt.date(2022, 10, 1) and q.end == dt.date(2022, 12, 31)
    assert str(q.next()) == "2023Q1" and str(Quarter.parse("2023Q1").prev()) == "2022Q4"
    assert Quarter.parse("2024Q1").end == dt.date(2024, 3, 31)
    assert q.population_year == 2021 and Quarter.parse("2023Q3").population_year == 2022
    assert q.months == ["2022-10", "2022-11", "2022-12"]
    assert Quarter.parse("2023Q1").name_fi == "tammi–maaliskuu 2023"


def test_range_and_last_complete():
    assert [str(q) for q in quarter_range("2022Q4", "2023Q4")] == [
        "2022Q4", "2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    assert str(last_complete_quarter(dt.date(2024, 2, 15))) == "2023Q4"
    assert str(last_complete_quarter(dt.date(2024, 4, 1))) == "2024Q1"


@pytest.mark.parametrize("bad", ["2023Q5", "2023-1", "", "23Q1"])
def test_bad_quarter(bad):
    with pytest.raises(ValueError):
        Quarter.parse(bad)
