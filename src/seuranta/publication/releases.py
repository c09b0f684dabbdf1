"""Releases: what each publication run made public, kept unchanged.

``write_release(out_dir, quarters, release_id)`` copies into ``OUT/releases/<release id>/``:

```
OUT/releases/<release id>/
  manifest.json              release_id, created (UTC), quarters, and the sha256 of every file
  <Q>/published/*.csv        the gate's published tables of every quarter (what all
                             artefacts of the release showed)
  <Q>/annex/*.xlsx           the quarter's Excel annexes
  <Q>/manifest.json          the quarter run's manifest (inputs, parameters, table hashes)
  pdf/*.pdf                  the working papers and the county pages, when built
```

A release is immutable: writing a release id that exists is refused
(:class:`~seuranta.core.errors.InputError`) when any published table would differ; when
they are all identical (re-running the same publication; PDFs and workbooks may differ in
their time stamps) the kept release is left as it was. Release ids sort in time: the default
(:func:`release_id`) is ``<newest quarter>-<extract date YYYYMMDD>``, e.g.
``2023Q4-20240215``; ``publication.release_id`` in the parameters overrides it.

The disclosure gate reads every earlier release's ``published/`` as cells a reader already
has (:func:`seuranta.publication.gate.prior_dirs`), so a later release cannot reveal by
difference what an earlier one suppressed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

from seuranta.core.errors import InputError
from seuranta.core.provenance import file_sha256
from seuranta.publication.published import PUBLISHED, RELEASES

MANIFEST = "manifest.json"


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


def _collect(out_dir: Path, quarters: list[str]) -> dict[str, Path]:
    """Release-relative path → source file."""
    out_dir = Path(out_dir)
    files: dict[str, Path] = {}
    for q in quarters:
        qdir = out_dir / q
        pub = qdir / PUBLISHED
        if not pub.is_dir():
            raise InputError(f"release: no published tables for {q}: {pub}")
        for p in sorted(pub.glob("*.csv")):
            files[f"{q}/{PUBLISHED}/{p.name}"] = p
        for p in sorted((qdir / "annex").glob("*.xlsx")):
            files[f"{q}/annex/{p.name}"] = p
        if (qdir / MANIFEST).is_file():
            files[f"{q}/{MANIFEST}"] = qdir / MANIFEST
    for p in sorted((out_dir / "pdf").glob("*.pdf")):
        files[f"pdf/{p.name}"] = p
    return files


def write_release(out_dir: Path, quarters: list[str], rid: str,
                  created: dt.datetime | None = None) -> Path:
    """Keep the release (see the module docstring); returns its folder."""
    out_dir = Path(out_dir)
    quarters = sorted(str(q) for q in quarters)
    files = _collect(out_dir, quarters)
    hashes = {rel: file_sha256(src) for rel, src in files.items()}
    target = release_dir(out_dir, rid)
    if target.exists():
        old = json.loads((target / MANIFEST).read_text(encoding="utf-8")) \
            if (target / MANIFEST).is_file() else {}
        def tables(h: dict) -> set:
            return {(k, v) for k, v in (h or {}).items() if f"/{PUBLISHED}/" in k}
        if tables(old.get("files")) == tables(hashes):
            return target   # the same numbers: a re-run of the release, kept as it was
        changed = sorted(tables(hashes) ^ tables(old.get("files")))
        raise InputError(f"release {rid} exists in {target} and is immutable: "
                         f"{len(changed)} published table(s) would change (first: "
                         f"{changed[0][0] if changed else '?'}); give a new "
                         "publication.release_id (or remove that folder if the release "
                         "was never made public)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{rid}-", dir=target.parent))
    try:
        for rel, src in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / rel)
        created = created or dt.datetime.now(dt.UTC)
        manifest = {"release_id": rid, "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "quarters": quarters, "files": hashes}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
        for p in tmp.rglob("*"):   # files read-only: kept as published
            if p.is_file():
                p.chmod(0o444)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
