"""Every table of one quarter: the register stage's cut, the statistics stage and the
effect of the review round's corrections (what ``tables/`` of a quarter holds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seuranta.core.quarters import Quarter, quarter_range
from seuranta.register import stage as register
from seuranta.statistics import corrections
from seuranta.statistics import stage as stats
from seuranta.statistics.memo import EstimationMemo


def quarter_tables(quarter: Quarter, data_dir: Path, params: dict, encoding: str = "utf-8",
                   register_tables: dict[str, pd.DataFrame] | None = None,
                   memo: EstimationMemo | None = None) -> dict[str, pd.DataFrame]:
    """Register stage + statistics stage for one quarter: every table of tables/.

    ``memo``: estimation results by content (:mod:`seuranta.statistics.memo`), shared by
    the run with and the run without the review round's decisions and, when the caller
    passes one, by the quarters of a publication; a new one when None."""
    memo = EstimationMemo() if memo is None else memo
    if register_tables is None:
        quarters = quarter_range(Quarter.parse(params["publication"]["first_quarter"]), quarter)
        register_tables = register.run_register_stage(Path(data_dir), quarters, params,
                                                      encoding=encoding)
    tables = register.tables_for_quarter(register_tables, quarter)
    tables.update(stats.run_statistics_stage(tables, Path(data_dir), params, memo=memo))
    # review-round decisions: each one listed with its effect on the estimates
    tables.update(corrections.corrections_tables(quarter, Path(data_dir), params,
                                                 register_tables=register_tables,
                                                 corrected=tables, memo=memo))
    return tables
