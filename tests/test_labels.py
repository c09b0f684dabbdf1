"""One Finnish vocabulary: every label dictionary is defined once, in core.labels_fi."""

from __future__ import annotations

import subprocess
from pathlib import Path

from seuranta.core import labels_fi

ROOT = Path(__file__).resolve().parents[1]


def _grep(pattern: str) -> list[str]:
    r = subprocess.run(["grep", "-rnE", pattern, "src", "notebooks"], cwd=ROOT,
                       capture_output=True, text=True)
    return [ln for ln in r.stdout.splitlines() if not ln.startswith("src/seuranta/core/labels_fi.py")]


def test_label_dictionaries_are_defined_only_in_labels_fi():
    names = [n for n in vars(labels_fi) if n.isupper() and isinstance(getattr(labels_fi, n), dict)]
    assert {"QUALITY_FI", "AGE_GROUP_FI", "TASK_GENITIVE", "DECISION_FI"} <= set(names)
    found = _grep(r"^\s*(" + "|".join(names) + r")\s*=")
    assert found == [], found


def test_one_spelling_of_the_age_group_and_quality_classes():
    assert labels_fi.AGE_GROUP_FI["0-17"] == "alle 18-vuotiaat"
    assert _grep("0–17-vuotiaat") == []
    # quality classes typed as a dictionary outside labels_fi (the five former copies)
    assert _grep(r"\{\"comprehensive\": \"[Kk]attava") == []
