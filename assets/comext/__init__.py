"""Eurostat Comext assets: ingestion of SDMX-CSV extracts and bulk files."""
