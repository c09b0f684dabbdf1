"""Registers with known truth drawn independently of the estimators (the coverage study's
data). Imports nothing from ``seuranta.statistics`` or ``seuranta.demo`` (an import-linter
contract in pyproject.toml keeps it so)."""
