"""Dates in one zone, Europe/Helsinki, whatever the machine's TZ (issue 20).

A Parquet extract with time-zone-aware timestamps near midnight at quarter boundaries is
counted by ``seuranta counts`` in child processes under TZ=UTC, Europe/Helsinki and
America/New_York: the counts are identical, and equal to those of a CSV of the same periods
whose dates were converted to Helsinki dates by Python's zoneinfo (an independent method).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from register_helpers import row, write_folder

from seuranta.core.quarters import TIME_ZONE
from seuranta.register.ingest import REGISTER_COLUMNS

# the module fixtures made once: its tests on one xdist worker
pytestmark = pytest.mark.xdist_group("timezone")

UTC = dt.UTC
#: Instants near midnight: Helsinki's date differs from UTC's (and from New York's).
STARTS = [dt.datetime(2023, 3, 31, 21, 30, tzinfo=UTC),     # Helsinki 1.4. 00:30 (Q2)
          dt.datetime(2023, 3, 31, 22, 59, tzinfo=UTC),     # Helsinki 1.4. 01:59 (Q2)
          dt.datetime(2022, 12, 31, 22, 15, tzinfo=UTC),    # Helsinki 1.1. 00:15 (Q1)
          dt.datetime(2023, 6, 30, 21, 5, tzinfo=UTC),      # Helsinki 1.7. 00:05 (Q3)
          dt.datetime(2023, 1, 15, 3, 0, tzinfo=UTC),       # same date everywhere but NY
          dt.datetime(2023, 4, 1, 2, 0, tzinfo=UTC)]        # NY 31.3. 22:00 (Q1 there)
ENDS = [None, dt.datetime(2023, 6, 30, 21, 30, tzinfo=UTC), dt.datetime(2023, 3, 31, 21, 1,
        tzinfo=UTC), None, dt.datetime(2023, 3, 31, 23, 0, tzinfo=UTC), None]
ZONES = ["UTC", "Europe/Helsinki", "America/New_York"]


def _good():
    return [row(client_id=f"g{i}") for i in range(60)]


def _helsinki_date(t):
    return "" if t is None else t.astimezone(ZoneInfo("Europe/Helsinki")).date().isoformat()


def _folders(tmp):
    tasks = ["tyoikaiset", "iakkaat", "lapsiperheet"]
    births = {"tyoikaiset": "1980", "iakkaat": "1940", "lapsiperheet": "1985"}
    base = [{"client_id": f"t{i}", "municipality_code": "091", "service_task": tasks[i % 3],
             "birth_year": births[tasks[i % 3]], "source": "SHA", "child_welfare_act": ""}
            for i in range(len(STARTS))]
    # CSV: the dates as Helsinki dates (zoneinfo); Parquet: the instants with their zone
    csv_rows = [row(**b, start_date=_helsinki_date(s), end_date=_helsinki_date(e))
                for b, s, e in zip(base, STARTS, ENDS)]
    a = write_folder(tmp / "csv", _good() + csv_rows)
    b = write_folder(tmp / "parquet", _good())
    pq = pd.DataFrame(base)
    pq["start_date"] = pd.to_datetime(STARTS, utc=True).tz_convert("Asia/Tokyo")
    pq["end_date"] = pd.to_datetime([e or pd.NaT for e in ENDS], utc=True)
    pq[REGISTER_COLUMNS].to_parquet(b / "register" / "aware.parquet", index=False)
    return a, b


def _counts(data, out, tz):
    env = {**os.environ, "TZ": tz, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "seuranta.cli", "counts", "--all", "--data",
                        str(data), "--out", str(out)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    frames = [pd.read_csv(p, dtype=str) for p in sorted(out.glob("20*Q*/tables/counts.csv"))]
    return pd.concat(frames).sort_values(["quarter", "municipality_code", "service_task",
                                          "source"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tz")
    a, b = _folders(tmp)
    csv = _counts(a, tmp / "out-csv", "UTC")
    parquet = {tz: _counts(b, tmp / f"out-{tz.replace('/', '_')}", tz) for tz in ZONES}
    return csv, parquet, tmp


@pytest.mark.slow   # runs: the register stage of every quarter, once per time zone
@pytest.mark.parametrize("tz", ZONES)
def test_counts_do_not_depend_on_the_machine_zone(runs, tz):
    csv, parquet, _ = runs
    pd.testing.assert_frame_equal(parquet[tz], csv)


def test_the_instants_do_move_quarters():
    """The fixture really tests something: read in UTC, these instants would fall into other
    quarters than in Helsinki (so a run in the machine's zone would differ)."""
    utc_q = [(s.date().month - 1) // 3 for s in STARTS]
    hel_q = [(s.astimezone(ZoneInfo("Europe/Helsinki")).date().month - 1) // 3 for s in STARTS]
    assert sum(a != b for a, b in zip(utc_q, hel_q)) >= 3


@pytest.mark.slow   # runs (above)
def test_zone_recorded(runs):
    """The ledger names the zone of the conversion, and the manifest records the zone."""
    _, _, tmp = runs
    out = tmp / "out-UTC"
    led = pd.read_csv(out / "register" / "tables" / "ledger.csv", dtype=str,
                      keep_default_na=False)
    labels = set(led.loc[led["item"] == "converted", "reason"])
    assert f"register/aware.parquet: start_date (timestamp with time zone as YYYY-MM-DD in "\
           f"{TIME_ZONE})" in labels
    from seuranta.core.params import load_params
    from seuranta.core.provenance import provenance
    # every manifest (quarter runs, cost years) is built on provenance()
    assert provenance(load_params())["time_zone"] == "Europe/Helsinki"
