"""A corpus of hostile strings (issue 20): what an attacker or a careless reviewer types.

Every string carries :data:`MARK` so that a test can find where it landed (an attribute, an
element, a URL) in a built page. Used by the escaping tests, the review-form tests and the
whole release of ``tests/conftest.py`` (its corrections.csv carries them all).
"""

from __future__ import annotations

MARK = "SEURANTAX"

#: name → hostile text. ``../.review_key`` and the register extract are what a {download}
#: role copied into the public book before issue 20.
CORPUS: dict[str, str] = {
    "script": f"<script>alert('{MARK}')</script>",
    "img_onerror": f"<img src=x onerror=alert('{MARK}')>",
    "svg_onload": f"<svg onload=alert('{MARK}')></svg> {MARK}",
    "iframe": f"<iframe src=\"https://evil.example/{MARK}\"></iframe>",
    "html_comment": f"<!-- {MARK} --> piilossa",
    "entity": f"&lt;script&gt;{MARK}&#60;b&#62;",
    "download_key": f"{{download}}`avain {MARK} <../../../data/.review_key>`",
    "download_key2": f"{{download}}`../.review_key` {MARK}",
    "download_register": f"{{download}}`../../../data/register/sha_part1.csv` {MARK}",
    "include": f"\n```{{include}} ../../../data/.review_key\n```\n{MARK}",
    "literalinclude": f"\n```{{literalinclude}} /etc/passwd\n```\n{MARK}",
    "colon_directive": f"\n:::{{admonition}} {MARK}\n:class: danger\nVAARA\n:::\n",
    "raw_directive": f"\n```{{raw}} html\n<script>alert('{MARK}')</script>\n```\n",
    "md_image_remote": f"![{MARK}](https://evil.example/{MARK}.png)",
    "md_link": f"[klikkaa {MARK}](https://evil.example/{MARK})",
    "autolink": f"<https://evil.example/{MARK}>",
    "ref_link": f"[x][r]\n\n[r]: https://evil.example/{MARK}",
    "substitution": f"{{{{ data_statement }}}} {{{{ {MARK} }}}}",
    "math": f"$\\input{{/etc/passwd}}$ $$x^2$$ {MARK}",
    "heading": f"# {MARK} otsikko",
    "table_break": f"a | b | {MARK}\n|---|---|",
    "emphasis": f"**{MARK}** _x_ ~~y~~",
    "myst_target": f"({MARK})=\n% kommentti {MARK}",
    "latex_input": f"\\input{{/etc/passwd}} {MARK}",
    "latex_write18": f"\\immediate\\write18{{touch /tmp/{MARK}}} {MARK}",
    "latex_specials": f"100 % & $ # _ ^ ~ \\ {{ }} {MARK}",
    "formula_eq": f"=HYPERLINK(\"https://evil.example/{MARK}\",\"syy\")",
    "formula_plus": f"+cmd|' /C calc'!A0 {MARK}",
    "formula_minus": f"-2+3+cmd|' /C calc'!A0 {MARK}",
    "formula_at": f"@SUM(1+1)*cmd|' /C calc'!A0 {MARK}",
    "formula_quote": f"'=1+1 {MARK}",
    "control": f"a\x00b\x07c\x1bd\x7fe\x85f\u2028g {MARK}",
    "newlines": f"rivi 1\nrivi 2\r\n\r\n- lista {MARK}\n\n{{download}}`../.review_key`",
    "tab": f"a\tb {MARK}",
    "rtl": f"\u202e{MARK} txt.exe\u202c ja \u2067isolate\u2069",
    "zero_width": f"{{down\u200bload}}`..\u200d/.review_key` {MARK}\ufeff",
    "long": (f"{MARK} " + "pitkä perustelu " * 700)[:10_500],
    "long_word": f"{MARK}" + "x" * 10_000,
    "finnish": f"Kaksoiskirjauksia 2023–2024, ks. THL:n ohje {MARK} (åäö ÅÄÖ €)",
}


def corpus_items() -> list[tuple[str, str]]:
    return sorted(CORPUS.items())


def add_to_corrections(data_dir, quarter: str) -> int:
    """Append one ``note`` per corpus string to DATA/corrections.csv (as if edited by hand),
    each on a municipality × task of ``quarter`` without a decision yet; returns the rows."""
    from pathlib import Path

    import pandas as pd

    from seuranta.core import reference
    from seuranta.inputs.corrections import CORRECTION_COLUMNS
    path = Path(data_dir) / "corrections.csv"
    old = (pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file()
           else pd.DataFrame(columns=CORRECTION_COLUMNS))
    taken = set(zip(old["quarter"], old["municipality_code"], old["service_task"]))
    free = [(m, t) for t in reference.task_codes(estimated_only=True)
            for m in reference.mainland_municipalities()["municipality_code"]
            if (quarter, m, t) not in taken]
    rows = [{"quarter": quarter, "municipality_code": m, "service_task": t, "decision": "note",
             "reason": text, "comment": text}
            for (m, t), (_, text) in zip(free, corpus_items())]
    new = pd.concat([old, pd.DataFrame(rows)], ignore_index=True).fillna("")
    new.to_csv(path, index=False, lineterminator="\n")
    return len(rows)
