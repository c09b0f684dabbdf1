"""The English vocabulary of the English summary: names of tasks, population bases and
quarters, and the meanings of the symbols. Numbers are written in English style (decimal
point, a no-break space between thousands) by :func:`seuranta.core.fmt.en_number`."""

from __future__ import annotations

from seuranta.core.symbols import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED

#: The service tasks in English (THL's English names of the social welfare service tasks).
TASK_EN = {
    "iakkaat": "Services for older people",
    "tyoikaiset": "Services for people of working age",
    "lapsiperheet": "Services for families with children",
    "lastensuojelu": "Child welfare",
    "vammaispalvelut": "Disability services",
    "paihdetyo": "Special services in substance abuse and addiction work",
    "perheoikeudelliset": "Family law services",
    "lastensuojelulaki": "Clients under the Child Welfare Act",
}

#: Population base of each task ("19.6% of people aged 65 or over").
BASE_EN = {
    "iakkaat": "of people aged 65 or over",
    "tyoikaiset": "of people aged 18–64",
    "lapsiperheet": "of people under 65",
    "lastensuojelu": "of people under 18",
    "lastensuojelulaki": "of people under 18",
    "vammaispalvelut": "of the population",
    "paihdetyo": "of the population",
    "perheoikeudelliset": "of the population",
}

QUARTER_EN = {1: "January–March", 2: "April–June", 3: "July–September",
              4: "October–December"}

#: The meaning of each symbol of :data:`seuranta.core.symbols.SYMBOLS` in English.
SYMBOLS_EN = {
    SUPPRESSED: ("Confidential: the number is small or could be derived from other "
                 "published figures."),
    NOT_AVAILABLE: ("Not available or too uncertain to be presented: the municipality's data "
                    "are not comprehensive, or the publication rule does not allow the figure "
                    "(the estimate is published as a range only, or not at all)."),
    NOT_APPLICABLE: ("Logically impossible to present (for example, no estimate is made, or "
                     "a point estimate has no range)."),
}


def quarter_name_en(quarter: str) -> str:
    """``2023Q1`` → ``January–March 2023``."""
    return f"{QUARTER_EN[int(quarter[-1])]} {quarter[:4]}"
