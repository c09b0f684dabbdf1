"""The declared precision of every published figure: one place, used by the gate (which
rounds) and by the formatters (which show what the gate rounded, no more).

* a share (per cent: every published column ending in ``_pct`` and the quartiles and
  extremes of municipal shares) has :data:`SHARE_DECIMALS` decimals, rounded half up;
* an estimate of clients (``estimate_rounded``) is a multiple of ``estimate.rounding``
  (parameters), rounded half up; an interval or a range is rounded *outward* to the same
  step (its low end down, its high end up), so that rounding never narrows it;
* a share range (the share of a range's ends) is rounded outward to
  :data:`SHARE_DECIMALS`;
* an aggregate of z-scores (the model's calibration: mean and sd) has :data:`Z_DECIMALS`
  decimals;
* counts are whole numbers.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from seuranta.core.fmt import is_missing

#: Decimals of every published share (per cent), in every artefact.
SHARE_DECIMALS = 1
#: Decimals of a published aggregate of z-scores (calibration.csv's mean_z and sd_z).
Z_DECIMALS = 2


def _decimal(x) -> Decimal:
    return Decimal(repr(float(x)))


def round_share(x, decimals: int = SHARE_DECIMALS) -> float:
    """A share rounded half up to the declared decimals (2.45 → 2.5); NaN stays NaN."""
    if is_missing(x):
        return math.nan
    return float(_decimal(x).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def round_estimate(x, step: int) -> float:
    """An estimate rounded half up to a multiple of ``step`` (134 351 → 134 400)."""
    if is_missing(x):
        return math.nan
    return float(int((_decimal(x) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step)


def round_down(x, step: float) -> float:
    """The largest multiple of ``step`` at or below x (an interval's low end)."""
    if is_missing(x):
        return math.nan
    return float((_decimal(x) / _decimal(step)).to_integral_value(ROUND_FLOOR)
                 * _decimal(step))


def round_up(x, step: float) -> float:
    """The smallest multiple of ``step`` at or above x (an interval's high end)."""
    if is_missing(x):
        return math.nan
    return float((_decimal(x) / _decimal(step)).to_integral_value(ROUND_CEILING)
                 * _decimal(step))


def share_step(decimals: int = SHARE_DECIMALS) -> float:
    """The step of a share with ``decimals`` decimals (0.1 for one)."""
    return float(Decimal(1).scaleb(-decimals))


def has_share_precision(x, decimals: int = SHARE_DECIMALS) -> bool:
    """True when x shows no more decimals than declared (NaN: nothing shown, True)."""
    if is_missing(x):
        return True
    return _decimal(x) == _decimal(x).quantize(Decimal(1).scaleb(-decimals))


def is_multiple(x, step: int) -> bool:
    """True when x is a whole multiple of ``step`` (NaN: True)."""
    if is_missing(x):
        return True
    return float(x) % step == 0
