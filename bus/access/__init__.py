"""Who may read what, for which purpose, and the tamper-evident record of every read."""
