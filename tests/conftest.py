"""Shared pytest fixtures. Keep this file minimal: one national-scale demo per session."""

import pytest

from seuranta.demo import generator as demo


@pytest.fixture(scope="session")
def national_demo(tmp_path_factory):
    """Demo data at national size (scale 1, default seed), generated once per test session.

    Takes some 20-30 s; use it only from tests marked ``@pytest.mark.slow``.
    """
    out = tmp_path_factory.mktemp("national_demo")
    demo.generate(out, scale=1.0, seed=demo.DEFAULT_SEED)
    return out
