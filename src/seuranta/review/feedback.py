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
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter
from seuranta.inputs.corrections import (
    CORRECTION_COLUMNS,
    CORRECTIONS_FILE,
    DECISIONS,
    KEY,
    cell_code,
    cell_text,
    read_corrections,
)
from seuranta.review.workbooks import (
    COMMENT_COL,
    DECISION_COL,
    FEEDBACK_HEADER,
    FEEDBACK_HEADER_ROW,
    FEEDBACK_SHEET,
    LAYOUT_VERSION,
    META_SHEET,
    REASON_COL,
)

#: Columns whose change makes a row "changed" (imported_on is not one of them).
CONTENT = ["decision", "reason", "comment", "county_code", "source_file_sha256"]


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


def read_form(path: Path, quarter: Quarter | None = None
              ) -> tuple[tuple[str, str] | None, list[dict], list[Problem]]:
    """(county_code, quarter), filled rows (dicts of CORRECTION_COLUMNS) and problems of a form."""

    path = Path(path)
    name = str(path)
    problems: list[Problem] = []

    def bad(sheet, row, what):
        problems.append(Problem(name, sheet, row, what))

    if not path.is_file():
        bad("", None, "file not found")
        return None, [], problems
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        wb = load_workbook(io.BytesIO(raw), data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a non-workbook
        bad("", None, f"not an Excel workbook ({type(e).__name__})")
        return None, [], problems

    # meta sheet: layout version, county, quarter
    if META_SHEET not in wb.sheetnames:
        bad("", None, f"layout changed: the hidden sheet '{META_SHEET}' is missing "
                      "(not a review workbook of this layout)")
        return None, [], problems
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
    key = (county, str(form_quarter))

    muns = reference.mainland_municipalities().set_index("municipality_code")
    all_muns = reference.municipalities().set_index("municipality_code")
    estimated = set(reference.task_codes(estimated_only=True))
    rows: list[dict] = []
    expected_rows = cell_text(meta.get("feedback_rows"))
    data_rows = 0
    for i, values in enumerate(ws.iter_rows(min_row=FEEDBACK_HEADER_ROW + 1,
                                            max_col=len(FEEDBACK_HEADER), values_only=True),
                               start=FEEDBACK_HEADER_ROW + 1):
        v = [cell_text(x) for x in values]
        if not any(v):
            continue
        data_rows += 1
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
        rows.append({"quarter": str(form_quarter), "municipality_code": code,
                     "service_task": task, "decision": decision, "reason": reason,
                     "comment": comment, "county_code": county, "source_file_sha256": sha,
                     "_row": i})
    if expected_rows.isdigit() and data_rows != int(expected_rows):
        bad(FEEDBACK_SHEET, None, f"layout changed: {data_rows} rows, the form had "
                                  f"{expected_rows}")
    return key, rows, problems


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
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def import_feedback(files: list[Path], data_dir: Path, quarter: Quarter | str | None = None,
                    today: dt.date | None = None) -> dict[str, int]:
    """Validate filled forms and merge them into DATA/corrections.csv (all or nothing).

    Returns counts of rows added, changed, removed and unchanged. Raises
    :class:`FeedbackError` (with every problem) when any form has a problem.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"data folder not found: {data_dir}")
    if quarter is not None and not isinstance(quarter, Quarter):
        quarter = Quarter.parse(str(quarter))
    today = today or dt.date.today()
    problems: list[Problem] = []
    rows: list[dict] = []
    seen_sha: set[str] = set()
    forms: dict[tuple[str, str], str] = {}  # (county, quarter) -> file
    for f in map(Path, files):
        if f.is_file():
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            if sha in seen_sha:
                continue  # the same file given twice
            seen_sha.add(sha)
        key, r, p = read_form(f, quarter)
        problems += p
        if key is not None:
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
    new = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                       columns=CORRECTION_COLUMNS[:-1]).astype("string")
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
        stats = import_feedback([Path(f) for f in args.files], Path(args.data), args.quarter)
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
    i.set_defaults(func=_cmd_import)
