"""Issue 16's done-when on the demo, through the real disclosure gate and releases:
two consecutive releases (the second after a review decision on an earlier quarter):

* the revisions table of the second release has exactly the rows where the two kept
  releases' published files differ (read cell by cell as text), reason "review decision";
* the open data of the release reads back (CSV, JSON-stat with pyjstat, frictionless)
  equal to the published tables of every quarter;
* the map of every task and quarter draws every mainland municipality and shows no value
  for a suppressed one.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_opendata import check_open_data  # noqa: E402
from test_revisions import _cells_by_text  # noqa: E402

from seuranta import pipeline  # noqa: E402
from seuranta.core import reference, symbols  # noqa: E402
from seuranta.core.params import load_params  # noqa: E402
from seuranta.demo import generator as demo  # noqa: E402
from seuranta.publication import maps, portal, releases  # noqa: E402
from seuranta.publication import published as pub  # noqa: E402
from seuranta.publication import revisions as rv  # noqa: E402
from seuranta.register import stage as register  # noqa: E402
from seuranta.statistics.memo import EstimationMemo  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("beyond_demo")]  # one fixture build
SCALE = 0.02


def _run(data, out, params, chosen, rid, memo, tables):
    for q in chosen:
        pipeline.run_quarter(q, data, out, params, notebooks=False, annex=False,
                             register_tables=tables, release_id=rid, memo=memo)


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("beyond")
    data, out = root / "data", root / "build"
    demo.generate(data, scale=SCALE)
    params = load_params()
    chosen = pipeline.publication_quarters(data, params)[-2:]
    qs = [str(q) for q in chosen]
    p1 = copy.deepcopy(params)
    p1["publication"]["release_id"] = f"{qs[-1]}-a"
    memo = EstimationMemo()   # the fits of both releases: made again only where they differ
    # the register stage once: it reads neither corrections.csv (the review round, the
    # only input that changes between the releases) nor the release id
    tables = register.run_register_stage(data, chosen, params)
    _run(data, out, p1, chosen, f"{qs[-1]}-a", memo, tables)
    _, rid1, _, _ = portal.write_release_open_data(out, qs, True, p1)
    releases.write_release(out, qs, rid1)
    # the review round excludes the largest comprehensive municipality of the earlier quarter
    m = pub.read(pub.published_dir(out, qs[0]), "municipal")
    m = m[(m["quarter"] == qs[0]) & (m["service_task"] == "iakkaat") & (m["quality"] == "comprehensive")
          & (m["clients_symbol"] == "")]
    code = m.sort_values("clients").iloc[-1]["municipality_code"]
    pd.DataFrame([{"quarter": qs[0], "municipality_code": code, "service_task": "iakkaat",
                   "decision": "exclude", "reason": "testi", "comment": ""}]).to_csv(
        data / "corrections.csv", index=False)
    p2 = copy.deepcopy(params)
    p2["publication"]["release_id"] = f"{qs[-1]}-b"
    _run(data, out, p2, chosen, f"{qs[-1]}-b", memo, tables)
    od2, rid2, _, text = portal.write_release_open_data(out, qs, True, p2)
    rel2 = releases.write_release(out, qs, rid2)
    return {"out": out, "qs": qs, "rel1": releases.release_dir(out, rid1), "rel2": rel2,
            "od": od2, "rid": rid2, "text": text, "code": code}


def test_second_release_revisions_match_the_differences_between_the_releases(two_releases):
    r = two_releases
    rev = pd.read_csv(r["od"] / f"tarkentuneet_luvut_{r['rid']}.csv", dtype=str, keep_default_na=False)
    assert len(rev) > 0 and (rev["release_id"] == r["rid"]).all()
    assert (rev["previous_release_id"] == r["rel1"].name).all()
    got = set()
    for row in rev.to_dict("records"):
        if row["table"] != "municipal":
            continue
        got.add(((row["service_task"], row["municipality_code"]), row["figure"], row["quarter"]))
    want = set()
    for q in r["qs"]:
        a = _cells_by_text(r["rel1"] / q / "published" / "municipal.csv", q)
        b = _cells_by_text(r["rel2"] / q / "published" / "municipal.csv", q)
        for k in set(a) | set(b):
            old, new = a.get(k, ("", symbols.NOT_AVAILABLE)), b.get(k, ("", symbols.NOT_AVAILABLE))
            if old[1] != new[1] or (old[0] and new[0] and float(old[0]) != float(new[0])):
                want.add((k[0], k[1], q))
    assert got == want and want
    # the excluded municipality's share is among them, with the review decision as reason
    mine = rev[(rev["municipality_code"] == r["code"]) & (rev["figure"] == "share_pct")
               & (rev["quarter"] == r["qs"][0])]
    assert len(mine) == 1 and mine.iloc[0]["new_symbol"] == symbols.NOT_AVAILABLE
    assert "review_decision" in mine.iloc[0]["reason"]
    # every table, not only municipal: the count equals an independent full comparison
    assert len(rev) == len(rv.revisions(r["rel1"], r["rel2"]))
    assert "tarkastuskierroksen päätös" in r["text"]


def test_open_data_reads_back_for_every_quarter(two_releases):
    r = two_releases
    dirs = {q: r["rel2"] / q / "published" for q in r["qs"]}
    n = check_open_data(dirs, r["od"], r["rid"])
    assert n > 1000
    exe = Path(sys.executable).parent / "frictionless"
    res = subprocess.run([str(exe), "validate", "--json", "datapackage.json"], cwd=r["od"],
                         capture_output=True, text=True)
    assert json.loads(res.stdout)["valid"], res.stdout[:2000]


def test_map_of_every_task_and_quarter(two_releases):
    r = two_releases
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    tasks = reference.task_codes() + ["lastensuojelulaki"]
    drawn = 0
    for q in r["qs"]:
        pdir = r["rel2"] / q / "published"
        for task in tasks:
            rows = pub.municipal_rows(pdir, task, q)
            assert len(rows), (q, task)
            fig = maps.share_map(rows, f"{task} {q}", synthetic=True)
            try:
                p = {x.get_gid(): x for x in fig.axes[0].patches}
                assert mainland <= set(p)
                for code in rows.loc[rows["share_pct_symbol"] == symbols.SUPPRESSED, "municipality_code"]:
                    assert mcolors.to_hex(p[code].get_facecolor()) == maps.FACE_SUPPRESSED
                assert any(t.get_text() == maps.ATTRIBUTION for t in fig.texts)
            finally:
                plt.close(fig)
            drawn += 1
    assert drawn == len(r["qs"]) * len(tasks)
