"""The cost stage's manifest and `seuranta verify --costs YEAR` (src/seuranta/costs.py).

The tiny ledger, mapping, population and register tables of test_costs.py; table hashes are
recomputed with the csv module (sorted rows, LF endings) rather than the pipeline's helper.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from test_costs import _register_tables, make_data

from seuranta.cli import main as cli_main
from seuranta.core import provenance
from seuranta.core.params import DEFAULT_PARAMS, load_params
from seuranta.costs import model as costs

TABLES = {"allocation", "dimensions", "ledger_rows", "meta", "packages", "per_client",
          "per_resident", "quarantine", "unallocated"}


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _csv_hash(path: Path) -> str:
    """Independent canonical hash: header, then the rows sorted as text, LF endings."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows[0])
    w.writerows(sorted(rows[1:]))
    return hashlib.sha256(buf.getvalue().encode("utf-8")).hexdigest()


@pytest.fixture
def published(tmp_path):
    """(data folder, build folder, OUT/costs/2022) of a run with a copied parameters file."""
    params_file = tmp_path / "parameters.yml"
    shutil.copy(DEFAULT_PARAMS, params_file)
    build = _register_tables(tmp_path / "build")
    data = make_data(tmp_path)
    target = costs.run_and_write(2022, data, build, load_params(params_file))
    return data, build, target


def _verify(build: Path, capsys) -> tuple[bool, dict[str, str], str]:
    """(verify's result, the status of each table, the whole report)."""
    ok = costs.verify_costs(2022, build)
    text = capsys.readouterr().out
    status = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(": ")
        if sep and name in TABLES:
            status[name] = rest
    return ok, status, text


def _different(status: dict[str, str]) -> set[str]:
    return {n for n, s in status.items() if s.startswith("DIFFERENT")}


def test_manifest_records_inputs_parameters_and_table_hashes(published, tmp_path):
    data, build, target = published
    m = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert m["costs_year"] == 2022 and m["data_dir"] == str(data.resolve())
    assert m["register_dir"] is None and m["synthetic"] is False

    assert set(m["tables"]) == TABLES == {p.stem for p in (target / "tables").glob("*.csv")}
    for name, h in m["tables"].items():
        assert h == _csv_hash(target / "tables" / f"{name}.csv"), name

    expected_inputs = {
        "DATA/costs/ledger.csv": data / "costs" / "ledger.csv",
        "DATA/costs/package_mapping.csv": data / "costs" / "package_mapping.csv",
        "DATA/population.csv": data / "population.csv",
        "data/reference/cost_packages.csv": costs.PACKAGES_FILE,
        "data/reference/municipalities.csv": costs.reference.REFERENCE_DIR / "municipalities.csv",
        "OUT/2022Q4/tables/year_counts.csv": build / "2022Q4" / "tables" / "year_counts.csv",
        **{f"OUT/2022Q{q}/tables/quality.csv": build / f"2022Q{q}" / "tables" / "quality.csv"
           for q in range(1, 5)},
    }
    assert set(m["inputs"]) == set(expected_inputs)
    for name, path in expected_inputs.items():
        assert m["inputs"][name] == {"path": str(path.resolve()), "sha256": _sha(path)}, name

    assert m["parameters"]["file"] == "parameters.yml"      # its name: no path in a manifest
    assert m["parameters"]["sha256"] == _sha(tmp_path / "parameters.yml")
    assert m["parameters"]["values"]["costs"]["benchmark_allocation_pct"] == 97.2
    assert m["code"]["seuranta"] and "commit" in m["code"]
    assert m["packages"]["pandas"] == pytest.importorskip("pandas").__version__
    # the meta table names its inputs as the manifest does, not by where the folders lie
    meta = dict(csv.reader(io.StringIO((target / "tables" / "meta.csv").read_text())))
    assert meta["mapping_file"] == "DATA/costs/package_mapping.csv"
    assert meta["register_year_counts"] == "OUT/2022Q4/tables/year_counts.csv"
    assert not list(target.parent.glob(".tmp-*"))


def test_verify_of_an_untouched_run_is_identical(published, capsys):
    _, build, _ = published
    ok, status, text = _verify(build, capsys)
    assert ok is True
    assert status == {name: "identical" for name in TABLES}
    assert text.splitlines()[-1] == "costs 2022: all tables identical"
    assert cli_main(["verify", "--costs", "2022", "--out", str(build)]) == 0


def test_verify_reports_a_published_table_edited_after_the_run(published, capsys):
    _, build, target = published
    p = target / "tables" / "packages.csv"
    p.write_text(p.read_text().replace("6500.00", "6500.01", 1))
    ok, status, text = _verify(build, capsys)
    assert ok is False
    assert status["packages"] == "DIFFERENT (published file edited after the run)"
    assert _different(status) == {"packages"}
    assert "inputs changed" not in text and text.splitlines()[-1] == "costs 2022: NOT identical"
    assert cli_main(["verify", "--costs", "2022", "--out", str(build)]) == 1


def test_verify_reports_a_deleted_published_table(published, capsys):
    _, build, target = published
    (target / "tables" / "quarantine.csv").unlink()
    ok, status, _ = _verify(build, capsys)
    assert ok is False
    assert status["quarantine"] == "DIFFERENT (published file missing)"
    assert _different(status) == {"quarantine"}


def test_verify_reports_a_changed_ledger(published, capsys):
    data, build, _ = published
    with open(data / "costs" / "ledger.csv", "a", encoding="utf-8") as f:
        # one more euro row of area 90 in vastaanotto (not a package matched to clients)
        f.write("2022,90,A2,18-64,valtion_rahoitus,oma_tuotanto,100.00\n")
    ok, status, text = _verify(build, capsys)
    assert ok is False
    assert "inputs changed since the run: DATA/costs/ledger.csv\n" in text
    # by hand: totals, package shares, € per resident, dimensions and row counts move;
    # unallocated, quarantine, € per client and meta do not
    assert _different(status) == {"allocation", "packages", "per_resident", "dimensions",
                                  "ledger_rows"}
    assert status["allocation"] == "DIFFERENT"
    assert "published only: 2022,90,Helsingin kaupunki,5150.75,5050.50,100.25" in text
    assert "re-run only: 2022,90,Helsingin kaupunki,5250.75,5150.50,100.25" in text


def test_verify_reports_a_changed_register_table(published, capsys):
    _, build, _ = published
    yc = build / "2022Q4" / "tables" / "year_counts.csv"
    yc.write_text(yc.read_text().replace("2022,091,90,iakkaat,ALL,40,",
                                         "2022,091,90,iakkaat,ALL,80,"))
    ok, status, text = _verify(build, capsys)
    assert ok is False
    assert "inputs changed since the run: OUT/2022Q4/tables/year_counts.csv\n" in text
    assert _different(status) == {"per_client"}


def test_verify_uses_the_recorded_parameters_not_the_file(published, tmp_path, capsys):
    data, build, target = published
    pf = tmp_path / "parameters.yml"
    pf.write_text(pf.read_text().replace("full_coverage_pct: 100.0", "full_coverage_pct: 50.0"))
    ok, status, _ = _verify(build, capsys)
    assert ok is True and _different(status) == set()
    # --params with other values is refused, naming the key; the recorded ones are accepted
    assert cli_main(["verify", "--costs", "2022", "--out", str(build), "--params", str(pf)]) == 2
    assert "full_coverage_pct: 50.0 != 100.0" in capsys.readouterr().err
    assert cli_main(["verify", "--costs", "2022", "--out", str(build),
                     "--params", str(DEFAULT_PARAMS)]) == 0
    # the safeguard bypassed: the edited file's values make other tables (national
    # hoito_hoiva coverage 57.1 % is full at 50 %; meta records the threshold)
    m = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    tables = costs.run_costs(2022, data, load_params(pf), out_dir=build)
    costs.write_costs_tables(tables, tmp_path / "edited")
    assert {n for n in m["tables"]
            if _csv_hash(tmp_path / "edited" / f"{n}.csv") != m["tables"][n]} == {"per_client", "meta"}


def test_failed_manifest_leaves_the_previous_publication(published, monkeypatch):
    data, build, target = published
    before = {p: p.read_bytes() for p in sorted(target.rglob("*")) if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("hashing failed")

    monkeypatch.setattr(provenance, "table_hashes", broken)
    with pytest.raises(RuntimeError):
        costs.run_and_write(2022, data, build, load_params())
    assert {p: p.read_bytes() for p in sorted(target.rglob("*")) if p.is_file()} == before
    assert not list(target.parent.glob(".tmp-*"))


@pytest.mark.parametrize("argv, message", [
    (["verify"], "give exactly one of --quarter Q or --costs YEAR"),
    (["verify", "--quarter", "2022Q4", "--costs", "2022"],
     "give exactly one of --quarter Q or --costs YEAR"),
    (["verify", "--costs", "2022"], "no manifest for costs 2022"),
    (["verify", "--costs", "22"], "cost year is not a year"),
])
def test_verify_argument_errors_are_one_line(argv, message, tmp_path, capsys):
    assert cli_main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seuranta: error:"), err
    assert message in err[0]


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_demo_costs_chapter_writes_a_manifest_that_verifies(release, tmp_path, capsys):
    """The session's release (tests/conftest.py: the four quarters of 2023, a whole cost
    year): its costs chapter's manifest names its inputs, and ``seuranta verify --costs``
    on a copy of what the chapter reads re-makes every table identically."""
    out = tmp_path / "build"
    for q in range(1, 5):
        shutil.copytree(release["out"] / f"2023Q{q}", out / f"2023Q{q}")
    shutil.copytree(release["out"] / "costs", out / "costs")
    target = out / "costs" / "2023"
    m = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert m["synthetic"] is True and set(m["tables"]) == TABLES
    assert "OUT/2023Q4/tables/year_counts.csv" in m["inputs"]
    assert {f"OUT/2023Q{q}/tables/quality.csv" for q in range(1, 5)} <= set(m["inputs"])
    capsys.readouterr()
    assert cli_main(["verify", "--costs", "2023", "--out", str(out)]) == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert text.count(": identical") == len(TABLES)
    assert "costs 2023: all tables identical" in text
