"""Method parameters: ``parameters.yml`` read, validated and completed in one place.

:data:`SCHEMA` declares every section and key of the parameters file with its type and
default: it is the only place where a parameter's default lives. :func:`load_params` reads a
file, rejects an unknown key or a value of the wrong type with a one-line
:class:`~seuranta.core.errors.InputError` naming the file and the key path
(``parameters.yml: quality.low_ratio: expected a number, got 'low'``), fills in the defaults
of missing keys and returns a :class:`Params`: a ``dict`` of sections (``params["quality"]
["low_ratio"]``, also ``params.quality.low_ratio``), with the file's path and SHA-256 under
``_file`` and ``_sha256``.

The parameters are loaded once per run, by the command line (``--params FILE``), and
handed down: pipeline → stages → papermill (which passes ``params_file`` to every notebook).

The schema holds the one default of every key; ``parameters.yml`` is the statisticians' file:
it declares every key with a comment (it ships with the defaults' values, and they edit
them), and a file that leaves out a key or a whole section gets the schema's default
(tests/test_params.py checks both, never that the file equals the defaults). A stage reads
a key of a section it was handed through :func:`complete` or :func:`section_of`, never with
a default of its own. Every value's type and range is checked (covariate names against
:data:`COVARIATES`, task codes, quarters, sizes, URLs; no control or invisible character
in any text).

Adding a key: one entry in :data:`SCHEMA` (type, range, default, one-line comment) and the
key with the same value and a comment in ``parameters.yml``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seuranta.core.errors import InputError
from seuranta.core.labels_fi import COVARIATE_FI
from seuranta.core.reference import SERVICE_TASKS

PROJECT_DIR = Path(__file__).resolve().parents[3]
DEFAULT_PARAMS = PROJECT_DIR / "parameters.yml"


# --------------------------------------------------------------------------- value types
# A check takes (value, where) and returns the value (possibly normalised) or raises
# _Invalid(message); ``where`` is the key path used in the message.

class _Invalid(Exception):
    pass


def _name(v: Any) -> str:
    return repr(v) if isinstance(v, str | int | float | bool) or v is None else type(v).__name__


def Int(min: int | None = None, max: int | None = None) -> Callable:  # noqa: N802 - a type
    def check(v, where):
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid(f"{where}: expected an integer, got {_name(v)}")
        if min is not None and v < min:
            raise _Invalid(f"{where}: must be at least {min}, got {v}")
        if max is not None and v > max:
            raise _Invalid(f"{where}: must be at most {max}, got {v}")
        return v
    check.__doc__ = "integer" + (f" ≥ {min}" if min is not None else "") + (
        f" ≤ {max}" if max is not None else "")
    return check


def Num(min: float | None = None, max: float | None = None,  # noqa: N802
        above: float | None = None) -> Callable:
    """A finite number in [min, max] (``above``: strictly greater than it)."""
    def check(v, where):
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v \
                or v in (float("inf"), float("-inf")):
            raise _Invalid(f"{where}: expected a number, got {_name(v)}")
        if (min is not None and v < min) or (max is not None and v > max):
            raise _Invalid(f"{where}: must lie in [{min}, {max}], got {v}")
        if above is not None and not v > above:
            raise _Invalid(f"{where}: must be greater than {above}, got {v}")
        return v
    check.__doc__ = "number" + (f" in [{min}, {max}]" if min is not None and max is not None
                                else f" > {above}" if above is not None
                                else f" ≥ {min}" if min is not None else "")
    return check


def Str(choices: tuple[str, ...] | None = None, nonempty: bool = False,  # noqa: N802
        pattern: str | None = None, what: str = "") -> Callable:
    """Text: one of ``choices``, or matching ``pattern`` (``what`` names the form), never
    with a control or invisible character (parameter text is printed in every format)."""
    rx = re.compile(pattern) if pattern else None

    def check(v, where):
        if not isinstance(v, str):
            raise _Invalid(f"{where}: expected text, got {_name(v)}")
        if choices is not None and v not in choices:
            raise _Invalid(f"{where}: expected one of {', '.join(choices)}, got {v!r}")
        if nonempty and not v.strip():
            raise _Invalid(f"{where}: must not be empty")
        bad = next((c for c in v if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")
                    or c in "\u2028\u2029"), None)
        if bad is not None:
            raise _Invalid(f"{where}: control or invisible character U+{ord(bad):04X} in "
                           f"{v[:40]!r}")
        if rx is not None and not rx.fullmatch(v):
            raise _Invalid(f"{where}: expected {what}, got {v!r}")
        return v
    check.__doc__ = ("one of " + ", ".join(choices) if choices else what if rx else "text")
    return check


def Bool() -> Callable:  # noqa: N802
    def check(v, where):
        if not isinstance(v, bool):
            raise _Invalid(f"{where}: expected true or false, got {_name(v)}")
        return v
    check.__doc__ = "true/false"
    return check


def Date() -> Callable:  # noqa: N802
    """A date: YAML's date or text YYYY-MM-DD; kept as ISO text."""
    def check(v, where):
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v).isoformat()
            except ValueError:
                pass
        raise _Invalid(f"{where}: expected a date YYYY-MM-DD, got {_name(v)}")
    check.__doc__ = "date YYYY-MM-DD"
    return check


def Quarter_() -> Callable:  # noqa: N802
    """A quarter such as 2022Q4."""
    def check(v, where):
        text = str(v)
        if len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
            return text
        raise _Invalid(f"{where}: expected a quarter such as 2022Q4, got {_name(v)}")
    check.__doc__ = "quarter YYYYQn"
    return check


def Optional(inner: Callable) -> Callable:  # noqa: N802
    def check(v, where):
        return None if v is None else inner(v, where)
    check.__doc__ = f"{inner.__doc__} or null"
    return check


def ListOf(inner: Callable, unique: bool = False, increasing: bool = False,  # noqa: N802
           nonempty: bool = False) -> Callable:
    def check(v, where):
        if not isinstance(v, list):
            raise _Invalid(f"{where}: expected a list, got {_name(v)}")
        out = [inner(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if nonempty and not out:
            raise _Invalid(f"{where}: must not be empty")
        if unique and len(set(map(str, out))) != len(out):
            dup = next(x for i, x in enumerate(out) if x in out[:i])
            raise _Invalid(f"{where}: {dup!r} appears more than once")
        if increasing and any(b <= a for a, b in zip(out, out[1:])):
            raise _Invalid(f"{where}: must be in increasing order, got {out}")
        return out
    check.__doc__ = f"list of {inner.__doc__}"
    return check


def MapOf(inner: Callable, keys: Callable | None = None) -> Callable:  # noqa: N802
    """A mapping with free keys (e.g. one entry per service task; ``keys`` checks them)
    and checked values, in the order of its keys: the order of a file's lines carries no
    meaning, and a manifest's record of the values (JSON with sorted keys) gives the same
    object back."""
    def check(v, where):
        if not isinstance(v, Mapping):
            raise _Invalid(f"{where}: expected a mapping, got {_name(v)}")
        if keys is not None:
            for k in v:
                keys(str(k), f"{where}.{k}")
        return {str(k): inner(v[k], f"{where}.{k}") for k in sorted(v, key=str)}
    check.__doc__ = f"mapping of {inner.__doc__}"
    return check


@dataclass(frozen=True)
class Key:
    """One parameter: its check, its default and a one-line comment."""
    check: Callable
    default: Any
    doc: str = ""


@dataclass(frozen=True)
class Section:
    """A mapping with fixed keys (a section of the file, or a nested one such as duckdb)."""
    keys: dict[str, Key | Section] = field(default_factory=dict)
    doc: str = ""


# --------------------------------------------------------------------------- the schema
# One entry per key, with a comment. Keep it in the order of parameters.yml.

_AGE_LIMITS = Section({
    "min_age": Key(Optional(Int(min=0)), None, "flag ages below this (null: no lower limit)"),
    "max_age": Key(Optional(Int(min=0)), None, "flag ages above this (null: no upper limit)"),
})

#: Covariates a model may name: the ones the statistics stage computes (one list,
#: core.labels_fi.COVARIATE_FI).
COVARIATES = tuple(COVARIATE_FI)
#: Service task codes (core.reference.SERVICE_TASKS).
TASK_CODES = tuple(t[0] for t in SERVICE_TASKS)

SCHEMA: dict[str, Section] = {
    "publication": Section({
        "release_id": Key(Optional(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
                                       what="a release id: letters, digits, . _ - (a folder "
                                            "name)")), None,
                          "release id of `seuranta publish` (null: newest quarter + extract date)"),
        "first_quarter": Key(Quarter_(), "2022Q4", "first quarter of the series"),
        "synthetic_notice": Key(Str(nonempty=True),
                                "Tämä julkaisu on laadittu synteettisestä harjoitusaineistosta. "
                                "Luvut eivät kuvaa todellisia sosiaalihuollon asiakkaita.",
                                "notice on every page, PDF and annex built from demo data"),
        "author": Key(Str(nonempty=True), "THL", "author of the book, PDFs and annexes"),
        "authors": Key(ListOf(Str()), ["Sosiaalihuollon seurantarekisterin tilastotiimi"],
                       "named on the title page"),
        "contact": Key(Str(), "tilastoinfo@thl.fi", "contact on the title page and annexes"),
        "contact_name": Key(Str(), "", "named contact person on the landing page and title page "
                                       "('' names none)"),
        "issn": Key(Optional(Str(pattern=r"[0-9]{4}-[0-9]{3}[0-9X]",
                                 what="an ISSN: NNNN-NNNC")), None,
                    "ISSN of the publication series on the landing page and title page "
                    "(null: none)"),
        "series": Key(Str(), "Tilastoraportti (työpaperi)", "publication series"),
        "series_numbers": Key(MapOf(Str(), keys=Quarter_()), {"2022Q4": "1/2024", "2023Q1": "2/2024",
                                             "2023Q2": "3/2024", "2023Q3": "4/2024",
                                             "2023Q4": "5/2024"},
                              "number in the series of each quarter's working paper"),
        "date": Key(Optional(Date()), "2024-03-15",
                    "publication date printed everywhere (null: SOURCE_DATE_EPOCH, else today)"),
        "release_calendar": Key(ListOf(Date()),
                                ["2024-03-15", "2024-06-14", "2024-09-13", "2024-12-13",
                                 "2025-03-14"],
                                "release dates; the landing page names the next one after date"),
        "book_url": Key(Str(pattern=r"https?://[^\s\"'<>`{}|\\^]+", what="an http(s) URL"),
                        "https://julkaisut.thl.example/seuranta/",
                        "the book's public URL; annexes link its methods page under it"),
    }, "the publication as a whole"),
    "register": Section({
        "extract_date": Key(Optional(Date()), None,
                            "extract date when the data folder has no metadata.json"),
        "max_age": Key(Int(min=1), 120, "birth_year_impossible: age above this"),
        "min_start_year": Key(Int(min=1), 1960, "start_before_min_year: periods starting before"),
        "client_id_max_length": Key(Int(min=1), 64, "bad_client_id: ids longer than this"),
        "max_rejected_share": Key(Optional(Num(min=0, max=1)), 0.05,
                                  "quarantine threshold: the run stops above this rejected share "
                                  "(null: no threshold)"),
        "subfolders": Key(Bool(), False, "read the files of real sub-folders of register/ too"),
        "unusual_age": Key(MapOf(lambda v, w: _check_section(_AGE_LIMITS, v, w),
                                 keys=Str(choices=TASK_CODES)), {
            "lastensuojelu": {"min_age": None, "max_age": 20},
            "iakkaat": {"min_age": 60, "max_age": None},
            "tyoikaiset": {"min_age": 18, "max_age": 67},
        }, "per task: flag (not reject) ages outside [min_age, max_age]"),
        "duckdb": Section({
            "memory_limit": Key(Str(pattern=r"(?i)\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)",
                                    what="a size such as 1500MB or 2GB"),
                                "1500MB", "DuckDB memory_limit"),
            "threads": Key(Int(min=1, max=256), 2, "DuckDB threads"),
            "temp_directory": Key(Optional(Str(nonempty=True)), None,
                                  "spill folder (null: a temporary folder removed after the run)"),
        }, "embedded DuckDB of the register stage"),
    }, "register stage: validation and counting"),
    "inputs": Section({
        "no_deliveries_declared": Key(Bool(), False,
                                      "true: an absent deliveries.csv means nothing declared"),
    }, "input files of the data folder"),
    "quality": Section({
        "ramp_min_ratio": Key(Num(min=0, max=1), 0.5, "monthly_ramp_up/down: first/last month ratio"),
        "ramp_min_clients": Key(Num(min=0), 10, "ramp rule applies from this many clients"),
        "source_min_ratio": Key(Num(min=0, max=1), 0.8,
                                "source_disagreement: smaller source below this x the larger"),
        "drop_ratio": Key(Num(min=0, max=1), 0.8,
                          "own_drop: share below this x the own earlier quarters' median"),
        "drop_quarters": Key(Int(min=1), 4, "own_drop: earlier quarters compared (at most)"),
        "plausibility_excludes": Key(Bool(), False,
                                     "true: the earlier rule (a plausibility flag excludes); "
                                     "only to measure it"),
        "comparison_min_group": Key(Int(min=1), 5, "clean municipalities needed per group"),
        "low_ratio": Key(Num(min=0, max=1), 0.6, "share_low_comparable: ratio below this"),
        "high_ratio": Key(Num(min=1), 3.0, "share_high_comparable: ratio above this"),
        "comparison_z": Key(Num(min=0), 2.0, "z_noise limit of the ratio rules"),
        "robust_z_max": Key(Num(above=0), 3.5, "share_low_z / share_high_z: |z| above this"),
        "tau_min": Key(Num(min=0), 0.15, "lower bound of tau"),
        "tau_min_expected": Key(Num(min=0), 30, "tau from municipalities expecting >= this"),
        "model_check": Key(Bool(), True,
                           "share_low_model: a count implausibly low against the other "
                           "municipalities' model prediction excludes the row (partial)"),
        "model_check_fdr": Key(Num(above=0, max=1), 0.05,
                               "model check: false discovery rate (Benjamini-Hochberg)"),
        "model_check_min_rows": Key(Int(min=1), 20,
                                    "model check: clean rows with clients needed per quarter x task"),
        "size_class_bounds": Key(ListOf(Num(min=0), increasing=True, nonempty=True),
                                 [0, 5000, 20000, 100000],
                                 "lower bounds of the size classes (inhabitants)"),
        "urban_min_population": Key(Int(min=0), 20000, "urban/rural proxy (inhabitants)"),
        "logit_covariates": Key(ListOf(Str(choices=COVARIATES), unique=True, nonempty=True),
                                ["log_population", "share_65plus", "share_0_17"],
                                "logistic model of being comprehensive"),
        "verdict_threshold_pct": Key(Num(min=0), 2.0, "age-adjusted difference below this: no bias"),
        "verdict_std_diff": Key(Num(min=0), 0.25, "weighted standardised difference mentioned above"),
    }, "quality classes and representativeness"),
    "estimate": Section({
        "published_method": Key(Str(choices=("ratio", "model")), "model",
                                "method published (chosen by the coverage study)"),
        "z": Key(Num(above=0, max=10), 1.96, "normal quantile of the interval"),
        "ratio_variance": Key(Str(choices=("jackknife", "linearised")), "jackknife",
                              "SE of the ratio method"),
        "rounding": Key(Int(min=1), 100, "publishable estimate to the nearest this"),
        "min_municipalities": Key(Int(min=1), 2, "fewer comprehensive municipalities: no estimate"),
        "model_covariates": Key(ListOf(Str(choices=COVARIATES), unique=True),
                                ["log_population", "share_0_17", "share_65plus", "share_85plus"],
                                "covariates of the model estimate (NB regression)"),
        "model_dispersion": Key(Str(choices=("size", "constant")), "size",
                                "model: NB dispersion depending on size, or constant"),
        "model_county_effect": Key(Bool(), True, "model: shrunk county effects"),
        "flagged_interval": Key(Str(choices=("hull", "average", "mixture")), "average",
                                "model interval's guard against wrong flagged counts: the "
                                "hull with the estimate without them, the average of both "
                                "predictions, or the mixture"),
        "interval_calibration": Key(Bool(), True,
                                    "model intervals widened by the mean z² of earlier "
                                    "predictions tested since (at least 1)"),
        "flagged_error_prior": Key(Num(min=0, max=1), 0.5,
                                   "model interval: prior probability that a flagged "
                                   "(tarkistettava) count is wrong"),
        "publication_rule": Section({
            "point_min_base_pct": Key(Num(min=0, max=100), 20.0,
                                      "point estimate: comprehensive base share at least"),
            "point_min_municipalities": Key(Int(min=0), 20, "point: municipalities at least"),
            "point_min_clients": Key(Num(min=0), 200, "point: clients at least"),
            "point_max_rse_pct": Key(Num(min=0), 10.0, "point: relative SE at most this %"),
            "point_min_counties": Key(Int(min=0), 4,
                                      "point: counties with comprehensive municipalities at least"),
            "point_max_std_diff": Key(Num(min=0), 0.25,
                                      "point: standardised difference of a model covariate "
                                      "between comprehensive and other municipalities below"),
            "range_min_base_pct": Key(Num(min=0, max=100), 5.0, "range: base share at least"),
            "range_min_municipalities": Key(Int(min=0), 5, "range: municipalities at least"),
            "range_min_clients": Key(Num(min=0), 50, "range: clients at least"),
            "range_step_pct": Key(Num(min=0), 10.0, "range rounded to a 1-2-5 step >= this %"),
            "county_point_max_rse_pct": Key(Num(min=0), 10.0,
                                            "county estimate: a point when RSE <= this %"),
        }, "point / range / no estimate"),
    }, "national estimates"),
    "disclosure": Section({
        "min_count": Key(Int(min=1), 5, "counts 1..min_count-1 are not shown"),
    }, "disclosure control of every published number"),
    "costs": Section({
        "benchmark_allocation_pct": Key(Num(min=0, max=100), 97.2,
                                        "share allocated in the 2017 evaluation"),
        "full_coverage_pct": Key(Num(min=0, max=100), 100.0,
                                 "€ per client 'partial' below this register coverage"),
        "per_client_min_coverage_pct": Key(Num(min=0, max=100), 80.0,
                                           "€ per client suppressed below this coverage"),
        "age_scope": Key(MapOf(ListOf(Str())), {
            "hoito_hoiva": ["65-74", "75+"],
            "lapset_perheet": ["0-17"],
            "esh_18_74": ["18-64", "65-74"],
        }, "package → client groups of its target population"),
        "package_tasks": Key(MapOf(ListOf(Str(choices=TASK_CODES), unique=True, nonempty=True)), {
            "vammaiset": ["vammaispalvelut"],
            "hoito_hoiva": ["iakkaat"],
            "lapset_perheet": ["lapsiperheet", "lastensuojelu"],
            "aikuiset_sos": ["tyoikaiset"],
            "mielenterveys_paihde": ["paihdetyo"],
        }, "package → service tasks for € per client"),
        "mapping_file": Key(Optional(Str(nonempty=True)), None,
                            "override of the package mapping CSV"),
    }, "Sote-tietopaketit cost stage"),
}


# --------------------------------------------------------------------------- the object

class Params(dict):
    """A validated parameter mapping: ``p["sec"]["key"]``, ``p.get("sec")`` or ``p.sec.key``."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __reduce__(self):   # pickles as itself (dict subclasses with __getattr__ need this)
        return (self.__class__, (dict(self),))


def _check_section(section: Section, value: Any, where: str) -> Params:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _Invalid(f"{where}: expected a mapping, got {_name(value)}")
    unknown = [k for k in value if k not in section.keys]
    if unknown:
        raise _Invalid(f"{where + '.' if where else ''}{unknown[0]}: unknown key "
                       f"(known: {', '.join(section.keys)})")
    out = Params()
    for k, spec in section.keys.items():
        path = f"{where}.{k}" if where else k
        if isinstance(spec, Section):
            out[k] = _check_section(spec, value.get(k), path)
        elif k in value:
            out[k] = spec.check(value[k], path)
        else:
            out[k] = spec.check(_copy(spec.default), path)
    return out


def _copy(v):
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


#: Keys of a Params that are not parameters: the file's path and SHA-256, and its name
#: alone for parameters re-created from a manifest (no file; ``core.provenance``).
META_KEYS = ("_file", "_sha256", "_name")


def validate(data: Mapping | None, source: str = "parameters") -> Params:
    """Check ``data`` (a parsed parameters file) against :data:`SCHEMA` and fill defaults;
    a fault raises a one-line InputError starting with ``source``."""
    data = dict(data or {})
    meta = {k: data.pop(k) for k in META_KEYS if k in data}
    try:
        out = _check_section(Section(dict(SCHEMA)), data, "")
    except _Invalid as e:
        raise InputError(f"{source}: {e}") from None
    out.update(meta)
    return out


def defaults(section: str | None = None) -> Params:
    """The default parameters (of one section): the schema's defaults, validated."""
    p = validate({}, "defaults")
    return p if section is None else p[section]


def complete(section: str, values: Mapping | None) -> Params:
    """One section of the parameters as a stage was handed it (``values``: a mapping,
    possibly partial; None: nothing given), validated, with the schema's default for every
    key it leaves out. This is how a stage reads a key of its section: never
    ``values.get(key, default)`` with a default of its own."""
    return validate({section: dict(values or {})}, f"parameters: {section}")[section]


def over_defaults(section: str, values: Mapping | None) -> Mapping:
    """``values`` (one section of the parameters, possibly partial; None: nothing given)
    over the schema's defaults of ``section``: ``values`` itself when it is a validated
    section already (a :class:`Params`, every key filled), else a new mapping of the
    defaults with ``values`` over them. For a function called per estimate or per row with
    its section: :func:`defaults` validates the whole schema at each call (2 400 calls,
    about 1 CPU-s of a publish's main process; issue 24)."""
    if isinstance(values, Params):
        return values
    return {**defaults(section), **(values or {})}


def section_of(params: Mapping | None, section: str) -> Params:
    """Section ``section`` of the run's parameters (loaded, or a mapping of sections,
    possibly partial; None: the schema's defaults), every key filled from the schema."""
    return defaults(section) if params is None else as_params(params)[section]


def load_params(path: Path | str | None = None) -> Params:
    """Read, validate and complete a parameters file (default: the project's
    ``parameters.yml``); its path and hash are kept under ``_file`` and ``_sha256``."""
    p = Path(path) if path else DEFAULT_PARAMS
    if not p.is_file():
        raise InputError(f"parameters file not found: {p}")
    raw = p.read_bytes()
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a mapping of sections")
    out = validate(data, str(p))
    out["_file"] = str(p)
    out["_sha256"] = hashlib.sha256(raw).hexdigest()
    return out


def as_params(params: Mapping | str | Path | None) -> Params:
    """A :class:`Params` from a loaded mapping (returned as is when already validated) or a
    parameters file path (what papermill passes to a notebook as ``params_file``)."""
    if isinstance(params, Params):
        return params
    if params is None:
        raise InputError("no parameters given: pass the parameters file (params_file)")
    if isinstance(params, str | Path):
        return load_params(params)
    return validate(params)


def schema_table() -> list[tuple[str, str, Any, str]]:
    """(key path, type, default, comment) of every parameter, for documentation."""
    rows: list[tuple[str, str, Any, str]] = []

    def walk(section: Section, prefix: str):
        for k, spec in section.keys.items():
            if isinstance(spec, Section):
                walk(spec, f"{prefix}{k}.")
            else:
                rows.append((prefix + k, spec.check.__doc__ or "", spec.default, spec.doc))
    for name, sec in SCHEMA.items():
        walk(sec, f"{name}.")
    return rows
