"""seuranta: the reproducible publication of Finland's social welfare monitoring register.

Stage packages, each importing only the ones below it (enforced by import-linter, see
pyproject.toml): ``core`` ← ``inputs`` ← ``register``/``demo`` ← ``statistics`` ←
``publication``/``review``/``costs`` ← ``pipeline`` ← ``cli``.
"""

__version__ = "0.1.0"
