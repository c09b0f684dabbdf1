"""``seuranta audit``: an independent attacker of the published releases.

It reads only what a reader has (the open data of every release under ``OUT/avoindata/``,
and the published tables of the kept releases under ``OUT/releases/``), builds the linear
relations among the published figures with its own code (it imports neither the
disclosure gate nor :mod:`seuranta.statistics`), and solves the smallest and largest
whole value of every suppressed cell under all of them (:mod:`.attack`).
"""
