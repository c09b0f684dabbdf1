"""Whole-quarter runs: atomic replacement, manifest, verify, command-line errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from verify_rerun import rerun_once

from seuranta import pipeline, verification
from seuranta.cli import main as cli_main
from seuranta.core import provenance
from seuranta.core.params import load_params
from seuranta.demo import generator as demo

SCALE = 0.02
PARAMS = load_params()


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    demo.generate(d, scale=SCALE, seed=7)
    return d


@pytest.fixture(scope="module")
def first_run(small_demo, tmp_path_factory):
    """OUT with quarter 2023Q1 of the small demo run once (no notebooks) and the folder
    run_quarter returned; the tests that start from this run (xdist_group "first_run": one
    worker) take a copy of it, so that the quarter runs once for the module."""
    out = tmp_path_factory.mktemp("first_run") / "build"
    return out, pipeline.run_quarter("2023Q1", small_demo, out, PARAMS, notebooks=False)


def _copy_of(first_run, tmp_path: Path) -> Path:
    import shutil
    copy = tmp_path / "build"
    shutil.copytree(first_run[0], copy)
    return copy


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow   # a whole quarter's run, then its verification
@pytest.mark.xdist_group("first_run")
def test_run_writes_tables_and_manifest_then_verify_is_identical(first_run, tmp_path, capsys,
                                                                  monkeypatch):
    assert first_run[1] == first_run[0] / "2023Q1"
    out = _copy_of(first_run, tmp_path)
    qdir = out / "2023Q1"
    for name in ["counts", "quality", "estimates", "quartiles"]:
        assert (qdir / "tables" / f"{name}.csv").is_file(), name
    for name in ["rejected", "ledger", "flags"]:   # the extract's, once: not the quarter's
        assert not (qdir / "tables" / f"{name}.csv").exists(), name
        assert (out / "register" / "tables" / f"{name}.csv").is_file(), name
    assert (out / "register" / "published" / "ledger.csv").is_file()
    manifest = json.loads((qdir / "manifest.json").read_text())
    assert manifest["quarter"] == "2023Q1" and manifest["synthetic"] is True
    assert "register" in "".join(manifest["inputs"])
    assert set(manifest["tables"]) >= {"counts", "quality", "estimates", "quartiles"}
    # the hashes made in a worker beside the gate are those of the tables as published
    assert manifest["tables"] == provenance.table_hashes(qdir / "tables")
    assert manifest["packages"]["pandas"]
    assert not list(out.glob(".tmp-*"))

    # verify's re-run made once for both checks below: the second edits only OUT (issue 24)
    rerun_once(monkeypatch, {})
    assert verification.verify_quarter("2023Q1", out) is True
    text = capsys.readouterr().out
    assert "counts: identical" in text and "all tables identical" in text

    # a table edited by hand after the run is caught
    counts = qdir / "tables" / "counts.csv"
    lines = counts.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",99.9999"
    counts.write_text("\n".join(lines) + "\n")
    assert verification.verify_quarter("2023Q1", out) is False
    assert "counts: DIFFERENT" in capsys.readouterr().out


@pytest.mark.slow
def test_verify_reruns_the_recorded_values_and_finds_a_moved_data_folder(small_demo, tmp_path,
                                                                        capsys):
    """The parameters file changed after the run: verify still re-runs the recorded values;
    --params with other values is refused, naming the key; --data finds a moved folder.
    One re-run checks both the recorded values and the moved folder (issue 24: a whole
    quarter's re-run less): it re-runs with the edited file beside it and from the moved
    folder, and either fault (the file's values used, the folder not found) fails it."""
    import shutil

    from seuranta.core.provenance import table_hash
    from seuranta.core.quarters import Quarter
    from seuranta.statistics.quarter import quarter_tables

    pf = tmp_path / "parameters.yml"
    shutil.copy(PARAMS["_file"], pf)
    data = tmp_path / "data"
    shutil.copytree(small_demo, data)
    out = tmp_path / "build"
    pipeline.run_quarter("2023Q1", data, out, load_params(pf), notebooks=False)
    pf.write_text(pf.read_text(encoding="utf-8").replace("z: 1.96", "z: 2.5"), encoding="utf-8")
    # the data folder moved: named with --data (its input hashes decide)
    moved = tmp_path / "muualla"
    data.rename(moved)
    capsys.readouterr()
    assert cli_main(["verify", "--quarter", "2023Q1", "--out", str(out)]) == 2
    assert "moved? give --data DIR" in capsys.readouterr().err
    given = ["--data", str(moved), "--params"]
    assert cli_main(["verify", "--quarter", "2023Q1", "--out", str(out), *given, str(pf)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "estimate.z: 2.5 != 1.96" in err[0]
    assert cli_main(["verify", "--quarter", "2023Q1", "--out", str(out),
                     *given, str(tmp_path / "puuttuu.yml")]) == 2
    assert "parameters file not found" in capsys.readouterr().err
    # the edited file beside the run, the folder moved: the recorded values re-run
    assert cli_main(["verify", "--quarter", "2023Q1", "--out", str(out), "--data", str(moved)]) == 0
    assert "all tables identical" in capsys.readouterr().out
    # the safeguard bypassed: the edited file's values make other estimates
    manifest = json.loads((out / "2023Q1" / "manifest.json").read_text(encoding="utf-8"))
    tables = quarter_tables(Quarter.parse("2023Q1"), moved, load_params(pf))
    pipeline.write_tables(tables, tmp_path / "edited")
    assert table_hash(tmp_path / "edited" / "estimates.csv") != manifest["tables"]["estimates"]


@pytest.mark.slow   # a quarter's run, failed
@pytest.mark.xdist_group("first_run")
def test_failed_run_leaves_previous_publication(small_demo, first_run, tmp_path, monkeypatch):
    """The previous publication: a copy of the module's first run (issue 24: a whole
    quarter's run less), then the same quarter run again and failed."""
    out = _copy_of(first_run, tmp_path)
    before = _snapshot(out / "2023Q1")

    from seuranta.statistics import stage as stats
    def broken(*args, **kwargs):
        raise RuntimeError("statistics stage failed")

    monkeypatch.setattr(stats, "run_statistics_stage", broken)
    with pytest.raises(RuntimeError, match="statistics stage failed"):
        pipeline.run_quarter("2023Q1", small_demo, out, PARAMS, notebooks=False)
    assert _snapshot(out / "2023Q1") == before
    assert not list(out.glob(".tmp-*"))


@pytest.mark.slow
@pytest.mark.xdist_group("first_run")
def test_killed_run_leaves_previous_publication(small_demo, first_run, tmp_path):
    out = _copy_of(first_run, tmp_path)
    before = _snapshot(out / "2023Q1")
    proc = subprocess.Popen([sys.executable, "-m", "seuranta.cli", "run", "--quarter", "2023Q1",
                             "--data", str(small_demo), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # wait until the run has written part of its temporary folder, then kill it
    deadline = time.time() + 120
    while time.time() < deadline:
        if any((p / "tables").is_dir() for p in out.glob(".tmp-*")):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the run never reached its temporary folder")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _snapshot(out / "2023Q1") == before
    # the next run clears what the killed run left behind
    pipeline.clean_stale(out)
    assert not list(out.glob(".tmp-*"))


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["run", "--quarter", "2023Q9", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seuranta: error:")
    assert cli_main(["verify", "--quarter", "2023Q1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no manifest" in err[0]


def test_quarter_outside_the_data_is_refused(small_demo, tmp_path):
    with pytest.raises(Exception, match="outside"):
        pipeline.run_quarter("2021Q1", small_demo, tmp_path, PARAMS, notebooks=False)



def test_notebook_kernels_use_ipc_and_report_a_failing_cell(tmp_path, capfd):
    """Kernels run over local IPC sockets (no TCP warning on stderr); parameters are injected
    and hidden; a failing cell becomes one line naming the notebook."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from seuranta.publication import notebooks as publish
    nb = new_notebook(cells=[new_code_cell("print(x * 2)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    out = tmp_path / "ok.ipynb"
    publish._papermill(nb, out, {"x": 21}, "notebook ok.ipynb")
    cells = nbformat.read(out, as_version=4).cells
    assert "remove-cell" in cells[0].metadata["tags"]            # injected parameters
    assert cells[-1].outputs[0]["text"] == "42\n"
    assert "TCP" not in capfd.readouterr().err
    # kernels side by side (publish runs two at a time) get their own sockets
    import concurrent.futures as cf

    nbs = [new_notebook(cells=[new_code_cell(f"print(x + {i})")], metadata=nb.metadata)
           for i in range(3)]
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda i: publish._papermill(nbs[i], tmp_path / f"p{i}.ipynb", {"x": 1},
                                                   f"notebook p{i}.ipynb"), range(3)))
    for i in range(3):
        out_i = nbformat.read(tmp_path / f"p{i}.ipynb", as_version=4).cells[-1].outputs
        assert out_i[0]["text"] == f"{1 + i}\n"
    assert not list(publish.PROJECT_DIR.glob("kernel-ipc*"))
    assert not list(Path.cwd().glob("kernel-ipc*"))
    bad = new_notebook(cells=[new_code_cell("1 / 0")])
    bad.metadata["kernelspec"] = nb.metadata["kernelspec"]
    with pytest.raises(RuntimeError) as e:
        publish._papermill(bad, tmp_path / "bad.ipynb", {}, "notebook bad.ipynb",
                           failed_dir=tmp_path / "failed")
    # the failing cell named (in the kept notebook) and that notebook kept, with the traceback
    kept = tmp_path / "failed" / "bad.ipynb"
    cells = nbformat.read(kept, as_version=4).cells
    i = next(i for i, c in enumerate(cells) if c.cell_type == "code" and c.source == "1 / 0")
    assert str(e.value) == (f"notebook bad.ipynb failed in cell {i} (1 / 0): "
                            f"ZeroDivisionError: division by zero (kept: {kept})")
    assert cells[i].outputs[-1]["output_type"] == "error"
    assert not (tmp_path / "bad.ipynb").exists()
