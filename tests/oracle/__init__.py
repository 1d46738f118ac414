"""An independent polars implementation of methodology.md (see CONTRACT.md), to check the SQL models against."""
