"""Mean error of the national estimates under the old and the new quality rule (issue 12).

Generates a demo (default: national scale, the default seed, joining scenario a) unless
``--data`` names one with ``truth.csv``, runs the register stage once and the statistics
stage under both rules (:mod:`seuranta.statistics.quality_study`) and prints, for the
newest quarters, the mean error, mean absolute error and RMSE (%) per rule and method, and
the errors per quarter and task.

    python scripts/quality_bias.py [--data DIR] [--scale 1] [--seed N] [--joining a]
        [--quarters 2023Q3 2023Q4] [--csv OUT.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seuranta.core.params import load_params
from seuranta.demo import generator as demo
from seuranta.statistics import quality_study


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="demo folder with truth.csv (else generated)")
    ap.add_argument("--out", default="build/quality_bias", help="where a generated demo goes")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    ap.add_argument("--joining", choices=demo.JOINING, default=demo.DEFAULT_JOINING)
    ap.add_argument("--quarters", nargs="+", default=["2023Q3", "2023Q4"],
                    help="quarters averaged in the summary (default: the newest two)")
    ap.add_argument("--csv", default=None, help="write every error row here")
    a = ap.parse_args(argv)
    data = Path(a.data) if a.data else Path(a.out) / f"demo_{a.joining}_{a.seed}_{a.scale:g}"
    if not (data / "truth.csv").is_file():
        t0 = time.perf_counter()
        demo.generate(data, scale=a.scale, seed=a.seed, joining=a.joining)
        print(f"demo generated in {time.perf_counter() - t0:.1f} s: {data}", flush=True)
    t0 = time.perf_counter()
    err = quality_study.quality_errors(data, load_params())
    print(f"stages run in {time.perf_counter() - t0:.1f} s", flush=True)
    if a.csv:
        err.to_csv(a.csv, index=False)
    print(f"\nmean error of the national estimates, quarters {' '.join(a.quarters)}, "
          "tasks + lastensuojelulaki (%):")
    print(quality_study.summary(err, a.quarters).round(2).to_string(index=False))
    tab = err[err["quarter"].isin(a.quarters) & (err["method"] == "ratio")].pivot_table(
        index=["quarter", "service_task"], columns="rule", values="error_pct")
    print("\nratio method, error per quarter and task (%):")
    print(tab.round(2).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
