"""Clients of remote services.

``http`` is the one source-neutral HTTP layer (throttle, retries, failure
classification, raw-response files); the per-source clients (``comtrade``,
and Comext's) are thin layers on top of it. Importing these modules opens no
connection and reads no environment variable.
"""
