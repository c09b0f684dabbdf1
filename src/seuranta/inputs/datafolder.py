"""Facts about a data folder: its metadata, extract date and the quarters it can publish.

The data folder is described in docs/data-contract.md.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter, last_complete_quarter, quarter_range


def data_metadata(data_dir: Path) -> dict:
    """The data folder's metadata.json (demo data), or an empty dict for real extracts."""
    p = Path(data_dir) / "metadata.json"
    if not p.is_file():
        return {}
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{p}: not valid JSON ({e.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    if not isinstance(meta, dict):
        got = json.dumps(meta)[:20]
        raise InputError(f"{p}: expected a JSON object {{...}}, got {got}")
    return meta


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

