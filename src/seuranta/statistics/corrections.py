"""The effect of the review round's decisions: each quarter's estimates with and without
them (``corrections_effect``) and each decision with the quality class before and after
(``corrections_decisions``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from seuranta.core import reference
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.inputs.corrections import CORRECTIONS_FILE, DECISIONS, KEY, quarter_corrections
from seuranta.register import stage as register
from seuranta.statistics import stage as stats
from seuranta.statistics.memo import EstimationMemo


def _without_corrections(data_dir: Path, tmp: Path) -> Path:
    """A view of the data folder without corrections.csv (symbolic links, no copies)."""
    view = tmp / "data"
    view.mkdir()
    for p in Path(data_dir).iterdir():
        if p.name == CORRECTIONS_FILE:
            continue
        try:
            (view / p.name).symlink_to(p.resolve(), target_is_directory=p.is_dir())
        except OSError:  # no symlinks (some file systems): copy
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, view / p.name)
    return view


def corrections_tables(quarter: Quarter | str, data_dir: Path, params: dict,
                       register_tables: dict[str, pd.DataFrame] | None = None,
                       corrected: dict[str, pd.DataFrame] | None = None,
                       memo: EstimationMemo | None = None) -> dict[str, pd.DataFrame]:
    """``corrections_effect`` and ``corrections_decisions`` tables of a quarter.

    ``corrected`` = the quarter's tables with the corrections applied (as from
    ``statistics.quarter.quarter_tables``); ``register_tables`` = the register stage's tables (all
    quarters, or already cut to this quarter). Both are computed when not given. The
    quality classes and the quarter's estimates (all that the two tables compare) are made
    a second time on a view of the data folder without corrections.csv only when the
    quarter has decisions (:func:`seuranta.statistics.stage.quality_and_estimates`).
    ``memo``: estimation results by content shared with the corrected run (a fit on a frame
    the decisions did not change is not made again).
    """
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    data_dir = Path(data_dir)
    if register_tables is None:
        quarters = quarter_range(Quarter.parse(params["publication"]["first_quarter"]),
                                          quarter)
        register_tables = register.run_register_stage(data_dir, quarters, params)
    base = register.tables_for_quarter(register_tables, quarter)
    if corrected is None:
        corrected = {**base, **stats.run_statistics_stage(base, data_dir, params, memo=memo)}
    decisions = quarter_corrections(quarter, data_dir)
    if len(decisions):
        with tempfile.TemporaryDirectory(prefix="seuranta-nocorr-") as tmp:
            view = _without_corrections(data_dir, Path(tmp))
            before = stats.quality_and_estimates(
                base, view, params, memo=memo, factors=stats.factors_of(corrected["estimates"]))
    else:
        before = corrected
    return {"corrections_effect": _effect(quarter, before["estimates"], corrected["estimates"],
                                          decisions),
            "corrections_decisions": _decisions(quarter, before.get("quality"),
                                                corrected.get("quality"), decisions)}


def corrections_effect(quarter: Quarter | str, data_dir: Path, params: dict,
                       **kwargs) -> pd.DataFrame:
    """Estimate per task with and without the review round's corrections (before/after)."""
    return corrections_tables(quarter, data_dir, params, **kwargs)["corrections_effect"]


EFFECT_VALUES = ["municipalities_used", "clients_used", "population_used", "share_pct",
                 "estimate", "ci_low", "ci_high"]


def _effect(quarter: Quarter, before: pd.DataFrame, after: pd.DataFrame,
            decisions: pd.DataFrame) -> pd.DataFrame:
    keys = ["service_task"] + [c for c in ("age_group", "method") if c in after.columns]
    vals = [c for c in EFFECT_VALUES if c in after.columns and c in before.columns]
    b = before[keys + vals].copy()
    a = after[keys + vals].copy()
    for d in (a, b):
        for c in keys:
            d[c] = d[c].astype("string")
        for c in vals:
            d[c] = pd.to_numeric(d[c], errors="coerce")
    m = b.merge(a, on=keys, how="outer", suffixes=("_before", "_after"))
    n = decisions.groupby(["service_task", "decision"]).size().unstack(fill_value=0)
    for d in DECISIONS:
        col = n[d] if d in n.columns else pd.Series(dtype="int64")
        m[f"n_{d}"] = m["service_task"].map(col).fillna(0).astype("int64")
    if "age_group" in keys:  # decisions are per task: count them on the task rows only
        other = m["age_group"] != "kaikki"
        for d in DECISIONS:
            m.loc[other, f"n_{d}"] = 0
    m["estimate_change"] = m["estimate_after"] - m["estimate_before"]
    m["estimate_change_pct"] = 100 * m["estimate_change"] / m["estimate_before"]
    m.insert(0, "quarter", str(quarter))
    order = (["quarter"] + keys + [f"n_{d}" for d in DECISIONS]
             + [f"{v}_{s}" for v in vals for s in ("before", "after")]
             + ["estimate_change", "estimate_change_pct"])
    m = m[order]
    for c in m.columns:
        if m[c].dtype.kind == "f":
            m[c] = m[c].round(4 if c.startswith("share_pct") else 6)
    return m.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _decisions(quarter: Quarter, before: pd.DataFrame | None, after: pd.DataFrame | None,
               decisions: pd.DataFrame) -> pd.DataFrame:
    # the free comment is for THL only: it is not carried into the published table
    cols = ["quarter", "municipality_code", "name_fi", "county_code", "service_task",
            "decision", "reason", "quality_before", "reasons_before",
            "quality_after", "reasons_after", "imported_on"]
    d = decisions.copy()
    names = reference.municipalities().set_index("municipality_code")
    d["name_fi"] = d["municipality_code"].map(names["name_fi"]).fillna("")
    d["county_code"] = d["municipality_code"].map(names["county_code"]).fillna("")
    for label, q in (("before", before), ("after", after)):
        if q is None or not len(q):
            d[f"quality_{label}"] = ""
            d[f"reasons_{label}"] = ""
            continue
        q = q.astype({"municipality_code": "string", "service_task": "string"})
        q = q.set_index(["municipality_code", "service_task"])
        idx = pd.MultiIndex.from_arrays([d["municipality_code"], d["service_task"]])
        d[f"quality_{label}"] = q["quality"].reindex(idx).astype("string").fillna("").to_numpy()
        r = q["reasons"] if "reasons" in q.columns else pd.Series("", index=q.index)
        d[f"reasons_{label}"] = r.reindex(idx).astype("string").fillna("").to_numpy()
    d["quarter"] = str(quarter)
    return (d.reindex(columns=cols).astype("string").fillna("")
            .sort_values(KEY, kind="mergesort").reset_index(drop=True))

