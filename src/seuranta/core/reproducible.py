"""Reproducible bytes: the same inputs, code and packages give the same files on another
machine and another day.

A publication is built in a fixed environment (:func:`fixed_environment`): the time zone
:data:`TIME_ZONE`, the locale :data:`LOCALE`, ``PYTHONHASHSEED=0`` for every child process
(Sphinx, the notebook kernels: set iteration order reaches the search index and tables), and
``SOURCE_DATE_EPOCH`` = noon of the publication date in :data:`TIME_ZONE`, with
``FORCE_SOURCE_DATE=1`` so that XeTeX and xdvipdfmx put that time (and an ID derived from
it) into every PDF instead of the build time. Noon: the date is the same in every time zone
a tool may print it in.

The publication date is a parameter (``publication.date``); a run without one pins the
date it starts on into its parameters (:func:`pin_publication_date`), so the manifest
records the date every file shows and a re-run uses it.

Archives are written entry by entry in name order with that date and fixed modes
(:func:`write_zip`); JSON with sorted keys (:func:`json_text`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from seuranta.core.params import Params, as_params, validate
from seuranta.core.quarters import TIME_ZONE
from seuranta.core.quarters import today as today_in_finland

#: Locale of every child process (sorting and formatting that do not depend on the host).
LOCALE = "C.UTF-8"


def publication_date(params: Mapping) -> dt.date | None:
    """``publication.date`` of the parameters, None when not set."""
    value = (as_params(params).get("publication") or {}).get("date")
    return dt.date.fromisoformat(str(value)) if value else None


def pin_publication_date(params: Mapping, today: dt.date | None = None) -> Params:
    """The parameters with ``publication.date`` set: as given, else the date of the
    environment's ``SOURCE_DATE_EPOCH``, else today, in :data:`TIME_ZONE` (so that every file
    of the run and its manifest show one date, and a re-run uses it)."""
    params = as_params(params)
    if publication_date(params) is not None:
        return params
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    zone = ZoneInfo(TIME_ZONE)
    day = today or (dt.datetime.fromtimestamp(int(epoch), zone).date() if epoch.isdigit()
                    else today_in_finland())
    values = {k: v for k, v in params.items()}
    values["publication"] = {**params["publication"], "date": day.isoformat()}
    return validate(values)


def source_date_epoch(day: dt.date) -> int:
    """Seconds since 1970 of noon of ``day`` in :data:`TIME_ZONE`."""
    return int(dt.datetime.combine(day, dt.time(12, 0), ZoneInfo(TIME_ZONE)).timestamp())


def build_environment(params: Mapping) -> dict[str, str]:
    """The environment variables a reproducible build sets (see the module docstring)."""
    day = publication_date(params)
    if day is None:
        raise ValueError("publication.date is not set: pin it first (pin_publication_date)")
    return {"SOURCE_DATE_EPOCH": str(source_date_epoch(day)), "FORCE_SOURCE_DATE": "1",
            "TZ": TIME_ZONE, "LC_ALL": LOCALE, "LANG": LOCALE, "PYTHONHASHSEED": "0"}


@contextlib.contextmanager
def fixed_environment(params: Mapping) -> Iterator[dict[str, str]]:
    """Run the block (and every child process it starts) in :func:`build_environment`;
    the previous environment is restored afterwards."""
    env = build_environment(params)
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    time.tzset()
    try:
        yield env
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        time.tzset()


def zip_date(day: dt.date) -> tuple[int, int, int, int, int, int]:
    """The date of every zip entry: midnight of ``day`` (zip stores local time, no zone)."""
    return (day.year, day.month, day.day, 0, 0, 0)


def write_zip(folder: Path, target: Path, day: dt.date) -> Path:
    """Every file under ``folder`` into the zip ``target`` (paths relative to ``folder``),
    in name order, each with the date ``day`` and mode 0644: the same files give the same
    bytes."""
    folder, target = Path(folder), Path(target)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            info = zipfile.ZipInfo(p.relative_to(folder).as_posix(), date_time=zip_date(day))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, p.read_bytes())
    return target


def json_text(obj, indent: int | None = None) -> str:
    """JSON with sorted keys and UTF-8 text (what every JSON file of a release uses)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent, default=str)
