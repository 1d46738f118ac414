"""UN Comtrade assets: ingestion of pages and bulk files (and, later, fetching from the API)."""
