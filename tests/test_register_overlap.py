"""The register stage's faster paths give what the plain pandas ways give.

The stage completes the count tables to their grids by position (not by merges and a
sort), runs that pandas work in a worker thread while DuckDB runs the next query, reads
population.csv in that thread while DuckDB validates, and writes a table whose rows equal
another's from the other's CSV lines. Each test compares with the straightforward way or
shows the safeguard that keeps the result the same."""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest
from register_helpers import PARAMS, row, write_folder

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter
from seuranta.core.tables import csv_lines, write_csv
from seuranta.register import count, stage


def _grids(qs: list[Quarter]) -> count._Grids:
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]].astype(str)
    return count._Grids(qnames=[str(q) for q in qs], codes=list(mun["municipality_code"]),
                        counties=sorted(mun["county_code"].unique()),
                        tasks=reference.task_codes(), mun=mun,
                        qyear=pd.DataFrame({"quarter": [str(q) for q in qs],
                                            "year": [q.population_year for q in qs]}))


def _by_merge(found, grids, tasks, kind, kinds, bases, base_on):
    """The table as a left merge of the full grid with ``found`` and the bases, sorted."""
    keys = ["quarter", "municipality_code", "service_task", kind]
    g = pd.DataFrame(list(product(grids.qnames, grids.codes, tasks, kinds)), columns=keys)
    c = g.merge(found[keys + ["clients"]], on=keys, how="left")
    c["clients"] = c["clients"].fillna(0).astype("int64")
    c = c.merge(grids.mun, on="municipality_code").merge(grids.qyear, on="quarter")
    c = c.merge(bases, on=base_on, how="left")
    c["population_base"] = c["population_base"].astype("Int64")
    b = c["population_base"].astype("float64")
    c["share_pct"] = (100.0 * c["clients"] / b.where(b > 0)).round(4)
    cols = keys[:2] + ["county_code"] + keys[2:] + ["clients", "population_base", "share_pct"]
    return c[cols].sort_values(keys).reset_index(drop=True).astype(
        {k: str for k in cols[:5]})


def _random_found(rng, grids, tasks, kind, kinds, n=3000):
    found = pd.DataFrame({"quarter": rng.choice(grids.qnames, n),
                          "municipality_code": rng.choice(grids.codes + ["999"], n),
                          "service_task": rng.choice(tasks, n), kind: rng.choice(kinds, n),
                          "clients": rng.integers(1, 500, n)})
    return found.drop_duplicates(["quarter", "municipality_code", "service_task", kind])


@pytest.mark.parametrize("kind", ["source", "age_group"])
def test_completion_by_position_equals_the_merge(kind):
    rng = np.random.default_rng(5)
    grids = _grids([Quarter(2022, 4), Quarter(2023, 1), Quarter(2023, 4)])
    pop = reference.reference_population()
    pop = pd.concat([pop.assign(year=2021), pop.assign(year=2022)], ignore_index=True)
    if kind == "source":
        tasks, kinds = sorted(grids.tasks), sorted(count.SOURCES)
        bases, on = count.task_bases(pop), ["municipality_code", "year", "service_task"]
    else:
        tasks, kinds = sorted(grids.tasks + [count.ALL_TASKS]), sorted(count.AGE_GROUPS)
        bases, on = count.age_group_bases(pop), ["municipality_code", "year", "age_group"]
    # some bases missing (NA in the table) and some zero (no share)
    bases = bases.sample(frac=0.9, random_state=1).reset_index(drop=True)
    bases.loc[bases.index[:50], "population_base"] = 0
    found = _random_found(rng, grids, tasks, kind, kinds)   # "999": not on the grid
    got = count._quarter_table(found, tasks, kind, kinds, grids, bases)
    want = _by_merge(found, grids, tasks, kind, kinds, bases, on)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["population_base"].isna().any() and got["share_pct"].isna().any()


def test_monthly_by_position_equals_the_merge():
    rng = np.random.default_rng(7)
    qs = [Quarter(2023, 1), Quarter(2023, 2)]
    codes, tasks = ["005", "091", "837"], reference.task_codes()
    months = [m for q in qs for m in q.months]
    n = 400
    found = pd.DataFrame({"municipality_code": rng.choice(codes, n),
                          "service_task": rng.choice(tasks, n),
                          "source": rng.choice(count.SOURCES, n), "month": rng.choice(months, n),
                          "clients": rng.integers(1, 99, n)}).drop_duplicates(
        ["municipality_code", "service_task", "source", "month"])
    got = count._monthly_table(found.copy(), qs, codes, tasks)
    keys = ["quarter", "municipality_code", "service_task", "source", "month"]
    g = pd.DataFrame([(str(q), m, c, t, s) for q in qs for m in q.months for c in codes
                      for t in tasks for s in count.SOURCES],
                     columns=["quarter", "month", "municipality_code", "service_task", "source"])
    found["quarter"] = [str(Quarter(int(m[:4]), (int(m[5:]) - 1) // 3 + 1))
                        for m in found["month"]]
    want = g.merge(found, on=keys, how="left")
    want["clients"] = want["clients"].fillna(0).astype("int64")
    want = want[keys + ["clients"]].sort_values(keys).reset_index(drop=True).astype(
        {k: str for k in keys})
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_a_grid_cell_found_twice_is_refused():
    """A left merge would make two rows of a cell found twice; the fill by position would
    silently keep one of them, so it refuses."""
    found = pd.DataFrame({"a": ["x", "x"], "b": ["1", "1"], "clients": [3, 4]})
    with pytest.raises(AssertionError, match="found twice"):
        count._filled({"a": ["x", "y"], "b": ["1", "2"]}, found)
    with pytest.raises(AssertionError, match="sorted"):
        count._filled({"a": ["y", "x"]}, found[["a", "clients"]].iloc[:1])


def test_twin_tables_are_written_from_their_own_rows_when_they_differ(tmp_path):
    """series_counts is written from the lines of counts only when the rows are equal."""
    counts = pd.DataFrame({"quarter": pd.array(["2023Q1", "2023Q2"] * 2, dtype=str),
                           "municipality_code": pd.array(["005", "005", "091", "091"],
                                                         dtype=str),
                           "clients": np.array([1, 2, 3, 4], dtype=np.int64)})
    series = counts.assign(clients=np.array([10, 20, 30, 40], dtype=np.int64))
    tables = {"counts": counts, "series_counts": series}
    qs = [Quarter(2023, 1), Quarter(2023, 2)]
    stage.write_all_quarters(tables, qs, tmp_path / "out")
    for q in qs:
        for name, df in tables.items():
            rows = stage.quarter_rows(name, df, q)
            write_csv(df[rows].reset_index(drop=True), tmp_path / "want.csv")
            assert (tmp_path / "out" / str(q) / "tables" / f"{name}.csv").read_bytes() == \
                (tmp_path / "want.csv").read_bytes(), (q, name)
    # equal rows: the same bytes, the lines made once
    tables["series_counts"] = counts.copy()
    stage.write_all_quarters(tables, qs, tmp_path / "out2")
    for q in qs:
        a = (tmp_path / "out2" / str(q) / "tables")
        assert (a / "series_counts.csv").read_text().startswith(
            (a / "counts.csv").read_text().splitlines()[0])


def test_csv_lines_guard_text_cells_as_write_csv(tmp_path):
    """The lines a quarter's tables are written from neutralise formula-like text cells
    exactly as write_csv does (each distinct value once)."""
    df = pd.DataFrame({"code": pd.array(["=1+1", "-", "@x", "'a", "091", None], dtype=str),
                       "n": np.arange(6, dtype=np.int64)})
    header, lines = csv_lines(df)
    lines = lines.to_pylist()
    write_csv(df, tmp_path / "t.csv")
    assert (header + "\n" + "\n".join(lines) + "\n").encode() == (tmp_path / "t.csv").read_bytes()
    assert "'=1+1,0" in lines


def test_a_population_error_is_reported_before_a_register_error(tmp_path):
    """population.csv is read in a worker thread while DuckDB reads the register; when both
    are faulty, the population's error is the one reported (as when it was read first)."""
    data = write_folder(tmp_path / "d", [row()])
    (data / "population.csv").write_text("municipality_code,year\n091,2022\n")
    (data / "register" / "periods.csv").write_text("client_id,birth_year\nc1,1980\n")
    with pytest.raises(InputError, match="population.csv: missing column"):
        stage.run_register_stage(data, [Quarter(2023, 1)], PARAMS)
    # the register's own error when population.csv is fine
    write_folder(tmp_path / "e", [row()])
    (tmp_path / "e" / "register" / "periods.csv").write_text("client_id,birth_year\nc1,1980\n")
    with pytest.raises(InputError, match="periods.csv: missing column"):
        stage.run_register_stage(tmp_path / "e", [Quarter(2023, 1)], PARAMS)


def _two_files(tmp_path):
    data = write_folder(tmp_path / "d", [row(client_id=f"a{i}") for i in range(5)]
                        + [row(client_id="", start_date="x")], name="sha_part1.csv")
    write_folder(data, [row(client_id=f"b{i}", source="ET") for i in range(4)]
                 + [row(birth_year="19x0")], name="et_part1.csv")
    return data


def _raw(con):
    return con.execute("SELECT rowid, * FROM raw ORDER BY rowid").fetchdf()


def test_csv_files_read_at_once_give_the_rows_read_one_by_one(tmp_path):
    """Plain CSV files with one header are read by one DuckDB query (parsed in parallel);
    the rows, their files and row numbers are those of reading the files one by one."""
    from seuranta.register import ingest
    data = _two_files(tmp_path)
    files = ingest.register_files(data)
    with ingest.connect(PARAMS["register"]) as con:
        con.execute(ingest._RAW_DDL)
        assert ingest._load_csv_files_at_once(con, files, "utf-8", data) is not None
    with ingest.connect(PARAMS["register"]) as a, ingest.connect(PARAMS["register"]) as b:
        info_a = ingest.load_register(a, data)
        b.execute(ingest._RAW_DDL)
        info_b = ingest._load_each_file(b, files, "utf-8", data)
        assert info_a == info_b and [d["rows"] for d in info_a] == [5, 6]
        pd.testing.assert_frame_equal(_raw(a), _raw(b))


def test_a_faulty_file_among_several_is_named(tmp_path):
    """A file DuckDB cannot read makes the one-query read fail; the files are then read
    one by one and the error names the faulty file."""
    data = _two_files(tmp_path)
    # beyond the first 8 KB, which Python decodes to read the header line
    write_folder(data, [row(client_id=f"a{i}") for i in range(400)], name="sha_part1.csv")
    bad = data / "register" / "sha_part1.csv"
    bad.write_bytes(bad.read_bytes().replace(b"a399", b"a\xff399"))
    with pytest.raises(InputError, match=r"sha_part1\.csv: not utf-8 text"):
        stage.run_register_stage(data, [Quarter(2023, 1)], PARAMS)
