"""Counting: hand-computed cases, and every measure against an independent pure-pandas count."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from register_helpers import PARAMS, population, row, write_folder

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.register import stage as register

QUARTERS = quarter_range("2022Q4", "2023Q4")
HEL, ESPOO, TAMPERE = "091", "049", "837"


# --------------------------------------------------------------------------- hand cases

HAND_ROWS = [
    # client, birth, municipality, task, start, end, source, cwa
    ("touch_first", "1980", HEL, "tyoikaiset", "2022-11-01", "2023-01-01", "SHA", ""),
    ("touch_last", "1980", HEL, "tyoikaiset", "2023-03-31", "2023-03-31", "SHA", ""),
    ("ends_before", "1980", HEL, "tyoikaiset", "2022-10-01", "2022-12-31", "SHA", ""),
    ("starts_after", "1980", HEL, "tyoikaiset", "2023-04-01", "2023-05-01", "SHA", ""),
    ("open", "1980", HEL, "tyoikaiset", "2022-05-01", "", "ET", ""),
    # the same client in both sources, and re-opened periods in one quarter
    ("both", "1990", HEL, "paihdetyo", "2023-01-10", "2023-01-20", "SHA", ""),
    ("both", "1990", HEL, "paihdetyo", "2023-02-01", "2023-02-10", "ET", ""),
    ("both", "1990", HEL, "paihdetyo", "2023-03-01", "2023-03-05", "SHA", ""),
    # several tasks: disability + older people (pair), and substance services (3 tasks)
    ("multi", "1938", HEL, "iakkaat", "2023-02-15", "2023-02-20", "SHA", ""),
    ("multi", "1938", HEL, "vammaispalvelut", "2022-01-01", "", "ET", ""),
    ("multi", "1938", HEL, "paihdetyo", "2023-03-01", "2023-03-01", "SHA", ""),
    # age at the quarter's end: 17 in 2022Q4, 18 in 2023 / 64 in 2022Q4, 65 in 2023
    ("turns18", "2005", ESPOO, "lapsiperheet", "2022-10-01", "", "SHA", ""),
    ("turns65", "1958", ESPOO, "lapsiperheet", "2022-10-01", "", "SHA", ""),
    # child welfare act: one client with 0 and 1 periods, one with 0 only, one empty
    ("cwa1", "2010", TAMPERE, "lastensuojelu", "2023-01-01", "2023-01-31", "SHA", "0"),
    ("cwa1", "2010", TAMPERE, "lastensuojelu", "2023-02-01", "", "ET", "1"),
    ("cwa0", "2012", TAMPERE, "lastensuojelu", "2023-01-01", "", "SHA", "0"),
    ("cwa_empty", "2012", TAMPERE, "lastensuojelu", "2023-01-01", "", "SHA", ""),
    # moves from Tampere to Espoo inside 2023Q2: counted in both municipalities
    ("mover", "1970", TAMPERE, "tyoikaiset", "2023-01-01", "2023-05-15", "SHA", ""),
    ("mover", "1970", ESPOO, "tyoikaiset", "2023-05-16", "2023-08-31", "SHA", ""),
    # never counted: Åland and unknown municipality (rejected)
    ("aland", "1970", "478", "tyoikaiset", "2023-01-01", "", "SHA", ""),
]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    cols = ["client_id", "birth_year", "municipality_code", "service_task", "start_date",
            "end_date", "source", "child_welfare_act"]
    d = write_folder(tmp_path_factory.mktemp("hand"), pd.DataFrame(HAND_ROWS, columns=cols))
    return register.run_register_stage(d, QUARTERS, PARAMS)


def _clients(t, quarter, mun, task, source="ALL", table="counts"):
    c = t[table]
    hit = c[(c["quarter"] == quarter) & (c["municipality_code"] == mun)
            & (c["service_task"] == task) & (c["source"] == source)]
    assert len(hit) == 1
    return int(hit["clients"].iloc[0])


def test_periods_touching_first_and_last_day_and_open(hand):
    # 2023Q1 Helsinki working-age: touch_first, touch_last, open (not ends_before/starts_after)
    assert _clients(hand, "2023Q1", HEL, "tyoikaiset") == 3
    assert _clients(hand, "2023Q1", HEL, "tyoikaiset", "SHA") == 2
    assert _clients(hand, "2023Q1", HEL, "tyoikaiset", "ET") == 1
    # 2022Q4: touch_first, ends_before, open
    assert _clients(hand, "2022Q4", HEL, "tyoikaiset") == 3
    # 2023Q2: starts_after, open
    assert _clients(hand, "2023Q2", HEL, "tyoikaiset") == 2
    # 2023Q4: the open period only
    assert _clients(hand, "2023Q4", HEL, "tyoikaiset") == 1


def test_same_client_both_sources_and_reopened_counts_once(hand):
    assert _clients(hand, "2023Q1", HEL, "paihdetyo", "SHA") == 2     # both + multi
    assert _clients(hand, "2023Q1", HEL, "paihdetyo", "ET") == 1
    assert _clients(hand, "2023Q1", HEL, "paihdetyo", "ALL") == 2
    assert _clients(hand, "2023Q2", HEL, "paihdetyo", "ALL") == 0


def test_full_grid_with_zeros_and_no_aland(hand):
    c = hand["counts"]
    assert len(c) == len(QUARTERS) * 293 * 7 * 3
    assert "478" not in set(c["municipality_code"])
    assert "91" not in set(c["county_code"])
    assert list(c.columns) == ["quarter", "municipality_code", "county_code", "service_task",
                               "source", "clients", "population_base", "share_pct"]
    assert not c.duplicated(["quarter", "municipality_code", "service_task", "source"]).any()
    assert int(c["clients"].sum()) > 0 and (c["clients"] == 0).sum() > 0


def test_population_base_and_share(hand):
    pop = reference.reference_population()
    hel = pop[pop["municipality_code"] == HEL]
    base = int(hel[hel["age_group"].isin(["18-24", "25-34", "35-44", "45-54", "55-64"])]
               ["population"].sum())
    c = hand["counts"].set_index(["quarter", "municipality_code", "service_task", "source"])
    r = c.loc[("2023Q1", HEL, "tyoikaiset", "ALL")]
    assert int(r["population_base"]) == base
    assert r["share_pct"] == round(100 * 3 / base, 4)
    under65 = int(pop[(pop["municipality_code"] == ESPOO)
                      & ~pop["age_group"].isin(["65-74", "75-84", "85+"])]["population"].sum())
    assert int(c.loc[("2023Q1", ESPOO, "lapsiperheet", "ALL"), "population_base"]) == under65


def test_child_welfare_act(hand):
    assert _clients(hand, "2023Q1", TAMPERE, "lastensuojelu") == 3
    assert _clients(hand, "2023Q1", TAMPERE, "lastensuojelulaki", table="cwa_counts") == 1
    assert _clients(hand, "2023Q1", TAMPERE, "lastensuojelulaki", "ET", "cwa_counts") == 1
    assert _clients(hand, "2023Q1", TAMPERE, "lastensuojelulaki", "SHA", "cwa_counts") == 0
    assert _clients(hand, "2022Q4", TAMPERE, "lastensuojelulaki", table="cwa_counts") == 0
    pop = reference.reference_population()
    under18 = int(pop[(pop["municipality_code"] == TAMPERE) & (pop["age_group"] == "0-17")]
                  ["population"].sum())
    cw = hand["cwa_counts"]
    r = cw[(cw["quarter"] == "2023Q1") & (cw["municipality_code"] == TAMPERE)
           & (cw["source"] == "ALL")]
    assert int(r["population_base"].iloc[0]) == under18


def _age(t, quarter, mun, task, group):
    a = t["age_counts"]
    hit = a[(a["quarter"] == quarter) & (a["municipality_code"] == mun)
            & (a["service_task"] == task) & (a["age_group"] == group)]
    assert len(hit) == 1
    return int(hit["clients"].iloc[0])


def test_age_at_quarter_end(hand):
    assert _age(hand, "2022Q4", ESPOO, "lapsiperheet", "0-17") == 1
    assert _age(hand, "2022Q4", ESPOO, "lapsiperheet", "18-64") == 1   # turns65 is 64
    assert _age(hand, "2023Q1", ESPOO, "lapsiperheet", "0-17") == 0
    assert _age(hand, "2023Q1", ESPOO, "lapsiperheet", "18-64") == 1   # turns18
    assert _age(hand, "2023Q1", ESPOO, "lapsiperheet", "65+") == 1     # turns65
    # born 1938: 85 at the end of 2023
    assert _age(hand, "2023Q1", HEL, "iakkaat", "85+") == 1
    assert _age(hand, "2023Q1", HEL, "iakkaat", "65+") == 1
    assert _age(hand, "2022Q4", HEL, "vammaispalvelut", "85+") == 0    # 84 at end of 2022


def test_kaikki_counts_distinct_clients_over_tasks(hand):
    # Helsinki 2023Q1: touch_first, touch_last, open (1980); both (1990); multi (1938)
    assert _age(hand, "2023Q1", HEL, "kaikki", "18-64") == 4
    assert _age(hand, "2023Q1", HEL, "kaikki", "65+") == 1
    assert _age(hand, "2023Q1", HEL, "kaikki", "85+") == 1
    a = hand["age_counts"]
    r = a[(a["quarter"] == "2023Q1") & (a["municipality_code"] == HEL)
          & (a["service_task"] == "kaikki") & (a["age_group"] == "85+")]
    pop = reference.reference_population()
    assert int(r["population_base"].iloc[0]) == int(
        pop[(pop["municipality_code"] == HEL) & (pop["age_group"] == "85+")]["population"].sum())


def test_multi_task_and_tasks_per_client(hand):
    m = hand["multi_task"]
    pick = lambda q, k, a, b: int(m[(m["quarter"] == q) & (m["county_code"] == k)  # noqa: E731
                                     & (m["task_a"] == a) & (m["task_b"] == b)]["clients"].iloc[0])
    assert pick("2023Q1", "90", "iakkaat", "vammaispalvelut") == 1
    assert pick("2023Q1", "ALL", "iakkaat", "paihdetyo") == 1
    assert pick("2023Q1", "90", "paihdetyo", "vammaispalvelut") == 1
    assert pick("2023Q2", "90", "iakkaat", "vammaispalvelut") == 0
    assert int(m["clients"].sum()) > 0
    assert (m["task_a"] < m["task_b"]).all()
    tp = hand["tasks_per_client"]
    r = tp[(tp["quarter"] == "2023Q1") & (tp["county_code"] == "90")].set_index("n_tasks")["clients"]
    # Helsinki: three 1-task working-age clients, 'both' (1 task), 'multi' (3 tasks)
    assert r.to_dict() == {1: 4, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0, 7: 0}


def test_mover_counted_in_both_municipalities(hand):
    assert _clients(hand, "2023Q2", TAMPERE, "tyoikaiset") == 1
    assert _clients(hand, "2023Q2", ESPOO, "tyoikaiset") == 1
    assert _clients(hand, "2023Q3", TAMPERE, "tyoikaiset") == 0
    tp = hand["tasks_per_client"]
    r = tp[(tp["quarter"] == "2023Q2") & (tp["county_code"] == "ALL") & (tp["n_tasks"] == 1)]
    # ALL 2023Q2: open, starts_after, multi(vammais), turns18, turns65, cwa1, cwa0, cwa_empty, mover
    assert int(r["clients"].iloc[0]) == 9


def test_monthly(hand):
    mo = hand["monthly"]
    sel = mo[(mo["quarter"] == "2023Q1") & (mo["municipality_code"] == HEL)
             & (mo["service_task"] == "iakkaat") & (mo["source"] == "ALL")]
    assert sel.set_index("month")["clients"].to_dict() == {"2023-01": 0, "2023-02": 1,
                                                          "2023-03": 0}
    sel = mo[(mo["quarter"] == "2023Q1") & (mo["municipality_code"] == HEL)
             & (mo["service_task"] == "paihdetyo") & (mo["source"] == "ET")]
    assert sel.set_index("month")["clients"].to_dict() == {"2023-01": 0, "2023-02": 1,
                                                          "2023-03": 0}


def test_year_counts(hand):
    y = hand["year_counts"]
    assert set(y["year"]) == {2023}     # 2022 is not complete from first_quarter 2022Q4
    r = y[(y["municipality_code"] == HEL) & (y["service_task"] == "tyoikaiset")
          & (y["source"] == "ALL")]
    # 2023: touch_first, touch_last, starts_after, open
    assert int(r["clients"].iloc[0]) == 4
    # the whole year over all tasks counts each client once (its base: all inhabitants)
    k = y[(y["municipality_code"] == HEL) & (y["service_task"] == "kaikki")]
    assert list(k["source"]) == ["ALL"] and int(k["clients"].iloc[0]) >= 4
    assert int(k["population_base"].iloc[0]) > int(r["population_base"].iloc[0])


def test_series_counts_cover_first_quarter_to_q(hand, tmp_path):
    assert sorted(hand["series_counts"]["quarter"].unique()) == [str(q) for q in QUARTERS]
    # asking only for 2023Q2 still gives the series from 2022Q4
    d = write_folder(tmp_path, [row()])
    t = register.run_register_stage(d, [Quarter.parse("2023Q2")], PARAMS)
    assert sorted(t["series_counts"]["quarter"].unique()) == ["2022Q4", "2023Q1", "2023Q2"]
    assert sorted(t["counts"]["quarter"].unique()) == ["2023Q2"]


# --------------------------------------------------------------------------- independent count

def _random_periods(seed=11, n_clients=400):
    rng = np.random.default_rng(seed)
    muns = [HEL, ESPOO, TAMPERE, "005", "020"]
    tasks = reference.task_codes()
    rows = []
    for i in range(n_clients):
        birth = int(rng.integers(1925, 2022))
        home = muns[rng.integers(len(muns))]
        for _ in range(int(rng.integers(1, 5))):
            start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 760)))
            if start.year < birth:
                start = pd.Timestamp(f"{birth}-06-01")
            end = "" if rng.random() < 0.3 else (
                start + pd.Timedelta(days=int(rng.integers(0, 300)))).strftime("%Y-%m-%d")
            mun = home if rng.random() < 0.9 else muns[rng.integers(len(muns))]
            by = birth if rng.random() < 0.97 else birth + 1   # a few inconsistent birth years
            by = min(by, start.year)
            rows.append((f"k{i}", str(by), mun, tasks[rng.integers(len(tasks))],
                         start.strftime("%Y-%m-%d"), end, ["SHA", "ET"][rng.integers(2)],
                         ["", "0", "1"][rng.integers(3)]))
    cols = ["client_id", "birth_year", "municipality_code", "service_task", "start_date",
            "end_date", "source", "child_welfare_act"]
    return pd.DataFrame(rows, columns=cols)


def _pandas_counts(df: pd.DataFrame, quarters, years):
    """A second, independent implementation: plain pandas loops over the windows."""
    p = df.copy()
    p["start"] = pd.to_datetime(p["start_date"])
    p["end"] = pd.to_datetime(p["end_date"].replace("", None))
    p["birth"] = p.groupby("client_id")["birth_year"].transform(lambda s: s.astype(int).min())
    mun = reference.mainland_municipalities().set_index("municipality_code")["county_code"]
    p["county"] = p["municipality_code"].map(mun)

    def active(first, last):
        first, last = pd.Timestamp(first), pd.Timestamp(last)
        return p[(p["start"] <= last) & (p["end"].isna() | (p["end"] >= first))]

    def by_source(a, key, label):
        out = {}
        for (m, t, s), g in a.groupby(["municipality_code", "service_task", "source"]):
            out[(label, m, t, s)] = g["client_id"].nunique()
        for (m, t), g in a.groupby(["municipality_code", "service_task"]):
            out[(label, m, t, "ALL")] = g["client_id"].nunique()
        return out

    res = {"counts": {}, "cwa": {}, "age": {}, "pairs": {}, "ntasks": {}, "monthly": {},
           "years": {}}
    for q in quarters:
        a = active(q.start, q.end)
        res["counts"].update(by_source(a, "quarter", str(q)))
        cw = a[(a["service_task"] == "lastensuojelu") & (a["child_welfare_act"] == "1")]
        res["cwa"].update(by_source(cw, "quarter", str(q)))
        age = q.end.year - a["birth"]
        for g, lo, hi in reference.CLIENT_AGE_GROUPS:
            sel = a[(age >= lo) & (age <= (hi if hi is not None else 10**6))]
            for (m, t), gg in sel.groupby(["municipality_code", "service_task"]):
                res["age"][(str(q), m, t, g)] = gg["client_id"].nunique()
            for m, gg in sel.groupby("municipality_code"):
                res["age"][(str(q), m, "kaikki", g)] = gg["client_id"].nunique()
        for county, sub in list(a.groupby("county")) + [("ALL", a)]:
            sets = sub.groupby("client_id")["service_task"].agg(lambda s: sorted(set(s)))
            for tasks in sets:
                res["ntasks"][(str(q), county, len(tasks))] = res["ntasks"].get(
                    (str(q), county, len(tasks)), 0) + 1
                for ta, tb in itertools.combinations(tasks, 2):
                    res["pairs"][(str(q), county, ta, tb)] = res["pairs"].get(
                        (str(q), county, ta, tb), 0) + 1
        for mth in q.months:
            first = pd.Timestamp(mth + "-01")
            last = first + pd.offsets.MonthEnd(0)
            for k, v in by_source(active(first, last), "month", mth).items():
                res["monthly"][(str(q),) + k] = v
    for y in years:
        a = active(f"{y}-01-01", f"{y}-12-31")
        res["years"].update(by_source(a, "year", y))
        for m, g in a.groupby("municipality_code"):    # any task, each client once
            res["years"][(y, m, "kaikki", "ALL")] = g["client_id"].nunique()
    return res


def _nonzero(df, keys):
    d = df[df["clients"] > 0]
    return {tuple(r[:-1]): int(r[-1]) for r in d[keys + ["clients"]].itertuples(index=False)}


@pytest.fixture(scope="module")
def random_case(tmp_path_factory):
    df = _random_periods()
    d = write_folder(tmp_path_factory.mktemp("random"), df)
    t = register.run_register_stage(d, QUARTERS, PARAMS)
    assert t["rejected"].empty
    return t, _pandas_counts(df, QUARTERS, [2023])


# one worker runs the random case's register stage (under loadgroup each worker ran it)
@pytest.mark.xdist_group("count_random_case")
def test_random_counts_equal_pandas(random_case):
    t, ref = random_case
    assert _nonzero(t["counts"], ["quarter", "municipality_code", "service_task", "source"]) \
        == ref["counts"]
    assert _nonzero(t["series_counts"], ["quarter", "municipality_code", "service_task",
                                         "source"]) == ref["counts"]


@pytest.mark.xdist_group("count_random_case")
def test_random_cwa_counts_equal_pandas(random_case):
    t, ref = random_case
    got = _nonzero(t["cwa_counts"], ["quarter", "municipality_code", "service_task", "source"])
    assert got == {(q, m, "lastensuojelulaki", s): v for (q, m, _, s), v in ref["cwa"].items()}


@pytest.mark.xdist_group("count_random_case")
def test_random_age_counts_equal_pandas(random_case):
    t, ref = random_case
    assert _nonzero(t["age_counts"], ["quarter", "municipality_code", "service_task",
                                      "age_group"]) == ref["age"]


@pytest.mark.xdist_group("count_random_case")
def test_random_multi_task_equal_pandas(random_case):
    t, ref = random_case
    assert _nonzero(t["multi_task"], ["quarter", "county_code", "task_a", "task_b"]) \
        == ref["pairs"]
    assert _nonzero(t["tasks_per_client"], ["quarter", "county_code", "n_tasks"]) \
        == ref["ntasks"]


@pytest.mark.xdist_group("count_random_case")
def test_random_monthly_equal_pandas(random_case):
    t, ref = random_case
    assert _nonzero(t["monthly"], ["quarter", "month", "municipality_code", "service_task",
                                   "source"]) == ref["monthly"]


@pytest.mark.xdist_group("count_random_case")
def test_random_year_counts_equal_pandas(random_case):
    t, ref = random_case
    assert _nonzero(t["year_counts"], ["year", "municipality_code", "service_task",
                                       "source"]) == ref["years"]


def test_population_year_missing_is_input_error(tmp_path):
    from seuranta.core.errors import InputError
    d = write_folder(tmp_path, [row()], pop_years=(2022,))
    with pytest.raises(InputError, match="no population for year 2021"):
        register.run_register_stage(d, QUARTERS, PARAMS)
    # 2023 quarters alone need 2022 only
    t = register.run_register_stage(d, [Quarter.parse("2023Q1")],
                                    {**PARAMS, "publication": {"first_quarter": "2023Q1"}})
    assert _clients(t, "2023Q1", HEL, "tyoikaiset") == 1
    assert population((2022,))["year"].unique().tolist() == [2022]
