"""Disclosure control: primary and secondary suppression, derived shares, and the checker
that proves nothing small is shown or derivable."""

import pandas as pd
import pytest

from seuranta.statistics import disclosure as dc

S = ".."


def _counties():
    return pd.DataFrame({
        "county_code": ["A"] * 3 + ["B"] * 3 + ["C"] * 4 + ["D"] * 4 + ["E"] * 3,
        "clients": [3, 10, 12, 0, 7, 8, 2, 2, 9, 20, 1, 1, 30, 40, 3, 0, 0],
    })


def test_protect_by_county_totals():
    df = _counties()
    df["share_pct"] = df["clients"] / 10
    pub = dc.protect(df, ["clients"], row_groups="county_code", derived={"share_pct": "clients"})
    got = pub["clients"].tolist()
    assert got == [S, S, 12,        # A: 3 primary, 10 secondary (one hidden cell = total − rest)
                   0, 7, 8,         # B: nothing small, zero shown
                   S, S, 9, 20,     # C: two hidden summing to 4: (1,3), (2,2), (3,1) possible
                   S, S, S, 40,     # D: 1 + 1 = 2 would pin both to 1 → 30 hidden too
                   S, 0, 0]         # E: the total 3 is itself hidden where published
    assert pub["share_pct"].tolist()[:3] == [S, S, 1.2]
    dc.assert_no_disclosure(pub, df, ["clients"], row_groups="county_code",
                            derived={"share_pct": "clients"})


def test_checker_catches_primary_only_table():
    df = _counties()
    naive = df.copy()
    naive["clients"] = [dc.protect_value(x) for x in df["clients"]]
    with pytest.raises(AssertionError, match="reveals a suppressed cell"):
        dc.assert_no_disclosure(naive, df, ["clients"], row_groups="county_code")
    with pytest.raises(AssertionError, match="small count visible"):
        dc.assert_no_disclosure(df.astype(object), df, ["clients"])
    pub = dc.protect(df, ["clients"], row_groups="county_code")
    pub.loc[2, "clients"] = 13
    with pytest.raises(AssertionError, match="differs"):
        dc.assert_no_disclosure(pub, df, ["clients"], row_groups="county_code")


def test_two_way_table_with_row_and_column_totals():
    df = pd.DataFrame({"0-17": [2, 50, 30, 0], "18-64": [40, 3, 60, 10],
                       "65+": [70, 80, 90, 4]}, index=["m1", "m2", "m3", "m4"])
    cols = ["0-17", "18-64", "65+"]
    pub = dc.protect(df, cols, row_groups="all", col_groups=[cols])
    mask = dc.suppressed_mask(pub, cols)
    assert mask.to_numpy().sum() >= 6  # each of 3 primaries needs a partner in row and column
    assert not mask.loc["m4", "0-17"]  # zero stays visible
    dc.assert_no_disclosure(pub, df, cols, row_groups="all", col_groups=[cols])


def test_lp_audit_finds_joint_inference():
    # three small cells, each pair in a group with a large visible cell: every group has two
    # hidden cells with more than one split, but together x+y=3, y+z=3, x+z=4 pin x=2, y=1, z=2
    df = pd.DataFrame({"n": [2, 1, 2, 50, 60, 70]}, index=["x", "y", "z", "w1", "w2", "w3"])
    groups = [["x", "y", "w1"], ["y", "z", "w2"], ["x", "z", "w3"]]
    naive = df.astype(object)
    naive.loc[["x", "y", "z"], "n"] = S
    dc.assert_no_disclosure(naive, df, ["n"], row_groups=groups, lp_audit=False)
    with pytest.raises(AssertionError, match="pinned"):
        dc.assert_no_disclosure(naive, df, ["n"], row_groups=groups)
    pub = dc.protect(df, ["n"], row_groups=groups)
    dc.assert_no_disclosure(pub, df, ["n"], row_groups=groups)


def test_threshold_and_symbol_are_parameters():
    df = pd.DataFrame({"n": [5, 9, 10, 100]})
    pub = dc.protect(df, ["n"], min_count=10, symbol="x")
    assert pub["n"].tolist() == ["x", "x", 10, 100]
    assert dc.protect_value(4) == S and dc.protect_value(0) == 0 and dc.protect_value(5) == 5


# --------------------------------------------------------------------------- linked tables

def _linked_counties():
    """Two counties under a national total; county A has one small cell among big ones."""
    values = {"a1": 2, "a2": 40, "a3": 50, "b1": 30, "b2": 60, "c1": 1}
    groups = {"nat": ["a1", "a2", "a3", "b1", "b2", "c1"], "A": ["a1", "a2", "a3"],
              "B": ["b1", "b2"], "C": ["c1"]}
    return values, groups


def test_linked_county_total_suppressed_with_a_sibling():
    values, groups = _linked_counties()
    res = dc.protect_linked(values, groups, set(values), hierarchy={"nat": ["A", "B", "C"]})
    # C's total (1) is small: suppressed; national − A − B would give it, so a second
    # county total is suppressed too (not only more cells)
    assert "C" in res.dropped and len(res.dropped & {"A", "B"}) == 1
    assert {"a1", "c1"} <= res.hidden and "a2" in res.hidden  # a1 needs a partner in A
    cons = [([c for c in cells if c in res.hidden or c not in values],
             sum(values[c] for c in cells if c in res.hidden))
            for g, cells in groups.items() if g not in res.dropped]
    bounds = {c: (1, None) for c in res.hidden}
    bounds = {c: (1, float("inf")) for c in res.hidden}
    for c, (lo, hi) in dc.linked_ranges(cons, bounds).items():
        assert not dc._pinned(lo, hi), c


def test_linked_without_hierarchy_the_lp_finds_the_difference():
    values, groups = _linked_counties()
    naive = dc.protect_linked(values, groups, set(values), lp_audit=False)
    # bypassed: C dropped alone; national − A − B pins c1 = 1
    cons = [([c for c in cells if c in naive.hidden], sum(values[c] for c in cells
             if c in naive.hidden)) for g, cells in groups.items() if g not in naive.dropped]
    ranges = dc.linked_ranges([c for c in cons if c[0]],
                              {c: (1, float("inf")) for c in naive.hidden})
    assert ranges["c1"] == (1.0, 1.0)
    full = dc.protect_linked(values, groups, set(values))
    assert full.dropped - {"C"} or full.hidden - naive.hidden


def test_linked_earlier_release_is_a_constraint():
    # an earlier release published the total of {x, y, z} = 53 with x, y hidden (x = 3);
    # today y's group is {y, z} only; showing y would give x = 53 − 50 − y
    values = {"x": 3, "y": 6, "z": 44}
    groups = {"now": ["y", "z"]}
    fixed = [(["x", "y"], 9.0)]
    res = dc.protect_linked(values, groups, {"y", "z"}, fixed=fixed, forced={"y"})
    assert "y" in res.hidden and ("z" in res.hidden or "now" in res.dropped)
    bypass = dc.protect_linked(values, groups, {"y", "z"}, fixed=fixed)
    assert "y" not in bypass.hidden   # without the earlier release y would be shown


# --------------------------------------------------------------------------- the gate

def test_gate_published_tables(tmp_path):
    """The gate on small complete tables (the annex tests' fixture): no small count or its
    share shown, shares suppressed with their counts, totals equal to the exact sums,
    extremes chosen among shown cells only."""
    from test_annex import HAND, PARAMS, Q, make_tables

    from seuranta.publication import gate

    td = make_tables(tmp_path)
    out = gate.publish_quarter(Q, td, tmp_path / "published", PARAMS)
    assert {p.stem for p in (tmp_path / "published").glob("*.csv")} >= {
        "municipal", "totals", "estimates"}
    # the information-loss report is internal: its count of small cells per task is no
    # published figure
    assert not (tmp_path / "published" / "loss.csv").exists()
    assert (tmp_path / gate.INTERNAL / "loss.csv").is_file()
    m = out["municipal"]
    shown = m[m["clients_symbol"] == ""]
    assert not shown["clients"].between(1, 4).any()
    assert (m.loc[m["clients_symbol"] == S, "share_pct_symbol"] == S).all()
    assert m.loc[m["quality"] != "comprehensive", "clients_symbol"].eq(".").all()
    cell = m.set_index(["quarter", "service_task", "municipality_code"])
    for (q, mun, task), (qual, clients, _) in HAND.items():
        if qual == "comprehensive" and 1 <= clients <= 4:
            assert cell.loc[(q, task, mun), "clients_symbol"] == S
        if qual == "comprehensive" and clients == 0:
            assert cell.loc[(q, task, mun), "clients"] == 0   # zeros are shown
    exact = pd.read_csv(td / "series_counts.csv", dtype={"municipality_code": str})
    qual = pd.read_csv(td / "series_quality.csv", dtype={"municipality_code": str})
    e = exact[exact["source"] == "ALL"].merge(qual, on=["quarter", "municipality_code",
                                                        "service_task"])
    used = e[e["quality"] == "comprehensive"].groupby(["quarter", "service_task"])[
        "clients"].sum()
    tot = out["totals"]
    for r in tot[(tot["kind"] == "used") & (tot["clients_symbol"] == "")].itertuples():
        assert r.clients == used[(r.quarter, r.service_task)]
    ext = out["extremes"] if "extremes" in out else pd.DataFrame()
    for r in ext.itertuples():
        for code in (r.min_municipality_code, r.max_municipality_code):
            if code:
                assert cell.loc[(str(Q), r.service_task, code), "share_pct_symbol"] == ""


def test_quartiles_are_computed_over_shown_shares_only():
    """Five comprehensive municipalities, one with a suppressed share (2 clients). Over all
    five the median would *be* the hidden share (a reader who sorts the four shown ones
    sees that it lies between them and reads it off, × the public base = 2); the gate's
    quartiles use the four shown shares only, so they equal what a reader can compute
    anyway."""
    from seuranta.publication import gate

    shares = {"001": 1.0, "002": 2.0, "003": 2.2, "004": 3.0, "005": 4.0}
    mun = pd.DataFrame({
        "quarter": "2023Q4", "service_task": "t", "municipality_code": list(shares),
        "quality": "comprehensive", "share_pct": list(shares.values()),
        "share_pct_symbol": ["", "", S, "", ""]})
    quart = pd.DataFrame({"service_task": ["t"], "n": [5]})
    ext = gate._extremes(quart, mun, "2023Q4").iloc[0]
    shown = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert (ext["n"], ext["n_shown"]) == (5, 4)
    assert ext["median"] == shown.quantile(0.5) == 2.5            # (2 + 3) / 2, not 2.2
    assert (ext["q1"], ext["q3"]) == (shown.quantile(0.25), shown.quantile(0.75))
    # bypassed (all five): the median is exactly the hidden municipality's share
    assert pd.Series(list(shares.values())).quantile(0.5) == shares["003"]


def test_age_groups_of_a_revised_quarter_hide_a_small_difference(tmp_path):
    """Release 1 shows the all-task clients aged 0–17 of the comprehensive municipalities
    (100); release 2 re-publishes the quarter after a municipality with 3 such clients was
    added (103). Shown, 103 − 100 = 3 would be that municipality's small count: the gate
    suppresses it (and a second cell or the total, so that the all-ages sum does not give
    it back). Without the earlier release linked (the bypass) 103 is shown."""
    from test_annex import PARAMS, Q, make_tables

    from seuranta.publication import gate

    def tables(root, kids):
        td = make_tables(root)
        for name in ("estimates", "series_estimates"):
            e = pd.read_csv(td / f"{name}.csv")
            kids_rows = e[(e["service_task"] == "kaikki") & (e["age_group"] == "0-17")]
            e = pd.concat([e, kids_rows.assign(age_group="kaikki")], ignore_index=True)
            all_tasks = e["service_task"] == "kaikki"
            for ag, v in (("0-17", kids), ("18-64", 400), ("65+", 500), ("85+", 90),
                          ("kaikki", kids + 900)):
                e.loc[all_tasks & (e["age_group"] == ag), "clients_used"] = v
            e.to_csv(td / f"{name}.csv", index=False)
        return td

    first = gate.publish_quarter(Q, tables(tmp_path / "r1", 100), tmp_path / "p1", PARAMS)
    e1 = first["estimates"]
    kid1 = e1[(e1["service_task"] == "kaikki") & (e1["age_group"] == "0-17")
              & (e1["quarter"] == str(Q))].iloc[0]
    assert (kid1["clients_used"], kid1["clients_used_symbol"]) == (100, "")

    td2 = tables(tmp_path / "r2", 103)
    linked = gate.publish_quarter(Q, td2, tmp_path / "p2", PARAMS, priors=[tmp_path / "p1"])
    e = linked["estimates"]
    a = e[(e["service_task"] == "kaikki") & (e["quarter"] == str(Q))].set_index("age_group")
    assert a.loc["0-17", "clients_used_symbol"] == S
    # the all-ages total minus the shown parts must not give it back either
    parts = ["0-17", "18-64", "65+"]
    assert (a.loc[parts, "clients_used_symbol"] == S).sum() >= 2 or \
        a.loc["kaikki", "clients_used_symbol"] == S

    bypass = gate.publish_quarter(Q, td2, tmp_path / "p3", PARAMS)["estimates"]
    b = bypass[(bypass["service_task"] == "kaikki") & (bypass["quarter"] == str(Q))
               ].set_index("age_group")
    assert b.loc["0-17", "clients_used"] - kid1["clients_used"] == 3


# --------------------------------------------------------------------------- relation models

def _model(figures: dict, rows: list, latent=()) -> dc.RelationModel:
    """figures {name: value} (published, base 1000), rows [(terms, lo, hi)]."""
    M = dc.RelationModel()
    for k, v in figures.items():
        M.figure((k,), v, 0.0, 1000.0, pub=k not in latent)
    for terms, lo, hi in rows:
        M.add([((k,), c) for k, c in terms], lo, hi, tag="total")
    return M


def test_protection_interval_of_one_small_cell_by_hand():
    """a + b + c = 33 with a = 3: a alone hidden is 33 − 10 − 20 = 3. The cheapest second
    suppression is b (cost 1 + 10 < 1 + 20); then a = 13 − b lies in [1, 12] (b ≥ 1 as a
    suppressed count, ≤ 12 as a ≥ 1): it reaches 1 and min_count, and b is not pinned."""
    M = _model({"a": 3, "b": 10, "c": 20, "T": 33},
               [([("a", 1), ("b", 1), ("c", 1), ("T", -1)], 0, 0)])
    res = dc.protect_model(M, 5)
    assert res.hidden == {("a",), ("b",)} and res.primary == {("a",)}
    B = dc._Bounds(M, res.hidden)
    a = {("a",): 1.0}
    assert B.reach(a, 1, 1) and B.reach(a, 12, -1) and not B.reach(a, 13, -1)
    assert not B.reach(a, 0, 1)                      # a suppressed count is ≥ 1
    # the bypass: primary suppression only pins it
    B0 = dc._Bounds(M, {("a",)})
    assert not B0.reach(a, 2, 1) and not B0.reach(a, 4, -1)


def test_protection_interval_of_a_nested_difference_by_hand():
    """lastensuojelulaki W ≤ lastensuojelu P per municipality and in total, no cell small,
    but P1 − W1 = 10 − 8 = 2 is a count no table shows. Suppressing W1 (the cheaper term)
    leaves W1 = 33 − 25 = 8: W2 is suppressed too; then W1 + W2 = 33, W1 ≤ P1 = 10,
    W2 ≤ P2 = 30 give W1 ∈ [3, 10], so P1 − W1 ∈ [0, 7] reaches 1 and 5."""
    figs = {"P1": 10, "P2": 30, "PT": 40, "W1": 8, "W2": 25, "WT": 33}
    rows = [([("P1", 1), ("P2", 1), ("PT", -1)], 0, 0),
            ([("W1", 1), ("W2", 1), ("WT", -1)], 0, 0)]
    rows += [([(w, 1), (p, -1)], -dc.math.inf, 0) for w, p in
             (("W1", "P1"), ("W2", "P2"), ("WT", "PT"))]
    M = _model(figs, rows)
    M.add_nested([(("P1",), 1.0), (("W1",), -1.0)], "P1 − W1")
    res = dc.protect_model(M, 5)
    assert res.hidden == {("W1",), ("W2",)} and res.primary == set()
    B = dc._Bounds(M, res.hidden)
    w1 = {("W1",): 1.0}
    assert B.reach(w1, 3, 1) and not B.reach(w1, 2, 1)
    assert B.reach(w1, 10, -1) and not B.reach(w1, 11, -1)
    d = {("P1",): 1.0, ("W1",): -1.0}
    assert B.reach(d, 1, 1) and B.reach(d, 5, -1)


def test_requirements_by_hand():
    """What each kind of figure must reach (zeros shown; min_count 5)."""
    assert dc._requirements(3, "cell", 5) == [[(1.0, 1)], [(5.0, -1)]]
    assert dc._requirements(1, "cell", 5) == [[(5.0, -1)]]            # already 1
    assert dc._requirements(2, "total", 5) == [[(5.0, -1)]]           # ≥ k cells anyway
    assert dc._requirements(3, "nested", 5) == [[(1.0, 1)], [(5.0, -1)]]
    assert dc._requirements(40, "cell", 5) == [[(39, 1), (41, -1)]]   # not pinned
    assert dc._requirements(40, "latent", 5) == []


def _small_system(rng, n: int):
    """n unpublished figures in 0 … 6 under two random rows with coefficients −3 … 3 (an
    equality or a range of width 3 around their true values): (model, values, rows)."""
    x0 = rng.integers(0, 5, n).astype(float)
    M = dc.RelationModel()
    for i in range(n):
        M.figure((f"x{i}",), x0[i], 0.0, 6.0, pub=False)
    rows = []
    for _r in range(2):
        coef = rng.integers(-3, 4, n)
        s = float(coef @ x0)
        lo, hi = (s, s) if rng.random() < 0.5 else (s - 1, s + 2)
        rows.append((coef, lo, hi))
        M.add([((f"x{i}",), float(c)) for i, c in enumerate(coef) if c], lo, hi, tag="t")
    return M, x0, rows


def test_bounds_agree_with_enumeration():
    """Whole-valued reachability (LP, then the integer program when the LP's optimum is
    fractional) against every whole point of small systems with coefficients 1–3, where
    LP vertices are often fractional."""
    import itertools

    import numpy as np

    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(25):
        n = 4
        M, x0, rows = _small_system(rng, n)
        B = dc._Bounds(M, set(M.value))
        pts = [p for p in itertools.product(range(7), repeat=n)
               if all(lo <= np.dot(c, p) <= hi for c, lo, hi in rows)]
        w = rng.integers(-2, 3, n)
        terms = {(f"x{i}",): float(c) for i, c in enumerate(w) if c}
        if not terms:
            continue
        vals = [float(np.dot(w, p)) for p in pts]
        lo, hi = min(vals), max(vals)
        for goal in (lo - 1, lo, lo + 0.5, hi - 0.5, hi, hi + 1):
            assert B.reach(terms, goal, 1) == (lo <= goal), (terms, goal, lo)
            assert B.reach(terms, goal, -1) == (hi >= goal), (terms, goal, hi)
            checked += 2
    assert checked > 200


def test_bounds_of_single_figures_agree_with_enumeration_after_earlier_questions():
    """A whole-valued LP point found by an earlier question answers a later one without a
    solve (:meth:`_Bounds.reach`): every figure's questions, asked one after another of one
    :class:`_Bounds` (points pile up; fractional vertices are common with coefficients
    1–3), against every whole point of small systems; the points answer some of them."""
    import itertools

    import numpy as np

    rng = np.random.default_rng(5)
    checked = asked = solved = 0
    for _ in range(8):
        n = 4
        M, x0, rows = _small_system(rng, n)
        B = dc._Bounds(M, set(M.value))
        pts = np.array([p for p in itertools.product(range(7), repeat=n)
                        if all(lo <= np.dot(c, p) <= hi for c, lo, hi in rows)])
        for i in rng.permutation(n):
            for c in (1.0, -2.0):
                vals = c * pts[:, i]
                lo, hi = vals.min(), vals.max()
                for goal in (lo - 1, lo, hi, hi + 1):
                    for sense, want in ((1, lo <= goal), (-1, hi >= goal)):
                        now = c * x0[i]
                        if (sense == 1 and now <= goal) or (sense == -1 and now >= goal):
                            continue     # the true value answers it (no LP either way)
                        before = B.lp_solves
                        assert B.reach({(f"x{i}",): c}, goal, sense) == want, (i, c, goal)
                        asked += 1
                        solved += B.lp_solves > before
                        checked += 1
    assert checked > 80
    assert solved < asked, (solved, asked)   # earlier points answered some
