"""Profiles built from many departments' records: survivorship, provenance and versions."""
