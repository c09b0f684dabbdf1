"""The memo of estimation results (:mod:`seuranta.statistics.memo`) as the statistics stage
uses it: a hit gives what a fresh computation gives (and a copy the caller may change); a
changed frame or a changed parameter is a miss."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference
from seuranta.core.params import load_params
from seuranta.statistics import stage as stats
from seuranta.statistics.memo import EstimationMemo, content_key

QUARTER, TASK = "2023Q1", "vammaispalvelut"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A data folder with population.csv and one task's counts for every mainland
    municipality (two thirds of them comprehensive)."""
    folder = tmp_path_factory.mktemp("memo")
    pop = reference.reference_population()
    pop.to_csv(folder / "population.csv", index=False)
    bases = reference.base_population(pop)
    rows = bases[bases["service_task"] == TASK][["municipality_code", "population_base"]]
    rng = np.random.default_rng(5)
    rows = rows.assign(clients=rng.poisson(0.024 * rows["population_base"].to_numpy(float)))
    codes = sorted(rows["municipality_code"])
    return folder, rows.reset_index(drop=True), set(codes[::3]) ^ set(codes)


def _run(folder, params, rows, comp, memo=None):
    """One quarter × task through the stage's _estimate_rows: (rows, county rows,
    municipal predictions)."""
    ctx = stats._Context(folder, params, memo=memo)
    out = stats._estimate_rows(ctx, QUARTER, TASK, "kaikki",
                               stats._frame(ctx, QUARTER, rows, comp))
    return out, ctx.county_rows, ctx.predictions[(QUARTER, TASK)]


def _same(a, b) -> None:
    for x, y in zip(a[:2], b[:2]):
        pd.testing.assert_frame_equal(pd.DataFrame(x), pd.DataFrame(y))
    pd.testing.assert_frame_equal(a[2], b[2])


def _differ(a, b) -> bool:
    return not pd.DataFrame(a[0]).equals(pd.DataFrame(b[0]))


def test_hit_equals_fresh_and_is_a_copy(inputs):
    folder, rows, comp = inputs
    params = load_params()
    fresh = _run(folder, params, rows, comp)
    memo = EstimationMemo()
    first = _run(folder, params, rows, comp, memo)
    assert (memo.hits, memo.misses) == (0, 1)
    first[0][0]["estimate"] = -1.0           # callers change what they get ...
    first[1][0]["estimate"] = -1.0
    first[2]["predicted"] *= 0
    second = _run(folder, params, rows, comp, memo)
    assert (memo.hits, memo.misses) == (1, 1)
    _same(second, fresh)                      # ... and the memo's copy is unchanged
    assert second[0][0]["quarter"] == QUARTER and second[0][0]["service_task"] == TASK


def test_changed_frame_is_a_miss(inputs):
    folder, rows, comp = inputs
    params = load_params()
    memo = EstimationMemo()
    before = _run(folder, params, rows, comp, memo)
    more = rows.copy()
    i = more.index[more["municipality_code"].isin(comp)][0]
    more.loc[i, "clients"] += 40                      # one comprehensive count changed
    changed = _run(folder, params, more, comp, memo)
    assert (memo.hits, memo.misses) == (0, 2)
    _same(changed, _run(folder, params, more, comp))
    assert _differ(changed, before)
    # one municipality more or less among the comprehensive: also a miss
    fewer = _run(folder, params, rows, comp - {rows.loc[i, "municipality_code"]}, memo)
    assert (memo.hits, memo.misses) == (0, 3)
    assert _differ(fewer, before)


@pytest.mark.parametrize("section,key,value", [("estimate", "z", 2.576),
                                               ("estimate", "model_covariates", ["log_population"])])
def test_changed_parameter_is_a_miss(inputs, section, key, value):
    folder, rows, comp = inputs
    params = load_params()
    memo = EstimationMemo()
    before = _run(folder, params, rows, comp, memo)
    other = copy.deepcopy(dict(params))
    other[section] = {**other[section], key: value}
    changed = _run(folder, other, rows, comp, memo)
    assert (memo.hits, memo.misses) == (0, 2)
    _same(changed, _run(folder, other, rows, comp))
    assert _differ(changed, before)


def test_content_key_reads_every_value_and_type():
    f = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    k = content_key(f, covariates=["a"], params={"z": 1.96})
    assert k == content_key(f.copy(), covariates=["a"], params={"z": 1.96})
    assert k != content_key(f.assign(a=[1.0, 2.5]), covariates=["a"], params={"z": 1.96})
    assert k != content_key(f.assign(b=["x", "z"]), covariates=["a"], params={"z": 1.96})
    assert k != content_key(f.astype({"a": "float32"}), covariates=["a"], params={"z": 1.96})
    assert k != content_key(f[["b", "a"]], covariates=["a"], params={"z": 1.96})
    assert k != content_key(f, covariates=[], params={"z": 1.96})
    assert k != content_key(f, covariates=["a"], params={"z": 2.0})
