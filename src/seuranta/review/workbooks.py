"""Review round: one Excel workbook per wellbeing services county for checking its figures.

THL's quality process (seed, slide "Tarkastuskierros") shows each county its own figures
before publication: client counts and population shares by home municipality, from Kanta
(SHA), from separate deliveries (ET) and combined (ALL), and asks for an answer on a
feedback form ("tarkastuspalautelomake"). ``review_workbooks`` writes those workbooks:

* ``Ohje`` – what the workbook is and how to answer (Finnish);
* one sheet per service task – each home municipality × quarter (this quarter and the
  previous ones) with population base, clients and share by source, the quality class and
  its reasons, and the flags the validation rules raised;
* ``Palaute`` – one row per municipality × estimated task with a decision drop-down
  (``include`` / ``exclude`` / ``note``, an Excel data validation list), a reason and a free
  comment; the sheet is protected except those three columns;
* ``meta`` – very hidden and protected: layout version, county code and quarter, so that
  ``seuranta feedback import`` (:mod:`seuranta.feedback`) can check that the layout was not
  changed.

The counts are exact (no disclosure control): the workbooks go to the county's own review,
not to the public, and each workbook holds only its own county's municipalities. Åland is
outside the register and gets no workbook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from seuranta import __version__
from seuranta.core import reference
from seuranta.core.errors import InputError, writing
from seuranta.core.excel import put
from seuranta.core.labels_fi import QUALITY_ONE_FI, TASK_SHORT
from seuranta.core.params import load_params, section_of
from seuranta.core.provenance import extract_hash, input_hashes
from seuranta.core.quarters import Quarter, quarter_range
from seuranta.core.tables import read_text
from seuranta.inputs.corrections import DECISIONS
from seuranta.inputs.datafolder import check_quarter, is_synthetic
from seuranta.register import validate
from seuranta.register.stage import extract_tables_dir, run_register_stage
from seuranta.review.signing import form_signature, load_or_create_key
from seuranta.statistics import quality
from seuranta.statistics.quality import FLAG_FI
from seuranta.statistics.quarter import quarter_tables

#: Version of the workbook layout; import refuses forms of another layout.
LAYOUT_VERSION = "seuranta-review-2"

#: Decisions of the review round (codes written to corrections.csv).

DECISIONS_FI = {
    "include": "hyväksytään arvioon, vaikka sääntö liputti kunnan (perustelu suositeltava)",
    "exclude": "jätetään pois valtakunnallisesta arviosta: tiedot eivät ole edustavia "
               "(perustelu pakollinen)",
    "note": "huomautus, joka julkaistaan laatuselosteessa (kirjoita se Perustelu-sarakkeeseen)",
}

#: How many quarters before the review quarter the task sheets show.
PREVIOUS_QUARTERS = 4

FEEDBACK_SHEET = "Palaute"
META_SHEET = "meta"
INSTRUCTIONS_SHEET = "Ohje"

#: Header of the feedback sheet (import checks it cell by cell).
FEEDBACK_HEADER = ["Neljännes", "Kuntakoodi", "Kunta", "Palvelutehtävä",
                   "Palvelutehtävän nimi", "Laatuluokka", "Laadun perusteet",
                   "Päätös", "Perustelu", "Kommentti"]
FEEDBACK_HEADER_ROW = 6
#: Columns (1-based) that the county fills in.
DECISION_COL, REASON_COL, COMMENT_COL = 8, 9, 10

#: Short Finnish sheet names of the tasks (Excel allows 31 characters).
TASK_SHEETS = {k: v for k, v in TASK_SHORT.items() if k in reference.task_codes()}

TASK_HEADER = ["Neljännes", "Kuntakoodi", "Kunta", "Väestöpohja",
               "Kanta (SHA) asiakkaat", "Kanta (SHA) osuus %",
               "Erillistoimitus (ET) asiakkaat", "Erillistoimitus (ET) osuus %",
               "Yhteensä asiakkaat", "Yhteensä osuus %",
               "Laatuluokka", "Laadun perusteet", "Sääntöjen liputukset"]
TASK_HEADER_ROW = 4

SOURCES = ("SHA", "ET", "ALL")

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=13)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
#: Rows flagged tarkistettava (quality.csv ``flags``): kept in the estimate, to be confirmed.
_FLAG_FILL = PatternFill("solid", fgColor="F8CBAD")


# --------------------------------------------------------------------------- helpers

def slug(text: str) -> str:
    """ASCII file-name slug: 'Etelä-Pohjanmaan hyvinvointialue' → 'etela-pohjanmaan-hyvinvointialue'."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", t.lower()).strip("-")


def workbook_name(county_code: str, county_name: str, quarter: Quarter | str) -> str:
    """``08_pohjois-savon-hyvinvointialue_2023Q1.xlsx``: the county's code and name and the
    quarter (an import refuses a form whose file name names another county or quarter)."""
    return f"{county_code}_{slug(county_name)}_{quarter}.xlsx"


_QUARTER_TOKEN = re.compile(r"(?<![0-9])(\d{4}Q[1-4])(?![0-9])")
#: The county code a form's name starts with (as issued: ``08_…``).
_COUNTY_TOKEN = re.compile(r"^(\d{2})_")


def name_mismatch(file_name: str, county_code: str, quarter: str) -> str | None:
    """Why a form's file name contradicts the county and quarter it is signed for (a form
    saved under another county's name), or None. A name may drop them (``vastaus.xlsx``),
    but the county code it starts with, every county name (slug) and every quarter it holds
    must be the form's own."""
    stem = Path(file_name).stem.lower()
    for q in _QUARTER_TOKEN.findall(Path(file_name).stem.upper()):
        if q != str(quarter):
            return f"the file name names quarter {q}, the form is for {quarter}"
    for code in _COUNTY_TOKEN.findall(stem):
        if code != county_code:
            return f"the file name names county {code}, the form is county {county_code}'s"
    for c in reference.counties().itertuples():
        # a whole slug: "pohjanmaan-hyvinvointialue" is inside "etela-pohjanmaan-…" too
        if c.county_code != county_code and re.search(
                rf"(?:^|[_ .(]){re.escape(slug(c.county_name_fi))}(?:$|[_ .)])", stem):
            return (f"the file name names {c.county_name_fi} ({c.county_code}), the form is "
                    f"county {county_code}'s")
    return None


def _canonical(v):
    """A cell value as written and as read back alike ('' is read as empty, 1.0 as 1)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None if v == "" else v


def figures_hash(wb) -> str:
    """sha256 of what a form shows: every cell of every sheet but ``meta``, except the
    columns the county fills in (decision, reason, comment) below the feedback header.
    The same for the workbook as written and as read back (whole floats as integers, ''
    as empty, trailing empty cells dropped)."""
    sheets = []
    for ws in wb.worksheets:
        if ws.title == META_SHEET:
            continue
        rows = []
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            vals = [None if (ws.title == FEEDBACK_SHEET and i > FEEDBACK_HEADER_ROW
                             and j in (DECISION_COL, REASON_COL, COMMENT_COL))
                    else _canonical(v) for j, v in enumerate(values, start=1)]
            while vals and vals[-1] is None:
                vals.pop()
            rows.append(vals)
        while rows and not rows[-1]:
            rows.pop()
        sheets.append([ws.title, rows])
    text = json.dumps(sheets, ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _reason_texts() -> dict[str, str]:
    """Finnish texts of quality reason codes and flag codes, when the stages declare them."""
    texts: dict[str, str] = dict(validate.FLAGS)
    for k, v in quality.REASONS.items():
        texts[str(k)] = str(v[-1] if isinstance(v, (tuple, list)) else v)
    return texts


def describe_reasons(codes: str, texts: dict[str, str]) -> str:
    """'code1; code2' → 'code1 (teksti); code2 (teksti)'."""
    parts = [c.strip() for c in str(codes or "").split(";") if c.strip()]
    return "; ".join(f"{c} ({texts[c]})" if c in texts else c for c in parts)


def _as_str(df: pd.DataFrame, cols) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        if c in df.columns:
            df[c] = df[c].astype("string").fillna("")
    return df


def load_tables_dir(tables_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the tables a review needs from a build/<Q>/tables folder (and the extract's
    flags from ``build/register/tables``)."""
    tables_dir = Path(tables_dir)
    out = {}
    for name in ("counts", "series_counts", "quality", "series_quality", "flags"):
        # the flags are the whole extract's (OUT/register/tables, beside the quarters)
        p = (extract_tables_dir(tables_dir) if name == "flags" else tables_dir) / f"{name}.csv"
        if p.is_file():
            out[name] = read_text(p)
    if "counts" not in out:
        raise InputError(f"{tables_dir}: no counts.csv (run `seuranta run` or `seuranta counts`)")
    return out


def _counts_long(tables: dict[str, pd.DataFrame], quarter: Quarter) -> pd.DataFrame:
    """counts rows of this quarter and up to PREVIOUS_QUARTERS before it."""
    frames = [tables["counts"]]
    if "series_counts" in tables and len(tables["series_counts"]):
        frames.append(tables["series_counts"])
    df = pd.concat(frames, ignore_index=True)
    df = _as_str(df, ["quarter", "municipality_code", "service_task", "source"])
    first = quarter
    for _ in range(PREVIOUS_QUARTERS):
        first = first.prev()
    df = df[(df["quarter"] >= str(first)) & (df["quarter"] <= str(quarter))]
    df = df.drop_duplicates(["quarter", "municipality_code", "service_task", "source"])
    for c in ("clients", "population_base"):
        df[c] = pd.to_numeric(df[c]).astype("int64")
    df["share_pct"] = pd.to_numeric(df["share_pct"]).astype(float)
    return df


def _quality_long(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frames = [t for n, t in tables.items() if n in ("quality", "series_quality") and len(t)]
    if not frames:
        return pd.DataFrame(columns=["quarter", "municipality_code", "service_task",
                                     "quality", "reasons"])
    df = pd.concat(frames, ignore_index=True)
    df = _as_str(df, ["quarter", "municipality_code", "service_task", "quality", "reasons",
                      "flags"])
    for c in ("reasons", "flags"):
        if c not in df.columns:
            df[c] = ""
    return df.drop_duplicates(["quarter", "municipality_code", "service_task"])[
        ["quarter", "municipality_code", "service_task", "quality", "reasons", "flags"]]


def _flags_text(tables: dict[str, pd.DataFrame], texts: dict[str, str]) -> dict[tuple, str]:
    fl = tables.get("flags")
    if fl is None or not len(fl):
        return {}
    fl = _as_str(fl, ["municipality_code", "service_task", "flag"])
    out: dict[tuple, list[str]] = {}
    for r in fl.sort_values(["municipality_code", "service_task", "flag"]).itertuples():
        label = f"{r.flag} ({texts[r.flag]})" if r.flag in texts else r.flag
        out.setdefault((r.municipality_code, r.service_task), []).append(
            f"{label}: {int(r.rows)} riviä")
    return {k: "; ".join(v) for k, v in out.items()}


# --------------------------------------------------------------------------- writing

def issue_time() -> str:
    """The issue time of a set of forms: UTC to the second, ISO 8601 (sorts as text)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(ws, row: int, labels: list[str]) -> None:
    for j, label in enumerate(labels, start=1):
        c = put(ws, row, j, label)
        c.font = _BOLD
        c.fill = _HEAD_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")


def _widths(ws, widths: list[int]) -> None:
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w


def _instructions(wb: Workbook, county_code: str, county_name: str, quarter: Quarter,
                  synthetic: bool, synthetic_notice: str) -> None:
    ws = wb.active
    ws.title = INSTRUCTIONS_SHEET
    lines = [
        (f"Tarkastuskierros {quarter.name_fi} ({quarter})", _TITLE),
        (f"{county_name} ({county_code})", _BOLD),
        ("", None),
        ("Tämä työkirja sisältää sosiaalihuollon seurantarekisterin luvut hyvinvointialueen "
         "omista kunnista tarkastusta varten: asiakasmäärät ja väestöosuudet kotikunnittain "
         "Kanta-arkiston tiedoista (SHA), erillistoimituksista (ET) ja yhdessä.", None),
        ("Luvut ovat tarkkoja eikä niihin ole tehty tietosuojakäsittelyä: työkirja on vain "
         "hyvinvointialueen omaan tarkastukseen, älä julkaise tai jaa sitä.", _BOLD),
        ("", None),
        ("Välilehdet", _BOLD),
        ("• Yksi välilehti kullekin palvelutehtävälle: kunnittain tämä neljännes ja "
         f"{PREVIOUS_QUARTERS} edellistä, laatuluokka perusteineen ja tarkistussääntöjen "
         "liputukset.", None),
        (f"• {FEEDBACK_SHEET}: tarkastuspalaute, yksi rivi kuntaa ja arvioitavaa "
         "palvelutehtävää kohden.", None),
        ("", None),
        ("Näin vastaat", _BOLD),
        ("Täytä Palaute-välilehdelle vain ne rivit, joista on huomautettavaa; tyhjät rivit "
         "tarkoittavat, ettei huomautettavaa ole. Valitse Päätös-sarakkeen "
         "alasvetovalikosta:", None),
        *[(f"• {d}: {DECISIONS_FI[d]}", None) for d in DECISIONS],
        ("Oranssilla merkityt rivit (laatuluokka \"kattava, tarkistettava\") ovat "
         "tarkistettavia: kunnan osuus poikkeaa selvästi "
         "vertailukunnista, mutta toimituksessa ei ole havaittu puutetta. Kunta on mukana "
         "valtakunnallisessa arviossa, ellei hyvinvointialue vastaa exclude (tiedot vajaat); "
         "include vahvistaa luvun oikeaksi.", _BOLD),
        ("Kirjoita Perustelu-sarakkeeseen lyhyt perustelu: se julkaistaan tilaston "
         "laatuselosteessa. Kommentti-sarakkeen vapaa kommentti on vain THL:lle eikä sitä "
         "julkaista. Älä kirjoita henkilöiden nimiä.", None),
        ("Älä muuta välilehtien, sarakkeiden tai rivien rakennetta: THL lukee lomakkeen "
         "koneellisesti (seuranta feedback import), ja muutettu lomake hylätään.", None),
        ("Lähetetty lomake on hyvinvointialueen koko vastaus neljännekselle: uusi lomake "
         "korvaa aiemmin lähetetyn.", None),
    ]
    if synthetic:
        lines.insert(2, (synthetic_notice, Font(bold=True, color="C00000")))
    for i, (text, font) in enumerate(lines, start=1):
        c = put(ws, i, 1, text)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        if font is not None:
            c.font = font
    ws.column_dimensions["A"].width = 110


def _prepare(tables: dict[str, pd.DataFrame], quarter: Quarter) -> dict:
    """Look-up dicts of every municipality's figures (built once for all workbooks)."""
    counts = _counts_long(tables, quarter)
    keys = ["municipality_code", "quarter", "service_task"]
    wide = counts.pivot_table(index=keys, columns="source", values=["clients", "share_pct"],
                              aggfunc="first")
    base = counts[counts["source"] == "ALL"].set_index(keys)["population_base"]
    cols = [(v, src) for src in SOURCES for v in ("clients", "share_pct")]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(cols))
    wide.insert(0, ("population_base", ""), base.reindex(wide.index))

    def cell(name, v):
        if pd.isna(v):
            return None
        return round(float(v), 4) if name == "share_pct" else int(v)

    names = [c[0] for c in wide.columns]
    figures = {key: [cell(n, v) for n, v in zip(names, vals)]
               for key, vals in zip(wide.index, wide.itertuples(index=False, name=None))}
    texts = _reason_texts()
    quality = _quality_long(tables)
    qual = {(r.municipality_code, r.quarter, r.service_task):
            (QUALITY_ONE_FI.get(r.quality, r.quality) + (f", {FLAG_FI}" if r.flags else ""),
             describe_reasons(r.reasons, texts))
            for r in quality.itertuples(index=False)}
    return {"figures": figures, "quality": qual, "flags": _flags_text(tables, texts),
            "quarters": sorted(counts["quarter"].unique())}


def _task_sheet(wb: Workbook, task, county_name: str, quarter: Quarter, muns: pd.DataFrame,
                prep: dict) -> None:
    ws = wb.create_sheet(TASK_SHEETS.get(task.service_task, task.service_task[:31]))
    put(ws, 1, 1, f"{task.name_fi} – {county_name}").font = _TITLE
    note = f"Väestöpohja: {task.base_fi}. Neljännekset {PREVIOUS_QUARTERS} edellistä – {quarter}."
    if not int(task.estimated):
        note += " Palvelutehtävä lasketaan, mutta siitä ei tehdä valtakunnallista arviota."
    put(ws, 2, 1, note)
    _header(ws, TASK_HEADER_ROW, TASK_HEADER)
    row = TASK_HEADER_ROW + 1
    for code, name in zip(muns["municipality_code"], muns["name_fi"]):
        for qq in prep["quarters"]:
            key = (code, qq, task.service_task)
            values = [qq, code, name] + prep["figures"].get(key, [None] * 7)
            values += list(prep["quality"].get(key, (None, None)))
            values.append(prep["flags"].get((code, task.service_task))
                          if qq == str(quarter) else None)
            for j, v in enumerate(values, start=1):
                cell = put(ws, row, j, v)
                if qq == str(quarter):
                    cell.font = _BOLD
                if j in (6, 8, 10):
                    cell.number_format = "0.00"
            row += 1
    ws.freeze_panes = ws.cell(row=TASK_HEADER_ROW + 1, column=4)
    ws.auto_filter.ref = (f"A{TASK_HEADER_ROW}:{get_column_letter(len(TASK_HEADER))}"
                          f"{max(row - 1, TASK_HEADER_ROW)}")
    _widths(ws, [10, 10, 18, 11, 11, 11, 13, 13, 11, 11, 13, 40, 40])


def _feedback_sheet(wb: Workbook, county_name: str, quarter: Quarter, muns: pd.DataFrame,
                    tasks: pd.DataFrame, prep: dict) -> list[tuple[str, str, str]]:
    ws = wb.create_sheet(FEEDBACK_SHEET)
    put(ws, 1, 1, f"Tarkastuspalaute – {county_name} – {quarter.name_fi}").font = _TITLE
    put(ws, 2, 1, "Täytä keltaiset sarakkeet vain riveille, joista on "
                                   "huomautettavaa. Päätös valitaan alasvetovalikosta:")
    for i, d in enumerate(DECISIONS):
        put(ws, 3 + i, 1, f"{d}: {DECISIONS_FI[d]}")
    _header(ws, FEEDBACK_HEADER_ROW, FEEDBACK_HEADER)
    row = FEEDBACK_HEADER_ROW + 1
    keys: list[tuple[str, str, str]] = []
    for m in muns.itertuples():
        for t in tasks.itertuples():
            keys.append((str(quarter), m.municipality_code, t.service_task))
            ql, reasons = prep["quality"].get((m.municipality_code, str(quarter), t.service_task),
                                              (None, None))
            values = [str(quarter), m.municipality_code, m.name_fi, t.service_task, t.name_fi,
                      ql, reasons or None]
            for j, v in enumerate(values, start=1):
                put(ws, row, j, v)
            if ql and ql.endswith(FLAG_FI):          # flagged: marked for confirmation
                for j in (6, 7):
                    ws.cell(row=row, column=j).fill = _FLAG_FILL
            for j in (DECISION_COL, REASON_COL, COMMENT_COL):
                cell = ws.cell(row=row, column=j)
                cell.protection = Protection(locked=False)
                cell.fill = _INPUT_FILL
            row += 1
    last = row - 1
    dv = DataValidation(type="list", formula1='"' + ",".join(DECISIONS) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle="Päätös",
                        error="Valitse päätös luettelosta: " + " / ".join(DECISIONS),
                        promptTitle="Päätös", prompt=" / ".join(DECISIONS),
                        showInputMessage=True)
    col = get_column_letter(DECISION_COL)
    dv.add(f"{col}{FEEDBACK_HEADER_ROW + 1}:{col}{max(last, FEEDBACK_HEADER_ROW + 1)}")
    ws.add_data_validation(dv)
    ws.freeze_panes = ws.cell(row=FEEDBACK_HEADER_ROW + 1, column=4)
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    _widths(ws, [10, 10, 18, 18, 30, 12, 40, 12, 40, 40])
    return keys


def _meta_sheet(wb: Workbook, county_code: str, quarter: Quarter,
                keys: list[tuple[str, str, str]], key: bytes, issued: str, extract: str,
                file_name: str) -> None:
    figures = figures_hash(wb)
    ws = wb.create_sheet(META_SHEET)
    n_rows = len(keys)
    signature = form_signature(key, LAYOUT_VERSION, county_code, str(quarter), issued, keys,
                               extract, file_name, figures)
    rows = [("key", "value"),
            ("layout_version", LAYOUT_VERSION),
            ("county_code", county_code),
            ("quarter", str(quarter)),
            ("feedback_sheet", FEEDBACK_SHEET),
            ("feedback_header_row", FEEDBACK_HEADER_ROW),
            ("feedback_rows", n_rows),
            ("feedback_header", json.dumps(FEEDBACK_HEADER, ensure_ascii=False)),
            ("seuranta_version", __version__),
            ("issued", issued),
            ("extract_sha256", extract),
            ("file_name", file_name),
            ("figures_sha256", figures),
            ("signature", signature)]
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r, start=1):
            put(ws, i, j, v)
    ws.protection.sheet = True
    ws.sheet_state = "veryHidden"


def review_workbook(quarter: Quarter, county_code: str, tables: dict[str, pd.DataFrame],
                    path: Path, synthetic: bool = False, synthetic_notice: str = "",
                    prep: dict | None = None, *, key: bytes, issued: str | None = None,
                    extract: str) -> Path:
    """Write the review workbook of one county (only its own municipalities' figures),
    signed under ``key`` (:mod:`seuranta.review.signing`) with the issue time ``issued``,
    the hash of the data folder's extract (:func:`seuranta.core.provenance.extract_hash`),
    the file name and the hash of its figures (:func:`figures_hash`)."""
    all_muns = reference.mainland_municipalities()
    muns = (all_muns[all_muns["county_code"] == county_code]
            .sort_values("municipality_code").reset_index(drop=True))
    if muns.empty:
        raise InputError(f"no register municipalities in county {county_code!r}")
    county_name = str(muns["county_name_fi"].iloc[0])
    prep = prep or _prepare(tables, quarter)
    tasks = reference.service_tasks()

    wb = Workbook()
    _instructions(wb, county_code, county_name, quarter, synthetic, synthetic_notice)
    for t in tasks.itertuples():
        _task_sheet(wb, t, county_name, quarter, muns, prep)
    keys = _feedback_sheet(wb, county_name, quarter, muns, tasks[tasks["estimated"] == 1], prep)
    _meta_sheet(wb, county_code, quarter, keys, key, issued or issue_time(), extract, path.name)
    wb.active = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with writing(path):
        wb.save(tmp)
    tmp.replace(path)
    return path


def review_workbooks(quarter: Quarter | str, tables: dict[str, pd.DataFrame] | Path | str,
                     out_dir: Path, synthetic: bool = False, synthetic_notice: str = "",
                     counties: list[str] | None = None, *, key: bytes,
                     issued: str | None = None, extract: str) -> list[Path]:
    """One review workbook per county (22 areas, never Åland) into ``out_dir``.

    ``tables`` is a quarter's tables (as from ``quarter_tables``) or a
    ``build/<Q>/tables`` folder. Returns the paths written, in county order.
    """
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    if not isinstance(tables, dict):
        tables = load_tables_dir(Path(tables))
    if "counts" not in tables:
        raise InputError("review needs the counts table")
    out_dir = Path(out_dir)
    areas = reference.counties()
    if counties is not None:
        areas = areas[areas["county_code"].isin(counties)]
    prep = _prepare(tables, quarter)
    issued = issued or issue_time()
    paths = []
    for a in areas.itertuples():
        p = out_dir / workbook_name(a.county_code, a.county_name_fi, quarter)
        paths.append(review_workbook(quarter, a.county_code, tables, p, synthetic,
                                     synthetic_notice, prep, key=key, issued=issued,
                                     extract=extract))
    return paths


# --------------------------------------------------------------------------- command

def _fresh_tables_dir(qdir: Path, data_dir: Path) -> Path | None:
    """build/<Q>/tables when its manifest was made from this data folder as it is now."""
    mpath = qdir / "manifest.json"
    if not (qdir / "tables" / "counts.csv").is_file() or not mpath.is_file():
        return None
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if Path(manifest.get("data_dir", "")) != Path(data_dir).resolve():
        return None
    if manifest.get("inputs") != input_hashes(data_dir):
        return None
    return qdir / "tables"


def _cmd_review(args) -> int:

    quarter = Quarter.parse(args.quarter)
    data_dir, out_dir = Path(args.data), Path(args.out)
    params = load_params(getattr(args, "params", None))
    if not data_dir.is_dir():
        raise InputError(f"data folder not found: {data_dir}")
    check_quarter(quarter, data_dir, params)
    tables_dir = _fresh_tables_dir(out_dir / str(quarter), data_dir)
    if tables_dir is not None:
        print(f"using tables of {tables_dir}")
        tables = load_tables_dir(tables_dir)
    else:   # the quarter's tables and the extract's flags (not a quarter's table)
        first = Quarter.parse(section_of(params, "publication")["first_quarter"])
        reg = run_register_stage(data_dir, quarter_range(first, quarter), params)
        tables = {**quarter_tables(quarter, data_dir, params, register_tables=reg),
                  "flags": reg["flags"]}
    synthetic = is_synthetic(data_dir)
    notice = section_of(params, "publication")["synthetic_notice"]
    paths = review_workbooks(quarter, tables, out_dir / "review" / str(quarter),
                             synthetic=synthetic, synthetic_notice=notice,
                             key=load_or_create_key(data_dir), extract=extract_hash(data_dir))
    for p in paths:
        print(p)
    return 0


def add_parser(sub) -> None:
    """``seuranta review`` sub-command."""
    r = sub.add_parser("review", help="review-round workbooks, one per county, into "
                                      "OUT/review/<quarter>/")
    r.add_argument("--quarter", required=True, help="quarter, e.g. 2023Q1")
    r.add_argument("--data", default="data/demo", help="data folder (default: %(default)s)")
    r.add_argument("--out", default="build", help="output folder (default: %(default)s)")
    r.add_argument("--params", default=None, help="parameters file (default: parameters.yml)")
    r.set_defaults(func=_cmd_review)
