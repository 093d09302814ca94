"""Logging filters read by config/settings.py LOGGING."""

from __future__ import annotations

import logging


class ClientErrorsOnOneLine(logging.Filter):
    """Drop the traceback from a request's 4xx record: a refusal or a missing page is one line.

    Django logs a `PermissionDenied` (403) with the exception's traceback, though nothing went
    wrong on the server. A 5xx keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
