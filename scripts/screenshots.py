"""Screenshots of the built book for the README (``docs/img/*.png``).

Renders pages of ``build/book/_build/html`` (made by ``make publish``) with Debian's headless
Chromium and writes them into ``docs/img/``. Re-run after the book changes:

    .venv/bin/python scripts/screenshots.py [--html build/book/_build/html] [--quarter 2023Q4]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: (image name, page under the quarter's folder, window height in pixels)
PAGES = [("vammaispalvelut", "tehtava_vammaispalvelut.html", 1700),
         ("yhteenveto", "yhteenveto.html", 1600)]


def shoot(page: Path, png: Path, height: int, width: int = 1280) -> None:
    """One full-width screenshot of ``page`` into ``png`` (written atomically)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found (Debian package chromium)")
    if not page.is_file():
        raise SystemExit(f"page not found: {page} (run `make publish` first)")
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
                        f"--window-size={width},{height}", f"--screenshot={shot}",
                        page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        png.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(shot), png)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", default="build/book/_build/html", help="built book")
    ap.add_argument("--quarter", default=None, help="quarter (default: the newest)")
    ap.add_argument("--out", default="docs/img", help="folder of the images")
    a = ap.parse_args(argv)
    html = Path(a.html)
    quarters = sorted(p.name for p in html.glob("[0-9][0-9][0-9][0-9]Q[1-4]") if p.is_dir())
    if not quarters:
        raise SystemExit(f"no quarter pages under {html} (run `make publish` first)")
    quarter = a.quarter or quarters[-1]
    for name, page, height in PAGES:
        shoot(html / quarter / page, Path(a.out) / f"{name}.png", height)
        print(f"{a.out}/{name}.png  <- {quarter}/{page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
