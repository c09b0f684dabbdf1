"""Feedback of the review round: filled county workbooks → ``DATA/corrections.csv``.

``seuranta feedback import FILES…`` reads the ``Palaute`` sheets of workbooks written by
:mod:`seuranta.review`, validates every row and only then writes the decisions into the
data folder's ``corrections.csv``. Validation collects ALL problems (unknown
municipality, a municipality of another county, a decision outside ``include`` /
``exclude`` / ``note``, an ``exclude`` without a reason, a changed layout: missing sheet,
header or meta mismatch) and reports one line per problem; then nothing is applied.

The data folder is an input that the pipeline treats as read-only. This command is the one
sanctioned writer of ``corrections.csv``; it writes a temporary file beside it and renames
it over the old one (atomic). Semantics:

* a workbook is its county's whole answer for its quarter: after an import the county's
  rows of that quarter in ``corrections.csv`` are exactly the filled rows of the form
  (a newer form replaces an older one, a decision cleared in the form is removed);
* key = quarter × municipality × task; a row whose content did not change keeps its
  ``imported_on``, so re-importing the same file leaves ``corrections.csv`` byte for byte
  as it was;
* provenance: ``county_code``, ``source_file_sha256`` (of the workbook) and ``imported_on``
  (a date); no personal names are stored.

``corrections_effect`` runs the statistics stage with and without the corrections and
reports, per task, the estimate before and after; ``corrections_decisions`` lists every
decision with the municipality's quality before and after. The book's quality chapter
shows both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from seuranta.core import reference
from seuranta.core.errors import InputError, writing
from seuranta.core.provenance import extract_hash
from seuranta.core.quarters import Quarter
from seuranta.core.quarters import today as helsinki_today
from seuranta.inputs.corrections import (
    CORRECTION_COLUMNS,
    CORRECTIONS_FILE,
    DECISIONS,
    KEY,
    cell_code,
    cell_text,
    free_text_problem,
    read_corrections,
)
from seuranta.review import signing
from seuranta.review.workbooks import (
    COMMENT_COL,
    DECISION_COL,
    FEEDBACK_HEADER,
    FEEDBACK_HEADER_ROW,
    FEEDBACK_SHEET,
    LAYOUT_VERSION,
    META_SHEET,
    REASON_COL,
    figures_hash,
    name_mismatch,
)

#: Columns whose change makes a row "changed" (imported_on is not one of them).
CONTENT = ["decision", "reason", "comment", "county_code", "source_file_sha256",
           "extract_sha256"]


@dataclass(frozen=True)
class Problem:
    file: str
    sheet: str
    row: int | None
    what: str

    def __str__(self) -> str:
        where = f"sheet {self.sheet}" if self.sheet else "workbook"
        if self.row is not None:
            where += f", row {self.row}"
        return f"{self.file}: {where}: {self.what}"


class FeedbackError(InputError):
    """Feedback forms with problems; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the feedback forms; "
                         "nothing was applied")


# --------------------------------------------------------------------------- reading


#: Limits checked before a form is parsed (a small file can declare a huge sheet).
MAX_FORM_BYTES = 20 * 2**20           # the file
MAX_UNPACKED_BYTES = 200 * 2**20      # its zip members together, unpacked
MAX_ROWS, MAX_COLS = 100_000, 64      # the farthest cell of any sheet


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _cell_ref(ref: str) -> tuple[int, int] | None:
    m = _REF.fullmatch(ref or "")
    return (int(m.group(2)), _col_number(m.group(1))) if m else None


_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,7})")


def _size_problems(raw: bytes) -> list[tuple[str, str]]:
    """(sheet part, what) for a form too large to parse, from the zip directory and a
    streaming pass over each worksheet's cell references (nothing is loaded whole)."""
    if len(raw) > MAX_FORM_BYTES:
        return [("", f"file of {len(raw)} bytes, larger than {MAX_FORM_BYTES} bytes")]
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []   # not a zip: openpyxl's own error names it below
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        return [("", f"unpacks to {unpacked} bytes, more than {MAX_UNPACKED_BYTES}")]
    out = []
    for info in infos:
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        row = col = 0
        try:
            with zf.open(info) as f:
                for _, el in ET.iterparse(f, events=("start",)):
                    tag = el.tag.rsplit("}", 1)[-1]
                    if tag == "row":
                        r = el.get("r")
                        row = int(r) if r and r.isdigit() else row + 1
                        col = 0
                    elif tag == "c":
                        ref = _cell_ref(el.get("r"))
                        row, col = ref if ref else (row, col + 1)
                        if row > MAX_ROWS or col > MAX_COLS:
                            out.append((info.filename, f"cell {el.get('r') or (row, col)} lies "
                                        f"outside the form (at most {MAX_ROWS} rows and "
                                        f"{MAX_COLS} columns)"))
                            break
                    el.clear()
        except (ET.ParseError, zipfile.BadZipFile, OSError, ValueError) as e:
            out.append((info.filename, f"unreadable sheet ({type(e).__name__})"))
    return out


def _formula_problems(wb) -> list[tuple[str, int, str]]:
    """(sheet, row, what) of every formula cell: a form holds values only."""
    out = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    text = str(getattr(c.value, "text", c.value))[:40]
                    out.append((ws.title, c.row, f"cell {c.coordinate} holds a formula "
                                f"({text}): type the value instead"))
    return out


def read_form(path: Path, quarter: Quarter | None = None, key: bytes | None = None,
              extract: str | None = None
              ) -> tuple[tuple[str, str, str] | None, list[dict], list[Problem]]:
    """(county_code, quarter, issue time), filled rows (dicts of CORRECTION_COLUMNS) and
    problems of a form. With ``key`` the form's signature must verify
    (:mod:`seuranta.review.signing`); then the form must have been issued on ``extract``
    (the data folder's :func:`~seuranta.core.provenance.extract_hash`), its figures must
    be as issued and its file name must not name another county or quarter.

    The checks in order, each stopping at the first kind that makes the rest unreliable:
    the file (size, a workbook, no formulas), the layout (meta sheet, header), the rows,
    then the signature and what it covers."""
    path = Path(path)
    problems: list[Problem] = []

    def bad(sheet, row, what):
        problems.append(Problem(str(path), sheet, row, what))

    wb, sha = _open_form(path, bad)
    if wb is None or problems:
        return None, [], problems
    meta, county, form_quarter = _form_meta(wb, quarter, bad)
    if meta is None:
        return None, [], problems
    if FEEDBACK_SHEET not in wb.sheetnames:
        bad("", None, f"layout changed: sheet '{FEEDBACK_SHEET}' is missing")
        return None, [], problems
    ws = wb[FEEDBACK_SHEET]
    header = [cell_text(ws.cell(row=FEEDBACK_HEADER_ROW, column=j).value)
              for j in range(1, len(FEEDBACK_HEADER) + 2)]
    if header[:len(FEEDBACK_HEADER)] != FEEDBACK_HEADER or header[len(FEEDBACK_HEADER)]:
        bad(FEEDBACK_SHEET, FEEDBACK_HEADER_ROW,
            f"layout changed: header is {[h for h in header if h]}, expected {FEEDBACK_HEADER}")
    if problems:  # a form of another layout: its rows cannot be read reliably
        return None, [], problems
    signed = {k: cell_text(meta.get(k)) for k in
              ("extract_sha256", "file_name", "figures_sha256", "issued", "signature")}
    rows, row_keys = _form_rows(ws, county, form_quarter, sha, signed, bad)
    expected_rows = cell_text(meta.get("feedback_rows"))
    data_rows = len(row_keys)
    if expected_rows.isdigit() and data_rows != int(expected_rows):
        bad(FEEDBACK_SHEET, None, f"layout changed: {data_rows} rows, the form had "
                                  f"{expected_rows}")
    if key is not None and not problems:
        _check_signed(wb, path, key, county, str(form_quarter), row_keys, signed, extract, bad)
        if problems:
            return None, [], problems
    return (county, str(form_quarter), signed["issued"]), rows, problems


def _open_form(path: Path, bad) -> tuple[object | None, str]:
    """The workbook and the SHA-256 of its bytes; None when the file is missing, too large,
    not a workbook or holds formulas (each reported through ``bad``)."""
    if not path.is_file():
        bad("", None, "file not found")
        return None, ""
    if path.stat().st_size > MAX_FORM_BYTES:
        bad("", None, f"file of {path.stat().st_size} bytes, larger than {MAX_FORM_BYTES}")
        return None, ""
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    size_problems = _size_problems(raw)
    for part, what in size_problems:
        bad(part, None, what)
    if size_problems:
        return None, sha
    try:
        wb = load_workbook(io.BytesIO(raw), data_only=False)
    except Exception as e:  # openpyxl raises many kinds for a non-workbook
        bad("", None, f"not an Excel workbook ({type(e).__name__})")
        return None, sha
    formulas = _formula_problems(wb)
    for sheet, row, what in formulas:
        bad(sheet, row, what)
    return (None if formulas else wb), sha


def _form_meta(wb, quarter: Quarter | None, bad) -> tuple[dict | None, str, Quarter | None]:
    """The hidden meta sheet's values (None when the sheet is missing), the county and the
    quarter of the form, its layout checked (layout version, county, quarter, the stored
    header)."""
    if META_SHEET not in wb.sheetnames:
        bad("", None, f"layout changed: the hidden sheet '{META_SHEET}' is missing "
                      "(not a review workbook of this layout)")
        return None, "", None
    meta = {}
    for r in wb[META_SHEET].iter_rows(min_row=2, values_only=True):
        if r and r[0] is not None:
            meta[cell_text(r[0])] = r[1] if len(r) > 1 else None
    if cell_text(meta.get("layout_version")) != LAYOUT_VERSION:
        bad(META_SHEET, None, f"layout changed: layout version {cell_text(meta.get('layout_version'))!r},"
                              f" expected {LAYOUT_VERSION!r}")
    county = cell_text(meta.get("county_code")).zfill(2)
    counties = set(reference.counties()["county_code"])
    if county not in counties:
        bad(META_SHEET, None, f"layout changed: unknown county code {county!r} in meta")
    try:
        form_quarter = Quarter.parse(cell_text(meta.get("quarter")))
    except ValueError:
        bad(META_SHEET, None, f"layout changed: quarter {cell_text(meta.get('quarter'))!r} in meta "
                              "is not a quarter")
        form_quarter = None
    if quarter is not None and form_quarter is not None and form_quarter != quarter:
        bad(META_SHEET, None, f"the form is for quarter {form_quarter}, not {quarter}")
    stored_header = cell_text(meta.get("feedback_header"))
    if stored_header and stored_header != json.dumps(FEEDBACK_HEADER, ensure_ascii=False):
        bad(META_SHEET, None, "layout changed: feedback header in meta differs from this version")
    if cell_text(meta.get("feedback_header_row")) not in ("", str(FEEDBACK_HEADER_ROW)):
        bad(META_SHEET, None, "layout changed: header row in meta differs from this version")
    return meta, county, form_quarter


def _form_rows(ws, county: str, form_quarter: Quarter, sha: str, signed: dict, bad
               ) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """The filled rows of the feedback sheet (each checked: quarter, municipality of the
    county, estimated task, decision, free text) and the key of every data row (what the
    signature covers)."""
    muns = reference.mainland_municipalities().set_index("municipality_code")
    all_muns = reference.municipalities().set_index("municipality_code")
    estimated = set(reference.task_codes(estimated_only=True))
    rows: list[dict] = []
    row_keys: list[tuple[str, str, str]] = []
    for i, values in enumerate(ws.iter_rows(min_row=FEEDBACK_HEADER_ROW + 1,
                                            max_col=len(FEEDBACK_HEADER), values_only=True),
                               start=FEEDBACK_HEADER_ROW + 1):
        v = [cell_text(x) for x in values]
        if not any(v):
            continue
        row_keys.append((v[0], cell_code(values[1]), v[3]))
        q_cell, code = v[0], cell_code(values[1])
        task, decision_raw = v[3], v[DECISION_COL - 1]
        reason, comment = v[REASON_COL - 1], v[COMMENT_COL - 1]
        if not (decision_raw or reason or comment):
            continue  # nothing to say about this municipality × task
        decision = decision_raw.lower()
        if q_cell != str(form_quarter):
            bad(FEEDBACK_SHEET, i, f"quarter {q_cell!r} differs from the form's {form_quarter}")
        if code not in all_muns.index:
            bad(FEEDBACK_SHEET, i, f"unknown municipality {code!r}")
        elif code not in muns.index:
            bad(FEEDBACK_SHEET, i, f"municipality {code} ({all_muns.loc[code, 'name_fi']}) is "
                                   "outside the register (Åland)")
        elif muns.loc[code, "county_code"] != county:
            bad(FEEDBACK_SHEET, i, f"municipality {code} ({muns.loc[code, 'name_fi']}) belongs "
                                   f"to county {muns.loc[code, 'county_code']}, not to the "
                                   f"form's county {county}")
        elif v[2] and v[2] != muns.loc[code, "name_fi"]:
            bad(FEEDBACK_SHEET, i, f"municipality code {code} and name {v[2]!r} disagree")
        if task not in estimated:
            bad(FEEDBACK_SHEET, i, f"service task {task!r} is not an estimated task")
        if not decision:
            bad(FEEDBACK_SHEET, i, "a reason or comment without a decision (choose "
                                   + " / ".join(DECISIONS) + ")")
        elif decision not in DECISIONS:
            bad(FEEDBACK_SHEET, i, f"decision {decision_raw!r} is not in the list "
                                   + " / ".join(DECISIONS))
        elif decision == "exclude" and not reason:
            bad(FEEDBACK_SHEET, i, "decision exclude needs a reason (Perustelu)")
        for label, text in (("Perustelu", reason), ("Kommentti", comment)):
            why = free_text_problem(text)
            if why:
                bad(FEEDBACK_SHEET, i, f"{label}: {why}")
        rows.append({"quarter": str(form_quarter), "municipality_code": code,
                     "service_task": task, "decision": decision, "reason": reason,
                     "comment": comment, "county_code": county, "source_file_sha256": sha,
                     "form_issued": signed["issued"], "extract_sha256": signed["extract_sha256"],
                     "_row": i})
    return rows, row_keys


def _check_signed(wb, path: Path, key: bytes, county: str, quarter: str, row_keys: list,
                  signed: dict, extract: str | None, bad) -> None:
    """The signature verifies; then the form was issued on ``extract``, its figures are as
    issued and its file name names its own county and quarter."""
    if not signing.signature_ok(key, signed["signature"], LAYOUT_VERSION, county, quarter,
                                signed["issued"], row_keys, signed["extract_sha256"],
                                signed["file_name"], signed["figures_sha256"]):
        bad(META_SHEET, None, "signature does not verify: the form was not made by "
                              "`seuranta review` for this data folder, or its county, quarter, "
                              "rows, extract, file name or figures in meta were changed")
        return
    if extract is not None and signed["extract_sha256"] != extract:
        bad("", None, f"the form was issued on another extract of the data (extract "
                      f"{signed['extract_sha256'][:12]}…, the data folder now has {extract[:12]}…): "
                      "its figures are not this data's; make new forms with `seuranta "
                      "review`")
    if figures_hash(wb) != signed["figures_sha256"]:
        bad("", None, "the figures of the form (task sheets, or the fixed columns of "
                      f"{FEEDBACK_SHEET}) were changed after it was issued")
    why = name_mismatch(path.name, county, quarter)
    if why:
        bad("", None, f"{why} (issued as {signed['file_name']}): a renamed or swapped form")


# --------------------------------------------------------------------------- applying


def _county_of(codes: pd.Series) -> pd.Series:
    m = reference.municipalities().set_index("municipality_code")["county_code"]
    return codes.map(m).fillna("")


def _csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def atomic_write(path: Path, data: bytes) -> None:
    """Write a temporary file beside ``path`` and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with writing(path), os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _guard(forms: dict, issued: dict, replaced: pd.DataFrame, replaced_county: pd.Series,
           rows: list[dict], allow_removal: bool, allow_older: bool) -> None:
    """Refuse (FeedbackError, nothing applied) a form that would silently erase decisions:
    one that removes decisions already imported, or one older than the imported form."""
    problems = []
    for (county, q), fname in sorted(forms.items()):
        mine = replaced[(replaced_county == county).to_numpy()
                        & (replaced["quarter"] == q).to_numpy()]
        if mine.empty:
            continue
        before = sorted(v for v in mine["form_issued"].astype(str) if v)
        if before and issued[(county, q)] < before[-1] and not allow_older:
            problems.append(Problem(fname, "", None, f"the form was issued {issued[(county, q)]}"
                                    f", before the form already imported for county {county} "
                                    f"quarter {q} (issued {before[-1]}): nothing was applied "
                                    "(--allow-older applies it anyway)"))
            continue
        answered = {(r["municipality_code"], r["service_task"]) for r in rows
                    if (r["county_code"], r["quarter"]) == (county, q)}
        lost = [(m, t, d) for m, t, d in zip(mine["municipality_code"], mine["service_task"],
                                             mine["decision"]) if (m, t) not in answered]
        if lost and not allow_removal:
            m, t, d = lost[0]
            problems.append(Problem(fname, "", None, f"the form would remove {len(lost)} earlier "
                                    f"decision(s) of county {county} quarter {q} (e.g. {m} {t} "
                                    f"{d}): nothing was applied (--allow-removal removes them)"))
    if problems:
        raise FeedbackError(problems)


def import_feedback(files: list[Path], data_dir: Path, quarter: Quarter | str | None = None,
                    today: dt.date | None = None, allow_removal: bool = False,
                    allow_older: bool = False) -> dict[str, int]:
    """Validate filled forms and merge them into DATA/corrections.csv (all or nothing).

    Every form must carry a signature that verifies under the data folder's review key.
    A form that would remove decisions already in corrections.csv (an empty form, or one
    that lacks earlier answers) is refused unless ``allow_removal``; a form issued before
    the one whose decisions are in corrections.csv is refused unless ``allow_older``.

    Returns counts of rows added, changed, removed and unchanged. Raises
    :class:`FeedbackError` (with every problem) when any form has a problem.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"data folder not found: {data_dir}")
    review_key = signing.load_key(data_dir)
    extract = extract_hash(data_dir)
    if quarter is not None and not isinstance(quarter, Quarter):
        quarter = Quarter.parse(str(quarter))
    today = today or helsinki_today()
    problems: list[Problem] = []
    rows: list[dict] = []
    seen_sha: set[str] = set()
    forms: dict[tuple[str, str], str] = {}  # (county, quarter) -> file
    issued: dict[tuple[str, str], str] = {}  # (county, quarter) -> the form's issue time
    for f in map(Path, files):
        if f.is_file():
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            if sha in seen_sha:
                continue  # the same file given twice
            seen_sha.add(sha)
        ident, r, p = read_form(f, quarter, review_key, extract)
        problems += p
        if ident is not None:
            key, issued[ident[:2]] = ident[:2], ident[2]
            if key in forms:
                problems.append(Problem(str(f), "", None,
                                        f"a second form for county {key[0]} quarter {key[1]} "
                                        f"(also {forms[key]}): import one form per county"))
            else:
                forms[key] = str(f)
        rows += r
    if problems:
        raise FeedbackError(problems)

    path = data_dir / CORRECTIONS_FILE
    old = read_corrections(path)
    old_county = old["county_code"].where(old["county_code"] != "",
                                          _county_of(old["municipality_code"]))
    answered = pd.Series([(c, q) in forms for c, q in zip(old_county, old["quarter"])],
                         index=old.index, dtype=bool)
    kept = old[~answered]
    replaced = old[answered]
    _guard(forms, issued, replaced, old_county[answered], rows, allow_removal, allow_older)
    new = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                       columns=[c for c in CORRECTION_COLUMNS if c != "imported_on"]
                       ).astype("string")
    prev = replaced.set_index(KEY)
    imported = []
    summary = {"added": 0, "changed": 0, "unchanged": 0, "removed": 0}
    for r in new.itertuples(index=False):
        d = r._asdict()
        k = (d["quarter"], d["municipality_code"], d["service_task"])
        if k in prev.index and all(str(prev.loc[k, c]) == d[c] for c in CONTENT):
            d["imported_on"] = str(prev.loc[k, "imported_on"])
            summary["unchanged"] += 1
        else:
            d["imported_on"] = today.isoformat()
            summary["changed" if k in prev.index else "added"] += 1
        imported.append(d)
    new_keys = {(d["quarter"], d["municipality_code"], d["service_task"]) for d in imported}
    summary["removed"] = sum(1 for k in prev.index if k not in new_keys)
    extra = [c for c in old.columns if c not in CORRECTION_COLUMNS]
    out = pd.concat([kept, pd.DataFrame(imported, columns=CORRECTION_COLUMNS)],
                    ignore_index=True)
    out = out.reindex(columns=CORRECTION_COLUMNS + extra).astype("string").fillna("")
    out = out.sort_values(KEY, kind="mergesort").reset_index(drop=True)
    data = _csv_bytes(out)
    if not path.is_file() or path.read_bytes() != data:
        atomic_write(path, data)
    return summary


# --------------------------------------------------------------------------- effect


# --------------------------------------------------------------------------- command

def _cmd_import(args) -> int:
    try:
        stats = import_feedback([Path(f) for f in args.files], Path(args.data), args.quarter,
                                allow_removal=args.allow_removal, allow_older=args.allow_older)
    except FeedbackError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        raise
    path = Path(args.data) / CORRECTIONS_FILE
    print(f"{path}: {stats['added']} added, {stats['changed']} changed, "
          f"{stats['removed']} removed, {stats['unchanged']} unchanged")
    return 0


def add_parser(sub) -> None:
    """``seuranta feedback import`` sub-command."""
    f = sub.add_parser("feedback", help="review-round feedback: import filled county "
                                        "workbooks into DATA/corrections.csv")
    fsub = f.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    i = fsub.add_parser("import", help="validate filled review workbooks and write their "
                                       "decisions into DATA/corrections.csv (all or nothing; "
                                       "the one sanctioned writer of that file)")
    i.add_argument("files", nargs="+", metavar="FILE", help="filled review workbooks (.xlsx)")
    i.add_argument("--quarter", default=None, help="refuse forms of any other quarter")
    i.add_argument("--data", default="data/demo", help="data folder (default: %(default)s)")
    i.add_argument("--allow-removal", action="store_true",
                   help="let a form remove its county's earlier decisions (an empty form "
                        "clears them all); refused without this flag")
    i.add_argument("--allow-older", action="store_true",
                   help="apply a form issued before the one already imported")
    i.set_defaults(func=_cmd_import)
