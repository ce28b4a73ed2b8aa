"""Defaults of the collector's connection and batch limits (`staticml beacon` options), importable without
loading the server."""

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 500
DEFAULT_MAX_BATCH = 256
