"""A content-addressed cache of the publication's steps, kept in ``OUT/.cache/``.

Each step (``register``, ``statistics-<Q>``, ``quarter-<Q>``, ``notebooks-<Q>``, ``costs``,
``book``) has a key: the sha256 of everything its outputs are made from (content hashes of
the input files and of the earlier steps' outputs, the parameter values, the code version,
the package versions). Its entry, ``OUT/.cache/<step>.json``, records the key and the sha256 of every
output file as it was when the step had completed. A step is skipped only when

* the entry exists, is valid JSON of this format and has the same key, and
* the step's output folders hold exactly the files the entry records, with the same
  sha256 (an output edited, removed or added since makes a miss).

An entry is written (atomically: a temporary file renamed over it) only after the step's
outputs are in place, and removed before a step replaces them; a run killed at any point
therefore leaves either no entry or one whose output hashes no longer match, which is a
miss. A wrong hit is worse than a miss: keys err on the side of including too much.

The steps that ran and those that were reused are listed in :attr:`StepCache.steps` and
written to ``OUT/.cache/last-run.json`` at the end of a publish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from seuranta.core.provenance import file_sha256

log = logging.getLogger(__name__)

CACHE_DIR = ".cache"
FORMAT = "seuranta-cache/1"
LAST_RUN = "last-run.json"
#: Files and folders never part of a package's or template folder's code version.
NOT_CODE = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def digest(obj) -> str:
    """sha256 of a JSON-able value in a canonical form (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_hashes(path: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """Relative path → sha256 of every file under ``path`` (a file: its own hash under
    ``""``; missing: empty). ``skip``: names of files or folders left out at any depth."""
    path = Path(path)
    skip = set(skip)
    if path.is_file():
        return {"": file_sha256(path)}
    if not path.is_dir():
        return {}
    out = {}
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for f in sorted(files):
            if f not in skip:
                p = Path(root) / f
                out[p.relative_to(path).as_posix()] = file_sha256(p)
    return dict(sorted(out.items()))


def code_version(*folders: Path) -> str:
    """One hash of every source file of ``folders`` (the package, templates, book
    sources): any edit of a file changes it, whatever git says."""
    return digest([tree_hashes(f, NOT_CODE) for f in folders])


class StepCache:
    """The entries of ``out_dir/.cache``; ``enabled=False`` (``publish --no-cache``) never
    reuses an entry but still records what it makes."""

    def __init__(self, out_dir: Path, enabled: bool = True):
        self.root = Path(out_dir) / CACHE_DIR
        self.enabled = enabled
        self.steps: list[tuple[str, str]] = []

    def _entry(self, step: str) -> Path:
        return self.root / f"{step}.json"

    def lookup(self, step: str, key: str, outputs: Mapping[str, Path]) -> bool:
        """True (and the step recorded as ``cached``) when the entry of ``step`` has
        ``key`` and the ``outputs`` (name → file or folder) are exactly as recorded."""
        if not self.enabled:
            return False
        p = self._entry(step)
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("%s: unreadable cache entry, step run again (%s)", p, e)
            return False
        if not isinstance(entry, dict) or entry.get("format") != FORMAT \
                or entry.get("key") != key or not isinstance(entry.get("outputs"), dict):
            return False
        recorded = entry["outputs"]
        if set(recorded) != set(outputs):
            return False
        for name, path in outputs.items():
            if not Path(path).exists() or tree_hashes(path) != recorded[name]:
                log.info("cache %s: %s differs from what the step made: run again", step, path)
                return False
        self.steps.append((step, "cached"))
        log.info("cache %s: unchanged, reused", step)
        return True

    def forget(self, step: str) -> None:
        """Remove the entry of ``step`` (before its outputs are replaced)."""
        self._entry(step).unlink(missing_ok=True)

    def store(self, step: str, key: str, outputs: Mapping[str, Path], ran: bool = True
              ) -> None:
        """Record ``step`` as made with ``key``, with the hashes of its ``outputs`` as they
        are now (call it only once they are complete and in place). ``ran=False``: the
        outputs of a reused step recorded again after they were moved (not a run)."""
        if ran:
            self.steps.append((step, "ran"))
        self._write(self._entry(step), {"format": FORMAT, "step": step, "key": key,
                                        "outputs": {n: tree_hashes(p)
                                                    for n, p in sorted(outputs.items())}})

    def write_ledger(self) -> Path:
        """``OUT/.cache/last-run.json``: each step of the run and whether it ``ran`` or
        was ``cached``."""
        p = self.root / LAST_RUN
        self._write(p, {"steps": [{"step": s, "status": st} for s, st in self.steps]})
        return p

    def _write(self, path: Path, obj) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(obj, f, sort_keys=True, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
