"""Habits of the house: lint run by the tests, the contract in the repository, declared files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_test_runs_lint_and_help_lists_targets():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test: .*\blint\b", make, re.M)
    assert re.search(r"^lint: .*\n\t.*ruff check.*\n\t.*lint-imports.*\n\t.*vulture", make, re.M)
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in ("test", "lint", "publish", "backtests-update", "help"):
        assert re.search(rf"make {re.escape(target)}\s+\S", out), target


def test_ruff_passes():
    exe = Path(sys.executable).with_name("ruff")
    r = subprocess.run([str(exe), "check", "src", "tests", "scripts", "bench"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_vulture_finds_no_dead_code():
    """``make lint``'s dead-code check (pyproject.toml [tool.vulture])."""
    exe = Path(sys.executable).with_name("vulture")
    r = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_vulture_reports_a_function_without_caller(tmp_path):
    """The check catches the fault: a module-level function nobody calls, scanned with the
    project's whitelist, is reported (exit status 3)."""
    exe = Path(sys.executable).with_name("vulture")
    (tmp_path / "m.py").write_text("def used():\n    return 1\n\n\ndef orphan():\n"
                                   "    return 2\n\n\nprint(used())\n", encoding="utf-8")
    r = subprocess.run([str(exe), str(tmp_path / "m.py"), str(ROOT / "vulture_whitelist.py"),
                        "--min-confidence", "60"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 3 and "unused function 'orphan'" in r.stdout, r.stdout
    assert "'used'" not in r.stdout


def test_contract_is_in_the_repository_and_cited():
    doc = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    r = subprocess.run(["grep", "-rn", "CONTRACT.md", "src"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.stdout == "", r.stdout          # cite docs/data-contract.md, not a file outside
    golden = ROOT / "tests" / "backtests" / "golden"
    for p in golden.glob("*/*.csv"):          # every table the run writes is documented
        assert f"`{p.stem}.csv`" in doc, p.stem


def test_declared_files_exist():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in pyproject and (ROOT / "src" / "seuranta" / "py.typed").is_file()
    assert 'license = { text = "MIT" }' in pyproject
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    req = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^ruff==", req, re.M) and re.search(r"^import-linter==", req, re.M)
    assert re.search(r"^vulture==", req, re.M)


def test_one_blas_thread_unless_the_caller_says_otherwise():
    """``import seuranta`` sets one BLAS thread for the process and its children, before NumPy
    loads, and keeps a value the caller has set (seuranta/__init__.py)."""
    code = ("import os, seuranta; print(os.environ['OPENBLAS_NUM_THREADS'], "
            "os.environ['OMP_NUM_THREADS'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.split() == ["1", "1"], run.stderr
    run = subprocess.run([sys.executable, "-c", code], env={**env, "OPENBLAS_NUM_THREADS": "2"},
                         capture_output=True, text=True)
    assert run.stdout.split() == ["2", "1"], run.stderr
