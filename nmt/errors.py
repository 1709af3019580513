"""Errors that are the user's to fix: the CLI prints their message (no traceback) and exits 1."""

from __future__ import annotations


class NmtError(Exception):
    """A clear, user-facing failure (bad input, missing file, corrupt checkpoint...)."""


class DataError(NmtError):
    """The corpus or a prepared-data directory cannot be used."""


class CheckpointError(NmtError):
    """A checkpoint bundle is missing, corrupt, or does not match its tokenizer."""


class SearchOptionsError(NmtError, ValueError):
    """Search options out of range (a beam wider than allowed, n_best over the beam...)."""
