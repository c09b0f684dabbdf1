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


# --------------------------------------------------------------------------- published only

#: The gate and its steps: the only publication modules that read the exact tables.
GATE_MODULES = {"gate.py", "quality.py", "rule.py"}
#: Ways a module could read a quarter's exact tables (``OUT/<Q>/tables/``): the typed
#: reader, the book helpers' old reader, a path into tables/, the published reader pointed
#: at tables_dir, or the gate run in memory from the exact tables.
EXACT_READS = [r"\bread_table\(", r"\b(bf|bookfmt)\.read\(", r"/ *[\"']tables[\"']",
               r"\bread\(\s*tables_dir", r"publish_quarter\(", r"read_csv\([^)]*tables_dir"]


def exact_reads(root: Path) -> list[str]:
    """Every line of a publication writer (module or notebook) that reads exact tables."""
    import re
    hits = []
    files = [p for p in sorted((root / "src" / "seuranta" / "publication").glob("*.py"))
             if p.name not in GATE_MODULES]
    files += sorted((root / "notebooks").glob("*.md"))
    files += [root / "src" / "seuranta" / "core" / "fmt.py"]
    for p in files:
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(pat, line) for pat in EXACT_READS):
                hits.append(f"{p.relative_to(root)}:{i}: {line.strip()}")
    return hits


def test_publication_writers_read_only_the_published_tables():
    """Book chapters, annexes, open data, maps, comparison pages, landing page, Swedish
    summary and revisions read the gate's published tables only (the costs notebook reads
    its own cost tables: a separate product)."""
    hits = [h for h in exact_reads(ROOT) if not h.startswith("notebooks/costs.md")]
    assert hits == []


def test_exact_reads_are_found(tmp_path):
    """The check catches a writer that reads tables/: a copy of the package with one."""
    import shutil
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    bad = tmp_path / "src" / "seuranta" / "publication" / "landing.py"
    bad.write_text(bad.read_text() + "\n\ndef _sneak(tables_dir):\n"
                   "    return pub.read(tables_dir, 'estimates')\n")
    nb = tmp_path / "notebooks" / "yhteenveto.md"
    nb.write_text(nb.read_text() + "\nx = pd.read_csv(Path(tables_dir) / 'estimates.csv')\n")
    hits = exact_reads(tmp_path)
    assert any("landing.py" in h for h in hits) and any("yhteenveto.md" in h for h in hits)
