"""The coverage study's independent generator (seuranta/simulate/registers.py): it shares no
code with the estimators, gives what the register stage gives, and each scenario has the
mechanism it names."""

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seuranta.core.quarters import Quarter
from seuranta.simulate import registers as sim

SRC = Path(__file__).resolve().parents[1] / "src" / "seuranta" / "simulate"


def test_the_generator_imports_nothing_of_the_estimators_or_the_demo():
    """Its own imports (the import-linter contract checks the indirect ones)."""
    imported = set()
    for f in SRC.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
    ours = {m for m in imported if m.startswith("seuranta")}
    assert ours and all(m.startswith("seuranta.core") for m in ours), ours
    contract = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'source_modules = ["seuranta.simulate"]' in contract


def test_gamma_shape_gives_the_sd_of_the_log():
    rng = np.random.default_rng(1)
    for sd in (0.35, 0.6):
        k = sim._gamma_shape(sd)
        assert np.log(rng.gamma(k, 1 / k, 200_000)).std() == pytest.approx(sd, rel=0.02)


@pytest.fixture(scope="module")
def registers():
    return {s: sim.draw_register(s, 7) for s in sim.SCENARIOS}


# one worker draws the module's registers (under loadgroup each worker drew them)
@pytest.mark.xdist_group("simulate_registers")
def test_register_tables_are_what_the_register_stage_gives(registers):
    r = registers["spread35"]
    c = r["counts"]
    assert set(c["source"]) == {"SHA", "ET", "ALL"}
    assert set(c["quarter"]) == set(sim.QUARTERS) and set(c["service_task"]) == set(sim.TASKS)
    n = c["municipality_code"].nunique()
    assert len(c) == 3 * n * len(sim.QUARTERS) * len(sim.TASKS)
    w = c.pivot_table(index=["quarter", "municipality_code", "service_task"], columns="source",
                      values="clients")
    assert (w["ALL"] == w["SHA"] + w["ET"]).all()
    a = c[c["source"] == "ALL"]
    assert np.allclose(a["share_pct"], 100 * a["clients"] / a["population_base"])
    t = r["truth"].merge(a, on=["quarter", "municipality_code", "service_task"])
    assert (t["clients"] <= t["true_clients"]).all()
    d = r["deliveries"]
    assert list(d.columns) == ["municipality_code", "service_task", "source", "covered_from",
                               "covered_to"]
    assert d["covered_to"].isna().all() and (d["source"] == "SHA").all()


def _joined_last(r):
    """Municipality × task pairs declared for the whole last quarter."""
    q = Quarter.parse(sim.QUARTERS[-1])
    d = r["deliveries"]
    d = d[d["covered_from"] <= q.start]
    return set(zip(d["municipality_code"], d["service_task"]))


def _base_share(r, pairs):
    a = r["counts"][(r["counts"]["source"] == "ALL") & (r["counts"]["quarter"] == sim.QUARTERS[-1])]
    inside = [k in pairs for k in zip(a["municipality_code"], a["service_task"])]
    return a.loc[inside, "population_base"].sum() / a["population_base"].sum()


@pytest.mark.xdist_group("simulate_registers")
def test_size_scenario_joins_the_largest_first(registers):
    r = registers["size"]
    joined = _joined_last(r)
    assert 0.7 < _base_share(r, joined) < 0.92
    a = r["counts"][(r["counts"]["source"] == "ALL") & (r["counts"]["service_task"] == "iakkaat")
                    & (r["counts"]["quarter"] == sim.QUARTERS[-1])]
    inside = np.array([(m, "iakkaat") in joined for m in a["municipality_code"]])
    base = a["population_base"].to_numpy()
    assert np.median(base[inside]) > 4 * np.median(base[~inside])


@pytest.mark.xdist_group("simulate_registers")
def test_county_scenario_joins_whole_counties(registers):
    r = registers["county"]
    first = {m for m, _ in _joined_last(r)}
    c = r["counts"][["municipality_code", "county_code"]].drop_duplicates()
    share = c.assign(j=c["municipality_code"].isin(first)).groupby("county_code")["j"].mean()
    assert ((share == 0) | (share == 1)).mean() > 0.85       # (a pair may join a quarter late)
    assert 0 < (share == 1).sum() < len(share)


@pytest.mark.xdist_group("simulate_registers")
def test_under_delivery_and_true_zeros(registers):
    q = sim.QUARTERS[-1]
    for s in ("under", "spread35"):
        r = registers[s]
        t = r["truth"][r["truth"]["quarter"] == q].merge(
            r["counts"][(r["counts"]["source"] == "ALL") & (r["counts"]["quarter"] == q)])
        joined = _joined_last(r)
        full = np.array([k in joined for k in zip(t["municipality_code"], t["service_task"])])
        t = t[full & (t["true_clients"] >= 50)]
        short = (t["clients"] < 0.5 * t["true_clients"]).mean()
        assert (0.02 < short < 0.09) if s == "under" else short == 0
    z = registers["zeros"]["truth"]
    small = z.merge(registers["zeros"]["population"].groupby("municipality_code")["population"]
                    .sum().reset_index())
    zero = small[(small["population"] < sim.ZERO_MAX_POPULATION) & small["service_task"].isin(
        sim.ZERO_TASKS) & (small["quarter"] == q)]
    assert 0.2 < (zero["true_clients"] == 0).mean() < 0.5


def test_share_scenario_selects_on_the_share():
    """Joined municipalities have higher shares than the rest beyond what random joining
    gives (over a few registers: the mean log share ratio joined / not joined)."""
    def gap(s, seed):
        r = sim.draw_register(s, seed)
        q = sim.QUARTERS[-1]
        t = r["truth"][r["truth"]["quarter"] == q].merge(
            r["counts"][(r["counts"]["source"] == "ALL") & (r["counts"]["quarter"] == q)])
        t = t[t["true_clients"] > 0]
        joined = _joined_last(r)
        j = np.array([k in joined for k in zip(t["municipality_code"], t["service_task"])])
        ls = np.log(t["true_clients"] / t["population_base"])
        ls = ls - ls.groupby(t["service_task"]).transform("mean")
        return ls[j].mean() - ls[~j].mean()
    share = np.mean([gap("share", k) for k in range(3)])
    rand = np.mean([gap("spread35", k) for k in range(3)])
    assert share > rand + 0.1
    assert math.isfinite(share)


def test_draws_are_reproducible():
    a, b = sim.draw_register("under", 3), sim.draw_register("under", 3)
    pd.testing.assert_frame_equal(a["counts"], b["counts"])
    assert not sim.draw_register("under", 4)["counts"].equals(a["counts"])
