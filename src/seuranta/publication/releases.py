"""Releases: what each publication run made public, kept unchanged and sealed.

``write_release(out_dir, quarters, release_id, record)`` copies every public file of the
publication into ``OUT/releases/<release id>/``:

```
OUT/releases/<release id>/
  manifest.json              the seal (below)
  <Q>/published/*.csv        the gate's published tables of every quarter (what all
                             artefacts of the release showed)
  <Q>/annex/*.xlsx           the quarter's Excel annexes
  <Q>/notebooks/*.ipynb      the quarter's executed notebooks (downloadable from the book)
  <Q>/manifest.json          the quarter run's record: inputs, parameters, code, packages
                             (no paths, no hashes of the exact tables)
  register/published/*.csv   the extract-wide published table (the row ledger), once
  costs/<year>/annex/*.xlsx, costs/<year>/notebooks/*.ipynb   the cost chapter, if any,
  costs/<year>/published/*.csv   and the gate's published cost tables
  pdf/*.pdf                  the working papers and the county pages, when built
  html/                      the HTML book as published
  avoindata/                 the open data (CSV, JSON-stat, datapackage.json)
  avoindata_<release id>.zip the open data as the book offers it
```

The seal, ``manifest.json``, records the sha256 of every other file (``files``), and what a
reviewer needs to make them again: the parameter *values*, the input hashes, the code commit,
the package versions, the time zone, locale and ``SOURCE_DATE_EPOCH``, and the gate's
``priors``: the earlier releases it treated as known to the reader, each with the hash of
its manifest and of every published table it read. It holds no path and no time but the
publication date, so the same inputs, code and packages give the same bytes
(``core.reproducible``); ``seuranta verify-release`` checks a release with it.

A release is immutable: writing a release id that exists is refused
(:class:`~seuranta.core.errors.InputError`) when any published table would differ; when
they are all identical (re-running the same publication) the kept release is left as it
was. :func:`check_kept_releases` refuses to go on when a kept release differs from its seal
(an edited, missing or extra file) or a release that a later one treated as known is gone
or changed: ``seuranta publish`` calls it before it reads any kept release. Release ids sort
in time: the default (:func:`release_id`) is ``<newest quarter>-<extract date YYYYMMDD>``,
e.g. ``2023Q4-20240215``; ``publication.release_id`` in the parameters overrides it.

The disclosure gate reads every earlier release's ``published/`` as cells a reader already
has (:func:`prior_dirs`), so a later release cannot reveal by difference what an earlier
one suppressed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from seuranta.core.errors import InputError
from seuranta.core.provenance import file_sha256
from seuranta.core.reproducible import json_text
from seuranta.publication.notebooks import newest_costs_notebook
from seuranta.publication.published import PUBLISHED, RELEASES, extract_published_dir

MANIFEST = "manifest.json"
#: Format of a sealed release's manifest (older releases have only files and quarters).
FORMAT = "seuranta-release/2"
#: Folders of a release: the HTML book and the open data.
HTML = "html"
OPEN_DATA = "avoindata"
#: Files of the HTML build that are not published: Sphinx's note for incremental builds.
NOT_PUBLISHED = {".buildinfo"}
#: Fields of a quarter run's manifest kept in the release (``<Q>/manifest.json``): no data
#: folder path, no hashes of the exact (unsuppressed) tables.
PUBLIC_QUARTER_FIELDS = ("quarter", "synthetic", "encoding", "inputs", "parameters", "code",
                         "packages")


def release_id(newest_quarter: str, extract_date: dt.date, params: dict | None = None) -> str:
    """``publication.release_id`` when set, else ``<newest quarter>-<YYYYMMDD>``."""
    given = ((params or {}).get("publication") or {}).get("release_id")
    if given:
        rid = str(given).strip()
        if not rid or "/" in rid or rid.startswith("."):
            raise InputError(f"parameters: publication.release_id is not a folder name: {given!r}")
        return rid
    return f"{newest_quarter}-{extract_date:%Y%m%d}"


def release_dir(out_dir: Path, rid: str) -> Path:
    return Path(out_dir) / RELEASES / rid


def kept_releases(out_dir: Path) -> list[Path]:
    """The kept release folders of OUT, oldest first (not the temporary ones)."""
    root = Path(out_dir) / RELEASES
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root.is_dir() else []


# --------------------------------------------------------------------------- what is public

def _tree(folder: Path, prefix: str) -> dict[str, Path]:
    return {f"{prefix}/{p.relative_to(folder).as_posix()}": p
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name not in NOT_PUBLISHED}


def public_files(out_dir: Path, quarters: list[str], rid: str) -> dict[str, Path]:
    """Release-relative path → source file of every public file of the publication in
    OUT (the quarter manifests are written by :func:`public_quarter_manifest`)."""
    out_dir = Path(out_dir)
    files: dict[str, Path] = {}
    for q in quarters:
        qdir = out_dir / q
        pub = qdir / PUBLISHED
        if not pub.is_dir():
            raise InputError(f"release: no published tables for {q}: {pub}")
        for p in sorted(pub.glob("*.csv")):
            files[f"{q}/{PUBLISHED}/{p.name}"] = p
        for sub, pattern in (("annex", "*.xlsx"), ("notebooks", "*.ipynb")):
            for p in sorted((qdir / sub).glob(pattern)):
                files[f"{q}/{sub}/{p.name}"] = p
    extract = extract_published_dir(out_dir)   # the extract's row ledger, once
    for p in sorted(extract.glob("*.csv")):
        files[f"{extract.parent.name}/{PUBLISHED}/{p.name}"] = p
    costs_nb = newest_costs_notebook(out_dir)
    if costs_nb is not None:
        year = costs_nb.parent.parent
        for sub, pattern in (("annex", "*.xlsx"), ("notebooks", "*.ipynb"),
                             (PUBLISHED, "*.csv")):
            for p in sorted((year / sub).glob(pattern)):
                files[f"costs/{year.name}/{sub}/{p.name}"] = p
    for p in sorted((out_dir / "pdf").glob("*.pdf")):
        files[f"pdf/{p.name}"] = p
    html = out_dir / "book" / "_build" / "html"
    if html.is_dir():
        files.update(_tree(html, HTML))
    if (out_dir / OPEN_DATA / rid).is_dir():
        files.update(_tree(out_dir / OPEN_DATA / rid, OPEN_DATA))
    zipped = out_dir / "book" / f"{OPEN_DATA}_{rid}.zip"
    if zipped.is_file():
        files[zipped.name] = zipped
    return files


def public_quarter_manifest(qdir: Path) -> dict | None:
    """The quarter run's manifest as the release keeps it (:data:`PUBLIC_QUARTER_FIELDS`),
    None when the quarter has none."""
    p = Path(qdir) / MANIFEST
    if not p.is_file():
        return None
    m = json.loads(p.read_text(encoding="utf-8"))
    return {k: m[k] for k in PUBLIC_QUARTER_FIELDS if k in m}


# --------------------------------------------------------------------------- priors

def prior_dirs(out_dir: Path, rid: str | None) -> list[Path]:
    """The published folders of every kept release but ``rid`` (the release being made:
    re-running it changes nothing): what the gate treats as known to the reader."""
    return [p for r in kept_releases(out_dir) if r.name != rid
            for p in sorted(r.glob(f"*/{PUBLISHED}"))]


def prior_record(out_dir: Path, rid: str | None) -> list[dict]:
    """The seal's ``priors``: each kept release but ``rid`` with the sha256 of its manifest
    and of every published table the gate read from it."""
    out = []
    for r in kept_releases(out_dir):
        if r.name == rid:
            continue
        tables = {p.relative_to(r).as_posix(): file_sha256(p)
                  for p in sorted(r.glob(f"*/{PUBLISHED}/*.csv"))}
        man = r / MANIFEST
        out.append({"release_id": r.name,
                    "manifest_sha256": file_sha256(man) if man.is_file() else None,
                    "published": tables})
    return out


def check_prior(entry: dict, folder: Path) -> list[str]:
    """How a prior release folder differs from what a seal recorded of it (empty: same)."""
    folder = Path(folder)
    problems = []
    man = folder / MANIFEST
    if entry.get("manifest_sha256") and (not man.is_file()
                                         or file_sha256(man) != entry["manifest_sha256"]):
        problems.append(f"{man}: differs from the hash recorded when it was a prior")
    now = {p.relative_to(folder).as_posix() for p in folder.glob(f"*/{PUBLISHED}/*.csv")}
    for rel in sorted(set(entry.get("published") or {}) | now):
        p = folder / rel
        if rel not in (entry.get("published") or {}):
            problems.append(f"{p}: extra (not a published table of this release then)")
        elif not p.is_file():
            problems.append(f"{p}: missing")
        elif file_sha256(p) != entry["published"][rel]:
            problems.append(f"{p}: edited (differs from the hash recorded then)")
    return problems


# --------------------------------------------------------------------------- checking

def read_manifest(folder: Path) -> dict:
    """A release's manifest (one-line InputError when missing or not a release's)."""
    p = Path(folder) / MANIFEST
    if not p.is_file():
        raise InputError(f"{p}: missing (not a release folder, or its manifest was removed)")
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{p}: not a release manifest (not valid JSON: {e})") from None
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
        raise InputError(f"{p}: not a release manifest (no files)")
    return m


def check_release(folder: Path, manifest: dict | None = None) -> list[tuple[str, str]]:
    """Every file of a release folder against its manifest: (relative path, ``edited`` |
    ``missing`` | ``extra``), sorted; empty when the folder is as sealed."""
    folder = Path(folder)
    manifest = manifest if manifest is not None else read_manifest(folder)
    expected = manifest["files"]
    sealed = "seal" not in manifest or manifest["seal"] == seal_of(manifest)
    now = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
           if (p.is_file() or p.is_symlink()) and p.relative_to(folder).as_posix() != MANIFEST}
    out = []
    for rel in sorted(set(expected) | set(now)):
        if rel not in now:
            out.append((rel, "missing"))
        elif rel not in expected:
            out.append((rel, "extra"))
        elif not now[rel].is_file() or file_sha256(now[rel]) != expected[rel]:
            out.append((rel, "edited"))
    return ([] if sealed else [(MANIFEST, "edited")]) + out


def seal_of(manifest: dict) -> str:
    """The manifest's ``seal``: the sha256 of the manifest without it (an edited value of
    the record is found even when the JSON stays valid)."""
    rest = {k: v for k, v in manifest.items() if k != "seal"}
    return hashlib.sha256(json_text(rest, indent=2).encode("utf-8")).hexdigest()


#: What each finding of :func:`check_release` says.
FINDING = {"edited": "DIFFERENT (edited after the release: its sha256 is not the manifest's)",
           "missing": "DIFFERENT (missing)",
           "extra": "EXTRA (not in the manifest)"}


def check_kept_releases(out_dir: Path) -> list[Path]:
    """Every kept release of OUT against its seal, and every prior that a kept release
    recorded against that release as it is now; the first difference raises a one-line
    InputError naming the file. Returns the releases checked."""
    kept = kept_releases(out_dir)
    by_id = {r.name: r for r in kept}
    for r in kept:
        manifest = read_manifest(r)
        found = check_release(r, manifest)
        if found:
            rel, what = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise InputError(f"{r / rel}: {what}: kept release {r.name} differs from its "
                             f"manifest{more}; a release is immutable: restore it as published "
                             f"(`seuranta verify-release {r}` lists every difference)")
        for entry in manifest.get("priors") or []:
            prior = by_id.get(entry.get("release_id"))
            if prior is None:
                raise InputError(f"{Path(out_dir) / RELEASES / str(entry.get('release_id'))}: "
                                 f"missing: release {r.name} was made with it as known to the "
                                 "reader (its gate protected against it); restore it")
            problems = check_prior(entry, prior)
            if problems:
                raise InputError(f"{problems[0]} (release {r.name} recorded it as a prior)")
    return kept


# --------------------------------------------------------------------------- writing

def write_release(out_dir: Path, quarters: list[str], rid: str,
                  record: dict | None = None) -> Path:
    """Keep and seal the release (see the module docstring); returns its folder.

    ``record``: what the seal records besides the files (the pipeline's
    ``release_record``: parameters, inputs, code, packages, environment, priors)."""
    out_dir = Path(out_dir)
    quarters = sorted(str(q) for q in quarters)
    files = public_files(out_dir, quarters, rid)
    target = release_dir(out_dir, rid)
    if target.exists():
        old = read_manifest(target)

        def tables(h: dict) -> set:
            return {(k, v) for k, v in (h or {}).items() if f"/{PUBLISHED}/" in k
                    and not k.startswith(f"{HTML}/")}
        new = {rel: file_sha256(src) for rel, src in files.items()}
        if tables(old.get("files")) == tables(new):
            return target   # the same numbers: a re-run of the release, kept as it was
        changed = sorted(tables(new) ^ tables(old.get("files")))
        raise InputError(f"release {rid} exists in {target} and is immutable: "
                         f"{len(changed)} published table(s) would change (first: "
                         f"{changed[0][0] if changed else '?'}); give a new "
                         "publication.release_id (or remove that folder if the release "
                         "was never made public)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-{rid}-", dir=target.parent))
    try:
        for rel, src in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / rel)
        for q in quarters:
            m = public_quarter_manifest(out_dir / q)
            if m is not None:
                (tmp / q / MANIFEST).write_text(json_text(m, indent=2) + "\n", encoding="utf-8")
        hashes = {p.relative_to(tmp).as_posix(): file_sha256(p)
                  for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {"format": FORMAT, "release_id": rid, "quarters": quarters,
                    **(record or {}), "files": hashes}
        manifest["seal"] = seal_of(manifest)
        (tmp / MANIFEST).write_text(json_text(manifest, indent=2) + "\n", encoding="utf-8")
        for p in tmp.rglob("*"):   # files read-only: kept as published
            p.chmod(0o755 if p.is_dir() else 0o444)
        tmp.chmod(0o755)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
