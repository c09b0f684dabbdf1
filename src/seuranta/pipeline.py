"""The whole run of one quarter, the publication of every quarter, and verification.

``run_quarter`` chains the stages (register → statistics → notebooks → annexes →
manifest) into a temporary folder beside ``OUT/<quarter>`` and swaps it in only when
everything is written, so an interrupted or failed run leaves the previous publication as
it was. ``verify`` re-runs the tables of a quarter from its manifest into a temporary
folder and compares them, table by table, with the published ones.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from seuranta.core.params import as_params
from seuranta.core.provenance import (
    compare_tables,
    dump_manifest,
    input_hashes,
    load_manifest,
    manifest_params,
    provenance,
    report_inputs,
    table_hashes,
)
from seuranta.core.quarters import Quarter
from seuranta.core.tables import atomic_swap, write_csv
from seuranta.costs import model as costs
from seuranta.demo import generator as demo
from seuranta.inputs.datafolder import (
    check_quarter,
    extract_date,
    is_synthetic,
    publication_quarters,
)
from seuranta.publication import annex as annex_mod
from seuranta.publication import book, bookfmt, gate, releases
from seuranta.publication import notebooks as notebooks_mod
from seuranta.register import stage as register
from seuranta.statistics.quarter import quarter_tables

log = logging.getLogger(__name__)


def write_tables(tables: dict[str, pd.DataFrame], tables_dir: Path) -> None:
    """Every table as ``<name>.csv``, except the register stage's internal intermediates."""
    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, df in sorted(tables.items()):
        if name not in register.INTERNAL_TABLES:
            write_csv(df, tables_dir / f"{name}.csv")


def write_manifest(qdir: Path, quarter: Quarter, data_dir: Path, params: dict,
                   encoding: str) -> dict:
    manifest = {
        "quarter": str(quarter),
        "data_dir": str(Path(data_dir).resolve()),
        "encoding": encoding,
        "synthetic": is_synthetic(data_dir),
        "inputs": input_hashes(data_dir),
        **provenance(params),
        "tables": table_hashes(qdir / "tables"),
    }
    dump_manifest(qdir / "manifest.json", manifest)
    return manifest


# --------------------------------------------------------------------------- running

def clean_stale(out_dir: Path) -> None:
    """Remove temporary folders that an interrupted run left behind."""
    for p in Path(out_dir).glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in Path(out_dir).glob(".old-*"):
        shutil.rmtree(p, ignore_errors=True)


def run_quarter(quarter: Quarter | str, data_dir: Path, out_dir: Path, params: Mapping,
                encoding: str = "utf-8", notebooks: bool = True, annex: bool = True,
                register_tables: dict[str, pd.DataFrame] | None = None,
                release_id: str | None = None) -> Path:
    """Run one quarter into OUT/<quarter>/ atomically; returns that folder.

    ``params``: the run's parameters (``core.params.load_params``), loaded once by the
    caller. ``release_id``: the release this run is part of (its earlier copy, if kept, is
    not a prior publication of itself)."""
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    params = as_params(params)
    bookfmt.use_params(params)   # the run's parameters for the publication helpers
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    check_quarter(quarter, data_dir, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / str(quarter)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{quarter}-", dir=out_dir))
    try:
        tables = quarter_tables(quarter, data_dir, params, encoding, register_tables)
        write_tables(tables, tmp / "tables")
        # the disclosure gate: the only source of published numbers (OUT/<Q>/published/)
        gate.publish_quarter(quarter, tmp / "tables", tmp / gate.PUBLISHED, params,
                             priors=gate.prior_dirs(out_dir, str(quarter), release_id))
        synthetic = is_synthetic(data_dir)
        if notebooks:
            notebooks_mod.execute_notebooks(str(quarter), tmp / "tables", tmp / "notebooks", synthetic,
                                            params)
        if annex:
            annex_mod.write_annexes(quarter, tmp / "tables", tmp / "annex", synthetic, params)
        write_manifest(tmp, quarter, data_dir, params, encoding)
        atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def publish(data_dir: Path, out_dir: Path, params: Mapping, scale: float = 0.05,
            seed: int | None = None, pdf: bool = True, encoding: str = "utf-8") -> list[Path]:
    """The main job: demo data if none, every quarter, annexes, the book in HTML and PDF."""
    params = as_params(params)
    bookfmt.use_params(params)   # the run's parameters for the publication helpers
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not (data_dir / "register").exists():
        log.info("no register in %s: generating demo data (scale %s)", data_dir, scale)
        kwargs = {"scale": scale} if seed is None else {"scale": scale, "seed": seed}
        demo.generate(data_dir, **kwargs)
    quarters = publication_quarters(data_dir, params)
    rid = releases.release_id(str(max(quarters)), extract_date(data_dir, params), params)
    clean_stale(out_dir)
    all_tables = register.run_register_stage(data_dir, quarters, params, encoding=encoding)
    done = []
    for q in quarters:
        log.info("quarter %s ...", q)
        done.append(run_quarter(q, data_dir, out_dir, params, encoding=encoding,
                                register_tables=all_tables, release_id=rid))
    run_costs_chapter(data_dir, out_dir, params, quarters)
    log.info("book ...")
    book.build_book(out_dir, [str(q) for q in quarters], is_synthetic(data_dir), params, pdf=pdf)
    log.info("release %s: %s", rid, releases.write_release(out_dir, [str(q) for q in quarters], rid))
    return done


def run_costs_chapter(data_dir: Path, out_dir: Path, params: dict, quarters: list[Quarter]
                      ) -> Path | None:
    """Sote-tietopaketit: the newest cost year whose four quarters are published.

    Writes OUT/costs/<year>/ (tables, annex) and executes the chapter notebook into
    OUT/costs/<year>/notebooks/; returns that folder, or None without a cost ledger.
    """
    full_years = {q.year for q in quarters if q.q == 4 and Quarter(q.year, 1) in quarters}
    years = [y for y in costs.ledger_years(data_dir) if y in full_years]
    if not years:
        return None
    year = max(years)
    log.info("costs %s ...", year)
    target = costs.run_and_write(year, data_dir, out_dir, params)
    notebooks_mod.execute_costs_notebook(year, target / "tables", target / "notebooks",
                                         is_synthetic(data_dir), params)
    return target


def verify(quarter: Quarter | str, out_dir: Path, stream=None) -> bool:
    """Re-run a quarter's tables from its manifest and compare them table by table."""
    stream = stream or sys.stdout
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    qdir = Path(out_dir) / str(quarter)
    manifest = load_manifest(qdir / "manifest.json", str(quarter), "seuranta run")
    data_dir = Path(manifest["data_dir"])
    ok = report_inputs(input_hashes(data_dir), manifest["inputs"], stream)
    params, same = manifest_params(manifest, stream)
    ok = ok and same
    with tempfile.TemporaryDirectory(prefix="seuranta-verify-") as tmp:
        tables = quarter_tables(quarter, data_dir, params, manifest.get("encoding", "utf-8"))
        write_tables(tables, Path(tmp))
        ok = compare_tables(manifest["tables"], Path(tmp), qdir / "tables", stream) and ok
    print(f"{quarter}: {'all tables identical' if ok else 'NOT identical'}", file=stream)
    return ok
