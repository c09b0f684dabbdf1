"""Open data: every published table comes back from its CSV and its JSON-stat dataset
(read with pyjstat, an independent reader) with the same values, the suppressed and
missing cells carry their symbol as JSON-stat status, and the data package validates
with the Frictionless validator; for every quarter of the release."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from published_fixture import QUARTERS, write_published
from pyjstat import pyjstat

from seuranta.core import symbols
from seuranta.core.params import load_params
from seuranta.publication import bookfmt, opendata
from seuranta.publication import published as pub

RELEASE = "2024-02-15"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = write_published(tmp_path_factory.mktemp("out"), QUARTERS)
    target = out / "avoindata" / RELEASE
    dirs = {q: pub.published_dir(out, q) for q in QUARTERS}
    opendata.write_open_data(dirs, target, RELEASE, RELEASE, synthetic=True,
                             notice=bookfmt.notice_text(True, load_params()))
    return dirs, target


def _jsonstat_long(path: Path) -> tuple[pd.DataFrame, dict]:
    text = path.read_text(encoding="utf-8")
    js = json.loads(text)
    df = pyjstat.Dataset.read(text).write("dataframe", naming="id")
    return df, js


def check_open_data(dirs: dict[str, Path], target: Path, release_id: str) -> int:
    """Compare every published table of every quarter with its open-data files; returns
    the number of cells compared. Used by the slow test on the real build too."""
    n = 0
    for q, pdir in dirs.items():
        for name in pub.table_names(pdir):
            want = pub.read(pdir, name)
            got = pd.read_csv(target / f"{name}_{q}.csv", dtype=str, keep_default_na=False)
            assert (got["release_id"] == release_id).all()
            raw = pd.read_csv(pdir / f"{name}.csv", dtype=str, keep_default_na=False)
            # CSV as published, the whole country coded as in the JSON-stat
            pd.testing.assert_frame_equal(got.drop(columns=["release_id", "indicator_id"]),
                                          opendata.whole_country_coded(raw))
            figs = opendata.figures(want)
            if not figs:
                assert not (target / f"{name}_{q}.json").exists()
                continue
            long, js = _jsonstat_long(target / f"{name}_{q}.json")
            assert js["version"] == "2.0" and js["class"] == "dataset"
            assert js["extension"]["release_id"] == release_id
            assert js["extension"]["reference_period"]["quarter"] == q
            dims = [d for d in js["id"] if d != opendata.METRIC]
            assert js["size"][-1] == len(figs)
            # every published cell, by its key, in the dense cube (each row's dimensions
            # joined as text: "|".join over the columns' text, row by row)
            text = zip(*(long[d].astype(str).tolist() for d in dims))
            keys = pd.Series(["|".join(t) for t in text], index=long.index, dtype=object) \
                + "|" + long[opendata.METRIC]
            by_key = dict(zip(keys, long["value"]))
            pos = dict(zip(keys, range(len(long))))
            status = js.get("status") or {}
            # the table's rows and each row's key of dimensions, made once for every figure
            rows = [row for _, row in want.iterrows()]
            row_keys = ["|".join(opendata.category_id(d, row[d]) for d in dims) for row in rows]
            for f in figs:
                sym_col = f"{f}{pub.SYMBOL_SUFFIX}"
                for row, row_key in zip(rows, row_keys):
                    k = row_key + "|" + f
                    v = by_key[k]
                    sym = row[sym_col] if sym_col in want.columns else ""
                    if sym:
                        assert np.isnan(v) and status[str(pos[k])] == sym, (name, q, k)
                    elif pd.isna(row[f]):
                        assert np.isnan(v) and status[str(pos[k])] == symbols.NOT_AVAILABLE
                    else:
                        assert v == pytest.approx(float(row[f]), abs=1e-9), (name, q, k)
                        assert str(pos[k]) not in status
                    n += 1
            # cells of the cube that the table has no row for are missing, with status
            assert long["value"].notna().sum() == sum(
                (want[f].notna() & (want.get(f"{f}{pub.SYMBOL_SUFFIX}", "") == "")).sum() for f in figs)
    return n


def test_every_quarter_reads_back_from_csv_and_jsonstat(release):
    dirs, target = release
    n = check_open_data(dirs, target, RELEASE)
    assert n > 2 * 3 * 293 * 3        # counts of every quarter at least


def test_suppressed_cells_have_status_and_no_value(release):
    dirs, target = release
    js = json.loads((target / f"municipal_{QUARTERS[-1]}.json").read_text(encoding="utf-8"))
    sup = [int(k) for k, s in js["status"].items() if s == symbols.SUPPRESSED]
    want = pub.read(dirs[QUARTERS[-1]], "municipal")
    n_sup = int((want["clients_symbol"] == symbols.SUPPRESSED).sum()
                + (want["share_pct_symbol"] == symbols.SUPPRESSED).sum())
    assert len(sup) == n_sup > 0
    assert all(js["value"][k] is None for k in sup)
    # the metric dimension has units and the data set names its symbols and source
    metric = js["dimension"][opendata.METRIC]["category"]
    assert metric["unit"]["share_pct"]["label"] == "prosenttia"
    assert set(js["extension"]["symbols"]) == set(symbols.SYMBOLS)
    assert js["source"] == opendata.CREDIT_FI
    assert any("synteettis" in n for n in js["note"])


def test_a_value_beside_a_symbol_never_reaches_the_jsonstat(tmp_path):
    """The safeguard: a numeric cell the gate marked suppressed stays null even when the
    number is (wrongly) still in the table."""
    df = pd.DataFrame({"quarter": ["2023Q4"] * 2, "municipality_code": ["005", "009"],
                       "clients": [3, 12], "clients_symbol": [symbols.SUPPRESSED, ""]})
    js = opendata.to_jsonstat(df, "counts", "2023Q4", "r", "2024-01-01", False)
    assert js["value"] == [None, 12] and js["status"] == {"0": symbols.SUPPRESSED}


def test_dimensions_drop_determined_attributes():
    df = pd.DataFrame({"quarter": ["2023Q4"] * 4, "municipality_code": ["005", "009", "005", "009"],
                       "county_code": ["16", "19", "16", "19"], "service_task": ["a", "a", "b", "b"],
                       "quality": ["comprehensive", "none", "none", "partial"], "clients": [1, 2, 3, 4]})
    assert opendata.dimensions(df) == ["quarter", "service_task", "municipality_code"]
    js = opendata.to_jsonstat(df, "x", "2023Q4", "r", "2024-01-01", False)
    assert js["size"] == [1, 2, 2, 1]
    assert js["value"] == [1, 2, 3, 4]      # row-major: task, municipality, metric


def test_datapackage_validates_with_frictionless(release):
    _, target = release
    pkg = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))
    paths = {r["path"] for r in pkg["resources"]}
    assert paths == {p.name for p in target.iterdir() if p.name != "datapackage.json"}
    assert pkg["version"] == RELEASE
    exe = Path(sys.executable).parent / "frictionless"
    r = subprocess.run([str(exe), "validate", "--json", "datapackage.json"], cwd=target,
                       capture_output=True, text=True)
    report = json.loads(r.stdout)
    assert report["valid"], r.stdout[:2000]
    # and the validator catches a broken file (the test can fail)
    bad = target.parent / "broken"
    bad.mkdir()
    for p in target.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    csv = bad / f"municipal_{QUARTERS[0]}.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace(",SHA,", ",SHA,x", 1), encoding="utf-8")
    r = subprocess.run([str(exe), "validate", "--json", "datapackage.json"], cwd=bad,
                       capture_output=True, text=True)
    assert not json.loads(r.stdout)["valid"]


def test_a_numeric_key_becomes_a_dimension():
    """tasks_per_client: county_code and n_tasks identify a row."""
    df = pd.DataFrame({"county_code": ["", "", "01", "01"], "n_tasks": ["1", "2", "1", "2"],
                       "clients": [100, 7, 3, 1], "clients_symbol": ["", "", "", symbols.SUPPRESSED]})
    assert opendata.dimensions(df) == ["county_code", "n_tasks"]
    assert opendata.figures(df) == ["clients"]
    js = opendata.to_jsonstat(df, "tasks_per_client", "2023Q4", "r", "2024-01-01", False)
    assert js["value"] == [100, 7, 3, None] and js["status"] == {"3": symbols.SUPPRESSED}
    num = df.assign(n_tasks=[1, 2, 1, 2])            # read as numbers: still a key
    assert opendata.dimensions(num) == ["county_code", "n_tasks"]
