"""Clients of remote services.

``http`` is the one source-neutral HTTP layer (throttle, retries, failure
classification, raw-response files, logging with secrets masked); the
per-source packages ``comtrade`` and ``comext`` are thin layers on top of it,
and ``landing`` holds what their two fetch stores share (state files, the
release sidecar, the archive). Importing these modules opens no connection,
reads no environment variable and imports neither Dagster nor the readers.
"""
