"""Reading the register: CSV and Parquet, encodings, structural errors, the counts command."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from register_helpers import PARAMS, population, row, write_folder

from seuranta import cli
from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.register import stage as register
from seuranta.register.ingest import REGISTER_COLUMNS

Q1 = [Quarter.parse("2023Q1")]


def _run(d, quarters=Q1, params=PARAMS, encoding="utf-8"):
    return register.run_register_stage(d, quarters, params, encoding=encoding)


def _hel_ALL(t, task="tyoikaiset", quarter="2023Q1"):
    c = t["counts"]
    return int(c[(c["quarter"] == quarter) & (c["municipality_code"] == "091")
                 & (c["service_task"] == task) & (c["source"] == "ALL")]["clients"].iloc[0])


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and msg
    return msg


def test_latin1_file_is_a_one_line_error_naming_the_file(tmp_path):
    d = write_folder(tmp_path, [row()])
    (d / "register" / "periods.csv").write_bytes(
        ",".join(REGISTER_COLUMNS).encode() + b"\n"
        + "Äijä1,1980,091,tyoikaiset,2023-01-10,,SHA,\n".encode("latin-1"))
    with pytest.raises(InputError) as e:
        _run(d)
    msg = _one_line_error(e)
    assert "periods.csv" in msg and "latin-1" in msg


def test_latin1_file_read_with_encoding_option(tmp_path):
    d = write_folder(tmp_path, [row()])
    (d / "register" / "periods.csv").write_bytes(
        ",".join(REGISTER_COLUMNS).encode() + b"\n"
        + "Äijä1,1980,091,tyoikaiset,2023-01-10,,SHA,\n".encode("latin-1")
        + "Äijä2,1980,999,tyoikaiset,2023-01-10,,SHA,\n".encode("latin-1"))
    t = _run(d, encoding="latin-1")
    assert _hel_ALL(t) == 1
    assert t["rejected"]["client_id"].tolist() == ["Äijä2"]   # original text, decoded


def test_utf8_bom_and_non_ascii_ids(tmp_path):
    d = write_folder(tmp_path, [row()])
    (d / "register" / "periods.csv").write_bytes(
        b"\xef\xbb\xbf" + ",".join(REGISTER_COLUMNS).encode() + b"\n"
        + "Åsa,1980,091,tyoikaiset,2023-01-10,,SHA,\n".encode())
    assert _hel_ALL(_run(d)) == 1


def test_csv_and_parquet_files_read_as_one_table(tmp_path):
    d = write_folder(tmp_path, [row(client_id="a"), row(client_id="b", municipality_code="999")],
                     name="part1.csv")
    pq = pd.DataFrame([row(client_id="c"), row(client_id="a", source="ET"),
                       row(client_id="d", birth_year="")])
    pq["birth_year"] = pd.array([1980, 1980, None], dtype="Int64")   # typed columns
    pq["start_date"] = pd.to_datetime(pq["start_date"]).dt.date
    pq.to_parquet(d / "register" / "part2.parquet", index=False)
    t = _run(d)
    assert _hel_ALL(t) == 2                      # a (both sources) and c; not b, d
    rej = t["rejected"].sort_values("source_file")
    assert rej[["source_file", "row_number", "reason"]].values.tolist() == [
        ["register/part1.csv", 2, "unknown_municipality"],
        ["register/part2.parquet", 3, "birth_year_missing"]]
    led = t["ledger"].set_index(["item", "reason"])["rows"]
    assert led[("read", "")] == 5 and led[("accepted", "")] == 3


def test_child_welfare_act_column_is_optional(tmp_path):
    d = write_folder(tmp_path, [row()])
    df = pd.DataFrame([row()]).drop(columns="child_welfare_act")
    df.to_csv(d / "register" / "periods.csv", index=False)
    assert _hel_ALL(_run(d)) == 1


def test_column_order_and_extra_columns_do_not_matter(tmp_path):
    d = write_folder(tmp_path, [row()])
    df = pd.DataFrame([row()])
    df["note"] = "x"
    df[list(reversed(df.columns))].to_csv(d / "register" / "periods.csv", index=False)
    assert _hel_ALL(_run(d)) == 1


def test_row_numbers_count_data_rows(tmp_path):
    d = write_folder(tmp_path, [row(client_id=f"c{i}") for i in range(5)]
                     + [row(client_id="bad", source="X")])
    assert _run(d)["rejected"]["row_number"].tolist() == [6]


@pytest.mark.parametrize("case", ["missing_column", "empty_register", "empty_file",
                                  "no_register_folder", "no_files", "ragged_row",
                                  "bad_parquet", "no_extract_date", "bad_population"])
def test_structural_faults_are_one_line_input_errors(tmp_path, case):
    d = write_folder(tmp_path, [row()], extract_date="2024-02-15")
    f = d / "register" / "periods.csv"
    expect = {
        "missing_column": "missing column(s) source",
        "empty_register": "register is empty",
        "empty_file": "empty file",
        "no_register_folder": "no register folder",
        "no_files": "no register files",
        "ragged_row": "periods.csv",
        "bad_parquet": "broken.parquet",
        "no_extract_date": "extract date",
        "bad_population": "population.csv",
    }[case]
    if case == "missing_column":
        pd.DataFrame([row()]).drop(columns="source").to_csv(f, index=False)
    elif case == "empty_register":
        f.write_text(",".join(REGISTER_COLUMNS) + "\n")
    elif case == "empty_file":
        f.write_text("")
    elif case == "no_register_folder":
        f.unlink()
        (d / "register").rmdir()
    elif case == "no_files":
        f.unlink()
    elif case == "ragged_row":
        f.write_text(",".join(REGISTER_COLUMNS) + "\nc1,1980,091,tyoikaiset,2023-01-10,,SHA,,x,y\n")
    elif case == "bad_parquet":
        (d / "register" / "broken.parquet").write_bytes(b"PAR1 not really")
    elif case == "no_extract_date":
        (d / "metadata.json").unlink()
    elif case == "bad_population":
        population().drop(columns="population").to_csv(d / "population.csv", index=False)
    with pytest.raises(InputError) as e:
        _run(d)
    assert expect in _one_line_error(e)


def test_extract_date_from_parameters_when_no_metadata(tmp_path):
    d = write_folder(tmp_path, [row(start_date="2023-03-01")], extract_date=None)
    params = {**PARAMS, "register": {**PARAMS["register"], "extract_date": "2023-02-01"}}
    t = _run(d, params=params)
    assert t["rejected"]["reason"].tolist() == ["start_after_extract"]


# --------------------------------------------------------------------------- command

def test_counts_command_writes_every_table(tmp_path, capsys):
    d = write_folder(tmp_path / "data", [row(), row(municipality_code="999")])
    params = tmp_path / "p.yml"
    params.write_text(json.dumps(PARAMS))      # JSON is YAML
    out = tmp_path / "build"
    (out / "2023Q1" / "tables").mkdir(parents=True)
    (out / "2023Q1" / "tables" / "quality.csv").write_text("kept\n")   # another stage's file
    rc = cli.main(["counts", "--quarter", "2023Q1", "--data", str(d), "--out", str(out),
                   "--params", str(params)])
    assert rc == 0
    tdir = out / "2023Q1" / "tables"
    names = {p.stem for p in tdir.glob("*.csv")}
    # the quarter's tables; the extract-wide ones once, in OUT/register/tables
    assert set(register.REGISTER_TABLES) - set(register.EXTRACT_TABLES) <= names
    assert not set(register.EXTRACT_TABLES) & names
    edir = register.extract_dir(out) / "tables"
    assert {p.stem for p in edir.glob("*.csv")} == set(register.EXTRACT_TABLES)
    assert (tdir / "quality.csv").read_text() == "kept\n"
    assert sorted(p.name for p in (out / "2023Q1").iterdir()) == ["tables"]   # no temp left
    assert sorted(p.name for p in edir.parent.iterdir()) == ["tables"]
    c = pd.read_csv(tdir / "counts.csv", dtype={"municipality_code": str})
    assert set(c["quarter"]) == {"2023Q1"} and len(c) == 293 * 7 * 3
    s = pd.read_csv(tdir / "series_counts.csv")
    assert sorted(s["quarter"].unique()) == ["2022Q4", "2023Q1"]
    rej = pd.read_csv(edir / "rejected.csv", dtype=str)
    assert rej["reason"].tolist() == ["unknown_municipality"]
    assert (tdir / "counts.csv").read_bytes().count(b"\r") == 0


def test_counts_command_all_quarters(tmp_path):
    d = write_folder(tmp_path / "data", [row()])
    params = tmp_path / "p.yml"
    params.write_text(json.dumps(PARAMS))
    out = tmp_path / "build"
    assert cli.main(["counts", "--all", "--data", str(d), "--out", str(out),
                     "--params", str(params)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [str(q) for q in
                                                    quarter_range("2022Q4", "2023Q4")] + [
        register.EXTRACT_DIR]
    y = pd.read_csv(out / "2023Q4" / "tables" / "year_counts.csv")
    assert set(y["year"]) == {2023}
    assert pd.read_csv(out / "2023Q3" / "tables" / "year_counts.csv").empty


def test_counts_command_bad_input_exits_2(tmp_path, capsys):
    rc = cli.main(["counts", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("seuranta: error: no register folder") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_counts_command_latin1_exits_2(tmp_path, capsys):
    d = write_folder(tmp_path / "data", [row()])
    (d / "register" / "periods.csv").write_bytes(
        ",".join(REGISTER_COLUMNS).encode() + b"\n"
        + "Äijä1,1980,091,tyoikaiset,2023-01-10,,SHA,\n".encode("latin-1"))
    params = tmp_path / "p.yml"
    params.write_text(json.dumps(PARAMS))
    args = ["counts", "--quarter", "2023Q1", "--data", str(d), "--out", str(tmp_path / "o"),
            "--params", str(params)]
    assert cli.main(args) == 2
    assert "periods.csv" in capsys.readouterr().err
    assert cli.main(args + ["--encoding", "latin-1"]) == 0
