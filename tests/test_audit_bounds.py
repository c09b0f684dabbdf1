"""The audit's shortcut (:meth:`seuranta.audit.attack.Part.known_range`): a whole-valued
point that an earlier solve of a part found answers a target's minimum (when it is at the
bound the variable's own bounds prove) or makes its maximum immaterial (when it already
clears every finding). On random relations (suppressed cells between 1 and a population
base, sums of cells equal to published totals, an order between two cells, nested
differences) the findings are exactly those of the audit that solves every minimum and
maximum, with fewer solves."""

import math
import random

from seuranta.audit import attack


def _problem(seed: int) -> attack.Problem:
    rnd = random.Random(seed)
    P = attack.Problem()
    n = rnd.randint(6, 14)
    truth = [rnd.choice([1, 2, 3, 4, 5, 7, 12, 30]) for _ in range(n)]
    xs = []
    for i, v in enumerate(truth):
        base = v + rnd.choice([0, 0, 1, 3, 50])          # the public population base
        xs.append(P.var(("x", i), 1.0, float(base)))
        P.target("cell", f"cell {i}", [(xs[i], 1.0)])
    for j in range(rnd.randint(2, 5)):                    # published totals of some cells
        cells = rnd.sample(range(n), rnd.randint(2, min(5, n)))
        total = sum(truth[i] for i in cells)
        P.add([(xs[i], 1.0) for i in cells], total, total, tag=f"total {j}")
    a, b = rnd.sample(range(n), 2)                       # a nested pair: x_a ≥ x_b
    if truth[a] >= truth[b]:
        P.add([(xs[a], 1.0), (xs[b], -1.0)], 0.0, math.inf, tag="nested")
        P.target("nested", f"{a} − {b}", [(xs[a], 1.0), (xs[b], -1.0)])
    return P


def _bound(P: attack.Problem):
    findings, targets, solves = attack.bound_targets(P, list(range(len(P.rows))), 5, 20.0)
    return sorted(f.line() for f in findings), targets, solves


def test_the_shortcut_gives_the_findings_of_every_solve(monkeypatch):
    """Per problem, the same findings and targets with fewer or as many solves; over all of
    them, findings of several kinds (also bounds above 1, where a point found is not the
    minimum) and solves saved."""
    kinds, saved = set(), 0
    for seed in range(40):
        P = _problem(seed)
        fast = _bound(P)
        with monkeypatch.context() as m:   # the shortcut off: every minimum and maximum solved
            m.setattr(attack.Part, "known_range",
                      lambda self, terms: (-math.inf, math.inf, -math.inf))
            full = _bound(P)
        assert fast[:2] == full[:2], seed
        assert fast[2] <= full[2]
        kinds |= {line.split(":")[0] for line in full[0]}
        saved += full[2] - fast[2]
    assert {"pinned", "narrowed", "floor"} <= kinds, kinds
    assert saved > 40
