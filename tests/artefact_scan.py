"""Reading every artefact of a built release as a reader would, for figures the publication
rule withholds and for precision beyond the declared one (tests/test_public_rule.py).

Independent of the gate: what is withheld is read from the *internal* tables
(``OUT/<Q>/tables/``, every quarter's series), with the rule's verdict ``publish_as`` that
the statistics stage gave each row:

* a national row of the published method with ``publish_as`` range or none, and a county
  row with range or none: its point estimate (rounded to the step), its interval (rounded
  to nearest and outward) and its share (one decimal);
* every row of the other (comparison) method: the same figures, whatever its verdict.

A withheld number that a published table legitimately carries elsewhere (a count, a
municipal share, a point estimate of another row, a range end) cannot be told apart in
free text, so it is searched for only where it cannot collide: numbers outside the set of
legitimate values, intervals as pairs ("192 200–277 300"), and, in the open data and the
annexes, the estimate rows themselves.

The artefacts: every HTML page of the book (text, tables, alt texts and ``data-v`` sort
keys), every PDF (pdftotext), every Excel annex (openpyxl cell values), every open-data
CSV and JSON-stat file. Numbers are written as the publication writes them (Finnish: NBSP
thousands separators, decimal comma); spaces are normalised before searching.
"""

from __future__ import annotations

import html as html_mod
import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seuranta.core.fmt import fi_number
from seuranta.core.precision import has_share_precision, round_down, round_estimate, round_share, round_up

#: Columns of the estimate tables that carry an estimate's figures (not counts).
FIGURES = ("estimate_rounded", "ci_low", "ci_high", "share_pct", "difference_pct",
           "range_low", "range_high", "range_low_pct", "range_high_pct")
SPACES = re.compile(r"[\u00a0\u202f\u2009 ]+")


def norm(text: str) -> str:
    return SPACES.sub(" ", text)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"quarter": str, "county_code": str,
                                    "municipality_code": str})


def internal_rows(out: Path, name: str) -> pd.DataFrame:
    """Every quarter's ``tables/<name>.csv`` and ``series_<name>.csv`` rows (deduplicated)."""
    parts = []
    for q in sorted(Path(out).glob("20[0-9][0-9]Q[1-4]")):
        for f in (f"series_{name}.csv", f"{name}.csv"):
            p = q / "tables" / f
            if p.is_file():
                parts.append(_read(p))
    if not parts:
        return pd.DataFrame()
    d = pd.concat(parts, ignore_index=True)
    return d.drop_duplicates().reset_index(drop=True)


@dataclass
class Withheld:
    numbers: set = field(default_factory=set)      # estimates and interval ends (ints)
    intervals: set = field(default_factory=set)    # (low, high) pairs
    legit_intervals: set = field(default_factory=set)  # published ranges
    shares: set = field(default_factory=set)       # one-decimal shares
    legit_numbers: set = field(default_factory=set)
    legit_shares: set = field(default_factory=set)
    rows: list = field(default_factory=list)       # (table, keys) of withheld rows

    def searchable(self):
        """(kind, value): the withheld values that no legitimate figure equals."""
        out = [("number", v) for v in sorted(self.numbers - self.legit_numbers)]
        out += [("interval", p) for p in sorted(self.intervals - self.legit_intervals)]
        out += [("share", s) for s in sorted(self.shares - self.legit_shares)]
        return out


def _interval(lo, hi, step):
    return ({(round_estimate(lo, step), round_estimate(hi, step)),
             (round_down(lo, step), round_up(hi, step))})


def withheld(out: Path, method: str, step: int) -> Withheld:
    """The withheld and the legitimate figures of a release (see the module docstring)."""
    w = Withheld()
    est = internal_rows(out, "estimates")
    ce = internal_rows(out, "county_estimates")
    for table, d in (("estimates", est), ("county_estimates", ce)):
        if d.empty:
            continue
        base = d["national_base"] if "national_base" in d else d["population_base"]
        for r, b in zip(d.to_dict("records"), base):
            comparison = table == "estimates" and r["method"] != method
            kind = r.get("publish_as") or "none"
            if pd.isna(r.get("estimate")):
                continue
            e = round_estimate(r["estimate"], step)
            share = round_share(100 * r["estimate"] / b) if b else math.nan
            pairs = _interval(r["ci_low"], r["ci_high"], step) \
                if pd.notna(r.get("ci_low")) else set()
            if comparison or kind in ("range", "none"):
                w.rows.append((table, r["quarter"], r["service_task"],
                               r.get("age_group", r.get("county_code")), r["method"], kind))
                w.numbers.add(e)
                for lo, hi in pairs:
                    if lo != hi:
                        w.intervals.add((lo, hi))
                        w.numbers |= {lo, hi}
                if not math.isnan(share):
                    w.shares.add(share)
            else:
                w.legit_numbers.add(e)
                for lo, hi in pairs:
                    w.legit_numbers |= {lo, hi}
                    w.legit_intervals.add((lo, hi))
                if not math.isnan(share):
                    w.legit_shares.add(share)
            if kind == "range" and not comparison and pd.notna(r.get("range_low")):
                lo, hi = round_down(r["range_low"], step), round_up(r["range_high"], step)
                w.legit_numbers |= {lo, hi, r["range_low"], r["range_high"]}
                w.legit_intervals |= {(lo, hi), (float(r["range_low"]), float(r["range_high"]))}
                if b:
                    w.legit_shares |= {round_down(100 * lo / b, 0.1), round_up(100 * hi / b, 0.1),
                                       round_share(100 * r["range_low"] / b),
                                       round_share(100 * r["range_high"] / b)}
    # every other published figure (counts, bases, municipal shares) is legitimate
    for pdir in sorted(Path(out).glob("20[0-9][0-9]Q[1-4]/published")):
        for p in sorted(pdir.glob("*.csv")):
            d = _read(p)
            for c in d.columns:
                if c.endswith("_symbol") or (p.stem in ("estimates", "county_estimates")
                                             and c in FIGURES):
                    continue
                v = pd.to_numeric(d[c], errors="coerce").dropna()
                if c.endswith("_pct") or c in ("q1", "median", "q3", "min", "max"):
                    w.legit_shares |= {round_share(x) for x in v}
                else:
                    w.legit_numbers |= {float(x) for x in v if float(x).is_integer()}
    return w


# --------------------------------------------------------------------------- artefacts

def artefact_texts(out: Path) -> dict[str, str]:
    """Every HTML page and PDF of the release as normalised text (HTML with its markup:
    alt texts and sort keys are attributes)."""
    texts = {}
    html_root = Path(out) / "book" / "_build" / "html"
    for p in sorted(html_root.rglob("*.html")):
        if "_static" in p.parts or "_sources" in p.parts:
            continue
        t = p.read_text(encoding="utf-8", errors="replace")
        t = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", t)  # inlined images
        texts[str(p.relative_to(out))] = norm(html_mod.unescape(t))
    if shutil.which("pdftotext"):
        for p in sorted(Path(out).glob("pdf/*.pdf")):
            t = subprocess.run(["pdftotext", "-layout", str(p), "-"], check=True,
                               capture_output=True, text=True).stdout
            texts[str(p.relative_to(out))] = norm(t)
    return texts


def _num_pattern(v: float) -> str:
    text = re.escape(norm(fi_number(v))).replace(r"\ ", " ")
    return rf"(?<![\d,.])(?<!\d ){text}(?!\d| \d{{3}}(?!\d)|,\d)"


def _share_text(s: float) -> str:
    """A share's text in Finnish ("12,4")."""
    return norm(fi_number(s, 1)).replace(" ", " ")


def _share_pattern(s: float) -> str:
    """A share in Finnish ("12,4 %") or in the English summary's format ("12.4%")."""
    text = _share_text(s)
    return (rf"(?<![\d,.])(?<!\d )(?:{re.escape(text)} ?%|"
            rf"{re.escape(text.replace(',', '.'))}%)")


#: Pages whose shares are estimates' shares (a withheld share is searched for there only:
#: other pages show shares of counts, which may equal any one-decimal number).
ESTIMATE_PAGES = re.compile(r"(^|/)(tehtava_[a-z]+|lastensuojelulaki|yhteenveto|uusimmat|svenska"
                            r"|english|vertailu/[^/]+)\.html$")


def scan_texts(texts: dict[str, str], w: Withheld) -> list[tuple[str, str, str]]:
    """(file, kind, what) of every withheld value found in a text (shares: in the pages of
    :data:`ESTIMATE_PAGES`)."""
    found = []
    pats = []
    # each pattern with the literal texts one of which any match contains (a text without
    # them is not searched: a pattern that starts with a look-behind is tried at every
    # position of every page)
    for kind, v in w.searchable():
        if kind == "number":
            pats.append((kind, v, re.compile(_num_pattern(v)), (norm(fi_number(v)),)))
        elif kind == "interval":
            lo, hi = v
            pats.append((kind, v, re.compile(
                _num_pattern(lo) + r" ?[–-] ?" + _num_pattern(hi)[len(r"(?<![\d,.])(?<!\d )"):]),
                (norm(fi_number(lo)),)))
        else:
            text = _share_text(v)
            pats.append((kind, v, re.compile(_share_pattern(v)),
                         (text, text.replace(",", "."))))
    for name, t in texts.items():
        for kind, _v, pat, needles in pats:
            if kind == "share" and not ESTIMATE_PAGES.search(name):
                continue
            if not any(n in t for n in needles):
                continue
            m = pat.search(t)
            if m:
                found.append((name, kind, t[max(0, m.start() - 60):m.end() + 20]))
    return found


def precision_in_texts(texts: dict[str, str]) -> list[tuple[str, str]]:
    """Shares with two or more decimals, and sort keys with more than one decimal."""
    bad = []
    for name, t in texts.items():
        for m in re.finditer(r"(?<![\d,])\d{1,3},\d{2,} ?%", t):
            bad.append((name, t[max(0, m.start() - 60):m.end() + 10]))
        if name.endswith("english.html"):   # the English summary's format: "12.4%"
            for m in re.finditer(r"(?<![\d.])\d{1,3}\.\d{2,}%", t):
                bad.append((name, t[max(0, m.start() - 60):m.end() + 10]))
        for m in re.finditer(r'data-v="(-?\d+\.\d+)"', t):
            if not has_share_precision(float(m.group(1))):
                bad.append((name, m.group(0)))
    return bad


def annex_cells(out: Path) -> dict[str, list[tuple[str, str, object]]]:
    """Every annex: (sheet, column header, value) of every non-empty cell below the header."""
    import openpyxl
    res = {}
    for p in sorted(Path(out).glob("20[0-9][0-9]Q[1-4]/annex/*.xlsx")):
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        cells = []
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            if not rows:
                continue
            head = [str(h) if h is not None else "" for h in rows[0]]
            for row in rows[1:]:
                for h, v in zip(head, row):
                    if v is not None:
                        cells.append((ws.title, h, v))
        res[str(p.relative_to(out))] = cells
        wb.close()
    return res


ESTIMATE_HEADERS = ("Arvioitu asiakasmäärä", "luottamusväli", "Vaihteluväli", "Arvio ")


def scan_annexes(cells: dict, w: Withheld, step: int):
    """(found, precision) in the annexes: withheld values as numeric cells (estimates and
    interval ends outside the legitimate set; shares in the estimate sheets), shares with
    more than one decimal, estimates that are not multiples of the step."""
    found, bad = [], []
    numbers = w.numbers - w.legit_numbers
    shares = w.shares - w.legit_shares
    for name, cs in cells.items():
        for sheet, head, v in cs:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if "%" in head and not has_share_precision(v):
                bad.append((name, sheet, head, v))
            if "%" not in head and any(h in head for h in ESTIMATE_HEADERS) and float(v) % step:
                bad.append((name, sheet, head, v))
            if float(v) in numbers:
                found.append((name, sheet, head, v))
            elif "%" in head and round_share(v) in shares and sheet not in _MUNICIPAL_SHEETS(cs):
                found.append((name, sheet, head, v))
    return found, bad


def _MUNICIPAL_SHEETS(cs) -> set:
    """Sheets with municipal shares (a "Kuntakoodi" column): their shares are counts'."""
    return {s for s, h, _ in cs if h == "Kuntakoodi"}


def open_data_files(out: Path) -> list[Path]:
    return sorted(p for p in Path(out).glob("avoindata/*/*") if p.suffix in (".csv", ".json")
                  and p.name != "datapackage.json")


def scan_open_data(out: Path, w: Withheld, method: str, step: int):
    """(found, precision) in the open data. Estimate tables: a figure shown in a row whose
    rule gives a range or none (or of another method), or a withheld number in it; every
    file: shares with more than one decimal, estimates not multiples of the step (CSV
    columns and JSON-stat metrics)."""
    found, bad = [], []
    numbers = w.numbers - w.legit_numbers
    for p in open_data_files(out):
        if p.suffix == ".csv":
            d = pd.read_csv(p, dtype=str, keep_default_na=False)
            cols = {c: pd.to_numeric(d[c].replace("", None), errors="coerce") for c in d.columns
                    if not c.endswith("_symbol")}
            for c, v in cols.items():
                v = v.dropna()
                if c.endswith("_pct") or c in ("q1", "median", "q3", "min", "max"):
                    bad += [(p.name, c, x) for x in v if not has_share_precision(x)]
                if c in FIGURES[:3] + FIGURES[5:7]:
                    bad += [(p.name, c, x) for x in v if x % step]
            if p.stem.startswith(("estimates_", "county_estimates_")) and "publish_as" in d:
                for i, r in d.iterrows():
                    held = r["publish_as"] in ("range", "none") or (
                        p.stem.startswith("estimates_") and r.get("method", method) != method)
                    for c in ("estimate_rounded", "ci_low", "ci_high", "share_pct",
                              "difference_pct"):
                        if held and r.get(c, "") != "":
                            found.append((p.name, i, c, r[c]))
                    for c in ("estimate_rounded", "ci_low", "ci_high"):
                        if r.get(c, "") != "" and float(r[c]) in numbers:
                            found.append((p.name, i, c, r[c]))
        else:
            js = json.loads(p.read_text(encoding="utf-8"))
            metric = js["dimension"]["mittari"]["category"]
            ids = metric["index"]
            for f in ids:
                dec = metric["unit"][f]["decimals"]
                if (f.endswith("_pct") or f in ("q1", "median", "q3", "min", "max")) and dec > 1:
                    bad.append((p.name, f, f"decimals {dec}"))
            n = len(ids)
            for k, v in enumerate(js["value"]):
                if v is None:
                    continue
                f = ids[k % n]
                if (f.endswith("_pct") or f in ("q1", "median", "q3", "min", "max")) \
                        and not has_share_precision(v):
                    bad.append((p.name, f, v))
                if f in ("estimate_rounded", "ci_low", "ci_high", "range_low", "range_high"):
                    if v % step:
                        bad.append((p.name, f, v))
                    if float(v) in numbers and p.stem.startswith(("estimates_",
                                                                  "county_estimates_")):
                        found.append((p.name, f, v))
    return found, bad


def _county_kinds(out: Path, method: str) -> dict:
    """(quarter, task, county code) → publish_as of the internal county estimates."""
    ce = internal_rows(out, "county_estimates")
    return {(r["quarter"], r["service_task"], r["county_code"]): r["publish_as"]
            for r in ce.to_dict("records")}


def _cells(row_html: str) -> list[str]:
    return [norm(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)]


def scan_comparison_pages(out: Path, texts: dict[str, str], method: str) -> list:
    """The county pages (vertailu/<code>.html) of the newest quarter: for a task whose
    county estimate is a range or none, the county table shows no point, interval or point
    share, and the chart's alt text gives no share and no rank; the Swedish summary calls
    no county the largest beside a county with a range or none."""
    from seuranta.core import reference
    from seuranta.core.labels_fi import TASK_SHORT
    from seuranta.core.labels_sv import TASK_SV, quarter_name_sv
    kinds = _county_kinds(out, method)
    quarters = sorted(p.name for p in Path(out).glob("20[0-9][0-9]Q[1-4]"))
    newest = quarters[-1]
    short = {v: k for k, v in TASK_SHORT.items()}
    found = []
    for name, t in texts.items():
        m = re.search(r"vertailu/(\d\d)\.html$", name)
        if not m:
            continue
        code = m.group(1)
        i = t.find("<table")
        table = t[i:t.find("</table>", i)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
            cells = _cells(row)
            task = short.get(cells[0])
            kind = kinds.get((newest, task, code))
            if kind in ("range", "none"):
                est, ci, share = cells[1:4]
                if ci not in (".", "..") or (kind == "none" and re.search(r"\d", est + share)):
                    found.append((name, "county table", cells))
                if kind == "range" and re.fullmatch(r"[\d ]+", est):
                    found.append((name, "county table point", cells))
                if kind == "range" and re.search(r"\d", share) and "–" not in share:
                    found.append((name, "county table point share", cells))
        for alt in re.findall(r'alt="([^"]*)"', t):
            for part in alt.split(";"):
                for label, task in short.items():
                    kind = kinds.get((newest, task, code))
                    if kind in ("range", "none") and re.search(
                            rf"(^|: | ){re.escape(label)} \d[\d,]* ?%", part):
                        found.append((name, "alt point share", part))
                    if kind in ("range", "none") and re.search(rf"{re.escape(label)}\b", part) \
                            and "suurin" in part:
                        found.append((name, "alt rank", part))
    sv = next((t for n, t in texts.items() if n.endswith("svenska.html")), "")
    sections = re.split(r"<h2[^>]*>", sv)[1:]
    county_sv = {r.county_name_sv: r.county_code for r in pd.read_csv(
        reference.REFERENCE_DIR / "counties_sv.csv", dtype=str).itertuples()}
    task_sv = {v.lower(): k for k, v in TASK_SV.items()}
    for sec in sections:
        head = norm(re.sub(r"<[^>]+>", "", sec[:sec.find("</h2>")])).strip().lower()
        q = next((x for x in quarters if quarter_name_sv(x).lower() in head), None)
        for m in re.finditer(r"skattade andelen \(([^)]*)\) störst i ([^(<]+) \(", sec):
            task = task_sv.get(m.group(1))
            of_task = [v for k, v in kinds.items() if k[0] == q and k[1] == task]
            if not of_task or any(v != "point" for v in of_task) \
                    or county_sv.get(m.group(2).strip()) is None:
                found.append(("svenska.html", "largest county", head, m.group(0)))
    return found


@dataclass
class Report:
    searched: int
    files: int
    found: list
    precision: list


def scan_release(out: Path, method: str, step: int) -> Report:
    """Every artefact of the release built into ``out``."""
    w = withheld(out, method, step)
    texts = artefact_texts(out)
    cells = annex_cells(out)
    od = open_data_files(out)
    found = scan_texts(texts, w)
    a_found, a_bad = scan_annexes(cells, w, step)
    o_found, o_bad = scan_open_data(out, w, method, step)
    c_found = scan_comparison_pages(out, texts, method)
    return Report(searched=len(w.searchable()), files=len(texts) + len(cells) + len(od),
                  found=found + a_found + o_found + c_found,
                  precision=precision_in_texts(texts) + a_bad + o_bad)
