"""Adversarial inputs (issue 15): one case per defect found by breaking copies of the data.

Each case builds a small data folder (or output folder, or review form), runs one
``seuranta`` command through :func:`seuranta.cli.main` and checks the exit status, the
one-line message on stderr and, when the run succeeds, the balance of the rows ledger
(accepted + rejected = read = the sum of the files' rows) and the rows expected in it.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from register_helpers import row, write_folder

from seuranta import cli
from seuranta.register.ingest import REGISTER_COLUMNS

N_GOOD = 100   # good rows (distinct clients, Helsinki, working-age services) in every folder


def _good_rows(prefix="c", n=N_GOOD) -> list[dict]:
    return [row(client_id=f"{prefix}{i}") for i in range(n)]


def _csv_bytes(rows) -> bytes:
    return pd.DataFrame(rows, columns=REGISTER_COLUMNS).to_csv(
        index=False, lineterminator="\n").encode("utf-8")


def _folder(tmp: Path, extra_rows=()) -> Path:
    return write_folder(tmp / "data", _good_rows() + list(extra_rows))


def _counts(d: Path, tmp: Path, *more) -> list[str]:
    return ["counts", "--data", str(d), "--out", str(tmp / "out"), "--quarter", "2023Q1", *more]


def _params_file(tmp: Path, **register) -> str:
    """A copy of parameters.yml with register keys changed."""
    import yaml

    from seuranta.core.params import DEFAULT_PARAMS
    p = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    p["register"].update(register)
    out = tmp / "params.yml"
    out.write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")
    return str(out)


# --------------------------------------------------------------------------- register files

def dangling_symlink(tmp):
    d = _folder(tmp)
    os.symlink(tmp / "nowhere.csv", d / "register" / "extra.csv")
    return _counts(d, tmp)


def symlinked_folder(tmp):
    d = _folder(tmp)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "more.csv").write_bytes(_csv_bytes(_good_rows("m", 10)))
    os.symlink(elsewhere, d / "register" / "linked")
    return _counts(d, tmp)


def csv_gz_read(tmp):
    d = _folder(tmp)
    (d / "register" / "more.csv.gz").write_bytes(gzip.compress(_csv_bytes(_good_rows("g", 7))))
    return _counts(d, tmp)


def stale_copy_in_old(tmp):
    d = _folder(tmp)
    (d / "register" / "old").mkdir()
    (d / "register" / "old" / "periods.csv").write_bytes((d / "register" / "periods.csv")
                                                         .read_bytes())
    return _counts(d, tmp)


def subfolder_allowed_by_parameter(tmp):
    d = _folder(tmp)
    (d / "register" / "kanta").mkdir()
    (d / "register" / "kanta" / "part2.csv").write_bytes(_csv_bytes(_good_rows("k", 5)))
    return _counts(d, tmp, "--params", _params_file(tmp, subfolders=True))


def unknown_suffix(tmp):
    d = _folder(tmp)
    (d / "register" / "periods.xlsx").write_bytes(b"PK\x03\x04")
    return _counts(d, tmp)


def start_year_0001(tmp):
    d = _folder(tmp, [row(client_id="old1", start_date="0001-01-01", birth_year="0001"),
                      row(client_id="old2", start_date="1900-06-01", birth_year="1880")])
    return _counts(d, tmp)


def client_id_garbage(tmp):
    # one person (c1) written four ways: newline, NUL, surrounding spaces; and a 1 MB id
    d = _folder(tmp, [row(client_id="c1\n"), row(client_id="c1\x00"), row(client_id=" c1 "),
                      row(client_id="x" * 1_000_000)])
    return _counts(d, tmp)


def parquet_types(tmp):
    d = _folder(tmp)
    pq = pd.DataFrame({
        "client_id": ["p1", "p2", "p3"],
        "birth_year": [1945.0, 1980.0, 1990.0],                       # whole floats
        "municipality_code": [5, 91, 91],                             # unpadded codes
        "service_task": ["tyoikaiset"] * 3,
        "start_date": pd.to_datetime(["2023-01-10", "2023-02-01", "2023-03-01"]),  # timestamps
        "end_date": pd.to_datetime([None, "2023-02-28", None]),
        "source": ["SHA"] * 3,
    })
    pq.to_parquet(d / "register" / "typed.parquet", index=False)
    return _counts(d, tmp)


def quarantine_file_share(tmp):
    d = _folder(tmp)
    bad = [row(client_id=f"b{i}", start_date="10.1.2023") for i in range(3)]
    (d / "register" / "second.csv").write_bytes(_csv_bytes(_good_rows("s", 10) + bad))
    return _counts(d, tmp)


def quarantine_overall_share(tmp):
    d = _folder(tmp, [row(client_id=f"b{i}", municipality_code="999") for i in range(8)])
    return _counts(d, tmp)


def _ledger(tmp: Path) -> pd.DataFrame:
    return pd.read_csv(tmp / "out" / "2023Q1" / "tables" / "ledger.csv", dtype={"reason": str},
                       keep_default_na=False)


def _hel_clients(tmp: Path) -> int:
    c = pd.read_csv(tmp / "out" / "2023Q1" / "tables" / "counts.csv", dtype=str)
    hit = c[(c["municipality_code"] == "091") & (c["service_task"] == "tyoikaiset")
            & (c["source"] == "ALL")]
    return int(hit["clients"].iloc[0])


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]
    exit: int
    message: str | None = None                     # regular expression searched in stderr
    ledger: dict = field(default_factory=dict)     # (item, reason) -> rows
    check: Callable[[Path], None] | None = None    # further checks on a successful run


CASES = [
    Case("dangling_symlink", dangling_symlink, 2,
         r"register/extra\.csv: broken symbolic link"),
    Case("symlinked_folder", symlinked_folder, 2,
         r"register/linked: symbolic link to a folder"),
    Case("csv_gz_read", csv_gz_read, 0, None,
         {("read", ""): 107, ("file", "register/more.csv.gz"): 7,
          ("file", "register/periods.csv"): 100},
         lambda tmp: _assert_eq(_hel_clients(tmp), 107)),
    Case("stale_copy_in_old", stale_copy_in_old, 2, r"register/old: sub-folder"),
    Case("subfolder_allowed_by_parameter", subfolder_allowed_by_parameter, 0, None,
         {("read", ""): 105, ("file", "register/kanta/part2.csv"): 5}),
    Case("unknown_suffix", unknown_suffix, 2, r"register/periods\.xlsx: unknown file type"),
    Case("start_year_0001", start_year_0001, 0, None,
         {("read", ""): 102, ("accepted", ""): 100,
          ("rejected", "start_before_min_year"): 2},
         lambda tmp: _assert_eq(_hel_clients(tmp), 100)),
    Case("client_id_garbage", client_id_garbage, 0, None,
         {("read", ""): 104, ("accepted", ""): 100, ("rejected", "bad_client_id"): 4},
         lambda tmp: _assert_eq(_hel_clients(tmp), 100)),
    Case("parquet_types", parquet_types, 0, None,
         {("read", ""): 103, ("accepted", ""): 103,
          ("converted", "register/typed.parquet: municipality_code (bigint as a 3-digit code)"):
              3,
          ("converted", "register/typed.parquet: birth_year (double as a whole number)"): 3,
          ("converted", "register/typed.parquet: start_date (timestamp as YYYY-MM-DD)"): 3,
          ("converted", "register/typed.parquet: end_date (timestamp as YYYY-MM-DD)"): 1},
         lambda tmp: _assert_eq(_hel_clients(tmp), 102)),   # p1 lives in Alajärvi (005)
    Case("quarantine_file_share", quarantine_file_share, 2,
         r"register/second\.csv: 23\.1 % of rows rejected \(3 of 13; most: bad_date 3 rows\), "
         r"above register\.max_rejected_share 5 %"),
    Case("quarantine_overall_share", quarantine_overall_share, 2,
         r"register/periods\.csv: 7\.4 % of rows rejected \(8 of 108"),
]


def _assert_eq(a, b):
    assert a == b


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case(case: Case, tmp_path, capsys):
    argv = case.build(tmp_path)
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == case.exit, err
    if case.exit != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("seuranta: error: "), err
        assert "Traceback" not in err
        assert re.search(case.message, lines[-1]), lines[-1]
        return
    led = _ledger(tmp_path)
    get = {(i, r): int(n) for i, r, n in zip(led["item"], led["reason"], led["rows"])}
    n_read = get[("read", "")]
    n_rejected = sum(n for (i, _), n in get.items() if i == "rejected")
    assert get[("accepted", "")] + n_rejected == n_read
    assert sum(n for (i, _), n in get.items() if i == "file") == n_read
    for key, n in case.ledger.items():
        assert get.get(key) == n, key
    if case.check:
        case.check(tmp_path)
