"""statistics: from exact counts to estimates.

Takes: the register stage's tables, population and deliveries, corrections.csv and the
parameters. Gives: quality classes (``quality``), representativeness (``represent``),
national estimates with their uncertainty (``estimate``), quartiles of municipal shares
(``quartiles``), the review round's effect (``corrections``), disclosure control
(``disclosure``) and the coverage study (``coverage``); ``stage`` and ``quarter`` chain them.
"""
