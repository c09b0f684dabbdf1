"""The one symbol set of every published artefact (book, PDF, annexes, open data).

Following the practice of Suomen virallinen tilasto (SVT): a cell that shows no number
carries one of these symbols, and every artefact explains them from this table. The
meaning texts are Finnish (the publication's language); Swedish texts are for the Swedish
summary and open-data metadata.
"""

from __future__ import annotations

#: Suppressed for confidentiality: a count of 1 … min_count−1, or a cell from which one
#: could be derived (secondary suppression).
SUPPRESSED = ".."
#: Not available or too uncertain to be presented (as Statistics Finland's "."): no data,
#: the municipality's data are not comprehensive for the quarter, or the publication rule
#: withholds the figure (an estimate published as a range only, or not at all).
NOT_AVAILABLE = "."
#: Logically impossible to present (e.g. no estimate is made for the task).
NOT_APPLICABLE = "x"
#: A true zero is a number and is printed as one ("0", "0,0 %"): the set has no symbol
#: for nil, and no other sign (a dash "–" in particular) stands for a missing figure.

#: Symbol → (Finnish meaning, Swedish meaning), in the order the notes list them.
SYMBOLS: dict[str, tuple[str, str]] = {
    SUPPRESSED: ("Tieto on salattu tietosuojan vuoksi: lukumäärä on pieni tai se voitaisiin "
                 "päätellä muista julkaistuista luvuista.",
                 "Uppgiften är sekretessbelagd: antalet är litet eller kunde härledas ur andra "
                 "publicerade uppgifter."),
    NOT_AVAILABLE: ("Tietoa ei ole saatu tai se on liian epävarma esitettäväksi: kunnan "
                    "tiedot eivät ole kattavia, tai julkaisusääntö ei salli lukua (arvio "
                    "julkaistaan vain vaihteluvälinä tai ei lainkaan).",
                    "Uppgift saknas eller är för osäker för att presenteras: kommunens "
                    "uppgifter är inte heltäckande, eller publiceringsregeln tillåter inte "
                    "talet (skattningen publiceras endast som intervall eller inte alls)."),
    NOT_APPLICABLE: ("Loogisesti mahdoton esittää (esimerkiksi arviota ei laadita, tai "
                     "pistearviolle ei julkaista vaihteluväliä).",
                     "Logiskt omöjlig att presentera (till exempel görs ingen skattning, "
                     "eller en punktskattning har inget intervall)."),
}


def symbol_note_fi() -> str:
    """One sentence per symbol, for a table note or an annex's notes sheet."""
    return " ".join(f"{s} = {fi[0].lower()}{fi[1:]}" for s, (fi, _) in SYMBOLS.items())


def in_text(symbol: str) -> str:
    """A symbol named in a sentence, in Finnish quotation marks (”.”), so that the
    sentence's own full stop or comma is never read as part of it (``symboli ..`` would
    read as the symbol of suppression)."""
    if symbol not in SYMBOLS:
        raise ValueError(f"not a symbol of the publication: {symbol!r}")
    return f"\u201d{symbol}\u201d"
