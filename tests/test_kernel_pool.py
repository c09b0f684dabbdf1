"""notebooks.KernelPool (``seuranta publish``'s notebooks): a run's quarters share up to
``jobs`` kernels, each started when first needed and kept; a kernel whose quarter failed
is replaced by a fresh one; leaving the pool stops every kernel. The kernel itself is
replaced by a fake here (the real kernels: every publish test, whose notebooks are the
same bytes as with a kernel per quarter)."""

from __future__ import annotations

import threading

import pytest

from seuranta.core.params import load_params
from seuranta.publication import notebooks


@pytest.fixture
def fake_kernels(monkeypatch):
    log = {"started": [], "stopped": [], "ran": []}
    lock = threading.Lock()
    gate = threading.Event()

    async def start():
        with lock:
            k = f"k{len(log['started'])}"
            log["started"].append(k)
        return (k, None)

    async def stop(km, kc):
        with lock:
            log["stopped"].append(km)

    async def execute(km, kc, tasks, progress=None, params_name=None, failed_dir=None):
        gate.wait(30)
        quarter = tasks[0][2]["quarter"]
        with lock:
            log["ran"].append((km, quarter))
        if quarter == "2023Q2":
            raise RuntimeError("notebook failed")
        return [t[1] for t in tasks]

    monkeypatch.setattr(notebooks, "_start_kernel", start)
    monkeypatch.setattr(notebooks, "_stop_kernel", stop)
    monkeypatch.setattr(notebooks, "_execute_in", execute)
    return log, gate


def test_quarters_share_kernels_a_failed_quarters_kernel_is_replaced(tmp_path, fake_kernels):
    log, gate = fake_kernels
    params = load_params()
    quarters = ["2022Q4", "2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    with notebooks.KernelPool(2) as pool:
        futures = {q: pool.submit(q, tmp_path / q / "tables", tmp_path / q / "notebooks",
                                  True, params) for q in quarters}
        gate.set()
        for q in quarters:
            if q == "2023Q2":
                with pytest.raises(RuntimeError, match="notebook failed"):
                    futures[q].result(30)
            else:
                paths = futures[q].result(30)
                plan = notebooks.notebook_plan(q)
                assert [p.name for p in paths] == [f"{n}.ipynb" for n, _, _ in plan]
    assert sorted(q for _, q in log["ran"]) == quarters     # each quarter once
    failed = next(k for k, q in log["ran"] if q == "2023Q2")
    # two kernels for five quarters, and one more after the failed quarter's was stopped
    assert len(log["started"]) == 3
    after = log["ran"][log["ran"].index((failed, "2023Q2")) + 1:]
    assert failed not in {k for k, _ in after}              # never used again
    assert sorted(log["stopped"]) == sorted(log["started"])  # every kernel stopped
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit("2023Q1", tmp_path, tmp_path, True, params)


def test_one_job_runs_every_quarter_in_one_kernel(tmp_path, fake_kernels):
    log, gate = fake_kernels
    gate.set()
    with notebooks.KernelPool(1) as pool:
        for q in ("2023Q1", "2023Q3"):
            pool.submit(q, tmp_path / q, tmp_path / q / "nb", True, load_params()).result(30)
    assert log["started"] == ["k0"] and log["stopped"] == ["k0"]
    assert log["ran"] == [("k0", "2023Q1"), ("k0", "2023Q3")]
