"""Clients of remote services.

``http`` is the one source-neutral HTTP layer (throttle, retries, failure
classification, raw-response files, logging with secrets masked); each source's
client (``pipeline/sources/<name>/client``) is a thin layer on top of it, and
``landing`` holds what their fetch stores share (state files, the release
sidecar, the archive). Importing these modules opens no connection,
reads no environment variable and imports neither Dagster nor the readers.
"""
