"""Issue 24: verify's re-run of a quarter's tables made once for the checks that edit only
OUT (never the data folder or the recorded values): the re-run is then the same for each."""

from __future__ import annotations


def rerun_once(monkeypatch, made: dict) -> None:
    """``verification.quarter_tables`` by (quarter, data folder, recorded values, encoding):
    made on its first call and kept in ``made``; each call gets its own copy of the tables."""
    import json

    from seuranta import verification
    from seuranta.core.provenance import params_values
    real = verification.quarter_tables

    def once(quarter, data_dir, params, *args):
        key = (str(quarter), str(data_dir), json.dumps(params_values(params)), args)
        if key not in made:
            made[key] = real(quarter, data_dir, params, *args)
        return {name: df.copy() for name, df in made[key].items()}
    monkeypatch.setattr(verification, "quarter_tables", once)
