"""Reference data: built from ../shared/reference facts, consistent with them."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference as ref

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


def test_municipalities_and_counties():
    m = ref.municipalities()
    assert len(m) == 309
    assert m["municipality_code"].str.fullmatch(r"\d{3}").all()
    assert len(ref.mainland_municipalities()) == 293
    assert (m["county_code"] == "91").sum() == 16
    c = ref.counties()
    assert len(c) == 22 and "91" not in set(c["county_code"])
    assert c.set_index("county_code").loc["90", "county_name_fi"] == "Helsingin kaupunki"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference not beside the checkout")
def test_population_totals_equal_the_shared_facts():
    shared = pd.read_csv(SHARED / "population_2022.csv", dtype={"municipality_code": str})
    want = shared.set_index("municipality_code")["population"]
    got = ref.reference_population().groupby("municipality_code")["population"].sum()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)
    assert got.sum() == 5_563_970


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference not beside the checkout")
def test_build_reference_reproduces_committed_files(tmp_path):
    ref.build_reference(SHARED, tmp_path)
    for name in ["municipalities.csv", "population.csv", "service_tasks.csv", "age_bands.csv",
                 ref.BOUNDARIES_FILE]:
        assert (tmp_path / name).read_bytes() == (ref.REFERENCE_DIR / name).read_bytes(), name


def test_synthetic_age_structure_national_and_size_gradient():
    pop = ref.reference_population()
    wide = pop.pivot(index="municipality_code", columns="age_group", values="population")
    shares = wide.sum() / wide.to_numpy().sum() * 100
    for band, pct in ref.NATIONAL_BAND_PCT.items():
        assert shares[band] == pytest.approx(pct, abs=0.05), band
    total = wide.sum(axis=1)
    old = (wide["65-74"] + wide["75-84"] + wide["85+"]) / total
    # smaller municipalities are older: rank correlation clearly negative
    rho = pd.Series(np.log(total)).corr(old, method="spearman")
    assert rho < -0.8
    assert (wide >= 0).all().all()


def test_base_population_hand_case():
    pop = pd.DataFrame({
        "municipality_code": ["001"] * 9, "year": [2022] * 9,
        "age_group": [b[0] for b in ref.AGE_BANDS],
        "population": [10, 1, 2, 3, 4, 5, 6, 7, 8],
    })
    base = ref.base_population(pop).set_index("service_task")["population_base"]
    assert base["iakkaat"] == 6 + 7 + 8
    assert base["tyoikaiset"] == 1 + 2 + 3 + 4 + 5
    assert base["lapsiperheet"] == 10 + 15
    assert base["lastensuojelu"] == 10
    assert base["vammaispalvelut"] == 46


def test_band_straddling_a_base_edge_is_refused():
    with pytest.raises(ValueError, match="straddles"):
        ref.band_in_base("15-19", 18, 64)
