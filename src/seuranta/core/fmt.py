"""Finnish number formatting for the publication's text and tables.

Finnish writes a decimal comma, groups thousands with a space and puts a space before the
per cent sign: ``134 400``, ``2,4 %``. The space used everywhere is the no-break space
U+00A0 (``NBSP``) so that a number never breaks across lines; the minus sign is U+2212.
Missing values (None/NaN) format as the symbol "not available" (``.``) of
:mod:`seuranta.core.symbols`, the one symbol set of the publication.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from seuranta.core.symbols import NOT_AVAILABLE

NBSP = "\u00a0"
MINUS = "\u2212"
MISSING = NOT_AVAILABLE


def is_missing(x) -> bool:
    """None, NaN or pandas' NA (not a number to show)."""
    if x is None:
        return True
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return type(x).__name__ in ("NAType", "NaTType")


def round_half_up(x: float, decimals: int = 0) -> Decimal:
    """Round like a person does (2,45 → 2,5), not banker's rounding; returns a Decimal."""
    q = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP)


def fi_number(x, decimals: int = 0) -> str:
    """``134400`` → ``"134 400"`` (NBSP); ``2.45, 1`` → ``"2,5"``; negative with U+2212."""
    if is_missing(x):
        return MISSING
    d = round_half_up(x, decimals)
    neg = d < 0
    d = abs(d)
    text = f"{d:.{decimals}f}"
    whole, _, frac = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = NBSP.join(groups)
    if frac:
        out += "," + frac
    if neg and d != 0:
        out = MINUS + out
    return out


def fi_pct(x, decimals: int = 1) -> str:
    """``2.4`` → ``"2,4 %"`` (NBSP before the sign); x is already in per cent."""
    if is_missing(x):
        return MISSING
    return fi_number(x, decimals) + NBSP + "%"


def en_number(x, decimals: int = 0) -> str:
    """English style for the English summary: ``2.45, 1`` → ``"2.5"``, thousands with a
    no-break space (``134 400``) as in the rest of the publication."""
    return fi_number(x, decimals).replace(",", ".")


def en_pct(x, decimals: int = 1) -> str:
    """``2.4`` → ``"2.4%"`` (English: no space before the sign)."""
    if is_missing(x):
        return MISSING
    return en_number(x, decimals) + "%"


def fi_round(x, step: int = 100) -> int | float:
    """Round to the nearest ``step`` (half up): 134 372 → 134 400; NaN stays NaN."""
    if is_missing(x):
        return float("nan")
    return int(round_half_up(float(x) / step, 0)) * step


def fi_count(n, one: str, many: str) -> str:
    """A count with its noun in Finnish number agreement: the nominative singular after 1,
    the partitive singular after any other number (``1 kustannusrivi``, ``3 kustannusriviä``,
    ``0 kustannusriviä``); the number as :func:`fi_number` writes it."""
    return f"{fi_number(n)}{NBSP}{one if int(n) == 1 else many}"
