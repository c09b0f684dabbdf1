"""A memo of pure estimation results, keyed by content.

The statistics stage estimates every quarter of the series for each quarter it publishes,
and :mod:`seuranta.statistics.corrections` runs the estimates a second time without the
review round's decisions: most of those fits are on frames identical to fits already
made. An :class:`EstimationMemo`, created by the caller and passed explicitly (no module
cache, issue 24), returns the result of such a fit again instead of fitting it again.

The key is the content of everything the computation reads: the frame's columns, dtypes,
index and values (exact bytes, not a summary), and the caller's other arguments (model
covariates, estimation parameters, ...). A result is stored once and every lookup returns a
deep copy: callers add columns to the row dicts they get.

With worker processes (:func:`worker_pool`, given to :meth:`EstimationMemo.working`), the
caller hands the memo every computation it is about to ask for (:meth:`EstimationMemo.prefetch`):
those not stored yet are computed side by side in the workers, by the same functions on
the same content, so the results are the ones the caller would have computed itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    """The exact content of ``frame``: column names, dtypes, index and values. A range
    index is hashed as its range, an Arrow-backed text column as its Arrow buffers
    (:func:`_arrow_text`), every other column as the ``repr`` of its values: the same
    content always gives the same bytes, different content different ones (a range index
    and the same integers as a list are two contents here: a miss, never a wrong hit)."""
    h = hashlib.sha256()
    h.update(repr(list(frame.columns)).encode())
    index = frame.index
    h.update((f"range:{index!r}" if isinstance(index, pd.RangeIndex)
              else repr(list(index))).encode())
    for name in frame.columns:
        col = frame[name]
        h.update(f"\x1e{name!r}:{col.dtype}\x1f".encode())
        if col.dtype.kind in "biuf":
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
        elif not _arrow_text(h, col):
            h.update("\x1f".join(map(repr, col.tolist())).encode())
    return h.digest()


def _arrow_text(h, col: pd.Series) -> bool:
    """Hash an Arrow-backed text column (pandas' ``str``) into ``h`` by its buffers: which
    values are missing, each value's length in bytes (the offsets from the first) and the
    UTF-8 bytes of all values joined; False (nothing hashed) for any other column. The
    values' ``repr`` joined took 60 ms for the 92 000 rows of ``monthly`` (issue 24)."""
    import pyarrow as pa  # pandas' text columns are Arrow arrays: already imported

    if not isinstance(col.array, pd.arrays.ArrowStringArray):
        return False
    arr = pa.array(col.array)       # no copy (``__arrow_array__``)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type == pa.string():
        arr = arr.cast(pa.large_string())
    if arr.type != pa.large_string():
        return False
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset:arr.offset + len(arr) + 1]
    h.update(b"\x1darrow")
    h.update(np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool).tobytes())
    h.update((offsets - offsets[0]).tobytes())
    data = arr.buffers()[2]
    h.update(memoryview(data)[int(offsets[0]):int(offsets[-1])] if data is not None else b"")
    return True


def content_key(frame: pd.DataFrame | None, *frames: pd.DataFrame | None,
                **arguments: Any) -> str:
    """The key of a computation on ``frame`` (and ``frames``, in order; None for a frame
    that is absent) with ``arguments`` (plain values: names, lists, nested dicts of
    parameters), by content."""
    h = hashlib.sha256()
    for f in (frame, *frames):
        h.update(b"\x00none" if f is None else b"\x01" + _frame_bytes(f))
    h.update(json.dumps(arguments, sort_keys=True, default=repr).encode())
    return h.hexdigest()


class EstimationMemo:
    """Results of pure computations by :func:`content_key`: ``get(key, compute)`` returns a
    deep copy of the stored result, computing and storing it on a miss. ``hits`` and
    ``misses`` count the lookups (a computation :meth:`prefetch` made is a miss, the
    ``get`` that then finds it a hit)."""

    def __init__(self) -> None:
        self._results: dict[str, Any] = {}
        self._workers: cf.Executor | None = None
        self.hits = 0
        self.misses = 0

    @property
    def workers(self) -> cf.Executor | None:
        """The worker processes of :meth:`working`, or None."""
        return self._workers

    @contextlib.contextmanager
    def working(self, workers: cf.Executor | None) -> Iterator[EstimationMemo]:
        """This memo with ``workers`` (:func:`worker_pool`; None: none) for
        :meth:`prefetch` while the block runs."""
        before, self._workers = self._workers, workers
        try:
            yield self
        finally:
            self._workers = before

    def prefetch(self, jobs: Iterable[tuple[str, Callable[..., Any], tuple]]) -> None:
        """The results of ``jobs`` — (key, function, arguments): ``get(key, lambda:
        function(*arguments))`` follows — not stored yet, computed side by side in the
        workers and stored; nothing without workers (each ``get`` computes its own). A
        job whose worker died is left to its ``get``; an error of the function is raised
        here, the first in the order of ``jobs``."""
        if self._workers is None:
            return
        todo: dict[str, cf.Future] = {}
        for key, fn, args in jobs:
            if key not in self._results and key not in todo:
                todo[key] = self._workers.submit(fn, *args)
        for key, fut in todo.items():
            try:
                self._results[key] = fut.result()
            except cf.BrokenExecutor:
                continue
            self.misses += 1

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in self._results:
            self.hits += 1
        else:
            self.misses += 1
            self._results[key] = compute()
        return copy.deepcopy(self._results[key])


#: Environment variable: worker processes a run forks (the statistics' fits, the book's
#: county charts; ``1``: none; default: the core count).
JOBS_ENV = "SEURANTA_STAT_JOBS"


def forked_jobs(jobs: int | None = None) -> int:
    """How many processes share independent work (the one rule for every stage that forks):
    ``jobs``, else ``SEURANTA_STAT_JOBS``, else the core count; 1 where processes cannot be
    forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return jobs or int(os.environ.get(JOBS_ENV, "0") or 0) or os.cpu_count() or 1


@contextlib.contextmanager
def worker_pool(jobs: int | None = None) -> Iterator[cf.Executor | None]:
    """Worker processes for :meth:`EstimationMemo.prefetch` (``jobs``, default
    :func:`forked_jobs`), or None for one job or where processes cannot be forked.

    Enter it before the caller starts any thread: the workers are forked at once (a fork
    copies only the calling thread; no other thread can hold a lock the child needs),
    after the modules of the fits are imported, so that a worker imports nothing."""
    jobs = forked_jobs(jobs)
    if jobs <= 1:
        yield None
        return
    import scipy.optimize  # noqa: F401 - what the fits use, imported once before the fork
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401
    import statsmodels.discrete.discrete_model  # noqa: F401
    import statsmodels.genmod.families  # noqa: F401
    import statsmodels.genmod.generalized_linear_model  # noqa: F401
    import statsmodels.tools.numdiff  # noqa: F401

    with frozen_heap():
        pool = cf.ProcessPoolExecutor(max_workers=jobs,
                                      mp_context=multiprocessing.get_context("fork"))
        try:
            pool.submit(os.getpid).result()      # every worker forked now, not at first use
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """While the block runs, every object alive at its start (the imported modules:
    pandas, scipy, statsmodels, DuckDB, ...) is out of the cyclic garbage collector's
    sight (``gc.freeze``), in this process and in the workers forked inside it: the
    collections a run triggers then walk only what the run made (a quarter's main process
    spent 0.7–1.0 CPU-s in the collector at scale 1, about 0.5 after; issue 24). No
    collection first: after the imports it finds nothing (0 objects, 65 ms). Left again at
    the end (``gc.unfreeze``): the interpreter's last collections see everything (DuckDB's
    bindings report frozen objects at exit as leaks); a block inside one changes nothing."""
    import gc

    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
