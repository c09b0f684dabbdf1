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


def published_municipal(quarter: str, seed: int = 1) -> pd.DataFrame:
    """``municipal.csv`` of one quarter in the gate's layout (H3's publication.gate)."""
    rng = np.random.default_rng(seed + int(quarter[-1]) + 10 * int(quarter[:4]))
    mun = reference.mainland_municipalities()
    rows = []
    for task in TASKS:
        base = np.maximum((mun["population_total_2022"] * rng.uniform(0.1, 0.3, len(mun))).astype(int), 10)
        clients = rng.poisson(base * (0.02 if task != "perheoikeudelliset" else 0.0005))
        quality = rng.choice(["comprehensive", "partial", "none", "tarkistettava"], len(mun),
                             p=[0.55, 0.2, 0.2, 0.05])
        for m, cc, b, n, ql in zip(mun["municipality_code"], mun["county_code"], base, clients, quality):
            shown = ql in ("comprehensive", "tarkistettava")
            sym = (symbols.SUPPRESSED if 0 < n < 5 else "") if shown else symbols.NOT_AVAILABLE
            rows.append({"quarter": quarter, "service_task": task, "county_code": cc,
                         "municipality_code": m, "quality": ql, "sources": "SHA",
                         "population_base": b,
                         "clients": np.nan if sym else n, "clients_symbol": sym,
                         "share_pct": np.nan if sym else round(100 * n / b, 1),
                         "share_pct_symbol": sym})
    out = pd.DataFrame(rows)
    out["clients"] = out["clients"].astype("Int64")
    return out


def _rule_row(kind: str, est, lo, hi, share, rlo=np.nan, rhi=np.nan, rlo_pct=np.nan,
              rhi_pct=np.nan) -> dict:
    """The figures of an estimate row under the publication rule, as the gate writes them:
    a point shows its estimate, interval and share (range columns ``x``), a range only its
    range and share range (the rest ``.``), none nothing (``.``)."""
    held, na = symbols.NOT_AVAILABLE, symbols.NOT_APPLICABLE
    point = kind == "point"
    ranged = kind == "range"
    row = {"publish_as": kind}
    for col, v in (("estimate_rounded", est), ("ci_low", lo), ("ci_high", hi),
                   ("share_pct", share)):
        row[col], row[f"{col}_symbol"] = (v, "") if point else (np.nan, held)
    for col, v in (("range_low", rlo), ("range_high", rhi), ("range_low_pct", rlo_pct),
                   ("range_high_pct", rhi_pct)):
        row[col], row[f"{col}_symbol"] = (v, "") if ranged else (np.nan, na if point else held)
    return row


def published_estimates(quarter: str) -> pd.DataFrame:
    """``estimates.csv`` (the published method's rows): a point, a range and none."""
    rows = []
    for i, task in enumerate(TASKS):
        kind = ("point", "range", "none")[i]
        e = 10000 + 1000 * i + int(quarter[-1]) * 100
        rows.append({"quarter": quarter, "service_task": task, "age_group": "kaikki",
                     "method": "ratio", "note": "", "rule_reason": "" if i == 0 else "clients<200",
                     **_rule_row(kind, e, 9000 + 1000 * i, e + 1500, round(5.2 + i, 1),
                                 9000 + 1000 * i, 14000 + 1000 * i, 4.6 + i, 7.2 + i)})
    return pd.DataFrame(rows)


def published_county_estimates(quarter: str) -> pd.DataFrame:
    """``county_estimates.csv``: every county for the estimated tasks, a few as ranges."""
    rng = np.random.default_rng(int(quarter[-1]))
    rows = []
    for task in TASKS[:2]:
        for i, c in enumerate(reference.counties()["county_code"]):
            est = int(rng.integers(200, 5000)) // 100 * 100
            share = float(rng.uniform(1, 6))
            kind = "range" if i % 7 == 3 else "point"
            rows.append({"quarter": quarter, "service_task": task, "county_code": c,
                         "method": "mallipohjainen arvio", "municipalities": 10,
                         "municipalities_comprehensive": 4, "comprehensive": 0,
                         "clients_observed": est // 3, "clients_observed_symbol": "",
                         **_rule_row(kind, est, est - 100, est + 100, round(share, 1),
                                     est // 1000 * 1000, (est // 1000 + 1) * 1000,
                                     round(share - 1, 1), round(share + 1, 1))})
    return pd.DataFrame(rows)


def write_published(out_dir: Path, quarters=QUARTERS, seed: int = 1) -> Path:
    """OUT/<Q>/published/{municipal,estimates,county_estimates}.csv for each quarter (each municipal table
    holds every quarter of the series up to Q, as the gate writes it); returns OUT."""
    for i, q in enumerate(quarters):
        pdir = Path(out_dir) / q / "published"
        pdir.mkdir(parents=True, exist_ok=True)
        mun = pd.concat([published_municipal(p, seed) for p in quarters[:i + 1]], ignore_index=True)
        write_csv(mun, pdir / "municipal.csv")
        write_csv(published_estimates(q), pdir / "estimates.csv")
        write_csv(published_county_estimates(q), pdir / "county_estimates.csv")
    return Path(out_dir)
