"""population.csv: complete age bands per municipality × year, the first fault reported."""

from __future__ import annotations

import pandas as pd
import pytest

from seuranta.core.errors import InputError
from seuranta.inputs.population import read_population

GOOD = ["0-17", "18-64", "65+"]


def _write(tmp_path, bands: dict) -> str:
    rows = [(m, y, b, 10) for (m, y), bs in bands.items() for b in bs]
    p = tmp_path / "population.csv"
    pd.DataFrame(rows, columns=["municipality_code", "year", "age_group", "population"]
                 ).to_csv(p, index=False, lineterminator="\n")
    return p


@pytest.mark.parametrize("bands, message", [
    ({("091", 2022): GOOD, ("049", 2022): ["0-17", "10-64", "65+"]},
     "municipality 049 year 2022: age bands overlap at age 10"),
    ({("091", 2022): ["0-17", "65+", "70+"]},
     "municipality 091 year 2022: no age band covers ages 18-64"),
    # an open band followed by another: the second overlaps
    ({("091", 2022): ["0-17", "18+", "65+"]},
     "municipality 091 year 2022: age bands overlap at age 65"),
    ({("091", 2022): ["0-17", "18-64", "65-99"]},
     "municipality 091 year 2022: no open age band (100+) ends the bands"),
    ({("091", 2022): ["1-17", "18+"]}, "municipality 091 year 2022: no age band covers ages 0-0"),
    # the first municipality × year in order: 049 before 091, 2021 before 2022; within one,
    # a band's fault before the missing open band after it
    ({("091", 2021): ["0-17", "18-64"], ("049", 2022): ["0-17", "18-64"],
      ("049", 2021): ["0-5", "7-64"]},
     "municipality 049 year 2021: no age band covers ages 6-6"),
    ({("091", 2021): ["0-17", "18-64"], ("091", 2022): ["0-17", "20+"]},
     "municipality 091 year 2021: no open age band (65+) ends the bands"),
])
def test_the_first_band_fault_is_named(tmp_path, bands, message):
    with pytest.raises(InputError) as e:
        read_population(_write(tmp_path, bands))
    assert str(e.value) == f"{tmp_path / 'population.csv'}: {message}"


def test_complete_bands_pass(tmp_path):
    pop = read_population(_write(tmp_path, {("091", 2022): GOOD, ("5", 2021): ["0", "1-99", "100+"]}))
    assert sorted(set(pop["municipality_code"])) == ["005", "091"]
