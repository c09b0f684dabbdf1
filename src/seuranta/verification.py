"""Verification: a quarter re-run from its manifest (``seuranta verify --quarter``) and a
sealed release checked file by file (``seuranta verify-release``).

Both re-run with the parameter values their manifest recorded (never a parameters file read
again: it may have changed or moved); parameters given as well are used only when every
value is the recorded one (:func:`seuranta.core.provenance.recorded_params`), and the data
folder may be given (``--data``) when it moved: its input hashes decide whether it is the
same. A different code commit or package version is reported as a warning (the check still
runs: a difference it causes shows in the files).

``verify_release(folder)`` checks every file of a release folder against its seal
(``publication.releases``): edited, missing and extra files, exit 1 if any. With
``data_dir`` it also makes the whole publication again (``pipeline.publish`` into a
temporary folder, with the recorded parameter values, the recorded priors found beside the
release or in ``releases_dir`` and checked against their recorded hashes, the recorded
PDF choice and encoding) and compares the new release's files with the seal, file by file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from seuranta import pipeline
from seuranta.core.errors import InputError
from seuranta.core.provenance import (
    compare_files,
    compare_tables,
    extra_tables,
    git_commit,
    input_hashes,
    load_manifest,
    manifest_data_dir,
    package_versions,
    recorded_params,
    report_inputs,
    tool_versions,
)
from seuranta.core.quarters import Quarter
from seuranta.publication import releases
from seuranta.statistics.quarter import quarter_tables


def report_drift(manifest: dict, stream, pdf: bool = True) -> list[str]:
    """One ``warning:`` line for each difference between the code commit, package and tool
    versions a manifest recorded and this checkout's; returns the lines."""
    lines = []
    then = manifest.get("code") or {}
    now = git_commit()
    if then.get("commit") != now.get("commit"):
        lines.append(f"warning: code commit differs: recorded {then.get('commit')}, this "
                     f"checkout {now.get('commit')} (check out the recorded commit to "
                     "reproduce the files)")
    if now.get("dirty"):
        lines.append("warning: this checkout has uncommitted changes")
    if then.get("dirty"):
        lines.append("warning: the recorded run had uncommitted changes")
    for kind, recorded, current in (("package", manifest.get("packages"), package_versions()),
                                    ("tool", manifest.get("tools"),
                                     tool_versions(pdf) if manifest.get("tools") else {})):
        for name in sorted(recorded or {}):
            if name in current and (recorded or {})[name] != current[name]:
                lines.append(f"warning: {kind} {name} differs: recorded {recorded[name]}, "
                             f"here {current[name]}")
    for line in lines:
        print(line, file=stream)
    return lines


# --------------------------------------------------------------------------- a quarter

def verify_quarter(quarter: Quarter | str, out_dir: Path, stream=None,
                   data_dir: Path | None = None, given_params: dict | None = None) -> bool:
    """Re-run a quarter's tables from its manifest (recorded parameter values; ``data_dir``
    instead of the recorded folder when given) and compare them table by table; every
    published file of the quarter against the manifest's hashes."""
    stream = stream or sys.stdout
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    qdir = Path(out_dir) / str(quarter)
    manifest = load_manifest(qdir / "manifest.json", str(quarter), "seuranta run",
                             check_data=False)
    data_dir = manifest_data_dir(manifest, data_dir)
    params = recorded_params(manifest, given_params)
    report_drift(manifest, stream, pdf=False)
    ok = report_inputs(input_hashes(data_dir), manifest["inputs"], stream)
    with tempfile.TemporaryDirectory(prefix="seuranta-verify-") as tmp:
        tables = quarter_tables(quarter, data_dir, params, manifest.get("encoding", "utf-8"))
        pipeline.write_tables(tables, Path(tmp))
        ok = compare_tables(manifest["tables"], Path(tmp), qdir / "tables", stream) and ok
    ok = extra_tables(manifest["tables"], qdir / "tables", stream) and ok
    ok = compare_files(manifest.get("files"), qdir, stream) and ok
    print(f"{quarter}: {'all tables identical, every file unchanged' if ok else 'NOT identical'}",
          file=stream)
    return ok


# --------------------------------------------------------------------------- a release

def kind_of(rel: str) -> str:
    """The kind of a release file, for the summary lines (``html``, ``pdf``, ``published``,
    ``annex``, ``notebooks``, ``avoindata``, ``zip``, ``manifest``, ``costs``)."""
    parts = rel.split("/")
    if rel.endswith(".zip") and len(parts) == 1:
        return "zip"
    if parts[-1] == releases.MANIFEST:
        return "manifest"
    if parts[0] in ("html", "pdf", "avoindata", "costs"):
        return parts[0]
    return parts[1] if len(parts) > 2 else parts[0]


def _summary(paths, bad: set[str], stream, what: str) -> None:
    total, wrong = Counter(kind_of(p) for p in paths), Counter(kind_of(p) for p in bad)
    for kind in sorted(total):
        state = "all identical" if not wrong[kind] else f"{wrong[kind]} NOT identical"
        print(f"  {kind}: {total[kind]} files {what}, {state}", file=stream)


def check_folder(folder: Path, manifest: dict, stream) -> bool:
    """Mode (a): every file of the release folder against the seal; prints each
    difference, a summary per kind of file, and returns whether all are identical."""
    found = releases.check_release(folder, manifest)
    for rel, what in found:
        text = releases.FINDING[what]
        if rel == releases.MANIFEST:
            text = "DIFFERENT (edited after the release: its record does not match its seal)"
        print(f"{rel}: {text}", file=stream)
    print(f"files: {len(manifest['files'])} in the manifest, checked in {folder}:", file=stream)
    _summary(set(manifest["files"]) | {r for r, _ in found}, {r for r, _ in found}, stream,
             "checked")
    return not found


def _find_prior(entry: dict, where: Path) -> Path:
    rid = str(entry.get("release_id"))
    p = Path(where) / rid
    if not (p / releases.MANIFEST).is_file():
        raise InputError(f"{p}: missing: the release's gate treated release {rid} as known "
                         "(its published tables are needed to re-derive the suppression): "
                         "put it beside the release or give --releases FOLDER")
    return p


def rebuild(folder: Path, manifest: dict, data_dir: Path, params: dict, work: Path,
            releases_dir: Path | None, stream) -> Path:
    """Publish again into ``work`` from the seal (recorded parameters, priors, PDF choice,
    encoding); returns the new release's folder."""
    where = Path(releases_dir) if releases_dir is not None else Path(folder).resolve().parent
    out = Path(work)
    (out / releases.RELEASES).mkdir(parents=True, exist_ok=True)
    for entry in manifest.get("priors") or []:
        src = _find_prior(entry, where)
        problems = releases.check_prior(entry, src)
        if problems:
            raise InputError(f"{problems[0]} (the release recorded it as a prior)")
        (out / releases.RELEASES / src.name).symlink_to(src.resolve(), target_is_directory=True)
    print(f"re-publishing into {out} (recorded parameters, {len(manifest.get('priors') or [])} "
          f"prior release(s), {'with' if manifest.get('pdf') else 'without'} PDFs) ...",
          file=stream, flush=True)
    pipeline.publish(data_dir, out, params, pdf=bool(manifest.get("pdf", True)),
                     encoding=manifest.get("encoding", "utf-8"))
    return releases.release_dir(out, manifest["release_id"])


def compare_rebuilt(manifest: dict, rebuilt: dict, stream) -> bool:
    """Mode (b): the re-made release's files against the seal, file by file."""
    a, b = manifest["files"], rebuilt["files"]
    bad = set()
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            print(f"{rel}: DIFFERENT (not made by the re-run)", file=stream)
        elif rel not in a:
            print(f"{rel}: EXTRA (made by the re-run, not in the release)", file=stream)
        elif a[rel] != b[rel]:
            print(f"{rel}: DIFFERENT (the re-run made other bytes)", file=stream)
        else:
            continue
        bad.add(rel)
    if (manifest.get("priors") or []) != (rebuilt.get("priors") or []):
        print("priors: DIFFERENT (the re-run's gate saw other earlier releases)", file=stream)
        bad.add("manifest.json")
    print(f"re-run: {len(set(a) | set(b))} files compared with the manifest:", file=stream)
    _summary(set(a) | set(b), bad, stream, "re-made")
    return not bad


def verify_release(folder: Path, data_dir: Path | None = None, given_params: dict | None = None,
                   releases_dir: Path | None = None, keep: Path | None = None,
                   stream=None) -> bool:
    """Check a release (see the module docstring); True when every file is identical."""
    stream = stream or sys.stdout
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (give a release folder, "
                         "e.g. build/releases/<release id>)")
    manifest = releases.read_manifest(folder)
    rid = manifest.get("release_id") or folder.name
    print(f"release {rid}: {folder}", file=stream)
    ok = check_folder(folder, manifest, stream)
    if data_dir is None:
        if given_params is not None:
            raise InputError("--params is used only with --data (the re-run)")
        print(f"{rid}: {'every file identical to the manifest' if ok else 'NOT identical'}",
              file=stream)
        return ok
    if manifest.get("format") != releases.FORMAT:
        raise InputError(f"{folder / releases.MANIFEST}: made by an older version (no record "
                         "of parameters, inputs and priors): it can be checked without --data "
                         "only")
    if not Path(data_dir).is_dir():
        raise InputError(f"{data_dir}: data folder not found (--data names the folder of the "
                         "release's inputs)")
    params = recorded_params(manifest, given_params)
    report_drift(manifest, stream, pdf=bool(manifest.get("pdf", True)))
    if not report_inputs(input_hashes(data_dir), manifest["inputs"], stream):
        print(f"{rid}: NOT re-run: {data_dir} does not hold the release's inputs", file=stream)
        return False
    if keep is not None and Path(keep).exists() and any(Path(keep).iterdir()):
        raise InputError(f"{keep}: not empty (--keep names a new folder for the re-run)")
    tmp = None if keep is not None else tempfile.mkdtemp(prefix="seuranta-verify-release-")
    work = Path(keep) if keep is not None else Path(tmp)
    try:
        new = rebuild(folder, manifest, Path(data_dir), params, work, releases_dir, stream)
        same = compare_rebuilt(manifest, releases.read_manifest(new), stream)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ok = ok and same
    print(f"{rid}: {'every file identical, and made again identical' if ok else 'NOT identical'}",
          file=stream)
    return ok
