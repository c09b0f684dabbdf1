"""The whole run of one quarter, the publication of every quarter, and verification.

``run_quarter`` chains the stages (register → statistics → notebooks → annexes →
manifest) into a temporary folder beside ``OUT/<quarter>`` and swaps it in only when
everything is written, so an interrupted or failed run leaves the previous publication as
it was. ``verify`` re-runs the tables of a quarter from its manifest into a temporary
folder and compares them, table by table, with the published ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

from .errors import InputError
from .params import PROJECT_DIR, load_params
from .quarters import Quarter, last_complete_quarter, quarter_range

#: Packages whose versions every manifest records.
RECORDED_PACKAGES = [
    "pandas", "numpy", "duckdb", "pyarrow", "statsmodels", "scipy", "openpyxl",
    "matplotlib", "papermill", "jupytext", "jupyter-book", "myst-nb", "sphinx",
]

#: Tables that are not tied to one quarter (kept whole in every quarter's folder).
QUARTER_INDEPENDENT = {"ledger", "rejected", "flags"}


# --------------------------------------------------------------------------- inputs

def data_metadata(data_dir: Path) -> dict:
    """The data folder's metadata.json (demo data), or an empty dict for real extracts."""
    p = Path(data_dir) / "metadata.json"
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{p}: not valid JSON ({e.msg})") from None


def is_synthetic(data_dir: Path) -> bool:
    return bool(data_metadata(data_dir).get("synthetic", False))


def extract_date(data_dir: Path, params: dict) -> dt.date:
    """Extract date: metadata.json's, else parameters.yml register.extract_date."""
    value = data_metadata(data_dir).get("extract_date") or (
        params.get("register") or {}).get("extract_date")
    if not value:
        raise InputError("no extract date: set register.extract_date in parameters.yml "
                         "or extract_date in the data folder's metadata.json")
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"extract date is not a date (YYYY-MM-DD): {value!r}") from None


def publication_quarters(data_dir: Path, params: dict) -> list[Quarter]:
    """From parameters' first_quarter to the newest quarter complete at the extract date."""
    first = Quarter.parse(params["publication"]["first_quarter"])
    last = last_complete_quarter(extract_date(data_dir, params))
    return quarter_range(first, last)


def check_quarter(quarter: Quarter, data_dir: Path, params: dict) -> None:
    quarters = publication_quarters(data_dir, params)
    if quarter not in quarters:
        raise InputError(f"quarter {quarter} is outside the data's quarters "
                         f"{quarters[0]}..{quarters[-1]}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_hashes(data_dir: Path) -> dict[str, str]:
    """sha256 of every file in the data folder, by relative path."""
    data_dir = Path(data_dir)
    return {str(p.relative_to(data_dir)): file_sha256(p)
            for p in sorted(data_dir.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- tables

def canonical_csv(df: pd.DataFrame) -> bytes:
    """A canonical text form of a table: every value as text, rows sorted, LF endings."""
    d = df.astype("string").fillna("")
    d = d.sort_values(list(d.columns), kind="mergesort").reset_index(drop=True)
    buf = io.StringIO()
    d.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def table_hash(path: Path) -> str:
    return hashlib.sha256(canonical_csv(read_table(path))).hexdigest()


def tables_for_quarter(all_tables: dict[str, pd.DataFrame], quarter: Quarter
                       ) -> dict[str, pd.DataFrame]:
    """Cut the register stage's all-quarter frames down to what quarter Q publishes.

    Quarter tables keep the rows of Q; ``series_*`` tables keep every quarter up to Q;
    ``year_counts`` keeps the calendar years complete by Q; ledger, rejected rows and
    flags describe the whole extract and are kept whole.
    """
    q = str(quarter)
    out = {}
    for name, df in all_tables.items():
        if name in QUARTER_INDEPENDENT:
            out[name] = df
        elif name.startswith("series_"):
            out[name] = df[df["quarter"].astype(str) <= q].reset_index(drop=True)
        elif name == "year_counts":
            last_full_year = quarter.year if quarter.q == 4 else quarter.year - 1
            out[name] = df[df["year"].astype(int) <= last_full_year].reset_index(drop=True)
        elif "quarter" in df.columns:
            out[name] = df[df["quarter"].astype(str) == q].reset_index(drop=True)
        else:
            out[name] = df
    return out


def write_tables(tables: dict[str, pd.DataFrame], tables_dir: Path) -> None:
    """Every table as ``<name>.csv``, except the register stage's internal intermediates."""
    from .register import INTERNAL_TABLES, _write_csv

    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, df in sorted(tables.items()):
        if name not in INTERNAL_TABLES:
            _write_csv(df, tables_dir / f"{name}.csv")


# --------------------------------------------------------------------------- provenance

def git_commit() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True,
                              text=True, check=False).stdout.strip()
    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit or None, "dirty": dirty}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(params: dict) -> dict:
    """What every manifest records about a run besides inputs and tables: the parameters
    file (path, sha256, values), the code version and the package versions."""
    return {
        "parameters": {"file": params.get("_file"), "sha256": params.get("_sha256"),
                       "values": {k: v for k, v in params.items() if not k.startswith("_")}},
        "code": {"seuranta": _own_version(), **git_commit()},
        "packages": package_versions(),
    }


def table_hashes(tables_dir: Path) -> dict[str, str]:
    """The canonical hash of every ``*.csv`` table of a folder, by table name."""
    return {p.stem: table_hash(p) for p in sorted(Path(tables_dir).glob("*.csv"))}


def dump_manifest(path: Path, manifest: dict) -> None:
    Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
                          + "\n", encoding="utf-8")


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


def _own_version() -> str:
    from . import __version__
    return __version__


# --------------------------------------------------------------------------- running

def compute_tables(quarter: Quarter, data_dir: Path, params: dict, encoding: str = "utf-8",
                   register_tables: dict[str, pd.DataFrame] | None = None
                   ) -> dict[str, pd.DataFrame]:
    """Register stage + statistics stage for one quarter: every table of tables/."""
    from . import register, stats

    from . import feedback

    if register_tables is None:
        quarters = quarter_range(Quarter.parse(params["publication"]["first_quarter"]), quarter)
        register_tables = register.run_register_stage(Path(data_dir), quarters, params,
                                                      encoding=encoding)
    tables = tables_for_quarter(register_tables, quarter)
    tables.update(stats.run_statistics_stage(tables, Path(data_dir), params))
    # review-round decisions: each one listed with its effect on the estimates
    tables.update(feedback.corrections_tables(quarter, Path(data_dir), params,
                                              register_tables=register_tables, corrected=tables))
    return tables


def _atomic_swap(tmp: Path, target: Path) -> None:
    old = target.parent / f".old-{target.name}-{os.getpid()}"
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)


def clean_stale(out_dir: Path) -> None:
    """Remove temporary folders that an interrupted run left behind."""
    for p in Path(out_dir).glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in Path(out_dir).glob(".old-*"):
        shutil.rmtree(p, ignore_errors=True)


def run_quarter(quarter: Quarter | str, data_dir: Path, out_dir: Path, params: dict | None = None,
                encoding: str = "utf-8", notebooks: bool = True, annex: bool = True,
                register_tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Run one quarter into OUT/<quarter>/ atomically; returns that folder."""
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    params = params or load_params()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    check_quarter(quarter, data_dir, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / str(quarter)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{quarter}-", dir=out_dir))
    try:
        tables = compute_tables(quarter, data_dir, params, encoding, register_tables)
        write_tables(tables, tmp / "tables")
        synthetic = is_synthetic(data_dir)
        if notebooks:
            from . import publish
            publish.execute_notebooks(str(quarter), tmp / "tables", tmp / "notebooks", synthetic)
        if annex:
            try:
                from . import annex as annex_mod
            except ImportError:
                annex_mod = None
            if annex_mod is not None:
                annex_mod.write_annexes(quarter, tmp / "tables", tmp / "annex", synthetic, params)
        write_manifest(tmp, quarter, data_dir, params, encoding)
        _atomic_swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def publish(data_dir: Path, out_dir: Path, params: dict | None = None, scale: float = 0.05,
            seed: int | None = None, pdf: bool = True, encoding: str = "utf-8") -> list[Path]:
    """The main job: demo data if none, every quarter, annexes, the book in HTML and PDF."""
    from . import publish as book, register

    params = params or load_params()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not (data_dir / "register").exists():
        from . import demo
        print(f"no register in {data_dir}: generating demo data (scale {scale})", flush=True)
        kwargs = {"scale": scale} if seed is None else {"scale": scale, "seed": seed}
        demo.generate(data_dir, **kwargs)
    quarters = publication_quarters(data_dir, params)
    clean_stale(out_dir)
    all_tables = register.run_register_stage(data_dir, quarters, params, encoding=encoding)
    done = []
    for q in quarters:
        print(f"quarter {q} ...", flush=True)
        done.append(run_quarter(q, data_dir, out_dir, params, encoding=encoding,
                                register_tables=all_tables))
    run_costs_chapter(data_dir, out_dir, params, quarters)
    book.build_book(out_dir, [str(q) for q in quarters], is_synthetic(data_dir), pdf=pdf)
    return done


def run_costs_chapter(data_dir: Path, out_dir: Path, params: dict, quarters: list[Quarter]
                      ) -> Path | None:
    """Sote-tietopaketit: the newest cost year whose four quarters are published.

    Writes OUT/costs/<year>/ (tables, annex) and executes the chapter notebook into
    OUT/costs/<year>/notebooks/; returns that folder, or None without a cost ledger.
    """
    from . import costs, publish as book

    full_years = {q.year for q in quarters if q.q == 4 and Quarter(q.year, 1) in quarters}
    years = [y for y in costs.ledger_years(data_dir) if y in full_years]
    if not years:
        return None
    year = max(years)
    print(f"costs {year} ...", flush=True)
    target = costs.run_and_write(year, data_dir, out_dir, params)
    book.execute_costs_notebook(year, target / "tables", target / "notebooks",
                                is_synthetic(data_dir))
    return target


# --------------------------------------------------------------------------- verify

def _first_differences(a: pd.DataFrame, b: pd.DataFrame, limit: int = 5) -> str:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    ca = pd.read_csv(io.BytesIO(canonical_csv(a)), dtype=str, keep_default_na=False)
    cb = pd.read_csv(io.BytesIO(canonical_csv(b)), dtype=str, keep_default_na=False)
    merged = ca.merge(cb, how="outer", indicator=True)
    only = merged[merged["_merge"] != "both"].head(limit)
    lines = [f"rows: published {len(ca)}, re-run {len(cb)}"]
    for row in only.itertuples(index=False):
        side = "published only" if row[-1] == "left_only" else "re-run only"
        lines.append(f"  {side}: " + ",".join(str(v) for v in row[:-1]))
    return "\n".join(lines)


def load_manifest(mpath: Path, what: str, how: str) -> dict:
    """Read a run's manifest.json; ``what`` names the run, ``how`` the command making it."""
    mpath = Path(mpath)
    if not mpath.is_file():
        raise InputError(f"no manifest for {what}: {mpath} (run `{how}` first)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{mpath}: not valid JSON ({e.msg})") from None
    data_dir = Path(manifest["data_dir"])
    if not data_dir.is_dir():
        raise InputError(f"data folder of the manifest is missing: {data_dir}")
    return manifest


def report_inputs(now: dict[str, str], then: dict[str, str], stream) -> bool:
    """Compare input hashes (name → sha256) with the manifest's; False and one line if any
    input changed, appeared or disappeared."""
    if now == then:
        return True
    changed = sorted(set(now.items()) ^ set(then.items()))
    print(f"inputs changed since the run: {', '.join(sorted({k for k, _ in changed}))}",
          file=stream)
    return False


def manifest_params(manifest: dict, stream) -> tuple[dict, bool]:
    """(the manifest's parameters file read again, whether its hash is unchanged)."""
    params = load_params(manifest["parameters"]["file"])
    if params["_sha256"] != manifest["parameters"]["sha256"]:
        print(f"parameters file changed since the run: {params['_file']}", file=stream)
        return params, False
    return params, True


def compare_tables(expected: dict[str, str], rerun_dir: Path, published_dir: Path,
                   stream) -> bool:
    """Table by table: the re-run (``rerun_dir``) against the manifest's hashes, and the
    published file against them; prints ``name: identical`` or ``name: DIFFERENT (...)``."""
    rerun_dir, published_dir = Path(rerun_dir), Path(published_dir)
    ok = True
    for name in sorted(set(expected) | {p.stem for p in rerun_dir.glob("*.csv")}):
        rerun = rerun_dir / f"{name}.csv"
        published = published_dir / f"{name}.csv"
        if name not in expected:
            print(f"{name}: DIFFERENT (not in the manifest)", file=stream)
            ok = False
        elif not rerun.is_file():
            print(f"{name}: DIFFERENT (not produced by the re-run)", file=stream)
            ok = False
        elif table_hash(rerun) == expected[name]:
            if not published.is_file():
                print(f"{name}: DIFFERENT (published file missing)", file=stream)
                ok = False
            elif table_hash(published) != expected[name]:
                print(f"{name}: DIFFERENT (published file edited after the run)", file=stream)
                ok = False
            else:
                print(f"{name}: identical", file=stream)
        else:
            ok = False
            print(f"{name}: DIFFERENT", file=stream)
            if published.is_file():
                print(_first_differences(read_table(published), read_table(rerun)),
                      file=stream)
    return ok


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
        tables = compute_tables(quarter, data_dir, params, manifest.get("encoding", "utf-8"))
        write_tables(tables, Path(tmp))
        ok = compare_tables(manifest["tables"], Path(tmp), qdir / "tables", stream) and ok
    print(f"{quarter}: {'all tables identical' if ok else 'NOT identical'}", file=stream)
    return ok
