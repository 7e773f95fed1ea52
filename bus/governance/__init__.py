"""Data governance generated from the data standard: catalog, lineage, topic documentation."""
