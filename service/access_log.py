"""Keep user text and API keys out of the access log.

uvicorn's access log line carries each request's path with its query string, and some
LibreTranslate clients (deep-translator) send `q` and `api_key` there. A filter on the
`uvicorn.access` logger replaces every query value whose name is not known to be harmless
with `[redacted]`, so neither text nor keys (nor anything a client invents) are written.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
# Query parameters of our routes whose values are not user text or secrets...
HARMLESS_PARAMS = frozenset({"source", "target", "format", "alternatives"})
# ...and those whose name is kept but value redacted (text, suggestion, key, secret).
SECRET_PARAMS = frozenset({"q", "s", "api_key", "secret"})


def redact_query(path: str) -> str:
    """`path?query` with each value of a parameter outside HARMLESS_PARAMS redacted.

    "/translate?q=Hi&source=en&api_key=k" becomes
    "/translate?q=[redacted]&source=en&api_key=[redacted]"; any other field, whose name
    could itself be text, becomes "[redacted]" whole.
    """
    base, mark, query = path.partition("?")
    if not mark:
        return path
    fields = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        known = unquote_plus(name).strip().lower()
        if equals and known in HARMLESS_PARAMS:
            fields.append(field)
        elif known in HARMLESS_PARAMS | SECRET_PARAMS:
            fields.append(f"{name}={REDACTED}" if equals else name)
        else:
            fields.append(REDACTED)
    return base + mark + "&".join(fields)


class QueryRedactionFilter(logging.Filter):
    """Rewrites uvicorn access records (args: client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Add the filter to uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QueryRedactionFilter) for f in logger.filters):
        logger.addFilter(QueryRedactionFilter())
