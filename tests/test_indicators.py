"""Stable indicator ids of the open data (issue 25, Sotkanet-style): declared in one place,
unique, the same in two builds and in every release, in every open-data file, and
described (titles fi/sv/en, definition, source, unit, decimals) in ``indikaattorit.csv``."""

import json

import pandas as pd
import pytest
from published_fixture import QUARTERS, write_published

from seuranta.core.params import load_params
from seuranta.core.tables import write_csv
from seuranta.publication import bookfmt, indicators, opendata
from seuranta.publication import published as pub

RELEASE = "2024-02-15"


def _write(root, rid=RELEASE):
    out = write_published(root, QUARTERS)
    target = root / "avoindata" / rid
    dirs = {q: pub.published_dir(out, q) for q in QUARTERS}
    opendata.write_open_data(dirs, target, rid, "2024-02-15", synthetic=True,
                             notice=bookfmt.notice_text(True, load_params()))
    return target


def _ids_of(target) -> dict[str, set[str]]:
    got = {}
    for p in sorted(target.glob("*.csv")):
        if p.name != opendata.INDICATOR_FILE:
            got[p.name] = set(pd.read_csv(p, dtype=str, keep_default_na=False)["indicator_id"])
    return got


def test_ids_are_declared_unique_and_pinned():
    every = [indicators.indicator_id(t, k) for t in indicators.TABLES
             for k in indicators.TASK_NUMBER if k != "kaikki"]
    assert len(every) == len(set(every))
    numbers = [t.number for t in indicators.TABLES.values()]
    assert len(numbers) == len(set(numbers))
    # the ids readers store: a renumbering (or an id made from a run's content) fails here
    assert indicators.indicator_id("municipal", "iakkaat") == "SSR0101"
    assert indicators.indicator_id("estimates", "vammaispalvelut") == "SSR0305"
    assert indicators.indicator_id("county_estimates", "lastensuojelulaki") == "SSR0208"
    assert indicators.indicator_id("totals", "kaikki") == indicators.indicator_id("totals") == "SSR0400"
    for ident in every:
        assert indicators.titles_of(ident)["fi"]
    with pytest.raises(KeyError, match="no indicator number"):
        indicators.indicator_id("new_table", "iakkaat")
    with pytest.raises(KeyError, match="no indicator number"):
        indicators.indicator_id("municipal", "uusi_tehtava")


def test_every_open_data_file_carries_its_ids_and_the_list_describes_them(tmp_path):
    target = _write(tmp_path)
    ids = _ids_of(target)
    assert ids and all(v and "" not in v for v in ids.values())
    listed = pd.read_csv(target / opendata.INDICATOR_FILE, dtype=str, keep_default_na=False)
    assert set().union(*ids.values()) == set(listed["indicator_id"])
    assert not listed.duplicated(["indicator_id", "measure"]).any()
    for col in ("title_fi", "title_sv", "title_en", "definition_fi", "source", "measure_fi",
                "decimals"):
        assert (listed.loc[listed["measure"] != "", col] != "").all(), col
    # every measure of the fixture's tables has its Finnish label, not its column name
    assert (listed["measure_fi"] != listed["measure"]).all()
    share = listed[(listed["indicator_id"] == "SSR0101") & (listed["measure"] == "share_pct")]
    assert share[["unit", "decimals"]].values.tolist() == [["prosenttia", "1"]]
    assert share["title_en"].iloc[0] == ("Services for older people: clients and share of the "
                                         "population base by municipality")
    # each row's id is its table's and task's
    m = pd.read_csv(target / f"municipal_{QUARTERS[0]}.csv", dtype=str, keep_default_na=False)
    assert (m["indicator_id"] == [indicators.indicator_id("municipal", t)
                                  for t in m["service_task"]]).all()
    # every JSON-stat file names its ids, where a reader finds them
    for p in sorted(target.glob("*.json")):
        if p.name == "datapackage.json":
            continue
        js = json.loads(p.read_text(encoding="utf-8"))
        ext = js["extension"]
        placed = ({ext["indicator_id"]} if "indicator_id" in ext else
                  {i for d in js["dimension"].values()
                   for i in d.get("extension", {}).get("indicator_id", {}).values()})
        assert placed and placed == set(ext["indicators"]), p.name
        assert placed == ids[p.name.replace(".json", ".csv")], p.name
    js = json.loads((target / f"municipal_{QUARTERS[0]}.json").read_text(encoding="utf-8"))
    assert js["dimension"]["service_task"]["extension"]["indicator_id"]["iakkaat"] == "SSR0101"
    pkg = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))
    assert opendata.INDICATOR_FILE in {r["path"] for r in pkg["resources"]}


def test_ids_are_the_same_in_two_builds_and_two_releases(tmp_path):
    a = _ids_of(_write(tmp_path / "a"))
    b = _ids_of(_write(tmp_path / "b", rid="2024-05-15"))
    assert a == b
    la = (tmp_path / "a" / "avoindata" / RELEASE / opendata.INDICATOR_FILE).read_bytes()
    lb = (tmp_path / "b" / "avoindata" / "2024-05-15" / opendata.INDICATOR_FILE).read_bytes()
    assert la == lb


def test_the_whole_country_has_one_code_and_quarters_are_in_order(tmp_path):
    df = pd.DataFrame({"quarter": ["2023Q4", "2023Q2", "2023Q3", "2023Q4"],
                       "county_code": ["", "", "", "01"], "clients": [1, 2, 3, 4]})
    js = opendata.to_jsonstat(df, "x", "2023Q4", "r", "2024-01-01", False)
    assert js["dimension"]["quarter"]["category"]["index"] == ["2023Q2", "2023Q3", "2023Q4"]
    # the values follow their categories: 2023Q2/SSS = 2, 2023Q4/01 = 4
    assert js["dimension"]["county_code"]["category"]["index"] == ["SSS", "01"]
    assert js["value"] == [2, None, 3, None, 1, 4]
    out = write_published(tmp_path, QUARTERS)
    q = QUARTERS[0]
    write_csv(pd.DataFrame({"county_code": ["", "", "01", "01"], "n_tasks": [1, 2, 1, 2],
                            "clients": [100, 7, 3, 1], "clients_symbol": ["", "", "", ".."]}),
              pub.published_dir(out, q) / "tasks_per_client.csv")
    target = tmp_path / "od"
    opendata.write_open_data({x: pub.published_dir(out, x) for x in QUARTERS}, target, "r",
                             "2024-02-15", synthetic=False)
    csv = pd.read_csv(target / f"tasks_per_client_{q}.csv", dtype=str, keep_default_na=False)
    assert list(csv["county_code"]) == ["SSS", "SSS", "01", "01"]
    assert set(csv["indicator_id"]) == {"SSR0700"}
    js = json.loads((target / f"tasks_per_client_{q}.json").read_text(encoding="utf-8"))
    assert js["dimension"]["county_code"]["category"]["index"] == ["SSS", "01"]
    assert js["extension"]["indicator_id"] == "SSR0700"
    for p in target.glob("*.csv"):
        f = pd.read_csv(p, dtype=str, keep_default_na=False)
        for c in opendata.AREA_COLUMNS:
            if c in f.columns:
                assert (f[c] != "").all(), (p.name, c)
