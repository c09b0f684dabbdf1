"""The statistics' worker processes and the reuse of the quality screen
(:mod:`seuranta.statistics.memo`): fits computed side by side in forked workers are the
ones the caller computes itself, and are found by its lookups; the screen of the series
(everything of the quality classification before the review round's decisions) is reused
only on the same content of every input it reads."""

from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seuranta.core import reference
from seuranta.core.params import load_params
from seuranta.core.quarters import Quarter
from seuranta.statistics import quality as ql
from seuranta.statistics import stage as stats
from seuranta.statistics.memo import EstimationMemo, worker_pool

P = {**ql.DEFAULTS, "model_check_min_rows": 20}
COVS = ["log_population"]


@pytest.fixture(scope="module")
def pool():
    with worker_pool(2) as workers:
        assert workers is not None            # Linux: processes can be forked
        yield workers


def test_prefetch_computes_in_the_workers_and_get_finds_it(pool):
    """A prefetched job runs in a worker (another process id) and the get that follows
    returns that result (a hit, nothing computed again); without workers prefetch does
    nothing and the get computes in this process."""
    memo = EstimationMemo()
    with memo.working(pool):
        memo.prefetch([("a", os.getpid, ()), ("a", os.getpid, ())])   # one key, once
        assert (memo.hits, memo.misses) == (0, 1)
        pid = memo.get("a", lambda: pytest.fail("computed again"))
    assert pid != os.getpid()
    assert (memo.hits, memo.misses) == (1, 1)
    plain = EstimationMemo()
    plain.prefetch([("a", os.getpid, ())])
    assert plain.get("a", os.getpid) == os.getpid()
    assert (plain.hits, plain.misses) == (0, 1)


def test_prefetch_raises_the_first_error_in_order(pool):
    memo = EstimationMemo()
    with memo.working(pool), pytest.raises(ValueError, match="invalid literal"):
        memo.prefetch([("ok", int, ("1",)), ("bad", int, ("x1",)), ("worse", int, ("y",))])


def _quarter(seed: int, n: int = 48, low: tuple[str, ...] = ("007", "019")):
    """Two quarters × two tasks of n municipalities in four counties (shares about 2 %,
    log population 8 … 12), every one declaring full coverage; ``low`` deliver a quarter
    of their clients (the model check and the comparison both find them low)."""
    rng = np.random.default_rng(seed)
    codes = [f"{i:03d}" for i in range(1, n + 1)]
    lp = np.linspace(8, 12, n)
    rows = []
    for q in ("2023Q1", "2023Q2"):
        for task in ("vammaispalvelut", "lastensuojelu"):
            share = 0.02 * np.exp(0.1 * (lp - 10) + rng.normal(0, 0.1, n))
            clients = np.round(share * 20000 * np.array([0.25 if c in low else 1.0
                                                         for c in codes]))
            for c, k in zip(codes, clients):
                for s, v in (("SHA", k), ("ET", 0), ("ALL", k)):
                    rows.append({"quarter": q, "municipality_code": c,
                                 "county_code": f"{int(c) % 4:02d}", "service_task": task,
                                 "source": s, "clients": int(v), "population_base": 20000,
                                 "share_pct": v / 200})
    deliveries = pd.DataFrame([{"municipality_code": c, "service_task": t, "source": "SHA",
                                "covered_from": dt.date(2020, 1, 1), "covered_to": None}
                               for c in codes for t in ("vammaispalvelut", "lastensuojelu")])
    counts = pd.DataFrame(rows)
    first = counts[(counts["quarter"] == "2023Q1") & (counts["source"] == "ALL")
                   & (counts["service_task"] == "vammaispalvelut")]
    # a covariate that explains the first quarter's low counts (their own log share)
    cov = pd.DataFrame({"municipality_code": codes, "log_population": lp, "size_class": "x",
                        "own_share": np.log(first["clients"].to_numpy(float) + 0.5)})
    return counts, deliveries, cov


def test_model_checks_in_the_workers_give_the_same_screen(pool):
    counts, deliveries, cov = _quarter(1)
    alone = ql.screen(counts, deliveries, None, cov, P, COVS)
    side_by_side = ql.screen(counts, deliveries, None, cov, P, COVS, workers=pool)
    pd.testing.assert_frame_equal(side_by_side, alone)
    caught = {c for c, cc in zip(alone["municipality_code"], alone["codes"])
              if "share_low_model" in cc}
    assert caught == {"007", "019"}                         # the checks did run


def _changed(counts, deliveries, cov):
    """Each input of the screen changed in a way that changes its result."""
    c2 = counts.copy()
    c2.loc[(c2["municipality_code"] == "011") & (c2["source"] != "ET"), "clients"] //= 4
    monthly = pd.DataFrame([{"quarter": "2023Q1", "municipality_code": "005",
                             "service_task": "vammaispalvelut", "source": "ALL", "month": m,
                             "clients": n}
                            for m, n in zip(Quarter.parse("2023Q1").months, (10, 100, 200))])
    return {
        "counts": dict(series=c2),
        "deliveries": dict(deliveries=deliveries[deliveries["municipality_code"] != "003"]),
        "monthly": dict(monthly=monthly),
        "covariates": dict(covariates=cov.assign(size_class="y")),
        "quality parameters": dict(quality_params={**P, "model_check_fdr": 1e-12}),
        "model covariates": dict(model_covariates=["own_share"]),
    }


@pytest.mark.parametrize("what", ["counts", "deliveries", "monthly", "covariates",
                                  "quality parameters", "model covariates"])
def test_the_screen_is_reused_only_on_the_same_inputs(what):
    """The run with and the run without the review round's decisions share one screen;
    any input of the screen changed is a miss whose result is that of a fresh screen (a key
    that left the input out would return the first screen: different rows)."""
    counts, deliveries, cov = _quarter(2)
    args = dict(series=counts, deliveries=deliveries, monthly=None, covariates=cov,
                quality_params=P, model_covariates=COVS)
    memo = EstimationMemo()
    first = stats.screened_series(memo, **args)
    again = stats.screened_series(memo, **args)
    assert (memo.hits, memo.misses) == (1, 1)
    pd.testing.assert_frame_equal(again, first)
    other = {**args, **_changed(counts, deliveries, cov)[what]}
    got = stats.screened_series(memo, **other)
    assert (memo.hits, memo.misses) == (1, 2)
    fresh = stats.screened_series(None, **other)
    pd.testing.assert_frame_equal(got, fresh)
    assert not got.equals(first)


def test_estimates_prefetched_in_the_workers_are_the_ones_made_here(pool, tmp_path):
    """Two frames of one quarter × task through the stage with the memo's workers: both
    fits made by the prefetch in the workers and found by the stage's lookups (two
    misses, two hits), with exactly the rows, county rows and predictions made here."""
    pop = reference.reference_population()
    pop.to_csv(tmp_path / "population.csv", index=False)
    bases = reference.base_population(pop)
    task = "vammaispalvelut"
    rows = bases[bases["service_task"] == task][["municipality_code", "population_base"]]
    rng = np.random.default_rng(5)
    rows = rows.assign(clients=rng.poisson(0.024 * rows["population_base"].to_numpy(float)))
    codes = sorted(rows["municipality_code"])
    params = load_params()

    def run(memo):
        ctx = stats._Context(tmp_path, params, memo=memo)
        frames = [("2023Q1", task, "kaikki", stats._frame(ctx, "2023Q1", rows, set(c)))
                  for c in (codes[::2], codes[::3])]
        return stats._rows_of(ctx, frames), ctx.county_rows, ctx.predictions

    here = run(None)
    memo = EstimationMemo()
    with memo.working(pool):
        there = run(memo)
    assert (memo.hits, memo.misses) == (2, 2)
    for a, b in zip(there[:2], here[:2]):
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
    pd.testing.assert_frame_equal(there[2][("2023Q1", task)], here[2][("2023Q1", task)],
                                  check_exact=True)


def test_work_aside_runs_in_a_worker_only_with_workers(pool):
    """The calibration made beside the sensitivity fits (stage._aside): in a worker with
    the memo's workers, here without (or without a memo)."""
    memo = EstimationMemo()
    ctx = SimpleNamespace(memo=memo)
    with memo.working(pool):
        assert stats._aside(ctx, os.getpid)() != os.getpid()
    assert stats._aside(ctx, os.getpid)() == os.getpid()
    assert stats._aside(SimpleNamespace(memo=None), os.getpid)() == os.getpid()
