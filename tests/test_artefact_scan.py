"""The scan of tests/artefact_scan.py (test_public_rule.py runs it on the whole release)
finds a withheld number, interval and share wherever a reader would see one, and only
there: a figure inside a longer number, a share on a page of counts, are not findings."""

from artefact_scan import Withheld, norm, scan_texts

from seuranta.core.fmt import fi_number


def test_scan_texts_finds_each_kind_of_withheld_value_and_nothing_else():
    w = Withheld(numbers={1200.0, 1100.0, 1300.0, 5000.0}, intervals={(1100.0, 1300.0)},
                 shares={12.4}, legit_numbers={5000.0})
    n = norm(fi_number(1200.0))
    assert n == "1 200"
    texts = {
        "book/a.html": norm(f"Arvio: {fi_number(1200.0)} asiakasta"),       # the number
        "book/b.html": "välillä 1 100–1 300 asiakasta",                     # the interval
        "book/yhteenveto.html": "osuus 12,4 % väestöstä",                    # a share
        "book/english.html": "a share of 12.4% of the population",           # English share
        "book/kunnat.html": "osuus 12,4 % (a share of counts), 21 200 and 1 2000, 5 000",
        "book/c.html": "nothing here",
    }
    found = {(name, kind) for name, kind, _ in scan_texts(texts, w)}
    assert found == {("book/a.html", "number"), ("book/b.html", "number"),
                     ("book/b.html", "interval"), ("book/yhteenveto.html", "share"),
                     ("book/english.html", "share")}
