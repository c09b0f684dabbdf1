"""Provenance of a run: input hashes, parameters, code and package versions, table hashes,
the manifest file, and the table-by-table comparison that ``seuranta verify`` prints."""

from __future__ import annotations

import hashlib
import io
import json
import platform
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

from seuranta import __version__
from seuranta.core.errors import InputError, writing
from seuranta.core.params import PROJECT_DIR, Params, validate
from seuranta.core.quarters import TIME_ZONE
from seuranta.core.tables import canonical_csv, read_text, table_hash

#: Packages whose versions every manifest records.
RECORDED_PACKAGES = [
    "pandas", "numpy", "duckdb", "pyarrow", "statsmodels", "scipy", "openpyxl",
    "matplotlib", "papermill", "jupytext", "jupyter-book", "myst-nb", "sphinx",
]


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
            for p in sorted(data_dir.rglob("*")) if p.is_file() and p.name not in NOT_INPUTS}


#: Files of a data folder that are not inputs: the review key (a secret, and created by
#: ``seuranta review`` after a run) is never hashed into a manifest.
NOT_INPUTS = {".review_key"}


def extract_hash(data_dir: Path) -> str:
    """One sha256 of the data a review form's figures come from: every input file of the
    data folder (register files, population, deliveries, metadata) except corrections.csv,
    which the review round itself writes. A form signed on one extract does not verify on
    another (seuranta.review.signing)."""
    hashes = {k: v for k, v in input_hashes(data_dir).items() if k != "corrections.csv"}
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode("utf-8")).hexdigest()


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


def params_name(params: dict) -> str | None:
    """The name (not the path) of the parameters file of a run."""
    if params.get("_name"):
        return str(params["_name"])
    return Path(params["_file"]).name if params.get("_file") else None


def params_values(params: dict) -> dict:
    """Every parameter value (defaults filled in) as JSON reads it back: what a manifest
    records and a re-run uses."""
    return json.loads(json.dumps({k: v for k, v in params.items() if not k.startswith("_")},
                                 default=str))


#: Programs outside Python whose output is published: (name, version command). xelatex
#: and latexmk make the PDFs, latex and dvisvgm the book's formulas.
RECORDED_TOOLS = [("xelatex", ["xelatex", "--version"]), ("latexmk", ["latexmk", "-v"]),
                  ("latex", ["latex", "--version"]), ("dvisvgm", ["dvisvgm", "--version"])]


def tool_versions(pdf: bool = True) -> dict[str, str | None]:
    """The first line of each recorded tool's version (None when it is not installed);
    without PDFs, only the book's tools."""
    out = {}
    for name, cmd in RECORDED_TOOLS:
        if not pdf and name in ("xelatex", "latexmk"):
            continue
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
        except (OSError, subprocess.SubprocessError):
            out[name] = None
            continue
        lines = [ln.strip() for ln in (r.stdout or r.stderr).splitlines() if ln.strip()]
        out[name] = lines[0] if lines else None
    return out


def provenance(params: dict) -> dict:
    """What every manifest records about a run besides inputs and tables: the parameters
    (the file's name and sha256, every value), the code version, the package versions and
    the time zone of every date (:data:`seuranta.core.quarters.TIME_ZONE`). No path: a
    manifest is the same wherever the run was made."""
    return {
        "time_zone": TIME_ZONE,
        "parameters": {"file": params_name(params), "sha256": params.get("_sha256"),
                       "values": params_values(params)},
        "code": {"seuranta": _own_version(), **git_commit()},
        "packages": package_versions(),
    }


def table_hashes(tables_dir: Path) -> dict[str, str]:
    """The canonical hash of every ``*.csv`` table of a folder, by table name."""
    return {p.stem: table_hash(p) for p in sorted(Path(tables_dir).glob("*.csv"))}


#: Notebook metadata that changes from one execution to the next (not content).
VOLATILE_NOTEBOOK_METADATA = ("papermill", "widgets", "execution")


def notebook_sha256(path: Path) -> str:
    """sha256 of an executed notebook in a canonical form: the JSON with sorted keys and
    without run-time metadata (papermill's, execution times, widget state), so that the
    same cells, sources and outputs give the same hash."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in VOLATILE_NOTEBOOK_METADATA:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        for key in VOLATILE_NOTEBOOK_METADATA:
            cell.get("metadata", {}).pop(key, None)
    text = json.dumps(nb, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _published_files(folder: Path) -> list[Path]:
    """Every file of a run's folder that the manifest hashes as a file: all but the
    manifest itself and the ``tables/*.csv`` (hashed as tables, independent of row order)."""
    folder = Path(folder)
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "manifest.json" and p.parent == folder:
            continue
        if p.parent == folder / "tables" and p.suffix == ".csv":
            continue
        out.append(p)
    return out


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every published file of a run's folder (annexes, notebooks, published
    tables, ...), by path relative to it; notebooks in :func:`notebook_sha256`'s form."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): (notebook_sha256(p) if p.suffix == ".ipynb"
                                         else file_sha256(p))
            for p in _published_files(folder)}


def compare_files(expected: dict[str, str] | None, folder: Path, stream) -> bool:
    """Every published file against the manifest: ``path: identical``, ``DIFFERENT
    (edited after the run)``, ``DIFFERENT (missing)`` or ``EXTRA (not in the manifest)``;
    extra tables in ``tables/`` are reported too."""
    folder = Path(folder)
    if expected is None:
        print("files: NOT checked (the manifest records no file hashes: run again)",
              file=stream)
        return False
    now = file_hashes(folder)
    ok = True
    for name in sorted(set(expected) | set(now)):
        if name not in now:
            print(f"{name}: DIFFERENT (missing)", file=stream)
            ok = False
        elif name not in expected:
            print(f"{name}: EXTRA (not in the manifest)", file=stream)
            ok = False
        elif now[name] != expected[name]:
            print(f"{name}: DIFFERENT (edited after the run)", file=stream)
            ok = False
    print(f"files: {len(expected)} checked, {'all identical' if ok else 'NOT identical'}",
          file=stream)
    return ok


def extra_tables(expected: dict[str, str], tables_dir: Path, stream) -> bool:
    """False (and one line each) for ``tables/*.csv`` files that the manifest does not list."""
    extra = sorted(p.stem for p in Path(tables_dir).glob("*.csv") if p.stem not in expected)
    for name in extra:
        print(f"tables/{name}.csv: EXTRA (not in the manifest)", file=stream)
    return not extra


def dump_manifest(path: Path, manifest: dict) -> None:
    with writing(path):
        Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
                              + "\n", encoding="utf-8")


def _own_version() -> str:
    return __version__


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


def load_manifest(mpath: Path, what: str, how: str, check_data: bool = True) -> dict:
    """Read a run's manifest.json; ``what`` names the run, ``how`` the command making it.
    ``check_data``: the data folder it records must exist (see :func:`manifest_data_dir`
    for a data folder given instead)."""
    mpath = Path(mpath)
    if not mpath.is_file():
        raise InputError(f"no manifest for {what}: {mpath} (run `{how}` first)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{mpath}: not valid JSON ({e.msg})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{mpath}: not a manifest (expected a JSON object)")
    if check_data:
        manifest_data_dir(manifest)
    return manifest


def manifest_data_dir(manifest: dict, given: Path | str | None = None) -> Path:
    """The data folder to re-run from: ``given`` (``--data``: the folder moved, or another
    copy of the same inputs; the input hashes decide), else the one the manifest records."""
    recorded = manifest.get("data_dir")
    if given is None and not recorded:
        raise InputError("the manifest records no data folder: give --data DIR")
    data_dir = Path(given if given is not None else recorded)
    if not data_dir.is_dir():
        how = "" if given is not None else " (moved? give --data DIR)"
        raise InputError(f"data folder {'given' if given is not None else 'of the manifest'} "
                         f"is missing: {data_dir}{how}")
    return data_dir


def report_inputs(now: dict[str, str], then: dict[str, str], stream) -> bool:
    """Compare input hashes (name → sha256) with the manifest's; False and one line if any
    input changed, appeared or disappeared."""
    if now == then:
        return True
    changed = sorted(set(now.items()) ^ set(then.items()))
    print(f"inputs changed since the run: {', '.join(sorted({k for k, _ in changed}))}",
          file=stream)
    return False


def recorded_params(manifest: dict, given: dict | None = None) -> Params:
    """The parameters a manifest recorded, as the run had them: every value, the file's
    name and hash (never the file read again: it may have changed since, or be elsewhere).

    ``given``: parameters the user passed as well (``--params``); used only when every value
    is the recorded one, else refused with the first key that differs (a re-run with other
    values would not be a check of this one)."""
    rec = manifest.get("parameters") or {}
    if not isinstance(rec.get("values"), dict):
        raise InputError("the manifest records no parameter values (made by an older "
                         "version): run it again")
    params = validate(rec["values"], "the manifest's parameters")
    if given is not None:
        diff = first_difference(params_values(given), rec["values"])
        if diff is not None:
            raise InputError(f"--params {given.get('_file') or ''}: {diff} differs from the "
                             "value the manifest records; verification re-runs with the "
                             "recorded values (leave --params out)")
    params["_name"] = rec.get("file") or "parameters.yml"
    params["_sha256"] = rec.get("sha256")
    return params


def first_difference(a, b, where: str = "") -> str | None:
    """The first key path where two JSON values differ (``quality.low_ratio: 0.6 != 0.65``),
    None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            path = f"{where}.{k}" if where else str(k)
            if k not in a or k not in b:
                return f"{path}: {'missing' if k not in a else repr(a[k])} != " \
                       f"{'missing' if k not in b else repr(b[k])}"
            d = first_difference(a[k], b[k], path)
            if d is not None:
                return d
        return None
    return None if a == b else f"{where or 'value'}: {a!r} != {b!r}"


def manifest_params(manifest: dict, stream) -> tuple[dict, bool]:
    """(the parameters the manifest recorded, True): see :func:`recorded_params`."""
    return recorded_params(manifest), True


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
                print(_first_differences(read_text(published), read_text(rerun)),
                      file=stream)
    return ok

