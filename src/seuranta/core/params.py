"""Method parameters: reads ``parameters.yml`` (one file, one section per stage)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from seuranta.core.errors import InputError

PROJECT_DIR = Path(__file__).resolve().parents[3]
DEFAULT_PARAMS = PROJECT_DIR / "parameters.yml"


def load_params(path: Path | str | None = None) -> dict:
    """Read the parameters file; the path and hash are kept under ``_file`` and ``_sha256``."""
    p = Path(path) if path else DEFAULT_PARAMS
    if not p.is_file():
        raise InputError(f"parameters file not found: {p}")
    raw = p.read_bytes()
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a mapping of sections")
    data["_file"] = str(p)
    data["_sha256"] = hashlib.sha256(raw).hexdigest()
    return data
