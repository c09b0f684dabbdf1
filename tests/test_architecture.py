"""The stage packages import one way (the import-linter contracts of pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True)


def test_layers_contract_holds():
    r = _lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_contract_catches_an_upward_import(tmp_path):
    # the same contract on a copy of the package in which core imports the pipeline
    import shutil
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "src" / "seuranta" / "core" / "quarters.py"
    bad.write_text(bad.read_text() + "\nfrom seuranta import pipeline  # noqa\n")
    env_cmd = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    r = subprocess.run(env_cmd, cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0
    assert "seuranta.core.quarters -> seuranta.pipeline" in r.stdout
