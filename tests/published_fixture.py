"""A small set of published tables in the gate's format, for the publication modules'
tests until (and besides) the real gate's output: every mainland municipality, a few
tasks and quarters, suppressed and missing cells, every quality class.

Values are random (seeded) and the suppression is primary only: this is the *format*,
not a disclosure-safe table (the gate's own tests prove that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference, symbols
from seuranta.core.tables import write_csv

TASKS = ["iakkaat", "lastensuojelu", "perheoikeudelliset"]
QUARTERS = ["2023Q3", "2023Q4"]


def published_counts(quarter: str, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed + int(quarter[-1]))
    mun = reference.mainland_municipalities()
    rows, qrows = [], []
    for task in TASKS:
        base = np.maximum((mun["population_total_2022"] * rng.uniform(0.1, 0.3, len(mun))).astype(int), 10)
        clients = rng.poisson(base * (0.02 if task != "perheoikeudelliset" else 0.0005))
        quality = rng.choice(["comprehensive", "partial", "none", "tarkistettava"], len(mun),
                             p=[0.55, 0.2, 0.2, 0.05])
        for m, cc, b, n, ql in zip(mun["municipality_code"], mun["county_code"], base, clients, quality):
            small = 0 < n < 5
            share = 100 * n / b
            rows.append({"quarter": quarter, "municipality_code": m, "county_code": cc,
                         "service_task": task, "source": "ALL",
                         "clients": np.nan if small else n,
                         "clients_symbol": symbols.SUPPRESSED if small else "",
                         "population_base": b,
                         "population_base_symbol": "",
                         "share_pct": np.nan if small else round(share, 4),
                         "share_pct_symbol": symbols.SUPPRESSED if small else ""})
            qrows.append({"quarter": quarter, "municipality_code": m, "county_code": cc,
                          "service_task": task, "quality": ql})
    counts = pd.DataFrame(rows)
    counts["clients"] = counts["clients"].astype("Int64")
    return counts, pd.DataFrame(qrows)


def published_estimates(quarter: str) -> pd.DataFrame:
    rows = []
    for i, task in enumerate(TASKS):
        est = task != "perheoikeudelliset"
        rows.append({"quarter": quarter, "service_task": task, "age_group": "kaikki",
                     "estimate": 10000 + 1000 * i + int(quarter[-1]) * 100 if est else np.nan,
                     "estimate_symbol": "" if est else symbols.NOT_APPLICABLE,
                     "ci_low": 9000 + 1000 * i if est else np.nan,
                     "ci_low_symbol": "" if est else symbols.NOT_APPLICABLE,
                     "ci_high": 11500 + 1000 * i + int(quarter[-1]) * 100 if est else np.nan,
                     "ci_high_symbol": "" if est else symbols.NOT_APPLICABLE,
                     "share_pct": 5.25 + i if est else np.nan,
                     "share_pct_symbol": "" if est else symbols.NOT_APPLICABLE})
    return pd.DataFrame(rows)


def write_published(out_dir: Path, quarters=QUARTERS, seed: int = 1) -> Path:
    """OUT/<Q>/published/{counts,quality,estimates}.csv for each quarter; returns OUT."""
    for q in quarters:
        pdir = Path(out_dir) / q / "published"
        pdir.mkdir(parents=True, exist_ok=True)
        counts, quality = published_counts(q, seed)
        write_csv(counts, pdir / "counts.csv")
        write_csv(quality, pdir / "quality.csv")
        write_csv(published_estimates(q), pdir / "estimates.csv")
    return Path(out_dir)
