"""Readers turn source files into typed raw tables, inside DuckDB (never row by row in Python)."""
