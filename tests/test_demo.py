"""Demo register generator: determinism, schema, calibration against THL's published shares,
the seed's Pirkanmaa disability rows, coverage, and the injected faults.

Everything is checked against the written files with an independent pandas reading of the
register (own validation and counting), not against the generator's internals.
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.demo import generator as demo

SCALE = 0.05
REGISTER_COLUMNS = ["client_id", "birth_year", "municipality_code", "service_task",
                    "start_date", "end_date", "source", "child_welfare_act"]
#: THL's published shares, 2023Q1 (seed: "Arvio asiakasmääristä").
THL_SHARES = {"iakkaat": 19.0, "tyoikaiset": 7.0, "lapsiperheet": 6.0,
              "lastensuojelulaki": 3.9, "vammaispalvelut": 2.4, "paihdetyo": 0.4}
#: Seed, Liite VA1: disability shares (%) 2022Q4, 2023Q1, 2023Q2, 2023Q3.
PIRKANMAA_VA1 = {
    "Hämeenkyrö": [2.0, 2.0, 2.1, 2.1], "Kangasala": [1.6, 1.6, 1.7, 1.7],
    "Kuhmoinen": [2.5, 2.5, 2.6, 2.6], "Lempäälä": [1.8, 1.8, 1.9, 1.9],
    "Nokia": [2.4, 2.4, 2.5, 2.5], "Orivesi": [2.6, 2.7, 2.7, 2.7],
    "Pälkäne": [2.4, 2.3, 2.4, 2.4], "Pirkkala": [1.3, 1.3, 1.4, 1.4],
    "Tampere": [2.3, 2.4, 2.4, 2.4], "Vesilahti": [1.5, 1.5, 1.6, 1.6],
    "Ylöjärvi": [1.9, 2.0, 2.1, 2.1],
}
QUARTERS = quarter_range("2022Q4", "2023Q4")
BASE_AGES = {"iakkaat": (65, None), "tyoikaiset": (18, 64), "lapsiperheet": (0, 64),
             "lastensuojelu": (0, 17), "lastensuojelulaki": (0, 17)}


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_small")
    demo.generate(out, scale=SCALE, seed=demo.DEFAULT_SEED)
    return out


def read_register(folder: Path) -> pd.DataFrame:
    frames = []
    for p in sorted((folder / "register").glob("*.csv")):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        assert list(df.columns) == REGISTER_COLUMNS, p.name
        frames.append(df.assign(_file=p.name))
    return pd.concat(frames, ignore_index=True)


def classify(reg: pd.DataFrame, extract_date: str) -> pd.Series:
    """Independent validation: the first failing check's reason per row ('' = valid)."""
    mun = reference.municipalities()
    county = dict(zip(mun["municipality_code"], mun["county_code"]))
    tasks = set(reference.task_codes())
    iso = r"^\d{4}-\d{2}-\d{2}$"
    st = pd.to_datetime(reg["start_date"].where(reg["start_date"].str.match(iso)),
                        format="%Y-%m-%d", errors="coerce")
    en = pd.to_datetime(reg["end_date"].where(reg["end_date"].str.match(iso)),
                        format="%Y-%m-%d", errors="coerce")
    by = pd.to_numeric(reg["birth_year"].where(reg["birth_year"].str.match(r"^\d{4}$")),
                       errors="coerce")
    cty = reg["municipality_code"].map(county)
    checks = [
        ("missing_field", (reg[["client_id", "municipality_code", "service_task", "source",
                                "start_date"]] == "").any(axis=1)),
        ("unknown_service_task", ~reg["service_task"].isin(tasks)),
        ("unknown_municipality", cty.isna()),
        ("aland", cty == reference.ALAND_COUNTY),
        ("bad_source", ~reg["source"].isin(["SHA", "ET"])),
        ("bad_date", st.isna() | ((reg["end_date"] != "") & en.isna())),
        ("end_before_start", en < st),
        ("start_after_extract", st > pd.Timestamp(extract_date)),
        ("birth_year_missing", reg["birth_year"] == ""),
        ("birth_year_impossible", by.isna() | (by > st.dt.year) | (st.dt.year - by > 120)),
        ("bad_child_welfare_act", ~reg["child_welfare_act"].isin(["", "0", "1"])),
        ("duplicate_row", reg.duplicated(subset=REGISTER_COLUMNS, keep="first")),
    ]
    reason = pd.Series("", index=reg.index)
    for code, fails in checks:
        reason = reason.mask((reason == "") & fails.fillna(False).astype(bool), code)
    return reason


def valid_periods(folder: Path) -> pd.DataFrame:
    meta = json.loads((folder / "metadata.json").read_text())
    reg = read_register(folder)
    ok = reg[classify(reg, meta["extract_date"]) == ""].copy()
    ok["start"] = pd.to_datetime(ok["start_date"])
    ok["end"] = pd.to_datetime(ok["end_date"].replace("", None))
    ok["birth_year"] = ok["birth_year"].astype(int)
    return ok


def active(periods: pd.DataFrame, q: Quarter) -> pd.DataFrame:
    return periods[(periods["start"] <= pd.Timestamp(q.end))
                   & (periods["end"].isna() | (periods["end"] >= pd.Timestamp(q.start)))]


def register_counts(periods: pd.DataFrame, q: Quarter) -> pd.Series:
    """Distinct clients per municipality × task (sources united), plus 'lastensuojelulaki'."""
    a = active(periods, q)
    c = a.groupby(["municipality_code", "service_task"])["client_id"].nunique()
    cwa = a[a["child_welfare_act"] == "1"]
    c2 = cwa.groupby("municipality_code")["client_id"].nunique()
    c2.index = pd.MultiIndex.from_arrays([c2.index, ["lastensuojelulaki"] * len(c2)])
    return pd.concat([c, c2])


def comprehensive_pairs(folder: Path, q: Quarter) -> set[tuple[str, str]]:
    """Pairs whose declared coverage spans the whole quarter and that deliver fully."""
    meta = json.loads((folder / "metadata.json").read_text())
    d = pd.read_csv(folder / "deliveries.csv", dtype=str, keep_default_na=False)
    frm = pd.to_datetime(d["covered_from"])
    to = pd.to_datetime(d["covered_to"].replace("", None))
    full = d[(frm <= pd.Timestamp(q.start)) & (to.isna() | (to >= pd.Timestamp(q.end)))]
    under = {(u["municipality_code"], u["service_task"])
             for u in meta["faults"]["under_delivering"]}
    return set(zip(full["municipality_code"], full["service_task"])) - under


def population(folder: Path, year: int) -> pd.DataFrame:
    p = pd.read_csv(folder / "population.csv", dtype={"municipality_code": str})
    mainland = set(reference.mainland_municipalities()["municipality_code"])
    return p[(p["year"] == year) & p["municipality_code"].isin(mainland)]


def base_of(pop: pd.DataFrame, task: str) -> pd.Series:
    lo, hi = BASE_AGES.get(task, (0, None))
    inb = pop["age_group"].map(lambda b: reference.band_in_base(b, lo, hi))
    return pop[inb].groupby("municipality_code")["population"].sum()


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- tests

def test_same_seed_identical_other_seed_different(small, tmp_path):
    again = demo.generate(tmp_path / "again", scale=SCALE, seed=demo.DEFAULT_SEED)
    assert digest(again) == digest(small)
    other = demo.generate(tmp_path / "other", scale=SCALE, seed=demo.DEFAULT_SEED + 1)
    d_small, d_other = digest(small), digest(other)
    assert d_other["population.csv"] == d_small["population.csv"]
    for name in ["register/sha_part1.csv", "register/et_part1.csv", "deliveries.csv",
                 "truth.csv"]:
        assert d_other[name] != d_small[name], name


def test_rerun_removes_stale_register_files(tmp_path):
    out = tmp_path / "d"
    (out / "register").mkdir(parents=True)
    (out / "register" / "old.csv").write_text("x\n")
    demo.generate(out, scale=0.01, seed=3)
    assert sorted(p.name for p in (out / "register").iterdir()) == [
        "et_part1.csv", "sha_part1.csv", "sha_part2.csv", "sha_part3.csv"]
    # the simulated review round: one exclusion per under-delivering pair and quarter
    meta = json.loads((out / "metadata.json").read_text())
    corr = pd.read_csv(out / "corrections.csv", dtype=str, keep_default_na=False)
    under = {(u["municipality_code"], u["service_task"])
             for u in meta["faults"]["under_delivering"]}
    assert set(zip(corr["municipality_code"], corr["service_task"])) == under
    assert (corr["decision"] == "exclude").all() and len(corr) == 5 * len(under)
    assert meta["review_round"]["decisions"] == len(corr)
    # without it: no corrections.csv, not even a stale one from the earlier run
    demo.generate(out, scale=0.01, seed=3, review_round=False)
    assert not (out / "corrections.csv").exists()


def test_schema_per_contract(small):
    meta = json.loads((small / "metadata.json").read_text())
    assert meta["synthetic"] is True and meta["seed"] == demo.DEFAULT_SEED
    assert meta["scale"] == SCALE and meta["extract_date"] == "2024-02-15"
    assert (meta["first_quarter"], meta["last_quarter"]) == ("2022Q4", "2023Q4")
    assert meta["generator"].startswith("seuranta demo-data")
    reg = read_register(small)
    ok = reg[classify(reg, meta["extract_date"]) == ""]
    assert ok["municipality_code"].str.fullmatch(r"\d{3}").all()
    assert set(ok["service_task"]) == set(reference.task_codes())
    assert set(ok["source"]) == {"SHA", "ET"}
    assert (ok["_file"].str.startswith("et") == (ok["source"] == "ET")).all()
    ls = ok["service_task"] == "lastensuojelu"
    assert set(ok.loc[ls, "child_welfare_act"]) == {"0", "1"}
    assert set(ok.loc[~ls, "child_welfare_act"]) == {""}
    assert (ok["end_date"] == "").any()                       # open periods exist
    # pseudonymous ids: one birth year and one municipality per client
    assert ok.groupby("client_id")["birth_year"].nunique().max() == 1
    assert ok.groupby("client_id")["municipality_code"].nunique().max() == 1

    dl = pd.read_csv(small / "deliveries.csv", dtype=str, keep_default_na=False)
    assert list(dl.columns) == ["municipality_code", "service_task", "source", "covered_from",
                                "covered_to"]
    assert not dl.duplicated(["municipality_code", "service_task", "source"]).any()
    assert set(dl["source"]) == {"SHA", "ET"}
    assert (dl.loc[dl["source"] == "ET", "covered_from"] == "2023-01-01").all()

    pop = pd.read_csv(small / "population.csv", dtype={"municipality_code": str})
    assert list(pop.columns) == ["municipality_code", "year", "age_group", "population"]
    assert sorted(pop["year"].unique()) == [2021, 2022]
    ref = reference.reference_population()
    p22 = pop[pop["year"] == 2022].reset_index(drop=True)
    assert p22["municipality_code"].nunique() == 309             # Åland included
    m = ref.merge(p22, on=["municipality_code", "age_group"], suffixes=("_ref", ""))
    assert len(m) == len(ref)
    assert (m["population"] == np.rint(m["population_ref"] * SCALE)).all()
    p21 = pop[pop["year"] == 2021].reset_index(drop=True)
    assert (p21["population"] == p22["population"]).all()

    truth = pd.read_csv(small / "truth.csv")
    assert list(truth.columns) == ["quarter", "service_task", "age_group", "true_clients",
                                   "population_base", "share_pct"]
    assert len(truth) == 5 * (7 + 1 + 5)
    tm = pd.read_csv(small / "truth_municipal.csv", dtype={"municipality_code": str})
    assert list(tm.columns)[:4] == ["quarter", "municipality_code", "service_task",
                                    "true_clients"]
    assert len(tm) == 5 * 293 * 9


def test_fault_counts_match_rows(small):
    meta = json.loads((small / "metadata.json").read_text())
    reg = read_register(small)
    reasons = classify(reg, meta["extract_date"])
    reason = reasons.value_counts()
    rows = meta["faults"]["rows"]
    expected = {
        "missing_field": sum(v for k, v in rows.items() if k.startswith("missing_")),
        "unknown_service_task": rows["unknown_service_task"],
        "unknown_municipality": rows["unknown_municipality"],
        "aland": rows["aland_municipality"], "bad_source": rows["bad_source"],
        "bad_date": rows["bad_date"], "end_before_start": rows["end_before_start"],
        "start_after_extract": rows["start_after_extract"],
        "birth_year_missing": rows["birth_year_missing"],
        "birth_year_impossible": rows["birth_year_impossible"],
        "bad_child_welfare_act": rows["bad_child_welfare_act"],
        "duplicate_row": rows["duplicate_row"],
    }
    got = {k: int(v) for k, v in reason.items() if k != ""}
    assert got == expected
    assert all(v >= 2 for v in rows.values())
    assert sum(got.values()) == meta["faults"]["total"] == meta["rows"]["faulty"]
    assert 0.2 <= 100 * meta["faults"]["total"] / len(reg) <= 0.5
    assert meta["rows"]["total"] == len(reg)
    # unusual ages: only the injected rows fall outside the usual limits (age at start)
    ok = reg[reasons == ""]
    age = pd.to_datetime(ok["start_date"]).dt.year - ok["birth_year"].astype(int)
    t = ok["service_task"]
    odd = (((t == "lastensuojelu") & (age > 20)) | ((t == "iakkaat") & (age < 60))
           | ((t == "tyoikaiset") & ((age < 18) | (age > 67))))
    assert int(odd.sum()) == meta["flags"]["age_unusual_for_task"] > 0


def test_register_matches_truth_where_comprehensive(small):
    """Register counts = truth for fully covered pairs; truth adds up; shares near THL."""
    per = valid_periods(small)
    truth = pd.read_csv(small / "truth.csv")
    tm = pd.read_csv(small / "truth_municipal.csv", dtype={"municipality_code": str})
    for q in QUARTERS:
        counts = register_counts(per, q)
        t = tm[tm["quarter"] == str(q)].set_index(["municipality_code", "service_task"])
        pairs = comprehensive_pairs(small, q)
        assert len(pairs) > 50
        for m, task in sorted(pairs):
            assert counts.get((m, task), 0) == t.loc[(m, task), "true_clients"], (q, m, task)
            if task == "lastensuojelu":
                assert (counts.get((m, "lastensuojelulaki"), 0)
                        == t.loc[(m, "lastensuojelulaki"), "true_clients"]), (q, m)
        nat = truth[(truth["quarter"] == str(q)) & (truth["age_group"] == "kaikki")]
        nat = nat.set_index("service_task")["true_clients"]
        for task in list(THL_SHARES) + ["kaikki"]:
            assert nat[task] == t.xs(task, level="service_task")["true_clients"].sum()
        for task, thl in THL_SHARES.items():
            row = truth[(truth["quarter"] == str(q)) & (truth["service_task"] == task)]
            assert abs(row["share_pct"].iloc[0] / thl - 1) <= 0.15, (q, task)


def test_ratio_on_register_equals_ratio_on_truth(small):
    """THL's ratio method on the written register (2023Q1) equals the ratio of the true counts
    of the same comprehensive municipalities: the register holds their complete data. (How
    far that lands from THL's published share is chance and the joining scenario: the
    municipalities differ structurally, nothing tilts the covered ones to the national share.)
    """
    q = Quarter.parse("2023Q1")
    counts = register_counts(valid_periods(small), q)
    pop = population(small, q.population_year)
    pairs = comprehensive_pairs(small, q)
    tm = pd.read_csv(small / "truth_municipal.csv", dtype={"municipality_code": str})
    t = tm[tm["quarter"] == str(q)].set_index(["municipality_code", "service_task"])
    for task in THL_SHARES:
        src = "lastensuojelu" if task == "lastensuojelulaki" else task
        muns = sorted(m for m, tt in pairs if tt == src)
        clients = sum(int(counts.get((m, task), 0)) for m in muns)
        true = int(sum(t.loc[(m, task), "true_clients"] for m in muns))
        assert clients == true, task
        share = 100 * clients / base_of(pop, task)[muns].sum()
        assert abs(share / THL_SHARES[task] - 1) <= 0.5, (task, share)


def test_large_municipalities_differ_structurally(small):
    """Structural spread at every size: among the 20 largest municipalities (count noise
    there is a few per cent even at scale 0.05) the true shares' log sd exceeds 0.12 for
    every estimated task, and some large city is off the national share by 20 %+."""
    tm = pd.read_csv(small / "truth_municipal.csv", dtype={"municipality_code": str})
    truth = pd.read_csv(small / "truth.csv")
    tot = population(small, 2022).groupby("municipality_code")["population"].sum()
    big = tot.nlargest(20).index
    q = "2023Q1"
    for task in ["iakkaat", "tyoikaiset", "lapsiperheet", "lastensuojelu", "vammaispalvelut",
                 "paihdetyo"]:
        g = tm[(tm["quarter"] == q) & (tm["service_task"] == task)
               & tm["municipality_code"].isin(big)]
        nat = truth[(truth["quarter"] == q) & (truth["service_task"] == task)
                    & (truth["age_group"] == "kaikki")]["share_pct"].iloc[0]
        ls = np.log(g["share_pct"].to_numpy() / nat)
        assert ls.std() > 0.12, (task, ls.std())
        assert np.abs(ls).max() > np.log(1.2), task


def test_joining_scenarios_change_only_who_joins(tmp_path):
    """Same seed: the same municipal factors and true counts in every scenario (up to the
    few injected unusual-age clients, placed in covered pairs), different coverage; the
    joining keys follow their scenario (correlations over many draws)."""
    outs = {j: demo.generate(tmp_path / j, scale=0.01, seed=11, joining=j) for j in demo.JOINING}
    cols = ["municipality_code", "service_task", "expected_2023Q1", "log_observable",
            "log_residual"]
    fs = {j: pd.read_csv(o / "truth_factors.csv", dtype={"municipality_code": str})[cols]
          for j, o in outs.items()}
    pd.testing.assert_frame_equal(fs["a"], fs["b"])
    pd.testing.assert_frame_equal(fs["a"], fs["c"])
    tms = {j: pd.read_csv(o / "truth_municipal.csv")["true_clients"] for j, o in outs.items()}
    n_unusual = max(json.loads((o / "metadata.json").read_text())["flags"]["age_unusual_for_task"]
                    for o in outs.values())
    for j in ("b", "c"):
        assert (tms[j] - tms["a"]).abs().groupby(
            pd.read_csv(outs[j] / "truth_municipal.csv")["quarter"]).sum().max() <= 4 * n_unusual
    dls = {j: (o / "deliveries.csv").read_bytes() for j, o in outs.items()}
    assert len(set(dls.values())) == 3
    meta = json.loads((outs["b"] / "metadata.json").read_text())
    assert meta["joining"] == "b" and "--joining b" in meta["generator"]
    with pytest.raises(ValueError, match="joining scenario"):
        demo.generate(tmp_path / "x", scale=0.01, joining="d")

    f = pd.read_csv(outs["a"] / "truth_factors.csv", dtype={"municipality_code": str})
    f = f[f["service_task"] == "tyoikaiset"].reset_index(drop=True)
    pop = population(outs["a"], 2022)
    tot = pop.groupby("municipality_code")["population"].sum().reindex(f["municipality_code"])
    o65 = pop[pop["age_group"].isin(["65-74", "75-84", "85+"])].groupby(
        "municipality_code")["population"].sum().reindex(f["municipality_code"])
    s65 = (100 * o65 / tot).to_numpy()
    lp = np.log(tot.to_numpy(float))
    score = (lp - lp.mean()) / lp.std() - (s65 - s65.mean()) / s65.std()
    rz = f["residual_z"].to_numpy()
    rng = np.random.default_rng(5)
    corr = {}
    for j in demo.JOINING:
        ks = [demo.joining_keys(rng, j, f["county_code"].astype(str).to_numpy(), tot.to_numpy(),
                                s65, rz) for _ in range(200)]
        corr[j] = (np.mean([np.corrcoef(k, -score)[0, 1] for k in ks]),
                   np.mean([np.corrcoef(k, -rz)[0, 1] for k in ks]))
    assert abs(corr["a"][0]) < 0.05 and abs(corr["a"][1]) < 0.05
    assert corr["b"][0] > 0.25 and abs(corr["b"][1]) < 0.1
    assert corr["c"][1] > 0.2 and abs(corr["c"][0]) < 0.1
    # covered_first: lowest keys first until the share of the base is reached
    mask = demo.covered_first(np.array([3.0, 1.0, 2.0, 0.5]), np.array([10, 10, 10, 70]), 0.75)
    assert mask.tolist() == [False, True, False, True]


def test_coverage_grows_and_hits_the_seed_bases(small):
    pop = population(small, 2022)
    covered = {}
    for q in QUARTERS:
        pairs = comprehensive_pairs(small, q)
        covered[str(q)] = {}
        for task in demo.TASKS:
            b = base_of(pop, task)
            muns = [m for m, t in pairs if t == task]
            covered[str(q)][task] = 100 * b[muns].sum() / b.sum()
    q1 = covered["2023Q1"]
    for task, target in [("vammaispalvelut", 24), ("lastensuojelu", 23), ("tyoikaiset", 14),
                         ("lapsiperheet", 11), ("paihdetyo", 2), ("iakkaat", 4)]:
        # a municipality joins whatever its size, so the target may be overshot by one
        assert abs(q1[task] - target) <= max(0.2 * target, 2.0), (task, q1[task])
    for task in demo.TASKS:
        assert covered["2023Q4"][task] > covered["2023Q1"][task]


def test_under_delivering_pairs_deliver_about_a_third(small):
    meta = json.loads((small / "metadata.json").read_text())
    q = Quarter.parse("2023Q1")
    counts = register_counts(valid_periods(small), q)
    tm = pd.read_csv(small / "truth_municipal.csv", dtype={"municipality_code": str})
    t = tm[tm["quarter"] == str(q)].set_index(["municipality_code", "service_task"])
    d = pd.read_csv(small / "deliveries.csv", dtype=str, keep_default_na=False)
    declared = set(zip(d["municipality_code"], d["service_task"]))
    under = meta["faults"]["under_delivering"]
    assert len(under) >= 5
    ratios = []
    for u in under:
        key = (u["municipality_code"], u["service_task"])
        assert key in declared
        ratios.append(counts.get(key, 0) / t.loc[key, "true_clients"])
    # each pair keeps 30-40 % of its clients; small cells wobble, their mean does not
    assert 0.25 <= np.mean(ratios) <= 0.45
    assert max(ratios) < 0.8


def test_add_parser_registers_demo_data():
    p = argparse.ArgumentParser()
    demo.add_parser(p.add_subparsers(dest="command"))
    a = p.parse_args(["demo-data"])
    assert (a.out, a.scale, a.seed, a.joining) == (str(Path("data") / "demo"), 0.05,
                                                   20240207, "a")
    a = p.parse_args(["demo-data", "--out", "x", "--scale", "0.5", "--seed", "3",
                      "--joining", "c"])
    assert (a.out, a.scale, a.seed, a.joining) == ("x", 0.5, 3, "c")


@pytest.mark.slow
def test_pirkanmaa_disability_rows_at_national_scale(national_demo):
    """Liite VA1: the eleven municipalities within ±0.1 points, the other twelve without rows."""
    per = valid_periods(national_demo)
    mun = reference.municipalities()
    pir = mun[mun["county_code"] == "08"]
    code = dict(zip(pir["name_fi"], pir["municipality_code"]))
    dis = per[per["service_task"] == "vammaispalvelut"]
    others = set(pir["municipality_code"]) - {code[n] for n in PIRKANMAA_VA1}
    assert len(others) == 12
    assert not dis["municipality_code"].isin(others).any()
    for i, q in enumerate(QUARTERS):
        c = active(dis, q).groupby("municipality_code")["client_id"].nunique()
        tot = population(national_demo, q.population_year).groupby(
            "municipality_code")["population"].sum()
        pairs = comprehensive_pairs(national_demo, q)
        for name, shares in PIRKANMAA_VA1.items():
            m = code[name]
            seed_share = shares[min(i, 3)]                      # 2023Q4 = 2023Q3
            assert (m, "vammaispalvelut") in pairs
            assert c[m] == round(seed_share / 100 * tot[m]), (q, name)
            assert abs(100 * c[m] / tot[m] - seed_share) <= 0.1, (q, name)
        # the quartile sentence of the seed: extremes Hailuoto 0.5 %, Pomarkku 4.3 %
        comp = sorted(m for m, t in pairs if t == "vammaispalvelut")
        share = 100 * c.reindex(comp, fill_value=0) / tot[comp]
        assert share.idxmin() == "072" and round(share.min(), 1) == 0.5
        assert share.idxmax() == "608" and round(share.max(), 1) == 4.3
        if str(q) == "2023Q1":
            # the seed's quartiles (1.6 %, 3.1 %) are of 57 comprehensive municipalities: the
            # demo's comprehensive set is a county-clustered draw, so a wider band
            assert 1.2 <= share.quantile(0.25) <= 2.0
            assert 2.4 <= share.quantile(0.75) <= 3.5
    tm = pd.read_csv(national_demo / "truth_municipal.csv", dtype={"municipality_code": str})
    # every municipality's true share: the seed's spread (calibrated over seeds to 1.60/3.11)
    allv = tm[(tm["service_task"] == "vammaispalvelut") & (tm["quarter"] == "2023Q1")]
    assert 1.45 <= allv["share_pct"].quantile(0.25) <= 1.75
    assert 2.9 <= allv["share_pct"].quantile(0.75) <= 3.35
    td = tm[(tm["service_task"] == "vammaispalvelut")
            & ~tm["municipality_code"].isin(["072", "608"])]
    assert td["share_pct"].between(0.6, 4.2, inclusive="neither").all()
