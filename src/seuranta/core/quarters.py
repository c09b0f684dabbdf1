"""Quarters and months: parsing ``2023Q1``, their first and last days, and ranges.

A quarter is written ``YYYYQn``. The population of a quarter is that of 31 December of
the previous year (docs/data-contract.md section 1).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")

#: The one time zone of every date of the publication (the register's day boundaries,
#: "today"), whatever the machine's TZ: a timestamp with a zone is converted to it before
#: its date is taken; a timestamp without one is taken as local time of this zone.
TIME_ZONE = "Europe/Helsinki"


def today() -> dt.date:
    """Today's date in :data:`TIME_ZONE` (not the machine's zone)."""
    from zoneinfo import ZoneInfo
    return dt.datetime.now(ZoneInfo(TIME_ZONE)).date()

FINNISH_QUARTER_NAMES = {
    1: "tammi–maaliskuu",
    2: "huhti–kesäkuu",
    3: "heinä–syyskuu",
    4: "loka–joulukuu",
}


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter."""

    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _QUARTER_RE.match(str(text).strip())
        if not m:
            raise ValueError(f"not a quarter: {text!r} (expected e.g. 2023Q1)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of_date(cls, d: dt.date) -> Quarter:
        return cls(d.year, (d.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> dt.date:
        nxt = self.next()
        return nxt.start - dt.timedelta(days=1)

    @property
    def months(self) -> list[str]:
        return [f"{self.year}-{m:02d}" for m in range(3 * self.q - 2, 3 * self.q + 1)]

    @property
    def population_year(self) -> int:
        """Year whose 31 December population is the quarter's denominator."""
        return self.year - 1

    @property
    def name_fi(self) -> str:
        """Finnish name, e.g. ``tammi–maaliskuu 2023``."""
        return f"{FINNISH_QUARTER_NAMES[self.q]} {self.year}"

    def next(self) -> Quarter:
        return Quarter(self.year + (self.q == 4), self.q % 4 + 1)

    def prev(self) -> Quarter:
        return Quarter(self.year - (self.q == 1), (self.q - 2) % 4 + 1)


def quarter_range(first: str | Quarter, last: str | Quarter) -> list[Quarter]:
    """All quarters from ``first`` to ``last`` inclusive."""
    a = first if isinstance(first, Quarter) else Quarter.parse(first)
    b = last if isinstance(last, Quarter) else Quarter.parse(last)
    if b < a:
        raise ValueError(f"quarter range is empty: {a}..{b}")
    out = [a]
    while out[-1] < b:
        out.append(out[-1].next())
    return out


def last_complete_quarter(extract_date: dt.date) -> Quarter:
    """The newest quarter that ended before ``extract_date``."""
    return Quarter.of_date(extract_date).prev()
