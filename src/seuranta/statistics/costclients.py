"""The one rule of what the Sote-tietopaketit's € per client shows (issue 25).

``per_client`` (a cost year's table, :mod:`seuranta.costs.model`) holds, per package ×
area, the register's whole-year distinct clients of the package's service tasks: counts
of persons. Two reasons keep a figure from being shown:

* **coverage** (``.``, not available): € per client where the area's register coverage
  is under ``costs.per_client_min_coverage_pct`` (the clients would be undercounted, the
  euros per client too large);
* **disclosure** (``..``, suppressed): per package the areas' clients and the whole
  country are figures of one :class:`~seuranta.statistics.disclosure.RelationModel` with
  the relation a reader forms (the areas together are the country), protected by
  :func:`seuranta.statistics.disclosure.protect_model`: every count of 1 … min_count − 1
  can be 1 and min_count under the published figures (its protection
  interval, the rule the audit attacks), not merely two values. Two small areas hidden
  together are no protection when the country minus the shown areas leaves them less
  than min_count + 1 between them: a further area is hidden. Cost ÷ € per client would
  give the count back, so € per client is suppressed with it. The whole country's count
  of a package *is* the year table's whole-year clients of its tasks (``year.csv`` of the
  gate, summed): when that table suppressed one of them, the package's national count is
  suppressed too (``forced``; the areas protected as if a reader knew it, since the year
  table's relations bound it); when it showed them all, a reader has the national count
  whatever this table shows (``known``: never hidden to protect an area).

The disclosure gate (:func:`seuranta.publication.gate.publish_costs`) applies it and
writes the published cost tables that the chapter, the annex and the open data read.
"""

from __future__ import annotations

import logging

import pandas as pd

from seuranta.core.fmt import fi_pct
from seuranta.statistics import disclosure

log = logging.getLogger(__name__)

ALL = "ALL"
#: Loss of suppressing one unit of a figure: an area's count before the whole country's
#: (the country only when no area will do).
AREA_COST, COUNTRY_COST = 1.0, 1e6


def _model(c: pd.DataFrame, clients: pd.Series, forced: set | frozenset,
           known: set | frozenset, hidden: set | frozenset = frozenset()
           ) -> tuple[disclosure.RelationModel, dict]:
    """The relation model of the table's counts, ``(model, {row: figure})``: per package
    the areas and the country (``forced``/``known``: packages whose national count is
    suppressed/known to a reader; ``hidden``: figures suppressed already), and the country
    = Σ areas (off by the data's difference, if any: protected as if a reader knew it)."""
    M = disclosure.RelationModel()
    key_of: dict = {}
    for pkg, g in c.groupby("package_code", sort=True):
        counted = g.index[clients[g.index].notna()]
        areas = [i for i in counted if g.at[i, "region_code"] != ALL]
        total = [i for i in counted if g.at[i, "region_code"] == ALL]
        for i in areas:
            key_of[i] = M.figure(("area", pkg, str(g.at[i, "region_code"])), clients[i],
                                 cost=AREA_COST)
        for i in total:
            # a "T" figure: a total of suppressed areas is ≥ their number by convention
            key_of[i] = M.figure(("T", pkg), clients[i], cost=COUNTRY_COST)
            if pkg in known:
                M.known.add(key_of[i])
            elif pkg in forced:
                M.forced.add(key_of[i])
        if total and areas:
            d = float(sum(clients[i] for i in areas) - clients[total[0]])
            M.add([(key_of[i], 1.0) for i in areas] + [(key_of[total[0]], -1.0)], d, d,
                  tag=f"costs {pkg} Σ areas")
    M.forced |= set(hidden)
    return M, key_of


def clients_hidden(c: pd.DataFrame, min_count: int, forced: frozenset | set = frozenset(),
                   known: frozenset | set = frozenset()) -> pd.Series:
    """Which rows' client counts disclosure control hides (bool per row of ``per_client``):
    counts of 1 … min_count − 1 and the secondary cells that keep each of them within its
    protection interval under "the country = Σ areas" (see the module docstring); the
    country's own count when it is small or in ``forced`` (package codes whose national
    count an earlier publication suppressed). ``known``: package codes whose national
    count an earlier publication showed (the year table): a reader has it, so hiding it
    protects nothing and it is never chosen.

    A ``forced`` national count is a suppressed figure of the year table, which the year
    table's own relations bound (as tightly as "not one value"): the areas are protected
    first as if a reader knew it, then the national count is kept from one value by the
    areas (a second pass; suppressing more only widens the first pass's intervals). A
    requirement that cannot be met is logged (the audit then fails the release)."""
    clients = pd.to_numeric(c["clients"], errors="coerce")
    M, key_of = _model(c, clients, frozenset(), set(known) | set(forced))
    res = disclosure.protect_model(M, min_count)
    unresolved = list(res.unresolved)
    if forced:
        M, key_of = _model(c, clients, forced, known, res.hidden)
        res = disclosure.protect_model(M, min_count)
        unresolved += res.unresolved
    if unresolved:
        log.warning("costs: %d client count(s) cannot be kept within the protection interval "
                    "(a published figure gives them away): %s", len(unresolved),
                    unresolved[:5])
    return pd.Series([key_of.get(i) in res.hidden for i in c.index], index=c.index)


def per_client_published(c: pd.DataFrame, min_pct: float, min_count: int,
                         forced: frozenset | set = frozenset(),
                         known: frozenset | set = frozenset()
                         ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Clients and € per client as published, and the reason when not (see the module
    docstring). Returns (clients, €, reason) with None where not published."""
    cov = pd.to_numeric(c["coverage_pct"], errors="coerce")
    eur = pd.to_numeric(c["eur_per_client"], errors="coerce").round(0)
    clients = pd.to_numeric(c["clients"], errors="coerce")
    low = cov.isna() | (cov < float(min_pct))
    hid = clients_hidden(c, min_count, forced, known)
    reason = pd.Series("", index=c.index, dtype=object)
    reason[low] = [("Ei julkaista: rekisterin kattavuus ei ole tiedossa" if pd.isna(v) else
                    f"Ei julkaista: rekisterin kattavuus {fi_pct(v, 0)}, alle "
                    f"{fi_pct(float(min_pct), 0)}") for v in cov[low]]
    reason[~low & eur.isna()] = "Ei laskettavissa: ei asiakkaita"
    reason[hid] = "Salattu: asiakasmäärä on pieni tai pääteltävissä muista luvuista"
    return clients.where(~hid), eur.where(~low & ~hid), reason
