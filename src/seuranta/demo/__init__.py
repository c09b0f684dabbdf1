"""demo: the synthetic data folder.

Takes: the reference data, a scale and a seed. Gives: a data folder that follows the data
contract (``generator``: register, deliveries, population, metadata; ``costs``: the cost
ledger), with the true counts kept beside it for tests and the coverage study.
"""
