#!/usr/bin/env python
"""Benchmark of the disclosure gate and the audit (issue 21): a script, not a test.

Runs the gate (``publication.gate.publish_quarter``) over every quarter of a built OUT's
exact tables (``OUT/<Q>/tables/``) in order, each quarter with the earlier quarters'
published folders as priors (as ``seuranta publish`` does), into
``WORK/releases/bench/<Q>/published/``; then the audit (``seuranta audit``) on WORK.
Prints the time of each quarter's gate, the suppression it made and the audit's result.

    .venv/bin/python bench/gate_bench.py --out build/s05/out --work build/gb
    .venv/bin/python bench/gate_bench.py --out build/s05/out --work build/gb --profile 2023Q4
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv=None) -> int:
    from seuranta.audit import attack
    from seuranta.core.params import load_params
    from seuranta.publication import gate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="a built OUT (its <Q>/tables/ are read)")
    ap.add_argument("--work", required=True, help="scratch folder (emptied)")
    ap.add_argument("--params", default=str(ROOT / "parameters.yml"))
    ap.add_argument("--profile", default=None, help="profile this quarter's gate")
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--quarters", default=None, help="comma-separated (default: all)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    params = load_params(Path(a.params))
    out, work = Path(a.out), Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    quarters = sorted(p.parent.name for p in out.glob("*/tables") if p.parent.name[0] != ".")
    if a.quarters:
        quarters = [q for q in quarters if q in a.quarters.split(",")]
    done: list[Path] = []
    total = cpu = 0.0
    for q in quarters:
        pub = work / "releases" / "bench" / q / "published"
        t0, c0 = time.monotonic(), time.process_time()
        prof = cProfile.Profile() if a.profile == q else None
        if prof:
            prof.enable()
        res = gate.publish_quarter(q, out / q / "tables", pub, params, priors=list(done))
        if prof:
            prof.disable()
        dt, dc = time.monotonic() - t0, time.process_time() - c0
        total += dt
        cpu += dc
        m = res["municipal"]
        print(f"gate {q}: {dt:6.1f} s (CPU {dc:5.1f} s), municipal cells suppressed "
              f"{int((m['clients_symbol'] == '..').sum())}", flush=True)
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        done.append(pub)
    print(f"gate total: {total:.1f} s (CPU {cpu:.1f} s) over {len(quarters)} quarters")
    if not a.no_audit:
        c0 = time.process_time()
        rep = attack.audit(work, int(params["disclosure"]["min_count"]),
                           int(params["estimate"]["rounding"]))
        print(f"audit CPU {time.process_time() - c0:.1f} s")
        print(rep.text()[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
