"""The backtests' fixed run: a small synthetic demo, one quarter, tables only.

Used by ``tests/backtests/test_backtests.py`` (compare) and ``scripts/update_backtests.py``
(regenerate the goldens). Everything that decides the numbers is fixed here: the demo's scale
and seed, the quarter and the project's ``parameters.yml``.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd

from seuranta import pipeline
from seuranta.core.params import load_params
from seuranta.demo import generator as demo

SCALE = 0.02
SEED = 20240101
QUARTER = "2023Q4"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
#: The run's folders whose tables are kept: the internal tables and the published ones.
KINDS = ("tables", "published")
#: Tables left out to keep the goldens small (< 2 MB): row-level rejects, monthly profiles and
#: the series of earlier quarters (the same code as this quarter's counts and quality).
SKIP = {"rejected", "monthly", "series_age_counts", "series_counts", "series_quality",
        "series_cwa_counts"}


def run(work: Path) -> Path:
    """Generate the demo into ``work/data`` and run the quarter into ``work/build``; returns
    the quarter's folder."""
    data, out = work / "data", work / "build"
    demo.generate(data, scale=SCALE, seed=SEED)
    return pipeline.run_quarter(QUARTER, data, out, load_params(), notebooks=False,
                                annex=False)


def read(path: Path) -> pd.DataFrame:
    """A table as text (every value as written, '' for empty), rows in a canonical order."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.sort_values(list(df.columns), kind="mergesort").reset_index(drop=True)


def canonical(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def tables(qdir: Path) -> dict[str, Path]:
    """``kind/name`` → CSV file of the run, for every kept table: the quarter's, and the
    extract-wide ones of ``OUT/register`` (row ledger, flags) as ``extract_<kind>/name``."""
    out = {}
    for kind in KINDS:
        for prefix, folder in (("", qdir), ("extract_", qdir.parent / "register")):
            for p in sorted((folder / kind).glob("*.csv")):
                if p.stem not in SKIP:
                    out[f"{prefix}{kind}/{p.stem}"] = p
    return out


def write_goldens(qdir: Path, golden_dir: Path = GOLDEN_DIR) -> list[Path]:
    """Replace the golden folder with the run's tables in canonical form."""
    if golden_dir.exists():
        shutil.rmtree(golden_dir)
    written = []
    for key, p in tables(qdir).items():
        target = golden_dir / f"{key}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(canonical(read(p)), encoding="utf-8")
        written.append(target)
    return written
