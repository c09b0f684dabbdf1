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
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    """The exact content of ``frame``: column names, dtypes, index and values."""
    h = hashlib.sha256()
    h.update(repr(list(frame.columns)).encode())
    h.update(repr(list(frame.index)).encode())
    for name in frame.columns:
        col = frame[name]
        h.update(f"\x1e{name!r}:{col.dtype}\x1f".encode())
        if col.dtype.kind in "biuf":
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
        else:
            h.update("\x1f".join(repr(v) for v in col.tolist()).encode())
    return h.digest()


def content_key(frame: pd.DataFrame, **arguments: Any) -> str:
    """The key of a computation on ``frame`` with ``arguments`` (plain values: names,
    lists, nested dicts of parameters), by content."""
    h = hashlib.sha256(_frame_bytes(frame))
    h.update(json.dumps(arguments, sort_keys=True, default=repr).encode())
    return h.hexdigest()


class EstimationMemo:
    """Results of pure computations by :func:`content_key`: ``get(key, compute)`` returns a
    deep copy of the stored result, computing and storing it on a miss. ``hits`` and
    ``misses`` count the lookups."""

    def __init__(self) -> None:
        self._results: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in self._results:
            self.hits += 1
        else:
            self.misses += 1
            self._results[key] = compute()
        return copy.deepcopy(self._results[key])
