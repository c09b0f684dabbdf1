"""The parameters object: one schema, validation with one-line errors, defaults in one place."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seuranta.cli import main as cli_main
from seuranta.core import params as P
from seuranta.core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, data) -> Path:
    f = tmp_path / "p.yml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return f


def _declared_keys(path: Path) -> set[str]:
    """Key paths a parameters file declares (maps of free keys counted as one key)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))

    def paths(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and not k.endswith(("unusual_age", "age_scope", "package_tasks",
                                                        "series_numbers")):
                yield from paths(v, f"{prefix}{k}.")
            else:
                yield prefix + k
    return set(paths(raw))


def _check_file(path: Path) -> None:
    """A statistician's parameters file: valid under the schema, and holding every key of
    the schema (it documents them) and no other. Its values may differ from the schema's
    defaults: a statistician edits them."""
    P.load_params(path)                      # valid: types, ranges, known keys
    in_file = _declared_keys(path)
    in_schema = {row[0] for row in P.schema_table()}
    commented_out = {"costs.mapping_file"}
    assert in_file <= in_schema
    assert in_schema - in_file <= commented_out, in_schema - in_file


def test_project_file_is_valid_and_declares_every_schema_key(tmp_path):
    """parameters.yml is valid and declares every key; a copy with a value edited (as a
    statistician would) passes the same check: the file need not equal the defaults."""
    _check_file(P.DEFAULT_PARAMS)
    text = P.DEFAULT_PARAMS.read_text(encoding="utf-8")
    edited = tmp_path / "parameters.yml"
    low = P.load_params()["quality"]["low_ratio"]
    new_text = re.sub(r"(?m)^(  low_ratio: *)[0-9.]+", rf"\g<1>{low + 0.05:.2f}", text, count=1)
    assert new_text != text
    edited.write_text(new_text, encoding="utf-8")
    _check_file(edited)
    assert P.load_params(edited)["quality"]["low_ratio"] == pytest.approx(low + 0.05)


def test_a_file_without_a_key_gets_the_schema_default(tmp_path):
    """For every key of the schema: the shipped file without that key gives the schema's
    default for it (not the shipped value, which a statistician may have edited)."""
    raw = yaml.safe_load(P.DEFAULT_PARAMS.read_text(encoding="utf-8"))
    d = P.defaults()
    for key in sorted(_declared_keys(P.DEFAULT_PARAMS)):
        sec, *rest = key.split(".")
        data = yaml.safe_load(yaml.safe_dump(raw, allow_unicode=True))   # a deep copy
        node = data[sec]
        for k in rest[:-1]:
            node = node[k]
        del node[rest[-1]]
        p = P.load_params(_write(tmp_path, data))
        got, want = p[sec], d[sec]
        for k in rest:
            got, want = got[k], want[k]
        assert got == want, key


def test_defaults_filled_and_mapping_and_attribute_access(tmp_path):
    f = _write(tmp_path, {"quality": {"low_ratio": 0.4}, "disclosure": {"min_count": 3}})
    p = P.load_params(f)
    assert p["quality"]["low_ratio"] == 0.4 and p.quality.low_ratio == 0.4
    assert p["quality"]["high_ratio"] == 3.0            # default from the schema
    assert p.get("disclosure").get("min_count") == 3
    assert p["register"]["duckdb"]["threads"] == 2       # nested section filled too
    assert p["_file"] == str(f) and re.fullmatch(r"[0-9a-f]{64}", p["_sha256"])
    assert pickle.loads(pickle.dumps(p)) == p


@pytest.mark.parametrize("data, message", [
    ({"quality": {"low_ration": 0.5}}, "quality.low_ration: unknown key"),
    ({"qualty": {}}, "qualty: unknown key"),
    ({"register": {"duckdb": {"thread": 1}}}, "register.duckdb.thread: unknown key"),
    ({"register": {"unusual_age": {"iakkaat": {"min": 60}}}},
     "register.unusual_age.iakkaat.min: unknown key"),
    ({"quality": {"low_ratio": "low"}}, "quality.low_ratio: expected a number, got 'low'"),
    ({"disclosure": {"min_count": 2.5}}, "disclosure.min_count: expected an integer"),
    ({"disclosure": {"min_count": 0}}, "disclosure.min_count: must be at least 1"),
    ({"estimate": {"ratio_variance": "bootstrap"}}, "estimate.ratio_variance: expected one of"),
    ({"publication": {"first_quarter": "2022-10"}}, "publication.first_quarter: expected a quarter"),
    ({"costs": {"package_tasks": {"vammaiset": "vammaispalvelut"}}},
     "costs.package_tasks.vammaiset: expected a list"),
    ({"quality": []}, "quality: expected a mapping"),
    # issue 20: every value's type and range, names checked against the known ones
    ({"register": {"duckdb": {"memory_limit": "lots"}}},
     "register.duckdb.memory_limit: expected a size such as 1500MB or 2GB, got 'lots'"),
    ({"register": {"duckdb": {"threads": 0}}}, "register.duckdb.threads: must be at least 1"),
    ({"register": {"duckdb": {"temp_directory": ""}}},
     "register.duckdb.temp_directory: must not be empty"),
    ({"estimate": {"model_covariates": ["log_populaton"]}},
     "estimate.model_covariates[0]: expected one of log_population, share_0_17"),
    ({"estimate": {"model_covariates": ["share_0_17", "share_0_17"]}},
     "estimate.model_covariates: 'share_0_17' appears more than once"),
    ({"quality": {"logit_covariates": []}}, "quality.logit_covariates: must not be empty"),
    ({"estimate": {"z": 0}}, "estimate.z: must be greater than 0"),
    ({"estimate": {"z": float("nan")}}, "estimate.z: expected a number"),
    ({"quality": {"low_ratio": 1.5}}, "quality.low_ratio: must lie in [0, 1], got 1.5"),
    ({"quality": {"size_class_bounds": [0, 5000, 100]}},
     "quality.size_class_bounds: must be in increasing order"),
    ({"register": {"unusual_age": {"iakkat": {"min_age": 60}}}},
     "register.unusual_age.iakkat: expected one of iakkaat"),
    ({"register": {"max_rejected_share": 5}}, "register.max_rejected_share: must lie in [0, 1]"),
    ({"publication": {"release_id": "../../etc"}}, "publication.release_id: expected a release id"),
    ({"publication": {"book_url": "javascript:alert(1)"}},
     "publication.book_url: expected an http(s) URL"),
    ({"publication": {"series_numbers": {"2023Q5": "1/2024"}}},
     "publication.series_numbers.2023Q5: expected a quarter"),
    ({"publication": {"synthetic_notice": "Huom\u202e!"}},
     "publication.synthetic_notice: control or invisible character U+202E"),
    ({"costs": {"package_tasks": {"vammaiset": ["vammaispalvelu"]}}},
     "costs.package_tasks.vammaiset[0]: expected one of iakkaat"),
])
def test_faults_are_one_line_input_errors_naming_file_and_key(tmp_path, data, message):
    f = _write(tmp_path, data)
    with pytest.raises(InputError) as e:
        P.load_params(f)
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{f}: ") and message in text, text


def test_cli_reports_a_bad_parameter_as_one_line(tmp_path, capsys):
    f = _write(tmp_path, {"disclosure": {"min_cont": 3}})
    assert cli_main(["counts", "--all", "--data", str(tmp_path), "--params", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"seuranta: error: {f}: disclosure.min_cont: unknown key (known: min_count)"


def test_a_file_without_a_section_gets_the_schema_defaults(tmp_path):
    """A parameters file without its register: section runs with the schema's 0.05
    quarantine threshold (not with none)."""
    raw = yaml.safe_load(P.DEFAULT_PARAMS.read_text(encoding="utf-8"))
    del raw["register"]
    p = P.load_params(_write(tmp_path, raw))
    assert p["register"]["max_rejected_share"] == 0.05
    assert p["register"] == P.defaults("register")


def test_known_covariates_are_the_ones_computed():
    """The one list of known covariates is what the statistics stage computes."""
    import pandas as pd

    from seuranta.core import reference
    from seuranta.statistics import represent
    cov = represent.municipal_covariates(
        reference.reference_population().assign(year=2022), 2022,
        reference.mainland_municipalities())
    assert set(P.COVARIATES) <= set(cov.columns)
    assert all(pd.api.types.is_numeric_dtype(cov[c]) for c in P.COVARIATES)


def test_cli_names_file_and_key_of_a_bad_size(tmp_path, capsys):
    f = _write(tmp_path, {"register": {"duckdb": {"memory_limit": "lots"}}})
    assert cli_main(["counts", "--all", "--data", str(tmp_path), "--params", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"seuranta: error: {f}: register.duckdb.memory_limit: expected a size "
                   "such as 1500MB or 2GB, got 'lots'")


def test_dates_accepted_as_yaml_dates_or_text(tmp_path):
    f = tmp_path / "p.yml"
    f.write_text("register:\n  extract_date: 2024-01-15\npublication:\n  date: '2024-03-01'\n")
    p = P.load_params(f)
    assert p["register"]["extract_date"] == "2024-01-15"
    assert p["publication"]["date"] == "2024-03-01"


def test_as_params_passes_a_loaded_object_through_and_validates_a_mapping():
    p = P.load_params()
    assert P.as_params(p) is p
    assert P.as_params({"disclosure": {"min_count": 7}})["disclosure"] == {"min_count": 7}
    # the suppression symbol is the SVT set's (core.symbols), not a parameter: an old file
    # that sets one is told so, not silently ignored
    with pytest.raises(InputError, match="disclosure.symbol: unknown key"):
        P.as_params({"disclosure": {"symbol": "*"}})
    with pytest.raises(InputError, match="no parameters given"):
        P.as_params(None)


def test_over_defaults_passes_a_validated_section_through_and_completes_a_mapping():
    """A validated section is used as it is (no validation of the whole schema again for
    each estimate row, issue 24); a partial mapping or None gets the schema's defaults."""
    est = P.load_params()["estimate"]
    assert P.over_defaults("estimate", est) is est
    part = P.over_defaults("estimate", {"z": 2.5})
    assert part["z"] == 2.5 and part["z"] != P.defaults("estimate")["z"]
    assert {k: v for k, v in part.items() if k != "z"} == \
        {k: v for k, v in P.defaults("estimate").items() if k != "z"}
    assert P.over_defaults("estimate", None) == P.defaults("estimate")


def test_no_stage_reads_the_default_parameters_file():
    """Only the command line loads parameters by default path (its --params option); stages,
    notebooks and publication helpers receive them (grep: a call without an argument)."""
    r = subprocess.run(["grep", "-rnE", r"load_params\(\)", "src", "notebooks"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.stdout == "", r.stdout


def test_no_literal_defaults_of_disclosure_and_quality_outside_the_schema():
    """min_count / low_ratio fallbacks typed into code drift from the file (0.65 vs 0.6)."""
    pat = (r"get\(\"(min_count|low_ratio|symbol|ratio_variance|z|rounding)\", *[0-9.\"']"
           r"|min_count *= *5\b|DEFAULT_MIN_COUNT *= *5")
    r = subprocess.run(["grep", "-rnE", pat, "src", "notebooks"], cwd=ROOT,
                       capture_output=True, text=True)
    code = [ln for ln in r.stdout.splitlines() if "``" not in ln]   # not signatures in docs
    assert code == [], code


def _parameter_reads_with_own_default() -> list[str]:
    """Lines of src/ and notebooks/ that read a parameter of the schema with a default of
    their own: ``.get("low_ratio", 0.6)``, ``.get("author") or "THL"`` (a second copy of
    a default, which drifts from the schema's)."""
    names = {part for row in P.schema_table() for part in row[0].split(".")}
    alt = "|".join(sorted(map(re.escape, names)))
    # (not a chapter's tables or a manifest, whose keys may share a parameter's name)
    get = r"(?<!tables)(?<!manifest)\.get\(\s*"
    pat = re.compile(rf"""{get}["']({alt})["']\s*,\s*[^)\s]"""
                     rf"""|{get}["']({alt})["']\s*\)\s*or\s+[^({{\s]""")
    found = []
    for f in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "notebooks").glob("*.md")]):
        if f.name == "params.py":
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if pat.search(line):
                found.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    return found


def test_no_module_reads_a_parameter_with_a_default_of_its_own():
    """The schema (core/params.py) is the one source of defaults: stages read their section
    through ``params.complete`` / ``params.section_of`` (defaults filled from the schema)."""
    assert _parameter_reads_with_own_default() == []


def test_the_scan_of_own_defaults_catches_one(tmp_path, monkeypatch):
    """The scan above finds a read with its own default (the safeguard catches the fault)."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "src" / "m.py").write_text('x = p.get("low_ratio", 0.6)\n'
                                       'y = pub.get("author") or "THL"\n'
                                       'z = p["low_ratio"]\n', encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    assert [ln.split(": ", 1)[0] for ln in _parameter_reads_with_own_default()] == \
        ["src/m.py:1", "src/m.py:2"]
