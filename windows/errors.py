"""What a failed call to the service means for the user: the service's own error (ApiError) and the one line
a window shows for any failure (describe_error), with the field a validation error names (error_field)."""

from __future__ import annotations

from typing import Any

from core.i18n import Translator
from desktop.service_client import ServiceUnavailable


class ApiError(Exception):
    """The service answered with an error status. Its body is {"error": {"code", "message", "field"?,
    "details"?}}: `message` is the sentence for the user (every field's problem when there are details)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        self.detail: dict[str, Any] = error if isinstance(error, dict) else {}
        self.code = str(self.detail.get("code") or "")
        self.field: str | None = self.detail.get("field")
        details = self.detail.get("details")
        if isinstance(details, list) and details:
            text = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in details if isinstance(d, dict))
        else:
            text = str(self.detail.get("message") or (error if isinstance(error, str) else "") or "")
        self.message = text or f"HTTP {status}"
        super().__init__(f"{status}: {self.message}")


def describe_error(exc: Exception, tr: Translator) -> str:
    """One line for the user: the service's own message for an API error (the service's sentence is English:
    the API speaks one language; the window's own words around it are translated)."""
    if isinstance(exc, ServiceUnavailable):
        return tr._("the service is not running")
    if isinstance(exc, ApiError):
        return exc.message
    return str(exc) or type(exc).__name__


def error_field(exc: Exception) -> str | None:
    """The request field an API error names (422 validation errors), else None."""
    if isinstance(exc, ApiError):
        field = exc.field
        return str(field).split(".")[0] if field else None
    return None
