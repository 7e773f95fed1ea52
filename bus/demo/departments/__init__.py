"""The other five departments of the reference government, seeded from one population.

``government.seed_government`` seeds them all; each department module seeds one legacy engine.
Importing this package does nothing: no connections, no files.
"""
