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
from verify_rerun import rerun_once

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


def hidden_file(tmp):
    """A hidden older extract with other rows (it used to be read: clients 822 → 1 215)."""
    d = _folder(tmp)
    (d / "register" / ".old_extract.csv").write_bytes(_csv_bytes(_good_rows("o", 40)))
    return _counts(d, tmp)


def hidden_copy(tmp):
    d = _folder(tmp)
    (d / "register" / ".periods.csv").write_bytes((d / "register" / "periods.csv").read_bytes())
    return _counts(d, tmp)


def copy_kopio(tmp):
    """Windows' "- kopio" copy (sorted before the original): the copy is named, not the
    original (whose rows used to be all 'duplicates')."""
    d = _folder(tmp)
    (d / "register" / "periods - kopio.csv").write_bytes(
        (d / "register" / "periods.csv").read_bytes())
    return _counts(d, tmp)


def copy_resaved(tmp):
    """The same rows in another order and as gzip: a copy all the same."""
    d = _folder(tmp)
    (d / "register" / "periods (2).csv.gz").write_bytes(
        gzip.compress(_csv_bytes(list(reversed(_good_rows())))))
    return _counts(d, tmp)


def yearly_split_overlap(tmp):
    """Two yearly extracts sharing the periods open across the year end (10 of 40 rows of
    the second file, 25 %): counted once, reported per pair, no quarantine stop."""
    d = write_folder(tmp / "data", _good_rows("a", 30) + _good_rows("both", 10),
                     name="extract_2022.csv")
    (d / "register" / "extract_2023.csv").write_bytes(
        _csv_bytes(_good_rows("both", 10) + _good_rows("b", 30)))
    return _counts(d, tmp)


def duplicates_within_a_file(tmp):
    """Duplicates inside one file are still faulty rows: 8 of 108 above the 5 % stop."""
    d = _folder(tmp, _good_rows("c", 8))
    return _counts(d, tmp)


def long_value_ignored_column(tmp):
    """One 3 MB value in a column the register does not read (a source's free note)."""
    d = _folder(tmp)
    df = pd.DataFrame(_good_rows("n", 5), columns=REGISTER_COLUMNS)
    df["huomautus"] = ["x" * 3_000_000, "", "ok", "", ""]
    df.to_csv(d / "register" / "notes.csv", index=False, lineterminator="\n")
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


# --------------------------------------------------------------------------- other inputs

DELIVERIES_HEADER = "municipality_code,service_task,source,covered_from,covered_to\n"


def _stats_folder(tmp: Path) -> Path:
    """A folder whose register passes, with deliveries.csv (for the statistics stage)."""
    d = _folder(tmp)
    (d / "deliveries.csv").write_text(DELIVERIES_HEADER + "091,tyoikaiset,SHA,2020-01-01,\n")
    return d


def _review(d: Path, tmp: Path) -> list[str]:
    return ["review", "--quarter", "2023Q1", "--data", str(d), "--out", str(tmp / "out")]


def _edit_population(tmp: Path, edit) -> list[str]:
    d = _folder(tmp)
    pop = pd.read_csv(d / "population.csv", dtype=str)
    edit(pop).to_csv(d / "population.csv", index=False)
    return _counts(d, tmp)


def population_duplicate_row(tmp):
    return _edit_population(tmp, lambda p: pd.concat([p, p.iloc[[5]]], ignore_index=True))


def population_missing_band(tmp):
    return _edit_population(tmp, lambda p: p.drop(index=p.index[
        (p["municipality_code"] == "091") & (p["age_group"] == "25-34") & (p["year"] == "2022")]))


def population_negative(tmp):
    def edit(p):
        p.loc[3, "population"] = "-40"
        return p
    return _edit_population(tmp, edit)


def population_single_year_bands(tmp):
    """The contract allows single years: 18-24 of Helsinki 2022 as seven rows 18..24
    (it used to fail with "not enough values to unpack")."""
    def edit(p):
        hit = (p["municipality_code"] == "091") & (p["year"] == "2022") & (p["age_group"] == "18-24")
        n = int(p.loc[hit, "population"].iloc[0])
        singles = pd.DataFrame({"municipality_code": "091", "year": "2022",
                                "age_group": [str(a) for a in range(18, 25)],
                                "population": [str(n // 7 + (i < n % 7)) for i in range(7)]})
        return pd.concat([p[~hit], singles], ignore_index=True)
    return _edit_population(tmp, edit)


def _hel_base(tmp: Path) -> int:
    c = pd.read_csv(tmp / "out" / "2023Q1" / "tables" / "counts.csv", dtype=str)
    hit = c[(c["municipality_code"] == "091") & (c["service_task"] == "tyoikaiset")
            & (c["source"] == "ALL")]
    return int(hit["population_base"].iloc[0])


def _reference_hel_base() -> int:
    from seuranta.core import reference
    p = reference.reference_population()
    p = p[p["municipality_code"] == "091"]
    return int(p[p["age_group"].isin(["18-24", "25-34", "35-44", "45-54", "55-64"])]
               ["population"].sum())


def population_empty_file(tmp):
    d = _folder(tmp)
    (d / "population.csv").write_bytes(b"")
    return _counts(d, tmp)


def deliveries_task_typo(tmp):
    d = _stats_folder(tmp)
    with open(d / "deliveries.csv", "a") as f:
        f.write("091,tyoikaiste,ET,2020-01-01,\n")
    return _review(d, tmp)


def deliveries_missing(tmp):
    d = _stats_folder(tmp)
    (d / "deliveries.csv").unlink()
    return _review(d, tmp)


def _corrections(tmp: Path, *rows: str) -> list[str]:
    """`seuranta review` on a folder whose corrections.csv has ``rows`` (CSV lines)."""
    d = _stats_folder(tmp)
    (d / "corrections.csv").write_text("quarter,municipality_code,service_task,decision,reason\n"
                                       + "".join(r + "\n" for r in rows))
    return _review(d, tmp)


def corrections_unknown_task(tmp):
    return _corrections(tmp, "2023Q1,091,tyoikaiset,note,ok", "2023Q1,091,vanhuspalvelut,exclude,typo")


def corrections_quarter_out_of_range(tmp):
    return _corrections(tmp, "2031Q1,091,tyoikaiset,exclude,future")


def corrections_contradictory(tmp):
    return _corrections(tmp, "2023Q1,091,iakkaat,note,ok", "2023Q1,091,tyoikaiset,include,luvut oikein",
                        "2023Q1,091,tyoikaiset,exclude,vajaat")


def corrections_duplicate_key(tmp):
    return _corrections(tmp, "2023Q1,091,tyoikaiset,exclude,vajaat", "2023Q1,091,iakkaat,note,ok",
                        "2023Q1,91,tyoikaiset,exclude,vajaat")


def metadata_json_list(tmp):
    d = _folder(tmp)
    (d / "metadata.json").write_text("[]")
    return _counts(d, tmp)


def metadata_json_null(tmp):
    d = _folder(tmp)
    (d / "metadata.json").write_text("null")
    return _counts(d, tmp)


def out_names_a_file(tmp):
    d = _folder(tmp)
    (tmp / "out").write_text("not a folder")
    return _counts(d, tmp)


def out_read_only(tmp):
    d = _folder(tmp)
    (tmp / "out").mkdir()
    _make_read_only(tmp / "out")
    return _counts(d, tmp)


def out_disk_full(tmp):
    return _counts(_folder(tmp), tmp)


def out_inside_data(tmp):
    d = _folder(tmp)
    return ["counts", "--data", str(d), "--out", str(d / "build"), "--quarter", "2023Q1"]


def out_is_data(tmp):
    d = _folder(tmp)
    return ["run", "--data", str(d), "--out", str(d), "--quarter", "2023Q1"]


def _disk_full_on_write(monkeypatch):
    """A real full disk: the file opens, the write fails with ENOSPC and no file name."""
    import builtins
    import errno

    from seuranta.core import tables

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(tables, "open", lambda *a, **k: Full(builtins.open(*a, **k)),
                        raising=False)


def _disk_full_anywhere(monkeypatch):
    """ENOSPC without a file name where no writer names it: the output folder is named."""
    import errno

    from seuranta.register import stage

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(stage, "write_quarter_tables", full)


def _disk_full(monkeypatch):
    """Writing a table fails as on a full disk (ENOSPC), with the file named."""
    import errno

    from seuranta.register import stage

    def full(df, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(stage, "write_csv", full)


_READ_ONLY: list[Path] = []


def _make_read_only(p: Path) -> None:
    """A folder nobody can write into: chattr +i as root (root ignores modes), else 0555."""
    import subprocess
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(p)], check=True)
    else:
        p.chmod(0o555)
    _READ_ONLY.append(p)


@pytest.fixture(autouse=True)
def _writable_again():
    yield
    import subprocess
    while _READ_ONLY:
        p = _READ_ONLY.pop()
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(p)], check=False)
        p.chmod(0o755)


# --------------------------------------------------------------------------- review forms

FORM_KEY = bytes(range(32))


def _form(tmp: Path, name: str, issued="2024-02-20T08:00:00Z", key=FORM_KEY, reasons="",
          answers=None, edit=None) -> Path:
    """Helsinki's (county 90) review form for 2023Q1, filled with ``answers``
    {task: (decision, reason)} and changed by ``edit(wb)``."""
    from openpyxl import load_workbook

    from seuranta.core import reference
    from seuranta.review import workbooks as review
    rows = []
    for task in reference.task_codes():
        for src in ("SHA", "ET", "ALL"):
            rows.append({"quarter": "2023Q1", "municipality_code": "091", "county_code": "90",
                         "service_task": task, "source": src, "clients": 100,
                         "population_base": 1000, "share_pct": 10.0})
    counts = pd.DataFrame(rows)
    quality = counts[counts["source"] == "ALL"][["quarter", "municipality_code", "service_task"]]
    quality = quality.assign(quality="partial", reasons=reasons)
    from seuranta.core.provenance import extract_hash
    (p,) = review.review_workbooks("2023Q1", {"counts": counts, "quality": quality},
                                   tmp / f"forms-{name}", counties=["90"], key=key, issued=issued,
                                   extract=extract_hash(tmp / "data"))
    wb = load_workbook(p)
    ws = wb[review.FEEDBACK_SHEET]
    for r in range(review.FEEDBACK_HEADER_ROW + 1, ws.max_row + 1):
        task = ws.cell(r, 4).value
        if answers and task in answers:
            ws.cell(r, review.DECISION_COL).value, ws.cell(r, review.REASON_COL).value = \
                answers[task]
    if edit:
        edit(wb)
    out = tmp / f"{name}.xlsx"
    wb.save(out)
    return out


def _form_data(tmp: Path, decisions=True) -> Path:
    """A data folder with the review key and Helsinki's earlier decision (from a form)."""
    from seuranta.review import feedback, signing
    d = tmp / "data"
    d.mkdir(exist_ok=True)
    (d / signing.KEY_FILE).write_text(FORM_KEY.hex() + "\n")
    if decisions:
        first = _form(tmp, "first", answers={"iakkaat": ("exclude", "kaksoiskirjauksia")})
        feedback.import_feedback([first], d)
    return d


def _import(d: Path, *forms: Path, more=()) -> list[str]:
    return ["feedback", "import", *map(str, forms), "--data", str(d), *more]


def form_other_key(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "forged", key=b"k" * 32,
                            answers={"iakkaat": ("include", "ok")}))


def form_issued_rewritten(tmp):
    d = _form_data(tmp)

    def later(wb):
        ws = wb["meta"]
        for r in range(1, ws.max_row + 1):
            if ws.cell(r, 1).value == "issued":
                ws.cell(r, 2).value = "2030-01-01T00:00:00Z"
    return _import(d, _form(tmp, "forged", edit=later, answers={"iakkaat": ("include", "ok")}))


def form_replayed(tmp):
    """A form issued on the previous extract (register file replaced since)."""
    d = _form_data(tmp)
    (d / "register").mkdir()
    (d / "register" / "periods.csv").write_text("extract 1\n")
    old = _form(tmp, "replayed", answers={"iakkaat": ("include", "ok")})
    (d / "register" / "periods.csv").write_text("extract 2\n")
    return _import(d, old)


def _times_ten(wb):
    from seuranta.review import workbooks as review
    for ws in wb.worksheets:
        if ws.title in (review.FEEDBACK_SHEET, review.META_SHEET, review.INSTRUCTIONS_SHEET):
            continue
        for cells in ws.iter_rows(min_row=review.TASK_HEADER_ROW + 1):
            for c in cells:
                if isinstance(c.value, int | float) and not isinstance(c.value, bool):
                    c.value = c.value * 10


def form_figures_edited(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "edited", edit=_times_ten,
                            answers={"iakkaat": ("include", "ok")}))


def form_renamed(tmp):
    """Helsinki's (90) form saved under county 08's file name."""
    d = _form_data(tmp)
    return _import(d, _form(tmp, "08_pohjois-savon-hyvinvointialue_2023Q1",
                            answers={"iakkaat": ("include", "ok")}))


def form_other_quarter_name(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "90_helsingin-kaupunki_2023Q2",
                            answers={"iakkaat": ("include", "ok")}))


def form_neutral_name(tmp):
    """A name that names no county or quarter is accepted; corrections.csv keeps the
    form's hash and the extract it was issued on."""
    d = _form_data(tmp)
    return _import(d, _form(tmp, "vastaus (1)", answers={"iakkaat": ("include", "ok")}))


def _keeps_hashes(tmp: Path) -> None:
    import hashlib

    from seuranta.core.provenance import extract_hash
    corr = pd.read_csv(tmp / "data" / "corrections.csv", dtype=str, keep_default_na=False)
    row = corr[corr["service_task"] == "iakkaat"].iloc[0]
    assert row["decision"] == "include"
    assert row["source_file_sha256"] == hashlib.sha256(
        (tmp / "vastaus (1).xlsx").read_bytes()).hexdigest()
    assert row["extract_sha256"] == extract_hash(tmp / "data")


def form_blank_erases(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "blank"))


def form_blank_with_flag(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "blank"), more=["--allow-removal"])


def form_older(tmp):
    d = _form_data(tmp)
    return _import(d, _form(tmp, "older", issued="2024-01-01T08:00:00Z",
                            answers={"iakkaat": ("include", "vanha")}))


def form_formula_cell(tmp):
    from seuranta.review import workbooks as review

    def formula(wb):
        ws = wb[review.FEEDBACK_SHEET]
        ws.cell(review.FEEDBACK_HEADER_ROW + 2, review.REASON_COL).value = \
            '=HYPERLINK("http://example.invalid","syy")'
    d = _form_data(tmp)
    return _import(d, _form(tmp, "formula", edit=formula,
                            answers={"iakkaat": ("exclude", "kaksoiskirjauksia")}))


def form_far_cell(tmp):
    def far(wb):
        wb["Palaute"]["XFD1048576"] = "x"
    d = _form_data(tmp)
    return _import(d, _form(tmp, "far", edit=far))


def _corrections_rows(tmp: Path) -> int:
    return len(pd.read_csv(tmp / "data" / "corrections.csv", dtype=str))


def formula_text_in_workbook(tmp):
    """A text starting with '=' (here a quality reason) is written as text, not a formula."""
    _form(tmp, "text", reasons='=HYPERLINK("http://example.invalid","x")')
    d = _folder(tmp)
    return _counts(d, tmp)   # any successful command; the check reads the workbook


def _no_formula_in(tmp: Path) -> None:
    import zipfile
    (p,) = (tmp / "forms-text").glob("*.xlsx")
    with zipfile.ZipFile(p) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist()
                      if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml
    assert '<t>=HYPERLINK("http' in xml        # the text itself is kept, as text


def csv_injection_in_rejected(tmp):
    d = _folder(tmp, [row(client_id="r1", municipality_code='=HYPERLINK("x")'),
                      row(client_id="@r2", service_task="+cmd")])
    return _counts(d, tmp)


def _rejected_neutralised(tmp: Path) -> None:
    rej = pd.read_csv(tmp / "out" / "register" / "tables" / "rejected.csv", dtype=str,
                      keep_default_na=False)
    assert sorted(rej["municipality_code"]) == ["'=HYPERLINK(\"x\")", "091"]
    assert "'+cmd" in set(rej["service_task"]) and "'@r2" in set(rej["client_id"])


def _ledger(tmp: Path) -> pd.DataFrame:
    return pd.read_csv(tmp / "out" / "register" / "tables" / "ledger.csv", dtype={"reason": str},
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
    patch: Callable | None = None                  # monkeypatch set-up (a simulated fault)


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
    Case("hidden_file", hidden_file, 2, r"register/\.old_extract\.csv: hidden file or folder"),
    Case("hidden_copy", hidden_copy, 2, r"register/\.periods\.csv: hidden file or folder"),
    Case("copy_kopio", copy_kopio, 2,
         r"register/periods - kopio\.csv: every row \(100\) is also in register/periods\.csv: "
         r"a copy of another register file"),
    Case("copy_resaved", copy_resaved, 2,
         r"register/periods \(2\)\.csv\.gz: every row \(100\) is also in "
         r"register/periods\.csv"),
    Case("yearly_split_overlap", yearly_split_overlap, 0, None,
         {("read", ""): 80, ("accepted", ""): 70, ("rejected", "duplicate_row"): 10,
          ("repeated", "register/extract_2023.csv repeats register/extract_2022.csv"): 10},
         lambda tmp: _assert_eq(_hel_clients(tmp), 70)),
    Case("duplicates_within_a_file", duplicates_within_a_file, 2,
         r"register/periods\.csv: 7\.4 % of rows rejected \(8 of 108; most: duplicate_row 8"),
    Case("long_value_ignored_column", long_value_ignored_column, 0, None,
         {("read", ""): 105, ("accepted", ""): 105},
         lambda tmp: _assert_eq(_hel_clients(tmp), 105)),
    Case("quarantine_file_share", quarantine_file_share, 2,
         r"register/second\.csv: 23\.1 % of rows rejected \(3 of 13; most: bad_date 3 rows\), "
         r"above register\.max_rejected_share 5 %"),
    Case("quarantine_overall_share", quarantine_overall_share, 2,
         r"register/periods\.csv: 7\.4 % of rows rejected \(8 of 108"),
    # population.csv, deliveries.csv, corrections.csv: strict schemas, one line with file+row
    Case("population_duplicate_row", population_duplicate_row, 2,
         r"population\.csv: row 6: municipality \d{3} year \d{4} age group \S+ appears more "
         r"than once"),
    Case("population_missing_band", population_missing_band, 2,
         r"population\.csv: municipality 091 year 2022: no age band covers ages 25-34"),
    Case("population_negative", population_negative, 2,
         r"population\.csv: row 4: population '-40' must not be negative"),
    Case("population_single_year_bands", population_single_year_bands, 0, None,
         {("read", ""): 100},
         lambda tmp: _assert_eq(_hel_base(tmp), _reference_hel_base())),
    Case("population_empty_file", population_empty_file, 2,
         r"population\.csv: empty file"),
    Case("deliveries_task_typo", deliveries_task_typo, 2,
         r"deliveries\.csv: row 2: service_task 'tyoikaiste' is not a service task code"),
    Case("deliveries_missing", deliveries_missing, 2,
         r"deliveries\.csv: file not found .*inputs\.no_deliveries_declared"),
    Case("corrections_unknown_task", corrections_unknown_task, 2,
         r"corrections\.csv: row 2: unknown service_task 'vanhuspalvelut'"),
    Case("corrections_quarter_out_of_range", corrections_quarter_out_of_range, 2,
         r"corrections\.csv: row 1: quarter 2031Q1 is after the data's newest quarter "
         r"2023Q4"),
    Case("corrections_contradictory", corrections_contradictory, 2,
         r"corrections\.csv: rows 2, 3: contradictory decisions for quarter 2023Q1 municipality "
         r"091 task tyoikaiset \(include / exclude\)"),
    Case("corrections_duplicate_key", corrections_duplicate_key, 2,
         r"corrections\.csv: rows 1, 3: the same key twice for quarter 2023Q1 municipality 091 "
         r"task tyoikaiset \(exclude / exclude\)"),
    Case("metadata_json_list", metadata_json_list, 2,
         r"metadata\.json: expected a JSON object \{\.\.\.\}, got \[\]"),
    Case("metadata_json_null", metadata_json_null, 2,
         r"metadata\.json: expected a JSON object \{\.\.\.\}, got null"),
    # output folders: one line naming the path, no traceback
    Case("out_names_a_file", out_names_a_file, 2, r"out: not a folder"),
    Case("out_read_only", out_read_only, 2, r"out/2023Q1: (Operation not permitted|Permission)"),
    Case("out_disk_full", out_disk_full, 2, r"\.csv: No space left on device",
         patch=_disk_full),
    Case("out_disk_full_on_write", out_disk_full, 2,
         r"out/2023Q1/\.tables-tmp-[^/]+/counts\.csv: No space left on device$",
         patch=_disk_full_on_write),
    Case("out_disk_full_anywhere", out_disk_full, 2,
         r"out: No space left on device \(while writing into it\)$",
         patch=_disk_full_anywhere),
    Case("out_inside_data", out_inside_data, 2,
         r"data/build: the output folder lies inside the data folder .*data \(outputs would "
         r"count as inputs\)"),
    Case("out_is_data", out_is_data, 2, r"data: the output folder lies inside the data folder"),
    # review forms: keyed signature, no silent erasing, no formulas, size checked first
    Case("form_other_key", form_other_key, 2, r"1 problem in the feedback forms"),
    Case("form_issued_rewritten", form_issued_rewritten, 2, r"1 problem in the feedback forms"),
    Case("form_blank_erases", form_blank_erases, 2, r"1 problem in the feedback forms"),
    Case("form_replayed", form_replayed, 2, r"1 problem in the feedback forms"),
    Case("form_figures_edited", form_figures_edited, 2, r"1 problem in the feedback forms"),
    Case("form_renamed", form_renamed, 2, r"1 problem in the feedback forms"),
    Case("form_other_quarter_name", form_other_quarter_name, 2,
         r"1 problem in the feedback forms"),
    Case("form_neutral_name", form_neutral_name, 0, None, None, _keeps_hashes),
    Case("form_blank_with_flag", form_blank_with_flag, 0, None, None,
         lambda tmp: _assert_eq(_corrections_rows(tmp), 0)),
    Case("form_older", form_older, 2, r"1 problem in the feedback forms"),
    Case("form_formula_cell", form_formula_cell, 2, r"1 problem in the feedback forms"),
    Case("form_far_cell", form_far_cell, 2, r"1 problem in the feedback forms"),
    # no formula anywhere
    Case("formula_text_in_workbook", formula_text_in_workbook, 0, None, {},
         _no_formula_in),
    Case("csv_injection_in_rejected", csv_injection_in_rejected, 0, None,
         {("rejected", "unknown_municipality"): 1, ("rejected", "unknown_service_task"): 1},
         _rejected_neutralised),
]

#: The first problem line printed for each refused form (before the summary line).
FORM_PROBLEMS = {
    "form_other_key": r"forged\.xlsx: sheet meta: signature does not verify",
    "form_issued_rewritten": r"forged\.xlsx: sheet meta: signature does not verify",
    "form_blank_erases": r"blank\.xlsx: workbook: the form would remove 1 earlier decision\(s\) "
                         r"of county 90 quarter 2023Q1 \(e\.g\. 091 iakkaat exclude\)",
    "form_replayed": r"replayed\.xlsx: workbook: the form was issued on another extract of the "
                     r"data \(extract [0-9a-f]{12}…, the data folder now has [0-9a-f]{12}…\)",
    "form_figures_edited": r"edited\.xlsx: workbook: the figures of the form \(task sheets, or "
                           r"the fixed columns of Palaute\) were changed after it was issued",
    "form_renamed": r"08_pohjois-savon-hyvinvointialue_2023Q1\.xlsx: workbook: the file name names "
                    r"county 08, the form is county 90's \(issued as "
                    r"90_helsingin-kaupunki_2023Q1\.xlsx\)",
    "form_other_quarter_name": r"90_helsingin-kaupunki_2023Q2\.xlsx: workbook: the file name "
                               r"names quarter 2023Q2, the form is for 2023Q1",
    "form_older": r"older\.xlsx: workbook: the form was issued 2024-01-01T08:00:00Z, before the "
                  r"form already imported for county 90 quarter 2023Q1 "
                  r"\(issued 2024-02-20T08:00:00Z\)",
    "form_formula_cell": r"formula\.xlsx: sheet Palaute, row 8: cell I8 holds a formula "
                         r"\(=HYPERLINK",
    "form_far_cell": r"far\.xlsx: sheet xl/worksheets/sheet\d+\.xml: cell XFD1048576 lies "
                     r"outside the form",
}


def _assert_eq(a, b):
    assert a == b


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case(case: Case, tmp_path, capsys, monkeypatch):
    argv = case.build(tmp_path)
    if case.patch:
        case.patch(monkeypatch)
    corrections = tmp_path / "data" / "corrections.csv"
    before = corrections.read_bytes() if corrections.is_file() else None
    capsys.readouterr()
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == case.exit, err
    if case.exit != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("seuranta: error: "), err
        assert "Traceback" not in err
        assert re.search(case.message, lines[-1]), lines[-1]
        if case.id in FORM_PROBLEMS:
            assert len(lines) == 2 and re.search(FORM_PROBLEMS[case.id], lines[0]), lines
        # a refused run never touches corrections.csv (same bytes, same hash)
        after = corrections.read_bytes() if corrections.is_file() else None
        assert after == before
        return
    if case.ledger is None:
        if case.check:
            case.check(tmp_path)
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


# --------------------------------------------------------------------------- published runs
# One quarter published from a small demo (tables, gate, annexes, notebooks in one kernel),
# started after a "kill -9" left a temporary folder in OUT and a kernel folder in /tmp.

def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    import subprocess
    import sys
    import tempfile

    from seuranta.demo import generator as demo
    from seuranta.publication import notebooks
    base = tmp_path_factory.mktemp("published")
    data, out = base / "data", base / "out"
    demo.generate(data, scale=0.02, seed=3)
    dead = _dead_pid()
    stale = out / f".tmp-2023Q1-{dead}-x1" / "tables"
    stale.mkdir(parents=True)
    (stale / "rejected.csv").write_text("client_id\nexact-id\n")
    kernels = Path(tempfile.gettempdir()) / f"{notebooks.KERNEL_DIR_PREFIX}{dead}"
    kernels.mkdir(exist_ok=True)
    (kernels / "kernel-x.json").write_text("{}")
    # a child process, so that the kernel's own stderr is captured as a user sees it
    child = subprocess.Popen([sys.executable, "-m", "seuranta.cli", "run", "--quarter",
                              "2023Q1", "--data", str(data), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ})
    stdout, stderr = child.communicate()
    proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    return {"data": data, "out": out, "proc": proc, "pid": child.pid, "stale": stale.parent,
            "kernels": kernels}


def _copy(published, tmp: Path) -> Path:
    import shutil
    shutil.copytree(published["out"] / "2023Q1", tmp / "out" / "2023Q1")
    return tmp / "out"


def _edit_annex(q: Path):
    annex = sorted((q / "annex").glob("*.xlsx"))[0]
    annex.write_bytes(annex.read_bytes() + b"\0")
    return f"annex/{annex.name}: DIFFERENT \\(edited after the run\\)"


def _edit_notebook(q: Path):
    import json
    p = q / "notebooks" / "yhteenveto.ipynb"
    nb = json.loads(p.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "Muokattu luku 123 456\n" + "".join(cell["source"])
    p.write_text(json.dumps(nb), encoding="utf-8")
    return r"notebooks/yhteenveto\.ipynb: DIFFERENT \(edited after the run\)"


def _volatile_notebook_metadata(q: Path):
    import json
    p = q / "notebooks" / "yhteenveto.ipynb"
    nb = json.loads(p.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        c["metadata"]["execution"] = {"iopub.execute_input": "2031-01-01T00:00:00Z"}
    nb["metadata"]["papermill"] = {"duration": 1.5}
    p.write_text(json.dumps(nb, indent=2), encoding="utf-8")
    return r"2023Q1: all tables identical, every file unchanged"


def _extra_file(q: Path):
    (q / "annex" / "lisa.xlsx").write_bytes(b"PK")
    return r"annex/lisa\.xlsx: EXTRA \(not in the manifest\)"


def _extra_table(q: Path):
    (q / "tables" / "muokattu.csv").write_text("a,b\n1,2\n")
    return r"tables/muokattu\.csv: EXTRA \(not in the manifest\)"


def _untouched(q: Path):
    return r"2023Q1: all tables identical, every file unchanged"


VERIFY_CASES = [("untouched", _untouched, 0), ("annex_edited", _edit_annex, 1),
                ("notebook_edited", _edit_notebook, 1),
                ("notebook_volatile_metadata", _volatile_notebook_metadata, 0),
                ("extra_file", _extra_file, 1), ("extra_table", _extra_table, 1)]


#: verify's re-run of the quarter's tables (tests/verify_rerun.py): the cases below edit a
#: copy of OUT, never the data folder or the recorded values, so the re-run is the same for
#: each; it runs once (the first case), and every case compares its own OUT against a copy.
_RERUN: dict = {}


@pytest.mark.slow
@pytest.mark.xdist_group("killed_run")  # one build of the module fixture
@pytest.mark.parametrize("case", VERIFY_CASES, ids=[c[0] for c in VERIFY_CASES])
def test_verify_covers_what_is_published(case, published, tmp_path, capsys, monkeypatch):
    _, edit, exit_code = case
    rerun_once(monkeypatch, _RERUN)
    out = _copy(published, tmp_path)
    expected = edit(out / "2023Q1")
    capsys.readouterr()
    assert cli.main(["verify", "--quarter", "2023Q1", "--out", str(out)]) == exit_code
    assert re.search(expected, capsys.readouterr().out)


def _modes(published):
    q = published["out"] / "2023Q1"
    for p in [q, *q.rglob("*")]:
        want = 0o755 if p.is_dir() else 0o644
        assert p.stat().st_mode & 0o777 == want, p


def _stale_tmp_removed(published):
    assert not published["stale"].exists()
    assert not list(published["out"].glob(".tmp-*"))


def _kernel_folders_removed(published):
    import tempfile

    from seuranta.publication import notebooks
    assert not published["kernels"].exists()
    left = [p for p in Path(tempfile.gettempdir()).glob(f"{notebooks.KERNEL_DIR_PREFIX}*")
            if p.name.endswith(f"-{published['pid']}")]
    assert not left


def _quiet_kernels(published):
    proc = published["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "KeyboardInterrupt caught in kernel" not in proc.stderr
    assert "IPKernelApp" not in proc.stderr and "Traceback" not in proc.stderr


RUN_CASES = [("published_modes_0755_0644", _modes), ("stale_tmp_removed", _stale_tmp_removed),
             ("kernel_folders_removed", _kernel_folders_removed),
             ("no_kernel_interrupt_line", _quiet_kernels)]


@pytest.mark.slow
@pytest.mark.xdist_group("killed_run")  # one build of the module fixture
@pytest.mark.parametrize("case", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_clean_run_after_a_killed_one(case, published):
    case[1](published)
