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


def test_five_quarters_share_two_kernels(tmp_path, fake_kernels):
    log, gate = fake_kernels
    params = load_params()
    quarters = ["2022Q4", "2023Q1", "2023Q3", "2023Q4", "2024Q1"]
    with notebooks.KernelPool(2) as pool:
        futures = {q: pool.submit(q, tmp_path / q / "tables", tmp_path / q / "notebooks",
                                  True, params) for q in quarters}
        gate.set()   # (the first kernel holds its quarter until every quarter is handed in)
        for q in quarters:
            paths = futures[q].result(30)
            plan = notebooks.notebook_plan(q)
            assert [p.name for p in paths] == [f"{n}.ipynb" for n, _, _ in plan]
            assert all(p.parent == tmp_path / q / "notebooks" for p in paths)
    assert sorted(q for _, q in log["ran"]) == quarters     # each quarter once
    assert log["started"] == ["k0", "k1"]                   # two kernels for five quarters
    assert {k for k, _ in log["ran"]} == {"k0", "k1"}
    assert sorted(log["stopped"]) == ["k0", "k1"]           # both stopped on leaving
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit("2023Q1", tmp_path, tmp_path, True, params)


def test_a_failed_quarters_kernel_is_replaced(tmp_path, fake_kernels):
    """The quarter's error comes through its future; its kernel is stopped and the next
    quarter runs in a fresh one."""
    log, gate = fake_kernels
    gate.set()
    with notebooks.KernelPool(1) as pool:
        futures = [pool.submit(q, tmp_path / q, tmp_path / q / "nb", True, load_params())
                   for q in ("2023Q1", "2023Q2", "2023Q3")]
        assert futures[0].result(30)
        with pytest.raises(RuntimeError, match="notebook failed"):
            futures[1].result(30)
        assert futures[2].result(30)
    assert log["ran"] == [("k0", "2023Q1"), ("k0", "2023Q2"), ("k1", "2023Q3")]
    assert log["started"] == ["k0", "k1"] and log["stopped"] == ["k0", "k1"]
