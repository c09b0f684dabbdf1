"""The one rule of what the Sote-tietopaketit's € per client shows (issue 25).

``per_client`` (a cost year's table, :mod:`seuranta.costs.model`) holds, per package ×
area, the register's whole-year distinct clients of the package's service tasks: counts
of persons. Two reasons keep a figure from being shown:

* **coverage** (``.``, not available): € per client where the area's register coverage
  is under ``costs.per_client_min_coverage_pct`` (the clients would be undercounted, the
  euros per client too large);
* **disclosure** (``..``, suppressed): per package the areas' clients and the whole
  country form one linked group (the areas together are the country, up to movers),
  protected by :func:`seuranta.statistics.disclosure.protect_linked`; cost ÷ € per client
  would give the count back, so € per client is suppressed with it. The whole country's
  count of a package *is* the year table's whole-year clients of its tasks (``year.csv``
  of the gate, summed): when that table suppressed one of them, the package's national
  count is suppressed too (``forced``) and is no public total of its areas.

The disclosure gate (:func:`seuranta.publication.gate.publish_costs`) applies it and
writes the published cost tables that the chapter, the annex and the open data read.
"""

from __future__ import annotations

import pandas as pd

from seuranta.core.fmt import fi_pct
from seuranta.statistics import disclosure

ALL = "ALL"


def clients_hidden(c: pd.DataFrame, min_count: int, forced: frozenset | set = frozenset()
                   ) -> pd.Series:
    """Which rows' client counts disclosure control hides (bool per row of ``per_client``):
    counts of 1 … min_count − 1, the secondary cells that keep them from being the country
    minus the others, and the country's own count when it must go or when it is in
    ``forced`` (package codes whose national count an earlier publication suppressed)."""
    clients = pd.to_numeric(c["clients"], errors="coerce")
    hidden = pd.Series(False, index=c.index)
    for pkg, g in c.groupby("package_code", sort=True):
        regions = g[g["region_code"] != ALL]
        values = {i: int(v) for i, v in clients[regions.index].items() if pd.notna(v)}
        total = g.index[g["region_code"] == ALL]
        if pkg in forced:          # the national count is not public: no group sum shown
            hidden[total] = True
            groups = {}
        else:
            groups = {(ALL, pkg): list(values)}
        if not values:
            continue
        res = disclosure.protect_linked(values, groups, set(values), min_count=min_count)
        hidden[list(res.hidden)] = True
        if len(total) and (((ALL, pkg) in res.dropped)
                           or disclosure.is_small(clients[total[0]], min_count)):
            hidden[total] = True
    return hidden


def per_client_published(c: pd.DataFrame, min_pct: float, min_count: int,
                         forced: frozenset | set = frozenset()
                         ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Clients and € per client as published, and the reason when not (see the module
    docstring). Returns (clients, €, reason) with None where not published."""
    cov = pd.to_numeric(c["coverage_pct"], errors="coerce")
    eur = pd.to_numeric(c["eur_per_client"], errors="coerce").round(0)
    clients = pd.to_numeric(c["clients"], errors="coerce")
    low = cov.isna() | (cov < float(min_pct))
    hid = clients_hidden(c, min_count, forced)
    reason = pd.Series("", index=c.index, dtype=object)
    reason[low] = [("Ei julkaista: rekisterin kattavuus ei ole tiedossa" if pd.isna(v) else
                    f"Ei julkaista: rekisterin kattavuus {fi_pct(v, 0)}, alle "
                    f"{fi_pct(float(min_pct), 0)}") for v in cov[low]]
    reason[~low & eur.isna()] = "Ei laskettavissa: ei asiakkaita"
    reason[hid] = "Salattu: asiakasmäärä on pieni tai pääteltävissä muista luvuista"
    return clients.where(~hid), eur.where(~low & ~hid), reason
