"""Shared pytest fixtures. Keep this file minimal: one national-scale demo per session, and
one small whole release (book, PDFs, annexes) shared by every whole-build test."""

import pytest

from seuranta.demo import generator as demo

#: Scale of the one small release the whole-build tests read (HTML, PDF, annexes).
RELEASE_SCALE = 0.03
#: Its first quarter: the four quarters of 2023 of the demo's five (the fewest with a whole
#: cost year, which the costs chapter needs), so that the release, and the test that makes
#: it again byte for byte, each run the quarter stage four times, not five.
RELEASE_FIRST_QUARTER = "2023Q1"


@pytest.fixture(scope="session")
def national_demo(tmp_path_factory):
    """Demo data at national size (scale 1, default seed), generated once per test session.

    Takes some 20-30 s; use it only from tests marked ``@pytest.mark.slow``.
    """
    out = tmp_path_factory.mktemp("national_demo")
    demo.generate(out, scale=1.0, seed=demo.DEFAULT_SEED)
    return out


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """One small publish (demo at RELEASE_SCALE, every quarter, annexes, costs, book HTML and
    PDFs; the hostile corpus of tests/hostile.py in its corrections.csv), built once per
    session. Tests using it are marked ``slow`` and
    ``xdist_group("release")`` so that under ``-n 2`` one worker builds it once."""
    import os

    from seuranta import pipeline
    from seuranta.core.params import load_params

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:   # the workers' temporary folders share the session's folder
        shared = tmp_path_factory.getbasetemp().parent
        others = [p.name for p in shared.glob("release-built-by-*")]
        if others:
            raise RuntimeError(
                f"the release would be built a second time ({worker}; already {others}): "
                "xdist is not keeping the xdist_group('release') tests on one worker "
                "(pytest 9.2 breaks --dist loadgroup; requirements.txt pins 9.1.1)")
        (shared / f"release-built-by-{worker}").touch()
    from hostile import add_to_corrections

    from seuranta.inputs.datafolder import publication_quarters
    from seuranta.review.signing import load_or_create_key

    root = tmp_path_factory.mktemp("release")
    data, out = root / "data", root / "build"
    params = load_params()
    params["publication"]["first_quarter"] = RELEASE_FIRST_QUARTER
    # the demo, with the review key of a data folder and, in its corrections.csv, every
    # string of the hostile corpus as a reviewer's note (tests/test_untrusted.py, issue 20)
    demo.generate(data, scale=RELEASE_SCALE, seed=demo.DEFAULT_SEED)
    load_or_create_key(data)
    add_to_corrections(data, str(max(publication_quarters(data, params))))
    pipeline.publish(data, out, params, scale=RELEASE_SCALE, pdf=True)
    quarters = sorted(p.name for p in out.glob("20[0-9][0-9]Q[1-4]"))
    return {"data": data, "out": out, "html": out / "book" / "_build" / "html",
            "quarters": quarters, "params": params}
