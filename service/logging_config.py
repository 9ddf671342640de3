"""Structured JSON logs, one object per line, each carrying the request id when there is one.

The request id comes from the client's ``X-Request-ID`` header when it is a sane token, else a
fresh UUID; :class:`service.middleware.RequestContextMiddleware` sets it for the request's task
and echoes it in the response, so a client-side error report can be matched to server logs.
uvicorn's own loggers are routed through the same formatter (:func:`uvicorn_log_config`), and
its access log is replaced by ours, which has the request id, the status and the duration.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"

_request_id: ContextVar[str | None] = ContextVar("toolgrade_request_id", default=None)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged
# (uvicorn's ``color_message`` duplicates the message with terminal colours.)
_IGNORED_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)


def current_request_id() -> str | None:
    """The id of the request being handled by this task, if any."""
    return _request_id.get()


def set_request_id(request_id: str | None) -> None:
    """Bind ``request_id`` to the current task (each uvicorn request runs in its own task)."""
    _request_id.set(request_id)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, request id, extras.

    Example:
        >>> record = logging.LogRecord("toolgrade", logging.INFO, __file__, 1, "hi %s", ("x",),
        ...     None)
        >>> record.status = 200
        >>> payload = json.loads(JsonFormatter().format(record))
        >>> payload["message"], payload["level"], payload["status"]
        ('hi x', 'info', 200)
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _IGNORED_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: everything as JSON on stderr.

    uvicorn applies it in every worker process (``uvicorn.run(log_config=...)``).

    Example:
        >>> uvicorn_log_config("debug")["root"]["level"]
        'DEBUG'
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Replaced by toolgrade.access, which knows the request id and the duration.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(level: str = "info") -> None:
    """Install the JSON configuration in this process."""
    logging.config.dictConfig(uvicorn_log_config(level))
