"""corrections.csv: the review round's decisions (docs/data-contract.md, section 1).

The one reader of the file. ``seuranta feedback import`` writes it; a demo folder gets one
from the generator's simulated review round (``demo.generator.review_decisions``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seuranta.core import reference
from seuranta.core.errors import InputError
from seuranta.core.quarters import Quarter

#: Columns of corrections.csv (the first five are the contract's).
CORRECTION_COLUMNS = ["quarter", "municipality_code", "service_task", "decision", "reason",
                      "comment", "county_code", "source_file_sha256", "imported_on",
                      "form_issued", "extract_sha256"]


CORRECTIONS_FILE = "corrections.csv"
#: Decisions of the review round (the contract's ``decision`` column).
DECISIONS = ("include", "exclude", "note")
KEY = ["quarter", "municipality_code", "service_task"]


#: The longest reason or comment a review form may carry (characters).
MAX_TEXT_CHARS = 1000
#: Characters a reason or comment may not hold: they are markup in the book (HTML tags,
#: MyST roles and directives, substitutions). The text is published as data, escaped for
#: every format (seuranta.core.escape); the refusal tells the reviewer at once.
MARKUP_CHARS = "<>`{}\\"


def free_text_problem(text: str) -> str | None:
    """Why a review form's free text (reason, comment) is refused, or None.

    Refused: more than :data:`MAX_TEXT_CHARS` characters; a markup character of
    :data:`MARKUP_CHARS`; a Markdown link or image (``](``); a control character other than
    a line break or tab; an invisible format character (right-to-left override, zero-width
    space, ...)."""
    import unicodedata
    if len(text) > MAX_TEXT_CHARS:
        return f"text of {len(text)} characters, at most {MAX_TEXT_CHARS} allowed"
    bad = next((c for c in text if c in MARKUP_CHARS), None)
    if bad is not None:
        return (f"markup character {bad!r} is not allowed (write plain text without "
                + " ".join(MARKUP_CHARS) + ")")
    if "](" in text:
        return "a Markdown link or image '](' is not allowed (write the address as plain text)"
    for c in text:
        cat = unicodedata.category(c)
        if (cat == "Cc" and c not in "\n\t") or cat in ("Cf", "Cs", "Co", "Cn") \
                or c in "\u2028\u2029":
            return f"control or invisible character U+{ord(c):04X} is not allowed"
    return None


def cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def cell_code(v) -> str:
    """A municipality code as 3 digits (Excel may have turned '005' into 5)."""
    t = cell_text(v)
    return t.zfill(3) if t.isdigit() and len(t) < 3 else t


def _check(df: pd.DataFrame, path: Path, known_municipalities: set[str] | None,
           latest: Quarter | None) -> None:
    """One InputError line (file and data row) for the first invalid decision."""
    tasks = set(reference.task_codes())
    muns = (known_municipalities if known_municipalities is not None
            else set(reference.mainland_municipalities()["municipality_code"]))
    for i, r in enumerate(df.itertuples(index=False)):
        where = f"{path}: row {i + 1}"
        try:
            q = Quarter.parse(r.quarter)
        except ValueError:
            raise InputError(f"{where}: not a quarter: {r.quarter!r}") from None
        if latest is not None and q > latest:
            raise InputError(f"{where}: quarter {q} is after the data's newest quarter {latest}")
        if r.decision not in DECISIONS:
            raise InputError(f"{where}: decision must be {', '.join(DECISIONS)}, "
                             f"got {r.decision!r}")
        if r.municipality_code not in muns:
            raise InputError(f"{where}: unknown municipality_code {r.municipality_code!r}")
        if r.service_task not in tasks:
            raise InputError(f"{where}: unknown service_task {r.service_task!r} (known: "
                             + ", ".join(sorted(tasks)) + ")")
    _check_unique(df, path)


def _check_unique(df: pd.DataFrame, path: Path) -> None:
    """One decision per quarter × municipality × task: a repeated key (the same decision
    twice, or include and exclude for the same pair) is refused with its rows, never
    resolved silently."""
    key = df[KEY].apply(tuple, axis=1)
    dup = key[key.duplicated(keep=False)]
    if dup.empty:
        return
    first = dup.iloc[0]
    rows = [i + 1 for i in dup.index[dup == first]]
    decisions = df.loc[dup.index[dup == first], "decision"].tolist()
    kind = ("contradictory decisions" if len(set(decisions)) > 1 else "the same key twice")
    raise InputError(f"{path}: rows {', '.join(map(str, rows))}: {kind} for quarter {first[0]} "
                     f"municipality {first[1]} task {first[2]} ({' / '.join(decisions)}): one "
                     "decision per quarter, municipality and task")


def read_corrections(path: Path, latest: Quarter | None = None,
                     known_municipalities: set[str] | None = None) -> pd.DataFrame:
    """corrections.csv as strings (every column of CORRECTION_COLUMNS, then any extra);
    an empty frame when the file is absent.

    Strict (issue 15): each row must have a quarter (not after ``latest``, the newest
    quarter of the data, when given; earlier quarters are past decisions of a longer
    series), a known decision, a known mainland municipality and a known service task;
    the first faulty row stops the run with one line naming the file and row. A decision
    on an unknown task or quarter would otherwise be ignored without a word.
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="string") for c in CORRECTION_COLUMNS})
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    missing = [c for c in CORRECTION_COLUMNS[:5] if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    for c in CORRECTION_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    for c in KEY + ["decision"]:
        df[c] = df[c].str.strip()
    df["decision"] = df["decision"].str.lower()
    df["municipality_code"] = df["municipality_code"].map(cell_code)
    _check(df, path, known_municipalities, latest)
    extra = [c for c in df.columns if c not in CORRECTION_COLUMNS]
    return df[CORRECTION_COLUMNS + extra].astype("string")


def quarter_corrections(quarter: Quarter | str, data_dir: Path) -> pd.DataFrame:
    """The rows of DATA/corrections.csv for one quarter (empty frame when none)."""
    df = read_corrections(Path(data_dir) / CORRECTIONS_FILE)
    return df[df["quarter"] == str(quarter)].reset_index(drop=True)

