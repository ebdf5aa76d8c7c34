"""Errors that services raise for the edge to turn into 4xx answers.

A service names the field and a machine code; the message is a lazily translated string, so it
reaches the user in the request's language (zh-hans by default, English available).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MSG_NOT_FOUND = _("Not found.")
MSG_BAD_REQUEST = _("The request could not be read.")  # a body that cannot be parsed


@dataclass(frozen=True)
class FieldError:
    field: str | None
    code: str
    message: str | Promise


class DomainError(Exception):
    """A refusal with one or more field errors and an HTTP status (4xx)."""

    status_code = 400

    def __init__(self, *errors: FieldError, extra: dict | None = None) -> None:
        super().__init__("; ".join(str(error.message) for error in errors))
        self.errors = errors
        self.extra = extra or {}

    @classmethod
    def single(cls, field: str | None, code: str, message: str | Promise, **extra) -> DomainError:
        return cls(FieldError(field, code, message), extra=extra)


class InvalidInput(DomainError):
    status_code = 400


class PermissionRefused(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """A state conflict: a replayed uuid with other content, an illegal transition, a lost race."""

    status_code = 409


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, *errors: FieldError, retry_after_s: int) -> None:
        super().__init__(*errors, extra={"retry_after": retry_after_s})
        self.retry_after_s = retry_after_s
