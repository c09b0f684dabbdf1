"""Kernels started ahead of a quarter's notebooks (notebooks.KernelsAhead, as
``seuranta run --quarter`` starts them while the statistics run): they are shut down
when no notebooks come (a failed statistics step), and a quarter's run that fails
before its notebooks leaves no kernel and no temporary folder."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from seuranta import pipeline
from seuranta.core.params import load_params
from seuranta.demo import generator as demo
from seuranta.publication import notebooks


def _kernels() -> list[psutil.Process]:
    """This process's kernel processes (children running ipykernel)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def _wait_for(cond, seconds: float = 120.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_kernels_given_no_notebooks_shut_down():
    """Two kernels start; the block is left without notebooks (as when the statistics
    fail): leaving it returns (a kernel waiting for notebooks would block it for ever:
    checked from a thread with a deadline) and no kernel process is left."""
    left = threading.Event()

    def run():
        with notebooks.KernelsAhead(jobs=2):
            assert _wait_for(lambda: len(_kernels()) == 2)
        left.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert left.wait(180), "leaving KernelsAhead without notebooks did not return"
    assert _wait_for(lambda: not _kernels(), 30), _kernels()
    assert not notebooks.kernel_dir().exists() or not any(notebooks.kernel_dir().iterdir())


def test_a_run_failing_before_its_notebooks_leaves_no_kernel(tmp_path, monkeypatch):
    """``run_quarter`` starts the kernels before the register stage; the statistics
    fail: the error comes through, no kernel process, no temporary folder and no quarter
    folder remain."""
    data = tmp_path / "demo"
    demo.generate(data, scale=0.005, seed=3)
    out = tmp_path / "build"
    from seuranta.statistics import stage as stats
    started = threading.Event()

    def broken(*args, **kwargs):
        started.set()
        assert _wait_for(lambda: len(_kernels()) >= 1)   # the kernels were started ahead
        raise RuntimeError("statistics stage failed")

    monkeypatch.setattr(stats, "run_statistics_stage", broken)
    with pytest.raises(RuntimeError, match="statistics stage failed"):
        pipeline.run_quarter("2023Q1", data, out, load_params(), annex=False)
    assert started.is_set()
    assert _wait_for(lambda: not _kernels(), 30), _kernels()
    assert not list(out.glob(".tmp-*"))
    assert not (out / "2023Q1").exists()
