"""Dagster asset modules: one per source, plus reference data, SQL models and publication."""
