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


def test_content_key_of_text_columns_by_their_arrow_buffers():
    """pandas' text columns are hashed by their Arrow buffers (memo._arrow_text): the same
    values give the same key whatever the slicing, chunking or index, and any difference
    of a value, of where one value ends and the next begins, or of a missing value gives
    another key."""
    from seuranta.statistics import memo as m

    def key(values, **kw):
        return content_key(pd.DataFrame({"t": pd.array(values, dtype="str")}, **kw))

    col = pd.Series(pd.array(["ab", "c"], dtype="str"))
    assert isinstance(col.array, pd.arrays.ArrowStringArray)
    assert m._arrow_text(m.hashlib.sha256(), col)          # the Arrow path is the one taken
    assert key(["ab", "c"]) == key(["ab", "c"])
    assert key(["ab", "c"]) != key(["a", "bc"])              # the same bytes, split elsewhere
    assert key(["ab", "c"]) != key(["ab", "d"])
    assert key(["ab", None]) != key(["ab", ""])              # missing is not empty
    assert key(["ab", None]) != key(["ab", "nan"])
    assert key(["ä", "c"]) != key(["a", "c"])
    long = pd.DataFrame({"t": pd.array([f"v{i}" for i in range(50)], dtype="str")})
    part = long.iloc[10:20].reset_index(drop=True)            # an Arrow slice: offset 10
    chunks = pd.concat([long.iloc[10:15], long.iloc[15:20]]).reset_index(drop=True)
    fresh = pd.DataFrame({"t": pd.array([f"v{i}" for i in range(10, 20)], dtype="str")})
    assert content_key(part) == content_key(chunks) == content_key(fresh)
    assert content_key(part) != content_key(long.iloc[11:21].reset_index(drop=True))
    assert content_key(long.iloc[10:20]) != content_key(part)  # the index is content too
    # a python-backed or object column keeps the values' repr
    obj = pd.DataFrame({"t": pd.Series(["ab", "c"], dtype=object)})
    assert not m._arrow_text(m.hashlib.sha256(), obj["t"])
    assert content_key(obj) != content_key(obj.assign(t=["a", "bc"]))


def test_frozen_heap_freezes_for_the_block_only():
    """memo.frozen_heap: the objects alive at the start are frozen (out of the collector's
    sight) while the block runs, garbage made inside is still collected, a block inside
    one leaves the outer freeze alone, and nothing is frozen after."""
    import gc
    import weakref

    from seuranta.statistics import memo as m

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    with m.frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None                 # a cycle made in the block is collected
        # Frozen objects that lose their last reference are still freed (and leave the
        # count), in this thread or in xdist's own, so the count may only fall a little;
        # a second freeze would add these 5000 objects, an unfreeze would empty it.
        made_inside = [Node() for _ in range(5000)]
        with m.frozen_heap():
            assert frozen - 1000 < gc.get_freeze_count() <= frozen
        assert frozen - 1000 < gc.get_freeze_count() <= frozen
        del made_inside
    assert gc.get_freeze_count() == 0
