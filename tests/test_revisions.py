"""Revisions: a second release's revisions table has exactly the rows where the two
releases' files differ (found here by a plain cell-by-cell reading of the CSV text),
with old and new values and the reason from the manifests."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from published_fixture import published_estimates, published_municipal
from pyjstat import pyjstat

from seuranta.core import symbols
from seuranta.core.tables import write_csv
from seuranta.publication import opendata
from seuranta.publication import revisions as rv

MANIFEST = {"inputs": {"register/sha_part1.csv": "a", "deliveries.csv": "b",
                       "population.csv": "c"},
            "parameters": {"sha256": "p1", "values": {"estimate": {"z": 1.96}}},
            "code": {"seuranta": "0.1.0", "commit": "abc"}}


def _write_release(out: Path, rid: str, tables: dict, manifests: dict) -> Path:
    for q, tabs in tables.items():
        pdir = out / "releases" / rid / q / "published"
        pdir.mkdir(parents=True)
        for name, df in tabs.items():
            write_csv(df, pdir / f"{name}.csv")
        (pdir.parent / "manifest.json").write_text(json.dumps(manifests[q]), encoding="utf-8")
    return out / "releases" / rid


def _cells_by_text(path: Path, quarter: str) -> dict:
    """(table key, figure) → (value text, symbol), read as plain text."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[df["quarter"] == quarter]
    out = {}
    text = {"quarter", "service_task", "county_code", "municipality_code", "quality", "sources",
            "age_group", "method", "note", "publish_as", "rule_reason"}
    figs = [c for c in df.columns if c not in text and not c.endswith("_symbol")]
    keys = [c for c in ("service_task", "age_group", "method", "municipality_code") if c in df.columns]
    for _, r in df.iterrows():
        for f in figs:
            out[(tuple(r[k] for k in keys), f)] = (r[f], r.get(f + "_symbol", ""))
    return out


@pytest.fixture()
def two_releases(tmp_path):
    q3, q4 = "2023Q3", "2023Q4"
    m3 = published_municipal(q3)
    e3 = published_estimates(q3)
    r1 = _write_release(tmp_path, "2023-11-15", {q3: {"municipal": m3, "estimates": e3}},
                        {q3: MANIFEST})
    # the next release: Q3 revised (a review decision), Q4 new
    m3b = m3.copy()
    shown = m3b.index[m3b["clients_symbol"] == ""]
    m3b.loc[shown[0], "clients"] += 7                       # a count revised
    m3b.loc[shown[0], "share_pct"] = round(m3b.loc[shown[0], "share_pct"] + 0.1, 4)
    m3b.loc[shown[1], ["clients", "share_pct"]] = pd.NA     # now suppressed
    m3b.loc[shown[1], ["clients_symbol", "share_pct_symbol"]] = symbols.SUPPRESSED
    m3b = m3b.drop(index=shown[2])                           # a row gone
    e3b = e3.copy()
    e3b.loc[0, "ci_high"] += 100
    man3b = json.loads(json.dumps(MANIFEST))
    man3b["inputs"]["corrections.csv"] = "d"
    r2 = _write_release(tmp_path, "2024-02-15",
                        {q3: {"municipal": m3b, "estimates": e3b},
                         q4: {"municipal": published_municipal(q4), "estimates": published_estimates(q4)}},
                        {q3: man3b, q4: MANIFEST})
    return r1, r2


def test_revisions_rows_are_the_differences_between_the_releases_files(two_releases):
    r1, r2 = two_releases
    rev = rv.revisions(r1, r2)
    assert (rev["release_id"] == "2024-02-15").all() and (rev["previous_release_id"] == "2023-11-15").all()
    assert set(rev["quarter"]) == {"2023Q3"}            # only quarters in both releases
    for table in ("municipal", "estimates"):
        a = _cells_by_text(r1 / "2023Q3" / "published" / f"{table}.csv", "2023Q3")
        b = _cells_by_text(r2 / "2023Q3" / "published" / f"{table}.csv", "2023Q3")
        want = {}
        for k in set(a) | set(b):
            old, new = a.get(k, ("", symbols.NOT_AVAILABLE)), b.get(k, ("", symbols.NOT_AVAILABLE))
            if old[1] != new[1] or (old[0] and new[0] and float(old[0]) != float(new[0])):
                want[k] = (old, new)
        got_rows = rev[rev["table"] == table]
        keys = ["service_task", "age_group", "method", "municipality_code"]
        got = {}
        for _, r in got_rows.iterrows():
            kk = tuple(r[k] for k in keys if (table == "municipal") == (k in ("service_task", "municipality_code"))
                       or (table == "estimates" and k in ("service_task", "age_group", "method")))
            got[(kk, r["figure"])] = r
        assert set(got) == set(want), table
        for k, (old, new) in want.items():
            r = got[k]
            assert r["old_symbol"] == old[1] and r["new_symbol"] == new[1]
            if old[0] and not old[1]:
                assert r["old_value"] == pytest.approx(float(old[0]))
            else:
                assert pd.isna(r["old_value"])
            if new[0] and not new[1]:
                assert r["new_value"] == pytest.approx(float(new[0]))
            else:
                assert pd.isna(r["new_value"])
    # municipal: 2 figures revised + 2 suppressed + the 3 figures of a removed row
    assert (rev["table"] == "municipal").sum() == 7
    assert (rev["table"] == "estimates").sum() == 1
    assert set(rev["reason"]) == {"review_decision"}
    assert "tarkastuskierroksen päätös" in rv.summary_fi(rev)


def test_same_release_has_no_revisions(two_releases):
    r1, _ = two_releases
    assert rv.revisions(r1, r1).empty


def test_reasons_from_manifests():
    new = json.loads(json.dumps(MANIFEST))
    new["inputs"]["register/sha_part2.csv"] = "x"
    new["parameters"] = {"sha256": "p2", "values": {"estimate": {"z": 2.0}}}
    codes = [c for c, _ in rv.reasons(MANIFEST, new)]
    assert codes == ["new_deliveries", "method_change"]
    assert "estimate" in rv.reasons(MANIFEST, new)[1][1]
    code = json.loads(json.dumps(MANIFEST))
    code["code"]["commit"] = "def"
    assert [c for c, _ in rv.reasons(MANIFEST, code)] == ["method_change"]
    assert rv.reasons(MANIFEST, MANIFEST) == []


def test_a_suppression_without_other_reason_is_disclosure(tmp_path):
    q = "2023Q3"
    m = published_municipal(q)
    m2 = m.copy()
    i = m2.index[m2["clients_symbol"] == ""][0]
    m2.loc[i, ["clients", "share_pct"]] = pd.NA
    m2.loc[i, ["clients_symbol", "share_pct_symbol"]] = symbols.SUPPRESSED
    r1 = _write_release(tmp_path, "r1", {q: {"municipal": m}}, {q: MANIFEST})
    r2 = _write_release(tmp_path, "r2", {q: {"municipal": m2}}, {q: MANIFEST})
    rev = rv.revisions(r1, r2)
    assert len(rev) == 2 and set(rev["reason"]) == {"disclosure"}
    assert rev["new_value"].isna().all()
    assert rv.release_dirs(tmp_path) == [r1, r2]
    assert rv.newest_revisions(tmp_path).equals(rev)


def test_revisions_in_the_open_data_carry_the_release_id(two_releases, tmp_path):
    r1, r2 = two_releases
    rev = rv.revisions(r1, r2)
    target = tmp_path / "avoindata"
    dirs = {q: r2 / q / "published" for q in rv.release_quarters(r2)}
    opendata.write_open_data(dirs, target, r2.name, r2.name, True, revisions=rev,
                             notice="Synteettinen aineisto.")
    csv = pd.read_csv(target / f"tarkentuneet_luvut_{r2.name}.csv", dtype={"municipality_code": str})
    assert (csv["release_id"] == r2.name).all() and len(csv) == len(rev)
    text = (target / f"tarkentuneet_luvut_{r2.name}.json").read_text(encoding="utf-8")
    js = json.loads(text)
    assert js["extension"]["release_id"] == r2.name
    long = pyjstat.Dataset.read(text).write("dataframe", naming="id")
    got = long.pivot(index="muutos", columns="mittari", values="value").loc[[f"m{i + 1}" for i in range(len(rev))]]
    assert got["old_value"].to_numpy() == pytest.approx(rev["old_value"].to_numpy(float), nan_ok=True)
    assert got["new_value"].to_numpy() == pytest.approx(rev["new_value"].to_numpy(float), nan_ok=True)
    exe = Path(sys.executable).parent / "frictionless"
    r = subprocess.run([str(exe), "validate", "--json", "datapackage.json"], cwd=target,
                       capture_output=True, text=True)
    assert json.loads(r.stdout)["valid"], r.stdout[:2000]


def test_current_revisions_compare_the_release_being_made_with_the_newest_kept_one(two_releases):
    r1, r2 = two_releases
    out = r1.parent.parent            # OUT: releases/2023-11-15 and releases/2024-02-15 kept
    for q in rv.release_quarters(r2):  # the run being made: OUT/<Q>/published and manifest
        shutil.copytree(r2 / q, out / q)
    shutil.rmtree(r2)                  # not kept yet
    cur = rv.current_revisions(out, "2024-02-15")
    want = rv.revisions(r1, out, release_id="2024-02-15")
    assert (cur["release_id"] == "2024-02-15").all() and (cur["previous_release_id"] == r1.name).all()
    pd.testing.assert_frame_equal(cur, want)
    assert len(cur) == 8
    assert rv.current_revisions(out, "2023-01-01") is None   # no earlier release
