"""The reset a notebook kernel runs between two notebooks (``notebooks._RESET``): a clean
namespace, no open figure, the garbage collected, and what is still alive frozen out of
the cyclic collector's sight (``gc.freeze``: issue 24, the full collections of IPython's
reset walked every object of pandas, matplotlib and IPython once per notebook). Run in an
IPython shell of its own process, as a kernel runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from seuranta.publication import notebooks

PROBE = textwrap.dedent("""
    import gc, json, sys, weakref
    import matplotlib
    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_cell(
        "import matplotlib.pyplot as plt\\n"
        "fig = plt.figure()\\n"
        "class Node: pass\\n"
        "a = Node(); b = Node(); a.other = b; b.other = a\\n"
        "left = a\\n")
    ns = sh.user_ns
    cycle = weakref.ref(ns["left"])            # garbage once the namespace is cleared
    frozen_before = gc.get_freeze_count()
    sh.run_cell(sys.argv[1])
    import matplotlib.pyplot as plt
    out = {"names": sorted(k for k in ("plt", "fig", "Node", "a", "b", "left", "_g", "_s")
                           if k in sh.user_ns),
           "figures": len(plt.get_fignums()),
           "cycle_collected": cycle() is None,
           "frozen_before": frozen_before, "frozen_after": gc.get_freeze_count()}
    # a cycle made after the reset is still the collector's
    sh.run_cell("class N2: pass\\nx = N2(); y = N2(); x.o = y; y.o = x\\n")
    later = weakref.ref(sh.user_ns["x"])
    sh.run_cell("del x, y")
    gc.collect()
    out["later_cycle_collected"] = later() is None
    print(json.dumps(out))
""")


def _probe(code: str) -> dict:
    p = subprocess.run([sys.executable, "-c", PROBE, code], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_reset_cleans_collects_and_freezes():
    r = _probe(notebooks._RESET)
    assert r["names"] == [], r              # the namespace is clean, helpers deleted too
    assert r["figures"] == 0
    assert r["cycle_collected"], "garbage alive at the reset was frozen, not collected"
    assert r["frozen_before"] == 0 and r["frozen_after"] > 10_000, r
    assert r["later_cycle_collected"]


def test_without_the_freeze_nothing_is_frozen():
    """The probe sees the difference: the reset without its freeze leaves the collector
    walking every object (the safeguard's effect is the freeze count, checked above)."""
    plain = "\n".join(line for line in notebooks._RESET.splitlines()
                      if "_g" not in line)
    r = _probe(plain)
    assert r["names"] == [] and r["figures"] == 0 and r["cycle_collected"]
    assert r["frozen_after"] == 0
