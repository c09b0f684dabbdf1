"""seuranta: the reproducible publication of Finland's social welfare monitoring register.

Stage packages, each importing only the ones below it (enforced by import-linter, see
pyproject.toml): ``core`` ← ``inputs`` ← ``register``/``demo`` ← ``statistics`` ←
``publication``/``review``/``costs`` ← ``pipeline`` ← ``cli``.

One BLAS thread per process unless the caller says otherwise. The models work on small
matrices (counties × municipalities): a second OpenBLAS thread only spins while it waits,
and with the two cores shared (the publish and its notebook kernels, two test workers) the
spinning takes the other process's core. Measured on one quarter at demo scale 0.02
(``pipeline.run_quarter``, notebooks off): 63.2 s of CPU with the default threads, 31.8 s
with one, the same bytes in every table. Set before NumPy is imported (it reads these when
it loads); a value already in the environment is kept. Child processes (notebook kernels,
LaTeX, a re-made release) inherit it.
"""

import os as _os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")

__version__ = "0.1.0"
