"""What a run imports before its register stage starts: a one-quarter re-run is CPU-bound
on two cores, and the imports before the workers are forked run on one core alone
(issue 24). jupytext (with nbformat, jsonschema, traitlets) is imported in the kernels'
threads, while the tables are made; the fits import statsmodels' modules, not
``statsmodels.api``'s import of every model. Checked in a fresh interpreter (what this
test process already imported says nothing)."""

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

PROBE = """
import sys
import seuranta.cli, seuranta.pipeline
from seuranta.statistics import memo, model
import numpy as np
before = {m: m in sys.modules for m in ("jupytext", "nbformat", "statsmodels.api")}
with memo.worker_pool(2):
    pass
X = np.column_stack([np.ones(40), np.linspace(-1, 1, 40)])
y = np.array([3, 5, 2, 8, 4, 6, 9, 3, 5, 7] * 4, float)
model.fit_nb(X, y, np.full(40, 100.0))
model.fit_poisson(X, y, np.full(40, 100.0))
after = {m: m in sys.modules for m in ("statsmodels.api",)}
print(before, after)
"""


def test_a_run_imports_no_jupytext_before_its_kernels_and_no_statsmodels_api():
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == ("{'jupytext': False, 'nbformat': False, 'statsmodels.api': False} "
                   "{'statsmodels.api': False}")


def test_the_kernels_warm_imports_leave_out_the_register_stage():
    """Each notebook kernel imports the chapters' modules while the tables are made
    (:data:`seuranta.publication.notebooks._WARM`); reading published tables needs neither
    the register stage nor DuckDB."""
    from seuranta.publication import notebooks

    probe = notebooks._WARM + "import sys\nprint('duckdb' in sys.modules)\n"
    env = {**os.environ, "PYTHONPATH": SRC, "MPLBACKEND": "agg"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == "False"
