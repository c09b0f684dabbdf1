"""costs: Sote-tietopaketit.

Takes: the cost ledger (``DATA/costs/``), the package mapping, population and the register's
whole-year client counts. Gives: costs allocated to the 15 packages, € per resident and per
client, with comparisons, tables and an annex (``model``).
"""
