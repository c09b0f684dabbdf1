"""The whole run of one quarter and the publication of every quarter.

``run_quarter`` chains the stages (register → statistics → notebooks → annexes →
manifest) into a temporary folder beside ``OUT/<quarter>`` and swaps it in only when
everything is written, so an interrupted or failed run leaves the previous publication as
it was. ``publish`` does it for every quarter, builds the book the same way
(:func:`build_book_phase`) and seals the release. Verification (``seuranta verify``,
``seuranta verify-release``) is :mod:`seuranta.verification`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from seuranta.core.cache import CACHE_DIR, StepCache, code_version, digest, tree_hashes
from seuranta.core.errors import DisclosureError, InputError
from seuranta.core.params import PROJECT_DIR, as_params
from seuranta.core.provenance import (
    dump_manifest,
    file_hashes,
    file_sha256,
    input_hashes,
    package_versions,
    params_values,
    provenance,
    table_hashes,
    tool_versions,
)
from seuranta.core.quarters import TIME_ZONE, Quarter, quarter_range
from seuranta.core.reference import REFERENCE_DIR
from seuranta.core.reproducible import (
    build_environment,
    fixed_environment,
    pin_publication_date,
)
from seuranta.core.tables import atomic_swap, write_csv
from seuranta.costs import model as costs
from seuranta.demo import generator as demo
from seuranta.inputs import corrections as corrections_input
from seuranta.inputs.corrections import CORRECTIONS_FILE
from seuranta.inputs.datafolder import (
    check_quarter,
    extract_date,
    is_synthetic,
    publication_quarters,
)
from seuranta.publication import annex as annex_mod
from seuranta.publication import book, gate, releases
from seuranta.publication import notebooks as notebooks_mod
from seuranta.register import stage as register
from seuranta.statistics.memo import EstimationMemo, worker_pool
from seuranta.statistics.quarter import quarter_tables

log = logging.getLogger(__name__)

#: The notebook templates and their plan (``seuranta notebooks --templates`` gives another).
NOTEBOOK_DIR = notebooks_mod.NOTEBOOK_DIR


def write_tables(tables: dict[str, pd.DataFrame], tables_dir: Path) -> None:
    """Every table as ``<name>.csv``, except the register stage's internal intermediates."""
    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, df in sorted(tables.items()):
        if name not in register.INTERNAL_TABLES:
            write_csv(df, tables_dir / f"{name}.csv")


def write_manifest(qdir: Path, quarter: Quarter, data_dir: Path, params: dict,
                   encoding: str, into: Path | None = None,
                   tables: Mapping[str, str] | None = None) -> dict:
    """The run record of the quarter folder ``qdir``, written to ``qdir/manifest.json``
    (or ``into``). ``tables``: :func:`table_hashes` of ``qdir/tables`` when made already."""
    manifest = {
        "quarter": str(quarter),
        "data_dir": str(Path(data_dir).resolve()),
        "encoding": encoding,
        "synthetic": is_synthetic(data_dir),
        "inputs": input_hashes(data_dir),
        **provenance(params),
        "tables": table_hashes(qdir / "tables") if tables is None else dict(tables),
        "files": file_hashes(qdir),
    }
    dump_manifest(into or qdir / "manifest.json", manifest)
    return manifest


def refresh_manifest(target: Path, quarter: Quarter, data_dir: Path, params: dict,
                     encoding: str) -> bool:
    """The manifest of a quarter reused from the cache written again, as this run writes
    it, when its record of the inputs (every input file's hash, the data folder) is not
    this run's: the quarter's key holds only what its statistics read
    (:meth:`Versions.quarter_inputs`), so the inputs may have changed while its tables did
    not. Otherwise it is left as the run that made the quarter wrote it. Replaced
    atomically; True when it was replaced. The tables' hashes are those recorded: the
    quarter is reused, its tables and this manifest as the cache recorded them, the
    hashes made from those very tables."""
    target = Path(target)
    recorded = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    if recorded.get("inputs") == input_hashes(data_dir) and \
            recorded.get("data_dir") == str(Path(data_dir).resolve()):
        return False
    fd, name = tempfile.mkstemp(prefix=f".tmp-manifest-{os.getpid()}-", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write_manifest(target, quarter, data_dir, params, encoding, into=tmp,
                       tables=recorded.get("tables"))
        tmp.chmod(0o644)
        os.replace(tmp, target / MANIFEST)
        return True
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- running

def _pid_of_tmp(name: str) -> int | None:
    """The process id in a temporary folder's name (``.tmp-<Q>-<pid>-<random>``,
    ``.tables-tmp-<pid>-<random>``, ``.old-<Q>-<pid>``), None when it has none."""
    m = re.search(r"-(\d+)(-|$)", name)
    return int(m.group(1)) if m else None


#: Temporary folders of OUT and of its sub-folders (see clean_stale): quarters, the book
#: phase, releases and open data.
STALE_PATTERNS = (".tmp-*", ".old-*", "*/.tables-tmp-*", "*/.tables-old-*", "*/.old-*",
                  "*/.notebooks-tmp-*", "releases/.tmp-*", ".cache/.tmp-*",
                  ".cache/pdf/.tmp-*")


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove the temporary folders that an interrupted run left in OUT (``kill -9`` leaves
    exact tables there), but not those of a run still going; returns what was removed.
    Every command that writes into OUT calls it first."""
    removed = []
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return removed
    for p in [p for pat in STALE_PATTERNS for p in out_dir.glob(pat)]:
        pid = _pid_of_tmp(p.name)
        if pid is not None and pid != os.getpid() and notebooks_mod.pid_alive(pid):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:   # a cache entry's temporary file
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def publishable_modes(folder: Path) -> None:
    """Published folders readable by everyone: folders 0755, files 0644 (a temporary
    folder is created 0700, and its mode would otherwise be published with it)."""
    folder = Path(folder)
    folder.chmod(0o755)
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def _prepare_quarter(quarter: Quarter, data_dir: Path, out_dir: Path, params: dict,
                     encoding: str, register_tables, release_id: str | None, annex: bool,
                     priors: list[Path] | None = None, memo: EstimationMemo | None = None,
                     written: Callable[[Path], None] | None = None) -> Path:
    """Tables, published tables and annexes of a quarter in a new temporary folder of OUT
    (returned). ``priors``: the published folders the gate treats as known to the reader
    (default: :func:`seuranta.publication.gate.prior_dirs`, what OUT holds); ``memo``:
    estimation results by content shared with the run's other quarters; ``written``:
    called with the tables' folder once the tables are written (before the gate)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{quarter}-{os.getpid()}-", dir=out_dir))
    try:
        tables = quarter_tables(quarter, data_dir, params, encoding, register_tables, memo=memo)
        write_tables(tables, tmp / "tables")
        if written is not None:
            written(tmp / "tables")
        _publish_tables(tmp, quarter, data_dir, out_dir, params, release_id, annex, priors)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _publish_tables(folder: Path, quarter: Quarter, data_dir: Path, out_dir: Path,
                    params: dict, release_id: str | None, annex: bool,
                    priors: list[Path] | None) -> None:
    """The gate and the annexes of the quarter whose exact tables are ``folder/tables``."""
    # the disclosure gate: the only source of published numbers (OUT/<Q>/published/)
    if priors is None:
        priors = gate.prior_dirs(out_dir, str(quarter), release_id)
    gate.publish_quarter(quarter, folder / "tables", folder / gate.PUBLISHED, params,
                         priors=priors)
    if annex:
        _write_annexes(folder, quarter, data_dir, params)


def _write_annexes(folder: Path, quarter: Quarter, data_dir: Path, params: dict) -> None:
    """The Excel annexes of the quarter whose tables are ``folder/tables``."""
    annex_mod.write_annexes(quarter, folder / "tables", folder / "annex",
                            is_synthetic(data_dir), params)


def _republish_quarter(target: Path, quarter: Quarter, data_dir: Path, out_dir: Path,
                       params: dict, release_id: str | None, priors: list[Path]) -> Path:
    """A quarter whose statistics are reused (``target/tables``) published again (the gate
    and the annexes: what it treats as known changed) into a new temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{quarter}-{os.getpid()}-", dir=out_dir))
    try:
        shutil.copytree(target / "tables", tmp / "tables")
        _publish_tables(tmp, quarter, data_dir, out_dir, params, release_id, True, priors)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _finish_quarter(tmp: Path, quarter: Quarter, data_dir: Path, out_dir: Path, params: dict,
                    encoding: str, tables: cf.Future | None = None) -> Path:
    """The manifest, readable modes, and the swap of the temporary folder into OUT/<Q>/.
    ``tables``: the future of the tables' hashes (:func:`table_hashes`), when made aside."""
    target = out_dir / str(quarter)
    try:
        write_manifest(tmp, quarter, data_dir, params, encoding,
                       tables=None if tables is None else tables.result())
        publishable_modes(tmp)
        atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def run_quarter(quarter: Quarter | str, data_dir: Path, out_dir: Path, params: Mapping,
                encoding: str = "utf-8", notebooks: bool = True, annex: bool = True,
                register_tables: dict[str, pd.DataFrame] | None = None,
                release_id: str | None = None, memo: EstimationMemo | None = None) -> Path:
    """Run one quarter into OUT/<quarter>/ atomically; returns that folder.

    ``params``: the run's parameters (``core.params.load_params``), loaded once by the
    caller. ``release_id``: the release this run is part of (its earlier copy, if kept, is
    not a prior publication of itself). ``memo``: estimation results by content shared
    with the caller's other quarters (:mod:`seuranta.statistics.memo`; the same tables)."""
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    params = as_params(params)
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    check_quarter(quarter, data_dir, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(out_dir)
    releases.check_kept_releases(out_dir)   # the gate reads them as known to the reader
    # the statistics' worker processes (independent fits side by side) are forked first,
    # before any thread starts; the notebooks' kernels start (and import) while the tables
    # are made; the annexes are written while the notebooks run (both read only the
    # finished tables)
    memo = EstimationMemo() if memo is None else memo
    with contextlib.ExitStack() as stack:
        stack.enter_context(memo.working(stack.enter_context(worker_pool())))
        kernels = stack.enter_context(notebooks_mod.KernelsAhead()) if notebooks else None
        if register_tables is None:
            first = Quarter.parse(params["publication"]["first_quarter"])
            register_tables = register.run_register_stage(
                data_dir, quarter_range(first, quarter), params, encoding=encoding)
        write_extract(register_tables, out_dir, params)
        hashed: list[cf.Future] = []    # the manifest's table hashes, made beside the gate

        def written(tables_dir: Path) -> None:
            if memo.workers is not None:
                hashed.append(memo.workers.submit(table_hashes, tables_dir))

        tmp = _prepare_quarter(quarter, data_dir, out_dir, params, encoding, register_tables,
                               release_id, annex=False, memo=memo, written=written)
        try:
            if kernels is not None:
                kernels.start(str(quarter), tmp / "tables", tmp / "notebooks",
                              is_synthetic(data_dir), params,
                              failed_dir=failed_notebooks(out_dir, str(quarter)))
            if annex:
                _write_annexes(tmp, quarter, data_dir, params)
            if kernels is not None:
                kernels.wait()
        except BaseException:
            stack.close()   # no kernel writes into the folder any more
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _finish_quarter(tmp, quarter, data_dir, out_dir, params, encoding,
                           tables=hashed[0] if hashed else None)


#: Files of a data folder that no quarter's statistics step reads (the cost chapter's
#: ledger and mapping; the demo's known truth, read only by the coverage studies): left out
#: of a quarter's key. Any other file, known or not, is in it (a miss is cheaper than a
#: stale table).
NOT_QUARTER_INPUTS = ("costs/", "truth*.csv")
#: The data folder's metadata (extract date, whether synthetic).
METADATA_FILE = "metadata.json"


def _quarter_reads(rel: str) -> bool:
    """Whether a quarter's statistics step may read the input file ``rel`` (relative
    path of the data folder)."""
    return not any(rel.startswith(p) if p.endswith("/") else fnmatch.fnmatchcase(rel, p)
                   for p in NOT_QUARTER_INPUTS)


def _read_through_register(rel: str) -> bool:
    """Whether the input file ``rel`` reaches a quarter's statistics only through the
    register stage's tables (the register files; metadata.json, whose extract date the
    validation reads)."""
    return rel.startswith("register/") or rel == METADATA_FILE


def corrections_up_to(data_dir: Path, quarter: Quarter, params: dict):
    """What a quarter reads of corrections.csv, as a JSON-able value: its columns and every
    row except those naming a quarter after ``quarter`` and not after the newest
    publishable quarter (``latest``). A quarter's tables use the decisions on its series
    (``first_quarter`` .. ``quarter``); a decision on a later quarter changes only that
    quarter's tables, and a later quarter's own run checks it. A row naming a quarter after
    ``latest`` (refused, :func:`seuranta.inputs.corrections.read_corrections`) stays in
    every key, and so does the whole file when it does not read (the run refuses it)."""
    path = Path(data_dir) / CORRECTIONS_FILE
    if not path.is_file():
        return None
    try:
        df = corrections_input.read_corrections(path)
    except InputError:
        return file_sha256(path)
    latest = publication_quarters(data_dir, params)[-1]
    later = [quarter < Quarter.parse(q) <= latest for q in df["quarter"]]
    kept = df[[not x for x in later]]
    return {"columns": list(df.columns), "rows": kept.astype(object).values.tolist()}


class Versions:
    """What every cache key of a publish shares (:mod:`seuranta.core.cache`): the input
    files' hashes, the parameter values, the code (the package's source files and the
    reference data it reads), the notebook templates, the book's sources and the package
    versions; computed once per publish."""

    def __init__(self, data_dir: Path, params: dict, encoding: str, templates: Path):
        self.data_dir = Path(data_dir)
        self.input_files = input_hashes(data_dir)
        self.inputs = digest(self.input_files)
        self.run_params = params
        self.params = digest(params_values(params))
        self.code = code_version(Path(__file__).resolve().parent, REFERENCE_DIR)
        self.templates = code_version(Path(templates))
        self.book = code_version(book.BOOK_SRC_DIR, PROJECT_DIR / "_toc.yml",
                                 PROJECT_DIR / "_config.yml")
        self.packages = digest(package_versions())
        self.encoding = encoding
        self.synthetic = is_synthetic(data_dir)

    def quarter_inputs(self, quarter: str, cut: str):
        """What a quarter's statistics step reads (by content): its own cut of the register
        stage's tables (``cut``: :func:`register_cuts`), every other input file but those
        of :data:`NOT_QUARTER_INPUTS`, the register files and metadata.json (read only
        through that cut: the extract date decides which rows are accepted; whether the
        data are synthetic is in every key) and corrections.csv, and of corrections.csv
        what :func:`corrections_up_to` keeps. The extract-wide tables (row ledger,
        rejected rows, flags) are not a quarter's: they are published once per extract
        (:func:`write_extract`)."""
        return {"register": cut,
                "files": {k: v for k, v in self.input_files.items()
                          if _quarter_reads(k) and not _read_through_register(k)
                          and k != CORRECTIONS_FILE},
                "corrections": corrections_up_to(self.data_dir, Quarter.parse(quarter),
                                                 self.run_params)}

    def register_inputs(self):
        """What the register stage reads: every input file but those of
        :data:`NOT_QUARTER_INPUTS` and corrections.csv (which it does not read)."""
        return {k: v for k, v in self.input_files.items()
                if _quarter_reads(k) and k != CORRECTIONS_FILE}

    def key(self, step: str, *uses: str, **more) -> str:
        """The key of ``step``: the shared versions named in ``uses`` and ``more``."""
        return digest({"step": step, "packages": self.packages, "encoding": self.encoding,
                       "synthetic": self.synthetic, **{u: getattr(self, u) for u in uses},
                       **more})


# --------------------------------------------------------------------------- the extract

#: Each quarter's register cut by content (:func:`register_cuts`), in ``OUT/register/``
#: (internal: not part of a release).
CUTS_FILE = "quarters.json"


def _table_digest(df: pd.DataFrame) -> str:
    """A table by its content as CSV text (values as written; not the dtypes, which differ
    between two empty cuts of tables of different extracts: a calendar year complete in
    one extract and not yet in the other)."""
    return hashlib.sha256(df.to_csv(index=False).encode("utf-8")).hexdigest()


def _csv_rows(df: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    """``df`` as :func:`_table_digest` writes it, split into its header line and one line
    per row (each with its line end), or None when a row's text may not be a line of its
    own made from that row alone: a value written over several lines (quoted line ends), or
    a column whose text depends on the other rows (datetimes: dates only when every value
    is at midnight). The CSV text of any cut of ``df`` (a subset of its rows, in order) is
    then the header and the cut's lines, joined."""
    if not all(t.kind in "biufO" or isinstance(t, pd.StringDtype) for t in df.dtypes):
        return None
    lines = df.to_csv(index=False).split("\n")
    if os.linesep != "\n" or len(lines) != len(df) + 2 or lines[-1]:
        return None
    rows = np.empty(len(df), dtype=object)
    rows[:] = [line + "\n" for line in lines[1:-1]]
    return lines[0] + "\n", rows


def register_cuts(tables: Mapping[str, pd.DataFrame], quarters: list[Quarter]
                  ) -> dict[str, str]:
    """Each quarter's cut of the register stage's tables, every table that its statistics
    read (:func:`seuranta.register.stage.tables_for_quarter`: its own counts, the series
    up to it, ...), by content: quarter → sha256 (of each table's CSV text as
    :func:`_table_digest` hashes it: a table written once, each quarter's cut hashed from
    its rows' lines, :func:`_csv_rows`, an equal table's lines shared; a table that cannot
    be split so is written per cut)."""
    tables = register.per_quarter(tables)
    split: dict = {}
    for n, df in tables.items():   # a series table is often its quarter table: written once
        same = next((m for m in split if tables[m].equals(df)
                     and list(tables[m].columns) == list(df.columns)), None)
        split[n] = split[same] if same is not None else _csv_rows(df)
    cuts = {}
    for q in quarters:
        hashes = {}
        for n, df in sorted(tables.items()):
            rows = register.quarter_rows(n, df, q)
            if split[n] is None:
                hashes[n] = _table_digest(df if rows is None else df[rows])
                continue
            header, lines = split[n]
            text = header + "".join(lines if rows is None else lines[rows])
            hashes[n] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        cuts[str(q)] = digest(hashes)
    return cuts


def write_extract(tables: Mapping[str, pd.DataFrame], out_dir: Path, params: dict,
                  quarters: list[Quarter] | None = None) -> Path:
    """``OUT/register/``, replaced atomically: the extract-wide exact tables (row ledger,
    rejected rows, flags: ``tables/``, internal), what the gate publishes of them
    (``published/``, once per release, not in every quarter) and, with ``quarters``, each
    quarter's register cut by content (``quarters.json``). Returns that folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-register-{os.getpid()}-", dir=out_dir))
    try:
        folder = register.write_extract_tables(dict(tables), tmp).parent
        gate.publish_extract(folder / "tables", folder / gate.PUBLISHED, params)
        if quarters is not None:
            (folder / CUTS_FILE).write_text(
                json.dumps(register_cuts(tables, quarters), indent=1, sort_keys=True) + "\n",
                encoding="utf-8")
        publishable_modes(folder)
        atomic_swap(folder, register.extract_dir(out_dir))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return register.extract_dir(out_dir)


def _cached_register(data_dir: Path, out_dir: Path, quarters: list[Quarter], params: dict,
                     encoding: str, cache: StepCache, versions: Versions,
                     made: dict) -> dict[str, str]:
    """The register step: the register stage (its tables kept in ``made["tables"]``) and
    ``OUT/register/`` (:func:`write_extract`), unless that folder is as made from the same
    register inputs, parameters and code. Returns each quarter's register cut by content
    (what a quarter's key holds of the register)."""
    key = versions.key("register", "params", "code", quarters=[str(q) for q in quarters],
                       inputs=versions.register_inputs())
    outputs = {register.EXTRACT_DIR: register.extract_dir(out_dir)}
    if cache.lookup("register", key, outputs):
        return json.loads((register.extract_dir(out_dir) / CUTS_FILE).read_text(
            encoding="utf-8"))
    cache.forget("register")
    made["tables"] = register.run_register_stage(data_dir, quarters, params,
                                                 encoding=encoding)
    write_extract(made["tables"], out_dir, params, quarters)
    cache.store("register", key, outputs)
    return json.loads((register.extract_dir(out_dir) / CUTS_FILE).read_text(encoding="utf-8"))


#: The folder of a quarter's notebooks step (the rest of OUT/<Q> is its statistics step's).
NOTEBOOK_OUTPUTS = ("notebooks",)
#: The folder of a quarter's statistics alone (the exact tables; the gate's and the
#: annexes' outputs are the quarter step's).
STATISTICS_OUTPUTS = ("tables",)
MANIFEST = "manifest.json"


def _outputs(folder: Path, names: tuple[str, ...]) -> dict[str, Path]:
    return {n: folder / n for n in names}


def statistics_parts(folder: Path) -> dict[str, Path]:
    """Everything of a quarter's folder that its statistics step made (tables, published
    tables, annexes, the gate's internal report, ...: all but the notebooks and the
    manifest), by name: a part added or removed later changes the set, so it is a miss."""
    folder = Path(folder)
    skip = {*NOTEBOOK_OUTPUTS, MANIFEST}
    return {p.name: p for p in sorted(folder.iterdir()) if p.name not in skip} \
        if folder.is_dir() else {}


def _quarter_outputs(target: Path) -> dict[str, Path]:
    """What a reused quarter must still hold: its statistics step's parts and the
    manifest of the run that made them (the release keeps its public fields)."""
    return {**statistics_parts(target), MANIFEST: target / MANIFEST}


def copy_statistics(target: Path, folder: Path) -> None:
    """The statistics step's parts of ``target`` copied into ``folder`` (a quarter whose
    statistics are reused but whose notebooks are executed again)."""
    for name, p in statistics_parts(target).items():
        if p.is_dir():
            shutil.copytree(p, folder / name)
        else:
            shutil.copy2(p, folder / name)


def _statistics_key(versions: Versions, quarter: str, cut: str) -> str:
    """A quarter's statistics (its exact ``tables/``): the inputs it reads
    (:meth:`Versions.quarter_inputs`, its register cut ``cut`` among them), parameters
    and code."""
    return versions.key(f"statistics-{quarter}", "params", "code", quarter=quarter,
                        inputs=versions.quarter_inputs(quarter, cut))


def _quarter_key(versions: Versions, quarter: str, out_dir: Path, release_id: str | None,
                 earlier: Mapping[str, Path], cut: str) -> str:
    """A quarter's statistics, published tables and annexes: the statistics' key
    (:func:`_statistics_key`) and what its gate treats as known (the kept releases but
    ``release_id`` and the published tables of this run's ``earlier`` quarters, quarter
    → folder), by content."""
    return versions.key(f"quarter-{quarter}", quarter=quarter,
                        statistics=_statistics_key(versions, quarter, cut),
                        priors={"releases": releases.prior_record(out_dir, release_id),
                                "earlier": {k: tree_hashes(f / gate.PUBLISHED)
                                            for k, f in sorted(earlier.items())}})


#: What a quarter's notebooks read of its folder: the folder of ``tables_dir`` (given to
#: them) and the published tables beside it (all that the chapters read,
#: :mod:`seuranta.publication.chapters`); not the annexes nor the gate's internal report.
NOTEBOOK_READS = ("tables", gate.PUBLISHED)


def _notebooks_key(versions: Versions, quarter: str, folder: Path) -> str:
    """A quarter's notebooks: templates, code, parameters and the tables they read (the
    content of :data:`NOTEBOOK_READS` in ``folder``)."""
    return versions.key(f"notebooks-{quarter}", "templates", "code", "params",
                        quarter=quarter,
                        tables={n: tree_hashes(p) for n, p in statistics_parts(folder).items()
                                if n in NOTEBOOK_READS})


@dataclass
class _QuarterRun:
    """One quarter of :func:`_run_quarters` on its way into OUT: its folder so far
    (temporary, or ``OUT/<Q>`` when reused), the keys of its three steps, whether each ran,
    and the future of its notebooks (None when they are reused)."""

    quarter: Quarter
    folder: Path
    skey: str
    qkey: str
    s_ran: bool
    q_ran: bool
    nkey: str = ""
    notebooks: cf.Future | None = None


def _quarter_tables_step(q: Quarter, data_dir: Path, out_dir: Path, params: dict,
                         encoding: str, register_tables, release_id: str | None,
                         cache: StepCache, versions: Versions, cut: str,
                         prepared: Mapping[str, Path], memo: EstimationMemo) -> _QuarterRun:
    """A quarter's statistics and quarter steps (:func:`_run_quarters`): reused from the
    cache, published again (only what the gate treats as known changed) or made, into a
    temporary folder unless reused."""
    target = out_dir / str(q)
    priors = publish_priors(out_dir, release_id, prepared)
    skey = _statistics_key(versions, str(q), cut)
    s_ran = not cache.lookup(f"statistics-{q}", skey, _outputs(target, STATISTICS_OUTPUTS))
    qkey = _quarter_key(versions, str(q), out_dir, release_id, prepared, cut)
    q_ran = s_ran or not cache.lookup(f"quarter-{q}", qkey, _quarter_outputs(target))
    if not q_ran:
        folder = target
    elif not s_ran:
        folder = _republish_quarter(target, q, data_dir, out_dir, params, release_id, priors)
    else:
        folder = _prepare_quarter(q, data_dir, out_dir, params, encoding, register_tables(),
                                  release_id, True, priors, memo)
    return _QuarterRun(q, folder, skey, qkey, s_ran, q_ran)


def _quarter_notebooks_step(run: _QuarterRun, data_dir: Path, out_dir: Path, params: dict,
                            encoding: str, cache: StepCache, versions: Versions,
                            pool: notebooks_mod.KernelPool, tick, synthetic: bool) -> bool:
    """A quarter's notebooks step (:func:`_run_quarters`): reused from the cache (copied
    beside new tables), or submitted to ``pool`` (``run.notebooks``; beside copies of
    reused tables). False when nothing of the quarter changed but its record (refreshed
    here: the quarter is done), else True (the quarter is to be finished)."""
    q = run.quarter
    target = out_dir / str(q)
    run.nkey = _notebooks_key(versions, str(q), run.folder)
    if cache.lookup(f"notebooks-{q}", run.nkey, _outputs(target, NOTEBOOK_OUTPUTS)):
        if run.folder == target:   # nothing of this quarter changed but its record
            cache.forget(f"quarter-{q}")
            refresh_manifest(target, q, data_dir, params, encoding)
            cache.store(f"quarter-{q}", run.qkey, _quarter_outputs(target), ran=False)
            return False
        shutil.copytree(target / "notebooks", run.folder / "notebooks")
        return True
    if run.folder == target:   # the notebooks again, beside copies of the tables
        run.folder = Path(tempfile.mkdtemp(prefix=f".tmp-{q}-{os.getpid()}-", dir=out_dir))
        try:
            copy_statistics(target, run.folder)
        except BaseException:
            shutil.rmtree(run.folder, ignore_errors=True)
            raise
    run.notebooks = pool.submit(str(q), run.folder / "tables", run.folder / "notebooks",
                                synthetic, params, tick, failed_notebooks(out_dir, str(q)))
    return True


def _finish_run(run: _QuarterRun, data_dir: Path, out_dir: Path, params: dict,
                encoding: str, cache: StepCache) -> None:
    """A quarter's notebooks awaited, its folder swapped into OUT and its three steps
    recorded in the cache."""
    q = run.quarter
    if run.notebooks is not None:
        run.notebooks.result()
    for step in ("statistics", "quarter", "notebooks"):
        cache.forget(f"{step}-{q}")
    target = _finish_quarter(run.folder, q, data_dir, out_dir, params, encoding)
    cache.store(f"statistics-{q}", run.skey, _outputs(target, STATISTICS_OUTPUTS),
                ran=run.s_ran)
    cache.store(f"quarter-{q}", run.qkey, _quarter_outputs(target), ran=run.q_ran)
    cache.store(f"notebooks-{q}", run.nkey, _outputs(target, NOTEBOOK_OUTPUTS),
                ran=run.notebooks is not None)


def _run_quarters(quarters: list[Quarter], data_dir: Path, out_dir: Path, params: dict,
                  encoding: str, register_tables, release_id: str | None,
                  cache: StepCache | None = None, versions: Versions | None = None,
                  cuts: Mapping[str, str] | None = None) -> list[Path]:
    """Every quarter, with each quarter's notebooks (in one kernel of a
    :class:`~seuranta.publication.notebooks.KernelPool`: up to the core count of kernels,
    kept for the run's quarters) running while the next quarters' tables are made, up to
    the core count side by side; quarters are
    swapped in in order, each only when complete. A progress bar on a terminal.

    ``register_tables()``: the register stage's tables (called only when a quarter's
    statistics are not in the ``cache``, or to find ``cuts``: quarter → its register cut
    by content, :func:`register_cuts`). With a cache, a quarter whose key (its statistics'
    key: its register cut, the other inputs it reads, parameters, code; and what the gate
    treats as known) and outputs are unchanged is not made again; when only what the gate
    treats as known changed (a release kept since), its statistics are reused and only its
    gate and annexes run again; its notebooks are not executed again when their key
    (templates, code, parameters, the quarter's tables) is unchanged
    (:func:`_quarter_tables_step`, :func:`_quarter_notebooks_step`, :func:`_finish_run`).

    The gate of each quarter treats as known exactly the kept releases (but ``release_id``)
    and the quarters of this run before it: never what else OUT happens to hold (an older
    run's quarter), so the same inputs and kept releases give the same published tables in
    any folder (:func:`publish_priors`)."""
    cache = cache or StepCache(out_dir, enabled=False)
    versions = versions or Versions(data_dir, params, encoding, NOTEBOOK_DIR)
    cuts = cuts if cuts is not None else register_cuts(register_tables(), quarters)
    synthetic = is_synthetic(data_dir)
    workers = max(1, min(os.cpu_count() or 1, len(quarters)))
    # each quarter estimates every quarter of its series: a fit on the same frame (same
    # comprehensive municipalities, counts, covariates, parameters) is made once per run
    memo = EstimationMemo()
    in_flight: dict[str, Path] = {}     # temporary folders of this run, by quarter
    prepared: dict[str, Path] = {}      # each quarter's folder so far (temporary or OUT/<Q>)
    pending: list[_QuarterRun] = []
    notebooks_mod.clean_kernel_leftovers()
    per_quarter = len(notebooks_mod.notebook_plan(str(quarters[0])))
    bar = tqdm(total=len(quarters) * per_quarter, desc="notebooks", unit="nb", disable=None,
               file=sys.stderr, position=1)
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            bar.update(1)

    try:
        with notebooks_mod.KernelPool(workers) as pool:
            for q in tqdm(quarters, desc="quarters", unit="q", disable=None, file=sys.stderr,
                          position=0):
                run = _quarter_tables_step(q, data_dir, out_dir, params, encoding,
                                           register_tables, release_id, cache, versions,
                                           cuts[str(q)], prepared, memo)
                if run.q_ran:
                    in_flight[str(q)] = run.folder
                prepared[str(q)] = run.folder
                more = _quarter_notebooks_step(run, data_dir, out_dir, params, encoding,
                                               cache, versions, pool, tick, synthetic)
                if run.notebooks is None:
                    bar.update(per_quarter)
                if more:
                    in_flight[str(q)] = run.folder
                    pending.append(run)
            for run in pending:
                _finish_run(run, data_dir, out_dir, params, encoding, cache)
                in_flight.pop(str(run.quarter))
    except BaseException:
        for tmp in in_flight.values():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
        shutil.rmtree(notebooks_mod.kernel_dir(), ignore_errors=True)
    return [out_dir / str(q) for q in quarters]


def publish_priors(out_dir: Path, release_id: str | None, in_flight: Mapping[str, Path]
                   ) -> list[Path]:
    """What the gate of the next quarter of a publication treats as known: every kept
    release but ``release_id`` (checked against its seal first,
    :func:`seuranta.publication.releases.check_kept_releases`) and the quarters of this run
    prepared before it (``in_flight``: quarter → its folder, temporary or, when reused
    from the cache, ``OUT/<Q>``)."""
    return releases.prior_dirs(out_dir, release_id) + \
        [t / gate.PUBLISHED for _, t in sorted(in_flight.items())]


def publish(data_dir: Path, out_dir: Path, params: Mapping, scale: float = 0.05,
            seed: int | None = None, pdf: bool = True, encoding: str = "utf-8",
            use_cache: bool = True) -> list[Path]:
    """The main job: demo data if none, every quarter, annexes, the book in HTML and PDF,
    and the sealed release (``OUT/releases/<id>/``).

    Every kept release is checked against its seal before anything reads it; the run is
    made in the fixed environment of :mod:`seuranta.core.reproducible` (time zone, locale,
    ``SOURCE_DATE_EPOCH`` of the publication date, which is pinned into the parameters
    when they have none).

    Each step is skipped when its cache entry in ``OUT/.cache/`` has the same key and its
    outputs are as the entry recorded (:mod:`seuranta.core.cache`; ``use_cache=False``
    makes every step again): the register stage runs when its inputs changed (it writes
    the extract-wide tables, ``OUT/register/``, and gives each quarter's register cut, by
    content, to the quarter's key) or a quarter's statistics must be made again. The
    steps that ran and those reused are listed in ``OUT/.cache/last-run.json``."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(out_dir)
    releases.check_kept_releases(out_dir)   # before anything reads a kept release
    params = pin_publication_date(params)
    if not (data_dir / "register").exists():
        log.info("no register in %s: generating demo data (scale %s)", data_dir, scale)
        kwargs = {"scale": scale} if seed is None else {"scale": scale, "seed": seed}
        demo.generate(data_dir, **kwargs)
    quarters = publication_quarters(data_dir, params)
    rid = releases.release_id(str(max(quarters)), extract_date(data_dir, params), params)
    cache = StepCache(out_dir, enabled=use_cache)
    versions = Versions(data_dir, params, encoding, NOTEBOOK_DIR)
    steps = tqdm(total=4, desc="publish", unit="step", disable=None, file=sys.stderr,
                 position=2, bar_format="{desc}: {n}/{total} {postfix}")
    with steps, fixed_environment(params):
        steps.set_postfix_str(f"register stage, {len(quarters)} quarters")
        done = publish_quarters(data_dir, out_dir, params, quarters, encoding, rid, cache,
                                versions)
        steps.update(1)
        steps.set_postfix_str("costs chapter")
        _cached_costs(data_dir, out_dir, params, quarters, cache, versions)
        steps.update(1)
        steps.set_postfix_str("book (HTML and PDF)" if pdf else "book (HTML)")
        _cached_book(out_dir, quarters, params, pdf, rid, cache, versions)
        steps.update(1)
        steps.set_postfix_str("release")
        audit_release(out_dir, params)
        record = release_record(data_dir, out_dir, params, encoding, rid, pdf)
        log.info("release %s: %s", rid,
                 releases.write_release(out_dir, [str(q) for q in quarters], rid, record))
        steps.update(1)
    cache.write_ledger()
    return done


def publish_quarters(data_dir: Path, out_dir: Path, params: dict, quarters: list[Quarter],
                     encoding: str, rid: str, cache: StepCache, versions: Versions
                     ) -> list[Path]:
    """The quarters' part of a publish (called in its fixed environment): the register
    step (:func:`_cached_register`, ``OUT/register/``) and every quarter
    (:func:`_run_quarters`), each step reused from ``cache`` when its key and outputs are
    unchanged; the register stage runs at most once."""
    made: dict[str, dict] = {}

    def register_tables() -> dict:
        if "tables" not in made:   # once, and only when a quarter is made again
            made["tables"] = register.run_register_stage(data_dir, quarters, params,
                                                         encoding=encoding)
            cache.steps.append(("register-tables", "ran"))
        return made["tables"]

    cuts = _cached_register(data_dir, out_dir, quarters, params, encoding, cache, versions,
                            made)
    return _run_quarters(quarters, data_dir, out_dir, params, encoding, register_tables, rid,
                         cache, versions, cuts)


def _cached_costs(data_dir: Path, out_dir: Path, params: dict, quarters: list[Quarter],
                  cache: StepCache, versions: Versions) -> None:
    """The costs chapter (:func:`run_costs_chapter`) unless ``OUT/costs`` is as made from
    the same inputs, parameters, code and template."""
    key = versions.key("costs", "inputs", "params", "code", "templates",
                       quarters=[str(q) for q in quarters])
    outputs = {"costs": out_dir / "costs"}
    if cache.lookup("costs", key, outputs):
        return
    cache.forget("costs")
    if run_costs_chapter(data_dir, out_dir, params, quarters) is not None:
        cache.store("costs", key, outputs)


#: What the book phase makes (:func:`build_book_phase`) and never reads: not part of its key.
BOOK_MADE = {"book", "pdf", releases.OPEN_DATA, "preview", notebooks_mod.FAILED_DIR,
             releases.RELEASES}


def _cached_book(out_dir: Path, quarters: list[Quarter], params: dict, pdf: bool, rid: str,
                 cache: StepCache, versions: Versions) -> None:
    """The book phase (:func:`build_book_phase`) unless its outputs are as made from the
    same OUT: every file of OUT's quarters and cost chapter, the kept releases but ``rid``
    (their seals), the book's sources, code, parameters, whether PDFs are built and the
    versions of the tools that build them (LaTeX)."""
    made = {p.name: tree_hashes(p) for p in sorted(out_dir.iterdir())
            if p.name not in BOOK_MADE and not p.name.startswith(".")}
    key = versions.key("book", "params", "code", "templates", "book", pdf=bool(pdf),
                       tools=tool_versions(pdf),
                       quarters=[str(q) for q in quarters], out=made,
                       releases=releases.prior_record(out_dir, rid))
    outputs = {"book": out_dir / "book", "pdf": out_dir / "pdf",
               "open_data": out_dir / releases.OPEN_DATA / rid}
    if cache.lookup("book", key, outputs):
        return
    cache.forget("book")
    log.info("book ...")
    build_book_phase(out_dir, [str(q) for q in quarters], versions.synthetic, params, pdf,
                     reuse_pdfs=cache.enabled)
    cache.store("book", key, outputs)


def audit_release(out_dir: Path, params: dict) -> None:
    """The independent attacker (:mod:`seuranta.audit`) on every release in OUT, the one
    being made included (its open data): a release that fails is not sealed."""
    from seuranta.audit import attack
    report = attack.audit(out_dir, int(params["disclosure"]["min_count"]),
                          int(params["estimate"]["rounding"]))
    log.info("%s", report.text().splitlines()[-1] if report.ok else report.text())
    if not report.ok:
        raise DisclosureError(f"{out_dir}: the disclosure audit failed ({report.counts()}): "
                              "the release is not sealed (`seuranta audit --out "
                              f"{out_dir}` lists the figures)")


#: The PDFs of the latest book by the content of their sources (:func:`book.cached_latexmk`).
PDF_CACHE = Path(CACHE_DIR) / "pdf"


def build_book_phase(out_dir: Path, quarters: list[str], synthetic: bool, params: dict,
                     pdf: bool, reuse_pdfs: bool = True) -> None:
    """The book (HTML), the PDFs and the open data built into a temporary folder of OUT and
    swapped in only when all are complete (``OUT/book``, ``OUT/pdf``,
    ``OUT/avoindata/<release id>``), like the quarters: a failed or killed build leaves the
    previous book as it was. Without PDFs, ``OUT/pdf`` is emptied (no stale PDF is offered
    or kept with the release). ``reuse_pdfs``: a PDF whose sources are unchanged is copied
    from ``OUT/.cache/pdf`` (:data:`PDF_CACHE`) instead of compiled (``publish
    --no-cache``: every PDF compiled, and stored)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-book-{os.getpid()}-", dir=out_dir))
    try:
        book.build_book(out_dir, quarters, synthetic, params, pdf=pdf, into=tmp,
                        pdf_cache=out_dir / PDF_CACHE, reuse_pdfs=reuse_pdfs)
        (tmp / "pdf").mkdir(exist_ok=True)
        publishable_modes(tmp)
        swaps = [Path("book"), Path("pdf")] + [
            p.relative_to(tmp) for p in sorted((tmp / releases.OPEN_DATA).glob("*"))]
        for sub in swaps:
            (out_dir / sub).parent.mkdir(parents=True, exist_ok=True)
            atomic_swap(tmp / sub, out_dir / sub)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def release_record(data_dir: Path, out_dir: Path, params: dict, encoding: str, rid: str,
                   pdf: bool) -> dict:
    """What a release's seal records besides its files (``publication.releases``): enough
    for ``seuranta verify-release --data`` to make every file again."""
    return {
        "publication_date": params["publication"]["date"],
        "environment": {**{k: v for k, v in build_environment(params).items()
                           if k in ("SOURCE_DATE_EPOCH", "TZ", "LC_ALL")},
                        "time_zone": TIME_ZONE},
        "pdf": bool(pdf),
        "synthetic": is_synthetic(data_dir),
        "encoding": encoding,
        "inputs": input_hashes(data_dir),
        **provenance(params),
        "tools": tool_versions(pdf),
        "priors": releases.prior_record(out_dir, rid),
    }


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
    target = costs.run_and_write(year, data_dir, out_dir, params, publish=partial(
        gate.publish_costs, params=params,
        year_published=out_dir / f"{year}Q4" / gate.PUBLISHED))
    notebooks_mod.execute_costs_notebook(year, target / "tables", target / "notebooks",
                                         is_synthetic(data_dir), params,
                                         failed_notebooks(out_dir, f"costs-{year}"))
    return target


# --------------------------------------------------------------------------- the loop
# The statistician's loop (``seuranta notebooks``, ``seuranta book``): a chapter's text or
# chart changed in its template is executed again from the tables an earlier run wrote
# (no statistics stage) and the book (or one quarter's preview of it) built from them.


def failed_notebooks(out_dir: Path, part: str) -> Path:
    """Where a failed notebook of ``part`` (a quarter, or ``costs-<year>``) is kept:
    ``OUT/failed-notebooks/<part>/``."""
    return Path(out_dir) / notebooks_mod.FAILED_DIR / part


def _run_manifest(out_dir: Path, quarter: str) -> dict:
    """The manifest of a quarter's earlier run; a one-line error when there is none."""
    man = Path(out_dir) / quarter / "manifest.json"
    if not man.is_file() or not (man.parent / "tables").is_dir():
        raise InputError(f"{man}: no run of {quarter} in {out_dir} (run `seuranta run "
                         f"--quarter {quarter}` or `seuranta publish` first)")
    try:
        return json.loads(man.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InputError(f"{man}: not a manifest ({e})") from None


def run_notebooks(quarter: str, out_dir: Path, params: Mapping, only: str | None = None,
                  templates: Path = NOTEBOOK_DIR) -> list[Path]:
    """Execute a quarter's notebooks (or the one named ``only``) again from the tables of
    its earlier run (``OUT/<Q>/tables``, ``published/``; nothing is recomputed) into
    ``OUT/<Q>/notebooks/``, each replacing its old copy only when all succeeded; returns
    them. ``templates``: the template folder (its ``plan.yml`` and MyST files). A failed
    notebook is kept in :func:`failed_notebooks` and the error names it and its cell.

    The quarter's manifest is not rewritten: ``seuranta verify`` reports the re-executed
    notebooks as changed after the run until the next ``run`` or ``publish``."""
    quarter = str(Quarter.parse(str(quarter)))
    out_dir = Path(out_dir)
    params = as_params(params)
    synthetic = bool(_run_manifest(out_dir, quarter).get("synthetic"))
    qdir = out_dir / quarter
    tmp = Path(tempfile.mkdtemp(prefix=f".notebooks-tmp-{os.getpid()}-", dir=qdir))
    failed = failed_notebooks(out_dir, quarter)
    try:
        done = notebooks_mod.execute_notebooks(quarter, qdir / "tables", tmp, synthetic, params,
                                               templates=templates, only=only,
                                               failed_dir=failed)
        (qdir / "notebooks").mkdir(exist_ok=True)
        out = []
        for nb in done:
            nb.chmod(0o644)
            os.replace(nb, qdir / "notebooks" / nb.name)
            (failed / nb.name).unlink(missing_ok=True)   # an earlier failure, now fixed
            out.append(qdir / "notebooks" / nb.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_quarters(out_dir: Path) -> list[str]:
    """The quarters of OUT that a run wrote (a ``manifest.json`` in ``OUT/<Q>/``)."""
    return sorted(p.parent.name for p in Path(out_dir).glob("20[0-9][0-9]Q[1-4]/manifest.json"))


def build_book_only(out_dir: Path, params: Mapping, quarter: str | None = None,
                    pdf: bool = True) -> Path:
    """The book built again from the executed notebooks and tables in OUT (nothing is
    recomputed); returns its HTML folder. Without ``quarter``: the whole book of every
    quarter in OUT, as publish's book phase (:func:`build_book_phase`, into ``OUT/book``,
    ``OUT/pdf``, open data). With ``quarter``: a preview of that quarter's pages and the
    written chapters in ``OUT/preview/<Q>/`` (the publication's own book untouched; kept
    between previews and built incrementally: :func:`book.build_preview`)."""
    out_dir = Path(out_dir)
    quarters = [str(Quarter.parse(str(quarter)))] if quarter else run_quarters(out_dir)
    if not quarters:
        raise InputError(f"{out_dir}: no quarter has been run into it (run `seuranta run "
                         "--quarter Q` or `seuranta publish` first)")
    manifest = _run_manifest(out_dir, max(quarters))
    synthetic = bool(manifest.get("synthetic"))
    params = pin_publication_date(params)
    clean_stale(out_dir)
    with fixed_environment(params):
        if quarter is None:
            build_book_phase(out_dir, quarters, synthetic, params, pdf)
            return out_dir / "book" / "_build" / "html"
        target = out_dir / "preview" / quarters[0]
        html = book.build_preview(out_dir, quarters[0], synthetic, params, target, pdf=pdf)
        publishable_modes(target)
        return html
