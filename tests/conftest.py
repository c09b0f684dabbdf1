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


#: The order in which ``-n 2`` hands out the work (pyproject addopts: ``--dist loadgroup
#: --no-loadscope-reorder``: each xdist group, and each test of none, is a unit that goes
#: whole to the next worker short of work, in the order of the collection): the release's
#: tests first (its build is the longest setup), the other long groups next, among them
#: ``release-b``, the release's longest tests, which the other worker runs once the release
#: is built (see :func:`release`), then any other group, then the tests of no group: those
#: marked ``slow`` first (a unit each, the longest of them, e.g. tests/test_cache.py's new
#: extract, about 3 min: one that started last would leave the other worker idle that long),
#: then the others as collected (short units last, so that neither worker waits long for
#: the other at the end; a module's tests kept together, so that its fixtures are made once
#: per worker).
XDIST_ORDER = ("release", "backtests", "killed_run", "audit_pair", "release-b", "attacker",
               "stats_series", "params_flow", "beyond_demo")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under xdist, the groups in the order of XDIST_ORDER, then the other groups, then the
    slow tests of no group, then the rest (a stable sort: the tests of a group, and those
    of no group, keep their order). Without xdist, nothing is moved."""
    import os

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return

    def rank(item) -> int:
        mark = item.get_closest_marker("xdist_group")
        group = (mark.args[0] if mark.args else mark.kwargs.get("name")) if mark else None
        if group in XDIST_ORDER:
            return XDIST_ORDER.index(group)
        if group is not None:
            return len(XDIST_ORDER)
        return len(XDIST_ORDER) + 1 + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)


@pytest.fixture
def undrawn_charts(monkeypatch):
    """The comparison pages' charts not drawn (tests/undrawn.py); the picture's bytes."""
    from undrawn import undraw_charts

    return undraw_charts(monkeypatch)


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """One small publish (demo at RELEASE_SCALE, every quarter, annexes, costs, book HTML and
    PDFs; the hostile corpus of tests/hostile.py in its corrections.csv), built once per
    session. Tests using it are marked ``slow`` and ``xdist_group("release")``, or
    ``xdist_group("release-b")`` for the longest, which the other worker runs (XDIST_ORDER).
    Under xdist the first worker that needs it builds it in the session's temporary folder
    (shared by the workers) while it holds a lock; the other waits for the lock, then reads
    the release built (or fails at once when the build failed)."""
    import fcntl
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return _build_release(tmp_path_factory.mktemp("release"))
    shared = tmp_path_factory.getbasetemp().parent   # the workers' folders are in it
    root = shared / "release"
    with open(shared / "release.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes (or the worker dies)
        failed = shared / "release.failed"
        if failed.is_file():
            raise RuntimeError(f"the session's release failed to build: {failed.read_text()}")
        built = shared / "release.built"
        if not built.is_file():
            try:
                _build_release(root)
            except BaseException as e:
                failed.write_text(f"{worker}: {type(e).__name__}: {e}"[:2000])
                raise
            built.write_text(worker)
    return _release_of(root, _release_params())


def _release_params():
    from seuranta.core.params import load_params

    params = load_params()
    params["publication"]["first_quarter"] = RELEASE_FIRST_QUARTER
    return params


def _release_of(root, params):
    data, out = root / "data", root / "build"
    quarters = sorted(p.name for p in out.glob("20[0-9][0-9]Q[1-4]"))
    return {"data": data, "out": out, "html": out / "book" / "_build" / "html",
            "quarters": quarters, "params": params}


def _build_release(root):
    from hostile import add_to_corrections

    from seuranta import pipeline
    from seuranta.inputs.datafolder import publication_quarters
    from seuranta.review.signing import load_or_create_key

    root.mkdir(parents=True, exist_ok=True)
    data, out = root / "data", root / "build"
    params = _release_params()
    # the demo, with the review key of a data folder and, in its corrections.csv, every
    # string of the hostile corpus as a reviewer's note (tests/test_untrusted.py, issue 20)
    demo.generate(data, scale=RELEASE_SCALE, seed=demo.DEFAULT_SEED)
    load_or_create_key(data)
    add_to_corrections(data, str(max(publication_quarters(data, params))))
    pipeline.publish(data, out, params, scale=RELEASE_SCALE, pdf=True)
    return _release_of(root, params)
