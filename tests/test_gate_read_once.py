"""gate._ReadOnce: the kept releases' published tables parsed once by content."""

import pandas as pd

from seuranta.publication import gate, published

CSV = "quarter,municipality_code,clients,clients_symbol\n2023Q1,091,12,\n2023Q1,'=1,,*\n"


def test_same_files_are_parsed_once_and_each_caller_gets_its_own_copy(tmp_path, monkeypatch):
    a, b, c = (tmp_path / n for n in "abc")
    for d, text in ((a, CSV), (b, CSV), (c, CSV.replace("12", "13"))):
        d.mkdir()
        (d / "municipal.csv").write_text(text, encoding="utf-8")
    calls = []
    real = published.read

    def counted(d, name, required=True):
        calls.append(d)
        return real(d, name, required)

    monkeypatch.setattr(gate, "read", counted)
    reader = gate._ReadOnce()
    fa, fb, fc = reader(a, "municipal"), reader(b, "municipal"), reader(c, "municipal")
    assert calls == [a, c]                       # b has a's bytes: not parsed again
    for d, f in ((a, fa), (b, fb), (c, fc)):
        pd.testing.assert_frame_equal(f, real(d, "municipal"))
    assert fb.loc[1, "municipality_code"] == "=1"   # unguarded as published.read does
    fa.loc[0, "clients"] = 99.0                      # a caller's change stays its own
    assert reader(b, "municipal").loc[0, "clients"] == 12.0
    assert reader(a, "missing") is None
