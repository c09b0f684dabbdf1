"""axe-core (from the npm registry: tests/js/package.json, installed by ``make setup``)
injected into pages of the built book in headless Chromium (tests/cdp.py).

Also a command for a look at a built book without the test suite::

    python tests/axe.py build/out/book/_build/html [PAGE.html ...]

prints every violation as ``impact rule nodes page`` and the totals by rule.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

#: axe-core's browser bundle (tests/js/node_modules after ``npm ci`` in tests/js).
AXE_JS = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"

#: Impacts a published page may not have (axe's two highest of four).
BLOCKING = ("serious", "critical")

#: axe's run: every rule of WCAG 2.x A/AA and axe's best practices; the violations only,
#: each node with its selector and the start of its HTML.
_RUN = """(async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160)}))}));
})()"""


def axe_source() -> str:
    if not AXE_JS.is_file():
        raise FileNotFoundError(f"{AXE_JS} missing: run `npm ci` in tests/js (make setup)")
    return AXE_JS.read_text(encoding="utf-8")


def violations(browser, url: str, source: str, width: int = 1400) -> list[dict]:
    """axe's violations on ``url`` (opened in ``browser``, a tests/cdp.py Browser)."""
    browser.open(url, width)
    browser.js(source + "\n;void 0")
    return browser.js(_RUN)


def book_pages(html: Path) -> list[Path]:
    """Every page of a built book (not the themes' Jinja macro files under _static/)."""
    return sorted(p for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


def totals(found: dict[str, list[dict]]) -> Counter:
    """Node count by (impact, rule) over the pages of ``found`` (page -> violations)."""
    c: Counter = Counter()
    for vs in found.values():
        for v in vs:
            c[(v["impact"], v["id"])] += len(v["nodes"])
    return c


def main(argv: list[str]) -> int:
    import tempfile

    from cdp import Browser

    html = Path(argv[0]).resolve()
    pages = [html / p for p in argv[1:]] or book_pages(html)
    source = axe_source()
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        b = Browser(Path(tmp) / "profile")
        try:
            for page in pages:
                found[str(page.relative_to(html))] = violations(b, page.as_uri(), source)
        finally:
            b.close()
    for page, vs in found.items():
        for v in vs:
            print(f"{v['impact']:9} {v['id']:32} {len(v['nodes']):4} {page}")
            if "-v" in sys.argv:
                for n in v["nodes"][:3]:
                    print("          ", json.dumps(n, ensure_ascii=False))
    print(f"\n{len(pages)} pages")
    for (impact, rule), n in sorted(totals(found).items()):
        print(f"{impact:9} {rule:32} {n:5}")
    return 1 if any(i in BLOCKING for i, _ in totals(found)) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main([a for a in sys.argv[1:] if a != "-v"]))
