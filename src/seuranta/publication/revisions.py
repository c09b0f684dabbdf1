"""Revisions ("Tarkentuneet luvut"): what a release changed in the figures of earlier quarters.

Takes two kept releases (``OUT/releases/<release id>/<Q>/published/*.csv`` with the
quarter's ``manifest.json`` beside ``published/``), the previous one and the new one.
Gives one row per published figure of a quarter published in both whose value or symbol
differs: the figure's keys, the old and the new value and symbol, and the reason, derived
from the two quarters' manifests:

* ``new_deliveries`` (*uusia tai täydentyneitä toimituksia*): a register file, the
  deliveries list or the extract's metadata changed;
* ``review_decision`` (*tarkastuskierroksen päätös*): the corrections file changed;
* ``population`` (*väestötiedot päivittyivät*): the population file changed;
* ``method_change`` (*menetelmämuutos*): a parameter section changed (named) or the code
  version changed;
* ``disclosure`` (*tietosuoja*): none of these, and the figure moved between shown and
  suppressed (the gate protects what earlier releases published).

Each quarter's own rows are compared (a table that also holds earlier quarters' rows, such
as ``municipal.csv``, is compared on the rows of its own quarter only), so every figure is
compared once. Rows added or removed count as changes (old or new symbol ``.``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import symbols
from seuranta.core.fmt import fi_number
from seuranta.core.quarters import Quarter
from seuranta.publication import published as pub
from seuranta.publication.opendata import dimensions, figures

REASON_FI = {
    "new_deliveries": "uusia tai täydentyneitä toimituksia",
    "review_decision": "tarkastuskierroksen päätös",
    "population": "väestötiedot päivittyivät",
    "method_change": "menetelmämuutos",
    "disclosure": "tietosuoja",
    "unknown": "muu syy",
}
#: Columns of the revisions table (keys that a table lacks are empty).
KEY_COLUMNS = ["service_task", "age_group", "method", "kind", "county_code",
               "municipality_code", "n_tasks", "task_a", "task_b"]
COLUMNS = (["release_id", "previous_release_id", "quarter", "table"] + KEY_COLUMNS
           + ["figure", "old_value", "old_symbol", "new_value", "new_symbol", "reason",
              "reason_fi"])
#: Relative tolerance under which two published numbers are the same (CSV round trip).
TOLERANCE = 1e-9


# --------------------------------------------------------------------------- releases

#: A quarter's folder name (``2023Q4``).
QUARTER_FOLDER = re.compile(r"\d{4}Q[1-4]")


def release_dirs(out_dir: Path) -> list[Path]:
    """The kept releases, oldest first (release ids sort in time)."""
    root = Path(out_dir) / pub.RELEASES
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root.is_dir() else []


def release_quarters(release: Path) -> list[str]:
    """The quarters a release published (its ``<Q>/published`` folders; not the
    extract-wide ``register/published``)."""
    return sorted(p.parent.name for p in Path(release).glob(f"*/{pub.PUBLISHED}")
                  if QUARTER_FOLDER.fullmatch(p.parent.name))


def quarter_manifest(release: Path, quarter: str) -> dict:
    """The quarter's manifest kept with the release ({} if the release kept none)."""
    for p in (Path(release) / quarter / "manifest.json",):
        if p.is_file():
            return json.loads(p.read_text(encoding="utf-8"))
    return {}


def _input_kind(path: str) -> str:
    name = Path(path).name
    if name.startswith("corrections") or path.startswith("feedback"):
        return "review_decision"
    if name.startswith("population"):
        return "population"
    if path.startswith("register") or name in ("deliveries.csv", "metadata.json"):
        return "new_deliveries"
    return ""


def reasons(old: dict, new: dict) -> list[tuple[str, str]]:
    """Why a quarter's figures may differ between two manifests: (code, Finnish text)."""
    out: list[tuple[str, str]] = []
    a, b = old.get("inputs") or {}, new.get("inputs") or {}
    kinds = {_input_kind(p) for p in set(a) | set(b) if a.get(p) != b.get(p)} - {""}
    for k in ("new_deliveries", "review_decision", "population"):
        if k in kinds:
            out.append((k, REASON_FI[k]))
    pa, pb = old.get("parameters") or {}, new.get("parameters") or {}
    if pa.get("sha256") != pb.get("sha256"):
        va, vb = pa.get("values") or {}, pb.get("values") or {}
        sections = sorted(k for k in set(va) | set(vb) if va.get(k) != vb.get(k))
        text = REASON_FI["method_change"] + (f" (parametrit: {', '.join(sections)})"
                                             if sections else " (parametrit)")
        out.append(("method_change", text))
    elif (old.get("code") or {}).get("commit") != (new.get("code") or {}).get("commit") or (
            (old.get("code") or {}).get("seuranta") != (new.get("code") or {}).get("seuranta")):
        out.append(("method_change", REASON_FI["method_change"] + " (ohjelmaversio)"))
    return out


# --------------------------------------------------------------------------- comparing

def _cells(df: pd.DataFrame, dims: list[str], figs: list[str]) -> pd.DataFrame:
    """Long form: one row per (key, figure) with value and symbol."""
    parts = []
    for f in figs:
        sym = df[f"{f}{pub.SYMBOL_SUFFIX}"] if f"{f}{pub.SYMBOL_SUFFIX}" in df.columns else ""
        parts.append(df[dims].assign(figure=f, value=pd.to_numeric(df[f], errors="coerce"),
                                     symbol=sym))
    out = pd.concat(parts, ignore_index=True)
    out["symbol"] = out["symbol"].fillna("").astype(str)
    for c in dims:
        out[c] = out[c].astype(str)
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    close = np.isclose(a, b, rtol=TOLERANCE, atol=0)
    return both_nan | close


def compare_tables(old: pd.DataFrame | None, new: pd.DataFrame | None, quarter: str
                   ) -> pd.DataFrame:
    """Changed figures of one table of one quarter (long form with old_* and new_*)."""
    if old is None and new is None:
        return pd.DataFrame()
    ref = new if new is not None else old
    frames = [f for f in (old, new) if f is not None]
    if "quarter" in ref.columns:
        frames = [f[f["quarter"].astype(str) == quarter] for f in frames]
        old = frames[0] if old is not None else None
        new = frames[-1] if new is not None else None
    dims = dimensions(ref)
    figs = [f for f in figures(ref) if all(f in x.columns for x in frames)]
    if not figs:
        return pd.DataFrame()
    empty = pd.DataFrame(columns=dims + ["figure", "value", "symbol"])
    a = _cells(old, dims, figs) if old is not None and len(old) else empty
    b = _cells(new, dims, figs) if new is not None and len(new) else empty
    m = a.merge(b, how="outer", on=dims + ["figure"], suffixes=("_old", "_new"), indicator=True)
    for side in ("old", "new"):   # a row that is not there: no value, "not available"
        gone = m["_merge"] == ("right_only" if side == "old" else "left_only")
        m.loc[gone, f"symbol_{side}"] = symbols.NOT_AVAILABLE
        m[f"symbol_{side}"] = m[f"symbol_{side}"].fillna("").astype(str)
    va = m["value_old"].to_numpy(float)
    vb = m["value_new"].to_numpy(float)
    changed = ~_same(va, vb) | (m["symbol_old"] != m["symbol_new"])
    m = m[changed].drop(columns="_merge").rename(columns={
        "value_old": "old_value", "symbol_old": "old_symbol",
        "value_new": "new_value", "symbol_new": "new_symbol"})
    # a suppressed figure never shows its number, old or new
    m.loc[m["old_symbol"] != "", "old_value"] = np.nan
    m.loc[m["new_symbol"] != "", "new_value"] = np.nan
    return m.reset_index(drop=True)


def revisions(previous: Path, new: Path, release_id: str | None = None,
              previous_id: str | None = None) -> pd.DataFrame:
    """The revisions table of release ``new`` against the release before it.

    ``previous`` and ``new`` are release folders, or ``OUT`` itself for the release being
    made (same layout: ``<Q>/published/`` and ``<Q>/manifest.json``); the ids default to
    the folder names."""
    previous, new = Path(previous), Path(new)
    rows = []
    for q in sorted(set(release_quarters(previous)) & set(release_quarters(new))):
        pa, pb = previous / q / pub.PUBLISHED, new / q / pub.PUBLISHED
        why = reasons(quarter_manifest(previous, q), quarter_manifest(new, q))
        for name in sorted(set(pub.table_names(pa)) | set(pub.table_names(pb))):
            d = compare_tables(pub.read(pa, name, required=False),
                               pub.read(pb, name, required=False), q)
            if d.empty:
                continue
            d.insert(0, "table", name)
            d["quarter"] = q
            if why:
                d["reason"] = ";".join(c for c, _ in why)
                d["reason_fi"] = "; ".join(t for _, t in why)
            else:
                moved = (d["old_symbol"] == symbols.SUPPRESSED) | (d["new_symbol"] == symbols.SUPPRESSED)
                d["reason"] = np.where(moved, "disclosure", "unknown")
                d["reason_fi"] = d["reason"].map(REASON_FI)
            rows.append(d)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    out["release_id"] = release_id or new.name
    out["previous_release_id"] = previous_id or previous.name
    for c in COLUMNS:
        if c not in out.columns:
            out[c] = ""
    out = out[COLUMNS]
    for c in KEY_COLUMNS:
        out[c] = out[c].fillna("").astype(str)
    return out.sort_values(["quarter", "table"] + KEY_COLUMNS + ["figure"],
                           kind="mergesort").reset_index(drop=True)


def newest_revisions(out_dir: Path) -> pd.DataFrame | None:
    """Revisions of the newest release against the one before it; None with < 2 releases."""
    rel = release_dirs(out_dir)
    return revisions(rel[-2], rel[-1]) if len(rel) >= 2 else None


def current_revisions(out_dir: Path, release_id: str) -> pd.DataFrame | None:
    """Revisions of the release being made (``OUT/<Q>/published/``, id ``release_id``)
    against the newest kept release before it; None when there is none."""
    earlier = [r for r in release_dirs(out_dir) if r.name < release_id]
    if not earlier:
        return None
    return revisions(earlier[-1], out_dir, release_id=release_id, previous_id=earlier[-1].name)


def summary_fi(rev: pd.DataFrame) -> str:
    """A sentence or two for the landing page and the downloads page (Finnish)."""
    if rev is None:
        return "Tämä on ensimmäinen julkaisu: aiempia lukuja ei ole tarkentunut."
    if rev.empty:
        return "Aiemmin julkaistut luvut eivät muuttuneet tässä julkaisussa."
    n = rev.groupby("quarter").size()
    parts = [f"{Quarter.parse(q).name_fi} {fi_number(k)}" for q, k in n.items()]
    why = sorted(set("; ".join(rev["reason_fi"]).split("; ")))
    return (f"Tässä julkaisussa tarkentui {fi_number(len(rev))} aiemmin julkaistua lukua "
            f"({', '.join(parts)}). Syyt: {', '.join(why)}.")
