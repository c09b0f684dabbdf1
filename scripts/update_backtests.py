"""Regenerate the backtests' golden tables (tests/backtests/golden/) from the fixed demo run.

Run it only for a deliberate change of a method, the demo or a table (``make
backtests-update``), and commit the new goldens in the same commit as the change, with the
reason in the commit message: the diff of the goldens is the change's effect on the numbers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backtests"))

import backtest_run as bt  # noqa: E402  (lives beside the test that uses it)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="seuranta-backtests-") as tmp:
        qdir = bt.run(Path(tmp))
        written = bt.write_goldens(qdir)
    size = sum(p.stat().st_size for p in written)
    print(f"{len(written)} golden tables, {size / 1e6:.2f} MB, in {bt.GOLDEN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
